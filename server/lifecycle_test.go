package server_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/assay-dev/assay/attester"
	"github.com/assay-dev/assay/broker"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/policy"
	"github.com/assay-dev/assay/server"
	"github.com/assay-dev/assay/store"
	"github.com/assay-dev/assay/verifier"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// newPolicyEnv is newEnv with reference values in the configuration,
// which New imports into the (empty) store.
func newPolicyEnv(t *testing.T, st store.Store, refs []policy.RefValue, guest *testutil.SNPGuest) *env {
	t.Helper()
	return newReplica(t, st, refs, guest, testKeyring(t))
}

func testKeyring(t *testing.T) *broker.Keyring {
	t.Helper()
	krText, err := broker.GenerateKeyringFile()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := broker.ParseKeyring(krText)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// newReplica starts one replica of the service over st.
func newReplica(t *testing.T, st store.Store, refs []policy.RefValue, guest *testutil.SNPGuest, kr *broker.Keyring) *env {
	t.Helper()
	admin, err := server.BootstrapAdmin(t.Context(), st, "")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), server.Config{Verifiers: verifier.Verifiers(verifier.Config{SNPCache: &sevsnp.Cache{}}),
		Roots: guest.Roots(), Issuer: "https://assay.test", RefValues: refs}, st, kr)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &env{url: hs.URL, handler: srv.Handler(), admin: admin, guest: guest, st: st, srv: srv}
}

// adminJSON calls an admin route and decodes the answer, failing unless
// the status is want.
func (e *env) adminJSON(t *testing.T, method, path string, body any, want int) map[string]any {
	t.Helper()
	code, b := e.do(t, method, path, e.admin, body)
	if code != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil && want < 300 {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return out
}

// lastAppraisal is the newest history record.
func lastAppraisal(t *testing.T, st store.Store) store.AppraisalRecord {
	t.Helper()
	recs, err := st.ListAppraisals(t.Context(), store.AppraisalQuery{Limit: 1000, WithoutResults: true})
	if err != nil || len(recs) == 0 {
		t.Fatalf("history: %v %v", recs, err)
	}
	return recs[len(recs)-1]
}

// lastAudit returns the newest audit record with the given action.
func lastAudit(t *testing.T, st store.Store, action string) store.AuditRecord {
	t.Helper()
	recs, err := st.ListAudit(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Action == action {
			return recs[i]
		}
	}
	t.Fatalf("no audit record %s", action)
	return store.AuditRecord{}
}

func metricValue(t *testing.T, e *env, name string) string {
	t.Helper()
	resp, err := http.Get(e.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name) {
			return strings.TrimSpace(strings.TrimPrefix(l, name))
		}
	}
	return ""
}

// testLifecycle is the definition of done of the policy lifecycle: a
// staged value is evaluated in shadow without changing any verdict, is
// promoted (the next appraisal counts it), then revoked (the next
// appraisal refuses it, and the revocation lists the session and token
// that matched it); every change is a version with author and reason, and
// audited.
func testLifecycle(t *testing.T, st store.Store) {
	g := testutil.NewSNPGuest(t)
	cur := hex.EncodeToString(g.Measurement[:])
	next := g.Measurement
	next[0] ^= 1
	nextHex := hex.EncodeToString(next[:])
	seed := []policy.RefValue{{ID: "fw", TEE: "snp", Claim: "measurement", Value: cur, State: policy.StateActive, Version: 1,
		Provenance: policy.Provenance{Author: "build", Source: "testutil.SNPGuest"}}}
	e := newPolicyEnv(t, st, seed, g)
	c := &attester.Client{BaseURL: e.url}
	oldGuest := snpSource{t: t, guest: g}
	newGuest := snpSource{t: t, guest: g, edit: func(r *sevsnp.Report) { r.Measurement = next }}

	// The seed is the store's first version.
	rvs := e.adminJSON(t, "GET", "/v1/admin/refvalues", nil, 200)
	if l := rvs["reference_values"].([]any); len(l) != 1 || l[0].(map[string]any)["author"] != "system:seed" {
		t.Fatalf("seeded set: %v", rvs)
	}
	if v, err := c.Run(t.Context(), oldGuest, "snp", nil, nil); err != nil || v.Status != "affirming" {
		t.Fatalf("seeded value: %v %s", err, v.Status)
	}
	if a := lastAppraisal(t, st); !slices.Equal(a.Matched, []string{"fw@1"}) || a.ShadowVerdict != "" {
		t.Fatalf("history: matched %v shadow %q, want [fw@1] and no shadow", a.Matched, a.ShadowVerdict)
	}

	// 1. Stage the next firmware's value.
	e.adminJSON(t, "PUT", "/v1/admin/refvalues/fw-next", map[string]any{"reason": "firmware 1.2 rollout",
		"reference_value": map[string]any{"tee": "snp", "claim": "measurement", "value": nextHex,
			"provenance": map[string]any{"author": "build", "source": "fw-1.2 build log"}}}, 200)
	e.adminJSON(t, "PUT", "/v1/admin/refvalues/fw-x", map[string]any{"reference_value": map[string]any{"tee": "snp", "claim": "measurement", "value": nextHex}}, 400)
	// Staged: the verdicts do not change. The old guest still passes...
	if v, err := c.Run(t.Context(), oldGuest, "snp", nil, nil); err != nil || v.Status != "affirming" {
		t.Fatalf("old guest with a staged value: %v %s", err, v.Status)
	}
	if a := lastAppraisal(t, st); a.ShadowVerdict != "affirming" || a.Verdict != "affirming" {
		t.Fatalf("old guest: verdict %s shadow %s", a.Verdict, a.ShadowVerdict)
	}
	// ...and the new one is still refused, its shadow verdict saying
	// that promotion would admit it.
	v, err := c.Run(t.Context(), newGuest, "snp", nil, nil)
	if !errors.Is(err, attester.ErrRejected) || v.Token != "" {
		t.Fatalf("new guest with its value staged: %v (token %q), want a rejection", err, v.Token)
	}
	a := lastAppraisal(t, st)
	if a.Verdict != "contraindicated" || a.ShadowVerdict != "affirming" {
		t.Fatalf("new guest: verdict %s shadow %s", a.Verdict, a.ShadowVerdict)
	}
	var detail map[string]any
	if err := json.Unmarshal(lastAudit(t, st, "appraisal").Detail, &detail); err != nil || detail["shadow_differs"] != true || detail["shadow"] != "affirming" {
		t.Fatalf("appraisal audit detail %v %v: want shadow_differs", detail, err)
	}
	if got := metricValue(t, e, `assay_policy_shadow_differences_total{tee="snp"}`); got != "1" {
		t.Errorf("shadow differences metric %q, want 1", got)
	}
	diffs := e.adminJSON(t, "GET", "/v1/admin/shadow-differences", nil, 200)["differences"].([]any)
	if len(diffs) != 1 || diffs[0].(map[string]any)["session_id"] != a.SessionID {
		t.Fatalf("shadow differences %v, want the new guest's session %s", diffs, a.SessionID)
	}
	// The rejection explains itself: rule, claim, found value, and the
	// reference value compared, with its provenance.
	checkExplained(t, v.Results[0].Policy, hex.EncodeToString(next[:]), "fw", "testutil.SNPGuest")

	// 2. Promote: the next appraisal counts it.
	e.adminJSON(t, "POST", "/v1/admin/refvalues/fw-next/promote", map[string]any{"reason": "x", "expected_version": 7}, 409)
	e.adminJSON(t, "POST", "/v1/admin/refvalues/fw-next/promote", map[string]any{"reason": "canary fleet healthy"}, 200)
	e.adminJSON(t, "POST", "/v1/admin/refvalues/fw-next/promote", map[string]any{"reason": "again"}, 409)
	v, err = c.Run(t.Context(), newGuest, "snp", nil, nil)
	if err != nil || v.Status != "affirming" || v.Token == "" {
		t.Fatalf("new guest after promotion: %v %s", err, v.Status)
	}
	promoted := lastAppraisal(t, st)
	if !slices.Equal(promoted.Matched, []string{"fw-next@2"}) {
		t.Fatalf("matched %v, want [fw-next@2]", promoted.Matched)
	}

	// 3. Revoke: a reason is required; the answer names the session and
	// token that matched it; the next appraisal refuses the value.
	e.adminJSON(t, "POST", "/v1/admin/refvalues/fw-next/revoke", map[string]any{"reason": " "}, 400)
	out := e.adminJSON(t, "POST", "/v1/admin/refvalues/fw-next/revoke", map[string]any{"reason": "CVE-2026-0001 in fw 1.2"}, 200)
	aff := out["affected"].(map[string]any)
	for _, k := range []string{"sessions", "passports"} {
		l := aff[k].([]any)
		if len(l) != 1 || l[0].(map[string]any)["session_id"] != promoted.SessionID {
			t.Fatalf("revocation's %s: %v, want only session %s", k, l, promoted.SessionID)
		}
	}
	if got := e.adminJSON(t, "GET", "/v1/admin/refvalues/fw-next/affected", nil, 200)["sessions"].([]any); len(got) != 1 {
		t.Fatalf("affected after revocation: %v", got)
	}
	v, err = c.Run(t.Context(), newGuest, "snp", nil, nil)
	if !errors.Is(err, attester.ErrRejected) || !strings.Contains(v.Error, "revoked") || !strings.Contains(v.Error, "CVE-2026-0001") {
		t.Fatalf("new guest after revocation: %v %q, want a rejection naming the revocation", err, v.Error)
	}
	if v, err := c.Run(t.Context(), oldGuest, "snp", nil, nil); err != nil || v.Status != "affirming" {
		t.Fatalf("old guest after the revocation of another value: %v %s", err, v.Status)
	}

	// Every change is a version with author, time and reason, and audited.
	vers := e.adminJSON(t, "GET", "/v1/admin/refvalues/fw-next/versions", nil, 200)["versions"].([]any)
	var states, reasons []string
	for _, x := range vers {
		m := x.(map[string]any)
		states, reasons = append(states, m["state"].(string)), append(reasons, m["reason"].(string))
		if !strings.HasPrefix(m["author"].(string), "admin:") || m["created_at"] == "" {
			t.Errorf("version %v: author or time missing", m)
		}
	}
	if !slices.Equal(states, []string{"staged", "active", "revoked"}) || reasons[2] != "CVE-2026-0001 in fw 1.2" {
		t.Errorf("versions %v %v", states, reasons)
	}
	for _, act := range []string{"refvalue.put", "refvalue.promote", "refvalue.revoke"} {
		if r := lastAudit(t, st, act); !strings.HasPrefix(r.Actor, "admin:") || r.Subject != "fw-next" {
			t.Errorf("audit %s: actor %s subject %s", act, r.Actor, r.Subject)
		}
	}
}

// checkExplained looks into a rejected result's policy decision for a
// reason naming the measurement claim, the value found, and the
// reference value compared with its provenance.
func checkExplained(t *testing.T, pol any, found, refID, source string) {
	t.Helper()
	b, _ := json.Marshal(pol)
	var d policy.Decision
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("policy decision %s: %v", b, err)
	}
	for _, r := range d.Reasons {
		if r.Claim != "measurement" || r.Status.String() != "contraindicated" {
			continue
		}
		if r.Rule == "" || r.Found != found {
			t.Errorf("reason %+v: want a rule and found %s", r, found)
		}
		for _, a := range r.Allowed {
			if a.RefID == refID && a.Provenance.Source == source {
				return
			}
		}
		t.Errorf("reason %+v does not cite %s with its provenance", r, refID)
		return
	}
	t.Errorf("no contraindicated measurement reason in %s", b)
}

// testPolicyPut: a policy version that does not compile is refused; one
// that does is in effect at the next appraisal; versions conflict.
func testPolicyPut(t *testing.T, st store.Store) {
	g := testutil.NewSNPGuest(t)
	e := newPolicyEnv(t, st, nil, g)
	c := &attester.Client{BaseURL: e.url}
	e.adminJSON(t, "PUT", "/v1/admin/policies/snp", map[string]any{"reason": "r", "source": "package x\n decision := "}, 400)
	e.adminJSON(t, "PUT", "/v1/admin/policies/snp", map[string]any{"source": "package x\n"}, 400)
	deny := `package custom.snp
decision := {"status": "contraindicated", "reasons": [{"rule": "custom.deny", "message": "every SNP guest is refused today"}]}
`
	e.adminJSON(t, "PUT", "/v1/admin/policies/snp", map[string]any{"reason": "freeze", "source": deny, "expected_version": 0}, 200)
	e.adminJSON(t, "PUT", "/v1/admin/policies/snp", map[string]any{"reason": "stale", "source": deny, "expected_version": 0}, 409)
	v, err := c.Run(t.Context(), snpSource{t: t, guest: g}, "snp", nil, nil)
	if !errors.Is(err, attester.ErrRejected) || !strings.Contains(v.Error, "refused today") {
		t.Fatalf("after the deny policy: %v %q", err, v.Error)
	}
	e.adminJSON(t, "POST", "/v1/admin/policies/snp/retire", map[string]any{"reason": "thaw"}, 200)
	if v, err := c.Run(t.Context(), snpSource{t: t, guest: g}, "snp", nil, nil); err != nil || v.Status == "contraindicated" {
		t.Fatalf("after retiring it: %v %s", err, v.Status)
	}
	vers := e.adminJSON(t, "GET", "/v1/admin/policies/snp/versions", nil, 200)["versions"].([]any)
	if len(vers) != 2 || vers[1].(map[string]any)["state"] != "retired" {
		t.Fatalf("versions %v", vers)
	}
}

// testReplicas: a change made through one replica is in effect at the
// next appraisal of another sharing the store.
func testReplicas(t *testing.T, open func(t *testing.T) store.Store) {
	g := testutil.NewSNPGuest(t)
	st, kr := open(t), testKeyring(t)
	a := newReplica(t, st, []policy.RefValue{{ID: "fw", TEE: "snp", Claim: "measurement", Value: hex.EncodeToString(g.Measurement[:]),
		State: policy.StateActive, Version: 1, Provenance: policy.Provenance{Author: "t"}}}, g, kr)
	b := newReplica(t, st, nil, g, kr)
	b.admin = a.admin
	cb := &attester.Client{BaseURL: b.url}
	if v, err := cb.Run(t.Context(), snpSource{t: t, guest: g}, "snp", nil, nil); err != nil || v.Status != "affirming" {
		t.Fatalf("replica b before: %v %s", err, v.Status)
	}
	a.adminJSON(t, "POST", "/v1/admin/refvalues/fw/revoke", map[string]any{"reason": "withdrawn"}, 200)
	if _, err := cb.Run(t.Context(), snpSource{t: t, guest: g}, "snp", nil, nil); !errors.Is(err, attester.ErrRejected) {
		t.Fatalf("replica b after a revoked on replica a: %v, want a rejection", err)
	}
}

func runLifecycle(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("stage-promote-revoke", func(t *testing.T) { testLifecycle(t, open(t)) })
	t.Run("policy-put", func(t *testing.T) { testPolicyPut(t, open(t)) })
	t.Run("replicas", func(t *testing.T) { testReplicas(t, open) })
}

func TestLifecycleSQLite(t *testing.T) {
	runLifecycle(t, func(t *testing.T) store.Store { return testutil.SQLiteStore(t) })
}

func TestLifecyclePostgres(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	runLifecycle(t, func(t *testing.T) store.Store { return testutil.PostgresStore(t, dsn) })
}
