package kds_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/assay-dev/assay/collateral/kds"
	"github.com/assay-dev/assay/internal/diskcache"
	"github.com/assay-dev/assay/internal/testutil/fakevendor"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// TestStaleWhileRevalidate: a cached CRL past its nextUpdate is served at
// once to every caller while one background refresh is held at KDS; once
// KDS answers, the cache holds the current CRL.
func TestStaleWhileRevalidate(t *testing.T) {
	milanCRL := readCorpus(t, "roots/amd/milan_vcek_crl.der") // 2025-05-06 .. 2026-05-12
	olderCRL := readCorpus(t, "roots/amd/genoa_vcek_crl.der") // 2024-10-23 .. 2025-11-03, standing in for last year's
	const path = "/vcek/v1/Milan/crl"
	vendor := fakevendor.New(t, fakevendor.Options{})
	vendor.Put(path, olderCRL, nil)
	dir := t.TempDir()
	seed := &kds.Client{BaseURL: vendor.URL, CacheDir: dir, Now: fixedNow(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)), Fetcher: noWait(0)}
	if _, err := seed.CRL(t.Context(), sevsnp.Milan, sevsnp.KeyVCEK); err != nil {
		t.Fatal(err)
	}
	vendor.Put(path, milanCRL, nil)
	before := vendor.Count(path)
	release := vendor.Hold()

	bg, stop := context.WithCancel(context.Background())
	defer stop()
	refreshed := make(chan error, 10)
	c := &kds.Client{BaseURL: vendor.URL, CacheDir: dir, Now: fixedNow(time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)), Fetcher: noWait(0),
		Stale: diskcache.StalePolicy{Keep: true, Background: bg, Refreshed: func(_ string, err error) { refreshed <- err }}}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			crl, err := c.CRL(t.Context(), sevsnp.Milan, sevsnp.KeyVCEK)
			if err != nil || crl == nil || !bytes.Equal(crl.Raw, olderCRL) {
				t.Errorf("caller %d: err %v, stale CRL served: %v", i, err, crl != nil && bytes.Equal(crl.Raw, olderCRL))
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-refreshed:
		t.Fatalf("the refresh finished (%v) before KDS was let answer", err)
	default:
	}
	release()
	if err := <-refreshed; err != nil {
		t.Fatalf("background refresh: %v", err)
	}
	if n := vendor.Count(path) - before; n != 1 {
		t.Errorf("%d requests reached KDS, want 1", n)
	}
	crl, err := c.CRL(t.Context(), sevsnp.Milan, sevsnp.KeyVCEK)
	if err != nil || !bytes.Equal(crl.Raw, milanCRL) {
		t.Fatalf("after the refresh: err %v, current CRL: %v", err, err == nil && bytes.Equal(crl.Raw, milanCRL))
	}
}
