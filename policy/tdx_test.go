package policy_test

import (
	"fmt"
	"testing"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/policy"
)

// TestTDXDefault appraises a GCP Confidential VM's TD quote (corpus entry
// tdx-gcp-cos113-ccel-go-tdx-guest, with its CCEL, at its date) against
// MRTD and RTMR reference values.
func TestTDXDefault(t *testing.T) {
	r := tdxEntry(t, "tdx-gcp-cos113-ccel-go-tdx-guest")
	rtmr := func(i int) string { return claimAt(t, r, fmt.Sprintf("rtmr.%d", i)) }
	boot := []policy.RefValue{
		ref("cos-mrtd", "tdx", "mr_td", cosMRTD, policy.StateActive),
		ref("cos-rtmr0", "tdx", "rtmr.0", rtmr(0), policy.StateActive),
		ref("cos-rtmr1", "tdx", "rtmr.1", rtmr(1), policy.StateActive),
		ref("cos-rtmr2", "tdx", "rtmr.2", rtmr(2), policy.StateActive),
	}
	tests := []struct {
		name        string
		refs        []policy.RefValue
		status      attest.Status
		executables attest.Status
		claim       string // the reason to look at
		reason      attest.Status
		says        string
	}{
		{name: "mrtd-and-rtmrs-match", refs: boot, status: r.Status, executables: attest.StatusAffirming,
			claim: "rtmr.2", reason: attest.StatusAffirming},
		{name: "rtmr2-differs", refs: append(boot[:3:3], ref("kernel-x", "tdx", "rtmr.2", other48, policy.StateActive)),
			status: attest.StatusContraindicated, executables: attest.StatusContraindicated,
			claim: "rtmr.2", reason: attest.StatusContraindicated, says: "kernel-x"},
		{name: "mrtd-byte-reversed", refs: []policy.RefValue{ref("pasted", "tdx", "mr_td", cosMRTDReversed, policy.StateActive)},
			status: attest.StatusContraindicated, executables: attest.StatusContraindicated,
			claim: "mr_td", reason: attest.StatusContraindicated, says: cosMRTDReversed},
		{name: "no-reference-values", status: r.Status, executables: attest.StatusNone,
			claim: "mr_td", reason: attest.StatusNone, says: "no reference values for mr_td"},
		{name: "mr-seam", refs: []policy.RefValue{ref("seam", "tdx", "mr_seam", claimAt(t, r, "mr_seam"), policy.StateActive)},
			status: r.Status, executables: attest.StatusNone, claim: "mr_seam", reason: attest.StatusAffirming},
	}
	e := newEngine(t, policy.Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := e.Evaluate(t.Context(), r, tc.refs, policy.EvalOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if d.Policy != "tdx" || d.Status != tc.status {
				t.Errorf("policy %s status %s, want tdx %s: %+v", d.Policy, d.Status, tc.status, d.Reasons)
			}
			if got := policy.ClaimTier(d.TrustVector.Executables); got != tc.executables {
				t.Errorf("executables %d, want %s", d.TrustVector.Executables, tc.executables)
			}
			reason, ok := reasonFor(d, tc.claim)
			if !ok || reason.Status != tc.reason || reason.Found != claimAt(t, r, tc.claim) {
				t.Fatalf("reason for %s: %+v, want status %s", tc.claim, reason, tc.reason)
			}
			if !contains(reason.Message, tc.says) {
				t.Errorf("message %q does not say %q", reason.Message, tc.says)
			}
		})
	}
}

// TestTDXByteReversedMRTD: the MRTD pasted byte-reversed is refused by
// Validate beside the right one, and, alone, never matches.
func TestTDXByteReversedMRTD(t *testing.T) {
	r := tdxEntry(t, "tdx-gcp-cos113-ccel-go-tdx-guest")
	if got := claimAt(t, r, "mr_td"); got != cosMRTD {
		t.Fatalf("mr_td %s, want %s", got, cosMRTD)
	}
	right := ref("cos-mrtd", "tdx", "mr_td", cosMRTD, policy.StateActive)
	reversed := ref("pasted", "tdx", "mr_td", cosMRTDReversed, policy.StateActive)
	if err := policy.ValidateAll([]policy.RefValue{right, reversed}); !isKind(err, policy.ErrByteReversed) {
		t.Errorf("ValidateAll: %v, want ErrByteReversed", err)
	}
}
