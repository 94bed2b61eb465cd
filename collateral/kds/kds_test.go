package kds_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assay-dev/assay/collateral/fetch"
	"github.com/assay-dev/assay/collateral/kds"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// noWait is a Fetcher that retries as the default one does but does not
// sleep between attempts: a test of a failing KDS does not wait on
// backoff or Retry-After.
func noWait(timeout time.Duration) *fetch.Fetcher {
	return &fetch.Fetcher{Timeout: timeout, Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
}

// corpusDir returns ../shared/corpus beside the repository, located from
// this file so that the test does not depend on the working directory.
func corpusDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate kds_test.go")
	}
	d := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(filepath.Join(d, "roots", "amd")); err != nil {
		t.Skipf("shared corpus of real AMD documents not found at %s (%v); these tests need it", d, err)
	}
	return d
}

func readCorpus(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pemDERs returns the DER bytes of the certificates in a PEM file.
func pemDERs(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		out = append(out, blk.Bytes)
	}
}

// vcekFixture is a real VCEK and what a client must send to get it.
type vcekFixture struct {
	der       []byte
	product   sevsnp.Product
	hwid      []byte
	tcb       sevsnp.TCB
	path      string     // KDS path
	wantQuery url.Values // the query KDS wants, exactly
}

func loadVCEK(t *testing.T, rel string, wantQuery url.Values) vcekFixture {
	t.Helper()
	der := readCorpus(t, rel)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	vek, err := sevsnp.ParseVEK(cert)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	p := vek.Product()
	return vcekFixture{
		der:       der,
		product:   p,
		hwid:      vek.HWID,
		tcb:       vek.TCB,
		path:      "/vcek/v1/" + p.String() + "/" + hex.EncodeToString(vek.HWID),
		wantQuery: wantQuery,
	}
}

func milanVCEK(t *testing.T) vcekFixture {
	return loadVCEK(t, "snp/trustee/milan-vcek.der", url.Values{
		"blSPL": {"3"}, "teeSPL": {"0"}, "snpSPL": {"8"}, "ucodeSPL": {"115"},
	})
}

func turinVCEK(t *testing.T) vcekFixture {
	f := loadVCEK(t, "snp/oak/turin-oc-vcek.der", url.Values{
		"blSPL": {"1"}, "teeSPL": {"0"}, "snpSPL": {"2"}, "ucodeSPL": {"71"}, "fmcSPL": {"0"},
	})
	if len(f.hwid) != 8 || f.product != sevsnp.Turin {
		t.Fatalf("turin-oc-vcek.der: hwID %d bytes, product %s; want 8 bytes, Turin", len(f.hwid), f.product)
	}
	return f
}

// fakeKDS is a loopback KDS. Each route serves one document; a VCEK route
// serves it only for the exact query real KDS would need, and 400
// otherwise. Every request is recorded.
type fakeKDS struct {
	*httptest.Server
	mu     sync.Mutex
	routes map[string]route
	seen   []*url.URL
}

type route struct {
	body  []byte
	query url.Values // nil: any
}

func newFakeKDS(t *testing.T) *fakeKDS {
	t.Helper()
	k := &fakeKDS{routes: map[string]route{}}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.seen = append(k.seen, r.URL)
		rt, ok := k.routes[r.URL.Path]
		k.mu.Unlock()
		switch {
		case r.Method != http.MethodGet:
			http.Error(w, "method", http.StatusMethodNotAllowed)
		case !ok:
			http.NotFound(w, r)
		case rt.query != nil && !reflect.DeepEqual(r.URL.Query(), rt.query):
			http.Error(w, "bad TCB query", http.StatusBadRequest)
		default:
			w.Write(rt.body)
		}
	}))
	t.Cleanup(k.Close)
	return k
}

func (k *fakeKDS) serve(path string, body []byte, query url.Values) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.routes[path] = route{body: body, query: query}
}

func (k *fakeKDS) requests() []*url.URL {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*url.URL(nil), k.seen...)
}

// milanKDS serves the real Milan VCEK, both cert_chains and the VCEK CRL.
func milanKDS(t *testing.T) (*fakeKDS, vcekFixture) {
	t.Helper()
	v := milanVCEK(t)
	k := newFakeKDS(t)
	k.serve(v.path, v.der, v.wantQuery)
	k.serve("/vcek/v1/Milan/cert_chain", readCorpus(t, "roots/amd/milan_vcek_ask_ark.pem"), nil)
	k.serve("/vlek/v1/Milan/cert_chain", readCorpus(t, "roots/amd/milan_vlek_ask_ark.pem"), nil)
	k.serve("/vcek/v1/Milan/crl", readCorpus(t, "roots/amd/milan_vcek_crl.der"), nil)
	return k, v
}

// During the Milan CRL's validity (thisUpdate 2025-05-06, nextUpdate
// 2026-05-12).
var crlValidAt = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

func fixedNow(t time.Time) func() time.Time { return func() time.Time { return t } }

// getter is one call of the Getter; it returns the DER of what it got.
type getter struct {
	name string
	path string // the request it makes
	get  func(context.Context, *kds.Client) ([][]byte, error)
}

func milanGetters(t *testing.T, v vcekFixture) []getter {
	return []getter{
		{"vcek", v.path, func(ctx context.Context, c *kds.Client) ([][]byte, error) {
			cert, err := c.VCEK(ctx, v.product, v.hwid, v.tcb)
			if err != nil {
				return nil, err
			}
			return [][]byte{cert.Raw}, nil
		}},
		{"vcek-cert-chain", "/vcek/v1/Milan/cert_chain", func(ctx context.Context, c *kds.Client) ([][]byte, error) {
			return chainDERs(c.CertChain(ctx, sevsnp.Milan, sevsnp.KeyVCEK))
		}},
		{"crl", "/vcek/v1/Milan/crl", func(ctx context.Context, c *kds.Client) ([][]byte, error) {
			crl, err := c.CRL(ctx, sevsnp.Milan, sevsnp.KeyVCEK)
			if err != nil {
				return nil, err
			}
			return [][]byte{crl.Raw}, nil
		}},
	}
}

func chainDERs(certs []*x509.Certificate, err error) ([][]byte, error) {
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, c := range certs {
		out = append(out, c.Raw)
	}
	return out, nil
}

func TestGetters(t *testing.T) {
	milan := milanVCEK(t)
	turin := turinVCEK(t)
	vcek := func(v vcekFixture) func(context.Context, *kds.Client) ([][]byte, error) {
		return func(ctx context.Context, c *kds.Client) ([][]byte, error) {
			cert, err := c.VCEK(ctx, v.product, v.hwid, v.tcb)
			if err != nil {
				return nil, err
			}
			return [][]byte{cert.Raw}, nil
		}
	}
	tests := []struct {
		name      string
		path      string
		body      []byte
		wantQuery url.Values
		get       func(context.Context, *kds.Client) ([][]byte, error)
		want      [][]byte
	}{
		{
			name: "milan-vcek", path: milan.path, body: milan.der, wantQuery: milan.wantQuery,
			get: vcek(milan), want: [][]byte{milan.der},
		},
		{
			name: "turin-vcek-fmc", path: turin.path, body: turin.der, wantQuery: turin.wantQuery,
			get: vcek(turin), want: [][]byte{turin.der},
		},
		{
			name: "milan-vcek-cert-chain", path: "/vcek/v1/Milan/cert_chain",
			body: readCorpus(t, "roots/amd/milan_vcek_ask_ark.pem"), wantQuery: url.Values{},
			get: func(ctx context.Context, c *kds.Client) ([][]byte, error) {
				return chainDERs(c.CertChain(ctx, sevsnp.Milan, sevsnp.KeyVCEK))
			},
			want: pemDERs(t, readCorpus(t, "roots/amd/milan_vcek_ask_ark.pem")),
		},
		{
			name: "milan-vlek-cert-chain", path: "/vlek/v1/Milan/cert_chain",
			body: readCorpus(t, "roots/amd/milan_vlek_ask_ark.pem"), wantQuery: url.Values{},
			get: func(ctx context.Context, c *kds.Client) ([][]byte, error) {
				return chainDERs(c.CertChain(ctx, sevsnp.Milan, sevsnp.KeyVLEK))
			},
			want: pemDERs(t, readCorpus(t, "roots/amd/milan_vlek_ask_ark.pem")),
		},
		{
			name: "milan-vcek-crl", path: "/vcek/v1/Milan/crl",
			body: readCorpus(t, "roots/amd/milan_vcek_crl.der"), wantQuery: url.Values{},
			get: func(ctx context.Context, c *kds.Client) ([][]byte, error) {
				crl, err := c.CRL(ctx, sevsnp.Milan, sevsnp.KeyVCEK)
				if err != nil {
					return nil, err
				}
				return [][]byte{crl.Raw}, nil
			},
			want: [][]byte{readCorpus(t, "roots/amd/milan_vcek_crl.der")},
		},
	}
	for _, tt := range tests {
		for _, slash := range []string{"", "/"} { // BaseURL with and without a trailing slash
			name := tt.name
			if slash != "" {
				name += "-base-url-slash"
			}
			t.Run(name, func(t *testing.T) {
				k := newFakeKDS(t)
				k.serve(tt.path, tt.body, nil)
				c := &kds.Client{BaseURL: k.URL + slash, Now: fixedNow(crlValidAt)}
				got, err := tt.get(t.Context(), c)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %d documents, not the %d served", len(got), len(tt.want))
				}
				reqs := k.requests()
				if len(reqs) != 1 {
					t.Fatalf("%d requests, want 1", len(reqs))
				}
				if reqs[0].Path != tt.path {
					t.Errorf("request path %s, want %s", reqs[0].Path, tt.path)
				}
				if q := reqs[0].Query(); !reflect.DeepEqual(q, tt.wantQuery) {
					t.Errorf("query %v, want exactly %v", q, tt.wantQuery)
				}
			})
		}
	}
}

func TestCacheHit(t *testing.T) {
	k, v := milanKDS(t)
	dir := t.TempDir()
	for _, g := range milanGetters(t, v) {
		t.Run(g.name, func(t *testing.T) {
			var logs bytes.Buffer
			newClient := func() *kds.Client {
				return &kds.Client{
					BaseURL:  k.URL,
					CacheDir: dir,
					Now:      fixedNow(crlValidAt),
					Logger:   slog.New(slog.NewJSONHandler(&logs, nil)),
				}
			}
			before := countPath(k.requests(), g.path)
			first, err := g.get(t.Context(), newClient())
			if err != nil {
				t.Fatal(err)
			}
			// A second call, and a fresh client on the same directory (a
			// second run of the command), are served from disk.
			for i, c := range []*kds.Client{newClient(), newClient()} {
				again, err := g.get(t.Context(), c)
				if err != nil {
					t.Fatalf("call %d: %v", i+2, err)
				}
				if !reflect.DeepEqual(again, first) {
					t.Errorf("call %d: cached document differs from the fetched one", i+2)
				}
			}
			if n := countPath(k.requests(), g.path) - before; n != 1 {
				t.Errorf("%d requests for %s over three calls, want 1", n, g.path)
			}
			if n := strings.Count(logs.String(), "\n"); n != 1 {
				t.Errorf("%d log lines, want 1 (one per network fetch):\n%s", n, logs.String())
			}
		})
	}
}

func countPath(reqs []*url.URL, path string) int {
	n := 0
	for _, u := range reqs {
		if u.Path == path {
			n++
		}
	}
	return n
}

func TestCorruptCache(t *testing.T) {
	damages := []struct {
		name   string
		damage func(good []byte) []byte
	}{
		{"truncated", func(good []byte) []byte { return good[:len(good)/2] }},
		{"garbage", func([]byte) []byte { return []byte("not a certificate\n") }},
		{"empty", func([]byte) []byte { return nil }},
	}
	k, v := milanKDS(t)
	for _, g := range milanGetters(t, v) {
		for _, d := range damages {
			t.Run(g.name+"-"+d.name, func(t *testing.T) {
				dir := t.TempDir()
				c := &kds.Client{BaseURL: k.URL, CacheDir: dir, Now: fixedNow(crlValidAt)}
				want, err := g.get(t.Context(), c)
				if err != nil {
					t.Fatal(err)
				}
				files := testutil.CacheDocuments(t, dir)
				if len(files) != 1 {
					t.Fatalf("cache holds %v, want one file", files)
				}
				good, err := os.ReadFile(files[0])
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(files[0], d.damage(good), 0o644); err != nil {
					t.Fatal(err)
				}
				before := countPath(k.requests(), g.path)
				got, err := g.get(t.Context(), c)
				if err != nil {
					t.Fatalf("with a damaged cache file: %v", err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Error("document differs from the one first fetched")
				}
				if n := countPath(k.requests(), g.path) - before; n != 1 {
					t.Errorf("%d requests, want 1: a damaged cache file is fetched again", n)
				}
				if b, err := os.ReadFile(files[0]); err != nil || !bytes.Equal(b, good) {
					t.Errorf("cache file not replaced by the refetched document (err %v)", err)
				}
			})
		}
	}
}

// A damaged cache file with KDS unreachable: the fetch error is reported,
// and the damaged file is gone rather than served.
func TestCorruptCacheOffline(t *testing.T) {
	k, v := milanKDS(t)
	for _, g := range milanGetters(t, v) {
		t.Run(g.name, func(t *testing.T) {
			dir := t.TempDir()
			c := &kds.Client{BaseURL: k.URL, CacheDir: dir, Now: fixedNow(crlValidAt)}
			if _, err := g.get(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			files := testutil.CacheDocuments(t, dir)
			if len(files) != 1 {
				t.Fatalf("cache holds %v, want one file", files)
			}
			if err := os.WriteFile(files[0], []byte("\x30\x03junk"), 0o644); err != nil {
				t.Fatal(err)
			}
			down := newFakeKDS(t) // serves nothing: 404 everywhere
			c.BaseURL = down.URL
			if _, err := g.get(t.Context(), c); !errors.Is(err, kds.ErrFetch) {
				t.Fatalf("err = %v, want ErrFetch", err)
			}
			if files := testutil.CacheDocuments(t, dir); len(files) != 0 {
				t.Errorf("damaged cache file kept: %v", files)
			}
		})
	}
}

func TestHTTPStatus(t *testing.T) {
	v := milanVCEK(t)
	// 429 and 5xx are retried (fetch.DefaultMaxAttempts attempts), other
	// statuses are not.
	tests := []struct {
		name        string
		status      int
		header      http.Header
		wantMention []string // besides the URL
		wantReqs    int
	}{
		{name: "not-found", status: http.StatusNotFound, wantMention: []string{"404"}, wantReqs: 1},
		{name: "rate-limited", status: http.StatusTooManyRequests, wantMention: []string{"429", "rate limit"}, wantReqs: 4},
		{name: "rate-limited-retry-after", status: http.StatusTooManyRequests,
			header: http.Header{"Retry-After": {"30"}}, wantMention: []string{"429", "rate limit", "30"}, wantReqs: 4},
		{name: "server-error", status: http.StatusInternalServerError, wantMention: []string{"500"}, wantReqs: 4},
		{name: "no-content", status: http.StatusNoContent, wantMention: []string{"204"}, wantReqs: 1},
	}
	for _, tt := range tests {
		for _, g := range milanGetters(t, v) {
			t.Run(tt.name+"-"+g.name, func(t *testing.T) {
				var mu sync.Mutex
				n := 0
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					n++
					mu.Unlock()
					for k, vs := range tt.header {
						w.Header()[k] = vs
					}
					w.WriteHeader(tt.status)
				}))
				t.Cleanup(srv.Close)
				dir := t.TempDir()
				c := &kds.Client{BaseURL: srv.URL, CacheDir: dir, Now: fixedNow(crlValidAt), Fetcher: noWait(0)}
				_, err := g.get(t.Context(), c)
				if !errors.Is(err, kds.ErrFetch) {
					t.Fatalf("err = %v, want ErrFetch", err)
				}
				mu.Lock()
				if n != tt.wantReqs {
					t.Errorf("%d requests, want %d", n, tt.wantReqs)
				}
				mu.Unlock()
				// The message is for a person: it must name the URL and
				// the status (the kind is checked with errors.Is above).
				msg := err.Error()
				for _, s := range append([]string{srv.URL + g.path}, tt.wantMention...) {
					if !strings.Contains(msg, s) {
						t.Errorf("error %q does not mention %q", msg, s)
					}
				}
				if files := testutil.CacheDocuments(t, dir); len(files) != 0 {
					t.Errorf("cached after HTTP %d: %v", tt.status, files)
				}
			})
		}
	}
}

func TestTimeout(t *testing.T) {
	v := milanVCEK(t)
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
	}{
		{"no-response", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}},
		{"stalled-body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "4096")
			w.Write(v.der[:100])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}},
	}
	for _, tt := range tests {
		for _, g := range milanGetters(t, v) {
			t.Run(tt.name+"-"+g.name, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(tt.handler))
				t.Cleanup(srv.Close)
				dir := t.TempDir()
				// One attempt: retrying a timeout is collateral/fetch's to
				// test; this is about what the client makes of it.
				f := noWait(200 * time.Millisecond)
				f.MaxAttempts = 1
				c := &kds.Client{BaseURL: srv.URL, CacheDir: dir, Now: fixedNow(crlValidAt), Fetcher: f}
				if _, err := g.get(t.Context(), c); !errors.Is(err, kds.ErrFetch) {
					t.Fatalf("err = %v, want ErrFetch", err)
				}
				if files := testutil.CacheDocuments(t, dir); len(files) != 0 {
					t.Errorf("cached a partial document: %v", files)
				}
			})
		}
	}
}

// A caller-supplied http.Client without its own timeout is still bounded
// by the Fetcher's Timeout (and Client.HTTP and Client.Timeout make the
// default Fetcher: TestDefaultFetcher).
func TestTimeoutWithCallerHTTPClient(t *testing.T) {
	v := milanVCEK(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	f := noWait(200 * time.Millisecond)
	f.Client, f.MaxAttempts = &http.Client{}, 1
	c := &kds.Client{BaseURL: srv.URL, Fetcher: f}
	_, err := c.VCEK(t.Context(), v.product, v.hwid, v.tcb)
	if !errors.Is(err, kds.ErrFetch) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrFetch and context.DeadlineExceeded", err)
	}
}

func TestBadBody(t *testing.T) {
	milan := milanVCEK(t)
	turin := turinVCEK(t)
	ask := pemDERs(t, readCorpus(t, "roots/amd/milan_vcek_ask_ark.pem"))[0]
	crl := readCorpus(t, "roots/amd/milan_vcek_crl.der")
	chain := readCorpus(t, "roots/amd/milan_vcek_ask_ark.pem")
	bigger := func(n int) []byte { return bytes.Repeat([]byte{'A'}, n) }
	otherTCB := milan.tcb
	otherTCB.SNP++

	vcek := func(v vcekFixture, tcb sevsnp.TCB) func(context.Context, *kds.Client) error {
		return func(ctx context.Context, c *kds.Client) error {
			_, err := c.VCEK(ctx, v.product, v.hwid, tcb)
			return err
		}
	}
	certChain := func(ctx context.Context, c *kds.Client) error {
		_, err := c.CertChain(ctx, sevsnp.Milan, sevsnp.KeyVCEK)
		return err
	}
	getCRL := func(ctx context.Context, c *kds.Client) error {
		_, err := c.CRL(ctx, sevsnp.Milan, sevsnp.KeyVCEK)
		return err
	}
	tests := []struct {
		name        string
		body        []byte
		get         func(context.Context, *kds.Client) error
		wantMention string // "" for none
	}{
		{name: "vcek-text", body: []byte("<html>maintenance</html>"), get: vcek(milan, milan.tcb)},
		{name: "vcek-pem-not-der", body: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: milan.der}), get: vcek(milan, milan.tcb)},
		{name: "vcek-trailing-bytes", body: append(append([]byte{}, milan.der...), 0), get: vcek(milan, milan.tcb)},
		{name: "vcek-is-ask", body: ask, get: vcek(milan, milan.tcb)},
		{name: "vcek-other-chip", body: turin.der, get: vcek(milan, milan.tcb)},
		{name: "vcek-other-tcb", body: milan.der, get: vcek(milan, otherTCB)},
		{name: "vcek-crl", body: crl, get: vcek(milan, milan.tcb)},
		{name: "vcek-over-1mib", body: append(append([]byte{}, milan.der...), bigger(1<<20)...), get: vcek(milan, milan.tcb), wantMention: "1 MiB"},
		{name: "chain-der-not-pem", body: ask, get: certChain},
		{name: "chain-empty", body: nil, get: certChain},
		{name: "chain-private-key-block", body: append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), chain...), get: certChain},
		{name: "chain-bad-cert", body: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), get: certChain},
		{name: "chain-over-1mib", body: append(append([]byte{}, chain...), bigger(1<<20)...), get: certChain, wantMention: "1 MiB"},
		{name: "crl-text", body: []byte("no CRL today"), get: getCRL},
		{name: "crl-is-cert", body: milan.der, get: getCRL},
		{name: "crl-over-1mib", body: bigger(1<<20 + 1), get: getCRL, wantMention: "1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n int
			var mu sync.Mutex
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				n++
				mu.Unlock()
				w.Write(tt.body)
			}))
			t.Cleanup(srv.Close)
			dir := t.TempDir()
			c := &kds.Client{BaseURL: srv.URL, CacheDir: dir, Now: fixedNow(crlValidAt)}
			for call := 1; call <= 2; call++ {
				err := tt.get(t.Context(), c)
				if !errors.Is(err, kds.ErrFetch) {
					t.Fatalf("call %d: err = %v, want ErrFetch", call, err)
				}
				if tt.wantMention != "" && !strings.Contains(err.Error(), tt.wantMention) {
					t.Errorf("error %q does not mention %q", err, tt.wantMention)
				}
				if files := testutil.CacheDocuments(t, dir); len(files) != 0 {
					t.Fatalf("call %d: a rejected body was cached: %v", call, files)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if n != 2 {
				t.Errorf("%d requests over two calls, want 2 (nothing cached)", n)
			}
		})
	}
}

// A body of exactly 1 MiB is read in full (the limit is "over 1 MiB"): it
// fails only because it is not a CRL.
func TestBodyLimitBoundary(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte{'A'}, 1<<20))
	}))
	t.Cleanup(srv.Close)
	c := &kds.Client{BaseURL: srv.URL, Now: fixedNow(crlValidAt)}
	_, err := c.CRL(t.Context(), sevsnp.Milan, sevsnp.KeyVCEK)
	if !errors.Is(err, kds.ErrFetch) {
		t.Fatalf("err = %v, want ErrFetch", err)
	}
	if strings.Contains(err.Error(), "1 MiB") {
		t.Errorf("a body of exactly 1 MiB was refused for its size: %v", err)
	}
}

func TestCRLFreshness(t *testing.T) {
	milanCRL := readCorpus(t, "roots/amd/milan_vcek_crl.der") // 2025-05-06 .. 2026-05-12
	// A real, older CRL (Genoa, 2024-10-23 .. 2025-11-03) stands in for a
	// Milan CRL cached last year: the client judges freshness, not issuer.
	olderCRL := readCorpus(t, "roots/amd/genoa_vcek_crl.der")

	tests := []struct {
		name     string
		cached   []byte // in the cache before the call; nil: none
		now      time.Time
		wantErr  bool
		wantReqs int
		wantRaw  []byte // returned, and in the cache after the call
	}{
		{name: "fresh-in-cache", cached: milanCRL, now: crlValidAt, wantReqs: 0, wantRaw: milanCRL},
		{name: "stale-in-cache-refetched", cached: olderCRL, now: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), wantReqs: 1, wantRaw: milanCRL},
		{name: "stale-in-cache-and-served", cached: milanCRL, now: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), wantErr: true, wantReqs: 1},
		{name: "stale-served", now: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), wantErr: true, wantReqs: 1},
		{name: "older-in-cache-still-fresh", cached: olderCRL, now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), wantReqs: 0, wantRaw: olderCRL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakeKDS(t)
			k.serve("/vcek/v1/Milan/crl", milanCRL, nil)
			dir := t.TempDir()
			if tt.cached != nil {
				// Seed the cache through the client, so the test does not
				// depend on the cache's file names, then swap the content.
				seed := newFakeKDS(t)
				seed.serve("/vcek/v1/Milan/crl", tt.cached, nil)
				cached, err := x509.ParseRevocationList(tt.cached)
				if err != nil {
					t.Fatal(err)
				}
				sc := &kds.Client{BaseURL: seed.URL, CacheDir: dir, Now: fixedNow(cached.ThisUpdate)}
				if _, err := sc.CRL(t.Context(), sevsnp.Milan, sevsnp.KeyVCEK); err != nil {
					t.Fatalf("seeding the cache: %v", err)
				}
			}
			c := &kds.Client{BaseURL: k.URL, CacheDir: dir, Now: fixedNow(tt.now)}
			crl, err := c.CRL(t.Context(), sevsnp.Milan, sevsnp.KeyVCEK)
			if n := len(k.requests()); n != tt.wantReqs {
				t.Errorf("%d requests, want %d", n, tt.wantReqs)
			}
			if tt.wantErr {
				if !errors.Is(err, kds.ErrFetch) {
					t.Fatalf("err = %v, want ErrFetch", err)
				}
				if files := testutil.CacheDocuments(t, dir); len(files) != 0 {
					t.Errorf("stale CRL kept in the cache: %v", files)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(crl.Raw, tt.wantRaw) {
				t.Errorf("returned CRL issued %s, want the other one", crl.ThisUpdate)
			}
			files := testutil.CacheDocuments(t, dir)
			if len(files) != 1 {
				t.Fatalf("cache holds %v, want one file", files)
			}
			if b, _ := os.ReadFile(files[0]); !bytes.Equal(b, tt.wantRaw) {
				t.Error("cache does not hold the CRL returned")
			}
		})
	}
}

func TestContextCancelled(t *testing.T) {
	k, v := milanKDS(t)
	for _, g := range milanGetters(t, v) {
		t.Run(g.name+"-before", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			before := len(k.requests())
			c := &kds.Client{BaseURL: k.URL, CacheDir: t.TempDir(), Now: fixedNow(crlValidAt)}
			_, err := g.get(ctx, c)
			if !errors.Is(err, kds.ErrFetch) || !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want ErrFetch and context.Canceled", err)
			}
			if n := len(k.requests()) - before; n != 0 {
				t.Errorf("%d requests with a cancelled context, want 0", n)
			}
		})
		t.Run(g.name+"-during", func(t *testing.T) {
			started := make(chan struct{})
			var once sync.Once
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				once.Do(func() { close(started) })
				<-r.Context().Done()
			}))
			t.Cleanup(srv.Close)
			ctx, cancel := context.WithCancel(t.Context())
			go func() {
				<-started
				cancel()
			}()
			// Timeout far beyond the test's patience: only cancellation
			// can end the call.
			c := &kds.Client{BaseURL: srv.URL, Timeout: time.Hour, Now: fixedNow(crlValidAt)}
			_, err := g.get(ctx, c)
			cancel()
			if !errors.Is(err, kds.ErrFetch) || !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want ErrFetch and context.Canceled", err)
			}
		})
	}
}

func TestBadArguments(t *testing.T) {
	v := milanVCEK(t)
	tests := []struct {
		name string
		get  func(context.Context, *kds.Client) error
	}{
		{"vcek-unknown-product", func(ctx context.Context, c *kds.Client) error {
			_, err := c.VCEK(ctx, sevsnp.ProductUnknown, v.hwid, v.tcb)
			return err
		}},
		{"vcek-out-of-range-product", func(ctx context.Context, c *kds.Client) error {
			_, err := c.VCEK(ctx, sevsnp.Product(42), v.hwid, v.tcb)
			return err
		}},
		{"vcek-empty-hwid", func(ctx context.Context, c *kds.Client) error {
			_, err := c.VCEK(ctx, sevsnp.Milan, nil, v.tcb)
			return err
		}},
		{"vcek-short-hwid", func(ctx context.Context, c *kds.Client) error {
			_, err := c.VCEK(ctx, sevsnp.Milan, v.hwid[:32], v.tcb)
			return err
		}},
		{"chain-unknown-product", func(ctx context.Context, c *kds.Client) error {
			_, err := c.CertChain(ctx, sevsnp.ProductUnknown, sevsnp.KeyVCEK)
			return err
		}},
		{"chain-unknown-key-type", func(ctx context.Context, c *kds.Client) error {
			_, err := c.CertChain(ctx, sevsnp.Milan, sevsnp.KeyType(7))
			return err
		}},
		{"crl-unknown-product", func(ctx context.Context, c *kds.Client) error {
			_, err := c.CRL(ctx, sevsnp.ProductUnknown, sevsnp.KeyVCEK)
			return err
		}},
	}
	k, _ := milanKDS(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(k.requests())
			dir := t.TempDir()
			c := &kds.Client{BaseURL: k.URL, CacheDir: dir}
			if err := tt.get(t.Context(), c); !errors.Is(err, kds.ErrFetch) {
				t.Fatalf("err = %v, want ErrFetch", err)
			}
			if n := len(k.requests()) - before; n != 0 {
				t.Errorf("%d requests for a bad argument, want 0", n)
			}
			if files := testutil.CacheDocuments(t, dir); len(files) != 0 {
				t.Errorf("cache written: %v", files)
			}
		})
	}
}

func TestDefaultCacheDir(t *testing.T) {
	abs := t.TempDir()
	home := t.TempDir()
	tests := []struct {
		name string
		xdg  string
		want string
	}{
		{name: "xdg-cache-home", xdg: abs, want: filepath.Join(abs, "assay", "amd-kds")},
		// XDG Base Directory Specification: a relative path is invalid
		// and ignored.
		{name: "xdg-relative-ignored", xdg: "relative/cache", want: filepath.Join(home, ".cache", "assay", "amd-kds")},
		{name: "xdg-unset", xdg: "", want: filepath.Join(home, ".cache", "assay", "amd-kds")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.xdg != abs && runtime.GOOS != "linux" {
				t.Skip("the fallback is the platform's cache directory; ~/.cache is Linux")
			}
			t.Setenv("XDG_CACHE_HOME", tt.xdg)
			t.Setenv("HOME", home)
			got, err := kds.DefaultCacheDir()
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("DefaultCacheDir() = %s, want %s", got, tt.want)
			}
		})
	}
}

// The client is safe for concurrent use: parallel appraisals share one
// client and one cache directory.
func TestConcurrent(t *testing.T) {
	k, v := milanKDS(t)
	c := &kds.Client{BaseURL: k.URL, CacheDir: t.TempDir(), Now: fixedNow(crlValidAt)}
	getters := milanGetters(t, v)
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(getters))
	for range 8 {
		for _, g := range getters {
			wg.Go(func() {
				if _, err := g.get(t.Context(), c); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, g := range getters {
		if _, err := g.get(t.Context(), &kds.Client{BaseURL: "http://127.0.0.1:1", CacheDir: c.CacheDir, Now: c.Now}); err != nil {
			t.Errorf("%s not served from the cache afterwards: %v", g.name, err)
		}
	}
}
