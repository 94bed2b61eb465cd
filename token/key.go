package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Key is an issuer's signing key: ECDSA on P-256 with SHA-256, the JWS
// algorithm ES256 (RFC 7518, section 3.4).
type Key struct {
	// KID is the key's JWK thumbprint (RFC 7638, section 3): base64url,
	// unpadded, of the SHA-256 of {"crv":"P-256","kty":"EC","x":…,"y":…}.
	// GenerateKey and ParsePrivateKey set it; NewIssuer refuses a Key whose
	// KID is not the thumbprint of its key, so the two cannot drift.
	KID string

	priv *ecdsa.PrivateKey
}

// GenerateKey makes a new P-256 signing key from crypto/rand.
func GenerateKey() (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("token: generating a P-256 key: %w", err)
	}
	return newKey(priv)
}

func newKey(priv *ecdsa.PrivateKey) (*Key, error) {
	x, y, err := coordinates(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Key{KID: thumbprint(x, y), priv: priv}, nil
}

// MarshalPrivateKey encodes the key as PKCS #8 DER (RFC 5208), the form
// ParsePrivateKey reads. The bytes are a secret: store them as one.
func MarshalPrivateKey(k *Key) ([]byte, error) {
	if k == nil || k.priv == nil {
		return nil, errors.New("token: no private key to marshal")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return nil, fmt.Errorf("token: marshalling the private key: %w", err)
	}
	return der, nil
}

// ParsePrivateKey reads a PKCS #8 DER private key, which must be ECDSA on
// P-256, and computes its KID.
func ParsePrivateKey(der []byte) (*Key, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("token: parsing the PKCS #8 private key: %w", err)
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("token: the private key is %T, want an ECDSA P-256 key (ES256)", k)
	}
	if priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("token: the private key is on %s, want P-256 (ES256)", priv.Curve.Params().Name)
	}
	return newKey(priv)
}

// PublicJWK returns the public half as a JWK (RFC 7517) with kty, crv, x,
// y, kid, alg "ES256" and use "sig": the form the issuer's JWKS lists and
// NewIssuer's published keys take.
func (k *Key) PublicJWK() ([]byte, error) {
	if k == nil || k.priv == nil {
		return nil, errors.New("token: no key")
	}
	x, y, err := coordinates(&k.priv.PublicKey)
	if err != nil {
		return nil, err
	}
	return json.Marshal(jwkMembers{
		Kty: "EC", Crv: "P-256",
		X: b64.EncodeToString(x), Y: b64.EncodeToString(y),
		KID: k.KID, Alg: "ES256", Use: "sig",
	})
}

// b64 is base64url without padding, as JWS and JWK use it (RFC 7515,
// section 2). Strict: a last character with stray low bits is refused, so
// that each value has exactly one encoding.
var b64 = base64.RawURLEncoding.Strict()

// coordinates returns the 32-byte big-endian x and y of a P-256 key.
func coordinates(pub *ecdsa.PublicKey) (x, y []byte, err error) {
	if pub.Curve != elliptic.P256() {
		return nil, nil, fmt.Errorf("token: key is on %s, want P-256", pub.Curve.Params().Name)
	}
	b, err := pub.Bytes() // uncompressed: 0x04 || x || y (SEC 1, section 2.3.3)
	if err != nil {
		return nil, nil, fmt.Errorf("token: encoding the public key: %w", err)
	}
	return b[1:33], b[33:65], nil
}

// thumbprint is the RFC 7638 thumbprint of a P-256 key: the required
// members of an EC JWK (RFC 7638, section 3.2) in lexicographic order,
// no whitespace; base64url values need no JSON escaping.
func thumbprint(x, y []byte) string {
	canon := `{"crv":"P-256","kty":"EC","x":"` + b64.EncodeToString(x) + `","y":"` + b64.EncodeToString(y) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return b64.EncodeToString(sum[:])
}

// jwkMembers holds the members of a JWK this package reads or writes (RFC 7517,
// section 4; RFC 7518, section 6.2.1).
type jwkMembers struct {
	Kty    string   `json:"kty"`
	Crv    string   `json:"crv,omitempty"`
	X      string   `json:"x,omitempty"`
	Y      string   `json:"y,omitempty"`
	KID    string   `json:"kid,omitempty"`
	Alg    string   `json:"alg,omitempty"`
	Use    string   `json:"use,omitempty"`
	KeyOps []string `json:"key_ops,omitempty"`
}

// privateMembers are the JWK members that carry secret key material
// (RFC 7518, sections 6.2.2, 6.3.2 and 6.4; RFC 8037, section 2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// parseJWK decodes one public JWK. It refuses private material: a public
// key set that carries a private key has leaked it, and a token claim must
// never carry one.
func parseJWK(raw []byte) (*jwkMembers, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return nil, fmt.Errorf("carries private key material (member %q)", m)
		}
	}
	var k jwkMembers
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, fmt.Errorf("bad member: %v", err)
	}
	if k.Kty == "" {
		return nil, errors.New("no kty")
	}
	return &k, nil
}

// es256Problem says why k cannot verify an ES256 signature, or returns ""
// when it can: kty EC on P-256, alg absent or ES256, use absent or sig,
// key_ops absent or including verify (RFC 7517, sections 4.2 to 4.4).
func (k *jwkMembers) es256Problem() string {
	switch {
	case k.Kty != "EC" || k.Crv != "P-256":
		return fmt.Sprintf("key %q is kty %q crv %q, ES256 wants kty EC crv P-256", k.KID, k.Kty, k.Crv)
	case k.Alg != "" && k.Alg != "ES256":
		return fmt.Sprintf("key %q is for alg %q, the token header says ES256", k.KID, k.Alg)
	case k.Use != "" && k.Use != "sig":
		return fmt.Sprintf("key %q has use %q, want sig", k.KID, k.Use)
	case k.KeyOps != nil && !slices.Contains(k.KeyOps, "verify"):
		return fmt.Sprintf("key %q has key_ops %q, which do not include verify", k.KID, k.KeyOps)
	}
	return ""
}

// publicKey decodes x and y, which for P-256 are exactly 32 bytes each
// (RFC 7518, section 6.2.1.2), and checks that the point is on the curve.
func (k *jwkMembers) publicKey() (*ecdsa.PublicKey, error) {
	x, err := b64.DecodeString(k.X)
	if err != nil {
		return nil, fmt.Errorf("key %q: x: %v", k.KID, err)
	}
	y, err := b64.DecodeString(k.Y)
	if err != nil {
		return nil, fmt.Errorf("key %q: y: %v", k.KID, err)
	}
	if len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("key %q: x and y are %d and %d bytes, P-256 wants 32 each", k.KID, len(x), len(y))
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y))
	if err != nil {
		return nil, fmt.Errorf("key %q: %v", k.KID, err)
	}
	return pub, nil
}
