package dcap

// Intel collateral as Intel PCS API v4 serves it: TCB info
// (GET /{sgx,tdx}/certification/v4/tcb) and enclave identity, the "QE
// identity" (GET /{sgx,tdx}/certification/v4/qe/identity). Each is a JSON
// document {"tcbInfo"|"enclaveIdentity": {...}, "signature": "<hex>"} whose
// signature is ECDSA P-256 / SHA-256 by the Intel SGX TCB Signing
// certificate over the exact bytes of the inner object as they appear in
// the document (Intel PCS API v4, "Get TCB Info", "Get Quoting Enclave
// Identity"; Intel QVL verifies the same bytes). Parsing keeps those bytes;
// it never re-marshals them.
//
// Parse functions do no cryptography; VerifySignature and TCBSigner do.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"time"
)

// Collateral formats told apart by SniffCollateral.
const (
	FormatTCBInfo    = "intel-tcb-info"          // {"tcbInfo": ..., "signature": ...}
	FormatQEIdentity = "intel-qe-identity"       // {"enclaveIdentity": ..., "signature": ...}
	FormatBundle     = "intel-collateral-bundle" // dcap-qvl QuoteCollateralV3 / PCCS JSON
)

// TCB info ids (PCS API v4, TCB info "id").
const (
	TCBInfoSGX = "SGX"
	TCBInfoTDX = "TDX"
)

// TCBInfo is a parsed TCB info document: the TCB levels Intel defines for
// one FMSPC, SGX (versions 2 and 3) or TDX (version 3).
type TCBInfo struct {
	// ID is "SGX" or "TDX". Version 2 documents carry no id; they are SGX.
	ID                      string
	Version                 int
	IssueDate               time.Time
	NextUpdate              time.Time
	FMSPC                   [6]byte // fmspc
	PCEID                   [2]byte // pceId
	TCBType                 int     // tcbType; only 0 is defined
	TCBEvaluationDataNumber int
	// TDXModule is the TDX 1.0 module identity (tdxModule), TDX only.
	TDXModule *TDXModule
	// TDXModuleIdentities are the per-major-version identities of TDX 1.5+
	// modules (tdxModuleIdentities), TDX only, possibly absent.
	TDXModuleIdentities []TDXModuleIdentity
	// Levels in document order. Matching walks them in Intel's order (see
	// Match), which is the document order for every document Intel signs.
	Levels []TCBLevel
	// Signature is the document's ECDSA P-256 signature, r || s.
	Signature [64]byte

	signed []byte
	digest [32]byte // SHA-256 of signed, a small key for signature caches
}

// TCBLevel is one entry of tcbLevels.
type TCBLevel struct {
	SGXComponents [16]uint8 // sgxtcbcomp01svn..16 (v2), sgxtcbcomponents[].svn (v3)
	PCESVN        uint16    // pcesvn
	// TDXComponents are tdxtcbcomponents[].svn; nil in SGX TCB info.
	TDXComponents *[16]uint8
	Date          time.Time // tcbDate
	Status        TCBStatus // tcbStatus
	Advisory      []string  // advisoryIDs
}

// TDXModule is what a TDX module's report fields must show: MRSIGNERSEAM
// and SEAMATTRIBUTES (under the mask).
type TDXModule struct {
	MRSigner       [48]byte // mrsigner
	Attributes     [8]byte  // attributes
	AttributesMask [8]byte  // attributesMask
}

// TDXModuleIdentity is one entry of tdxModuleIdentities: a TDX module
// major version ("TDX_01", "TDX_03", ...) and its own TCB levels.
type TDXModuleIdentity struct {
	ID string // id
	TDXModule
	Levels []IdentityLevel
}

// IdentityLevel is a TCB level of an enclave identity or of a TDX module
// identity: an ISVSVN and its status.
type IdentityLevel struct {
	ISVSVN   uint16    // tcb.isvsvn
	Date     time.Time // tcbDate
	Status   TCBStatus // tcbStatus
	Advisory []string  // advisoryIDs
}

// QEIdentity is a parsed enclave identity document of a quoting enclave
// ("QE" for SGX, "TD_QE" for TDX) or of the quote verification enclave
// ("QVE").
type QEIdentity struct {
	ID                      string // "QE", "QVE" or "TD_QE"
	Version                 int
	IssueDate               time.Time
	NextUpdate              time.Time
	TCBEvaluationDataNumber int
	// MiscSelect and its mask are the 4 bytes of miscselect read as the
	// little-endian uint32 MISCSELECT of a report, as Intel QVL and
	// dcap-qvl read them.
	MiscSelect     uint32
	MiscSelectMask uint32
	Attributes     [16]byte // attributes
	AttributesMask [16]byte // attributesMask
	MRSigner       [32]byte // mrsigner
	ISVProdID      uint16   // isvprodid
	Levels         []IdentityLevel
	Signature      [64]byte

	signed []byte
	digest [32]byte // SHA-256 of signed, a small key for signature caches
}

// Signed returns the exact bytes the signature covers: the "tcbInfo" value
// as it appears in the document (or the bundle's tcb_info string).
func (t *TCBInfo) Signed() []byte { return t.signed }

// Signed returns the exact bytes the signature covers.
func (q *QEIdentity) Signed() []byte { return q.signed }

// Marshal returns the TCB info as a PCS document, with the signed bytes
// verbatim: ParseTCBInfo(t.Marshal()) equals t.
func (t *TCBInfo) Marshal() []byte { return marshalSigned("tcbInfo", t.signed, t.Signature) }

// Marshal returns the identity as a PCS document, with the signed bytes
// verbatim.
func (q *QEIdentity) Marshal() []byte {
	return marshalSigned("enclaveIdentity", q.signed, q.Signature)
}

func marshalSigned(key string, signed []byte, sig [64]byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"%s":`, key)
	b.Write(signed)
	fmt.Fprintf(&b, `,"signature":"%x"}`, sig[:])
	return b.Bytes()
}

// Describe names the document in messages: "TDX TCB info v3 for FMSPC
// 90C06F000000".
func (t *TCBInfo) Describe() string {
	return fmt.Sprintf("%s TCB info v%d for FMSPC %X", t.ID, t.Version, t.FMSPC[:])
}

// Describe names the document in messages: "TD_QE identity v2".
func (q *QEIdentity) Describe() string {
	return fmt.Sprintf("%s identity v%d", q.ID, q.Version)
}

// SniffCollateral tells Intel collateral files apart by their top-level
// JSON keys, without validating them further and without cryptography:
// FormatTCBInfo, FormatQEIdentity or FormatBundle. A truncated document
// still sniffs by the keys before the damage, so that its parse error
// reaches the user instead of the file being ignored.
func SniffCollateral(b []byte) (format string, ok bool) {
	keys, _ := topLevel(b)
	switch {
	case keys["tcbInfo"] != nil:
		return FormatTCBInfo, true
	case keys["enclaveIdentity"] != nil:
		return FormatQEIdentity, true
	}
	n := 0
	for _, k := range bundleKeys {
		if keys[k] != nil {
			n++
		}
	}
	// Two keys: one alone (say "tcb_info") is too common a word to claim a
	// file on.
	if n >= 2 {
		return FormatBundle, true
	}
	return "", false
}

// topLevel reads a JSON object's members with exact (case-sensitive) keys
// and their raw values, as they appear in b. It refuses duplicate keys and
// anything after the object. On error it still returns the members read
// before it (for sniffing).
func topLevel(b []byte) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return out, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return out, errors.New("not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return out, err
		}
		k, ok := tok.(string)
		if !ok {
			return out, errors.New("object key is not a string")
		}
		if _, dup := out[k]; dup {
			return out, fmt.Errorf("key %q appears twice", k)
		}
		// Mark the key as seen before its value is read, so a truncated
		// value still names the document.
		out[k] = json.RawMessage{}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return out, err
		}
		out[k] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return out, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return out, errors.New("data after the JSON object")
	}
	return out, nil
}

// signedDocument splits a PCS document into the raw signed value of key
// and the signature.
func signedDocument(b []byte, key, what string) (signed []byte, sig [64]byte, err error) {
	m, err := topLevel(b)
	if err != nil {
		return nil, sig, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	signed = m[key]
	if len(signed) == 0 {
		return nil, sig, fmt.Errorf("%w: %s: no %q member (members: %s)", ErrMalformed, what, key, keyList(m))
	}
	rawSig := m["signature"]
	if len(rawSig) == 0 {
		return nil, sig, fmt.Errorf("%w: %s: no \"signature\" member", ErrMalformed, what)
	}
	var s string
	if err := json.Unmarshal(rawSig, &s); err != nil {
		return nil, sig, fmt.Errorf("%w: %s: signature is not a string", ErrMalformed, what)
	}
	sig, err = parseSignature(s, what)
	return signed, sig, err
}

func keyList(m map[string]json.RawMessage) string {
	var ks []string
	for k := range m {
		ks = append(ks, fmt.Sprintf("%q", k))
	}
	if len(ks) == 0 {
		return "none"
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
}

func parseSignature(s, what string) ([64]byte, error) {
	var sig [64]byte
	b, err := hex.DecodeString(s)
	if err != nil {
		return sig, fmt.Errorf("%w: %s signature is not hex: %v", ErrMalformed, what, err)
	}
	if len(b) != len(sig) {
		return sig, fmt.Errorf("%w: %s signature is %d bytes, want 64 (r || s)", ErrMalformed, what, len(b))
	}
	copy(sig[:], b)
	return sig, nil
}

// ParseTCBInfo parses a TCB info document as Intel PCS v4 serves it.
func ParseTCBInfo(b []byte) (*TCBInfo, error) {
	signed, sig, err := signedDocument(b, "tcbInfo", "TCB info")
	if err != nil {
		return nil, err
	}
	return parseTCBInfoBody(signed, sig)
}

// ParseQEIdentity parses an enclave identity document as Intel PCS v4
// serves it.
func ParseQEIdentity(b []byte) (*QEIdentity, error) {
	signed, sig, err := signedDocument(b, "enclaveIdentity", "enclave identity")
	if err != nil {
		return nil, err
	}
	return parseQEIdentityBody(signed, sig)
}

// JSON shapes. Pointers mark members that must be present.
type (
	tcbInfoJSON struct {
		ID                      *string              `json:"id"`
		Version                 *int                 `json:"version"`
		IssueDate               *string              `json:"issueDate"`
		NextUpdate              *string              `json:"nextUpdate"`
		FMSPC                   *string              `json:"fmspc"`
		PCEID                   *string              `json:"pceId"`
		TCBType                 *int                 `json:"tcbType"`
		TCBEvaluationDataNumber *int                 `json:"tcbEvaluationDataNumber"`
		TDXModule               *tdxModuleJSON       `json:"tdxModule"`
		TDXModuleIdentities     []moduleIdentityJSON `json:"tdxModuleIdentities"`
		TCBLevels               []tcbLevelJSON       `json:"tcbLevels"`
	}
	tdxModuleJSON struct {
		MRSigner       *string `json:"mrsigner"`
		Attributes     *string `json:"attributes"`
		AttributesMask *string `json:"attributesMask"`
	}
	moduleIdentityJSON struct {
		ID *string `json:"id"`
		tdxModuleJSON
		TCBLevels []identityLevelJSON `json:"tcbLevels"`
	}
	tcbLevelJSON struct {
		TCB         map[string]json.RawMessage `json:"tcb"`
		TCBDate     *string                    `json:"tcbDate"`
		TCBStatus   *string                    `json:"tcbStatus"`
		AdvisoryIDs []string                   `json:"advisoryIDs"`
	}
	componentJSON struct {
		SVN *int `json:"svn"`
	}
	identityLevelJSON struct {
		TCB *struct {
			ISVSVN *int `json:"isvsvn"`
		} `json:"tcb"`
		TCBDate     *string  `json:"tcbDate"`
		TCBStatus   *string  `json:"tcbStatus"`
		AdvisoryIDs []string `json:"advisoryIDs"`
	}
	qeIdentityJSON struct {
		ID                      *string             `json:"id"`
		Version                 *int                `json:"version"`
		IssueDate               *string             `json:"issueDate"`
		NextUpdate              *string             `json:"nextUpdate"`
		TCBEvaluationDataNumber *int                `json:"tcbEvaluationDataNumber"`
		MiscSelect              *string             `json:"miscselect"`
		MiscSelectMask          *string             `json:"miscselectMask"`
		Attributes              *string             `json:"attributes"`
		AttributesMask          *string             `json:"attributesMask"`
		MRSigner                *string             `json:"mrsigner"`
		ISVProdID               *int                `json:"isvprodid"`
		TCBLevels               []identityLevelJSON `json:"tcbLevels"`
	}
)

// fields collects the first parse error, naming the document, so the
// parsers read straight down.
type fields struct {
	what string
	err  error
}

func (f *fields) fail(format string, a ...any) {
	if f.err == nil {
		f.err = fmt.Errorf("%w: %s: %s", ErrMalformed, f.what, fmt.Sprintf(format, a...))
	}
}

func (f *fields) str(p *string, name string) string {
	if p == nil {
		f.fail("%s is missing", name)
		return ""
	}
	return *p
}

func (f *fields) num(p *int, name string, max int) int {
	if p == nil {
		f.fail("%s is missing", name)
		return 0
	}
	if *p < 0 || *p > max {
		f.fail("%s is %d, outside 0-%d", name, *p, max)
		return 0
	}
	return *p
}

func (f *fields) time(p *string, name string) time.Time {
	s := f.str(p, name)
	if f.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		f.fail("%s %q is not an RFC 3339 time", name, s)
	}
	return t
}

// hexInto decodes a hex string (either case) of exactly len(dst) bytes.
func (f *fields) hexInto(dst []byte, p *string, name string) {
	s := f.str(p, name)
	if f.err != nil {
		return
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		f.fail("%s %q is not hex", name, s)
		return
	}
	if len(b) != len(dst) {
		f.fail("%s is %d bytes, want %d", name, len(b), len(dst))
		return
	}
	copy(dst, b)
}

func (f *fields) status(p *string, name string) TCBStatus {
	s := f.str(p, name)
	if f.err != nil {
		return ""
	}
	st, err := ParseTCBStatus(s)
	if err != nil {
		f.fail("%s %q is not a TCB status Intel defines", name, s)
	}
	return st
}

func (f *fields) module(m *tdxModuleJSON, name string) TDXModule {
	var out TDXModule
	f.hexInto(out.MRSigner[:], m.MRSigner, name+".mrsigner")
	f.hexInto(out.Attributes[:], m.Attributes, name+".attributes")
	f.hexInto(out.AttributesMask[:], m.AttributesMask, name+".attributesMask")
	return out
}

func (f *fields) identityLevels(ls []identityLevelJSON, name string) []IdentityLevel {
	out := make([]IdentityLevel, 0, len(ls))
	for i, l := range ls {
		n := fmt.Sprintf("%s[%d]", name, i)
		var lv IdentityLevel
		if l.TCB == nil {
			f.fail("%s.tcb is missing", n)
			return nil
		}
		lv.ISVSVN = uint16(f.num(l.TCB.ISVSVN, n+".tcb.isvsvn", 0xffff))
		lv.Date = f.time(l.TCBDate, n+".tcbDate")
		lv.Status = f.status(l.TCBStatus, n+".tcbStatus")
		lv.Advisory = l.AdvisoryIDs
		out = append(out, lv)
	}
	return out
}

func parseTCBInfoBody(signed []byte, sig [64]byte) (*TCBInfo, error) {
	var j tcbInfoJSON
	if err := json.Unmarshal(signed, &j); err != nil {
		return nil, fmt.Errorf("%w: TCB info: %v", ErrMalformed, err)
	}
	f := &fields{what: "TCB info"}
	t := &TCBInfo{Signature: sig, signed: bytes.Clone(signed), digest: sha256.Sum256(signed)}
	t.Version = f.num(j.Version, "version", 1<<16)
	if f.err != nil {
		return nil, f.err
	}
	// PCS API v4: version 2 is SGX only and has no id; version 3 names
	// its TEE.
	switch {
	case t.Version == 2 && (j.ID == nil || *j.ID == TCBInfoSGX):
		t.ID = TCBInfoSGX
	case t.Version == 3 && j.ID != nil && (*j.ID == TCBInfoSGX || *j.ID == TCBInfoTDX):
		t.ID = *j.ID
	case t.Version == 3 && j.ID == nil:
		return nil, fmt.Errorf("%w: TCB info v3 has no id (want %q or %q)", ErrMalformed, TCBInfoSGX, TCBInfoTDX)
	case t.Version == 2 || t.Version == 3:
		return nil, fmt.Errorf("%w: TCB info v%d id is %q, want %q or %q", ErrMalformed, t.Version, *j.ID, TCBInfoSGX, TCBInfoTDX)
	default:
		return nil, fmt.Errorf("%w: TCB info version is %d, want 2 or 3", ErrMalformed, t.Version)
	}
	f.what = fmt.Sprintf("%s TCB info v%d", t.ID, t.Version)
	t.IssueDate = f.time(j.IssueDate, "issueDate")
	t.NextUpdate = f.time(j.NextUpdate, "nextUpdate")
	f.hexInto(t.FMSPC[:], j.FMSPC, "fmspc")
	f.hexInto(t.PCEID[:], j.PCEID, "pceId")
	t.TCBType = f.num(j.TCBType, "tcbType", 1<<16)
	t.TCBEvaluationDataNumber = f.num(j.TCBEvaluationDataNumber, "tcbEvaluationDataNumber", 1<<31-1)
	if f.err != nil {
		return nil, f.err
	}
	if t.TCBType != 0 {
		// PCS API v4: tcbType 0 is the only composition defined; level
		// comparison for any other is unspecified.
		return nil, fmt.Errorf("%w: %s tcbType is %d, want 0 (the only one Intel defines)", ErrMalformed, f.what, t.TCBType)
	}
	tdx := t.ID == TCBInfoTDX
	if tdx {
		if j.TDXModule == nil {
			f.fail("tdxModule is missing")
			return nil, f.err
		}
		m := f.module(j.TDXModule, "tdxModule")
		t.TDXModule = &m
		for i, id := range j.TDXModuleIdentities {
			n := fmt.Sprintf("tdxModuleIdentities[%d]", i)
			mi := TDXModuleIdentity{ID: f.str(id.ID, n+".id")}
			mi.TDXModule = f.module(&id.tdxModuleJSON, n)
			mi.Levels = f.identityLevels(id.TCBLevels, n+".tcbLevels")
			t.TDXModuleIdentities = append(t.TDXModuleIdentities, mi)
		}
	}
	if len(j.TCBLevels) == 0 {
		f.fail("tcbLevels is missing or empty")
	}
	for i, l := range j.TCBLevels {
		n := fmt.Sprintf("tcbLevels[%d]", i)
		var lv TCBLevel
		if l.TCB == nil {
			f.fail("%s.tcb is missing", n)
			break
		}
		if t.Version == 2 {
			for c := range lv.SGXComponents {
				lv.SGXComponents[c] = uint8(f.rawNum(l.TCB, fmt.Sprintf("sgxtcbcomp%02dsvn", c+1), n, 255))
			}
		} else {
			f.components(&lv.SGXComponents, l.TCB, "sgxtcbcomponents", n)
			if tdx {
				var c [16]uint8
				f.components(&c, l.TCB, "tdxtcbcomponents", n)
				lv.TDXComponents = &c
			}
		}
		lv.PCESVN = uint16(f.rawNum(l.TCB, "pcesvn", n, 0xffff))
		lv.Date = f.time(l.TCBDate, n+".tcbDate")
		lv.Status = f.status(l.TCBStatus, n+".tcbStatus")
		lv.Advisory = l.AdvisoryIDs
		t.Levels = append(t.Levels, lv)
	}
	if f.err != nil {
		return nil, f.err
	}
	return t, nil
}

// rawNum reads a number member of a tcb object.
func (f *fields) rawNum(m map[string]json.RawMessage, key, level string, max int) int {
	raw, ok := m[key]
	if !ok {
		f.fail("%s.tcb.%s is missing", level, key)
		return 0
	}
	var n *int
	if err := json.Unmarshal(raw, &n); err != nil || n == nil {
		f.fail("%s.tcb.%s is not an integer", level, key)
		return 0
	}
	return f.num(n, level+".tcb."+key, max)
}

// components reads sgxtcbcomponents or tdxtcbcomponents: exactly 16
// objects with an svn.
func (f *fields) components(dst *[16]uint8, m map[string]json.RawMessage, key, level string) {
	raw, ok := m[key]
	if !ok {
		f.fail("%s.tcb.%s is missing", level, key)
		return
	}
	var cs []componentJSON
	if err := json.Unmarshal(raw, &cs); err != nil {
		f.fail("%s.tcb.%s is not an array of components", level, key)
		return
	}
	if len(cs) != len(dst) {
		f.fail("%s.tcb.%s has %d components, want %d", level, key, len(cs), len(dst))
		return
	}
	for i, c := range cs {
		dst[i] = uint8(f.num(c.SVN, fmt.Sprintf("%s.tcb.%s[%d].svn", level, key, i), 255))
	}
}

func parseQEIdentityBody(signed []byte, sig [64]byte) (*QEIdentity, error) {
	var j qeIdentityJSON
	if err := json.Unmarshal(signed, &j); err != nil {
		return nil, fmt.Errorf("%w: enclave identity: %v", ErrMalformed, err)
	}
	f := &fields{what: "enclave identity"}
	q := &QEIdentity{Signature: sig, signed: bytes.Clone(signed), digest: sha256.Sum256(signed)}
	q.ID = f.str(j.ID, "id")
	q.Version = f.num(j.Version, "version", 1<<16)
	if f.err != nil {
		return nil, f.err
	}
	switch q.ID {
	case "QE", "QVE", "TD_QE":
	default:
		return nil, fmt.Errorf("%w: enclave identity id is %q, want \"QE\", \"QVE\" or \"TD_QE\"", ErrMalformed, q.ID)
	}
	// PCS API v4 serves version 2; version 1 had no tcbLevels.
	if q.Version != 2 {
		return nil, fmt.Errorf("%w: %s identity version is %d, want 2", ErrMalformed, q.ID, q.Version)
	}
	f.what = q.Describe()
	q.IssueDate = f.time(j.IssueDate, "issueDate")
	q.NextUpdate = f.time(j.NextUpdate, "nextUpdate")
	q.TCBEvaluationDataNumber = f.num(j.TCBEvaluationDataNumber, "tcbEvaluationDataNumber", 1<<31-1)
	var misc, miscMask [4]byte
	f.hexInto(misc[:], j.MiscSelect, "miscselect")
	f.hexInto(miscMask[:], j.MiscSelectMask, "miscselectMask")
	q.MiscSelect, q.MiscSelectMask = le32(misc), le32(miscMask)
	f.hexInto(q.Attributes[:], j.Attributes, "attributes")
	f.hexInto(q.AttributesMask[:], j.AttributesMask, "attributesMask")
	f.hexInto(q.MRSigner[:], j.MRSigner, "mrsigner")
	q.ISVProdID = uint16(f.num(j.ISVProdID, "isvprodid", 0xffff))
	if f.err == nil && len(j.TCBLevels) == 0 {
		f.fail("tcbLevels is missing or empty")
	}
	q.Levels = f.identityLevels(j.TCBLevels, "tcbLevels")
	if f.err != nil {
		return nil, f.err
	}
	return q, nil
}

func le32(b [4]byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// VerifySignature checks the TCB info's signature with the public key of
// tcbSigner, the Intel SGX TCB Signing certificate. It does not check the
// certificate itself; TCBSigner does.
func (t *TCBInfo) VerifySignature(tcbSigner *x509.Certificate) error {
	return verifyCollateralSignature(t.Describe(), t.signed, t.Signature, tcbSigner)
}

// VerifySignature checks the identity's signature with the public key of
// tcbSigner, the Intel SGX TCB Signing certificate.
func (q *QEIdentity) VerifySignature(tcbSigner *x509.Certificate) error {
	return verifyCollateralSignature(q.Describe(), q.signed, q.Signature, tcbSigner)
}

func verifyCollateralSignature(what string, signed []byte, sig [64]byte, signer *x509.Certificate) error {
	if signer == nil {
		return fmt.Errorf("%w: no TCB signing certificate to verify the %s with", ErrChain, what)
	}
	pub, ok := signer.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return fmt.Errorf("%w: %q has a %T key, want ECDSA P-256", ErrChain, signer.Subject.CommonName, signer.PublicKey)
	}
	d := sha256.Sum256(signed)
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, d[:], r, s) {
		return fmt.Errorf("%w: the %s signature does not verify with the key of %q (serial %x)", ErrSignature, what, signer.Subject.CommonName, signer.SerialNumber)
	}
	return nil
}

// ValidAt checks issueDate <= at <= nextUpdate.
func (t *TCBInfo) ValidAt(at time.Time) error {
	return validWindow(t.Describe(), t.IssueDate, t.NextUpdate, at)
}

// ValidAt checks issueDate <= at <= nextUpdate.
func (q *QEIdentity) ValidAt(at time.Time) error {
	return validWindow(q.Describe(), q.IssueDate, q.NextUpdate, at)
}

func validWindow(what string, issue, next, at time.Time) error {
	const f = time.RFC3339
	switch {
	case at.Before(issue):
		return fmt.Errorf("%w: %s is issued %s, after the verification time %s", ErrCollateral, what, issue.UTC().Format(f), at.UTC().Format(f))
	case at.After(next):
		return fmt.Errorf("%w: %s expired: next update was due %s, before the verification time %s (issued %s)", ErrCollateral, what, next.UTC().Format(f), at.UTC().Format(f), issue.UTC().Format(f))
	}
	return nil
}

// Applies checks that the TCB info is for the quote's TEE (tdx: a TD
// quote), FMSPC and PCE ID, as Intel QVL does before matching levels
// (QuoteVerifier.cpp, 4.1.2.4.9 and 4.1.2.4.10). FMSPC hex is compared as
// bytes, so its case does not matter.
func (t *TCBInfo) Applies(tdx bool, fmspc [6]byte, pceid [2]byte) error {
	want := TCBInfoSGX
	if tdx {
		want = TCBInfoTDX
	}
	if t.ID != want {
		return fmt.Errorf("%w: %s is for %s, the quote is %s", ErrCollateral, t.Describe(), t.ID, want)
	}
	if t.FMSPC != fmspc {
		return fmt.Errorf("%w: %s does not apply: the PCK certificate's FMSPC is %X", ErrCollateral, t.Describe(), fmspc[:])
	}
	if t.PCEID != pceid {
		return fmt.Errorf("%w: %s is for PCE ID %X, the PCK certificate's is %X", ErrCollateral, t.Describe(), t.PCEID[:], pceid[:])
	}
	return nil
}

// TCBSigner verifies that chain[0] is an Intel SGX TCB Signing certificate
// issued by root, both valid at at, and, when rootCRL is not nil, that the
// root CA CRL (signed by root, current at at) does not list it. chain is
// an issuer chain as PCS sends it (TCB-Info-Issuer-Chain: signing
// certificate, then root); certificates after the first are not trusted,
// only root is. It returns the signing certificate.
func TCBSigner(chain []*x509.Certificate, root *x509.Certificate, rootCRL *x509.RevocationList, at time.Time) (*x509.Certificate, error) {
	if len(chain) == 0 || chain[0] == nil {
		return nil, fmt.Errorf("%w: empty TCB signing chain", ErrChain)
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no trusted root for the TCB signing chain", ErrChain)
	}
	leaf := chain[0]
	if leaf.Subject.CommonName != tcbSigningCN {
		return nil, fmt.Errorf("%w: TCB signing chain starts with %q, want %q", ErrChain, leaf.Subject.CommonName, tcbSigningCN)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("%w: root %q is not self-signed: %v", ErrChain, root.Subject.CommonName, err)
	}
	if err := leaf.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("%w: %q (serial %x) is not issued by %q: %v", ErrChain, leaf.Subject.CommonName, leaf.SerialNumber, root.Subject.CommonName, err)
	}
	for _, c := range []*x509.Certificate{leaf, root} {
		if err := validAtTime(c, at); err != nil {
			return nil, err
		}
	}
	if rootCRL != nil {
		if err := rootCRL.CheckSignatureFrom(root); err != nil {
			return nil, fmt.Errorf("%w: the root CA CRL is not signed by %q: %v", ErrChain, root.Subject.CommonName, err)
		}
		if at.After(rootCRL.NextUpdate) {
			return nil, fmt.Errorf("%w: the root CA CRL expired %s, before the verification time %s", ErrChain, rootCRL.NextUpdate.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
		}
		for _, e := range rootCRL.RevokedCertificateEntries {
			if e.SerialNumber != nil && e.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
				return nil, fmt.Errorf("%w: %q serial %x is on the root CA CRL (revoked %s)", ErrRevoked, leaf.Subject.CommonName, leaf.SerialNumber, e.RevocationTime.UTC().Format(time.RFC3339))
			}
		}
	}
	return leaf, nil
}

const tcbSigningCN = "Intel SGX TCB Signing"

func validAtTime(c *x509.Certificate, at time.Time) error {
	const f = time.RFC3339
	if at.Before(c.NotBefore) || at.After(c.NotAfter) {
		return fmt.Errorf("%w: %q (serial %x) is valid %s to %s, not at the verification time %s", ErrChain, c.Subject.CommonName, c.SerialNumber, c.NotBefore.UTC().Format(f), c.NotAfter.UTC().Format(f), at.UTC().Format(f))
	}
	return nil
}
