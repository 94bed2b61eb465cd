package cli

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assay-dev/assay/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite golden files")

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(t.Context(), args, &out, &errb)
	if strings.Contains(errb.String(), "panic") || strings.Contains(out.String(), "goroutine ") {
		t.Fatalf("panic output:\n%s%s", out.String(), errb.String())
	}
	return code, out.String(), errb.String()
}

func repoFile(t *testing.T, rel string) string {
	return filepath.Join(testutil.RepoRoot(t), rel)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -update)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if intended):\n--- got\n%s", path, got)
	}
}

// TestGoldenTurin pins the text and JSON output of the README's main
// command at the evidence's own date.
func TestGoldenTurin(t *testing.T) {
	report := repoFile(t, "testdata/snp/turin-oak/report.bin")
	vcek := repoFile(t, "testdata/snp/turin-oak/vcek.der")
	rel := func(s string) string { return strings.ReplaceAll(s, testutil.RepoRoot(t)+"/", "") }
	code, out, errs := run(t, "verify", "--offline", "--at", "2025-08-15T00:00:00Z", report, vcek)
	if code != ExitAffirming {
		t.Fatalf("exit %d, stderr %s\n%s", code, errs, out)
	}
	golden(t, "verify-turin.txt", rel(out))
	code, out, _ = run(t, "verify", "-o", "json", "--offline", "--at", "2025-08-15T00:00:00Z", report, vcek)
	if code != ExitAffirming {
		t.Fatalf("json: exit %d", code)
	}
	golden(t, "verify-turin.json", rel(out))
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("JSON output does not parse: %v", err)
	}
	for _, k := range []string{"tee", "status", "verified_at", "claims", "checks", "coverage"} {
		if _, ok := res[k]; !ok {
			t.Errorf("JSON result lacks %q", k)
		}
	}
	code, out, _ = run(t, "inspect", report, vcek)
	if code != 0 {
		t.Fatalf("inspect: exit %d", code)
	}
	golden(t, "inspect-turin.txt", rel(out))
}

func TestExitCodes(t *testing.T) {
	report := repoFile(t, "testdata/snp/turin-oak/report.bin")
	vcek := repoFile(t, "testdata/snp/turin-oak/vcek.der")
	at := "2025-08-15T00:00:00Z"
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	rd := hex.EncodeToString(raw[0x50:0x70]) // REPORT_DATA's non-zero half
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.bin")
	os.WriteFile(junk, []byte("not evidence"), 0o644)
	flipped := filepath.Join(dir, "flipped.bin")
	b := bytes.Clone(raw)
	b[0x90] ^= 0xFF
	os.WriteFile(flipped, b, 0o644)
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"affirming", []string{"verify", "--offline", "--at", at, report, vcek}, ExitAffirming},
		{"flags-after-files", []string{"verify", report, vcek, "--offline", "--at", at}, ExitAffirming},
		{"directory-input", []string{"verify", "--offline", "--at", at, filepath.Dir(report)}, ExitAffirming},
		{"right-nonce", []string{"verify", "--offline", "--at", at, "--nonce", rd, report, vcek}, ExitAffirming},
		{"wrong-nonce", []string{"verify", "--offline", "--at", at, "--nonce", "00ff", report, vcek}, ExitRejected},
		{"tampered-report", []string{"verify", "--offline", "--at", at, flipped, vcek}, ExitRejected},
		{"missing-vcek-offline", []string{"verify", "--offline", "--at", at, report}, ExitRejected},
		{"vcek-not-yet-valid", []string{"verify", "--offline", "--at", "2025-01-01T00:00:00Z", report, vcek}, ExitRejected},
		{"unrecognised-file", []string{"verify", "--offline", "--at", at, report, vcek, junk}, ExitRejected},
		{"only-certificates", []string{"verify", "--offline", "--at", at, vcek}, ExitRejected},
		{"roots-replaced-by-unrelated", []string{"verify", "--offline", "--at", at, "--roots", vcek, report, vcek}, ExitRejected},
		{"no-such-file", []string{"verify", "--offline", filepath.Join(dir, "missing.bin")}, ExitUsage},
		{"unknown-flag", []string{"verify", "--frobnicate", report}, ExitUsage},
		{"bad-at", []string{"verify", "--at", "yesterday", report}, ExitUsage},
		{"bad-nonce", []string{"verify", "--nonce", "xyz", report}, ExitUsage},
		{"long-nonce", []string{"verify", "--nonce", strings.Repeat("00", 513), report}, ExitUsage},
		{"nonce-longer-than-report-data", []string{"verify", "--offline", "--at", at, "--nonce", strings.Repeat("00", 65), report, vcek}, ExitRejected},
		{"bad-output", []string{"verify", "-o", "yaml", report}, ExitUsage},
		{"no-files", []string{"verify", "--offline"}, ExitUsage},
		{"unknown-command", []string{"frobnicate"}, ExitUsage},
		{"no-command", nil, ExitUsage},
		{"unknown-format", []string{"verify", "--offline", "--format", "nope", report}, ExitRejected},
		{"inspect-junk", []string{"inspect", junk}, ExitRejected},
		{"inspect-no-such-file", []string{"inspect", filepath.Join(dir, "missing.bin")}, ExitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(t, tc.args...)
			if code != tc.want {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.want, out, errs)
			}
		})
	}
}

// TestRejectionExplainsItself: a rejected result names the failing check
// in JSON and keeps the checks that ran before it.
func TestRejectionExplainsItself(t *testing.T) {
	report := repoFile(t, "testdata/snp/turin-oak/report.bin")
	vcek := repoFile(t, "testdata/snp/turin-oak/vcek.der")
	code, out, _ := run(t, "verify", "-o", "json", "--offline", "--at", "2025-08-15T00:00:00Z", "--nonce", "01", report, vcek)
	if code != ExitRejected {
		t.Fatalf("exit %d", code)
	}
	var res struct {
		Status string `json:"status"`
		Checks []struct {
			Name   string `json:"name"`
			OK     bool   `json:"ok"`
			Detail string `json:"detail"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Status != "contraindicated" {
		t.Errorf("status %q", res.Status)
	}
	var failed []string
	for _, c := range res.Checks {
		if !c.OK {
			failed = append(failed, c.Name)
		}
	}
	if len(failed) != 1 || failed[0] != "nonce" {
		t.Errorf("failed checks %v, want [nonce]", failed)
	}
	if len(res.Checks) < 10 {
		t.Errorf("only %d checks reported", len(res.Checks))
	}
}
