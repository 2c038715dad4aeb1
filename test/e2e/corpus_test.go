package e2e

// The Meta corpus: every webhook body of testdata/meta-corpus, posted signed
// to the binary as in production (Postgres, Redis, the fake Graph API), each
// checked against its expected outcome in the manifest.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentehotel/agente-caddy/test/fakegraph"
)

const corpusDir = "testdata/meta-corpus"

// corpusManifest is testdata/meta-corpus/manifest.json (see README.md there).
type corpusManifest struct {
	Hotels []struct {
		Tenant        string `json:"tenant"`
		Name          string `json:"name"`
		PhoneNumberID string `json:"phone_number_id"`
		WABAID        string `json:"waba_id"`
	} `json:"hotels"`
	// ExtraPhoneNumberIDs are business numbers Meta knows but no hotel
	// registered (the fake Graph API sends from them).
	ExtraPhoneNumberIDs []string         `json:"extra_phone_number_ids"`
	Payloads            []corpusExpected `json:"payloads"`
}

type corpusExpected struct {
	File   string `json:"file"`
	About  string `json:"about"`
	Acked  int    `json:"acked"`
	Stored struct {
		Messages []struct {
			ID, Tenant, Kind string
		} `json:"messages"`
		Statuses []struct {
			ID, Status, Tenant string
		} `json:"statuses"`
	} `json:"stored"`
	Replies  []corpusReply `json:"replies"`
	Silent   []string      `json:"silent"`
	Unrouted []string      `json:"unrouted"`
	Sessions []struct {
		Tenant    string   `json:"tenant"`
		UserID    string   `json:"user_id"`
		FormerIDs []string `json:"former_ids"`
	} `json:"sessions"`
}

// corpusReply is an answered message: its reply contains Contains and goes
// to To (a phone number) or Recipient (a user id).
type corpusReply struct {
	Message   string `json:"message"`
	Contains  string `json:"contains"`
	To        string `json:"to"`
	Recipient string `json:"recipient"`
}

func latestTimestamp(bodies [][]byte) int64 {
	var latest int64
	for _, b := range bodies {
		for _, m := range webhookTimestampRE.FindAllSubmatch(b, -1) {
			if v, err := strconv.ParseInt(string(m[2]), 10, 64); err == nil && v > latest {
				latest = v
			}
		}
	}
	return latest
}

// shiftTimestamps moves every timestamp of body by shift seconds, leaving
// every other byte as it was.
func shiftTimestamps(body []byte, shift int64) []byte {
	return webhookTimestampRE.ReplaceAllFunc(body, func(m []byte) []byte {
		sub := webhookTimestampRE.FindSubmatch(m)
		v, err := strconv.ParseInt(string(sub[2]), 10, 64)
		if err != nil {
			return m
		}
		return append(slices.Clone(sub[1]), strconv.FormatInt(v+shift, 10)...)
	})
}

func readCorpus(t *testing.T) corpusManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m corpusManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	return m
}

// TestMetaCorpus replays the corpus. Payloads that name an unrouted event
// are checked in subtests "unrouted/<file>": whether they are acknowledged,
// counted and recorded is the work of tenant attribution (checkUnrouted).
func TestMetaCorpus(t *testing.T) {
	man := readCorpus(t)
	// As in production: no default hotel, so what no hotel owns is unrouted.
	s := startAgentStack(t, map[string]string{"RATE_LIMIT_WEBHOOK_POST": "100000", "DEFAULT_TENANT_ID": ""})
	s.registerCorpusHotels(man)

	// Every stored message is either answered or silent, never both.
	for _, p := range man.Payloads {
		for _, m := range p.Stored.Messages {
			replied := slices.ContainsFunc(p.Replies, func(r corpusReply) bool { return r.Message == m.ID })
			if replied == slices.Contains(p.Silent, m.ID) {
				t.Fatalf("manifest: %s: message %s must be in exactly one of replies and silent", p.File, m.ID)
			}
		}
	}

	payloads := make([][]byte, len(man.Payloads))
	for i, p := range man.Payloads {
		body, err := os.ReadFile(filepath.Join(corpusDir, p.File))
		if err != nil {
			t.Fatal(err)
		}
		payloads[i] = body
	}
	// Meta delivers within seconds of the guest writing: the corpus is
	// moved in time so its latest event is now, its order kept. Otherwise
	// every reply would fall outside the 24-hour window.
	shift := time.Now().Unix() - latestTimestamp(payloads)
	w := newWebhookClient(4)
	acks := make([]int, len(man.Payloads))
	for i, p := range man.Payloads {
		status, got, err := w.post(s.in.URL("/webhooks/whatsapp"), shiftTimestamps(payloads[i], shift))
		if err != nil {
			t.Fatalf("%s: %v", p.File, err)
		}
		acks[i] = status
		if status != p.Acked {
			t.Logf("%s: answered %d %s", p.File, status, got)
		}
	}
	s.waitQuiet(90 * time.Second)
	sent := s.graph.Messages()

	check := func(t *testing.T, i int, p corpusExpected) {
		if acks[i] != p.Acked {
			t.Errorf("%s (%s): answered %d, want %d", p.File, p.About, acks[i], p.Acked)
		}
		s.checkStored(t, p)
		s.checkReplies(t, p, sent)
		s.checkSessions(t, p)
	}
	var unrouted []corpusExpected
	for i, p := range man.Payloads {
		if len(p.Unrouted) > 0 {
			unrouted = append(unrouted, p)
			t.Run("unrouted/"+strings.TrimSuffix(p.File, ".json"), func(t *testing.T) { check(t, i, p) })
			continue
		}
		check(t, i, p)
	}
	t.Run("unrouted/counted", func(t *testing.T) { s.checkUnrouted(t, unrouted) })
	var ok2xx, msgs, replies, silent int
	for i, p := range man.Payloads {
		if acks[i]/100 == 2 {
			ok2xx++
		}
		msgs += len(p.Stored.Messages)
		replies += len(p.Replies)
		silent += len(p.Silent)
	}
	t.Logf("corpus: %d payloads, %d answered 2xx; %d messages stored, %d answered, %d left unanswered on purpose; %d payloads with unrouted events; %d replies sent in all",
		len(man.Payloads), ok2xx, msgs, replies, silent, len(unrouted), len(sent))
	if t.Failed() {
		t.Logf("queues:\n%s\nsent:\n%s", s.queues(), bodies(sent))
	}
}

// registerCorpusHotels registers the manifest's hotels by business number
// and account id; the first is startAgentStack's, already created.
func (s *agentStack) registerCorpusHotels(man corpusManifest) {
	t := s.t
	t.Helper()
	hdr := adminJSONHeader(t, "e2e-corpus")
	numbers := slices.Clone(man.ExtraPhoneNumberIDs)
	for i, h := range man.Hotels {
		if i > 0 {
			status, _, body := Do(t, http.MethodPost, s.in.URL("/admin/tenants"), []byte(fmt.Sprintf(`{"tenant_id":%q,"name":%q}`, h.Tenant, h.Name)), hdr)
			if status != http.StatusCreated {
				t.Fatalf("create tenant %s: %d %s", h.Tenant, status, body)
			}
			status, _, body = Do(t, http.MethodPost, s.in.URL("/admin/tenants/"+h.Tenant+"/identifiers"), []byte(fmt.Sprintf(`{"identifier":%q,"type":"phone_number_id"}`, h.PhoneNumberID)), hdr)
			if status != http.StatusCreated {
				t.Fatalf("register %s's phone_number_id: %d %s", h.Tenant, status, body)
			}
		} else if h.Tenant != agentTenant || h.PhoneNumberID != agentPhoneNumberID {
			t.Fatalf("the manifest's first hotel must be %s with %s", agentTenant, agentPhoneNumberID)
		}
		status, _, body := Do(t, http.MethodPost, s.in.URL("/admin/tenants/"+h.Tenant+"/identifiers"), []byte(fmt.Sprintf(`{"identifier":%q,"type":"waba_id"}`, h.WABAID)), hdr)
		if status != http.StatusCreated {
			t.Fatalf("register %s's waba_id: %d %s", h.Tenant, status, body)
		}
		numbers = append(numbers, h.PhoneNumberID)
	}
	s.graph.AllowPhoneNumberIDs(numbers...)
}

// checkStored: the payload's messages are inbox rows of the right hotel and
// kind, finished; its statuses are recorded.
func (s *agentStack) checkStored(t *testing.T, p corpusExpected) {
	t.Helper()
	ctx := context.Background()
	for _, m := range p.Stored.Messages {
		var n int
		var kind, state string
		err := s.db.QueryRow(ctx, `SELECT count(*) OVER (), payload->>'kind', state FROM inbox_messages WHERE tenant_id = $1 AND channel = 'whatsapp' AND message_id = $2`,
			m.Tenant, m.ID).Scan(&n, &kind, &state)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			t.Errorf("%s (%s): message %s not in %s's inbox", p.File, p.About, m.ID, m.Tenant)
		case err != nil:
			t.Errorf("%s: %v", p.File, err)
		case n != 1 || kind != m.Kind || state != "done":
			t.Errorf("%s (%s): message %s: %d rows, kind %q, state %q; want 1, %q, done", p.File, p.About, m.ID, n, kind, state, m.Kind)
		}
	}
	for _, st := range p.Stored.Statuses {
		var n int
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM inbox_statuses WHERE tenant_id = $1 AND channel = 'whatsapp' AND message_id = $2 AND status = $3`,
			st.Tenant, st.ID, st.Status).Scan(&n); err != nil || n != 1 {
			t.Errorf("%s (%s): status %s %s of %s: %d rows (%v), want 1", p.File, p.About, st.ID, st.Status, st.Tenant, n, err)
		}
	}
}

// checkReplies: each answered message has exactly one reply, sent to the
// guest's number (or user id) and saying what it should; a silent one has
// none.
func (s *agentStack) checkReplies(t *testing.T, p corpusExpected, sent []fakegraph.Message) {
	t.Helper()
	ctx := context.Background()
	byWAMID := map[string]fakegraph.Message{}
	for _, m := range sent {
		byWAMID[m.WAMID] = m
	}
	for _, r := range p.Replies {
		var ids []string
		rows, err := s.db.Query(ctx, `SELECT coalesce(provider_id, '') FROM outbox_replies WHERE in_reply_to = $1 AND state = 'sent'`, r.Message)
		if err == nil {
			ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil || len(ids) != 1 {
			t.Errorf("%s (%s): %d sent replies to %s (%v), want 1", p.File, p.About, len(ids), r.Message, err)
			continue
		}
		m, ok := byWAMID[ids[0]]
		if !ok {
			t.Errorf("%s: reply %s to %s never reached the Graph API", p.File, ids[0], r.Message)
			continue
		}
		if r.To != "" && (m.Request.To != r.To || m.Request.Recipient != "") {
			t.Errorf("%s: reply to %s went to %q / recipient %q, want to %q", p.File, r.Message, m.Request.To, m.Request.Recipient, r.To)
		}
		if r.Recipient != "" && (m.Request.Recipient != r.Recipient || m.Request.To != "") {
			t.Errorf("%s: reply to %s went to %q / recipient %q, want recipient %q", p.File, r.Message, m.Request.To, m.Request.Recipient, r.Recipient)
		}
		if !strings.Contains(bodyText(m), r.Contains) {
			t.Errorf("%s (%s): reply to %s is %q, want it to contain %q", p.File, p.About, r.Message, bodyText(m), r.Contains)
		}
	}
	for _, id := range p.Silent {
		var n int
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM outbox_replies WHERE in_reply_to = $1`, id).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s (%s): %d replies to %s (%v), want none", p.File, p.About, n, id, err)
		}
	}
}

// checkSessions: a guest who changed number has the conversation under the
// new identifier, remembering the old ones.
func (s *agentStack) checkSessions(t *testing.T, p corpusExpected) {
	t.Helper()
	for _, want := range p.Sessions {
		var raw []byte
		err := s.db.QueryRow(context.Background(), `SELECT coalesce(state->'former_ids', '[]') FROM sessions WHERE tenant_id = $1 AND channel = 'whatsapp' AND user_id = $2`,
			want.Tenant, want.UserID).Scan(&raw)
		var got []string
		if err == nil {
			err = json.Unmarshal(raw, &got)
		}
		if err != nil || !slices.Equal(got, want.FormerIDs) {
			t.Errorf("%s (%s): session of %s remembers %v (%v), want %v", p.File, p.About, want.UserID, got, err, want.FormerIDs)
		}
	}
}

// checkUnrouted is where the corpus meets tenant attribution's record of
// events no hotel was found for: each field the payloads name is counted in
// webhook_unrouted_total{field} and has rows in webhook_unrouted, at least
// as many as payloads name it. The metric's name and the table's columns
// are tenant attribution's; adjust the two queries here if they change.
func (s *agentStack) checkUnrouted(t *testing.T, payloads []corpusExpected) {
	t.Helper()
	want := map[string]int{}
	for _, p := range payloads {
		for _, f := range p.Unrouted {
			want[f]++
		}
	}
	m := scrape(t, s.in.URL("/metrics"))
	for field, n := range want {
		if v, _ := m.value(fmt.Sprintf(`webhook_unrouted_total{field=%q}`, field)); v < float64(n) {
			t.Errorf("webhook_unrouted_total{field=%q} = %v, want at least %d", field, v, n)
		}
		var rows int
		err := s.db.QueryRow(context.Background(), `SELECT count(*) FROM webhook_unrouted WHERE field = $1`, field).Scan(&rows)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
			t.Errorf("table webhook_unrouted does not exist")
			return
		}
		if err != nil || rows < n {
			t.Errorf("webhook_unrouted: %d rows of field %q (%v), want at least %d", rows, field, err, n)
		}
	}
}
