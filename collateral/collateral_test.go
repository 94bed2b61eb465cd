// Tests of the collateral clients against a misbehaving vendor: the
// definition of done of "verification that never waits on a vendor
// endpoint". A verification's worth of requests is what an appraisal asks
// its Getter for: for SEV-SNP the chip's VCEK, the VCEK chain and CRL;
// for TDX the TCB info of the platform's FMSPC, the TD_QE identity, the
// PCK Platform CA CRL and the Intel SGX Root CA CRL.
package collateral_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/assay-dev/assay/collateral/fetch"
	"github.com/assay-dev/assay/collateral/kds"
	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/internal/testutil/fakevendor"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// verifications is how many appraisals run at once.
const verifications = 50

// request is one document a verification asks for.
type request struct {
	path string // where the vendor serves it
	// get asks the client for it and returns the bytes it certifies
	// (DER for certificates and CRLs, the body for JSON documents).
	get func(ctx context.Context) ([]byte, error)
	// want is what get must return.
	want []byte
}

// tee is one kind of evidence and the collateral its verification needs.
type tee struct {
	name string
	// paths are the documents of one verification, as served, and kinds
	// their kinds (for test names).
	paths []string
	kinds []string
	// requests makes a client over base and cacheDir, and the requests
	// of one verification through it.
	requests func(t testing.TB, base string, cacheDir string, f *fetch.Fetcher, now time.Time, items map[string]fakevendor.Item) []request
}

// snpMilanPaths are the documents of snp-milan-vcek-trustee's
// verification: its chip's VCEK at its reported TCB, the chain, the CRL.
var snpMilanPaths = []string{
	"/vcek/v1/Milan/c38427a30d4c7af9d96f7a15b97269825a64cb76a2352ffd5d18115d89ad473f8e8c0bcd9a5d9286612bad4aadfb4426205a3b9e4fea82301135a170e477524e?blSPL=3&snpSPL=8&teeSPL=0&ucodeSPL=115",
	"/vcek/v1/Milan/cert_chain",
	"/vcek/v1/Milan/crl",
}

var snpMilan = tee{
	name:  "sev-snp-milan",
	paths: snpMilanPaths,
	kinds: []string{"vcek", "cert-chain", "crl"},
	requests: func(t testing.TB, base, dir string, f *fetch.Fetcher, now time.Time, items map[string]fakevendor.Item) []request {
		c := &kds.Client{BaseURL: base, CacheDir: dir, Fetcher: f, Now: func() time.Time { return now }}
		p := snpMilanPaths
		vek := items[p[0]].VEK
		return []request{
			{path: p[0], want: items[p[0]].Body, get: func(ctx context.Context) ([]byte, error) {
				cert, err := c.VCEK(ctx, vek.Product(), vek.HWID, vek.TCB)
				if err != nil {
					return nil, err
				}
				return cert.Raw, nil
			}},
			{path: p[1], want: pemDER(t, items[p[1]].Body), get: func(ctx context.Context) ([]byte, error) {
				certs, err := c.CertChain(ctx, sevsnp.Milan, sevsnp.KeyVCEK)
				var out []byte
				for _, c := range certs {
					out = append(out, c.Raw...)
				}
				return out, err
			}},
			{path: p[2], want: items[p[2]].Body, get: func(ctx context.Context) ([]byte, error) {
				crl, err := c.CRL(ctx, sevsnp.Milan, sevsnp.KeyVCEK)
				if err != nil {
					return nil, err
				}
				return crl.Raw, nil
			}},
		}
	},
}

// tdxPaths are the documents of tdx-v5-outdated-dcap-qvl's verification
// (FMSPC 90C06F000000), with the TD_QE identity and CRLs issued with its
// TCB info.
var tdxPaths = []string{
	"/tdx/certification/v4/tcb?fmspc=90C06F000000",
	"/tdx/certification/v4/qe/identity",
	"/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
	fakevendor.RootCRLPath,
}

var tdx90C06F = tee{
	name:  "tdx-90c06f000000",
	paths: tdxPaths,
	kinds: []string{"tcb-info", "qe-identity", "pck-crl", "root-crl"},
	requests: func(t testing.TB, base, dir string, f *fetch.Fetcher, now time.Time, items map[string]fakevendor.Item) []request {
		c := &pcs.Client{BaseURL: base, RootCRLURL: base + fakevendor.RootCRLPath, CacheDir: dir, Fetcher: f, Now: func() time.Time { return now }}
		var fmspc [6]byte
		if _, err := hex.Decode(fmspc[:], []byte("90C06F000000")); err != nil {
			t.Fatal(err)
		}
		body := func(b, _ []byte, err error) ([]byte, error) { return b, err }
		p := tdxPaths
		return []request{
			{path: p[0], want: items[p[0]].Body, get: func(ctx context.Context) ([]byte, error) { return body(c.TCBInfo(ctx, true, fmspc)) }},
			{path: p[1], want: items[p[1]].Body, get: func(ctx context.Context) ([]byte, error) { return body(c.QEIdentity(ctx, true)) }},
			{path: p[2], want: items[p[2]].Body, get: func(ctx context.Context) ([]byte, error) { return c.PCKCRL(ctx, "platform") }},
			{path: p[3], want: items[p[3]].Body, get: func(ctx context.Context) ([]byte, error) { return c.RootCRL(ctx) }},
		}
	},
}

var tees = []tee{snpMilan, tdx90C06F}

// vendor starts a fake vendor serving the corpus, and returns its items by
// path and a time at which every document of tt is current.
func vendor(t testing.TB, tt tee, o fakevendor.Options) (*fakevendor.Server, map[string]fakevendor.Item, time.Time) {
	t.Helper()
	s := fakevendor.New(t, o)
	items := map[string]fakevendor.Item{}
	for _, it := range s.LoadCorpus(t, testutil.CorpusDir(t)) {
		items[it.Path] = it
	}
	var from, until time.Time
	for _, p := range tt.paths {
		it, ok := items[p]
		if !ok {
			t.Fatalf("the corpus has no %s", p)
		}
		if it.ThisUpdate.After(from) {
			from = it.ThisUpdate
		}
		if !it.NextUpdate.IsZero() && (until.IsZero() || it.NextUpdate.Before(until)) {
			until = it.NextUpdate
		}
	}
	now := from.Add(time.Hour)
	if !until.IsZero() && !now.Before(until) {
		t.Fatalf("%s: no time at which every document is current (%s .. %s)", tt.name, from, until)
	}
	return s, items, now
}

// sleeps records the waits a Fetcher asks for and returns at once: no
// test waits on backoff or Retry-After.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

// fleet runs n verifications at once, each making every request, and
// returns the errors.
func fleet(ctx context.Context, n int, reqs []request) []error {
	var wg sync.WaitGroup
	errs := make(chan error, n*len(reqs))
	for range n {
		for _, r := range reqs {
			wg.Go(func() {
				got, err := r.get(ctx)
				switch {
				case err != nil:
					errs <- fmt.Errorf("%s: %w", r.path, err)
				case !bytes.Equal(got, r.want):
					errs <- fmt.Errorf("%s: the document returned is not the one served", r.path)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}

// With the vendor answering 429 twice (Retry-After: 1) before serving
// each document, 50 concurrent verifications all succeed, and each
// document is fetched successfully exactly once: three requests for it in
// all, the two rate-limited ones included.
func TestRateLimitedVendor(t *testing.T) {
	for _, tt := range tees {
		t.Run(tt.name, func(t *testing.T) {
			s, items, now := vendor(t, tt, fakevendor.Options{})
			for _, p := range tt.paths {
				s.Path(p).Fail429(2, "1")
			}
			var sl sleeps
			f := &fetch.Fetcher{Sleep: sl.sleep}
			reqs := tt.requests(t, s.URL, t.TempDir(), f, now, items)
			for _, err := range fleet(t.Context(), verifications, reqs) {
				t.Error(err)
			}
			for _, p := range tt.paths {
				if n := s.Served(p); n != 1 {
					t.Errorf("%s: %d successful upstream fetches for %d verifications, want 1", p, n, verifications)
				}
				if n := s.Count(p); n != 3 {
					t.Errorf("%s: %d upstream requests, want 3 (two 429s, then the document)", p, n)
				}
			}
			if n := s.Total(); n != 3*len(tt.paths) {
				t.Errorf("%d upstream requests in all, want %d", n, 3*len(tt.paths))
			}
			sl.mu.Lock()
			defer sl.mu.Unlock()
			if len(sl.d) != 2*len(tt.paths) {
				t.Errorf("%d waits, want %d (two per document)", len(sl.d), 2*len(tt.paths))
			}
			for _, d := range sl.d {
				if d != time.Second {
					t.Errorf("waited %s, want the 1s of Retry-After", d)
				}
			}
			served := 0
			for _, p := range tt.paths {
				served += s.Served(p)
			}
			t.Logf("%d verifications, %d requests to the client: %d upstream requests, %d successful, for %d documents",
				verifications, verifications*len(reqs), s.Total(), served, len(tt.paths))
		})
	}
}

// With the vendor down after a warm-up fetch, the same verifications are
// served from the disk cache, by the warm client and by a fresh one on
// the same directory (a restarted server), with no upstream request.
func TestVendorDown(t *testing.T) {
	for _, tt := range tees {
		for _, mode := range []struct {
			name string
			opts fakevendor.Options
		}{
			{"503", fakevendor.Options{}},
			{"refused", fakevendor.Options{Refuse: true}},
		} {
			t.Run(tt.name+"-"+mode.name, func(t *testing.T) {
				s, items, now := vendor(t, tt, mode.opts)
				dir := t.TempDir()
				var sl sleeps
				warm := tt.requests(t, s.URL, dir, &fetch.Fetcher{Sleep: sl.sleep}, now, items)
				for _, err := range fleet(t.Context(), 1, warm) {
					t.Fatalf("warm-up: %v", err)
				}
				before := s.Total()
				if before != len(tt.paths) {
					t.Errorf("warm-up made %d requests, want %d", before, len(tt.paths))
				}
				s.Down(true)
				fresh := tt.requests(t, s.URL, dir, &fetch.Fetcher{Sleep: sl.sleep}, now, items)
				for _, reqs := range [][]request{warm, fresh} {
					for _, err := range fleet(t.Context(), verifications, reqs) {
						t.Error(err)
					}
				}
				if n := s.Total() - before; n != 0 {
					t.Errorf("%d upstream requests with the vendor down, want 0", n)
				}
			})
		}
	}
}

// A body cut short never reaches the cache: retried, the whole document
// is cached; truncated on every attempt, nothing is. The VCEK chain is
// the sharpest case: half of it is still one whole PEM certificate.
func TestTruncatedNeverCached(t *testing.T) {
	for _, tt := range tees {
		for i, p := range tt.paths {
			for _, truncations := range []int{1, fetch.DefaultMaxAttempts} {
				name := fmt.Sprintf("%s-%s-truncated-%d", tt.name, tt.kinds[i], truncations)
				t.Run(name, func(t *testing.T) {
					s, items, now := vendor(t, tt, fakevendor.Options{})
					s.Path(p).Truncate(truncations)
					dir := t.TempDir()
					var sl sleeps
					r := tt.requests(t, s.URL, dir, &fetch.Fetcher{Sleep: sl.sleep}, now, items)[i]
					got, err := r.get(t.Context())
					if truncations >= fetch.DefaultMaxAttempts {
						if !errors.Is(err, fetch.ErrTruncated) {
							t.Fatalf("err = %v, want fetch.ErrTruncated", err)
						}
						if !errors.Is(err, kds.ErrFetch) && !errors.Is(err, pcs.ErrFetch) {
							t.Errorf("err = %v, want the client's ErrFetch", err)
						}
						if files := testutil.CacheDocuments(t, dir); len(files) != 0 {
							t.Errorf("cached after truncated bodies: %v", files)
						}
						if n, m := s.Count(p), s.Served(p); n != truncations || m != 0 {
							t.Errorf("%d requests, %d served whole; want %d and 0", n, m, truncations)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, r.want) {
						t.Error("the document returned is not the one served")
					}
					if n, m := s.Count(p), s.Served(p); n != 2 || m != 1 {
						t.Errorf("%d requests, %d served whole; want 2 and 1", n, m)
					}
					// What the cache holds: ask it with the vendor down.
					s.Down(true)
					offline := tt.requests(t, s.URL, dir, &fetch.Fetcher{Sleep: sl.sleep}, now, items)[i]
					if got, err := offline.get(t.Context()); err != nil || !bytes.Equal(got, r.want) {
						t.Errorf("the cache does not hold the whole document (err %v)", err)
					}
					if files := testutil.CacheDocuments(t, dir); len(files) != 1 {
						t.Errorf("cache holds %v, want one file", files)
					}
				})
			}
		}
	}
}

// BenchmarkWarmCache is a verification's worth of requests served from
// the disk cache.
func BenchmarkWarmCache(b *testing.B) {
	for _, tt := range tees {
		b.Run(tt.name, func(b *testing.B) {
			s, items, now := vendor(b, tt, fakevendor.Options{})
			reqs := tt.requests(b, s.URL, b.TempDir(), &fetch.Fetcher{}, now, items)
			for b.Loop() {
				for _, r := range reqs {
					if _, err := r.get(b.Context()); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// pemDER is the DER of the certificates in a PEM file, concatenated.
func pemDER(t testing.TB, b []byte) []byte {
	t.Helper()
	var out []byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		out = append(out, blk.Bytes...)
	}
	if len(out) == 0 {
		t.Fatal("no PEM certificates")
	}
	return out
}
