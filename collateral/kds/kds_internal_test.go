package kds

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/assay-dev/assay/collateral/fetch"
)

// Without a Fetcher, the client's default one (fetch.Lazy) carries its
// HTTP client, timeout, logger and body limit, and is kept; a Fetcher
// set on the client wins.
func TestDefaultFetcher(t *testing.T) {
	hc := &http.Client{}
	logger := slog.New(slog.DiscardHandler)
	c := &Client{HTTP: hc, Timeout: 3 * time.Second, Logger: logger}
	f := c.fetcherFor()
	if f.Client != hc || f.Timeout != 3*time.Second || f.Logger != logger || f.MaxBody != maxBody || c.fetcherFor() != f {
		t.Errorf("default Fetcher is %+v, want HTTP, Timeout, Logger and a 1 MiB MaxBody, kept", f)
	}
	own := &fetch.Fetcher{}
	c.Fetcher = own
	if got := c.fetcherFor(); got != own {
		t.Error("Client.Fetcher not used")
	}
}
