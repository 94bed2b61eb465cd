package nitro

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// References in this file:
//
//   - [NSM]: aws-nitro-enclaves-nsm-api, docs/attestation_process.md
//     (section 2.2 the document's CDDL, 3.1 the COSE_Sign1 envelope,
//     3.2.2 the syntactic rules).
//   - [COSE]: RFC 8152 (section 4.2 COSE_Sign1, 8.1 ECDSA).

// Sizes from [NSM] 2.2 and 3.1.
const (
	maxPayload   = 16384 // bstr .size (1..16384)
	maxCert      = 1024  // cert = bytes .size (1..1024)
	maxUserData  = 1024  // user_data = bytes .size (0..1024)
	maxPCRs      = 32    // index = 0..31
	pcrSize      = 48    // SHA-384, the only digest [NSM] 2.2 allows
	es384SigSize = 96    // r || s, 48 bytes each ([COSE] 8.1)
	// maxDocument bounds the whole envelope: the payload plus the protected
	// header, the signature and a few bytes of CBOR framing.
	maxDocument = maxPayload + 256
)

// maxNSMNonce is the longest nonce the NSM accepts ([NSM] 3.2.2.2: nonce
// $length in [0, 512]). Parse keeps the CDDL's bound of 2.2 (maxUserData),
// so that a document is never refused for a size its own format allows.
const maxNSMNonce = 512

// DigestSHA384 is the only value [NSM] 2.2 allows in the digest field.
const DigestSHA384 = "SHA384"

// Document is an AWS Nitro Enclaves attestation document: a COSE_Sign1
// whose payload is the attestation document map of [NSM] 2.2.
//
// Protected, Payload and Signature are the signed bytes and the signature;
// the fields after them are what Parse decoded from Payload, a read-only
// view: Marshal encodes the envelope from the bytes, not from the view.
type Document struct {
	// Tagged is true when the COSE_Sign1 carried CBOR tag 18
	// (COSE_Sign1_Tagged); the Nitro hypervisor writes it untagged. The tag
	// is not signed.
	Tagged bool
	// Protected is the serialized protected header map, {1: -35}
	// (alg: ES384). It is signed.
	Protected []byte
	// Payload is the serialized attestation document. It is signed.
	Payload []byte
	// Signature is the ES384 signature, r || s.
	Signature []byte

	ModuleID    string              // module_id: the issuing NSM ("i-…-enc…")
	Digest      string              // digest: always "SHA384"
	Timestamp   uint64              // timestamp: milliseconds since the Unix epoch, UTC
	PCRs        map[int][]byte      // pcrs: index (0-31) -> 48-byte value
	Certificate *x509.Certificate   // certificate: the certificate that signed the document
	CABundle    []*x509.Certificate // cabundle: its issuers, root first
	PublicKey   []byte              // public_key: nil when absent or null
	UserData    []byte              // user_data: nil when absent or null
	Nonce       []byte              // nonce: nil when absent or null
}

// Time is the document's timestamp.
func (d *Document) Time() time.Time { return time.UnixMilli(int64(d.Timestamp)).UTC() }

// payloadMode decodes the payload strictly: no duplicate keys, no
// indefinite lengths, no tags, valid UTF-8. It is never modified.
var payloadMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:       cbor.DupMapKeyEnforcedAPF,
		IndefLength:     cbor.IndefLengthForbidden,
		TagsMd:          cbor.TagsForbidden,
		MaxNestedLevels: 8,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// CBOR major types (RFC 8949 section 3.1).
const (
	majorUint  = 0
	majorBytes = 2
	majorText  = 3
	majorArray = 4
	majorMap   = 5
)

const cborNull = 0xf6

// Parse decodes an attestation document, tagged or untagged, and checks
// every syntactic rule of [NSM] 3.2.2: the envelope is a COSE_Sign1 with
// protected header {1: -35} (ES384), an empty unprotected header, a payload
// and a 96-byte signature, nothing after it; the payload is a map with
// exactly the fields of [NSM] 2.2, mandatory ones present and not null,
// digest "SHA384", 1 to 32 PCRs indexed 0-31 of 48 bytes each (the
// SHA-384 size), certificates of 1 to 1024 bytes that parse as X.509. It
// verifies nothing.
func Parse(b []byte) (*Document, error) {
	if len(b) > maxDocument {
		return nil, fmt.Errorf("%w: %d bytes, more than an attestation document can hold (%d)", ErrMalformed, len(b), maxDocument)
	}
	var msg cose.Sign1Message
	d := &Document{Tagged: len(b) > 0 && b[0] == 0xd2}
	var err error
	if d.Tagged {
		err = msg.UnmarshalCBOR(b)
	} else {
		err = (*cose.UntaggedSign1Message)(&msg).UnmarshalCBOR(b)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: not a COSE_Sign1: %v", ErrMalformed, err)
	}
	if err := checkHeaders(&msg.Headers); err != nil {
		return nil, err
	}
	if len(msg.Payload) == 0 || len(msg.Payload) > maxPayload {
		return nil, fmt.Errorf("%w: payload is %d bytes, want 1 to %d", ErrMalformed, len(msg.Payload), maxPayload)
	}
	if len(msg.Signature) != es384SigSize {
		return nil, fmt.Errorf("%w: signature is %d bytes, ES384 has %d", ErrMalformed, len(msg.Signature), es384SigSize)
	}
	var prot []byte
	if err := cbor.Unmarshal(msg.Headers.RawProtected, &prot); err != nil {
		return nil, fmt.Errorf("%w: protected header: %v", ErrMalformed, err)
	}
	d.Protected, d.Payload, d.Signature = prot, msg.Payload, msg.Signature
	if err := d.decodePayload(); err != nil {
		return nil, err
	}
	return d, nil
}

// checkHeaders requires the headers [NSM] 3.1 shows: protected {1: -35},
// unprotected {}. Nothing else may appear: the unprotected header is not
// signed, and a protected parameter this verifier does not know (crit, for
// one) could change what the signature means.
func checkHeaders(h *cose.Headers) error {
	alg, err := h.Protected.Algorithm()
	if err != nil {
		return fmt.Errorf("%w: protected header: %v", ErrMalformed, err)
	}
	if alg != cose.AlgorithmES384 {
		return fmt.Errorf("%w: protected header alg is %v, want ES384 (-35)", ErrMalformed, alg)
	}
	if len(h.Protected) != 1 {
		return fmt.Errorf("%w: protected header has %d parameters, want alg alone", ErrMalformed, len(h.Protected))
	}
	if len(h.Unprotected) != 0 {
		return fmt.Errorf("%w: unprotected header has %d parameters, want none (it is not signed)", ErrMalformed, len(h.Unprotected))
	}
	return nil
}

// The payload's fields ([NSM] 3.2.2.1).
var (
	mandatoryFields = []string{"module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle"}
	optionalFields  = []string{"public_key", "user_data", "nonce"}
)

func (d *Document) decodePayload() error {
	var fields map[string]cbor.RawMessage
	if err := payloadMode.Unmarshal(d.Payload, &fields); err != nil {
		return fmt.Errorf("%w: payload is not a CBOR map with text keys: %v", ErrMalformed, err)
	}
	for k := range fields {
		if !slices.Contains(mandatoryFields, k) && !slices.Contains(optionalFields, k) {
			return fmt.Errorf("%w: payload has field %q, which an attestation document does not have", ErrMalformed, k)
		}
	}
	for _, k := range mandatoryFields {
		if v, ok := fields[k]; !ok || isNull(v) {
			return fmt.Errorf("%w: payload lacks mandatory field %s", ErrMalformed, k)
		}
	}
	var err error
	if d.ModuleID, err = decodeText(fields["module_id"], "module_id"); err != nil {
		return err
	}
	if d.ModuleID == "" {
		return fmt.Errorf("%w: module_id is empty", ErrMalformed)
	}
	if d.Digest, err = decodeText(fields["digest"], "digest"); err != nil {
		return err
	}
	if d.Digest != DigestSHA384 {
		return fmt.Errorf("%w: digest is %q, want %q", ErrMalformed, d.Digest, DigestSHA384)
	}
	if d.Timestamp, err = decodeUint(fields["timestamp"], "timestamp"); err != nil {
		return err
	}
	if d.Timestamp == 0 || d.Timestamp > math.MaxInt64 {
		return fmt.Errorf("%w: timestamp %d is not a time (want 1 to 2^63-1 ms)", ErrMalformed, d.Timestamp)
	}
	if d.PCRs, err = decodePCRs(fields["pcrs"]); err != nil {
		return err
	}
	der, err := decodeBytes(fields["certificate"], "certificate", 1, maxCert)
	if err != nil {
		return err
	}
	if d.Certificate, err = x509.ParseCertificate(der); err != nil {
		return fmt.Errorf("%w: certificate: %v", ErrMalformed, err)
	}
	if d.CABundle, err = decodeCABundle(fields["cabundle"]); err != nil {
		return err
	}
	if d.PublicKey, err = decodeOptional(fields, "public_key", 1, maxUserData); err != nil {
		return err
	}
	if d.UserData, err = decodeOptional(fields, "user_data", 0, maxUserData); err != nil {
		return err
	}
	if d.Nonce, err = decodeOptional(fields, "nonce", 0, maxUserData); err != nil {
		return err
	}
	return nil
}

func isNull(r cbor.RawMessage) bool { return len(r) == 1 && r[0] == cborNull }

func major(r cbor.RawMessage) int {
	if len(r) == 0 {
		return -1
	}
	return int(r[0] >> 5)
}

var majorNames = [...]string{"an unsigned integer", "a negative integer", "a byte string", "a text string", "an array", "a map", "a tag", "a simple value or float"}

func wrongType(field string, r cbor.RawMessage, want int) error {
	got := "nothing"
	if m := major(r); m >= 0 {
		got = majorNames[m]
	}
	return fmt.Errorf("%w: %s is %s, want %s", ErrMalformed, field, got, majorNames[want])
}

func decodeText(r cbor.RawMessage, field string) (string, error) {
	if major(r) != majorText {
		return "", wrongType(field, r, majorText)
	}
	var s string
	if err := payloadMode.Unmarshal(r, &s); err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrMalformed, field, err)
	}
	return s, nil
}

func decodeUint(r cbor.RawMessage, field string) (uint64, error) {
	if major(r) != majorUint {
		return 0, wrongType(field, r, majorUint)
	}
	var v uint64
	if err := payloadMode.Unmarshal(r, &v); err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrMalformed, field, err)
	}
	return v, nil
}

// decodeBytes decodes a byte string of min to max bytes. An empty string
// decodes to a non-nil empty slice, so that present-but-empty differs from
// absent.
func decodeBytes(r cbor.RawMessage, field string, min, max int) ([]byte, error) {
	if major(r) != majorBytes {
		return nil, wrongType(field, r, majorBytes)
	}
	var b []byte
	if err := payloadMode.Unmarshal(r, &b); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, field, err)
	}
	switch {
	case min == max && len(b) != min:
		return nil, fmt.Errorf("%w: %s is %d bytes, want %d", ErrMalformed, field, len(b), min)
	case len(b) < min || len(b) > max:
		return nil, fmt.Errorf("%w: %s is %d bytes, want %d to %d", ErrMalformed, field, len(b), min, max)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// decodeOptional decodes public_key, user_data or nonce: absent and null
// both give nil ([NSM] 2.2 marks them optional; the NSM writes null).
func decodeOptional(fields map[string]cbor.RawMessage, field string, min, max int) ([]byte, error) {
	r, ok := fields[field]
	if !ok || isNull(r) {
		return nil, nil
	}
	return decodeBytes(r, field, min, max)
}

func decodePCRs(r cbor.RawMessage) (map[int][]byte, error) {
	if major(r) != majorMap {
		return nil, wrongType("pcrs", r, majorMap)
	}
	var raw map[int64]cbor.RawMessage
	if err := payloadMode.Unmarshal(r, &raw); err != nil {
		return nil, fmt.Errorf("%w: pcrs is not a map of integer indexes: %v", ErrMalformed, err)
	}
	if len(raw) == 0 || len(raw) > maxPCRs {
		return nil, fmt.Errorf("%w: pcrs has %d entries, want 1 to %d", ErrMalformed, len(raw), maxPCRs)
	}
	out := make(map[int][]byte, len(raw))
	for i, v := range raw {
		if i < 0 || i >= maxPCRs {
			return nil, fmt.Errorf("%w: PCR index %d is outside 0-%d", ErrMalformed, i, maxPCRs-1)
		}
		// [NSM] 2.2 allows 32, 48 or 64 bytes, one size per digest; with
		// the one digest it allows, SHA384, every PCR is 48 bytes.
		b, err := decodeBytes(v, fmt.Sprintf("PCR%d (SHA384)", i), pcrSize, pcrSize)
		if err != nil {
			return nil, err
		}
		out[int(i)] = b
	}
	return out, nil
}

func decodeCABundle(r cbor.RawMessage) ([]*x509.Certificate, error) {
	if major(r) != majorArray {
		return nil, wrongType("cabundle", r, majorArray)
	}
	var raw []cbor.RawMessage
	if err := payloadMode.Unmarshal(r, &raw); err != nil {
		return nil, fmt.Errorf("%w: cabundle: %v", ErrMalformed, err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: cabundle is empty", ErrMalformed)
	}
	out := make([]*x509.Certificate, 0, len(raw))
	for i, v := range raw {
		name := fmt.Sprintf("cabundle[%d]", i)
		der, err := decodeBytes(v, name, 1, maxCert)
		if err != nil {
			return nil, err
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// Marshal encodes the document's COSE_Sign1 from Tagged, Protected,
// Payload and Signature, with an empty unprotected header. For a document
// from Parse, Parse(Marshal(d)) decodes to the same document.
func Marshal(d *Document) ([]byte, error) {
	if len(d.Signature) == 0 || len(d.Payload) == 0 {
		return nil, fmt.Errorf("%w: a document needs a payload and a signature", ErrMalformed)
	}
	msg, err := d.sign1()
	if err != nil {
		return nil, err
	}
	if d.Tagged {
		return msg.MarshalCBOR()
	}
	return (*cose.UntaggedSign1Message)(msg).MarshalCBOR()
}

// sign1 rebuilds the go-cose message from the document's bytes, so that
// the signature is verified over exactly the bytes the document holds.
func (d *Document) sign1() (*cose.Sign1Message, error) {
	rawProtected, err := cbor.Marshal(d.Protected)
	if err != nil {
		return nil, fmt.Errorf("%w: protected header: %v", ErrMalformed, err)
	}
	var prot cose.ProtectedHeader
	if err := prot.UnmarshalCBOR(rawProtected); err != nil {
		return nil, fmt.Errorf("%w: protected header: %v", ErrMalformed, err)
	}
	h := cose.Headers{Protected: prot, RawProtected: rawProtected, Unprotected: cose.UnprotectedHeader{}, RawUnprotected: []byte{0xa0}}
	if err := checkHeaders(&h); err != nil {
		return nil, err
	}
	return &cose.Sign1Message{Headers: h, Payload: d.Payload, Signature: d.Signature}, nil
}

// debugMode reports whether PCR0, PCR1 and PCR2 are all present and all
// zero: how the Nitro hypervisor reports an enclave started in debug mode
// (AWS Nitro Enclaves User Guide, "Where to get an enclave's
// measurements"). ok is false when one of them is missing.
func debugMode(pcrs map[int][]byte) (debug, ok bool) {
	debug = true
	for i := range 3 {
		v, present := pcrs[i]
		if !present {
			return false, false
		}
		if !bytes.Equal(v, make([]byte, len(v))) {
			debug = false
		}
	}
	return debug, true
}
