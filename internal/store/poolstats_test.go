package store_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetGauge() != nil:
				out[mf.GetName()] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[mf.GetName()] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

func TestPoolCollector(t *testing.T) {
	u, err := url.Parse(testservices.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", "4")
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := store.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(store.PoolCollector(pool))

	// One connection held in an open transaction that does nothing: a leak.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	got := gather(t, reg)
	want := map[string]float64{
		"db_pool_active_connections":   1,
		"db_pool_max_connections":      4,
		"db_pool_utilization_percent":  25,
		"db_pool_idle_in_transaction":  1,
		"db_pool_long_running_queries": 0,
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %v, want %v (all: %v)", name, got[name], v, got)
		}
	}
	if got["db_pool_acquire_total"] < 1 {
		t.Errorf("db_pool_acquire_total = %v", got["db_pool_acquire_total"])
	}
	_ = tx.Rollback(ctx)
	conn.Release()

	got = gather(t, reg)
	if got["db_pool_active_connections"] != 0 || got["db_pool_idle_in_transaction"] != 0 {
		t.Errorf("after release: %v", got)
	}
}

func TestPoolCollectorLeavesActivityOutWhenPostgresIsGone(t *testing.T) {
	ctx := context.Background()
	pool, err := store.Connect(ctx, testservices.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(store.PoolCollector(pool))
	pool.Close()
	got := gather(t, reg)
	if _, ok := got["db_pool_idle_in_transaction"]; ok {
		t.Errorf("reported pg_stat_activity numbers without a database: %v", got)
	}
	if _, ok := got["db_pool_max_connections"]; !ok {
		t.Errorf("pool statistics missing: %v", got)
	}
}
