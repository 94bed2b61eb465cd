package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/collateral/cache"
	"github.com/assay-dev/assay/collateral/kds"
	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/internal/diskcache"
	"github.com/assay-dev/assay/verifier"
)

// freshnessFlags is the operator's limit on stale collateral
// (--collateral-max-staleness, --collateral-stale), for verify and serve.
// Neither flag given is the default: a document past its nextUpdate is
// refused by the check that uses it, as it always was.
type freshnessFlags struct {
	maxStale time.Duration
	stale    string
	given    bool
}

func (f *freshnessFlags) register(fs *flag.FlagSet) {
	fs.Var(&givenDuration{d: &f.maxStale, given: &f.given}, "collateral-max-staleness",
		"use collateral up to this long past its nextUpdate (TCB info, QE identity, CRLs), judged by the collateral.freshness check (default: not set, a stale document is refused)")
	fs.Var(&givenChoice{s: &f.stale, given: &f.given, choices: []string{"warn", "reject"}}, "collateral-stale",
		"verdict for collateral staler than --collateral-max-staleness: warn or reject (default reject once either flag is set)")
}

// policy is the limit the flags set; nil when neither was given.
func (f *freshnessFlags) policy() (*attest.Freshness, error) {
	if !f.given {
		return nil, nil
	}
	p := attest.Freshness{MaxStale: f.maxStale, Beyond: attest.StatusContraindicated}
	if f.stale == "warn" {
		p.Beyond = attest.StatusWarning
	}
	if err := p.Validate(); err != nil {
		return nil, usagef("--collateral-max-staleness: %v", err)
	}
	return &p, nil
}

// stalePolicy is what the collateral clients do with a cached document
// past its nextUpdate under that limit: keep it, and serve it when no
// current copy can be had (background: at once, refreshing it behind the
// appraisal). Without a limit they fetch it again, as always.
func stalePolicy(p *attest.Freshness, background context.Context, refreshed func(what string, err error)) diskcache.StalePolicy {
	if p == nil {
		return diskcache.StalePolicy{}
	}
	return diskcache.StalePolicy{Keep: true, Background: background, Refreshed: refreshed}
}

// givenDuration is a duration flag that notes it was set.
type givenDuration struct {
	d     *time.Duration
	given *bool
}

func (g *givenDuration) String() string {
	if g == nil || g.d == nil {
		return "0s"
	}
	return g.d.String()
}

func (g *givenDuration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if d < 0 {
		return fmt.Errorf("%s is negative", s)
	}
	*g.d, *g.given = d, true
	return nil
}

// givenChoice is a string flag limited to choices that notes it was set.
type givenChoice struct {
	s       *string
	given   *bool
	choices []string
}

func (g *givenChoice) String() string {
	if g == nil || g.s == nil {
		return ""
	}
	return *g.s
}

func (g *givenChoice) Set(s string) error {
	for _, c := range g.choices {
		if s == c {
			*g.s, *g.given = s, true
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %v", s, g.choices)
}

// refreshMetrics counts collateral refreshes for /metrics:
// assay_collateral_refreshes_total{trigger="stale"|"ahead", outcome="ok"|"error"}.
type refreshMetrics struct {
	total *prometheus.CounterVec
}

func newRefreshMetrics() *refreshMetrics {
	return &refreshMetrics{total: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "assay_collateral_refreshes_total",
		Help: "Collateral documents fetched again: in the background after an appraisal found one stale (trigger stale), or by the refresher ahead of expiry (trigger ahead), by outcome.",
	}, []string{"trigger", "outcome"})}
}

func (m *refreshMetrics) observe(trigger string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.total.WithLabelValues(trigger, outcome).Inc()
}

// collateralRefresher is the service's refresher over its cache, or nil
// when it has none (offline, or an interval of 0).
func collateralRefresher(c serveConfig, cacheDir string, vcfg verifier.Config, logger *slog.Logger, m *refreshMetrics) *cache.Refresher {
	if c.Offline || c.CollateralRefreshInterval <= 0 {
		return nil
	}
	r := &cache.Refresher{Root: cacheDir, Interval: c.CollateralRefreshInterval, Window: c.CollateralRefreshWindow, Logger: logger,
		Refreshed: func(_ cache.Item, err error) { m.observe("ahead", err) }}
	r.KDS, _ = vcfg.SNPCollateral.(*kds.Client)
	r.PCS, _ = vcfg.DCAPCollateral.(*pcs.Client)
	return r
}
