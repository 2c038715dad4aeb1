package tenancy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// snapshot is an immutable view of the directory. Readers load it through an
// atomic pointer and never lock; writers build a modified copy and swap it in.
// Tenant values inside are never mutated once the snapshot is published.
type snapshot struct {
	tenants map[string]*Tenant
	// owners[type index] maps an identifier key to its tenant id, for every
	// tenant (active or not) so conflicts are detected; Resolve skips
	// inactive owners.
	owners [len(identifierTypes)]map[string]string
	stats  Stats
}

func emptySnapshot() *snapshot {
	s := &snapshot{tenants: map[string]*Tenant{}}
	for i := range s.owners {
		s.owners[i] = map[string]string{}
	}
	return s
}

// buildSnapshot indexes tenants. A key claimed by two tenants (possible only
// when rows were written around our normalisation, e.g. "+34 600" and
// "34600" inserted by hand) goes to the first in id order and is reported.
func buildSnapshot(tenants []Tenant) (*snapshot, []string) {
	s := &snapshot{tenants: make(map[string]*Tenant, len(tenants))}
	for i := range s.owners {
		s.owners[i] = map[string]string{}
	}
	slices.SortFunc(tenants, func(a, b Tenant) int { return strings.Compare(a.ID, b.ID) })
	var dups []string
	for i := range tenants {
		t := &tenants[i]
		s.tenants[t.ID] = t
		for _, id := range t.Identifiers {
			ix := id.Type.index()
			if ix < 0 {
				continue
			}
			k := id.Key()
			if k == "" {
				continue
			}
			if owner, taken := s.owners[ix][k]; taken {
				if owner != t.ID {
					dups = append(dups, fmt.Sprintf("%s %s claimed by %s and %s", id.Type, id.Value, owner, t.ID))
				}
				continue
			}
			s.owners[ix][k] = t.ID
		}
	}
	s.recount()
	return s, dups
}

func (s *snapshot) recount() {
	st := Stats{Tenants: len(s.tenants)}
	for _, t := range s.tenants {
		if t.Active {
			st.Active++
		}
	}
	for _, m := range s.owners {
		st.Identifiers += len(m)
	}
	s.stats = st
}

// clone copies the maps (not the tenants, which are immutable).
func (s *snapshot) clone() *snapshot {
	c := &snapshot{tenants: maps.Clone(s.tenants), stats: s.stats}
	for i, m := range s.owners {
		c.owners[i] = maps.Clone(m)
	}
	return c
}

func (s *snapshot) owner(t IdentifierType, key string) (string, bool) {
	ix := t.index()
	if ix < 0 || key == "" {
		return "", false
	}
	id, ok := s.owners[ix][key]
	return id, ok
}

// activeOwner returns the active tenant owning the identifier.
func (s *snapshot) activeOwner(t IdentifierType, key string) (string, bool) {
	id, ok := s.owner(t, key)
	if !ok {
		return "", false
	}
	if tn := s.tenants[id]; tn == nil || !tn.Active {
		return "", false
	}
	return id, true
}

// configuredUsable accepts a tenant named by configuration (explicit or
// default) unless the directory knows it and it is inactive. A directory
// that is not complete may not list every configured tenant
// (DEFAULT_TENANT_ID in development, with the in-memory stores); a complete
// one (Postgres) must, because a guest's session cannot belong to a tenant
// that does not exist.
func (s *snapshot) configuredUsable(id string, complete bool) bool {
	t, known := s.tenants[id]
	if !known {
		return !complete
	}
	return t.Active
}

func (s *snapshot) tenant(id string) (Tenant, bool) {
	t, ok := s.tenants[id]
	if !ok {
		return Tenant{}, false
	}
	return copyTenant(t), true
}

func (s *snapshot) profile(id string) (Profile, bool) {
	t, ok := s.tenants[id]
	if !ok {
		return Profile{}, false
	}
	return Profile{Name: t.Name, Timezone: t.Timezone, Language: t.Language, PMSHotelID: t.PMSHotelID, PMSHotelIDSet: t.PMSHotelIDSet}, true
}

func (s *snapshot) list() []Tenant {
	out := make([]Tenant, 0, len(s.tenants))
	for _, t := range s.tenants {
		out = append(out, copyTenant(t))
	}
	slices.SortFunc(out, func(a, b Tenant) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func copyTenant(t *Tenant) Tenant {
	c := *t
	c.Identifiers = slices.Clone(t.Identifiers)
	c.WhatsAppTemplate = t.WhatsAppTemplate.clone()
	return c
}

// The write helpers below return a modified copy; the caller swaps it in.

func (s *snapshot) withTenant(t Tenant) *snapshot {
	c := s.clone()
	old := c.tenants[t.ID]
	if old != nil {
		// Identifiers are owned by the snapshot, not by the patch.
		t.Identifiers = old.Identifiers
	}
	c.tenants[t.ID] = &t
	c.recount()
	return c
}

func (s *snapshot) withIdentifier(tenantID string, id Identifier) *snapshot {
	c := s.clone()
	old := c.tenants[tenantID]
	if old == nil {
		return c
	}
	t := copyTenant(old)
	// A reload that read the committed write may have got here first.
	if !slices.ContainsFunc(t.Identifiers, func(have Identifier) bool { return have.Type == id.Type && have.Key() == id.Key() }) {
		t.Identifiers = append(t.Identifiers, id)
	}
	c.tenants[tenantID] = &t
	c.owners[id.Type.index()][id.Key()] = tenantID
	c.recount()
	return c
}

func (s *snapshot) withoutIdentifiers(tenantID string, gone []Identifier) *snapshot {
	c := s.clone()
	old := c.tenants[tenantID]
	if old == nil {
		return c
	}
	t := copyTenant(old)
	t.Identifiers = slices.DeleteFunc(t.Identifiers, func(have Identifier) bool {
		return slices.ContainsFunc(gone, func(g Identifier) bool { return g.Type == have.Type && g.Key() == have.Key() })
	})
	c.tenants[tenantID] = &t
	for _, g := range gone {
		if c.owners[g.Type.index()][g.Key()] == tenantID {
			delete(c.owners[g.Type.index()], g.Key())
		}
	}
	c.recount()
	return c
}

// matchIdentifiers finds the tenant's identifiers a delete request names:
// the same type and key, or for bare digits any WhatsApp id with those digits.
func matchIdentifiers(t *Tenant, want Identifier) []Identifier {
	var out []Identifier
	for _, have := range t.Identifiers {
		if matches(have, want) {
			out = append(out, have)
		}
	}
	return out
}

func matches(have, want Identifier) bool {
	if have.Type == want.Type {
		return have.Key() == want.Key()
	}
	if want.Type == Phone && want.Inferred && (have.Type == PhoneNumberID || have.Type == WABAID) {
		return have.Key() == NormalizePhone(want.Value)
	}
	return false
}

// deleteTypes are the identifier types a delete request may match.
func deleteTypes(want Identifier) []string {
	if want.Type == Phone && want.Inferred {
		return []string{string(Phone), string(PhoneNumberID), string(WABAID)}
	}
	return []string{string(want.Type)}
}
