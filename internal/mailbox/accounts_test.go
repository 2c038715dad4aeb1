package mailbox

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealerBindsPasswordToKeyAndTenant(t *testing.T) {
	s, err := NewSealer("a-secret-key-of-the-service-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("bcn", "app-password")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("app-password")) {
		t.Fatal("the password is in clear")
	}
	if got, err := s.Open("bcn", sealed); err != nil || got != "app-password" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := s.Open("mad", sealed); !errors.Is(err, ErrSealed) {
		t.Errorf("another tenant opened it: %v", err)
	}
	other, _ := NewSealer("another-secret-key-000000000000000000000")
	if _, err := other.Open("bcn", sealed); !errors.Is(err, ErrSealed) {
		t.Errorf("another key opened it: %v", err)
	}
	again, _ := s.Seal("bcn", "app-password")
	if bytes.Equal(again, sealed) {
		t.Error("two seals are equal: the nonce is not fresh")
	}
	if _, err := NewSealer(""); err == nil {
		t.Error("an empty SECRET_KEY was accepted")
	}
}

func TestAccountValidate(t *testing.T) {
	ok := Account{TenantID: "bcn", IMAPAddr: "imap.example.com:993", SMTPAddr: "smtp.example.com:587", Username: "u", Password: "p", Address: "r@example.com"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Account){
		"imap without port": func(a *Account) { a.IMAPAddr = "imap.example.com" },
		"smtp empty":        func(a *Account) { a.SMTPAddr = "" },
		"no password":       func(a *Account) { a.Password = "" },
		"bad address":       func(a *Account) { a.Address = "Reception <r@example.com>" },
	} {
		a := ok
		mutate(&a)
		if a.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
