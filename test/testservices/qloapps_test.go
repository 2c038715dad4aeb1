package testservices_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/test/testservices"
	"github.com/agentehotel/agente-caddy/test/testservices/qloappsserver"
)

// The QloApps tests get: its webservice lists exactly the resources the key
// was given, its demo hotel is readable through the webservice and the
// database, and none of that logs a PHP warning.
func TestQloAppsSmoke(t *testing.T) {
	q := testservices.QloApps(t)
	mark := q.ErrorLogMark()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var resources []string
	getJSON(ctx, t, q, "/api/?output_format=JSON", &resources)
	if want := qloappsserver.Resources(); !slices.Equal(resources, want) {
		t.Errorf("GET /api/ lists %v, want the key's resources %v", resources, want)
	}

	var hotel struct {
		Hotel struct {
			ID       int    `json:"id"`
			CheckIn  string `json:"check_in"`
			CheckOut string `json:"check_out"`
		} `json:"hotel"`
	}
	getJSON(ctx, t, q, "/api/hotels/1?output_format=JSON", &hotel)
	if hotel.Hotel.ID != 1 || hotel.Hotel.CheckIn == "" {
		t.Errorf("GET /api/hotels/1: %+v, want the demo hotel 1 with a check-in time", hotel.Hotel)
	}

	db := q.DB()
	var name string
	if err := db.QueryRowContext(ctx, "SELECT hotel_name FROM qlo_htl_branch_info_lang WHERE id = 1 AND id_lang = 1").Scan(&name); err != nil {
		t.Fatalf("reading qlo_htl_branch_info_lang: %v", err)
	}
	if name != "The Hotel Prime" {
		t.Errorf("hotel 1 is %q, want the demo data's %q", name, "The Hotel Prime")
	}
	var rooms int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM qlo_htl_room_information WHERE id_hotel = 1").Scan(&rooms); err != nil {
		t.Fatalf("counting qlo_htl_room_information: %v", err)
	}
	if rooms != 20 {
		t.Errorf("hotel 1 has %d rooms, want the demo data's 20", rooms)
	}

	if lines := q.ErrorLogSince(mark); len(lines) > 0 {
		t.Errorf("PHP logged during the smoke test:\n%s", lines)
	}
}

func getJSON(ctx context.Context, t *testing.T, q *testservices.QloAppsHandle, path string, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, q.BaseURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(q.WebserviceKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d: %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}
