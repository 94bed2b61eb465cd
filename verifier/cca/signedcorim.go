package cca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	cose "github.com/veraison/go-cose"

	"github.com/assay-dev/assay/attest"
)

// A signed CoRIM wraps an unsigned CoRIM in a COSE_Sign1 (RFC 9052,
// section 4.2), as draft-ietf-rats-corim ("Signed CoRIM") defines it and
// github.com/veraison/corim v1.1.2 (corim/signedcorim.go) makes it:
//
//	signed-corim = #6.18(COSE-Sign1-corim)
//	COSE-Sign1-corim = [
//	  protected: bstr .cbor protected-corim-header-map,
//	  unprotected: unprotected-corim-header-map,
//	  payload: bstr .cbor tagged-unsigned-corim-map,
//	  signature: bstr ]
//	protected-corim-header-map = {
//	  1 => int                            ; alg
//	  3 => "application/rim+cbor"         ; content-type
//	  ? 4 => bstr                         ; kid
//	  8 => bstr .cbor corim-meta-map      ; corim-meta
//	  * cose-label => cose-value }
//	corim-meta-map = { 0 => corim-signer-map, ? 1 => validity-map }
//	corim-signer-map = { 0 => signer-name, ? 1 => signer-uri }
//
// veraison/corim writes the payload without its tag 501; both forms are
// read. Later drafts carry the signer and validity as CWT claims in the
// protected header (label 15, RFC 9597: iss 1, exp 4, nbf 5) instead of
// corim-meta; those are read too. The signature is checked with a key
// the caller supplies (Options.CoRIMKeys): no certificate in the COSE
// headers (x5chain) is trusted.

// FormatSignedCoRIM is a signed CoRIM (CBOR tag 18).
const FormatSignedCoRIM = "signed-corim"

const (
	corimContentType   = "application/rim+cbor"
	headerLabelMeta    = 8  // corim-meta
	headerLabelCWT     = 15 // CWT claims (RFC 9597)
	cwtIssuer, cwtExp  = 1, 4
	cwtNotBefore       = 5
	maxSignedCoRIMSize = 1 << 20
)

// corimMeta is corim-meta-map.
type corimMeta struct {
	Signer struct {
		Name string          `cbor:"0,keyasint"`
		URI  cbor.RawMessage `cbor:"1,keyasint,omitempty"`
	} `cbor:"0,keyasint"`
	Validity *validityMap `cbor:"1,keyasint,omitempty"`
}

// signedCoRIM is a parsed signed CoRIM: the COSE_Sign1 to verify and what
// its protected header says about the signer. Its endorsements point to it
// and are not used until Verify has checked its signature.
type signedCoRIM struct {
	msg    *cose.Sign1Message
	alg    cose.Algorithm
	signer string
	// notBefore and notAfter are the signature's validity (corim-meta's
	// signature-validity, or the CWT claims nbf and exp); zero is open.
	notBefore, notAfter time.Time
	source              string
}

// sniffSignedCoRIM recognises a tagged COSE_Sign1 whose protected header
// names the CoRIM content type. It verifies nothing.
func sniffSignedCoRIM(b []byte) bool {
	if len(b) < 2 || b[0] != 0xd2 || b[1] != 0x84 || len(b) > maxSignedCoRIMSize {
		return false
	}
	var msg cose.Sign1Message
	if msg.UnmarshalCBOR(b) != nil {
		return false
	}
	ct, ok := msg.Headers.Protected[cose.HeaderLabelContentType].(string)
	return ok && ct == corimContentType
}

// parseSignedCoRIM decodes a signed CoRIM and the CPAKs of its payload.
// No crypto: the endorsements carry the message, and Verify checks it.
func parseSignedCoRIM(b []byte) ([]Endorsement, error) {
	if corimDecErr != nil {
		return nil, fmt.Errorf("CBOR decoder: %v", corimDecErr)
	}
	if len(b) > maxSignedCoRIMSize {
		return nil, fmt.Errorf("%w: signed CoRIM of %d bytes, more than %d", ErrMalformed, len(b), maxSignedCoRIMSize)
	}
	msg := cose.NewSign1Message()
	if err := msg.UnmarshalCBOR(b); err != nil {
		return nil, fmt.Errorf("%w: signed CoRIM: not a tagged COSE_Sign1: %v", ErrMalformed, err)
	}
	s := &signedCoRIM{msg: msg}
	var err error
	if s.alg, err = msg.Headers.Protected.Algorithm(); err != nil {
		return nil, fmt.Errorf("%w: signed CoRIM: protected header: %v", ErrMalformed, err)
	}
	if ct, _ := msg.Headers.Protected[cose.HeaderLabelContentType].(string); ct != corimContentType {
		return nil, fmt.Errorf("%w: signed CoRIM: content type %v, want %q", ErrMalformed, msg.Headers.Protected[cose.HeaderLabelContentType], corimContentType)
	}
	// A critical parameter changes what the signature means; this reader
	// knows none beyond the ones it reads.
	if _, crit := msg.Headers.Protected[cose.HeaderLabelCritical]; crit {
		return nil, fmt.Errorf("%w: signed CoRIM: the protected header marks parameters critical (crit), which this verifier does not process", ErrMalformed)
	}
	if msg.Payload == nil {
		return nil, fmt.Errorf("%w: signed CoRIM: detached payload", ErrMalformed)
	}
	if err := s.readSigner(); err != nil {
		return nil, err
	}
	payload := msg.Payload
	if len(payload) >= 3 && payload[0] == 0xd9 && payload[1] == 0x01 && payload[2] == 0xf5 {
		var top cbor.RawTag
		if err := corimDec.Unmarshal(payload, &top); err != nil {
			return nil, fmt.Errorf("%w: signed CoRIM payload: %v", ErrMalformed, err)
		}
		payload = top.Content
	}
	ends, err := parseCoRIMMap(payload)
	if err != nil {
		return nil, fmt.Errorf("signed CoRIM payload: %w", err)
	}
	for i := range ends {
		ends[i].signed = s
		// The key is endorsed only while both the CoRIM and its signature
		// are valid.
		if after(s.notBefore, ends[i].NotBefore) {
			ends[i].NotBefore = s.notBefore
		}
		if !s.notAfter.IsZero() && (ends[i].NotAfter.IsZero() || s.notAfter.Before(ends[i].NotAfter)) {
			ends[i].NotAfter = s.notAfter
		}
	}
	return ends, nil
}

func after(a, b time.Time) bool { return !a.IsZero() && (b.IsZero() || a.After(b)) }

// readSigner reads the signer and the signature's validity from the
// protected header: corim-meta (8), or else CWT claims (15).
func (s *signedCoRIM) readSigner() error {
	var raw []byte
	if err := corimDec.Unmarshal(s.msg.Headers.RawProtected, &raw); err != nil {
		return fmt.Errorf("%w: signed CoRIM: protected header: %v", ErrMalformed, err)
	}
	var hdr map[int64]cbor.RawMessage
	if err := corimDec.Unmarshal(raw, &hdr); err != nil {
		return fmt.Errorf("%w: signed CoRIM: protected header: %v", ErrMalformed, err)
	}
	if m, ok := hdr[headerLabelMeta]; ok {
		var bm []byte
		if err := corimDec.Unmarshal(m, &bm); err != nil {
			return fmt.Errorf("%w: signed CoRIM: corim-meta is not a byte string: %v", ErrMalformed, err)
		}
		var meta corimMeta
		if err := corimDec.Unmarshal(bm, &meta); err != nil {
			return fmt.Errorf("%w: signed CoRIM: corim-meta: %v", ErrMalformed, err)
		}
		if meta.Signer.Name == "" {
			return fmt.Errorf("%w: signed CoRIM: corim-meta names no signer", ErrMalformed)
		}
		s.signer = meta.Signer.Name
		if v := meta.Validity; v != nil {
			if v.NotAfter == nil {
				return fmt.Errorf("%w: signed CoRIM: signature validity has no not-after", ErrMalformed)
			}
			s.notAfter = *v.NotAfter
			if v.NotBefore != nil {
				s.notBefore = *v.NotBefore
			}
		}
		return nil
	}
	c, ok := hdr[headerLabelCWT]
	if !ok {
		return fmt.Errorf("%w: signed CoRIM: the protected header has neither corim-meta (8) nor CWT claims (15) naming the signer", ErrMalformed)
	}
	var claims map[int64]cbor.RawMessage
	if err := corimDec.Unmarshal(c, &claims); err != nil {
		return fmt.Errorf("%w: signed CoRIM: CWT claims: %v", ErrMalformed, err)
	}
	if err := corimDec.Unmarshal(claims[cwtIssuer], &s.signer); err != nil || s.signer == "" {
		return fmt.Errorf("%w: signed CoRIM: CWT claims have no issuer (iss, 1)", ErrMalformed)
	}
	for label, t := range map[int64]*time.Time{cwtNotBefore: &s.notBefore, cwtExp: &s.notAfter} {
		r, ok := claims[label]
		if !ok {
			continue
		}
		var f float64
		if err := corimDec.Unmarshal(r, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
			return fmt.Errorf("%w: signed CoRIM: CWT claim %d is not a NumericDate", ErrMalformed, label)
		}
		sec, frac := math.Modf(f)
		*t = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	}
	return nil
}

// verify checks the COSE_Sign1 signature (RFC 9052, section 4.4; no
// external AAD) with each key in turn and returns the first that verifies.
func (s *signedCoRIM) verify(keys []crypto.PublicKey) (crypto.PublicKey, error) {
	for _, k := range keys {
		v, err := cose.NewVerifier(s.alg, k)
		if err != nil {
			continue // a key of another type or curve than alg wants
		}
		if s.msg.Verify(nil, v) == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: the %s signature of the signed CoRIM %s (signer %q) verifies with none of the %d keys supplied for CoRIMs", ErrSignature, s.alg, s.source, s.signer, len(keys))
}

// verifySignedCoRIMs checks the signature of every signed CoRIM among
// ends, once each. It returns the endorsements that may be used (those of
// unsigned sources, and of signed CoRIMs whose signature verified), and
// the corim.signature check, nil when no signed CoRIM was supplied; err
// wraps ErrSignature when some signature verified with no key.
func verifySignedCoRIMs(ends []Endorsement, keys []crypto.PublicKey) ([]Endorsement, *attest.Check, error) {
	verified := map[*signedCoRIM]crypto.PublicKey{}
	var order []*signedCoRIM
	var failed []error
	for _, e := range ends {
		s := e.signed
		if s == nil {
			continue
		}
		if contains(order, s) {
			continue
		}
		order = append(order, s)
		if k, err := s.verify(keys); err != nil {
			failed = append(failed, err)
		} else {
			verified[s] = k
		}
	}
	if len(order) == 0 {
		return ends, nil, nil
	}
	usable := make([]Endorsement, 0, len(ends))
	for _, e := range ends {
		if e.signed == nil || verified[e.signed] != nil {
			usable = append(usable, e)
		}
	}
	if len(failed) > 0 {
		var msgs []string
		for _, err := range failed {
			msgs = append(msgs, err.Error())
		}
		err := fmt.Errorf("%w: %s", ErrSignature, strings.Join(msgs, "; "))
		c := attest.Fail("corim.signature", err)
		return usable, &c, err
	}
	var parts []string
	for _, s := range order {
		parts = append(parts, fmt.Sprintf("%s (signer %q) verifies %s with the supplied %s", s.source, s.signer, s.alg, keyName(verified[s])))
	}
	c := attest.Pass("corim.signature", "signed CoRIM %s: its CPAK endorsements may be used; the signing key is trusted only because it was supplied", strings.Join(parts, "; "))
	return usable, &c, nil
}

func contains(list []*signedCoRIM, s *signedCoRIM) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// keyName describes a public key by type and SubjectPublicKeyInfo hash.
func keyName(k crypto.PublicKey) string {
	kind := fmt.Sprintf("%T", k)
	switch v := k.(type) {
	case *ecdsa.PublicKey:
		kind = "ECDSA " + curveName(v)
	case *rsa.PublicKey:
		kind = fmt.Sprintf("RSA-%d", v.N.BitLen())
	case ed25519.PublicKey:
		kind = "Ed25519"
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return kind + " key"
	}
	sum := sha256.Sum256(der)
	return fmt.Sprintf("%s key (SPKI SHA-256 %s…)", kind, hex.EncodeToString(sum[:8]))
}
