// Package archtest enforces the import rules of docs/architecture.md: data
// flows one way, from bytes to verdict, and no package reaches back.
package archtest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/assay-dev/assay/internal/testutil"
)

const module = "github.com/assay-dev/assay"

type pkg struct {
	ImportPath string
	Imports    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = testutil.RepoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func local(path string) (string, bool) {
	if path == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

func TestImportDirection(t *testing.T) {
	// forbidden[prefix of importer] = prefixes it must not import.
	rules := []struct {
		importer string
		allowed  func(imported string) bool
		why      string
	}{
		{"attest", func(string) bool { return false }, "attest is the shared vocabulary and imports nothing of the repository"},
		{"verifier/", func(s string) bool {
			return s == "attest" || strings.HasPrefix(s, "internal/") && s != "internal/cli" ||
				strings.HasPrefix(s, "verifier/")
		}, "a verifier sees only attest and internal helpers, never collateral, policy, store, server or the CLI"},
		{"collateral", func(s string) bool {
			// Within the layer is not above it: the bundle and cache
			// packages validate with kds and pcs.
			return s == "attest" || strings.HasPrefix(s, "verifier/") || strings.HasPrefix(s, "internal/") && s != "internal/cli" ||
				strings.HasPrefix(s, "collateral/")
		},
			"collateral implements the verifiers' getters and knows nothing above them"},
		{"token", func(s string) bool { return s == "attest" },
			"token sees only attest: it signs appraisals, it does not make them"},
		{"broker", func(s string) bool { return s == "attest" || s == "internal/jcs" },
			"broker seals, wraps and judges release; storage and HTTP are the server's"},
		{"store", func(string) bool { return false },
			"store keeps sealed bytes and records; it knows no verifier, token or broker"},
		{"measure", func(s string) bool { return strings.HasPrefix(s, "measure/") },
			"measurement calculators turn artifacts into values with the standard library alone; the CLI hands the values to policy"},
		{"attester", func(s string) bool {
			return s == "attest" || s == "broker" || strings.HasPrefix(s, "internal/") && s != "internal/cli" ||
				strings.HasPrefix(s, "verifier/")
		}, "the attester client speaks the wire protocol and writes evidence formats; it never links the server or the verifier registry"},
	}
	for _, p := range listPackages(t) {
		rel, _ := local(p.ImportPath)
		for _, imp := range p.Imports {
			irel, ok := local(imp)
			if !ok {
				continue
			}
			if irel == "internal/cli" && rel != "cmd/assay" {
				t.Errorf("%s imports internal/cli: only cmd/assay may", rel)
			}
			if irel == "server" && rel != "internal/cli" {
				t.Errorf("%s imports server: only the CLI wires the server", rel)
			}
			if strings.HasPrefix(irel, "cmd/") {
				t.Errorf("%s imports %s: nothing imports a command", rel, irel)
			}
			if strings.HasPrefix(irel, "internal/testutil") {
				t.Errorf("%s imports internal/testutil outside tests", rel)
			}
			for _, r := range rules {
				matches := rel == r.importer || strings.HasPrefix(rel, r.importer) && strings.HasSuffix(r.importer, "/") ||
					strings.HasPrefix(rel, r.importer+"/")
				if matches && !r.allowed(irel) {
					t.Errorf("%s imports %s: %s", rel, irel, r.why)
				}
			}
		}
	}
}
