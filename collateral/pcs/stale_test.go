package pcs_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/internal/diskcache"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/internal/testutil/fakevendor"
)

const pckCRLPath = "/sgx/certification/v4/pckcrl?ca=platform&encoding=der"

// staleCache is a cache holding the PCK Platform CA CRL of 2025-06-19
// (nextUpdate 2025-07-19), fetched from vendor.
func staleCache(t *testing.T, vendor *fakevendor.Server) (dir string, older []byte) {
	t.Helper()
	older = readCorpus(t, tdxDir+"/pck_crl.der")
	vendor.Put(pckCRLPath, older, nil)
	dir = t.TempDir()
	seed := &pcs.Client{BaseURL: vendor.URL, CacheDir: dir, Now: fixedNow(validAt), Fetcher: noWait(0)}
	if _, err := seed.PCKCRL(t.Context(), "platform"); err != nil {
		t.Fatal(err)
	}
	return dir, older
}

// TestStaleWhileRevalidate: past its nextUpdate, a cached CRL is served
// at once to every caller while one background refresh, held at the
// vendor, is under way; once the vendor answers, the cache holds the new
// issue and callers get it with no further request.
func TestStaleWhileRevalidate(t *testing.T) {
	vendor := fakevendor.New(t, fakevendor.Options{})
	dir, older := staleCache(t, vendor)
	newer := readCorpus(t, nearDi+"/pck_crl.der") // 2025-09-02 .. 2025-10-02
	vendor.Put(pckCRLPath, newer, nil)
	before := vendor.Count(pckCRLPath)
	open := vendor.Hold()

	bg, stop := context.WithCancel(context.Background())
	defer stop()
	refreshed := make(chan error, 10)
	c := &pcs.Client{BaseURL: vendor.URL, CacheDir: dir, Now: fixedNow(time.Date(2025, 9, 10, 0, 0, 0, 0, time.UTC)), Fetcher: noWait(0),
		Stale: diskcache.StalePolicy{Keep: true, Background: bg, Refreshed: func(_ string, err error) { refreshed <- err }}}

	const callers = 20
	var wg sync.WaitGroup
	got := make([][]byte, callers)
	froms := make([][]attest.CollateralUse, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := attest.WithCollateralRecorder(t.Context())
			got[i], errs[i] = c.PCKCRL(ctx, "platform")
			froms[i] = attest.RecordedCollateral(ctx)
		}()
	}
	wg.Wait()
	// Every caller is done and the vendor has not answered yet: none of
	// them waited on it.
	select {
	case err := <-refreshed:
		t.Fatalf("the refresh finished (%v) before the vendor was let answer", err)
	default:
	}
	for i := range callers {
		if errs[i] != nil || !bytes.Equal(got[i], older) {
			t.Fatalf("caller %d: err %v, stale copy served: %v", i, errs[i], bytes.Equal(got[i], older))
		}
		if len(froms[i]) != 1 || froms[i][0].From != "cache" {
			t.Errorf("caller %d recorded %+v, want the cached copy", i, froms[i])
		}
	}
	open()
	if err := <-refreshed; err != nil {
		t.Fatalf("background refresh: %v", err)
	}
	select {
	case err := <-refreshed:
		t.Fatalf("a second refresh ran (%v): %d callers should share one", err, callers)
	default:
	}
	if n := vendor.Count(pckCRLPath) - before; n != 1 {
		t.Errorf("%d requests reached the vendor, want 1", n)
	}
	b, err := c.PCKCRL(t.Context(), "platform")
	if err != nil || !bytes.Equal(b, newer) {
		t.Fatalf("after the refresh: err %v, newer issue served: %v", err, bytes.Equal(b, newer))
	}
	if n := vendor.Count(pckCRLPath) - before; n != 1 {
		t.Errorf("%d requests after the refresh, want still 1", n)
	}
}

// TestStaleVendorDown: a background refresh that fails keeps the cached
// copy (and its record), reports the error, and the next caller is
// served the stale copy again. Without a stale policy the same cache
// entry is discarded and the call fails, as before.
func TestStaleVendorDown(t *testing.T) {
	vendor := fakevendor.New(t, fakevendor.Options{})
	dir, older := staleCache(t, vendor)
	file := testutil.CacheDocuments(t, dir)[0]
	record, err := os.ReadFile(diskcache.MetaFile(file))
	if err != nil {
		t.Fatal(err)
	}
	vendor.Down(true)
	stale := fixedNow(time.Date(2025, 7, 25, 0, 0, 0, 0, time.UTC))

	// Synchronous (assay verify): fetch first, fall back to the stale copy.
	c := &pcs.Client{BaseURL: vendor.URL, CacheDir: dir, Now: stale, Fetcher: noWait(0), Stale: diskcache.StalePolicy{Keep: true}}
	if b, err := c.PCKCRL(t.Context(), "platform"); err != nil || !bytes.Equal(b, older) {
		t.Fatalf("vendor down, keep: err %v, stale copy: %v", err, bytes.Equal(b, older))
	}

	// Background (assay serve): served at once, the refresh fails.
	bg, stop := context.WithCancel(context.Background())
	defer stop()
	refreshed := make(chan error, 1)
	c = &pcs.Client{BaseURL: vendor.URL, CacheDir: dir, Now: stale, Fetcher: noWait(0),
		Stale: diskcache.StalePolicy{Keep: true, Background: bg, Refreshed: func(_ string, err error) { refreshed <- err }}}
	if b, err := c.PCKCRL(t.Context(), "platform"); err != nil || !bytes.Equal(b, older) {
		t.Fatalf("vendor down, background: err %v, stale copy: %v", err, bytes.Equal(b, older))
	}
	if err := <-refreshed; !errors.Is(err, pcs.ErrFetch) {
		t.Fatalf("refresh with the vendor down: %v, want ErrFetch", err)
	}
	if b, err := os.ReadFile(file); err != nil || !bytes.Equal(b, older) {
		t.Errorf("the cached copy did not survive the failed refresh (err %v)", err)
	}
	if r, err := os.ReadFile(diskcache.MetaFile(file)); err != nil || !bytes.Equal(r, record) {
		t.Errorf("the record did not survive the failed refresh (err %v)", err)
	}

	// No stale policy: discarded, and the call fails.
	c = &pcs.Client{BaseURL: vendor.URL, CacheDir: dir, Now: stale, Fetcher: noWait(0)}
	if _, err := c.PCKCRL(t.Context(), "platform"); !errors.Is(err, pcs.ErrFetch) {
		t.Fatalf("no stale policy: err %v, want ErrFetch", err)
	}
	if files := testutil.CacheDocuments(t, dir); len(files) != 0 {
		t.Errorf("no stale policy: the stale copy stayed: %v", files)
	}
}
