package loadgen

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/signature"
)

// messagesOf reads the (from, id) pairs of a webhook body, in order.
func messagesOf(t *testing.T, body []byte) [][2]string {
	t.Helper()
	var w struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Messages []struct{ From, ID string }
				}
			}
		}
	}
	if err := json.Unmarshal(body, &w); err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	for _, e := range w.Entry {
		for _, c := range e.Changes {
			for _, m := range c.Value.Messages {
				out = append(out, [2]string{m.From, m.ID})
			}
		}
	}
	return out
}

func TestBatchesNumberAndSpreadMessagesAsBodiesDo(t *testing.T) {
	const secret = "s3cret"
	one := Bodies(5, 3, secret, "1065", "p", "hola")
	batched := Batches(5, 2, 3, secret, "1065", "p", "hola")
	if len(one) != 5 || len(batched) != 3 {
		t.Fatalf("%d bodies of one message and %d batches, want 5 and 3", len(one), len(batched))
	}
	var fromOne, fromBatches [][2]string
	for _, r := range one {
		fromOne = append(fromOne, messagesOf(t, r.Body)...)
	}
	v, err := signature.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range batched {
		mac, err := signature.Parse(r.Header.Get("X-Hub-Signature-256"))
		if err == nil {
			err = v.Verify(r.Body, mac)
		}
		if err != nil {
			t.Errorf("batch %s: %v", r.Body, err)
		}
		fromBatches = append(fromBatches, messagesOf(t, r.Body)...)
	}
	if fmt.Sprint(fromOne) != fmt.Sprint(fromBatches) {
		t.Errorf("one by one %v, batched %v", fromOne, fromBatches)
	}
	if fromOne[4] != [2]string{"34620000001", "wamid.p-4"} {
		t.Errorf("fifth message %v, want guest 1 and wamid.p-4", fromOne[4])
	}
}
