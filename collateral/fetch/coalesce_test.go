package fetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waiters is the number of callers waiting for the call of key.
func (g *Group[T]) waiters(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c.waiters
	}
	return 0
}

// waitFor polls until cond holds. It waits for goroutines to reach a
// state, not for time to pass; the minute is only a guard, so that a
// broken Fetcher fails the test instead of hanging it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	guard := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(guard) {
			t.Fatalf("%s never happened", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// gated is a server that holds every request until release is closed,
// and counts them.
func gated(t *testing.T) (srv *httptest.Server, requests *atomic.Int32, release chan struct{}, cancelled chan struct{}) {
	requests = new(atomic.Int32)
	release = make(chan struct{})
	cancelled = make(chan struct{}, 64)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		select {
		case <-release:
			w.Write([]byte("document"))
		case <-r.Context().Done():
			cancelled <- struct{}{}
		}
	}))
	t.Cleanup(srv.Close)
	return srv, requests, release, cancelled
}

// 50 concurrent Gets of one URL: one upstream request, and 50 copies.
func TestCoalescing(t *testing.T) {
	const callers = 50
	srv, requests, release, _ := gated(t)
	f := &Fetcher{}
	var wg sync.WaitGroup
	bodies := make([][]byte, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() {
			r, err := f.Get(t.Context(), srv.URL)
			errs[i] = err
			if err == nil {
				bodies[i] = r.Body
			}
		})
	}
	waitFor(t, "50 callers on one call", func() bool { return f.calls.waiters(coalesceKey(srv.URL, http.Header{})) == callers })
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d upstream requests for %d concurrent Gets, want 1", n, callers)
	}
	bodies[0][0] = 'X' // each caller has its own copy
	for i, b := range bodies[1:] {
		if string(b) != "document" {
			t.Fatalf("caller %d got %q", i+1, b)
		}
	}
}

// Requests that differ in a header are not coalesced.
func TestCoalescingKeyHasHeaders(t *testing.T) {
	srv, requests, release, _ := gated(t)
	f := &Fetcher{}
	var wg sync.WaitGroup
	for _, v := range []string{"a", "b"} {
		wg.Go(func() {
			if _, err := f.Get(t.Context(), srv.URL, "X-V", v); err != nil {
				t.Error(err)
			}
		})
	}
	waitFor(t, "two requests upstream", func() bool { return requests.Load() == 2 })
	close(release)
	wg.Wait()
}

// A caller that gives up does not fail the others; the shared request
// goes on for them.
func TestCoalescingOneCallerCancels(t *testing.T) {
	srv, requests, release, _ := gated(t)
	f := &Fetcher{}
	key := coalesceKey(srv.URL, http.Header{})
	first, cancelFirst := context.WithCancel(t.Context())
	firstErr := make(chan error, 1)
	go func() {
		_, err := f.Get(first, srv.URL)
		firstErr <- err
	}()
	waitFor(t, "the first request upstream", func() bool { return requests.Load() == 1 })
	second := make(chan error, 1)
	go func() {
		r, err := f.Get(t.Context(), srv.URL)
		if err == nil && string(r.Body) != "document" {
			err = errors.New("wrong body " + string(r.Body))
		}
		second <- err
	}()
	waitFor(t, "two callers", func() bool { return f.calls.waiters(key) == 2 })
	cancelFirst()
	if err := <-firstErr; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("first caller: err = %v, want context.Canceled naming the URL", err)
	}
	close(release)
	if err := <-second; err != nil {
		t.Fatalf("second caller: %v", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d upstream requests, want 1", n)
	}
}

// When every caller has given up, the upstream request is cancelled, and
// the next Get starts afresh.
func TestCoalescingAllCallersCancel(t *testing.T) {
	srv, requests, release, cancelled := gated(t)
	f := &Fetcher{}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, err := f.Get(ctx, srv.URL); !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
		})
	}
	waitFor(t, "three callers", func() bool { return f.calls.waiters(coalesceKey(srv.URL, http.Header{})) == 3 })
	cancel()
	wg.Wait()
	<-cancelled // the server saw the request go
	close(release)
	r, err := f.Get(t.Context(), srv.URL)
	if err != nil || string(r.Body) != "document" {
		t.Fatalf("a Get after all callers gave up: %v", err)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("%d upstream requests, want 2", n)
	}
}

func TestGroupSharesErrors(t *testing.T) {
	var g Group[int]
	started := make(chan struct{})
	release := make(chan struct{})
	boom := errors.New("boom")
	var calls atomic.Int32
	fn := func(ctx context.Context) (int, error) {
		if calls.Add(1) == 1 {
			close(started)
		}
		<-release
		return 0, boom
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if _, err := g.Do(t.Context(), "k", fn); !errors.Is(err, boom) {
				t.Errorf("err = %v, want boom", err)
			}
		})
	}
	<-started
	waitFor(t, "five callers", func() bool { return g.waiters("k") == 5 })
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("fn ran %d times, want 1", n)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		v      string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"120", 2 * time.Minute, true},
		{"0", 0, true},
		{"Sun, 01 Jun 2025 12:00:10 GMT", 10 * time.Second, true},
		{"Sunday, 01-Jun-25 12:00:20 GMT", 20 * time.Second, true},
		{"Sun Jun  1 12:00:30 2025", 30 * time.Second, true},
		{"Sun, 01 Jun 2025 11:00:00 GMT", 0, true},
		{"1.5", 0, false},
		{"-1", 0, false},
		{"tomorrow", 0, false},
		{"99999999999999999999", time.Duration(1<<63 - 1), true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.v, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", tt.v, got, ok, tt.want, tt.wantOK)
		}
	}
}
