package token_test

import (
	"errors"
	"testing"

	"github.com/veraison/ear"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/token"
)

func TestTrustVector(t *testing.T) {
	pass := func(name string) attest.Check { return attest.Pass(name, "ok") }
	fail := func(name string) attest.Check { return attest.Fail(name, errors.New("bad")) }
	warn := func(name string) attest.Check { return attest.Warn(name, "stale") }
	skip := func(name string) attest.Check { return attest.Skip(name, "offline") }
	snpChain := []attest.Check{pass("parse"), pass("signer"), pass("chain.ark"), pass("chain.ask"), pass("chain.vek"), pass("vek.hwid"), pass("vek.tcb"), pass("signature")}
	dcapChain := []attest.Check{pass("parse"), pass("chain.root"), pass("chain.pck"), pass("qe.signature"), pass("qe.binding"), pass("signature"), pass("qe.identity"), pass("tcb.level")}
	with := func(base []attest.Check, more ...attest.Check) []attest.Check {
		return append(append([]attest.Check(nil), base...), more...)
	}
	tests := []struct {
		name   string
		checks []attest.Check
		status *attest.Status // nil: derived by Finish
		want   ear.TrustVector
	}{
		{
			name:   "snp-affirming",
			checks: with(snpChain, pass("nonce"), pass("policy.debug"), pass("policy.migrate_ma")),
			want:   ear.TrustVector{Hardware: 2, InstanceIdentity: 2, Configuration: 3},
		},
		{
			name:   "snp-crl-skipped-still-genuine",
			checks: with(snpChain, skip("crl"), pass("policy.debug")),
			want:   ear.TrustVector{Hardware: 2, InstanceIdentity: 2, Configuration: 3},
		},
		{
			name:   "snp-revoked",
			checks: with(snpChain, fail("crl")),
			want:   ear.TrustVector{Hardware: 96},
		},
		{
			name:   "snp-chain-broken",
			checks: []attest.Check{pass("parse"), pass("chain.ark"), fail("chain.ask"), pass("signature")},
			want:   ear.TrustVector{Hardware: 97},
		},
		{
			name:   "snp-signature-bad",
			checks: with(snpChain[:len(snpChain)-1], fail("signature")),
			want:   ear.TrustVector{Hardware: 2, InstanceIdentity: 99},
		},
		{
			name:   "snp-debug",
			checks: with(snpChain, fail("policy.debug")),
			want:   ear.TrustVector{Hardware: 2, InstanceIdentity: 2, Configuration: 96},
		},
		{
			name:   "snp-vek-tcb-mismatch",
			checks: with(snpChain, fail("vek.tcb")),
			want:   ear.TrustVector{Hardware: 96},
		},
		{
			name:   "tdx-uptodate",
			checks: with(dcapChain, pass("tcb.status"), pass("policy.debug"), pass("rtmr.replay")),
			want:   ear.TrustVector{Hardware: 2, InstanceIdentity: 2, Configuration: 3},
		},
		{
			name:   "tdx-sw-hardening-needed",
			checks: with(dcapChain, warn("tcb.status"), pass("policy.debug")),
			want:   ear.TrustVector{Hardware: 32, InstanceIdentity: 2, Configuration: 3},
		},
		{
			name:   "tdx-revoked-tcb",
			checks: with(dcapChain, fail("tcb.status")),
			want:   ear.TrustVector{Hardware: 96},
		},
		{
			name:   "tdx-qe-unknown",
			checks: with(dcapChain[:6], fail("qe.identity")),
			want:   ear.TrustVector{Hardware: 96},
		},
		{
			name:   "tdx-rtmr-replay-mismatch",
			checks: with(dcapChain, pass("tcb.status"), fail("rtmr.replay")),
			want:   ear.TrustVector{Hardware: 2, InstanceIdentity: 2, Executables: 96},
		},
		{
			name:   "sgx-debug-enclave",
			checks: with(dcapChain, pass("tcb.status"), fail("policy.debug")),
			want:   ear.TrustVector{Hardware: 2, InstanceIdentity: 2, Configuration: 96},
		},
		{
			name:   "tpm-enrolled-ak",
			checks: []attest.Check{pass("parse"), pass("ak.trust"), pass("signature"), pass("nonce"), pass("pcr.digest"), pass("eventlog.replay")},
			want:   ear.TrustVector{InstanceIdentity: 2},
		},
		{
			name:   "tpm-unknown-ak",
			checks: []attest.Check{pass("parse"), fail("ak.trust"), pass("signature")},
			want:   ear.TrustVector{InstanceIdentity: 97},
		},
		{
			name:   "tpm-pcr-digest-mismatch",
			checks: []attest.Check{pass("parse"), pass("ak.trust"), pass("signature"), fail("pcr.digest")},
			want:   ear.TrustVector{InstanceIdentity: 2, Executables: 96},
		},
		{
			name:   "tpm-eventlog-warning",
			checks: []attest.Check{pass("parse"), pass("ak.trust"), pass("signature"), warn("eventlog.replay")},
			want:   ear.TrustVector{InstanceIdentity: 2, Executables: 33},
		},
		{
			name:   "cca-supplied-cpak",
			checks: []attest.Check{pass("parse"), pass("platform.endorsement"), pass("platform.signature"), pass("realm.signature"), pass("binding"), pass("platform.lifecycle")},
			want:   ear.TrustVector{InstanceIdentity: 2, Configuration: 3},
		},
		{
			name:   "cca-lifecycle-not-secured",
			checks: []attest.Check{pass("parse"), pass("platform.endorsement"), pass("platform.signature"), pass("realm.signature"), pass("binding"), warn("platform.lifecycle")},
			want:   ear.TrustVector{InstanceIdentity: 2, Configuration: 32},
		},
		{
			name:   "cca-endorsement-expired-warning",
			checks: []attest.Check{pass("parse"), warn("platform.endorsement"), pass("platform.signature"), pass("realm.signature"), pass("binding")},
			want:   ear.TrustVector{},
		},
		{
			name:   "cca-binding-broken",
			checks: []attest.Check{pass("parse"), pass("platform.endorsement"), pass("platform.signature"), pass("realm.signature"), fail("binding")},
			want:   ear.TrustVector{InstanceIdentity: 96},
		},
		{
			name: "azure-snp-prefixed",
			checks: []attest.Check{pass("hcl.parse"), pass("snp.parse"), pass("snp.chain.ark"), pass("snp.chain.ask"), pass("snp.chain.vek"), pass("snp.vek.tcb"), pass("snp.signature"),
				pass("hcl.binding"), pass("vtpm.signature"), pass("vtpm.pcr_digest"), pass("nonce"), pass("policy.debug")},
			want: ear.TrustVector{Hardware: 2, InstanceIdentity: 2, Configuration: 3},
		},
		{
			name:   "azure-tdx-stale-tcb",
			checks: []attest.Check{pass("hcl.parse"), pass("tdx.parse"), pass("tdx.chain.root"), pass("tdx.chain.pck"), pass("tdx.signature"), warn("tdx.tcb.status"), pass("hcl.binding"), pass("vtpm.signature")},
			want:   ear.TrustVector{Hardware: 32, InstanceIdentity: 2},
		},
		{
			name:   "azure-hcl-binding-broken",
			checks: []attest.Check{pass("snp.chain.ark"), pass("snp.signature"), fail("hcl.binding"), pass("vtpm.signature"), fail("vtpm.pcr_digest")},
			want:   ear.TrustVector{Hardware: 2, InstanceIdentity: 96, Executables: 96},
		},
		{
			name:   "nitro",
			checks: []attest.Check{pass("parse"), pass("chain.root"), pass("chain.intermediate"), pass("chain.leaf"), pass("signature"), pass("timestamp"), pass("nonce"), pass("policy.debug")},
			want:   ear.TrustVector{Hardware: 2, InstanceIdentity: 2, Configuration: 3},
		},
		{
			name:   "nitro-tls-binding-broken",
			checks: []attest.Check{pass("chain.root"), pass("chain.leaf"), pass("signature"), fail("tls.binding")},
			want:   ear.TrustVector{Hardware: 2, InstanceIdentity: 96},
		},
		{
			name:   "signature-without-anchor-proves-no-identity",
			checks: []attest.Check{pass("parse"), pass("signature"), pass("policy.debug")},
			want:   ear.TrustVector{},
		},
		{
			name:   "parse-failure",
			checks: []attest.Check{fail("parse")},
			want:   ear.TrustVector{},
		},
		{
			name:   "nonce-failure-is-status-only",
			checks: with(snpChain, fail("nonce")),
			want:   ear.TrustVector{Hardware: 2, InstanceIdentity: 2},
		},
		{
			name:   "failure-without-severity-is-contraindicated",
			checks: with(snpChain, attest.Check{Name: "policy.vmpl", Detail: "VMPL 2"}),
			want:   ear.TrustVector{Hardware: 2, InstanceIdentity: 2, Configuration: 96},
		},
		{
			name:   "only-skipped-checks",
			checks: []attest.Check{skip("crl"), skip("nonce")},
			want:   ear.TrustVector{},
		},
		{
			name:   "status-none-gets-no-claims",
			checks: snpChain,
			status: new(attest.StatusNone),
			want:   ear.TrustVector{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &attest.Result{TEE: "x", Checks: tt.checks}
			r.Finish()
			if tt.status != nil {
				r.Status = *tt.status
			}
			got := token.TrustVector(r)
			if got != tt.want {
				t.Errorf("TrustVector =\n%+v, want\n%+v", got, tt.want)
			}
			// No claim is worse than the result's own status, so the
			// vector never lowers a status Finish derived.
			for name, c := range got.AsMap() {
				if c.GetTier() != ear.TrustTierNone && tier(r.Status) < c.GetTier() {
					t.Errorf("%s claim %d (%s) is worse than the status %s", name, c, c.GetTier(), r.Status)
				}
			}
		})
	}
	if got := token.TrustVector(nil); got != (ear.TrustVector{}) {
		t.Errorf("TrustVector(nil) = %+v", got)
	}
}

func tier(s attest.Status) ear.TrustTier {
	return map[attest.Status]ear.TrustTier{
		attest.StatusAffirming:       ear.TrustTierAffirming,
		attest.StatusWarning:         ear.TrustTierWarning,
		attest.StatusContraindicated: ear.TrustTierContraindicated,
	}[s]
}
