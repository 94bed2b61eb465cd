// Package nitro verifies AWS Nitro Enclaves attestation documents.
//
// A document is a COSE_Sign1 (RFC 8152), tagged or not, signed with ES384
// by the Nitro Security Module (NSM) of an enclave; its payload is a CBOR
// map (aws-nitro-enclaves-nsm-api, docs/attestation_process.md, here
// [NSM]): module_id, digest, timestamp, pcrs, the signing certificate, the
// cabundle of its issuers (root first), and the optional public_key,
// user_data and nonce the enclave asked the NSM to sign. The COSE and CBOR
// decoding is github.com/veraison/go-cose and github.com/fxamacker/cbor.
//
// # What is verified
//
// Parse rejects anything that breaks a rule of [NSM] 3.2.2: a protected
// header other than {1: -35} (ES384), a non-empty unprotected header (it
// is not signed), bytes after the envelope, a signature that is not 96
// bytes, a payload field that is unknown, missing, null when mandatory or
// of the wrong CBOR type, digest other than "SHA384", PCR indexes outside
// 0-31, PCR values that are not 48 bytes (the SHA-384 size), certificates
// that are empty, over 1024 bytes or not X.509.
//
// Verify then checks, in order, and reports each as an attest.Check:
//
//   - chain.root: cabundle[0] is a trusted root, valid at Options.Now;
//   - chain.intermediate: each further cabundle certificate is a CA signed
//     by the one before it and valid at Options.Now (one check, every
//     link named);
//   - chain.leaf: the document's certificate is an ECDSA P-384 end-entity
//     certificate signed by the last of them, valid at Options.Now, on a
//     path that passes crypto/x509's RFC 5280 validation;
//   - signature: the COSE_Sign1 signature verifies with that certificate's
//     key;
//   - timestamp: the document's timestamp lies within that certificate's
//     validity and not after Options.Now (give or take a minute);
//   - nonce: the nonce field equals Options.Nonce exactly (skipped, and
//     said so, without one);
//   - tls.binding: for a document carried in a certificate, user_data or
//     public_key is that certificate's SubjectPublicKeyInfo.
//
// Policy.Apply then judges the verified claims: by default an enclave in
// debug mode (PCR0, PCR1 and PCR2 all zero) is contraindicated
// (policy.debug).
//
// # What is trusted
//
// The AWS Nitro Enclaves Root-G1 embedded in trust/ (or Options.Roots),
// and the clock. The Nitro PKI publishes no CRLs; its certificates are
// short-lived instead (the document's own certificate for about three
// hours), so a recorded document verifies only at about its own
// timestamp: pass that time as Options.Now (--at).
//
// # What the evidence does not prove
//
// See Coverage: a document proves which enclave image runs (PCR0-2) on
// which parent instance (PCR3, PCR4) on AWS Nitro hardware, not what the
// parent instance runs, not what the enclave did after it started, and
// not freshness without a nonce.
package nitro
