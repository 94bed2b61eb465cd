package attest

import (
	"context"
	"sync"
	"time"
)

// CollateralUse is one collateral document an appraisal obtained through
// a collateral source (a cache or a vendor service), as opposed to a file
// supplied beside the evidence (those are listed in Evidence.Files).
type CollateralUse struct {
	// What names the document ("vcek", "cert_chain", "crl", "tcb_info",
	// "qe_identity", "pck_crl", "root_crl").
	What string `json:"what"`
	// URL is where the document is (or was) served.
	URL string `json:"url,omitempty"`
	// From is "cache" or "fetched".
	From string `json:"from"`
	// FetchedFrom is where the copy came from, as the cache recorded it:
	// the URL it was fetched from, or "bundle:<created>/<signer>" for a
	// document a signed bundle installed. Empty when the cache holds no
	// record (a file copied in, or written before sources were recorded).
	FetchedFrom string `json:"fetched_from,omitempty"`
	// FetchedAt is when the document was fetched from its vendor.
	FetchedAt time.Time `json:"fetched_at"`
	// AgeSeconds is how long before the appraisal it was fetched.
	AgeSeconds int64 `json:"age_seconds"`
}

type collateralKey struct{}

type collateralRecorder struct {
	mu    sync.Mutex
	items []CollateralUse
	stale []staleUse // documents used past their nextUpdate (UseStale)
}

// WithCollateralRecorder returns a context in which collateral sources
// record what they serve (RecordCollateral); RecordedCollateral reads it
// back. Each appraisal gets its own.
func WithCollateralRecorder(ctx context.Context) context.Context {
	return context.WithValue(ctx, collateralKey{}, &collateralRecorder{})
}

// RecordCollateral notes a document served to the appraisal running in
// ctx; without a recorder it does nothing. A document served twice is
// recorded once.
func RecordCollateral(ctx context.Context, u CollateralUse) {
	r, ok := ctx.Value(collateralKey{}).(*collateralRecorder)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.items {
		if x.What == u.What && x.URL == u.URL {
			return
		}
	}
	r.items = append(r.items, u)
}

// RecordingCollateral reports whether ctx has a recorder: collateral
// sources skip the bookkeeping otherwise.
func RecordingCollateral(ctx context.Context) bool {
	_, ok := ctx.Value(collateralKey{}).(*collateralRecorder)
	return ok
}

// RecordedCollateral returns what was recorded in ctx, in order.
func RecordedCollateral(ctx context.Context) []CollateralUse {
	r, ok := ctx.Value(collateralKey{}).(*collateralRecorder)
	if !ok {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]CollateralUse(nil), r.items...)
}
