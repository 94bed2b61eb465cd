package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/broker"
	"github.com/assay-dev/assay/policy"
	"github.com/assay-dev/assay/store"
	"github.com/assay-dev/assay/verifier"
)

// appraisal is one submission's verdict.
type appraisal struct {
	results []*attest.Result
	status  attest.Status
	// failed names the first failed check, for the log line and errors.
	failed string
	// detail explains a rejection: every failed check.
	detail string
	// policy names the appraisal policy applied.
	policy string
}

func (a appraisal) trusted() bool {
	if len(a.results) == 0 {
		return false
	}
	for _, r := range a.results {
		if !r.Status.Trusted() {
			return false
		}
	}
	return true
}

// errBadEvidence marks evidence that could not be classified or parsed as
// any kind: the client's fault, a 4xx.
var errBadEvidence = errors.New("bad evidence")

// appraise runs the verifiers over the inputs with expected as the
// freshness value the evidence must carry, and audits the verdict.
// wantKind, when not empty, is the evidence kind the session announced.
func (s *Server) appraise(ctx context.Context, sessionID, wantKind string, inputs []verifier.Input, expected []byte) (appraisal, error) {
	start := time.Now()
	// The bundle is the attester's: endorsements and reference material
	// in it would let the attester vouch for itself. Those come from the
	// service's configuration only.
	for _, in := range inputs {
		if it, err := verifier.Classify(in, s.cfg.Verifiers, ""); err == nil && operatorOnly[it.Format] {
			return appraisal{}, fmt.Errorf("%w: %s is %s, trust material the service takes from its own configuration, never from the attester", errBadEvidence, in.Name, it.Format)
		}
	}
	p := attest.Params{Now: s.now(), Nonce: expected, Roots: s.cfg.Roots}
	results, err := verifier.Appraise(ctx, s.cfg.Verifiers, inputs, "", p)
	if err != nil {
		if errors.Is(err, verifier.ErrUnrecognized) || errors.Is(err, verifier.ErrNoEvidence) {
			return appraisal{}, fmt.Errorf("%w: %v", errBadEvidence, err)
		}
		return appraisal{}, err
	}
	// The session's announced kind is checked before the policy, so that
	// the history's results carry that check too.
	var teeMismatch string
	if wantKind != "" && results[0].TEE != wantKind {
		teeMismatch = fmt.Sprintf("the session announced %s evidence; the evidence is %s", wantKind, results[0].TEE)
		results[0].Checks = append(results[0].Checks, attest.Check{Name: "tee", Severity: attest.StatusContraindicated, Detail: teeMismatch})
		results[0].Status = attest.StatusContraindicated
	}
	// What the verifiers said, before any policy: the history replays it.
	snapshot, err := json.Marshal(results)
	if err != nil {
		return appraisal{}, fmt.Errorf("appraisal history: %w", err)
	}
	set, err := s.policySet(ctx)
	if err != nil {
		return appraisal{}, fmt.Errorf("policy unavailable, no verdict: %w", err)
	}
	policyName := "assay/default"
	opts := s.cfg.PolicyOptions
	opts.IncludeStaged = false
	var matched []string
	shadow := ""
	if set.engine != nil {
		if set.shadowRefs != nil {
			st, _, err := ApplyAll(ctx, set.engine, set.shadowRefs, opts, cloneResults(results))
			if err != nil {
				return appraisal{}, fmt.Errorf("shadow policy evaluation failed, no verdict: %w", err)
			}
			shadow = st.String()
		}
		if _, matched, err = ApplyAll(ctx, set.engine, set.refs, opts, results); err != nil {
			return appraisal{}, fmt.Errorf("policy evaluation failed, no verdict: %w", err)
		}
		policyName = "assay/" + policyOf(results[len(results)-1])
	}
	a := appraisal{results: results, status: attest.StatusNone, policy: policyName}
	var failed []string
	if teeMismatch != "" {
		failed = append(failed, "tee: "+teeMismatch)
		a.failed = "tee"
	}
	for i, r := range results {
		if i == 0 {
			a.status = r.Status
		} else {
			a.status = a.status.Worse(r.Status)
		}
		for _, c := range r.Failed() {
			if c.Name == "tee" && teeMismatch != "" {
				continue
			}
			failed = append(failed, fmt.Sprintf("%s: %s: %s", r.TEE, c.Name, c.Detail))
			if a.failed == "" {
				a.failed = c.Name
			}
		}
	}
	if teeMismatch != "" {
		a.status = attest.StatusContraindicated
	}
	a.detail = strings.Join(failed, "; ")
	ri := info(ctx)
	ri.tee = results[0].TEE
	ri.failed = a.failed
	elapsed := time.Since(start)
	for _, r := range results {
		s.metrics.appraisals.WithLabelValues(r.TEE, r.Status.String()).Inc()
		for _, c := range r.Collateral {
			s.metrics.collAge.WithLabelValues(c.What).Observe(float64(c.AgeSeconds))
		}
	}
	s.metrics.appraiseTime.WithLabelValues(results[0].TEE).Observe(elapsed.Seconds())

	var evid []map[string]any
	for _, r := range results {
		e := map[string]any{"tee": r.TEE, "format": r.Evidence.Format, "sha256": r.Evidence.SHA256,
			"files": r.Evidence.Files, "status": r.Status.String()}
		if len(r.Collateral) > 0 {
			e["collateral"] = r.Collateral
		}
		evid = append(evid, e)
	}
	detail := map[string]any{"evidence": evid, "policy": policyName, "verified_at": p.Now.Format(time.RFC3339)}
	if len(failed) > 0 {
		detail["failed_checks"] = failed
	}
	if set.engine != nil {
		detail["policy_generation"] = set.gen
		detail["matched"] = matched
	}
	if shadow != "" {
		detail["shadow"] = shadow
		if shadow != a.status.String() {
			detail["shadow_differs"] = true
			s.metrics.shadowDiffs.WithLabelValues(results[0].TEE).Inc()
		}
	}
	// The history record precedes the audit record, whose durable commit
	// makes both durable (store.SQLite.RecordAppraisal).
	if _, err := s.st.RecordAppraisal(ctx, store.AppraisalRecord{Time: p.Now, SessionID: sessionID, TEE: results[0].TEE,
		Workload: opts.Workload, Policy: opts.Policy, Verdict: a.status.String(), ShadowVerdict: shadow,
		Matched: matched, Results: snapshot}); err != nil {
		return appraisal{}, err
	}
	if err := s.audit(ctx, "attester:"+sessionID, "appraisal", sessionID, a.status.String(), detail); err != nil {
		return appraisal{}, err
	}
	return a, nil
}

// operatorOnly are the collateral formats an attester may not supply:
// platform endorsements (Arm CCA CPAKs, Trustee's stores, CoRIMs) and IMA
// allow lists.
var operatorOnly = map[string]bool{
	"cca-cpak-pem": true, "cca-cpak-jwk": true, "trustee-cca-tastore": true, "trustee-cca-rvstore": true,
	"corim": true, "signed-corim": true, "ima-allowlist": true, "keylime-runtime-policy": true,
}

// summary is what a session keeps of its appraisal for release policies.
type summary struct {
	TEE    string         `json:"tee"`
	Status string         `json:"status"`
	Claims map[string]any `json:"claims"`
}

func summarize(rs []*attest.Result) ([]summary, error) {
	out := make([]summary, 0, len(rs))
	for _, r := range rs {
		claims, err := claimsMap(r.Claims)
		if err != nil {
			return nil, err
		}
		out = append(out, summary{TEE: r.TEE, Status: r.Status.String(), Claims: claims})
	}
	return out, nil
}

func claimsMap(c any) (map[string]any, error) {
	if c == nil {
		return map[string]any{}, nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("claims are not a JSON object: %w", err)
	}
	return m, nil
}

// primaryAppraisal is what release policies judge: the first (primary)
// evidence's verdict and claims.
func primaryAppraisal(raw json.RawMessage) (broker.Appraisal, error) {
	var ss []summary
	if err := json.Unmarshal(raw, &ss); err != nil || len(ss) == 0 {
		return broker.Appraisal{}, errors.New("the session holds no appraisal")
	}
	return broker.Appraisal{TEE: ss[0].TEE, Status: ss[0].Status, Claims: ss[0].Claims}, nil
}

// evidenceInput turns a KBS primary_evidence value into verifier input:
// a JSON object or array is the evidence itself (Trustee's per-TEE JSON
// forms), a JSON string holds base64 of raw evidence (or the evidence
// text itself).
func evidenceInput(name string, raw json.RawMessage) (verifier.Input, error) {
	t := strings.TrimSpace(string(raw))
	if t == "" || t == "null" {
		return verifier.Input{}, fmt.Errorf("%w: %s is empty", errBadEvidence, name)
	}
	if t[0] != '"' {
		return verifier.Input{Name: name, Data: []byte(t)}, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return verifier.Input{}, fmt.Errorf("%w: %s: %v", errBadEvidence, name, err)
	}
	if b, ok := decodeBase64(str); ok {
		return verifier.Input{Name: name, Data: b}, nil
	}
	return verifier.Input{Name: name, Data: []byte(str)}, nil
}

// policyOf names the policy that decided r.
func policyOf(r *attest.Result) string {
	if d, ok := r.Policy.(policy.Decision); ok {
		return d.Policy
	}
	return "default"
}
