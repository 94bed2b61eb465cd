package attest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// FreshnessCheck is the name of the check an appraisal gets when the
// operator set a Freshness: how stale the collateral it used was.
const FreshnessCheck = "collateral.freshness"

// Freshness is the operator's limit on stale collateral: documents with
// a nextUpdate (TCB info, QE identity, CRLs) that the verifiers use past
// it. Without one (the default) a verifier refuses such a document, as it
// always has; with one, it uses it and the appraisal's
// collateral.freshness check judges how stale it was.
type Freshness struct {
	// MaxStale is how long after its nextUpdate a document is still
	// acceptable; zero means not at all.
	MaxStale time.Duration
	// Beyond is what a document staler than MaxStale does to the verdict:
	// StatusWarning (degrade with a warning) or StatusContraindicated
	// (fail closed).
	Beyond Status
}

// Validate checks the limit is one an operator can mean.
func (f Freshness) Validate() error {
	if f.MaxStale < 0 {
		return fmt.Errorf("collateral freshness: a negative maximum staleness (%s)", f.MaxStale)
	}
	if f.Beyond != StatusWarning && f.Beyond != StatusContraindicated {
		return fmt.Errorf("collateral freshness: past the limit the verdict is warning or contraindicated, not %s", f.Beyond)
	}
	return nil
}

type freshnessKey struct{}

type staleUse struct {
	what string
	next time.Time
	late time.Duration
}

// WithFreshness returns a context that carries the operator's limit:
// appraisals run under it (each with its own collateral recorder,
// WithCollateralRecorder) use stale collateral (UseStale) and get a
// collateral.freshness check (Judge).
func WithFreshness(ctx context.Context, f Freshness) context.Context {
	return context.WithValue(ctx, freshnessKey{}, f)
}

// UseStale is what a verifier asks when the document it names (what) is
// past its nextUpdate at the verification time at: true means use it as
// if current (ctx carries an operator's Freshness and an appraisal's
// recorder, which notes it for the collateral.freshness check); false
// means refuse it, as without a limit.
func UseStale(ctx context.Context, what string, nextUpdate, at time.Time) bool {
	if _, ok := ctx.Value(freshnessKey{}).(Freshness); !ok || !at.After(nextUpdate) {
		return false
	}
	r, ok := ctx.Value(collateralKey{}).(*collateralRecorder)
	if !ok {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.stale {
		if s.what == what && s.next.Equal(nextUpdate) {
			return true
		}
	}
	r.stale = append(r.stale, staleUse{what: what, next: nextUpdate, late: at.Sub(nextUpdate)})
	return true
}

// Judge returns the collateral.freshness check of the appraisal run in
// ctx; false when ctx has no Freshness or no recorder, or when the
// appraisal used no collateral from a cache or vendor and nothing stale. The check passes when nothing
// used was past its nextUpdate, or nothing more than MaxStale (naming
// each stale document and by how much); otherwise it fails with the
// severity Beyond names, naming each document too stale.
func Judge(ctx context.Context) (Check, bool) {
	f, ok := ctx.Value(freshnessKey{}).(Freshness)
	r, rok := ctx.Value(collateralKey{}).(*collateralRecorder)
	if !ok || !rok {
		return Check{}, false
	}
	r.mu.Lock()
	stale, used := append([]staleUse(nil), r.stale...), len(r.items)
	r.mu.Unlock()
	if len(stale) == 0 && used == 0 {
		// Nothing came from a collateral source and nothing supplied was
		// stale: nothing to judge.
		return Check{}, false
	}
	limit := "allowed staleness " + f.MaxStale.String()
	if len(stale) == 0 {
		return Pass(FreshnessCheck, "no collateral used was past its nextUpdate at the verification time (%s)", limit), true
	}
	sort.SliceStable(stale, func(i, j int) bool { return stale[i].late > stale[j].late })
	var within, beyond []string
	for _, s := range stale {
		d := fmt.Sprintf("%s is %s past its nextUpdate %s", s.what, s.late.Round(time.Second), s.next.UTC().Format(time.RFC3339))
		if s.late > f.MaxStale {
			beyond = append(beyond, d)
		} else {
			within = append(within, d)
		}
	}
	if len(beyond) == 0 {
		return Pass(FreshnessCheck, "used stale collateral within the %s: %s", limit, strings.Join(within, "; ")), true
	}
	detail := fmt.Sprintf("collateral staler than the %s: %s", limit, strings.Join(beyond, "; "))
	if len(within) > 0 {
		detail += fmt.Sprintf(" (within it: %s)", strings.Join(within, "; "))
	}
	return Check{Name: FreshnessCheck, OK: false, Severity: f.Beyond, Detail: detail}, true
}
