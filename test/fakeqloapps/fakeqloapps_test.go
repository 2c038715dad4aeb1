package fakeqloapps_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/agentehotel/agente-caddy/test/fakeqloapps"
)

const key = "K3Y"

func call(t *testing.T, s *fakeqloapps.Server, method, path, body string, auth func(*http.Request)) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != nil {
		auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func basic(user, pass string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, pass) }
}

const ari = `<qloapps><hotel_ari><id_hotel>1</id_hotel><date_from>2030-01-01</date_from><date_to>2030-01-03</date_to>
<get_available_rooms>1</get_available_rooms>
<associations><room_occupancies><room_occupancy><adults>2</adults><children>0</children></room_occupancy></room_occupancies></associations>
</hotel_ari></qloapps>`

func TestAuthIsBasicWithKeyAndEmptyPassword(t *testing.T) {
	s := fakeqloapps.Start(t, key)
	for name, auth := range map[string]func(*http.Request){
		"none":          nil,
		"wrong key":     basic("nope", ""),
		"with password": basic(key, "secret"),
		"bearer":        func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+key) },
	} {
		code, h, _ := call(t, s, "GET", "/api/hotels?output_format=JSON", "", auth)
		if code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: %d %q, want 401 with WWW-Authenticate: Basic", name, code, h.Get("WWW-Authenticate"))
		}
	}
	if code, _, body := call(t, s, "GET", "/api/hotels?output_format=JSON", "", basic(key, "")); code != 200 {
		t.Fatalf("good key: %d %s", code, body)
	}
	if code, _, _ := call(t, s, "GET", "/api/hotels", "", basic(key, "")); code != 400 {
		t.Fatalf("no output_format=JSON: %d, want 400", code)
	}
}

func TestHotelARIEnforcesTheXMLBody(t *testing.T) {
	s := fakeqloapps.Start(t, key)
	ok := basic(key, "")
	for name, body := range map[string]string{
		"not xml":        `{"hotel_ari":{"id_hotel":1}}`,
		"wrong root":     `<prestashop><hotel_ari><id_hotel>1</id_hotel></hotel_ari></prestashop>`,
		"no dates":       `<qloapps><hotel_ari><id_hotel>1</id_hotel></hotel_ari></qloapps>`,
		"to before from": strings.Replace(ari, "2030-01-03", "2029-12-31", 1),
		"to equals from": strings.Replace(ari, "2030-01-03", "2030-01-01", 1),
		"no hotel id":    strings.Replace(ari, "<id_hotel>1</id_hotel>", "", 1),
		"zero adults":    strings.Replace(ari, "<adults>2</adults>", "<adults>0</adults>", 1),
	} {
		if code, _, resp := call(t, s, "POST", "/api/hotel_ari?output_format=JSON", body, ok); code != 400 {
			t.Errorf("%s: %d %s, want 400", name, code, resp)
		}
	}
	code, _, body := call(t, s, "POST", "/api/hotel_ari?output_format=JSON", "xml="+ari, ok)
	if code != 200 {
		t.Fatalf("valid (xml= prefixed) request: %d %s", code, body)
	}
	var ans struct {
		HotelARI struct {
			Currency  string `json:"currency"`
			RoomTypes []struct {
				ID                int     `json:"id_room_type"`
				TotalPriceWithTax float64 `json:"total_price_with_tax"`
				Rooms             struct {
					Available []map[string]string `json:"available"`
				} `json:"rooms"`
			} `json:"room_types"`
		} `json:"hotel_ari"`
	}
	if err := json.Unmarshal([]byte(body), &ans); err != nil {
		t.Fatal(err)
	}
	if ans.HotelARI.Currency != "USD" || len(ans.HotelARI.RoomTypes) != 2 || len(ans.HotelARI.RoomTypes[0].Rooms.Available) != 3 ||
		ans.HotelARI.RoomTypes[0].TotalPriceWithTax != 220 {
		t.Fatalf("answer = %s", body)
	}
	if s.Calls(fakeqloapps.HotelARI) != 8 {
		t.Fatalf("calls = %d, want every request counted", s.Calls(fakeqloapps.HotelARI))
	}
}

func booking(mutate func(b map[string]any)) string {
	b := map[string]any{
		"id_property": 1, "booking_status": 1, "payment_status": 3, "currency": "USD", "source": "ref-1",
		"customer_detail": map[string]any{"firstname": "A", "lastname": "B", "email": "a@b.c", "phone": "1"},
		"associations": map[string]any{"room_types": []any{map[string]any{
			"id_room_type": 1, "checkin_date": "2030-01-01", "checkout_date": "2030-01-02", "number_of_rooms": 1,
			"rooms": []any{map[string]any{"adult": 2, "child": 0, "child_ages": []int{}, "id_tax_rules_group": 1}},
		}}},
	}
	if mutate != nil {
		mutate(b)
	}
	out, _ := json.Marshal(map[string]any{"booking": b})
	return string(out)
}

func roomType(b map[string]any) map[string]any {
	return b["associations"].(map[string]any)["room_types"].([]any)[0].(map[string]any)
}

func TestCreateBookingEnforcesRequiredFieldsAndInventory(t *testing.T) {
	s := fakeqloapps.Start(t, key)
	ok := basic(key, "")
	for name, m := range map[string]func(map[string]any){
		"no property":       func(b map[string]any) { delete(b, "id_property") },
		"unknown property":  func(b map[string]any) { b["id_property"] = 9 },
		"no booking_status": func(b map[string]any) { delete(b, "booking_status") },
		"bad status":        func(b map[string]any) { b["booking_status"] = 7 },
		"no payment_status": func(b map[string]any) { delete(b, "payment_status") },
		"wrong currency":    func(b map[string]any) { b["currency"] = "JPY" },
		"no customer":       func(b map[string]any) { delete(b, "customer_detail") },
		"no email":          func(b map[string]any) { b["customer_detail"].(map[string]any)["email"] = "" },
		"no room types":     func(b map[string]any) { b["associations"] = map[string]any{} },
		"checkout first":    func(b map[string]any) { roomType(b)["checkout_date"] = "2029-12-31" },
		"unknown type":      func(b map[string]any) { roomType(b)["id_room_type"] = 42 },
		"room count":        func(b map[string]any) { roomType(b)["number_of_rooms"] = 2 },
		"id on create":      func(b map[string]any) { b["id"] = 5 },
	} {
		if code, _, resp := call(t, s, "POST", "/api/bookings?output_format=JSON", booking(m), ok); code != 400 {
			t.Errorf("%s: %d %s, want 400", name, code, resp)
		}
	}
	if code, _, _ := call(t, s, "POST", "/api/bookings?output_format=JSON", "not json", ok); code != 500 {
		t.Errorf("not JSON: %d, want QloApps' 500 Invalid request", code)
	}
	if len(s.Bookings()) != 0 {
		t.Fatal("a rejected request made a booking")
	}
	for i := 0; i < 3; i++ {
		if code, _, resp := call(t, s, "POST", "/api/bookings?output_format=JSON", booking(nil), ok); code != 200 {
			t.Fatalf("booking %d: %d %s", i, code, resp)
		}
	}
	code, _, resp := call(t, s, "POST", "/api/bookings?output_format=JSON", booking(nil), ok)
	if code != 400 || !strings.Contains(resp, "not available") {
		t.Fatalf("4th General room for the night: %d %s", code, resp)
	}
	if s.FreeRooms(1, "2030-01-01", "2030-01-02") != 0 || s.FreeRooms(1, "2030-01-02", "2030-01-03") != 3 {
		t.Fatal("inventory is not per night")
	}
	code, _, resp = call(t, s, "GET", "/api/orders?output_format=JSON&display=[id,source]&filter[source]=[ref-1]", "", ok)
	if code != 200 || strings.Count(resp, `"source":"ref-1"`) != 3 {
		t.Fatalf("orders by source: %d %s", code, resp)
	}
	code, _, resp = call(t, s, "GET", "/api/orders?output_format=JSON&filter[source]=[nope]", "", ok)
	if code != 200 || strings.TrimSpace(resp) != "[]" {
		t.Fatalf("no match: %d %s, want PrestaShop's bare []", code, resp)
	}
	if code, _, _ := call(t, s, "GET", "/api/orders?output_format=JSON&filter[source]=ref-1", "", ok); code != 400 {
		t.Fatalf("filter without brackets: %d, want 400", code)
	}
}

func TestFaultsApplyToTheNamedEndpointOnly(t *testing.T) {
	s := fakeqloapps.Start(t, key)
	ok := basic(key, "")
	s.Inject(fakeqloapps.Hotel, 2, fakeqloapps.ServerError, 0)
	if code, _, _ := call(t, s, "GET", "/api/hotels?output_format=JSON", "", ok); code != 200 {
		t.Fatalf("other endpoint affected: %d", code)
	}
	for i := 0; i < 2; i++ {
		if code, _, _ := call(t, s, "GET", "/api/hotels/1?output_format=JSON", "", ok); code != 500 {
			t.Fatalf("call %d: %d, want 500", i, code)
		}
	}
	if code, _, _ := call(t, s, "GET", "/api/hotels/1?output_format=JSON", "", ok); code != 200 {
		t.Fatalf("after the faults: %d", code)
	}
	s.Inject("", 1, fakeqloapps.MalformedJSON, 0)
	_, _, body := call(t, s, "GET", "/api/hotels/1?output_format=JSON", "", ok)
	if json.Valid([]byte(body)) {
		t.Fatalf("malformed fault sent valid JSON: %s", body)
	}
}

func TestOnlyKnownEndpointsAreRouted(t *testing.T) {
	s := fakeqloapps.Start(t, key)
	ok := basic(key, "")
	for _, req := range []string{"GET /api/nope", "DELETE /api/bookings/1", "GET /api/hotels/x", "GET /api/hotels/0",
		"GET /api/hotels/1/2", "POST /api/hotels", "GET /hotels", "GET /api/"} {
		method, path, _ := strings.Cut(req, " ")
		if code, _, body := call(t, s, method, path+"?output_format=JSON", "", ok); code != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d %s, want 405", req, code, body)
		}
	}
	for req, endpoint := range map[string]string{
		"GET /api/hotels/1":     fakeqloapps.Hotel,
		"GET /api/hotels/":      fakeqloapps.Hotels,
		"GET /api/room_types/1": fakeqloapps.RoomType,
		"GET /api/bookings/1":   fakeqloapps.GetBooking,
	} {
		method, path, _ := strings.Cut(req, " ")
		before := s.Calls(endpoint)
		call(t, s, method, path+"?output_format=JSON", "", ok)
		if s.Calls(endpoint) != before+1 {
			t.Errorf("%s was not routed to %s", req, endpoint)
		}
	}
}
