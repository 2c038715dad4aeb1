package hotel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/inbox"
	"github.com/agentehotel/agente-caddy/internal/wakeup"
	"github.com/agentehotel/agente-caddy/internal/whatsapp"
)

// An expired or revoked WhatsApp access token fails every reply alike, and
// only an operator can fix it. So replies are held rather than failed
// (inbox.Hold: no attempt counted, the guest's order kept), the Graph API is
// probed with one held reply at most every WhatsAppConfig.ProbeInterval,
// readiness reports the dependency whatsapp_token down (advisory: webhooks
// are still accepted and answered into the outbox), whatsapp_token_valid is
// 0, and the alert WhatsAppTokenInvalid fires. Once a probe goes through,
// every held reply is released and goes out once, in its guest's order.

// DefaultTokenProbeInterval is how often a refused access token is tried
// again, with one held reply.
const DefaultTokenProbeInterval = 30 * time.Second

var whatsappTokenValid = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "whatsapp_token_valid",
	Help: "0 while the Graph API refuses the WhatsApp access token (HTTP 401 or error code 190) and WhatsApp replies are held (outbox_held_replies); 1 otherwise.",
})

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// tokenState is what is known of one access token. It is kept across
// reloads under the token's fingerprint, so a reload that keeps the token
// keeps refusing it (and probing at the same pace), while a new token
// starts afresh.
type tokenState struct {
	mu          sync.Mutex
	refused     error // nil: the token is not known to be refused
	since       time.Time
	probing     bool // a probe is in flight
	lastProbe   time.Time
	lastRelease time.Time // a held reply was released to be the probe
	// resumeUntil: a probe went through, so held replies are released until
	// then (long enough to catch a reply refused just before the probe
	// passed, whose hold was recorded after the first release).
	resumeUntil time.Time
	wake        wakeup.Signal
}

func newTokenState() *tokenState { return &tokenState{wake: wakeup.New()} }

// errUnverified is the state of a token while replies someone else held
// (an earlier configuration or process, another instance) wait for a probe.
var errUnverified = errors.New("replies are held (by an earlier configuration or another instance) and the token has not been tried since")

// admit decides whether a WhatsApp reply may go to the Graph API now: yes
// while the token is not refused; while it is, only as the probe, one at a
// time and at most once every `every`.
func (st *tokenState) admit(now time.Time, every time.Duration) (probe bool, refused error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.refused == nil {
		return false, nil
	}
	if !st.probing && now.Sub(st.lastProbe) >= every {
		st.probing, st.lastProbe = true, now
		return true, nil
	}
	return false, st.refused
}

type verdict int

const (
	noVerdict    verdict = iota // no answer, or one that says nothing of the token
	tokenTaken                  // the Graph API authenticated the request
	tokenRefused                // HTTP 401 or error code 190
)

// tokenVerdictOf reads a WhatsApp send's outcome for what it says of the
// token. A 4xx other than 401 is an answer to an authenticated request; a
// 5xx or a transport error says nothing.
func tokenVerdictOf(err error) verdict {
	if err == nil {
		return tokenTaken
	}
	se := sendErrorOf(err)
	switch {
	case se == nil:
		return noVerdict
	case se.Status == http.StatusUnauthorized || se.Code == whatsapp.CodeInvalidToken:
		return tokenRefused
	case se.Status >= 400 && se.Status < 500:
		return tokenTaken
	}
	return noVerdict
}

// sendErrorOf finds the WhatsApp client's error in what the channel sender
// returned (which wraps it to give the outbox its retry advice).
func sendErrorOf(err error) *whatsapp.SendError {
	var ra retryAfter
	if errors.As(err, &ra) {
		return ra.SendError
	}
	var se *whatsapp.SendError
	if errors.As(err, &se) {
		return se
	}
	return nil
}

// record takes a send's verdict; it reports whether the token changed from
// working to refused or back, for the caller to log. Only the probe, sent
// after the refusal, can end it: a send that left before it and succeeds
// after says nothing of the token now.
func (st *tokenState) record(v verdict, err error, probe bool, now time.Time, every time.Duration) (refusedNow, worksNow bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if probe {
		st.probing = false
	}
	switch {
	case v == tokenRefused:
		refusedNow = st.refused == nil || st.refused == errUnverified
		if st.refused == nil {
			// This send was the first probe: the next is due in `every`.
			st.since, st.lastProbe = now, now
		}
		st.refused = err
	case v == tokenTaken && probe && st.refused != nil:
		st.refused, st.resumeUntil, worksNow = nil, now.Add(every), true
		st.wake.Wake()
	}
	whatsappTokenValid.Set(boolGauge(st.refused == nil))
	return refusedNow, worksNow
}

// suspect marks the token unverified because replies are held: the next
// reply to go out, or a released held one, is the probe.
func (st *tokenState) suspect(now time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.refused == nil {
		st.refused, st.since = errUnverified, now
		st.lastProbe, st.lastRelease = time.Time{}, time.Time{}
		whatsappTokenValid.Set(0)
	}
}

// Releases the watcher asks for.
const (
	releaseNone = -1
	releaseAll  = 0
	releaseOne  = 1
)

// due says what the watcher should release: everything for a while after
// a probe went through; one held reply, to be the probe, when a probe is due
// and no reply has come to be it.
func (st *tokenState) due(now time.Time, every time.Duration) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case st.refused == nil && now.Before(st.resumeUntil):
		return releaseAll
	case st.refused != nil && !st.probing && now.Sub(st.lastProbe) >= every && now.Sub(st.lastRelease) >= every:
		st.lastRelease = now
		return releaseOne
	}
	return releaseNone
}

func (st *tokenState) works() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.refused == nil
}

// tokenGuard holds WhatsApp replies while the access token is refused and
// probes it; other channels pass through.
type tokenGuard struct {
	st    *tokenState
	next  inbox.Sender
	inbox *inbox.Inbox
	every time.Duration
	log   *slog.Logger
}

// newTokenGuard wraps next; the state of the token comes from the keeper.
func (s *Service) newTokenGuard(next inbox.Sender) (*tokenGuard, error) {
	wa := s.cfg.WhatsApp
	fp := sha256.Sum256([]byte(wa.APIBase + "\x00" + wa.AccessToken))
	st, err := keep(s.deps.Keeper, "whatsapp-token:"+hex.EncodeToString(fp[:8]), newTokenState)
	if err != nil {
		return nil, err
	}
	g := &tokenGuard{st: st, next: next, inbox: s.inbox, every: wa.ProbeInterval, log: s.log}
	if g.every <= 0 {
		g.every = DefaultTokenProbeInterval
	}
	whatsappTokenValid.Set(boolGauge(st.works()))
	if s.deps.Readiness != nil {
		s.deps.Readiness.AddAdvisory("whatsapp_token", g.check)
	}
	return g, nil
}

func (g *tokenGuard) Send(ctx context.Context, r inbox.OutboundReply) (string, error) {
	if r.Channel != chat.WhatsApp {
		return g.next.Send(ctx, r)
	}
	probe, refused := g.st.admit(time.Now(), g.every)
	if refused != nil {
		return "", inbox.Hold(fmt.Errorf("held until the WhatsApp access token works: %w", refused))
	}
	v, sendErr := noVerdict, error(nil)
	defer func() {
		// Deferred, so a probe that panics still ends and the next can run.
		refusedNow, worksNow := g.st.record(v, sendErr, probe, time.Now(), g.every)
		switch {
		case refusedNow:
			g.log.Error("the Graph API refuses the WhatsApp access token: replies are held, one is tried again every "+g.every.String()+
				"; set a valid WHATSAPP_ACCESS_TOKEN", "error", sendErr)
		case worksNow:
			g.log.Info("the WhatsApp access token works again: sending the held replies")
		}
	}()
	id, sendErr := g.next.Send(ctx, r)
	if v = tokenVerdictOf(sendErr); v == tokenRefused {
		return "", inbox.Hold(sendErr)
	}
	return id, sendErr
}

// check is the whatsapp_token readiness check.
func (g *tokenGuard) check(context.Context) error {
	g.st.mu.Lock()
	defer g.st.mu.Unlock()
	if g.st.refused == nil {
		return nil
	}
	return fmt.Errorf("WhatsApp replies are held since %s: %v; one is tried again every %s",
		g.st.since.UTC().Format(time.RFC3339), g.st.refused, g.every)
}

// watch releases held replies until ctx ends: one to probe a refused token
// when no new reply has come to be the probe, all once a probe went through.
// Every ProbeInterval it also looks for replies held by someone else (an
// earlier configuration or process, another instance), which mean the token
// is to be probed before anything else is tried.
func (g *tokenGuard) watch(ctx context.Context) error {
	t := time.NewTicker(min(max(g.every/4, 10*time.Millisecond), time.Second))
	defer t.Stop()
	var lastLook time.Time
	for {
		now := time.Now()
		n := g.st.due(now, g.every)
		if n != releaseNone {
			if _, err := g.inbox.ReleaseHeld(ctx, chat.WhatsApp, n); err != nil && ctx.Err() == nil {
				g.log.Warn("releasing held WhatsApp replies", "error", err)
			}
		}
		if n == releaseNone && g.st.works() && now.Sub(lastLook) >= g.every {
			lastLook = now
			if st, err := g.inbox.Stats(ctx); err == nil && st.OutboxHeld > 0 {
				g.st.suspect(now)
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-g.st.wake.C():
		}
	}
}
