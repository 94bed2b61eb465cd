package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/policy"
	"github.com/assay-dev/assay/store"
)

// The policy lifecycle (docs/policy.md, "Lifecycle"). Once the store holds
// a policy or a reference value, the store's current versions are what
// the service appraises with, on every replica: before each appraisal a
// replica reads the store's policy generation (one single-row read) and,
// when it moved, reloads and recompiles the set. Until then the policies
// and reference values of the configuration (assay serve's --policy and
// --refvalues) are used, and New imports them into an empty store as its
// first versions.

// PolicySet is the store's current appraisal policies and reference
// values.
type PolicySet struct {
	// Generation is the store's policy generation the set was read at.
	Generation int64
	// Modules are the active policies' Rego sources by name.
	Modules map[string]string
	// RefValues are the newest version of every reference value, each
	// RefValue's Version the store's version.
	RefValues []policy.RefValue
}

// LoadPolicySet reads the current policies and reference values of a
// store.
func LoadPolicySet(ctx context.Context, st store.PolicyStore) (PolicySet, error) {
	g, err := st.PolicyGeneration(ctx)
	if err != nil {
		return PolicySet{}, err
	}
	ps, err := st.ListPolicies(ctx)
	if err != nil {
		return PolicySet{}, err
	}
	rs, err := st.ListRefValues(ctx)
	if err != nil {
		return PolicySet{}, err
	}
	set := PolicySet{Generation: g, Modules: map[string]string{}}
	for _, p := range ps {
		if p.State == store.PolicyActive {
			set.Modules[p.Name] = p.Source
		}
	}
	for _, r := range rs {
		rv, err := refFromVersion(r)
		if err != nil {
			return PolicySet{}, err
		}
		set.RefValues = append(set.RefValues, rv)
	}
	return set, nil
}

// refFromVersion decodes a stored reference value; the store's version
// and state are the value's.
func refFromVersion(r store.RefValueVersion) (policy.RefValue, error) {
	rv, err := parseRecord(r.Record)
	if err != nil {
		return policy.RefValue{}, fmt.Errorf("stored reference value %s version %d: %w", r.ID, r.Version, err)
	}
	rv.Version = int(r.Version)
	rv.State = policy.State(r.State)
	return rv, nil
}

// parseRecord reads one element of a reference value file.
func parseRecord(rec json.RawMessage) (policy.RefValue, error) {
	// One JSON object, so that the text cannot close the array it is
	// placed in below.
	if t := bytes.TrimSpace(rec); !json.Valid(t) || len(t) == 0 || t[0] != '{' {
		return policy.RefValue{}, fmt.Errorf("%w: a reference value is one JSON object", policy.ErrMalformed)
	}
	rvs, err := policy.ParseRefValues([]byte(`{"reference_values":[` + string(rec) + `]}`))
	if err != nil {
		return policy.RefValue{}, err
	}
	if len(rvs) != 1 {
		return policy.RefValue{}, errors.New("not one reference value")
	}
	return rvs[0], nil
}

// recordOf writes a reference value as one element of a reference value
// file.
func recordOf(rv policy.RefValue) (json.RawMessage, error) {
	b, err := policy.MarshalRefValues([]policy.RefValue{rv})
	if err != nil {
		return nil, err
	}
	var f struct {
		ReferenceValues []json.RawMessage `json:"reference_values"`
	}
	if err := json.Unmarshal(b, &f); err != nil || len(f.ReferenceValues) != 1 {
		return nil, fmt.Errorf("reference value %s does not encode as one record", rv.ID)
	}
	return f.ReferenceValues[0], nil
}

// compiledSet is a PolicySet ready to evaluate.
type compiledSet struct {
	gen    int64
	engine *policy.Engine // nil: no policy, the verifiers' verdict stands
	refs   []policy.RefValue
	// shadowRefs are refs with staged values active; nil when none is
	// staged (no shadow evaluation).
	shadowRefs []policy.RefValue
}

func newCompiledSet(gen int64, e *policy.Engine, refs []policy.RefValue) *compiledSet {
	c := &compiledSet{gen: gen, engine: e, refs: refs}
	if slices.ContainsFunc(refs, func(rv policy.RefValue) bool { return rv.State == policy.StateStaged }) {
		c.shadowRefs = slices.Clone(refs)
		for i := range c.shadowRefs {
			if c.shadowRefs[i].State == policy.StateStaged {
				c.shadowRefs[i].State = policy.StateActive
			}
		}
	}
	return c
}

// policyCache holds the compiled set of the last generation read.
type policyCache struct {
	mu   sync.Mutex // held while loading, so one request compiles
	cur  atomic.Pointer[compiledSet]
	file *compiledSet // the configuration's, used at generation 0
}

// policySet returns the set to appraise with now.
func (s *Server) policySet(ctx context.Context) (*compiledSet, error) {
	g, err := s.st.PolicyGeneration(ctx)
	if err != nil {
		return nil, fmt.Errorf("policy generation: %w", err)
	}
	if g == 0 {
		return s.pol.file, nil
	}
	if c := s.pol.cur.Load(); c != nil && c.gen >= g {
		return c, nil
	}
	s.pol.mu.Lock()
	defer s.pol.mu.Unlock()
	if c := s.pol.cur.Load(); c != nil && c.gen >= g {
		return c, nil // another request loaded it meanwhile
	}
	set, err := LoadPolicySet(ctx, s.st)
	if err != nil {
		return nil, fmt.Errorf("load policy set: %w", err)
	}
	e, err := policy.New(ctx, policy.Options{Policies: set.Modules, Now: s.cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("compile the stored policies (generation %d): %w", set.Generation, err)
	}
	c := newCompiledSet(set.Generation, e, set.RefValues)
	s.pol.cur.Store(c)
	s.metrics.policyReloads.Inc()
	s.metrics.policyGen.Set(float64(set.Generation))
	return c, nil
}

// seedPolicy imports the configuration's policies and reference values
// into an empty store. Several versions of one ID in the files are
// imported as the highest.
func (s *Server) seedPolicy(ctx context.Context) error {
	if len(s.cfg.PolicyModules) == 0 && len(s.cfg.RefValues) == 0 {
		return nil
	}
	const who, why = "system:seed", "imported from the service configuration (--policy, --refvalues) into an empty store"
	var ps []store.PolicyVersion
	for _, name := range slices.Sorted(maps.Keys(s.cfg.PolicyModules)) {
		ps = append(ps, store.PolicyVersion{Name: name, Source: s.cfg.PolicyModules[name], State: store.PolicyActive,
			Author: who, Reason: why, CreatedAt: s.now()})
	}
	newest := map[string]policy.RefValue{}
	for _, rv := range s.cfg.RefValues {
		if old, ok := newest[rv.ID]; !ok || rv.Version > old.Version {
			newest[rv.ID] = rv
		}
	}
	var rs []store.RefValueVersion
	for _, id := range slices.Sorted(maps.Keys(newest)) {
		rv := newest[id]
		rv.Version = 1
		rec, err := recordOf(rv)
		if err != nil {
			return err
		}
		rs = append(rs, store.RefValueVersion{ID: id, State: string(rv.State), Record: rec, Author: who, Reason: why, CreatedAt: s.now()})
	}
	seeded, err := s.st.SeedPolicy(ctx, ps, rs)
	if err != nil {
		return err
	}
	if seeded {
		s.cfg.Logger.Info("policy imported into the store", "policies", len(ps), "reference_values", len(rs))
		return s.audit(ctx, who, "policy.seed", "store", "ok", map[string]any{"policies": len(ps), "reference_values": len(rs)})
	}
	s.cfg.Logger.Warn("the store already holds policies or reference values: those are used, and the configured files were not imported (change them through the admin API)")
	return nil
}

// cloneResults copies what Apply changes (status, checks, policy), so
// that a shadow evaluation leaves the real results alone.
func cloneResults(rs []*attest.Result) []*attest.Result {
	out := make([]*attest.Result, len(rs))
	for i, r := range rs {
		c := *r
		c.Checks = slices.Clone(r.Checks)
		out[i] = &c
	}
	return out
}

// ApplyAll records e's decision in every result and returns the worst
// status and the reference values matched, as "ID@VERSION", sorted.
func ApplyAll(ctx context.Context, e *policy.Engine, refs []policy.RefValue, o policy.EvalOptions, results []*attest.Result) (attest.Status, []string, error) {
	status := attest.StatusNone
	seen := map[string]bool{}
	for i, r := range results {
		d, err := e.Apply(ctx, r, refs, o)
		if err != nil {
			return 0, nil, err
		}
		if i == 0 {
			status = r.Status
		} else {
			status = status.Worse(r.Status)
		}
		for _, rs := range d.Reasons {
			if rs.Status != attest.StatusAffirming {
				continue
			}
			for _, a := range rs.Allowed {
				if v := newestVersion(refs, a.RefID); v > 0 {
					seen[a.RefID+"@"+strconv.Itoa(v)] = true
				}
			}
		}
	}
	return status, slices.Sorted(maps.Keys(seen)), nil
}

func newestVersion(refs []policy.RefValue, id string) int {
	v := 0
	for _, rv := range refs {
		if rv.ID == id && rv.Version > v {
			v = rv.Version
		}
	}
	return v
}
