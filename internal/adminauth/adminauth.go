// Package adminauth verifies and mints the admin API's bearer tokens: JWT
// signed with HS256 under JWT_SECRET_KEY, with a required numeric expiry no
// further than the maximum lifetime, a subject (who the audit log says made
// a change), a token id (jti, what a revocation names) and a role: "admin"
// reaches the whole admin API, "staff" only the conversations of the hotels
// listed in its "tenants" claim.
package adminauth

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Leeway is the clock skew tolerated on exp, nbf and iat.
const Leeway = 30 * time.Second

// Rejection reasons. Each wraps ErrUnauthorized, so a caller can answer 401
// for all of them and still log which one it was.
var (
	ErrUnauthorized = errors.New("unauthorized")
	ErrMissing      = fmt.Errorf("%w: missing bearer token", ErrUnauthorized)
	ErrMalformed    = fmt.Errorf("%w: malformed token", ErrUnauthorized)
	ErrAlgorithm    = fmt.Errorf("%w: token must be signed with HS256", ErrUnauthorized)
	ErrSignature    = fmt.Errorf("%w: invalid token signature", ErrUnauthorized)
	ErrExpired      = fmt.Errorf("%w: token expired", ErrUnauthorized)
	ErrNotYetValid  = fmt.Errorf("%w: token not valid yet", ErrUnauthorized)
	ErrNoExpiry     = fmt.Errorf("%w: token has no exp claim", ErrUnauthorized)
	ErrNoSubject    = fmt.Errorf("%w: token has no sub claim", ErrUnauthorized)
	ErrNumericDate  = fmt.Errorf("%w: exp, iat and nbf must be numbers of seconds", ErrUnauthorized)
	ErrLifetime     = fmt.Errorf("%w: token lives longer than the maximum lifetime", ErrUnauthorized)
	ErrNoID         = fmt.Errorf("%w: token has no jti claim", ErrUnauthorized)
	ErrRole         = fmt.Errorf("%w: role must be \"admin\" or \"staff\"", ErrUnauthorized)
	ErrTenants      = fmt.Errorf("%w: a staff token names its hotels in \"tenants\"; an admin token names none", ErrUnauthorized)
	ErrRevoked      = fmt.Errorf("%w: token revoked", ErrUnauthorized)
	ErrNoSecret     = errors.New("adminauth: JWT secret is empty")
)

// The roles a token carries.
const (
	// RoleAdmin reaches the whole admin API.
	RoleAdmin = "admin"
	// RoleStaff reaches the conversations of its hotels only.
	RoleStaff = "staff"
)

// DefaultMaxLifetime is the longest a token may live (exp minus iat, and exp
// minus now) when the server sets no other maximum.
const DefaultMaxLifetime = 30 * 24 * time.Hour

// Claims are what the admin API uses from a verified token.
type Claims struct {
	Subject   string
	ExpiresAt time.Time
	// ID is the token's jti: what a revocation names.
	ID string
	// Role is RoleAdmin or RoleStaff.
	Role string
	// Tenants are the hotels a staff token reaches (empty for admin).
	Tenants []string
}

// Reaches reports whether the token may act on tenantID's conversations.
func (c Claims) Reaches(tenantID string) bool {
	return c.Role == RoleAdmin || (c.Role == RoleStaff && slices.Contains(c.Tenants, tenantID))
}

// tokenClaims is the JWT's payload.
type tokenClaims struct {
	jwt.RegisteredClaims
	Role    string   `json:"role,omitempty"`
	Tenants []string `json:"tenants,omitempty"`
}

// Verifier checks tokens against a secret, a maximum lifetime and the
// revoked token ids.
type Verifier struct {
	// Secret is the HS256 key.
	Secret []byte
	// MaxLifetime bounds exp-iat and exp-now; zero: DefaultMaxLifetime.
	MaxLifetime time.Duration
	// Revoked reports whether a jti was revoked; nil: none is.
	Revoked func(jti string) bool
}

// maxTokenLen bounds what we hand to the parser (a header can be 1 MB).
const maxTokenLen = 8 << 10

// Verify checks an Authorization header value with the default maximum
// lifetime and no revocations (Verifier.Verify).
func Verify(header string, secret []byte, now time.Time) (Claims, error) {
	return Verifier{Secret: secret}.Verify(header, now)
}

// Verify checks an Authorization header value ("Bearer <jwt>") at time now.
// It accepts only HS256 (alg "none", RS256, HS512, ... are rejected before
// any key is used), requires a numeric exp within the maximum lifetime, a
// non-empty sub and jti, a known role (staff with at least one hotel), and
// tolerates Leeway of clock skew. A revoked jti is refused.
func (v Verifier) Verify(header string, now time.Time) (Claims, error) {
	secret := v.Secret
	if len(secret) == 0 {
		return Claims{}, ErrNoSecret
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		if h := strings.TrimSpace(header); h == "" || strings.EqualFold(h, "Bearer") {
			return Claims{}, ErrMissing
		}
		return Claims{}, fmt.Errorf("%w: Authorization must be \"Bearer <token>\"", ErrMalformed)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return Claims{}, ErrMissing
	}
	if len(token) > maxTokenLen {
		return Claims{}, ErrMalformed
	}
	// Decide the algorithm from the header before any key is involved.
	unverified, _, err := jwt.NewParser().ParseUnverified(token, &jwt.RegisteredClaims{})
	switch {
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return Claims{}, ErrAlgorithm // an alg this library does not know
	case err != nil:
		return Claims{}, ErrMalformed
	case unverified.Method.Alg() != jwt.SigningMethodHS256.Alg():
		return Claims{}, ErrAlgorithm
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(Leeway),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	var tc tokenClaims
	_, err = parser.ParseWithClaims(token, &tc, func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
			return nil, ErrAlgorithm
		}
		return secret, nil
	})
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenMalformed):
		return Claims{}, ErrMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return Claims{}, ErrAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return Claims{}, ErrSignature
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return Claims{}, ErrNoExpiry
	case errors.Is(err, jwt.ErrTokenExpired):
		return Claims{}, ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return Claims{}, ErrNotYetValid
	default:
		return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	rc := tc.RegisteredClaims
	if strings.TrimSpace(rc.Subject) == "" {
		return Claims{}, ErrNoSubject
	}
	// golang-jwt reads "exp":"1999999999" as a date; a token is only
	// accepted when its dates are JSON numbers.
	if !numericDates(token) {
		return Claims{}, ErrNumericDate
	}
	maxLife := v.MaxLifetime
	if maxLife <= 0 {
		maxLife = DefaultMaxLifetime
	}
	exp := rc.ExpiresAt.Time
	if exp.Sub(now) > maxLife+Leeway || (rc.IssuedAt != nil && exp.Sub(rc.IssuedAt.Time) > maxLife) {
		return Claims{}, ErrLifetime
	}
	if strings.TrimSpace(rc.ID) == "" {
		return Claims{}, ErrNoID
	}
	c := Claims{Subject: rc.Subject, ExpiresAt: exp, ID: rc.ID, Role: tc.Role, Tenants: tc.Tenants}
	switch c.Role {
	case RoleAdmin:
		if len(c.Tenants) != 0 {
			return Claims{}, ErrTenants
		}
	case RoleStaff:
		if len(c.Tenants) == 0 || slices.Contains(c.Tenants, "") {
			return Claims{}, ErrTenants
		}
	default:
		return Claims{}, ErrRole
	}
	if v.Revoked != nil && v.Revoked(c.ID) {
		return Claims{}, ErrRevoked
	}
	return c, nil
}

// numericDates reports whether exp, iat and nbf, where present, are JSON
// numbers in the token's payload.
func numericDates(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return false
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(payload, &fields) != nil {
		return false
	}
	for _, name := range []string{"exp", "iat", "nbf"} {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || !(raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) {
			return false
		}
	}
	return true
}

// Mint signs an admin token for sub valid for ttl from now.
func Mint(secret []byte, sub string, ttl time.Duration) (string, error) {
	return MintAt(secret, sub, ttl, time.Now())
}

// MintAt is Mint at a given time (tests).
func MintAt(secret []byte, sub string, ttl time.Duration, now time.Time) (string, error) {
	return MintToken(secret, Token{Subject: sub, Role: RoleAdmin, TTL: ttl}, now)
}

// Token is what MintToken signs.
type Token struct {
	Subject string
	// Role is RoleAdmin or RoleStaff.
	Role string
	// Tenants are a staff token's hotels.
	Tenants []string
	TTL     time.Duration
	// ID is the jti; empty: a random one.
	ID string
}

// MintToken signs an HS256 token issued at now (the `agente-caddy
// admin-token` subcommand). It refuses what Verify would refuse, except the
// lifetime, which is the server's to bound.
func MintToken(secret []byte, t Token, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", ErrNoSecret
	}
	if strings.TrimSpace(t.Subject) == "" {
		return "", errors.New("adminauth: subject is required (who the audit log names)")
	}
	if t.TTL <= 0 {
		return "", errors.New("adminauth: ttl must be positive")
	}
	switch t.Role {
	case RoleAdmin:
		if len(t.Tenants) != 0 {
			return "", errors.New("adminauth: an admin token reaches every hotel; --tenant is for staff tokens")
		}
	case RoleStaff:
		if len(t.Tenants) == 0 || slices.Contains(t.Tenants, "") {
			return "", errors.New("adminauth: a staff token needs at least one hotel (--tenant)")
		}
	default:
		return "", fmt.Errorf("adminauth: role %q: want admin or staff", t.Role)
	}
	if t.ID == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		t.ID = hex.EncodeToString(b[:])
	}
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   t.Subject,
			ID:        t.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.TTL)),
		},
		Role:    t.Role,
		Tenants: t.Tenants,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}
