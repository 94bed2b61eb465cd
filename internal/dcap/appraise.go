package dcap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/assay-dev/assay/attest"
)

// Appraisal is the part of a TDX or SGX appraisal the two verifiers
// share: decoding the evidence (a raw quote or Trustee's JSON), parsing
// the quote, gathering collateral from the bundle and verifying.
type Appraisal struct {
	// TDX selects TD quotes (true) or SGX quotes (false).
	TDX bool
	// Base holds what the verifier adds to the collateral found in the
	// bundle: cache, getter, tier overrides.
	Base Options
}

// Run appraises b and returns the result under construction (not yet
// finished: the caller adds claims and policy checks, then calls Finish),
// the quote and the verification. The quote is nil when parsing failed;
// the event log is the one Trustee's JSON carried, if any.
func (a Appraisal) Run(ctx context.Context, b attest.Bundle, p attest.Params, tee, rawFormat, jsonFormat string, cov attest.Coverage) (res *attest.Result, q *Quote, ver *Verification, eventLog []byte) {
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	sum := sha256.Sum256(b.Evidence)
	res = &attest.Result{TEE: tee, VerifiedAt: now, Coverage: cov,
		Evidence: attest.EvidenceInfo{Format: rawFormat, SHA256: hex.EncodeToString(sum[:])}}
	raw := b.Evidence
	if _, isQuote := Sniff(raw); !isQuote || b.Format == jsonFormat {
		if _, isJSON := SniffTrusteeJSON(raw); isJSON || b.Format == jsonFormat {
			ev, err := ParseTrusteeJSON(raw)
			if err != nil {
				res.Checks = append(res.Checks, attest.Fail("parse", err))
				return res, nil, nil, nil
			}
			res.Evidence.Format, raw, eventLog = jsonFormat, ev.Quote, ev.CCEventLog
		}
	}
	q, err := ParseQuote(raw)
	switch {
	case err != nil:
	case a.TDX && q.TD == nil:
		err = fmt.Errorf("%w: an SGX quote, not a TD quote", ErrMalformed)
	case !a.TDX && q.SGX == nil:
		err = fmt.Errorf("%w: a TD quote, not an SGX quote", ErrMalformed)
	}
	if err != nil {
		res.Checks = append(res.Checks, attest.Fail("parse", err))
		return res, nil, nil, eventLog
	}
	res.Checks = append(res.Checks, attest.Pass("parse", "%s quote version %d, %s body, %d bytes%s", tee, q.Header.Version, q.BodyName(), len(q.Raw()), TrailingNote(q)))
	o, err := Inputs(b)
	if err != nil {
		res.Checks = append(res.Checks, attest.Fail("collateral.parse", err))
		return res, nil, nil, eventLog
	}
	o.Cache, o.Collateral, o.TCBTiers = a.Base.Cache, a.Base.Collateral, a.Base.TCBTiers
	o.Nonce = p.Nonce
	if len(p.Roots) > 0 {
		o.Roots = p.Roots
	}
	o.Now = func() time.Time { return now }
	ver, checks, _ := Verify(ctx, q, o)
	res.Checks = append(res.Checks, checks...)
	return res, q, ver, eventLog
}

// BodyName names the quote's body type.
func (q *Quote) BodyName() string {
	switch {
	case q.TD == nil:
		return "SGX enclave"
	case q.TD.Has15:
		return "TDX 1.5"
	}
	return "TDX 1.0"
}
