package policy_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/policy"
	"github.com/assay-dev/assay/verifier"
)

// Appraise the README's Turin sample at its date, then judge its claims
// against the documented reference value file.
func ExampleEngine_Evaluate() {
	ctx := context.Background()
	at := time.Date(2025, 8, 15, 0, 0, 0, 0, time.UTC)
	var in []verifier.Input
	for _, f := range []string{"report.bin", "vcek.der"} {
		b, err := os.ReadFile("../testdata/snp/turin-oak/" + f)
		if err != nil {
			panic(err)
		}
		in = append(in, verifier.Input{Name: f, Data: b})
	}
	results, err := verifier.Appraise(ctx, verifier.Verifiers(verifier.Config{}), in, "", attest.Params{Now: at})
	if err != nil {
		panic(err)
	}

	b, err := os.ReadFile("testdata/refvalues.json")
	if err != nil {
		panic(err)
	}
	refs, err := policy.ParseRefValues(b)
	if err != nil {
		panic(err)
	}
	if err := policy.ValidateAll(refs); err != nil {
		panic(err)
	}

	e, err := policy.New(ctx, policy.Options{Now: func() time.Time { return at }})
	if err != nil {
		panic(err)
	}
	d, err := e.Evaluate(ctx, results[0], refs, policy.EvalOptions{IncludeStaged: true})
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Policy, d.Status, "executables", d.TrustVector.Executables, "configuration", d.TrustVector.Configuration)
	for _, r := range d.Reasons {
		fmt.Println(r.Status, r.Rule, r.Allowed[0].RefID)
	}
	fmt.Println("shadow", d.Shadow.Status)
	// Output:
	// snp affirming executables 3 configuration 2
	// affirming snp.host_data oak-turin-host-data
	// affirming snp.measurement oak-turin-stage0-2025-07
	// shadow affirming
}

// The same MRTD pasted from a tool that prints it byte-reversed is
// refused next to the right one.
func ExampleValidate() {
	right := policy.RefValue{ID: "cos-mrtd", TEE: "tdx", Claim: "mr_td", State: policy.StateActive, Version: 1,
		Value: "dae67181d3d65e073ad8f95b7907d5e927bfe9761c9ff3e9b89734a45d8954dba41394c7717cb2735396c1d04231f94a"}
	pasted := right
	pasted.ID = "cos-mrtd-pasted"
	pasted.Value = "4af93142d0c1965373b27c71c79413a4db54895da43497b8e9f39f1c76e9bf27e9d507795bf9d83a075ed6d38171e6da"
	err := policy.Validate(pasted, []policy.RefValue{right})
	var ve *policy.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.ID, ve.Field, errors.Is(err, policy.ErrByteReversed))
	}
	// Output:
	// cos-mrtd-pasted value true
}
