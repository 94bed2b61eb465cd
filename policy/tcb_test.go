package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/policy"
)

// tcbFile parses a reference value file holding only tcb_policies, and
// validates what it expands to.
func tcbFile(t *testing.T, policies string) []policy.RefValue {
	t.Helper()
	rvs, err := policy.ParseRefValues([]byte(`{"tcb_policies": [` + policies + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := policy.ValidateAll(rvs); err != nil {
		t.Fatal(err)
	}
	return rvs
}

type tcbCase struct {
	name     string
	policies string
	status   attest.Status // the decision's
	hardware attest.Status // the hardware claim's tier
	rule     string        // a reason that must be there
	reason   attest.Status
	says     []string // and what its message must say
	absent   string   // a rule that must not be there
}

func runTCB(t *testing.T, r *attest.Result, now time.Time, tests []tcbCase) {
	t.Helper()
	e := newEngine(t, policy.Options{Now: func() time.Time { return now }})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := e.Evaluate(t.Context(), r, tcbFile(t, tc.policies), policy.EvalOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sameReadBack(t, e, r, tcbFile(t, tc.policies), policy.EvalOptions{})
			if d.Status != tc.status {
				t.Errorf("status %s, want %s: %+v", d.Status, tc.status, d.Reasons)
			}
			if got := policy.ClaimTier(d.TrustVector.Hardware); got != tc.hardware {
				t.Errorf("hardware %d (%s), want %s", d.TrustVector.Hardware, got, tc.hardware)
			}
			var found *policy.Reason
			for i, rs := range d.Reasons {
				if rs.Rule == tc.rule {
					found = &d.Reasons[i]
				}
				if tc.absent != "" && rs.Rule == tc.absent {
					t.Errorf("reason %s present: %+v", tc.absent, rs)
				}
			}
			if found == nil {
				t.Fatalf("no reason %s: %+v", tc.rule, d.Reasons)
			}
			if found.Status != tc.reason {
				t.Errorf("%s: status %s, want %s: %s", tc.rule, found.Status, tc.reason, found.Message)
			}
			for _, s := range tc.says {
				if !strings.Contains(found.Message, s) {
					t.Errorf("%s: message %q does not say %q", tc.rule, found.Message, s)
				}
			}
		})
	}
}

// TestTCBMinimumSNP: corpus entry snp-milan-vcek-trustee (Milan, reported,
// committed and launch TCB bootloader 3, tee 0, snp 8, microcode 115) at
// its verify_at, and snp-milan-vlek-trustee, whose reported microcode
// (217) is below its committed (219).
func TestTCBMinimumSNP(t *testing.T) {
	milan := corpusResult(t, "2023-06-01T00:00:00Z", "snp/trustee/milan-vcek-report.bin", "snp/trustee/milan-vcek.der")
	if milan.Status != attest.StatusAffirming {
		t.Fatalf("milan sample: %s %v", milan.Status, milan.Failed())
	}
	runTCB(t, milan, turinAt, []tcbCase{
		{name: "at-minimum", policies: `{"id": "fleet", "tee": "snp", "state": "active", "version": 1,
			"reported_tcb": {"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115}}`,
			status: attest.StatusAffirming, hardware: attest.StatusAffirming, rule: "snp.tcb.reported_tcb.snp", reason: attest.StatusAffirming,
			says: []string{"reported_tcb.snp 8 is at least the minimum 8"}},
		{name: "snp-below", policies: `{"id": "fleet", "tee": "snp", "state": "active", "version": 1,
			"reported_tcb": {"bootloader": 3, "snp": 9, "microcode": 115}}`,
			status: attest.StatusContraindicated, hardware: attest.StatusContraindicated, rule: "snp.tcb.reported_tcb.snp", reason: attest.StatusContraindicated,
			says: []string{"reported_tcb.snp 8 is below the minimum 9", "fleet/reported_tcb.snp"}},
		{name: "launch-microcode-below", policies: `{"id": "fleet", "tee": "snp", "state": "active", "version": 1,
			"launch_tcb": {"microcode": 116}}`,
			status: attest.StatusContraindicated, hardware: attest.StatusContraindicated, rule: "snp.tcb.launch_tcb.microcode", reason: attest.StatusContraindicated,
			says: []string{"launch_tcb.microcode 115 is below the minimum 116"}},
		{name: "other-product-ignored", policies: `{"id": "genoa", "tee": "snp", "product": "Genoa", "state": "active", "version": 1,
			"reported_tcb": {"snp": 30}}, {"id": "milan", "tee": "snp", "product": "Milan", "state": "active", "version": 1,
			"reported_tcb": {"snp": 8}}`,
			status: attest.StatusAffirming, hardware: attest.StatusAffirming, rule: "snp.tcb.milan.reported_tcb.snp", reason: attest.StatusAffirming,
			absent: "snp.tcb.genoa.reported_tcb.snp"},
		{name: "fmc-not-on-milan", policies: `{"id": "fleet", "tee": "snp", "state": "active", "version": 1,
			"reported_tcb": {"fmc": 1, "snp": 8}}`,
			status: attest.StatusAffirming, hardware: attest.StatusAffirming, rule: "snp.tcb.reported_tcb.fmc", reason: attest.StatusNone,
			says: []string{"Milan report's TCB has no FMC"}},
		{name: "highest-minimum-counts", policies: `{"id": "old", "tee": "snp", "state": "active", "version": 1,
			"reported_tcb": {"snp": 7}}, {"id": "new", "tee": "snp", "state": "active", "version": 1, "reported_tcb": {"snp": 9}}`,
			status: attest.StatusContraindicated, hardware: attest.StatusContraindicated, rule: "snp.tcb.reported_tcb.snp", reason: attest.StatusContraindicated,
			says: []string{"below the minimum 9 of reference value new/reported_tcb.snp"}},
	})

	vlek := corpusResult(t, "2025-06-01T00:00:00Z", "snp/trustee/aws-milan-vlek-report.bin", "snp/trustee/aws-milan-vlek.der")
	if vlek.Status != attest.StatusAffirming {
		t.Fatalf("milan vlek sample: %s %v", vlek.Status, vlek.Failed())
	}
	runTCB(t, vlek, turinAt, []tcbCase{
		{name: "committed-passes", policies: `{"id": "fleet", "tee": "snp", "state": "active", "version": 1, "committed_tcb": {"microcode": 218}}`,
			status: attest.StatusAffirming, hardware: attest.StatusAffirming, rule: "snp.tcb.committed_tcb.microcode", reason: attest.StatusAffirming},
		{name: "reported-fails", policies: `{"id": "fleet", "tee": "snp", "state": "active", "version": 1, "reported_tcb": {"microcode": 218}}`,
			status: attest.StatusContraindicated, hardware: attest.StatusContraindicated, rule: "snp.tcb.reported_tcb.microcode", reason: attest.StatusContraindicated,
			says: []string{"reported_tcb.microcode 217 is below the minimum 218"}},
	})

	// Turin's TCB has an FMC (the README sample: fmc 0).
	runTCB(t, turinResult(t), turinAt, []tcbCase{
		{name: "turin-fmc-below", policies: `{"id": "turin", "tee": "snp", "product": "Turin", "state": "active", "version": 1, "reported_tcb": {"fmc": 1}}`,
			status: attest.StatusContraindicated, hardware: attest.StatusContraindicated, rule: "snp.tcb.turin.reported_tcb.fmc", reason: attest.StatusContraindicated,
			says: []string{"reported_tcb.fmc 0 is below the minimum 1"}},
	})
}

// TestTCBPolicyDCAP: corpus entry tdx-v4-trustee-quote6 (OutOfDate, its
// level superseded by the TCB recovery of 2024-03-13) at its verify_at,
// 2025-11-01 (597 days later), and tdx-v4-gcp-dcap-rs (OutOfDate, open
// advisories INTEL-SA-00960, -00982, -00986) at 2025-02-20.
func TestTCBPolicyDCAP(t *testing.T) {
	q6 := tdxEntry(t, "tdx-v4-trustee-quote6")
	if got := claimAt(t, q6, "tcb_superseded_date"); got != "2024-03-13T00:00:00Z" {
		t.Fatalf("tcb_superseded_date %q, want 2024-03-13T00:00:00Z", got)
	}
	q6At := time.Date(2025, 11, 1, 0, 1, 0, 0, time.UTC)
	runTCB(t, q6, q6At, []tcbCase{
		{name: "status-not-accepted", policies: `{"id": "tdx", "tee": "tdx", "state": "active", "version": 1, "accepted_statuses": ["UpToDate", "SWHardeningNeeded"]}`,
			status: attest.StatusContraindicated, hardware: attest.StatusContraindicated, rule: "tdx.tcb_status", reason: attest.StatusContraindicated,
			says: []string{"tcb_status OutOfDate is not among the accepted statuses", "UpToDate (tdx/tcb_status/UpToDate)"}},
		{name: "status-accepted", policies: `{"id": "tdx", "tee": "tdx", "state": "active", "version": 1, "accepted_statuses": ["UpToDate", "OutOfDate"]}`,
			status: q6.Status, hardware: attest.StatusAffirming, rule: "tdx.tcb_status", reason: attest.StatusAffirming},
		{name: "within-grace", policies: `{"id": "tdx", "tee": "tdx", "state": "active", "version": 1, "accepted_statuses": ["UpToDate"], "grace_period_days": 600}`,
			status: q6.Status, hardware: attest.StatusAffirming, rule: "tdx.tcb_status", reason: attest.StatusAffirming,
			says: []string{"within its grace period", "2024-03-13T00:00:00Z", "until 2025-11-03T00:00:00Z"}},
		{name: "grace-over", policies: `{"id": "tdx", "tee": "tdx", "state": "active", "version": 1, "accepted_statuses": ["UpToDate"], "grace_period_days": 590}`,
			status: attest.StatusContraindicated, hardware: attest.StatusContraindicated, rule: "tdx.tcb_status", reason: attest.StatusContraindicated,
			says: []string{"grace period is over", "until 2025-10-24T00:00:00Z"}},
		{name: "grace-alone", policies: `{"id": "tdx", "tee": "tdx", "state": "active", "version": 1, "grace_period_days": 30}`,
			status: attest.StatusContraindicated, hardware: attest.StatusContraindicated, rule: "tdx.tcb_status", reason: attest.StatusContraindicated,
			says: []string{"tcb_status OutOfDate, and its grace period is over"}},
	})

	rs := tdxEntry(t, "tdx-v4-gcp-dcap-rs")
	runTCB(t, rs, time.Date(2025, 2, 20, 0, 1, 0, 0, time.UTC), []tcbCase{
		{name: "advisory-denied", policies: `{"id": "adv", "tee": "tdx", "state": "active", "version": 1, "advisories_denied": ["INTEL-SA-00982", "INTEL-SA-01000"]}`,
			status: attest.StatusContraindicated, hardware: attest.StatusContraindicated, rule: "tdx.advisory_ids.denied", reason: attest.StatusContraindicated,
			says: []string{"INTEL-SA-00982 (reference value adv/advisory_ids.denied/INTEL-SA-00982)"}},
		{name: "advisory-not-denied", policies: `{"id": "adv", "tee": "tdx", "state": "active", "version": 1, "advisories_denied": ["INTEL-SA-01000"]}`,
			status: rs.Status, hardware: attest.StatusAffirming, rule: "tdx.advisory_ids.denied", reason: attest.StatusAffirming},
		{name: "advisory-not-allowed", policies: `{"id": "adv", "tee": "tdx", "state": "active", "version": 1, "advisories_allowed": ["INTEL-SA-00960", "INTEL-SA-00982"]}`,
			status: attest.StatusContraindicated, hardware: attest.StatusContraindicated, rule: "tdx.advisory_ids.allowed", reason: attest.StatusContraindicated,
			says: []string{"open advisories INTEL-SA-00986 are not on the allow list"}},
		{name: "advisories-all-allowed", policies: `{"id": "adv", "tee": "tdx", "state": "active", "version": 1, "advisories_allowed": ["INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"]}`,
			status: rs.Status, hardware: attest.StatusAffirming, rule: "tdx.advisory_ids.allowed", reason: attest.StatusAffirming},
	})
}

// TestTCBWorkloadScope: a TCB policy of another workload does not apply
// when the evaluation names a workload.
func TestTCBWorkloadScope(t *testing.T) {
	r := tdxEntry(t, "tdx-v4-gcp-dcap-rs")
	e := newEngine(t, policy.Options{Now: func() time.Time { return time.Date(2025, 2, 20, 0, 1, 0, 0, time.UTC) }})
	refs := tcbFile(t, `{"id": "adv", "tee": "tdx", "state": "active", "version": 1, "advisories_denied": ["INTEL-SA-00982"], "workload": "other"}`)
	for _, tc := range []struct {
		workload string
		want     attest.Status
	}{{"mine", r.Status}, {"other", attest.StatusContraindicated}} {
		d, err := e.Evaluate(t.Context(), r, refs, policy.EvalOptions{Workload: tc.workload})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != tc.want {
			t.Errorf("workload %s: status %s, want %s", tc.workload, d.Status, tc.want)
		}
	}
}

func TestTCBPolicyFile(t *testing.T) {
	good := []string{
		`{"id": "a", "tee": "snp", "product": "turin", "state": "active", "version": 1, "reported_tcb": {"fmc": 1, "microcode": 80}, "committed_tcb": {"snp": 3}}`,
		`{"id": "b", "tee": "sgx", "state": "active", "version": 2, "accepted_statuses": ["UpToDate"], "grace_period_days": 0, "advisories_allowed": ["INTEL-DOC-00123"]}`,
	}
	for _, p := range good {
		tcbFile(t, p)
	}
	rvs := tcbFile(t, good[0])
	var claims []string
	for _, rv := range rvs {
		claims = append(claims, rv.Claim+"="+rv.Value)
	}
	if got, want := strings.Join(claims, " "), "turin.reported_tcb.microcode=80 turin.reported_tcb.fmc=1 turin.committed_tcb.snp=3"; got != want {
		t.Errorf("expanded to %s, want %s", got, want)
	}
	// Expanded values round-trip through the flat form.
	b, err := policy.MarshalRefValues(rvs)
	if err != nil {
		t.Fatal(err)
	}
	again, err := policy.ParseRefValues(b)
	if err != nil || len(again) != len(rvs) {
		t.Fatalf("round trip: %d values, %v", len(again), err)
	}

	malformed := []string{
		`{"id": "x", "tee": "snp", "state": "active", "version": 1, "accepted_statuses": ["UpToDate"]}`,
		`{"id": "x", "tee": "tdx", "state": "active", "version": 1, "reported_tcb": {"snp": 1}}`,
		`{"id": "x", "tee": "snp", "product": "Naples", "state": "active", "version": 1, "reported_tcb": {"snp": 1}}`,
		`{"id": "x", "tee": "tpm", "state": "active", "version": 1}`,
		`{"id": "x", "tee": "snp", "state": "active", "version": 1}`,
		`{"id": "x", "tee": "snp", "state": "active", "version": 1, "reported_tcb": {"snp": 256}}`,
		`{"id": "x", "tee": "snp", "state": "active", "version": 1, "reported_tcb": {"spn": 1}}`,
		`{"id": "x", "tee": "tdx", "state": "active", "version": 1, "grace_period_days": -1}`,
	}
	for _, p := range malformed {
		if _, err := policy.ParseRefValues([]byte(`{"tcb_policies": [` + p + `]}`)); !errors.Is(err, policy.ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", p, err)
		}
	}
	invalid := []struct {
		p    string
		kind error
	}{
		{`{"id": "x", "tee": "tdx", "state": "active", "version": 1, "accepted_statuses": ["Uptodate"]}`, policy.ErrEncoding},
		{`{"id": "x", "tee": "tdx", "state": "active", "version": 1, "advisories_denied": ["SA-1"]}`, policy.ErrEncoding},
		{`{"id": "x", "tee": "tdx", "state": "active", "version": 1, "grace_period_days": 4000}`, policy.ErrEncoding},
		{`{"id": "x", "tee": "tdx", "state": "revoked", "version": 1, "grace_period_days": 4}`, policy.ErrNoNote},
	}
	for _, tc := range invalid {
		rvs, err := policy.ParseRefValues([]byte(`{"tcb_policies": [` + tc.p + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		if err := policy.ValidateAll(rvs); !errors.Is(err, tc.kind) {
			t.Errorf("%s: err %v, want %v", tc.p, err, tc.kind)
		}
	}
	// A TCB policy claim is known to its kinds only.
	rv := ref("x", "nitro", "tcb_status", "UpToDate", policy.StateActive)
	if err := policy.Validate(rv, nil); !errors.Is(err, policy.ErrUnknownClaim) {
		t.Errorf("nitro tcb_status: %v, want ErrUnknownClaim", err)
	}
}
