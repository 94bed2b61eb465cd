package verifier_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier"
)

// TestAzureTDXQuoteIsAbsorbed: a raw Azure HCL report of a TDX VM given
// with its TD quote is one appraisal (the quote is part of the Azure
// evidence), not two.
func TestAzureTDXQuoteIsAbsorbed(t *testing.T) {
	dir := testutil.CorpusDir(t)
	var in []verifier.Input
	for _, f := range []string{"azure/openpcc/azure-tdx-hcl-report.bin", "azure/openpcc/azure-tdx-quote-v4.dat", "tdx/dcap-qvl/tdx-quote-outdated-collateral.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, verifier.Input{Name: f, Data: b})
	}
	at := time.Date(2026, 2, 19, 0, 0, 0, 0, time.UTC)
	rs, err := verifier.Appraise(t.Context(), verifier.Verifiers(verifier.Config{}), in, "", attest.Params{Now: at})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("%d results, want 1 (the TD quote belongs to the HCL report)", len(rs))
	}
	if rs[0].TEE != "tdx" || !rs[0].Status.Trusted() {
		t.Fatalf("tee %s status %s failures %+v", rs[0].TEE, rs[0].Status, rs[0].Failed())
	}
	// Alone, the same TD quote is TDX evidence of its own.
	rs, err = verifier.Appraise(t.Context(), verifier.Verifiers(verifier.Config{}), in[1:], "", attest.Params{Now: at})
	if err != nil || len(rs) != 1 || rs[0].Evidence.Format != "tdx-quote" {
		t.Fatalf("quote alone: %v, %d results", err, len(rs))
	}
}
