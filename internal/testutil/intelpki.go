package testutil

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

// IntelPKI is a test copy of Intel's SGX/TDX DCAP PKI: an "Intel SGX Root
// CA", the "Intel SGX PCK Platform CA" and "Intel SGX PCK Processor CA" it
// issues, and an "Intel SGX TCB Signing" certificate, with Intel's names
// (same attribute order and string types), key type and signature
// algorithm (ECDSA P-256 with SHA-256), basic constraints, key usages and
// CRL distribution points, but test keys made afresh by NewIntelPKI. It
// issues PCK certificates with the SGX extensions, builds signed quotes (v3
// to v5, SGX, TDX 1.0 and 1.5) and signs collateral in the Intel PCS v4
// JSON format, so that tests can reach what recorded quotes cannot: every
// TCB status, revoked PCKs and CAs, expired collateral, a wrong quoting
// enclave, TDX 1.5 module identities.
//
// Nothing here is trusted by default: a verifier trusts this root only
// when a test passes IntelPKI.Root explicitly as a root. Its names equal
// Intel's, but trust comes from the key, and the key is not Intel's.
// (internal/archtest keeps production code from importing this package.)
//
// Validity: the root 2018-05-21 to 2049-12-31 and the CAs 2018-05-21 to
// 2033-05-21, as Intel's; the TCB signing certificate as the CAs; PCKs
// 2024-01-01 to 2031-01-01 unless told. Collateral and CRLs are by default
// current at Now, 2025-06-15.
//
// The package does not import internal/dcap (whose in-package tests import
// this package): quotes and documents are built from Intel's
// specifications, so that tests of the dcap parsers against them compare
// two readings of the specifications.
type IntelPKI struct {
	Root        *x509.Certificate // "Intel SGX Root CA", self-signed
	PlatformCA  *x509.Certificate // "Intel SGX PCK Platform CA", issued by Root
	ProcessorCA *x509.Certificate // "Intel SGX PCK Processor CA", issued by Root
	TCBSigning  *x509.Certificate // "Intel SGX TCB Signing", issued by Root

	rootKey, platformKey, processorKey, tcbKey *ecdsa.PrivateKey
}

// Validity of the test PKI: the root and CA windows are Intel's; the
// default collateral and CRLs are current at intelNow.
var (
	intelRootNotBefore = time.Date(2018, 5, 21, 10, 45, 10, 0, time.UTC)
	intelRootNotAfter  = time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)
	intelCANotBefore   = time.Date(2018, 5, 21, 10, 50, 10, 0, time.UTC)
	intelCANotAfter    = time.Date(2033, 5, 21, 10, 50, 10, 0, time.UTC)
	intelPCKNotBefore  = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	intelPCKNotAfter   = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	intelIssueDate     = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	intelNextUpdate    = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	intelRootCRLNext   = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	intelNow           = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	intelTCBDate       = time.Date(2024, 3, 13, 0, 0, 0, 0, time.UTC)
)

// Intel's CRL distribution points. They are never fetched by unit tests;
// they are there so that certificates have Intel's shape (a collateral
// client picks the PCK CRL by the "ca" parameter).
const (
	intelRootCRLURL      = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
	intelPlatformCRLURL  = "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der"
	intelProcessorCRLURL = "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=processor&encoding=der"
)

// Quote layout constants, from Intel "Intel TDX DCAP Quoting Library API"
// (Appendix A.3, quote v4 and v5) and "Intel SGX ECDSA Quote Library API"
// (Appendix A.4, quote v3). All integers are little-endian.
const (
	quoteHeaderSize  = 48
	sgxBodySize      = 384 // sgx_report_body_t
	td10BodySize     = 584 // TD report body, TDX 1.0
	td15BodySize     = 648 // TD report body, TDX 1.5
	teeTypeSGX       = 0x00000000
	teeTypeTDX       = 0x00000081
	attKeyECDSAP256  = 2
	certDataPCKChain = 5 // PEM PCK leaf, PCK CA, root
	certDataQEReport = 6 // QE report certification data (v4, v5)
	bodyTypeSGX      = 1 // v5 body descriptor types
	bodyTypeTD10     = 2
	bodyTypeTD15     = 3
)

// intelQEVendorID is the QE_VENDOR_ID of Intel's quoting enclaves.
var intelQEVendorID = [16]byte{0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9, 0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07}

// MRSIGNERs of Intel's production quoting enclaves, as their PCS QE
// identities list them: the SGX QE ("QE") and the TD QE ("TD_QE").
var (
	intelQEMRSigner   = mustHex32("8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF")
	intelTDQEMRSigner = mustHex32("DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5")
)

func mustHex32(s string) [32]byte {
	var out [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(out) {
		panic("testutil: bad constant " + s)
	}
	copy(out[:], b)
	return out
}

// NewIntelPKI makes a root, both PCK CAs and a TCB signing certificate,
// each with a fresh P-256 key.
func NewIntelPKI(t testing.TB) *IntelPKI {
	t.Helper()
	p := &IntelPKI{
		rootKey:      newP256(t),
		platformKey:  newP256(t),
		processorKey: newP256(t),
		tcbKey:       newP256(t),
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          intelSerial(t),
		RawSubject:            intelName(t, "Intel SGX Root CA"),
		NotBefore:             intelRootNotBefore,
		NotAfter:              intelRootNotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
		SubjectKeyId:          keyID(&p.rootKey.PublicKey),
		AuthorityKeyId:        keyID(&p.rootKey.PublicKey),
		CRLDistributionPoints: []string{intelRootCRLURL},
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
	}
	p.Root = mustCert(t, rootTmpl, rootTmpl, &p.rootKey.PublicKey, p.rootKey)
	p.PlatformCA = p.issueCA(t, "Intel SGX PCK Platform CA", p.platformKey)
	p.ProcessorCA = p.issueCA(t, "Intel SGX PCK Processor CA", p.processorKey)
	p.TCBSigning = p.TCBSigningCert(t, intelCANotBefore, intelCANotAfter)
	return p
}

func (p *IntelPKI) issueCA(t testing.TB, cn string, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          intelSerial(t),
		RawSubject:            intelName(t, cn),
		NotBefore:             intelCANotBefore,
		NotAfter:              intelCANotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(&key.PublicKey),
		CRLDistributionPoints: []string{intelRootCRLURL},
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
	}
	return mustCert(t, tmpl, p.Root, &key.PublicKey, p.rootKey)
}

// TCBSigningCert issues another "Intel SGX TCB Signing" certificate for the
// same key, valid from notBefore to notAfter, as Intel re-issued theirs in
// 2025. Collateral signed by the PKI verifies with either certificate; use
// it to test an expired or not yet valid signer.
func (p *IntelPKI) TCBSigningCert(t testing.TB, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          intelSerial(t),
		RawSubject:            intelName(t, "Intel SGX TCB Signing"),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
		SubjectKeyId:          keyID(&p.tcbKey.PublicKey),
		CRLDistributionPoints: []string{intelRootCRLURL},
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
	}
	return mustCert(t, tmpl, p.Root, &p.tcbKey.PublicKey, p.rootKey)
}

// Now is a time at which every default certificate, CRL and collateral
// document of the PKI is valid: 2025-06-15T12:00:00Z.
func (*IntelPKI) Now() time.Time { return intelNow }

// PCK is a test PCK certificate, its key, and the PCK CA that issued it.
type PCK struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	CA   *x509.Certificate
}

// PCKOptions shape a PCK certificate's SGX extensions (Intel "SGX PCK
// Certificate and CRL Profile Specification", section 1.3.5).
type PCKOptions struct {
	FMSPC         [6]byte
	PCEID         [2]byte
	SGXComponents [16]uint8 // SGX TCB Comp01-16 SVN
	PCESVN        uint16
	// CPUSVN: zero means the SGX components as bytes, as on Intel's
	// platforms.
	CPUSVN [16]byte
	// PPID: zero means 16 random bytes.
	PPID [16]byte
	// SGXType: 0 Standard, 1 Scalable (then the PCK also carries a
	// platform instance ID and configuration, as Intel's do).
	SGXType int
	// Processor: issued by the PCK Processor CA; otherwise by the
	// Platform CA.
	Processor bool
	NotBefore time.Time // zero: 2024-01-01
	NotAfter  time.Time // zero: 2031-01-01
	// Serial: nil means 20 random bytes, as Intel's serials are.
	Serial *big.Int
}

// SGX extension OIDs, under 1.2.840.113741.1.13.1 (PCK profile, 1.3.5).
var oidIntelSGX = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}

func sgxOID(arcs ...int) asn1.ObjectIdentifier {
	return append(append(asn1.ObjectIdentifier{}, oidIntelSGX...), arcs...)
}

// IssuePCK issues a PCK certificate with the SGX extensions.
func (p *IntelPKI) IssuePCK(t testing.TB, o PCKOptions) PCK {
	t.Helper()
	key := newP256(t)
	ppid := o.PPID
	if ppid == ([16]byte{}) {
		if _, err := rand.Read(ppid[:]); err != nil {
			t.Fatal(err)
		}
	}
	cpusvn := o.CPUSVN
	if cpusvn == ([16]byte{}) {
		copy(cpusvn[:], o.SGXComponents[:])
	}
	der := func(v any, params string) asn1.RawValue {
		b, err := asn1.MarshalWithParams(v, params)
		if err != nil {
			t.Fatal(err)
		}
		return asn1.RawValue{FullBytes: b}
	}
	type item struct {
		ID    asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	var tcb []item
	for i, svn := range o.SGXComponents {
		tcb = append(tcb, item{sgxOID(2, i+1), der(int(svn), "")})
	}
	tcb = append(tcb,
		item{sgxOID(2, 17), der(int(o.PCESVN), "")},
		item{sgxOID(2, 18), der(cpusvn[:], "")},
	)
	items := []item{
		{sgxOID(1), der(ppid[:], "")},
		{sgxOID(2), der(tcb, "")},
		{sgxOID(3), der(o.PCEID[:], "")},
		{sgxOID(4), der(o.FMSPC[:], "")},
		{sgxOID(5), der(asn1.Enumerated(o.SGXType), "")},
	}
	if o.SGXType != 0 {
		// Scalable platforms: PlatformInstanceID (.6) and Configuration
		// (.7: dynamicPlatform, cachedKeys, SMTEnabled).
		var instance [16]byte
		if _, err := rand.Read(instance[:]); err != nil {
			t.Fatal(err)
		}
		items = append(items,
			item{sgxOID(6), der(instance[:], "")},
			item{sgxOID(7), der([]item{
				{sgxOID(7, 1), der(false, "")},
				{sgxOID(7, 2), der(true, "")},
				{sgxOID(7, 3), der(true, "")},
			}, "")},
		)
	}
	ext, err := asn1.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	ca, caKey, crlURL := p.PlatformCA, p.platformKey, intelPlatformCRLURL
	if o.Processor {
		ca, caKey, crlURL = p.ProcessorCA, p.processorKey, intelProcessorCRLURL
	}
	serial := o.Serial
	if serial == nil {
		serial = intelSerial(t)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		RawSubject:            intelName(t, "Intel SGX PCK Certificate"),
		NotBefore:             orTime(o.NotBefore, intelPCKNotBefore),
		NotAfter:              orTime(o.NotAfter, intelPCKNotAfter),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
		SubjectKeyId:          keyID(&key.PublicKey),
		CRLDistributionPoints: []string{crlURL},
		ExtraExtensions:       []pkix.Extension{{Id: oidIntelSGX, Value: ext}},
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
	}
	return PCK{Cert: mustCert(t, tmpl, ca, &key.PublicKey, caKey), Key: key, CA: ca}
}

// CRLOptions shape a CRL.
type CRLOptions struct {
	ThisUpdate time.Time // zero: 2025-06-01
	// NextUpdate: zero means 2026-06-01 for the root CA CRL (Intel's is
	// yearly) and 2025-07-01 for a PCK CRL (monthly).
	NextUpdate time.Time
	// Processor: PCKCRL is the PCK Processor CA's; otherwise the Platform
	// CA's.
	Processor bool
}

// RootCRL issues the root CA CRL revoking the given serials (a PCK CA or
// the TCB signing certificate).
func (p *IntelPKI) RootCRL(t testing.TB, o CRLOptions, revoked ...*big.Int) *x509.RevocationList {
	t.Helper()
	return intelCRL(t, p.Root, p.rootKey, orTime(o.ThisUpdate, intelIssueDate), orTime(o.NextUpdate, intelRootCRLNext), revoked)
}

// PCKCRL issues a PCK CA's CRL revoking the given PCK serials.
func (p *IntelPKI) PCKCRL(t testing.TB, o CRLOptions, revoked ...*big.Int) *x509.RevocationList {
	t.Helper()
	ca, key := p.PlatformCA, p.platformKey
	if o.Processor {
		ca, key = p.ProcessorCA, p.processorKey
	}
	return intelCRL(t, ca, key, orTime(o.ThisUpdate, intelIssueDate), orTime(o.NextUpdate, intelNextUpdate), revoked)
}

func intelCRL(t testing.TB, issuer *x509.Certificate, key *ecdsa.PrivateKey, thisUpdate, nextUpdate time.Time, revoked []*big.Int) *x509.RevocationList {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range revoked {
		// Intel's entries carry reason code keyCompromise (1).
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: thisUpdate, ReasonCode: 1})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(1),
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: entries,
		SignatureAlgorithm:        x509.ECDSAWithSHA256,
	}, issuer, key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// SGXBody is sgx_report_body_t (Intel SGX SDK sgx_report.h; "SGX ECDSA
// Quote Library API" A.4, Enclave Report Body): the body of an SGX quote
// and the QE report of every quote. Reserved bytes are zero.
type SGXBody struct {
	CPUSVN       [16]byte // CPUSVN
	MiscSelect   uint32   // MISCSELECT
	ISVExtProdID [16]byte // ISVEXTPRODID
	Attributes   [16]byte // ATTRIBUTES (flags u64, XFRM u64)
	MREnclave    [32]byte // MRENCLAVE
	MRSigner     [32]byte // MRSIGNER
	ConfigID     [64]byte // CONFIGID
	ISVProdID    uint16   // ISVPRODID
	ISVSVN       uint16   // ISVSVN
	ConfigSVN    uint16   // CONFIGSVN
	ISVFamilyID  [16]byte // ISVFAMILYID
	ReportData   [64]byte // REPORTDATA
}

// Marshal returns the 384 bytes of the report body.
func (r SGXBody) Marshal() []byte {
	b := make([]byte, sgxBodySize)
	le := binary.LittleEndian
	copy(b[0:16], r.CPUSVN[:])
	le.PutUint32(b[16:], r.MiscSelect)
	// 20:32 reserved
	copy(b[32:48], r.ISVExtProdID[:])
	copy(b[48:64], r.Attributes[:])
	copy(b[64:96], r.MREnclave[:])
	// 96:128 reserved
	copy(b[128:160], r.MRSigner[:])
	// 160:192 reserved
	copy(b[192:256], r.ConfigID[:])
	le.PutUint16(b[256:], r.ISVProdID)
	le.PutUint16(b[258:], r.ISVSVN)
	le.PutUint16(b[260:], r.ConfigSVN)
	// 262:304 reserved
	copy(b[304:320], r.ISVFamilyID[:])
	copy(b[320:384], r.ReportData[:])
	return b
}

// TDBody is the TD quote body ("Intel TDX DCAP Quoting Library API" A.3.2,
// TD Quote Body; A.3.3 for the TDX 1.5 fields).
type TDBody struct {
	TEETCBSVN      [16]byte    // TEE_TCB_SVN: [0] module SVN, [1] module major version (0: TDX 1.0)
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
	// TDX 1.5 (quote v5 body type 3) only.
	TEETCBSVN2  [16]byte // TEE_TCB_SVN_2
	MRServiceTD [48]byte // MRSERVICETD
}

// Marshal returns the 584 bytes of a TDX 1.0 body, or the 648 of a TDX
// 1.5 body when td15.
func (r TDBody) Marshal(td15 bool) []byte {
	n := td10BodySize
	if td15 {
		n = td15BodySize
	}
	b := make([]byte, n)
	copy(b[0:16], r.TEETCBSVN[:])
	copy(b[16:64], r.MRSeam[:])
	copy(b[64:112], r.MRSignerSeam[:])
	copy(b[112:120], r.SeamAttributes[:])
	copy(b[120:128], r.TDAttributes[:])
	copy(b[128:136], r.XFAM[:])
	copy(b[136:184], r.MRTD[:])
	copy(b[184:232], r.MRConfigID[:])
	copy(b[232:280], r.MROwner[:])
	copy(b[280:328], r.MROwnerConfig[:])
	for i := range r.RTMR {
		copy(b[328+48*i:376+48*i], r.RTMR[i][:])
	}
	copy(b[520:584], r.ReportData[:])
	if td15 {
		copy(b[584:600], r.TEETCBSVN2[:])
		copy(b[600:648], r.MRServiceTD[:])
	}
	return b
}

// DefaultQEReport is the report of an Intel quoting enclave as real quotes
// carry it: the SGX QE (ISVPRODID 1, ISVSVN 8) or, for tdx, the TD QE
// (ISVPRODID 2, ISVSVN 4), with Intel's MRSIGNER and the ATTRIBUTES of a
// production QE (INIT, MODE64BIT, PROVISIONKEY; XFRM 0xE7). CPUSVN and
// REPORTDATA are left zero: Quote fills them. The default QE identity
// (IntelPKI.QEIdentity) grades it UpToDate.
func DefaultQEReport(tdx bool) SGXBody {
	r := SGXBody{MRSigner: intelQEMRSigner, ISVProdID: 1, ISVSVN: 8}
	if tdx {
		r.MRSigner, r.ISVProdID, r.ISVSVN = intelTDQEMRSigner, 2, 4
	}
	r.Attributes[0] = 0x15
	r.Attributes[8] = 0xE7
	// MRENCLAVE changes with every QE release and is not in the identity;
	// any value will do.
	r.MREnclave = sha256.Sum256([]byte("assay test quoting enclave"))
	return r
}

// QuoteOptions shape a quote.
type QuoteOptions struct {
	// Version: 3, 4 or 5. Zero means 3 for SGX, 4 for TDX and 5 for TD15.
	Version int
	// TDX makes a TD quote (TEE_TYPE 0x81; version 4 or 5).
	TDX bool
	// TD15 makes the body a TDX 1.5 body (v5 body type 3); it needs TDX
	// and version 5.
	TD15 bool
	// PCK signs the QE report; its chain (PCK, its CA, the root) is the
	// certification data. Required.
	PCK PCK
	// AttestationKey signs the quote; nil means a fresh P-256 key.
	AttestationKey *ecdsa.PrivateKey

	// QEVendorID: zero means Intel's.
	QEVendorID [16]byte
	UserData   [20]byte // USER_DATA, as given

	SGX SGXBody // the body of an SGX quote, as given
	TD  TDBody  // the body of a TD quote, as given

	// EditQE edits DefaultQEReport(TDX), whose CPUSVN is first set to the
	// PCK's (a real QE report carries the raw CPUSVN, of which the PCK
	// certifies the decoded TCB components; nothing verifies it); nil
	// leaves it. REPORTDATA is always set afterwards to the binding
	// SHA-256(attestation key || QE auth data) || 32 zero bytes.
	EditQE func(*SGXBody)
	// QEAuthData: nil means 32 bytes 00 01 ... 1F, as Intel's QE writes.
	QEAuthData []byte
	// CorruptQEBinding flips a bit of the binding in REPORTDATA before the
	// PCK signs the QE report: the QE report signature verifies, the
	// binding of the attestation key does not.
	CorruptQEBinding bool

	// CertDataType: zero means 5 (PCK chain as PEM).
	CertDataType uint16
	// CertData: nil means the PEM of the PCK, its CA and the root,
	// followed by a NUL byte, as Intel's QE writes them.
	CertData []byte
}

// Quote builds a signed quote: header and body signed by the attestation
// key, the QE report signed by the PCK key and binding the attestation
// key, and the PCK chain as certification data. It fails the test on
// options no quote version allows.
func (p *IntelPKI) Quote(t testing.TB, o QuoteOptions) []byte {
	t.Helper()
	if o.PCK.Cert == nil || o.PCK.Key == nil {
		t.Fatal("testutil: QuoteOptions.PCK is required")
	}
	v := o.Version
	if v == 0 {
		switch {
		case o.TD15:
			v = 5
		case o.TDX:
			v = 4
		default:
			v = 3
		}
	}
	switch {
	case v < 3 || v > 5:
		t.Fatalf("testutil: quote version %d, want 3, 4 or 5", v)
	case o.TDX && v == 3:
		t.Fatal("testutil: TD quotes are version 4 or 5")
	case o.TD15 && (!o.TDX || v != 5):
		t.Fatal("testutil: a TDX 1.5 body needs TDX and version 5")
	}
	ak := o.AttestationKey
	if ak == nil {
		ak = newP256(t)
	}
	var akRaw [64]byte
	pt, err := ak.PublicKey.Bytes() // 0x04 || x || y
	if err != nil || len(pt) != 65 {
		t.Fatalf("testutil: attestation key is not a P-256 key: %v", err)
	}
	copy(akRaw[:], pt[1:])

	// QE report, binding the attestation key (Quote Library API, "QE
	// Report": REPORTDATA = SHA-256(attestation key || QE auth data) ||
	// 32 zero bytes).
	auth := o.QEAuthData
	if auth == nil {
		auth = make([]byte, 32)
		for i := range auth {
			auth[i] = byte(i)
		}
	}
	if len(auth) > 0xFFFF {
		t.Fatalf("testutil: QE auth data is %d bytes, at most 65535 fit", len(auth))
	}
	qe := DefaultQEReport(o.TDX)
	ext := pckSGXExtension(t, o.PCK.Cert)
	qe.CPUSVN = ext.cpusvn
	if o.EditQE != nil {
		o.EditQE(&qe)
	}
	binding := sha256.Sum256(append(akRaw[:], auth...))
	qe.ReportData = [64]byte{}
	copy(qe.ReportData[:], binding[:])
	if o.CorruptQEBinding {
		qe.ReportData[0] ^= 0x01
	}
	qeRaw := qe.Marshal()
	qeSig := signP256(t, o.PCK.Key, qeRaw)

	// Header.
	var h bytes.Buffer
	tee := uint32(teeTypeSGX)
	if o.TDX {
		tee = teeTypeTDX
	}
	le := binary.LittleEndian
	h.Write(le.AppendUint16(nil, uint16(v)))
	h.Write(le.AppendUint16(nil, attKeyECDSAP256))
	h.Write(le.AppendUint32(nil, tee))
	// QE_SVN and PCE_SVN: v3 carries them; in v4 and v5 the TDX spec
	// makes them reserved, and Intel's TD quotes have zero there.
	var qesvn, pcesvn uint16
	if v == 3 {
		qesvn, pcesvn = qe.ISVSVN, ext.pcesvn
	}
	h.Write(le.AppendUint16(nil, qesvn))
	h.Write(le.AppendUint16(nil, pcesvn))
	vendor := o.QEVendorID
	if vendor == ([16]byte{}) {
		vendor = intelQEVendorID
	}
	h.Write(vendor[:])
	h.Write(o.UserData[:])

	// Body, after the v5 body descriptor.
	var body []byte
	bodyType := uint16(bodyTypeSGX)
	switch {
	case o.TD15:
		body, bodyType = o.TD.Marshal(true), bodyTypeTD15
	case o.TDX:
		body, bodyType = o.TD.Marshal(false), bodyTypeTD10
	default:
		body = o.SGX.Marshal()
	}
	if v == 5 {
		h.Write(le.AppendUint16(nil, bodyType))
		h.Write(le.AppendUint32(nil, uint32(len(body))))
	}
	h.Write(body)
	signed := h.Bytes()
	sig := signP256(t, ak, signed)

	// Certification data: the QE report, its signature, the QE auth data
	// and the PCK chain.
	certType := o.CertDataType
	if certType == 0 {
		certType = certDataPCKChain
	}
	certData := o.CertData
	if certData == nil {
		certData = append(PEM(o.PCK.Cert, o.PCK.CA, p.Root), 0)
	}
	var qeCert bytes.Buffer
	qeCert.Write(qeRaw)
	qeCert.Write(qeSig[:])
	qeCert.Write(le.AppendUint16(nil, uint16(len(auth))))
	qeCert.Write(auth)
	qeCert.Write(le.AppendUint16(nil, certType))
	qeCert.Write(le.AppendUint32(nil, uint32(len(certData))))
	qeCert.Write(certData)

	// Signature data: v3 puts the QE certification data right after the
	// attestation key; v4 and v5 wrap it as certification data type 6.
	var sd bytes.Buffer
	sd.Write(sig[:])
	sd.Write(akRaw[:])
	if v == 3 {
		sd.Write(qeCert.Bytes())
	} else {
		sd.Write(le.AppendUint16(nil, certDataQEReport))
		sd.Write(le.AppendUint32(nil, uint32(qeCert.Len())))
		sd.Write(qeCert.Bytes())
	}
	out := append([]byte{}, signed...)
	out = le.AppendUint32(out, uint32(sd.Len()))
	return append(out, sd.Bytes()...)
}

// PEM encodes certificates as concatenated PEM blocks: the form of the PCK
// chain in a quote and of the issuer chains PCS sends
// (TCB-Info-Issuer-Chain: PEM(p.TCBSigning, p.Root)).
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// pckFields are what Quote reads back from a PCK certificate.
type pckFields struct {
	cpusvn [16]byte
	pcesvn uint16
}

func pckSGXExtension(t testing.TB, c *x509.Certificate) pckFields {
	t.Helper()
	type item struct {
		ID    asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	var out pckFields
	for _, e := range c.Extensions {
		if !e.Id.Equal(oidIntelSGX) {
			continue
		}
		var items []item
		if _, err := asn1.Unmarshal(e.Value, &items); err != nil {
			t.Fatalf("testutil: PCK SGX extension: %v", err)
		}
		for _, it := range items {
			if !it.ID.Equal(sgxOID(2)) {
				continue
			}
			var tcb []item
			if _, err := asn1.Unmarshal(it.Value.FullBytes, &tcb); err != nil {
				t.Fatalf("testutil: PCK TCB extension: %v", err)
			}
			for _, c := range tcb {
				switch {
				case c.ID.Equal(sgxOID(2, 17)):
					var n int
					if _, err := asn1.Unmarshal(c.Value.FullBytes, &n); err != nil {
						t.Fatalf("testutil: PCK PCESVN: %v", err)
					}
					out.pcesvn = uint16(n)
				case c.ID.Equal(sgxOID(2, 18)):
					var b []byte
					if _, err := asn1.Unmarshal(c.Value.FullBytes, &b); err != nil {
						t.Fatalf("testutil: PCK CPUSVN: %v", err)
					}
					copy(out.cpusvn[:], b)
				}
			}
		}
		return out
	}
	t.Fatalf("testutil: %q has no SGX extension", c.Subject.CommonName)
	return out
}

// TCBLevel is one entry of a TCB info's tcbLevels.
type TCBLevel struct {
	SGXComponents [16]uint8 // sgxtcbcomponents[].svn
	PCESVN        uint16    // pcesvn
	TDXComponents [16]uint8 // tdxtcbcomponents[].svn, TDX TCB info only
	Date          time.Time // tcbDate; zero: 2024-03-13
	Status        string    // tcbStatus; empty: "UpToDate"
	Advisories    []string  // advisoryIDs; omitted when empty, as Intel does
}

// IdentityLevel is one entry of the tcbLevels of a QE identity or of a TDX
// module identity.
type IdentityLevel struct {
	ISVSVN     uint16    // tcb.isvsvn
	Date       time.Time // tcbDate; zero: 2024-03-13
	Status     string    // tcbStatus; empty: "UpToDate"
	Advisories []string  // advisoryIDs; omitted when empty
}

// TDXModule is a TCB info's tdxModule: what MRSIGNERSEAM and
// SEAMATTRIBUTES must show.
type TDXModule struct {
	MRSigner   [48]byte // mrsigner
	Attributes [8]byte  // attributes
	// AttributesMask: zero means FFFFFFFFFFFFFFFF, the only mask Intel
	// publishes.
	AttributesMask [8]byte
}

// ModuleIdentity is an entry of tdxModuleIdentities: a TDX 1.5+ module
// major version and its levels, graded by TEE_TCB_SVN[0].
type ModuleIdentity struct {
	ID string // "TDX_01", "TDX_03": TEE_TCB_SVN[1] as %02X
	TDXModule
	Levels []IdentityLevel
}

// TCBInfoOptions shape a TCB info document.
type TCBInfoOptions struct {
	TDX bool // id "TDX"; otherwise "SGX"
	// Version: zero means 3. Version 2 (SGX only) writes the v2 shape: no
	// id, sgxtcbcomp01svn..16 members.
	Version    int
	FMSPC      [6]byte
	PCEID      [2]byte
	IssueDate  time.Time // zero: 2025-06-01
	NextUpdate time.Time // zero: 2025-07-01
	// TCBEvaluationDataNumber: zero means 17.
	TCBEvaluationDataNumber int
	// Levels in document order (Intel's: highest first); nil means one
	// UpToDate level with all SVNs zero, which every platform matches.
	Levels []TCBLevel
	// TDXModule (TDX only): nil means MRSIGNER zero, attributes zero,
	// mask all ones, as Intel publishes.
	TDXModule *TDXModule
	// ModuleIdentities (TDX only): nil omits tdxModuleIdentities.
	ModuleIdentities []ModuleIdentity
	// EditInner, when set, rewrites the inner tcbInfo object before it is
	// signed: malformed documents with valid signatures.
	EditInner func([]byte) []byte
	// SigningKey: nil means the TCB signing key.
	SigningKey *ecdsa.PrivateKey
}

// JSON shapes of Intel PCS v4 documents; member order is Intel's.
type (
	tcbInfoDoc struct {
		ID                      string              `json:"id,omitempty"`
		Version                 int                 `json:"version"`
		IssueDate               string              `json:"issueDate"`
		NextUpdate              string              `json:"nextUpdate"`
		FMSPC                   string              `json:"fmspc"`
		PCEID                   string              `json:"pceId"`
		TCBType                 int                 `json:"tcbType"`
		TCBEvaluationDataNumber int                 `json:"tcbEvaluationDataNumber"`
		TDXModule               *tdxModuleDoc       `json:"tdxModule,omitempty"`
		TDXModuleIdentities     []moduleIdentityDoc `json:"tdxModuleIdentities,omitempty"`
		TCBLevels               []tcbLevelDoc       `json:"tcbLevels"`
	}
	tdxModuleDoc struct {
		MRSigner       string `json:"mrsigner"`
		Attributes     string `json:"attributes"`
		AttributesMask string `json:"attributesMask"`
	}
	moduleIdentityDoc struct {
		ID             string             `json:"id"`
		MRSigner       string             `json:"mrsigner"`
		Attributes     string             `json:"attributes"`
		AttributesMask string             `json:"attributesMask"`
		TCBLevels      []identityLevelDoc `json:"tcbLevels"`
	}
	tcbLevelDoc struct {
		TCB         json.RawMessage `json:"tcb"`
		TCBDate     string          `json:"tcbDate"`
		TCBStatus   string          `json:"tcbStatus"`
		AdvisoryIDs []string        `json:"advisoryIDs,omitempty"`
	}
	tcbV3Doc struct {
		SGX    []svnDoc `json:"sgxtcbcomponents"`
		PCESVN int      `json:"pcesvn"`
		TDX    []svnDoc `json:"tdxtcbcomponents,omitempty"`
	}
	svnDoc struct {
		SVN int `json:"svn"`
	}
	identityLevelDoc struct {
		TCB struct {
			ISVSVN int `json:"isvsvn"`
		} `json:"tcb"`
		TCBDate     string   `json:"tcbDate"`
		TCBStatus   string   `json:"tcbStatus"`
		AdvisoryIDs []string `json:"advisoryIDs,omitempty"`
	}
	qeIdentityDoc struct {
		ID                      string             `json:"id"`
		Version                 int                `json:"version"`
		IssueDate               string             `json:"issueDate"`
		NextUpdate              string             `json:"nextUpdate"`
		TCBEvaluationDataNumber int                `json:"tcbEvaluationDataNumber"`
		MiscSelect              string             `json:"miscselect"`
		MiscSelectMask          string             `json:"miscselectMask"`
		Attributes              string             `json:"attributes"`
		AttributesMask          string             `json:"attributesMask"`
		MRSigner                string             `json:"mrsigner"`
		ISVProdID               int                `json:"isvprodid"`
		TCBLevels               []identityLevelDoc `json:"tcbLevels"`
	}
)

// TCBInfo returns a signed TCB info document as Intel PCS v4 serves it:
// {"tcbInfo":{...},"signature":"<hex r||s>"}, the signature ECDSA P-256
// SHA-256 by the TCB signing key over the exact bytes of the tcbInfo
// value. Hex is upper case, the signature lower case, as Intel's.
func (p *IntelPKI) TCBInfo(t testing.TB, o TCBInfoOptions) []byte {
	t.Helper()
	v := o.Version
	if v == 0 {
		v = 3
	}
	if v == 2 && o.TDX {
		t.Fatal("testutil: TCB info version 2 is SGX only")
	}
	doc := tcbInfoDoc{
		Version:                 v,
		IssueDate:               intelTime(orTime(o.IssueDate, intelIssueDate)),
		NextUpdate:              intelTime(orTime(o.NextUpdate, intelNextUpdate)),
		FMSPC:                   upperHex(o.FMSPC[:]),
		PCEID:                   upperHex(o.PCEID[:]),
		TCBEvaluationDataNumber: orInt(o.TCBEvaluationDataNumber, 17),
	}
	if v == 3 {
		doc.ID = "SGX"
		if o.TDX {
			doc.ID = "TDX"
		}
	}
	if o.TDX {
		m := TDXModule{}
		if o.TDXModule != nil {
			m = *o.TDXModule
		}
		d := moduleDoc(m)
		doc.TDXModule = &d
		for _, mi := range o.ModuleIdentities {
			d := moduleDoc(mi.TDXModule)
			doc.TDXModuleIdentities = append(doc.TDXModuleIdentities, moduleIdentityDoc{
				ID: mi.ID, MRSigner: d.MRSigner, Attributes: d.Attributes, AttributesMask: d.AttributesMask,
				TCBLevels: identityLevels(mi.Levels),
			})
		}
	}
	levels := o.Levels
	if levels == nil {
		levels = []TCBLevel{{}}
	}
	for _, l := range levels {
		var tcb []byte
		if v == 2 {
			var b strings.Builder
			b.WriteByte('{')
			for i, svn := range l.SGXComponents {
				fmt.Fprintf(&b, `"sgxtcbcomp%02dsvn":%d,`, i+1, svn)
			}
			fmt.Fprintf(&b, `"pcesvn":%d}`, l.PCESVN)
			tcb = []byte(b.String())
		} else {
			d := tcbV3Doc{SGX: svnDocs(l.SGXComponents), PCESVN: int(l.PCESVN)}
			if o.TDX {
				d.TDX = svnDocs(l.TDXComponents)
			}
			tcb = marshalJSON(t, d)
		}
		doc.TCBLevels = append(doc.TCBLevels, tcbLevelDoc{
			TCB:         tcb,
			TCBDate:     intelTime(orTime(l.Date, intelTCBDate)),
			TCBStatus:   orString(l.Status, "UpToDate"),
			AdvisoryIDs: l.Advisories,
		})
	}
	return p.signDocument(t, "tcbInfo", marshalJSON(t, doc), o.EditInner, o.SigningKey)
}

// QEIdentityOptions shape an enclave identity document.
type QEIdentityOptions struct {
	// TDX: id "TD_QE" with the TD QE's MRSIGNER and ISVPRODID; otherwise
	// "QE" and the SGX QE's.
	TDX bool
	// ID overrides the id ("QVE", or a wrong one).
	ID         string
	IssueDate  time.Time // zero: 2025-06-01
	NextUpdate time.Time // zero: 2025-07-01
	// TCBEvaluationDataNumber: zero means 17.
	TCBEvaluationDataNumber int
	// MiscSelect as the report's little-endian MISCSELECT; MiscSelectMask
	// zero means FFFFFFFF.
	MiscSelect     uint32
	MiscSelectMask uint32
	// Attributes and AttributesMask: zero means Intel's,
	// 11000000000000000000000000000000 under
	// FBFFFFFFFFFFFFFF0000000000000000.
	Attributes     [16]byte
	AttributesMask [16]byte
	// MRSigner: zero means Intel's QE MRSIGNER for the TEE (that of
	// DefaultQEReport).
	MRSigner [32]byte
	// ISVProdID: zero means 1 (QE) or 2 (TD_QE).
	ISVProdID uint16
	// Levels in document order (highest first); nil means one UpToDate
	// level at the ISVSVN of DefaultQEReport.
	Levels []IdentityLevel
	// EditInner and SigningKey: as for TCBInfoOptions.
	EditInner  func([]byte) []byte
	SigningKey *ecdsa.PrivateKey
}

// QEIdentity returns a signed enclave identity document as Intel PCS v4
// serves it: {"enclaveIdentity":{...},"signature":"<hex r||s>"}.
func (p *IntelPKI) QEIdentity(t testing.TB, o QEIdentityOptions) []byte {
	t.Helper()
	qe := DefaultQEReport(o.TDX)
	id := "QE"
	if o.TDX {
		id = "TD_QE"
	}
	attrs, mask := o.Attributes, o.AttributesMask
	if attrs == ([16]byte{}) {
		attrs[0] = 0x11
	}
	if mask == ([16]byte{}) {
		mask = [16]byte{0xFB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	}
	mrsigner := o.MRSigner
	if mrsigner == ([32]byte{}) {
		mrsigner = qe.MRSigner
	}
	miscMask := o.MiscSelectMask
	if miscMask == 0 {
		miscMask = 0xFFFFFFFF
	}
	levels := o.Levels
	if levels == nil {
		levels = []IdentityLevel{{ISVSVN: qe.ISVSVN}}
	}
	doc := qeIdentityDoc{
		ID:                      orString(o.ID, id),
		Version:                 2,
		IssueDate:               intelTime(orTime(o.IssueDate, intelIssueDate)),
		NextUpdate:              intelTime(orTime(o.NextUpdate, intelNextUpdate)),
		TCBEvaluationDataNumber: orInt(o.TCBEvaluationDataNumber, 17),
		// miscselect is the 4 bytes of MISCSELECT as they lie in the report.
		MiscSelect:     upperHex(binary.LittleEndian.AppendUint32(nil, o.MiscSelect)),
		MiscSelectMask: upperHex(binary.LittleEndian.AppendUint32(nil, miscMask)),
		Attributes:     upperHex(attrs[:]),
		AttributesMask: upperHex(mask[:]),
		MRSigner:       upperHex(mrsigner[:]),
		ISVProdID:      orInt(int(o.ISVProdID), int(qe.ISVProdID)),
		TCBLevels:      identityLevels(levels),
	}
	return p.signDocument(t, "enclaveIdentity", marshalJSON(t, doc), o.EditInner, o.SigningKey)
}

func (p *IntelPKI) signDocument(t testing.TB, key string, inner []byte, edit func([]byte) []byte, signer *ecdsa.PrivateKey) []byte {
	t.Helper()
	if edit != nil {
		inner = edit(inner)
	}
	if signer == nil {
		signer = p.tcbKey
	}
	sig := signP256(t, signer, inner)
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"%s":`, key)
	b.Write(inner)
	fmt.Fprintf(&b, `,"signature":"%s"}`, hex.EncodeToString(sig[:]))
	return b.Bytes()
}

func moduleDoc(m TDXModule) tdxModuleDoc {
	mask := m.AttributesMask
	if mask == ([8]byte{}) {
		mask = [8]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	}
	return tdxModuleDoc{MRSigner: upperHex(m.MRSigner[:]), Attributes: upperHex(m.Attributes[:]), AttributesMask: upperHex(mask[:])}
}

func identityLevels(ls []IdentityLevel) []identityLevelDoc {
	out := make([]identityLevelDoc, 0, len(ls))
	for _, l := range ls {
		var d identityLevelDoc
		d.TCB.ISVSVN = int(l.ISVSVN)
		d.TCBDate = intelTime(orTime(l.Date, intelTCBDate))
		d.TCBStatus = orString(l.Status, "UpToDate")
		d.AdvisoryIDs = l.Advisories
		out = append(out, d)
	}
	return out
}

func svnDocs(c [16]uint8) []svnDoc {
	out := make([]svnDoc, len(c))
	for i, v := range c {
		out[i].SVN = int(v)
	}
	return out
}

// marshalJSON writes compact JSON without HTML escaping, as Intel's.
func marshalJSON(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// intelTime formats as Intel's documents do: "2025-06-19T10:16:03Z".
func intelTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func upperHex(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

func orTime(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

func orInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// signP256 signs SHA-256(msg) and returns r || s, 32 bytes each, big-endian.
func signP256(t testing.TB, key *ecdsa.PrivateKey, msg []byte) [64]byte {
	t.Helper()
	d := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig
}

func newP256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// intelSerial is a positive 20-byte serial number, as Intel's are.
func intelSerial(t testing.TB) *big.Int {
	t.Helper()
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	b[0] = b[0]&0x7F | 0x40
	return new(big.Int).SetBytes(b)
}

// keyID is the RFC 5280 (4.2.1.2, method 1) key identifier: SHA-1 of the
// subject public key bits, as Intel's certificates carry.
func keyID(pub *ecdsa.PublicKey) []byte {
	pt, err := pub.Bytes()
	if err != nil {
		panic("testutil: " + err.Error())
	}
	s := sha1.Sum(pt)
	return s[:]
}

// intelName encodes Intel's distinguished names: CN, O, L, ST as
// UTF8String, then C as PrintableString, in that order.
func intelName(t testing.TB, cn string) []byte {
	t.Helper()
	utf8 := func(s string) asn1.RawValue {
		return asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(s)}
	}
	atv := func(oid asn1.ObjectIdentifier, v asn1.RawValue) pkix.RelativeDistinguishedNameSET {
		return pkix.RelativeDistinguishedNameSET{{Type: oid, Value: v}}
	}
	name := pkix.RDNSequence{
		atv(asn1.ObjectIdentifier{2, 5, 4, 3}, utf8(cn)),
		atv(asn1.ObjectIdentifier{2, 5, 4, 10}, utf8("Intel Corporation")),
		atv(asn1.ObjectIdentifier{2, 5, 4, 7}, utf8("Santa Clara")),
		atv(asn1.ObjectIdentifier{2, 5, 4, 8}, utf8("CA")),
		atv(asn1.ObjectIdentifier{2, 5, 4, 6}, asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte("US")}),
	}
	b, err := asn1.Marshal(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
