package policy

import (
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// uses is what of its input a policy can read, found once when it is
// compiled: the engine builds only that (and what it compares itself),
// since converting the claims and listing the reference values cost as
// much as evaluating a default policy. The analysis is conservative:
// input read whole, by a key known only when evaluating, replaced by
// "with", or given to a function other than object.get with a constant
// key, counts as read whole.
type uses struct {
	all    bool            // everything
	lists  bool            // input.reference_values, input.revoked, input.outside_window
	claims bool            // every claim
	keys   map[string]bool // else these top-level claims
	// aliases are the rule's variables the compiler set to input.claims
	// (it rewrites object.get(input.claims, ...) so).
	aliases map[ast.Var]bool
}

var (
	inputClaims = ast.MustParseRef("input.claims")
	objectGet   = ast.ObjectGet.Ref()
)

// analyse compiles a policy's modules again, as the engine does, to find
// what it reads; the built-in policies share one compilation (theirs is
// the same set of modules). A set that does not compile (it did, with
// rego) reads everything.
func analyse(lib unit, builtins []unit, u unit, done map[string]*ast.Compiler) uses {
	mods := map[string]string{lib.file: lib.src}
	for _, b := range builtins {
		if b.pkg != u.pkg {
			mods[b.file] = b.src
		}
	}
	mods[u.file] = u.src
	key := u.file
	if u.builtin {
		key = ""
	}
	c, ok := done[key]
	if !ok {
		var err error
		c, err = ast.CompileModulesWithOpt(mods, ast.CompileOpts{ParserOptions: ast.ParserOptions{RegoVersion: ast.RegoV1}})
		if err != nil {
			return uses{all: true}
		}
		done[key] = c
	}
	return usesOf(c, u.pkg)
}

// usesOf finds what the rule decision of package pkg, and every rule it
// depends on, reads of the input, in the compiled modules of c.
func usesOf(c *ast.Compiler, pkg string) uses {
	u := uses{keys: map[string]bool{}}
	ref := ast.MustParseRef(pkg + "." + decisionRule)
	todo := slices.Clone(c.GetRulesExact(ref))
	if len(todo) == 0 {
		return uses{all: true}
	}
	seen := map[*ast.Rule]bool{}
	for len(todo) > 0 {
		r := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for ; r != nil; r = r.Else {
			if seen[r] {
				break
			}
			seen[r] = true
			u.rule(r)
			for d := range c.Graph.Dependencies(r) {
				if dr, ok := d.(*ast.Rule); ok {
					todo = append(todo, dr)
				} else {
					u.all = true
				}
			}
		}
	}
	return u
}

// rule notes what one rule reads (its head and body, not its else).
func (u *uses) rule(r *ast.Rule) {
	u.aliases = map[ast.Var]bool{}
	for _, x := range []any{r.Head, r.Body} {
		ast.WalkExprs(x, func(e *ast.Expr) bool {
			if v, ok := alias(e); ok {
				u.aliases[v] = true
			}
			return false
		})
	}
	u.visit(r.Head)
	u.visit(r.Body)
}

// alias recognises "__localN__ = input.claims".
func alias(e *ast.Expr) (ast.Var, bool) {
	if !e.IsEquality() || len(e.With) > 0 || e.Negated {
		return "", false
	}
	a, b := e.Operand(0), e.Operand(1)
	if _, ok := a.Value.(ast.Ref); ok {
		a, b = b, a
	}
	v, ok := a.Value.(ast.Var)
	if !ok || !strings.HasPrefix(string(v), "__local") {
		return "", false
	}
	if r, ok := b.Value.(ast.Ref); !ok || !r.Equal(inputClaims) {
		return "", false
	}
	return v, true
}

func (u *uses) visit(x any) {
	ast.NewGenericVisitor(func(x any) bool {
		switch x := x.(type) {
		case *ast.Rule:
			u.rule(x)
			return true // its else is a rule of its own
		case *ast.Expr:
			for _, w := range x.With {
				if ref, ok := w.Target.Value.(ast.Ref); ok && ref.HasPrefix(ast.InputRootRef) {
					u.all = true
				}
			}
			if _, ok := alias(x); ok {
				return true
			}
			if terms, ok := x.Terms.([]*ast.Term); ok && u.call(terms) {
				for _, w := range x.With {
					u.visit(w)
				}
				return true
			}
		case ast.Call:
			return u.call(x)
		case ast.Ref:
			if x.HasPrefix(ast.InputRootRef) {
				u.ref(x)
				for _, t := range x[1:] {
					u.visit(t)
				}
				return true
			}
		case ast.Var:
			if x.Equal(ast.InputRootDocument.Value) {
				u.all = true // input not as the head of a reference
			}
			if u.aliases[x] {
				u.claims = true // input.claims, not through object.get
			}
		}
		return false
	}).Walk(x)
}

// call notes object.get(input.claims, "key" or ["key", ...], default)
// as reading that claim; false for any other call, which the visitor
// then walks as terms.
func (u *uses) call(terms []*ast.Term) bool {
	if len(terms) < 4 {
		return false
	}
	op, ok := terms[0].Value.(ast.Ref)
	if !ok || !op.Equal(objectGet) {
		return false
	}
	switch in := terms[1].Value.(type) {
	case ast.Ref:
		if !in.Equal(inputClaims) {
			return false
		}
	case ast.Var:
		if !u.aliases[in] {
			return false
		}
	default:
		return false
	}
	var key ast.Value = terms[2].Value
	if a, ok := key.(*ast.Array); ok && a.Len() > 0 {
		key = a.Elem(0).Value
	}
	s, ok := key.(ast.String)
	if !ok {
		return false
	}
	u.keys[string(s)] = true
	for _, t := range terms[2:] {
		u.visit(t)
	}
	return true
}

// ref notes a reference into input.
func (u *uses) ref(r ast.Ref) {
	if len(r) < 2 {
		u.all = true
		return
	}
	k, ok := r[1].Value.(ast.String)
	switch {
	case !ok:
		u.all = true
	case k == "reference_values" || k == "revoked" || k == "outside_window":
		u.lists = true
	case k == "claims":
		if len(r) < 3 {
			u.claims = true
			return
		}
		if c, ok := r[2].Value.(ast.String); ok {
			u.keys[string(c)] = true
		} else {
			u.claims = true
		}
	}
}

// claimKeys are the top-level claims to convert for an evaluation: those
// the policy reads and those the engine compares (the first segment of
// every reference value's claim path, without an SNP product prefix, and
// the claims the TCB judgements read); nil for every claim.
func (u uses) claimKeys(refs []RefValue) map[string]bool {
	if u.all || u.claims {
		return nil
	}
	keys := make(map[string]bool, len(u.keys)+len(refs)+4)
	for k := range u.keys {
		keys[k] = true
	}
	for _, k := range []string{"product", "tcb_status", "tcb_superseded_date", "advisory_ids"} {
		keys[k] = true
	}
	for _, rv := range refs {
		for _, p := range []string{rv.Claim, func() string { _, c := splitProduct(rv.Claim); return c }()} {
			first, _, _ := strings.Cut(p, ".")
			keys[first] = true
		}
	}
	return keys
}
