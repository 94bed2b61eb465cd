package broker

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
	josecipher "github.com/go-jose/go-jose/v4/cipher"

	"github.com/assay-dev/assay/internal/jcs"
)

// Key-management algorithms a TEE key may ask for (RFC 7518 section 4.1),
// and the one content encryption the broker uses (section 5.1).
const (
	AlgRSAOAEP256   = "RSA-OAEP-256"   // RSAES-OAEP, SHA-256 and MGF1-SHA-256
	AlgRSAOAEP      = "RSA-OAEP"       // RSAES-OAEP, SHA-1 and MGF1-SHA-1 (as RFC 7518 defines it)
	AlgECDHESA256KW = "ECDH-ES+A256KW" // ECDH-ES, Concat KDF, AES-256 key wrap
	EncA256GCM      = "A256GCM"
)

// RSA modulus bounds. 2048 bits is the floor of NIST SP 800-131A; the
// ceiling only keeps a hostile key from costing much.
const (
	minRSABits = 2048
	maxRSABits = 16384
)

// TEEKey is a TEE's public key with the key-management algorithm to wrap
// to it: the KBS runtime-data "tee-pubkey", parsed and checked.
type TEEKey struct {
	// Alg is AlgRSAOAEP256, AlgRSAOAEP or AlgECDHESA256KW.
	Alg string
	// Public is *rsa.PublicKey for the RSA algorithms, *ecdh.PublicKey
	// (P-256, P-384 or P-521) for ECDH-ES+A256KW.
	Public crypto.PublicKey
}

// jwk holds the members of a JWK (RFC 7517 section 4, RFC 7518 section 6)
// the broker reads. JWK member names are case-sensitive, and so is this
// (encoding/json's struct decoding is not: it would read "X" as "x").
type jwk map[string]json.RawMessage

// str returns member name as a string; absent is "" with ok false.
func (k jwk) str(name string) (s string, ok bool, err error) {
	raw, ok := k[name]
	if !ok {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, fmt.Errorf("%w: %q is not a string", ErrTEEKey, name)
	}
	return s, true, nil
}

// privateMembers are the JWK members that only a private key has
// (RFC 7518 sections 6.2.2, 6.3.2 and 6.4).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

type curveInfo struct {
	curve ecdh.Curve
	size  int // octets per coordinate (RFC 7518 section 6.2.1.2)
}

var curves = map[string]curveInfo{
	"P-256": {ecdh.P256(), 32},
	"P-384": {ecdh.P384(), 48},
	"P-521": {ecdh.P521(), 66},
}

// curveName is the JWK "crv" of an ecdh curve, "" if not supported.
func curveName(c ecdh.Curve) string {
	for name, ci := range curves {
		if ci.curve == c {
			return name
		}
	}
	return ""
}

// ParseTEEKey parses the KBS "tee-pubkey" JWK (KBS attestation protocol,
// "Key Format"):
//
//	{"kty":"RSA","alg":"RSA-OAEP-256","n":"...","e":"AQAB"}
//	{"kty":"EC","crv":"P-256","alg":"ECDH-ES+A256KW","x":"...","y":"..."}
//
// A missing "alg" means RSA-OAEP-256 for RSA and ECDH-ES+A256KW for EC.
// It refuses RSA1_5 (deprecated: RSAES-PKCS1-v1_5 decryption is open to
// Bleichenbacher's padding-oracle attack), RSA moduli under 2048 bits, EC
// points off their curve, coordinates not exactly the curve's size, an
// "alg" that does not fit the "kty", a "use" other than "enc", private
// key members, and JSON that RFC 8785 would not canonicalize (duplicate
// members, invalid UTF-8), since the key's canonical form is what the
// TEE's evidence binds. Unknown members are ignored (RFC 7517 section 4).
func ParseTEEKey(b []byte) (TEEKey, error) {
	if _, err := jcs.Canonicalize(b); err != nil {
		return TEEKey{}, fmt.Errorf("%w: %v", ErrTEEKey, err)
	}
	var k jwk
	if err := json.Unmarshal(b, &k); err != nil || k == nil {
		return TEEKey{}, fmt.Errorf("%w: not a JWK object", ErrTEEKey)
	}
	for _, name := range privateMembers {
		if _, ok := k[name]; ok {
			return TEEKey{}, fmt.Errorf("%w: the JWK carries the private member %q; send the public key only (and treat that key as disclosed)", ErrTEEKey, name)
		}
	}
	kty, _, err := k.str("kty")
	if err != nil {
		return TEEKey{}, err
	}
	use, hasUse, err := k.str("use")
	if err != nil {
		return TEEKey{}, err
	}
	if hasUse && use != "enc" {
		return TEEKey{}, fmt.Errorf("%w: \"use\" is %q, want \"enc\"", ErrTEEKey, use)
	}
	alg, hasAlg, err := k.str("alg")
	if err != nil {
		return TEEKey{}, err
	}
	if hasAlg && alg == "" {
		return TEEKey{}, fmt.Errorf("%w: \"alg\" is empty", ErrTEEKey)
	}
	if alg == "RSA1_5" {
		return TEEKey{}, fmt.Errorf("%w: alg RSA1_5 is refused: RSAES-PKCS1-v1_5 key transport is deprecated (RFC 8017 section 7.2; open to Bleichenbacher's padding-oracle attack); use RSA-OAEP-256", ErrTEEKey)
	}
	switch kty {
	case "RSA":
		return parseRSA(k, alg)
	case "EC":
		return parseEC(k, alg)
	case "":
		return TEEKey{}, fmt.Errorf("%w: no \"kty\"", ErrTEEKey)
	default:
		return TEEKey{}, fmt.Errorf("%w: kty %q is not supported, want RSA or EC", ErrTEEKey, kty)
	}
}

func parseRSA(k jwk, alg string) (TEEKey, error) {
	switch alg {
	case "":
		alg = AlgRSAOAEP256
	case AlgRSAOAEP256, AlgRSAOAEP:
	case AlgECDHESA256KW:
		return TEEKey{}, fmt.Errorf("%w: alg %s needs an EC key, the JWK has kty RSA", ErrTEEKey, alg)
	default:
		return TEEKey{}, fmt.Errorf("%w: alg %q is not supported for RSA, want %s or %s", ErrTEEKey, alg, AlgRSAOAEP256, AlgRSAOAEP)
	}
	n, err := k.b64url("n")
	if err != nil {
		return TEEKey{}, err
	}
	e, err := k.b64url("e")
	if err != nil {
		return TEEKey{}, err
	}
	pub, err := rsaPublicKey(n, e)
	if err != nil {
		return TEEKey{}, err
	}
	return TEEKey{Alg: alg, Public: pub}, nil
}

func rsaPublicKey(n, e []byte) (*rsa.PublicKey, error) {
	// RFC 7518 section 6.3.1.1 asks for the minimal octets; a leading
	// zero octet changes neither the key nor the evidence binding (which
	// hashes the JWK text), so it is tolerated.
	N := new(big.Int).SetBytes(n)
	if bits := N.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, fmt.Errorf("%w: RSA modulus is %d bits, want %d to %d", ErrTEEKey, bits, minRSABits, maxRSABits)
	}
	if N.Bit(0) == 0 {
		return nil, fmt.Errorf("%w: RSA modulus is even", ErrTEEKey)
	}
	E := new(big.Int).SetBytes(e)
	if E.BitLen() > 31 || E.Int64() < 3 || E.Bit(0) == 0 {
		return nil, fmt.Errorf("%w: RSA exponent %v, want an odd number from 3 to 2^31-1", ErrTEEKey, E)
	}
	return &rsa.PublicKey{N: N, E: int(E.Int64())}, nil
}

func parseEC(k jwk, alg string) (TEEKey, error) {
	switch alg {
	case "":
		alg = AlgECDHESA256KW
	case AlgECDHESA256KW:
	case AlgRSAOAEP256, AlgRSAOAEP:
		return TEEKey{}, fmt.Errorf("%w: alg %s needs an RSA key, the JWK has kty EC", ErrTEEKey, alg)
	default:
		return TEEKey{}, fmt.Errorf("%w: alg %q is not supported for EC, want %s", ErrTEEKey, alg, AlgECDHESA256KW)
	}
	crv, _, err := k.str("crv")
	if err != nil {
		return TEEKey{}, err
	}
	c, ok := curves[crv]
	if !ok {
		return TEEKey{}, fmt.Errorf("%w: crv %q is not supported, want P-256, P-384 or P-521", ErrTEEKey, crv)
	}
	x, err := k.b64url("x")
	if err != nil {
		return TEEKey{}, err
	}
	y, err := k.b64url("y")
	if err != nil {
		return TEEKey{}, err
	}
	if len(x) != c.size || len(y) != c.size {
		return TEEKey{}, fmt.Errorf("%w: %s coordinates are %d and %d bytes, want %d each (RFC 7518 section 6.2.1.2)", ErrTEEKey, crv, len(x), len(y), c.size)
	}
	// SEC 1 section 2.3.4 uncompressed point; NewPublicKey checks that
	// it is on the curve and not the point at infinity.
	point := append(append([]byte{4}, x...), y...)
	pub, err := c.curve.NewPublicKey(point)
	if err != nil {
		return TEEKey{}, fmt.Errorf("%w: the point is not on %s", ErrTEEKey, crv)
	}
	return TEEKey{Alg: alg, Public: pub}, nil
}

func (k jwk) b64url(name string) ([]byte, error) {
	s, _, err := k.str(name)
	if err != nil {
		return nil, err
	}
	if s == "" {
		return nil, fmt.Errorf("%w: no %q", ErrTEEKey, name)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not unpadded base64url (RFC 7515 section 2)", ErrTEEKey, name)
	}
	return b, nil
}

// check validates a TEEKey that may not have come from ParseTEEKey.
func (k TEEKey) check() error {
	switch pub := k.Public.(type) {
	case *rsa.PublicKey:
		if k.Alg != AlgRSAOAEP256 && k.Alg != AlgRSAOAEP {
			return fmt.Errorf("%w: alg %q with an RSA key", ErrTEEKey, k.Alg)
		}
		if pub == nil || pub.N == nil {
			return fmt.Errorf("%w: no RSA modulus", ErrTEEKey)
		}
		_, err := rsaPublicKey(pub.N.Bytes(), big.NewInt(int64(pub.E)).Bytes())
		return err
	case *ecdh.PublicKey:
		if k.Alg != AlgECDHESA256KW {
			return fmt.Errorf("%w: alg %q with an EC key", ErrTEEKey, k.Alg)
		}
		if pub == nil || pub.Curve() == nil {
			return fmt.Errorf("%w: no EC public key", ErrTEEKey)
		}
		if curveName(pub.Curve()) == "" {
			return fmt.Errorf("%w: curve %v is not supported, want P-256, P-384 or P-521", ErrTEEKey, pub.Curve())
		}
		return nil
	default:
		return fmt.Errorf("%w: key type %T, want *rsa.PublicKey or *ecdh.PublicKey", ErrTEEKey, k.Public)
	}
}

// FlattenedJWE is the JWE JSON Serialization, flattened (RFC 7516 section
// 7.2.2), with exactly the members of the KBS Resource Response: no
// "header" and no "aad", so every header parameter is in the integrity
// protected header. Members are base64url without padding.
type FlattenedJWE struct {
	Protected    string `json:"protected"`
	EncryptedKey string `json:"encrypted_key"`
	IV           string `json:"iv"`
	Ciphertext   string `json:"ciphertext"`
	Tag          string `json:"tag"`
}

// serialized is every member a JWE JSON serialization may have, to see
// what a client received.
type serialized struct {
	FlattenedJWE
	Header      json.RawMessage `json:"header"`
	Unprotected json.RawMessage `json:"unprotected"`
	AAD         json.RawMessage `json:"aad"`
	Recipients  json.RawMessage `json:"recipients"`
}

// Wrap encrypts payload to the TEE key as a JWE in flattened JSON
// serialization (RFC 7516 section 7.2.2), exactly the KBS Resource
// Response: a fresh 256-bit content key encrypts payload with A256GCM
// (RFC 7518 section 5.3) and is itself encrypted to k with k.Alg:
// RSAES-OAEP (section 4.3) or ECDH-ES+A256KW (section 4.6: an ephemeral
// key on the TEE key's curve, the Concat KDF with empty PartyUInfo and
// PartyVInfo, then AES key wrap).
//
// The protected header is {"alg","enc"}, plus "epk" for ECDH-ES, written
// in RFC 8785 canonical form. That matters: the Confidential Containers
// Rust client does not authenticate the header bytes it received but its
// own re-serialization of the parsed header (alg, enc, then the other
// members with serde_json's key order), and only the canonical form
// survives that round trip unchanged. go-jose's Encrypter writes "epk"
// members in its own order, so the JWE is assembled here, with go-jose's
// Concat KDF and key wrap (package josecipher) and the standard library's
// RSA-OAEP and AES-GCM.
func Wrap(payload []byte, k TEEKey) ([]byte, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	cek := make([]byte, 32) // A256GCM key
	rand.Read(cek)          // never fails (crypto/rand, Go 1.24)
	defer clear(cek)
	hdr := map[string]any{"alg": k.Alg, "enc": EncA256GCM}
	var encryptedKey []byte
	switch pub := k.Public.(type) {
	case *rsa.PublicKey:
		h := sha256.New()
		if k.Alg == AlgRSAOAEP {
			h = sha1.New() // RFC 7518 section 4.3: RSA-OAEP is SHA-1 and MGF1-SHA-1
		}
		var err error
		if encryptedKey, err = rsa.EncryptOAEP(h, rand.Reader, pub, cek, nil); err != nil {
			return nil, fmt.Errorf("%w: RSA-OAEP: %v", ErrTEEKey, err)
		}
	case *ecdh.PublicKey:
		eph, err := pub.Curve().GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("broker: ephemeral key: %v", err)
		}
		z, err := eph.ECDH(pub)
		if err != nil {
			return nil, fmt.Errorf("%w: ECDH: %v", ErrTEEKey, err)
		}
		kek := concatKDF(z, k.Alg, 32)
		defer clear(kek)
		block, err := aes.NewCipher(kek)
		if err != nil {
			return nil, fmt.Errorf("broker: key wrap: %v", err)
		}
		if encryptedKey, err = josecipher.KeyWrap(block, cek); err != nil {
			return nil, fmt.Errorf("broker: key wrap: %v", err)
		}
		pt := eph.PublicKey().Bytes() // 04 ‖ X ‖ Y
		size := (len(pt) - 1) / 2
		hdr["epk"] = map[string]string{ // RFC 7518 section 4.6.1.1: public members only
			"kty": "EC",
			"crv": curveName(pub.Curve()),
			"x":   base64.RawURLEncoding.EncodeToString(pt[1 : 1+size]),
			"y":   base64.RawURLEncoding.EncodeToString(pt[1+size:]),
		}
	}
	hb, err := json.Marshal(hdr)
	if err != nil {
		return nil, fmt.Errorf("broker: protected header: %v", err)
	}
	if hb, err = jcs.Canonicalize(hb); err != nil {
		return nil, fmt.Errorf("broker: protected header: %v", err)
	}
	protected := base64.RawURLEncoding.EncodeToString(hb)
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, fmt.Errorf("broker: content encryption: %v", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("broker: content encryption: %v", err)
	}
	iv := make([]byte, gcm.NonceSize()) // 96 bits, fresh with every content key
	rand.Read(iv)
	// RFC 7516 section 5.1 step 14: the AAD is ASCII(BASE64URL(protected)).
	sealed := gcm.Seal(nil, iv, payload, []byte(protected))
	tagAt := len(sealed) - gcm.Overhead()
	return json.Marshal(FlattenedJWE{
		Protected:    protected,
		EncryptedKey: base64.RawURLEncoding.EncodeToString(encryptedKey),
		IV:           base64.RawURLEncoding.EncodeToString(iv),
		Ciphertext:   base64.RawURLEncoding.EncodeToString(sealed[:tagAt]),
		Tag:          base64.RawURLEncoding.EncodeToString(sealed[tagAt:]),
	})
}

// concatKDF derives the key-wrapping key of ECDH-ES+A256KW: the Concat
// KDF of NIST SP 800-56A with SHA-256, AlgorithmID the "alg" value,
// PartyUInfo and PartyVInfo empty, SuppPubInfo the key size in bits
// (RFC 7518 section 4.6.2).
func concatKDF(z []byte, alg string, size int) []byte {
	prefixed := func(b []byte) []byte { return binary.BigEndian.AppendUint32(nil, uint32(len(b))) }
	algID := append(prefixed([]byte(alg)), alg...)
	suppPub := binary.BigEndian.AppendUint32(nil, uint32(size*8))
	out := make([]byte, size)
	io.ReadFull(josecipher.NewConcatKDF(crypto.SHA256, z, algID, prefixed(nil), prefixed(nil), suppPub, nil), out) // never fails
	return out
}

// Unwrap is the client side of Wrap: it decrypts a flattened JSON JWE
// with the TEE's private key (*rsa.PrivateKey or *ecdsa.PrivateKey). It
// accepts only A256GCM content encryption, only the algorithms that fit
// the key (RSA-OAEP-256 or RSA-OAEP for RSA, ECDH-ES+A256KW for EC), only
// parameters in the protected header (no "header", "unprotected" or
// "recipients"; an "aad" member is authenticated as RFC 7516 says), and
// no compression ("zip").
func Unwrap(jwe []byte, priv crypto.PrivateKey) ([]byte, error) {
	var algs []jose.KeyAlgorithm
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		if p == nil {
			return nil, fmt.Errorf("%w: nil private key", ErrJWE)
		}
		algs = []jose.KeyAlgorithm{jose.RSA_OAEP_256, jose.RSA_OAEP}
	case *ecdsa.PrivateKey:
		if p == nil {
			return nil, fmt.Errorf("%w: nil private key", ErrJWE)
		}
		algs = []jose.KeyAlgorithm{jose.ECDH_ES_A256KW}
	default:
		return nil, fmt.Errorf("%w: private key type %T, want *rsa.PrivateKey or *ecdsa.PrivateKey", ErrJWE, priv)
	}
	var s serialized
	dec := json.NewDecoder(bytes.NewReader(jwe))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: not a JWE JSON object: %v", ErrJWE, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JWE object", ErrJWE)
	}
	if s.Header != nil || s.Unprotected != nil || s.Recipients != nil {
		return nil, fmt.Errorf("%w: unprotected header members (\"header\", \"unprotected\", \"recipients\") are not accepted", ErrJWE)
	}
	ph, err := base64.RawURLEncoding.DecodeString(s.Protected)
	if err != nil {
		return nil, fmt.Errorf("%w: protected header is not base64url", ErrJWE)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(ph, &hdr); err != nil {
		return nil, fmt.Errorf("%w: protected header is not a JSON object", ErrJWE)
	}
	if _, ok := hdr["zip"]; ok {
		return nil, fmt.Errorf("%w: compressed JWE (\"zip\") is not accepted", ErrJWE)
	}
	var alg string
	if err := json.Unmarshal(hdr["alg"], &alg); err != nil || !slices.Contains(algs, jose.KeyAlgorithm(alg)) {
		return nil, fmt.Errorf("%w: alg %q does not fit a %T (want %s)", ErrJWE, alg, priv, joinAlgs(algs))
	}
	obj, err := jose.ParseEncryptedJSON(string(jwe), algs, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWE, err)
	}
	pt, err := obj.Decrypt(priv)
	if err != nil {
		return nil, fmt.Errorf("%w: decryption failed (wrong key, or the JWE was altered)", ErrJWE)
	}
	return pt, nil
}

func joinAlgs(algs []jose.KeyAlgorithm) string {
	s := make([]string, len(algs))
	for i, a := range algs {
		s[i] = string(a)
	}
	return strings.Join(s, " or ")
}

// GenerateTEEKey makes an ephemeral key pair for the client side of the
// KBS protocol and returns the private key with its public JWK, "alg"
// included, in RFC 8785 canonical form (ready for the runtime-data hash).
// kind is "ec-p256" (the default, also for "") for ECDH-ES+A256KW, or
// "rsa-3072" for RSA-OAEP-256.
func GenerateTEEKey(kind string) (crypto.PrivateKey, []byte, error) {
	var (
		priv crypto.PrivateKey
		m    map[string]string
	)
	switch kind {
	case "", "ec-p256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("broker: generating a P-256 key: %v", err)
		}
		pt, err := k.PublicKey.Bytes()
		if err != nil {
			return nil, nil, fmt.Errorf("broker: encoding a P-256 key: %v", err)
		}
		m = map[string]string{
			"kty": "EC", "crv": "P-256", "alg": AlgECDHESA256KW,
			"x": base64.RawURLEncoding.EncodeToString(pt[1:33]),
			"y": base64.RawURLEncoding.EncodeToString(pt[33:]),
		}
		priv = k
	case "rsa-3072":
		k, err := rsa.GenerateKey(rand.Reader, 3072)
		if err != nil {
			return nil, nil, fmt.Errorf("broker: generating an RSA key: %v", err)
		}
		m = map[string]string{
			"kty": "RSA", "alg": AlgRSAOAEP256,
			"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
		}
		priv = k
	default:
		return nil, nil, fmt.Errorf("broker: TEE key kind %q, want ec-p256 or rsa-3072", kind)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, nil, err
	}
	b, err = jcs.Canonicalize(b)
	if err != nil {
		return nil, nil, err
	}
	return priv, b, nil
}
