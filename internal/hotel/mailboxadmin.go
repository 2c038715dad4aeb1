package hotel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/agentehotel/agente-caddy/internal/admin"
	"github.com/agentehotel/agente-caddy/internal/adminauth"
	"github.com/agentehotel/agente-caddy/internal/email"
	"github.com/agentehotel/agente-caddy/internal/httpjson"
	"github.com/agentehotel/agente-caddy/internal/mailbox"
	"github.com/agentehotel/agente-caddy/internal/wakeup"
)

// accountsPoll is how often the hotels' mailboxes are read again from
// Postgres (another instance's admin API may have changed them).
const accountsPoll = 30 * time.Second

// hotelMailboxes runs a reader for each hotel's own mailbox and keeps the
// SMTP sender of each.
type hotelMailboxes struct {
	accounts mailbox.Accounts
	wake     wakeup.Signal

	mu      sync.Mutex
	senders map[string]*email.Sender // tenant → its replies' server
}

func (s *Service) openHotelMailboxes() error {
	if s.deps.Postgres == nil || s.cfg.SecretKey == "" {
		return nil
	}
	sealer, err := mailbox.NewSealer(s.cfg.SecretKey)
	if err != nil {
		return err
	}
	s.hotelBoxes = &hotelMailboxes{accounts: mailbox.Accounts{Pool: s.deps.Postgres, Sealer: sealer}, wake: wakeup.New()}
	s.sender.perTenant = s.hotelBoxes.sender
	return nil
}

func (h *hotelMailboxes) sender(tenant string) *email.Sender {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.senders[tenant]
}

func (h *hotelMailboxes) poke() { h.wake.Wake() }

type runningReader struct {
	account mailbox.Account
	stop    func()
}

// run keeps one reader per hotel mailbox, as Postgres lists them, until ctx
// ends.
func (s *Service) runHotelMailboxes(ctx context.Context) error {
	h := s.hotelBoxes
	running := map[string]*runningReader{}
	defer func() {
		for _, r := range running {
			r.stop()
		}
	}()
	t := time.NewTicker(accountsPoll)
	defer t.Stop()
	for {
		accounts, err := h.accounts.List(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("reading the hotels' mailboxes", "error", err)
		}
		if err == nil || len(accounts) > 0 {
			senders := map[string]*email.Sender{}
			seen := map[string]bool{}
			for _, a := range accounts {
				seen[a.TenantID] = true
				senders[a.TenantID] = &email.Sender{Addr: a.SMTPAddr, Username: a.Username, Password: a.Password, From: a.Address}
				if r := running[a.TenantID]; r != nil && sameAccount(r.account, a) {
					continue
				} else if r != nil {
					r.stop()
					delete(running, a.TenantID)
				}
				w, err := mailbox.NewWorker(a.Config(), s.mailboxState, s.acceptMail, s.log, a.Address)
				if err != nil {
					s.log.Error("a hotel's mailbox cannot be read", "tenant_id", a.TenantID, "error", err)
					continue
				}
				rctx, cancel := context.WithCancel(ctx)
				done := make(chan struct{})
				go func() { defer close(done); _ = w.Run(rctx) }()
				running[a.TenantID] = &runningReader{account: a, stop: func() { cancel(); <-done }}
				s.log.Info("reading a hotel's mailbox", "tenant_id", a.TenantID, "imap", a.IMAPAddr, "username", a.Username)
			}
			for tenant, r := range running {
				if !seen[tenant] && err == nil {
					r.stop()
					delete(running, tenant)
				}
			}
			h.mu.Lock()
			h.senders = senders
			h.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-h.wake.C():
		case <-t.C:
		}
	}
}

func sameAccount(a, b mailbox.Account) bool {
	a.UpdatedAt, b.UpdatedAt, a.UpdatedBy, b.UpdatedBy = time.Time{}, time.Time{}, "", ""
	return a == b
}

// mailboxJSON is a hotel's mailbox on the wire; the password is write-only.
type mailboxJSON struct {
	TenantID   string    `json:"tenant_id"`
	IMAPAddr   string    `json:"imap_addr"`
	SMTPAddr   string    `json:"smtp_addr"`
	Username   string    `json:"username"`
	Password   string    `json:"password,omitempty"`
	Address    string    `json:"address"`
	AuthservID string    `json:"authserv_id"`
	UpdatedBy  string    `json:"updated_by,omitempty"`
	UpdatedAt  time.Time `json:"updated_at,omitzero"`
}

func accountJSON(a mailbox.Account) mailboxJSON {
	return mailboxJSON{TenantID: a.TenantID, IMAPAddr: a.IMAPAddr, SMTPAddr: a.SMTPAddr, Username: a.Username,
		Address: a.Address, AuthservID: a.AuthservID, UpdatedBy: a.UpdatedBy, UpdatedAt: a.UpdatedAt.UTC()}
}

// mailboxAdminRoutes adds the hotels' mailboxes to the admin API:
// PUT, GET and DELETE /admin/tenants/{id}/mailbox.
func (s *Service) mailboxAdminRoutes() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("PUT /admin/tenants/{id}/mailbox", s.putMailbox)
	m.HandleFunc("GET /admin/tenants/{id}/mailbox", s.getMailbox)
	m.HandleFunc("DELETE /admin/tenants/{id}/mailbox", s.deleteMailbox)
	m.HandleFunc("/admin/tenants/{id}/mailbox", func(w http.ResponseWriter, r *http.Request) {
		if admin.Actor(r.Context()) == "" {
			s.admin.ServeHTTP(w, r) // its 401
			return
		}
		w.Header().Set("Allow", "GET, PUT, DELETE")
		httpjson.Error(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed", r.Method))
	})
	m.Handle("/", s.admin)
	return m
}

// mailboxRequest checks the actor, the store and the tenant.
func (s *Service) mailboxRequest(w http.ResponseWriter, r *http.Request) (string, bool) {
	if admin.Actor(r.Context()) == "" {
		s.admin.ServeHTTP(w, r) // answers 401 with its challenge
		return "", false
	}
	if admin.PrincipalOf(r.Context()).Role != adminauth.RoleAdmin {
		// A hotel's mail credentials are an administrator's, never staff's.
		httpjson.Error(w, http.StatusForbidden, "a hotel's mailbox is set by an admin token only")
		return "", false
	}
	if s.hotelBoxes == nil {
		httpjson.Error(w, http.StatusServiceUnavailable, "hotels' own mailboxes need Postgres and SECRET_KEY")
		return "", false
	}
	id := r.PathValue("id")
	if _, ok := s.deps.Tenants.Tenant(id); !ok {
		httpjson.Error(w, http.StatusNotFound, fmt.Sprintf("tenant %q not found", id))
		return "", false
	}
	return id, true
}

func (s *Service) putMailbox(w http.ResponseWriter, r *http.Request) {
	id, ok := s.mailboxRequest(w, r)
	if !ok {
		return
	}
	var b mailboxJSON
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return
	}
	if b.TenantID != "" && b.TenantID != id {
		httpjson.Error(w, http.StatusBadRequest, "tenant_id differs from the path's")
		return
	}
	a := mailbox.Account{TenantID: id, IMAPAddr: strings.TrimSpace(b.IMAPAddr), SMTPAddr: strings.TrimSpace(b.SMTPAddr),
		Username: strings.TrimSpace(b.Username), Password: b.Password, Address: strings.ToLower(strings.TrimSpace(b.Address)),
		AuthservID: strings.TrimSpace(b.AuthservID), UpdatedBy: admin.Actor(r.Context())}
	if err := a.Validate(); err != nil {
		httpjson.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.hotelBoxes.accounts.Put(r.Context(), a); err != nil {
		s.log.Error("storing a hotel's mailbox", "tenant_id", id, "error", err)
		httpjson.Error(w, http.StatusServiceUnavailable, "the mailbox could not be stored")
		return
	}
	s.log.Info("hotel mailbox set", "tenant_id", id, "by", a.UpdatedBy, "imap", a.IMAPAddr, "username", a.Username)
	s.hotelBoxes.poke()
	stored, err := s.hotelBoxes.accounts.Get(r.Context(), id)
	if err != nil {
		stored = a
	}
	httpjson.Write(w, http.StatusOK, accountJSON(stored))
}

func (s *Service) getMailbox(w http.ResponseWriter, r *http.Request) {
	id, ok := s.mailboxRequest(w, r)
	if !ok {
		return
	}
	a, err := s.hotelBoxes.accounts.Get(r.Context(), id)
	switch {
	case errors.Is(err, mailbox.ErrNoAccount):
		httpjson.Error(w, http.StatusNotFound, fmt.Sprintf("tenant %q has no mailbox of its own", id))
	case err != nil:
		s.log.Error("reading a hotel's mailbox", "tenant_id", id, "error", err)
		httpjson.Error(w, http.StatusServiceUnavailable, "the mailbox could not be read")
	default:
		httpjson.Write(w, http.StatusOK, accountJSON(a))
	}
}

func (s *Service) deleteMailbox(w http.ResponseWriter, r *http.Request) {
	id, ok := s.mailboxRequest(w, r)
	if !ok {
		return
	}
	err := s.hotelBoxes.accounts.Delete(r.Context(), id)
	switch {
	case errors.Is(err, mailbox.ErrNoAccount):
		httpjson.Error(w, http.StatusNotFound, fmt.Sprintf("tenant %q has no mailbox of its own", id))
	case err != nil:
		s.log.Error("deleting a hotel's mailbox", "tenant_id", id, "error", err)
		httpjson.Error(w, http.StatusServiceUnavailable, "the mailbox could not be deleted")
	default:
		s.log.Info("hotel mailbox deleted", "tenant_id", id, "by", admin.Actor(r.Context()))
		s.hotelBoxes.poke()
		httpjson.Write(w, http.StatusOK, map[string]any{"tenant_id": id, "deleted": true})
	}
}
