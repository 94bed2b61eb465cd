package cca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	_ "crypto/sha256" // registers SHA-256 for crypto.Hash
	_ "crypto/sha512" // registers SHA-384 and SHA-512
	"fmt"
	"slices"
	"strings"
	"time"

	ccarealm "github.com/veraison/ccatoken/realm"
	cose "github.com/veraison/go-cose"

	"github.com/assay-dev/assay/attest"
)

// Options for Verify. Verify never writes to them.
type Options struct {
	// Endorsements are the candidate CPAKs (see ParseEndorsements). Nil
	// means none: the platform token cannot be verified, and the
	// platform.signature check fails with ErrCollateralMissing.
	Endorsements []Endorsement
	// Now is the verification time, against which an endorsement's
	// validity is judged. Nil means time.Now.
	Now func() time.Time
	// Nonce is the expected realm challenge, right-padded with zeros to 64
	// bytes. Nil means freshness is not checked (the nonce check says so).
	Nonce []byte
	// CoRIMKeys are the keys that may sign a CoRIM among the
	// Endorsements. Nil means none: a signed CoRIM's CPAKs are then not
	// used, and corim.signature fails.
	CoRIMKeys []crypto.PublicKey
}

// Verify checks a parsed token, in order:
//
//   - realm.signature: the realm token's COSE_Sign1 verifies with the RAK
//     its realm public key claim carries (RMM A7.2.3.1);
//   - corim.signature (only when a signed CoRIM is among the
//     endorsements): its COSE_Sign1 verifies with one of Options.CoRIMKeys;
//     the CPAKs of one that does not are not used;
//   - platform.signature: the platform token's COSE_Sign1 verifies with a
//     supplied CPAK whose endorsement names this platform's instance and
//     implementation IDs, or names none;
//   - platform.endorsement: that endorsement is inside its validity at
//     Options.Now (only a CoRIM has one); outside it, a warning;
//   - binding: the platform challenge is the hash of the realm public key
//     claim, with the realm public key hash algorithm (RMM A7.2.3.2,
//     platform challenge claim; A7.2.3.1), so the
//     platform vouched for this RAK;
//   - nonce: the realm challenge equals Options.Nonce, zero-padded.
//
// It returns the checks in that order whether they pass or not, and claims
// only if none failed with contraindication; the error wraps the first
// failure's kind. It judges no policy (see Policy).
func Verify(t *Token, o Options) (*Claims, []attest.Check, error) {
	if !t.parsed() {
		err := fmt.Errorf("%w: the token was not made by Parse", ErrMalformed)
		return nil, []attest.Check{attest.Fail("parse", err)}, err
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	var checks attest.Checks

	// realm.signature
	rak, rakDesc, err := realmKey(t)
	if err == nil {
		var alg cose.Algorithm
		alg, err = verifySign1(t.realmMsg, rak, "realm token", "the RAK")
		if err == nil {
			checks.Pass("realm.signature", "realm token COSE_Sign1 %s verifies with the RAK it carries (%s); the RAK is trusted only through the binding to the platform token", alg, rakDesc)
		}
	}
	if err != nil {
		checks.Fail("realm.signature", err)
	}

	// corim.signature (only with a signed CoRIM among the endorsements)
	ends, sigCheck, err := verifySignedCoRIMs(o.Endorsements, o.CoRIMKeys)
	if sigCheck != nil {
		checks.Merge([]attest.Check{*sigCheck}, err)
	}

	// platform.signature, platform.endorsement
	used, err := platformKey(t, ends, now())
	if err != nil {
		checks.Fail("platform.signature", err)
	} else {
		alg, _ := t.platformMsg.Headers.Protected.Algorithm()
		checks.Pass("platform.signature", "platform token COSE_Sign1 %s verifies with the %s", alg, used.describe())
		checks.List = append(checks.List, endorsementCheck(used, now()))
	}

	// binding
	if err := checkBinding(t); err != nil {
		checks.Fail("binding", err)
	} else {
		alg, _ := t.realm.GetPubKeyHashAlgID()
		checks.Pass("binding", "platform challenge is the %s of the realm public key claim: the platform token vouches for this RAK", alg)
	}

	// nonce
	challenge, _ := t.realm.GetChallenge()
	switch {
	case o.Nonce == nil:
		checks.Skip("nonce", "not checked: no nonce given; the token may be a replay")
	case len(o.Nonce) > len(challenge):
		checks.Fail("nonce", fmt.Errorf("%w: the nonce is %d bytes, the realm challenge %d", ErrNonce, len(o.Nonce), len(challenge)))
	default:
		want := make([]byte, len(challenge))
		copy(want, o.Nonce)
		if !bytes.Equal(challenge, want) {
			checks.Fail("nonce", fmt.Errorf("%w: realm challenge is %x, want %x (the nonce zero-padded to %d bytes)", ErrNonce, challenge, want, len(challenge)))
		} else {
			checks.Pass("nonce", "realm challenge equals the nonce (%d bytes, zero-padded to %d)", len(o.Nonce), len(challenge))
		}
	}

	if checks.Err != nil {
		return nil, checks.List, checks.Err
	}
	c := NewClaims(t)
	c.CPAK = used.claims()
	return c, checks.List, nil
}

// realmKey decodes the RAK from the realm public key claim: a raw P-384
// point (RMM 1.0 EAC5, no realm profile) or a COSE_Key (the 2023 realm
// profile), as ccatoken's Evidence.Verify reads it.
func realmKey(t *Token) (*ecdsa.PublicKey, string, error) {
	raw, err := t.realm.GetPubKey()
	if err != nil {
		return nil, "", fmt.Errorf("%w: realm public key claim: %v", ErrMalformed, err)
	}
	var k *ecdsa.PublicKey
	var form string
	if _, perr := t.realm.GetProfile(); perr == nil {
		k, err = ccarealm.ECDSAPublicKeyFromCOSEKey(raw)
		form = "COSE_Key"
	} else {
		k, err = ccarealm.ECDSAPublicKeyFromRaw(raw)
		form = "raw point"
	}
	if err != nil {
		return nil, "", fmt.Errorf("%w: realm public key claim (%s): %v", ErrMalformed, form, err)
	}
	return k, curveName(k) + " " + form, nil
}

// platformKey finds the supplied CPAK that verifies the platform token.
// Endorsements that name other identifiers are not candidates; among the
// candidates, those valid now and those bound to this platform are tried
// first, so the result names the most specific, current endorsement.
func platformKey(t *Token, ends []Endorsement, now time.Time) (Endorsement, error) {
	implID, _ := t.platform.GetImplID()
	instID, _ := t.platform.GetInstID()
	if len(ends) == 0 {
		return Endorsement{}, fmt.Errorf("%w: no CPAK among the collateral: give the platform attestation key as an ECDSA public key (PEM or JWK), a Trustee tastore.json, or a CoRIM with an attest-key triple for instance ID %x", ErrCollateralMissing, instID)
	}
	var candidates []Endorsement
	var notBound []string
	for _, e := range ends {
		if ok, why := e.binds(implID, instID); !ok {
			notBound = append(notBound, why)
			continue
		}
		candidates = append(candidates, e)
	}
	if len(candidates) == 0 {
		return Endorsement{}, fmt.Errorf("%w: none of the %d supplied CPAKs is endorsed for this platform: %s", ErrCollateralMissing, len(ends), strings.Join(notBound, "; "))
	}
	rank := func(e Endorsement) int {
		r := 0
		if !e.validAt(now) {
			r += 2
		}
		if e.InstanceID == nil && e.ImplementationID == nil {
			r++
		}
		return r
	}
	slices.SortStableFunc(candidates, func(a, b Endorsement) int { return rank(a) - rank(b) })
	var errs []error
	for _, e := range candidates {
		_, err := verifySign1(t.platformMsg, e.Key, "platform token", "the "+e.describe())
		if err == nil {
			return e, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return Endorsement{}, errs[0]
	}
	var msgs []string
	for _, err := range errs {
		msgs = append(msgs, err.Error())
	}
	return Endorsement{}, fmt.Errorf("%w: the platform token verifies with none of the %d candidate CPAKs: %s", ErrSignature, len(candidates), strings.Join(msgs, "; "))
}

// endorsementCheck says where the CPAK came from and whether its
// endorsement is current. An expired CoRIM lowers the result to warning,
// not contraindicated: the CoRIM is unsigned and was supplied by the
// operator, whose choice to supply it stands; its author's statement that
// it no longer vouches for the key is reported for a person to act on.
func endorsementCheck(e Endorsement, now time.Time) attest.Check {
	provenance := "the key is trusted only because it was supplied: no vendor root endorses it, so real_hardware stays null"
	if e.signed != nil {
		provenance = fmt.Sprintf("the CoRIM's signature (signer %q) verified with a supplied key (corim.signature); that key, not a vendor root, is the anchor, so real_hardware stays null", e.signed.Signer)
	}
	if !e.validAt(now) {
		return attest.Warn("platform.endorsement", "%s is valid from %s to %s; the verification time %s is outside that window: its author no longer vouches for the key; %s",
			e.Source, timeOrOpen(e.NotBefore), timeOrOpen(e.NotAfter), now.UTC().Format(time.RFC3339), provenance)
	}
	if e.NotAfter.IsZero() {
		return attest.Pass("platform.endorsement", "%s (%s) has no validity period; %s", e.Source, e.Format, provenance)
	}
	return attest.Pass("platform.endorsement", "%s (%s) is valid from %s to %s; %s", e.Source, e.Format, timeOrOpen(e.NotBefore), timeOrOpen(e.NotAfter), provenance)
}

func timeOrOpen(t time.Time) string {
	if t.IsZero() {
		return "(open)"
	}
	return t.UTC().Format(time.RFC3339)
}

// verifySign1 checks a COSE_Sign1 signature (RFC 9052, section 4.4; no
// external AAD) with an ECDSA key whose curve matches the algorithm (RFC
// 9053, section 2.1: ES256 with P-256, ES384 with P-384, ES512 with P-521).
func verifySign1(m *cose.Sign1Message, k *ecdsa.PublicKey, what, keyDesc string) (cose.Algorithm, error) {
	alg, err := m.Headers.Protected.Algorithm()
	if err != nil {
		return alg, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	var curve elliptic.Curve
	switch alg {
	case cose.AlgorithmES256:
		curve = elliptic.P256()
	case cose.AlgorithmES384:
		curve = elliptic.P384()
	case cose.AlgorithmES512:
		curve = elliptic.P521()
	default:
		return alg, fmt.Errorf("%w: %s is signed with %s, want ES256, ES384 or ES512", ErrSignature, what, alg)
	}
	if k.Curve == nil || k.Curve.Params().Name != curve.Params().Name {
		return alg, fmt.Errorf("%w: %s is signed with %s, which wants a %s key; %s is %s", ErrSignature, what, alg, curve.Params().Name, keyDesc, curveName(k))
	}
	v, err := cose.NewVerifier(alg, k)
	if err != nil {
		return alg, fmt.Errorf("%w: %s: %s: %v", ErrSignature, what, keyDesc, err)
	}
	if err := m.Verify(nil, v); err != nil {
		return alg, fmt.Errorf("%w: %s COSE_Sign1 %s does not verify with %s", ErrSignature, what, alg, keyDesc)
	}
	return alg, nil
}

// checkBinding compares the platform challenge with the hash of the realm
// public key claim's bytes (RMM A7.2.3.2: the platform challenge claim is
// the hash of the RAK, with the realm public key hash algorithm).
func checkBinding(t *Token) error {
	rak, err := t.realm.GetPubKey()
	if err != nil {
		return fmt.Errorf("%w: realm public key claim: %v", ErrMalformed, err)
	}
	name, err := t.realm.GetPubKeyHashAlgID()
	if err != nil {
		return fmt.Errorf("%w: realm public key hash algorithm claim: %v", ErrMalformed, err)
	}
	var h crypto.Hash
	switch name {
	case "sha-256":
		h = crypto.SHA256
	case "sha-384":
		h = crypto.SHA384
	case "sha-512":
		h = crypto.SHA512
	default:
		return fmt.Errorf("%w: realm public key hash algorithm is %q, want sha-256, sha-384 or sha-512", ErrBinding, name)
	}
	hh := h.New()
	hh.Write(rak)
	want := hh.Sum(nil)
	got, err := t.platform.GetNonce()
	if err != nil {
		return fmt.Errorf("%w: platform challenge claim: %v", ErrMalformed, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%w: platform challenge is %x, want %x (%s of the realm public key claim)", ErrBinding, got, want, name)
	}
	return nil
}
