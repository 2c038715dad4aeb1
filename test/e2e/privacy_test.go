package e2e

// A guest's data rights on the real binary with Postgres: an operator
// exports everything kept about one guest of one hotel, then erases it; no
// row of any table still carries the guest's number, the audit says what was
// done by digest, and another guest of the same hotel is untouched.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestGuestExportAndErasure(t *testing.T) {
	s := startAgentStack(t, nil)
	hdr := s.adminHeader()
	w := newWebhookClient(2)
	guest, other := newGuestPhone(), newGuestPhone()
	for _, g := range []string{guest, other} {
		s.deliver(w, textMessage(g, "wamid.privacy-1-"+g, "Hola, ¿tenéis parking?"))
		s.waitReplies(g, 1, 10*time.Second)
	}
	s.deliver(w, textMessage(guest, "wamid.privacy-2-"+guest, "BAJA"))
	sent := s.waitReplies(guest, 2, 10*time.Second)
	// Meta's receipt for the first reply, and a directory entry for the guest.
	status := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":%q},"statuses":[{"id":%q,"status":"delivered","timestamp":"%d","recipient_id":%q}]}}]}]}`,
		agentPhoneNumberID, sent[0].WAMID, time.Now().Unix(), guest)
	s.deliver(w, []byte(status))
	callJSON(t, s.in, http.MethodPost, "/admin/tenants/"+agentTenant+"/identifiers", `{"identifier":"+`+guest+`","type":"phone"}`, hdr, http.StatusCreated)

	// The export: the conversation, both of the guest's messages and the
	// replies with their delivery state, the session, the opt-out, the entry.
	path := "/admin/tenants/" + agentTenant + "/guests/%2B" + guest
	var doc struct {
		Guest        string `json:"guest"`
		Channel      string `json:"channel"`
		Conversation *struct {
			Guest string `json:"guest"`
		} `json:"conversation"`
		Messages []struct {
			Direction, Text, Status string
		} `json:"messages"`
		Session     map[string]any   `json:"session"`
		Consent     []map[string]any `json:"consent"`
		Identifiers []map[string]any `json:"identifiers"`
	}
	waitExport := time.Now().Add(10 * time.Second)
	for {
		status, hdrs, body := Do(t, http.MethodGet, s.in.URL(path+"/export"), nil, hdr)
		if status != http.StatusOK {
			t.Fatalf("export: %d %s", status, body)
		}
		if !strings.Contains(hdrs.Get("Content-Disposition"), "attachment") {
			t.Errorf("export Content-Disposition %q", hdrs.Get("Content-Disposition"))
		}
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatal(err)
		}
		delivered := false
		for _, m := range doc.Messages {
			delivered = delivered || (m.Direction == "out" && m.Status == "delivered")
		}
		if delivered || time.Now().After(waitExport) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var in, out int
	for _, m := range doc.Messages {
		if m.Direction == "in" {
			in++
		} else {
			out++
		}
	}
	if doc.Guest != guest || doc.Channel != "whatsapp" || doc.Conversation == nil || in != 2 || out < 2 ||
		doc.Session == nil || len(doc.Consent) != 1 || doc.Consent[0]["opted_out"] != true || len(doc.Identifiers) != 1 {
		t.Fatalf("export: %+v", doc)
	}
	if doc.Messages[0].Text != "Hola, ¿tenéis parking?" {
		t.Errorf("first line of the export: %+v", doc.Messages[0])
	}

	// Staff cannot reach either route, even for their own hotel.
	staff := staffHeader(t, "recepcion", agentTenant)
	for _, m := range []string{http.MethodGet + " " + path + "/export", http.MethodDelete + " " + path} {
		method, p, _ := strings.Cut(m, " ")
		if status, _, body := Do(t, method, s.in.URL(p), nil, staff); status != http.StatusForbidden {
			t.Errorf("staff %s: %d %s, want 403", m, status, body)
		}
	}

	// The erasure.
	erased := callJSON(t, s.in, http.MethodDelete, path, "", hdr, http.StatusOK)
	t.Logf("erased: %v", erased)
	counts, _ := erased["erased"].(map[string]any)
	for k, min := range map[string]float64{"messages": 2, "replies": 2, "statuses": 1, "sessions": 1, "conversations": 1, "consent": 2, "identifiers": 1} {
		if n, _ := counts[k].(float64); n < min {
			t.Errorf("erased %s: %v, want at least %v", k, counts[k], min)
		}
	}
	digest, _ := erased["guest_sha256"].(string)
	if len(digest) != 64 {
		t.Fatalf("guest_sha256 %q", digest)
	}
	if status, _, body := Do(t, http.MethodGet, s.in.URL(path+"/export"), nil, hdr); status != http.StatusNotFound {
		t.Errorf("export after the erasure: %d %s, want 404", status, body)
	}

	// No row of any table carries the guest's number; the other guest's are there.
	ctx := context.Background()
	rows, err := s.db.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	otherRows := 0
	for _, table := range tables {
		var n, m int
		q := fmt.Sprintf(`SELECT count(*) FILTER (WHERE t::text LIKE $1), count(*) FILTER (WHERE t::text LIKE $2) FROM %q t`, table)
		if err := s.db.QueryRow(ctx, q, "%"+guest+"%", "%"+other+"%").Scan(&n, &m); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if n > 0 {
			t.Errorf("table %s still has %d rows naming the erased guest", table, n)
		}
		otherRows += m
	}
	if otherRows < 4 {
		t.Errorf("the other guest is in %d rows, want their message, reply, session and conversation at least", otherRows)
	}
	var audited int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM admin_audit WHERE action = 'guest.erase' AND target = $1 AND detail->>'guest_sha256' = $2`,
		agentTenant, digest).Scan(&audited); err != nil || audited != 1 {
		t.Errorf("guest.erase audit rows: %d %v, want 1", audited, err)
	}

	// The guest writes again: a new guest to the agent, answered as one.
	s.deliver(w, textMessage(guest, "wamid.privacy-3-"+guest, "Hola"))
	s.waitReplies(guest, 3, 10*time.Second)

	// Bad requests are the client's.
	for p, want := range map[string]int{
		"/admin/tenants/" + agentTenant + "/guests/abc%21def":                 http.StatusBadRequest,
		"/admin/tenants/" + agentTenant + "/guests/" + guest + "?channel=fax": http.StatusBadRequest,
		"/admin/tenants/no-such-hotel/guests/" + guest:                        http.StatusNotFound,
	} {
		if status, _, body := Do(t, http.MethodDelete, s.in.URL(p), nil, hdr); status != want {
			t.Errorf("DELETE %s: %d %s, want %d", p, status, body, want)
		}
	}
}
