package whatsapp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// checkFastEnvelope holds the hand reader to encoding/json on body: when it
// takes the body, encoding/json reads it without error into the same
// envelope. It reports whether the hand reader took it.
func checkFastEnvelope(t testing.TB, body []byte) bool {
	t.Helper()
	var fast wireEnvelope
	if !fastEnvelope(body, &fast) {
		return false
	}
	var want wireEnvelope
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatalf("the hand reader took what encoding/json refuses (%v):\n%s", err, body)
	}
	if !reflect.DeepEqual(fast, want) {
		t.Fatalf("the hand reader and encoding/json disagree on\n%s\nhand:  %#v\njson:  %#v", body, fast, want)
	}
	return true
}

// fastSeeds are envelopes of the common shape and near it.
func fastSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{
		batchBody(1), batchBody(3),
		envelope(`{"from":"16505551234","id":"wamid.1","timestamp":"1739321024","type":"text","text":{"body":"hola"}}`),
		envelope(`{"from_user_id":"US.1","id":"wamid.2","timestamp":"1","type":"text","text":{}}`),
		envelope(`{"from":"1","id":"w","timestamp":"1","type":"image","image":{"id":"m"}}`),
		envelope(`{"from":"1","id":"w","timestamp":"1","type":"text","text":{"body":"a\"b"}}`),
		envelope(`{"from":"1","id":"w","timestamp":"1","type":"text","text":{"body":"x"},"metadata":{"a":1}}`),
		valueEnvelope(`{"statuses":[{"id":"w","status":"read","timestamp":"1","recipient_id":"1"}]}`),
		valueEnvelope(`{"messages":[],"contacts":[]}`),
		valueEnvelope(`{}`),
		[]byte(`{"entry":[]}`), []byte(`{}`), []byte(`{"entry":[{}]}`), []byte(`{"entry":[{"changes":[{}]}]}`),
		[]byte(`{"entry":[{"id":"1","changes":[{"field":"account_update","value":{"metadata":{"phone_number_id":"2"}}}]}]}`),
		[]byte(` {"object":"x","entry":[{"id":"1","changes":[{"value":{"messages":[{"from":"1","id":"w","type":"text","text":{"body":"ñ"}}]},"field":"messages"}]}],"extra":[1,-2.5e3,true,false,null,{"a":[]}]} `),
		[]byte(`{"Entry":[]}`), []byte(`{"entry":[],"entry":[]}`), []byte(`{"entry":null}`), []byte(`{"channel":"gmail","entry":[]}`),
		[]byte(`{"entry":[{"id":"1","ID":"2"}]}`), []byte(`{"entry":[{"id":"1","changes":[{"value":{"contacts":[{"profile":{"name":"a","NAME":"b"}}]}}]}]}`),
		[]byte(`{"entry":[{"id":"1"}]}x`), []byte(`{"entry":[{"id":"1"}]`), []byte(`{"entry":[{"id":"\u00e9"}]}`),
		[]byte("{\"entry\":[{\"id\":\"\xff\"}]}"), []byte(`{"entry":[{"id":1}]}`), []byte(`{"entr\u0079":[]}`),
		[]byte(`{"entry":[{"id":"1","changes":[{"value":{"metadata":{"phone_number_id":"1","phone_number_id":"2"}}}]}]}`),
		[]byte(`{"x":01}`), []byte(`{"x":1.}`), []byte(`{"x":-}`), []byte(`{"x":"\x"}`), []byte(`{"x":"\u12"}`), []byte("{\"x\":\"\x01\"}"),
		[]byte(`{"x":[1,]}`), []byte(`{"x":{"a":1,}}`), []byte(`{"x":tru}`), []byte(`{"entry":[{"id":"1"},]}`),
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

func TestFastEnvelopeIsTheDecoders(t *testing.T) {
	taken := 0
	for _, seed := range fastSeeds(t) {
		if checkFastEnvelope(t, seed) {
			taken++
		}
		// Every body one edit away: a byte dropped, a byte changed to
		// one that matters to JSON or to the field names.
		for i := range seed {
			checkFastEnvelope(t, append(append([]byte{}, seed[:i]...), seed[i+1:]...))
			for _, c := range []byte(`"{}[],:\ 0-eE.tnIDxÿ`) {
				b := append([]byte{}, seed...)
				b[i] = c
				checkFastEnvelope(t, b)
			}
		}
	}
	if taken < 5 {
		t.Fatalf("the hand reader took %d seeds: the common shape is not read by hand", taken)
	}
	// The load generator's and Meta's common message are read by hand.
	for _, body := range [][]byte{batchBody(1), envelope(`{"from":"1","id":"w","timestamp":"1","type":"text","text":{"body":"hola"}}`)} {
		if !checkFastEnvelope(t, body) {
			t.Fatalf("not read by hand:\n%s", body)
		}
	}
	// Every field name of the wire structs, in another case, in its own
	// object, leaves the body to encoding/json rather than being skipped.
	for _, c := range []struct {
		fields []string
		anchor string
	}{
		{envelopeFields, `{`}, {entryFields, `"entry":[{`}, {changeFields, `"changes":[{`}, {valueFields, `"value":{`},
		{metadataFields, `"metadata":{`}, {contactFields, `"contacts":[{`}, {profileFields, `"profile":{`},
		{messageFields, `"messages":[{`}, {textFields, `"text":{`},
	} {
		base := string(batchBody(1))
		if !strings.Contains(base, c.anchor) {
			t.Fatalf("no %s in %s", c.anchor, base)
		}
		for _, f := range c.fields {
			for _, name := range []string{strings.ToUpper(f), strings.ToUpper(f[:1]) + f[1:]} {
				body := strings.Replace(base, c.anchor, c.anchor+`"`+name+`":"x",`, 1)
				if checkFastEnvelope(t, []byte(body)) {
					t.Fatalf("%q was skipped:\n%s", name, body)
				}
			}
		}
	}
}

// The field lists the hand reader matches names against are the structs'.
func TestFastEnvelopeFieldListsAreTheStructs(t *testing.T) {
	names := func(v any) []string {
		var out []string
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			out = append(out, tag)
		}
		return out
	}
	var value wireValue
	var contact wireContact
	var message wireMessage
	for _, c := range []struct {
		got  []string
		want []string
	}{
		{envelopeFields, names(wireEnvelope{})},
		{entryFields, names(wireEntry{})},
		{changeFields, names(wireChange{})},
		{valueFields, names(value)},
		{metadataFields, names(value.Metadata)},
		{contactFields, names(contact)},
		{profileFields, names(contact.Profile)},
		{messageFields, names(message)},
		{textFields, names(*new(struct {
			Body string `json:"body"`
		}))},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("field list %v, the struct's %v", c.got, c.want)
		}
	}
}

func FuzzFastEnvelope(f *testing.F) {
	for _, s := range fastSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFastEnvelope(t, body)
	})
}
