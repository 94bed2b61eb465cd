// Package testutil holds helpers shared by tests: the location of the
// shared evidence corpus and its manifest, and a fixed clock.
package testutil

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testutil: cannot locate source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// CorpusDir returns ../shared/corpus beside the repository. Without it
// the test is skipped, except under CI (CI=true), where it fails: CI always
// has the corpus, and a silently skipped corpus test proves nothing.
func CorpusDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join(RepoRoot(t), "..", "shared", "corpus")
	if _, err := os.Stat(filepath.Join(d, "manifest.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared corpus missing under CI: %v", err)
		}
		t.Skipf("shared corpus not found at %s: %v", d, err)
	}
	return d
}

// Manifest is the part of ../shared/corpus/manifest.json tests read.
type Manifest struct {
	Entries []Entry `json:"entries"`
}

// Entry is one corpus entry.
type Entry struct {
	ID               string         `json:"id"`
	Kind             string         `json:"kind"`
	Negative         bool           `json:"negative"`
	Files            []File         `json:"files"`
	TrustAnchor      string         `json:"trust_anchor"`
	VerifyAt         string         `json:"verify_at"`
	CollateralStatus string         `json:"collateral_status"`
	RealHardware     *bool          `json:"real_hardware"`
	Expected         map[string]any `json:"expected"`
	Source           map[string]any `json:"source"`
}

// File is one file of an entry.
type File struct {
	Path     string `json:"path"`
	Kind     string `json:"kind"`
	Role     string `json:"role"`
	Negative bool   `json:"negative"`
	SHA256   string `json:"sha256"`
}

// LoadManifest reads the corpus manifest.
func LoadManifest(t testing.TB) (*Manifest, string) {
	t.Helper()
	dir := CorpusDir(t)
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	return &m, dir
}

// Parsed returns expected.parsed of an entry.
func (e Entry) Parsed() map[string]any {
	p, _ := e.Expected["parsed"].(map[string]any)
	return p
}

// At parses the entry's verify_at.
func (e Entry) At(t testing.TB) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, e.VerifyAt)
	if err != nil {
		t.Fatalf("%s: verify_at %q: %v", e.ID, e.VerifyAt, err)
	}
	return at
}
