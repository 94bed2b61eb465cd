package fetch

import (
	"log/slog"
	"net/http"
	"testing"
	"time"
)

// A Lazy makes one Fetcher from the settings, keeps it (coalescing and
// the per-host limit need one Fetcher), and makes it again when they
// change.
func TestLazy(t *testing.T) {
	hc := &http.Client{}
	logger := slog.New(slog.DiscardHandler)
	var l Lazy
	f := l.For(hc, 3*time.Second, logger, 1<<20, nil)
	if f.Client != hc || f.Timeout != 3*time.Second || f.Logger != logger || f.MaxBody != 1<<20 {
		t.Errorf("Fetcher is %+v, want the given client, timeout, logger and max body", f)
	}
	if again := l.For(hc, 3*time.Second, logger, 1<<20, nil); again != f {
		t.Error("a second call made another Fetcher")
	}
	if f2 := l.For(hc, 0, logger, 1<<20, nil); f2 == f || f2.Timeout != 20*time.Second {
		t.Errorf("after the timeout changed to zero: Fetcher timeout %s (same Fetcher: %v), want a new one with 20s", f2.Timeout, f2 == f)
	}
	f3 := l.For(hc, 0, logger, 1<<20, nil)
	if f4 := l.For(hc, 0, logger, 1<<20, func(string, int, error, time.Duration) {}); f4 == f3 || f4.Observe == nil {
		t.Error("an Observe hook added later did not make a new Fetcher")
	}
}
