package cache

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/assay-dev/assay/collateral/kds"
	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/internal/diskcache"
)

// Refresher renews the documents of a cache before they expire, so that
// appraisals normally never meet a stale one: every Interval it lists
// the cache and fetches again, through the clients, each document whose
// nextUpdate (or a certificate's notAfter) falls within Window of now, or
// has passed. A failed fetch keeps the cached copy.
type Refresher struct {
	// Root is the cache root (ROOT/amd-kds, ROOT/intel-pcs).
	Root string
	// KDS and PCS fetch the documents; their CacheDir must be
	// Root/amd-kds and Root/intel-pcs. A nil client's documents are
	// passed over.
	KDS *kds.Client
	PCS *pcs.Client
	// Window is how long before its expiry a document is renewed.
	Window time.Duration
	// Interval is the time between passes.
	Interval time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger gets a line per document renewed or failed; nil discards.
	Logger *slog.Logger
	// Refreshed, if set, is told of every attempt (err nil: renewed).
	Refreshed func(it Item, err error)
}

// Run makes a pass at once and then every Interval, until ctx ends.
func (r *Refresher) Run(ctx context.Context) error {
	if r.Interval <= 0 {
		return fmt.Errorf("collateral refresher: interval %s is not positive", r.Interval)
	}
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		r.Once(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Once makes one pass: it returns how many documents were due, and how
// many of those failed to be renewed.
func (r *Refresher) Once(ctx context.Context) (due, failed int) {
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	entries, err := List(r.Root)
	if err != nil {
		r.log().Warn("collateral refresher: cannot list the cache", "root", r.Root, "err", err)
		return 0, 0
	}
	for _, e := range entries {
		if ctx.Err() != nil {
			return due, failed
		}
		if e.Err != nil || e.Until.Sub(now) > r.Window {
			continue
		}
		var err error
		rctx := diskcache.WithRefresh(ctx)
		switch {
		case e.Item.Source == SourceKDS && r.KDS != nil:
			err = r.KDS.Fetch(rctx, e.Item.KDS)
		case e.Item.Source == SourcePCS && r.PCS != nil:
			err = r.PCS.Fetch(rctx, e.Item.PCS)
		default:
			continue
		}
		due++
		if err != nil {
			failed++
			r.log().Warn("collateral refresh failed; the cached copy stays", "item", e.Item.String(), "until", e.Until.UTC().Format(time.RFC3339), "bound", e.Bound, "err", err)
		} else {
			r.log().Info("collateral refreshed ahead of expiry", "item", e.Item.String(), "was_until", e.Until.UTC().Format(time.RFC3339), "bound", e.Bound)
		}
		if r.Refreshed != nil {
			r.Refreshed(e.Item, err)
		}
	}
	return due, failed
}

func (r *Refresher) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}
