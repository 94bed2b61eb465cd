// Package tpm verifies TPM 2.0 quotes: a TPM2_Quote's TPMS_ATTEST and
// TPMT_SIGNATURE against an attestation key (AK), the PCR values it
// covers, and the TCG event log that explains them.
//
// Evidence: go-tpm-tools' attest.Attestation protobuf (AK public, one
// quote per PCR bank with its PCR values, the event log, the AK
// certificate and intermediates), or a bare TPMS_ATTEST (tpm2_quote -m)
// with collateral: the TPMT_SIGNATURE (-s), the serialized PCR file (-o),
// the AK public as TPM2B_PUBLIC or PEM, an AK certificate and an event
// log. Structures are decoded with go-tpm's tpm2 package, never by hand,
// and must be canonical (no trailing bytes).
//
// # What is verified
//
// Verify checks, in order, and reports each as an attest.Check:
//
//   - ak.trust: the AK is enrolled (Options.Enrolled: its Name, hence its
//     TPMT_PUBLIC, equals that of an AK that passed credential
//     activation), or an AK certificate chains to a trusted AK CA at
//     Options.Now and certifies the AK's public key, and the AK (when its
//     TPMT_PUBLIC is known) is a restricted signing key. Otherwise the
//     check fails: nothing vouches for the AK;
//   - signature: each quote's TPMT_SIGNATURE (RSASSA, RSAPSS or ECDSA
//     with SHA-1, SHA-256 or SHA-384) verifies over the TPMS_ATTEST bytes
//     with the AK;
//   - pcr.digest: the supplied PCR values of the selected banks, hashed in
//     selection order with the signature's hash, equal pcrDigest (TPM 2.0
//     Part 3, section 18.4.1); only those values become claims;
//   - nonce: extraData equals Options.Nonce (skipped without one);
//   - eventlog.replay: the event log (internal/eventlog/tcg) replays to
//     the quoted values of PCRs 0-7 and of every other PCR it extends, in
//     every bank both have.
//
// # What is trusted
//
// The embedded cloud vTPM AK CAs in trust/ (Google Compute Engine's EK/AK
// CAs and Azure's vTPM AK CAs; docs/trust-anchors.md) or Options.Roots,
// the enrolments in Options.Enrolled (and the EKs they were activated
// against), and the clock.
//
// # Credential activation
//
// activation.go is the verifier's side of credential activation (TPM 2.0
// Part 1, section 24): MakeCredential protects a secret to an EK, bound
// to the AK's Name (go-tpm's tpm2.CreateCredential does the KDFa and seed
// encryption); the attester's TPM2_ActivateCredential returns it only if
// the TPM holds that EK and has an object of that Name loaded;
// CheckActivation compares it; an Enrollment records the AK, the EK's
// SHA-256 and the time. CheckActivationAK admits only restricted signing
// AKs fixed to their TPM, since activation proves residence, not
// attributes.
//
// # What is not done yet
//
// The EK itself is trusted as given: an EK certificate's chain to a TPM
// manufacturer CA is not verified, so an enrolment proves "the AK is in
// the TPM holding this EK", and which TPM that is rests on how the EK was
// obtained. Enrolments do not expire. qualifiedSigner is reported, not
// compared with the AK's Name (it depends on the AK's hierarchy).
//
// # What the evidence does not prove
//
// See Coverage: the PCR state at quote time and, through the log, the
// boot; nothing about runtime after boot (unless IMA's log is appraised),
// disk encryption, or memory confidentiality. Without ak.trust, nothing
// about which TPM signed; with an enrolment, which TPM only as far as the
// EK is known to be a TPM's.
package tpm
