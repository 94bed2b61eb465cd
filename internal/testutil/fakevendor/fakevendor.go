// Package fakevendor is a loopback AMD KDS and Intel PCS for tests. One
// server answers both vendors' paths, exactly as collateral/kds and
// collateral/pcs request them (see their package comments):
//
//	/vcek/v1/{product}/{hwid}?blSPL=&teeSPL=&snpSPL=&ucodeSPL=[&fmcSPL=]
//	/{vcek,vlek}/v1/{product}/cert_chain, /{vcek,vlek}/v1/{product}/crl
//	/{sgx,tdx}/certification/v4/tcb?fmspc=, /{sgx,tdx}/certification/v4/qe/identity
//	/sgx/certification/v4/pckcrl?ca={platform,processor}&encoding=der
//	/IntelSGXRootCA.der (the Intel SGX Root CA CRL; RootCRLURL)
//
// It serves what the test registers with Put, or what LoadCorpus finds in
// the shared corpus; anything else is 404. A document registered with a
// query is served only for exactly that query, in any order, as KDS serves
// a VCEK only for the TCB it certifies.
//
// Faults are injected for every path (the Server's methods) or for one
// (Path): latency, a number of 429 or 500 answers, truncated bodies, and
// being down. Requests are counted, those that failed included, so a test
// can say how many reached the vendor.
//
// This package must not import internal/testutil (internal/archtest
// forbids a non-test import of it); tests pass testutil.CorpusDir to
// LoadCorpus.
package fakevendor

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// RootCRLPath is where the server serves the Intel SGX Root CA CRL: a
// pcs.Client's RootCRLURL is URL+RootCRLPath.
const RootCRLPath = "/IntelSGXRootCA.der"

// Options configure a Server.
type Options struct {
	// Latency delays every response (and Down's 503s); zero means none.
	// Path(p).Latency adds to it for one path.
	Latency time.Duration
	// Refuse makes Down(true) close the listener, so that connections are
	// refused, rather than answer 503; Down(false) listens again on the
	// same address. Requests refused are not counted: there are none.
	Refuse bool
}

// Server is a loopback KDS and PCS; New starts one and the test's cleanup
// stops it.
type Server struct {
	// URL is the base URL of both vendors: a kds.Client's or pcs.Client's
	// BaseURL.
	URL string

	t    testing.TB
	opts Options

	mu       sync.Mutex
	items    map[string]item // by key: path, and "?" and the canonical query if any
	all      faults
	paths    map[string]*faults // by the key Path was given
	requests []string           // keys of every request received
	served   []string           // keys of every 2xx response sent whole
	hs       *httptest.Server   // nil while refusing connections
	addr     string
	hold     chan struct{} // requests wait for it to close (Hold); nil: none
}

type item struct {
	body   []byte
	header map[string]string
}

// faults is the fault state of one scope: every path, or one.
type faults struct {
	latency    time.Duration
	n429       int
	retryAfter string
	n500       int
	nTruncate  int
	down       bool
}

// New starts a server on the loopback interface.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{t: t, opts: o, items: map[string]item{}, paths: map[string]*faults{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fakevendor: %v", err)
	}
	s.addr = ln.Addr().String()
	s.start(ln)
	s.URL = "http://" + s.addr
	t.Cleanup(func() {
		s.mu.Lock()
		hs := s.hs
		s.hs = nil
		s.mu.Unlock()
		if hs != nil {
			hs.Close()
		}
	})
	return s
}

func (s *Server) start(ln net.Listener) {
	hs := httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	s.mu.Lock()
	s.hs = hs
	s.mu.Unlock()
}

// RootCRLURL is URL+RootCRLPath, a pcs.Client's RootCRLURL.
func (s *Server) RootCRLURL() string { return s.URL + RootCRLPath }

// Put serves body, with the given response headers, at path: a path alone
// ("/vcek/v1/Milan/cert_chain"), or a path and a query
// ("/sgx/certification/v4/tcb?fmspc=00A067110000"), which must then match
// exactly (in any order). A second Put of the same path replaces the
// first.
func (s *Server) Put(path string, body []byte, headers map[string]string) {
	s.t.Helper()
	key, err := canonical(path)
	if err != nil {
		s.t.Fatalf("fakevendor: Put(%q): %v", path, err)
	}
	h := make(map[string]string, len(headers))
	for k, v := range headers {
		h[k] = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[key] = item{body: append([]byte(nil), body...), header: h}
}

// Count is the number of requests received for path (a path alone counts
// every query; a path with a query, that query only), failed ones
// included.
func (s *Server) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count(s.requests, path)
}

// Served is the number of 2xx responses with the whole body for path
// (counted as Count counts; a truncated one is not): the successful
// upstream fetches.
func (s *Server) Served(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count(s.served, path)
}

// Total is the number of requests received, for any path.
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func (s *Server) count(keys []string, path string) int {
	want, err := canonical(path)
	if err != nil {
		s.t.Fatalf("fakevendor: %q: %v", path, err)
	}
	n := 0
	for _, k := range keys {
		if matches(want, k) {
			n++
		}
	}
	return n
}

// Faults injects faults into the requests of one path, as Server.Path
// returns it, or of every path (Server.All).
type Faults struct {
	s     *Server
	scope func() *faults // called with s.mu held
}

// All returns the faults of every path; the Server's own fault methods
// are shorthands for it.
func (s *Server) All() *Faults {
	return &Faults{s: s, scope: func() *faults { return &s.all }}
}

// Path returns the faults of the requests for path, matched as Count
// matches them. They apply before those of every path.
func (s *Server) Path(path string) *Faults {
	s.t.Helper()
	key, err := canonical(path)
	if err != nil {
		s.t.Fatalf("fakevendor: Path(%q): %v", path, err)
	}
	return &Faults{s: s, scope: func() *faults {
		f, ok := s.paths[key]
		if !ok {
			f = &faults{}
			s.paths[key] = f
		}
		return f
	}}
}

func (f *Faults) with(edit func(*faults)) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	edit(f.scope())
}

// Latency delays each response by d, besides Options.Latency.
func (f *Faults) Latency(d time.Duration) { f.with(func(x *faults) { x.latency = d }) }

// Fail429 answers the next n requests 429 Too Many Requests, with
// retryAfter as the Retry-After header unless it is empty.
func (f *Faults) Fail429(n int, retryAfter string) {
	f.with(func(x *faults) { x.n429, x.retryAfter = n, retryAfter })
}

// Fail500 answers the next n requests 500 Internal Server Error.
func (f *Faults) Fail500(n int) { f.with(func(x *faults) { x.n500 = n }) }

// Truncate cuts short the next n responses of registered documents: the
// full Content-Length, half the body, and the connection closed, which
// the client reads as an unexpected EOF.
func (f *Faults) Truncate(n int) { f.with(func(x *faults) { x.nTruncate = n }) }

// Down makes the path, or every path, answer 503 Service Unavailable
// while down is true (Server.Down, with Options.Refuse, refuses
// connections instead).
func (f *Faults) Down(down bool) { f.with(func(x *faults) { x.down = down }) }

// Latency is All().Latency.
func (s *Server) Latency(d time.Duration) { s.All().Latency(d) }

// Fail429 is All().Fail429.
func (s *Server) Fail429(n int, retryAfter string) { s.All().Fail429(n, retryAfter) }

// Fail500 is All().Fail500.
func (s *Server) Fail500(n int) { s.All().Fail500(n) }

// Truncate is All().Truncate.
func (s *Server) Truncate(n int) { s.All().Truncate(n) }

// Down takes every path down (503), or with Options.Refuse closes the
// listener; Down(false) brings the server back at the same URL.
func (s *Server) Down(down bool) {
	s.t.Helper()
	if !s.opts.Refuse {
		s.All().Down(down)
		return
	}
	s.mu.Lock()
	hs := s.hs
	if down {
		s.hs = nil
	}
	s.mu.Unlock()
	switch {
	case down && hs != nil:
		// Close waits for requests in flight, which take s.mu: not held.
		hs.Close()
	case !down && hs == nil:
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			s.t.Fatalf("fakevendor: listening again on %s: %v", s.addr, err)
		}
		s.start(ln)
	}
}

// Hold makes every request received from now on wait, counted but not
// answered, until release is called (or the client gives up): a test can
// tell what finished before the vendor answered without measuring time.
// Release is idempotent.
func (s *Server) Hold() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.hold = gate
	s.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			s.mu.Lock()
			if s.hold == gate {
				s.hold = nil
			}
			s.mu.Unlock()
			close(gate)
		})
	}
	s.t.Cleanup(release)
	return release
}

// serve answers one request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Path
	if q := r.URL.Query().Encode(); q != "" {
		key += "?" + q
	}
	s.mu.Lock()
	s.requests = append(s.requests, key)
	// The scopes that apply, the path's first.
	var scopes []*faults
	for k, f := range s.paths {
		if matches(k, key) {
			scopes = append(scopes, f)
		}
	}
	scopes = append(scopes, &s.all)
	latency := s.opts.Latency
	down := false
	for _, f := range scopes {
		latency += f.latency
		down = down || f.down
	}
	it, found := s.items[key]
	status, retryAfter, truncate := 0, "", false
	if !down {
		status, retryAfter, truncate = take(scopes, found)
	}
	hold := s.hold
	s.mu.Unlock()

	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case down:
		http.Error(w, "down", http.StatusServiceUnavailable)
	case status == http.StatusTooManyRequests:
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		http.Error(w, "rate limited", status)
	case status != 0:
		http.Error(w, "injected failure", status)
	case r.Method != http.MethodGet:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	case !found:
		http.NotFound(w, r)
	case truncate:
		s.truncated(w, it)
	default:
		for k, v := range it.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(it.body)))
		// Counted before the write: once the last byte is out, the client
		// may look at Served before this handler runs again.
		s.mu.Lock()
		s.served = append(s.served, key)
		s.mu.Unlock()
		_, _ = w.Write(it.body)
	}
}

// take consumes one injected failure, if any scope has one left: 429s
// first, then 500s, then (for a registered document) a truncation.
func take(scopes []*faults, found bool) (status int, retryAfter string, truncate bool) {
	for _, f := range scopes {
		if f.n429 > 0 {
			f.n429--
			return http.StatusTooManyRequests, f.retryAfter, false
		}
	}
	for _, f := range scopes {
		if f.n500 > 0 {
			f.n500--
			return http.StatusInternalServerError, "", false
		}
	}
	if found {
		for _, f := range scopes {
			if f.nTruncate > 0 {
				f.nTruncate--
				return 0, "", true
			}
		}
	}
	return 0, "", false
}

// truncated writes the head of a response with the full Content-Length
// and half the body, then closes the connection.
func (s *Server) truncated(w http.ResponseWriter, it item) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot truncate: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	n := len(it.body)
	if n == 0 {
		n = 1 // announce a byte that never comes
	}
	bw := buf.Writer
	fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n", n)
	for k, v := range it.header {
		fmt.Fprintf(bw, "%s: %s\r\n", k, v)
	}
	bw.WriteString("\r\n")
	bw.Write(it.body[:len(it.body)/2])
	bw.Flush()
}

// canonical is path with its query, if any, in canonical (sorted) form.
func canonical(path string) (string, error) {
	p, q, ok := strings.Cut(path, "?")
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("a path starts with /")
	}
	if !ok || q == "" {
		return p, nil
	}
	v, err := url.ParseQuery(q)
	if err != nil {
		return "", err
	}
	return p + "?" + v.Encode(), nil
}

// matches says whether a request key falls under a registered key: the
// same path, and the same query if the registered key has one.
func matches(registered, request string) bool {
	if strings.Contains(registered, "?") {
		return registered == request
	}
	p, _, _ := strings.Cut(request, "?")
	return p == registered
}
