package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/veraison/ear"
)

// VerifyOptions are a relying party's expectations. Options pass by value
// and are never written to.
type VerifyOptions struct {
	// Now is the verification time; the zero value means time.Now().
	Now time.Time
	// Issuer, when not empty, must equal the token's iss; empty means iss
	// is not checked (any issuer whose key is in the JWKS is accepted).
	Issuer string
	// Leeway is the clock skew allowed around iat, nbf and exp; zero means
	// DefaultLeeway (30 seconds), a negative value is an error.
	Leeway time.Duration
	// Nonce, when not empty, must equal the token's eat_nonce; empty means
	// freshness is not checked, and a replayed token within its lifetime
	// is accepted.
	Nonce string
}

// Verified is what a verified token says. Only Verify makes one, and only
// for a token that passed every check; the claims are then the issuer's
// word, signed.
type Verified struct {
	// KID names the key that signed the token.
	KID string
	// Issuer is iss; Subject is sub, empty when absent.
	Issuer  string
	Subject string
	// IssuedAt is iat and Expires is exp, at second precision.
	IssuedAt, Expires time.Time
	// Nonce is eat_nonce, empty when absent.
	Nonce string
	// Result is the EAR, as the EAR library decodes it. Numbers in
	// ear.veraison.annotated-evidence come back as float64 (the library
	// decodes into map[string]any), exact up to 2^53.
	Result ear.AttestationResult
	// Status is the worst ear.status of the submods, by the order
	// affirming < warning < none < contraindicated: no verdict is not a
	// trusted one, so none ranks below warning.
	Status string
	// TEEPubKey is the tee-pubkey claim, the JWK the evidence bound
	// (compact JSON); nil when absent.
	TEEPubKey []byte
}

// header is the protected JOSE header (RFC 7515, section 4.1).
type header struct {
	Alg  *string         `json:"alg"`
	KID  *string         `json:"kid"`
	Typ  *string         `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// registered are the JWT claims (RFC 7519, section 4.1) and the other
// top-level claims Verify reads beside the EAR.
type registered struct {
	Iss       *string         `json:"iss"`
	Sub       *string         `json:"sub"`
	Iat       *int64          `json:"iat"`
	Exp       *int64          `json:"exp"`
	Nbf       *int64          `json:"nbf"`
	Nonce     *string         `json:"eat_nonce"`
	TEEPubKey json.RawMessage `json:"tee-pubkey"`
}

// maxTime bounds numeric dates, 9999-12-31T23:59:59Z, so that adding a
// leeway cannot overflow time.Time.
const maxTime = 253402300799

// Verify checks a token offline against the issuer's JWKS (as served at
// /.well-known/jwks.json) and returns what it says. In order:
//
//  1. size: the token and the JWKS are at most MaxTokenSize bytes;
//  2. form: a compact JWS (RFC 7515, section 7.1), three strict base64url
//     parts; the header is a JSON object with no crit, typ absent or JWT;
//  3. algorithm: the header's alg is ES256. none, HMAC, RSA and every
//     other algorithm are refused before any key is looked at, so a public
//     key can never be used as an HMAC secret;
//  4. key: the header's kid names exactly one key of the JWKS, and that
//     key is an EC P-256 key whose alg (if any) is ES256, use (if any) is
//     sig. Keys the token itself carries (jwk, jku, x5c, x5u) are ignored;
//  5. signature: ECDSA P-256 SHA-256 over the first two parts, R || S of
//     32 bytes each (RFC 7518, section 3.4);
//  6. claims: a JSON object the EAR library accepts as an EAR of profile
//     tag:github.com,2023:veraison/ear with at least one submod, and with
//     integer iat and exp, exp not before iat;
//  7. issuer: iss equals VerifyOptions.Issuer, when set;
//  8. time: Now is within [iat, exp] (and after nbf, when present), each
//     widened by the leeway;
//  9. nonce: eat_nonce equals VerifyOptions.Nonce, when set;
//  10. TEE key: tee-pubkey, when present, is a public JWK, and every
//     submod's ear.veraison.key-attestation names the same key.
//
// The error wraps ErrMalformed, ErrSignature, ErrUnknownKey, ErrExpired,
// ErrIssuer or ErrNonce for a token that is refused, and ErrJWKS when the
// JWKS itself is unusable.
func Verify(token string, jwks []byte, o VerifyOptions) (*Verified, error) {
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("%w: token is %d bytes, the limit is %d", ErrMalformed, len(token), MaxTokenSize)
	}
	if len(jwks) > MaxTokenSize {
		return nil, fmt.Errorf("%w: JWKS is %d bytes, the limit is %d", ErrJWKS, len(jwks), MaxTokenSize)
	}
	leeway := o.Leeway
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway < 0:
		return nil, fmt.Errorf("token: leeway %v is negative", leeway)
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}

	// 2. form
	if n := strings.Count(token, ".") + 1; n != 3 {
		return nil, fmt.Errorf("%w: %d dot-separated parts, want 3 (a compact JWS)", ErrMalformed, n)
	}
	parts := strings.Split(token, ".")
	rawHeader, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url: %v", ErrMalformed, err)
	}
	var h header
	if err := strictJSON(rawHeader, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if h.Crit != nil {
		return nil, fmt.Errorf("%w: header has crit %s; no extension is understood (RFC 7515, section 4.1.11)", ErrMalformed, h.Crit)
	}
	if h.Alg == nil {
		return nil, fmt.Errorf("%w: header has no alg", ErrMalformed)
	}
	if h.Typ != nil && !strings.EqualFold(*h.Typ, "JWT") {
		return nil, fmt.Errorf("%w: header typ is %q, want JWT", ErrMalformed, *h.Typ)
	}
	// 3. algorithm
	if *h.Alg != "ES256" {
		return nil, fmt.Errorf("%w: header alg is %q, want ES256", ErrSignature, *h.Alg)
	}
	// 4. key
	if h.KID == nil || *h.KID == "" {
		return nil, fmt.Errorf("%w: header has no kid; the key must be named", ErrUnknownKey)
	}
	pub, err := selectKey(jwks, *h.KID)
	if err != nil {
		return nil, err
	}
	// 5. signature
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not base64url: %v", ErrMalformed, err)
	}
	if len(sig) != 64 {
		return nil, fmt.Errorf("%w: signature is %d bytes, ES256 wants 64 (R || S)", ErrSignature, len(sig))
	}
	digest := sha256.Sum256([]byte(token[:len(parts[0])+1+len(parts[1])]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, fmt.Errorf("%w: the ES256 signature does not verify with key %q", ErrSignature, *h.KID)
	}

	// 6. claims: from here on, every byte is the issuer's.
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url: %v", ErrMalformed, err)
	}
	var reg registered
	if err := strictJSON(payload, &reg); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	var ar ear.AttestationResult
	if err := json.Unmarshal(payload, &ar); err != nil {
		return nil, fmt.Errorf("%w: claims are not an EAR (profile %s): %v", ErrMalformed, ear.EatProfile, err)
	}
	if reg.Iat == nil || reg.Exp == nil {
		return nil, fmt.Errorf("%w: iat and exp are required", ErrMalformed)
	}
	for name, v := range map[string]*int64{"iat": reg.Iat, "exp": reg.Exp, "nbf": reg.Nbf} {
		if v != nil && (*v < 0 || *v > maxTime) {
			return nil, fmt.Errorf("%w: %s is %d, outside 1970 to 9999", ErrMalformed, name, *v)
		}
	}
	iat, exp := time.Unix(*reg.Iat, 0).UTC(), time.Unix(*reg.Exp, 0).UTC()
	if exp.Before(iat) {
		return nil, fmt.Errorf("%w: exp %s is before iat %s", ErrMalformed, stamp(exp), stamp(iat))
	}

	// 7. issuer
	if o.Issuer != "" {
		switch {
		case reg.Iss == nil:
			return nil, fmt.Errorf("%w: token has no iss, want %q", ErrIssuer, o.Issuer)
		case *reg.Iss != o.Issuer:
			return nil, fmt.Errorf("%w: iss is %q, want %q", ErrIssuer, *reg.Iss, o.Issuer)
		}
	}
	// 8. time
	if now.After(exp.Add(leeway)) {
		return nil, fmt.Errorf("%w: exp is %s, the verification time %s is %v past it (leeway %v)", ErrExpired, stamp(exp), stamp(now), now.Sub(exp).Round(time.Second), leeway)
	}
	if iat.After(now.Add(leeway)) {
		return nil, fmt.Errorf("%w: iat is %s, %v after the verification time %s (leeway %v): a clock is wrong", ErrExpired, stamp(iat), iat.Sub(now).Round(time.Second), stamp(now), leeway)
	}
	if reg.Nbf != nil {
		if nbf := time.Unix(*reg.Nbf, 0).UTC(); nbf.After(now.Add(leeway)) {
			return nil, fmt.Errorf("%w: nbf is %s, after the verification time %s (leeway %v)", ErrExpired, stamp(nbf), stamp(now), leeway)
		}
	}
	// 9. nonce
	if o.Nonce != "" {
		switch {
		case reg.Nonce == nil:
			return nil, fmt.Errorf("%w: token has no eat_nonce, want %q", ErrNonce, o.Nonce)
		case *reg.Nonce != o.Nonce:
			return nil, fmt.Errorf("%w: eat_nonce is %q, want %q", ErrNonce, *reg.Nonce, o.Nonce)
		}
	}
	// 10. TEE key
	var teeJWK []byte
	if reg.TEEPubKey != nil && !bytes.Equal(reg.TEEPubKey, []byte("null")) {
		if teeJWK, err = checkTEEKey(reg.TEEPubKey, ar.Submods); err != nil {
			return nil, err
		}
	}

	v := &Verified{
		KID:       *h.KID,
		IssuedAt:  iat,
		Expires:   exp,
		Result:    ar,
		Status:    worst(ar.Submods).String(),
		TEEPubKey: teeJWK,
	}
	if reg.Iss != nil {
		v.Issuer = *reg.Iss
	}
	if reg.Sub != nil {
		v.Subject = *reg.Sub
	}
	if reg.Nonce != nil {
		v.Nonce = *reg.Nonce
	}
	return v, nil
}

// strictJSON decodes one JSON object and refuses trailing data.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// selectKey finds the one key of the JWKS with this kid and checks that
// it is an ES256 key.
func selectKey(jwks []byte, kid string) (*ecdsa.PublicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWKS, err)
	}
	if set.Keys == nil {
		return nil, fmt.Errorf("%w: no keys member (RFC 7517, section 5)", ErrJWKS)
	}
	var match *jwkMembers
	var n int
	kids := make([]string, 0, len(set.Keys))
	for i, raw := range set.Keys {
		k, err := parseJWK(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrJWKS, i, err)
		}
		kids = append(kids, k.KID)
		if k.KID == kid {
			match, n = k, n+1
		}
	}
	switch {
	case n == 0:
		return nil, fmt.Errorf("%w: kid %q is not in the JWKS, which has %q", ErrUnknownKey, kid, kids)
	case n > 1:
		return nil, fmt.Errorf("%w: kid %q names %d keys of the JWKS, want exactly one", ErrUnknownKey, kid, n)
	}
	if p := match.es256Problem(); p != "" {
		return nil, fmt.Errorf("%w: %s", ErrSignature, p)
	}
	pub, err := match.publicKey()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWKS, err)
	}
	return pub, nil
}

// severity orders EAR tiers for Verified.Status: none ranks between
// warning and contraindicated, since no verdict is not a trusted one.
var severity = map[ear.TrustTier]int{
	ear.TrustTierAffirming:       0,
	ear.TrustTierWarning:         1,
	ear.TrustTierNone:            2,
	ear.TrustTierContraindicated: 3,
}

func worst(submods map[string]*ear.Appraisal) ear.TrustTier {
	w := ear.TrustTierAffirming
	for _, a := range submods {
		t := ear.TrustTierNone
		if a != nil && a.Status != nil {
			t = *a.Status
		}
		if _, ok := severity[t]; !ok {
			t = ear.TrustTierContraindicated
		}
		if severity[t] > severity[w] {
			w = t
		}
	}
	return w
}

// checkTEEKey checks that the tee-pubkey claim is a public JWK and that
// every submod's key attestation names the same key, and returns the JWK
// compacted.
func checkTEEKey(raw json.RawMessage, submods map[string]*ear.Appraisal) ([]byte, error) {
	if _, err := parseJWK(raw); err != nil {
		return nil, fmt.Errorf("%w: tee-pubkey: %v", ErrMalformed, err)
	}
	k, err := jwk.ParseKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: tee-pubkey: %v", ErrMalformed, err)
	}
	var pub any
	if err := k.Raw(&pub); err != nil {
		return nil, fmt.Errorf("%w: tee-pubkey: %v", ErrMalformed, err)
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: tee-pubkey: %v", ErrMalformed, err)
	}
	names := make([]string, 0, len(submods))
	for name := range submods {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		a := submods[name]
		if a == nil || a.VeraisonKeyAttestation == nil {
			continue
		}
		akpub, err := a.GetKeyAttestation()
		if err != nil {
			return nil, fmt.Errorf("%w: submod %s: %v", ErrMalformed, name, err)
		}
		der, err := x509.MarshalPKIXPublicKey(akpub)
		if err != nil || !bytes.Equal(der, spki) {
			return nil, fmt.Errorf("%w: submod %s's key attestation names a key other than tee-pubkey", ErrMalformed, name)
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("%w: tee-pubkey: %v", ErrMalformed, err)
	}
	return buf.Bytes(), nil
}
