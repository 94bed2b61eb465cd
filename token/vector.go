package token

import (
	"strings"

	"github.com/veraison/ear"

	"github.com/assay-dev/assay/attest"
)

// TrustVector derives the AR4SI trustworthiness vector
// (draft-ietf-rats-ar4si, section 2.3) of one appraisal from its checks.
// It claims no more than the checks show: a claim is affirming only when a
// check that proves it passed, and a failed check lowers the claim of its
// category to the tier of its severity, never further. Skipped checks
// neither affirm nor lower anything (Coverage says what they leave open),
// and a result whose Status is none gets no claims at all.
//
// Check names are matched by their last dotted segments, so a check a
// composite verifier prefixes ("snp.chain.vek" in an Azure CVM appraisal)
// counts like its plain form ("chain.vek").
//
// hardware (the platform and its firmware are genuine):
//   - 97 unrecognized when a chain.* check failed (no vendor root vouches);
//   - 96 contraindicated when another platform check failed as
//     contraindicated: tcb.*, vek.*, crl, product, signer, pck.extensions,
//     qe.identity, qe.binding, qe.signature;
//   - 32 unsafe when one of those failed as a warning (an out-of-date TCB,
//     tcb.status SWHardeningNeeded);
//   - 2 genuine when a chain.* check passed (SEV-SNP ARK/ASK/VEK, Intel
//     PCK, AWS Nitro) and none of the above failed;
//   - 0 otherwise: TPM and Arm CCA evidence carries no vendor chain here
//     (their keys are trusted because they were enrolled or supplied).
//
// instance-identity (this attester, recognized, signed the evidence):
//   - 99 crypto failed when an evidence signature check failed (signature,
//     platform.signature, realm.signature, vtpm.signature);
//   - 97 unrecognized when ak.trust or platform.endorsement failed;
//   - 96 untrustworthy when a binding check failed (binding, hcl.binding,
//     tls.binding): the key that signed is not tied to the TEE;
//   - 2 recognized when an evidence signature check passed and the signing
//     key is anchored: hardware is 2 or 32, or ak.trust or
//     platform.endorsement passed;
//   - 0 otherwise.
//
// configuration (the TEE's launch policy):
//   - 96 unsupportable when a policy.* or platform.lifecycle check failed
//     as contraindicated (debug enabled, migration agent, VMPL, a platform
//     not in the secured lifecycle state when policy requires it);
//   - 32 unsafe when one failed as a warning;
//   - 3 no known vulnerabilities when at least one passed and instance
//     identity is 2 (so the claims judged come from authenticated
//     evidence); never 2 approved, which would need reference values this
//     package does not see;
//   - 0 otherwise.
//
// executables (what ran):
//   - 96 contraindicated when eventlog.replay, rtmr.replay, pcr.digest or
//     vtpm.pcr_digest failed as contraindicated: the log does not match
//     the measurements;
//   - 33 unrecognized when one failed as a warning;
//   - 0 otherwise, passing included: a replay that matches proves the log
//     is the one measured, not that what it lists is approved.
//
// file-system, runtime-opaque, storage-opaque and sourced-data: always 0.
// No verifier check speaks to them; that a TEE kind encrypts memory is
// knowledge about the kind, not a check of this evidence.
//
// Other checks (parse, nonce, timestamp, collateral.*) set no claim; their
// failures are in the status, which the vector never raises.
func TrustVector(r *attest.Result) ear.TrustVector {
	var tv ear.TrustVector
	if r == nil || r.Status == attest.StatusNone {
		return tv
	}
	var (
		chainOK, chainFail             bool
		hwWarn, hwContra               bool
		sigOK, sigFail                 bool
		anchorOK, anchorFail, bindFail bool
		cfgOK, cfgWarn, cfgContra      bool
		exeWarn, exeContra             bool
	)
	for _, c := range r.Checks {
		passed := c.OK && !c.Skipped
		warn, contra := false, false
		if !c.OK {
			// As attest.Result.Finish: a failure without a severity, or
			// with affirming, is contraindicated.
			warn = c.Severity == attest.StatusWarning
			contra = !warn
		}
		switch roleOf(c.Name) {
		case roleChain:
			chainOK = chainOK || passed
			chainFail = chainFail || contra
			hwWarn = hwWarn || warn
		case rolePlatform:
			hwWarn = hwWarn || warn
			hwContra = hwContra || contra
		case roleSignature:
			sigOK = sigOK || passed
			sigFail = sigFail || contra
		case roleAnchor:
			anchorOK = anchorOK || passed
			anchorFail = anchorFail || contra
		case roleBinding:
			bindFail = bindFail || contra
		case roleConfig:
			cfgOK = cfgOK || passed
			cfgWarn = cfgWarn || warn
			cfgContra = cfgContra || contra
		case roleExecutables:
			exeWarn = exeWarn || warn
			exeContra = exeContra || contra
		}
	}

	switch {
	case chainFail:
		tv.Hardware = ear.UnrecognizedHardwareClaim
	case hwContra:
		tv.Hardware = ear.ContraindicatedHardwareClaim
	case hwWarn:
		tv.Hardware = ear.UnsafeHardwareClaim
	case chainOK:
		tv.Hardware = ear.GenuineHardwareClaim
	}

	anchored := anchorOK || tv.Hardware == ear.GenuineHardwareClaim || tv.Hardware == ear.UnsafeHardwareClaim
	switch {
	case sigFail:
		tv.InstanceIdentity = ear.CryptoValidationFailedClaim
	case anchorFail:
		tv.InstanceIdentity = ear.UnrecognizedInstanceClaim
	case bindFail:
		tv.InstanceIdentity = ear.UntrustworthyInstanceClaim
	case sigOK && anchored:
		tv.InstanceIdentity = ear.TrustworthyInstanceClaim
	}

	switch {
	case cfgContra:
		tv.Configuration = ear.UnsupportableConfigClaim
	case cfgWarn:
		tv.Configuration = ear.UnsafeConfigClaim
	case cfgOK && tv.InstanceIdentity == ear.TrustworthyInstanceClaim:
		tv.Configuration = ear.NoConfigVulnsClaim
	}

	switch {
	case exeContra:
		tv.Executables = ear.ContraindicatedRuntimeClaim
	case exeWarn:
		tv.Executables = ear.UnrecognizedRuntimeClaim
	}
	return tv
}

// role is what a check says about the trustworthiness vector.
type role int

const (
	roleOther       role = iota
	roleChain            // a vendor certificate chain: can affirm hardware
	rolePlatform         // other platform and firmware checks: can only lower hardware
	roleSignature        // the evidence signature: instance identity
	roleAnchor           // an enrolled or supplied attestation key: instance identity
	roleBinding          // a key or report bound to the TEE: can only lower instance identity
	roleConfig           // launch policy: configuration
	roleExecutables      // measurement replay: can only lower executables
)

// roles maps check names, as emitted by the verifiers, to their role.
// A pattern "x.*" matches a segment x followed by anything; any other
// pattern matches the name's last segments. The first match wins, so the
// quoting enclave's checks come before the generic signature and binding.
var roles = []struct {
	pattern string
	role    role
}{
	{"qe.signature", rolePlatform},
	{"qe.identity", rolePlatform},
	{"qe.binding", rolePlatform},
	{"chain.*", roleChain},
	{"tcb.*", rolePlatform},
	{"vek.*", rolePlatform},
	{"crl", rolePlatform},
	{"product", rolePlatform},
	{"signer", rolePlatform},
	{"pck.extensions", rolePlatform},
	{"signature", roleSignature},
	{"ak.trust", roleAnchor},
	{"platform.endorsement", roleAnchor},
	{"binding", roleBinding},
	{"policy.*", roleConfig},
	{"platform.lifecycle", roleConfig},
	{"eventlog.replay", roleExecutables},
	{"rtmr.replay", roleExecutables},
	{"pcr.digest", roleExecutables},
	{"pcr_digest", roleExecutables},
}

func roleOf(name string) role {
	for _, r := range roles {
		if stem, ok := strings.CutSuffix(r.pattern, "*"); ok {
			if strings.HasPrefix(name, stem) || strings.Contains(name, "."+stem) {
				return r.role
			}
		} else if name == r.pattern || strings.HasSuffix(name, "."+r.pattern) {
			return r.role
		}
	}
	return roleOther
}
