package adminauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// RevocationPoll is how often a Postgres-backed Revocations reloads the
// revoked token ids: a revocation made on one instance is honoured by every
// instance within about this long.
const RevocationPoll = 500 * time.Millisecond

// Revocation is one revoked token id.
type Revocation struct {
	ID        string    `json:"jti"`
	ExpiresAt time.Time `json:"expires_at"`
	RevokedBy string    `json:"revoked_by"`
	RevokedAt time.Time `json:"revoked_at"`
}

// Revocations are the revoked token ids. Revoked answers from memory, so
// the check costs no I/O per request; with Postgres, Run keeps the memory
// copy current with what every instance revoked.
type Revocations struct {
	pool *pgxpool.Pool // nil: this process's memory only

	mu      sync.RWMutex
	revoked map[string]Revocation
	loaded  bool
}

// NewMemoryRevocations keeps revocations in this process only.
func NewMemoryRevocations() *Revocations {
	return &Revocations{revoked: map[string]Revocation{}}
}

// NewPostgresRevocations keeps revocations in admin_token_revocations,
// shared by every instance.
func NewPostgresRevocations(pool *pgxpool.Pool) *Revocations {
	return &Revocations{pool: pool, revoked: map[string]Revocation{}}
}

// Revoked reports whether jti was revoked.
func (r *Revocations) Revoked(jti string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.revoked[jti]
	return ok
}

// Revoke records jti as revoked until expiresAt (the token's exp; after it
// the token is refused anyway). by names who revoked it.
func (r *Revocations) Revoke(ctx context.Context, jti string, expiresAt time.Time, by string) (Revocation, error) {
	jti = strings.TrimSpace(jti)
	if jti == "" {
		return Revocation{}, errors.New("jti is required")
	}
	if expiresAt.IsZero() {
		expiresAt = time.Now().Add(DefaultMaxLifetime + Leeway)
	}
	rev := Revocation{ID: jti, ExpiresAt: expiresAt.UTC(), RevokedBy: by, RevokedAt: time.Now().UTC()}
	if r.pool != nil {
		err := r.pool.QueryRow(ctx, `
			INSERT INTO admin_token_revocations (jti, expires_at, revoked_by) VALUES ($1, $2, $3)
			ON CONFLICT (jti) DO UPDATE SET expires_at = GREATEST(admin_token_revocations.expires_at, EXCLUDED.expires_at)
			RETURNING expires_at, revoked_by, revoked_at`, jti, rev.ExpiresAt, by).Scan(&rev.ExpiresAt, &rev.RevokedBy, &rev.RevokedAt)
		if err != nil {
			return Revocation{}, fmt.Errorf("revoking token: %w", err)
		}
	}
	r.mu.Lock()
	r.revoked[jti] = rev
	r.mu.Unlock()
	return rev, nil
}

// List returns the revocations this process knows, soonest expiry first.
func (r *Revocations) List() []Revocation {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Revocation, 0, len(r.revoked))
	for _, v := range r.revoked {
		out = append(out, v)
	}
	sortRevocations(out)
	return out
}

func sortRevocations(rs []Revocation) {
	slices.SortFunc(rs, func(a, b Revocation) int {
		if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// Load replaces the memory copy with the table's unexpired rows and prunes
// the expired ones. Without Postgres it only drops expired entries.
func (r *Revocations) Load(ctx context.Context) error {
	now := time.Now()
	if r.pool == nil {
		r.mu.Lock()
		for id, v := range r.revoked {
			if v.ExpiresAt.Add(Leeway).Before(now) {
				delete(r.revoked, id)
			}
		}
		r.mu.Unlock()
		return nil
	}
	rows, err := r.pool.Query(ctx, `SELECT jti, expires_at, revoked_by, revoked_at FROM admin_token_revocations WHERE expires_at > $1`, now.Add(-Leeway))
	if err != nil {
		return fmt.Errorf("loading revoked tokens: %w", err)
	}
	defer rows.Close()
	fresh := map[string]Revocation{}
	for rows.Next() {
		var v Revocation
		if err := rows.Scan(&v.ID, &v.ExpiresAt, &v.RevokedBy, &v.RevokedAt); err != nil {
			return fmt.Errorf("loading revoked tokens: %w", err)
		}
		fresh[v.ID] = v
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("loading revoked tokens: %w", err)
	}
	r.mu.Lock()
	// Keep what this process revoked after the query began: it is in the
	// table too and the next load brings it.
	for id, v := range r.revoked {
		if _, ok := fresh[id]; !ok && v.RevokedAt.After(now.Add(-2*RevocationPoll)) {
			fresh[id] = v
		}
	}
	r.revoked, r.loaded = fresh, true
	r.mu.Unlock()
	return nil
}

// Run reloads every RevocationPoll until ctx ends, and prunes expired rows
// about once a minute.
func (r *Revocations) Run(ctx context.Context, onError func(error)) error {
	if r.pool == nil {
		return nil
	}
	t := time.NewTicker(RevocationPoll)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		if err := r.Load(ctx); err != nil && ctx.Err() == nil && onError != nil {
			onError(err)
		}
		if time.Since(lastPrune) > time.Minute {
			lastPrune = time.Now()
			if _, err := r.pool.Exec(ctx, `DELETE FROM admin_token_revocations WHERE expires_at < $1`, time.Now().Add(-time.Hour)); err != nil && ctx.Err() == nil && onError != nil {
				onError(fmt.Errorf("pruning revoked tokens: %w", err))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
