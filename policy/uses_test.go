package policy_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/policy"
)

// usesPolicies read the input in every way the engine's analysis must
// see: whole, by keys known only when evaluating, through functions,
// under "with".
var usesPolicies = map[string]string{
	"count":    `count(input.claims)`,
	"keys":     `json.marshal(object.keys(input.claims))`,
	"dynamic":  `json.marshal(input.claims[concat("_", ["chip", "id"])])`,
	"at":       `json.marshal(lib.at("reported_tcb.snp"))`,
	"alias":    `json.marshal(c.chip_id) if { c := input.claims }`,
	"lists":    `json.marshal([input.reference_values, input.revoked, input.outside_window])`,
	"compare":  `json.marshal(lib.compare("x.measurement", "measurement", input.claims.measurement))`,
	"input":    `json.marshal(input)`,
	"with":     `json.marshal(y) if { y := all with input.claims.measurement as "00" }`,
	"walk":     `json.marshal([p | walk(input.claims, [p, _])])`,
	"get-path": `json.marshal(object.get(input.claims, ["current_tcb", "snp"], null))`,
	"iterate":  `json.marshal({k | some k, _ in input.claims})`,
}

func usesPolicy(expr string) string {
	return `package uses

import data.assay.lib

all := json.marshal(input.claims)

msg := ` + expr + `

decision := {"status": "none", "reasons": [{"rule": "uses", "message": sprintf("%v", [msg])}]}
`
}

// TestUsesSameDecision: the engine gives a policy only the part of the
// input it can read, and the decision is the one the whole input gives,
// for every built-in policy on evidence of its kind and for policies
// that read the input in unusual ways.
func TestUsesSameDecision(t *testing.T) {
	o := policy.Options{Policies: map[string]string{}}
	for name, expr := range usesPolicies {
		o.Policies[name] = usesPolicy(expr)
	}
	part, whole := newEngine(t, o), newEngine(t, o)
	whole.ReadEverything()
	claimOf := map[string]string{"snp": "measurement", "tdx": "mr_td", "sgx": "mr_enclave", "nitro": "pcrs.0",
		"tpm": "pcrs.sha256.0", "cca": "realm.initial_measurement", "azcvm": "measurement"}
	same := func(t *testing.T, r *attest.Result, refs []policy.RefValue, eo policy.EvalOptions) {
		t.Helper()
		eo.IncludeStaged = true
		got, err := part.Evaluate(t.Context(), r, refs, eo)
		if err != nil {
			t.Fatal(err)
		}
		want, err := whole.Evaluate(t.Context(), r, refs, eo)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decision\n%+v\nwith the whole input\n%+v", got, want)
		}
	}
	for name, r := range sampleResults(t) {
		t.Run(name, func(t *testing.T) {
			kind := policy.Kind(r)
			refs := []policy.RefValue{
				ref("a", kind, claimOf[kind], other48, policy.StateActive),
				ref("r", kind, claimOf[kind], other48[2:]+"cd", policy.StateRevoked),
			}
			if kind == "snp" {
				refs = benchRefs()
			}
			same(t, r, nil, policy.EvalOptions{})
			same(t, r, refs, policy.EvalOptions{})
		})
	}
	turin := turinResult(t)
	for name := range usesPolicies {
		t.Run(name, func(t *testing.T) {
			same(t, turin, benchRefs(), policy.EvalOptions{Policy: name})
		})
	}
}

// TestUsesDefaults pins what the analysis finds the default SNP policy
// reads: two claims and no reference value list (BenchmarkEvaluate's
// cost depends on it).
func TestUsesDefaults(t *testing.T) {
	all, lists, claims, keys := newEngine(t, policy.Options{}).Uses("snp")
	if all || lists || claims || !slices.Equal(keys, []string{"measurement", "policy"}) {
		t.Errorf("snp reads all %v, lists %v, claims %v, keys %v", all, lists, claims, keys)
	}
}
