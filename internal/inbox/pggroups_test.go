package inbox

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/store"
)

// TestSentRepliesRecordedTogetherEachFenced: sent records written as one
// group keep each reply's fence: the replies whose lease holds are recorded
// with their provider ids, the one whose lease another worker took over is
// refused alone (errLeaseLost) and left to its new owner, and a guest with
// another reply queued stays in line, so that reply is claimed next.
func TestSentRepliesRecordedTogetherEachFenced(t *testing.T) {
	pool := backlogPool(t)
	ctx := context.Background()
	b := newPGBackend(pool)
	now := time.Now().UTC()
	reply := func(to, text string) OutboundReply {
		return OutboundReply{TenantID: "h", Channel: chat.WhatsApp, To: to, Reply: chat.Reply{Kind: chat.ReplyText, Text: text}}
	}
	if err := b.enqueue(ctx, now, []OutboundReply{reply("g1", "first"), reply("g1", "second"), reply("g2", "only"), reply("g3", "taken over")}); err != nil {
		t.Fatal(err)
	}
	cs, err := b.out.claim(ctx, nil, now, "w", 10, now.Add(time.Minute))
	if err != nil || len(cs) != 3 {
		t.Fatalf("claim: %d, %v; want the three guests' heads", len(cs), err)
	}
	byText := map[string]claimed[OutboundReply]{}
	for _, c := range cs {
		byText[c.item.Reply.Text] = c
	}
	// Another worker took g3's reply over after its lease expired.
	later := now.Add(time.Second) // the others' leases still hold
	if _, err := pool.Exec(ctx, `UPDATE outbox_leases SET lease_until = $1 WHERE conversation_key = $2`, now, byText["taken over"].key); err != nil {
		t.Fatal(err)
	}
	if over, err := b.out.claim(ctx, nil, later, "other", 1, later.Add(time.Minute)); err != nil || len(over) != 1 || over[0].seq != byText["taken over"].seq {
		t.Fatalf("take-over claim: %v, %v", over, err)
	}

	var group []*sentReq
	for _, text := range []string{"first", "taken over", "only"} {
		c := byText[text]
		group = append(group, &sentReq{now: now, fence: c.fence(), providerID: "wamid-" + text, done: make(chan error, 1)})
	}
	recorded, err := b.completeReplies(ctx, group)
	if err != nil {
		t.Fatalf("the group's statement: %v", err)
	}
	if len(recorded) != 2 || !recorded[byText["first"].seq] || !recorded[byText["only"].seq] {
		t.Errorf("recorded %v, want the seqs of first and only", recorded)
	}

	state := map[string][2]string{}
	rows, err := pool.Query(ctx, `SELECT payload->'reply'->>'text', state, coalesce(provider_id, '') FROM outbox_replies`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var text, st, id string
		if err := rows.Scan(&text, &st, &id); err != nil {
			t.Fatal(err)
		}
		state[text] = [2]string{st, id}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"first":      {StateSent, "wamid-first"},
		"only":       {StateSent, "wamid-only"},
		"taken over": {StatePending, ""},
		"second":     {StatePending, ""},
	}
	for text, w := range want {
		if state[text] != w {
			t.Errorf("%q: state and provider id %v, want %v", text, state[text], w)
		}
	}
	// Through the queue: the new owner's record of g3 goes through in
	// the same group as a stale record of g1's first reply, refused alone.
	g3 := claimed[OutboundReply]{seq: byText["taken over"].seq, key: byText["taken over"].key, token: mustToken(t, b, byText["taken over"].seq)}
	stale := byText["first"]
	group = []*sentReq{
		{now: later, fence: g3.fence(), providerID: "wamid-new-owner", done: make(chan error, 1)},
		{now: later, fence: stale.fence(), providerID: "wamid-again", done: make(chan error, 1)},
	}
	b.flushSent(group)
	if err := <-group[0].done; err != nil {
		t.Errorf("the new owner's record: %v", err)
	}
	if err := <-group[1].done; err != errLeaseLost {
		t.Errorf("a second record of a sent reply: %v, want errLeaseLost", err)
	}
	var g3State string
	if err := pool.QueryRow(ctx, `SELECT state || ' ' || provider_id FROM outbox_replies WHERE seq = $1`, g3.seq).Scan(&g3State); err != nil || g3State != StateSent+" wamid-new-owner" {
		t.Errorf("g3's reply: %q, %v; want sent by the new owner", g3State, err)
	}
	// g1 stays in line with its second reply; g2 has nothing left.
	next, err := b.out.claim(ctx, nil, later, "w", 10, later.Add(time.Minute))
	if err != nil || len(next) != 1 || next[0].item.Reply.Text != "second" {
		t.Fatalf("claim after the group: %v, %v; want g1's second reply alone", next, err)
	}
}

// mustToken is the lease token stamped on outbox reply seq.
func mustToken(t *testing.T, b *pgBackend, seq int64) int64 {
	t.Helper()
	var token int64
	if err := b.pool.QueryRow(context.Background(), `SELECT lease_token FROM outbox_replies WHERE seq = $1`, seq).Scan(&token); err != nil {
		t.Fatal(err)
	}
	return token
}

// TestCompletionsCommittedTogetherEachFenced: completions committed as one
// group keep each message's fence: those whose lease holds are done with
// their replies queued and their deferred writes run; the one whose lease
// another worker took over is refused alone (errLeaseLost), queues nothing
// and runs none of its writes, and its new owner's completion still goes
// through.
func TestCompletionsCommittedTogetherEachFenced(t *testing.T) {
	pool := backlogPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE deferred_probe (id text PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	b := newPGBackend(pool)
	now := time.Now().UTC()
	msgs := []chat.Message{memMsg("h", "g1", 1), memMsg("h", "g2", 2), memMsg("h", "g3", 3)}
	if _, _, err := b.accept(ctx, now, msgs, nil, false); err != nil {
		t.Fatal(err)
	}
	cs, err := b.in.claim(ctx, nil, now, "w", 3, now.Add(time.Minute))
	if err != nil || len(cs) != 3 {
		t.Fatalf("claim: %d, %v", len(cs), err)
	}
	// Another worker took the third conversation over after its lease expired.
	later := now.Add(time.Second) // the others' leases still hold
	if _, err := pool.Exec(ctx, `UPDATE inbox_leases SET lease_until = $1 WHERE conversation_key = $2`, now, cs[2].key); err != nil {
		t.Fatal(err)
	}
	over, err := b.in.claim(ctx, nil, later, "other", 1, later.Add(time.Minute))
	if err != nil || len(over) != 1 || over[0].seq != cs[2].seq {
		t.Fatalf("take-over claim: %v, %v", over, err)
	}
	req := func(c claimed[chat.Message], id string, withReply bool) *completionReq {
		var r *completionReq
		if withReply {
			r = completionOf(t, now, c, id)
		} else {
			r = completionOf(t, now, c)
		}
		r.writes = []store.Statement{{SQL: `INSERT INTO deferred_probe (id) VALUES ($1)`, Args: []any{id}}}
		return r
	}
	held, err := b.completeTogether(ctx, []*completionReq{req(cs[0], "g1", true), req(cs[2], "g3-stale", true), req(cs[1], "g2", false)})
	if err != nil {
		t.Fatalf("the group's transaction: %v", err)
	}
	if len(held) != 2 || !held[cs[0].seq] || !held[cs[1].seq] {
		t.Errorf("fences held %v, want g1's and g2's", held)
	}

	// Through the queue: the new owner's completion of g3 goes in the same
	// group as a second completion of g1's message, refused alone.
	group := []*completionReq{req(over[0], "g3", true), req(cs[0], "g1-again", true)}
	b.flushCompletions(group)
	if err := <-group[0].done; err != nil {
		t.Errorf("the new owner's completion: %v", err)
	}
	if err := <-group[1].done; err != errLeaseLost {
		t.Errorf("a second completion of a done message: %v, want errLeaseLost", err)
	}

	var probes, texts []string
	if err := pool.QueryRow(ctx, `SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM deferred_probe`).Scan(&probes); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT coalesce(array_agg(payload->'reply'->>'text' ORDER BY seq), '{}') FROM outbox_replies`).Scan(&texts); err != nil {
		t.Fatal(err)
	}
	if strings.Join(probes, ",") != "g1,g2,g3" {
		t.Errorf("deferred writes committed: %v, want g1, g2, g3", probes)
	}
	if strings.Join(texts, ",") != "g1,g3" {
		t.Errorf("replies queued: %v, want g1's and the new owner's g3", texts)
	}
	var pending int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM inbox_messages WHERE state = 'pending'`).Scan(&pending); err != nil || pending != 0 {
		t.Errorf("%d messages pending (%v), want none", pending, err)
	}
}

// A group of completions puts back in line exactly the conversations with
// more to do, each behind the one before it, and queues each completion's
// replies in order, behind the replies queued before them.
func TestCompletionGroupRequeuesWhatHasMoreAndQueuesRepliesInOrder(t *testing.T) {
	pool := backlogPool(t)
	ctx := context.Background()
	b := newPGBackend(pool)
	now := time.Now().UTC()
	first := []chat.Message{memMsg("h", "g1", 1), memMsg("h", "g2", 2), memMsg("h", "g3", 3)}
	if _, _, err := b.accept(ctx, now, first, nil, false); err != nil {
		t.Fatal(err)
	}
	cs, err := b.in.claim(ctx, nil, now, "w", 3, now.Add(time.Minute))
	if err != nil || len(cs) != 3 {
		t.Fatalf("claim: %d, %v", len(cs), err)
	}
	// While they are handled, g3 and then g1 write again; g2 does not.
	if _, _, err := b.accept(ctx, now, []chat.Message{memMsg("h", "g3", 4), memMsg("h", "g1", 5)}, nil, false); err != nil {
		t.Fatal(err)
	}
	held, err := b.completeTogether(ctx, []*completionReq{completionOf(t, now, cs[2], "g3-a", "g3-b"), completionOf(t, now, cs[0], "g1-a"), completionOf(t, now, cs[1])})
	if err != nil || len(held) != 3 {
		t.Fatalf("the group: %v held, %v", held, err)
	}

	var inLine []string
	if err := pool.QueryRow(ctx, `SELECT coalesce(array_agg(conversation_key ORDER BY turn), '{}') FROM inbox_ready WHERE due_at < 'infinity'`).Scan(&inLine); err != nil {
		t.Fatal(err)
	}
	if len(inLine) != 2 || !strings.HasSuffix(inLine[0], "|g1") || !strings.HasSuffix(inLine[1], "|g3") {
		t.Errorf("in line after the group: %v, want g1's then g3's conversation (g2 has nothing more)", inLine)
	}
	next, err := b.in.claim(ctx, nil, now, "w", 3, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range next {
		ids = append(ids, c.item.ID)
	}
	if strings.Join(ids, ",") != "h-g1-5,h-g3-4" {
		t.Errorf("claimed next: %v, want g1's and g3's second messages", ids)
	}
	var texts []string
	if err := pool.QueryRow(ctx, `SELECT coalesce(array_agg(payload->'reply'->>'text' ORDER BY seq), '{}') FROM outbox_replies`).Scan(&texts); err != nil {
		t.Fatal(err)
	}
	if strings.Join(texts, ",") != "g1-a,g3-a,g3-b" {
		t.Errorf("replies queued: %v, want g1-a, g3-a, g3-b", texts)
	}
	var outLine int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox_ready WHERE due_at < 'infinity'`).Scan(&outLine); err != nil || outLine != 2 {
		t.Errorf("%d guests in the outbox's line (%v), want 2", outLine, err)
	}
}

// completionOf is the completion of claimed message c at now, answering
// its guest with texts.
func completionOf(t *testing.T, now time.Time, c claimed[chat.Message], texts ...string) *completionReq {
	t.Helper()
	r := &completionReq{now: now, fence: c.fence(), done: make(chan error, 1)}
	if len(texts) == 0 {
		return r
	}
	out := make([]OutboundReply, len(texts))
	for i, text := range texts {
		out[i] = OutboundReply{Reply: chat.Reply{Kind: chat.ReplyText, Text: text}}
	}
	r.replies = AddressReplies(c.item, out)
	var err error
	if r.repliesJSON, r.replyKeys, err = encodeReplies(r.replies); err != nil {
		t.Fatal(err)
	}
	return r
}
