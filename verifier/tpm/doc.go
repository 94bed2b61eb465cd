// Package tpm verifies TPM 2.0 quotes: a TPM2_Quote's TPMS_ATTEST and
// TPMT_SIGNATURE against an attestation key (AK), the PCR values it
// covers, the TCG event log that explains them, the EK certificate of the
// TPM, and the IMA measurement list with its allow list and signing keys.
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
//   - ek.chain, ek.san, ek.key (with an EK certificate, VerifyEK): it
//     chains to a TPM vendor CA at Options.Now, its subjectAltName names
//     the TPM (manufacturer, model, version), it certifies an RSA 2048 or
//     3072, or ECC P-256 or P-384 EK, and that EK is the one the enrolled AK was activated
//     against (or the EK TPM2B_PUBLIC given) when either is known;
//   - eventlog.replay: the event log (internal/eventlog/tcg) replays to
//     the quoted values of PCRs 0-7 and of every other PCR it extends, in
//     every bank both have;
//   - iak.profile, idevid.certificate, idevid.certify (with an IDevID,
//     VerifyIDevID): the AK's certificate is an IAK certificate; the
//     IDevID certificate chains to Options.Roots and names the IAK's
//     hardware module; the IAK's TPM2_Certify names the IDevID key;
//   - ima.replay, ima.boot_aggregate, ima.allowlist, ima.signatures (with
//     an IMA log, allow list or keys): a prefix of the IMA log replays to
//     the quoted PCR 10; its boot_aggregate is the hash of the quoted PCRs
//     0-9 or 0-7; each of its file measurements has a digest the allow
//     list gives for its path or a valid signature; each signature
//     verifies with the key its key ID names (internal/eventlog/tcg,
//     IMALog.Appraise).
//
// # What is trusted
//
// The embedded cloud vTPM AK CAs in trust/ (Google Compute Engine's EK/AK
// CAs and Azure's vTPM AK CAs; docs/trust-anchors.md) or Options.Roots;
// the TPM vendors' EK CAs in trust/ek/ with the cloud CAs, or
// Options.EKRoots; the enrolments in Options.Enrolled (and the EKs they
// were activated against); the IMA allow list and keys, as given (by the
// operator through Options or Verifier, or among the bundle's files); and
// the clock.
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
// An enrolment proves "the AK is in the TPM holding this EK"; which TPM
// that is, an EK certificate given with the quote says (ek.key binds the
// two), and assay tpm challenge does not yet refuse an EK certificate
// that fails VerifyEK. Enrolments do not expire. qualifiedSigner is
// reported, not compared with the AK's Name (it depends on the AK's
// hierarchy). IMA: version 3 and fs-verity signatures, ima-buf entries
// and a Keylime policy's keyrings are not judged.
//
// # What the evidence does not prove
//
// See Coverage: the PCR state at quote time and, through the log, the
// boot; runtime after boot only as far as IMA measured it and its log is
// given; nothing about disk encryption or memory confidentiality. Without
// ak.trust, nothing about which TPM signed; with an enrolment, which TPM
// only as far as the EK is known to be a TPM's (a bound EK certificate).
package tpm
