package qloapps_test

import (
	"strings"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/pms/qloapps"
	"github.com/agentehotel/agente-caddy/test/fakeqloapps"
	"github.com/agentehotel/agente-caddy/test/pmsconformance"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

func today(zone string) pms.Date {
	loc, _ := time.LoadLocation(zone)
	return pms.DateOf(time.Now().In(loc))
}

// The fake passes the same contract as the real QloApps, so it cannot drift.
func TestFakeKeepsThePMSContract(t *testing.T) {
	fake := fakeqloapps.Start(t, key)
	// The services of QloApps' demo data: a fee in the room's price, a fee
	// kept apart, an extra nobody asked for.
	fake.AddService(fakeqloapps.ServiceData{ID: 5, Name: "Room Maintenance Fees", Price: 25, AutoAdd: true, WithRoom: true, PerNight: true})
	fake.AddService(fakeqloapps.ServiceData{ID: 6, Name: "Internet Handling Charges", Price: 25, AutoAdd: true})
	fake.AddService(fakeqloapps.ServiceData{ID: 7, Name: "Airport Shuttle", Price: 50, WithRoom: true})
	for _, rt := range []int{1, 2} {
		for _, sv := range []int{5, 6, 7} {
			fake.LinkService(rt, sv)
		}
	}
	pmsconformance.Run(t, pmsconformance.Target{
		PMS:                newClient(t, fake),
		Hotel:              hotel1,
		HotelName:          "The Hotel Prime",
		Languages:          []string{"en", "es"},
		UnknownHotel:       pms.Hotel{TenantID: "nobody", PMSID: 99},
		Today:              today("Europe/Madrid"),
		WithBadCredentials: func() pms.PMS { return newClient(t, fake, func(c *qloapps.Config) { c.APIKey = "WRONGKEY" }) },
	})
}

// The adapter keeps the contract against a real QloApps 1.6.1, and no call
// makes QloApps log a PHP warning or error.
func TestRealQloAppsKeepsThePMSContract(t *testing.T) {
	q := testservices.QloApps(t)
	mark := q.ErrorLogMark()
	newReal := func(k string) *qloapps.Client {
		c, err := qloapps.New(qloapps.Config{BaseURL: q.BaseURL, APIKey: k, TimeZone: "Europe/Madrid"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	pmsconformance.Run(t, pmsconformance.Target{
		PMS:                newReal(q.WebserviceKey),
		Hotel:              hotel1,
		HotelName:          "The Hotel Prime",
		Languages:          []string{"en", "es"},
		UnknownHotel:       pms.Hotel{TenantID: "nobody", PMSID: 99},
		Today:              today("Europe/Madrid"),
		WithBadCredentials: func() pms.PMS { return newReal(strings.Repeat("Z", 32)) },
		Check: func(t *testing.T) {
			if lines := q.ErrorLogSince(mark); len(lines) > 0 {
				t.Fatalf("QloApps logged PHP errors:\n%s", strings.Join(lines, "\n"))
			}
		},
	})
}
