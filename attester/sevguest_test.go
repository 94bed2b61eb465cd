package attester_test

import (
	"bytes"
	"crypto/x509"
	"testing"
	"time"

	sgtest "github.com/google/go-sev-guest/testing"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/attester"
	"github.com/assay-dev/assay/verifier"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// TestSEVGuest runs the source against go-sev-guest's mock quote provider
// (a fake AMD-SP with its own test ARK): the report and the certificate
// table come back as two files, and Assay's verifier verifies them with
// the mock's ARK as the only root.
func TestSEVGuest(t *testing.T) {
	tcs := sgtest.TestCases()
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	qp, err := sgtest.TcQuoteProvider(tcs, &sgtest.DeviceOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var tc *sgtest.TestCase
	for i := range tcs {
		if tcs[i].WantErr == "" && tcs[i].FwErr == 0 {
			tc = &tcs[i]
			break
		}
	}
	if tc == nil {
		t.Fatal("no successful go-sev-guest test case")
	}
	files, err := attester.SEVGuest{Provider: qp}.Evidence(t.Context(), tc.Input[:])
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Name != "report.bin" || files[1].Name != "certs.bin" {
		t.Fatalf("files %v", files)
	}
	r, err := sevsnp.Parse(files[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.ReportData[:], tc.Input[:]) {
		t.Errorf("REPORT_DATA %x, want %x", r.ReportData, tc.Input)
	}
	in := []verifier.Input{{Name: files[0].Name, Data: files[0].Data}, {Name: files[1].Name, Data: files[1].Data}}
	rs, err := verifier.Appraise(t.Context(), verifier.Verifiers(verifier.Config{}), in, "",
		attest.Params{Now: now, Nonce: tc.Input[:], Roots: []*x509.Certificate{qp.Device.Signer.Ark}})
	if err != nil {
		t.Fatal(err)
	}
	// go-sev-guest's test reports set POLICY.DEBUG; every other check
	// (chain to the mock ARK, signature, nonce) must pass.
	var failed []string
	for _, c := range rs[0].Failed() {
		failed = append(failed, c.Name)
	}
	if len(failed) != 1 || failed[0] != "policy.debug" {
		t.Errorf("failed checks %v, want only policy.debug (the mock's reports are debug guests)", failed)
	}
}
