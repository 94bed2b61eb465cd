package cli_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/internal/testutil/fakevendor"
)

// TestServeCollateralRefresher: assay serve's refresher makes a pass at
// start over the cache it is given, fetching again what falls within the
// window, and counts the outcomes in /metrics. At the wall clock the
// corpus's AMD CRLs are past their nextUpdate, so the vendor's copies
// are refused (the cached copies stay), while the VCEK and the chain
// (notAfter years ahead, inside a window of a century) are fetched again
// and pass.
func TestServeCollateralRefresher(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	vendor := fakevendor.New(t, fakevendor.Options{})
	vendor.LoadCorpus(t, corpus)
	data := t.TempDir()
	dir := filepath.Join(data, "collateral")
	out, err := exec.Command(assayBinary(t), "collateral", "prefetch", "--cache-dir", dir, "--kds-url", vendor.URL, "--at", "2025-06-19T11:00:00Z",
		filepath.Join(corpus, "snp", "trustee", "milan-vcek-report.bin")).CombinedOutput()
	if err != nil {
		t.Fatalf("prefetch: %v\n%s", err, out)
	}
	before := map[string][]byte{}
	crls := 0
	for _, f := range testutil.CacheDocuments(t, dir) {
		b, _ := os.ReadFile(f)
		before[f] = b
		if filepath.Base(f) == "crl" {
			crls++
		}
	}
	if crls == 0 || len(before) == crls {
		t.Fatalf("prefetched %d documents, %d CRLs: the test needs both kinds", len(before), crls)
	}
	wantOK := fmt.Sprintf(`assay_collateral_refreshes_total{outcome="ok",trigger="ahead"} %d`, len(before)-crls)
	wantErr := fmt.Sprintf(`assay_collateral_refreshes_total{outcome="error",trigger="ahead"} %d`, crls)
	vcek := "/vcek/v1/Milan/c38427a30d4c7af9d96f7a15b97269825a64cb76a2352ffd5d18115d89ad473f8e8c0bcd9a5d9286612bad4aadfb4426205a3b9e4fea82301135a170e477524e?blSPL=3&snpSPL=8&teeSPL=0&ucodeSPL=115"
	fetched := vendor.Count(vcek)
	p := startServe(t, nil, "--data", data, "--kds-url", vendor.URL, "--pcs-url", vendor.URL,
		"--collateral-refresh-window", "876000h", "--collateral-refresh-interval", "1h")
	var metrics string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics = string(b)
		if strings.Contains(metrics, wantOK) && strings.Contains(metrics, wantErr) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(metrics, wantOK) || !strings.Contains(metrics, wantErr) {
		t.Fatalf("refresh outcomes not counted as expected:\n%s\n%s", grepLines(metrics, "assay_collateral_refreshes_total"), p.log.String())
	}
	if n := vendor.Count(vcek) - fetched; n != 1 {
		t.Errorf("the Milan VCEK was fetched %d times by the refresher, want 1", n)
	}
	if !strings.Contains(p.log.String(), "collateral refresh failed; the cached copy stays") {
		t.Errorf("no log line for a failed refresh:\n%s", p.log.String())
	}
	for f, b := range before {
		if now, err := os.ReadFile(f); err != nil || !bytes.Equal(now, b) {
			t.Errorf("%s changed (err %v)", f, err)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
