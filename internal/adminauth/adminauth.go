// Package adminauth verifies and mints the admin API's bearer tokens: JWT
// signed with HS256 under JWT_SECRET_KEY, with a required expiry and subject
// (the subject is who the audit log says made a change).
package adminauth

import (
	"errors"
	"fmt"
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
	ErrNoSecret     = errors.New("adminauth: JWT secret is empty")
)

// Claims are what the admin API uses from a verified token.
type Claims struct {
	Subject   string
	ExpiresAt time.Time
}

// maxTokenLen bounds what we hand to the parser (a header can be 1 MB).
const maxTokenLen = 8 << 10

// Verify checks an Authorization header value ("Bearer <jwt>") against
// secret at time now. It accepts only HS256 (alg "none", RS256, HS512, ...
// are rejected before any key is used), requires exp and a non-empty sub,
// and tolerates Leeway of clock skew.
func Verify(header string, secret []byte, now time.Time) (Claims, error) {
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
	var rc jwt.RegisteredClaims
	_, err = parser.ParseWithClaims(token, &rc, func(t *jwt.Token) (any, error) {
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
	if strings.TrimSpace(rc.Subject) == "" {
		return Claims{}, ErrNoSubject
	}
	return Claims{Subject: rc.Subject, ExpiresAt: rc.ExpiresAt.Time}, nil
}

// Mint signs an HS256 token for sub valid for ttl from now (the
// `agente-caddy admin-token` subcommand).
func Mint(secret []byte, sub string, ttl time.Duration) (string, error) {
	return MintAt(secret, sub, ttl, time.Now())
}

// MintAt is Mint at a given time (tests).
func MintAt(secret []byte, sub string, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", ErrNoSecret
	}
	if strings.TrimSpace(sub) == "" {
		return "", errors.New("adminauth: subject is required (who the audit log names)")
	}
	if ttl <= 0 {
		return "", errors.New("adminauth: ttl must be positive")
	}
	claims := jwt.RegisteredClaims{
		Subject:   sub,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}
