package fetch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assay-dev/assay/collateral/fetch"
)

// reply is one scripted answer of a test server.
type reply struct {
	status     int // 0 is 200
	header     map[string]string
	body       string
	hangup     bool // close the connection without answering
	truncate   bool // announce the body's length, send half, close
	chunkedCut bool // chunked encoding, closed in the middle of a chunk
	hang       bool // answer nothing until the client gives up
}

// script is a loopback server answering request i with replies[i], and
// every request after the last with the last reply.
type script struct {
	*httptest.Server
	mu      sync.Mutex
	replies []reply
	headers []http.Header // of each request
	entered chan struct{} // one value per request, if not nil
}

func newScript(t *testing.T, replies ...reply) *script {
	t.Helper()
	s := &script{replies: replies}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *script) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := min(len(s.headers), len(s.replies)-1)
	s.headers = append(s.headers, r.Header.Clone())
	rp := s.replies[i]
	entered := s.entered
	s.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	switch {
	case rp.hang:
		<-r.Context().Done()
	case rp.hangup, rp.truncate, rp.chunkedCut:
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		switch {
		case rp.truncate:
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(rp.body), rp.body[:len(rp.body)/2])
		case rp.chunkedCut:
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s", len(rp.body), rp.body[:len(rp.body)/2])
		}
		buf.Flush()
	default:
		for k, v := range rp.header {
			w.Header().Set(k, v)
		}
		if rp.status != 0 {
			w.WriteHeader(rp.status)
		}
		w.Write([]byte(rp.body))
	}
}

func (s *script) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.headers)
}

// sleeps records the waits a Fetcher asks for, and returns at once.
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

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func TestRetries(t *testing.T) {
	ok := reply{body: "document"}
	tests := []struct {
		name        string
		replies     []reply
		maxAttempts int
		maxBody     int64
		wantReqs    int
		wantStatus  int    // of the Response, or of the *HTTPError
		wantBody    string // on success
		wantErr     []error
		wantNotErr  []error
		attempts    int // HTTPError.Attempts, when an *HTTPError is expected
	}{
		{name: "ok", replies: []reply{ok}, wantReqs: 1, wantStatus: 200, wantBody: "document"},
		{name: "no-content", replies: []reply{{status: 204}}, wantReqs: 1, wantStatus: 204},
		{name: "not-found-not-retried", replies: []reply{{status: 404}}, wantReqs: 1, wantStatus: 404, attempts: 1,
			wantErr: []error{fetch.ErrNotFound}, wantNotErr: []error{fetch.ErrRateLimited}},
		{name: "forbidden-not-retried", replies: []reply{{status: 403}}, wantReqs: 1, wantStatus: 403, attempts: 1,
			wantNotErr: []error{fetch.ErrNotFound}},
		{name: "bad-request-not-retried", replies: []reply{{status: 400}}, wantReqs: 1, wantStatus: 400, attempts: 1},
		{name: "not-modified-not-retried", replies: []reply{{status: 304}}, wantReqs: 1, wantStatus: 304, attempts: 1},
		{name: "500-then-ok", replies: []reply{{status: 500}, ok}, wantReqs: 2, wantStatus: 200, wantBody: "document"},
		{name: "502-503-504-then-ok", replies: []reply{{status: 502}, {status: 503}, {status: 504}, ok}, wantReqs: 4, wantStatus: 200, wantBody: "document"},
		{name: "500-always", replies: []reply{{status: 500}}, wantReqs: 4, wantStatus: 500, attempts: 4,
			wantNotErr: []error{fetch.ErrRateLimited}},
		{name: "429-twice-then-ok", replies: []reply{{status: 429}, {status: 429}, ok}, wantReqs: 3, wantStatus: 200, wantBody: "document"},
		{name: "429-always", replies: []reply{{status: 429}}, wantReqs: 4, wantStatus: 429, attempts: 4,
			wantErr: []error{fetch.ErrRateLimited}},
		{name: "last-failure-429", replies: []reply{{status: 503}, {status: 500}, {status: 500}, {status: 429}}, wantReqs: 4, wantStatus: 429, attempts: 4,
			wantErr: []error{fetch.ErrRateLimited}},
		{name: "last-failure-500", replies: []reply{{status: 429}, {status: 429}, {status: 429}, {status: 500}}, wantReqs: 4, wantStatus: 500, attempts: 4,
			wantNotErr: []error{fetch.ErrRateLimited}},
		{name: "max-attempts-1", replies: []reply{{status: 500}}, maxAttempts: 1, wantReqs: 1, wantStatus: 500, attempts: 1},
		{name: "hangup-then-ok", replies: []reply{{hangup: true}, ok}, wantReqs: 2, wantStatus: 200, wantBody: "document"},
		{name: "hangup-always", replies: []reply{{hangup: true}}, wantReqs: 4},
		{name: "truncated-then-ok", replies: []reply{{truncate: true, body: "document"}, ok}, wantReqs: 2, wantStatus: 200, wantBody: "document"},
		{name: "chunk-cut-then-ok", replies: []reply{{chunkedCut: true, body: "document"}, ok}, wantReqs: 2, wantStatus: 200, wantBody: "document"},
		{name: "truncated-always", replies: []reply{{truncate: true, body: "document"}}, wantReqs: 4,
			wantErr: []error{fetch.ErrTruncated}},
		{name: "too-large-not-retried", replies: []reply{{body: "0123456789!"}}, maxBody: 10, wantReqs: 1,
			wantErr: []error{fetch.ErrTooLarge}},
		{name: "exactly-max-body", replies: []reply{{body: "0123456789"}}, maxBody: 10, wantReqs: 1, wantStatus: 200, wantBody: "0123456789"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, tt.replies...)
			var sl sleeps
			f := &fetch.Fetcher{MaxAttempts: tt.maxAttempts, MaxBody: tt.maxBody, Sleep: sl.sleep}
			resp, err := f.Get(t.Context(), s.URL+"/doc")
			if n := s.requests(); n != tt.wantReqs {
				t.Errorf("%d requests, want %d", n, tt.wantReqs)
			}
			if n := len(sl.got()); n != max(tt.wantReqs-1, 0) && err == nil {
				t.Errorf("%d waits, want one between each two attempts", n)
			}
			if tt.wantBody != "" || (tt.wantErr == nil && tt.attempts == 0 && tt.wantStatus != 0) {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if resp.Status != tt.wantStatus || string(resp.Body) != tt.wantBody {
					t.Errorf("got %d %q, want %d %q", resp.Status, resp.Body, tt.wantStatus, tt.wantBody)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %d %q, want an error", resp.Status, resp.Body)
			}
			if !strings.Contains(err.Error(), s.URL+"/doc") {
				t.Errorf("error %q does not name the URL", err)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want %v", err, want)
				}
			}
			for _, not := range tt.wantNotErr {
				if errors.Is(err, not) {
					t.Errorf("err = %v, which is %v", err, not)
				}
			}
			var he *fetch.HTTPError
			if got := errors.As(err, &he); got != (tt.attempts != 0) {
				t.Fatalf("err = %v; an *HTTPError: %v, want %v", err, got, tt.attempts != 0)
			}
			if he != nil && (he.Status != tt.wantStatus || he.Attempts != tt.attempts || he.URL != s.URL+"/doc") {
				t.Errorf("HTTPError %+v, want status %d after %d attempts", he, tt.wantStatus, tt.attempts)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration, layout string) string { return now.Add(d).Format(layout) }
	tests := []struct {
		name       string
		status     int
		retryAfter string
		maxWait    time.Duration
		wantSleep  time.Duration // the one wait before the second attempt
		wantFail   bool          // the fetch fails at once instead
	}{
		{name: "delta-seconds", status: 429, retryAfter: "3", wantSleep: 3 * time.Second},
		{name: "delta-seconds-zero", status: 429, retryAfter: "0", wantSleep: 0},
		{name: "delta-seconds-spaces", status: 429, retryAfter: " 4 ", wantSleep: 4 * time.Second},
		{name: "503-delta-seconds", status: 503, retryAfter: "5", wantSleep: 5 * time.Second},
		{name: "http-date-imf-fixdate", status: 429, retryAfter: date(7*time.Second, http.TimeFormat), wantSleep: 7 * time.Second},
		{name: "http-date-rfc850", status: 503, retryAfter: date(8*time.Second, "Monday, 02-Jan-06 15:04:05 GMT"), wantSleep: 8 * time.Second},
		{name: "http-date-asctime", status: 429, retryAfter: date(9*time.Second, time.ANSIC), wantSleep: 9 * time.Second},
		{name: "http-date-past", status: 429, retryAfter: date(-time.Hour, http.TimeFormat), wantSleep: 0},
		{name: "equal-to-max-wait", status: 429, retryAfter: "30", wantSleep: 30 * time.Second},
		{name: "longer-than-max-wait", status: 429, retryAfter: "31", wantFail: true},
		{name: "503-longer-than-max-wait", status: 503, retryAfter: "3600", wantFail: true},
		{name: "http-date-beyond-max-wait", status: 429, retryAfter: date(time.Hour, http.TimeFormat), wantFail: true},
		{name: "more-digits-than-a-duration", status: 429, retryAfter: "99999999999999999999999", wantFail: true},
		{name: "own-max-wait", status: 429, retryAfter: "6", maxWait: 5 * time.Second, wantFail: true},
		{name: "own-max-wait-kept", status: 429, retryAfter: "5", maxWait: 5 * time.Second, wantSleep: 5 * time.Second},
		// Neither form: the backoff applies (DefaultBackoff less jitter).
		{name: "invalid", status: 429, retryAfter: "soon", wantSleep: -1},
		{name: "negative", status: 429, retryAfter: "-5", wantSleep: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, reply{status: tt.status, header: map[string]string{"Retry-After": tt.retryAfter}}, reply{body: "ok"})
			var sl sleeps
			f := &fetch.Fetcher{MaxWait: tt.maxWait, Sleep: sl.sleep, Now: func() time.Time { return now }}
			resp, err := f.Get(t.Context(), s.URL)
			if tt.wantFail {
				if err == nil {
					t.Fatalf("got %d, want an error", resp.Status)
				}
				if n := s.requests(); n != 1 {
					t.Errorf("%d requests, want 1: a Retry-After over MaxWait is not waited for", n)
				}
				if got := sl.got(); len(got) != 0 {
					t.Errorf("slept %v", got)
				}
				var he *fetch.HTTPError
				if !errors.As(err, &he) || he.Status != tt.status || he.RetryAfter <= f.MaxWait {
					t.Errorf("err = %v, want an *HTTPError %d naming the Retry-After", err, tt.status)
				}
				if tt.status == 429 && !errors.Is(err, fetch.ErrRateLimited) {
					t.Errorf("err = %v, want ErrRateLimited", err)
				}
				if !strings.Contains(err.Error(), "Retry-After") {
					t.Errorf("error %q does not name the Retry-After", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := sl.got()
			if len(got) != 1 {
				t.Fatalf("slept %v, want one wait", got)
			}
			switch {
			case tt.wantSleep >= 0 && got[0] != tt.wantSleep:
				t.Errorf("slept %s, want %s", got[0], tt.wantSleep)
			case tt.wantSleep < 0 && (got[0] < fetch.DefaultBackoff/2 || got[0] > fetch.DefaultBackoff):
				t.Errorf("slept %s, want the backoff, %s to %s", got[0], fetch.DefaultBackoff/2, fetch.DefaultBackoff)
			}
		})
	}
}

// Exponential backoff with jitter: wait n is Backoff*2^(n-1), capped at
// MaxWait, less up to half of it.
func TestBackoff(t *testing.T) {
	s := newScript(t, reply{status: 500})
	var sl sleeps
	f := &fetch.Fetcher{MaxAttempts: 6, Backoff: 100 * time.Millisecond, MaxWait: 300 * time.Millisecond, Sleep: sl.sleep}
	if _, err := f.Get(t.Context(), s.URL); err == nil {
		t.Fatal("want an error")
	}
	caps := []time.Duration{100, 200, 300, 300, 300}
	got := sl.got()
	if len(got) != len(caps) {
		t.Fatalf("slept %v, want %d waits", got, len(caps))
	}
	for i, c := range caps {
		c *= time.Millisecond
		if got[i] < c/2 || got[i] > c {
			t.Errorf("wait %d is %s, want %s to %s", i+1, got[i], c/2, c)
		}
	}
}

func TestContext(t *testing.T) {
	t.Run("cancelled-before", func(t *testing.T) {
		s := newScript(t, reply{body: "ok"})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := (&fetch.Fetcher{}).Get(ctx, s.URL)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if n := s.requests(); n != 0 {
			t.Errorf("%d requests, want 0", n)
		}
	})
	t.Run("cancelled-during-request", func(t *testing.T) {
		s := newScript(t, reply{hang: true})
		s.entered = make(chan struct{}, 1)
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-s.entered
			cancel()
		}()
		_, err := (&fetch.Fetcher{Timeout: time.Hour}).Get(ctx, s.URL)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("cancelled-during-backoff", func(t *testing.T) {
		// The default Sleep, with an hour's backoff: only cancellation
		// can end the wait.
		s := newScript(t, reply{status: 500})
		s.entered = make(chan struct{}, 1)
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-s.entered
			cancel()
		}()
		_, err := (&fetch.Fetcher{Backoff: time.Hour, MaxWait: time.Hour}).Get(ctx, s.URL)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if n := s.requests(); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
	t.Run("deadline-exceeded", func(t *testing.T) {
		s := newScript(t, reply{hang: true})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := (&fetch.Fetcher{Timeout: time.Hour}).Get(ctx, s.URL)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("attempt-timeout-retried", func(t *testing.T) {
		// Timeout bounds one attempt, not the fetch.
		s := newScript(t, reply{hang: true}, reply{body: "ok"})
		var sl sleeps
		resp, err := (&fetch.Fetcher{Timeout: 50 * time.Millisecond, Sleep: sl.sleep}).Get(t.Context(), s.URL)
		if err != nil {
			t.Fatal(err)
		}
		if string(resp.Body) != "ok" || s.requests() != 2 {
			t.Errorf("body %q after %d requests, want \"ok\" after 2", resp.Body, s.requests())
		}
	})
	t.Run("attempt-timeout-always", func(t *testing.T) {
		s := newScript(t, reply{hang: true})
		var sl sleeps
		_, err := (&fetch.Fetcher{Timeout: 20 * time.Millisecond, MaxAttempts: 2, Sleep: sl.sleep}).Get(t.Context(), s.URL)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestNetworkError(t *testing.T) {
	// A port nothing listens on: connection refused, every attempt.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var sl sleeps
	var mu sync.Mutex
	var observed []int
	f := &fetch.Fetcher{Sleep: sl.sleep, Observe: func(host string, status int, err error, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if host != addr || err == nil {
			t.Errorf("Observe(%q, %d, %v), want host %s and an error", host, status, err, addr)
		}
		observed = append(observed, status)
	}}
	_, err = f.Get(t.Context(), "http://"+addr+"/doc")
	var he *fetch.HTTPError
	if err == nil || errors.As(err, &he) {
		t.Fatalf("err = %v, want a network error", err)
	}
	if len(sl.got()) != fetch.DefaultMaxAttempts-1 {
		t.Errorf("waited %d times, want %d", len(sl.got()), fetch.DefaultMaxAttempts-1)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(observed) != "[0 0 0 0]" {
		t.Errorf("observed statuses %v, want four 0s", observed)
	}
}

func TestObserve(t *testing.T) {
	s := newScript(t, reply{status: 503}, reply{truncate: true, body: "document"}, reply{body: "document"})
	type obs struct {
		status int
		err    bool
	}
	var mu sync.Mutex
	var got []obs
	var sl sleeps
	f := &fetch.Fetcher{Sleep: sl.sleep, Observe: func(host string, status int, err error, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if host != strings.TrimPrefix(s.URL, "http://") || d < 0 {
			t.Errorf("Observe host %q, duration %s", host, d)
		}
		got = append(got, obs{status, err != nil})
	}}
	if _, err := f.Get(t.Context(), s.URL); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []obs{{503, true}, {200, true}, {200, false}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("observed %v, want %v", got, want)
	}
}

func TestHeaders(t *testing.T) {
	s := newScript(t, reply{body: "ok"})
	f := &fetch.Fetcher{}
	if _, err := f.Get(t.Context(), s.URL, "Accept", "application/json", "X-Two", "a", "x-two", "b"); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	h := s.headers[0]
	s.mu.Unlock()
	if h.Get("Accept") != "application/json" || fmt.Sprint(h.Values("X-Two")) != "[a b]" {
		t.Errorf("request headers %v", h)
	}
	if _, err := f.Get(t.Context(), s.URL, "Accept"); err == nil {
		t.Error("an odd number of header strings was accepted")
	}
	if n := s.requests(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestLogger(t *testing.T) {
	s := newScript(t, reply{status: 500}, reply{status: 429}, reply{body: "ok"})
	var logs bytes.Buffer
	var sl sleeps
	f := &fetch.Fetcher{Sleep: sl.sleep, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	if _, err := f.Get(t.Context(), s.URL); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "\n"); n != 2 {
		t.Errorf("%d log lines, want 2 (one per retry):\n%s", n, logs.String())
	}
}

// Concurrent Gets of one URL share one upstream request sequence; each
// caller gets its own copy of the body. (That all callers were waiting
// together is checked in coalesce_test.go, which can see the Fetcher's
// state.)
func TestResponsesAreCopies(t *testing.T) {
	s := newScript(t, reply{body: "document", header: map[string]string{"X-A": "1"}})
	f := &fetch.Fetcher{}
	a, err := f.Get(t.Context(), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	a.Body[0] = 'X'
	a.Header.Set("X-A", "changed")
	b, err := f.Get(t.Context(), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if string(b.Body) != "document" || b.Header.Get("X-A") != "1" {
		t.Errorf("second response %q %v was changed through the first", b.Body, b.Header)
	}
	// Sequential Gets are not coalesced: the Fetcher caches nothing.
	if n := s.requests(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

// PerHost bounds the requests in flight to one host; another host is not
// held up by it.
func TestPerHost(t *testing.T) {
	const perHost, gets = 2, 8
	var (
		mu       sync.Mutex
		inFlight int
		most     int
	)
	entered := make(chan struct{}, gets)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		entered <- struct{}{}
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
		w.Write([]byte("slow"))
	}))
	t.Cleanup(slow.Close)
	other := newScript(t, reply{body: "other"})

	f := &fetch.Fetcher{PerHost: perHost}
	var wg sync.WaitGroup
	errs := make(chan error, gets)
	for i := range gets {
		wg.Go(func() {
			// Distinct URLs: not coalesced.
			if _, err := f.Get(t.Context(), fmt.Sprintf("%s/doc%d", slow.URL, i)); err != nil {
				errs <- err
			}
		})
	}
	for range perHost {
		<-entered
	}
	// The slow host's slots are taken; the other host is served.
	if resp, err := f.Get(t.Context(), other.URL); err != nil || string(resp.Body) != "other" {
		t.Fatalf("other host while the first is at its limit: %v", err)
	}
	// Let one request finish at a time: each lets one more in.
	for range gets {
		release <- struct{}{}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if most > perHost {
		t.Errorf("%d requests in flight at once, want at most %d", most, perHost)
	}
}

func TestHTTPErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  *fetch.HTTPError
		want []string
	}{
		{"not-found", &fetch.HTTPError{URL: "https://kds/x", Status: 404, Attempts: 1}, []string{"https://kds/x", "404", "Not Found"}},
		{"rate-limited", &fetch.HTTPError{URL: "https://kds/x", Status: 429, Attempts: 4, RetryAfter: 30 * time.Second}, []string{"429", "rate limited", "30s", "4 attempts"}},
		{"unavailable", &fetch.HTTPError{URL: "https://kds/x", Status: 503, Attempts: 2, RetryAfter: time.Minute}, []string{"503", "1m0s", "2 attempts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := tt.err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not mention %q", msg, w)
				}
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	body := strings.Repeat("x", 4096)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
	b.Cleanup(srv.Close)
	f := &fetch.Fetcher{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Get(b.Context(), srv.URL); err != nil {
			b.Fatal(err)
		}
	}
}

// Many goroutines asking for one URL: coalesced requests share a fetch.
func BenchmarkGetParallelOneURL(b *testing.B) {
	body := strings.Repeat("x", 4096)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
	b.Cleanup(srv.Close)
	f := &fetch.Fetcher{}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.Get(b.Context(), srv.URL); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
