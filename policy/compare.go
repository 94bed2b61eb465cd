package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// refsOf are the input entries of one claim path's reference values, by
// how they stand: counting, revoked or deprecated, outside their window.
type refsOf struct {
	counted, revoked, outside []map[string]any
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
func compareAll(kind string, claims map[string]any, by map[string]*refsOf) map[string]any {
	out := make(map[string]any, len(by))
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
		j := map[string]any{"rule": kind + "." + path, "claim": path, "found": found}
		if spec.minimum {
			minimum(j, path, found, present, rs)
		} else {
			equal(j, path, found, present, rs)
		}
		out[path] = j
	}
	return out
}

func equal(j map[string]any, path, found string, present bool, rs *refsOf) {
	var hits []any
	if present {
		for _, e := range rs.counted {
			if e["value"] == found {
				hits = append(hits, e)
			}
		}
	}
	if len(hits) > 0 {
		first := hits[0].(map[string]any)
		j["status"], j["allowed"] = "affirming", hits
		j["message"] = path + " matches reference value " + first["id"].(string) + " (" + origin(first) + ")"
		return
	}
	j["status"], j["allowed"] = "contraindicated", entries(rs.counted)
	j["message"] = whyNot(path, found, present, rs)
}

func minimum(j map[string]any, path, found string, present bool, rs *refsOf) {
	need, needOK := uint64(0), false
	var at []any
	for _, e := range rs.counted {
		n, err := strconv.ParseUint(e["value"].(string), 10, 64)
		if err != nil {
			continue
		}
		switch {
		case !needOK || n > need:
			need, needOK, at = n, true, []any{e}
		case n == need:
			at = append(at, e)
		}
	}
	got, err := strconv.ParseUint(found, 10, 64)
	switch {
	case !needOK:
		j["status"], j["allowed"] = "contraindicated", []any{}
		j["message"] = fmt.Sprintf("no minimum %s counts: %s", path, whyNot(path, found, present, rs))
	case present && err == nil && got >= need:
		j["status"], j["allowed"] = "affirming", at
		j["message"] = fmt.Sprintf("%s %d is at least the minimum %d of reference value %s", path, got, need, at[0].(map[string]any)["id"])
	default:
		j["status"], j["allowed"] = "contraindicated", at
		if !present {
			j["message"] = fmt.Sprintf("%s is absent from the evidence; minimum %d (reference value %s)", path, need, at[0].(map[string]any)["id"])
		} else {
			j["message"] = fmt.Sprintf("%s %s is below the minimum %d of reference value %s", path, found, need, at[0].(map[string]any)["id"])
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
		if e["value"] == found {
			note := ""
			if n := e["provenance"].(map[string]any)["note"].(string); n != "" {
				note = ": " + n
			}
			return fmt.Sprintf("%s %s was %s: reference value %s (version %d, %s) no longer counts%s; allowed: %s",
				path, found, e["state"], e["id"], e["version"], origin(e), note, allowed)
		}
	}
	for _, e := range rs.outside {
		if e["value"] == found {
			return fmt.Sprintf("%s %s matches reference value %s, which is valid only from %s until %s; allowed now: %s",
				path, found, e["id"], orOpen(e["not_before"].(string)), orOpen(e["not_after"].(string)), allowed)
		}
	}
	return fmt.Sprintf("%s %s matches no reference value that counts; allowed: %s", path, found, allowed)
}

func entries(es []map[string]any) []any {
	out := make([]any, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func listing(es []map[string]any) string {
	if len(es) == 0 {
		return "none (no reference value counts)"
	}
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = fmt.Sprintf("%s (%s)", e["value"], e["id"])
	}
	return strings.Join(parts, ", ")
}

func origin(e map[string]any) string {
	p := e["provenance"].(map[string]any)
	return e["state"].(string) + ", by " + orUnknown(p["author"].(string)) + ", from " + orUnknown(p["source"].(string))
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
