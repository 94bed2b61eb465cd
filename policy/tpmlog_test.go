package policy_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/policy"
)

// TestTPMEventLog judges what a GCE Container-Optimized OS 85 boot
// recorded (go-tpm-tools' attestation in the corpus, its event log
// replayed to the quoted PCRs): Secure Boot state, the kernel command
// line grub logged, and the boot applications' Authenticode digests,
// rather than opaque PCR values.
func TestTPMEventLog(t *testing.T) {
	r := corpusResult(t, "2022-01-01T00:00:00Z", "tpm/quotes/go-tpm-tools/gce-cos-85-nonce9009.pb")
	var c struct {
		EventLog struct {
			SecureBoot    *bool `json:"secure_boot"`
			KernelCmdline []struct {
				Text string `json:"text"`
			} `json:"kernel_cmdline"`
			BootApplications []struct {
				Digests map[string]string `json:"digests"`
			} `json:"boot_applications"`
		} `json:"event_log"`
	}
	b, _ := json.Marshal(r.Claims)
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	log := c.EventLog
	if log.SecureBoot == nil || len(log.KernelCmdline) == 0 || len(log.BootApplications) < 2 {
		t.Fatalf("the sample's log decodes to %+v; the test wants Secure Boot state, a command line and two or more boot applications", log)
	}
	sb := fmt.Sprint(*log.SecureBoot)
	cmdline := log.KernelCmdline[0].Text
	var apps []policy.RefValue
	for i, a := range log.BootApplications {
		apps = append(apps, ref(fmt.Sprintf("app%d", i), "tpm", "event_log.boot_applications.sha256", a.Digests["sha256"], policy.StateActive))
	}
	good := append([]policy.RefValue{
		ref("sb", "tpm", "event_log.secure_boot", sb, policy.StateActive),
		ref("cmdline", "tpm", "event_log.kernel_cmdline", cmdline, policy.StateActive),
	}, apps...)
	if err := policy.ValidateAll(good); err != nil {
		t.Fatal(err)
	}
	other := map[string]string{"true": "false", "false": "true"}[sb]
	// One byte of the command line: "ro" becomes "rw", or a space is added.
	changed := strings.Replace(cmdline, " ro ", " rw ", 1)
	if changed == cmdline {
		changed = cmdline + " "
	}
	e := newEngine(t, policy.Options{})
	for _, tc := range []struct {
		name       string
		refs       []policy.RefValue
		want       attest.Status
		claim, msg string
	}{
		{"all-match", good, attest.StatusAffirming, "", ""},
		{"secure-boot", append(append([]policy.RefValue{}, good[1:]...), ref("sb", "tpm", "event_log.secure_boot", other, policy.StateActive)),
			attest.StatusContraindicated, "event_log.secure_boot", "matches no reference value"},
		{"cmdline-byte", append([]policy.RefValue{good[0], ref("cmdline", "tpm", "event_log.kernel_cmdline", changed, policy.StateActive)}, apps...),
			attest.StatusContraindicated, "event_log.kernel_cmdline", "(grub, PCR 8)"},
		{"app-missing", good[:len(good)-1], attest.StatusContraindicated, "event_log.boot_applications.sha256", "boot application"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := e.Evaluate(t.Context(), r, tc.refs, policy.EvalOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != tc.want {
				t.Fatalf("status %s, want %s: %+v", d.Status, tc.want, d.Reasons)
			}
			if tc.claim == "" {
				if policy.ClaimTier(d.TrustVector.Executables) != attest.StatusAffirming || policy.ClaimTier(d.TrustVector.Configuration) != attest.StatusAffirming {
					t.Errorf("trust vector %+v, want executables and configuration affirmed", d.TrustVector)
				}
				return
			}
			found := false
			for _, rs := range d.Reasons {
				if rs.Claim == tc.claim && rs.Status == attest.StatusContraindicated {
					found = true
					if !strings.Contains(rs.Message, tc.msg) {
						t.Errorf("reason %q does not say %q", rs.Message, tc.msg)
					}
				}
			}
			if !found {
				t.Errorf("no contraindicated reason names %s: %+v", tc.claim, d.Reasons)
			}
		})
	}
}

// TestTPMEventLogAbsent: reference values that name event-log claims
// contraindicate evidence without a log; they are never skipped.
func TestTPMEventLogAbsent(t *testing.T) {
	r := &attest.Result{TEE: "tpm", Status: attest.StatusAffirming, Claims: map[string]any{"pcrs": map[string]any{}}}
	e := newEngine(t, policy.Options{})
	for _, claim := range []string{"event_log.kernel_cmdline", "event_log.boot_applications.sha256", "event_log.secure_boot"} {
		value := map[string]string{
			"event_log.kernel_cmdline":           "ro quiet",
			"event_log.boot_applications.sha256": strings.Repeat("ab", 32),
			"event_log.secure_boot":              "true",
		}[claim]
		d, err := e.Evaluate(t.Context(), r, []policy.RefValue{ref("x", "tpm", claim, value, policy.StateActive)}, policy.EvalOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != attest.StatusContraindicated {
			t.Errorf("%s: status %s without an event log, want contraindicated: %+v", claim, d.Status, d.Reasons)
		}
	}
}

func TestTPMEventLogValidation(t *testing.T) {
	for _, tc := range []struct{ claim, value string }{
		{"event_log.secure_boot", "yes"},
		{"event_log.kernel_cmdline", "ro\nquiet"},
		{"event_log.kernel_cmdline", ""},
		{"event_log.boot_applications.sha256", strings.Repeat("ab", 20)},
		{"event_log.boot_applications.sha1", strings.Repeat("AB", 20)},
	} {
		if err := policy.Validate(ref("x", "tpm", tc.claim, tc.value, policy.StateActive), nil); err == nil {
			t.Errorf("%s = %q accepted", tc.claim, tc.value)
		}
	}
}
