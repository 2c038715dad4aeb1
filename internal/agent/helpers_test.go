package agent

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Madrid on machines without zoneinfo

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/nlp"
	"github.com/agentehotel/agente-caddy/internal/pms"
	"github.com/agentehotel/agente-caddy/internal/pms/demo"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

var madridTZ = func() *time.Location {
	l, err := time.LoadLocation("Europe/Madrid")
	if err != nil {
		panic(err)
	}
	return l
}()

// Thursday 20 November 2025, 10:00 in Madrid: inside business hours.
var morning = time.Date(2025, 11, 20, 10, 0, 0, 0, madridTZ)

func date(s string) pms.Date {
	d, err := pms.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// corpus is the fake analyzer's table: what the real analyzer is expected to
// read in each text the tests send.
var corpus = map[string]nlp.Result{
	"hola, tienen habitación doble del 5 al 7 de diciembre para 2?": {Intent: nlp.CheckAvailability, Language: "es",
		Entities: nlp.Entities{CheckIn: date("2025-12-05"), CheckOut: date("2025-12-07"), Adults: 2, RoomType: "double"}},
	"la doble":                       {Intent: nlp.MakeReservation, Language: "es", Entities: nlp.Entities{RoomType: "double"}},
	"sí":                             {Intent: nlp.Unknown, Language: "es", Answer: nlp.Yes},
	"si":                             {Intent: nlp.Unknown, Language: "es", Answer: nlp.Yes},
	"no":                             {Intent: nlp.Unknown, Language: "es", Answer: nlp.No},
	"hola":                           {Intent: nlp.Greeting, Language: "es"},
	"quiero reservar una habitación": {Intent: nlp.MakeReservation, Language: "es"},
	"del 5 al 7 de diciembre": {Intent: nlp.CheckAvailability, Language: "es",
		Entities: nlp.Entities{CheckIn: date("2025-12-05"), CheckOut: date("2025-12-07")}},
	"2": {Intent: nlp.Unknown, Language: "es"},
	"1": {Intent: nlp.Unknown, Language: "es"},
	"disponibilidad del 5 al 7 de diciembre para 2 adultos y 2 niños": {Intent: nlp.CheckAvailability, Language: "es",
		Entities: nlp.Entities{CheckIn: date("2025-12-05"), CheckOut: date("2025-12-07"), Adults: 2, Children: 2}},
	"reservar doble del 5 al 7 de diciembre para 2": {Intent: nlp.MakeReservation, Language: "es",
		Entities: nlp.Entities{CheckIn: date("2025-12-05"), CheckOut: date("2025-12-07"), Adults: 2, RoomType: "double"}},
	"reservar doble del 12 al 14 de diciembre para 2": {Intent: nlp.MakeReservation, Language: "es",
		Entities: nlp.Entities{CheckIn: date("2025-12-12"), CheckOut: date("2025-12-14"), Adults: 2, RoomType: "double"}},
	"quiero cancelar mi reserva":                        {Intent: nlp.CancelReservation, Language: "es"},
	"cancelar la reserva DEMO-000001":                   {Intent: nlp.CancelReservation, Language: "es"},
	"quiero hablar con una persona":                     {Intent: nlp.HumanHandoff, Language: "es"},
	"hay una fuga de agua en mi habitación, es urgente": {Intent: nlp.Unknown, Language: "es", Urgent: true},
	"a qué hora es el check-in y tienen parking?": {Intent: nlp.HotelInfo, Language: "es",
		Entities: nlp.Entities{Topics: []string{"checkin_time", "parking"}}},
	"admiten mascotas?":                    {Intent: nlp.HotelInfo, Language: "es", Entities: nlp.Entities{Topics: []string{"pets"}}},
	"dónde están?":                         {Intent: nlp.HotelInfo, Language: "es", Entities: nlp.Entities{Topics: []string{"address"}}},
	"información del hotel":                {Intent: nlp.HotelInfo, Language: "es"},
	"puedo dejar la habitación más tarde?": {Intent: nlp.LateCheckout, Language: "es"},
	"gracias, adiós":                       {Intent: nlp.Goodbye, Language: "es"},
	"asdfgh":                               {Intent: nlp.Unknown, Language: "es"},
	"cambiar":                              {Intent: nlp.Unknown, Language: "es"},
	// A name with a word in it: read as the name when the name was asked.
	"Sue Park":                     {Intent: nlp.HotelInfo, Language: "en", Entities: nlp.Entities{Topics: []string{"parking"}}},
	"Pablo García López":           {Intent: nlp.Unknown, Language: "es"},
	"John Smith":                   {Intent: nlp.Unknown, Language: "en"},
	"is breakfast included?":       {Intent: nlp.HotelInfo, Language: "en", Entities: nlp.Entities{Topics: []string{"breakfast"}}},
	"what facilities do you have?": {Intent: nlp.HotelInfo, Language: "en", Entities: nlp.Entities{Topics: []string{"amenities"}}},
	"el desayuno está incluido?":   {Intent: nlp.HotelInfo, Language: "es", Entities: nlp.Entities{Topics: []string{"breakfast"}}},
	"hi, do you have a double room from 5 to 7 December for 2?": {Intent: nlp.CheckAvailability, Language: "en",
		Entities: nlp.Entities{CheckIn: date("2025-12-05"), CheckOut: date("2025-12-07"), Adults: 2, RoomType: "double"}},
	// Short replies often read as the default language; the conversation's stays.
	"the double": {Intent: nlp.MakeReservation, Language: "es", Entities: nlp.Entities{RoomType: "double"}},
	"yes":        {Intent: nlp.Unknown, Language: "es", Answer: nlp.Yes},
	"there is a gas smell in the corridor, urgent help please": {Intent: nlp.Unknown, Language: "en", Urgent: true},
}

// fakeNLP answers from corpus and fails the test on a text it does not know
// or a clock outside the hotel's zone.
type fakeNLP struct {
	t     *testing.T
	mu    sync.Mutex
	calls []string
}

func (f *fakeNLP) analyze(text string, now time.Time) nlp.Result {
	f.mu.Lock()
	f.calls = append(f.calls, text)
	f.mu.Unlock()
	if now.Location() != madridTZ {
		f.t.Errorf("analyzer got now in %v, want the hotel's zone", now.Location())
	}
	r, ok := corpus[text]
	if !ok {
		f.t.Errorf("analyzer asked about %q, which is not in the test corpus", text)
		return nlp.Result{Intent: nlp.Unknown, Language: "es"}
	}
	return r
}

func (f *fakeNLP) called(text string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c == text {
			return true
		}
	}
	return false
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// storeFactory builds the session store a suite runs over.
type storeFactory struct {
	name string
	new  func(t *testing.T) SessionStore
}

// testTenants exist in Postgres (sessions.tenant_id references tenants).
var testTenants = []string{"tenant_hotel_madrid", "tenant_hotel_bcn", "tenant_a", "tenant_b"}

func postgresPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := store.Connect(ctx, testservices.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	for _, id := range testTenants {
		if _, err := pool.Exec(ctx, `INSERT INTO tenants (id, name) VALUES ($1, $1)`, id); err != nil {
			t.Fatal(err)
		}
	}
	return pool
}

// stores are the implementations every session-dependent suite runs over.
// Postgres gets one database per suite; each case uses its own guests. When
// no Postgres answers, the postgres half skips (fails under CI=true). The
// memory store is checked on every call for a stored state changed outside
// it (guardedSessions).
func stores(t *testing.T) []storeFactory {
	pool, err := maybePostgres(t)
	return []storeFactory{
		{"memory", func(st *testing.T) SessionStore { return newGuardedSessions(st) }},
		{"postgres", func(st *testing.T) SessionStore {
			testservices.Require(st, "Postgres", err)
			return NewPostgresSessions(pool)
		}},
	}
}

// maybePostgres is postgresPool, or the error of reaching the server when no
// Postgres answers; the caller hands that to testservices.Require where the
// Postgres half starts, so the store-independent half still runs.
func maybePostgres(t testing.TB) (*pgxpool.Pool, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testservices.PostgresServerURL())
	if err != nil {
		return nil, err
	}
	conn.Close(ctx)
	return postgresPool(t), nil
}

// conversationCase is one scripted conversation; mk builds its hotel.
type conversationCase struct {
	name string
	run  func(t *testing.T, mk func(...envOption) *env)
}

// runConversations runs every case over every session store: a dialogue
// must not depend on where its state lives.
func runConversations(t *testing.T, cases []conversationCase) {
	for _, sf := range stores(t) {
		t.Run(sf.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					s := sf.new(t)
					tc.run(t, func(opts ...envOption) *env { return newEnv(t, s, opts...) })
				})
			}
		})
	}
}

var guestSeq atomic.Int64

// env is one orchestrator over the demo PMS, a fake analyzer and a store.
type env struct {
	t     *testing.T
	o     *Orchestrator
	demo  *demo.PMS
	nlp   *fakeNLP
	clock *fakeClock
	store SessionStore
	hotel HotelContext
}

type envOption func(*envConfig)

type envConfig struct {
	wrap        func(pms.PMS) pms.PMS
	interactive bool
	askEmail    bool
	property    func(string) demo.Property
}

func withInteractive() envOption                { return func(c *envConfig) { c.interactive = true } }
func withAskEmail() envOption                   { return func(c *envConfig) { c.askEmail = true } }
func withPMS(w func(pms.PMS) pms.PMS) envOption { return func(c *envConfig) { c.wrap = w } }
func withProperty(f func(string) demo.Property) envOption {
	return func(c *envConfig) { c.property = f }
}

func newEnv(t *testing.T, s SessionStore, opts ...envOption) *env {
	t.Helper()
	var cfg envConfig
	for _, o := range opts {
		o(&cfg)
	}
	clock := &fakeClock{t: morning}
	demoOpts := []demo.Option{demo.WithName("Hotel Madrid Central"), demo.WithClock(clock.Now)}
	if cfg.property != nil {
		demoOpts = append(demoOpts, demo.WithProperty(cfg.property))
	}
	d := demo.New(demoOpts...)
	var p pms.PMS = d
	if cfg.wrap != nil {
		p = cfg.wrap(d)
	}
	f := &fakeNLP{t: t}
	o, err := New(f.analyze, p, s, WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, o: o, demo: d, nlp: f, clock: clock, store: s, hotel: HotelContext{
		TenantID:       "tenant_hotel_madrid",
		Name:           "Hotel Madrid Central",
		Location:       madridTZ,
		Hotel:          pms.Hotel{TenantID: "tenant_hotel_madrid", PMSID: 1},
		EmergencyPhone: "+34 910 000 111",
		Flags:          Flags{InteractiveMessages: cfg.interactive, AskEmail: cfg.askEmail},
	}}
}

// conv is one guest talking to the hotel.
type conv struct {
	e     *env
	from  string
	name  string // the channel's profile or display name
	ch    chat.Channel
	hotel HotelContext
	seq   int
}

func (e *env) guest() *conv {
	n := guestSeq.Add(1)
	return &conv{e: e, from: fmt.Sprintf("34600%06d", n), name: "Ana García", ch: chat.WhatsApp, hotel: e.hotel}
}

func (c *conv) message(kind chat.Kind, text, replyID string) chat.Message {
	c.seq++
	return chat.Message{
		TenantID: c.hotel.TenantID, Channel: c.ch, ID: fmt.Sprintf("wamid.%s.%d", c.from, c.seq),
		From: c.from, Name: c.name, Timestamp: c.e.clock.Now(), Kind: kind, Text: text, ReplyID: replyID,
	}
}

func (c *conv) deliver(m chat.Message) []chat.Reply {
	c.e.t.Helper()
	replies, err := c.e.o.Handle(context.Background(), m, c.hotel)
	if err != nil {
		c.e.t.Fatalf("Handle(%q): %v", m.Text, err)
	}
	return replies
}

func (c *conv) say(text string) []chat.Reply {
	c.e.t.Helper()
	return c.deliver(c.message(chat.KindText, text, ""))
}

func (c *conv) tap(kind chat.Kind, id, title string) []chat.Reply {
	c.e.t.Helper()
	return c.deliver(c.message(kind, title, id))
}

// one asserts a single reply and returns it.
func one(t *testing.T, replies []chat.Reply) chat.Reply {
	t.Helper()
	if len(replies) != 1 {
		t.Fatalf("got %d replies, want 1: %+v", len(replies), replies)
	}
	return replies[0]
}

func mustContain(t *testing.T, r chat.Reply, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(r.Text, s) {
			t.Errorf("reply %q does not contain %q", r.Text, s)
		}
	}
}

func mustNotContain(t *testing.T, r chat.Reply, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(r.Text, s) {
			t.Errorf("reply %q contains %q", r.Text, s)
		}
	}
}

// freeRooms is what the demo PMS has left of a room type for a stay.
func (e *env) freeRooms(roomTypeID int, in, out string, adults int) int {
	e.t.Helper()
	av, err := e.demo.Availability(context.Background(), e.hotel.Hotel, pms.Stay{CheckIn: date(in), CheckOut: date(out), Adults: adults})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, o := range av.Offers {
		if o.RoomType.ID == roomTypeID {
			return o.Available
		}
	}
	return 0
}

func checkWhatsAppLimits(t *testing.T, r chat.Reply) {
	t.Helper()
	switch r.Kind {
	case chat.ReplyButtons:
		if len(r.Buttons) == 0 || len(r.Buttons) > 3 {
			t.Errorf("%d buttons", len(r.Buttons))
		}
		if len([]rune(r.Text)) > 1024 {
			t.Errorf("buttons body of %d characters", len([]rune(r.Text)))
		}
		for _, b := range r.Buttons {
			if n := len([]rune(b.Title)); n == 0 || n > 20 {
				t.Errorf("button title %q has %d characters", b.Title, n)
			}
		}
	case chat.ReplyList:
		rows := 0
		for _, s := range r.Sections {
			for _, row := range s.Rows {
				rows++
				if n := len([]rune(row.Title)); n == 0 || n > 24 {
					t.Errorf("row title %q has %d characters", row.Title, n)
				}
				if len([]rune(row.Description)) > 72 {
					t.Errorf("row description %q too long", row.Description)
				}
			}
		}
		if rows == 0 || rows > 10 {
			t.Errorf("%d list rows", rows)
		}
		if n := len([]rune(r.ListButton)); n == 0 || n > 20 {
			t.Errorf("list button %q", r.ListButton)
		}
	}
}

func demoFor(clock *fakeClock) *demo.PMS { return demo.New(demo.WithClock(clock.Now)) }
