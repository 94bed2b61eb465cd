// Package corim reads Concise Reference Integrity Manifests
// (draft-ietf-rats-corim): unsigned CoRIMs (CBOR tag 501), signed ones
// (COSE_Sign1, tag 18; signed.go), and of their CoMIDs (tag 506) the
// reference-value triples and attest-key triples. It is shared by
// verifier/cca (CPAKs from attest-key triples) and assay policy
// import-corim (reference values).
//
// Why not github.com/veraison/corim: v1.1.2 (the version the module proxy
// serves to this project) cannot read Veraison's own CCA endorsements: it
// wants the CoRIM profile as an array, and numbers the triples of an older
// draft (attester verification keys at 2, where the current draft has
// identity-triples); it also imports testify from non-test code. The
// structures below follow the CDDL of draft-ietf-rats-corim (rule names
// cited; section numbers move between drafts) and the PSA and CCA
// endorsement profiles (draft-ydb-rats-cca-endorsements: tags 600, 601,
// 602; measurement-values-map key 14, integrity-registers).
//
// The measurement shapes other TEEs' profiles use are read too: uint
// mkeys (draft-deeglaze-amd-sev-snp-corim-profile numbers the SEV-SNP
// report's fields so; Veraison's Parsec TPM profile numbers PCRs so),
// UUID and OID mkeys, version-map (mval 0), raw values with masks (tag
// 563, or mval 5), digest algorithms by name, and, in a CoRIM of the
// Intel profile (ProfileIntel; intel.go), that profile's negative-keyed
// extensions (tee.mrtee, tee.mrsigner, tee.isvprodid, tee.isvsvn) with
// their set and numeric expressions. What a reader does not interpret is
// listed (Measurement.Unread), never dropped unseen.
//
// What is verified: a signed CoRIM's COSE_Sign1 signature, with a key the
// caller supplies (Signed.Verify). What is not: who the signer is (its
// name is what the header says), and anything a CoRIM says; a caller
// trusts it because it trusts the key, or because it was handed an
// unsigned CoRIM by someone it trusts.
package corim

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fxamacker/cbor/v2"
	cose "github.com/veraison/go-cose"
)

// Error kinds: every error wraps one.
var (
	// ErrMalformed: the bytes are not the CBOR the CDDL describes.
	ErrMalformed = errors.New("malformed CoRIM")
	// ErrSignature: a signed CoRIM's signature verifies with none of the
	// keys supplied.
	ErrSignature = errors.New("CoRIM signature")
)

// CBOR tags (draft-ietf-rats-corim, IANA considerations; CCA and PSA
// endorsement profiles).
const (
	TagUnsignedCoRIM  = 501 // tagged-unsigned-corim-map
	TagCoMID          = 506 // tagged-concise-mid-tag
	TagUUID           = 37  // tagged-uuid-type
	TagOID            = 111 // tagged-oid-type
	TagUEID           = 550 // tagged-ueid-type
	TagSVN            = 552 // tagged-svn
	TagMinSVN         = 553 // tagged-min-svn
	TagPKIXBase64Key  = 554 // tagged-pkix-base64-key-type: PEM SubjectPublicKeyInfo
	TagPKIXBase64Cert = 555 // tagged-pkix-base64-cert-type: PEM certificate
	TagCOSEKey        = 558 // tagged-cose-key-type
	TagBytes          = 560 // tagged-bytes
	TagImplID         = 600 // tagged-impl-id-type (PSA/CCA profile): 32 bytes
	TagPSARefValID    = 601 // tagged-psa-refval-id (PSA/CCA profile)
	TagCCAConfigID    = 602 // tagged-cca-platform-config-id-type
	TagURI            = 32  // a profile URI (RFC 8949, section 3.4.5.3)
	TagMaskedRawValue = 563 // tagged-masked-raw-value: [value, mask]
)

// maxSize bounds what is read: a CoRIM is a manifest, not a disk image.
const maxSize = 1 << 20

var dec, decErr = cbor.DecOptions{
	IndefLength:      cbor.IndefLengthForbidden,
	DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	MaxNestedLevels:  24,
	MaxArrayElements: 1 << 16,
	MaxMapPairs:      1 << 16,
}.DecMode()

// CoRIM is an unsigned-corim-map.
type CoRIM struct {
	// ID is corim-id: a text string, or a UUID or byte string as hex.
	ID string
	// Profile is the profile URI, or an OID in dotted decimal
	// (2.16.840.1.113741.1.16.1, the Intel profile); "" when none.
	Profile string
	// NotBefore and NotAfter are the rim-validity; zero is unbounded.
	NotBefore, NotAfter time.Time
	// CoMIDs are the tags that are CoMIDs, in order; OtherTags counts the
	// CoSWID and CoTL tags, which carry no triples read here.
	CoMIDs    []CoMID
	OtherTags int
}

// CoMID is a concise-mid-tag: its tag identity and the triples read.
type CoMID struct {
	// TagID is tag-identity's tag-id: text, or a UUID as hex.
	TagID string
	// Reference are the reference-triples (triples-map key 0).
	Reference []ReferenceTriple
	// AttestKeys are the attest-key-triples (key 3).
	AttestKeys []AttestKeyTriple
	// Other counts triples of other kinds (endorsed values, identity,
	// domain, conditional...), by triples-map key: listed, not read.
	Other map[int]int
}

// Environment is environment-map.
type Environment struct {
	// ClassID is the class-id's CBOR tag and content bytes (a byte string
	// tag's bytes; a UUID's 16 bytes; an OID's DER); nil when absent.
	ClassID    []byte
	ClassIDTag uint64
	// Vendor, Model: class-map's vendor and model.
	Vendor, Model string
	// Instance is the instance-id's tag and bytes; nil when absent.
	Instance    []byte
	InstanceTag uint64
	// HasGroup: the environment names a group.
	HasGroup bool
}

// Digest is one digest of a digests-type: an algorithm (the IANA Named
// Information Hash Algorithm registry: 1 SHA-256, 7 SHA-384, 8 SHA-512)
// and its value.
type Digest struct {
	Alg   int64
	Value []byte
}

// Measurement is measurement-map.
type Measurement struct {
	// KeyTag is the mkey's CBOR tag (TagPSARefValID, TagCCAConfigID,
	// TagUUID, TagOID; 0 for an untagged uint or text).
	KeyTag uint64
	// KeyText is an untagged text mkey, an uint mkey in decimal, a CCA
	// config ID's label, a UUID mkey as 8-4-4-4-12 hex or an OID mkey in
	// dotted decimal. "" when there is no mkey.
	KeyText string
	// KeyUint is an untagged uint mkey (the SEV-SNP profile's report
	// fields, the Parsec TPM profile's PCR numbers); nil otherwise.
	KeyUint *uint64
	// KeyBytes are a UUID mkey's 16 bytes or an OID mkey's content.
	KeyBytes []byte
	// Component is a PSA/CCA software component's identity (tag 601).
	Component *Component
	// Digests: mval digests (2).
	Digests []Digest
	// RawValue: mval raw-value (4), a tagged-bytes (560) or the value of
	// a tagged-masked-raw-value (563).
	RawValue []byte
	// RawValueMask: the mask of a tagged-masked-raw-value, or mval
	// raw-value-mask (5, earlier drafts; the SEV-SNP profile); nil when
	// every bit counts.
	RawValueMask []byte
	// Version: mval version (0), nil when absent.
	Version *Version
	// SVN: mval svn (1); MinSVN when it is a tagged-min-svn.
	SVN    *uint64
	MinSVN bool
	// IntegrityRegisters: mval integrity-registers (14), by register
	// name (a text key, or an uint as decimal).
	IntegrityRegisters map[string][]Digest
	// Name: mval name (11).
	Name string
	// Intel holds the Intel profile's measurement-values-map extensions
	// (negative keys; intel.go), read only in a CoRIM of that profile;
	// nil when it states none this reader interprets.
	Intel *IntelValues
	// Unread lists the mval keys present that this reader does not
	// interpret (flags 3, MAC 6, IP 7, serial 8, the Intel profile's
	// TCB status -88, ...), sorted; MvalName names them.
	Unread []int
}

// Version is version-map: a version string and its version-scheme (the
// CoSWID registry: 1 multipartnumeric, 4 decimal, 16384 semver; 0 when
// absent).
type Version struct {
	Version string
	Scheme  int64
}

// Component is psa-refval-id: a software component's label, version and
// signer ID.
type Component struct {
	Label, Version string
	SignerID       []byte
}

// ReferenceTriple is reference-triple-record: an environment and the
// measurements reference values state for it.
type ReferenceTriple struct {
	Environment  Environment
	Measurements []Measurement
}

// AttestKeyTriple is attest-key-triple-record: keys an environment
// attests with.
type AttestKeyTriple struct {
	Environment Environment
	// Keys are the $crypto-key-type-choice members, by tag, raw.
	Keys []cbor.RawTag
	// Conditions: the record has a third element (conditions).
	Conditions bool
}

// Parse reads a tagged unsigned CoRIM (#6.501).
func Parse(b []byte) (*CoRIM, error) {
	if decErr != nil {
		return nil, fmt.Errorf("CBOR decoder: %v", decErr)
	}
	if len(b) > maxSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(b), maxSize)
	}
	var top cbor.RawTag
	if err := dec.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if top.Number != TagUnsignedCoRIM {
		return nil, fmt.Errorf("%w: CBOR tag %d, want %d (unsigned CoRIM; a signed CoRIM is tag 18, COSE_Sign1)", ErrMalformed, top.Number, TagUnsignedCoRIM)
	}
	return ParseMap(top.Content)
}

// unsignedCoRIM is unsigned-corim-map: id (0), tags (1), profile (3),
// validity (4); dependent RIMs (2) and entities (5) are not needed.
type unsignedCoRIM struct {
	ID       cbor.RawMessage   `cbor:"0,keyasint"`
	Tags     []cbor.RawMessage `cbor:"1,keyasint"`
	Profile  cbor.RawMessage   `cbor:"3,keyasint,omitempty"`
	Validity *validityMap      `cbor:"4,keyasint,omitempty"`
}

// validityMap is validity-map: not-before is optional, not-after is not.
type validityMap struct {
	NotBefore *time.Time `cbor:"0,keyasint,omitempty"`
	NotAfter  *time.Time `cbor:"1,keyasint"`
}

func (v *validityMap) bounds() (time.Time, time.Time, error) {
	if v == nil {
		return time.Time{}, time.Time{}, nil
	}
	if v.NotAfter == nil {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: validity has no not-after", ErrMalformed)
	}
	var nb time.Time
	if v.NotBefore != nil {
		nb = *v.NotBefore
	}
	return nb, *v.NotAfter, nil
}

// ParseMap reads an unsigned-corim-map without its tag.
func ParseMap(content []byte) (*CoRIM, error) {
	if decErr != nil {
		return nil, fmt.Errorf("CBOR decoder: %v", decErr)
	}
	var u unsignedCoRIM
	if err := dec.Unmarshal(content, &u); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	c := &CoRIM{}
	var err error
	if c.ID, err = identifier(u.ID); err != nil {
		return nil, fmt.Errorf("%w: corim-id: %v", ErrMalformed, err)
	}
	if len(u.Profile) > 0 {
		if c.Profile, err = profile(u.Profile); err != nil {
			return nil, fmt.Errorf("%w: profile: %v", ErrMalformed, err)
		}
	}
	intel := c.Profile == ProfileIntel
	if c.NotBefore, c.NotAfter, err = u.Validity.bounds(); err != nil {
		return nil, fmt.Errorf("CoRIM %w", err)
	}
	for i, raw := range u.Tags {
		// A tag is a tagged CoMID, CoSWID or CoTL, or (earlier drafts,
		// and the CoRIMs veraison/corim v1.1.2 writes) a byte string
		// holding one.
		if raw, err = unwrapBytes(raw); err != nil {
			return nil, fmt.Errorf("%w: tag %d: %v", ErrMalformed, i, err)
		}
		var tag cbor.RawTag
		if err := dec.Unmarshal(raw, &tag); err != nil {
			return nil, fmt.Errorf("%w: tag %d is not a tagged CoMID, CoSWID or CoTL: %v", ErrMalformed, i, err)
		}
		if tag.Number != TagCoMID {
			c.OtherTags++
			continue
		}
		m, err := parseCoMID(tag.Content, intel)
		if err != nil {
			return nil, fmt.Errorf("%w: tag %d (CoMID): %v", ErrMalformed, i, err)
		}
		c.CoMIDs = append(c.CoMIDs, *m)
	}
	return c, nil
}

// unwrapBytes returns the content of a CBOR byte string, or raw as it is
// when it is not one.
func unwrapBytes(raw cbor.RawMessage) (cbor.RawMessage, error) {
	if len(raw) == 0 || raw[0]>>5 != 2 {
		return raw, nil
	}
	var inner []byte
	if err := dec.Unmarshal(raw, &inner); err != nil {
		return nil, err
	}
	return inner, nil
}

// profile reads profile-type-choice: a URI (tag 32) or an OID (tag
// 111, rendered dotted). Earlier drafts, and the CoRIMs veraison/corim
// v1.1.2 writes, hold it in an array: one member is read, several are
// refused (which would apply?).
func profile(raw cbor.RawMessage) (string, error) {
	if len(raw) > 0 && raw[0]>>5 == 4 {
		var l []cbor.RawMessage
		if err := dec.Unmarshal(raw, &l); err != nil {
			return "", err
		}
		if len(l) != 1 {
			return "", fmt.Errorf("an array of %d profiles, want one", len(l))
		}
		raw = l[0]
	}
	if len(raw) > 0 && raw[0]>>5 == 6 {
		var t cbor.RawTag
		if err := dec.Unmarshal(raw, &t); err != nil {
			return "", err
		}
		if t.Number == TagOID {
			var b []byte
			if err := dec.Unmarshal(t.Content, &b); err != nil {
				return "", fmt.Errorf("OID: %v", err)
			}
			return OID(b)
		}
		if t.Number != TagURI {
			return "", fmt.Errorf("CBOR tag %d, want a URI (%d) or an OID (%d)", t.Number, TagURI, TagOID)
		}
	}
	var s string
	if err := dec.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("want a URI or an OID: %v", err)
	}
	return s, nil
}

// identifier renders a text, UUID or byte string identifier.
func identifier(raw cbor.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", nil
	}
	var v any
	if err := dec.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return fmt.Sprintf("%x", x), nil
	case cbor.Tag:
		if b, ok := x.Content.([]byte); ok {
			return fmt.Sprintf("%x", b), nil
		}
		if s, ok := x.Content.(string); ok {
			return s, nil
		}
	}
	return "", fmt.Errorf("a %T, want text, a UUID or bytes", v)
}

// comidMap is concise-mid-tag: tag-identity (1) and triples (4).
type comidMap struct {
	Identity struct {
		TagID cbor.RawMessage `cbor:"0,keyasint"`
	} `cbor:"1,keyasint"`
	Triples map[int]cbor.RawMessage `cbor:"4,keyasint"`
}

func parseCoMID(content cbor.RawMessage, intel bool) (*CoMID, error) {
	content, err := unwrapBytes(content)
	if err != nil {
		return nil, err
	}
	var cm comidMap
	if err := dec.Unmarshal(content, &cm); err != nil {
		return nil, err
	}
	m := &CoMID{}
	if m.TagID, err = identifier(cm.Identity.TagID); err != nil {
		return nil, fmt.Errorf("tag-id: %v", err)
	}
	for key, raw := range cm.Triples {
		var recs []cbor.RawMessage
		if err := dec.Unmarshal(raw, &recs); err != nil {
			return nil, fmt.Errorf("triples %d: %v", key, err)
		}
		switch key {
		case 0: // reference-triples
			for j, r := range recs {
				t, err := referenceTriple(r, intel)
				if err != nil {
					return nil, fmt.Errorf("reference triple %d: %v", j, err)
				}
				m.Reference = append(m.Reference, *t)
			}
		case 3: // attest-key-triples
			for j, r := range recs {
				t, err := attestKeyTriple(r)
				if err != nil {
					return nil, fmt.Errorf("attest-key triple %d: %v", j, err)
				}
				m.AttestKeys = append(m.AttestKeys, *t)
			}
		default:
			if m.Other == nil {
				m.Other = map[int]int{}
			}
			m.Other[key] += len(recs)
		}
	}
	return m, nil
}

// environmentMap is environment-map: class (0), instance (1), group (2).
type environmentMap struct {
	Class *struct {
		ClassID *cbor.RawTag `cbor:"0,keyasint,omitempty"`
		Vendor  string       `cbor:"1,keyasint,omitempty"`
		Model   string       `cbor:"2,keyasint,omitempty"`
	} `cbor:"0,keyasint,omitempty"`
	Instance *cbor.RawTag    `cbor:"1,keyasint,omitempty"`
	Group    cbor.RawMessage `cbor:"2,keyasint,omitempty"`
}

func environment(raw cbor.RawMessage) (Environment, error) {
	var em environmentMap
	var e Environment
	if err := dec.Unmarshal(raw, &em); err != nil {
		return e, fmt.Errorf("environment: %v", err)
	}
	var err error
	if em.Class != nil {
		e.Vendor, e.Model = em.Class.Vendor, em.Class.Model
		if t := em.Class.ClassID; t != nil {
			e.ClassIDTag = t.Number
			if e.ClassID, err = tagBytes(*t); err != nil {
				return e, fmt.Errorf("class-id: %v", err)
			}
		}
	}
	if t := em.Instance; t != nil {
		e.InstanceTag = t.Number
		if e.Instance, err = tagBytes(*t); err != nil {
			return e, fmt.Errorf("instance-id: %v", err)
		}
	}
	e.HasGroup = em.Group != nil
	return e, nil
}

// tagBytes returns a tag's byte string content (an OID's DER, a UUID's 16
// bytes, a UEID...). A crypto-key instance (a PEM string) is returned as
// its text's bytes.
func tagBytes(t cbor.RawTag) ([]byte, error) {
	var v any
	if err := dec.Unmarshal(t.Content, &v); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case []byte:
		return x, nil
	case string:
		return []byte(x), nil
	}
	return nil, fmt.Errorf("tag %d holds a %T, want bytes", t.Number, v)
}

// referenceTriple reads reference-triple-record: [environment-map, [+
// measurement-map]] (earlier drafts: a single measurement-map).
func referenceTriple(raw cbor.RawMessage, intel bool) (*ReferenceTriple, error) {
	var rec []cbor.RawMessage
	if err := dec.Unmarshal(raw, &rec); err != nil {
		return nil, err
	}
	if len(rec) != 2 {
		return nil, fmt.Errorf("%d elements, want 2", len(rec))
	}
	env, err := environment(rec[0])
	if err != nil {
		return nil, err
	}
	var ms []cbor.RawMessage
	if len(rec[1]) > 0 && rec[1][0]>>5 == 5 {
		ms = []cbor.RawMessage{rec[1]}
	} else if err := dec.Unmarshal(rec[1], &ms); err != nil {
		return nil, fmt.Errorf("measurements: %v", err)
	}
	t := &ReferenceTriple{Environment: env}
	for i, m := range ms {
		mm, err := measurement(m, intel)
		if err != nil {
			return nil, fmt.Errorf("measurement %d: %v", i, err)
		}
		t.Measurements = append(t.Measurements, *mm)
	}
	return t, nil
}

// measurementMap is measurement-map: mkey (0), mval (1), authorized-by (2).
type measurementMap struct {
	Key cbor.RawMessage         `cbor:"0,keyasint,omitempty"`
	Val map[int]cbor.RawMessage `cbor:"1,keyasint"`
}

func measurement(raw cbor.RawMessage, intel bool) (*Measurement, error) {
	var mm measurementMap
	if err := dec.Unmarshal(raw, &mm); err != nil {
		return nil, err
	}
	if mm.Val == nil {
		return nil, fmt.Errorf("no mval")
	}
	m := &Measurement{}
	if err := m.readKey(mm.Key); err != nil {
		return nil, fmt.Errorf("mkey: %v", err)
	}
	for k, v := range mm.Val {
		var err error
		switch {
		case k == 0:
			m.Version, err = version(v)
		case k == 1:
			err = m.readSVN(v)
		case k == 2:
			m.Digests, err = digests(v)
		case k == 4:
			err = m.readRawValue(v)
		case k == 5:
			err = dec.Unmarshal(v, &m.RawValueMask)
		case k == 11:
			err = dec.Unmarshal(v, &m.Name)
		case k == 14:
			m.IntegrityRegisters, err = registers(v)
		case k < 0 && intel:
			var read bool
			if m.Intel == nil {
				m.Intel = &IntelValues{}
			}
			if read, err = m.Intel.read(k, v); err == nil && !read {
				m.Unread = append(m.Unread, k)
			}
		default:
			m.Unread = append(m.Unread, k)
		}
		if err != nil {
			return nil, fmt.Errorf("mval %d (%s): %v", k, MvalName(k, intel), err)
		}
	}
	if m.Intel != nil && m.Intel.empty() {
		m.Intel = nil
	}
	slices.Sort(m.Unread)
	return m, nil
}

// readRawValue reads raw-value: a tagged-bytes (560), or a
// tagged-masked-raw-value (563: [value, mask]).
func (m *Measurement) readRawValue(raw cbor.RawMessage) error {
	var t cbor.RawTag
	if err := dec.Unmarshal(raw, &t); err != nil {
		return fmt.Errorf("want a tagged-bytes (%d) or a tagged-masked-raw-value (%d): %v", TagBytes, TagMaskedRawValue, err)
	}
	switch t.Number {
	case TagBytes:
		if err := dec.Unmarshal(t.Content, &m.RawValue); err != nil {
			return fmt.Errorf("tagged-bytes: %v", err)
		}
		if m.RawValue == nil {
			m.RawValue = []byte{}
		}
	case TagMaskedRawValue:
		var vm [][]byte
		if err := dec.Unmarshal(t.Content, &vm); err != nil || len(vm) != 2 {
			return fmt.Errorf("tagged-masked-raw-value: want [value: bytes, mask: bytes]")
		}
		m.RawValue, m.RawValueMask = vm[0], vm[1]
	default:
		return fmt.Errorf("CBOR tag %d, want a tagged-bytes (%d) or a tagged-masked-raw-value (%d)", t.Number, TagBytes, TagMaskedRawValue)
	}
	return nil
}

// version reads version-map: {0 => text, ? 1 => version-scheme}.
func version(raw cbor.RawMessage) (*Version, error) {
	var v struct {
		Version *string `cbor:"0,keyasint"`
		Scheme  int64   `cbor:"1,keyasint,omitempty"`
	}
	if err := dec.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	if v.Version == nil {
		return nil, fmt.Errorf("version-map has no version (0)")
	}
	return &Version{Version: *v.Version, Scheme: v.Scheme}, nil
}

func (m *Measurement) readKey(raw cbor.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	if raw[0]>>5 != 6 {
		var v any
		if err := dec.Unmarshal(raw, &v); err != nil {
			return err
		}
		switch x := v.(type) {
		case string:
			m.KeyText = x
		case uint64:
			m.KeyText = fmt.Sprint(x)
			m.KeyUint = &x
		default:
			return fmt.Errorf("a %T, want a tagged identifier, text or an uint", v)
		}
		return nil
	}
	var t cbor.RawTag
	if err := dec.Unmarshal(raw, &t); err != nil {
		return err
	}
	m.KeyTag = t.Number
	switch t.Number {
	case TagPSARefValID:
		// psa-refval-id = {? 1 => label, ? 4 => version, 5 => signer-id}
		var c struct {
			Label    string `cbor:"1,keyasint,omitempty"`
			Version  string `cbor:"4,keyasint,omitempty"`
			SignerID []byte `cbor:"5,keyasint"`
		}
		if err := dec.Unmarshal(t.Content, &c); err != nil {
			return fmt.Errorf("psa-refval-id: %v", err)
		}
		m.Component = &Component{Label: c.Label, Version: c.Version, SignerID: c.SignerID}
	case TagCCAConfigID:
		if err := dec.Unmarshal(t.Content, &m.KeyText); err != nil {
			return fmt.Errorf("cca-platform-config-id: %v", err)
		}
	case TagUUID:
		if err := dec.Unmarshal(t.Content, &m.KeyBytes); err != nil || len(m.KeyBytes) != 16 {
			return fmt.Errorf("tagged-uuid-type: want 16 bytes")
		}
		b := m.KeyBytes
		m.KeyText = fmt.Sprintf("%x-%x-%x-%x-%x", b[:4], b[4:6], b[6:8], b[8:10], b[10:])
	case TagOID:
		if err := dec.Unmarshal(t.Content, &m.KeyBytes); err != nil {
			return fmt.Errorf("tagged-oid-type: %v", err)
		}
		var err error
		if m.KeyText, err = OID(m.KeyBytes); err != nil {
			return fmt.Errorf("tagged-oid-type: %v", err)
		}
	}
	// Other tags (a profile's own mkey types) are kept as KeyTag alone:
	// a caller that does not know the tag does not map the measurement.
	return nil
}

func (m *Measurement) readSVN(raw cbor.RawMessage) error {
	var n uint64
	if len(raw) > 0 && raw[0]>>5 == 6 {
		var t cbor.RawTag
		if err := dec.Unmarshal(raw, &t); err != nil {
			return err
		}
		if t.Number != TagSVN && t.Number != TagMinSVN {
			return fmt.Errorf("svn tag %d, want %d or %d", t.Number, TagSVN, TagMinSVN)
		}
		m.MinSVN = t.Number == TagMinSVN
		raw = t.Content
	}
	if err := dec.Unmarshal(raw, &n); err != nil {
		return fmt.Errorf("svn: want an uint: %v", err)
	}
	m.SVN = &n
	return nil
}

// digests reads digests-type: [+ [alg, bytes]].
func digests(raw cbor.RawMessage) ([]Digest, error) {
	var ds [][]cbor.RawMessage
	if err := dec.Unmarshal(raw, &ds); err != nil {
		return nil, err
	}
	out := make([]Digest, 0, len(ds))
	for i, d := range ds {
		if len(d) != 2 {
			return nil, fmt.Errorf("digest %d: %d elements, want [alg, value]", i, len(d))
		}
		var x Digest
		if err := digestAlg(d[0], &x.Alg); err != nil {
			return nil, fmt.Errorf("digest %d: algorithm: %v", i, err)
		}
		if err := dec.Unmarshal(d[1], &x.Value); err != nil {
			return nil, fmt.Errorf("digest %d: value: %v", i, err)
		}
		out = append(out, x)
	}
	return out, nil
}

// digestAlg reads a digest's algorithm: an integer of the IANA Named
// Information Hash Algorithm registry, or its name there ("sha-256").
func digestAlg(raw cbor.RawMessage, alg *int64) error {
	if len(raw) > 0 && raw[0]>>5 == 3 {
		var name string
		if err := dec.Unmarshal(raw, &name); err != nil {
			return err
		}
		switch name {
		case "sha-256":
			*alg = 1
		case "sha-384":
			*alg = 7
		case "sha-512":
			*alg = 8
		default:
			return fmt.Errorf("%q is not a Named Information hash algorithm this reader knows (sha-256, sha-384, sha-512)", name)
		}
		return nil
	}
	return dec.Unmarshal(raw, alg)
}

// HashName names a Named Information hash algorithm ("sha-384"), or
// gives its number when it is not one reference values use.
func HashName(alg int64) string {
	switch alg {
	case 1:
		return "sha-256"
	case 7:
		return "sha-384"
	case 8:
		return "sha-512"
	}
	return fmt.Sprintf("hash algorithm %d", alg)
}

// registers reads integrity-registers: {+ (uint / text) => digests-type}.
func registers(raw cbor.RawMessage) (map[string][]Digest, error) {
	var m map[any]cbor.RawMessage
	if err := dec.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	out := make(map[string][]Digest, len(m))
	for k, v := range m {
		var name string
		switch x := k.(type) {
		case string:
			name = x
		case uint64:
			name = fmt.Sprint(x)
		default:
			return nil, fmt.Errorf("register name is a %T, want text or an uint", k)
		}
		ds, err := digests(v)
		if err != nil {
			return nil, fmt.Errorf("register %s: %v", name, err)
		}
		out[name] = ds
	}
	return out, nil
}

// attestKeyTriple reads attest-key-triple-record:
// [environment-map, [+ $crypto-key-type-choice], ? conditions].
func attestKeyTriple(raw cbor.RawMessage) (*AttestKeyTriple, error) {
	var rec []cbor.RawMessage
	if err := dec.Unmarshal(raw, &rec); err != nil {
		return nil, err
	}
	if len(rec) != 2 && len(rec) != 3 {
		return nil, fmt.Errorf("%d elements, want 2 or 3", len(rec))
	}
	env, err := environment(rec[0])
	if err != nil {
		return nil, err
	}
	t := &AttestKeyTriple{Environment: env, Conditions: len(rec) == 3}
	if err := dec.Unmarshal(rec[1], &t.Keys); err != nil {
		return nil, fmt.Errorf("key list: %v", err)
	}
	return t, nil
}

// PublicKey reads the $crypto-key-type-choice members that carry a public
// key: a PEM SubjectPublicKeyInfo (554), a PEM certificate (555; only a
// container for the key here: nothing chains it) and a COSE_Key (558).
// It returns nil, nil for the others (thumbprints, certificate paths),
// which name a key without giving it.
func PublicKey(t cbor.RawTag) (crypto.PublicKey, error) {
	switch t.Number {
	case TagPKIXBase64Key, TagPKIXBase64Cert:
		var s string
		if err := dec.Unmarshal(t.Content, &s); err != nil {
			return nil, err
		}
		blk, _ := pem.Decode([]byte(s))
		if blk == nil {
			return nil, fmt.Errorf("key (tag %d) is not PEM", t.Number)
		}
		if t.Number == TagPKIXBase64Key {
			if blk.Type != "PUBLIC KEY" {
				return nil, fmt.Errorf("pkix-base64-key is a PEM %q block, want PUBLIC KEY", blk.Type)
			}
			return x509.ParsePKIXPublicKey(blk.Bytes)
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("pkix-base64-cert is a PEM %q block, want CERTIFICATE", blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		return c.PublicKey, nil
	case TagCOSEKey:
		// tagged-cose-key-type = #6.558(COSE_Key): the map itself.
		var k cose.Key
		if err := k.UnmarshalCBOR(t.Content); err != nil {
			return nil, fmt.Errorf("COSE_Key: %v", err)
		}
		pub, err := k.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("COSE_Key: %v", err)
		}
		return pub, nil
	}
	return nil, nil
}
