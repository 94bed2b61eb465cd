package corim

import (
	"crypto"
	"fmt"
	"math"
	"time"

	"github.com/fxamacker/cbor/v2"
	cose "github.com/veraison/go-cose"
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
// corim-meta; those are read too. The signature is checked with keys the
// caller supplies: no certificate in the COSE headers (x5chain) is
// trusted.

// ContentType is the protected header's content type of a signed CoRIM.
const ContentType = "application/rim+cbor"

const (
	headerLabelMeta   = 8  // corim-meta
	headerLabelCWT    = 15 // CWT claims (RFC 9597)
	cwtIssuer, cwtExp = 1, 4
	cwtNotBefore      = 5
)

// Signed is a parsed signed CoRIM. Nothing in it is verified until
// Verify returns without error.
type Signed struct {
	// Msg is the COSE_Sign1 message.
	Msg *cose.Sign1Message
	// Alg is the protected header's algorithm.
	Alg cose.Algorithm
	// Signer is the signer the header names (corim-meta's signer-name, or
	// the CWT issuer): a name, not an identity anything checked.
	Signer string
	// NotBefore and NotAfter are the signature's validity (corim-meta's
	// signature-validity, or the CWT claims nbf and exp); zero is open.
	NotBefore, NotAfter time.Time
	// CoRIM is the payload.
	CoRIM *CoRIM
}

// corimMeta is corim-meta-map.
type corimMeta struct {
	Signer struct {
		Name string          `cbor:"0,keyasint"`
		URI  cbor.RawMessage `cbor:"1,keyasint,omitempty"`
	} `cbor:"0,keyasint"`
	Validity *validityMap `cbor:"1,keyasint,omitempty"`
}

// SniffSigned recognises a tagged COSE_Sign1 whose protected header names
// the CoRIM content type. It verifies nothing.
func SniffSigned(b []byte) bool {
	if len(b) < 2 || b[0] != 0xd2 || b[1] != 0x84 || len(b) > maxSize {
		return false
	}
	var msg cose.Sign1Message
	if msg.UnmarshalCBOR(b) != nil {
		return false
	}
	ct, ok := msg.Headers.Protected[cose.HeaderLabelContentType].(string)
	return ok && ct == ContentType
}

// SniffUnsigned recognises a CBOR tag 501 around a map.
func SniffUnsigned(b []byte) bool {
	return len(b) >= 4 && b[0] == 0xd9 && b[1] == 0x01 && b[2] == 0xf5 && b[3]>>5 == 5
}

// ParseSigned decodes a signed CoRIM and its payload. No crypto: Verify
// checks the signature.
func ParseSigned(b []byte) (*Signed, error) {
	if decErr != nil {
		return nil, fmt.Errorf("CBOR decoder: %v", decErr)
	}
	if len(b) > maxSize {
		return nil, fmt.Errorf("%w: signed CoRIM of %d bytes, more than %d", ErrMalformed, len(b), maxSize)
	}
	msg := cose.NewSign1Message()
	if err := msg.UnmarshalCBOR(b); err != nil {
		return nil, fmt.Errorf("%w: signed CoRIM: not a tagged COSE_Sign1: %v", ErrMalformed, err)
	}
	s := &Signed{Msg: msg}
	var err error
	if s.Alg, err = msg.Headers.Protected.Algorithm(); err != nil {
		return nil, fmt.Errorf("%w: signed CoRIM: protected header: %v", ErrMalformed, err)
	}
	if ct, _ := msg.Headers.Protected[cose.HeaderLabelContentType].(string); ct != ContentType {
		return nil, fmt.Errorf("%w: signed CoRIM: content type %v, want %q", ErrMalformed, msg.Headers.Protected[cose.HeaderLabelContentType], ContentType)
	}
	// A critical parameter changes what the signature means; this reader
	// knows none beyond the ones it reads.
	if _, crit := msg.Headers.Protected[cose.HeaderLabelCritical]; crit {
		return nil, fmt.Errorf("%w: signed CoRIM: the protected header marks parameters critical (crit), which this reader does not process", ErrMalformed)
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
		if err := dec.Unmarshal(payload, &top); err != nil {
			return nil, fmt.Errorf("%w: signed CoRIM payload: %v", ErrMalformed, err)
		}
		payload = top.Content
	}
	if s.CoRIM, err = ParseMap(payload); err != nil {
		return nil, fmt.Errorf("signed CoRIM payload: %w", err)
	}
	return s, nil
}

// readSigner reads the signer and the signature's validity from the
// protected header: corim-meta (8), or else CWT claims (15).
func (s *Signed) readSigner() error {
	var raw []byte
	if err := dec.Unmarshal(s.Msg.Headers.RawProtected, &raw); err != nil {
		return fmt.Errorf("%w: signed CoRIM: protected header: %v", ErrMalformed, err)
	}
	var hdr map[int64]cbor.RawMessage
	if err := dec.Unmarshal(raw, &hdr); err != nil {
		return fmt.Errorf("%w: signed CoRIM: protected header: %v", ErrMalformed, err)
	}
	if m, ok := hdr[headerLabelMeta]; ok {
		var bm []byte
		if err := dec.Unmarshal(m, &bm); err != nil {
			return fmt.Errorf("%w: signed CoRIM: corim-meta is not a byte string: %v", ErrMalformed, err)
		}
		var meta corimMeta
		if err := dec.Unmarshal(bm, &meta); err != nil {
			return fmt.Errorf("%w: signed CoRIM: corim-meta: %v", ErrMalformed, err)
		}
		if meta.Signer.Name == "" {
			return fmt.Errorf("%w: signed CoRIM: corim-meta names no signer", ErrMalformed)
		}
		s.Signer = meta.Signer.Name
		var err error
		if s.NotBefore, s.NotAfter, err = meta.Validity.bounds(); err != nil {
			return fmt.Errorf("signed CoRIM: signature %w", err)
		}
		return nil
	}
	c, ok := hdr[headerLabelCWT]
	if !ok {
		return fmt.Errorf("%w: signed CoRIM: the protected header has neither corim-meta (8) nor CWT claims (15) naming the signer", ErrMalformed)
	}
	var claims map[int64]cbor.RawMessage
	if err := dec.Unmarshal(c, &claims); err != nil {
		return fmt.Errorf("%w: signed CoRIM: CWT claims: %v", ErrMalformed, err)
	}
	if err := dec.Unmarshal(claims[cwtIssuer], &s.Signer); err != nil || s.Signer == "" {
		return fmt.Errorf("%w: signed CoRIM: CWT claims have no issuer (iss, 1)", ErrMalformed)
	}
	for label, t := range map[int64]*time.Time{cwtNotBefore: &s.NotBefore, cwtExp: &s.NotAfter} {
		r, ok := claims[label]
		if !ok {
			continue
		}
		var f float64
		if err := dec.Unmarshal(r, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
			return fmt.Errorf("%w: signed CoRIM: CWT claim %d is not a NumericDate", ErrMalformed, label)
		}
		sec, frac := math.Modf(f)
		*t = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	}
	return nil
}

// Verify checks the COSE_Sign1 signature (RFC 9052, section 4.4; no
// external AAD) with each key in turn and returns the first that
// verifies; ErrSignature when none does.
func (s *Signed) Verify(keys []crypto.PublicKey) (crypto.PublicKey, error) {
	for _, k := range keys {
		v, err := cose.NewVerifier(s.Alg, k)
		if err != nil {
			continue // a key of another type or curve than alg wants
		}
		if s.Msg.Verify(nil, v) == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: the %s signature (signer %q) verifies with none of the %d keys supplied", ErrSignature, s.Alg, s.Signer, len(keys))
}
