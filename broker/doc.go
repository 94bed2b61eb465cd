// Package broker holds the key broker's cryptography and release
// decisions: secrets sealed at rest under key-encryption keys (Keyring),
// secrets wrapped to a TEE's ephemeral public key as a JWE (Wrap, Unwrap),
// and per-secret release policies judged against an appraisal
// (ReleasePolicy.Evaluate). It does no I/O: package server wires it to
// HTTP and to package store. docs/key-broker.md describes the file
// formats and the policy language.
//
// # What is protected
//
// At rest, a secret is AES-256-GCM encrypted under the keyring's active
// key, with associated data chosen by the caller (the secret's path, and
// its version to catch rollback) so that a sealed value cannot be moved to
// another secret unnoticed. In transit, it is encrypted to the public key
// the TEE put in its attestation (KBS protocol: ECDH-ES+A256KW or
// RSA-OAEP-256, content A256GCM), so that only the attested TEE can read
// it, whatever TLS terminates in between.
//
// # What is trusted
//
// The keyring file (whoever reads it reads every secret), the operating
// system's random number generator, and the appraisal handed to Evaluate:
// this package does not verify evidence, it trusts that the Appraisal came
// from a verifier and that the TEE key in it is the one bound into that
// evidence (the server checks the KBS runtime-data hash with internal/jcs).
//
// # What it does not do
//
// It does not zero keys or plaintexts in memory reliably (Go cannot
// promise it), does not rate-limit, and does not log; the caller logs the
// Decision, never the secret.
package broker
