package policy

import (
	"context"
	"fmt"
	"strings"

	"github.com/assay-dev/assay/attest"
)

// Apply evaluates the policy for r and records the decision in r: the
// Decision as r.Policy, and its verdict as the "policy" check — passed
// when affirming, failed with the decision's tier (warning or
// contraindicated) naming every reason that was not affirming, skipped
// when the policy judged nothing — after which r.Status is derived again
// from the checks, so it is never better than the verifier's. An error is
// not a verdict: r is unchanged and the caller must not trust the
// evidence.
func (e *Engine) Apply(ctx context.Context, r *attest.Result, refs []RefValue, o EvalOptions) (Decision, error) {
	d, err := e.Evaluate(ctx, r, refs, o)
	if err != nil {
		return Decision{}, err
	}
	before := r.Status
	r.Policy = d
	var bad []string
	matched := 0
	for _, rs := range d.Reasons {
		switch rs.Status {
		case attest.StatusAffirming:
			matched++
		case attest.StatusWarning, attest.StatusContraindicated:
			bad = append(bad, rs.Message)
		}
	}
	switch {
	case len(bad) == 0 && d.Status == before && d.Status != attest.StatusNone:
		// The policy found nothing; the tier is the verifier's own.
		r.Checks = append(r.Checks, attest.Pass("policy", "policy %s: no finding (%d reference comparisons matched); the verdict is the verifier's", d.Policy, matched))
	case d.Status == attest.StatusAffirming:
		r.Checks = append(r.Checks, attest.Pass("policy", "policy %s: affirming (%d reference comparisons matched)", d.Policy, matched))
	case d.Status == attest.StatusNone:
		r.Checks = append(r.Checks, attest.Skip("policy", "policy %s judged nothing: %s", d.Policy, strings.Join(messages(d.Reasons), "; ")))
	default:
		if len(bad) == 0 {
			bad = messages(d.Reasons)
		}
		r.Checks = append(r.Checks, attest.Check{Name: "policy", Severity: d.Status,
			Detail: fmt.Sprintf("policy %s: %s: %s", d.Policy, d.Status, strings.Join(bad, "; "))})
	}
	r.Finish()
	return d, nil
}

func messages(rs []Reason) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Message)
	}
	return out
}
