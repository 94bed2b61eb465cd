package policy_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/policy"
)

// sameReadBack fails unless the decision decoded with the engine's own
// judgements is the one read back from the policy's Rego value.
func sameReadBack(t *testing.T, e *policy.Engine, r *attest.Result, refs []policy.RefValue, o policy.EvalOptions) {
	t.Helper()
	fast, slow, err := e.DecodeBoth(t.Context(), r, refs, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(fast.Reasons) == 0 || !reflect.DeepEqual(fast, slow) {
		t.Fatalf("decision\n%+v\nread back\n%+v", fast, slow)
	}
}

// TestJudgementsReadBack: the engine's judgements (matched, revoked,
// outside their window, minimums, none counting) decode as their Rego
// values read back do.
func TestJudgementsReadBack(t *testing.T) {
	e := newEngine(t, policy.Options{})
	turin := turinResult(t)
	revoked := ref("turin-revoked", "snp", "measurement", turinMeasurement, policy.StateRevoked)
	revoked.Provenance.Note = "superseded"
	expired := ref("turin-expired", "snp", "measurement", turinMeasurement, policy.StateActive)
	expired.NotAfter = turinAt.Add(-time.Hour)
	minimums := func(v uint8) *policy.TCBMinimum {
		return &policy.TCBMinimum{Bootloader: &v, TEE: &v, SNP: &v, Microcode: &v, FMC: &v}
	}
	tcb, err := policy.TCBPolicy{ID: "turin-tcb", TEE: "snp", Product: "Turin", State: policy.StateActive, Version: 1,
		ReportedTCB: minimums(0), CommittedTCB: minimums(200)}.RefValues()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		r    *attest.Result
		refs []policy.RefValue
		o    policy.EvalOptions
	}{
		{"bench", turin, benchRefs(), policy.EvalOptions{}},
		{"bench-staged", turin, benchRefs(), policy.EvalOptions{IncludeStaged: true}},
		{"revoked", turin, []policy.RefValue{revoked, ref("other", "snp", "measurement", other48, policy.StateActive)}, policy.EvalOptions{}},
		{"expired", turin, []policy.RefValue{expired}, policy.EvalOptions{}},
		{"none-counts", turin, []policy.RefValue{revoked}, policy.EvalOptions{}},
		{"tcb", turin, append(benchRefs(), tcb...), policy.EvalOptions{}},
		{"bad-signature", turinBadSignature(t), benchRefs(), policy.EvalOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sameReadBack(t, e, tc.r, tc.refs, tc.o)
		})
	}
}

// TestEntryValue: a reference value's entry, made directly as a Rego
// value, is what OPA makes of its Go form.
func TestEntryValue(t *testing.T) {
	windowed := ref("windowed", "tdx", "rtmr.2", other48, policy.StateDeprecated)
	windowed.NotBefore, windowed.NotAfter = turinAt.Add(-time.Hour), turinAt.Add(time.Hour/3)
	windowed.Workload, windowed.Version = "web", 1<<40
	windowed.Provenance = policy.Provenance{Note: "é \x00 \"quoted\""}
	for _, rv := range append(benchRefs(), windowed, policy.RefValue{}) {
		direct, converted := policy.EntryValues(rv)
		if direct.Compare(converted) != 0 || direct.Hash() != converted.Hash() || direct.String() != converted.String() {
			t.Errorf("%s: entry %v, converted %v", rv.ID, direct, converted)
		}
	}
}
