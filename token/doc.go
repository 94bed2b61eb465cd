// Package token issues and verifies attestation result tokens: EAT
// Attestation Results (EAR, draft-ietf-rats-ear, profile
// "tag:github.com,2023:veraison/ear") in a JWT signed with ES256.
//
// # The token
//
// The JOSE header is {"alg":"ES256","kid":…,"typ":"JWT"}, kid being the
// RFC 7638 thumbprint of the signing key. The claims:
//
//   - eat_profile: tag:github.com,2023:veraison/ear;
//   - iat, exp: issuance and expiry, NumericDate (exp = iat + TTL);
//   - iss: the issuer's name; sub: optional;
//   - eat_nonce: the relying party's challenge, when it gave one;
//   - ear.verifier-id: {"developer": Developer, "build": the build};
//   - submods: one appraisal per attest.Result, named after its TEE
//     ("snp", "tdx", a repeat "snp-2"), each with ear.status,
//     ear.trustworthiness-vector (see TrustVector),
//     ear.appraisal-policy-id, ear.veraison.annotated-evidence (the
//     result's claims plus evidence_sha256 and evidence_format) and, when
//     the evidence bound a TEE key, ear.veraison.key-attestation
//     {"akpub": base64url DER SubjectPublicKeyInfo};
//   - tee-pubkey: that TEE key again, as the JWK it was given in, where
//     Confidential Containers' KBS relying parties look for it.
//
// docs/token.md shows a decoded token and explains rotation.
//
// # What is verified
//
// Verify lists its checks. It needs nothing but the token, the issuer's
// JWKS and a clock: no network, no state.
//
// # What is trusted
//
// The JWKS the relying party holds (fetched from the issuer over an
// authenticated channel), and the clocks of issuer and relying party, to
// within the leeway. The issuer, in turn, trusts its caller for the TEE
// key: IssueOptions.TEEPubKey is carried, not checked against the
// evidence.
//
// # What a token does not prove
//
// That the appraisal is current beyond iat: a token is a verdict at one
// time, replayable until exp unless the relying party checks its own
// nonce. That the bearer is the TEE: only a proof of possession of the
// tee-pubkey key shows that. And nothing beyond the result it carries:
// the trust vector is derived from the verifier's checks and claims no
// more than they show (see TrustVector); reference-value judgements,
// if any, are the policy's, named by ear.appraisal-policy-id.
//
// # Relation to veraison/ear and jwx
//
// The EAR claims are built, validated and serialized, and on the way back
// parsed and validated, by github.com/veraison/ear. The compact JWS is
// made with crypto/ecdsa (ES256, R ‖ S) rather than jwx's jws.Sign, which
// took 40 % of Issue's time; the tests check that jwx and the EAR library
// verify what Issue signs. Verification does not use ear.AttestationResult.Verify
// or jwx's jws.Verify: the former checks exp against the wall clock and
// cannot select a key by kid, and the latter (v2.0.8) also accepts the
// JSON serialization and, given a key, does not compare the header's alg
// with it. Verify therefore parses the compact form itself, refuses every
// alg but ES256 before looking up a key, and checks the signature with
// crypto/ecdsa, before any claim is decoded.
package token
