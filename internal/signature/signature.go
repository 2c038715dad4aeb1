// Package signature verifies Meta-style webhook signatures:
// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"sync"
)

// Prefix starts every signature header value.
const Prefix = "sha256="

// Errors say why a signature was refused; all of them mean 401.
var (
	ErrMissing   = errors.New("signature header missing")
	ErrMultiple  = errors.New("more than one signature header")
	ErrMalformed = errors.New("signature must be sha256= followed by 64 hex digits")
	ErrMismatch  = errors.New("signature does not match the body")
)

// Parse reads a header value: exactly "sha256=" and 64 hex digits in either
// case. Anything else (another algorithm, truncated or padded hex, spaces) is
// ErrMalformed.
func Parse(v string) ([sha256.Size]byte, error) {
	var mac [sha256.Size]byte
	if len(v) != len(Prefix)+2*sha256.Size || v[:len(Prefix)] != Prefix {
		return mac, ErrMalformed
	}
	if _, err := hex.Decode(mac[:], []byte(v[len(Prefix):])); err != nil {
		return mac, ErrMalformed
	}
	return mac, nil
}

// ParseHeader applies Parse to the values of one header, refusing zero or
// several values: a second header could smuggle a signature past a proxy
// that checks only the first.
func ParseHeader(values []string) ([sha256.Size]byte, error) {
	switch len(values) {
	case 0:
		return [sha256.Size]byte{}, ErrMissing
	case 1:
		return Parse(values[0])
	default:
		return [sha256.Size]byte{}, ErrMultiple
	}
}

// Verifier checks bodies against one or more secrets (several during a secret
// rotation: any one matching is enough).
type Verifier struct {
	// macs holds, per secret, keyed HMAC states ready for reuse: keying an
	// HMAC costs two hash blocks, as much as hashing a small body.
	macs []*sync.Pool
}

// NewVerifier returns a Verifier for the non-empty secrets; it fails when none is given.
func NewVerifier(secrets ...string) (*Verifier, error) {
	v := &Verifier{}
	for _, s := range secrets {
		if s != "" {
			key := []byte(s)
			v.macs = append(v.macs, &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }})
		}
	}
	if len(v.macs) == 0 {
		return nil, errors.New("at least one non-empty secret is required")
	}
	return v, nil
}

// Verify reports whether mac is the HMAC-SHA256 of body under any secret,
// comparing in constant time.
func (v *Verifier) Verify(body []byte, mac [sha256.Size]byte) error {
	var sum [sha256.Size]byte
	for _, pool := range v.macs {
		h := pool.Get().(hash.Hash)
		h.Reset()
		h.Write(body)
		ok := hmac.Equal(h.Sum(sum[:0]), mac[:])
		pool.Put(h)
		if ok {
			return nil
		}
	}
	return ErrMismatch
}

// Sign returns the header value for body under secret (tests, curl examples, fakes).
func Sign(secret string, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(body)
	return Prefix + hex.EncodeToString(h.Sum(nil))
}
