package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for the zero fields of a Fetcher.
const (
	DefaultTimeout     = 20 * time.Second
	DefaultMaxAttempts = 4
	DefaultMaxWait     = 30 * time.Second
	DefaultBackoff     = 250 * time.Millisecond
	DefaultPerHost     = 4
	DefaultMaxBody     = 1 << 20
)

var (
	// ErrNotFound is wrapped by the *HTTPError of a 404: the vendor has no
	// such document (for KDS, often a TCB it never certified).
	ErrNotFound = errors.New("not found")
	// ErrRateLimited is wrapped by the *HTTPError of a 429, and so by the
	// error of a fetch whose last attempt was rate limited.
	ErrRateLimited = errors.New("rate limited")
	// ErrTruncated wraps the failure of an attempt whose body was cut
	// short; it is the final error only when every attempt was.
	ErrTruncated = errors.New("response body cut short")
	// ErrTooLarge is returned, without retrying, for a body over MaxBody.
	ErrTooLarge = errors.New("response body too large")
)

// HTTPError is a fetch that ended on a status other than 2xx.
type HTTPError struct {
	URL      string
	Status   int
	Attempts int // attempts made, this one included
	// RetryAfter is the last response's Retry-After, zero when it had
	// none.
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s: HTTP %d", e.URL, e.Status)
	if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" " + t)
	}
	switch {
	case e.Status == http.StatusTooManyRequests && e.RetryAfter > 0:
		fmt.Fprintf(&b, " (rate limited; Retry-After %s)", e.RetryAfter)
	case e.Status == http.StatusTooManyRequests:
		b.WriteString(" (rate limited)")
	case e.RetryAfter > 0:
		fmt.Fprintf(&b, " (Retry-After %s)", e.RetryAfter)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	return b.String()
}

// Unwrap makes a 404 ErrNotFound and a 429 ErrRateLimited for errors.Is.
func (e *HTTPError) Unwrap() error {
	switch e.Status {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusTooManyRequests:
		return ErrRateLimited
	}
	return nil
}

// Response is a 2xx response, read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *Response) clone() *Response {
	return &Response{Status: r.Status, Header: r.Header.Clone(), Body: slices.Clone(r.Body)}
}

// Fetcher GETs documents from vendor endpoints; see the package comment
// for what it retries and how it waits. The zero Fetcher is ready to use.
// A Fetcher is safe for concurrent use and must not be copied after first
// use: coalescing and the per-host limit work across the callers of one
// Fetcher.
type Fetcher struct {
	// Client sends the requests; nil means http.DefaultClient. Its own
	// Timeout, if any, applies besides the Fetcher's.
	Client *http.Client
	// Timeout bounds each attempt, body included; zero means
	// DefaultTimeout (20s).
	Timeout time.Duration
	// MaxAttempts is the number of attempts before giving up; zero means
	// DefaultMaxAttempts (4).
	MaxAttempts int
	// MaxWait caps one backoff, and is the longest Retry-After honoured: a
	// longer one fails the fetch at once. Zero means DefaultMaxWait (30s).
	MaxWait time.Duration
	// Backoff is the wait before the second attempt, doubled before each
	// next one (capped at MaxWait), of which a random half is taken off as
	// jitter; zero means DefaultBackoff (250ms).
	Backoff time.Duration
	// PerHost bounds the requests in flight to one host (host:port) at
	// once; zero means DefaultPerHost (4).
	PerHost int
	// MaxBody bounds a body; a longer one is ErrTooLarge. Zero means
	// DefaultMaxBody (1 MiB).
	MaxBody int64
	// Sleep waits between attempts and returns early with ctx's error when
	// ctx ends; nil waits on a timer. Tests inject one that returns at
	// once.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock an HTTP-date Retry-After is read against; nil is
	// time.Now.
	Now func() time.Time
	// Logger receives one line per retry (never the final error, which is
	// returned); nil discards.
	Logger *slog.Logger
	// Observe, if set, is called after every attempt, from the goroutine
	// that made it and possibly concurrently: with the URL's host, the
	// HTTP status (0 when there was no response), the attempt's error
	// (nil only for a 2xx read in full) and its duration. The server
	// counts fetch errors with it.
	Observe func(host string, status int, err error, d time.Duration)

	mu    sync.Mutex
	hosts map[string]chan struct{} // per-host semaphores
	calls Group[*Response]
}

// Get fetches url. header is name, value pairs sent with the request
// ("Accept", "application/json"). Concurrent Gets of the same URL and
// header share one upstream request sequence; each caller gets its own
// copy of the response.
func (f *Fetcher) Get(ctx context.Context, url string, header ...string) (*Response, error) {
	if len(header)%2 != 0 {
		return nil, fmt.Errorf("GET %s: header is name, value pairs, got %d strings", url, len(header))
	}
	h := http.Header{}
	for i := 0; i < len(header); i += 2 {
		h.Add(header[i], header[i+1])
	}
	r, err := f.calls.Do(ctx, coalesceKey(url, h), func(ctx context.Context) (*Response, error) {
		return f.fetch(ctx, url, h)
	})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && err == cerr {
			// This caller gave up waiting: say for what.
			return nil, fmt.Errorf("GET %s: %w", url, err)
		}
		return nil, err
	}
	return r.clone(), nil
}

// coalesceKey identifies a request: the URL and the header, in a
// canonical order.
func coalesceKey(u string, h http.Header) string {
	var b strings.Builder
	b.WriteString(u)
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range h[name] {
			b.WriteString("\x00" + name + ":" + v)
		}
	}
	return b.String()
}

// failure is one failed attempt.
type failure struct {
	err        error
	status     int  // a non-2xx status; 0 when there was none
	retryable  bool // worth another attempt
	retryAfter time.Duration
	hasRA      bool // the response had a usable Retry-After
}

// fetch makes the attempts for one shared Get.
func (f *Fetcher) fetch(ctx context.Context, u string, h http.Header) (*Response, error) {
	host := ""
	if pu, err := url.Parse(u); err == nil {
		host = pu.Host
	}
	maxAttempts := f.maxAttempts()
	for n := 1; ; n++ {
		r, fl := f.attempt(ctx, u, host, h, n)
		if fl == nil {
			return r, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("GET %s: %w", u, err)
		}
		final := f.finalError(u, n, fl)
		if !fl.retryable || n >= maxAttempts {
			return nil, final
		}
		wait := f.backoff(n)
		if fl.hasRA {
			if fl.retryAfter > f.maxWait() {
				return nil, fmt.Errorf("%w: not waiting that long (MaxWait %s)", final, f.maxWait())
			}
			wait = fl.retryAfter
		}
		if f.Logger != nil {
			f.Logger.Warn("collateral fetch failed, retrying", "url", u, "attempt", n, "max_attempts", maxAttempts, "wait", wait, "err", fl.err)
		}
		if err := f.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("GET %s: %w while waiting %s to retry (%v)", u, err, wait, final)
		}
	}
}

func (f *Fetcher) finalError(u string, n int, fl *failure) error {
	if fl.status != 0 {
		return &HTTPError{URL: u, Status: fl.status, Attempts: n, RetryAfter: fl.retryAfter}
	}
	if n > 1 {
		return fmt.Errorf("GET %s: %d attempts, the last: %w", u, n, fl.err)
	}
	return fmt.Errorf("GET %s: %w", u, fl.err)
}

// attempt makes attempt n: one request, its body read in full.
func (f *Fetcher) attempt(ctx context.Context, u, host string, h http.Header, n int) (*Response, *failure) {
	release, err := f.acquire(ctx, host)
	if err != nil {
		return nil, &failure{err: err}
	}
	defer release()
	// The attempt's context bounds the body read too, whatever the
	// client's own timeout.
	actx, cancel := context.WithTimeout(ctx, f.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &failure{err: err}
	}
	for name, vs := range h {
		req.Header[name] = slices.Clone(vs)
	}
	start := time.Now()
	hc := f.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// *url.Error repeats the method and URL the final error names.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		f.observe(host, 0, err, time.Since(start))
		return nil, &failure{err: err, retryable: true}
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Read a little of the body so that the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		fl := &failure{
			status: resp.StatusCode,
			// RFC 9110 section 15.6: a 5xx is the server's failure, and may
			// pass; 429 (RFC 6585 section 4) asks the client to slow down.
			// Any other 4xx would get the same answer again.
			retryable: resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500,
		}
		fl.retryAfter, fl.hasRA = parseRetryAfter(resp.Header.Get("Retry-After"), f.now())
		fl.err = &HTTPError{URL: u, Status: resp.StatusCode, Attempts: n, RetryAfter: fl.retryAfter}
		f.observe(host, resp.StatusCode, fl.err, time.Since(start))
		return nil, fl
	}

	body, fl := f.readBody(resp)
	if fl != nil {
		f.observe(host, resp.StatusCode, fl.err, time.Since(start))
		return nil, fl
	}
	f.observe(host, resp.StatusCode, nil, time.Since(start))
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

func (f *Fetcher) readBody(resp *http.Response) ([]byte, *failure) {
	maxBody := f.maxBody()
	tooLarge := &failure{err: fmt.Errorf("%w: the body is larger than %s", ErrTooLarge, size(maxBody))}
	if resp.ContentLength > maxBody {
		return nil, tooLarge
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		// net/http reports a connection closed before Content-Length
		// bytes, or in the middle of a chunk, as an unexpected EOF.
		return nil, &failure{err: fmt.Errorf("%w after %d bytes: %w", ErrTruncated, len(b), err), retryable: true}
	case err != nil:
		return nil, &failure{err: fmt.Errorf("reading the body: %w", err), retryable: true}
	case int64(len(b)) > maxBody:
		return nil, tooLarge
	case resp.ContentLength > 0 && int64(len(b)) != resp.ContentLength:
		// A transport that does not check Content-Length itself.
		return nil, &failure{err: fmt.Errorf("%w: %d bytes for a Content-Length of %d", ErrTruncated, len(b), resp.ContentLength), retryable: true}
	}
	return b, nil
}

// acquire takes one of host's PerHost slots, waiting for one as long as
// ctx lets it.
func (f *Fetcher) acquire(ctx context.Context, host string) (release func(), err error) {
	f.mu.Lock()
	if f.hosts == nil {
		f.hosts = map[string]chan struct{}{}
	}
	sem, ok := f.hosts[host]
	if !ok {
		sem = make(chan struct{}, f.perHost())
		f.hosts[host] = sem
	}
	f.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// parseRetryAfter reads a Retry-After value (RFC 9110 section 10.2.3):
// delta-seconds, or an HTTP-date, which is read against now (a date in the
// past means no wait). ok is false when v is absent or neither.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if strings.Trim(v, "0123456789") == "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs > math.MaxInt64/int64(time.Second) {
			// More digits than a Duration holds: longer than any MaxWait.
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v) // IMF-fixdate, and the obsolete RFC 850 and asctime forms
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// backoff is the wait after failed attempt n (1-based) when the server
// named none: Backoff doubled n-1 times, capped at MaxWait, of which a
// random part up to half is taken off so that clients that failed
// together do not retry together.
func (f *Fetcher) backoff(n int) time.Duration {
	d := f.maxWait()
	if shift := n - 1; shift < 62 {
		if b := f.backoffBase() << shift; b > 0 && b < d {
			d = b
		}
	}
	half := d / 2
	return d - time.Duration(rand.Int64N(int64(half)+1))
}

func (f *Fetcher) sleep(ctx context.Context, d time.Duration) error {
	if f.Sleep != nil {
		return f.Sleep(ctx, d)
	}
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *Fetcher) observe(host string, status int, err error, d time.Duration) {
	if f.Observe != nil {
		f.Observe(host, status, err, d)
	}
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fetcher) timeout() time.Duration     { return orDefault(f.Timeout, DefaultTimeout) }
func (f *Fetcher) maxAttempts() int           { return orDefault(f.MaxAttempts, DefaultMaxAttempts) }
func (f *Fetcher) maxWait() time.Duration     { return orDefault(f.MaxWait, DefaultMaxWait) }
func (f *Fetcher) backoffBase() time.Duration { return orDefault(f.Backoff, DefaultBackoff) }
func (f *Fetcher) perHost() int               { return orDefault(f.PerHost, DefaultPerHost) }
func (f *Fetcher) maxBody() int64             { return orDefault(f.MaxBody, DefaultMaxBody) }

// orDefault is v, or def when v is zero or negative.
func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// size spells a byte count for messages: "1 MiB".
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Lazy keeps the Fetcher a client makes from its own settings when it was
// given none: made on first use, kept while the settings stay the same
// (request coalescing and the per-host limit need one Fetcher), made
// again when they change. The zero Lazy is ready; it is safe for
// concurrent use.
type Lazy struct {
	mu sync.Mutex
	f  *Fetcher
}

// For returns the Fetcher for these settings; a zero timeout is
// DefaultTimeout.
func (l *Lazy) For(client *http.Client, timeout time.Duration, logger *slog.Logger, maxBody int64, observe func(host string, status int, err error, d time.Duration)) *Fetcher {
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.f; f == nil || f.Client != client || f.Timeout != timeout || f.Logger != logger || f.MaxBody != maxBody || (f.Observe == nil) != (observe == nil) {
		l.f = &Fetcher{Client: client, Timeout: timeout, Logger: logger, MaxBody: maxBody, Observe: observe}
	}
	return l.f
}
