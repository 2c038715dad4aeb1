package adminauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	now    = time.Date(2025, 10, 22, 10, 0, 0, 0, time.UTC)
)

func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func valid() jwt.RegisteredClaims {
	return jwt.RegisteredClaims{Subject: "ops@hotel", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now)}
}

func TestVerifyAccepts(t *testing.T) {
	tok, err := MintAt(secret, "ops@hotel", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Bearer " + tok, "bearer " + tok, "  Bearer   " + tok + " "} {
		c, err := Verify(h, secret, now)
		if err != nil {
			t.Fatalf("Verify(%q): %v", h, err)
		}
		if c.Subject != "ops@hotel" || !c.ExpiresAt.Equal(now.Add(time.Hour)) {
			t.Fatalf("claims %+v", c)
		}
	}
	// Within the leeway: expired 20 s ago, issued 20 s in the future.
	c := valid()
	c.ExpiresAt = jwt.NewNumericDate(now.Add(-20 * time.Second))
	if _, err := Verify("Bearer "+sign(t, jwt.SigningMethodHS256, secret, c), secret, now); err != nil {
		t.Fatalf("expired within leeway: %v", err)
	}
	c = valid()
	c.IssuedAt = jwt.NewNumericDate(now.Add(20 * time.Second))
	if _, err := Verify("Bearer "+sign(t, jwt.SigningMethodHS256, secret, c), secret, now); err != nil {
		t.Fatalf("iat within leeway: %v", err)
	}
	// Mint uses the wall clock.
	tok, _ = Mint(secret, "cli", time.Minute)
	if _, err := Verify("Bearer "+tok, secret, time.Now()); err != nil {
		t.Fatalf("Mint: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, valid()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	good := sign(t, jwt.SigningMethodHS256, secret, valid())
	parts := strings.Split(good, ".")
	b64 := base64.RawURLEncoding.EncodeToString

	expired := valid()
	expired.ExpiresAt = jwt.NewNumericDate(now.Add(-31 * time.Second))
	noExp := valid()
	noExp.ExpiresAt = nil
	noSub := valid()
	noSub.Subject = ""
	blankSub := valid()
	blankSub.Subject = "  "
	future := valid()
	future.NotBefore = jwt.NewNumericDate(now.Add(time.Minute))
	issuedLater := valid()
	issuedLater.IssuedAt = jwt.NewNumericDate(now.Add(time.Minute))

	cases := []struct {
		name   string
		header string
		want   error
	}{
		{"missing header", "", ErrMissing},
		{"bearer without token", "Bearer ", ErrMissing},
		{"other scheme", "Basic b3BzOnB3", ErrMalformed},
		{"token without scheme", good, ErrMalformed},
		{"garbage", "Bearer not-a-jwt", ErrMalformed},
		{"two segments", "Bearer " + parts[0] + "." + parts[1], ErrMalformed},
		{"garbled payload", "Bearer " + parts[0] + ".%%%." + parts[2], ErrMalformed},
		{"huge token", "Bearer " + strings.Repeat("a", maxTokenLen+1), ErrMalformed},
		{"alg none", "Bearer " + none, ErrAlgorithm},
		{"alg none, signature stripped from a good token", "Bearer " + b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", ErrAlgorithm},
		{"alg NONE spelled differently", "Bearer " + b64([]byte(`{"alg":"None","typ":"JWT"}`)) + "." + parts[1] + ".", ErrAlgorithm},
		{"unknown alg", "Bearer " + b64([]byte(`{"alg":"XYZ","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2], ErrAlgorithm},
		{"HS512", "Bearer " + sign(t, jwt.SigningMethodHS512, secret, valid()), ErrAlgorithm},
		{"HS384", "Bearer " + sign(t, jwt.SigningMethodHS384, secret, valid()), ErrAlgorithm},
		{"RS256", "Bearer " + sign(t, jwt.SigningMethodRS256, rsaKey, valid()), ErrAlgorithm},
		{"ES256", "Bearer " + sign(t, jwt.SigningMethodES256, ecKey, valid()), ErrAlgorithm},
		{"wrong secret", "Bearer " + sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), valid()), ErrSignature},
		{"tampered payload", "Bearer " + parts[0] + "." + b64([]byte(`{"sub":"root","exp":9999999999}`)) + "." + parts[2], ErrSignature},
		{"expired beyond leeway", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, expired), ErrExpired},
		{"no exp", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, noExp), ErrNoExpiry},
		{"no sub", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, noSub), ErrNoSubject},
		{"blank sub", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, blankSub), ErrNoSubject},
		{"nbf in the future", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, future), ErrNotYetValid},
		{"iat in the future", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, issuedLater), ErrNotYetValid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			claims, err := Verify(c.header, secret, now)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify = %+v, %v; want %v", claims, err, c.want)
			}
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("%v does not wrap ErrUnauthorized", err)
			}
		})
	}
	if _, err := Verify("Bearer "+good, nil, now); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("empty secret: %v", err)
	}
}

func TestMintRejects(t *testing.T) {
	if _, err := Mint(nil, "ops", time.Hour); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("no secret: %v", err)
	}
	if _, err := Mint(secret, " ", time.Hour); err == nil {
		t.Fatal("blank subject accepted")
	}
	if _, err := Mint(secret, "ops", 0); err == nil {
		t.Fatal("zero ttl accepted")
	}
}
