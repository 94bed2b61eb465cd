package fakevendor_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/collateral/kds"
	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/internal/testutil/fakevendor"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// TestLoadCorpus fetches every item LoadCorpus serves with the client
// that needs it, at a time the document is current: the paths, queries and
// headers are those collateral/kds and collateral/pcs request and read.
func TestLoadCorpus(t *testing.T) {
	s := fakevendor.New(t, fakevendor.Options{})
	items := s.LoadCorpus(t, testutil.CorpusDir(t))

	byPath := map[string]fakevendor.Item{}
	for _, it := range items {
		byPath[it.Path] = it
	}
	// What the corpus is known to hold (MANIFEST.md).
	for _, p := range []string{
		"/vcek/v1/Milan/cert_chain", "/vcek/v1/Genoa/cert_chain", "/vcek/v1/Turin/cert_chain",
		"/vlek/v1/Milan/cert_chain", "/vlek/v1/Genoa/cert_chain", "/vlek/v1/Turin/cert_chain",
		"/vcek/v1/Milan/crl", "/vcek/v1/Genoa/crl",
		// snp-milan-vcek-trustee: reported TCB bl=3 tee=0 snp=8 ucode=115.
		"/vcek/v1/Milan/c38427a30d4c7af9d96f7a15b97269825a64cb76a2352ffd5d18115d89ad473f8e8c0bcd9a5d9286612bad4aadfb4426205a3b9e4fea82301135a170e477524e?blSPL=3&snpSPL=8&teeSPL=0&ucodeSPL=115",
		// snp-oak-turin-oc: an 8-byte hwID and fmcSPL.
		"/vcek/v1/Turin/3b42092f69c656d3?blSPL=1&fmcSPL=0&snpSPL=2&teeSPL=0&ucodeSPL=71",
		"/tdx/certification/v4/tcb?fmspc=B0C06F000000", "/sgx/certification/v4/tcb?fmspc=00A067110000",
		"/tdx/certification/v4/qe/identity", "/sgx/certification/v4/qe/identity",
		"/sgx/certification/v4/pckcrl?ca=platform&encoding=der", "/sgx/certification/v4/pckcrl?ca=processor&encoding=der",
		fakevendor.RootCRLPath,
	} {
		if _, ok := byPath[p]; !ok {
			t.Errorf("LoadCorpus does not serve %s", p)
		}
	}

	for _, it := range items {
		t.Run(it.Kind+strings.ReplaceAll(it.Path, "/", "-"), func(t *testing.T) {
			// Inside the document's validity: the clients refuse a CRL,
			// TCB info or QE identity past its nextUpdate.
			now := fixedNow(it.ThisUpdate.Add(time.Minute))
			kc := &kds.Client{BaseURL: s.URL, Now: now}
			pc := &pcs.Client{BaseURL: s.URL, RootCRLURL: s.RootCRLURL(), Now: now}
			u, err := url.Parse(it.Path)
			if err != nil {
				t.Fatal(err)
			}
			seg := strings.Split(u.Path, "/")
			var got []byte
			switch it.Kind {
			case fakevendor.KindVCEK:
				cert, err := kc.VCEK(t.Context(), it.VEK.Product(), it.VEK.HWID, it.VEK.TCB)
				if err != nil {
					t.Fatal(err)
				}
				got = cert.Raw
			case fakevendor.KindCertChain:
				p, k := product(t, seg[3]), keyType(seg[1])
				certs, err := kc.CertChain(t.Context(), p, k)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range certs {
					got = append(got, c.Raw...)
				}
				// The body is PEM: compare what it certifies.
				var want []byte
				for _, c := range pemDERs(it.Body) {
					want = append(want, c...)
				}
				it.Body = want
			case fakevendor.KindCRL:
				crl, err := kc.CRL(t.Context(), product(t, seg[3]), keyType(seg[1]))
				if err != nil {
					t.Fatal(err)
				}
				got = crl.Raw
			case fakevendor.KindTCBInfo:
				var fmspc [6]byte
				if _, err := hex.Decode(fmspc[:], []byte(u.Query().Get("fmspc"))); err != nil {
					t.Fatal(err)
				}
				body, chain, err := pc.TCBInfo(t.Context(), seg[1] == "tdx", fmspc)
				if err != nil {
					t.Fatal(err)
				}
				wantChain(t, it, "TCB-Info-Issuer-Chain", chain)
				got = body
			case fakevendor.KindQEIdentity:
				body, chain, err := pc.QEIdentity(t.Context(), seg[1] == "tdx")
				if err != nil {
					t.Fatal(err)
				}
				wantChain(t, it, "SGX-Enclave-Identity-Issuer-Chain", chain)
				got = body
			case fakevendor.KindPCKCRL:
				if got, err = pc.PCKCRL(t.Context(), u.Query().Get("ca")); err != nil {
					t.Fatal(err)
				}
			case fakevendor.KindRootCRL:
				if got, err = pc.RootCRL(t.Context()); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("unknown kind %q", it.Kind)
			}
			if !bytes.Equal(got, it.Body) {
				t.Errorf("the client returned %d bytes, not the %d of %s", len(got), len(it.Body), it.File)
			}
			if n, m := s.Count(it.Path), s.Served(it.Path); n != 1 || m != 1 {
				t.Errorf("Count %d, Served %d; want 1 and 1", n, m)
			}
		})
	}
}

func fixedNow(t time.Time) func() time.Time { return func() time.Time { return t } }

func product(t *testing.T, name string) sevsnp.Product {
	t.Helper()
	p, err := sevsnp.ParseProduct(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func keyType(s string) sevsnp.KeyType {
	if s == "vlek" {
		return sevsnp.KeyVLEK
	}
	return sevsnp.KeyVCEK
}

func wantChain(t *testing.T, it fakevendor.Item, header string, got []byte) {
	t.Helper()
	want, err := url.PathUnescape(it.Header[header])
	if err != nil || want == "" {
		t.Fatalf("item has no %s header (%v)", header, err)
	}
	if string(got) != want {
		t.Errorf("issuer chain returned differs from the %s header served", header)
	}
}

// response is what a plain client saw.
type response struct {
	status int
	header http.Header
	body   string
	err    error // from the request or the body read
}

func get(ctx context.Context, u string) response {
	return do(ctx, http.MethodGet, u)
}

func do(ctx context.Context, method, u string) response {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return response{err: err}
	}
	// A fresh connection each time: a truncated response closes its own.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

func TestFaults(t *testing.T) {
	type step struct {
		path       string
		method     string // "" is GET
		status     int    // 0: the request fails
		body       string // checked when status is 200
		retryAfter string
		truncated  bool // the body read ends in an unexpected EOF
	}
	tests := []struct {
		name   string
		opts   fakevendor.Options
		faults func(s *fakevendor.Server)
		steps  []step
		count  map[string]int // Count after the steps
		served map[string]int // Served after the steps
		total  int
	}{
		{
			name: "served-and-unregistered",
			steps: []step{
				{path: "/a", status: 200, body: "A"},
				{path: "/nope", status: 404},
				{path: "/a", method: http.MethodPost, status: 405},
			},
			count: map[string]int{"/a": 2, "/nope": 1}, served: map[string]int{"/a": 1, "/nope": 0}, total: 3,
		},
		{
			name: "query-exact-any-order",
			steps: []step{
				{path: "/q?y=2&x=1", status: 200, body: "Q"},
				{path: "/q?x=1", status: 404},
				{path: "/q", status: 404},
			},
			count:  map[string]int{"/q": 3, "/q?x=1&y=2": 1, "/q?x=1": 1},
			served: map[string]int{"/q": 1, "/q?x=1&y=2": 1},
			total:  3,
		},
		{
			name:   "fail429-with-retry-after",
			faults: func(s *fakevendor.Server) { s.Fail429(2, "7") },
			steps: []step{
				{path: "/a", status: 429, retryAfter: "7"},
				{path: "/b", status: 429, retryAfter: "7"},
				{path: "/a", status: 200, body: "A"},
			},
			count: map[string]int{"/a": 2, "/b": 1}, served: map[string]int{"/a": 1, "/b": 0}, total: 3,
		},
		{
			name:   "fail429-without-retry-after",
			faults: func(s *fakevendor.Server) { s.Fail429(1, "") },
			steps:  []step{{path: "/a", status: 429}, {path: "/a", status: 200, body: "A"}},
			total:  2,
		},
		{
			name:   "fail500-one-path",
			faults: func(s *fakevendor.Server) { s.Path("/a").Fail500(1) },
			steps: []step{
				{path: "/b", status: 200, body: "B"},
				{path: "/a", status: 500},
				{path: "/a", status: 200, body: "A"},
			},
			count: map[string]int{"/a": 2, "/b": 1}, served: map[string]int{"/a": 1, "/b": 1}, total: 3,
		},
		{
			name:   "path-faults-before-global",
			faults: func(s *fakevendor.Server) { s.Path("/a").Fail429(1, "1"); s.Fail429(1, "2") },
			steps: []step{
				{path: "/a", status: 429, retryAfter: "1"},
				{path: "/a", status: 429, retryAfter: "2"},
				{path: "/a", status: 200, body: "A"},
			},
			total: 3,
		},
		{
			name:   "truncate",
			faults: func(s *fakevendor.Server) { s.Truncate(1) },
			steps: []step{
				{path: "/nope", status: 404}, // a 404 does not use up the truncation
				{path: "/a", status: 200, truncated: true},
				{path: "/a", status: 200, body: "A"},
			},
			count: map[string]int{"/a": 2}, served: map[string]int{"/a": 1}, total: 3,
		},
		{
			name:   "down-503",
			faults: func(s *fakevendor.Server) { s.Down(true) },
			steps:  []step{{path: "/a", status: 503}, {path: "/b", status: 503}},
			count:  map[string]int{"/a": 1}, served: map[string]int{"/a": 0}, total: 2,
		},
		{
			name:   "path-down",
			faults: func(s *fakevendor.Server) { s.Path("/a").Down(true) },
			steps:  []step{{path: "/a", status: 503}, {path: "/b", status: 200, body: "B"}},
			total:  2,
		},
		{
			name:   "down-refused",
			opts:   fakevendor.Options{Refuse: true},
			faults: func(s *fakevendor.Server) { s.Down(true) },
			steps:  []step{{path: "/a", status: 0}},
			total:  0,
		},
		{
			name:   "latency",
			opts:   fakevendor.Options{Latency: time.Millisecond},
			faults: func(s *fakevendor.Server) { s.Path("/a").Latency(time.Millisecond) },
			steps:  []step{{path: "/a", status: 200, body: "A"}},
			total:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakevendor.New(t, tt.opts)
			s.Put("/a", []byte("A"), map[string]string{"X-Doc": "a"})
			s.Put("/b", []byte("B"), nil)
			s.Put("/q?x=1&y=2", []byte("Q"), nil)
			if tt.faults != nil {
				tt.faults(s)
			}
			for i, st := range tt.steps {
				method := st.method
				if method == "" {
					method = http.MethodGet
				}
				r := do(t.Context(), method, s.URL+st.path)
				switch {
				case st.status == 0:
					if r.err == nil {
						t.Errorf("step %d: %s answered %d, want a failed request", i, st.path, r.status)
					}
					continue
				case r.status != st.status:
					t.Fatalf("step %d: %s: status %d (err %v), want %d", i, st.path, r.status, r.err, st.status)
				case st.truncated:
					if !errors.Is(r.err, io.ErrUnexpectedEOF) {
						t.Errorf("step %d: body read err = %v, want an unexpected EOF", i, r.err)
					}
				case r.err != nil:
					t.Errorf("step %d: %v", i, r.err)
				case st.status == 200 && r.body != st.body:
					t.Errorf("step %d: body %q, want %q", i, r.body, st.body)
				}
				if got := r.header.Get("Retry-After"); got != st.retryAfter {
					t.Errorf("step %d: Retry-After %q, want %q", i, got, st.retryAfter)
				}
				if st.path == "/a" && st.status == 200 && !st.truncated && r.header.Get("X-Doc") != "a" {
					t.Errorf("step %d: registered header not sent", i)
				}
			}
			for p, n := range tt.count {
				if got := s.Count(p); got != n {
					t.Errorf("Count(%s) = %d, want %d", p, got, n)
				}
			}
			for p, n := range tt.served {
				if got := s.Served(p); got != n {
					t.Errorf("Served(%s) = %d, want %d", p, got, n)
				}
			}
			if got := s.Total(); got != tt.total {
				t.Errorf("Total() = %d, want %d", got, tt.total)
			}
		})
	}
}

// Down(false) brings a refusing server back at the same URL.
func TestRefuseAndRecover(t *testing.T) {
	s := fakevendor.New(t, fakevendor.Options{Refuse: true})
	s.Put("/a", []byte("A"), nil)
	s.Down(true)
	if r := get(t.Context(), s.URL+"/a"); r.err == nil {
		t.Fatalf("down: status %d, want a refused connection", r.status)
	}
	s.Down(false)
	if r := get(t.Context(), s.URL+"/a"); r.err != nil || r.status != 200 || r.body != "A" {
		t.Fatalf("up again: status %d, body %q, err %v", r.status, r.body, r.err)
	}
	if n := s.Total(); n != 1 {
		t.Errorf("Total() = %d, want 1 (refused connections are no requests)", n)
	}
}

// A client that gives up during injected latency ends the handler: the
// test's cleanup does not wait for the latency.
func TestLatencyHonoursClientContext(t *testing.T) {
	s := fakevendor.New(t, fakevendor.Options{Latency: time.Hour})
	s.Put("/a", []byte("A"), nil)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for s.Count("/a") == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if r := get(ctx, s.URL+"/a"); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", r.err)
	}
}

func TestPutReplacesAndCopies(t *testing.T) {
	s := fakevendor.New(t, fakevendor.Options{})
	body := []byte("one")
	s.Put("/a", body, nil)
	body[0] = 'X' // the server keeps its own copy
	if r := get(t.Context(), s.URL+"/a"); r.body != "one" {
		t.Errorf("body %q, want %q", r.body, "one")
	}
	s.Put("/a", []byte("two"), nil)
	if r := get(t.Context(), s.URL+"/a"); r.body != "two" {
		t.Errorf("body %q after a second Put, want %q", r.body, "two")
	}
}

func TestEscapeChain(t *testing.T) {
	in := "-----BEGIN CERTIFICATE-----\nab+/=~_.-\n"
	got := fakevendor.EscapeChain([]byte(in))
	if want := "-----BEGIN%20CERTIFICATE-----%0Aab%2B%2F%3D~_.-%0A"; got != want {
		t.Errorf("EscapeChain = %q, want %q", got, want)
	}
	if back, err := url.PathUnescape(got); err != nil || back != in {
		t.Errorf("PathUnescape(EscapeChain(x)) = %q, %v; want x", back, err)
	}
}

// pemDERs returns the DER bytes of the certificates in a PEM file.
func pemDERs(b []byte) [][]byte {
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
