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
//
// made are the judgements of the input, by their Rego value: a reason
// that is one of them is the judgement, without reading it back.
func decode(v ast.Value, made map[ast.Object]*judgement) (Decision, error) {
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
		return decodeCategories(cats.Value, made)
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
			r, err := decodeReason(arr.Elem(i).Value, made)
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
func decodeCategories(v ast.Value, made map[ast.Object]*judgement) (Decision, error) {
	var d Decision
	tv := vectorFields(&d.TrustVector)
	d.Reasons = []Reason{}
	// Foreach visits the keys in sorted order.
	err := members("decision.categories", v, func(name string, k, c *ast.Term) error {
		dst, ok := tv[name]
		if !ok {
			return fmt.Errorf("decision.categories has unknown key %v (want %s)", k, strings.Join(slices.Sorted(maps.Keys(tv)), ", "))
		}
		return decodeCategory(&d, name, c.Value, dst, made)
	})
	return d, err
}

// decodeCategory adds one category's judgements to d and sets its claim.
func decodeCategory(d *Decision, name string, v ast.Value, claim *int8, made map[ast.Object]*judgement) error {
	var affirm int64
	var js *ast.Array
	err := members("decision.categories."+name, v, func(key string, k, x *ast.Term) error {
		switch key {
		case "affirm":
			n, ok := x.Value.(ast.Number)
			if !ok {
				return fmt.Errorf("decision.categories.%s.affirm is %s, want an integer", name, typeName(x.Value))
			}
			if affirm, ok = n.Int64(); !ok || affirm < 2 || affirm > 31 {
				return fmt.Errorf("decision.categories.%s.affirm is %s, want an affirming claim value, 2 to 31", name, n)
			}
		case "judgements":
			var ok bool
			if js, ok = x.Value.(*ast.Array); !ok {
				return fmt.Errorf("decision.categories.%s.judgements is %s, want an array", name, typeName(x.Value))
			}
		default:
			return fmt.Errorf("decision.categories.%s has unknown key %v (want judgements, affirm)", name, k)
		}
		return nil
	})
	if err != nil || js == nil || js.Len() == 0 {
		return err
	}
	worst := attest.StatusNone
	for i := range js.Len() {
		r, err := decodeReason(js.Elem(i).Value, made)
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
	fields := vectorFields(&tv)
	err := members("decision.trust_vector", v, func(ks string, k, x *ast.Term) error {
		p, ok := fields[ks]
		if !ok {
			return fmt.Errorf("decision.trust_vector has unknown key %v (want %s)", k, strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
		}
		n, ok := x.Value.(ast.Number)
		if !ok {
			return fmt.Errorf("decision.trust_vector.%s is %s, want an integer", ks, typeName(x.Value))
		}
		i, ok := n.Int64()
		if !ok || i < -128 || i > 127 {
			return fmt.Errorf("decision.trust_vector.%s is %s, want an integer from -128 to 127", ks, n)
		}
		*p = int8(i)
		return nil
	})
	return tv, err
}

func decodeReason(v ast.Value, made map[ast.Object]*judgement) (Reason, error) {
	// Every type that implements ast.Object is a pointer: a valid map key.
	if o, ok := v.(ast.Object); ok && made[o] != nil {
		if r, ok := made[o].reason(); ok {
			return r, nil
		}
	}
	var r Reason
	err := members("", v, func(key string, k, x *ast.Term) error {
		switch key {
		case "rule":
			return str(key, x, &r.Rule)
		case "claim":
			return str(key, x, &r.Claim)
		case "found":
			return str(key, x, &r.Found)
		case "message":
			return str(key, x, &r.Message)
		case "status":
			var err error
			r.Status, err = status("status", x.Value)
			return err
		case "allowed":
			arr, ok := x.Value.(*ast.Array)
			if !ok {
				return fmt.Errorf("allowed is %s, want an array", typeName(x.Value))
			}
			r.Allowed = make([]AllowedValue, arr.Len())
			for i := range arr.Len() {
				var err error
				if r.Allowed[i], err = decodeAllowed(arr.Elem(i).Value); err != nil {
					return fmt.Errorf("allowed[%d]: %v", i, err)
				}
			}
			return nil
		}
		return fmt.Errorf("reason has unknown key %v (want rule, claim, found, allowed, status, message)", k)
	})
	return r, err
}

// decodeAllowed reads an allowed value: {value, id, provenance}, or a
// reference value entry of the input as it is (its other keys are
// ignored).
func decodeAllowed(v ast.Value) (AllowedValue, error) {
	var a AllowedValue
	err := members("", v, func(key string, k, x *ast.Term) error {
		switch key {
		case "value":
			return str(key, x, &a.Value)
		case "id":
			return str(key, x, &a.RefID)
		case "provenance":
			return members("provenance", x.Value, func(key string, k, x *ast.Term) error {
				switch key {
				case "author":
					return str("provenance.author", x, &a.Provenance.Author)
				case "source":
					return str("provenance.source", x, &a.Provenance.Source)
				case "note":
					return str("provenance.note", x, &a.Provenance.Note)
				}
				return fmt.Errorf("provenance has unknown key %v (want author, source, note)", k)
			})
		case "state", "version", "workload", "not_before", "not_after":
			// A reference value entry of the input, passed as it is.
			return nil
		}
		return fmt.Errorf("allowed value has unknown key %v (want value, id, provenance)", k)
	})
	return a, err
}

// members calls f with each key and value of the object v, in key order,
// until f fails. what names v in the error when v is not an object
// (empty: the error names only the type, for a caller that adds the
// path).
func members(what string, v ast.Value, f func(key string, k, x *ast.Term) error) error {
	obj, ok := v.(ast.Object)
	if !ok {
		if what == "" {
			return fmt.Errorf("%s, want an object", typeName(v))
		}
		return fmt.Errorf("%s is %s, want an object", what, typeName(v))
	}
	var err error
	obj.Foreach(func(k, x *ast.Term) {
		if err == nil {
			key, _ := k.Value.(ast.String)
			err = f(string(key), k, x)
		}
	})
	return err
}

// vectorFields maps the trust vector's category names to its fields.
func vectorFields(tv *TrustVector) map[string]*int8 {
	return map[string]*int8{
		"instance_identity": &tv.InstanceIdentity, "configuration": &tv.Configuration,
		"executables": &tv.Executables, "file_system": &tv.FileSystem, "hardware": &tv.Hardware,
		"runtime_opaque": &tv.RuntimeOpaque, "storage_opaque": &tv.StorageOpaque, "sourced_data": &tv.SourcedData,
	}
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
