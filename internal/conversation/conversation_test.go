package conversation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/conversation"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

func TestMemory(t *testing.T) {
	exercise(t, conversation.NewMemory())
	exerciseNotices(t, conversation.NewMemory())
}

func TestPostgres(t *testing.T) {
	exercise(t, conversation.NewPostgres(testservices.MigratedPostgres(t)))
	exerciseNotices(t, conversation.NewPostgres(testservices.MigratedPostgres(t)))
}

// exerciseNotices: a fresh handoff owes one notice; a claim hides it for
// the lease and counts the attempt; an unfinished claim (a crash) is
// claimed again after the lease, up to the attempts allowed; done clears
// it; a resume drops it; a second handoff owes a new one.
func exerciseNotices(t *testing.T, s conversation.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	k := conversation.Key{TenantID: "hotel-n", Channel: "whatsapp", Guest: "34600000077"}
	other := conversation.Key{TenantID: "hotel-n", Channel: "whatsapp", Guest: "34600000078"}
	claim := func(at time.Time) []conversation.Notice {
		t.Helper()
		ns, err := s.ClaimNotices(ctx, at, time.Minute, 10, 3)
		if err != nil {
			t.Fatal(err)
		}
		return ns
	}
	if err := s.Inbound(ctx, k, "Ana", "quiero hablar con alguien", t0); err != nil {
		t.Fatal(err)
	}
	if ns := claim(t0); len(ns) != 0 {
		t.Fatalf("notices before any handoff: %+v", ns)
	}
	if _, err := s.HandOff(ctx, k, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.HandOff(ctx, k, t0.Add(time.Second)); err != nil { // the same handoff, seen again
		t.Fatal(err)
	}
	ns := claim(t0)
	if len(ns) != 1 || ns[0].Key != k || ns[0].Attempt != 1 || ns[0].Name != "Ana" || !ns[0].WaitingSince.Equal(t0) {
		t.Fatalf("first claim: %+v", ns)
	}
	if ns := claim(t0.Add(30 * time.Second)); len(ns) != 0 {
		t.Fatalf("claimed again within the lease: %+v", ns)
	}
	// The claimer crashed: after the lease, again, until the attempts run out.
	for attempt := 2; attempt <= 3; attempt++ {
		ns := claim(t0.Add(time.Duration(attempt) * 2 * time.Minute))
		if len(ns) != 1 || ns[0].Attempt != attempt {
			t.Fatalf("claim after the lease, attempt %d: %+v", attempt, ns)
		}
	}
	if ns := claim(t0.Add(time.Hour)); len(ns) != 0 {
		t.Fatalf("claimed after the last attempt: %+v", ns)
	}
	// Another guest's notice, sent: done clears it.
	if _, err := s.HandOff(ctx, other, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	ns = claim(t0.Add(time.Minute))
	if len(ns) != 1 || ns[0].Key != other {
		t.Fatalf("other guest's claim: %+v", ns)
	}
	if err := s.NoticeDone(ctx, other, ns[0].WaitingSince); err != nil {
		t.Fatal(err)
	}
	if ns := claim(t0.Add(time.Hour)); len(ns) != 0 {
		t.Fatalf("a done notice claimed: %+v", ns)
	}
	// Resumed before its notice went: none owed; handed off again: a new one.
	if _, err := s.HandOff(ctx, k, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetState(ctx, other, conversation.Active); err != nil {
		t.Fatal(err)
	}
	if _, err := s.HandOff(ctx, other, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetState(ctx, other, conversation.Active); err != nil {
		t.Fatal(err)
	}
	if ns := claim(t0.Add(3 * time.Hour)); len(ns) != 0 {
		t.Fatalf("k still waits from its first handoff (attempts spent), other was resumed: %+v", ns)
	}
	if _, err := s.SetState(ctx, k, conversation.Closed); err != nil {
		t.Fatal(err)
	}
	if _, err := s.HandOff(ctx, k, t0.Add(4*time.Hour)); err != nil {
		t.Fatal(err)
	}
	ns = claim(t0.Add(4 * time.Hour))
	if len(ns) != 1 || ns[0].Key != k || ns[0].Attempt != 1 || !ns[0].WaitingSince.Equal(t0.Add(4*time.Hour)) {
		t.Fatalf("a new handoff's notice: %+v", ns)
	}
	// Done for an older handoff leaves the newer one owed.
	if err := s.NoticeDone(ctx, k, t0); err != nil {
		t.Fatal(err)
	}
	if ns := claim(t0.Add(5 * time.Hour)); len(ns) != 1 {
		t.Fatalf("done for an old handoff cleared the new one: %+v", ns)
	}
}

// exercise is what every Store does.
func exercise(t *testing.T, s conversation.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	key := func(g string) conversation.Key {
		return conversation.Key{TenantID: "hotel-a", Channel: "whatsapp", Guest: g}
	}
	for i, g := range []string{"34600000001", "34600000002", "34600000003", "34600000004"} {
		if err := s.Inbound(ctx, key(g), "Guest "+g[len(g)-1:], "hello "+g, t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Inbound(ctx, conversation.Key{TenantID: "hotel-b", Channel: "whatsapp", Guest: "34600000001"}, "B", "other hotel", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Outbound(ctx, key("34600000001"), "agent reply", t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Two hand-offs, the later one first; the second hand-off of the same
	// guest is not fresh and keeps the first time.
	for _, h := range []struct {
		g     string
		at    time.Duration
		fresh bool
	}{{"34600000003", 20 * time.Minute, true}, {"34600000002", 21 * time.Minute, true}, {"34600000003", 30 * time.Minute, false}} {
		fresh, err := s.HandOff(ctx, key(h.g), t0.Add(h.at))
		if err != nil || fresh != h.fresh {
			t.Fatalf("HandOff(%s) = %v, %v; want %v", h.g, fresh, err, h.fresh)
		}
	}
	if err := s.SetBookingRef(ctx, key("34600000004"), "BK-77"); err != nil {
		t.Fatal(err)
	}
	list := func(f conversation.Filter) []string {
		t.Helper()
		f.TenantID = "hotel-a"
		var got []string
		for pages := 0; pages < 10; pages++ {
			page, next, err := s.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				got = append(got, c.Guest[len(c.Guest)-1:])
			}
			if next == "" {
				return got
			}
			f.After = next
		}
		t.Fatal("more than 10 pages")
		return nil
	}
	eq := func(what string, got []string, want string) {
		t.Helper()
		s := ""
		for _, g := range got {
			s += g
		}
		if s != want {
			t.Fatalf("%s: %q, want %q", what, s, want)
		}
	}
	eq("waiting, oldest wait first", list(conversation.Filter{State: conversation.Waiting, Limit: 1}), "32")
	eq("all, newest activity first", list(conversation.Filter{Limit: 3}), "1432")
	eq("active", list(conversation.Filter{State: conversation.Active}), "14")
	eq("search booking ref", list(conversation.Filter{Query: "bk-7"}), "4")
	eq("search name", list(conversation.Filter{Query: "guest 2"}), "2")
	eq("search phone", list(conversation.Filter{Query: "0000003"}), "3")

	c, err := s.Get(ctx, conversation.Key{TenantID: "hotel-a", Guest: "34600000003"})
	if err != nil || c.State != conversation.Waiting || !c.WaitingSince.Equal(t0.Add(20*time.Minute)) || c.Name != "Guest 3" || c.Channel != "whatsapp" {
		t.Fatalf("Get = %+v, %v", c, err)
	}
	w, err := s.Waiting(ctx)
	if err != nil || w["hotel-a"].Count != 2 || !w["hotel-a"].Oldest.Equal(t0.Add(20*time.Minute)) || w["hotel-b"].Count != 0 {
		t.Fatalf("Waiting = %+v, %v", w, err)
	}
	// Resume, close; a closed conversation opens again on the guest's word.
	if was, err := s.SetState(ctx, key("34600000003"), conversation.Active); err != nil || was != conversation.Waiting {
		t.Fatalf("resume: %v %v", was, err)
	}
	if was, err := s.SetState(ctx, key("34600000002"), conversation.Closed); err != nil || was != conversation.Waiting {
		t.Fatalf("close: %v %v", was, err)
	}
	eq("closed", list(conversation.Filter{State: conversation.Closed}), "2")
	if err := s.Inbound(ctx, key("34600000002"), "", "me again", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Get(ctx, key("34600000002")); c.State != conversation.Active || c.LastText != "me again" || c.Name != "Guest 2" || !c.WaitingSince.IsZero() {
		t.Fatalf("reopened %+v", c)
	}
	if _, err := s.SetState(ctx, key("34699999999"), conversation.Closed); !errors.Is(err, conversation.ErrNotFound) {
		t.Fatalf("unknown conversation: %v", err)
	}
	if _, _, err := s.List(ctx, conversation.Filter{TenantID: "hotel-a", After: "!!"}); !errors.Is(err, conversation.ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
	if n, err := s.Erase(ctx, "hotel-a", "34600000001"); err != nil || n != 1 {
		t.Fatalf("erase %d %v", n, err)
	}
	if _, err := s.Get(ctx, conversation.Key{TenantID: "hotel-b", Guest: "34600000001"}); err != nil {
		t.Fatalf("erase reached another hotel: %v", err)
	}
	// The retention: what went quiet before the cutoff goes, unless the
	// guest waits for a person.
	if _, err := s.HandOff(ctx, key("34600000004"), t0.Add(40*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(ctx, t0.Add(59*time.Minute)); err != nil || n != 2 {
		t.Fatalf("prune: %d %v, want 2 (hotel-a's 3, hotel-b's 1)", n, err)
	}
	for g, kept := range map[string]bool{"34600000002": true, "34600000003": false, "34600000004": true} {
		if _, err := s.Get(ctx, key(g)); (err == nil) != kept {
			t.Errorf("after prune, %s: %v (kept: %v)", g, err, kept)
		}
	}
}

// TestPostgresDeferredHandOff: in a unit of work that defers its writes, a
// handoff owes no notice (and the conversation is not waiting) until the
// unit's writes commit, and after-commit hooks run only then; it still
// tells whether it is fresh.
func TestPostgresDeferredHandOff(t *testing.T) {
	pool := testservices.MigratedPostgres(t)
	s := conversation.NewPostgres(pool)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	k := conversation.Key{TenantID: "hotel-d", Channel: "whatsapp", Guest: "34600000088"}
	if err := s.Inbound(ctx, k, "Ana", "quiero hablar con una persona", t0); err != nil {
		t.Fatal(err)
	}

	uctx, d := store.WithDeferred(ctx)
	fresh, err := s.HandOff(uctx, k, t0)
	if err != nil || !fresh {
		t.Fatalf("deferred handoff: fresh %v, err %v; want a fresh one", fresh, err)
	}
	woken := false
	store.AfterCommit(uctx, func() { woken = true })
	if ns, err := s.ClaimNotices(ctx, t0.Add(time.Second), time.Minute, 10, 3); err != nil || len(ns) != 0 {
		t.Fatalf("before the unit commits: notices %+v, err %v; want none", ns, err)
	}
	if c, err := s.Get(ctx, k); err != nil || c.State == conversation.Waiting {
		t.Fatalf("before the unit commits: %+v, err %v; want not waiting", c, err)
	}
	if woken {
		t.Fatal("an after-commit hook ran before the commit")
	}

	// The owner of the unit commits its writes, then runs its hooks.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range d.Take() {
		if _, err := tx.Exec(ctx, w.SQL, w.Args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	d.Committed()
	if !woken {
		t.Fatal("the after-commit hook did not run after the commit")
	}
	ns, err := s.ClaimNotices(ctx, t0.Add(time.Second), time.Minute, 10, 3)
	if err != nil || len(ns) != 1 || ns[0].Guest != k.Guest || ns[0].Name != "Ana" {
		t.Fatalf("after the commit: notices %+v, err %v; want Ana's", ns, err)
	}

	// Seen again in another unit: not fresh.
	uctx, _ = store.WithDeferred(ctx)
	if fresh, err := s.HandOff(uctx, k, t0.Add(time.Minute)); err != nil || fresh {
		t.Fatalf("second handoff: fresh %v, err %v; want not fresh", fresh, err)
	}
}
