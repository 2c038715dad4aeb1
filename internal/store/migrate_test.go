package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

func TestMigrateAppliesOnceAndIsIdempotent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := store.Connect(ctx, testservices.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	ms, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	applied, err := store.Migrate(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(ms) {
		t.Fatalf("first run applied %v, want all %d migrations", applied, len(ms))
	}
	again, err := store.Migrate(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Fatalf("second run applied %v, want none", again)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(ms) {
		t.Fatalf("schema_migrations rows = %d (%v), want %d", n, err, len(ms))
	}
}

func TestMigrateConcurrentInstancesApplyEachOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := testservices.Postgres(t)
	const instances = 4
	results := make(chan int, instances)
	errs := make(chan error, instances)
	for range instances {
		go func() {
			pool, err := store.Connect(ctx, url)
			if err != nil {
				errs <- err
				return
			}
			defer pool.Close()
			applied, err := store.Migrate(ctx, pool)
			if err != nil {
				errs <- err
				return
			}
			results <- len(applied)
		}()
	}
	total := 0
	for range instances {
		select {
		case err := <-errs:
			t.Fatal(err)
		case n := <-results:
			total += n
		}
	}
	ms, _ := store.Migrations()
	if total != len(ms) {
		t.Fatalf("instances applied %d migrations in all, want %d", total, len(ms))
	}
}
