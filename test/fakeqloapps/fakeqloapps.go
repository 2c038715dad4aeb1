// Package fakeqloapps is an in-process QloApps 1.6.1 webservice for tests.
// It enforces the QloApps webservice's wire format, which our client must
// produce: HTTP Basic auth with the
// webservice key and an empty password, output_format=JSON, hotel_ari's XML
// body, the bookings JSON body with its required fields, PrestaShop's
// filter[field]=[v1|v2] syntax. It keeps an inventory (which room is taken on
// which night) so bookings really reduce availability, and it can inject
// faults: 500s, malformed JSON, 401s, and answers held back past a delay.
package fakeqloapps

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Endpoint keys for Calls and Inject: method and path template.
const (
	HotelARI       = "POST /api/hotel_ari"
	Hotels         = "GET /api/hotels"
	Hotel          = "GET /api/hotels/{id}"
	HotelRoomTypes = "GET /api/hotel_room_types"
	RoomTypes      = "GET /api/room_types"
	RoomType       = "GET /api/room_types/{id}"
	CreateBooking  = "POST /api/bookings"
	GetBooking     = "GET /api/bookings/{id}"
	UpdateBooking  = "PUT /api/bookings/{id}"
	Orders         = "GET /api/orders"
	Services       = "GET /api/services"
	Languages      = "GET /api/languages"
)

// Language is a language of the shop (QloApps' lang): every multilingual
// field is answered in each, as [{"id":"1","value":"..."},...].
type Language struct {
	ID      int
	ISOCode string
}

// ShopLanguages are the fake's languages, those test/testservices/
// qloappsserver gives the real QloApps: English (the installer's) and
// Spanish (added).
var ShopLanguages = []Language{{ID: 1, ISOCode: "en"}, {ID: 2, ISOCode: "es"}}

// HotelData is a hotel (QloApps htl_branch_info with its address).
type HotelData struct {
	ID       int
	Name     string
	Address  string
	City     string
	Phone    string
	Email    string
	CheckIn  string // as QloApps stores it, e.g. "14:00"
	CheckOut string
}

// RoomTypeData is a room type (a QloApps product with its htl_room_type row).
type RoomTypeData struct {
	ID      int // id_product
	HotelID int
	Name    string // in the shop's first language
	// NameIn are Name's translations by ISO code; a language without one
	// has Name, as QloApps copies the first language's texts into a
	// language it adds.
	NameIn        map[string]string
	Description   string // HTML, as QloApps keeps it
	MaxAdults     int
	MaxChildren   int
	MaxGuests     int     // 0: MaxAdults + MaxChildren
	PricePerNight float64 // tax excluded
	Rooms         []string
	// TaxRulesGroup is the product's id_tax_rules_group; 0 means 1.
	TaxRulesGroup int
	// Services are the ids of the services linked to the room type.
	Services []int
}

// ServiceData is a service product (a fee or an extra sold with rooms).
type ServiceData struct {
	ID    int
	Name  string
	Price float64 // tax excluded, per night when PerNight, else per stay
	// AutoAdd services are added to every booked room by QloApps itself;
	// WithRoom ones have their price in the room's (hotel_ari's totals
	// include them).
	AutoAdd, WithRoom, PerNight bool
	TaxRulesGroup               int
}

// Fault is an injected misbehaviour.
type Fault int

const (
	// ServerError answers 500 with a PrestaShop error document.
	ServerError Fault = iota + 1
	// MalformedJSON answers 200 with a truncated JSON document.
	MalformedJSON
	// Unauthorized answers 401 as for a wrong key.
	Unauthorized
	// Hang processes the request (a booking is made) and then holds the
	// answer for the fault's delay, or until the client goes away: the
	// "server did it but the answer was lost" case.
	Hang
	// FailAfterWrite processes the request, then answers 500 as QloApps
	// 1.6.1 does after a PHP warning in a write it completed.
	FailAfterWrite
)

type pendingFault struct {
	endpoint string
	left     int
	fault    Fault
	delay    time.Duration
}

// Booking is the fake's record of a booking (an order), for assertions.
type Booking struct {
	ID            int
	HotelID       int
	Status        int // 1 new, 2 completed, 3 cancelled, 4 refunded
	PaymentStatus int
	Currency      string
	Source        string
	Remarks       []string
	Customer      Customer
	Lines         []Line
	Created       time.Time
}

// Customer is a booking's guest.
type Customer struct{ Firstname, Lastname, Email, Phone string }

// Line is a room type booked for a date range with the rooms assigned.
type Line struct {
	RoomTypeID int
	From, To   string // ISO dates, To exclusive
	Rooms      []BookedRoom
}

// Total is the line's price, tax excluded: its rooms and their services.
func (l Line) Total() float64 {
	var sum float64
	for _, r := range l.Rooms {
		sum += r.Total()
	}
	return sum
}

// BookedRoom is one physical room of a line.
type BookedRoom struct {
	IDRoom, Adults, Children int
	ChildAges                []int
	Price                    float64 // the room for the stay, tax excluded
	Services                 []BookedService
}

// Total is the room's price with its services, tax excluded.
func (r BookedRoom) Total() float64 {
	sum := r.Price
	for _, sv := range r.Services {
		sum += sv.Price
	}
	return sum
}

// BookedService is a service a booked room carries.
type BookedService struct {
	ID    int
	Price float64 // for the stay, tax excluded
}

type room struct {
	id       int
	typeID   int
	number   string
	position int
}

// Server is the fake webservice. Its zero value is not usable; use New or Start.
type Server struct {
	// URL is the shop root (the webservice is under URL + "/api").
	URL string
	// Key is the webservice key it accepts.
	Key string
	// Currency is the shop's currency (the only one bookings may use).
	Currency string
	// TaxRate is added to room prices (0.1 = 10%).
	TaxRate float64

	srv *httptest.Server

	mu        sync.Mutex
	hotels    map[int]*HotelData
	roomTypes map[int]*RoomTypeData
	services  map[int]*ServiceData
	rooms     map[int]*room
	nextRoom  int
	bookings  map[int]*Booking
	nextID    int
	faults    []*pendingFault
	calls     map[string]int
}

// New starts a fake with key as its webservice key, seeded with hotel 1 and
// two room types: 1 "General Rooms" (3 rooms, 100/night, 2 adults + 1 child)
// and 2 "Delux Rooms" (2 rooms, 150/night, 3 adults + 2 children), USD, 10% tax,
// named in English and Spanish ("Habitaciones generales", "Habitaciones de
// lujo"; ShopLanguages).
func New(key string) *Server {
	s := &Server{
		Key: key, Currency: "USD", TaxRate: 0.10,
		hotels: map[int]*HotelData{}, roomTypes: map[int]*RoomTypeData{}, rooms: map[int]*room{}, services: map[int]*ServiceData{},
		bookings: map[int]*Booking{}, calls: map[string]int{},
	}
	s.AddHotel(HotelData{ID: 1, Name: "The Hotel Prime", Address: "Monticello Dr", City: "Montgomery",
		Phone: "0987654321", Email: "hotelprime@htl.com", CheckIn: "12:00", CheckOut: "11:00"})
	s.AddRoomType(RoomTypeData{ID: 1, HotelID: 1, Name: "General Rooms", NameIn: map[string]string{"es": "Habitaciones generales"}, Description: "<p>Simple and <b>quiet</b>.</p>",
		MaxAdults: 2, MaxChildren: 1, PricePerNight: 100, Rooms: []string{"A-101", "A-102", "A-103"}})
	s.AddRoomType(RoomTypeData{ID: 2, HotelID: 1, Name: "Delux Rooms", NameIn: map[string]string{"es": "Habitaciones de lujo"}, Description: "<p>Sea view.</p>",
		MaxAdults: 3, MaxChildren: 2, PricePerNight: 150, Rooms: []string{"B-201", "B-202"}})
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Start is New with the server closed when the test ends.
func Start(tb testing.TB, key string) *Server {
	tb.Helper()
	s := New(key)
	tb.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AddHotel adds or replaces a hotel.
func (s *Server) AddHotel(h HotelData) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hotels[h.ID] = &h
}

// AddService adds or replaces a service product.
func (s *Server) AddService(sv ServiceData) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sv.TaxRulesGroup == 0 {
		sv.TaxRulesGroup = 1
	}
	s.services[sv.ID] = &sv
}

// LinkService makes a service one of a room type's.
func (s *Server) LinkService(roomTypeID, serviceID int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt := s.roomTypes[roomTypeID]; rt != nil {
		rt.Services = append(rt.Services, serviceID)
	}
}

// AddRoomType adds a room type and its rooms (replacing none: ids must be new).
func (s *Server) AddRoomType(rt RoomTypeData) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt.TaxRulesGroup == 0 {
		rt.TaxRulesGroup = 1
	}
	if rt.MaxGuests == 0 {
		rt.MaxGuests = rt.MaxAdults + rt.MaxChildren
	}
	s.roomTypes[rt.ID] = &rt
	for i, n := range rt.Rooms {
		s.nextRoom++
		s.rooms[s.nextRoom] = &room{id: s.nextRoom, typeID: rt.ID, number: n, position: i}
	}
}

// Inject makes the next n calls to endpoint ("" for any) misbehave. Hang
// holds each answer for delay.
func (s *Server) Inject(endpoint string, n int, f Fault, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &pendingFault{endpoint: endpoint, left: n, fault: f, delay: delay})
}

// ClearFaults drops every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Calls is how many requests reached endpoint (authenticated or not).
func (s *Server) Calls(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[endpoint]
}

// TotalCalls is how many requests reached the server.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// Bookings is a copy of every booking made, in id order.
func (s *Server) Bookings() []Booking {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Booking, 0, len(s.bookings))
	for _, b := range s.sortedBookingsLocked() {
		c := *b
		c.Lines = append([]Line(nil), b.Lines...)
		out = append(out, c)
	}
	return out
}

// FreeRooms is how many rooms of a type are free for every night of [from, to).
func (s *Server) FreeRooms(roomTypeID int, from, to string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, _ := time.Parse(time.DateOnly, from)
	t, _ := time.Parse(time.DateOnly, to)
	return len(s.freeRoomsLocked(roomTypeID, f, t))
}

// ---- plumbing -------------------------------------------------------------

type apiError struct {
	status int
	msg    string
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="Welcome to QloApps Webservice, please enter the authentication key as the login. No password required."`)
	}
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"code": status, "message": msg}}})
}

// endpoints are the handlers by endpoint key; route accepts only these.
var endpoints = map[string]func(s *Server, w http.ResponseWriter, r *http.Request, id int) *apiError{
	HotelARI:       (*Server).hotelARI,
	Hotels:         (*Server).listHotels,
	Hotel:          (*Server).hotel,
	HotelRoomTypes: (*Server).hotelRoomTypes,
	RoomTypes:      (*Server).listRoomTypes,
	RoomType:       (*Server).roomType,
	CreateBooking:  (*Server).createBooking,
	GetBooking:     (*Server).getBooking,
	UpdateBooking:  (*Server).updateBooking,
	Orders:         (*Server).orders,
	Services:       (*Server).listServices,
	Languages:      (*Server).languages,
}

// route maps a request to its endpoint key and the id in the path, if any.
func route(method, path string) (key string, id int, ok bool) {
	p, found := strings.CutPrefix(path, "/api/")
	if !found {
		return "", 0, false
	}
	res, rest, hasID := strings.Cut(strings.Trim(p, "/"), "/")
	key = method + " /api/" + res
	if hasID {
		n, err := strconv.Atoi(rest)
		if err != nil || n <= 0 {
			return "", 0, false
		}
		key, id = key+"/{id}", n
	}
	if _, ok := endpoints[key]; !ok {
		return "", 0, false
	}
	return key, id, true
}

func (s *Server) takeFault(key string) *pendingFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.endpoint == "" || f.endpoint == key {
			f.left--
			if f.left <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return f
		}
	}
	return nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	key, id, ok := route(r.Method, r.URL.Path)
	s.mu.Lock()
	if ok {
		s.calls[key]++
	} else {
		s.calls[r.Method+" "+r.URL.Path]++
	}
	s.mu.Unlock()

	user, pass, hasAuth := r.BasicAuth()
	if !hasAuth || user != s.Key || pass != "" {
		writeError(w, http.StatusUnauthorized, "401 Unauthorized")
		return
	}
	if r.URL.Query().Get("output_format") != "JSON" {
		writeError(w, http.StatusBadRequest, "fake qloapps: this client must ask output_format=JSON")
		return
	}
	if !ok {
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("fake qloapps: no %s %s", r.Method, r.URL.Path))
		return
	}
	f := s.takeFault(key)
	if f != nil {
		switch f.fault {
		case ServerError:
			writeError(w, http.StatusInternalServerError, "Internal Server Error (injected)")
			return
		case Unauthorized:
			writeError(w, http.StatusUnauthorized, "401 Unauthorized (injected)")
			return
		case MalformedJSON:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"hotel_ari":{"id_hotel":"1","room_types":[{"id_room_type":1,"na`)
			return
		}
	}
	rec := httptest.NewRecorder()
	s.handle(rec, r, key, id)
	if f != nil && f.fault == FailAfterWrite {
		e := phpWarning("504")
		writeError(w, e.status, e.msg)
		return
	}
	if f != nil && f.fault == Hang {
		select {
		case <-time.After(f.delay):
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request, key string, id int) {
	if err := endpoints[key](s, w, r, id); err != nil {
		writeError(w, err.status, err.msg)
	}
}

func bad(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// filterValues reads filter[field]=[v1|v2]; ok is false when absent, err
// when the value lacks PrestaShop's brackets.
func filterValues(r *http.Request, field string) (vals []string, ok bool, err *apiError) {
	raw, present := r.URL.Query()["filter["+field+"]"]
	if !present {
		return nil, false, nil
	}
	v := raw[0]
	if len(v) < 2 || v[0] != '[' || v[len(v)-1] != ']' {
		return nil, true, bad("fake qloapps: filter[%s] must be [v1|v2], got %q", field, v)
	}
	return strings.Split(v[1:len(v)-1], "|"), true, nil
}

// lang is a multilingual field: text in every language, or its
// translation by ISO code from in.
func lang(text string, in map[string]string) []map[string]string {
	out := make([]map[string]string, 0, len(ShopLanguages))
	for _, l := range ShopLanguages {
		v := text
		if t, ok := in[l.ISOCode]; ok {
			v = t
		}
		out = append(out, map[string]string{"id": strconv.Itoa(l.ID), "value": v})
	}
	return out
}

func (s *Server) languages(w http.ResponseWriter, _ *http.Request, _ int) *apiError {
	list := make([]map[string]any, 0, len(ShopLanguages))
	for _, l := range ShopLanguages {
		list = append(list, map[string]any{"id": l.ID, "iso_code": l.ISOCode, "active": "1"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"languages": list})
	return nil
}

func (s *Server) freeRoomsLocked(typeID int, from, to time.Time) []*room {
	var out []*room
	for _, rm := range s.rooms {
		if rm.typeID != typeID {
			continue
		}
		taken := false
		for _, b := range s.bookings {
			if b.Status == 3 || b.Status == 4 {
				continue
			}
			for _, l := range b.Lines {
				lf, _ := time.Parse(time.DateOnly, l.From)
				lt, _ := time.Parse(time.DateOnly, l.To)
				if !(lf.Before(to) && from.Before(lt)) {
					continue
				}
				for _, br := range l.Rooms {
					if br.IDRoom == rm.id {
						taken = true
					}
				}
			}
		}
		if !taken {
			out = append(out, rm)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// ---- hotel_ari ------------------------------------------------------------

type ariXML struct {
	XMLName xml.Name `xml:"qloapps"`
	ARI     *struct {
		IDHotel           string `xml:"id_hotel"`
		DateFrom          string `xml:"date_from"`
		DateTo            string `xml:"date_to"`
		GetAvailableRooms string `xml:"get_available_rooms"`
		Occupancies       []struct {
			Adults   string `xml:"adults"`
			Children string `xml:"children"`
		} `xml:"associations>room_occupancies>room_occupancy"`
	} `xml:"hotel_ari"`
}

func (s *Server) hotelARI(w http.ResponseWriter, r *http.Request, _ int) *apiError {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	body = bytes.TrimPrefix(bytes.TrimSpace(body), []byte("xml="))
	var req ariXML
	if err := xml.Unmarshal(body, &req); err != nil {
		return bad("XML error : %v", err)
	}
	if req.ARI == nil {
		return bad("fake qloapps: <qloapps><hotel_ari> is required")
	}
	a := req.ARI
	idHotel, err := strconv.Atoi(strings.TrimSpace(a.IDHotel))
	if err != nil || idHotel <= 0 {
		return bad("id_hotel is required and must be a positive integer")
	}
	from, err1 := time.Parse(time.DateOnly, strings.TrimSpace(a.DateFrom))
	to, err2 := time.Parse(time.DateOnly, strings.TrimSpace(a.DateTo))
	if err1 != nil || err2 != nil {
		return bad("date_from and date_to are required dates (YYYY-MM-DD)")
	}
	if !to.After(from) {
		return bad("date_to must be after date_from")
	}
	adults, children := 0, 0
	for _, o := range a.Occupancies {
		ad, e1 := strconv.Atoi(strings.TrimSpace(o.Adults))
		ch, e2 := strconv.Atoi(strings.TrimSpace(o.Children))
		if e1 != nil || e2 != nil || ad < 1 || ch < 0 {
			return bad("room_occupancy needs adults (>=1) and children (>=0)")
		}
		adults, children = max(adults, ad), max(children, ch)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hotels[idHotel] == nil {
		return &apiError{http.StatusNotFound, "hotel not found"}
	}
	nights := int(to.Sub(from).Hours() / 24)
	var types []*RoomTypeData
	for _, rt := range s.roomTypes {
		if rt.HotelID == idHotel {
			types = append(types, rt)
		}
	}
	sort.Slice(types, func(i, j int) bool { return types[i].ID < types[j].ID })
	roomTypes := []map[string]any{}
	total := 0
	for _, rt := range types {
		if len(a.Occupancies) > 0 && (adults > rt.MaxAdults || children > rt.MaxChildren) {
			continue
		}
		avail := []map[string]string{}
		for _, rm := range s.freeRoomsLocked(rt.ID, from, to) {
			avail = append(avail, map[string]string{"id_room": strconv.Itoa(rm.id), "room_number": rm.number})
		}
		total += len(avail)
		price := rt.PricePerNight*float64(nights) + s.withRoomAutoLocked(rt, nights)
		roomTypes = append(roomTypes, map[string]any{
			"id_room_type":         rt.ID,
			"base_price":           rt.PricePerNight,
			"base_price_with_tax":  round2(rt.PricePerNight * (1 + s.TaxRate)),
			"total_price":          round2(price),
			"total_price_with_tax": round2(price * (1 + s.TaxRate)),
			"name":                 rt.Name,
			"rooms":                map[string]any{"available": avail, "partially_available": []any{}},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"hotel_ari": map[string]any{
		"id_hotel": strconv.Itoa(idHotel), "date_from": a.DateFrom, "date_to": a.DateTo,
		"currency": s.Currency, "total_available_rooms": total, "room_types": roomTypes,
	}})
	return nil
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// withRoomAutoLocked is the price (tax excluded) of the services QloApps
// adds on its own to a room of rt with their price in the room's.
func (s *Server) withRoomAutoLocked(rt *RoomTypeData, nights int) float64 {
	var sum float64
	for _, id := range rt.Services {
		if sv := s.services[id]; sv != nil && sv.AutoAdd && sv.WithRoom {
			sum += sv.priceFor(nights)
		}
	}
	return sum
}

func (sv *ServiceData) priceFor(nights int) float64 {
	if sv.PerNight {
		return sv.Price * float64(nights)
	}
	return sv.Price
}

// ---- hotels and room types -------------------------------------------------

func (s *Server) listHotels(w http.ResponseWriter, r *http.Request, _ int) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int, 0, len(s.hotels))
	for id := range s.hotels {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l >= 0 && l < len(ids) {
		ids = ids[:l]
	}
	out := []map[string]any{}
	for _, id := range ids {
		out = append(out, map[string]any{"id": id})
	}
	writeJSON(w, http.StatusOK, map[string]any{"hotels": out})
	return nil
}

func (s *Server) hotel(w http.ResponseWriter, _ *http.Request, id int) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hotels[id]
	if h == nil {
		return &apiError{http.StatusNotFound, "hotel not found"}
	}
	writeJSON(w, http.StatusOK, map[string]any{"hotel": map[string]any{
		"id": h.ID, "id_category": "3", "hotel_name": lang(h.Name, nil), "email": h.Email,
		"check_in": h.CheckIn, "check_out": h.CheckOut, "rating": "3", "active": "1",
		"address": h.Address, "city": h.City, "zipcode": "", "phone": h.Phone,
		"id_country": "21", "id_state": "", "short_description": lang("", nil), "description": lang("", nil),
		"policies": lang("", nil), "latitude": "0", "longitude": "0",
	}})
	return nil
}

func (s *Server) hotelRoomTypes(w http.ResponseWriter, r *http.Request, _ int) *apiError {
	hotelIDs, _, ferr := filterValues(r, "id_hotel")
	if ferr != nil {
		return ferr
	}
	full := r.URL.Query().Get("display") == "full"
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []map[string]any
	ids := sortedTypeIDs(s.roomTypes)
	for i, id := range ids {
		rt := s.roomTypes[id]
		if hotelIDs != nil && !contains(hotelIDs, strconv.Itoa(rt.HotelID)) {
			continue
		}
		row := map[string]any{"id": i + 1}
		if full {
			row["id_product"] = strconv.Itoa(rt.ID)
			row["id_hotel"] = strconv.Itoa(rt.HotelID)
			row["adults"] = strconv.Itoa(rt.MaxAdults)
			row["children"] = strconv.Itoa(rt.MaxChildren)
			row["max_adults"] = strconv.Itoa(rt.MaxAdults)
			row["max_children"] = strconv.Itoa(rt.MaxChildren)
			row["max_guests"] = strconv.Itoa(rt.MaxGuests)
		}
		list = append(list, row)
	}
	if len(list) == 0 {
		// PrestaShop renders an empty listing as a bare JSON array.
		writeJSON(w, http.StatusOK, []any{})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"hotel_room_types": list})
	return nil
}

func sortedTypeIDs(m map[int]*RoomTypeData) []int {
	ids := make([]int, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if strings.TrimSpace(x) == v {
			return true
		}
	}
	return false
}

func productJSON(rt *RoomTypeData) map[string]any {
	services := []map[string]any{}
	for _, id := range rt.Services {
		services = append(services, map[string]any{"id": id, "price": nil, "id_tax_rules_group": nil})
	}
	return map[string]any{"id": rt.ID, "name": lang(rt.Name, rt.NameIn), "description_short": lang(rt.Description, nil),
		"price": fmt.Sprintf("%.6f", rt.PricePerNight), "active": "1", "id_tax_rules_group": rt.TaxRulesGroup,
		"associations": map[string]any{"services": services}}
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request, _ int) *apiError {
	ids, _, ferr := filterValues(r, "id")
	if ferr != nil {
		return ferr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]int, 0, len(s.services))
	for id := range s.services {
		keys = append(keys, id)
	}
	sort.Ints(keys)
	var list []map[string]any
	for _, id := range keys {
		if ids != nil && !contains(ids, strconv.Itoa(id)) {
			continue
		}
		sv := s.services[id]
		addition, calc := 2, 1
		if sv.WithRoom {
			addition = 1
		}
		if sv.PerNight {
			calc = 2
		}
		list = append(list, map[string]any{"id": sv.ID, "name": sv.Name, "active": 1, "auto_add_to_cart": boolInt(sv.AutoAdd),
			"price_addition_type": addition, "price_calculation_method": calc, "id_tax_rules_group": sv.TaxRulesGroup,
			"price": fmt.Sprintf("%.6f", sv.Price)})
	}
	if len(list) == 0 {
		writeJSON(w, http.StatusOK, []any{})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"services": list})
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Server) listRoomTypes(w http.ResponseWriter, r *http.Request, _ int) *apiError {
	ids, _, ferr := filterValues(r, "id")
	if ferr != nil {
		return ferr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []map[string]any
	for _, id := range sortedTypeIDs(s.roomTypes) {
		if ids != nil && !contains(ids, strconv.Itoa(id)) {
			continue
		}
		list = append(list, productJSON(s.roomTypes[id]))
	}
	if len(list) == 0 {
		writeJSON(w, http.StatusOK, []any{})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"room_types": list})
	return nil
}

func (s *Server) roomType(w http.ResponseWriter, _ *http.Request, id int) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.roomTypes[id]
	if rt == nil {
		return &apiError{http.StatusNotFound, "room type not found"}
	}
	writeJSON(w, http.StatusOK, map[string]any{"room_type": productJSON(rt)})
	return nil
}

// ---- bookings -------------------------------------------------------------

// num reads a JSON number or numeric string (QloApps' PHP accepts both).
type num struct {
	set bool
	v   float64
}

func (n *num) UnmarshalJSON(b []byte) error {
	str := strings.Trim(string(b), `"`)
	if str == "null" || str == "" {
		return nil
	}
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return fmt.Errorf("%s is not a number", b)
	}
	n.set, n.v = true, v
	return nil
}

func (n num) int() int { return int(n.v) }

// reqRoom is a room of a booking request. QloApps reads adult, child and
// child_ages, counts no child when child_ages is missing, and warns (a 500
// answer, with the write done) about a room or service that names neither
// an id_tax_rules_group nor a total_tax.
type reqRoom struct {
	IDRoom          num             `json:"id_room"`
	Adult           num             `json:"adult"`
	Child           num             `json:"child"`
	ChildAges       json.RawMessage `json:"child_ages"`
	IDTaxRulesGroup *num            `json:"id_tax_rules_group"`
	TotalTax        *num            `json:"total_tax"`
	Services        []reqService    `json:"services"`
}

type reqService struct {
	IDService       num  `json:"id_service"`
	Quantity        num  `json:"quantity"`
	IDTaxRulesGroup *num `json:"id_tax_rules_group"`
	TotalTax        *num `json:"total_tax"`
}

// phpWarning is what QloApps answers after a PHP warning: the webservice's
// error handler turns it into a 500, although what the request asked for
// was done.
func phpWarning(line string) *apiError {
	return &apiError{http.StatusInternalServerError, "[PHP Warning #2] Undefined array key \"total_tax\" (classes/webservice/WebserviceSpecificManagementBookings.php, line " + line + ")"}
}

// taxWarning is the warning a room or one of its services raises, if any.
func taxWarning(rm reqRoom) *apiError {
	if rm.IDTaxRulesGroup == nil && rm.TotalTax == nil {
		return phpWarning("504")
	}
	for _, sv := range rm.Services {
		if sv.IDTaxRulesGroup == nil && sv.TotalTax == nil {
			return phpWarning("580")
		}
	}
	return nil
}

// occupancy is how QloApps reads a room's party: the room type's base
// adults when adult is missing, and no child without child ages.
func occupancy(rm reqRoom, rt *RoomTypeData) (adults, children int, ages []int) {
	adults = rt.MaxAdults
	if rm.Adult.set && rm.Adult.int() > 0 {
		adults = rm.Adult.int()
	}
	if err := json.Unmarshal(rm.ChildAges, &ages); err != nil || len(ages) == 0 {
		return adults, 0, nil
	}
	return adults, rm.Child.int(), ages
}

type reqRoomType struct {
	IDRoomType    num       `json:"id_room_type"`
	CheckinDate   string    `json:"checkin_date"`
	CheckoutDate  string    `json:"checkout_date"`
	NumberOfRooms num       `json:"number_of_rooms"`
	Rooms         []reqRoom `json:"rooms"`
}

type reqCustomer struct {
	Firstname string `json:"firstname"`
	Lastname  string `json:"lastname"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
}

type reqBooking struct {
	ID             *num         `json:"id"`
	IDProperty     num          `json:"id_property"`
	BookingStatus  num          `json:"booking_status"`
	PaymentStatus  num          `json:"payment_status"`
	Currency       string       `json:"currency"`
	Source         string       `json:"source"`
	Remark         string       `json:"remark"`
	CustomerDetail *reqCustomer `json:"customer_detail"`
	Associations   struct {
		CustomerDetail *reqCustomer  `json:"customer_detail"`
		RoomTypes      []reqRoomType `json:"room_types"`
	} `json:"associations"`
}

func readBooking(r *http.Request) (*reqBooking, *apiError) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var doc struct {
		Booking *reqBooking `json:"booking"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, &apiError{http.StatusInternalServerError, "Invalid request."}
	}
	if doc.Booking == nil {
		return nil, &apiError{http.StatusInternalServerError, "Invalid request."}
	}
	b := doc.Booking
	if b.CustomerDetail == nil {
		b.CustomerDetail = b.Associations.CustomerDetail
	}
	return b, nil
}

func parseDay(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 10 {
		s = s[:10]
	}
	t, err := time.Parse(time.DateOnly, s)
	return t, err == nil
}

// validateLines checks room_types as QloApps' validateRoomType does.
func (s *Server) validateLines(b *reqBooking, hotelID int) *apiError {
	if len(b.Associations.RoomTypes) == 0 {
		return bad("Rooms not found in the request.")
	}
	for _, rt := range b.Associations.RoomTypes {
		if !rt.IDRoomType.set {
			return bad("Id room type is missing")
		}
		in, ok1 := parseDay(rt.CheckinDate)
		out, ok2 := parseDay(rt.CheckoutDate)
		if !ok1 {
			return bad("Invalid check in date in the request")
		}
		if !ok2 {
			return bad("Invalid check out date in the request")
		}
		if !rt.NumberOfRooms.set || rt.NumberOfRooms.int() < 1 {
			return bad("number of rooms is missing")
		}
		t := s.roomTypes[rt.IDRoomType.int()]
		if t == nil || t.HotelID != hotelID {
			return bad("Invalid room type in the request")
		}
		if len(rt.Rooms) > 0 && len(rt.Rooms) != rt.NumberOfRooms.int() {
			return bad("Room count does not matches with the number of rooms")
		}
		if !out.After(in) {
			return bad("Invalid check in and check out dates in the request")
		}
		for _, rm := range rt.Rooms {
			if len(rm.ChildAges) > 0 && rm.ChildAges[0] != '[' && rm.ChildAges[0] != '{' {
				return bad("child_ages must be a list")
			}
		}
	}
	return nil
}

func (s *Server) createBooking(w http.ResponseWriter, r *http.Request, _ int) *apiError {
	b, aerr := readBooking(r)
	if aerr != nil {
		return aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := b.CustomerDetail
	switch {
	case b.ID != nil:
		return bad("id is forbidden when adding a new resource")
	case b.Currency == "" || !strings.EqualFold(b.Currency, s.Currency):
		return bad("Please provide valid currency.")
	case c == nil:
		return bad("Customer details not found.")
	case !b.IDProperty.set || s.hotels[b.IDProperty.int()] == nil:
		return bad("Please provide a valid id_property.")
	case strings.TrimSpace(c.Firstname) == "":
		return bad("Please provide a valid first name.")
	case strings.TrimSpace(c.Lastname) == "":
		return bad("Please provide a valid last name.")
	case strings.TrimSpace(c.Email) == "":
		return bad("Please provide a valid email.")
	case strings.TrimSpace(c.Phone) == "":
		return bad("Please provide a valid phone number.")
	case !b.BookingStatus.set || b.BookingStatus.int() < 1 || b.BookingStatus.int() > 4:
		return bad("Invalid booking status.")
	case !b.PaymentStatus.set || b.PaymentStatus.int() < 1 || b.PaymentStatus.int() > 3:
		return bad("Invalid payment status.")
	}
	hotelID := b.IDProperty.int()
	if err := s.validateLines(b, hotelID); err != nil {
		return err
	}
	nb := &Booking{HotelID: hotelID, Status: b.BookingStatus.int(), PaymentStatus: b.PaymentStatus.int(),
		Currency: strings.ToUpper(b.Currency), Source: b.Source, Created: time.Now(),
		Customer: Customer{c.Firstname, c.Lastname, c.Email, c.Phone}}
	if strings.TrimSpace(b.Remark) != "" {
		nb.Remarks = []string{b.Remark}
	}
	// Assign rooms line by line, holding them in the booking as we go so two
	// lines of one request cannot take the same room.
	var warning *apiError
	s.nextID++
	nb.ID = s.nextID
	s.bookings[nb.ID] = nb
	for _, rt := range b.Associations.RoomTypes {
		in, _ := parseDay(rt.CheckinDate)
		out, _ := parseDay(rt.CheckoutDate)
		free := s.freeRoomsLocked(rt.IDRoomType.int(), in, out)
		n := rt.NumberOfRooms.int()
		if len(free) < n {
			delete(s.bookings, nb.ID)
			s.nextID--
			return bad("Requested room(s) not available.")
		}
		t := s.roomTypes[rt.IDRoomType.int()]
		nights := int(out.Sub(in).Hours() / 24)
		l := Line{RoomTypeID: t.ID, From: in.Format(time.DateOnly), To: out.Format(time.DateOnly)}
		for i := 0; i < n; i++ {
			br := BookedRoom{IDRoom: free[i].id, Adults: t.MaxAdults, Price: t.PricePerNight * float64(nights)}
			if i < len(rt.Rooms) {
				br.Adults, br.Children, br.ChildAges = occupancy(rt.Rooms[i], t)
				br.Services = s.servicesLocked(rt.Rooms[i].Services, nights)
				if w := taxWarning(rt.Rooms[i]); w != nil && warning == nil {
					warning = w
				}
			} else {
				warning = phpWarning("504")
			}
			l.Rooms = append(l.Rooms, br)
		}
		nb.Lines = append(nb.Lines, l)
	}
	if warning != nil {
		return warning
	}
	writeJSON(w, http.StatusOK, map[string]any{"booking": s.bookingJSON(nb)})
	return nil
}

// servicesLocked prices the requested services of a room, as QloApps keeps
// them: only services it knows, each at its own price.
func (s *Server) servicesLocked(req []reqService, nights int) []BookedService {
	var out []BookedService
	for _, q := range req {
		if sv := s.services[q.IDService.int()]; sv != nil {
			out = append(out, BookedService{ID: sv.ID, Price: sv.priceFor(nights)})
		}
	}
	return out
}

// bookingJSON renders a booking as QloApps 1.6.1's getBookingDetails does:
// no booking_status, price_details without a tax-included total, and for
// each room its own price (unit_price_without_tax, for the whole stay) and
// tax, without the services QloApps added.
func (s *Server) bookingJSON(b *Booking) map[string]any {
	var total float64
	roomTypes := []map[string]any{}
	for _, l := range b.Lines {
		t := s.roomTypes[l.RoomTypeID]
		rooms := []map[string]any{}
		var lineTax float64
		for _, rm := range l.Rooms {
			lineTax += rm.Price * s.TaxRate
			rooms = append(rooms, map[string]any{"id_room": rm.IDRoom, "id_hotel_booking": rm.IDRoom*1000 + b.ID,
				"adults": rm.Adults, "child": rm.Children, "unit_price_without_tax": round2(rm.Price),
				"total_tax": round2(rm.Price * s.TaxRate)})
		}
		total += l.Total()
		roomTypes = append(roomTypes, map[string]any{
			"id_room_type": l.RoomTypeID, "checkin_date": l.From + " 00:00:00", "checkout_date": l.To + " 00:00:00",
			"total_tax": round2(lineTax), "number_of_rooms": len(l.Rooms), "name": t.Name, "rooms": rooms,
		})
	}
	remarks := []string{}
	remarks = append(remarks, b.Remarks...)
	return map[string]any{
		"id": b.ID, "id_property": b.HotelID, "currency": b.Currency, "source": b.Source,
		"booking_date": b.Created.Format(time.DateTime), "id_language": 1,
		"associations": map[string]any{
			"customer_detail": map[string]any{"id_customer": 1, "firstname": b.Customer.Firstname,
				"lastname": b.Customer.Lastname, "email": b.Customer.Email, "phone": b.Customer.Phone},
			"price_details": map[string]any{"total_paid": 0, "total_price_without_tax": round2(total),
				"total_tax": round2(total * s.TaxRate)},
			"cart_rules": []any{},
			"remarks":    remarks,
			"room_types": roomTypes,
		},
	}
}

func (s *Server) getBooking(w http.ResponseWriter, _ *http.Request, id int) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bookings[id]
	if b == nil {
		return &apiError{http.StatusNotFound, "booking not found"}
	}
	writeJSON(w, http.StatusOK, map[string]any{"booking": s.bookingJSON(b)})
	return nil
}

// updateBooking handles PUT as QloApps does for what our client sends: a
// status change, keeping the rooms listed and removing those not listed.
func (s *Server) updateBooking(w http.ResponseWriter, r *http.Request, id int) *apiError {
	b, aerr := readBooking(r)
	if aerr != nil {
		return aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case b.ID == nil || !b.ID.set:
		return bad("id is required with PUT requests.")
	case b.ID.int() != id:
		return bad("fake qloapps: id in the body (%d) differs from the URL (%d)", b.ID.int(), id)
	case s.bookings[id] == nil:
		return bad("Booking not found.")
	case b.BookingStatus.set && (b.BookingStatus.int() < 1 || b.BookingStatus.int() > 4):
		return bad("Invalid booking status.")
	case len(b.Associations.RoomTypes) == 0:
		return bad("Rooms not found in the request.")
	case !b.IDProperty.set || s.hotels[b.IDProperty.int()] == nil:
		return bad("Please provide a valid id_property.")
	case b.CustomerDetail == nil || !strings.EqualFold(b.CustomerDetail.Email, s.bookings[id].Customer.Email):
		return bad("Customer not found.")
	}
	if err := s.validateLines(b, b.IDProperty.int()); err != nil {
		return err
	}
	cur := s.bookings[id]
	var warning *apiError
	var kept []Line
	for _, l := range cur.Lines {
		var req *reqRoomType
		for i, rt := range b.Associations.RoomTypes {
			in, _ := parseDay(rt.CheckinDate)
			out, _ := parseDay(rt.CheckoutDate)
			if rt.IDRoomType.int() == l.RoomTypeID && in.Format(time.DateOnly) == l.From && out.Format(time.DateOnly) == l.To {
				req = &b.Associations.RoomTypes[i]
			}
		}
		if req == nil {
			continue // QloApps removes rooms a PUT does not list
		}
		nl := l
		nl.Rooms = nil
		nights := 0
		if f, ok := parseDay(l.From); ok {
			if to, ok := parseDay(l.To); ok {
				nights = int(to.Sub(f).Hours() / 24)
			}
		}
		for _, rm := range l.Rooms {
			for _, q := range req.Rooms {
				if q.IDRoom.int() == rm.IDRoom {
					// QloApps replaces the room's services with the ones sent.
					rm.Services = s.servicesLocked(q.Services, nights)
					if w := taxWarning(q); w != nil && warning == nil {
						warning = w
					}
					nl.Rooms = append(nl.Rooms, rm)
				}
			}
		}
		if len(req.Rooms) == 0 {
			for _, rm := range l.Rooms {
				rm.Services = nil
				nl.Rooms = append(nl.Rooms, rm)
			}
		}
		if len(nl.Rooms) > 0 {
			kept = append(kept, nl)
		}
	}
	for _, rt := range b.Associations.RoomTypes {
		for _, q := range rt.Rooms {
			if !q.IDRoom.set {
				return bad("fake qloapps: adding rooms with PUT is not supported")
			}
		}
	}
	cur.Lines = kept
	if b.BookingStatus.set {
		cur.Status = b.BookingStatus.int()
	}
	if strings.TrimSpace(b.Remark) != "" {
		cur.Remarks = append(cur.Remarks, b.Remark)
	}
	if warning != nil {
		return warning
	}
	writeJSON(w, http.StatusOK, map[string]any{"booking": s.bookingJSON(cur)})
	return nil
}

// ---- orders ---------------------------------------------------------------

func (s *Server) orders(w http.ResponseWriter, r *http.Request, _ int) *apiError {
	sources, _, ferr := filterValues(r, "source")
	if ferr != nil {
		return ferr
	}
	ids, _, ferr := filterValues(r, "id")
	if ferr != nil {
		return ferr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []map[string]any
	for _, b := range s.sortedBookingsLocked() {
		if sources != nil && !contains(sources, b.Source) {
			continue
		}
		if ids != nil && !contains(ids, strconv.Itoa(b.ID)) {
			continue
		}
		list = append(list, map[string]any{"id": b.ID, "source": b.Source, "current_state": strconv.Itoa(orderState(b.Status))})
	}
	if len(list) == 0 {
		writeJSON(w, http.StatusOK, []any{})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"orders": list})
	return nil
}

func (s *Server) sortedBookingsLocked() []*Booking {
	out := make([]*Booking, 0, len(s.bookings))
	for _, b := range s.bookings {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// orderState maps a booking status to the order states QloApps' installer
// configures (PS_OS_*).
func orderState(bookingStatus int) int {
	switch bookingStatus {
	case 2:
		return 2 // payment accepted
	case 3:
		return 4 // cancelled
	case 4:
		return 5 // refunded
	}
	return 1 // awaiting payment
}
