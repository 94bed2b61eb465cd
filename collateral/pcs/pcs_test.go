package pcs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
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
	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/internal/testutil"
)

// noWait is a Fetcher that retries as the default one does but does not
// sleep between attempts: a test of a failing PCS does not wait on
// backoff or Retry-After.
func noWait(timeout time.Duration) *fetch.Fetcher {
	return &fetch.Fetcher{Timeout: timeout, Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
}

// Real Intel documents from the shared corpus (dcap-qvl's PCS-format
// collateral, fetched from Intel PCS on the dates in their issueDate).
const (
	tdxDir = "tdx/dcap-qvl/pcs-format/tdx-quote"          // TDX, FMSPC B0C06F000000, 2025-06-19 .. 2025-07-19
	sgxDir = "tdx/dcap-qvl/pcs-format/sgx-quote"          // SGX, FMSPC 00A067110000, PCK Processor CA, 2025-06-19 .. 2025-07-19
	nearDi = "tdx/dcap-qvl/pcs-format/tdx-quote-near"     // TDX, FMSPC 20a06f000000 (lower case), 2025-09-02 .. 2025-10-02
	outDir = "tdx/dcap-qvl/pcs-format/tdx-quote-outdated" // TDX, FMSPC 90C06F000000, 2026-02-18 .. 2026-03-20
)

// During every document of tdxDir and sgxDir.
var validAt = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)

func fixedNow(t time.Time) func() time.Time { return func() time.Time { return t } }

func readCorpus(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pcsEscape percent-encodes s as PCS encodes its issuer-chain headers:
// everything but the RFC 3986 unreserved characters, so '+', '/', '=',
// space and newline all become %XX.
func pcsEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// getFunc is one call of the Getter; chain is nil for CRLs.
type getFunc func(ctx context.Context, c *pcs.Client) (body, chain []byte, err error)

func tcbInfo(tdx bool, fmspc [6]byte) getFunc {
	return func(ctx context.Context, c *pcs.Client) ([]byte, []byte, error) {
		return c.TCBInfo(ctx, tdx, fmspc)
	}
}

func qeIdentity(tdx bool) getFunc {
	return func(ctx context.Context, c *pcs.Client) ([]byte, []byte, error) {
		return c.QEIdentity(ctx, tdx)
	}
}

func pckCRL(ca string) getFunc {
	return func(ctx context.Context, c *pcs.Client) ([]byte, []byte, error) {
		b, err := c.PCKCRL(ctx, ca)
		return b, nil, err
	}
}

func rootCRL(ctx context.Context, c *pcs.Client) ([]byte, []byte, error) {
	b, err := c.RootCRL(ctx)
	return b, nil, err
}

const rootCRLPath = "/IntelSGXRootCA.der"

var (
	fmspcTDX  = [6]byte{0xB0, 0xC0, 0x6F, 0, 0, 0}
	fmspcSGX  = [6]byte{0x00, 0xA0, 0x67, 0x11, 0, 0}
	fmspcNear = [6]byte{0x20, 0xA0, 0x6F, 0, 0, 0}
	fmspcOut  = [6]byte{0x90, 0xC0, 0x6F, 0, 0, 0}
)

// fixture is one real document, how PCS serves it, and the call that
// must fetch it.
type fixture struct {
	name   string
	path   string     // request path
	query  url.Values // the query PCS wants, exactly
	body   []byte
	header string // issuer-chain header served
	chain  []byte // PEM in that header
	tdx    bool   // for the id of a JSON document
	get    getFunc
	// wantChain: the getter returns the chain (JSON documents); CRL
	// getters return the DER alone.
	wantChain bool
}

func fixtures(t *testing.T) []fixture {
	t.Helper()
	tcbChain := readCorpus(t, tdxDir+"/tcb_info_issuer_chain.pem")
	// The QE identity is signed by the same Intel SGX TCB Signing key as
	// the TCB info, and PCS serves the same chain with it.
	return []fixture{
		{
			name: "tdx-tcb-info", path: "/tdx/certification/v4/tcb", query: url.Values{"fmspc": {"B0C06F000000"}},
			body: readCorpus(t, tdxDir+"/tcbinfo.json"), header: "TCB-Info-Issuer-Chain", chain: tcbChain,
			tdx: true, get: tcbInfo(true, fmspcTDX), wantChain: true,
		},
		{
			name: "sgx-tcb-info", path: "/sgx/certification/v4/tcb", query: url.Values{"fmspc": {"00A067110000"}},
			body: readCorpus(t, sgxDir+"/tcbinfo.json"), header: "TCB-Info-Issuer-Chain", chain: readCorpus(t, sgxDir+"/tcb_info_issuer_chain.pem"),
			get: tcbInfo(false, fmspcSGX), wantChain: true,
		},
		{
			name: "tdx-qe-identity", path: "/tdx/certification/v4/qe/identity", query: url.Values{},
			body: readCorpus(t, tdxDir+"/qe_identity.json"), header: "SGX-Enclave-Identity-Issuer-Chain", chain: tcbChain,
			tdx: true, get: qeIdentity(true), wantChain: true,
		},
		{
			name: "sgx-qe-identity", path: "/sgx/certification/v4/qe/identity", query: url.Values{},
			body: readCorpus(t, sgxDir+"/qe_identity.json"), header: "SGX-Enclave-Identity-Issuer-Chain", chain: tcbChain,
			get: qeIdentity(false), wantChain: true,
		},
		{
			name: "pck-platform-crl", path: "/sgx/certification/v4/pckcrl", query: url.Values{"ca": {"platform"}, "encoding": {"der"}},
			body: readCorpus(t, tdxDir+"/pck_crl.der"), header: "SGX-PCK-CRL-Issuer-Chain", chain: readCorpus(t, tdxDir+"/pck_crl_issuer_chain.pem"),
			get: pckCRL("platform"),
		},
		{
			name: "pck-processor-crl", path: "/sgx/certification/v4/pckcrl", query: url.Values{"ca": {"processor"}, "encoding": {"der"}},
			body: readCorpus(t, sgxDir+"/pck_crl.der"), header: "SGX-PCK-CRL-Issuer-Chain", chain: readCorpus(t, sgxDir+"/pck_crl_issuer_chain.pem"),
			get: pckCRL("processor"),
		},
		{
			name: "root-crl", path: rootCRLPath, query: url.Values{},
			body: readCorpus(t, tdxDir+"/root_ca_crl.der"),
			get:  rootCRL,
		},
	}
}

// fakePCS is a loopback PCS (and Intel certificate server): each route
// serves one document with its issuer-chain header percent-encoded as PCS
// does. A route is a path and, when given, a query. Every request is
// recorded.
type fakePCS struct {
	*httptest.Server
	mu     sync.Mutex
	routes map[string]route
	seen   []*url.URL
}

type route struct {
	body   []byte
	header http.Header
}

func newFakePCS(t *testing.T) *fakePCS {
	t.Helper()
	k := &fakePCS{routes: map[string]route{}}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.seen = append(k.seen, r.URL)
		rt, ok := k.routes[r.URL.Path+"?"+r.URL.RawQuery]
		if !ok {
			rt, ok = k.routes[r.URL.Path]
		}
		k.mu.Unlock()
		switch {
		case r.Method != http.MethodGet:
			http.Error(w, "method", http.StatusMethodNotAllowed)
		case !ok:
			http.NotFound(w, r)
		default:
			for name, v := range rt.header {
				w.Header()[name] = v
			}
			w.Write(rt.body)
		}
	}))
	t.Cleanup(k.Close)
	return k
}

// serve serves f at its path and exact query.
func (k *fakePCS) serve(f fixture) {
	h := http.Header{}
	if f.header != "" {
		h.Set(f.header, pcsEscape(string(f.chain)))
	}
	q := f.query.Encode()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.routes[f.path+"?"+q] = route{body: f.body, header: h}
}

// serveAnyQuery serves f at its path whatever the query.
func (k *fakePCS) serveAnyQuery(f fixture) {
	k.serve(f)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.routes[f.path] = k.routes[f.path+"?"+f.query.Encode()]
}

func (k *fakePCS) requests() []*url.URL {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*url.URL(nil), k.seen...)
}

func (k *fakePCS) client() *pcs.Client {
	return &pcs.Client{BaseURL: k.URL, RootCRLURL: k.URL + rootCRLPath, Now: fixedNow(validAt)}
}

// allPCS serves every fixture.
func allPCS(t *testing.T) (*fakePCS, []fixture) {
	t.Helper()
	fxs := fixtures(t)
	k := newFakePCS(t)
	for _, f := range fxs {
		k.serve(f)
	}
	return k, fxs
}

func countPath(reqs []*url.URL, path string, q url.Values) int {
	n := 0
	for _, u := range reqs {
		if u.Path == path && reflect.DeepEqual(u.Query(), q) {
			n++
		}
	}
	return n
}

// wantDoc checks that a getter returned f's document as served.
func wantDoc(t *testing.T, f fixture, body, chain []byte) {
	t.Helper()
	if !bytes.Equal(body, f.body) {
		t.Errorf("body differs from the %d bytes served (got %d)", len(f.body), len(body))
	}
	switch {
	case f.wantChain && !bytes.Equal(chain, f.chain):
		t.Errorf("issuer chain differs from the PEM served:\n%s", chain)
	case !f.wantChain && chain != nil:
		t.Errorf("a CRL getter returned a chain")
	}
}

func TestGetters(t *testing.T) {
	for _, f := range fixtures(t) {
		for _, slash := range []string{"", "/"} { // BaseURL with and without a trailing slash
			name := f.name
			if slash != "" {
				name += "-base-url-slash"
			}
			t.Run(name, func(t *testing.T) {
				k := newFakePCS(t)
				k.serve(f)
				c := &pcs.Client{BaseURL: k.URL + slash, RootCRLURL: k.URL + rootCRLPath, Now: fixedNow(validAt)}
				body, chain, err := f.get(t.Context(), c)
				if err != nil {
					t.Fatal(err)
				}
				wantDoc(t, f, body, chain)
				reqs := k.requests()
				if len(reqs) != 1 {
					t.Fatalf("%d requests, want 1", len(reqs))
				}
				if reqs[0].Path != f.path {
					t.Errorf("request path %s, want %s", reqs[0].Path, f.path)
				}
				if q := reqs[0].Query(); !reflect.DeepEqual(q, f.query) {
					t.Errorf("query %v, want exactly %v", q, f.query)
				}
			})
		}
	}
}

// The FMSPC is compared as bytes: Intel documents spell it in either case
// (this real TDX TCB info in lower case), and the request spells it in
// upper case.
func TestFMSPCCase(t *testing.T) {
	f := fixture{
		name: "near", path: "/tdx/certification/v4/tcb", query: url.Values{"fmspc": {"20A06F000000"}},
		body: readCorpus(t, nearDi+"/tcbinfo.json"), header: "TCB-Info-Issuer-Chain", chain: readCorpus(t, nearDi+"/tcb_info_issuer_chain.pem"),
		wantChain: true,
	}
	if !bytes.Contains(f.body, []byte(`"fmspc":"20a06f000000"`)) {
		t.Fatal("fixture no longer spells its FMSPC in lower case")
	}
	k := newFakePCS(t)
	k.serve(f)
	c := k.client()
	c.Now = fixedNow(time.Date(2025, 9, 10, 0, 0, 0, 0, time.UTC))
	body, chain, err := c.TCBInfo(t.Context(), true, fmspcNear)
	if err != nil {
		t.Fatal(err)
	}
	wantDoc(t, f, body, chain)
}

func TestIssuerChainHeader(t *testing.T) {
	all := fixtures(t)
	var jsonDocs []fixture
	for _, f := range all {
		if f.wantChain {
			jsonDocs = append(jsonDocs, f)
		}
	}
	chain := string(all[0].chain)
	if !strings.Contains(chain, "+") {
		t.Fatal("the chain has no '+': the literal-plus case would prove nothing")
	}
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	certDER, _ := pem.Decode([]byte(chain))
	tests := []struct {
		name   string
		header func(f fixture) http.Header
		ok     bool
	}{
		{name: "pcs-encoding", ok: true, header: func(f fixture) http.Header {
			return http.Header{f.header: {pcsEscape(string(f.chain))}}
		}},
		// A service that leaves '+' unencoded: it is base64, not a space.
		{name: "literal-plus", ok: true, header: func(f fixture) http.Header {
			return http.Header{f.header: {strings.NewReplacer(" ", "%20", "\n", "%0A").Replace(string(f.chain))}}
		}},
		{name: "missing", header: func(fixture) http.Header { return http.Header{} }},
		{name: "other-header", header: func(f fixture) http.Header {
			return http.Header{"SGX-PCK-CRL-Issuer-Chain": {pcsEscape(string(f.chain))}}
		}},
		{name: "bad-percent-encoding", header: func(f fixture) http.Header {
			return http.Header{f.header: {"%zz" + pcsEscape(string(f.chain))}}
		}},
		{name: "whitespace-only", header: func(f fixture) http.Header { return http.Header{f.header: {"%0A%20"}} }},
		{name: "base64-not-pem", header: func(f fixture) http.Header {
			return http.Header{f.header: {pcsEscape(strings.Join(strings.Split(string(f.chain), "\n")[1:5], ""))}}
		}},
		{name: "private-key-block", header: func(f fixture) http.Header {
			return http.Header{f.header: {pcsEscape(string(f.chain) + string(key))}}
		}},
		{name: "bad-certificate", header: func(f fixture) http.Header {
			bad := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER.Bytes[:100]})
			return http.Header{f.header: {pcsEscape(string(bad))}}
		}},
		{name: "trailing-text", header: func(f fixture) http.Header {
			return http.Header{f.header: {pcsEscape(string(f.chain) + "and more\n")}}
		}},
		{name: "pem-headers", header: func(f fixture) http.Header {
			blk := &pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: certDER.Bytes}
			return http.Header{f.header: {pcsEscape(string(pem.EncodeToMemory(blk)))}}
		}},
	}
	for _, tt := range tests {
		for _, f := range jsonDocs {
			t.Run(tt.name+"-"+f.name, func(t *testing.T) {
				testChainHeader(t, f, tt.header(f), tt.ok)
			})
		}
	}
	// PCS API v3 named the TCB info chain header SGX-TCB-Info-Issuer-Chain;
	// caching services still send it.
	for _, f := range jsonDocs[:2] {
		t.Run("v3-header-name-"+f.name, func(t *testing.T) {
			testChainHeader(t, f, http.Header{"SGX-TCB-Info-Issuer-Chain": {pcsEscape(string(f.chain))}}, true)
		})
	}
}

func testChainHeader(t *testing.T, f fixture, h http.Header, ok bool) {
	t.Helper()
	var n int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		for name, v := range h {
			w.Header()[name] = v
		}
		w.Write(f.body)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	c := &pcs.Client{BaseURL: srv.URL, CacheDir: dir, Now: fixedNow(validAt)}
	if ok {
		body, chain, err := f.get(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		wantDoc(t, f, body, chain)
		return
	}
	for call := 1; call <= 2; call++ {
		if _, _, err := f.get(t.Context(), c); !errors.Is(err, pcs.ErrFetch) {
			t.Fatalf("call %d: err = %v, want ErrFetch", call, err)
		}
		if files := testutil.CacheDocuments(t, dir); len(files) != 0 {
			t.Fatalf("call %d: a document with a bad chain was cached: %v", call, files)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 2 {
		t.Errorf("%d requests over two calls, want 2 (nothing cached)", n)
	}
}

func TestCacheHit(t *testing.T) {
	k, fxs := allPCS(t)
	dir := t.TempDir()
	for _, f := range fxs {
		t.Run(f.name, func(t *testing.T) {
			var logs bytes.Buffer
			newClient := func() *pcs.Client {
				c := k.client()
				c.CacheDir = dir
				c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
				return c
			}
			before := countPath(k.requests(), f.path, f.query)
			body, chain, err := f.get(t.Context(), newClient())
			if err != nil {
				t.Fatal(err)
			}
			wantDoc(t, f, body, chain)
			// A second call, and a fresh client on the same directory (a
			// second run of the command), are served from disk, chain
			// included.
			for i, c := range []*pcs.Client{newClient(), newClient()} {
				body, chain, err := f.get(t.Context(), c)
				if err != nil {
					t.Fatalf("call %d: %v", i+2, err)
				}
				wantDoc(t, f, body, chain)
			}
			if n := countPath(k.requests(), f.path, f.query) - before; n != 1 {
				t.Errorf("%d requests for %s over three calls, want 1", n, f.path)
			}
			if n := strings.Count(logs.String(), "\n"); n != 1 {
				t.Errorf("%d log lines, want 1 (one per network fetch):\n%s", n, logs.String())
			}
		})
	}
	// One file per document: a TCB info and its chain are never apart.
	if files := testutil.CacheDocuments(t, dir); len(files) != len(fxs) {
		t.Errorf("cache holds %d files for %d documents: %v", len(files), len(fxs), files)
	}
}

func TestCorruptCache(t *testing.T) {
	damages := []struct {
		name   string
		damage func(good []byte) []byte
	}{
		{"truncated", func(good []byte) []byte { return good[:len(good)/2] }},
		{"garbage", func([]byte) []byte { return []byte("not a document\n") }},
		{"empty", func([]byte) []byte { return nil }},
		{"trailing-byte", func(good []byte) []byte { return append(append([]byte{}, good...), 0x30) }},
	}
	k, fxs := allPCS(t)
	for _, f := range fxs {
		for _, d := range damages {
			t.Run(f.name+"-"+d.name, func(t *testing.T) {
				dir := t.TempDir()
				c := k.client()
				c.CacheDir = dir
				if _, _, err := f.get(t.Context(), c); err != nil {
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
				before := countPath(k.requests(), f.path, f.query)
				body, chain, err := f.get(t.Context(), c)
				if err != nil {
					t.Fatalf("with a damaged cache file: %v", err)
				}
				wantDoc(t, f, body, chain)
				if n := countPath(k.requests(), f.path, f.query) - before; n != 1 {
					t.Errorf("%d requests, want 1: a damaged cache file is fetched again", n)
				}
				if b, err := os.ReadFile(files[0]); err != nil || !bytes.Equal(b, good) {
					t.Errorf("cache file not replaced by the refetched document (err %v)", err)
				}
			})
		}
	}
}

// A damaged cache file with PCS unreachable: the fetch error is reported,
// and the damaged file is gone rather than served.
func TestCorruptCacheOffline(t *testing.T) {
	k, fxs := allPCS(t)
	for _, f := range fxs {
		t.Run(f.name, func(t *testing.T) {
			dir := t.TempDir()
			c := k.client()
			c.CacheDir = dir
			if _, _, err := f.get(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			files := testutil.CacheDocuments(t, dir)
			if len(files) != 1 {
				t.Fatalf("cache holds %v, want one file", files)
			}
			if err := os.WriteFile(files[0], []byte("\x30\x03junk"), 0o644); err != nil {
				t.Fatal(err)
			}
			down := newFakePCS(t) // serves nothing: 404 everywhere
			c.BaseURL, c.RootCRLURL = down.URL, down.URL+rootCRLPath
			if _, _, err := f.get(t.Context(), c); !errors.Is(err, pcs.ErrFetch) {
				t.Fatalf("err = %v, want ErrFetch", err)
			}
			if files := testutil.CacheDocuments(t, dir); len(files) != 0 {
				t.Errorf("damaged cache file kept: %v", files)
			}
		})
	}
}

func TestHTTPStatus(t *testing.T) {
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
		{name: "unavailable", status: http.StatusServiceUnavailable, wantMention: []string{"503"}, wantReqs: 4},
		{name: "no-content", status: http.StatusNoContent, wantMention: []string{"204"}, wantReqs: 1},
	}
	for _, tt := range tests {
		for _, f := range fixtures(t) {
			t.Run(tt.name+"-"+f.name, func(t *testing.T) {
				var mu sync.Mutex
				n := 0
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					n++
					mu.Unlock()
					for k, vs := range tt.header {
						w.Header()[k] = vs
					}
					// Real headers with an error status are still an error.
					w.Header().Set("TCB-Info-Issuer-Chain", pcsEscape(string(f.chain)))
					w.WriteHeader(tt.status)
				}))
				t.Cleanup(srv.Close)
				dir := t.TempDir()
				c := &pcs.Client{BaseURL: srv.URL, RootCRLURL: srv.URL + rootCRLPath, CacheDir: dir, Now: fixedNow(validAt), Fetcher: noWait(0)}
				_, _, err := f.get(t.Context(), c)
				if !errors.Is(err, pcs.ErrFetch) {
					t.Fatalf("err = %v, want ErrFetch", err)
				}
				mu.Lock()
				want := tt.wantReqs
				if tt.status == http.StatusNotFound && f.path == rootCRLPath {
					want++ // then the PCCS path (pcs.PCCSRootCRLPath)
				}
				if n != want {
					t.Errorf("%d requests, want %d", n, want)
				}
				mu.Unlock()
				// The message is for a person: it must name the URL and
				// the status (the kind is checked with errors.Is above).
				msg := err.Error()
				for _, s := range append([]string{srv.URL + f.path}, tt.wantMention...) {
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
	tests := []struct {
		name    string
		handler func(body []byte) http.HandlerFunc
	}{
		{"no-response", func([]byte) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
		}},
		{"stalled-body", func(body []byte) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "8192")
				w.Write(body[:100])
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			}
		}},
	}
	for _, tt := range tests {
		for _, f := range fixtures(t) {
			t.Run(tt.name+"-"+f.name, func(t *testing.T) {
				srv := httptest.NewServer(tt.handler(f.body))
				t.Cleanup(srv.Close)
				dir := t.TempDir()
				// One attempt: retrying a timeout is collateral/fetch's to
				// test; this is about what the client makes of it.
				fr := noWait(200 * time.Millisecond)
				fr.MaxAttempts = 1
				c := &pcs.Client{BaseURL: srv.URL, RootCRLURL: srv.URL + rootCRLPath, CacheDir: dir, Now: fixedNow(validAt), Fetcher: fr}
				_, _, err := f.get(t.Context(), c)
				if !errors.Is(err, pcs.ErrFetch) || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v, want ErrFetch and context.DeadlineExceeded", err)
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
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	f := noWait(200 * time.Millisecond)
	f.Client, f.MaxAttempts = &http.Client{}, 1
	c := &pcs.Client{BaseURL: srv.URL, Fetcher: f}
	_, _, err := c.TCBInfo(t.Context(), true, fmspcTDX)
	if !errors.Is(err, pcs.ErrFetch) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrFetch and context.DeadlineExceeded", err)
	}
}

// editJSON returns b with its top-level members changed by edit.
func editJSON(t *testing.T, b []byte, edit func(top map[string]json.RawMessage)) []byte {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	edit(top)
	out, err := json.Marshal(top)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// editInner returns b with member name of its object key set to value.
func editInner(t *testing.T, b []byte, key, name string, value any) []byte {
	t.Helper()
	return editJSON(t, b, func(top map[string]json.RawMessage) {
		var inner map[string]json.RawMessage
		if err := json.Unmarshal(top[key], &inner); err != nil {
			t.Fatal(err)
		}
		if value == nil {
			delete(inner, name)
		} else {
			v, _ := json.Marshal(value)
			inner[name] = v
		}
		top[key], _ = json.Marshal(inner)
	})
}

func TestBadBody(t *testing.T) {
	byName := map[string]fixture{}
	for _, f := range fixtures(t) {
		byName[f.name] = f
	}
	tdxTCB, sgxTCB := byName["tdx-tcb-info"], byName["sgx-tcb-info"]
	tdxQE, sgxQE := byName["tdx-qe-identity"], byName["sgx-qe-identity"]
	platform, processor, root := byName["pck-platform-crl"], byName["pck-processor-crl"], byName["root-crl"]
	cert, _ := pem.Decode(tdxTCB.chain)
	spaces := func(n int) []byte { return bytes.Repeat([]byte{' '}, n) }
	withBody := func(f fixture, body []byte) fixture { f.body = body; return f }

	tests := []struct {
		name        string
		served      fixture // requested by get, served with body
		get         getFunc
		wantMention string // "" for none
	}{
		// TCB info.
		{name: "tdx-tcb-other-fmspc", served: withBody(tdxTCB, readCorpus(t, nearDi+"/tcbinfo.json")), get: tdxTCB.get, wantMention: "20A06F000000"},
		{name: "tdx-tcb-is-sgx-tcb", served: withBody(tdxTCB, sgxTCB.body), get: tdxTCB.get, wantMention: `"SGX"`},
		{name: "sgx-tcb-is-tdx-tcb", served: withBody(sgxTCB, tdxTCB.body), get: sgxTCB.get, wantMention: `"TDX"`},
		{name: "tdx-tcb-fmspc-asked-of-other", served: tdxTCB, get: tcbInfo(true, fmspcOut), wantMention: "B0C06F000000"},
		{name: "tdx-tcb-is-qe-identity", served: withBody(tdxTCB, tdxQE.body), get: tdxTCB.get},
		{name: "tdx-tcb-html", served: withBody(tdxTCB, []byte("<html>maintenance</html>")), get: tdxTCB.get},
		{name: "tdx-tcb-truncated", served: withBody(tdxTCB, tdxTCB.body[:len(tdxTCB.body)/2]), get: tdxTCB.get},
		{name: "tdx-tcb-trailing-text", served: withBody(tdxTCB, append(append([]byte{}, tdxTCB.body...), "{}"...)), get: tdxTCB.get},
		{name: "tdx-tcb-array", served: withBody(tdxTCB, append(append([]byte("["), tdxTCB.body...), ']')), get: tdxTCB.get},
		{name: "tdx-tcb-null-object", served: withBody(tdxTCB, []byte(`{"tcbInfo":null,"signature":"00"}`)), get: tdxTCB.get},
		{name: "tdx-tcb-key-case", served: withBody(tdxTCB, editJSON(t, tdxTCB.body, func(m map[string]json.RawMessage) {
			m["TcbInfo"] = m["tcbInfo"]
			delete(m, "tcbInfo")
		})), get: tdxTCB.get},
		{name: "tdx-tcb-no-signature", served: withBody(tdxTCB, editJSON(t, tdxTCB.body, func(m map[string]json.RawMessage) { delete(m, "signature") })), get: tdxTCB.get},
		{name: "tdx-tcb-short-signature", served: withBody(tdxTCB, editJSON(t, tdxTCB.body, func(m map[string]json.RawMessage) { m["signature"] = []byte(`"abcd"`) })), get: tdxTCB.get},
		{name: "tdx-tcb-no-id", served: withBody(tdxTCB, editInner(t, tdxTCB.body, "tcbInfo", "id", nil)), get: tdxTCB.get},
		{name: "tdx-tcb-no-fmspc", served: withBody(tdxTCB, editInner(t, tdxTCB.body, "tcbInfo", "fmspc", nil)), get: tdxTCB.get},
		{name: "tdx-tcb-fmspc-not-hex", served: withBody(tdxTCB, editInner(t, tdxTCB.body, "tcbInfo", "fmspc", "B0C06F00000Z")), get: tdxTCB.get},
		{name: "tdx-tcb-fmspc-number", served: withBody(tdxTCB, editInner(t, tdxTCB.body, "tcbInfo", "fmspc", 1)), get: tdxTCB.get},
		{name: "tdx-tcb-no-next-update", served: withBody(tdxTCB, editInner(t, tdxTCB.body, "tcbInfo", "nextUpdate", nil)), get: tdxTCB.get},
		{name: "tdx-tcb-bad-next-update", served: withBody(tdxTCB, editInner(t, tdxTCB.body, "tcbInfo", "nextUpdate", "next month")), get: tdxTCB.get},
		{name: "tdx-tcb-over-1mib", served: withBody(tdxTCB, append(append([]byte{}, tdxTCB.body...), spaces(1<<20)...)), get: tdxTCB.get, wantMention: "1 MiB"},
		// QE identity.
		{name: "tdx-qe-is-sgx-qe", served: withBody(tdxQE, sgxQE.body), get: tdxQE.get, wantMention: `"QE"`},
		{name: "sgx-qe-is-td-qe", served: withBody(sgxQE, tdxQE.body), get: sgxQE.get, wantMention: `"TD_QE"`},
		{name: "tdx-qe-is-tcb-info", served: withBody(tdxQE, tdxTCB.body), get: tdxQE.get},
		{name: "tdx-qe-id-lower-case", served: withBody(tdxQE, editInner(t, tdxQE.body, "enclaveIdentity", "id", "td_qe")), get: tdxQE.get},
		{name: "tdx-qe-over-1mib", served: withBody(tdxQE, append(append([]byte{}, tdxQE.body...), spaces(1<<20)...)), get: tdxQE.get, wantMention: "1 MiB"},
		// CRLs.
		{name: "platform-crl-is-processor-crl", served: withBody(platform, processor.body), get: platform.get, wantMention: "Processor"},
		{name: "processor-crl-is-platform-crl", served: withBody(processor, platform.body), get: processor.get, wantMention: "Platform"},
		{name: "platform-crl-is-root-crl", served: withBody(platform, root.body), get: platform.get, wantMention: "Root"},
		{name: "root-crl-is-platform-crl", served: withBody(root, platform.body), get: root.get, wantMention: "Platform"},
		{name: "platform-crl-pem", served: withBody(platform, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: platform.body})), get: platform.get},
		{name: "platform-crl-trailing-byte", served: withBody(platform, append(append([]byte{}, platform.body...), 0)), get: platform.get},
		{name: "platform-crl-is-cert", served: withBody(platform, cert.Bytes), get: platform.get},
		{name: "platform-crl-text", served: withBody(platform, []byte("no CRL today")), get: platform.get},
		{name: "root-crl-over-1mib", served: withBody(root, append(append([]byte{}, root.body...), spaces(1<<20)...)), get: root.get, wantMention: "1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newFakePCS(t)
			k.serveAnyQuery(tt.served)
			dir := t.TempDir()
			c := k.client()
			c.CacheDir = dir
			for call := 1; call <= 2; call++ {
				_, _, err := tt.get(t.Context(), c)
				if !errors.Is(err, pcs.ErrFetch) {
					t.Fatalf("call %d: err = %v, want ErrFetch", call, err)
				}
				if tt.wantMention != "" && !strings.Contains(err.Error(), tt.wantMention) {
					t.Errorf("error %q does not mention %q", err, tt.wantMention)
				}
				if files := testutil.CacheDocuments(t, dir); len(files) != 0 {
					t.Fatalf("call %d: a rejected body was cached: %v", call, files)
				}
			}
			if n := len(k.requests()); n != 2 {
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
	c := &pcs.Client{BaseURL: srv.URL, Now: fixedNow(validAt)}
	_, err := c.PCKCRL(t.Context(), "platform")
	if !errors.Is(err, pcs.ErrFetch) {
		t.Fatalf("err = %v, want ErrFetch", err)
	}
	if strings.Contains(err.Error(), "1 MiB") {
		t.Errorf("a body of exactly 1 MiB was refused for its size: %v", err)
	}
}

// version is one real issue of a document, with its validity.
type version struct {
	rel        string // body
	chain      string // issuer chain ("" for CRLs)
	issued     time.Time
	nextUpdate time.Time
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestFreshness: a cached document is used until its nextUpdate and
// fetched again after it; a document served past its nextUpdate is an
// error and leaves nothing in the cache. Each kind has two real issues of
// the same document, an older and a newer one.
func TestFreshness(t *testing.T) {
	kinds := []struct {
		name         string
		path         string
		query        url.Values
		header       string
		get          getFunc
		older, newer version
	}{
		{
			name: "tdx-tcb-info", path: "/tdx/certification/v4/tcb", query: url.Values{"fmspc": {"90C06F000000"}},
			header: "TCB-Info-Issuer-Chain", get: tcbInfo(true, fmspcOut),
			older: version{"tdx/automata/collateral/0625-tcbinfov3_90C06F000000.json", outDir + "/tcb_info_issuer_chain.pem", mustTime("2025-06-05T03:43:45Z"), mustTime("2025-07-05T03:43:45Z")},
			newer: version{outDir + "/tcbinfo.json", outDir + "/tcb_info_issuer_chain.pem", mustTime("2026-02-18T10:58:51Z"), mustTime("2026-03-20T10:58:51Z")},
		},
		{
			name: "tdx-qe-identity", path: "/tdx/certification/v4/qe/identity", query: url.Values{},
			header: "SGX-Enclave-Identity-Issuer-Chain", get: qeIdentity(true),
			older: version{tdxDir + "/qe_identity.json", tdxDir + "/tcb_info_issuer_chain.pem", mustTime("2025-06-19T10:32:27Z"), mustTime("2025-07-19T10:32:27Z")},
			newer: version{nearDi + "/qe_identity.json", nearDi + "/tcb_info_issuer_chain.pem", mustTime("2025-09-02T07:10:03Z"), mustTime("2025-10-02T07:10:03Z")},
		},
		{
			name: "pck-platform-crl", path: "/sgx/certification/v4/pckcrl", query: url.Values{"ca": {"platform"}, "encoding": {"der"}},
			get:   pckCRL("platform"),
			older: version{tdxDir + "/pck_crl.der", "", mustTime("2025-06-19T10:00:35Z"), mustTime("2025-07-19T10:00:35Z")},
			newer: version{nearDi + "/pck_crl.der", "", mustTime("2025-09-02T07:03:51Z"), mustTime("2025-10-02T07:03:51Z")},
		},
		{
			name: "root-crl", path: rootCRLPath, query: url.Values{},
			get:   rootCRL,
			older: version{"roots/intel/crl/IntelSGXRootCA_2024-03-20.der", "", mustTime("2024-03-20T19:19:30Z"), mustTime("2025-04-03T19:19:30Z")},
			newer: version{"roots/intel/crl/IntelSGXRootCA_2025-03-20.der", "", mustTime("2025-03-20T11:21:57Z"), mustTime("2026-04-03T11:21:57Z")},
		},
	}
	for _, kind := range kinds {
		doc := func(v version) fixture {
			f := fixture{path: kind.path, query: kind.query, body: readCorpus(t, v.rel), header: kind.header, wantChain: v.chain != ""}
			if v.chain != "" {
				f.chain = readCorpus(t, v.chain)
			}
			return f
		}
		older, newer := doc(kind.older), doc(kind.newer)
		olderValid := kind.older.issued.Add(24 * time.Hour)
		// A day after the older expired and the newer was issued.
		between := kind.older.nextUpdate
		if kind.newer.issued.After(between) {
			between = kind.newer.issued
		}
		between = between.Add(24 * time.Hour)
		after := kind.newer.nextUpdate.Add(24 * time.Hour)
		if !between.Before(kind.newer.nextUpdate) {
			t.Fatalf("%s: the newer version is not current a day after the older expired", kind.name)
		}
		tests := []struct {
			name     string
			cached   *version // in the cache before the call; nil: none
			now      time.Time
			wantErr  bool
			wantReqs int
			want     fixture // returned, and in the cache after the call
		}{
			{name: "fresh-in-cache", cached: &kind.newer, now: between, wantReqs: 0, want: newer},
			{name: "stale-in-cache-refetched", cached: &kind.older, now: between, wantReqs: 1, want: newer},
			{name: "stale-in-cache-and-served", cached: &kind.newer, now: after, wantErr: true, wantReqs: 1},
			{name: "stale-served", now: after, wantErr: true, wantReqs: 1},
			{name: "older-in-cache-still-fresh", cached: &kind.older, now: olderValid, wantReqs: 0, want: older},
		}
		for _, tt := range tests {
			t.Run(kind.name+"-"+tt.name, func(t *testing.T) {
				k := newFakePCS(t)
				k.serve(newer)
				dir := t.TempDir()
				if tt.cached != nil {
					// Seed the cache through the client, so the test does
					// not depend on the cache's file names or format.
					seed := newFakePCS(t)
					seed.serve(doc(*tt.cached))
					sc := seed.client()
					sc.CacheDir, sc.Now = dir, fixedNow(tt.cached.issued)
					if _, _, err := kind.get(t.Context(), sc); err != nil {
						t.Fatalf("seeding the cache: %v", err)
					}
				}
				c := k.client()
				c.CacheDir, c.Now = dir, fixedNow(tt.now)
				body, chain, err := kind.get(t.Context(), c)
				if n := len(k.requests()); n != tt.wantReqs {
					t.Errorf("%d requests, want %d", n, tt.wantReqs)
				}
				if tt.wantErr {
					if !errors.Is(err, pcs.ErrFetch) {
						t.Fatalf("err = %v, want ErrFetch", err)
					}
					if !strings.Contains(err.Error(), "nextUpdate") {
						t.Errorf("error %q does not mention nextUpdate", err)
					}
					if files := testutil.CacheDocuments(t, dir); len(files) != 0 {
						t.Errorf("stale document kept in the cache: %v", files)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				wantDoc(t, tt.want, body, chain)
				// What the cache holds now: ask it with PCS unreachable.
				offline := &pcs.Client{BaseURL: "http://127.0.0.1:1", RootCRLURL: "http://127.0.0.1:1" + rootCRLPath, CacheDir: dir, Now: c.Now}
				body, chain, err = kind.get(t.Context(), offline)
				if err != nil {
					t.Fatalf("not in the cache afterwards: %v", err)
				}
				wantDoc(t, tt.want, body, chain)
			})
		}
	}
}

func TestContextCancelled(t *testing.T) {
	k, fxs := allPCS(t)
	for _, f := range fxs {
		t.Run(f.name+"-before", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			before := len(k.requests())
			c := k.client()
			c.CacheDir = t.TempDir()
			_, _, err := f.get(ctx, c)
			if !errors.Is(err, pcs.ErrFetch) || !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want ErrFetch and context.Canceled", err)
			}
			if n := len(k.requests()) - before; n != 0 {
				t.Errorf("%d requests with a cancelled context, want 0", n)
			}
		})
		t.Run(f.name+"-during", func(t *testing.T) {
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
			c := &pcs.Client{BaseURL: srv.URL, RootCRLURL: srv.URL + rootCRLPath, Timeout: time.Hour, Now: fixedNow(validAt)}
			_, _, err := f.get(ctx, c)
			cancel()
			if !errors.Is(err, pcs.ErrFetch) || !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want ErrFetch and context.Canceled", err)
			}
		})
	}
}

func TestBadArguments(t *testing.T) {
	k, _ := allPCS(t)
	for _, ca := range []string{"", "Platform", "PROCESSOR", "root", "platform&encoding=pem", "../platform"} {
		t.Run(fmt.Sprintf("pck-crl-ca-%q", ca), func(t *testing.T) {
			before := len(k.requests())
			dir := t.TempDir()
			c := k.client()
			c.CacheDir = dir
			if _, err := c.PCKCRL(t.Context(), ca); !errors.Is(err, pcs.ErrFetch) {
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
		{name: "xdg-cache-home", xdg: abs, want: filepath.Join(abs, "assay", "intel-pcs")},
		// XDG Base Directory Specification: a relative path is invalid
		// and ignored.
		{name: "xdg-relative-ignored", xdg: "relative/cache", want: filepath.Join(home, ".cache", "assay", "intel-pcs")},
		{name: "xdg-unset", xdg: "", want: filepath.Join(home, ".cache", "assay", "intel-pcs")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.xdg != abs && runtime.GOOS != "linux" {
				t.Skip("the fallback is the platform's cache directory; ~/.cache is Linux")
			}
			t.Setenv("XDG_CACHE_HOME", tt.xdg)
			t.Setenv("HOME", home)
			got, err := pcs.DefaultCacheDir()
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
	k, fxs := allPCS(t)
	c := k.client()
	c.CacheDir = t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(fxs))
	for range 8 {
		for _, f := range fxs {
			wg.Go(func() {
				body, chain, err := f.get(t.Context(), c)
				switch {
				case err != nil:
					errs <- fmt.Errorf("%s: %w", f.name, err)
				case !bytes.Equal(body, f.body) || f.wantChain && !bytes.Equal(chain, f.chain):
					errs <- fmt.Errorf("%s: document differs from the one served", f.name)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, f := range fxs {
		offline := &pcs.Client{BaseURL: "http://127.0.0.1:1", RootCRLURL: "http://127.0.0.1:1" + rootCRLPath, CacheDir: c.CacheDir, Now: c.Now}
		if _, _, err := f.get(t.Context(), offline); err != nil {
			t.Errorf("%s not served from the cache afterwards: %v", f.name, err)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The zero Client asks Intel's own services, at exactly these URLs. The
// transport answers 404 itself: nothing leaves the machine.
func TestDefaultURLs(t *testing.T) {
	tests := []struct {
		name string
		get  getFunc
		want string
	}{
		{"tdx-tcb-info", tcbInfo(true, fmspcTDX), "https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=B0C06F000000"},
		{"sgx-tcb-info", tcbInfo(false, fmspcSGX), "https://api.trustedservices.intel.com/sgx/certification/v4/tcb?fmspc=00A067110000"},
		{"tdx-qe-identity", qeIdentity(true), "https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity"},
		{"sgx-qe-identity", qeIdentity(false), "https://api.trustedservices.intel.com/sgx/certification/v4/qe/identity"},
		{"pck-platform-crl", pckCRL("platform"), "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der"},
		{"pck-processor-crl", pckCRL("processor"), "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=processor&encoding=der"},
		{"root-crl", rootCRL, "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				got = append(got, r.Method+" "+r.URL.String())
				return &http.Response{StatusCode: http.StatusNotFound, Body: http.NoBody, Request: r}, nil
			})}
			c := &pcs.Client{HTTP: hc}
			if _, _, err := tt.get(t.Context(), c); !errors.Is(err, pcs.ErrFetch) {
				t.Fatalf("err = %v, want ErrFetch", err)
			}
			if want := []string{"GET " + tt.want}; !reflect.DeepEqual(got, want) {
				t.Errorf("requests %q, want %q", got, want)
			}
		})
	}
}

// A cache directory that cannot be written is not an error: the document
// is returned, and the failure logged.
func TestUnwritableCache(t *testing.T) {
	k, fxs := allPCS(t)
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range fxs {
		t.Run(f.name, func(t *testing.T) {
			var logs bytes.Buffer
			c := k.client()
			c.CacheDir = notDir
			c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			body, chain, err := f.get(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			wantDoc(t, f, body, chain)
			if !strings.Contains(logs.String(), "could not cache") {
				t.Errorf("cache write failure not logged:\n%s", logs.String())
			}
		})
	}
}
