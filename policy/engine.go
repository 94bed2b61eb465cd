package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/assay-dev/assay/attest"
)

// Options configure an Engine. Passed by value, never written to.
type Options struct {
	// Policies are custom policies: name -> Rego module source (OPA v1
	// syntax). Each module must define a rule "decision" (the output
	// contract in docs/policy.md); its package is free, except
	// assay.lib. Custom policies are compiled with the library and the
	// built-in policies, so they may import data.assay.lib and reuse
	// data.assay.snp and the others. A custom policy named like a built-in
	// one (snp, tdx, ...) replaces it as the default for that TEE kind.
	// Nil or empty: only the built-in defaults.
	Policies map[string]string
	// Now is the clock against which reference values' validity windows
	// are judged, and what time.now_ns() returns in a policy. Nil is
	// time.Now.
	Now func() time.Time
}

// EvalOptions select what one evaluation uses.
type EvalOptions struct {
	// Policy names the policy; "" is the default for the result's kind
	// (Kind).
	Policy string
	// IncludeStaged evaluates a second time with staged values counted as
	// active, and returns that decision as Decision.Shadow. False: staged
	// values are ignored and Shadow is nil.
	IncludeStaged bool
	// Workload, when not empty, restricts the reference values to that
	// workload's and those with no workload. Empty: every value counts,
	// whatever its workload.
	Workload string
}

// Decision is a policy's verdict on one result.
type Decision struct {
	// Policy is the name of the policy that decided.
	Policy string `json:"policy"`
	// Status is the final tier: the policy's status, never better than
	// the verifier's own (see Evaluate).
	Status attest.Status `json:"status"`
	// TrustVector holds the AR4SI claims the policy made; zero is "no
	// claim" (a category the policy did not judge).
	TrustVector TrustVector `json:"trust_vector"`
	// Reasons explain the verdict: every comparison made, matched or not,
	// and every finding.
	Reasons []Reason `json:"reasons"`
	// Shadow is the decision with staged values counted as active
	// (EvalOptions.IncludeStaged), to see what promoting them would do;
	// nil otherwise. It never affects Status.
	Shadow *Decision `json:"shadow,omitempty"`
}

// TrustVector is the AR4SI trustworthiness vector (draft-ietf-rats-ar4si,
// section 2.3): one small integer per category, 0 meaning no claim, 2-31
// affirming, 32-95 warning, 96-127 contraindicated (ClaimTier).
type TrustVector struct {
	InstanceIdentity int8 `json:"instance_identity"`
	Configuration    int8 `json:"configuration"`
	Executables      int8 `json:"executables"`
	FileSystem       int8 `json:"file_system"`
	Hardware         int8 `json:"hardware"`
	RuntimeOpaque    int8 `json:"runtime_opaque"`
	StorageOpaque    int8 `json:"storage_opaque"`
	SourcedData      int8 `json:"sourced_data"`
}

// ClaimTier returns the tier of an AR4SI claim value: -1 to 1 none, 2 to
// 31 affirming, 32 to 95 warning, 96 and above contraindicated (negative
// values likewise, by magnitude).
func ClaimTier(v int8) attest.Status {
	m := int(v)
	if m < 0 {
		m = -m
	}
	switch {
	case m <= 1:
		return attest.StatusNone
	case m <= 31:
		return attest.StatusAffirming
	case m <= 95:
		return attest.StatusWarning
	}
	return attest.StatusContraindicated
}

// Reason is one thing the policy compared or found.
type Reason struct {
	// Rule names the comparison ("snp.measurement", "tdx.rtmr.2").
	Rule string `json:"rule"`
	// Claim is the claim path ("measurement", "rtmr.2").
	Claim string `json:"claim,omitempty"`
	// Found is the claim's value in the evidence ("" when absent).
	Found string `json:"found,omitempty"`
	// Allowed are the reference values it was compared with: the ones
	// that matched, or, on a mismatch, every one that counted.
	Allowed []AllowedValue `json:"allowed,omitempty"`
	// Status is the tier this reason supports: affirming (matched),
	// contraindicated (mismatch, a finding), none (not compared).
	Status attest.Status `json:"status"`
	// Message says it in words.
	Message string `json:"message"`
}

// AllowedValue is a reference value as a reason cites it.
type AllowedValue struct {
	Value      string     `json:"value"`
	RefID      string     `json:"ref_id"`
	Provenance Provenance `json:"provenance"`
}

// Engine evaluates appraisal policies. Its queries are compiled and
// prepared once, by New; Evaluate only evaluates. An Engine is safe for
// concurrent use and holds no state between evaluations (it remembers
// only how to convert each Go type of claims it has seen). New also finds
// what each policy can read of its input (uses.go), and Evaluate builds
// only that: a policy sees the same values, fewer are converted.
type Engine struct {
	now      func() time.Time
	policies map[string]rego.PreparedEvalQuery
	uses     map[string]uses
	walk     *walker
}

// decisionRule is the rule every policy defines.
const decisionRule = "decision"

// unit is one policy to compile: its module and the modules compiled with
// it.
type unit struct {
	name, file, src, pkg string
	builtin              bool
}

// New compiles the built-in policies and o.Policies and prepares their
// queries. Every policy that does not compile is reported, joined, each
// wrapping ErrCompile.
func New(ctx context.Context, o Options) (*Engine, error) {
	e := &Engine{now: o.Now, policies: map[string]rego.PreparedEvalQuery{}, uses: map[string]uses{}, walk: &walker{}}
	if e.now == nil {
		e.now = time.Now
	}
	src := Builtin()
	lib := unit{name: libName, file: "defaults/lib.rego", src: src[libName], pkg: "data.assay.lib", builtin: true}
	var builtins []unit
	for _, name := range slices.Sorted(maps.Keys(src)) {
		if name == libName {
			continue
		}
		u := unit{name: name, file: "defaults/" + name + ".rego", src: src[name], builtin: true}
		m, err := parse(u.file, u.src)
		if err != nil {
			return nil, fmt.Errorf("%w: built-in %s: %v", ErrCompile, name, err)
		}
		u.pkg = m.Package.Path.String()
		builtins = append(builtins, u)
	}
	units := map[string]unit{}
	for _, u := range builtins {
		units[u.name] = u
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(o.Policies)) {
		u := unit{name: name, file: name + ".rego", src: o.Policies[name]}
		if name == "" || name == libName {
			errs = append(errs, fmt.Errorf("%w: policy name %q is reserved", ErrCompile, name))
			continue
		}
		m, err := parse(u.file, u.src)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: policy %s: %v", ErrCompile, name, err))
			continue
		}
		u.pkg = m.Package.Path.String()
		if u.pkg == lib.pkg {
			errs = append(errs, fmt.Errorf("%w: policy %s: package assay.lib is the built-in library's", ErrCompile, name))
			continue
		}
		if !slices.ContainsFunc(m.Rules, func(r *ast.Rule) bool { return r.Head.Name.String() == decisionRule }) {
			errs = append(errs, fmt.Errorf("%w: policy %s (%s) defines no rule %q", ErrCompile, name, u.pkg, decisionRule))
			continue
		}
		units[name] = u
	}
	caps := capabilities()
	analysed := map[string]*ast.Compiler{}
	for _, name := range slices.Sorted(maps.Keys(units)) {
		u := units[name]
		opts := []func(*rego.Rego){
			rego.Query(u.pkg + "." + decisionRule),
			rego.Capabilities(caps),
			rego.StrictBuiltinErrors(true),
			rego.SetRegoVersion(ast.RegoV1),
			rego.Strict(u.builtin),
			// Results stay Rego values; decode reads them directly.
			rego.GenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }),
			rego.Module(lib.file, lib.src),
		}
		// Every policy sees the library and the built-in policies (the
		// Azure policy composes SNP, TDX and TPM; a custom one may
		// extend a default); a module of the same package is left out.
		for _, b := range builtins {
			if b.pkg != u.pkg {
				opts = append(opts, rego.Module(b.file, b.src))
			}
		}
		opts = append(opts, rego.Module(u.file, u.src))
		pq, err := rego.New(opts...).PrepareForEval(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: policy %s: %v", ErrCompile, name, err))
			continue
		}
		e.policies[name] = pq
		e.uses[name] = analyse(lib, builtins, u, analysed)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return e, nil
}

func parse(file, src string) (*ast.Module, error) {
	return ast.ParseModuleWithOpts(file, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
}

// capabilities are OPA's built-ins minus those that reach outside the
// evaluation (network, the OPA runtime's environment) or are random: a
// policy's verdict must depend on its input and the clock only.
func capabilities() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	denied := map[string]bool{
		"http.send": true, "net.lookup_ip_addr": true, "opa.runtime": true,
		"rand.intn": true, "uuid.rfc4122": true,
	}
	c.Builtins = slices.DeleteFunc(c.Builtins, func(b *ast.Builtin) bool { return denied[b.Name] })
	c.AllowNet = []string{}
	return c
}

// Policies lists the engine's policy names, sorted.
func (e *Engine) Policies() []string {
	return slices.Sorted(maps.Keys(e.policies))
}

// Kind returns the policy kind of a result, which names its default
// policy and the reference values that apply to it: "azcvm" for Azure
// confidential VM evidence (whose TEE is its hardware's, snp or tdx),
// else the result's TEE.
func Kind(r *attest.Result) string {
	if strings.HasPrefix(r.Evidence.Format, "az-") {
		return "azcvm"
	}
	return r.TEE
}

// Evaluate appraises r's claims against refs with a policy, at the
// engine's Now.
//
// The reference values used are those whose TEE is Kind(r) (and, with
// o.Workload, of that workload or none), the highest version of each ID.
// Of these, active values valid at Now count; staged values count only
// in the shadow evaluation; revoked and deprecated ones never count but
// are shown to the policy, as are values outside their validity window,
// so that it can say why a value no longer matches.
//
// The returned Status is the policy's, capped by the verifier's r.Status:
// a policy can lower a verdict, never raise it. A failed signature stays
// contraindicated whatever the policy says; a verifier's warning stays at
// least a warning; a verifier's none (no appraisal) stays none unless the
// policy contraindicates. A policy status of none means "no opinion" and
// leaves the verifier's status as it is.
//
// An error (ErrUnknownPolicy, ErrEval) is never a verdict: the caller
// must not trust the evidence.
func (e *Engine) Evaluate(ctx context.Context, r *attest.Result, refs []RefValue, o EvalOptions) (Decision, error) {
	if r == nil {
		return Decision{}, fmt.Errorf("%w: no result to appraise", ErrEval)
	}
	kind := Kind(r)
	name := o.Policy
	if name == "" {
		name = kind
	}
	pq, ok := e.policies[name]
	if !ok {
		return Decision{}, fmt.Errorf("%w: %q (have %s)", ErrUnknownPolicy, name, strings.Join(e.Policies(), ", "))
	}
	now := e.now()
	sel := selectRefs(refs, kind, o.Workload)
	u, ok := e.uses[name]
	if !ok {
		u.all = true
	}
	claims, err := e.walk.claims(r.Claims, u.claimKeys(sel))
	if err != nil {
		return Decision{}, fmt.Errorf("%w: claims: %v", ErrEval, err)
	}
	ents := newEntries(sel, u.all || u.lists)
	d, err := e.eval(ctx, pq, name, r, kind, claims, ents, now, false)
	if err != nil {
		return Decision{}, err
	}
	if o.IncludeStaged {
		s, err := e.eval(ctx, pq, name, r, kind, claims, ents, now, true)
		if err != nil {
			return Decision{}, fmt.Errorf("shadow: %w", err)
		}
		d.Shadow = &s
	}
	return d, nil
}

func (e *Engine) eval(ctx context.Context, pq rego.PreparedEvalQuery, name string, r *attest.Result, kind string, claims map[string]any, ents *entries, now time.Time, staged bool) (Decision, error) {
	in, made := input(r, kind, claims, ents, now, staged)
	// No metrics: OPA would allocate timers on every evaluation.
	rs, err := pq.Eval(ctx, rego.EvalParsedInput(in), rego.EvalTime(now), rego.EvalMetrics(metrics.NoOp()))
	if err != nil {
		return Decision{}, fmt.Errorf("%w: policy %s: %v", ErrEval, name, err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return Decision{}, fmt.Errorf("%w: policy %s: %s is undefined", ErrEval, name, decisionRule)
	}
	t, ok := rs[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return Decision{}, fmt.Errorf("%w: policy %s: result is %T", ErrEval, name, rs[0].Expressions[0].Value)
	}
	d, err := decode(t.Value, made)
	if err != nil {
		return Decision{}, fmt.Errorf("%w: policy %s: %v", ErrEval, name, err)
	}
	d.Policy = name
	d.Status = capStatus(r.Status, d.Status)
	return d, nil
}

// capStatus combines the verifier's status v with the policy's p: never
// better than v. Trust decreases affirming > warning > none >
// contraindicated; the policy's none is no opinion.
func capStatus(v, p attest.Status) attest.Status {
	switch {
	case p == attest.StatusNone:
		return v
	case v == attest.StatusNone:
		if p == attest.StatusContraindicated {
			return p
		}
		return attest.StatusNone
	}
	return v.Worse(p)
}

// claimsJSON converts the typed claims to the plain values of their
// JSON form (the names the documentation gives). Absent claims are an
// empty object, so that a policy can always look into input.claims.
// Evaluate uses walker.claims, which makes the same values without the
// JSON.
func claimsJSON(c any) (map[string]any, error) {
	if c == nil {
		return map[string]any{}, nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	v, err := decodeJSON(b)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return map[string]any{}, nil
	}
	return m, nil
}

// selectRefs keeps the values of the kind (and workload), the highest
// version of each ID. Sets are small: a linear search for an ID costs
// less than a map.
func selectRefs(refs []RefValue, kind, workload string) []RefValue {
	var out []RefValue
next:
	for _, rv := range refs {
		if rv.TEE != kind || (workload != "" && rv.Workload != "" && rv.Workload != workload) {
			continue
		}
		for i := range out {
			if out[i].ID == rv.ID {
				if rv.Version > out[i].Version {
					out[i] = rv
				}
				continue next
			}
		}
		out = append(out, rv)
	}
	return out
}

// entries are the selected reference values and their entries in the
// input, made once for both evaluations (IncludeStaged): as Go values,
// which OPA converts only if a policy reads them (input.reference_values
// and the other lists), and as Rego values, made when a judgement first
// cites them.
type entries struct {
	refs []RefValue
	maps []map[string]any // nil: the policy reads no list, which stay empty
	vals map[*RefValue]ast.Value
}

func newEntries(refs []RefValue, lists bool) *entries {
	es := &entries{refs: refs}
	if lists {
		es.maps = make([]map[string]any, len(refs))
		for i, rv := range refs {
			es.maps[i] = refEntry(rv)
		}
	}
	return es
}

// value is the Rego value of the entry of rv, one of es.refs.
func (es *entries) value(rv *RefValue) ast.Value {
	if v, ok := es.vals[rv]; ok {
		return v
	}
	if es.vals == nil {
		es.vals = map[*RefValue]ast.Value{}
	}
	v := entryValue(rv)
	es.vals[rv] = v
	return v
}

// input builds the document the policy sees (docs/policy.md, "Input").
// It is handed to OPA as a lazy object: only the parts a policy reads are
// converted to Rego values, and a default policy reads few of the claims.
// The judgements (input.comparisons, input.tcb) are Rego values already,
// made returns them with the judgement each was made from, so that
// decoding the decision need not read them back.
func input(r *attest.Result, kind string, claims map[string]any, ents *entries, now time.Time, staged bool) (ast.Value, map[ast.Object]*judgement) {
	by := map[string]*refsOf{}
	counted, revoked, outside := map[string]any{}, map[string]any{}, map[string]any{}
	for i := range ents.refs {
		rv := &ents.refs[i]
		rs := by[rv.Claim]
		if rs == nil {
			rs = &refsOf{}
		}
		var dst *[]*RefValue
		var list map[string]any
		switch {
		case rv.State == StateRevoked || rv.State == StateDeprecated:
			dst, list = &rs.revoked, revoked
		case (rv.State == StateActive || (staged && rv.State == StateStaged)) && rv.validAt(now):
			dst, list = &rs.counted, counted
		case rv.State == StateActive || (staged && rv.State == StateStaged):
			dst, list = &rs.outside, outside
		default:
			continue
		}
		*dst = append(*dst, rv)
		if ents.maps != nil {
			l, _ := list[rv.Claim].([]any)
			list[rv.Claim] = append(l, ents.maps[i])
		}
		by[rv.Claim] = rs
	}
	failed := []any{}
	for _, c := range r.Checks {
		if c.OK {
			continue
		}
		sev := c.Severity
		if sev == attest.StatusNone || sev == attest.StatusAffirming {
			sev = attest.StatusContraindicated
		}
		failed = append(failed, map[string]any{"name": c.Name, "severity": sev.String(), "detail": c.Detail})
	}
	made := map[ast.Object]*judgement{}
	comparisons := map[string]any{}
	for path, j := range compareAll(kind, claims, by) {
		comparisons[path] = j.value(ents, made)
	}
	tjs := tcbJudgements(kind, claims, by, now)
	tcb := make([]any, len(tjs))
	for i, j := range tjs {
		tcb[i] = j.value(ents, made)
	}
	return ast.LazyObject(map[string]any{
		"tee":              r.TEE,
		"kind":             kind,
		"format":           r.Evidence.Format,
		"status":           r.Status.String(),
		"claims":           claims,
		"checks":           failed,
		"reference_values": counted,
		"revoked":          revoked,
		"outside_window":   outside,
		"comparisons":      comparisons,
		"tcb":              tcb,
		"shadow":           staged,
	}), made
}

// Keys of an entry's Rego value. Never written: OPA shares interned terms
// the same way.
var (
	keyValue      = ast.StringTerm("value")
	keyID         = ast.StringTerm("id")
	keyState      = ast.StringTerm("state")
	keyVersion    = ast.StringTerm("version")
	keyWorkload   = ast.StringTerm("workload")
	keyNotBefore  = ast.StringTerm("not_before")
	keyNotAfter   = ast.StringTerm("not_after")
	keyProvenance = ast.StringTerm("provenance")
	keyAuthor     = ast.StringTerm("author")
	keySource     = ast.StringTerm("source")
	keyNote       = ast.StringTerm("note")
)

// entryValue is refEntry(*rv) as a Rego value, made directly: what OPA
// makes of the map (TestEntryValue), for less.
func entryValue(rv *RefValue) ast.Value {
	p := rv.Provenance
	return ast.NewObject(
		ast.Item(keyValue, ast.InternedTerm(rv.Value)),
		ast.Item(keyID, ast.InternedTerm(rv.ID)),
		ast.Item(keyState, ast.InternedTerm(string(rv.State))),
		ast.Item(keyVersion, ast.InternedTerm(rv.Version)),
		ast.Item(keyWorkload, ast.InternedTerm(rv.Workload)),
		ast.Item(keyNotBefore, ast.InternedTerm(formatTime(rv.NotBefore))),
		ast.Item(keyNotAfter, ast.InternedTerm(formatTime(rv.NotAfter))),
		ast.Item(keyProvenance, ast.ObjectTerm(
			ast.Item(keyAuthor, ast.InternedTerm(p.Author)),
			ast.Item(keySource, ast.InternedTerm(p.Source)),
			ast.Item(keyNote, ast.InternedTerm(p.Note)),
		)),
	)
}

// refEntry is a reference value as the policy sees it in the input.
func refEntry(rv RefValue) map[string]any {
	return map[string]any{
		"value":      rv.Value,
		"id":         rv.ID,
		"state":      string(rv.State),
		"version":    rv.Version,
		"workload":   rv.Workload,
		"not_before": formatTime(rv.NotBefore),
		"not_after":  formatTime(rv.NotAfter),
		"provenance": map[string]any{
			"author": rv.Provenance.Author,
			"source": rv.Provenance.Source,
			"note":   rv.Provenance.Note,
		},
	}
}
