// Package sevsnp verifies AMD SEV-SNP attestation reports.
//
// # What is verified
//
// Verify checks, in order, and reports each as an attest.Check:
//
//   - signer: KEY_INFO names the VCEK or the VLEK (an unsigned report fails);
//   - product: Milan, Genoa or Turin, from the report's CPUID fields
//     (version 3 and later) and the VEK certificate, which must agree;
//   - chain.ark, chain.ask, chain.vek: the VEK (VCEK or VLEK) is signed by
//     the product's ASK (ASVK for a VLEK), which is signed by a trusted ARK;
//     every certificate is inside its validity window at Options.Now;
//   - crl: the ARK-signed CRL, current at Options.Now, does not revoke the
//     ASK or ASVK (skipped, and said so, when no CRL is at hand offline);
//   - vek.hwid (VCEK): the certificate's hwID is the report's CHIP_ID;
//     vek.csp (VLEK): names the provider the VLEK was issued to;
//   - vek.tcb: the certificate's SPL extensions equal REPORTED_TCB;
//   - signature: ECDSA P-384 with SHA-384 over bytes 0h-29Fh;
//   - nonce: REPORT_DATA equals the expected nonce, zero-padded.
//
// Parse, before all of this, rejects any report that is not exactly
// 1184 bytes of a known version (2 to 5) with every reserved field zero,
// including the unused high bytes of R and S and the tail of the signature
// field. Policy (debug, migration agent, VMPL) is judged separately by
// Policy.Apply, on verified claims only.
//
// # What is trusted
//
// The AMD ARKs embedded in trust/ (or Options.Roots), and the clock. The
// ASKs and ASVKs embedded beside them are not trusted by themselves: they
// must chain to an ARK like any supplied certificate.
//
// # What the evidence does not prove
//
// See Coverage: a report proves the initial guest image and the platform's
// firmware, not what the guest ran after launch.
//
// # Relation to go-sev-guest
//
// Parsing and verification are implemented here, on the standard library,
// because go-sev-guest v0.15.0 rejects Turin VCEKs (it does not know the
// fmcSPL extension), cannot place reports from CPU models it does not list
// (family 19h model A0h), and returns a bare error rather than claims and
// an explained list of checks. go-sev-guest remains the reader of its own
// Attestation protobuf (FormatAttestationProto) and the independent oracle
// of the differential test against our parser.
package sevsnp
