package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil/fakevendor"
)

// staleAt is three days after the Intel documents of the air-gap samples
// passed their nextUpdate (2025-07-19); the AMD CRLs are still current.
const staleAt = "2025-07-22T11:00:00Z"

// TestCollateralMaxStaleness: with the vendor down and the cache's Intel
// documents three days past their nextUpdate, a TDX quote is refused by
// default (as before), verifies within --collateral-max-staleness with a
// passing collateral.freshness check that says how stale, and beyond it
// warns or is rejected as --collateral-stale says, the check naming the
// documents and their age. The clock is the run's --at.
func TestCollateralMaxStaleness(t *testing.T) {
	_, cache, _, samples := prefetched(t)
	tdxSample := samples[2]
	dead := fakevendor.New(t, fakevendor.Options{})
	verifyStale := func(extra ...string) (int, attest.Result, string) {
		t.Helper()
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(cache)); err != nil {
			t.Fatal(err)
		}
		args := append([]string{"verify", "-o", "json", "--at", staleAt, "--cache-dir", dir, "--kds-url", dead.URL, "--pcs-url", dead.URL}, extra...)
		code, stdout, stderr := run(t, append(args, tdxSample.file)...)
		var res attest.Result
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("%v: %v\n%s%s", extra, err, stdout, stderr)
		}
		return code, res, stdout
	}
	freshness := func(r attest.Result) (attest.Check, bool) {
		for _, c := range r.Checks {
			if c.Name == attest.FreshnessCheck {
				return c, true
			}
		}
		return attest.Check{}, false
	}

	// Default: stale documents are not used; the quote is refused and no
	// freshness check is added.
	code, res, out := verifyStale()
	if code != ExitRejected || res.Status != attest.StatusContraindicated {
		t.Fatalf("default: exit %d, %s, want rejected\n%s", code, res.Status, out)
	}
	if _, ok := freshness(res); ok {
		t.Error("default: a collateral.freshness check was added")
	}

	// Within the limit: used, the check passes and says how stale.
	code, res, out = verifyStale("--collateral-max-staleness", "96h")
	c, ok := freshness(res)
	if code != tdxSample.code || !ok || !c.OK || !strings.Contains(c.Detail, "TCB info") || !strings.Contains(c.Detail, "past its nextUpdate") {
		t.Fatalf("within 96h: exit %d (want %d), freshness %+v\n%s", code, tdxSample.code, c, out)
	}
	for _, u := range res.Collateral {
		if u.From != "cache" {
			t.Errorf("within 96h: %s from %s, want the stale cached copy", u.What, u.From)
		}
	}

	// Beyond the limit, degrade: a warning naming the documents.
	code, res, out = verifyStale("--collateral-max-staleness", "24h", "--collateral-stale", "warn")
	c, _ = freshness(res)
	t.Logf("warn: %s", c.Detail)
	if code != ExitWarning || res.Status != attest.StatusWarning || c.OK || c.Severity != attest.StatusWarning ||
		!strings.Contains(c.Detail, "staler than the allowed staleness 24h0m0s") || !strings.Contains(c.Detail, "TCB info") || !strings.Contains(c.Detail, "72h") {
		t.Fatalf("beyond 24h, warn: exit %d, %s, freshness %+v\n%s", code, res.Status, c, out)
	}

	// Beyond the limit, fail closed (the default once a limit is set).
	code, res, out = verifyStale("--collateral-max-staleness", "24h")
	c, _ = freshness(res)
	if code != ExitRejected || res.Status != attest.StatusContraindicated || c.OK || c.Severity != attest.StatusContraindicated {
		t.Fatalf("beyond 24h, reject: exit %d, %s, freshness %+v\n%s", code, res.Status, c, out)
	}
	if n := len(res.Failed()); n != 1 {
		t.Errorf("beyond 24h, reject: %d failed checks, want only collateral.freshness: %+v", n, res.Failed())
	}

	// A bad value is a usage error.
	if code, _, _ := run(t, "verify", "--collateral-stale", "maybe", tdxSample.file); code != ExitUsage {
		t.Errorf("--collateral-stale maybe: exit %d, want %d", code, ExitUsage)
	}
}
