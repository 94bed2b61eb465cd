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
//   - ak.trust: an AK certificate chains to a trusted AK CA at
//     Options.Now and certifies the AK's public key, and the AK (when its
//     TPMT_PUBLIC is known) is a restricted signing key. Without a
//     certificate the check fails: nothing vouches for the AK;
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
// and the clock.
//
// # What is not done yet
//
// Credential activation (TPM2_MakeCredential / ActivateCredential against
// an EK certified by a TPM manufacturer) and AK enrolment are the next
// slice: until then an AK without a cloud AK certificate is not vouched
// for, ak.trust fails and the result is contraindicated by default, even
// when the quote itself is intact. qualifiedSigner is reported, not
// compared with the AK's Name (it depends on the AK's hierarchy).
//
// # What the evidence does not prove
//
// See Coverage: the PCR state at quote time and, through the log, the
// boot; nothing about runtime after boot (unless IMA's log is appraised),
// disk encryption, or memory confidentiality. Without ak.trust, nothing
// about which TPM signed.
package tpm
