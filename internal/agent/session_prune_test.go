package agent

import (
	"context"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// The retention deletes the sessions that expired before the cutoff and no
// other; ForgetGuest deletes one guest's at once.
func TestSessionsPruneAndForget(t *testing.T) {
	for _, f := range stores(t) {
		t.Run(f.name, func(t *testing.T) {
			ctx := context.Background()
			s := f.new(t)
			o := &Orchestrator{sessions: s}
			now := time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)
			for guest, expires := range map[string]time.Time{"+34600000101": now.Add(-10 * 24 * time.Hour), "+34600000102": now.Add(-time.Hour), "+34600000103": now.Add(time.Hour)} {
				sess := freshSession(KeyFor("tenant_a", chat.WhatsApp, guest), expires.Add(-DefaultSessionTTL))
				sess.ExpiresAt = expires
				if err := s.Save(ctx, sess); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := o.PruneSessions(ctx, now.Add(-8*24*time.Hour)); err != nil || n != 1 {
				t.Fatalf("prune: %d %v, want 1", n, err)
			}
			if sess, err := s.Load(ctx, KeyFor("tenant_a", chat.WhatsApp, "+34600000103"), now); err != nil || sess.New {
				t.Fatalf("a live session after prune: %+v %v", sess, err)
			}
			if err := o.ForgetGuest(ctx, "tenant_a", chat.WhatsApp, "34600000103"); err != nil {
				t.Fatal(err)
			}
			if sess, err := s.Load(ctx, KeyFor("tenant_a", chat.WhatsApp, "+34600000103"), now); err != nil || !sess.New {
				t.Fatalf("a forgotten guest's session: %+v %v", sess, err)
			}
			if n, err := o.PruneSessions(ctx, now); err != nil || n != 1 {
				t.Fatalf("second prune: %d %v, want 1 (the session that expired an hour ago)", n, err)
			}
		})
	}
}
