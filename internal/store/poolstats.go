package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Connection pool metrics for the original system's "Database & PMS
// Performance" dashboard. Its SQLAlchemy pool had an overflow; pgxpool has a
// hard maximum instead, so db_pool_overflow becomes the count of acquisitions
// that had to wait for a connection (db_pool_empty_acquire_total).
var (
	poolActiveDesc      = prometheus.NewDesc("db_pool_active_connections", "Postgres connections checked out of the pool (running a query or a transaction).", nil, nil)
	poolIdleDesc        = prometheus.NewDesc("db_pool_idle_connections", "Open Postgres connections idle in the pool.", nil, nil)
	poolTotalDesc       = prometheus.NewDesc("db_pool_total_connections", "Postgres connections the pool holds, including ones being opened.", nil, nil)
	poolMaxDesc         = prometheus.NewDesc("db_pool_max_connections", "Most connections the pool may hold (pool_max_conns).", nil, nil)
	poolUtilDesc        = prometheus.NewDesc("db_pool_utilization_percent", "Checked-out connections as a percentage of the pool's maximum.", nil, nil)
	poolAcquireDesc     = prometheus.NewDesc("db_pool_acquire_total", "Connections acquired from the pool.", nil, nil)
	poolEmptyDesc       = prometheus.NewDesc("db_pool_empty_acquire_total", "Acquisitions that found no idle connection and had to wait or open one.", nil, nil)
	poolWaitDesc        = prometheus.NewDesc("db_pool_acquire_wait_seconds_total", "Time spent waiting to acquire connections.", nil, nil)
	poolIdleInTxDesc    = prometheus.NewDesc("db_pool_idle_in_transaction", "Sessions of this database idle inside a transaction (pg_stat_activity): a leak indicator.", nil, nil)
	poolLongQueriesDesc = prometheus.NewDesc("db_pool_long_running_queries", "Queries of this database running for more than 30 s (pg_stat_activity).", nil, nil)
)

// activityTimeout bounds the pg_stat_activity query of one scrape, so a
// saturated pool slows a scrape by at most this much.
const activityTimeout = time.Second

// PoolCollector exports the pool's statistics and, from pg_stat_activity,
// the sessions idle in a transaction and the long-running queries.
func PoolCollector(pool *pgxpool.Pool) prometheus.Collector { return poolCollector{pool} }

type poolCollector struct{ pool *pgxpool.Pool }

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolActiveDesc, poolIdleDesc, poolTotalDesc, poolMaxDesc, poolUtilDesc,
		poolAcquireDesc, poolEmptyDesc, poolWaitDesc, poolIdleInTxDesc, poolLongQueriesDesc} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(poolActiveDesc, float64(st.AcquiredConns()))
	gauge(poolIdleDesc, float64(st.IdleConns()))
	gauge(poolTotalDesc, float64(st.TotalConns()))
	gauge(poolMaxDesc, float64(st.MaxConns()))
	util := 0.0
	if st.MaxConns() > 0 {
		util = 100 * float64(st.AcquiredConns()) / float64(st.MaxConns())
	}
	gauge(poolUtilDesc, util)
	counter(poolAcquireDesc, float64(st.AcquireCount()))
	counter(poolEmptyDesc, float64(st.EmptyAcquireCount()))
	counter(poolWaitDesc, st.AcquireDuration().Seconds())

	ctx, cancel := context.WithTimeout(context.Background(), activityTimeout)
	defer cancel()
	var idleInTx, long int64
	err := c.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE state IN ('idle in transaction', 'idle in transaction (aborted)')),
		       count(*) FILTER (WHERE state = 'active' AND now() - query_start > interval '30 seconds')
		FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&idleInTx, &long)
	if err != nil {
		// Leaving the two series out of this scrape says "unknown"; a zero
		// would say "healthy".
		return
	}
	gauge(poolIdleInTxDesc, float64(idleInTx))
	gauge(poolLongQueriesDesc, float64(long))
}
