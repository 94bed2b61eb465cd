package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assay-dev/assay/internal/cli"
	"github.com/assay-dev/assay/internal/testutil"
)

// TestVerifyWithReferenceValues: the shipped Turin report against the
// policy package's reference values (its measurement, with provenance),
// and against the same file with one byte of the measurement changed.
func TestVerifyWithReferenceValues(t *testing.T) {
	root := testutil.RepoRoot(t)
	report := filepath.Join(root, "testdata", "snp", "turin-oak", "report.bin")
	vcek := filepath.Join(root, "testdata", "snp", "turin-oak", "vcek.der")
	good := filepath.Join(root, "policy", "testdata", "refvalues.json")
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "refvalues.json")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(b), `"value": "f924dd18`, `"value": "0924dd18`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	type out struct {
		Status string `json:"status"`
		Checks []struct {
			Name   string `json:"name"`
			OK     bool   `json:"ok"`
			Detail string `json:"detail"`
		} `json:"checks"`
		Policy *struct {
			Policy string `json:"policy"`
		} `json:"policy"`
	}
	for _, tc := range []struct {
		name, refs string
		code       int
		status     string
		detail     []string
	}{
		{"matching", good, cli.ExitAffirming, "affirming", []string{"matched"}},
		{"measurement-changed", bad, cli.ExitRejected, "contraindicated", []string{"measurement", "f924dd18", "0924dd18", "oak-turin-stage0-2025-07"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run("verify", "-o", "json", "--offline", "--at", "2025-08-15T00:00:00Z", "--refvalues", tc.refs, report, vcek)
			var res out
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatalf("%v\n%s%s", err, stdout, stderr)
			}
			if code != tc.code || res.Status != tc.status || res.Policy == nil || res.Policy.Policy != "snp" {
				t.Fatalf("exit %d status %s policy %+v, want %d %s snp\n%s", code, res.Status, res.Policy, tc.code, tc.status, stderr)
			}
			var detail string
			for _, c := range res.Checks {
				if c.Name == "policy" {
					detail = c.Detail
				}
			}
			for _, w := range tc.detail {
				if !strings.Contains(detail, w) {
					t.Errorf("policy check %q does not name %q", detail, w)
				}
			}
		})
	}
	// A reference value of the wrong length is refused before appraisal.
	short := filepath.Join(t.TempDir(), "short.json")
	_ = os.WriteFile(short, []byte(strings.Replace(string(b), `"value": "f924dd18`, `"value": "f924`, 1)), 0o600)
	if code, _, stderr := run("verify", "--offline", "--refvalues", short, report, vcek); code != cli.ExitUsage || !strings.Contains(stderr, "measurement") {
		t.Errorf("short reference value: exit %d %s", code, stderr)
	}
}
