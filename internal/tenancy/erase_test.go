package tenancy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/tenancy"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// Erasing a guest's identifier deletes it and leaves the audit saying what
// happened without saying who: its own row and the earlier rows that named
// the identifier carry its digest, other identifiers' rows are untouched.
func TestEraseIdentifierKeepsNoValueInTheAudit(t *testing.T) {
	for _, b := range []struct {
		name string
		open func(t *testing.T) tenancy.Store
	}{
		{"memory", func(t *testing.T) tenancy.Store {
			s, err := tenancy.NewMemoryStore(nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"postgres", func(t *testing.T) tenancy.Store {
			return newStore(t, migrated(t, testservices.Postgres(t)), tenancy.PostgresOptions{})
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := b.open(t)
			if _, err := s.CreateTenant(ctx, "alice", tenancy.Tenant{ID: "h1", Name: "Hotel One", Active: true}); err != nil {
				t.Fatal(err)
			}
			guest, _ := tenancy.ParseIdentifier("phone:+34 600 111 222", "")
			other, _ := tenancy.ParseIdentifier("phone:+34600999888", "")
			for _, id := range []tenancy.Identifier{guest, other} {
				if _, err := s.AddIdentifier(ctx, "bob", "h1", id); err != nil {
					t.Fatal(err)
				}
			}
			// Spelled another way, as a guest's number reaches an erasure.
			spelled := tenancy.Identifier{Type: tenancy.Phone, Value: "34600111222"}
			gone, err := s.EraseIdentifier(ctx, "dpo", "h1", spelled)
			if err != nil || len(gone) != 1 {
				t.Fatalf("erase: %+v %v", gone, err)
			}
			if h, _ := s.Tenant("h1"); len(h.Identifiers) != 1 || h.Identifiers[0].Key() != other.Key() {
				t.Fatalf("identifiers left: %+v", h.Identifiers)
			}
			log, err := s.AuditLog(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			digest := tenancy.IdentifierDigest(guest)
			var erased, otherAdd int
			for _, e := range log {
				if d := strings.Join([]string{e.Action, e.Target, toText(e.Detail)}, " "); strings.Contains(d, "600111222") {
					t.Errorf("the audit still names the guest: %s", d)
				}
				if e.Detail["value_sha256"] == digest {
					erased++
				}
				if e.Detail["value"] == other.Value {
					otherAdd++
				}
			}
			if erased != 2 || otherAdd != 1 {
				t.Errorf("audit rows with the digest %d (want 2: the add and the erase), naming the other number %d (want 1):\n%+v", erased, otherAdd, log)
			}
			if log[0].Action != tenancy.ActionIdentifierErase || log[0].Actor != "dpo" {
				t.Errorf("newest audit row %+v, want the erasure by dpo", log[0])
			}
		})
	}
}

func toText(m map[string]any) string {
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k + "=")
		if s, ok := v.(string); ok {
			b.WriteString(s)
		}
		b.WriteString(" ")
	}
	return b.String()
}
