package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/assay-dev/assay/attest"
)

// refsOf are one claim path's reference values, by how they stand:
// counting, revoked or deprecated, outside their window.
type refsOf struct {
	counted, revoked, outside []*RefValue
}

// judgement is one reason of the output contract as the engine makes it
// (input.comparisons, input.tcb); status is its name ("affirming"), and
// allowed are the reference values it cites, as entries of the input.
type judgement struct {
	rule, claim, found, status, message string
	allowed                             []*RefValue
}

// Keys of a judgement's Rego value. Never written: OPA shares interned
// terms the same way.
var (
	keyRule    = ast.StringTerm("rule")
	keyClaim   = ast.StringTerm("claim")
	keyFound   = ast.StringTerm("found")
	keyStatus  = ast.StringTerm("status")
	keyAllowed = ast.StringTerm("allowed")
	keyMessage = ast.StringTerm("message")
)

// value is the judgement as the policy sees it, an object of the output
// contract's reason; made remembers it, for reason.
func (j *judgement) value(es *entries, made map[ast.Object]*judgement) ast.Value {
	allowed := make([]*ast.Term, len(j.allowed))
	for i, rv := range j.allowed {
		allowed[i] = ast.NewTerm(es.value(rv))
	}
	o := ast.NewObject(
		ast.Item(keyRule, ast.InternedTerm(j.rule)),
		ast.Item(keyClaim, ast.InternedTerm(j.claim)),
		ast.Item(keyFound, ast.InternedTerm(j.found)),
		ast.Item(keyStatus, ast.InternedTerm(j.status)),
		ast.Item(keyAllowed, ast.ArrayTerm(allowed...)),
		ast.Item(keyMessage, ast.InternedTerm(j.message)),
	)
	made[o] = j
	return o
}

// reason is what decodeReason reads from the judgement's value.
func (j *judgement) reason() (Reason, bool) {
	st, err := attest.ParseStatus(j.status)
	if err != nil {
		return Reason{}, false
	}
	r := Reason{Rule: j.rule, Claim: j.claim, Found: j.found, Status: st, Message: j.message,
		Allowed: make([]AllowedValue, len(j.allowed))}
	for i, rv := range j.allowed {
		p := rv.Provenance
		r.Allowed[i] = AllowedValue{Value: rv.Value, RefID: rv.ID,
			Provenance: Provenance{Author: p.Author, Source: p.Source, Note: p.Note}}
	}
	return r, true
}

// compareAll compares, for every claim path the reference values name,
// the claim with the values that count. Each comparison is a reason of
// the output contract, ready for a policy to use as a judgement
// (docs/policy.md, "input.comparisons"):
//
//   - a scalar claim (a string, or a number written in decimal) equal to
//     a value that counts is affirming, allowed listing the values it
//     equals;
//   - for a minimum claim (SGX isv_svn) the claim must be at least the
//     highest value that counts;
//   - anything else is contraindicated, allowed listing every value that
//     counts, and the message says why: the claim is absent, its value
//     was revoked or deprecated, is outside its validity window, or is
//     simply not among them.
//
// Paths whose claim is an object or an array (CCA's
// platform.sw_components, the TPM event log's lists) get no comparison:
// the policy compares them.
func compareAll(kind string, claims map[string]any, by map[string]*refsOf) map[string]*judgement {
	out := make(map[string]*judgement, len(by))
	for path, rs := range by {
		if spec, _ := specOf(kind, path); spec.tcb || spec.each {
			continue // judged by tcbJudgements, or element by element by the policy
		}
		v, present := lookup(claims, path)
		found, scalar := scalarText(v)
		if present && v != nil && !scalar {
			continue
		}
		present = present && v != nil
		spec, _ := specOf(kind, path)
		j := &judgement{rule: kind + "." + path, claim: path, found: found}
		if spec.minimum {
			minimum(j, path, found, present, rs)
		} else {
			equal(j, path, found, present, rs)
		}
		out[path] = j
	}
	return out
}

func equal(j *judgement, path, found string, present bool, rs *refsOf) {
	var hits []*RefValue
	if present {
		for _, e := range rs.counted {
			if e.Value == found {
				hits = append(hits, e)
			}
		}
	}
	if len(hits) > 0 {
		j.status, j.allowed = "affirming", hits
		j.message = path + " matches reference value " + hits[0].ID + " (" + origin(hits[0]) + ")"
		return
	}
	j.status, j.allowed = "contraindicated", rs.counted
	j.message = whyNot(path, found, present, rs)
}

func minimum(j *judgement, path, found string, present bool, rs *refsOf) {
	need, needOK := uint64(0), false
	var at []*RefValue
	for _, e := range rs.counted {
		n, err := strconv.ParseUint(e.Value, 10, 64)
		if err != nil {
			continue
		}
		switch {
		case !needOK || n > need:
			need, needOK, at = n, true, []*RefValue{e}
		case n == need:
			at = append(at, e)
		}
	}
	got, err := strconv.ParseUint(found, 10, 64)
	switch {
	case !needOK:
		j.status, j.allowed = "contraindicated", nil
		j.message = fmt.Sprintf("no minimum %s counts: %s", path, whyNot(path, found, present, rs))
	case present && err == nil && got >= need:
		j.status, j.allowed = "affirming", at
		j.message = fmt.Sprintf("%s %d is at least the minimum %d of reference value %s", path, got, need, at[0].ID)
	default:
		j.status, j.allowed = "contraindicated", at
		if !present {
			j.message = fmt.Sprintf("%s is absent from the evidence; minimum %d (reference value %s)", path, need, at[0].ID)
		} else {
			j.message = fmt.Sprintf("%s %s is below the minimum %d of reference value %s", path, found, need, at[0].ID)
		}
	}
}

// whyNot explains a claim that matches no value that counts.
func whyNot(path, found string, present bool, rs *refsOf) string {
	allowed := listing(rs.counted)
	if !present {
		return fmt.Sprintf("%s is absent from the evidence, but reference values name it; allowed: %s", path, allowed)
	}
	for _, e := range rs.revoked {
		if e.Value == found {
			note := ""
			if n := e.Provenance.Note; n != "" {
				note = ": " + n
			}
			return fmt.Sprintf("%s %s was %s: reference value %s (version %d, %s) no longer counts%s; allowed: %s",
				path, found, string(e.State), e.ID, e.Version, origin(e), note, allowed)
		}
	}
	for _, e := range rs.outside {
		if e.Value == found {
			return fmt.Sprintf("%s %s matches reference value %s, which is valid only from %s until %s; allowed now: %s",
				path, found, e.ID, orOpen(formatTime(e.NotBefore)), orOpen(formatTime(e.NotAfter)), allowed)
		}
	}
	return fmt.Sprintf("%s %s matches no reference value that counts; allowed: %s", path, found, allowed)
}

func listing(es []*RefValue) string {
	if len(es) == 0 {
		return "none (no reference value counts)"
	}
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Value + " (" + e.ID + ")"
	}
	return strings.Join(parts, ", ")
}

func origin(e *RefValue) string {
	return string(e.State) + ", by " + orUnknown(e.Provenance.Author) + ", from " + orUnknown(e.Provenance.Source)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func orOpen(s string) string {
	if s == "" {
		return "(open)"
	}
	return s
}

// lookup finds a claim by dotted path: a segment names an object member,
// or, in an array, an index ("rtmr.2").
func lookup(claims map[string]any, path string) (any, bool) {
	var v any = claims
	for seg := range strings.SplitSeq(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[seg]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) || strconv.Itoa(i) != seg {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// scalarText renders a scalar claim the way reference values write it.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}
