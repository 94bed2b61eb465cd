package cli

import (
	"archive/tar"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/internal/testutil/fakevendor"
)

// airGapAt is when every document the air-gap samples need is current:
// the dcap-qvl Intel collateral (2025-06-19 to 07-19), the Milan CRL
// (2025-05-06 to 2026-05-12), the Genoa CRL (2024-10-23 to 2025-11-03).
const airGapAt = "2025-06-19T11:00:00Z"

// airGapSample is real evidence and how it verifies at airGapAt with
// its collateral.
type airGapSample struct {
	name string
	file string // corpus path
	code int
}

func airGapSamples(corpus string) []airGapSample {
	c := func(rel string) string { return filepath.Join(corpus, filepath.FromSlash(rel)) }
	return []airGapSample{
		// A version 2 report: no CPUID, no certificate. KDS is asked
		// under Milan, then Genoa.
		{"milan-v2-report", c("snp/trustee/milan-vcek-report.bin"), ExitAffirming},
		// An Azure CVM's raw HCL report: a Genoa SNP report inside.
		{"azure-genoa-hcl", c("azure/openpcc/azure-snp-genoa-hcl-report.bin"), ExitAffirming},
		{"tdx-v4", c("tdx/dcap-qvl/tdx-quote-v4.dat"), ExitAffirming},
		// PCK Processor CA; TCB ConfigurationAndSWHardeningNeeded.
		{"sgx-v3", c("tdx/dcap-qvl/sgx-quote-v3.dat"), ExitWarning},
	}
}

// newVendor is a loopback KDS and PCS serving the corpus, with the Intel
// documents of the dcap-qvl samples as PCS served them on 2025-06-19 (the
// corpus also holds later issues, which LoadCorpus would prefer).
func newVendor(t *testing.T, corpus string) *fakevendor.Server {
	t.Helper()
	v := fakevendor.New(t, fakevendor.Options{})
	v.LoadCorpus(t, corpus)
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(corpus, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tdx, sgx := dcapQVL+"/pcs-format/tdx-quote/", dcapQVL+"/pcs-format/sgx-quote/"
	identity := "SGX-Enclave-Identity-Issuer-Chain"
	v.Put("/tdx/certification/v4/qe/identity", read(tdx+"qe_identity.json"), map[string]string{identity: pcsEscape(string(read(tdx + "tcb_info_issuer_chain.pem")))})
	v.Put("/sgx/certification/v4/qe/identity", read(sgx+"qe_identity.json"), map[string]string{identity: pcsEscape(string(read(sgx + "tcb_info_issuer_chain.pem")))})
	v.Put("/sgx/certification/v4/pckcrl?ca=platform&encoding=der", read(tdx+"pck_crl.der"), nil)
	return v
}

// prefetched is a cache filled by prefetch for the air-gap samples.
func prefetched(t *testing.T) (corpus, cache string, vendor *fakevendor.Server, samples []airGapSample) {
	t.Helper()
	corpus = testutil.CorpusDir(t)
	vendor = newVendor(t, corpus)
	samples = airGapSamples(corpus)
	cache = t.TempDir()
	args := []string{"collateral", "prefetch", "--cache-dir", cache, "--kds-url", vendor.URL, "--pcs-url", vendor.URL, "--at", airGapAt}
	for _, s := range samples {
		args = append(args, s.file)
	}
	code, stdout, stderr := run(t, args...)
	if code != 0 {
		t.Fatalf("prefetch: exit %d\n%s%s", code, stdout, stderr)
	}
	golden(t, "collateral-prefetch.txt", stdout)
	return corpus, cache, vendor, samples
}

// verifyFrom verifies a sample with collateral from cache alone, its
// vendor URL answering nothing (down).
func verifyFrom(t *testing.T, cache, deadURL string, s airGapSample) (int, string) {
	t.Helper()
	code, stdout, stderr := run(t, "verify", "-o", "json", "--at", airGapAt, "--cache-dir", cache,
		"--kds-url", deadURL, "--pcs-url", deadURL, s.file)
	var res struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%s: %v\n%s%s", s.name, err, stdout, stderr)
	}
	return code, res.Status
}

// TestCollateralAirGap is the definition of done of the air-gap
// workflow: prefetch on the connected side, export a signed bundle,
// import it into a second, empty data directory, and verify the same
// samples there with the vendors unreachable.
func TestCollateralAirGap(t *testing.T) {
	_, connected, vendor, samples := prefetched(t)
	fetches := vendor.Total()

	// Prefetching again fetches nothing.
	args := []string{"collateral", "prefetch", "--cache-dir", connected, "--kds-url", vendor.URL, "--pcs-url", vendor.URL, "--at", airGapAt}
	for _, s := range samples {
		args = append(args, s.file)
	}
	code, stdout, stderr := run(t, args...)
	if code != 0 {
		t.Fatalf("second prefetch: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if !strings.HasPrefix(l, stateFresh+"  ") {
			t.Errorf("second prefetch: %q, want %q", l, stateFresh)
		}
	}
	if n := vendor.Total(); n != fetches {
		t.Errorf("the second prefetch made %d requests", n-fetches)
	}

	// The connected side's cache holds everything the samples need.
	st := status(t, connected, samples)
	for _, e := range st.Evidence {
		if !e.Complete {
			t.Errorf("connected status: %s incomplete: %+v", e.File, e)
		}
	}

	dir := t.TempDir()
	key := filepath.Join(dir, "bundle-key")
	bundleFile := filepath.Join(dir, "collateral.tar")
	if code, stdout, stderr := run(t, "collateral", "keygen", "--out", key); code != 0 {
		t.Fatalf("keygen: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := run(t, "collateral", "export", "--cache-dir", connected, "--at", airGapAt, "--signing-key", key, "--out", bundleFile); code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, stdout, stderr)
	}

	// The air-gapped side: a second, empty data directory (assay serve's
	// DATA/collateral layout), and vendor URLs that serve nothing (404,
	// which the clients do not retry) and count what reaches them.
	airgapped := filepath.Join(t.TempDir(), "data", "collateral")
	dead := fakevendor.New(t, fakevendor.Options{})
	for _, s := range samples {
		if code, status := verifyFrom(t, airgapped, dead.URL, s); code == s.code {
			t.Errorf("%s verifies (%s) with an empty cache and the vendors down: the test proves nothing", s.name, status)
		}
	}
	if code, stdout, stderr := run(t, "collateral", "import", "--cache-dir", airgapped, "--at", airGapAt, "--trust-key", key+".pub", bundleFile); code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, stdout, stderr)
	}
	before := dead.Total()
	for _, s := range samples {
		code, status := verifyFrom(t, airgapped, dead.URL, s)
		if code != s.code {
			t.Errorf("%s on the air-gapped side: exit %d (%s), want %d", s.name, code, status, s.code)
		}
		// The same verdict as on the connected side.
		if c2, s2 := verifyFrom(t, connected, dead.URL, s); c2 != code || s2 != status {
			t.Errorf("%s: connected side %d %s, air-gapped side %d %s", s.name, c2, s2, code, status)
		}
	}
	if n := dead.Total() - before; n != 0 {
		t.Errorf("verification from the caches made %d requests", n)
	}
	// --offline reads the cache and never the network: the same verdicts.
	for _, s := range samples {
		code, stdout, stderr := run(t, "verify", "-o", "json", "--offline", "--at", airGapAt, "--cache-dir", airgapped, s.file)
		if code != s.code {
			t.Errorf("%s --offline from the imported cache: exit %d, want %d\n%s%s", s.name, code, s.code, stdout, stderr)
		}
	}

	// Both sides hold the same documents.
	a, b := status(t, connected, samples), status(t, airgapped, samples)
	if !slices.Equal(paths(a), paths(b)) {
		t.Errorf("connected cache %v, air-gapped %v", paths(a), paths(b))
	}
	for _, e := range b.Evidence {
		if !e.Complete {
			t.Errorf("air-gapped status: %s incomplete: %+v", e.File, e)
		}
	}
	// Each side recorded where its documents came from: the vendor's URL
	// (form checked only), or the bundle (checked up to the roots). The
	// vendor here is not the default one status names in "url".
	for _, it := range a.Items {
		want := vendor.URL + strings.TrimPrefix(strings.TrimPrefix(it.URL, "https://kdsintf.amd.com"), "https://api.trustedservices.intel.com")
		if it.Kind == "root_crl" {
			want = vendor.URL + "/IntelSGXRootCA.der"
		}
		if it.FetchedFrom != want || it.Signature != "unchecked" {
			t.Errorf("connected %s: fetched from %q (signature %q), want %q (unchecked)", it.Path, it.FetchedFrom, it.Signature, want)
		}
	}
	for _, it := range b.Items {
		if !strings.HasPrefix(it.FetchedFrom, "bundle:") || it.Signature != "verified" {
			t.Errorf("air-gapped %s: fetched from %q (signature %q), want a bundle (verified)", it.Path, it.FetchedFrom, it.Signature)
		}
	}
}

type statusOut struct {
	Items []struct {
		Source, Kind, Key, Path, URL string
		Expired                      bool
		Error                        string
		ValidUntil                   string `json:"valid_until"`
		FetchedFrom                  string `json:"fetched_from"`
		Signature                    string
	}
	Evidence []struct {
		File     string
		Complete bool
		Missing  []struct{ Kind, Key, Reason string }
		Error    string
	}
}

func status(t *testing.T, cache string, samples []airGapSample, extra ...string) statusOut {
	t.Helper()
	args := append([]string{"collateral", "status", "-o", "json", "--cache-dir", cache, "--at", airGapAt}, extra...)
	for _, s := range samples {
		args = append(args, s.file)
	}
	_, stdout, stderr := run(t, args...)
	var out statusOut
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("status: %v\n%s%s", err, stdout, stderr)
	}
	return out
}

func paths(s statusOut) []string {
	var out []string
	for _, it := range s.Items {
		out = append(out, it.Path)
	}
	return out
}

// TestCollateralStatus: what the cache holds, with validity and URL,
// and what evidence lacks.
func TestCollateralStatus(t *testing.T) {
	_, cache, vendor, samples := prefetched(t)
	st := status(t, cache, samples, "--kds-url", vendor.URL, "--pcs-url", vendor.URL)
	if len(st.Items) != 13 {
		t.Errorf("%d items, want 13", len(st.Items))
	}
	for _, it := range st.Items {
		if it.Error != "" || it.Expired || it.ValidUntil == "" || !strings.HasPrefix(it.URL, vendor.URL+"/") || it.Kind == "" || it.Key == "" {
			t.Errorf("item %+v", it)
		}
	}
	// A year later the CRLs and Intel documents have expired; the VCEKs
	// and chains have not.
	code, stdout, _ := run(t, "collateral", "status", "-o", "json", "--cache-dir", cache, "--at", "2026-06-19T00:00:00Z", samples[0].file)
	if code != ExitRejected {
		t.Errorf("status of evidence whose CRL expired: exit %d, want %d", code, ExitRejected)
	}
	var late statusOut
	if err := json.Unmarshal([]byte(stdout), &late); err != nil {
		t.Fatal(err)
	}
	expired := 0
	for _, it := range late.Items {
		if it.Expired {
			expired++
			if it.Kind == "vcek" || it.Kind == "cert_chain" {
				t.Errorf("%s %s expired", it.Kind, it.Key)
			}
		}
	}
	if expired != 9 {
		t.Errorf("%d items expired a year later, want 9: all but the 2 VCEKs and 2 chains", expired)
	}
	if e := late.Evidence[0]; e.Complete || len(e.Missing) != 1 || e.Missing[0].Kind != "crl" || !strings.Contains(e.Missing[0].Reason, "expired") {
		t.Errorf("a year later %s: %+v, want the Milan CRL missing as expired", e.File, e)
	}
	// The text form says the same for people.
	code, text, _ := run(t, "collateral", "status", "--cache-dir", cache, "--at", airGapAt, samples[2].file)
	if code != 0 || !strings.Contains(text, "the cache holds everything it needs") || !strings.Contains(text, "tcb_info") {
		t.Errorf("text status: exit %d\n%s", code, text)
	}
	// An empty cache lacks everything.
	code, stdout, _ = run(t, "collateral", "status", "-o", "json", "--cache-dir", t.TempDir(), "--at", airGapAt, samples[3].file)
	var empty statusOut
	if err := json.Unmarshal([]byte(stdout), &empty); err != nil {
		t.Fatal(err)
	}
	if code != ExitRejected || len(empty.Items) != 0 || len(empty.Evidence) != 1 || len(empty.Evidence[0].Missing) != 4 {
		t.Errorf("empty cache: exit %d, %+v", code, empty)
	}
}

// bundleRegions maps an exported bundle: each member's header and data,
// and the end-of-archive blocks.
func bundleRegions(t *testing.T, raw []byte) map[string][2]int {
	t.Helper()
	out := map[string][2]int{}
	tr := tar.NewReader(bytes.NewReader(raw))
	off := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out[hdr.Name+" header"] = [2]int{off, off + 512}
		off += 512
		out[hdr.Name+" data"] = [2]int{off, off + int(hdr.Size)}
		off += (int(hdr.Size) + 511) &^ 511
	}
	out["end of archive"] = [2]int{off, len(raw)}
	return out
}

// TestCollateralImportRefuses: a bundle with one byte flipped anywhere
// (the manifest, a document, the signature, a header, the end blocks)
// is refused and writes nothing; so is one signed by another key, or
// whose documents have expired at import time.
func TestCollateralImportRefuses(t *testing.T) {
	_, cache, _, _ := prefetched(t)
	dir := t.TempDir()
	key, other := filepath.Join(dir, "key"), filepath.Join(dir, "other")
	for _, k := range []string{key, other} {
		if code, stdout, stderr := run(t, "collateral", "keygen", "--out", k); code != 0 {
			t.Fatalf("keygen: %s%s", stdout, stderr)
		}
	}
	good := filepath.Join(dir, "good.tar")
	if code, stdout, stderr := run(t, "collateral", "export", "--cache-dir", cache, "--at", airGapAt, "--signing-key", key, "--out", good); code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, stdout, stderr)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	regions := bundleRegions(t, raw)
	type variant struct {
		name  string
		flip  string // region whose middle byte is flipped; "" for none
		trust string
		at    string
	}
	tests := []variant{
		{"control", "", key + ".pub", airGapAt},
		{"manifest", "manifest.json data", key + ".pub", airGapAt},
		{"manifest-header", "manifest.json header", key + ".pub", airGapAt},
		{"first-document", "items/1 data", key + ".pub", airGapAt},
		{"last-document", fmt.Sprintf("items/%d data", 13), key + ".pub", airGapAt},
		{"document-header", "items/5 header", key + ".pub", airGapAt},
		{"signature", "manifest.sig data", key + ".pub", airGapAt},
		{"end-of-archive", "end of archive", key + ".pub", airGapAt},
		{"other-key", "", other + ".pub", airGapAt},
		{"expired-at-import", "", key + ".pub", "2027-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(raw)
			if tt.flip != "" {
				r, ok := regions[tt.flip]
				if !ok {
					t.Fatalf("no region %q", tt.flip)
				}
				b[(r[0]+r[1])/2] ^= 0x01
			}
			f := filepath.Join(t.TempDir(), "bundle.tar")
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
			target := t.TempDir()
			code, stdout, stderr := run(t, "collateral", "import", "--cache-dir", target, "--at", tt.at, "--trust-key", tt.trust, f)
			written := 0
			filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
				// Documents, not their hidden source records.
				if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
					written++
				}
				return nil
			})
			if tt.name == "control" {
				if code != 0 || written != 13 {
					t.Fatalf("control: exit %d, %d files\n%s%s", code, written, stdout, stderr)
				}
				return
			}
			if code != ExitRejected || written != 0 || !strings.Contains(stderr, "refused, nothing imported") {
				t.Errorf("exit %d, %d files written, want %d and none\n%s%s", code, written, ExitRejected, stdout, stderr)
			}
		})
	}
}

// TestCollateralPrefetchFailures: a fleet list naming what the vendor
// does not serve fails those items, prints the others, and exits 1; a
// forged document in the cache is replaced, not trusted.
func TestCollateralPrefetchFailures(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	vendor := newVendor(t, corpus)
	cache := t.TempDir()
	// A Genoa CRL where the Milan CRL belongs: the clients' own check
	// (a DER CRL not past its nextUpdate) would pass it.
	milanCRL := filepath.Join(cache, "amd-kds", "vcek", "v1", "Milan", "crl")
	if err := os.MkdirAll(filepath.Dir(milanCRL), 0o755); err != nil {
		t.Fatal(err)
	}
	genoaCRL, err := os.ReadFile(filepath.Join(corpus, "roots", "amd", "genoa_vcek_crl.der"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(milanCRL, genoaCRL, 0o644); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(t.TempDir(), "fleet.txt")
	lines := []string{
		"# Milan: the chip of snp/trustee/milan-vcek-report.bin",
		"snp Milan c38427a30d4c7af9d96f7a15b97269825a64cb76a2352ffd5d18115d89ad473f8e8c0bcd9a5d9286612bad4aadfb4426205a3b9e4fea82301135a170e477524e 0x7308000000000003",
		"snp Turin 3b42092f69c656d3 0x4700000002000100", // KDS has no Turin CRL here
		"tdx B0C06F000000 platform",
	}
	if err := os.WriteFile(list, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "collateral", "prefetch", "--cache-dir", cache, "--kds-url", vendor.URL, "--pcs-url", vendor.URL, "--at", airGapAt, "--list", list)
	if code != ExitRejected {
		t.Errorf("exit %d, want %d\n%s%s", code, ExitRejected, stdout, stderr)
	}
	want := map[string]string{
		"amd-kds vcek Milan":            stateFetched,
		"amd-kds crl Milan vcek":        stateFetched, // the forged copy was replaced
		"amd-kds vcek Turin":            stateFetched,
		"amd-kds cert_chain Turin vcek": stateFetched,
		"amd-kds crl Turin vcek":        stateFailed,
		"intel-pcs tcb_info tdx fmspc=": stateFetched,
	}
	got := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(got) != 10 {
		t.Errorf("%d lines, want 10 (3 Milan, 3 Turin, 4 TDX):\n%s", len(got), stdout)
	}
	for prefix, state := range want {
		i := slices.IndexFunc(got, func(l string) bool { return strings.Contains(l, "  "+prefix) })
		if i < 0 || !strings.HasPrefix(got[i], state+" ") {
			t.Errorf("no %q line for %q in\n%s", state, prefix, stdout)
		}
	}
	b, err := os.ReadFile(milanCRL)
	if err != nil || bytes.Equal(b, genoaCRL) {
		t.Errorf("the forged Milan CRL is still in the cache (%v)", err)
	}

	// Evidence nothing can be told of fails its line; evidence of kinds
	// that need no vendor collateral is passed over.
	bad := filepath.Join(t.TempDir(), "masked.bin")
	report, err := os.ReadFile(filepath.Join(corpus, "snp", "trustee", "milan-vcek-report.bin"))
	if err != nil {
		t.Fatal(err)
	}
	masked := bytes.Clone(report)
	clear(masked[0x1A0:0x1E0]) // CHIP_ID; the signature no longer matters here
	if err := os.WriteFile(bad, masked, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = run(t, "collateral", "prefetch", "--cache-dir", cache, "--kds-url", vendor.URL, "--pcs-url", vendor.URL, "--at", airGapAt, bad)
	if code != ExitRejected || !strings.HasPrefix(stdout, stateFailed+" ") || !strings.Contains(stdout, "CHIP_ID is masked") {
		t.Errorf("masked CHIP_ID: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestCollateralUsage(t *testing.T) {
	for _, args := range [][]string{
		{"collateral"},
		{"collateral", "nope"},
		{"collateral", "prefetch"},
		{"collateral", "prefetch", "--at", "yesterday", "x"},
		{"collateral", "export", "--out", "x"},
		{"collateral", "import", "--cache-dir", "x", "bundle"},
		{"collateral", "keygen"},
		{"collateral", "status", "-o", "yaml"},
	} {
		if code, _, _ := run(t, args...); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, ExitUsage)
		}
	}
	// keygen never overwrites a key.
	key := filepath.Join(t.TempDir(), "k")
	if code, _, stderr := run(t, "collateral", "keygen", "--out", key); code != 0 {
		t.Fatal(stderr)
	}
	st, err := os.Stat(key)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	if code, _, _ := run(t, "collateral", "keygen", "--out", key); code == 0 {
		t.Error("keygen overwrote an existing key")
	}
}

// TestResultNamesCollateral: a result lists the documents the appraisal
// took from the vendor or the cache, where from, and their age.
func TestResultNamesCollateral(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	vendor := newVendor(t, corpus)
	cache := t.TempDir()
	sample := airGapSamples(corpus)[0]
	collateralOf := func(args ...string) []attest.CollateralUse {
		t.Helper()
		code, stdout, stderr := run(t, append([]string{"verify", "-o", "json", "--at", airGapAt, "--cache-dir", cache}, args...)...)
		if code != sample.code {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		var res struct {
			Collateral []attest.CollateralUse `json:"collateral"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatal(err)
		}
		return res.Collateral
	}
	fetched := collateralOf("--kds-url", vendor.URL, sample.file)
	whats := map[string]string{}
	for _, c := range fetched {
		whats[c.What] = c.From
		if c.URL == "" || c.FetchedAt.IsZero() || c.AgeSeconds < 0 || c.FetchedFrom != c.URL {
			t.Errorf("incomplete collateral entry %+v", c)
		}
	}
	if whats["vcek"] != "fetched" || whats["crl"] == "" {
		t.Fatalf("first run: collateral %+v, want the VCEK fetched and the CRL", fetched)
	}
	// Offline, under the default URLs: the cache's record still names the
	// vendor the documents came from.
	for _, c := range collateralOf("--offline", sample.file) {
		if c.From != "cache" || !strings.HasPrefix(c.FetchedFrom, vendor.URL+"/") || strings.HasPrefix(c.URL, vendor.URL) {
			t.Errorf("offline run: %s from %s (%s, served at %s), want the cache's copy of %s/...", c.What, c.From, c.FetchedFrom, c.URL, vendor.URL)
		}
	}
}

// TestPCCSBaseURL: an enterprise PCCS serves Intel's PCS v4 paths below
// its own base URL (here a path prefix behind a proxy, with the v3 name of
// the TCB info issuer-chain header that PCCS still sends, and the root CA
// CRL as hex text on its rootcacrl path instead of IntelSGXRootCA.der);
// --pcs-url pointed at it verifies TDX and SGX quotes as Intel PCS does,
// every document requested under the prefix.
func TestPCCSBaseURL(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	vendor := newVendor(t, corpus)
	target, err := url.Parse(vendor.URL)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		if v := r.Header.Get("TCB-Info-Issuer-Chain"); v != "" {
			r.Header.Del("TCB-Info-Issuer-Chain")
			r.Header.Set("SGX-TCB-Info-Issuer-Chain", v)
		}
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("/pccs/", http.StripPrefix("/pccs", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		switch r.URL.Path {
		case fakevendor.RootCRLPath:
			// Not a PCCS path.
			http.NotFound(w, r)
			return
		case pcs.PCCSRootCRLPath:
			// PCCS serves the root CRL as hex text.
			resp, err := http.Get(vendor.RootCRLURL())
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			der, _ := io.ReadAll(resp.Body)
			io.WriteString(w, hex.EncodeToString(der))
			return
		}
		proxy.ServeHTTP(w, r)
	})))
	pccs := httptest.NewServer(mux)
	t.Cleanup(pccs.Close)

	for _, s := range airGapSamples(corpus)[2:] { // the TDX and SGX quotes
		cache := t.TempDir()
		code, stdout, stderr := run(t, "verify", "-o", "json", "--at", airGapAt, "--cache-dir", cache, "--pcs-url", pccs.URL+"/pccs/", s.file)
		if code != s.code {
			t.Errorf("%s through the PCCS: exit %d, want %d\n%s%s", s.name, code, s.code, stdout, stderr)
			continue
		}
		var res struct {
			Collateral []attest.CollateralUse `json:"collateral"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Collateral) != 4 {
			t.Errorf("%s: %d documents from the PCCS, want 4 (TCB info, QE identity, PCK CRL, root CRL): %+v", s.name, len(res.Collateral), res.Collateral)
		}
		for _, c := range res.Collateral {
			if !strings.HasPrefix(c.URL, pccs.URL+"/pccs/") || c.From != "fetched" {
				t.Errorf("%s: %s from %s (%s), want fetched under the PCCS base", s.name, c.What, c.URL, c.From)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range seen {
		if !strings.HasPrefix(p, "/sgx/certification/v4/") && !strings.HasPrefix(p, "/tdx/certification/v4/") && p != fakevendor.RootCRLPath {
			t.Errorf("the PCCS was asked for %s", p)
		}
	}
	if len(seen) == 0 {
		t.Error("nothing was asked of the PCCS")
	}
}
