package cca

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
	cose "github.com/veraison/go-cose"
)

// A minimal reader for the part of an unsigned CoRIM that carries CPAKs.
// github.com/veraison/corim v1.1.2 (the version the module proxy serves to
// this project) cannot read Veraison's own CCA endorsements: it wants the
// CoRIM profile as an array, and numbers the triples of an older draft
// (attester verification keys at 2, where the current draft has
// identity-triples); it also imports testify from non-test code. The
// structures below follow the CDDL of draft-ietf-rats-corim (rule names
// cited; section numbers move between drafts) and the PSA/CCA endorsement
// profile (tags 600, 550).

// CBOR tags (draft-ietf-rats-corim, IANA considerations).
const (
	tagUnsignedCoRIM  = 501 // tagged-unsigned-corim-map
	tagCoMID          = 506 // tagged-concise-mid-tag
	tagUEID           = 550 // tagged-ueid-type
	tagPKIXBase64Key  = 554 // tagged-pkix-base64-key-type: PEM SubjectPublicKeyInfo
	tagPKIXBase64Cert = 555 // tagged-pkix-base64-cert-type: PEM certificate
	tagCOSEKey        = 558 // tagged-cose-key-type
	tagImplID         = 600 // tagged-impl-id-type (PSA/CCA profile): 32 bytes
)

// unsignedCoRIM is unsigned-corim-map: the tags and the
// validity; identity, profile and entities are not needed here. A tag is
// a tagged CoMID, CoSWID or CoTL, or (earlier drafts, and the CoRIMs
// veraison/corim v1.1.2 writes) a byte string holding one.
type unsignedCoRIM struct {
	Tags     []cbor.RawMessage `cbor:"1,keyasint"`
	Validity *validityMap      `cbor:"4,keyasint,omitempty"`
}

// validityMap is validity-map: not-before is optional,
// not-after is not.
type validityMap struct {
	NotBefore *time.Time `cbor:"0,keyasint,omitempty"`
	NotAfter  *time.Time `cbor:"1,keyasint"`
}

// comid is concise-mid-tag: only its triples.
type comid struct {
	Triples struct {
		// attest-key-triples (triples-map key 3).
		AttestKeys []cbor.RawMessage `cbor:"3,keyasint,omitempty"`
	} `cbor:"4,keyasint"`
}

// environment is environment-map.
type environment struct {
	Class *struct {
		ClassID *cbor.RawTag `cbor:"0,keyasint,omitempty"`
	} `cbor:"0,keyasint,omitempty"`
	Instance *cbor.RawTag    `cbor:"1,keyasint,omitempty"`
	Group    cbor.RawMessage `cbor:"2,keyasint,omitempty"`
}

var corimDec, corimDecErr = cbor.DecOptions{
	IndefLength: cbor.IndefLengthForbidden,
	DupMapKey:   cbor.DupMapKeyEnforcedAPF,
}.DecMode()

// parseCoRIM returns the CPAKs of an unsigned CoRIM's attest-key triples,
// each bound to the implementation ID (class-id) and instance ID the
// triple's environment names, and limited to the CoRIM's validity.
func parseCoRIM(b []byte) ([]Endorsement, error) {
	if corimDecErr != nil {
		return nil, fmt.Errorf("CBOR decoder: %v", corimDecErr)
	}
	var top cbor.RawTag
	if err := corimDec.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("%w: CoRIM: %v", ErrMalformed, err)
	}
	if top.Number != tagUnsignedCoRIM {
		return nil, fmt.Errorf("%w: CoRIM: CBOR tag %d, want %d (unsigned CoRIM; a signed CoRIM is tag 18, COSE_Sign1)", ErrMalformed, top.Number, tagUnsignedCoRIM)
	}
	return parseCoRIMMap(top.Content)
}

// parseCoRIMMap reads an unsigned-corim-map (without its tag).
func parseCoRIMMap(content []byte) ([]Endorsement, error) {
	if corimDecErr != nil {
		return nil, fmt.Errorf("CBOR decoder: %v", corimDecErr)
	}
	var c unsignedCoRIM
	if err := corimDec.Unmarshal(content, &c); err != nil {
		return nil, fmt.Errorf("%w: CoRIM: %v", ErrMalformed, err)
	}
	var notBefore, notAfter time.Time
	if v := c.Validity; v != nil {
		if v.NotAfter == nil {
			return nil, fmt.Errorf("%w: CoRIM validity has no not-after", ErrMalformed)
		}
		notAfter = *v.NotAfter
		if v.NotBefore != nil {
			notBefore = *v.NotBefore
		}
	}
	var out []Endorsement
	for i, raw := range c.Tags {
		if len(raw) > 0 && raw[0]>>5 == 2 {
			var inner []byte
			if err := corimDec.Unmarshal(raw, &inner); err != nil {
				return nil, fmt.Errorf("%w: CoRIM tag %d: %v", ErrMalformed, i, err)
			}
			raw = inner
		}
		var tag cbor.RawTag
		if err := corimDec.Unmarshal(raw, &tag); err != nil {
			return nil, fmt.Errorf("%w: CoRIM tag %d is not a tagged CoMID, CoSWID or CoTL: %v", ErrMalformed, i, err)
		}
		if tag.Number != tagCoMID {
			continue // CoSWID and CoTL tags carry no keys
		}
		m, err := decodeCoMID(tag.Content)
		if err != nil {
			return nil, fmt.Errorf("%w: CoRIM tag %d: %v", ErrMalformed, i, err)
		}
		for j, raw := range m.Triples.AttestKeys {
			es, err := attestKeyTriple(raw)
			if err != nil {
				return nil, fmt.Errorf("%w: CoRIM tag %d, attest-key triple %d: %v", ErrMalformed, i, j, err)
			}
			for _, e := range es {
				e.NotBefore, e.NotAfter = notBefore, notAfter
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// decodeCoMID reads a CoMID whether the tag wraps it in a byte string (as
// Veraison's CoRIMs do: #6.506(bytes .cbor concise-mid-tag)) or not.
func decodeCoMID(content cbor.RawMessage) (*comid, error) {
	if len(content) > 0 && content[0]>>5 == 2 {
		var inner []byte
		if err := corimDec.Unmarshal(content, &inner); err != nil {
			return nil, err
		}
		content = inner
	}
	var m comid
	if err := corimDec.Unmarshal(content, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// attestKeyTriple reads attest-key-triple-record:
// [environment-map, [+ $crypto-key-type-choice], ? conditions].
func attestKeyTriple(raw cbor.RawMessage) ([]Endorsement, error) {
	var rec []cbor.RawMessage
	if err := corimDec.Unmarshal(raw, &rec); err != nil {
		return nil, err
	}
	if len(rec) != 2 && len(rec) != 3 {
		return nil, fmt.Errorf("%d elements, want 2 or 3", len(rec))
	}
	var env environment
	if err := corimDec.Unmarshal(rec[0], &env); err != nil {
		return nil, fmt.Errorf("environment: %v", err)
	}
	var keys []cbor.RawTag
	if err := corimDec.Unmarshal(rec[1], &keys); err != nil {
		return nil, fmt.Errorf("key list: %v", err)
	}
	var proto Endorsement
	// Whatever the environment names and this reader cannot compare with
	// the token makes the key unusable rather than unbound: an endorsement
	// for a narrower environment must never apply to every platform.
	switch {
	case len(rec) == 3:
		proto.unbindable = "its attest-key triple has conditions this verifier does not evaluate"
	case env.Group != nil:
		proto.unbindable = "its environment names a group, which a CCA token does not carry"
	}
	if env.Class != nil && env.Class.ClassID != nil {
		id, err := taggedBytes(*env.Class.ClassID, tagImplID, 32)
		if err != nil {
			proto.unbindable = fmt.Sprintf("its class-id is not a CCA implementation ID: %v", err)
		}
		proto.ImplementationID = id
	}
	if env.Instance != nil {
		id, err := taggedBytes(*env.Instance, tagUEID, 33)
		if err != nil {
			proto.unbindable = fmt.Sprintf("its instance is not a UEID: %v", err)
		}
		proto.InstanceID = id
	}
	var out []Endorsement
	var skipped []uint64
	for _, k := range keys {
		pub, err := cryptoKey(k)
		if err != nil {
			return nil, err
		}
		if pub == nil {
			skipped = append(skipped, k.Number)
			continue
		}
		e := proto
		e.Key = pub
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no key this verifier reads (CBOR tags %v; it reads %d, %d and %d)", skipped, tagPKIXBase64Key, tagPKIXBase64Cert, tagCOSEKey)
	}
	return out, nil
}

// taggedBytes reads a tagged byte string of one tag and size.
func taggedBytes(t cbor.RawTag, tag uint64, size int) ([]byte, error) {
	if t.Number != tag {
		return nil, fmt.Errorf("CBOR tag %d, want %d", t.Number, tag)
	}
	var b []byte
	if err := corimDec.Unmarshal(t.Content, &b); err != nil {
		return nil, err
	}
	if len(b) != size {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), size)
	}
	return b, nil
}

// cryptoKey reads the $crypto-key-type-choice members that carry a public
// key. It returns nil, nil for the others (thumbprints,
// certificate paths), which name a key without giving it.
func cryptoKey(t cbor.RawTag) (*ecdsa.PublicKey, error) {
	switch t.Number {
	case tagPKIXBase64Key, tagPKIXBase64Cert:
		var s string
		if err := corimDec.Unmarshal(t.Content, &s); err != nil {
			return nil, err
		}
		blk, _ := pem.Decode([]byte(s))
		if blk == nil {
			return nil, fmt.Errorf("key (tag %d) is not PEM", t.Number)
		}
		if t.Number == tagPKIXBase64Key {
			if blk.Type != "PUBLIC KEY" {
				return nil, fmt.Errorf("pkix-base64-key is a PEM %q block, want PUBLIC KEY", blk.Type)
			}
			return parseSPKI(blk.Bytes)
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("pkix-base64-cert is a PEM %q block, want CERTIFICATE", blk.Type)
		}
		// The certificate is only a container for the key here: nothing
		// chains it, and the CoRIM, not the certificate, endorses it.
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		k, ok := c.PublicKey.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("certificate key is a %T, want ECDSA", c.PublicKey)
		}
		return k, nil
	case tagCOSEKey:
		// tagged-cose-key-type = #6.558(COSE_Key): the map itself.
		var k cose.Key
		if err := k.UnmarshalCBOR(t.Content); err != nil {
			return nil, fmt.Errorf("COSE_Key: %v", err)
		}
		pub, err := k.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("COSE_Key: %v", err)
		}
		ek, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("COSE_Key is a %T, want ECDSA", pub)
		}
		return ek, nil
	}
	return nil, nil
}
