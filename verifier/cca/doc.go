// Package cca verifies Arm CCA attestation tokens: the collection of a CCA
// platform token and a realm token that a realm obtains from the RMM (Arm
// Realm Management Monitor specification, DEN0137 1.0-rel0, A7 "Realm
// attestation"; the collection is CBOR tag 399 with keys 44234 and 44241),
// or the same two tokens in the RATS CMW collection of RMM 2.0 and
// draft-ffm-rats-cca-token-02 (CBOR tag 907, each a record [263, bytes]).
//
// Decoding and claim syntax are github.com/veraison/ccatoken's (v1.3.1);
// COSE_Sign1 is github.com/veraison/go-cose's. This package adds what a
// verifier needs around them: a strict collection decode, one named check
// per step instead of ccatoken's single Evidence.Verify error, CPAK
// endorsements read from files, claims, and policy.
//
// # What is verified
//
// Parse refuses a collection with a missing, duplicate or unknown key, a
// token that is not a tagged COSE_Sign1 with an attached payload and a
// protected algorithm, and claims ccatoken finds malformed (lengths,
// mandatory claims, an unknown platform or realm profile). Verify then
// checks, in order, and reports each as an attest.Check:
//
//   - realm.signature: the realm token verifies with the RAK in its realm
//     public key claim (a raw P-384 point, or a COSE_Key under the 2023
//     realm profile), with an algorithm matching the key's curve;
//   - corim.signature, only when a signed CoRIM (COSE_Sign1, as
//     veraison/corim signs one) is among the endorsements: its signature
//     verifies with a key supplied for it (Options.CoRIMKeys); the CPAKs
//     of one that does not are not used;
//   - platform.signature: the platform token verifies with a supplied CPAK
//     whose endorsement names this token's instance and implementation IDs,
//     or names none (a bare key file);
//   - platform.endorsement: where that CPAK came from, and whether its
//     endorsement (a CoRIM's validity-map) covers the verification time;
//     outside it the result is a warning;
//   - binding: the platform challenge equals the hash of the realm public
//     key claim under the realm public key hash algorithm (RMM A7.2.3.2,
//     platform challenge claim; A7.2.3.1);
//   - nonce: the realm challenge equals the expected nonce right-padded
//     with zeros to 64 bytes (skipped, and said so, without one).
//
// Policy.Apply then judges verified claims: platform.lifecycle is a
// warning for a lifecycle outside "secured" (PSA 0x3000-0x30ff), or a
// failure with Policy.RequireSecured.
//
// # What is trusted
//
// The endorsements the caller supplies, and nothing else: a PEM or JWK
// public key, Trustee's tastore.json, or a CoRIM's attest-key triple, the
// CoRIM unsigned or signed by a key the caller supplies too. None of them
// is chained to a silicon vendor (no certificate a signed CoRIM carries is
// trusted), and no vendor root is built in, so the claim real_hardware is
// always null. The RAK is trusted
// only through the binding: the platform token, signed by the CPAK,
// carries its hash.
//
// # What the evidence does not prove
//
// See Coverage. In short: genuine hardware (the CPAK's provenance is only
// as good as the endorsement; every token in the corpus comes from the Arm
// FVP simulator or is synthetic, signed with public test keys), expected
// measurements (reference values are recognised, not compared), anything
// after the last REM extension, revocation of the CPAK, and freshness
// without a nonce.
package cca
