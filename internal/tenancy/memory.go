package tenancy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"gopkg.in/yaml.v3"
)

// cache is the read side both stores share.
type cache struct {
	snap atomic.Pointer[snapshot]
	// complete is set when the directory lists every tenant that exists
	// (Postgres, whose sessions reference the tenants table): a tenant named
	// by configuration that it does not list cannot take a guest.
	complete bool
}

func (c *cache) load() *snapshot { return c.snap.Load() }

func (c *cache) publish(s *snapshot) {
	c.snap.Store(s)
	publishStats(s.stats)
}

// Resolve decides the tenant of a request and counts the result.
func (c *cache) Resolve(in ResolveInput) (string, Result) {
	id, r := c.load().resolve(in, c.complete)
	countResolution(r)
	return id, r
}

// Tenant returns a tenant from the cache.
func (c *cache) Tenant(id string) (Tenant, bool) { return c.load().tenant(id) }

// TenantProfile returns a tenant's profile from the cache.
func (c *cache) TenantProfile(id string) (Profile, bool) { return c.load().profile(id) }

// Tenants lists the cached tenants in id order.
func (c *cache) Tenants() []Tenant { return c.load().list() }

// Stats counts the cached tenants and identifiers.
func (c *cache) Stats() Stats { return c.load().stats }

// MemoryStore keeps the directory in process only: development and tests.
// Writes are lost on restart.
type MemoryStore struct {
	cache
	mu    sync.Mutex // serialises writers
	audit []AuditEntry
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore builds a store holding tenants (validated like admin
// writes; a duplicate tenant or identifier is an error). The directory is
// built in one pass, so 10,000 tenants with 100,000 identifiers take one
// map insert each rather than one snapshot copy each.
func NewMemoryStore(tenants []Tenant) (*MemoryStore, error) {
	m := &MemoryStore{}
	now := time.Now()
	seen := make(map[string]bool, len(tenants))
	built := make([]Tenant, 0, len(tenants))
	owners := map[IdentifierType]map[string]string{}
	for _, t := range tenants {
		ids := t.Identifiers
		if err := t.Normalize(); err != nil {
			return nil, fmt.Errorf("tenant %q: %w", t.ID, err)
		}
		if seen[t.ID] {
			return nil, fmt.Errorf("tenant %q: %w", t.ID, errorf(ErrConflict, "tenant %q already exists", t.ID))
		}
		seen[t.ID] = true
		t.CreatedAt, t.UpdatedAt = now, now
		t.Identifiers = make([]Identifier, 0, len(ids))
		for _, id := range ids {
			if err := checkIdentifier(id); err != nil {
				return nil, fmt.Errorf("tenant %q identifier %q: %w", t.ID, id.Value, err)
			}
			byKey := owners[id.Type]
			if byKey == nil {
				byKey = map[string]string{}
				owners[id.Type] = byKey
			}
			if owner, taken := byKey[id.Key()]; taken {
				return nil, fmt.Errorf("tenant %q identifier %q: %w", t.ID, id.Value,
					errorf(ErrConflict, "%s %s is registered to tenant %q", id.Type, id.Value, owner))
			}
			byKey[id.Key()] = t.ID
			id.Inferred = false
			t.Identifiers = append(t.Identifiers, id)
		}
		built = append(built, t)
	}
	snap, dups := buildSnapshot(built)
	if len(dups) > 0 { // cannot happen: conflicts were refused above
		return nil, fmt.Errorf("tenant seed: %s", strings.Join(dups, "; "))
	}
	m.publish(snap)
	return m, nil
}

// NewMemoryStoreFromFile reads a seed file (see LoadSeed) into a MemoryStore.
func NewMemoryStoreFromFile(path string) (*MemoryStore, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tenant seed: %w", err)
	}
	defer f.Close()
	tenants, err := LoadSeed(f)
	if err != nil {
		return nil, fmt.Errorf("tenant seed %s: %w", path, err)
	}
	return NewMemoryStore(tenants)
}

func (m *MemoryStore) create(t Tenant) (Tenant, error) {
	if err := t.Normalize(); err != nil {
		return Tenant{}, err
	}
	if _, exists := m.load().tenants[t.ID]; exists {
		return Tenant{}, errorf(ErrConflict, "tenant %q already exists", t.ID)
	}
	t.CreatedAt = time.Now()
	t.UpdatedAt = t.CreatedAt
	t.Identifiers = nil
	m.publish(m.load().withTenant(t))
	return t, nil
}

// CreateTenant adds a tenant; ErrConflict if the id exists.
func (m *MemoryStore) CreateTenant(_ context.Context, actor string, t Tenant) (Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out, err := m.create(t)
	if err != nil {
		return Tenant{}, err
	}
	m.record(actor, ActionTenantCreate, out.ID, tenantDetail(out))
	return out, nil
}

// UpdateTenant applies p to tenant id; ErrNotFound if unknown.
func (m *MemoryStore) UpdateTenant(_ context.Context, actor, id string, p TenantPatch) (Tenant, error) {
	if err := p.Validate(); err != nil {
		return Tenant{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.load().tenants[id]
	if !ok {
		return Tenant{}, errorf(ErrNotFound, "tenant %q not found", id)
	}
	t := copyTenant(old)
	p.apply(&t)
	t.UpdatedAt = time.Now()
	m.publish(m.load().withTenant(t))
	m.record(actor, ActionTenantUpdate, id, patchDetail(p))
	return t, nil
}

// AddIdentifier maps id to tenantID; ErrNotFound for an unknown tenant,
// ErrConflict when any tenant already has it.
func (m *MemoryStore) AddIdentifier(_ context.Context, actor, tenantID string, id Identifier) (Identifier, error) {
	if err := checkIdentifier(id); err != nil {
		return Identifier{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.load()
	if _, ok := s.tenants[tenantID]; !ok {
		return Identifier{}, errorf(ErrNotFound, "tenant %q not found", tenantID)
	}
	if owner, taken := s.owner(id.Type, id.Key()); taken {
		return Identifier{}, errorf(ErrConflict, "%s %s is registered to tenant %q", id.Type, id.Value, owner)
	}
	id.Inferred = false
	m.publish(s.withIdentifier(tenantID, id))
	m.record(actor, ActionIdentifierAdd, tenantID, identifierDetail(id))
	return id, nil
}

// DeleteIdentifier removes the tenant's identifiers matching id.
func (m *MemoryStore) DeleteIdentifier(_ context.Context, actor, tenantID string, id Identifier) ([]Identifier, error) {
	return m.deleteIdentifiers(actor, tenantID, id, false)
}

// EraseIdentifier implements Store.
func (m *MemoryStore) EraseIdentifier(_ context.Context, actor, tenantID string, id Identifier) ([]Identifier, error) {
	return m.deleteIdentifiers(actor, tenantID, id, true)
}

func (m *MemoryStore) deleteIdentifiers(actor, tenantID string, id Identifier, erase bool) ([]Identifier, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.load()
	t, ok := s.tenants[tenantID]
	if !ok {
		return nil, errorf(ErrNotFound, "tenant %q not found", tenantID)
	}
	gone := matchIdentifiers(t, id)
	if len(gone) == 0 {
		return nil, errorf(ErrNotFound, "tenant %q has no identifier %s", tenantID, id.Value)
	}
	m.publish(s.withoutIdentifiers(tenantID, gone))
	for _, g := range gone {
		if !erase {
			m.record(actor, ActionIdentifierDelete, tenantID, identifierDetail(g))
			continue
		}
		for i, e := range m.audit {
			if e.Target == tenantID && namesIdentifier(e.Detail, g) {
				m.audit[i].Detail = erasedDetail(g)
			}
		}
		m.record(actor, ActionIdentifierErase, tenantID, erasedDetail(g))
	}
	return gone, nil
}

// Refresh is a no-op: the memory store is its own source.
func (m *MemoryStore) Refresh(context.Context) error { return nil }

// RecordAudit keeps e in memory.
func (m *MemoryStore) RecordAudit(_ context.Context, e AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.record(e.Actor, e.Action, e.Target, e.Detail)
	return nil
}

// record appends an audit entry; m.mu is held.
func (m *MemoryStore) record(actor, action, target string, detail map[string]any) {
	m.audit = append(m.audit, AuditEntry{Actor: actor, Action: action, Target: target, Detail: detail, At: time.Now()})
}

// AuditLog lists the newest entries first.
func (m *MemoryStore) AuditLog(_ context.Context, limit int) ([]AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.audit)
	slices.Reverse(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Health is always healthy: there is no source to lose.
func (m *MemoryStore) Health() Health { return Health{Healthy: true, Listening: true} }

// Check is a readiness check that always passes.
func (m *MemoryStore) Check(context.Context) error { return nil }

// Close does nothing.
func (m *MemoryStore) Close() {}

func checkIdentifier(id Identifier) error {
	if !id.Type.Valid() {
		return errorf(ErrInvalid, "unknown identifier type %q", id.Type)
	}
	if id.Key() == "" {
		return errorf(ErrInvalid, "identifier is empty")
	}
	if id.Channel != "" && !ValidChannel(id.Channel) {
		return errorf(ErrInvalid, "channel %q (want whatsapp or gmail)", id.Channel)
	}
	return nil
}

func tenantDetail(t Tenant) map[string]any {
	d := map[string]any{"name": t.Name, "active": t.Active, "timezone": t.Timezone, "language": t.Language}
	if t.PMSHotelIDSet {
		d["pms_hotel_id"] = t.PMSHotelID
	}
	if t.WhatsAppTemplate.Configured() {
		d["whatsapp_template"] = templateDetail(t.WhatsAppTemplate)
	}
	return d
}

// templateDetail is a template in the audit log; nil (JSON null) when there
// is none.
func templateDetail(w WhatsAppTemplate) any {
	if !w.Configured() {
		return nil
	}
	return map[string]any{"name": w.Name, "language": w.Language, "body_parameters": w.BodyParameters}
}

func patchDetail(p TenantPatch) map[string]any {
	d := map[string]any{}
	if p.Name != nil {
		d["name"] = *p.Name
	}
	if p.Active != nil {
		d["active"] = *p.Active
	}
	if p.Timezone != nil {
		d["timezone"] = *p.Timezone
	}
	if p.Language != nil {
		d["language"] = *p.Language
	}
	if p.PMSHotelID != nil {
		d["pms_hotel_id"] = *p.PMSHotelID
	}
	if p.WhatsAppTemplate != nil {
		d["whatsapp_template"] = templateDetail(*p.WhatsAppTemplate)
	}
	return d
}

func identifierDetail(id Identifier) map[string]any {
	return map[string]any{"type": string(id.Type), "value": id.Value, "channel": id.Channel}
}

// erasedDetail is identifierDetail without the value: its digest instead.
func erasedDetail(id Identifier) map[string]any {
	return map[string]any{"type": string(id.Type), "value_sha256": IdentifierDigest(id), "channel": id.Channel}
}

// namesIdentifier reports whether an audit detail (identifierDetail) names id.
func namesIdentifier(detail map[string]any, id Identifier) bool {
	typ, _ := detail["type"].(string)
	v, _ := detail["value"].(string)
	return typ == string(id.Type) && v != "" && identifierKey(id.Type, v) == id.Key()
}

// IdentifierDigest names an erased identifier: the SHA-256 of its type and
// key, the same for every spelling of the same number or address.
func IdentifierDigest(id Identifier) string {
	sum := sha256.Sum256([]byte(string(id.Type) + ":" + id.Key()))
	return hex.EncodeToString(sum[:])
}

// seedFile is the development seed format (YAML, or JSON which YAML reads):
//
//	tenants:
//	  - tenant_id: tenant_hotel_madrid
//	    name: Hotel Madrid Central
//	    status: active            # or inactive; default active
//	    timezone: Europe/Madrid   # optional, also language, pms_hotel_id
//	    whatsapp_template:        # optional: sent outside the 24-hour window
//	      name: reanudar_conversacion
//	      language: es
//	      body_parameters: ["{guest_name}", "{hotel_name}"]
//	    identifiers:
//	      - "+34600111222"                               # inferred like the admin API
//	      - guest1@madrid.com
//	      - {identifier: "106540352242922", type: phone_number_id}
type seedFile struct {
	Tenants []seedTenant `yaml:"tenants"`
}

type seedTenant struct {
	ID          string           `yaml:"tenant_id"`
	Name        string           `yaml:"name"`
	Status      string           `yaml:"status"`
	Timezone    string           `yaml:"timezone"`
	Language    string           `yaml:"language"`
	PMSHotelID  int              `yaml:"pms_hotel_id"`
	Template    *seedTemplate    `yaml:"whatsapp_template"`
	Identifiers []seedIdentifier `yaml:"identifiers"`
}

type seedTemplate struct {
	Name           string   `yaml:"name"`
	Language       string   `yaml:"language"`
	BodyParameters []string `yaml:"body_parameters"`
}

type seedIdentifier struct {
	Identifier string `yaml:"identifier"`
	Type       string `yaml:"type"`
	Channel    string `yaml:"channel"`
}

// UnmarshalYAML accepts a plain string or the object form.
func (s *seedIdentifier) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		s.Identifier = n.Value
		return nil
	}
	type plain seedIdentifier
	return n.Decode((*plain)(s))
}

// LoadSeed reads a development seed (format on seedFile) into tenants,
// parsing identifiers like the admin API. Unknown fields are errors.
func LoadSeed(r io.Reader) ([]Tenant, error) {
	var f seedFile
	dec := yaml.NewDecoder(io.LimitReader(r, 64<<20))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	out := make([]Tenant, 0, len(f.Tenants))
	for i, st := range f.Tenants {
		t := Tenant{ID: st.ID, Name: st.Name, Timezone: st.Timezone, Language: st.Language, PMSHotelID: st.PMSHotelID}
		if st.Template != nil {
			t.WhatsAppTemplate = WhatsAppTemplate(*st.Template)
		}
		switch strings.ToLower(st.Status) {
		case "", "active":
			t.Active = true
		case "inactive":
		default:
			return nil, fmt.Errorf("tenant %d (%s): status %q (want active or inactive)", i, st.ID, st.Status)
		}
		for _, si := range st.Identifiers {
			id, err := ParseIdentifier(si.Identifier, si.Type)
			if err != nil {
				return nil, fmt.Errorf("tenant %d (%s): %w", i, st.ID, err)
			}
			if si.Channel != "" {
				id.Channel = si.Channel
			}
			t.Identifiers = append(t.Identifiers, id)
		}
		out = append(out, t)
	}
	return out, nil
}

// Open returns the directory a server should use: the Postgres store when
// pool is set (the source of truth; seedFile is then ignored), else a memory
// store seeded from seedFile when set, else an empty memory store.
func Open(ctx context.Context, pool *pgxpool.Pool, seedFile string, opts PostgresOptions) (Store, error) {
	switch {
	case pool != nil:
		return NewPostgresStore(ctx, pool, opts)
	case seedFile != "":
		return NewMemoryStoreFromFile(seedFile)
	default:
		return NewMemoryStore(nil)
	}
}
