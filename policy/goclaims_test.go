package policy_test

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/policy"
)

// sameClaims fails unless the engine's conversion of c is the JSON
// conversion's: the same values, or the same error.
func sameClaims(t *testing.T, e *policy.Engine, c any) {
	t.Helper()
	got, gotErr := e.ClaimsWalk(c)
	want, wantErr := policy.ClaimsJSON(c)
	if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
		t.Fatalf("error %v, through JSON %v", gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("claims\n%#v\nthrough JSON\n%#v", got, want)
	}
}

// TestClaimsWalk: the claims of every kind of evidence convert to what
// their JSON form decodes to (twice: the second time with the types'
// plans made).
func TestClaimsWalk(t *testing.T) {
	e := newEngine(t, policy.Options{})
	results := sampleResults(t)
	results["turin-bad-signature"] = turinBadSignature(t)
	for name, r := range results {
		t.Run(name, func(t *testing.T) {
			if m, err := e.ClaimsWalk(r.Claims); err != nil || len(m) == 0 {
				t.Fatalf("%d claims, %v", len(m), err)
			}
			sameClaims(t, e, r.Claims)
			sameClaims(t, e, r.Claims)
			all, _ := e.ClaimsWalk(r.Claims)
			some, err := e.ClaimsKept(r.Claims, "measurement", "policy", "pcrs", "no such claim")
			if err != nil {
				t.Fatal(err)
			}
			// Claims that are not a plain struct (embedded fields) come
			// whole: more than asked for is allowed, not less or other.
			for _, k := range []string{"measurement", "policy", "pcrs"} {
				_, want := all[k]
				if _, got := some[k]; got != want {
					t.Errorf("%s: asked for, not given", k)
				}
			}
			for k, v := range some {
				if !reflect.DeepEqual(v, all[k]) {
					t.Errorf("%s: %v, all claims %v", k, v, all[k])
				}
			}
		})
	}
}

// Types of the shapes encoding/json treats specially.
type (
	valueMarshaler struct{ X int }
	ptrMarshaler   struct{ X int }
	ptrText        struct{ X int }
	badMarshaler   struct{}
	hexBytes       []byte
	named          string
	intKeys        map[int]string
	list           struct {
		V    int   `json:"v"`
		Next *list `json:"next,omitempty"`
	}
	embedded struct{ Inner string }
	outer    struct {
		embedded
		Own string `json:"own"`
	}
	options struct {
		N int64  `json:"n,string"`
		S string `json:"s,omitzero"`
	}
	twice struct {
		X string
		B string `json:"X"`
	}
	oddTag struct {
		A string `json:"é"`
		B string `json:"b c"`
	}
	unsupported struct{ C chan int }
)

func (v valueMarshaler) MarshalJSON() ([]byte, error) { return []byte(`{"value":true}`), nil }
func (p *ptrMarshaler) MarshalJSON() ([]byte, error)  { return []byte(`["pointer"]`), nil }
func (p *ptrText) MarshalText() ([]byte, error)       { return []byte("text"), nil }
func (badMarshaler) MarshalJSON() ([]byte, error)     { return nil, errors.New("no") }

// shapes is one of everything claims could hold.
type shapes struct {
	Bool      bool                      `json:"bool"`
	Int       int8                      `json:"int"`
	Uint      uint64                    `json:"uint"`
	Uintptr   uintptr                   `json:"uintptr"`
	Float     float64                   `json:"float"`
	Float32   float32                   `json:"float32"`
	String    string                    `json:"string"`
	Named     named                     `json:"named"`
	Bytes     []byte                    `json:"bytes"`
	NilBytes  []byte                    `json:"nil_bytes"`
	HexBytes  hexBytes                  `json:"hex_bytes"`
	Array     [3]byte                   `json:"array"`
	Slice     []string                  `json:"slice"`
	NilSlice  []int                     `json:"nil_slice"`
	Map       map[string]map[string]int `json:"map"`
	NilMap    map[string]bool           `json:"nil_map"`
	IntKeys   intKeys                   `json:"int_keys"`
	Any       any                       `json:"any"`
	NilAny    any                       `json:"nil_any"`
	Ptr       *string                   `json:"ptr"`
	NilPtr    *uint8                    `json:"nil_ptr"`
	PtrPtr    **string                  `json:"ptr_ptr"`
	Number    json.Number               `json:"number"`
	Raw       json.RawMessage           `json:"raw"`
	Value     valueMarshaler            `json:"value_marshaler"`
	PtrM      ptrMarshaler              `json:"ptr_marshaler"`
	PtrMs     []ptrMarshaler            `json:"ptr_marshalers"`
	Text      ptrText                   `json:"text"`
	Status    attest.Status             `json:"status"`
	List      *list                     `json:"list"`
	Outer     outer                     `json:"outer"`
	Options   options                   `json:"options"`
	Twice     twice                     `json:"twice"`
	OddTag    oddTag                    `json:"odd_tag"`
	Omit      string                    `json:"omit,omitempty"`
	OmitPtr   *int                      `json:"omit_ptr,omitempty"`
	OmitSlice []int                     `json:"omit_slice,omitempty"`
	Dash      string                    `json:"-"`
	Untagged  string
	hidden    string
}

// TestClaimsWalkShapes: every shape converts as through JSON, and every
// value encoding/json refuses is the same error.
func TestClaimsWalkShapes(t *testing.T) {
	e := newEngine(t, policy.Options{})
	str := "pointed"
	ptr := &str
	full := shapes{
		Bool: true, Int: -7, Uint: math.MaxUint64, Uintptr: 9, Float: 1.5e-7, Float32: 3.25,
		String: "tab\t<&> \u2028 é \xff\xfe end", Named: "n", Bytes: []byte{0, 1, 0xfe, 0xff}, HexBytes: hexBytes("hi"),
		Array: [3]byte{1, 2, 3}, Slice: []string{"a", ""}, Map: map[string]map[string]int{"k": {"x": 1}, "": nil},
		IntKeys: intKeys{-1: "minus", 2: "two"}, Any: map[string]any{"n": json.Number("12"), "f": 2.5, "l": []any{nil, true}},
		Ptr: &str, PtrPtr: &ptr, Number: "-1.5e3", Raw: json.RawMessage(` { "a" : [ 1 ] } `),
		PtrMs: []ptrMarshaler{{1}}, Status: attest.StatusWarning, List: &list{V: 1, Next: &list{V: 2}},
		Outer: outer{embedded{"in"}, "own"}, Options: options{N: 5, S: "s"}, Twice: twice{"a", "b"},
		OddTag: oddTag{"a", "b"}, Dash: "dash", Untagged: "u", hidden: "h",
	}
	deep := &list{}
	for range 70 {
		deep = &list{Next: deep}
	}
	selfRef := map[string]any{}
	selfRef["self"] = selfRef
	for name, c := range map[string]any{
		"nil":              nil,
		"typed-nil":        (*shapes)(nil),
		"zero":             shapes{},
		"zero-pointer":     &shapes{},
		"full":             full,
		"full-pointer":     &full,
		"in-interface":     map[string]any{"s": &full, "v": full},
		"slice":            []string{"not", "an", "object"},
		"string":           "not an object",
		"invalid-utf8-key": map[string]int{"\xff": 1, "\xfe": 2, "ok": 3},
		"map-of-structs":   map[string]valueMarshaler{"a": {}},
		"nan":              map[string]any{"f": math.NaN()},
		"infinity":         shapes{Float: math.Inf(1)},
		"bad-number":       shapes{Number: "0x10"},
		"bad-marshaler":    map[string]any{"m": badMarshaler{}},
		"chan":             unsupported{C: make(chan int)},
		"nil-chan":         map[string]any{"u": unsupported{}},
		"func":             map[string]any{"f": func() {}},
		"complex":          map[string]any{"c": complex(1, 2)},
		"too-deep":         deep,
		"cycle":            selfRef,
		"deep-json":        map[string]any{"raw": json.RawMessage(strings.Repeat("[", 70) + strings.Repeat("]", 70))},
	} {
		t.Run(name, func(t *testing.T) {
			sameClaims(t, e, c)
		})
	}
}

// FuzzClaimsWalk: claims of any values and any shape convert as through
// JSON. The fuzzer's bytes are a string and a byte slice of a shapes
// value, and, when they are JSON, a document decoded into interfaces.
//
//	go test -run XXX -fuzz '^FuzzClaimsWalk$' -fuzztime 20s ./policy/
func FuzzClaimsWalk(f *testing.F) {
	f.Add("plain", []byte(`{"a": [1, -2.5e3, "x\u00e9", true, null, {}], "b": {"c": []}}`), int64(-1), uint64(1), 0.5, true)
	f.Add("\xff\xfe", []byte("\x00\xff"), int64(math.MinInt64), uint64(math.MaxUint64), math.Inf(-1), false)
	f.Add("", []byte(`[[[[[[[[[[[[]]]]]]]]]]]]`), int64(0), uint64(0), 1e21, false)
	e := newEngine(f, policy.Options{})
	f.Fuzz(func(t *testing.T, s string, b []byte, n int64, u uint64, fl float64, ok bool) {
		var doc any
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.UseNumber()
		if dec.Decode(&doc) != nil {
			doc = nil
		}
		c := shapes{
			Bool: ok, Int: int8(n), Uint: u, Float: fl, String: s, Named: named(s), Bytes: b, HexBytes: b,
			Slice: []string{s}, Map: map[string]map[string]int{s: {s: int(n)}}, IntKeys: intKeys{int(n): s},
			Any: doc, Ptr: &s, Number: json.Number(s), Omit: s, List: &list{V: int(n)},
		}
		if json.Valid(b) {
			c.Raw = b
		}
		sameClaims(t, e, c)
		sameClaims(t, e, map[string]any{s: doc, "shapes": &c})
	})
}

// BenchmarkClaims converts the Turin sample's claims as Evaluate does
// (walk) and through their JSON form (json), the way it did before.
func BenchmarkClaims(b *testing.B) {
	e := newEngine(b, policy.Options{})
	c := turinResult(b).Claims
	for _, bc := range []struct {
		name string
		conv func(any) (map[string]any, error)
	}{{"walk", e.ClaimsWalk}, {"json", policy.ClaimsJSON}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.conv(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
