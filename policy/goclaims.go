package policy

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// The claims reach a policy as the plain values of their JSON form
// (claimsJSON). Marshalling them and decoding the JSON again was about
// two fifths of an evaluation, so the engine walks the Go value instead
// and builds the same values directly: what encoding/json would write,
// read back as decodeJSON reads it. Whatever the walk does not mirror
// exactly (custom marshalers, json.Number, floats, embedded fields, tag
// options other than omitempty, pointers to pointers or interfaces, map
// keys other than strings) goes
// through encoding/json and decodeJSON for that value alone, and any
// error starts the conversion again the old way, so that an error, its
// message and the values are those of claimsJSON (so is a map key of
// invalid UTF-8, which encoding/json may make equal to another). TestClaimsWalk and
// FuzzClaimsWalk hold the two to each other.

// walker converts claims; it remembers how to convert each Go type it
// has seen (plans), as encoding/json does, but per Engine.
type walker struct {
	plans sync.Map // reflect.Type -> *plan
}

// planKind is how a value of a type converts.
type planKind uint8

const (
	viaJSON   planKind = iota // encoding/json, then decodeJSON
	asBool                    // bool
	asInt                     // json.Number, decimal
	asUint                    // json.Number, decimal
	asString                  // string, invalid UTF-8 as encoding/json replaces it
	asBytes                   // base64 string, nil is null
	asStruct                  // object of fields
	asMap                     // object, string-kind keys
	asSlice                   // array, nil is null
	asArray                   // array
	asPointer                 // the element, nil is null
	asIface                   // the dynamic value, nil is null
	invalid                   // encoding/json refuses it
)

type plan struct {
	kind   planKind
	elem   *plan // asMap (values), asSlice, asArray, asPointer
	fields []field
}

type field struct {
	name      string
	index     int
	omitEmpty bool
	plan      *plan
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	numberType        = reflect.TypeFor[json.Number]()
)

// errWalk stops the walk; the claims are then converted through JSON.
var errWalk = errors.New("claims: not converted directly")

// claims is claimsJSON, faster. keep, when not nil, names the top-level
// claims to convert, the others being left out (when the claims are a
// struct, as every verifier's are).
func (w *walker) claims(c any, keep map[string]bool) (map[string]any, error) {
	if c == nil {
		return map[string]any{}, nil
	}
	rv := reflect.ValueOf(c)
	p := w.plan(rv.Type())
	if p.kind == asPointer && !rv.IsNil() {
		rv, p = rv.Elem(), p.elem
	}
	var v any
	var err error
	if p.kind == asStruct {
		v, err = w.object(rv, p, 0, keep)
	} else {
		v, err = w.value(rv, p, 0)
	}
	if err != nil {
		return claimsJSON(c)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return map[string]any{}, nil
	}
	return m, nil
}

// plan returns the plan of t, making it (and those of the types it
// contains) the first time.
func (w *walker) plan(t reflect.Type) *plan {
	if p, ok := w.plans.Load(t); ok {
		return p.(*plan)
	}
	made := map[reflect.Type]*plan{}
	p := makePlan(t, made)
	for t, p := range made {
		w.plans.LoadOrStore(t, p)
	}
	return p
}

// makePlan follows encoding/json's choice of encoder (newTypeEncoder,
// newSliceEncoder, typeFields); made holds the plans under construction,
// for recursive types.
func makePlan(t reflect.Type, made map[reflect.Type]*plan) *plan {
	if p, ok := made[t]; ok {
		return p
	}
	p := &plan{}
	made[t] = p
	pt := reflect.PointerTo(t)
	if t == numberType || t.Implements(marshalerType) || t.Implements(textMarshalerType) ||
		(t.Kind() != reflect.Pointer && (pt.Implements(marshalerType) || pt.Implements(textMarshalerType))) {
		// A marshaler of *T is used only for addressable values; the
		// fallback marshals those through their address, so that it
		// chooses as encoding/json does.
		return p // viaJSON
	}
	switch t.Kind() {
	case reflect.Bool:
		p.kind = asBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.kind = asInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p.kind = asUint
	case reflect.String:
		p.kind = asString
	case reflect.Interface:
		p.kind = asIface
	case reflect.Pointer:
		if k := t.Elem().Kind(); k != reflect.Pointer && k != reflect.Interface {
			p.kind, p.elem = asPointer, makePlan(t.Elem(), made)
		}
	case reflect.Slice:
		if e := t.Elem(); e.Kind() == reflect.Uint8 {
			pe := reflect.PointerTo(e)
			if !pe.Implements(marshalerType) && !pe.Implements(textMarshalerType) {
				p.kind = asBytes
				break
			}
		}
		p.kind, p.elem = asSlice, makePlan(t.Elem(), made)
	case reflect.Array:
		p.kind, p.elem = asArray, makePlan(t.Elem(), made)
	case reflect.Map:
		if t.Key().Kind() == reflect.String {
			p.kind, p.elem = asMap, makePlan(t.Elem(), made)
		}
	case reflect.Struct:
		if fs, ok := plainFields(t, made); ok {
			p.kind, p.fields = asStruct, fs
		}
	case reflect.Float32, reflect.Float64:
		// viaJSON: encoding/json's float format
	default:
		p.kind = invalid
	}
	return p
}

// plainFields returns the fields encoding/json writes for a struct whose
// fields are all plain: none embedded, tag names of letters, digits and
// "_.-" only, no option but omitempty, no name twice. ok is false for any
// other struct, which then goes through encoding/json.
func plainFields(t reflect.Type, made map[reflect.Type]*plan) (fs []field, ok bool) {
	seen := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil, false
		}
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if opts != "" && opts != "omitempty" {
			return nil, false
		}
		if name == "" {
			name = sf.Name
		} else if !plainName(name) {
			return nil, false
		}
		if seen[name] {
			return nil, false
		}
		seen[name] = true
		fs = append(fs, field{name: name, index: i, omitEmpty: opts == "omitempty"})
	}
	// Field plans after the fields, so that a recursive type finds its
	// own (empty, then filled) plan.
	for i := range fs {
		fs[i].plan = makePlan(t.Field(fs[i].index).Type, made)
	}
	return fs, true
}

func plainName(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// value converts v by its plan; depth is decodeJSON's, whose limit it
// keeps.
func (w *walker) value(v reflect.Value, p *plan, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errWalk
	}
	switch p.kind {
	case asBool:
		return v.Bool(), nil
	case asInt:
		return json.Number(strconv.FormatInt(v.Int(), 10)), nil
	case asUint:
		return json.Number(strconv.FormatUint(v.Uint(), 10)), nil
	case asString:
		return validString(v.String()), nil
	case asBytes:
		if v.IsNil() {
			return nil, nil
		}
		return base64.StdEncoding.EncodeToString(v.Bytes()), nil
	case asPointer:
		if v.IsNil() {
			return nil, nil
		}
		return w.value(v.Elem(), p.elem, depth)
	case asIface:
		if v.IsNil() {
			return nil, nil
		}
		e := v.Elem()
		return w.value(e, w.plan(e.Type()), depth)
	case asStruct:
		return w.object(v, p, depth, nil)
	case asMap:
		if v.IsNil() {
			return nil, nil
		}
		m := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			x, err := w.value(it.Value(), p.elem, depth+1)
			if err != nil {
				return nil, err
			}
			k := it.Key().String()
			if !utf8.ValidString(k) {
				// Keys that encoding/json would make equal: the last in
				// its sorted order wins.
				return nil, errWalk
			}
			m[k] = x
		}
		return m, nil
	case asSlice, asArray:
		if p.kind == asSlice && v.IsNil() {
			return nil, nil
		}
		a := make([]any, v.Len())
		for i := range a {
			x, err := w.value(v.Index(i), p.elem, depth+1)
			if err != nil {
				return nil, err
			}
			a[i] = x
		}
		return a, nil
	case viaJSON:
		x := v.Interface()
		if v.CanAddr() {
			x = v.Addr().Interface()
		}
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		jp := jsonParser{b: b, s: string(b)}
		val, err := jp.value(depth)
		if err != nil {
			return nil, err
		}
		if jp.space(); jp.i != len(b) {
			return nil, errWalk
		}
		return val, nil
	}
	return nil, errWalk
}

// object converts a struct by its plan; keep, when not nil, names the
// fields to convert.
func (w *walker) object(v reflect.Value, p *plan, depth int, keep map[string]bool) (any, error) {
	if depth > maxDepth {
		return nil, errWalk
	}
	n := len(p.fields)
	if keep != nil {
		n = min(n, len(keep))
	}
	m := make(map[string]any, n)
	for _, f := range p.fields {
		if keep != nil && !keep[f.name] {
			continue
		}
		fv := v.Field(f.index)
		if f.omitEmpty && empty(fv) {
			continue
		}
		x, err := w.value(fv, f.plan, depth+1)
		if err != nil {
			return nil, err
		}
		m[f.name] = x
	}
	return m, nil
}

// empty is encoding/json's isEmptyValue, for omitempty.
func empty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64,
		reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// validString is s as it reads back from encoding/json's output: each
// byte of invalid UTF-8 becomes U+FFFD. Valid strings (all claims) are
// returned as they are.
func validString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
