package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/assay-dev/assay/attest"
)

// decode reads a policy's decision value (docs/policy.md, "Output"),
// straight from the Rego value. It is strict: an unknown key or a value of
// the wrong type is an error, so that a misspelt field cannot silently
// drop a judgement.
func decode(v ast.Value) (Decision, error) {
	var d Decision
	obj, ok := v.(ast.Object)
	if !ok {
		return d, fmt.Errorf("decision is %s, want an object", typeName(v))
	}
	var cats, st, tv, rs *ast.Term
	var err error
	obj.Foreach(func(k, x *ast.Term) {
		switch key, _ := k.Value.(ast.String); key {
		case "categories":
			cats = x
		case "status":
			st = x
		case "trust_vector":
			tv = x
		case "reasons":
			rs = x
		default:
			if err == nil {
				err = fmt.Errorf("decision has unknown key %v (want categories, or status, trust_vector and reasons)", k)
			}
		}
	})
	if err != nil {
		return d, err
	}
	if cats != nil {
		if obj.Len() != 1 {
			return d, fmt.Errorf("decision has categories and other keys: give either categories, or status, trust_vector and reasons")
		}
		return decodeCategories(cats.Value)
	}
	if st == nil {
		return d, fmt.Errorf("decision has no status")
	}
	if d.Status, err = status("decision.status", st.Value); err != nil {
		return d, err
	}
	if tv != nil {
		if d.TrustVector, err = decodeVector(tv.Value); err != nil {
			return d, err
		}
	}
	d.Reasons = []Reason{}
	if rs != nil {
		arr, ok := rs.Value.(*ast.Array)
		if !ok {
			return d, fmt.Errorf("decision.reasons is %s, want an array", typeName(rs.Value))
		}
		d.Reasons = make([]Reason, 0, arr.Len())
		for i := range arr.Len() {
			r, err := decodeReason(arr.Elem(i).Value)
			if err != nil {
				return d, fmt.Errorf("decision.reasons[%d]: %v", i, err)
			}
			d.Reasons = append(d.Reasons, r)
		}
	}
	return d, nil
}

// decodeCategories reads the categories form of a decision,
//
//	{"categories": {"executables": {"judgements": [reason, ...], "affirm": 3}, ...}}
//
// and derives the status, trust vector and reasons from it as lib.decide
// does: the status is the worst judgement's (none without any: no
// opinion); a category with judgements claims 96 if one is
// contraindicated, 32 if one is a warning, its affirm value if one is
// affirming, else 0; the reasons are the judgements, category by category
// in the order of their names.
func decodeCategories(v ast.Value) (Decision, error) {
	var d Decision
	obj, ok := v.(ast.Object)
	if !ok {
		return d, fmt.Errorf("decision.categories is %s, want an object", typeName(v))
	}
	tv := map[string]*int8{
		"instance_identity": &d.TrustVector.InstanceIdentity, "configuration": &d.TrustVector.Configuration,
		"executables": &d.TrustVector.Executables, "file_system": &d.TrustVector.FileSystem, "hardware": &d.TrustVector.Hardware,
		"runtime_opaque": &d.TrustVector.RuntimeOpaque, "storage_opaque": &d.TrustVector.StorageOpaque, "sourced_data": &d.TrustVector.SourcedData,
	}
	d.Reasons = []Reason{}
	var err error
	// Foreach visits the keys in sorted order.
	obj.Foreach(func(k, c *ast.Term) {
		if err != nil {
			return
		}
		name, _ := k.Value.(ast.String)
		dst, ok := tv[string(name)]
		if !ok {
			err = fmt.Errorf("decision.categories has unknown key %v (want %s)", k, strings.Join(slices.Sorted(maps.Keys(tv)), ", "))
			return
		}
		err = decodeCategory(&d, string(name), c.Value, dst)
	})
	return d, err
}

// decodeCategory adds one category's judgements to d and sets its claim.
func decodeCategory(d *Decision, name string, v ast.Value, claim *int8) error {
	co, ok := v.(ast.Object)
	if !ok {
		return fmt.Errorf("decision.categories.%s is %s, want an object", name, typeName(v))
	}
	var affirm int64
	var js *ast.Array
	var err error
	co.Foreach(func(k, x *ast.Term) {
		if err != nil {
			return
		}
		switch key, _ := k.Value.(ast.String); key {
		case "affirm":
			n, ok := x.Value.(ast.Number)
			if !ok {
				err = fmt.Errorf("decision.categories.%s.affirm is %s, want an integer", name, typeName(x.Value))
				return
			}
			if affirm, ok = n.Int64(); !ok || affirm < 2 || affirm > 31 {
				err = fmt.Errorf("decision.categories.%s.affirm is %s, want an affirming claim value, 2 to 31", name, n)
			}
		case "judgements":
			if js, ok = x.Value.(*ast.Array); !ok {
				err = fmt.Errorf("decision.categories.%s.judgements is %s, want an array", name, typeName(x.Value))
			}
		default:
			err = fmt.Errorf("decision.categories.%s has unknown key %v (want judgements, affirm)", name, k)
		}
	})
	if err != nil || js == nil || js.Len() == 0 {
		return err
	}
	worst := attest.StatusNone
	for i := range js.Len() {
		r, err := decodeReason(js.Elem(i).Value)
		if err != nil {
			return fmt.Errorf("decision.categories.%s.judgements[%d]: %v", name, i, err)
		}
		worst = worst.Worse(r.Status)
		d.Reasons = append(d.Reasons, r)
	}
	d.Status = d.Status.Worse(worst)
	switch worst {
	case attest.StatusContraindicated:
		*claim = 96
	case attest.StatusWarning:
		*claim = 32
	case attest.StatusAffirming:
		if affirm == 0 {
			return fmt.Errorf("decision.categories.%s affirms but gives no affirm value", name)
		}
		*claim = int8(affirm)
	}
	return nil
}

func status(what string, v ast.Value) (attest.Status, error) {
	s, ok := v.(ast.String)
	if !ok {
		return attest.StatusNone, fmt.Errorf("%s is %s, want a string", what, typeName(v))
	}
	st, err := attest.ParseStatus(string(s))
	if err != nil {
		return attest.StatusNone, fmt.Errorf("%s: %v", what, err)
	}
	return st, nil
}

func decodeVector(v ast.Value) (TrustVector, error) {
	var tv TrustVector
	obj, ok := v.(ast.Object)
	if !ok {
		return tv, fmt.Errorf("decision.trust_vector is %s, want an object", typeName(v))
	}
	fields := map[string]*int8{
		"instance_identity": &tv.InstanceIdentity, "configuration": &tv.Configuration,
		"executables": &tv.Executables, "file_system": &tv.FileSystem, "hardware": &tv.Hardware,
		"runtime_opaque": &tv.RuntimeOpaque, "storage_opaque": &tv.StorageOpaque, "sourced_data": &tv.SourcedData,
	}
	var err error
	obj.Foreach(func(k, x *ast.Term) {
		if err != nil {
			return
		}
		ks, _ := k.Value.(ast.String)
		p, ok := fields[string(ks)]
		if !ok {
			err = fmt.Errorf("decision.trust_vector has unknown key %v (want %s)", k, strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
			return
		}
		n, ok := x.Value.(ast.Number)
		if !ok {
			err = fmt.Errorf("decision.trust_vector.%s is %s, want an integer", ks, typeName(x.Value))
			return
		}
		i, ok := n.Int64()
		if !ok || i < -128 || i > 127 {
			err = fmt.Errorf("decision.trust_vector.%s is %s, want an integer from -128 to 127", ks, n)
			return
		}
		*p = int8(i)
	})
	return tv, err
}

func decodeReason(v ast.Value) (Reason, error) {
	var r Reason
	obj, ok := v.(ast.Object)
	if !ok {
		return r, fmt.Errorf("%s, want an object", typeName(v))
	}
	var err error
	obj.Foreach(func(k, x *ast.Term) {
		if err != nil {
			return
		}
		key, _ := k.Value.(ast.String)
		switch key {
		case "rule":
			err = str(string(key), x, &r.Rule)
		case "claim":
			err = str(string(key), x, &r.Claim)
		case "found":
			err = str(string(key), x, &r.Found)
		case "message":
			err = str(string(key), x, &r.Message)
		case "status":
			r.Status, err = status("status", x.Value)
		case "allowed":
			arr, ok := x.Value.(*ast.Array)
			if !ok {
				err = fmt.Errorf("allowed is %s, want an array", typeName(x.Value))
				return
			}
			r.Allowed = make([]AllowedValue, arr.Len())
			for i := range arr.Len() {
				if r.Allowed[i], err = decodeAllowed(arr.Elem(i).Value); err != nil {
					err = fmt.Errorf("allowed[%d]: %v", i, err)
					return
				}
			}
		default:
			err = fmt.Errorf("reason has unknown key %v (want rule, claim, found, allowed, status, message)", k)
		}
	})
	return r, err
}

// decodeAllowed reads an allowed value: {value, id, provenance}, or a
// reference value entry of the input as it is (its other keys are
// ignored).
func decodeAllowed(v ast.Value) (AllowedValue, error) {
	var a AllowedValue
	obj, ok := v.(ast.Object)
	if !ok {
		return a, fmt.Errorf("%s, want an object", typeName(v))
	}
	var err error
	obj.Foreach(func(k, x *ast.Term) {
		if err != nil {
			return
		}
		key, _ := k.Value.(ast.String)
		switch key {
		case "value":
			err = str(string(key), x, &a.Value)
		case "id":
			err = str(string(key), x, &a.RefID)
		case "provenance":
			p, ok := x.Value.(ast.Object)
			if !ok {
				err = fmt.Errorf("provenance is %s, want an object", typeName(x.Value))
				return
			}
			p.Foreach(func(k, x *ast.Term) {
				if err != nil {
					return
				}
				key, _ := k.Value.(ast.String)
				switch key {
				case "author":
					err = str("provenance.author", x, &a.Provenance.Author)
				case "source":
					err = str("provenance.source", x, &a.Provenance.Source)
				case "note":
					err = str("provenance.note", x, &a.Provenance.Note)
				default:
					err = fmt.Errorf("provenance has unknown key %v (want author, source, note)", k)
				}
			})
		case "state", "version", "workload", "not_before", "not_after":
			// A reference value entry of the input, passed as it is.
		default:
			err = fmt.Errorf("allowed value has unknown key %v (want value, id, provenance)", k)
		}
	})
	return a, err
}

func str(what string, x *ast.Term, dst *string) error {
	s, ok := x.Value.(ast.String)
	if !ok {
		return fmt.Errorf("%s is %s, want a string", what, typeName(x.Value))
	}
	*dst = string(s)
	return nil
}

func typeName(v ast.Value) string {
	switch v.(type) {
	case ast.Null:
		return "null"
	case ast.Boolean:
		return "a boolean"
	case ast.Number:
		return "a number"
	case ast.String:
		return "a string"
	case *ast.Array:
		return "an array"
	case ast.Object:
		return "an object"
	case ast.Set:
		return "a set"
	}
	return fmt.Sprintf("%T", v)
}
