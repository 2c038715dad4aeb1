package adminauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
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

func valid() tokenClaims {
	return tokenClaims{RegisteredClaims: jwt.RegisteredClaims{Subject: "ops@hotel", ID: "jti-1",
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now)}, Role: RoleAdmin}
}

// rawToken signs a payload given as JSON text (dates as strings, ...).
func rawToken(t *testing.T, payload string) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	signing := b64([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + b64([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(signing, secret)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64(sig)
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
	century := valid()
	century.ExpiresAt = jwt.NewNumericDate(now.Add(100 * 365 * 24 * time.Hour))
	longNoIat := valid()
	longNoIat.IssuedAt = nil
	longNoIat.ExpiresAt = jwt.NewNumericDate(now.Add(31 * 24 * time.Hour))
	backdated := valid() // issued long ago, so exp-iat is over 30 days
	backdated.IssuedAt = jwt.NewNumericDate(now.Add(-40 * 24 * time.Hour))
	noJTI := valid()
	noJTI.ID = ""
	noRole := valid()
	noRole.Role = ""
	otherRole := valid()
	otherRole.Role = "root"
	staffNoHotel := valid()
	staffNoHotel.Role = RoleStaff
	adminWithHotel := valid()
	adminWithHotel.Tenants = []string{"hotel-a"}
	expString := fmt.Sprintf(`{"sub":"ops","jti":"j","role":"admin","iat":%d,"exp":"%d"}`, now.Unix(), now.Add(time.Hour).Unix())
	iatString := fmt.Sprintf(`{"sub":"ops","jti":"j","role":"admin","iat":"%d","exp":%d}`, now.Unix(), now.Add(time.Hour).Unix())

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
		{"100-year token", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, century), ErrLifetime},
		{"31 days without iat", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, longNoIat), ErrLifetime},
		{"exp 40 days after iat", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, backdated), ErrLifetime},
		{"exp as a string", "Bearer " + rawToken(t, expString), ErrNumericDate},
		{"iat as a string", "Bearer " + rawToken(t, iatString), ErrNumericDate},
		{"no jti", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, noJTI), ErrNoID},
		{"no role", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, noRole), ErrRole},
		{"unknown role", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, otherRole), ErrRole},
		{"staff without hotels", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, staffNoHotel), ErrTenants},
		{"admin with hotels", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, adminWithHotel), ErrTenants},
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

func TestStaffTokens(t *testing.T) {
	tok, err := MintToken(secret, Token{Subject: "reception@a", Role: RoleStaff, Tenants: []string{"hotel-a"}, TTL: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Verify("Bearer "+tok, secret, now)
	if err != nil {
		t.Fatal(err)
	}
	if c.Role != RoleStaff || !c.Reaches("hotel-a") || c.Reaches("hotel-b") || c.ID == "" {
		t.Fatalf("claims %+v", c)
	}
	admin, _ := MintAt(secret, "ops", time.Hour, now)
	if c, err := Verify("Bearer "+admin, secret, now); err != nil || !c.Reaches("hotel-b") {
		t.Fatalf("admin %+v %v", c, err)
	}
	// A shorter configured maximum; revocation by jti.
	v := Verifier{Secret: secret, MaxLifetime: 10 * time.Minute, Revoked: func(jti string) bool { return jti == c.ID }}
	if _, err := v.Verify("Bearer "+tok, now); !errors.Is(err, ErrLifetime) {
		t.Fatalf("1h token under a 10m maximum: %v", err)
	}
	v.MaxLifetime = 2 * time.Hour
	if _, err := v.Verify("Bearer "+tok, now); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := MintToken(secret, Token{Subject: "x", Role: RoleStaff, TTL: time.Hour}, now); err == nil {
		t.Fatal("staff token without a hotel minted")
	}
	if _, err := MintToken(secret, Token{Subject: "x", Role: "root", TTL: time.Hour}, now); err == nil {
		t.Fatal("unknown role minted")
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
