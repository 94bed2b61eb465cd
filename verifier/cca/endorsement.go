package cca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/assay-dev/assay/internal/corim"
)

// Collateral formats: where a CPAK (CCA platform attestation key) comes
// from, and the reference-value stores recognised beside them.
const (
	// FormatPEMKey: PEM "PUBLIC KEY" blocks (RFC 7468, section 13: a DER
	// SubjectPublicKeyInfo), such as TF-RMM's cca_platform.pub.
	FormatPEMKey = "cca-cpak-pem"
	// FormatJWK: a JSON Web Key (RFC 7517) of type EC, or a JWK Set.
	FormatJWK = "cca-cpak-jwk"
	// FormatTrusteeTAStore: the trust-anchor store of Trustee's local CCA
	// verifier (rust-ccatoken's store, src/store/data-model.cddl): a JSON
	// array of {"instance-id", "implementation-id", "pkey": JWK}.
	FormatTrusteeTAStore = "trustee-cca-tastore"
	// FormatTrusteeRVStore: the matching reference-value store
	// ({"platform": [...], "realm": [...]}). Recognised so that a
	// Trustee configuration directory can be given as is; its values are
	// not compared (that is policy) and it carries no key.
	FormatTrusteeRVStore = "trustee-cca-rvstore"
	// FormatCoRIM: an unsigned CoRIM (draft-ietf-rats-corim, CBOR tag
	// 501), as Veraison provisions it; CPAKs come from its
	// attest-key-triples. Reference-value triples are not compared.
	FormatCoRIM = "corim"
	// (FormatSignedCoRIM, in signedcorim.go: the same in a COSE_Sign1,
	// used once its signature verifies with a supplied key.)
)

// Endorsement is one CPAK and what its source binds it to. A source that
// names an implementation or instance ID endorses the key for that
// platform only; a bare key file names neither and is taken for any
// platform it verifies. Nothing here says who made the key: an
// endorsement is trusted because the operator supplied it.
type Endorsement struct {
	// Key is the CPAK.
	Key *ecdsa.PublicKey
	// ImplementationID and InstanceID, when not nil, must equal the
	// platform token's implementation ID and instance ID claims.
	ImplementationID []byte
	InstanceID       []byte
	// NotBefore and NotAfter bound the endorsement's validity (a CoRIM's
	// validity-map); the zero time is unbounded.
	NotBefore, NotAfter time.Time
	// Source names the file, Format its format.
	Source string
	Format string

	// unbindable, when set, says why the source's binding cannot be
	// compared with a token (a CoRIM environment this reader does not
	// evaluate); such a key is never used.
	unbindable string
	// signed is the signed CoRIM the endorsement comes from, nil for any
	// other source; its key is used only once Verify checked the
	// signature (corim.signature).
	signed *signedCoRIM
}

// SniffCollateral recognises the CPAK sources and the reference-value
// stores above by their shape. It does no cryptography and parses no key.
func SniffCollateral(b []byte) (string, bool) {
	switch {
	case corim.SniffUnsigned(b):
		// CBOR tag 501 (tagged-unsigned-corim-map) around a map.
		return FormatCoRIM, true
	case corim.SniffSigned(b):
		// CBOR tag 18 (COSE_Sign1) with the CoRIM content type.
		return FormatSignedCoRIM, true
	case !utf8.Valid(b):
		return "", false
	case bytes.Contains(b, []byte("-----BEGIN PUBLIC KEY-----")):
		return FormatPEMKey, true
	}
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return "", false
	}
	switch t[0] {
	case '[':
		var store []struct {
			PKey       json.RawMessage `json:"pkey"`
			InstanceID *string         `json:"instance-id"`
		}
		if json.Unmarshal(t, &store) != nil || len(store) == 0 {
			return "", false
		}
		for _, e := range store {
			if e.PKey == nil || e.InstanceID == nil {
				return "", false
			}
		}
		return FormatTrusteeTAStore, true
	case '{':
		var doc struct {
			Kty      string            `json:"kty"`
			Keys     []json.RawMessage `json:"keys"`
			Platform []struct {
				ImplementationID *string `json:"implementation-id"`
			} `json:"platform"`
			Realm []struct {
				InitialMeasurement *string `json:"initial-measurement"`
			} `json:"realm"`
		}
		if json.Unmarshal(t, &doc) != nil {
			return "", false
		}
		if doc.Kty != "" || len(doc.Keys) > 0 {
			return FormatJWK, true
		}
		if len(doc.Platform)+len(doc.Realm) == 0 {
			return "", false
		}
		for _, p := range doc.Platform {
			if p.ImplementationID == nil {
				return "", false
			}
		}
		for _, r := range doc.Realm {
			if r.InitialMeasurement == nil {
				return "", false
			}
		}
		return FormatTrusteeRVStore, true
	}
	return "", false
}

// ParseEndorsements reads the CPAKs of one collateral file, named name for
// messages. A reference-value store, or a CoRIM without attest-key
// triples, has none; that is not an error.
func ParseEndorsements(b []byte, name string) ([]Endorsement, string, error) {
	format, ok := SniffCollateral(b)
	if !ok {
		return nil, "", fmt.Errorf("%w: %s is not a CPAK source this verifier knows (PEM or JWK public key, Trustee tastore.json, CoRIM, signed CoRIM)", ErrMalformed, name)
	}
	var out []Endorsement
	var err error
	switch format {
	case FormatPEMKey:
		out, err = parsePEMKeys(b)
	case FormatJWK:
		out, err = parseJWKFile(b)
	case FormatTrusteeTAStore:
		out, err = parseTAStore(b)
	case FormatCoRIM:
		out, err = parseCoRIM(b)
	case FormatSignedCoRIM:
		out, err = parseSignedCoRIM(b)
	case FormatTrusteeRVStore:
		var rv struct {
			Platform []json.RawMessage `json:"platform"`
			Realm    []json.RawMessage `json:"realm"`
		}
		err = json.Unmarshal(b, &rv)
	}
	if err != nil {
		return nil, format, fmt.Errorf("%s (%s): %w", name, format, err)
	}
	for i := range out {
		out[i].Source, out[i].Format = name, format
		if out[i].signed != nil {
			out[i].signed.source = name
		}
	}
	return out, format, nil
}

func parsePEMKeys(b []byte) ([]Endorsement, error) {
	var out []Endorsement
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "PUBLIC KEY" {
			continue
		}
		k, err := parseSPKI(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, Endorsement{Key: k})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no well-formed PEM PUBLIC KEY block", ErrMalformed)
	}
	return out, nil
}

// parseSPKI reads a DER SubjectPublicKeyInfo holding an ECDSA key.
func parseSPKI(der []byte) (*ecdsa.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrMalformed, err)
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: public key is a %T; a CPAK is an ECDSA key (P-256, P-384 or P-521)", ErrMalformed, pub)
	}
	return k, nil
}

// jwk is the part of an RFC 7517 JSON Web Key a CPAK needs (RFC 7518,
// section 6.2.1: EC public key parameters).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

func parseJWKFile(b []byte) ([]Endorsement, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	raws := set.Keys
	if len(raws) == 0 {
		raws = []json.RawMessage{b}
	}
	var out []Endorsement
	for i, raw := range raws {
		k, err := parseJWK(raw)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		out = append(out, Endorsement{Key: k})
	}
	return out, nil
}

func parseJWK(raw json.RawMessage) (*ecdsa.PublicKey, error) {
	var j jwk
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("%w: JWK: %v", ErrMalformed, err)
	}
	if j.Kty != "EC" {
		return nil, fmt.Errorf("%w: JWK kty is %q, want \"EC\" (a CPAK is an ECDSA key)", ErrMalformed, j.Kty)
	}
	var curve elliptic.Curve
	switch j.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return nil, fmt.Errorf("%w: JWK crv is %q, want P-256, P-384 or P-521", ErrMalformed, j.Crv)
	}
	size := (curve.Params().BitSize + 7) / 8
	point := []byte{4}
	for _, c := range []struct{ name, v string }{{"x", j.X}, {"y", j.Y}} {
		v, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(c.v, "="))
		if err != nil {
			return nil, fmt.Errorf("%w: JWK %s is not base64url: %v", ErrMalformed, c.name, err)
		}
		// RFC 7518, section 6.2.1.2: the full coordinate size, no more.
		if len(v) != size {
			return nil, fmt.Errorf("%w: JWK %s is %d bytes, %s wants %d", ErrMalformed, c.name, len(v), j.Crv, size)
		}
		point = append(point, v...)
	}
	k, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, fmt.Errorf("%w: JWK: %v", ErrMalformed, err)
	}
	return k, nil
}

func parseTAStore(b []byte) ([]Endorsement, error) {
	var store []struct {
		PKey             json.RawMessage `json:"pkey"`
		ImplementationID string          `json:"implementation-id"`
		InstanceID       string          `json:"instance-id"`
	}
	if err := json.Unmarshal(b, &store); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var out []Endorsement
	for i, e := range store {
		k, err := parseJWK(e.PKey)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		// The store's CDDL: a 32-byte implementation ID and a 33-byte
		// RAND UEID (0x01 first) as instance ID, both hex.
		impl, err := hex.DecodeString(e.ImplementationID)
		if err != nil || len(impl) != 32 {
			return nil, fmt.Errorf("%w: entry %d: implementation-id %q is not 32 bytes of hex", ErrMalformed, i, e.ImplementationID)
		}
		inst, err := hex.DecodeString(e.InstanceID)
		if err != nil || len(inst) != 33 || inst[0] != 0x01 {
			return nil, fmt.Errorf("%w: entry %d: instance-id %q is not a 33-byte RAND UEID in hex", ErrMalformed, i, e.InstanceID)
		}
		out = append(out, Endorsement{Key: k, ImplementationID: impl, InstanceID: inst})
	}
	return out, nil
}

// binds reports whether the endorsement's identifiers (if any) are the
// token's, and explains a mismatch.
func (e Endorsement) binds(implID, instID []byte) (bool, string) {
	if e.unbindable != "" {
		return false, fmt.Sprintf("%s: the key is not used: %s", e.Source, e.unbindable)
	}
	if e.InstanceID != nil && !bytes.Equal(e.InstanceID, instID) {
		return false, fmt.Sprintf("%s endorses instance ID %x, the token's is %x", e.Source, e.InstanceID, instID)
	}
	if e.ImplementationID != nil && !bytes.Equal(e.ImplementationID, implID) {
		return false, fmt.Sprintf("%s endorses implementation ID %x, the token's is %x", e.Source, e.ImplementationID, implID)
	}
	return true, ""
}

// validAt reports whether t is inside the endorsement's validity.
func (e Endorsement) validAt(t time.Time) bool {
	return (e.NotBefore.IsZero() || !t.Before(e.NotBefore)) && (e.NotAfter.IsZero() || !t.After(e.NotAfter))
}

// describe names the key and where it came from, for check details.
func (e Endorsement) describe() string {
	s := fmt.Sprintf("%s CPAK from %s (%s", curveName(e.Key), e.Source, e.Format)
	if e.signed != nil {
		s += fmt.Sprintf(" signed by %q", e.signed.Signer)
	}
	if e.InstanceID != nil {
		s += fmt.Sprintf(", for instance ID %x", e.InstanceID)
	}
	return s + ")"
}

func (e Endorsement) claims() *CPAKClaims {
	c := &CPAKClaims{Source: e.Source, Format: e.Format, Curve: curveName(e.Key)}
	if e.signed != nil {
		c.CoRIMSigner = e.signed.Signer
	}
	if der, err := x509.MarshalPKIXPublicKey(e.Key); err == nil {
		sum := sha256.Sum256(der)
		c.SPKISHA256 = hex.EncodeToString(sum[:])
	}
	return c
}

func curveName(k *ecdsa.PublicKey) string {
	if k == nil || k.Curve == nil {
		return "unknown"
	}
	return k.Curve.Params().Name
}
