package kds

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/assay-dev/assay/collateral/fetch"
)

// Without a Fetcher, the client makes one from HTTP, Timeout and Logger,
// keeps it (coalescing and the per-host limit need one Fetcher), and makes
// it again when those fields change.
func TestDefaultFetcher(t *testing.T) {
	hc := &http.Client{}
	logger := slog.New(slog.DiscardHandler)
	c := &Client{HTTP: hc, Timeout: 3 * time.Second, Logger: logger}
	f := c.fetcherFor()
	if f.Client != hc || f.Timeout != 3*time.Second || f.Logger != logger || f.MaxBody != maxBody {
		t.Errorf("default Fetcher is %+v, want HTTP, Timeout, Logger and a 1 MiB MaxBody", f)
	}
	if again := c.fetcherFor(); again != f {
		t.Error("a second call made another Fetcher")
	}
	c.Timeout = 0
	if f2 := c.fetcherFor(); f2 == f || f2.Timeout != 20*time.Second {
		t.Errorf("after Timeout changed to zero: Fetcher timeout %s (same Fetcher: %v), want a new one with 20s", f2.Timeout, f2 == f)
	}
	own := &fetch.Fetcher{}
	c.Fetcher = own
	if got := c.fetcherFor(); got != own {
		t.Error("Client.Fetcher not used")
	}
}
