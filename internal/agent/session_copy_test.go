package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// fill sets v (and everything under it) to random values, reaching every
// field by reflection, so that a field added to State later is filled too
// and must survive the memory store as it survives JSON: slices and maps
// nil, empty or with elements, pointers nil or set, strings including
// invalid UTF-8 and characters encoding/json escapes.
func fill(r *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.String:
		texts := []string{"", "hola", "Doble Giralda", "ñandú <b>&</b>", "a\u2028b", "bad \xff\xfe bytes", "\xc3", "\uFFFD ok"}
		v.SetString(texts[r.IntN(len(texts))])
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(r.IntN(2000) - 10))
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Float64:
		v.SetFloat(math.Round(r.Float64()*1e6) / 100)
	case reflect.Pointer:
		if r.IntN(3) == 0 || depth > 6 {
			v.SetZero()
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(r, v.Elem(), depth+1)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(r, v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		switch r.IntN(4) {
		case 0:
			v.SetZero()
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, r.IntN(3)))
		default:
			n := 1 + r.IntN(3)
			v.Set(reflect.MakeSlice(v.Type(), n, n))
			for i := range n {
				fill(r, v.Index(i), depth+1)
			}
		}
	case reflect.Map:
		switch r.IntN(3) {
		case 0:
			v.SetZero()
		case 1:
			v.Set(reflect.MakeMap(v.Type()))
		default:
			v.Set(reflect.MakeMap(v.Type()))
			// Keys that stay distinct once made valid UTF-8.
			for _, k := range []string{"", "es", "en", "\xffx"}[:1+r.IntN(4)] {
				e := reflect.New(v.Type().Elem()).Elem()
				fill(r, e, depth+1)
				v.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
			}
		}
	default:
		panic("fill: no case for " + v.Kind().String() + " (" + v.Type().String() + ")")
	}
}

// jsonRoundTrip is what the Postgres store gives back for st.
func jsonRoundTrip(t *testing.T, st State) State {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var out State
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	out.normalize()
	return out
}

func TestMemorySessionsKeepTheJSONRoundTrip(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(17, 2026))
	key := SessionKey{TenantID: "t", Channel: chat.WhatsApp, UserID: "+34600000000"}
	for i := range 2000 {
		var st State
		fill(r, reflect.ValueOf(&st).Elem(), 0)
		want := jsonRoundTrip(t, st)

		m := NewMemorySessions()
		s := &Session{ID: "sess_x", Key: key, State: st, CreatedAt: morning, UpdatedAt: morning, ExpiresAt: morning.Add(time.Hour)}
		if err := m.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		// What the caller does to its state after saving is not saved.
		fill(r, reflect.ValueOf(&s.State).Elem(), 0)
		got, err := m.Load(ctx, key, morning)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.State, want) {
			gj, _ := json.Marshal(got.State)
			wj, _ := json.Marshal(want)
			t.Fatalf("state %d: memory store gave\n%s\nJSON round trip gave\n%s\n%#v\n%#v", i, gj, wj, got.State, want)
		}
		// Nor what the caller does to a loaded state.
		fill(r, reflect.ValueOf(&got.State).Elem(), 0)
		again, _ := m.Load(ctx, key, morning)
		if !reflect.DeepEqual(again.State, want) {
			t.Fatalf("state %d: changing a loaded state changed the stored one", i)
		}
	}
}

func TestMemorySessionsRefuseWhatJSONRefuses(t *testing.T) {
	m := NewMemorySessions()
	key := SessionKey{TenantID: "t", Channel: chat.WhatsApp, UserID: "+34600000000"}
	for _, st := range []State{
		{LastQuote: &Quote{TotalPrice: math.NaN()}},
		{Pending: &Pending{TotalPrice: math.Inf(1)}},
		{LastOffer: []OfferState{{TotalPrice: 1}, {TotalPrice: math.Inf(-1)}}},
	} {
		_, want := json.Marshal(st)
		err := m.Save(context.Background(), &Session{Key: key, State: st, ExpiresAt: morning.Add(time.Hour)})
		if err == nil || want == nil || err.Error() != want.Error() {
			t.Errorf("Save: %v, want json's %v", err, want)
		}
	}
	if got, _ := m.Load(context.Background(), key, morning); !got.New {
		t.Error("a refused state was kept")
	}
}

// leaves lists a change for each string, list and pointer under v: a
// different text, nil for empty (or the reverse), a pointer set or cleared.
func leaves(v reflect.Value, out *[]func()) {
	switch v.Kind() {
	case reflect.String:
		*out = append(*out, func() { v.SetString(v.String() + "·") })
	case reflect.Pointer:
		if v.IsNil() {
			*out = append(*out, func() { v.Set(reflect.New(v.Type().Elem())) })
			return
		}
		*out = append(*out, func() { v.SetZero() })
		leaves(v.Elem(), out)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				leaves(v.Field(i), out)
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			if v.IsNil() {
				*out = append(*out, func() { v.Set(reflect.MakeSlice(v.Type(), 0, 0)) })
			} else {
				*out = append(*out, func() { v.SetZero() })
			}
		}
		*out = append(*out, func() { v.Set(reflect.Append(v, reflect.New(v.Type().Elem()).Elem())) })
		for i := range v.Len() {
			leaves(v.Index(i), out)
		}
	}
}

// Save takes a turn from the stored state only when it is what copying
// would give: one change anywhere in the recent turns is seen.
func TestMemorySessionsSaveReusesOnlyEqualTurns(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(2026, 17))
	key := SessionKey{TenantID: "t", Channel: chat.WhatsApp, UserID: "+34600000000"}
	for i := range 3000 {
		var st State
		for len(st.Recent) == 0 {
			fill(r, reflect.ValueOf(&st).Elem(), 0)
		}
		m := NewMemorySessions()
		if err := m.Save(ctx, &Session{ID: "s", Key: key, State: st, ExpiresAt: morning.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		loaded, _ := m.Load(ctx, key, morning)
		// The change is made to the caller's own copy of the turns: a
		// loaded state's lists are the store's (SessionStore.Load).
		loaded.State.Recent = jsonRoundTrip(t, loaded.State).Recent
		var changes []func()
		leaves(reflect.ValueOf(&loaded.State.Recent).Elem(), &changes)
		if k := r.IntN(len(changes) + 1); k < len(changes) {
			changes[k]()
		}
		want := jsonRoundTrip(t, loaded.State)
		loaded.ExpiresAt = morning.Add(time.Hour)
		if err := m.Save(ctx, loaded); err != nil {
			t.Fatal(err)
		}
		got, _ := m.Load(ctx, key, morning)
		if !reflect.DeepEqual(got.State, want) {
			gj, _ := json.Marshal(got.State.Recent)
			wj, _ := json.Marshal(want.Recent)
			t.Fatalf("state %d: saved again, the memory store gave\n%s\nJSON round trip gave\n%s", i, gj, wj)
		}
	}
}

// Load hands out the stored lists, so each has no room beyond its length:
// a turn's append to one makes a new array instead of writing into the
// store's. The pending action, whose fields a turn sets, is the turn's own.
func TestMemorySessionsLoadedListsHaveNoRoom(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 2026))
	key := SessionKey{TenantID: "t", Channel: chat.WhatsApp, UserID: "+34600000000"}
	var roomy func(v reflect.Value, path string) string
	roomy = func(v reflect.Value, path string) string {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				return roomy(v.Elem(), path)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					if p := roomy(v.Field(i), path+"."+v.Type().Field(i).Name); p != "" {
						return p
					}
				}
			}
		case reflect.Slice:
			if v.Cap() > v.Len() {
				return fmt.Sprintf("%s: length %d, capacity %d", path, v.Len(), v.Cap())
			}
			for i := range v.Len() {
				if p := roomy(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); p != "" {
					return p
				}
			}
		}
		return ""
	}
	// The random states' lists are short; append rounds five ints up to six.
	five := []int{1, 2, 3, 4, 5}
	for i := range 2001 {
		var st State
		if i == 0 {
			st.Context.ChildAges, st.Pending = five, &Pending{Kind: "booking", ChildAges: five}
			st.IntentHistory = append(make([]string, 0, 8), "greeting", "book") // kept as saved
		} else {
			fill(r, reflect.ValueOf(&st).Elem(), 0)
		}
		m := NewMemorySessions()
		if err := m.Save(ctx, &Session{ID: "s", Key: key, State: st, ExpiresAt: morning.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		got, _ := m.Load(ctx, key, morning)
		if p := roomy(reflect.ValueOf(got.State), "State"); p != "" {
			t.Fatalf("state %d: a loaded list has room beyond its length, %s", i, p)
		}
		if got.State.Pending != nil && got.State.Pending == m.rows[key].state.Pending {
			t.Fatalf("state %d: the loaded pending action is the stored one", i)
		}
	}
}
