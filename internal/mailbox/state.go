package mailbox

import (
	"context"
	"errors"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Position is where a worker stands in a folder: every UID up to LastUID of
// the folder with this UIDValidity has been handed to the inbox.
type Position struct {
	UIDValidity uint32
	LastUID     uint32
}

// StateStore keeps each mailbox's Position across restarts.
type StateStore interface {
	// Load returns the position, ok false when none was saved.
	Load(ctx context.Context, mailbox string) (p Position, ok bool, err error)
	Save(ctx context.Context, mailbox string, p Position) error
}

// MemoryState keeps positions in process memory: a restart of the process
// starts each folder over (the unseen recent mail), and the inbox's
// Message-ID dedup is what keeps an answered mail from being answered again.
type MemoryState struct {
	mu sync.Mutex
	m  map[string]Position
}

func (s *MemoryState) Load(_ context.Context, mailbox string) (Position, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.m[mailbox]
	return p, ok, nil
}

func (s *MemoryState) Save(_ context.Context, mailbox string, p Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]Position{}
	}
	s.m[mailbox] = p
	return nil
}

// PostgresState keeps positions in the mailbox_state table (migration
// 0050_mailbox_state).
type PostgresState struct{ Pool *pgxpool.Pool }

func (s PostgresState) Load(ctx context.Context, mailbox string) (Position, bool, error) {
	var v, last int64
	err := s.Pool.QueryRow(ctx, `SELECT uid_validity, last_uid FROM mailbox_state WHERE mailbox = $1`, mailbox).Scan(&v, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return Position{}, false, nil
	}
	if err != nil {
		return Position{}, false, err
	}
	return Position{UIDValidity: uint32(v), LastUID: uint32(last)}, true, nil
}

func (s PostgresState) Save(ctx context.Context, mailbox string, p Position) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO mailbox_state (mailbox, uid_validity, last_uid) VALUES ($1, $2, $3)
		ON CONFLICT (mailbox) DO UPDATE SET uid_validity = EXCLUDED.uid_validity, last_uid = EXCLUDED.last_uid, updated_at = now()`,
		mailbox, int64(p.UIDValidity), int64(p.LastUID))
	return err
}
