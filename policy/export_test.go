package policy

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/assay-dev/assay/attest"
)

// DecodeJSON exposes the claims decoder to the fuzz test.
var DecodeJSON = decodeJSON

// ClaimsJSON is the claims' conversion through their JSON form.
var ClaimsJSON = claimsJSON

// ClaimsWalk is the conversion Evaluate uses, with the engine's plans.
func (e *Engine) ClaimsWalk(c any) (map[string]any, error) { return e.walk.claims(c, nil) }

// ClaimsKept is the conversion of only some top-level claims.
func (e *Engine) ClaimsKept(c any, keep ...string) (map[string]any, error) {
	m := map[string]bool{}
	for _, k := range keep {
		m[k] = true
	}
	return e.walk.claims(c, m)
}

// DecodeBoth evaluates as Evaluate does (without the shadow) and decodes
// the decision twice: with the judgements the engine made (fast), and
// reading every reason back from its Rego value (slow).
func (e *Engine) DecodeBoth(ctx context.Context, r *attest.Result, refs []RefValue, o EvalOptions) (fast, slow Decision, err error) {
	kind := Kind(r)
	name := cmp.Or(o.Policy, kind)
	sel := selectRefs(refs, kind, o.Workload)
	u := e.uses[name]
	claims, err := e.walk.claims(r.Claims, u.claimKeys(sel))
	if err != nil {
		return fast, slow, err
	}
	now := e.now()
	in, made := input(r, kind, claims, newEntries(sel, u.all || u.lists), now, o.IncludeStaged)
	rs, err := e.policies[name].Eval(ctx, rego.EvalParsedInput(in), rego.EvalTime(now))
	if err != nil {
		return fast, slow, err
	}
	v := rs[0].Expressions[0].Value.(*ast.Term).Value
	if fast, err = decode(v, made); err != nil {
		return fast, slow, err
	}
	if len(made) == 0 {
		return fast, slow, errors.New("no judgements made")
	}
	slow, err = decode(v, nil)
	return fast, slow, err
}

// EntryValues are a reference value's entry made directly, and as OPA
// converts its Go form.
func EntryValues(rv RefValue) (direct, converted ast.Value) {
	return entryValue(&rv), ast.MustInterfaceToValue(refEntry(rv))
}

// Uses says what the engine found a policy reads: everything, the lists,
// every claim, and which top-level claims.
func (e *Engine) Uses(name string) (all, lists, claims bool, keys []string) {
	u := e.uses[name]
	return u.all, u.lists, u.claims, slices.Sorted(maps.Keys(u.keys))
}

// ReadEverything makes the engine give every policy its whole input, as
// it did before it looked at what a policy reads.
func (e *Engine) ReadEverything() {
	for name := range e.uses {
		e.uses[name] = uses{all: true}
	}
}
