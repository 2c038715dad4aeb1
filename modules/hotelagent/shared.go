package hotelagent

import "github.com/caddyserver/caddy/v2"

// shared keeps the in-process state that must outlive one config: the demo
// PMS's bookings, the memory inbox, sessions and PMS cache (development) and
// the PMS circuit breaker. Caddy provisions a new config before cleaning up
// the old one, so the reference count never drops to zero on a reload.
var shared = caddy.NewUsagePool()

type kept[T any] struct{ v T }

func (kept[T]) Destruct() error { return nil }

// keep returns the process's value under key, creating it on first use, and
// releases this config's reference at cleanup.
func keep[T any](h *HotelAgent, key string, create func() T) (T, error) {
	v, _, err := shared.LoadOrNew(key, func() (caddy.Destructor, error) { return kept[T]{create()}, nil })
	if err != nil {
		var zero T
		return zero, err
	}
	h.release = append(h.release, func() { _, _ = shared.Delete(key) })
	return v.(kept[T]).v, nil
}
