package demo

import (
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/test/pmsconformance"
)

// The demo PMS keeps the same contract as QloApps, on both backends.
func TestDemoKeepsThePMSContract(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		loc, _ := time.LoadLocation("Europe/Madrid")
		pmsconformance.Run(t, pmsconformance.Target{
			PMS:          b.open(),
			Hotel:        barcelona,
			HotelName:    "Hotel Barcelona Beach",
			Languages:    []string{"es", "en"},
			UnknownHotel: pms.Hotel{TenantID: "tenant_hotel_bcn", PMSID: 99},
			Today:        pms.DateOf(time.Now().In(loc)),
		})
	})
}
