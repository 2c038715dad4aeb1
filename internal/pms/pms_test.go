package pms_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/pms/demo"
)

func TestGuestFieldsMissing(t *testing.T) {
	all := pms.GuestFields{FirstName: true, LastName: true, Email: true, Phone: true}
	for _, c := range []struct {
		f    pms.GuestFields
		g    pms.Guest
		want []pms.GuestDetail
	}{
		{all, pms.Guest{}, []pms.GuestDetail{pms.GuestFirstName, pms.GuestLastName, pms.GuestEmail, pms.GuestPhone}},
		{all, pms.Guest{FirstName: "Ana", LastName: " ", Email: "a@b.es"}, []pms.GuestDetail{pms.GuestLastName, pms.GuestPhone}},
		{all, pms.Guest{FirstName: "Ana", LastName: "García", Email: "a@b.es", Phone: "600111222"}, nil},
		{pms.DefaultGuestFields, pms.Guest{Email: "a@b.es"}, []pms.GuestDetail{pms.GuestFirstName}},
		{pms.DefaultGuestFields, pms.Guest{FirstName: "Ana"}, nil},
		{pms.GuestFields{}, pms.Guest{}, nil},
	} {
		if got := c.f.Missing(c.g); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v.Missing(%+v) = %v, want %v", c.f, c.g, got, c.want)
		}
	}
}

func TestGuestRequirementsOfDefaultsToFirstName(t *testing.T) {
	if got := pms.GuestRequirementsOf(demo.New()); got != (pms.GuestFields{FirstName: true}) {
		t.Errorf("demo PMS requirements %+v", got)
	}
}

func TestInvalidGuestErrorMatchesErrInvalid(t *testing.T) {
	cause := errors.New("HTTP 400: Please provide a valid email.")
	err := fmt.Errorf("booking: %w", &pms.InvalidGuestError{Detail: pms.GuestEmail, Reason: "Please provide a valid email.", Err: cause})
	var ge *pms.InvalidGuestError
	if !errors.Is(err, pms.ErrInvalid) || !errors.Is(err, cause) || !errors.As(err, &ge) || ge.Detail != pms.GuestEmail {
		t.Fatalf("%v does not unwrap", err)
	}
	if errors.Is(&pms.InvalidGuestError{Detail: pms.GuestPhone}, pms.ErrUnavailable) {
		t.Error("matches ErrUnavailable")
	}
}

func TestPropertyIDDefaultsToOne(t *testing.T) {
	for pmsID, want := range map[int]int{0: 1, -3: 1, 1: 1, 7: 7} {
		if got := (pms.Hotel{TenantID: "t", PMSID: pmsID}).PropertyID(); got != want {
			t.Errorf("PMSID %d: PropertyID %d, want %d", pmsID, got, want)
		}
	}
}
