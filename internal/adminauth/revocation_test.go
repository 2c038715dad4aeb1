package adminauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/adminauth"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// A token revoked on one instance is refused by another within a second.
func TestRevocationReachesEveryInstance(t *testing.T) {
	pool := testservices.MigratedPostgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := adminauth.NewPostgresRevocations(pool), adminauth.NewPostgresRevocations(pool)
	go func() { _ = b.Run(ctx, func(err error) { t.Log(err) }) }()
	if b.Revoked("tok-1") {
		t.Fatal("revoked before any revocation")
	}
	start := time.Now()
	if _, err := a.Revoke(ctx, "tok-1", time.Now().Add(time.Hour), "ops"); err != nil {
		t.Fatal(err)
	}
	if !a.Revoked("tok-1") {
		t.Fatal("the revoking instance still accepts the token")
	}
	took := testservices.Eventually(t, time.Second, "the other instance refuses the token", func() bool { return b.Revoked("tok-1") })
	t.Logf("revocation seen by the other instance after %v (started %v ago)", took, time.Since(start).Round(time.Millisecond))
	if got := b.List(); len(got) != 1 || got[0].RevokedBy != "ops" {
		t.Fatalf("list %+v", got)
	}
	// Memory: this process only, and the verifier honours it.
	m := adminauth.NewMemoryRevocations()
	secret := []byte("0123456789abcdef0123456789abcdef")
	tok, _ := adminauth.MintToken(secret, adminauth.Token{Subject: "x", Role: adminauth.RoleAdmin, TTL: time.Hour, ID: "mem-1"}, time.Now())
	v := adminauth.Verifier{Secret: secret, Revoked: m.Revoked}
	if _, err := v.Verify("Bearer "+tok, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Revoke(ctx, "mem-1", time.Now().Add(time.Hour), "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify("Bearer "+tok, time.Now()); err == nil {
		t.Fatal("revoked token accepted")
	}
}
