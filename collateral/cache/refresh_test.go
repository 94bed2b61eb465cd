package cache_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/assay-dev/assay/collateral/cache"
	"github.com/assay-dev/assay/collateral/fetch"
	"github.com/assay-dev/assay/collateral/kds"
	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/internal/testutil/fakevendor"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// refreshFixture is a cache filled from a fake vendor on 2025-07-01: the
// Intel PCK Platform CA CRL and TDX TD_QE identity of 2025-06-19
// (nextUpdate 2025-07-19), the Intel SGX Root CA CRL (nextUpdate
// 2026-04-03) and AMD's Milan VCEK CRL (nextUpdate 2026-05-12) and chain
// (notAfter 2045).
func refreshFixture(t *testing.T) (root string, vendor *fakevendor.Server, k *kds.Client, p *pcs.Client) {
	t.Helper()
	vendor = fakevendor.New(t, fakevendor.Options{})
	vendor.LoadCorpus(t, testutil.CorpusDir(t))
	dcap := "tdx/dcap-qvl/pcs-format/tdx-quote/"
	vendor.Put("/sgx/certification/v4/pckcrl?ca=platform&encoding=der", corpus(t, dcap+"pck_crl.der"), nil)
	vendor.Put("/tdx/certification/v4/qe/identity", corpus(t, dcap+"qe_identity.json"),
		map[string]string{"SGX-Enclave-Identity-Issuer-Chain": fakevendor.EscapeChain(corpus(t, dcap+"tcb_info_issuer_chain.pem"))})
	root = t.TempDir()
	at := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	noSleep := &fetch.Fetcher{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
	k = &kds.Client{BaseURL: vendor.URL, CacheDir: filepath.Join(root, cache.SourceKDS), Now: func() time.Time { return at }, Fetcher: noSleep}
	p = &pcs.Client{BaseURL: vendor.URL, RootCRLURL: vendor.RootCRLURL(), CacheDir: filepath.Join(root, cache.SourcePCS), Now: func() time.Time { return at }, Fetcher: noSleep}
	ctx := t.Context()
	if _, err := p.PCKCRL(ctx, "platform"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.QEIdentity(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := p.RootCRL(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := k.CRL(ctx, sevsnp.Milan, sevsnp.KeyVCEK); err != nil {
		t.Fatal(err)
	}
	if _, err := k.CertChain(ctx, sevsnp.Milan, sevsnp.KeyVCEK); err != nil {
		t.Fatal(err)
	}
	return root, vendor, k, p
}

// TestRefresherRenewsDueDocuments: two days before the Intel documents'
// nextUpdate, with a 72h window, the refresher fetches exactly those two
// again (not the root CRL nor the AMD documents, current for months) and
// reports each; with the vendor down it reports them failed and the
// cached copies stay as they were.
func TestRefresherRenewsDueDocuments(t *testing.T) {
	root, vendor, k, p := refreshFixture(t)
	paths := map[string]int{}
	for _, path := range []string{"/sgx/certification/v4/pckcrl?ca=platform&encoding=der", "/tdx/certification/v4/qe/identity", fakevendor.RootCRLPath, "/vcek/v1/Milan/crl", "/vcek/v1/Milan/cert_chain"} {
		paths[path] = vendor.Count(path)
	}
	now := time.Date(2025, 7, 17, 12, 0, 0, 0, time.UTC)
	k.Now, p.Now = func() time.Time { return now }, func() time.Time { return now }
	var mu sync.Mutex
	var seen []string
	r := &cache.Refresher{Root: root, KDS: k, PCS: p, Window: 72 * time.Hour, Interval: time.Hour, Now: func() time.Time { return now },
		Refreshed: func(it cache.Item, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("%s: %v", it, err)
			}
			seen = append(seen, it.Kind())
		}}
	due, failed := r.Once(t.Context())
	if due != 2 || failed != 0 || len(seen) != 2 {
		t.Fatalf("due %d, failed %d, reported %v; want the PCK CRL and the TD_QE identity", due, failed, seen)
	}
	for path, before := range paths {
		want := 0
		if path == "/sgx/certification/v4/pckcrl?ca=platform&encoding=der" || path == "/tdx/certification/v4/qe/identity" {
			want = 1
		}
		if n := vendor.Count(path) - before; n != want {
			t.Errorf("%s: %d requests, want %d", path, n, want)
		}
	}

	// Vendor down: both fail, nothing in the cache changes.
	snapshot := map[string][]byte{}
	for _, f := range testutil.CacheDocuments(t, root) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		snapshot[f] = b
	}
	vendor.Down(true)
	var errs []error
	r.Refreshed = func(_ cache.Item, err error) { errs = append(errs, err) }
	due, failed = r.Once(t.Context())
	if due != 2 || failed != 2 || len(errs) != 2 || !errors.Is(errs[0], pcs.ErrFetch) {
		t.Fatalf("vendor down: due %d, failed %d, errors %v", due, failed, errs)
	}
	after := testutil.CacheDocuments(t, root)
	if len(after) != len(snapshot) {
		t.Fatalf("the cache holds %d documents after failed refreshes, want %d", len(after), len(snapshot))
	}
	for _, f := range after {
		if b, err := os.ReadFile(f); err != nil || !bytes.Equal(b, snapshot[f]) {
			t.Errorf("%s changed by a failed refresh (err %v)", f, err)
		}
	}
}

// TestRefresherRun: Run makes a pass at once and stops when its context
// ends; a non-positive interval is refused.
func TestRefresherRun(t *testing.T) {
	root, vendor, k, p := refreshFixture(t)
	before := vendor.Count("/tdx/certification/v4/qe/identity")
	now := time.Date(2025, 7, 18, 0, 0, 0, 0, time.UTC)
	k.Now, p.Now = func() time.Time { return now }, func() time.Time { return now }
	ctx, cancel := context.WithCancel(t.Context())
	passes := make(chan struct{}, 8)
	r := &cache.Refresher{Root: root, KDS: k, PCS: p, Window: 72 * time.Hour, Interval: time.Hour, Now: func() time.Time { return now },
		Refreshed: func(it cache.Item, err error) {
			if it.Kind() == "qe_identity" {
				passes <- struct{}{}
			}
		}}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	<-passes
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run ended with %v, want context.Canceled", err)
	}
	if n := vendor.Count("/tdx/certification/v4/qe/identity") - before; n != 1 {
		t.Errorf("%d requests for the due document in the first pass, want 1", n)
	}
	if err := (&cache.Refresher{Root: root}).Run(t.Context()); err == nil {
		t.Error("Run with no interval: no error")
	}
}
