package resilient

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/agentehotel/agente-caddy/internal/pms"
)

// BreakerSettings configures a Breaker. Zero values take the defaults.
type BreakerSettings struct {
	// Name identifies the breaker (e.g. the PMS base URL) in errors.
	Name string
	// FailureThreshold is how many consecutive infrastructure failures open
	// the breaker. Default 5 (the original system's threshold).
	FailureThreshold uint32
	// OpenTimeout is how long the breaker stays open before letting probe
	// calls through (half-open). Default 30s.
	OpenTimeout time.Duration
	// HalfOpenMaxRequests is how many probe calls half-open lets through;
	// that many consecutive successes close the breaker. Default 1.
	HalfOpenMaxRequests uint32
}

// Breaker is the circuit breaker in front of one PMS. It holds the state
// that must outlive a Caddy config reload: keep it in a caddy.UsagePool keyed
// by the PMS identity and hand it to each new Wrap. It satisfies
// caddy.Destructor (Destruct does nothing: the breaker owns no resources).
type Breaker struct {
	name   string
	cb     *gobreaker.TwoStepCircuitBreaker[struct{}]
	streak atomic.Int64
}

// NewBreaker returns a closed breaker.
func NewBreaker(s BreakerSettings) *Breaker {
	if s.FailureThreshold == 0 {
		s.FailureThreshold = 5
	}
	if s.OpenTimeout <= 0 {
		s.OpenTimeout = 30 * time.Second
	}
	if s.HalfOpenMaxRequests == 0 {
		s.HalfOpenMaxRequests = 1
	}
	b := &Breaker{name: s.Name}
	threshold := s.FailureThreshold
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        s.Name,
		MaxRequests: s.HalfOpenMaxRequests,
		Timeout:     s.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		// Called under the breaker's lock: touch nothing but the gauge.
		OnStateChange: func(_ string, _, to gobreaker.State) { breakerState.Set(stateValue(to)) },
		IsSuccessful:  func(err error) bool { return err == nil || !infrastructureFailure(err) },
		IsExcluded:    callerGaveUp,
	})
	breakerState.Set(0)
	return b
}

// State is "closed", "open" or "half_open".
func (b *Breaker) State() string { return stateLabel(b.cb.State()) }

// Destruct satisfies caddy.Destructor for caddy.UsagePool.
func (b *Breaker) Destruct() error { return nil }

func stateLabel(s gobreaker.State) string {
	switch s {
	case gobreaker.StateOpen:
		return "open"
	case gobreaker.StateHalfOpen:
		return "half_open"
	}
	return "closed"
}

func stateValue(s gobreaker.State) float64 {
	switch s {
	case gobreaker.StateOpen:
		return 1
	case gobreaker.StateHalfOpen:
		return 2
	}
	return 0
}

// guard asks the breaker for one call. It returns the function reporting
// the call's outcome, or an error wrapping pms.ErrCircuitOpen (and
// pms.ErrUnavailable) when the breaker rejects it.
func (b *Breaker) guard() (func(error), error) {
	st := b.cb.State()
	breakerState.Set(stateValue(st))
	label := stateLabel(st)
	done, err := b.cb.Allow()
	if err != nil {
		breakerCalls.WithLabelValues(label, "rejected").Inc()
		return nil, &openError{name: b.name, cause: err}
	}
	return func(callErr error) {
		done(callErr)
		switch {
		case callErr == nil || !infrastructureFailure(callErr):
			b.streak.Store(0)
			breakerCalls.WithLabelValues(label, "success").Inc()
		case callerGaveUp(callErr):
			// Neither the PMS's success nor its failure.
		default:
			b.streak.Add(1)
			breakerCalls.WithLabelValues(label, "failure").Inc()
		}
		breakerStreak.Set(float64(b.streak.Load()))
		breakerState.Set(stateValue(b.cb.State()))
	}, nil
}

type openError struct {
	name  string
	cause error
}

func (e *openError) Error() string {
	msg := "pms: circuit breaker open"
	if e.name != "" {
		msg += " (" + e.name + ")"
	}
	return msg + ": " + e.cause.Error()
}

func (e *openError) Unwrap() []error { return []error{pms.ErrCircuitOpen, pms.ErrUnavailable} }

// infrastructureFailure is a failure of the PMS itself: unreachable, slow,
// 5xx, unreadable. Answers such as not found, sold out or invalid are the PMS
// working.
func infrastructureFailure(err error) bool {
	if err == nil || callerGaveUp(err) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, pms.ErrUnavailable) || errors.Is(err, pms.ErrMalformed) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// callerGaveUp is a call abandoned by its caller (context cancelled), which
// says nothing about the PMS.
func callerGaveUp(err error) bool {
	return errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// errorType labels an error for pms_errors_total and retry_attempts_total:
// timeout, http_5xx, http_4xx, decode, transport, breaker_open, or "" for a
// call its caller abandoned.
func errorType(err error) string {
	var ne net.Error
	var hs interface{ HTTPStatus() int }
	switch {
	case errors.Is(err, pms.ErrCircuitOpen):
		return "breaker_open"
	case callerGaveUp(err):
		return ""
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return "timeout"
	case errors.As(err, &hs) && hs.HTTPStatus() >= 500:
		return "http_5xx"
	case errors.As(err, &hs) && hs.HTTPStatus() >= 400:
		return "http_4xx"
	case errors.Is(err, pms.ErrMalformed):
		return "decode"
	case errors.Is(err, pms.ErrNotFound), errors.Is(err, pms.ErrInvalid), errors.Is(err, pms.ErrSoldOut), errors.Is(err, pms.ErrUnauthorized):
		// Implementations without HTTP (the demo PMS) refusing a request.
		return "http_4xx"
	}
	return "transport"
}
