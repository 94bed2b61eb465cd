package dcap

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"fmt"
)

// Quote layout: Intel "TDX DCAP Quoting Library API" (rev. 0.9+, Appendix
// A.3, quote v4 and v5) and "SGX ECDSA Quote Library API" (Appendix A.4,
// quote v3). All integers are little-endian.
const (
	HeaderSize       = 48
	SGXReportSize    = 384 // sgx_report_body_t
	TDReport10Size   = 584 // TD report body, TDX 1.0
	TDReport15Size   = 648 // TD report body, TDX 1.5: + TEE_TCB_SVN2, MRSERVICETD
	v5DescriptorSize = 6   // body type u16, body size u32

	// TEE types (header offset 4).
	TEETypeSGX = 0x00000000
	TEETypeTDX = 0x00000081

	// Attestation key type 2: ECDSA-256-with-P-256 curve.
	AttKeyECDSAP256 = 2

	// Certification data types (Quote Library API, "Certification Data").
	CertDataPCKChain  = 5 // concatenated PEM PCK leaf, intermediate, root
	CertDataQEReport  = 6 // QE report certification data (v4, v5)
	maxCertDataLength = 1 << 20

	// v5 body types.
	BodySGX  = 1
	BodyTD10 = 2
	BodyTD15 = 3
)

// IntelQEVendorID is the QE vendor ID of Intel's quoting enclaves.
var IntelQEVendorID = [16]byte{0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9, 0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07}

// Header is the quote header.
type Header struct {
	Version    uint16   // VERSION
	AttKeyType uint16   // ATT_KEY_TYPE
	TEEType    uint32   // TEE_TYPE (v3: reserved, zero)
	QESVN      uint16   // QE_SVN (v3; reserved in v4/v5)
	PCESVN     uint16   // PCE_SVN (v3; reserved in v4/v5)
	QEVendorID [16]byte // QE_VENDOR_ID
	UserData   [20]byte // USER_DATA
}

// SGXReport is sgx_report_body_t: the body of an SGX quote, and the QE
// report of every quote.
type SGXReport struct {
	CPUSVN       [16]byte // CPUSVN
	MiscSelect   uint32   // MISCSELECT
	ISVExtProdID [16]byte // ISVEXTPRODID
	Attributes   [16]byte // ATTRIBUTES (flags u64, xfrm u64)
	MREnclave    [32]byte // MRENCLAVE
	MRSigner     [32]byte // MRSIGNER
	ConfigID     [64]byte // CONFIGID
	ISVProdID    uint16   // ISVPRODID
	ISVSVN       uint16   // ISVSVN
	ConfigSVN    uint16   // CONFIGSVN
	ISVFamilyID  [16]byte // ISVFAMILYID
	ReportData   [64]byte // REPORTDATA
	raw          []byte
}

// TDReport is the TD quote body (TDX 1.0; the TDX 1.5 fields are zero and
// Has15 false for a 1.0 body).
type TDReport struct {
	TEETCBSVN      [16]byte    // TEE_TCB_SVN
	MRSeam         [48]byte    // MRSEAM
	MRSignerSeam   [48]byte    // MRSIGNERSEAM
	SeamAttributes [8]byte     // SEAMATTRIBUTES
	TDAttributes   [8]byte     // TDATTRIBUTES
	XFAM           [8]byte     // XFAM
	MRTD           [48]byte    // MRTD
	MRConfigID     [48]byte    // MRCONFIGID
	MROwner        [48]byte    // MROWNER
	MROwnerConfig  [48]byte    // MROWNERCONFIG
	RTMR           [4][48]byte // RTMR0..3
	ReportData     [64]byte    // REPORTDATA
	// TDX 1.5 (quote v5 body type 3).
	Has15       bool
	TEETCBSVN2  [16]byte // TEE_TCB_SVN_2
	MRServiceTD [48]byte // MRSERVICETD
}

// Quote is a parsed DCAP quote, v3 to v5.
type Quote struct {
	Header Header
	// BodyType is the v5 body type, or the equivalent for v3/v4
	// (BodySGX, BodyTD10).
	BodyType uint16
	SGX      *SGXReport // set for SGX quotes
	TD       *TDReport  // set for TDX quotes

	// Signature is the ECDSA P-256 signature (r || s) over Signed().
	Signature [64]byte
	// AttestationKey is the raw P-256 public key (x || y).
	AttestationKey [64]byte
	// QEReport is the quoting enclave's report, signed by the PCK key.
	QEReport          *SGXReport
	QEReportSignature [64]byte
	QEAuthData        []byte
	// CertDataType and CertData are the innermost certification data
	// (type 5: the PCK chain as PEM).
	CertDataType uint16
	CertData     []byte

	// Trailing is the number of bytes after the quote in the input.
	Trailing int

	signed []byte // header and body, as signed
	raw    []byte
}

// Signed returns the bytes the attestation key signed: header and body.
func (q *Quote) Signed() []byte { return q.signed }

// Raw returns the quote as parsed, without trailing bytes.
func (q *Quote) Raw() []byte { return q.raw }

// IsTDX reports whether the quote is a TD quote.
func (q *Quote) IsTDX() bool { return q.TD != nil }

type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || r.off+n > len(r.b) {
		r.err = fmt.Errorf("%w: quote truncated: %s needs %d bytes at offset %d, %d remain", ErrMalformed, what, n, r.off, len(r.b)-r.off)
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u16(what string) uint16 {
	s := r.take(2, what)
	if s == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(s)
}

func (r *reader) u32(what string) uint32 {
	s := r.take(4, what)
	if s == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(s)
}

// Sniff reports whether b looks like a DCAP quote (v3, v4 or v5 header with
// an ECDSA P-256 key and a known TEE type), and whether it is a TD quote.
func Sniff(b []byte) (tdx bool, ok bool) {
	if len(b) < HeaderSize+SGXReportSize {
		return false, false
	}
	v := binary.LittleEndian.Uint16(b)
	kt := binary.LittleEndian.Uint16(b[2:])
	tee := binary.LittleEndian.Uint32(b[4:])
	if v < 3 || v > 5 || kt != AttKeyECDSAP256 {
		return false, false
	}
	switch tee {
	case TEETypeSGX:
		return false, true
	case TEETypeTDX:
		return true, v >= 4
	}
	return false, false
}

// ParseQuote decodes a DCAP quote. Bytes after the signature data are not
// part of the quote (Trailing counts them). It checks structure only: no
// cryptography.
func ParseQuote(b []byte) (*Quote, error) {
	r := &reader{b: b}
	q := &Quote{}
	h := &q.Header
	h.Version = r.u16("VERSION")
	h.AttKeyType = r.u16("ATT_KEY_TYPE")
	h.TEEType = r.u32("TEE_TYPE")
	h.QESVN = r.u16("QE_SVN")
	h.PCESVN = r.u16("PCE_SVN")
	copy(h.QEVendorID[:], r.take(16, "QE_VENDOR_ID"))
	copy(h.UserData[:], r.take(20, "USER_DATA"))
	if r.err != nil {
		return nil, r.err
	}
	if h.Version < 3 || h.Version > 5 {
		return nil, fmt.Errorf("%w: quote VERSION is %d, this verifier understands 3, 4 and 5", ErrMalformed, h.Version)
	}
	if h.AttKeyType != AttKeyECDSAP256 {
		return nil, fmt.Errorf("%w: ATT_KEY_TYPE is %d, want %d (ECDSA-256-with-P-256)", ErrMalformed, h.AttKeyType, AttKeyECDSAP256)
	}
	switch {
	case h.TEEType == TEETypeSGX:
	case h.TEEType == TEETypeTDX && h.Version >= 4:
	default:
		return nil, fmt.Errorf("%w: TEE_TYPE %#x in a version %d quote (want 0 for SGX, 0x81 for TDX in v4+)", ErrMalformed, h.TEEType, h.Version)
	}

	// Body.
	bodyType, bodySize := uint16(BodySGX), SGXReportSize
	if h.TEEType == TEETypeTDX {
		bodyType, bodySize = BodyTD10, TDReport10Size
	}
	if h.Version == 5 {
		bt := r.u16("body type")
		bs := r.u32("body size")
		if r.err != nil {
			return nil, r.err
		}
		want := map[uint16]int{BodySGX: SGXReportSize, BodyTD10: TDReport10Size, BodyTD15: TDReport15Size}
		n, known := want[bt]
		if !known {
			return nil, fmt.Errorf("%w: v5 body type %d unknown (want 1 SGX, 2 TD 1.0, 3 TD 1.5)", ErrMalformed, bt)
		}
		if int(bs) != n {
			return nil, fmt.Errorf("%w: v5 body type %d has size %d, want %d", ErrMalformed, bt, bs, n)
		}
		if (bt == BodySGX) != (h.TEEType == TEETypeSGX) {
			return nil, fmt.Errorf("%w: v5 body type %d does not match TEE_TYPE %#x", ErrMalformed, bt, h.TEEType)
		}
		bodyType, bodySize = bt, n
	}
	body := r.take(bodySize, "report body")
	if r.err != nil {
		return nil, r.err
	}
	q.BodyType = bodyType
	if bodyType == BodySGX {
		q.SGX = parseSGXReport(body)
	} else {
		q.TD = parseTDReport(body, bodyType == BodyTD15)
	}
	q.signed = b[:r.off:r.off]

	// Signature data.
	sigLen := r.u32("signature data length")
	if r.err != nil {
		return nil, r.err
	}
	if int64(sigLen) > int64(len(b)-r.off) {
		return nil, fmt.Errorf("%w: signature data length %d exceeds the %d bytes that follow", ErrMalformed, sigLen, len(b)-r.off)
	}
	sd := &reader{b: b[r.off : r.off+int(sigLen)]}
	copy(q.Signature[:], sd.take(64, "quote signature"))
	copy(q.AttestationKey[:], sd.take(64, "attestation key"))
	if sd.err != nil {
		return nil, sd.err
	}
	if h.Version == 3 {
		if err := q.parseQECertData(sd); err != nil {
			return nil, err
		}
	} else {
		t := sd.u16("certification data type")
		n := sd.u32("certification data size")
		data := sd.take(int(n), "certification data")
		if sd.err != nil {
			return nil, sd.err
		}
		if t != CertDataQEReport {
			return nil, fmt.Errorf("%w: certification data type is %d, want %d (QE report certification data)", ErrMalformed, t, CertDataQEReport)
		}
		inner := &reader{b: data}
		if err := q.parseQECertData(inner); err != nil {
			return nil, err
		}
		if inner.off != len(data) {
			return nil, fmt.Errorf("%w: %d unexpected bytes after the QE certification data", ErrMalformed, len(data)-inner.off)
		}
	}
	if sd.off != int(sigLen) {
		return nil, fmt.Errorf("%w: %d unexpected bytes at the end of the signature data", ErrMalformed, int(sigLen)-sd.off)
	}
	end := r.off + int(sigLen)
	// Bytes after the signature data are not part of the quote: tools
	// write quotes into larger buffers (zero padding), and test data
	// appends text. They are kept out of Raw, counted in Trailing, and
	// reported by the verifiers; nothing signed depends on them.
	q.Trailing = len(b) - end
	q.raw = b[:end:end]
	return q, nil
}

// parseQECertData reads QE report, its signature, QE auth data and the
// certification data (layout shared by v3's signature data and v4's type 6
// certification data).
func (q *Quote) parseQECertData(r *reader) error {
	qe := r.take(SGXReportSize, "QE report")
	copy(q.QEReportSignature[:], r.take(64, "QE report signature"))
	authLen := r.u16("QE authentication data size")
	auth := r.take(int(authLen), "QE authentication data")
	t := r.u16("QE certification data type")
	n := r.u32("QE certification data size")
	if r.err != nil {
		return r.err
	}
	if n > maxCertDataLength {
		return fmt.Errorf("%w: QE certification data size %d is over %d", ErrMalformed, n, maxCertDataLength)
	}
	data := r.take(int(n), "QE certification data")
	if r.err != nil {
		return r.err
	}
	q.QEReport = parseSGXReport(qe)
	q.QEAuthData = bytes.Clone(auth)
	q.CertDataType = t
	q.CertData = bytes.Clone(data)
	return nil
}

func parseSGXReport(b []byte) *SGXReport {
	le := binary.LittleEndian
	r := &SGXReport{raw: bytes.Clone(b)}
	copy(r.CPUSVN[:], b[0:16])
	r.MiscSelect = le.Uint32(b[16:])
	copy(r.ISVExtProdID[:], b[32:48])
	copy(r.Attributes[:], b[48:64])
	copy(r.MREnclave[:], b[64:96])
	copy(r.MRSigner[:], b[128:160])
	copy(r.ConfigID[:], b[192:256])
	r.ISVProdID = le.Uint16(b[256:])
	r.ISVSVN = le.Uint16(b[258:])
	r.ConfigSVN = le.Uint16(b[260:])
	copy(r.ISVFamilyID[:], b[304:320])
	copy(r.ReportData[:], b[320:384])
	return r
}

// Raw returns the report body's bytes.
func (r *SGXReport) Raw() []byte { return r.raw }

// Debug reports ATTRIBUTES.DEBUG (bit 1 of the flags).
func (r *SGXReport) Debug() bool { return r.Attributes[0]&0x02 != 0 }

func parseTDReport(b []byte, v15 bool) *TDReport {
	r := &TDReport{Has15: v15}
	copy(r.TEETCBSVN[:], b[0:16])
	copy(r.MRSeam[:], b[16:64])
	copy(r.MRSignerSeam[:], b[64:112])
	copy(r.SeamAttributes[:], b[112:120])
	copy(r.TDAttributes[:], b[120:128])
	copy(r.XFAM[:], b[128:136])
	copy(r.MRTD[:], b[136:184])
	copy(r.MRConfigID[:], b[184:232])
	copy(r.MROwner[:], b[232:280])
	copy(r.MROwnerConfig[:], b[280:328])
	for i := range 4 {
		copy(r.RTMR[i][:], b[328+48*i:376+48*i])
	}
	copy(r.ReportData[:], b[520:584])
	if v15 {
		copy(r.TEETCBSVN2[:], b[584:600])
		copy(r.MRServiceTD[:], b[600:648])
	}
	return r
}

// PCKChain decodes the certification data of type 5: the PEM PCK leaf,
// its CA and the root, in that order.
func (q *Quote) PCKChain() ([]*x509.Certificate, error) {
	if q.CertDataType != CertDataPCKChain {
		return nil, fmt.Errorf("%w: certification data type %d carries no PCK certificate chain (want type %d); supply the PCK certificate", ErrCollateralMissing, q.CertDataType, CertDataPCKChain)
	}
	var out []*x509.Certificate
	rest := bytes.TrimRight(q.CertData, "\x00")
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: PCK chain certificate %d: %v", ErrMalformed, len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the PCK chain's PEM blocks", ErrMalformed, len(rest))
	}
	if len(out) != 3 {
		return nil, fmt.Errorf("%w: PCK chain has %d certificates, want 3 (PCK, PCK CA, root)", ErrMalformed, len(out))
	}
	return out, nil
}

// TrailingNote describes bytes after the quote, for a parse check's
// detail; empty when there are none.
func TrailingNote(q *Quote) string {
	if q.Trailing == 0 {
		return ""
	}
	return fmt.Sprintf("; %d bytes after the quote ignored (not part of the signed quote)", q.Trailing)
}
