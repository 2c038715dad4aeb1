package mailbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/wakeup"
)

// DefaultAddr is Gmail's IMAP server, the default of IMAP_ADDR.
const DefaultAddr = "imap.gmail.com:993"

// Config is one mailbox the service reads.
type Config struct {
	// TenantID is the hotel the mailbox belongs to.
	TenantID string
	// Addr is the IMAP server, host:port. Port 993 is implicit TLS;
	// otherwise STARTTLS is required when the server offers it, and a
	// server that offers none is only accepted on a loopback address.
	Addr string
	// Username and Password log in (Gmail: the address and an app password).
	Username, Password string
	// Address is the mailbox's own address (mail from it is ours); empty:
	// Username when it is an address.
	Address string
	// Folder is the folder read; empty: INBOX.
	Folder string
	// AuthservID names the receiving server whose Authentication-Results
	// are trusted; empty: mx.google.com for Gmail, else Addr's host.
	AuthservID string
	// PollInterval is how often the folder is checked when the server has
	// no IDLE, and how long one IDLE lasts before a check; default 1m.
	PollInterval time.Duration
	// FirstSight is how far back unseen mail is read when a folder is seen
	// for the first time (or its UIDVALIDITY changed); default 72h.
	FirstSight time.Duration
	// TLSConfig verifies the server; nil: the system roots.
	TLSConfig *tls.Config
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Folder == "" {
		c.Folder = "INBOX"
	}
	if c.Address == "" && strings.Contains(c.Username, "@") {
		c.Address = c.Username
	}
	c.Address = strings.ToLower(c.Address)
	host, _, _ := net.SplitHostPort(c.Addr)
	if c.AuthservID == "" {
		c.AuthservID = host
		if strings.EqualFold(host, "imap.gmail.com") {
			c.AuthservID = "mx.google.com"
		}
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Minute
	}
	if c.FirstSight <= 0 {
		c.FirstSight = 72 * time.Hour
	}
	return c
}

// Key names the mailbox in the state store and logs (no password).
func (c Config) Key() string {
	c = c.withDefaults()
	return c.TenantID + "|" + c.Username + "@" + c.Addr + "/" + c.Folder
}

// Accepter makes messages durable (the inbox's Accept); nil error means
// they are committed.
type Accepter func(ctx context.Context, msgs []chat.Message) error

// Worker reads one mailbox until its context ends.
type Worker struct {
	cfg    Config
	state  StateStore
	accept Accepter
	log    *slog.Logger
	// Own are further addresses of ours (the SMTP sender's).
	own []string
}

// NewWorker returns the worker of one mailbox. own are the addresses the
// hotel's replies leave from, never answered.
func NewWorker(cfg Config, state StateStore, accept Accepter, log *slog.Logger, own ...string) (*Worker, error) {
	cfg = cfg.withDefaults()
	if cfg.TenantID == "" || cfg.Username == "" {
		return nil, errors.New("mailbox: a mailbox needs a tenant and a username")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("mailbox: IMAP address %q: %w", cfg.Addr, err)
	}
	if log == nil {
		log = slog.Default()
	}
	if state == nil {
		state = &MemoryState{}
	}
	w := &Worker{cfg: cfg, state: state, accept: accept, log: log.With("mailbox", cfg.Key())}
	for _, o := range append([]string{cfg.Address}, own...) {
		if o = strings.ToLower(strings.TrimSpace(o)); o != "" && !slices.Contains(w.own, o) {
			w.own = append(w.own, o)
		}
	}
	return w, nil
}

// Run reads the mailbox until ctx ends, reconnecting after failures with
// back-off (1s doubling to 1m).
func (w *Worker) Run(ctx context.Context) error {
	backoff := time.Second
	for {
		start := time.Now()
		err := w.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > time.Minute {
			backoff = time.Second
		}
		w.log.Warn("IMAP session ended; reconnecting", "error", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

const commandTimeout = time.Minute

func (w *Worker) dial() (*client.Client, error) {
	host, port, _ := net.SplitHostPort(w.cfg.Addr)
	tlsConfig := w.cfg.TLSConfig.Clone()
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = host
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second}
	if port == "993" {
		c, err := client.DialWithDialerTLS(dialer, w.cfg.Addr, tlsConfig)
		if err == nil {
			c.ErrorLog = slog.NewLogLogger(w.log.Handler(), slog.LevelDebug)
		}
		return c, err
	}
	c, err := client.DialWithDialer(dialer, w.cfg.Addr)
	if err != nil {
		return nil, err
	}
	c.ErrorLog = slog.NewLogLogger(w.log.Handler(), slog.LevelDebug)
	c.Timeout = commandTimeout
	if ok, _ := c.SupportStartTLS(); ok {
		if err := c.StartTLS(tlsConfig); err != nil {
			c.Terminate()
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
	} else if ip := net.ParseIP(host); !(host == "localhost" || (ip != nil && ip.IsLoopback())) {
		c.Terminate()
		return nil, fmt.Errorf("%s offers no TLS: the password is not sent in clear text", w.cfg.Addr)
	}
	return c, nil
}

// session runs one connection: log in, read what is new, then wait for
// more (IDLE, or a poll) and read again, until an error or ctx ends.
func (w *Worker) session(ctx context.Context) error {
	c, err := w.dial()
	if err != nil {
		return fmt.Errorf("dialing %s: %w", w.cfg.Addr, err)
	}
	defer c.Terminate()
	stop := context.AfterFunc(ctx, func() { c.Terminate() })
	defer stop()
	c.Timeout = commandTimeout
	updates := make(chan client.Update, 64)
	wake := wakeup.New()
	c.Updates = updates
	go func() {
		for u := range updates {
			if _, ok := u.(*client.MailboxUpdate); ok {
				wake.Wake()
			}
		}
	}()
	defer close(updates)
	if err := c.Login(w.cfg.Username, w.cfg.Password); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	idle, _ := c.Support("IDLE")
	w.log.Info("IMAP session open", "idle", idle)
	for {
		mbox, err := c.Select(w.cfg.Folder, false)
		if err != nil {
			return fmt.Errorf("select %s: %w", w.cfg.Folder, err)
		}
		if err := w.readNew(ctx, c, mbox); err != nil {
			return err
		}
		if err := w.wait(ctx, c, idle, wake); err != nil {
			return err
		}
	}
}

// wait returns when the folder may have changed: an IDLE notification, or
// PollInterval passed.
func (w *Worker) wait(ctx context.Context, c *client.Client, idle bool, wake wakeup.Signal) error {
	select {
	case <-wake.C(): // a notification that came while reading
	default:
	}
	if !idle {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake.C():
		case <-time.After(w.cfg.PollInterval):
		}
		return nil
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	c.Timeout = 0 // IDLE lasts; its end is bounded below
	go func() { done <- c.Idle(stop, &client.IdleOptions{LogoutTimeout: -1}) }()
	var err error
	select {
	case err = <-done:
		c.Timeout = commandTimeout
		return fmt.Errorf("IDLE: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	case <-wake.C():
	case <-time.After(w.cfg.PollInterval):
	}
	close(stop)
	select {
	case err = <-done:
	case <-time.After(commandTimeout):
		err = errors.New("no answer to DONE")
	}
	c.Timeout = commandTimeout
	if err != nil {
		return fmt.Errorf("IDLE: %w", err)
	}
	return nil
}

// batch bounds the mails fetched at once.
const batch = 50

// readNew hands every mail after the saved position to the inbox, in UID
// order, saving the position after each.
func (w *Worker) readNew(ctx context.Context, c *client.Client, mbox *imap.MailboxStatus) error {
	key := w.cfg.Key()
	pos, ok, err := w.state.Load(ctx, key)
	if err != nil {
		return fmt.Errorf("loading the mailbox position: %w", err)
	}
	var uids []uint32
	if !ok || pos.UIDValidity != mbox.UidValidity {
		// First sight of this folder: the unseen mail of the last
		// FirstSight; older mail was the reception's before us.
		crit := imap.NewSearchCriteria()
		crit.WithoutFlags = []string{imap.SeenFlag}
		crit.Since = time.Now().Add(-w.cfg.FirstSight)
		if uids, err = c.UidSearch(crit); err != nil {
			return fmt.Errorf("search: %w", err)
		}
		w.log.Info("first sight of the folder", "uidvalidity", mbox.UidValidity, "unseen_recent", len(uids), "had_position", ok)
		pos = Position{UIDValidity: mbox.UidValidity}
		switch {
		case len(uids) > 0:
			// A restart before these are read goes on from the first
			// of them, not from the folder's oldest mail.
			pos.LastUID = slices.Min(uids) - 1
		case mbox.UidNext > 0:
			pos.LastUID = mbox.UidNext - 1
		}
		if err := w.state.Save(ctx, key, pos); err != nil {
			return fmt.Errorf("saving the mailbox position: %w", err)
		}
	} else {
		if mbox.UidNext != 0 && mbox.UidNext <= pos.LastUID+1 {
			return nil // nothing new
		}
		crit := imap.NewSearchCriteria()
		crit.Uid = new(imap.SeqSet)
		crit.Uid.AddRange(pos.LastUID+1, 0)
		if uids, err = c.UidSearch(crit); err != nil {
			return fmt.Errorf("search: %w", err)
		}
	}
	slices.Sort(uids)
	uids = slices.DeleteFunc(uids, func(u uint32) bool { return u <= pos.LastUID })
	for len(uids) > 0 {
		n := min(batch, len(uids))
		if err := w.handle(ctx, c, key, &pos, uids[:n]); err != nil {
			return err
		}
		uids = uids[n:]
	}
	return nil
}

// handle fetches the mails of uids and hands each to the inbox.
func (w *Worker) handle(ctx context.Context, c *client.Client, key string, pos *Position, uids []uint32) error {
	set := new(imap.SeqSet)
	set.AddNum(uids...)
	section := &imap.BodySectionName{Peek: true}
	items := []imap.FetchItem{imap.FetchUid, imap.FetchInternalDate, section.FetchItem()}
	ch := make(chan *imap.Message, len(uids))
	if err := c.UidFetch(set, items, ch); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	var fetched []*imap.Message
	for m := range ch {
		fetched = append(fetched, m)
	}
	slices.SortFunc(fetched, func(a, b *imap.Message) int { return int(int64(a.Uid) - int64(b.Uid)) })
	for _, im := range fetched {
		if im.Uid <= pos.LastUID {
			continue
		}
		var raw bytes.Buffer
		if r := im.GetBody(section); r != nil {
			if _, err := raw.ReadFrom(r); err != nil {
				return fmt.Errorf("reading UID %d: %w", im.Uid, err)
			}
		}
		if err := w.deliver(ctx, c, im.Uid, raw.Bytes(), im.InternalDate); err != nil {
			return err
		}
		pos.LastUID = im.Uid
		if err := w.state.Save(ctx, key, *pos); err != nil {
			return fmt.Errorf("saving the mailbox position: %w", err)
		}
	}
	return nil
}

// deliver reads one mail and, unless a machine sent it, hands it to the
// inbox and flags it \Seen (the agent has read it).
func (w *Worker) deliver(ctx context.Context, c *client.Client, uid uint32, raw []byte, received time.Time) error {
	m, err := Parse(raw, ParseOptions{AuthservID: w.cfg.AuthservID, Own: w.own})
	if err != nil {
		w.log.Warn("unreadable mail skipped", "uid", uid, "error", err)
		return nil
	}
	if received.IsZero() {
		received = time.Now()
	}
	attrs := []any{"uid", uid, "message_id", m.MessageID, "from", m.From, "subject", m.Subject,
		"auth", m.Auth.Summary(), "verified", m.Auth.Verified, "attachments", m.Attachments, "text", m.Text}
	if m.Machine != "" {
		w.log.Info("mail from a machine: not answered", append(attrs, "reason", m.Machine)...)
		mailsRead.WithLabelValues("machine").Inc()
		return nil
	}
	if strings.TrimSpace(m.Text) == "" && m.Subject == "" && len(m.Attachments) == 0 {
		w.log.Info("empty mail: not answered", attrs...)
		mailsRead.WithLabelValues("empty").Inc()
		return nil
	}
	msg := m.Message(w.cfg.TenantID, w.cfg.Address, received)
	if err := w.accept(ctx, []chat.Message{msg}); err != nil {
		return fmt.Errorf("accepting UID %d: %w", uid, err)
	}
	mailsRead.WithLabelValues("accepted").Inc()
	w.log.Info("mail understood", attrs...)
	set := new(imap.SeqSet)
	set.AddNum(uid)
	if err := c.UidStore(set, imap.FormatFlagsOp(imap.AddFlags, true), []any{imap.SeenFlag}, nil); err != nil {
		// The position is what keeps the mail from being read again.
		w.log.Warn("could not flag a mail \\Seen", "uid", uid, "error", err)
	}
	return nil
}
