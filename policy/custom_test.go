package policy_test

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/policy"
)

// minTCB extends the default SNP policy: the firmware the platform
// reports must be at least SNP SVN 3. The Turin sample reports 2.
const minTCB = `package acme.snp_min_tcb

import data.assay.lib
import data.assay.snp

snp_svn := lib.at("reported_tcb.snp")

tcb := [lib.finding(
	"acme.reported_tcb.snp", "reported_tcb.snp", snp_svn, "warning",
	sprintf("SNP firmware SVN %d is below 3", [snp_svn]),
)] if {
	snp_svn < 3
} else := []

decision := {"categories": object.union(snp.categories, {"hardware": {"judgements": tcb, "affirm": lib.approved}})}
`

func TestCustomPolicyByName(t *testing.T) {
	e := newEngine(t, policy.Options{Policies: map[string]string{"snp-min-tcb": minTCB}})
	if got := e.Policies(); len(got) != 8 {
		t.Errorf("policies %v, want the 7 built-in ones and snp-min-tcb", got)
	}
	r := turinResult(t)
	refs := []policy.RefValue{ref("turin", "snp", "measurement", turinMeasurement, policy.StateActive)}

	d, err := e.Evaluate(t.Context(), r, refs, policy.EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Policy != "snp" || d.Status != attest.StatusAffirming {
		t.Errorf("default: policy %s status %s, want snp affirming", d.Policy, d.Status)
	}

	d, err = e.Evaluate(t.Context(), r, refs, policy.EvalOptions{Policy: "snp-min-tcb"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Policy != "snp-min-tcb" || d.Status != attest.StatusWarning {
		t.Errorf("custom: policy %s status %s, want snp-min-tcb warning", d.Policy, d.Status)
	}
	if policy.ClaimTier(d.TrustVector.Hardware) != attest.StatusWarning || policy.ClaimTier(d.TrustVector.Executables) != attest.StatusAffirming {
		t.Errorf("custom: vector %+v, want hardware warning, executables affirming", d.TrustVector)
	}
	if r, ok := reasonFor(d, "reported_tcb.snp"); !ok || r.Found != "2" || r.Status != attest.StatusWarning {
		t.Errorf("custom: reason %+v", r)
	}
}

// TestLibDecide: lib.decide, the aggregation in Rego, decides as the
// engine does with the categories form.
func TestLibDecide(t *testing.T) {
	e := newEngine(t, policy.Options{Policies: map[string]string{"decide": `package decide
import data.assay.lib
import data.assay.snp
decision := lib.decide(snp.categories)
`}})
	r := turinResult(t)
	for name, refs := range map[string][]policy.RefValue{
		"none":     nil,
		"match":    {ref("turin", "snp", "measurement", turinMeasurement, policy.StateActive)},
		"mismatch": {ref("other", "snp", "measurement", other48, policy.StateActive), ref("h", "snp", "host_data", strings.Repeat("00", 32), policy.StateActive)},
	} {
		t.Run(name, func(t *testing.T) {
			want, err := e.Evaluate(t.Context(), r, refs, policy.EvalOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Evaluate(t.Context(), r, refs, policy.EvalOptions{Policy: "decide"})
			if err != nil {
				t.Fatal(err)
			}
			got.Policy = want.Policy
			if !reflect.DeepEqual(got, want) {
				t.Errorf("lib.decide:\n%+v\nthe engine:\n%+v", got, want)
			}
		})
	}
}

// TestCustomPolicyReplacesDefault: a policy named like a built-in one is
// the default for that kind.
func TestCustomPolicyReplacesDefault(t *testing.T) {
	e := newEngine(t, policy.Options{Policies: map[string]string{"snp": `package mine
decision := {"status": "contraindicated", "reasons": [{"rule": "mine.never", "message": "this policy trusts nothing"}]}
`}})
	d, err := e.Evaluate(t.Context(), turinResult(t), nil, policy.EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Policy != "snp" || d.Status != attest.StatusContraindicated || len(d.Reasons) != 1 || d.Reasons[0].Rule != "mine.never" {
		t.Errorf("decision %+v", d)
	}
}

// TestCategoriesForm: a policy may return its judgements by trust vector
// category and let the engine derive status, vector and reasons.
func TestCategoriesForm(t *testing.T) {
	e := newEngine(t, policy.Options{Policies: map[string]string{"cat": `package cat
import data.assay.lib
decision := {"categories": {
	"file_system": {"judgements": [lib.finding("cat.fs", "", null, "warning", "no file system measurements")], "affirm": 2},
	"executables": {"judgements": [input.comparisons.measurement], "affirm": 3},
	"hardware": {"judgements": [], "affirm": 2},
}}
`}})
	refs := []policy.RefValue{ref("turin", "snp", "measurement", turinMeasurement, policy.StateActive)}
	d, err := e.Evaluate(t.Context(), turinResult(t), refs, policy.EvalOptions{Policy: "cat"})
	if err != nil {
		t.Fatal(err)
	}
	want := policy.TrustVector{FileSystem: 32, Executables: 3}
	if d.Status != attest.StatusWarning || d.TrustVector != want || len(d.Reasons) != 2 {
		t.Errorf("decision %+v, want warning, %+v and two reasons", d, want)
	}
	// Reasons come category by category: executables before file_system.
	if d.Reasons[0].Rule != "snp.measurement" || d.Reasons[1].Rule != "cat.fs" {
		t.Errorf("reasons in order %s, %s", d.Reasons[0].Rule, d.Reasons[1].Rule)
	}
}

// TestStatusNeverBetter: whatever the policy says, the verifier's status
// caps it; a policy's none leaves the verifier's status.
func TestStatusNeverBetter(t *testing.T) {
	say := func(s string) string {
		return "package says\ndecision := {\"status\": \"" + s + "\"}\n"
	}
	policies := map[string]string{}
	for _, s := range []string{"none", "affirming", "warning", "contraindicated"} {
		policies[s] = say(s)
	}
	e := newEngine(t, policy.Options{Policies: policies})
	good, bad := turinResult(t), turinBadSignature(t)
	warn := *good
	warn.Status = attest.StatusWarning
	none := *good
	none.Status = attest.StatusNone
	tests := []struct {
		result *attest.Result
		policy string
		want   attest.Status
	}{
		{good, "none", attest.StatusAffirming},
		{good, "affirming", attest.StatusAffirming},
		{good, "warning", attest.StatusWarning},
		{good, "contraindicated", attest.StatusContraindicated},
		{&warn, "none", attest.StatusWarning},
		{&warn, "affirming", attest.StatusWarning},
		{&warn, "contraindicated", attest.StatusContraindicated},
		{bad, "none", attest.StatusContraindicated},
		{bad, "affirming", attest.StatusContraindicated},
		{&none, "affirming", attest.StatusNone},
		{&none, "warning", attest.StatusNone},
		{&none, "none", attest.StatusNone},
		{&none, "contraindicated", attest.StatusContraindicated},
	}
	for _, tc := range tests {
		t.Run(tc.result.Status.String()+"-"+tc.policy, func(t *testing.T) {
			d, err := e.Evaluate(t.Context(), tc.result, nil, policy.EvalOptions{Policy: tc.policy})
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != tc.want {
				t.Errorf("verifier %s, policy %s: %s, want %s", tc.result.Status, tc.policy, d.Status, tc.want)
			}
		})
	}
}

func TestEngineErrors(t *testing.T) {
	compile := []struct {
		name     string
		policies map[string]string
	}{
		{"syntax", map[string]string{"x": "package x\ndecision := {"}},
		{"v0-syntax", map[string]string{"x": "package x\ndecision = d { d := {\"status\": \"none\"} }"}},
		{"no-decision", map[string]string{"x": "package x\nallow := true"}},
		{"lib-package", map[string]string{"x": "package assay.lib\ndecision := {}"}},
		{"reserved-name", map[string]string{"lib": "package x\ndecision := {}"}},
		{"http-send", map[string]string{"x": "package x\ndecision := http.send({\"method\": \"get\", \"url\": \"https://example.com\"}).body"}},
		{"unsafe", map[string]string{"x": "package x\ndecision := y if { y > 1 }"}},
	}
	for _, tc := range compile {
		t.Run("compile-"+tc.name, func(t *testing.T) {
			_, err := policy.New(t.Context(), policy.Options{Policies: tc.policies})
			if !errors.Is(err, policy.ErrCompile) {
				t.Errorf("%v, want ErrCompile", err)
			}
		})
	}

	eval := map[string]string{
		"bad-status":            `decision := {"status": "great"}`,
		"no-status":             `decision := {"reasons": []}`,
		"unknown-key":           `decision := {"status": "none", "reason": []}`,
		"vector-range":          `decision := {"status": "none", "trust_vector": {"executables": 300}}`,
		"vector-key":            `decision := {"status": "none", "trust_vector": {"exe": 2}}`,
		"reason-type":           `decision := {"status": "none", "reasons": ["x"]}`,
		"not-object":            `decision := "affirming"`,
		"undefined":             `decision := {"status": "none"} if { input.tee == "nothing" }`,
		"builtin-error":         `decision := {"status": "none", "n": to_number("x")}`,
		"conflict":              "decision := {\"status\": \"none\"} if { true }\ndecision := {\"status\": \"warning\"} if { true }",
		"allowed-key":           `decision := {"status": "none", "reasons": [{"rule": "r", "allowed": [{"value": "00", "ref": "x"}]}]}`,
		"status-in-claim":       `decision := {"status": input.claims.measurement}`,
		"categories-and-status": `decision := {"status": "none", "categories": {}}`,
		"category-unknown":      `decision := {"categories": {"firmware": {"judgements": [], "affirm": 2}}}`,
		"category-affirm-range": `decision := {"categories": {"executables": {"judgements": [{"rule": "r", "status": "affirming"}], "affirm": 96}}}`,
		"category-no-affirm":    `decision := {"categories": {"executables": {"judgements": [{"rule": "r", "status": "affirming"}]}}}`,
		"category-judgements":   `decision := {"categories": {"executables": {"judgements": {"rule": "r"}, "affirm": 2}}}`,
	}
	policies := map[string]string{}
	for name, body := range eval {
		policies[name] = "package p\n" + body + "\n"
	}
	e := newEngine(t, policy.Options{Policies: policies})
	r := turinResult(t)
	for name := range eval {
		t.Run("eval-"+name, func(t *testing.T) {
			_, err := e.Evaluate(t.Context(), r, nil, policy.EvalOptions{Policy: name})
			if !errors.Is(err, policy.ErrEval) {
				t.Errorf("%v, want ErrEval", err)
			}
		})
	}
	if _, err := e.Evaluate(t.Context(), r, nil, policy.EvalOptions{Policy: "nothing"}); !errors.Is(err, policy.ErrUnknownPolicy) {
		t.Errorf("unknown policy: %v", err)
	}
	if _, err := e.Evaluate(t.Context(), nil, nil, policy.EvalOptions{}); !errors.Is(err, policy.ErrEval) {
		t.Errorf("nil result: %v", err)
	}
	odd := *r
	odd.TEE, odd.Claims = "sev-es", nil
	if _, err := e.Evaluate(t.Context(), &odd, nil, policy.EvalOptions{}); !errors.Is(err, policy.ErrUnknownPolicy) {
		t.Errorf("a kind without a default policy: %v", err)
	}
}

// TestNoClaims: a result rejected before its claims parsed still gets a
// decision: comparisons see the claims as absent.
func TestNoClaims(t *testing.T) {
	r := *turinBadSignature(t)
	r.Claims = nil
	e := newEngine(t, policy.Options{})
	d, err := e.Evaluate(t.Context(), &r, []policy.RefValue{ref("turin", "snp", "measurement", turinMeasurement, policy.StateActive)}, policy.EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reason, _ := reasonFor(d, "measurement")
	if d.Status != attest.StatusContraindicated || reason.Status != attest.StatusContraindicated || !contains(reason.Message, "absent") {
		t.Errorf("decision %+v", d)
	}
}

// TestConcurrentEvaluate: one Engine serves concurrent evaluations (run
// with -race).
func TestConcurrentEvaluate(t *testing.T) {
	e := newEngine(t, policy.Options{})
	r := turinResult(t)
	refs := []policy.RefValue{ref("turin", "snp", "measurement", turinMeasurement, policy.StateActive)}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			d, err := e.Evaluate(t.Context(), r, refs, policy.EvalOptions{IncludeStaged: true})
			if err == nil && d.Status != attest.StatusAffirming {
				err = errors.New("status " + d.Status.String())
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
