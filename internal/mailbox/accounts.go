package mailbox

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Account is a hotel's own mailbox: where it is read and where its
// replies leave from.
type Account struct {
	TenantID   string
	IMAPAddr   string // host:port
	SMTPAddr   string // host:port
	Username   string
	Password   string // in clear only in memory
	Address    string // the hotel's address, the replies' From
	AuthservID string // empty: as Config.AuthservID
	UpdatedBy  string
	UpdatedAt  time.Time
}

// Validate names the first field that cannot work.
func (a Account) Validate() error {
	for _, f := range []struct{ name, addr string }{{"imap_addr", a.IMAPAddr}, {"smtp_addr", a.SMTPAddr}} {
		host, port, err := net.SplitHostPort(f.addr)
		if err != nil || host == "" || port == "" {
			return fmt.Errorf("%s: %q is not host:port", f.name, f.addr)
		}
	}
	if strings.TrimSpace(a.Username) == "" || a.Password == "" {
		return errors.New("username and password are required")
	}
	if !strings.Contains(a.Address, "@") || strings.ContainsAny(a.Address, " <>\r\n") {
		return fmt.Errorf("address: %q is not an email address", a.Address)
	}
	return nil
}

// Config is the account as a worker's configuration.
func (a Account) Config() Config {
	return Config{TenantID: a.TenantID, Addr: a.IMAPAddr, Username: a.Username, Password: a.Password,
		Address: a.Address, AuthservID: a.AuthservID}
}

// Sealer encrypts mailbox passwords at rest: AES-256-GCM under a key
// derived from the service's SECRET_KEY, bound to the tenant.
type Sealer struct{ aead cipher.AEAD }

// NewSealer derives the key from secret (SECRET_KEY).
func NewSealer(secret string) (*Sealer, error) {
	if secret == "" {
		return nil, errors.New("mailbox: SECRET_KEY is needed to store mailbox passwords")
	}
	key := sha256.Sum256([]byte("agente-caddy mailbox passwords\x00" + secret))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns nonce‖ciphertext of password for tenant.
func (s *Sealer) Seal(tenant, password string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, []byte(password), []byte(tenant)), nil
}

// ErrSealed is a stored password that does not open: another SECRET_KEY,
// or a row that is not the tenant's.
var ErrSealed = errors.New("mailbox: the stored password does not open with this SECRET_KEY")

// Open reverses Seal.
func (s *Sealer) Open(tenant string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", ErrSealed
	}
	out, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(tenant))
	if err != nil {
		return "", ErrSealed
	}
	return string(out), nil
}

// ErrNoAccount is a tenant without a mailbox of its own.
var ErrNoAccount = errors.New("mailbox: the tenant has no mailbox")

// Accounts are the hotels' mailboxes in Postgres (tenant_mailboxes,
// migration 0051_tenant_mailboxes).
type Accounts struct {
	Pool   *pgxpool.Pool
	Sealer *Sealer
}

// Put creates or replaces the tenant's mailbox.
func (s Accounts) Put(ctx context.Context, a Account) error {
	sealed, err := s.Sealer.Seal(a.TenantID, a.Password)
	if err != nil {
		return err
	}
	_, err = s.Pool.Exec(ctx, `INSERT INTO tenant_mailboxes (tenant_id, imap_addr, smtp_addr, username, address, authserv_id, password_sealed, updated_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (tenant_id) DO UPDATE SET imap_addr = EXCLUDED.imap_addr, smtp_addr = EXCLUDED.smtp_addr, username = EXCLUDED.username,
			address = EXCLUDED.address, authserv_id = EXCLUDED.authserv_id, password_sealed = EXCLUDED.password_sealed,
			updated_by = EXCLUDED.updated_by, updated_at = now()`,
		a.TenantID, a.IMAPAddr, a.SMTPAddr, a.Username, strings.ToLower(a.Address), a.AuthservID, sealed, a.UpdatedBy)
	return err
}

// Delete removes the tenant's mailbox; ErrNoAccount when it had none.
func (s Accounts) Delete(ctx context.Context, tenant string) error {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM tenant_mailboxes WHERE tenant_id = $1`, tenant)
	if err == nil && tag.RowsAffected() == 0 {
		err = ErrNoAccount
	}
	return err
}

// Get returns the tenant's mailbox with its password opened.
func (s Accounts) Get(ctx context.Context, tenant string) (Account, error) {
	accounts, err := s.list(ctx, `WHERE tenant_id = $1`, tenant)
	if err != nil {
		return Account{}, err
	}
	if len(accounts) == 0 {
		return Account{}, ErrNoAccount
	}
	return accounts[0], nil
}

// List returns every hotel's mailbox with its password opened. A row whose
// password does not open is an error naming the tenant.
func (s Accounts) List(ctx context.Context) ([]Account, error) {
	return s.list(ctx, `ORDER BY tenant_id`)
}

func (s Accounts) list(ctx context.Context, where string, args ...any) ([]Account, error) {
	rows, err := s.Pool.Query(ctx, `SELECT tenant_id, imap_addr, smtp_addr, username, address, authserv_id, password_sealed, updated_by, updated_at
		FROM tenant_mailboxes `+where, args...)
	if err != nil {
		return nil, err
	}
	var out []Account
	var errs []error
	for rows.Next() {
		var a Account
		var sealed []byte
		if err := rows.Scan(&a.TenantID, &a.IMAPAddr, &a.SMTPAddr, &a.Username, &a.Address, &a.AuthservID, &sealed, &a.UpdatedBy, &a.UpdatedAt); err != nil {
			rows.Close()
			return nil, err
		}
		if a.Password, err = s.Sealer.Open(a.TenantID, sealed); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", a.TenantID, err))
			continue
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, errors.Join(errs...)
}
