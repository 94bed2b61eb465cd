package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// onlineKDS is a loopback AMD KDS serving the real Milan documents of the
// shared corpus, recording the paths asked for.
type onlineKDS struct {
	*httptest.Server
	vcekPath string
	mu       sync.Mutex
	paths    []string
}

func newOnlineKDS(t *testing.T, corpus string) *onlineKDS {
	t.Helper()
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(corpus, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	vcek := read("snp/trustee/milan-vcek.der")
	cert, err := x509.ParseCertificate(vcek)
	if err != nil {
		t.Fatal(err)
	}
	vek, err := sevsnp.ParseVEK(cert)
	if err != nil {
		t.Fatal(err)
	}
	k := &onlineKDS{vcekPath: "/vcek/v1/Milan/" + hex.EncodeToString(vek.HWID)}
	docs := map[string][]byte{
		k.vcekPath:                  vcek,
		"/vcek/v1/Milan/cert_chain": read("roots/amd/milan_vcek_ask_ark.pem"),
		"/vlek/v1/Milan/cert_chain": read("roots/amd/milan_vlek_ask_ark.pem"),
		"/vcek/v1/Milan/crl":        read("roots/amd/milan_vcek_crl.der"),
	}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.paths = append(k.paths, r.URL.Path)
		k.mu.Unlock()
		b, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		// Real KDS serves a VCEK only for the TCB it certifies.
		if r.URL.Path == k.vcekPath && r.URL.RawQuery != "blSPL=3&snpSPL=8&teeSPL=0&ucodeSPL=115" {
			http.Error(w, "wrong TCB", http.StatusBadRequest)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(k.Close)
	return k
}

func (k *onlineKDS) requested() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.paths)
}

// onlineResult is the part of the JSON result (attest.Result) read here.
type onlineResult struct {
	Status string        `json:"status"`
	Checks []onlineCheck `json:"checks"`
}

type onlineCheck struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped"`
	Detail  string `json:"detail"`
}

func decodeOnlineResult(t *testing.T, out string) onlineResult {
	t.Helper()
	var res onlineResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("JSON output does not parse: %v\n%s", err, out)
	}
	return res
}

// TestOnline verifies a real Milan report with no VCEK given: the VCEK and
// the CRL come from a loopback KDS, through the disk cache.
func TestOnline(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	report := filepath.Join(corpus, "snp", "trustee", "milan-vcek-report.bin")
	k := newOnlineKDS(t, corpus)
	cache := t.TempDir()
	args := []string{"verify", "-o", "json", "--at", "2025-06-01T00:00:00Z",
		"--kds-url", k.URL, "--cache-dir", cache,
		// A version 2 report carries no CPUID: the verifier asks KDS
		// under each product that made version 2 reports.
		report}

	for _, pass := range []string{"cold-cache", "warm-cache"} {
		var stdout, stderr bytes.Buffer
		before := len(k.requested())
		code := Run(t.Context(), args, &stdout, &stderr)
		if code != ExitAffirming {
			t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", pass, code, ExitAffirming, stdout.String(), stderr.String())
		}
		res := decodeOnlineResult(t, stdout.String())
		if res.Status != "affirming" {
			t.Errorf("%s: status %q, want affirming", pass, res.Status)
		}
		i := slices.IndexFunc(res.Checks, func(c onlineCheck) bool { return c.Name == "crl" })
		if i < 0 {
			t.Fatalf("%s: no crl check in %+v", pass, res.Checks)
		}
		if c := res.Checks[i]; !c.OK || c.Skipped {
			t.Errorf("%s: crl check ok=%v skipped=%v (%s), want passed", pass, c.OK, c.Skipped, c.Detail)
		}
		reqs := k.requested()[before:]
		switch pass {
		case "cold-cache":
			if !slices.Contains(reqs, k.vcekPath) {
				t.Errorf("KDS saw %v, not the VCEK request %s", reqs, k.vcekPath)
			}
			if !slices.Contains(reqs, "/vcek/v1/Milan/crl") {
				t.Errorf("KDS saw %v, not the CRL request", reqs)
			}
		case "warm-cache":
			if len(reqs) != 0 {
				t.Errorf("second run asked KDS for %v; the cache should have served everything", reqs)
			}
		}
	}
}

// TestOfflineMissingVCEK: the same report offline, with no VCEK, is
// rejected by the chain.vek check, which says the VCEK is missing.
func TestOfflineMissingVCEK(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	report := filepath.Join(corpus, "snp", "trustee", "milan-vcek-report.bin")
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), []string{"verify", "-o", "json", "--at", "2025-06-01T00:00:00Z",
		"--cache-dir", t.TempDir(), "--offline", report}, &stdout, &stderr)
	if code != ExitRejected {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitRejected, stdout.String(), stderr.String())
	}
	res := decodeOnlineResult(t, stdout.String())
	if res.Status != "contraindicated" {
		t.Errorf("status %q, want contraindicated", res.Status)
	}
	var found bool
	for _, c := range res.Checks {
		if c.Name != "chain.vek" {
			continue
		}
		found = true
		if c.OK {
			t.Errorf("chain.vek passed offline with no VCEK: %s", c.Detail)
		}
		// The JSON carries the message, not the error value; it must tell
		// a person what to supply.
		if !strings.Contains(c.Detail, "VCEK") || !strings.Contains(c.Detail, "offline") {
			t.Errorf("chain.vek detail %q does not say the VCEK is missing offline", c.Detail)
		}
	}
	if !found {
		t.Errorf("no chain.vek check in %+v", res.Checks)
	}
}
