package policy_test

import (
	"testing"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/policy"
	"github.com/assay-dev/assay/verifier"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// The two benchmarks below appraise the same evidence, the README's Turin
// sample, so that their ratio reads as the policy's share of an
// attestation: BenchmarkEvaluate is the default SNP policy over its
// result with a realistic set of reference values (prepared query, no
// compilation), BenchmarkAppraise the verification itself, as a
// long-running service does it (classification, parsing, a warm
// certificate cache, the report's ECDSA P-384 signature). The aim is
// Evaluate under 10 % of Appraise.

func benchRefs() []policy.RefValue {
	revoked := ref("turin-old", "snp", "measurement", other48, policy.StateRevoked)
	revoked.Provenance.Note = "superseded"
	return []policy.RefValue{
		ref("turin", "snp", "measurement", turinMeasurement, policy.StateActive),
		ref("turin-next", "snp", "measurement", "cd"+other48[2:], policy.StateStaged),
		revoked,
		ref("host", "snp", "host_data", "0000000000000000000000000000000000000000000000000000000000000000", policy.StateActive),
	}
}

func BenchmarkEvaluate(b *testing.B) {
	e := newEngine(b, policy.Options{})
	r := turinResult(b)
	refs := benchRefs()
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		d, err := e.Evaluate(ctx, r, refs, policy.EvalOptions{})
		if err != nil || d.Status != attest.StatusAffirming {
			b.Fatal(d.Status, err)
		}
	}
}

// BenchmarkEvaluateShadow evaluates twice: as BenchmarkEvaluate, and with
// staged values counted.
func BenchmarkEvaluateShadow(b *testing.B) {
	e := newEngine(b, policy.Options{})
	r := turinResult(b)
	refs := benchRefs()
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		d, err := e.Evaluate(ctx, r, refs, policy.EvalOptions{IncludeStaged: true})
		if err != nil || d.Shadow == nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppraise(b *testing.B) {
	vs := verifier.Verifiers(verifier.Config{SNPCache: &sevsnp.Cache{}})
	in := turinInputs(b)
	appraise(b, vs, in, turinAt) // warm the cache
	p := attest.Params{Now: turinAt}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		rs, err := verifier.Appraise(ctx, vs, in, "", p)
		if err != nil || rs[0].Status != attest.StatusAffirming {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluateTCB is BenchmarkEvaluate with a minimum-TCB policy
// (all five components of the reported, committed and launch TCB of the
// Turin sample, at its values): the cost of input.tcb beside it.
func BenchmarkEvaluateTCB(b *testing.B) {
	e := newEngine(b, policy.Options{})
	r := turinResult(b)
	m := func() *policy.TCBMinimum {
		z, one, two, ucode := uint8(0), uint8(1), uint8(2), uint8(71)
		return &policy.TCBMinimum{Bootloader: &one, TEE: &z, SNP: &two, Microcode: &ucode, FMC: &z}
	}
	tcb, err := policy.TCBPolicy{ID: "turin-tcb", TEE: "snp", Product: "Turin", State: policy.StateActive, Version: 1,
		ReportedTCB: m(), CommittedTCB: m(), LaunchTCB: m()}.RefValues()
	if err != nil {
		b.Fatal(err)
	}
	refs := append(benchRefs(), tcb...)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		d, err := e.Evaluate(ctx, r, refs, policy.EvalOptions{})
		if err != nil || d.Status != attest.StatusAffirming || len(d.Reasons) != 2+len(tcb) {
			b.Fatal(d.Status, len(d.Reasons), err)
		}
	}
}
