package broker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Status names, the EAR trust tiers (draft-ietf-rats-ear section 3.2), as
// attest.Status spells them.
const (
	StatusNone            = "none"
	StatusAffirming       = "affirming"
	StatusWarning         = "warning"
	StatusContraindicated = "contraindicated"
)

// ReleasePolicy says to which appraisals a secret may be released. Every
// rule must hold; the zero value (JSON {}) releases to any TEE whose
// appraisal is affirming. docs/key-broker.md has examples.
type ReleasePolicy struct {
	// TEE lists the evidence kinds allowed ("snp", "tdx", ...); empty
	// allows any.
	TEE []string `json:"tee,omitempty"`
	// MinStatus is the least trusted appraisal tier allowed: "affirming"
	// (also the meaning of "") or "warning" (affirming or warning).
	// Contraindicated and none are never released to.
	MinStatus string `json:"min_status,omitempty"`
	// Claims maps a claim path to the values allowed there. A path is
	// dotted ("td_attributes.debug"); a segment of digits indexes an array
	// ("rtmr.2") or names a member ("pcrs.0"). Values are strings, numbers
	// or booleans; hex strings compare case-insensitively, numbers
	// numerically. A missing claim denies.
	Claims map[string][]any `json:"claims,omitempty"`
}

// Appraisal is what Evaluate judges: a verified appraisal's TEE kind, its
// EAR tier by name, and its claims as decoded from JSON (map[string]any,
// []any, string, float64 or json.Number, bool, nil).
type Appraisal struct {
	TEE    string
	Status string // "affirming", "warning", "contraindicated" or "none"
	Claims map[string]any
}

// Decision is the outcome of Evaluate. Reasons, one per failed rule, name
// the rule, what was found and what is allowed; they are empty when Allow
// is true.
type Decision struct {
	Allow   bool
	Reasons []string
}

const (
	maxTEENameLen   = 32
	maxClaimPathLen = 256
	maxShownLen     = 160 // bytes of one value shown in a reason
)

// ParseReleasePolicy reads a release policy from JSON, refusing unknown
// members, trailing data, and rules that could never match: an unknown
// min_status, a malformed claim path, an empty list of allowed values, or
// an allowed value that is not a string, number or boolean. Empty input
// (or only whitespace) is the same as {}. Numbers stay json.Number, so
// they compare exactly.
func ParseReleasePolicy(b []byte) (ReleasePolicy, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return ReleasePolicy{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var p ReleasePolicy
	if err := dec.Decode(&p); err != nil {
		return ReleasePolicy{}, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	if dec.More() {
		return ReleasePolicy{}, fmt.Errorf("%w: data after the policy object", ErrPolicy)
	}
	if err := p.Validate(); err != nil {
		return ReleasePolicy{}, err
	}
	return p, nil
}

// Validate reports every problem of the policy at once (errors.Join),
// each wrapping ErrPolicy. ParseReleasePolicy calls it; call it on a
// policy built in code.
func (p ReleasePolicy) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrPolicy, fmt.Sprintf(format, a...)))
	}
	seen := map[string]bool{}
	for _, t := range p.TEE {
		if !validTEEName(t) {
			bad("tee %q: want lowercase letters, digits, '-' or '_', 1 to %d characters (e.g. \"snp\", \"tdx\")", t, maxTEENameLen)
		}
		if seen[t] {
			bad("tee %q is listed twice", t)
		}
		seen[t] = true
	}
	switch p.MinStatus {
	case "", StatusAffirming, StatusWarning:
	default:
		bad("min_status %q: want %q (the default) or %q", p.MinStatus, StatusAffirming, StatusWarning)
	}
	for _, path := range sortedKeys(p.Claims) {
		if err := checkClaimPath(path); err != nil {
			bad("claim path %q: %v", path, err)
			continue
		}
		allowed := p.Claims[path]
		if len(allowed) == 0 {
			bad("claim %s: no allowed values (a claim that can match nothing would deny every release)", path)
		}
		for i, v := range allowed {
			if _, ok := scalar(v); !ok {
				bad("claim %s: allowed value %d is %s; want a string, number or boolean", path, i, show(v))
			}
		}
	}
	return errors.Join(errs...)
}

func validTEEName(s string) bool {
	if len(s) == 0 || len(s) > maxTEENameLen {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func checkClaimPath(path string) error {
	if path == "" || len(path) > maxClaimPathLen {
		return fmt.Errorf("want 1 to %d characters", maxClaimPathLen)
	}
	for _, seg := range strings.Split(path, ".") {
		if seg == "" {
			return errors.New("empty segment (leading, trailing or doubled '.')")
		}
		for _, r := range seg {
			if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				return fmt.Errorf("segment %q has %q; want letters, digits, '_' or '-'", seg, r)
			}
		}
	}
	return nil
}

// Evaluate applies the policy to an appraisal. Every rule is checked, so
// a denial lists all its reasons, in a fixed order: tee, status, then
// claims by path.
func (p ReleasePolicy) Evaluate(a Appraisal) Decision {
	var reasons []string
	if len(p.TEE) > 0 && !slices.Contains(p.TEE, a.TEE) {
		reasons = append(reasons, fmt.Sprintf("tee is %s, allowed: %s", show(a.TEE), show(p.TEE)))
	}
	allowed := []string{StatusAffirming}
	if p.MinStatus == StatusWarning {
		allowed = append(allowed, StatusWarning)
	} else if p.MinStatus != "" && p.MinStatus != StatusAffirming {
		allowed = nil // an unvalidated policy with a bad min_status releases nothing
	}
	if !slices.Contains(allowed, a.Status) {
		reasons = append(reasons, fmt.Sprintf("status is %s, allowed: %s", show(a.Status), show(allowed)))
	}
	for _, path := range sortedKeys(p.Claims) {
		want := p.Claims[path]
		got, ok := lookup(a.Claims, path)
		if !ok {
			reasons = append(reasons, fmt.Sprintf("claim %s is missing, allowed: %s", path, show(want)))
			continue
		}
		if !slices.ContainsFunc(want, func(w any) bool { return equal(got, w) }) {
			reasons = append(reasons, fmt.Sprintf("claim %s is %s, allowed: %s", path, show(got), show(want)))
		}
	}
	return Decision{Allow: len(reasons) == 0, Reasons: reasons}
}

// lookup follows a dotted path through maps (by member name) and slices
// (by index, for segments of digits).
func lookup(claims map[string]any, path string) (any, bool) {
	var cur any = claims
	for _, seg := range strings.Split(path, ".") {
		v := reflect.ValueOf(cur)
		switch v.Kind() {
		case reflect.Map:
			if v.Type().Key().Kind() != reflect.String || v.IsNil() {
				return nil, false
			}
			e := v.MapIndex(reflect.ValueOf(seg).Convert(v.Type().Key()))
			if !e.IsValid() {
				return nil, false
			}
			cur = e.Interface()
		case reflect.Slice, reflect.Array:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= v.Len() || !isDigits(seg) {
				return nil, false
			}
			cur = v.Index(i).Interface()
		default:
			return nil, false // a scalar (or nil) has no members
		}
	}
	return cur, true
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// kind is the comparable form of a scalar.
type kind int

const (
	kString kind = iota + 1
	kNumber
	kBool
)

// scalar classifies v: a string, a (finite) number or a boolean.
func scalar(v any) (kind, bool) {
	switch x := v.(type) {
	case string:
		return kString, true
	case bool:
		return kBool, true
	case json.Number:
		_, ok := number(x)
		return kNumber, ok
	case float64, float32, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		_, ok := number(x)
		return kNumber, ok
	}
	return 0, false
}

// number returns v as an exact rational: JSON numbers are compared by
// value, so 1, 1.0, 1e0 and float64(1) are equal, and no float rounding
// makes two different literals equal.
func number(v any) (*big.Rat, bool) {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		// big.Rat also reads "1/3" and "0x1p-2"; only JSON numbers here.
		if s == "" || !json.Valid([]byte(s)) || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') {
			return nil, false
		}
		r, ok := new(big.Rat).SetString(s)
		return r, ok
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, false
		}
		return new(big.Rat).SetFloat64(x), true
	case float32:
		return number(float64(x))
	case int:
		return new(big.Rat).SetInt64(int64(x)), true
	case int8:
		return new(big.Rat).SetInt64(int64(x)), true
	case int16:
		return new(big.Rat).SetInt64(int64(x)), true
	case int32:
		return new(big.Rat).SetInt64(int64(x)), true
	case int64:
		return new(big.Rat).SetInt64(x), true
	case uint:
		return new(big.Rat).SetUint64(uint64(x)), true
	case uint8:
		return new(big.Rat).SetUint64(uint64(x)), true
	case uint16:
		return new(big.Rat).SetUint64(uint64(x)), true
	case uint32:
		return new(big.Rat).SetUint64(uint64(x)), true
	case uint64:
		return new(big.Rat).SetUint64(x), true
	}
	return nil, false
}

func isFloat(v any) bool {
	switch v.(type) {
	case float64, float32:
		return true
	}
	return false
}

// toFloat reads a number as the nearest float64, as encoding/json would.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	}
	r, ok := number(v)
	if !ok {
		return 0, false
	}
	f, _ := r.Float64()
	return f, true
}

// equal compares a claim with an allowed value: same kind, then strings
// exactly (hex strings case-insensitively), numbers by value, booleans
// exactly. Objects, arrays and null equal nothing.
func equal(got, want any) bool {
	gk, ok1 := scalar(got)
	wk, ok2 := scalar(want)
	if !ok1 || !ok2 || gk != wk {
		return false
	}
	switch gk {
	case kString:
		g, w := got.(string), want.(string)
		if isHex(g) && isHex(w) {
			return strings.EqualFold(g, w)
		}
		return g == w
	case kNumber:
		if isFloat(got) || isFloat(want) {
			// A float64 claim was rounded when its JSON was decoded; the
			// other side must be read the same way, or 0.1 would not
			// equal 0.1.
			g, ok1 := toFloat(got)
			w, ok2 := toFloat(want)
			return ok1 && ok2 && g == w
		}
		g, _ := number(got)
		w, _ := number(want)
		return g.Cmp(w) == 0
	default:
		return got.(bool) == want.(bool)
	}
}

// isHex: measurements and digests are hex, and tools disagree on case.
func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// show renders a value for a reason as JSON, shortened.
func show(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	s := strings.TrimSuffix(buf.String(), "\n")
	if len(s) > maxShownLen {
		cut := maxShownLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
