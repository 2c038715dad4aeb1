// Package qloapps is the pms.PMS backed by a QloApps webservice. It targets
// QloApps 1.6.1 (its webservice/ and modules/hotelreservationsystem/
// resources): hotel_ari for availability and rates, hotels, hotel_room_types
// and room_types for the property, bookings for reservations, and the core
// orders resource to find a booking by our idempotency reference.
//
// Authentication is the webservice key as HTTP Basic username with an empty
// password; every call asks for output_format=JSON. The key needs GET on
// hotels, hotel_room_types, room_types, services, orders and languages, POST
// on hotel_ari, and GET/POST/PUT on bookings. Names and descriptions are
// kept in every language the shop has (pms.Text, by the languages' ISO
// codes); a key that may not read languages gets them in the first
// language QloApps gives, untranslated.
//
// Errors wrap the pms sentinels: 401/403 → ErrUnauthorized, 404 →
// ErrNotFound, a booking QloApps refuses because the rooms are gone →
// ErrSoldOut, a booking refused for a customer_detail field →
// *pms.InvalidGuestError (which matches ErrInvalid), other 4xx → ErrInvalid,
// 5xx/transport/timeouts →
// ErrUnavailable, an unreadable answer → ErrMalformed and ErrUnavailable.
// HTTP failures are *APIError values (HTTPStatus() reports the status).
package qloapps

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentehotel/agente-caddy/internal/pms"
)

// TargetVersion is the QloApps release whose webservice this client speaks.
const TargetVersion = "1.6.1"

// Endpoint templates, used in errors and metrics labels.
const (
	EndpointHotelARI       = "/api/hotel_ari"
	EndpointHotels         = "/api/hotels"
	EndpointHotel          = "/api/hotels/{id}"
	EndpointHotelRoomTypes = "/api/hotel_room_types"
	EndpointRoomTypes      = "/api/room_types"
	EndpointBookings       = "/api/bookings"
	EndpointBooking        = "/api/bookings/{id}"
	EndpointOrders         = "/api/orders"
	EndpointServices       = "/api/services"
	EndpointLanguages      = "/api/languages"
)

// Config configures a Client.
type Config struct {
	// BaseURL is the QloApps shop root (https://hotel.example.com); a trailing
	// /api, as in the original system's PMS_BASE_URL, is accepted.
	BaseURL string
	// APIKey is the webservice key.
	APIKey string
	// TimeZone is the IANA zone reported in HotelInfo: QloApps 1.6.1 keeps no
	// time zone per hotel, so it comes from configuration.
	TimeZone string
	// Currency is the ISO code bookings are made in. Empty: the currency
	// QloApps reports in hotel_ari answers (asked once when needed).
	Currency string
	// HTTPClient makes the requests; nil uses a client with sane transport
	// timeouts. Request deadlines come from the caller's context.
	HTTPClient *http.Client
	// RequestTimeout bounds a request whose context has no deadline. Default 10s.
	RequestTimeout time.Duration
	// MaxResponseBytes caps an answer's size. Default 4 MiB.
	MaxResponseBytes int64
	// Now is the clock that decides which stays are in the past. Default
	// time.Now.
	Now func() time.Time
}

// Client is a pms.PMS speaking to one QloApps webservice. It is safe for
// concurrent use.
type Client struct {
	cfg      Config
	base     *url.URL
	http     *http.Client
	loc      *time.Location
	currency atomic.Pointer[string] // learned from hotel_ari when cfg.Currency is empty
	rooms    ttlCache[int, []roomTypeFacts]
	langs    ttlCache[struct{}, map[int]string]
}

var (
	_ pms.PMS           = (*Client)(nil)
	_ pms.GuestRequirer = (*Client)(nil)
)

// New checks cfg and returns a client; it makes no request.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.BaseURL) == "" {
		return nil, errors.New("qloapps: base URL is required")
	}
	u, err := url.Parse(strings.TrimSpace(cfg.BaseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("qloapps: base URL %q must be an absolute http(s) URL", cfg.BaseURL)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api")
	u.RawQuery, u.Fragment = "", ""
	if cfg.APIKey == "" {
		return nil, errors.New("qloapps: webservice key is required")
	}
	loc := time.UTC
	if cfg.TimeZone != "" {
		if loc, err = time.LoadLocation(cfg.TimeZone); err != nil {
			return nil, fmt.Errorf("qloapps: time zone %q: %v", cfg.TimeZone, err)
		}
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 4 << 20
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		}}
	}
	return &Client{cfg: cfg, base: u, http: hc, loc: loc}, nil
}

// Endpoint names the QloApps call behind each operation of the resilience
// layer (method and path template), for its latency metric.
func (c *Client) Endpoint(operation string) (method, endpoint string) {
	switch operation {
	case "availability":
		return http.MethodPost, EndpointHotelARI
	case "hotel_info":
		return http.MethodGet, EndpointHotel
	case "room_types":
		return http.MethodGet, EndpointHotelRoomTypes
	case "create_booking":
		return http.MethodPost, EndpointBookings
	case "get_booking":
		return http.MethodGet, EndpointBooking
	case "cancel_booking":
		return http.MethodPut, EndpointBooking
	case "ping":
		return http.MethodGet, EndpointHotels
	}
	return "", ""
}

// APIError is an HTTP error answer from QloApps.
type APIError struct {
	Method   string
	Endpoint string // path template
	Status   int
	Message  string // QloApps' error message(s), if it sent any
	kind     error  // pms sentinel
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("qloapps %s %s: HTTP %d", e.Method, e.Endpoint, e.Status)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Unwrap returns the pms sentinel the status maps to.
func (e *APIError) Unwrap() error { return e.kind }

// HTTPStatus is the answer's status code.
func (e *APIError) HTTPStatus() int { return e.Status }

func kindOf(status int) error {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return pms.ErrUnauthorized
	case status == http.StatusNotFound:
		return pms.ErrNotFound
	case status >= 400 && status < 500:
		return pms.ErrInvalid
	default:
		return pms.ErrUnavailable
	}
}

// request is one webservice call.
type request struct {
	method   string
	endpoint string // template, for errors
	path     string // actual path under the shop root
	query    url.Values
	body     []byte
	ctype    string
}

// do sends r and decodes a JSON answer into out (nil: ignore the body). It
// returns the raw body for callers that must look at its shape first.
func (c *Client) do(ctx context.Context, r request, out any) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.RequestTimeout)
		defer cancel()
	}
	u := *c.base
	u.Path = c.base.Path + r.path
	q := r.query
	if q == nil {
		q = url.Values{}
	}
	q.Set("output_format", "JSON")
	u.RawQuery = encodeQuery(q)
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("qloapps %s %s: %w", r.method, r.endpoint, err)
	}
	req.SetBasicAuth(c.cfg.APIKey, "")
	req.Header.Set("Accept", "application/json")
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("qloapps %s %s: %w: %w", r.method, r.endpoint, pms.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("qloapps %s %s: reading answer: %w: %w", r.method, r.endpoint, pms.ErrUnavailable, err)
	}
	if int64(len(raw)) > c.cfg.MaxResponseBytes {
		return nil, fmt.Errorf("qloapps %s %s: answer larger than %d bytes: %w: %w", r.method, r.endpoint, c.cfg.MaxResponseBytes, pms.ErrMalformed, pms.ErrUnavailable)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &APIError{Method: r.method, Endpoint: r.endpoint, Status: resp.StatusCode, Message: errorMessage(raw), kind: kindOf(resp.StatusCode)}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return raw, malformed(r, err)
		}
	}
	return raw, nil
}

func malformed(r request, err error) error {
	return fmt.Errorf("qloapps %s %s: %w: %w: %v", r.method, r.endpoint, pms.ErrMalformed, pms.ErrUnavailable, err)
}

// filterUnescaper undoes the escaping of the brackets, pipes and commas of
// PrestaShop's filter[field]=[a|b] and display=[f1,f2] syntax.
var filterUnescaper = strings.NewReplacer("%5B", "[", "%5D", "]", "%7C", "|", "%2C", ",")

// encodeQuery is url.Values.Encode without escaping PrestaShop's filter
// syntax, which the webservice reads literally.
func encodeQuery(q url.Values) string { return filterUnescaper.Replace(q.Encode()) }

// errorMessage extracts {"errors":[{"code":..,"message":".."}]} texts.
func errorMessage(raw []byte) string {
	var e struct {
		Errors flexList[struct {
			Code    flexInt    `json:"code"`
			Message flexString `json:"message"`
		}] `json:"errors"`
	}
	if json.Unmarshal(raw, &e) == nil && len(e.Errors) > 0 {
		msgs := make([]string, 0, len(e.Errors))
		for _, m := range e.Errors {
			msgs = append(msgs, string(m.Message))
		}
		return truncate(strings.Join(msgs, "; "), 300)
	}
	return truncate(strings.TrimSpace(string(raw)), 200)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ---- availability -------------------------------------------------------

type ariRoomType struct {
	IDRoomType        flexInt   `json:"id_room_type"`
	Name              langField `json:"name"`
	TotalPriceWithTax flexFloat `json:"total_price_with_tax"`
	TotalPrice        flexFloat `json:"total_price"`
	Rooms             struct {
		Available flexList[json.RawMessage] `json:"available"`
	} `json:"rooms"`
}

type ariAnswer struct {
	HotelARI *struct {
		IDHotel   flexInt               `json:"id_hotel"`
		Currency  flexString            `json:"currency"`
		RoomTypes flexList[ariRoomType] `json:"room_types"`
	} `json:"hotel_ari"`
}

// Availability asks hotel_ari for the rooms free for every night of the
// stay and their price for the whole stay, taxes included. hotel_ari
// accepts past dates and ignores the party, so a past stay and a party no
// room type holds are refused here (pms.Stay.CheckBookable), and room types
// too small for the party are left out of the offers.
func (c *Client) Availability(ctx context.Context, h pms.Hotel, s pms.Stay) (pms.Availability, error) {
	if err := s.Validate(); err != nil {
		return pms.Availability{}, fmt.Errorf("%w: %v", pms.ErrInvalid, err)
	}
	facts, err := c.roomFacts(ctx, h)
	if err != nil {
		return pms.Availability{}, err
	}
	if err := s.CheckBookable(c.today(), roomTypesOf(facts)); err != nil {
		return pms.Availability{}, err
	}
	byID := make(map[int]pms.RoomType, len(facts))
	for _, f := range facts {
		byID[f.ID] = f.RoomType
	}
	body, err := ariBody(h.PropertyID(), s)
	if err != nil {
		return pms.Availability{}, err
	}
	r := request{method: http.MethodPost, endpoint: EndpointHotelARI, path: "/api/hotel_ari", body: body, ctype: "application/xml"}
	var ans ariAnswer
	if _, err := c.do(ctx, r, &ans); err != nil {
		return pms.Availability{}, err
	}
	if ans.HotelARI == nil {
		return pms.Availability{}, malformed(r, errors.New("no hotel_ari object"))
	}
	cur := strings.ToUpper(string(ans.HotelARI.Currency))
	if cur != "" {
		c.currency.Store(&cur)
	}
	out := pms.Availability{Stay: s, Currency: cur, AsOf: time.Now()}
	for _, rt := range ans.HotelARI.RoomTypes {
		if rt.IDRoomType <= 0 {
			return pms.Availability{}, malformed(r, errors.New("room type without id_room_type"))
		}
		n := len(rt.Rooms.Available)
		if n == 0 {
			continue
		}
		price := float64(rt.TotalPriceWithTax)
		if price == 0 {
			price = float64(rt.TotalPrice)
		}
		known, ok := byID[int(rt.IDRoomType)]
		if !ok {
			known = pms.RoomType{ID: int(rt.IDRoomType)}
		}
		if !known.Holds(s) {
			continue
		}
		if known.Name.Empty() {
			known.Name = rt.Name.text(nil, strings.TrimSpace)
		}
		out.Offers = append(out.Offers, pms.Offer{RoomType: known, Available: n, TotalPrice: price})
	}
	return out, nil
}

// ---- hotel info and room types --------------------------------------------

type hotelAnswer struct {
	Hotel *struct {
		ID        flexInt    `json:"id"`
		HotelName langField  `json:"hotel_name"`
		Email     flexString `json:"email"`
		CheckIn   flexString `json:"check_in"`
		CheckOut  flexString `json:"check_out"`
		Address   flexString `json:"address"`
		City      flexString `json:"city"`
		Zipcode   flexString `json:"zipcode"`
		Phone     flexString `json:"phone"`
	} `json:"hotel"`
}

// HotelInfo reads the hotel's name, address and contact details and its
// check-in/out times. Amenities are not read (QloApps keeps them as ids of
// another resource); TimeZone is Config.TimeZone.
func (c *Client) HotelInfo(ctx context.Context, h pms.Hotel) (pms.HotelInfo, error) {
	id := h.PropertyID()
	r := request{method: http.MethodGet, endpoint: EndpointHotel, path: "/api/hotels/" + strconv.Itoa(id)}
	var ans hotelAnswer
	if _, err := c.do(ctx, r, &ans); err != nil {
		return pms.HotelInfo{}, err
	}
	if ans.Hotel == nil {
		return pms.HotelInfo{}, malformed(r, errors.New("no hotel object"))
	}
	codes, err := c.languageCodes(ctx)
	if err != nil {
		return pms.HotelInfo{}, err
	}
	ho := ans.Hotel
	return pms.HotelInfo{
		Name:         ho.HotelName.text(codes, strings.TrimSpace),
		Address:      strings.TrimSpace(string(ho.Address)),
		City:         strings.TrimSpace(string(ho.City)),
		Phone:        strings.TrimSpace(string(ho.Phone)),
		Email:        strings.TrimSpace(string(ho.Email)),
		CheckInTime:  clockTime(string(ho.CheckIn)),
		CheckOutTime: clockTime(string(ho.CheckOut)),
		TimeZone:     c.cfg.TimeZone,
	}, nil
}

type hotelRoomType struct {
	ID          flexInt `json:"id"`
	IDProduct   flexInt `json:"id_product"`
	IDHotel     flexInt `json:"id_hotel"`
	Adults      flexInt `json:"adults"`
	Children    flexInt `json:"children"`
	MaxAdults   flexInt `json:"max_adults"`
	MaxChildren flexInt `json:"max_children"`
	MaxGuests   flexInt `json:"max_guests"`
}

type product struct {
	ID               flexInt   `json:"id"`
	Name             langField `json:"name"`
	DescriptionShort langField `json:"description_short"`
	IDTaxRulesGroup  flexInt   `json:"id_tax_rules_group"`
	Associations     struct {
		Services flexList[struct {
			ID flexInt `json:"id"`
		}] `json:"services"`
	} `json:"associations"`
}

// serviceProduct is a QloApps service (a product sold with rooms).
type serviceProduct struct {
	ID                flexInt `json:"id"`
	Active            flexInt `json:"active"`
	AutoAddToCart     flexInt `json:"auto_add_to_cart"`
	PriceAdditionType flexInt `json:"price_addition_type"`
	IDTaxRulesGroup   flexInt `json:"id_tax_rules_group"`
}

// priceAddedWithRoom is QloApps' price_addition_type of a service whose
// price is part of the room's (Product::PRICE_ADDITION_TYPE_WITH_ROOM).
const priceAddedWithRoom = 1

// RoomTypes lists the hotel's room types: occupancy from hotel_room_types,
// names and descriptions from room_types (QloApps products). RoomType.ID is
// the product id, the id hotel_ari and bookings use.
func (c *Client) RoomTypes(ctx context.Context, h pms.Hotel) ([]pms.RoomType, error) {
	facts, err := c.readRoomTypes(ctx, h)
	if err != nil {
		return nil, err
	}
	c.rooms.put(h.PropertyID(), facts)
	return roomTypesOf(facts), nil
}

// roomTypeFacts is a room type and what a booking of it must send.
type roomTypeFacts struct {
	pms.RoomType
	// TaxRulesGroup is the room type's id_tax_rules_group: a booking's room
	// (or service) that names neither it nor a total_tax makes QloApps 1.6.1
	// raise a PHP warning, which its webservice answers with HTTP 500
	// although the booking went through.
	TaxRulesGroup int
	// AutoServices are the services QloApps adds to every room of the type
	// with their price in the room's (a maintenance fee): hotel_ari's total
	// includes them, and the bookings call drops every automatic service it
	// is not sent, so a booking names them to cost what was quoted.
	AutoServices []wireService
}

func (c *Client) readRoomTypes(ctx context.Context, h pms.Hotel) ([]roomTypeFacts, error) {
	id := h.PropertyID()
	r := request{method: http.MethodGet, endpoint: EndpointHotelRoomTypes, path: "/api/hotel_room_types",
		query: url.Values{"display": {"full"}, "filter[id_hotel]": {"[" + strconv.Itoa(id) + "]"}}}
	raw, err := c.do(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	if isEmptyList(raw) {
		return []roomTypeFacts{}, nil
	}
	var hrt struct {
		List *flexList[hotelRoomType] `json:"hotel_room_types"`
	}
	if err := json.Unmarshal(raw, &hrt); err != nil {
		return nil, malformed(r, err)
	}
	if hrt.List == nil {
		return nil, malformed(r, errors.New("no hotel_room_types list"))
	}
	if len(*hrt.List) == 0 {
		return []roomTypeFacts{}, nil
	}
	ids := make([]string, 0, len(*hrt.List))
	for _, t := range *hrt.List {
		if t.IDProduct <= 0 {
			return nil, malformed(r, errors.New("hotel room type without id_product"))
		}
		ids = append(ids, strconv.Itoa(int(t.IDProduct)))
	}
	pr := request{method: http.MethodGet, endpoint: EndpointRoomTypes, path: "/api/room_types",
		query: url.Values{"display": {"full"}, "filter[id]": {"[" + strings.Join(ids, "|") + "]"}}}
	raw, err = c.do(ctx, pr, nil)
	if err != nil {
		return nil, err
	}
	names := map[int]product{}
	if !isEmptyList(raw) {
		var ps struct {
			List flexList[product] `json:"room_types"`
		}
		if err := json.Unmarshal(raw, &ps); err != nil {
			return nil, malformed(pr, err)
		}
		for _, p := range ps.List {
			names[int(p.ID)] = p
		}
	}
	auto, err := c.autoServices(ctx, names)
	if err != nil {
		return nil, err
	}
	codes, err := c.languageCodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]roomTypeFacts, 0, len(*hrt.List))
	for _, t := range *hrt.List {
		maxA, maxC := int(t.MaxAdults), int(t.MaxChildren)
		if maxA == 0 {
			maxA = int(t.Adults)
		}
		if maxC == 0 {
			maxC = int(t.Children)
		}
		p := names[int(t.IDProduct)]
		out = append(out, roomTypeFacts{
			RoomType: pms.RoomType{
				ID:          int(t.IDProduct),
				Name:        p.Name.text(codes, strings.TrimSpace),
				MaxAdults:   maxA,
				MaxChildren: maxC,
				MaxGuests:   int(t.MaxGuests),
				Description: p.DescriptionShort.text(codes, plainText),
			},
			TaxRulesGroup: int(p.IDTaxRulesGroup),
		})
		for _, sv := range p.Associations.Services {
			if w, ok := auto[int(sv.ID)]; ok {
				out[len(out)-1].AutoServices = append(out[len(out)-1].AutoServices, w)
			}
		}
	}
	return out, nil
}

// autoServices reads the services linked to the room types and keeps the
// active ones QloApps adds on its own to the room's price, as a booking
// names them.
func (c *Client) autoServices(ctx context.Context, roomTypes map[int]product) (map[int]wireService, error) {
	var ids []string
	seen := map[int]bool{}
	for _, p := range roomTypes {
		for _, sv := range p.Associations.Services {
			if id := int(sv.ID); id > 0 && !seen[id] {
				seen[id] = true
				ids = append(ids, strconv.Itoa(id))
			}
		}
	}
	out := map[int]wireService{}
	if len(ids) == 0 {
		return out, nil
	}
	sort.Strings(ids)
	r := request{method: http.MethodGet, endpoint: EndpointServices, path: "/api/services",
		query: url.Values{"display": {"[id,active,auto_add_to_cart,price_addition_type,id_tax_rules_group]"}, "filter[id]": {"[" + strings.Join(ids, "|") + "]"}}}
	raw, err := c.do(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	if isEmptyList(raw) {
		return out, nil
	}
	var ans struct {
		List flexList[serviceProduct] `json:"services"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return nil, malformed(r, err)
	}
	for _, sv := range ans.List {
		if sv.ID > 0 && sv.Active == 1 && sv.AutoAddToCart == 1 && sv.PriceAdditionType == priceAddedWithRoom {
			out[int(sv.ID)] = wireService{IDService: int(sv.ID), Quantity: 1, IDTaxRulesGroup: int(sv.IDTaxRulesGroup)}
		}
	}
	return out, nil
}

// roomFacts are the hotel's room types, read at most every roomFactsTTL:
// availability and bookings need their capacities and tax groups, which a
// hotel changes rarely.
func (c *Client) roomFacts(ctx context.Context, h pms.Hotel) ([]roomTypeFacts, error) {
	if facts, ok := c.rooms.get(h.PropertyID()); ok {
		return facts, nil
	}
	facts, err := c.readRoomTypes(ctx, h)
	if err != nil {
		return nil, err
	}
	c.rooms.put(h.PropertyID(), facts)
	return facts, nil
}

// languageCodes are QloApps' active languages, id → ISO 639-1 code, read
// from /api/languages at most every roomFactsTTL. It is nil, with no
// error, when the key may not read languages (401, as for a key made
// before this client read them): texts are then kept in one language,
// untranslated, rather than failing every call.
func (c *Client) languageCodes(ctx context.Context) (map[int]string, error) {
	if codes, ok := c.langs.get(struct{}{}); ok {
		return codes, nil
	}
	r := request{method: http.MethodGet, endpoint: EndpointLanguages, path: "/api/languages",
		query: url.Values{"display": {"[id,iso_code,active]"}}}
	raw, err := c.do(ctx, r, nil)
	var codes map[int]string
	var ae *APIError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
	case err != nil:
		return nil, err
	case isEmptyList(raw):
		codes = map[int]string{}
	default:
		var ans struct {
			List *flexList[struct {
				ID      flexInt    `json:"id"`
				ISOCode flexString `json:"iso_code"`
				Active  flexInt    `json:"active"`
			}] `json:"languages"`
		}
		if err := json.Unmarshal(raw, &ans); err != nil {
			return nil, malformed(r, err)
		}
		if ans.List == nil {
			return nil, malformed(r, errors.New("no languages list"))
		}
		codes = map[int]string{}
		for _, l := range *ans.List {
			if code := pms.LanguageCode(string(l.ISOCode)); l.ID > 0 && code != "" && l.Active == 1 {
				codes[int(l.ID)] = code
			}
		}
	}
	c.langs.put(struct{}{}, codes)
	return codes, nil
}

// roomFactsTTL is how long the room types read for a hotel are reused.
const roomFactsTTL = 5 * time.Minute

// ttlCache keeps what the client read (each hotel's room types by its id,
// the shop's languages) for roomFactsTTL.
type ttlCache[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]cachedValue[V]
}

type cachedValue[V any] struct {
	at time.Time
	v  V
}

func (r *ttlCache[K, V]) get(k K) (V, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.m[k]
	return e.v, ok && time.Since(e.at) < roomFactsTTL
}

func (r *ttlCache[K, V]) put(k K, v V) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[K]cachedValue[V]{}
	}
	r.m[k] = cachedValue[V]{at: time.Now(), v: v}
}

func roomTypesOf(facts []roomTypeFacts) []pms.RoomType {
	out := make([]pms.RoomType, len(facts))
	for i, f := range facts {
		out[i] = f.RoomType
	}
	return out
}

// today is the current date in the hotels' time zone.
func (c *Client) today() pms.Date {
	now := time.Now
	if c.cfg.Now != nil {
		now = c.cfg.Now
	}
	return pms.DateOf(now().In(c.loc))
}

// Ping lists one hotel id: cheap, and authenticated like every other call.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodGet, endpoint: EndpointHotels, path: "/api/hotels",
		query: url.Values{"display": {"[id]"}, "limit": {"1"}}}, nil)
	return err
}

// ---- bookings ------------------------------------------------------------

// referencePattern keeps references usable inside PrestaShop's
// filter[source]=[...] syntax, which has no escaping.
var referencePattern = regexp.MustCompile(`^[A-Za-z0-9._:\-]{1,64}$`)

// wireRoom is one room of a booking request. QloApps reads the occupancy
// from adult, child and child_ages, and counts no child without an age
// (child is set to 0 when child_ages is missing).
type wireRoom struct {
	IDRoom          int           `json:"id_room,omitempty"`
	Adult           int           `json:"adult,omitempty"`
	Child           int           `json:"child"`
	ChildAges       []int         `json:"child_ages,omitempty"`
	IDTaxRulesGroup int           `json:"id_tax_rules_group"`
	Services        []wireService `json:"services,omitempty"`
}

// wireService is a service a booking's room carries.
type wireService struct {
	IDService       int `json:"id_service"`
	Quantity        int `json:"quantity"`
	IDTaxRulesGroup int `json:"id_tax_rules_group"`
}

type wireRoomType struct {
	IDRoomType    int        `json:"id_room_type"`
	CheckinDate   string     `json:"checkin_date"`
	CheckoutDate  string     `json:"checkout_date"`
	NumberOfRooms int        `json:"number_of_rooms"`
	Rooms         []wireRoom `json:"rooms"`
}

type wireCustomer struct {
	Firstname string `json:"firstname"`
	Lastname  string `json:"lastname"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
}

type wireBooking struct {
	ID             int          `json:"id,omitempty"`
	IDProperty     int          `json:"id_property"`
	BookingStatus  int          `json:"booking_status"`
	PaymentStatus  int          `json:"payment_status,omitempty"`
	Currency       string       `json:"currency,omitempty"`
	Source         string       `json:"source,omitempty"`
	Remark         string       `json:"remark,omitempty"`
	CustomerDetail wireCustomer `json:"customer_detail"`
	Associations   struct {
		RoomTypes []wireRoomType `json:"room_types"`
	} `json:"associations"`
}

// bookingBody is the JSON document for POST/PUT /api/bookings. "json": true
// is for QloApps builds whose parser only takes JSON bodies that say so;
// builds that read {"booking": ...} directly ignore it.
func bookingBody(b wireBooking) ([]byte, error) {
	return json.Marshal(struct {
		JSON    bool        `json:"json"`
		Booking wireBooking `json:"booking"`
	}{true, b})
}

type answerRoom struct {
	IDRoom            flexInt   `json:"id_room"`
	Adults            flexInt   `json:"adults"`
	Child             flexInt   `json:"child"`
	TotalPriceWithTax flexFloat `json:"total_price_with_tax"`
}

type answerRoomType struct {
	IDRoomType        flexInt              `json:"id_room_type"`
	CheckinDate       flexString           `json:"checkin_date"`
	CheckoutDate      flexString           `json:"checkout_date"`
	NumberOfRooms     flexInt              `json:"number_of_rooms"`
	Name              flexString           `json:"name"`
	TotalPriceWithTax flexFloat            `json:"total_price_with_tax"`
	Rooms             flexList[answerRoom] `json:"rooms"`
}

type answerBooking struct {
	ID            flexInt    `json:"id"`
	IDProperty    flexInt    `json:"id_property"`
	Currency      flexString `json:"currency"`
	BookingStatus *flexInt   `json:"booking_status"`
	Source        flexString `json:"source"`
	Associations  struct {
		CustomerDetail struct {
			Firstname flexString `json:"firstname"`
			Lastname  flexString `json:"lastname"`
			Email     flexString `json:"email"`
			Phone     flexString `json:"phone"`
		} `json:"customer_detail"`
		PriceDetails struct {
			TotalPriceWithTax    flexFloat `json:"total_price_with_tax"`
			TotalPriceWithoutTax flexFloat `json:"total_price_without_tax"`
			TotalTax             flexFloat `json:"total_tax"`
		} `json:"price_details"`
		RoomTypes flexList[answerRoomType] `json:"room_types"`
	} `json:"associations"`
}

// toBooking maps QloApps' booking document. QloApps 1.6.1's GET answer does
// not report the booking status; Status is then 0 (unknown) unless the
// answer carries booking_status.
func (a *answerBooking) toBooking() (pms.Booking, error) {
	if a.ID <= 0 {
		return pms.Booking{}, errors.New("booking without id")
	}
	b := pms.Booking{
		ID:        strconv.Itoa(int(a.ID)),
		Reference: string(a.Source),
		Currency:  strings.ToUpper(string(a.Currency)),
		Guest: pms.Guest{
			FirstName: string(a.Associations.CustomerDetail.Firstname),
			LastName:  string(a.Associations.CustomerDetail.Lastname),
			Email:     string(a.Associations.CustomerDetail.Email),
			Phone:     string(a.Associations.CustomerDetail.Phone),
		},
	}
	if a.BookingStatus != nil {
		b.Status = pms.BookingStatus(*a.BookingStatus)
	}
	pd := a.Associations.PriceDetails
	b.TotalPrice = float64(pd.TotalPriceWithTax)
	if b.TotalPrice == 0 {
		b.TotalPrice = float64(pd.TotalPriceWithoutTax + pd.TotalTax)
	}
	if len(a.Associations.RoomTypes) == 0 {
		return pms.Booking{}, errors.New("booking without room_types")
	}
	var sum float64
	for _, rt := range a.Associations.RoomTypes {
		sum += float64(rt.TotalPriceWithTax)
	}
	if b.TotalPrice == 0 {
		b.TotalPrice = sum
	}
	rt := a.Associations.RoomTypes[0]
	in, err := pms.ParseDate(firstDay(string(rt.CheckinDate)))
	if err != nil {
		return pms.Booking{}, fmt.Errorf("checkin_date: %v", err)
	}
	out, err := pms.ParseDate(firstDay(string(rt.CheckoutDate)))
	if err != nil {
		return pms.Booking{}, fmt.Errorf("checkout_date: %v", err)
	}
	b.RoomTypeID, b.RoomName = int(rt.IDRoomType), string(rt.Name)
	b.Stay = pms.Stay{CheckIn: in, CheckOut: out}
	if len(rt.Rooms) > 0 {
		b.Stay.Adults, b.Stay.Children = int(rt.Rooms[0].Adults), int(rt.Rooms[0].Child)
	}
	return b, nil
}

// firstDay keeps the date of "2022-12-28 00:00:00".
func firstDay(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// getBooking reads booking id and returns both the mapped booking and
// QloApps' document (Cancel needs its rooms).
func (c *Client) getBooking(ctx context.Context, h pms.Hotel, id string) (pms.Booking, *answerBooking, error) {
	n, err := strconv.Atoi(id)
	if err != nil || n <= 0 {
		return pms.Booking{}, nil, fmt.Errorf("%w: booking id %q is not a QloApps booking id", pms.ErrNotFound, id)
	}
	r := request{method: http.MethodGet, endpoint: EndpointBooking, path: "/api/bookings/" + strconv.Itoa(n)}
	var ans struct {
		Booking *answerBooking `json:"booking"`
	}
	if _, err := c.do(ctx, r, &ans); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && strings.Contains(ae.Message, "useTax") {
			// QloApps 1.6.1 cannot show a booking while the customer's
			// group displays prices tax excluded.
			return pms.Booking{}, nil, fmt.Errorf("%w (set the QloApps customer groups to display prices tax included)", err)
		}
		return pms.Booking{}, nil, err
	}
	if ans.Booking == nil {
		return pms.Booking{}, nil, malformed(r, errors.New("no booking object"))
	}
	// A booking of another hotel is not this tenant's: answer as QloApps
	// would for an id that does not exist.
	if int(ans.Booking.IDProperty) != h.PropertyID() {
		return pms.Booking{}, nil, fmt.Errorf("%w: booking %s is not in hotel %d", pms.ErrNotFound, id, h.PropertyID())
	}
	b, err := ans.Booking.toBooking()
	if err != nil {
		return pms.Booking{}, nil, malformed(r, err)
	}
	if b.Status == 0 {
		if b.Status, err = c.orderStatus(ctx, n); err != nil {
			return pms.Booking{}, nil, err
		}
	}
	return b, ans.Booking, nil
}

// GetBooking reads a booking of hotel h.
func (c *Client) GetBooking(ctx context.Context, h pms.Hotel, id string) (pms.Booking, error) {
	b, _, err := c.getBooking(ctx, h, id)
	return b, err
}

// findByReference returns the id of the booking whose source is ref, or "".
// QloApps' bookings listing takes no filters, so the lookup goes through the
// core orders resource (a booking is an order; source is an order field).
func (c *Client) findByReference(ctx context.Context, ref string) (string, error) {
	r := request{method: http.MethodGet, endpoint: EndpointOrders, path: "/api/orders",
		query: url.Values{"display": {"[id,source]"}, "filter[source]": {"[" + ref + "]"}, "sort": {"[id_ASC]"}}}
	raw, err := c.do(ctx, r, nil)
	if err != nil {
		return "", err
	}
	if isEmptyList(raw) {
		return "", nil
	}
	var ans struct {
		Orders *flexList[struct {
			ID     flexInt    `json:"id"`
			Source flexString `json:"source"`
		}] `json:"orders"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return "", malformed(r, err)
	}
	if ans.Orders == nil {
		return "", malformed(r, errors.New("no orders list"))
	}
	for _, o := range *ans.Orders {
		if string(o.Source) == ref && o.ID > 0 {
			return strconv.Itoa(int(o.ID)), nil
		}
	}
	return "", nil
}

// soldOut recognises QloApps' refusal of a booking whose rooms are gone
// ("Requested room(s) not available"), which it answers with HTTP 400.
func soldOut(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusBadRequest &&
		strings.Contains(strings.ToLower(ae.Message), "not available")
}

// GuestRequirements: QloApps' bookings webservice refuses a customer_detail
// without firstname, lastname and email, and without phone when the shop
// requires one (PS_ONE_PHONE_AT_LEAST, on by default), so all four are asked.
func (c *Client) GuestRequirements() pms.GuestFields {
	return pms.GuestFields{FirstName: true, LastName: true, Email: true, Phone: true}
}

// refusedGuestDetail reads which customer_detail field a 400 answer to a
// booking refuses ("Please provide a valid phone number.", or a Customer
// field the shop's validation rejected), and QloApps' words.
func refusedGuestDetail(err error) (pms.GuestDetail, string) {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		return "", ""
	}
	m := strings.ToLower(ae.Message)
	switch {
	case strings.Contains(m, "first name"), strings.Contains(m, "firstname"):
		return pms.GuestFirstName, ae.Message
	case strings.Contains(m, "last name"), strings.Contains(m, "lastname"):
		return pms.GuestLastName, ae.Message
	case strings.Contains(m, "email"):
		return pms.GuestEmail, ae.Message
	case strings.Contains(m, "phone"):
		return pms.GuestPhone, ae.Message
	}
	return "", ""
}

// CreateBooking books one room of req.RoomTypeID for the stay, as a new
// booking awaiting payment, at the price Availability quoted: the room with
// the services QloApps adds to its price (see roomTypeFacts.AutoServices).
// req.Reference is stored as the booking's source (and in its remark, for
// the hotel's staff). Before creating, the client looks the reference up and
// returns the existing booking if there is one, so repeating a CreateBooking
// whose answer was lost cannot book twice; and when QloApps answers the
// create with an error of its own (5xx) or the answer is lost, the
// reference is looked up again before the error is reported, because
// QloApps 1.6.1 may fail a request after the booking was made.
func (c *Client) CreateBooking(ctx context.Context, req pms.BookingRequest) (pms.Booking, error) {
	if err := req.Stay.Validate(); err != nil {
		return pms.Booking{}, fmt.Errorf("%w: %v", pms.ErrInvalid, err)
	}
	g := req.Guest
	switch {
	case req.RoomTypeID <= 0:
		return pms.Booking{}, fmt.Errorf("%w: room type id is required", pms.ErrInvalid)
	case strings.TrimSpace(g.FirstName) == "":
		return pms.Booking{}, &pms.InvalidGuestError{Detail: pms.GuestFirstName, Reason: "QloApps needs the guest's first name"}
	case strings.TrimSpace(g.LastName) == "":
		return pms.Booking{}, &pms.InvalidGuestError{Detail: pms.GuestLastName, Reason: "QloApps needs the guest's last name"}
	case strings.TrimSpace(g.Email) == "":
		return pms.Booking{}, &pms.InvalidGuestError{Detail: pms.GuestEmail, Reason: "QloApps needs the guest's email"}
	case req.Reference != "" && !referencePattern.MatchString(req.Reference):
		return pms.Booking{}, fmt.Errorf("%w: booking reference must be 1-64 of A-Z a-z 0-9 . _ : -", pms.ErrInvalid)
	case req.Stay.Children > 0 && len(req.Stay.ChildAges) == 0:
		// QloApps books a child without an age as no child at all.
		return pms.Booking{}, fmt.Errorf("%w: QloApps needs each child's age", pms.ErrInvalid)
	}
	if req.Reference != "" {
		if b, found, err := c.bookingByReference(ctx, req); err != nil || found {
			return b, err
		}
	}
	facts, err := c.roomFacts(ctx, req.Hotel)
	if err != nil {
		return pms.Booking{}, err
	}
	if err := req.Stay.CheckBookable(c.today(), roomTypesOf(facts)); err != nil {
		return pms.Booking{}, err
	}
	rt, ok := factsOf(facts, req.RoomTypeID)
	if !ok {
		return pms.Booking{}, fmt.Errorf("%w: room type %d is not one of hotel %d's", pms.ErrInvalid, req.RoomTypeID, req.Hotel.PropertyID())
	}
	if !rt.Holds(req.Stay) {
		return pms.Booking{}, &pms.PartyTooLargeError{MaxAdults: rt.MaxAdults, MaxGuests: rt.Capacity()}
	}
	cur, err := c.bookingCurrency(ctx, req)
	if err != nil {
		return pms.Booking{}, err
	}
	wb := wireBooking{
		IDProperty:     req.Hotel.PropertyID(),
		BookingStatus:  int(pms.BookingNew),
		PaymentStatus:  3, // awaiting payment
		Currency:       cur,
		Source:         req.Reference,
		CustomerDetail: wireCustomer{Firstname: g.FirstName, Lastname: g.LastName, Email: g.Email, Phone: g.Phone},
	}
	if req.Reference != "" {
		wb.Remark = "agente-caddy booking reference " + req.Reference
	}
	wb.Associations.RoomTypes = []wireRoomType{{
		IDRoomType:    req.RoomTypeID,
		CheckinDate:   req.Stay.CheckIn.String(),
		CheckoutDate:  req.Stay.CheckOut.String(),
		NumberOfRooms: 1,
		Rooms: []wireRoom{{
			Adult: req.Stay.Adults, Child: req.Stay.Children, ChildAges: req.Stay.ChildAges,
			IDTaxRulesGroup: rt.TaxRulesGroup, Services: rt.AutoServices,
		}},
	}}
	body, err := bookingBody(wb)
	if err != nil {
		return pms.Booking{}, err
	}
	r := request{method: http.MethodPost, endpoint: EndpointBookings, path: "/api/bookings", body: body, ctype: "application/json"}
	var ans struct {
		Booking *answerBooking `json:"booking"`
	}
	if _, err := c.do(ctx, r, &ans); err != nil {
		if soldOut(err) {
			return pms.Booking{}, fmt.Errorf("%w: %w", pms.ErrSoldOut, err)
		}
		if d, msg := refusedGuestDetail(err); d != "" {
			return pms.Booking{}, &pms.InvalidGuestError{Detail: d, Reason: msg, Err: err}
		}
		if req.Reference != "" && serverFailed(err) {
			if b, found, lerr := c.bookingByReference(ctx, req); lerr == nil && found {
				return b, nil
			}
		}
		return pms.Booking{}, err
	}
	if ans.Booking == nil {
		return pms.Booking{}, malformed(r, errors.New("no booking object"))
	}
	b, err := ans.Booking.toBooking()
	if err != nil {
		return pms.Booking{}, malformed(r, err)
	}
	b.Reference = req.Reference
	b.Stay.ChildAges = req.Stay.ChildAges
	if b.Status == 0 {
		b.Status = pms.BookingNew
	}
	if b.Currency == "" {
		b.Currency = cur
	}
	return b, nil
}

// bookingByReference is the booking of req's hotel whose source is
// req.Reference, if there is one.
func (c *Client) bookingByReference(ctx context.Context, req pms.BookingRequest) (pms.Booking, bool, error) {
	id, err := c.findByReference(ctx, req.Reference)
	if err != nil || id == "" {
		return pms.Booking{}, false, err
	}
	b, err := c.GetBooking(ctx, req.Hotel, id)
	if errors.Is(err, pms.ErrNotFound) {
		return pms.Booking{}, false, fmt.Errorf("%w: reference %q is already used by a booking of another hotel", pms.ErrInvalid, req.Reference)
	}
	if err != nil {
		return pms.Booking{}, false, err
	}
	b.Reference = req.Reference
	return b, true, nil
}

// serverFailed reports an error answer of QloApps' own (5xx): the write may
// have been done all the same. A lost answer (timeout, reset) is the
// caller's to retry, with the same reference.
func serverFailed(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status >= 500
}

func factsOf(facts []roomTypeFacts, id int) (roomTypeFacts, bool) {
	for _, f := range facts {
		if f.ID == id {
			return f, true
		}
	}
	return roomTypeFacts{}, false
}

// bookingCurrency is Config.Currency, else the currency QloApps reported in
// hotel_ari, asked for the stay being booked if none was seen yet.
func (c *Client) bookingCurrency(ctx context.Context, req pms.BookingRequest) (string, error) {
	if c.cfg.Currency != "" {
		return strings.ToUpper(c.cfg.Currency), nil
	}
	if p := c.currency.Load(); p != nil {
		return *p, nil
	}
	a, err := c.Availability(ctx, req.Hotel, req.Stay)
	if err != nil {
		return "", err
	}
	if a.Currency == "" {
		return "", fmt.Errorf("qloapps: hotel_ari reported no currency and none is configured: %w: %w", pms.ErrMalformed, pms.ErrUnavailable)
	}
	return a.Currency, nil
}

// CancelBooking sets the booking's status to cancelled (3) with PUT
// /api/bookings/{id}. QloApps' PUT replaces the booking's rooms and their
// services with the ones sent, so every current room is sent back with its
// tax group and the automatic services of its type; no price is sent, which
// would reprice the room. QloApps 1.6.1 may fail the request after the
// booking was cancelled: on such an error the order's state is read back,
// and a cancelled booking is reported as cancelled.
func (c *Client) CancelBooking(ctx context.Context, h pms.Hotel, id string) (pms.Booking, error) {
	cur, doc, err := c.getBooking(ctx, h, id)
	if err != nil {
		return pms.Booking{}, err
	}
	if cur.Status == pms.BookingCancelled {
		return cur, nil
	}
	facts, err := c.roomFacts(ctx, h)
	if err != nil {
		return pms.Booking{}, err
	}
	wb := wireBooking{
		ID:            int(doc.ID),
		IDProperty:    int(doc.IDProperty),
		BookingStatus: int(pms.BookingCancelled),
		Currency:      string(doc.Currency),
		CustomerDetail: wireCustomer{
			Firstname: cur.Guest.FirstName, Lastname: cur.Guest.LastName,
			Email: cur.Guest.Email, Phone: cur.Guest.Phone,
		},
	}
	for _, rt := range doc.Associations.RoomTypes {
		f, _ := factsOf(facts, int(rt.IDRoomType))
		w := wireRoomType{
			IDRoomType:    int(rt.IDRoomType),
			CheckinDate:   firstDay(string(rt.CheckinDate)),
			CheckoutDate:  firstDay(string(rt.CheckoutDate)),
			NumberOfRooms: int(rt.NumberOfRooms),
		}
		for _, rm := range rt.Rooms {
			w.Rooms = append(w.Rooms, wireRoom{IDRoom: int(rm.IDRoom), IDTaxRulesGroup: f.TaxRulesGroup, Services: f.AutoServices})
		}
		if w.NumberOfRooms == 0 {
			w.NumberOfRooms = len(w.Rooms)
		}
		wb.Associations.RoomTypes = append(wb.Associations.RoomTypes, w)
	}
	body, err := bookingBody(wb)
	if err != nil {
		return pms.Booking{}, err
	}
	r := request{method: http.MethodPut, endpoint: EndpointBooking, path: "/api/bookings/" + strconv.Itoa(int(doc.ID)), body: body, ctype: "application/json"}
	var ans struct {
		Booking *answerBooking `json:"booking"`
	}
	if _, err := c.do(ctx, r, &ans); err != nil {
		if !serverFailed(err) {
			return pms.Booking{}, err
		}
		if st, serr := c.orderStatus(ctx, int(doc.ID)); serr != nil || st != pms.BookingCancelled {
			return pms.Booking{}, err
		}
		cur.Status = pms.BookingCancelled
		return cur, nil
	}
	out := cur
	if ans.Booking != nil {
		if b, err := ans.Booking.toBooking(); err == nil {
			out = b
		}
	}
	out.Status = pms.BookingCancelled
	return out, nil
}

// QloApps' order states as its installer configures them (PS_OS_*): a
// booking's status is its order's current state.
const (
	orderAwaitingPayment = 1
	orderPaymentAccepted = 2
	orderCancelled       = 4
	orderRefunded        = 5
)

func bookingStatusOf(orderState int) pms.BookingStatus {
	switch orderState {
	case orderCancelled:
		return pms.BookingCancelled
	case orderRefunded:
		return pms.BookingRefunded
	case orderPaymentAccepted:
		return pms.BookingCompleted
	}
	return pms.BookingNew
}

// orderStatus reads the booking's status from its order: QloApps 1.6.1's
// bookings answer does not carry it. (The orders listing is asked: the
// single-order answer drops current_state when given a display.)
func (c *Client) orderStatus(ctx context.Context, id int) (pms.BookingStatus, error) {
	r := request{method: http.MethodGet, endpoint: EndpointOrders, path: "/api/orders",
		query: url.Values{"display": {"[id,current_state]"}, "filter[id]": {"[" + strconv.Itoa(id) + "]"}}}
	var ans struct {
		Orders flexList[struct {
			ID           flexInt `json:"id"`
			CurrentState flexInt `json:"current_state"`
		}] `json:"orders"`
	}
	raw, err := c.do(ctx, r, nil)
	if err != nil {
		return 0, err
	}
	if !isEmptyList(raw) {
		if err := json.Unmarshal(raw, &ans); err != nil {
			return 0, malformed(r, err)
		}
	}
	for _, o := range ans.Orders {
		if int(o.ID) == id && o.CurrentState > 0 {
			return bookingStatusOf(int(o.CurrentState)), nil
		}
	}
	return 0, malformed(r, fmt.Errorf("no state for order %d", id))
}
