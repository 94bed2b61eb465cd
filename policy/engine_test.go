package policy_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/policy"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// TestSNPDefault appraises the README's Turin sample with the default SNP
// policy against different reference value sets.
func TestSNPDefault(t *testing.T) {
	good := turinResult(t)
	badSig := turinBadSignature(t)
	at := func(id string, s policy.State, nb, na time.Time) policy.RefValue {
		rv := ref(id, "snp", "measurement", turinMeasurement, s)
		rv.NotBefore, rv.NotAfter = nb, na
		return rv
	}
	none := time.Time{}
	revoked := ref("turin-revoked", "snp", "measurement", turinMeasurement, policy.StateRevoked)
	revoked.Provenance.Note = "revoked on 2025-08-01: superseded"
	promoted := ref("turin-next", "snp", "measurement", turinMeasurement, policy.StateActive)
	promoted.Version = 2
	wrongHost := ref("host-x", "snp", "host_data", strings.Repeat("11", 32), policy.StateActive)
	otherWorkload := ref("turin-w", "snp", "measurement", turinMeasurement, policy.StateActive)
	otherWorkload.Workload = "billing"

	tests := []struct {
		name        string
		result      *attest.Result
		refs        []policy.RefValue
		opts        policy.EvalOptions
		status      attest.Status
		executables attest.Status // tier of the trust vector claim
		config      attest.Status
		shadow      *attest.Status
		reason      attest.Status // the measurement reason's status
		allowed     []string      // its allowed ref IDs
		says        string        // a phrase its message must hold
	}{
		{
			name: "active-match", result: good,
			refs:   []policy.RefValue{ref("turin", "snp", "measurement", turinMeasurement, policy.StateActive)},
			status: attest.StatusAffirming, executables: attest.StatusAffirming,
			reason: attest.StatusAffirming, allowed: []string{"turin"},
		},
		{
			name: "wrong-measurement", result: good,
			refs:   []policy.RefValue{ref("other", "snp", "measurement", other48, policy.StateActive)},
			status: attest.StatusContraindicated, executables: attest.StatusContraindicated,
			reason: attest.StatusContraindicated, allowed: []string{"other"}, says: "matches no reference value",
		},
		{
			name: "no-reference-values", result: good,
			status: attest.StatusAffirming, executables: attest.StatusNone,
			reason: attest.StatusNone, says: "no reference values for measurement",
		},
		{
			name: "staged-shadows", result: good,
			refs: []policy.RefValue{
				ref("other", "snp", "measurement", other48, policy.StateActive),
				ref("turin-next", "snp", "measurement", turinMeasurement, policy.StateStaged),
			},
			opts:   policy.EvalOptions{IncludeStaged: true},
			status: attest.StatusContraindicated, executables: attest.StatusContraindicated,
			shadow: new(attest.StatusAffirming),
			reason: attest.StatusContraindicated, allowed: []string{"other"},
		},
		{
			name: "staged-ignored-without-shadow", result: good,
			refs:   []policy.RefValue{ref("turin-next", "snp", "measurement", turinMeasurement, policy.StateStaged)},
			status: attest.StatusAffirming, executables: attest.StatusNone,
			reason: attest.StatusNone,
		},
		{
			name: "promoted-counts", result: good,
			refs: []policy.RefValue{
				ref("other", "snp", "measurement", other48, policy.StateActive),
				ref("turin-next", "snp", "measurement", turinMeasurement, policy.StateStaged),
				promoted, // version 2 of turin-next: active
			},
			opts:   policy.EvalOptions{IncludeStaged: true},
			status: attest.StatusAffirming, executables: attest.StatusAffirming,
			shadow: new(attest.StatusAffirming),
			reason: attest.StatusAffirming, allowed: []string{"turin-next"},
		},
		{
			name: "revoked", result: good,
			refs:   []policy.RefValue{revoked, ref("other", "snp", "measurement", other48, policy.StateActive)},
			status: attest.StatusContraindicated, executables: attest.StatusContraindicated,
			reason: attest.StatusContraindicated, allowed: []string{"other"}, says: "was revoked",
		},
		{
			name: "revoked-only", result: good,
			refs:   []policy.RefValue{revoked},
			status: attest.StatusContraindicated, executables: attest.StatusContraindicated,
			reason: attest.StatusContraindicated, says: "superseded",
		},
		{
			name: "deprecated", result: good,
			refs:   []policy.RefValue{ref("old", "snp", "measurement", turinMeasurement, policy.StateDeprecated)},
			status: attest.StatusContraindicated, executables: attest.StatusContraindicated,
			reason: attest.StatusContraindicated, says: "was deprecated",
		},
		{
			name: "inside-window", result: good,
			refs:   []policy.RefValue{at("turin", policy.StateActive, turinAt.AddDate(0, -1, 0), turinAt.AddDate(0, 1, 0))},
			status: attest.StatusAffirming, executables: attest.StatusAffirming,
			reason: attest.StatusAffirming, allowed: []string{"turin"},
		},
		{
			name: "not-yet-valid", result: good,
			refs:   []policy.RefValue{at("turin", policy.StateActive, turinAt.Add(time.Hour), none)},
			status: attest.StatusContraindicated, executables: attest.StatusContraindicated,
			reason: attest.StatusContraindicated, says: "valid only from 2025-08-15T01:00:00Z",
		},
		{
			name: "expired", result: good,
			refs:   []policy.RefValue{at("turin", policy.StateActive, none, turinAt)},
			status: attest.StatusContraindicated, executables: attest.StatusContraindicated,
			reason: attest.StatusContraindicated, says: "valid only from (open) until 2025-08-15T00:00:00Z",
		},
		{
			name: "host-data-mismatch", result: good,
			refs:   []policy.RefValue{ref("turin", "snp", "measurement", turinMeasurement, policy.StateActive), wrongHost},
			status: attest.StatusContraindicated, executables: attest.StatusAffirming, config: attest.StatusContraindicated,
			reason: attest.StatusAffirming, allowed: []string{"turin"},
		},
		{
			name: "other-tee-ignored", result: good,
			refs:   []policy.RefValue{ref("tdx", "tdx", "mr_td", other48, policy.StateActive), ref("az", "azcvm", "measurement", other48, policy.StateActive)},
			status: attest.StatusAffirming, executables: attest.StatusNone,
			reason: attest.StatusNone,
		},
		{
			name: "other-workload-ignored", result: good,
			refs:   []policy.RefValue{otherWorkload},
			opts:   policy.EvalOptions{Workload: "web"},
			status: attest.StatusAffirming, executables: attest.StatusNone,
			reason: attest.StatusNone,
		},
		{
			name: "same-workload-counts", result: good,
			refs:   []policy.RefValue{otherWorkload},
			opts:   policy.EvalOptions{Workload: "billing"},
			status: attest.StatusAffirming, executables: attest.StatusAffirming,
			reason: attest.StatusAffirming, allowed: []string{"turin-w"},
		},
		{
			// A policy cannot rescue a failed signature.
			name: "bad-signature-stays-contraindicated", result: badSig,
			refs:   []policy.RefValue{ref("turin", "snp", "measurement", turinMeasurement, policy.StateActive)},
			status: attest.StatusContraindicated, executables: attest.StatusAffirming,
			reason: attest.StatusAffirming, allowed: []string{"turin"},
		},
	}
	e := newEngine(t, policy.Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := e.Evaluate(t.Context(), tc.result, tc.refs, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if d.Policy != "snp" {
				t.Errorf("policy %q, want snp", d.Policy)
			}
			if d.Status != tc.status {
				t.Errorf("status %s, want %s; reasons %+v", d.Status, tc.status, d.Reasons)
			}
			if got := policy.ClaimTier(d.TrustVector.Executables); got != tc.executables {
				t.Errorf("executables %d (%s), want %s", d.TrustVector.Executables, got, tc.executables)
			}
			if got := policy.ClaimTier(d.TrustVector.Configuration); got != tc.config {
				t.Errorf("configuration %d (%s), want %s", d.TrustVector.Configuration, got, tc.config)
			}
			switch {
			case tc.shadow == nil && d.Shadow != nil:
				t.Errorf("shadow decision without IncludeStaged")
			case tc.shadow != nil && d.Shadow == nil:
				t.Errorf("no shadow decision")
			case tc.shadow != nil && d.Shadow.Status != *tc.shadow:
				t.Errorf("shadow status %s, want %s", d.Shadow.Status, *tc.shadow)
			}
			r, ok := reasonFor(d, "measurement")
			if !ok {
				t.Fatalf("no reason for measurement: %+v", d.Reasons)
			}
			if r.Rule != "snp.measurement" || r.Found != turinMeasurement || r.Status != tc.reason {
				t.Errorf("reason %+v, want rule snp.measurement, found %s, status %s", r, turinMeasurement, tc.reason)
			}
			var ids []string
			for _, a := range r.Allowed {
				ids = append(ids, a.RefID)
				if a.Provenance != prov("") {
					t.Errorf("allowed %s: provenance %+v, want %+v", a.RefID, a.Provenance, prov(""))
				}
				if a.Value == "" {
					t.Errorf("allowed %s: no value", a.RefID)
				}
			}
			if !slices.Equal(ids, tc.allowed) {
				t.Errorf("allowed %v, want %v", ids, tc.allowed)
			}
			if !strings.Contains(r.Message, tc.says) {
				t.Errorf("message %q does not say %q", r.Message, tc.says)
			}
		})
	}
}

// TestShadowDiffers: with staged values counted, the verdict changes only
// in Shadow, and its reason cites the staged value.
func TestShadowDiffers(t *testing.T) {
	e := newEngine(t, policy.Options{})
	refs := []policy.RefValue{
		ref("other", "snp", "measurement", other48, policy.StateActive),
		ref("turin-next", "snp", "measurement", turinMeasurement, policy.StateStaged),
	}
	d, err := e.Evaluate(t.Context(), turinResult(t), refs, policy.EvalOptions{IncludeStaged: true})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != attest.StatusContraindicated || d.Shadow.Status != attest.StatusAffirming {
		t.Fatalf("status %s, shadow %s; want contraindicated, affirming", d.Status, d.Shadow.Status)
	}
	r, _ := reasonFor(*d.Shadow, "measurement")
	if len(r.Allowed) != 1 || r.Allowed[0].RefID != "turin-next" {
		t.Errorf("shadow reason allows %+v, want turin-next", r.Allowed)
	}
	if d.Shadow.Shadow != nil {
		t.Errorf("a shadow decision has its own shadow")
	}
}

// TestDebugContraindicates: a debug guest is contraindicated whatever the
// reference values say. No debug report is in the corpus: the sample's
// claims are changed to say debug.
func TestDebugContraindicates(t *testing.T) {
	r := *turinResult(t)
	c := *r.Claims.(*sevsnp.Claims)
	c.Policy.Debug = true
	r.Claims = &c
	e := newEngine(t, policy.Options{})
	d, err := e.Evaluate(t.Context(), &r, []policy.RefValue{ref("turin", "snp", "measurement", turinMeasurement, policy.StateActive)}, policy.EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != attest.StatusContraindicated || policy.ClaimTier(d.TrustVector.Configuration) != attest.StatusContraindicated {
		t.Fatalf("status %s, configuration %d; want contraindicated", d.Status, d.TrustVector.Configuration)
	}
	if r, ok := reasonFor(d, "policy.debug"); !ok || r.Status != attest.StatusContraindicated {
		t.Errorf("no contraindicating reason for policy.debug: %+v", d.Reasons)
	}
}
