package conversation

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory keeps conversations in this process (development, tests).
type Memory struct {
	mu      sync.Mutex
	m       map[Key]*Conversation
	notices map[Key]*memNotice // owed handoff notices
}

type memNotice struct {
	due      time.Time
	attempts int
}

// NewMemory returns an empty memory store.
func NewMemory() *Memory { return &Memory{m: map[Key]*Conversation{}, notices: map[Key]*memNotice{}} }

func (s *Memory) get(k Key) *Conversation {
	c, ok := s.m[k]
	if !ok {
		c = &Conversation{Key: k, State: Active}
		s.m[k] = c
	}
	return c
}

// Inbound implements Store.
func (s *Memory) Inbound(_ context.Context, k Key, name, text string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.get(k)
	if name != "" {
		c.Name = name
	}
	if c.State == Closed {
		c.State = Active
	}
	if !at.Before(c.LastMessageAt) {
		c.LastMessageAt, c.LastText = at, clip(text)
	}
	return nil
}

// Outbound implements Store.
func (s *Memory) Outbound(_ context.Context, k Key, text string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.get(k)
	if !at.Before(c.LastMessageAt) {
		c.LastMessageAt, c.LastText = at, clip(text)
	}
	return nil
}

// HandOff implements Store.
func (s *Memory) HandOff(_ context.Context, k Key, at time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.get(k)
	if c.State == Waiting {
		return false, nil
	}
	c.State, c.WaitingSince = Waiting, at
	s.notices[k] = &memNotice{due: at}
	return true, nil
}

// ClaimNotices implements Store.
func (s *Memory) ClaimNotices(_ context.Context, now time.Time, lease time.Duration, limit, maxAttempts int) ([]Notice, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []Key
	for k, n := range s.notices {
		if c := s.m[k]; c != nil && c.State == Waiting && !n.due.After(now) && n.attempts < maxAttempts {
			due = append(due, k)
		}
	}
	slices.SortFunc(due, func(a, b Key) int { return s.notices[a].due.Compare(s.notices[b].due) })
	var out []Notice
	for _, k := range due[:min(len(due), limit)] {
		n := s.notices[k]
		n.due, n.attempts = now.Add(lease), n.attempts+1
		out = append(out, Notice{Conversation: *s.m[k], Attempt: n.attempts})
	}
	return out, nil
}

// NoticeDone implements Store.
func (s *Memory) NoticeDone(_ context.Context, k Key, waitingSince time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.m[k]; c != nil && c.WaitingSince.Equal(waitingSince) {
		delete(s.notices, k)
	}
	return nil
}

// SetState implements Store.
func (s *Memory) SetState(_ context.Context, k Key, st State) (State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[k]
	if !ok {
		return "", ErrNotFound
	}
	was := c.State
	c.State = st
	if st != Waiting {
		c.WaitingSince = time.Time{}
		delete(s.notices, k)
	}
	return was, nil
}

// SetBookingRef implements Store.
func (s *Memory) SetBookingRef(_ context.Context, k Key, ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.get(k).BookingRef = ref
	return nil
}

// Get implements Store.
func (s *Memory) Get(_ context.Context, k Key) (Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k.Channel != "" {
		if c, ok := s.m[k]; ok {
			return *c, nil
		}
		return Conversation{}, ErrNotFound
	}
	var best *Conversation
	for key, c := range s.m {
		if key.TenantID == k.TenantID && key.Guest == k.Guest && (best == nil || c.LastMessageAt.After(best.LastMessageAt)) {
			best = c
		}
	}
	if best == nil {
		return Conversation{}, ErrNotFound
	}
	return *best, nil
}

// List implements Store.
func (s *Memory) List(_ context.Context, f Filter) ([]Conversation, string, error) {
	after, err := parsePosition(f.After)
	if err != nil {
		return nil, "", ErrBadCursor
	}
	q := strings.ToLower(strings.TrimSpace(f.Query))
	s.mu.Lock()
	var all []Conversation
	for _, c := range s.m {
		if c.TenantID != f.TenantID || (f.State != "" && c.State != f.State) {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(c.Guest), q) && !strings.Contains(strings.ToLower(c.Name), q) &&
			!strings.Contains(strings.ToLower(c.BookingRef), q) {
			continue
		}
		all = append(all, *c)
	}
	s.mu.Unlock()
	cmp := comparer(f.State)
	slices.SortFunc(all, func(a, b Conversation) int { return cmp(a.position(f.State), b.position(f.State)) })
	var out []Conversation
	for _, c := range all {
		if f.After != "" && cmp(c.position(f.State), after) <= 0 {
			continue
		}
		if len(out) == f.limit() {
			return out, out[len(out)-1].position(f.State).String(), nil
		}
		out = append(out, c)
	}
	return out, "", nil
}

// comparer orders positions: waiting oldest first, the rest newest first;
// ties by channel and guest.
func comparer(s State) func(a, b position) int {
	return func(a, b position) int {
		c := a.at.Compare(b.at)
		if s != Waiting {
			c = -c
		}
		if c != 0 {
			return c
		}
		if c = strings.Compare(a.channel, b.channel); c != 0 {
			return c
		}
		return strings.Compare(a.guest, b.guest)
	}
}

// Waiting implements Store.
func (s *Memory) Waiting(context.Context) (map[string]WaitingSummary, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]WaitingSummary{}
	for _, c := range s.m {
		if c.State != Waiting {
			continue
		}
		w := out[c.TenantID]
		w.Count++
		if w.Oldest.IsZero() || c.WaitingSince.Before(w.Oldest) {
			w.Oldest = c.WaitingSince
		}
		out[c.TenantID] = w
	}
	return out, nil
}

// Prune implements Store.
func (s *Memory) Prune(_ context.Context, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, c := range s.m {
		if c.State != Waiting && c.LastMessageAt.Before(before) {
			delete(s.m, k)
			delete(s.notices, k)
			n++
		}
	}
	return n, nil
}

// Erase implements Store.
func (s *Memory) Erase(_ context.Context, tenantID, guest string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k := range s.m {
		if k.TenantID == tenantID && k.Guest == guest {
			delete(s.m, k)
			delete(s.notices, k)
			n++
		}
	}
	return n, nil
}
