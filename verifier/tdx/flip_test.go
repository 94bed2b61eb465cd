package tdx_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/dcap"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier"
)

// flipCase is a real quote with its collateral, affirmed unmodified.
type flipCase struct {
	name  string
	quote string
	files []string
	at    time.Time
}

var flipCases = []flipCase{
	{"tdx-v4-dcap-qvl", "tdx/dcap-qvl/tdx-quote-v4.dat", []string{
		"tdx/dcap-qvl/pcs-format/tdx-quote/tcbinfo.json", "tdx/dcap-qvl/pcs-format/tdx-quote/qe_identity.json",
		"tdx/dcap-qvl/pcs-format/tdx-quote/pck_crl.der", "tdx/dcap-qvl/pcs-format/tdx-quote/root_ca_crl.der",
	}, time.Date(2025, 6, 19, 11, 0, 0, 0, time.UTC)},
	{"tdx-v5-alibaba", "tdx/automata/alibaba-quote-v5.dat", []string{
		"tdx/automata/collateral/0625-tcbinfov3_90C06F000000.json", "tdx/automata/collateral/0625-qe_td.json",
		"roots/intel/crl/pck_platform_2025-06-19.der", "roots/intel/crl/IntelSGXRootCA_2025-03-20.der",
	}, time.Date(2025, 6, 25, 0, 0, 0, 0, time.UTC)},
	{"sgx-v3-dcap-qvl", "tdx/dcap-qvl/sgx-quote-v3.dat", []string{
		"tdx/dcap-qvl/pcs-format/sgx-quote/tcbinfo.json", "tdx/dcap-qvl/pcs-format/sgx-quote/qe_identity.json",
		"tdx/dcap-qvl/pcs-format/sgx-quote/pck_crl.der", "tdx/dcap-qvl/pcs-format/sgx-quote/root_ca_crl.der",
	}, time.Date(2025, 6, 19, 11, 0, 0, 0, time.UTC)},
}

func appraise(t *testing.T, vs []attest.Verifier, quote []byte, collateral []verifier.Input, at time.Time) *attest.Result {
	t.Helper()
	in := append([]verifier.Input{{Name: "quote", Data: quote}}, collateral...)
	rs, err := verifier.Appraise(t.Context(), vs, in, "", attest.Params{Now: at})
	if err != nil {
		return &attest.Result{Checks: []attest.Check{attest.Fail("input", err)}, Status: attest.StatusContraindicated}
	}
	return rs[0]
}

// TestQuoteByteFlips flips every byte of real quotes (TDX v4, TDX v5 with
// a TD 1.5 body, SGX v3): each copy must be rejected, with a failing check
// named in the result.
func TestQuoteByteFlips(t *testing.T) {
	dir := testutil.CorpusDir(t)
	vs := verifier.Verifiers(verifier.Config{DCAPCache: &dcap.Cache{}})
	for _, c := range flipCases {
		t.Run(c.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, c.quote))
			if err != nil {
				t.Fatal(err)
			}
			q, err := dcap.ParseQuote(raw)
			if err != nil {
				t.Fatal(err)
			}
			raw = q.Raw()
			var coll []verifier.Input
			for _, f := range c.files {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				coll = append(coll, verifier.Input{Name: f, Data: b})
			}
			if r := appraise(t, vs, raw, coll, c.at); !r.Status.Trusted() {
				t.Fatalf("unmodified quote: %s %+v", r.Status, r.Failed())
			}
			for i := range raw {
				b := bytes.Clone(raw)
				b[i] ^= 0xFF
				r := appraise(t, vs, b, coll, c.at)
				if r.Status.Trusted() {
					t.Errorf("byte %#x flipped: %s", i, r.Status)
					continue
				}
				if len(r.Failed()) == 0 || r.Failed()[0].Name == "" {
					t.Errorf("byte %#x flipped: rejected without a named failing check", i)
				}
			}
			// Bytes after the quote are not part of it: padding is ignored,
			// and the parse check says so.
			r := appraise(t, vs, append(bytes.Clone(raw), 0, 0, 1), coll, c.at)
			if !r.Status.Trusted() || !strings.Contains(r.Checks[0].Detail, "3 bytes after the quote ignored") {
				t.Errorf("trailing bytes: %s, parse check %q", r.Status, r.Checks[0].Detail)
			}
		})
	}
}
