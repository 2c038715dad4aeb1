package inbox

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/agentehotel/agente-caddy/internal/chat"
)

// randomize sets every field under v, by reflection (so fields added later
// are covered), to values that may hold NUL, the text \u0000, escapes, or
// nothing of the kind; metadata gets nested JSON-like values.
func randomize(r *rand.Rand, v reflect.Value, depth int) {
	texts := []string{"", "hola", "a\x00b", "\x00", `back\u0000slash`, `\\u0000`, "\u2028<&>", "\x01\x1f", "ñ", "\\u000", "u0000"}
	switch v.Kind() {
	case reflect.String:
		v.SetString(texts[r.IntN(len(texts))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(r.IntN(1000)))
	case reflect.Float64:
		v.SetFloat(r.Float64() * 100)
	case reflect.Pointer:
		if r.IntN(3) == 0 || depth > 5 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		randomize(r, v.Elem(), depth+1)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(int64(r.IntN(1e9)), 0).UTC()))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				randomize(r, v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		if r.IntN(3) == 0 {
			return
		}
		n := 1 + r.IntN(2)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			randomize(r, v.Index(i), depth+1)
		}
	case reflect.Map:
		if r.IntN(3) == 0 {
			return
		}
		v.Set(reflect.MakeMap(v.Type()))
		// Keys that stay distinct without their NULs: two that became one
		// would leave either value, by map order, on both paths.
		for _, key := range []string{"k", "a\x00b", `x\u0000`}[:1+r.IntN(3)] {
			k := reflect.ValueOf(key).Convert(v.Type().Key())
			e := reflect.New(v.Type().Elem()).Elem()
			randomize(r, e, depth+1)
			v.SetMapIndex(k, e)
		}
	case reflect.Interface:
		// Metadata's values, as decoded JSON holds them.
		var x any
		switch r.IntN(5) {
		case 0:
			x = texts[r.IntN(len(texts))]
		case 1:
			x = r.Float64()
		case 2:
			x = []any{texts[r.IntN(len(texts))], true}
		case 3:
			if depth < 5 {
				m := map[string]any{}
				randomize(r, reflect.ValueOf(&m).Elem(), depth+1)
				x = m
			}
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	default:
		panic("randomize: no case for " + v.Type().String())
	}
}

// The field check spares the JSON path only where that path changes nothing.
func TestWithoutNULMatchesTheJSONPath(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 17))
	skipped := 0
	for i := range 20000 {
		var m chat.Message
		randomize(r, reflect.ValueOf(&m).Elem(), 0)
		if i%2 == 0 {
			// Half of them with strings only, as most messages are: every
			// field that is not a string or a list of them cleared.
			v := reflect.ValueOf(&m).Elem()
			for f := range v.NumField() {
				switch fv := v.Field(f); fv.Kind() {
				case reflect.String, reflect.Struct:
				case reflect.Slice:
					if fv.Type().Elem().Kind() != reflect.String {
						fv.SetZero()
					}
				default:
					fv.SetZero()
				}
			}
		}
		got, gotChanged := messageWithoutNUL(m)
		want, wantChanged := withoutNULValue(m)
		if gotChanged != wantChanged || !reflect.DeepEqual(got, want) {
			t.Fatalf("message %d: %+v\nchecked: %v %+v\nJSON: %v %+v", i, m, gotChanged, got, wantChanged, want)
		}
		if plainMessage(&m) {
			skipped++
		}
	}
	if skipped == 0 {
		t.Fatal("the check never spared the JSON path")
	}
}

// BenchmarkWithoutNUL is the check of one guest's message without NUL, the
// common case, field by field and by the JSON path it spares.
func BenchmarkWithoutNUL(b *testing.B) {
	m := chat.Message{TenantID: "hotel_madrid", Channel: chat.WhatsApp, ID: "wamid.HBgLMzQ2MDAwMDAwMDAVAgASGBQzQUI", From: "34600000000",
		To: "106540352242922", Name: "Ana García", Timestamp: time.Unix(1765000000, 0), Kind: chat.KindText, Text: "hola, ¿tienen habitación?"}
	b.Run("fields", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = messageWithoutNUL(m)
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = withoutNULValue(m)
		}
	})
}
