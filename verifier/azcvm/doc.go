// Package azcvm verifies Azure confidential VM evidence (az-snp-vtpm,
// az-tdx-vtpm): the HCL report that Azure's paravisor writes to vTPM NV
// index 0x01400001, and a quote of the vTPM that the paravisor hosts.
//
// Evidence: the raw HCL report (a 32-byte header, the SEV-SNP
// ATTESTATION_REPORT or the TDREPORT in a 1184-byte slot,
// IGVM_REQUEST_DATA, then the runtime data JSON: the vTPM keys as JWKs,
// "vm-configuration", "user-data"), or Trustee's az-snp-vtpm / az-tdx-vtpm
// evidence JSON (versions 0-2), which adds the vTPM quote (TPMS_ATTEST,
// RSASSA signature, SHA-256 PCRs 0-23) and Azure's VCEK or the TD quote.
//
// # What is verified
//
// Verify composes the other verifiers and reports every link:
//
//   - hcl.parse: the HCL structure and the runtime data's AK (kid
//     "HCLAkPub");
//   - snp.*: the SNP report with package sevsnp (VCEK from the evidence or
//     beside it, chain to the embedded AMD roots, TCB, signature); or
//     tdx.*: the TD quote with internal/dcap, and tdx.td_report: the quote
//     carries the HCL's TDREPORT (same REPORTDATA and MRTD);
//   - hcl.binding: REPORT_DATA[0:32] equals SHA-256 of the runtime data
//     bytes exactly as in the HCL report (the hash type the HCL names);
//   - vtpm.ak_certificate: when an AK certificate is given (vTPM NV index
//     0x01C101D0), it certifies the runtime data's AK and chains to the
//     Azure Virtual TPM Root Certificate Authority 2023 (embedded in
//     package tpm): a second anchor for the AK, independent of the
//     hardware report; skipped without one;
//   - vtpm.signature: the quote verifies with the runtime data's AK, using
//     package tpm. The check's detail names what vouches for the AK: the
//     hardware report binding the runtime data that carries it, and the
//     AK certificate when it passed (or says the AK is not vouched for
//     when the hardware report or the binding failed);
//   - vtpm.pcr_digest: the PCR values hash to the signed pcrDigest; only
//     then do they become claims;
//   - nonce: the quote's extraData equals Options.Nonce (skipped without);
//   - vtpm.eventlog.replay: the TCG event log, when given, replays
//     (internal/eventlog/tcg) to the quoted SHA-256 PCRs 0-7 and every
//     other PCR it extends; a mismatch names the first event that breaks
//     it; its decoded events become the event_log claims;
//   - the TEE's default policy (policy.debug, ...).
//
// # What is trusted
//
// The embedded AMD roots (sevsnp) or the Intel SGX Root CA (dcap), the
// clock, and Azure's paravisor: it is the code at VMPL0 (or in the TD) that
// puts the vTPM's AK into the runtime data. Its measurement is reported,
// not judged: compare it with reference values. With an AK certificate,
// also Microsoft's vTPM CA (the embedded Azure root, or Options.AKRoots).
// An event log is trusted for nothing until it replays to the quote.
//
// # What the evidence does not prove
//
// See Coverage: freshness of the hardware report (REPORT_DATA carries the
// runtime data hash, never a nonce), that the paravisor or the PCR values
// are good ones (a replayed event log says what was measured, not that it
// is acceptable), the guest's runtime, disk encryption. A raw HCL report
// carries no vTPM quote, so no PCRs.
//
// A raw TDX HCL report and its TD quote given as separate files are one
// appraisal: Verifier.Absorbs takes the quote, and Verify receives it
// through Options.TDQuote.
package azcvm
