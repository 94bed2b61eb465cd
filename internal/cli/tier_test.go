package cli

import (
	"path/filepath"
	"testing"

	"github.com/assay-dev/assay/internal/testutil"
)

// TestTCBTierOverride: the SGX sample's TCB status is
// ConfigurationAndSWHardeningNeeded, a warning by default; --tcb-tier
// moves it to either side.
func TestTCBTierOverride(t *testing.T) {
	dir := testutil.CorpusDir(t)
	files := []string{"--offline", "--at", "2025-06-19T11:00:00Z"}
	for _, f := range []string{"tdx/dcap-qvl/sgx-quote-v3.dat", "tdx/dcap-qvl/pcs-format/sgx-quote/tcbinfo.json",
		"tdx/dcap-qvl/pcs-format/sgx-quote/qe_identity.json", "tdx/dcap-qvl/pcs-format/sgx-quote/pck_crl.der",
		"tdx/dcap-qvl/pcs-format/sgx-quote/root_ca_crl.der"} {
		files = append(files, filepath.Join(dir, f))
	}
	tests := []struct {
		name  string
		extra []string
		want  int
	}{
		{"default-warning", nil, ExitWarning},
		{"stricter", []string{"--tcb-tier", "ConfigurationAndSWHardeningNeeded=contraindicated"}, ExitRejected},
		{"looser", []string{"--tcb-tier", "ConfigurationAndSWHardeningNeeded=affirming"}, ExitAffirming},
		{"other-status-untouched", []string{"--tcb-tier", "OutOfDate=contraindicated"}, ExitWarning},
		{"bad-status", []string{"--tcb-tier", "Stale=affirming"}, ExitUsage},
		{"bad-tier", []string{"--tcb-tier", "OutOfDate=fine"}, ExitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"verify"}, tc.extra...), files...)
			if code, out, errs := run(t, args...); code != tc.want {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tc.want, out, errs)
			}
		})
	}
}
