package tdx_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier"
)

// TestTrusteeJSONWithEventLog: Trustee's tdx evidence JSON carrying the GCP
// quote and its CCEL verifies, and the log replays to the quote's RTMRs;
// a log with one digest changed is named as the failure.
func TestTrusteeJSONWithEventLog(t *testing.T) {
	dir := testutil.CorpusDir(t)
	read := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	quote := read("tdx/go-tdx-guest/gcp-cos113-quote-v4.dat")
	log := read("tdx/go-tdx-guest/gcp-cos113-ccel-data.bin")
	var coll []verifier.Input
	for _, p := range []string{"tdx/dcap-rs/collateral/tcbinfo_00806f050000.json", "tdx/dcap-rs/collateral/qe_identity_td_qe.json",
		"roots/intel/crl/pck_platform_2025-02-13.der", "roots/intel/crl/IntelSGXRootCA_2024-03-20.der"} {
		coll = append(coll, verifier.Input{Name: p, Data: read(p)})
	}
	at := time.Date(2025, 2, 20, 0, 0, 0, 0, time.UTC)
	vs := verifier.Verifiers(verifier.Config{})
	evidence := func(l []byte) []byte {
		b, _ := json.Marshal(map[string]string{"quote": base64.StdEncoding.EncodeToString(quote), "cc_eventlog": base64.StdEncoding.EncodeToString(l)})
		return b
	}
	r := appraise(t, vs, evidence(log), coll, at)
	if !r.Status.Trusted() || r.Evidence.Format != "trustee-tdx-json" {
		t.Fatalf("status %s format %s failures %+v", r.Status, r.Evidence.Format, r.Failed())
	}
	if ok, ran := checkOK(r.Checks, "rtmr.replay"); !ran || !ok {
		t.Fatalf("rtmr.replay ran=%v ok=%v", ran, ok)
	}
	// Change one SHA-384 digest of a measured event: the replay must fail.
	bad := bytes.Clone(log)
	i := bytes.Index(bad, []byte{0x0c, 0x00}) // TPM_ALG_SHA384 in an event's digest list
	if i < 0 {
		t.Fatal("no SHA-384 digest found in the log")
	}
	for j := i + 100; j < len(bad); j++ { // past the Spec ID header
		if k := bytes.Index(bad[j:], []byte{0x0c, 0x00}); k >= 0 {
			bad[j+k+2] ^= 0xFF
			break
		}
	}
	r = appraise(t, vs, evidence(bad), coll, at)
	if r.Status.Trusted() {
		t.Fatal("a tampered event log was accepted")
	}
	if f := r.Failed(); len(f) == 0 || f[0].Name != "rtmr.replay" {
		t.Fatalf("failures %+v, want rtmr.replay", f)
	}
}

func checkOK(checks []attest.Check, name string) (ok, ran bool) {
	for _, c := range checks {
		if c.Name == name {
			return c.OK && !c.Skipped, true
		}
	}
	return false, false
}
