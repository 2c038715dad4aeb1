package store

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Deferred holds the writes of one unit of work that are to commit with
// its outcome rather than one by one: an inbox message's handling on
// Postgres carries one, the stores its handler calls (the guest's session,
// the staff's view of the conversation) queue their writes in it, and the
// inbox sends them right after the statement that marks the message done
// and queues its replies, in its transaction (which the completions of
// other messages finishing at the same time may share, each under its own
// fence). So a message costs at most one commit instead of one per write,
// and the session, the staff's view and the replies change together or
// not at all (a worker that lost its lease writes none of them).
type Deferred struct {
	mu    sync.Mutex
	stmts []Statement
	after []func()
}

// Statement is one deferred write.
type Statement struct {
	SQL  string
	Args []any
	// Key names what the write changes (a table's row) for ExecFolding;
	// Note is what its store keeps of it to fold a later write into it.
	Key  string
	Note any
}

type deferredKey struct{}

// WithDeferred returns a context whose writes through Exec are queued in
// the returned Deferred instead of executed.
func WithDeferred(ctx context.Context) (context.Context, *Deferred) {
	d := &Deferred{}
	return context.WithValue(ctx, deferredKey{}, d), d
}

// Exec executes sql on pool, or, when ctx carries a Deferred, queues it
// there to run, in order, with the unit of work's outcome. Only writes
// whose result is no more than success may go through Exec: a queued
// write reports success now, and fails later with the whole outcome.
func Exec(ctx context.Context, pool *pgxpool.Pool, sql string, args ...any) error {
	if d, ok := ctx.Value(deferredKey{}).(*Deferred); ok {
		d.mu.Lock()
		d.stmts = append(d.stmts, Statement{SQL: sql, Args: args})
		d.mu.Unlock()
		return nil
	}
	_, err := pool.Exec(ctx, sql, args...)
	return err
}

// ExecFolding is Exec for a write that may fold into the latest write
// queued with the same Key: when ctx carries a Deferred holding one, fold
// gets it and may return a single write with the effect of both, which
// takes its place; otherwise st is executed or queued as Exec does. Two
// writes to one row then cost one statement. fold must only merge writes
// whose combined effect is the same whatever was queued between them (the
// writes in between change other rows), and declines (false) otherwise.
func ExecFolding(ctx context.Context, pool *pgxpool.Pool, st Statement, fold func(prev Statement) (Statement, bool)) error {
	d, ok := ctx.Value(deferredKey{}).(*Deferred)
	if !ok {
		_, err := pool.Exec(ctx, st.SQL, st.Args...)
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if st.Key != "" && fold != nil {
		for i := len(d.stmts) - 1; i >= 0; i-- {
			if d.stmts[i].Key != st.Key {
				continue
			}
			if merged, ok := fold(d.stmts[i]); ok {
				merged.Key = st.Key
				d.stmts[i] = merged
				return nil
			}
			break
		}
	}
	d.stmts = append(d.stmts, st)
	return nil
}

// Take returns the queued writes, in the order they were queued, and
// forgets them.
func (d *Deferred) Take() []Statement {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.stmts
	d.stmts = nil
	return out
}

// Deferring reports whether ctx's writes through Exec are deferred.
func Deferring(ctx context.Context) bool {
	_, ok := ctx.Value(deferredKey{}).(*Deferred)
	return ok
}

// AfterCommit runs f once the unit of work's outcome has committed when
// ctx carries a Deferred (never, if it fails), else at once: what must
// not happen before the deferred writes are visible to other sessions,
// such as waking a loop that reads them.
func AfterCommit(ctx context.Context, f func()) {
	d, ok := ctx.Value(deferredKey{}).(*Deferred)
	if !ok {
		f()
		return
	}
	d.mu.Lock()
	d.after = append(d.after, f)
	d.mu.Unlock()
}

// Committed runs, in order, what AfterCommit queued, and forgets it: the
// owner of the unit of work calls it after its outcome committed.
func (d *Deferred) Committed() {
	if d == nil {
		return
	}
	d.mu.Lock()
	after := d.after
	d.after = nil
	d.mu.Unlock()
	for _, f := range after {
		f()
	}
}
