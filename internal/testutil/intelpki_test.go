package testutil_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/internal/dcap"
	"github.com/assay-dev/assay/internal/testutil"
)

// The PKI is checked against internal/dcap's parsers and against plain
// crypto/ecdsa and crypto/x509: the PKI builds from Intel's specifications,
// dcap parses from them, and each reading checks the other.

// fill sets b to seed, seed+1, ...: every byte of a field distinct, so a
// field read from the wrong offset shows.
func fill(b []byte, seed byte) {
	for i := range b {
		b[i] = seed + byte(i)
	}
}

func sgxBody(seed byte) testutil.SGXBody {
	var r testutil.SGXBody
	fill(r.CPUSVN[:], seed)
	r.MiscSelect = 0x01020304 + uint32(seed)
	fill(r.ISVExtProdID[:], seed+0x10)
	fill(r.Attributes[:], seed+0x20)
	fill(r.MREnclave[:], seed+0x30)
	fill(r.MRSigner[:], seed+0x40)
	fill(r.ConfigID[:], seed+0x50)
	r.ISVProdID = 0x1111 + uint16(seed)
	r.ISVSVN = 0x2222 + uint16(seed)
	r.ConfigSVN = 0x3333 + uint16(seed)
	fill(r.ISVFamilyID[:], seed+0x60)
	fill(r.ReportData[:], seed+0x70)
	return r
}

func tdBody(seed byte) testutil.TDBody {
	var r testutil.TDBody
	fill(r.TEETCBSVN[:], seed)
	fill(r.MRSeam[:], seed+0x10)
	fill(r.MRSignerSeam[:], seed+0x20)
	fill(r.SeamAttributes[:], seed+0x30)
	fill(r.TDAttributes[:], seed+0x40)
	fill(r.XFAM[:], seed+0x50)
	fill(r.MRTD[:], seed+0x60)
	fill(r.MRConfigID[:], seed+0x70)
	fill(r.MROwner[:], seed+0x80)
	fill(r.MROwnerConfig[:], seed+0x90)
	for i := range r.RTMR {
		fill(r.RTMR[i][:], seed+0xA0+byte(i)*0x10)
	}
	fill(r.ReportData[:], seed+0xE0)
	fill(r.TEETCBSVN2[:], seed+0xF0)
	fill(r.MRServiceTD[:], seed+0xF8)
	return r
}

func fromSGX(r *dcap.SGXReport) testutil.SGXBody {
	return testutil.SGXBody{
		CPUSVN: r.CPUSVN, MiscSelect: r.MiscSelect, ISVExtProdID: r.ISVExtProdID, Attributes: r.Attributes,
		MREnclave: r.MREnclave, MRSigner: r.MRSigner, ConfigID: r.ConfigID, ISVProdID: r.ISVProdID,
		ISVSVN: r.ISVSVN, ConfigSVN: r.ConfigSVN, ISVFamilyID: r.ISVFamilyID, ReportData: r.ReportData,
	}
}

func fromTD(r *dcap.TDReport) testutil.TDBody {
	return testutil.TDBody{
		TEETCBSVN: r.TEETCBSVN, MRSeam: r.MRSeam, MRSignerSeam: r.MRSignerSeam, SeamAttributes: r.SeamAttributes,
		TDAttributes: r.TDAttributes, XFAM: r.XFAM, MRTD: r.MRTD, MRConfigID: r.MRConfigID, MROwner: r.MROwner,
		MROwnerConfig: r.MROwnerConfig, RTMR: r.RTMR, ReportData: r.ReportData,
		TEETCBSVN2: r.TEETCBSVN2, MRServiceTD: r.MRServiceTD,
	}
}

func verifyRS(pub *ecdsa.PublicKey, msg []byte, sig [64]byte) bool {
	d := sha256.Sum256(msg)
	return ecdsa.Verify(pub, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

func TestIntelQuotes(t *testing.T) {
	p := testutil.NewIntelPKI(t)
	pck := p.IssuePCK(t, testutil.PCKOptions{
		FMSPC:         [6]byte{0x90, 0xC0, 0x6F, 0, 0, 0},
		SGXComponents: [16]uint8{3, 3, 2, 2, 4, 1, 0, 5},
		PCESVN:        13,
	})
	ak, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		o          testutil.QuoteOptions
		version    uint16
		bodyType   uint16
		signedSize int
	}{
		{"v3-sgx", testutil.QuoteOptions{Version: 3}, 3, dcap.BodySGX, 48 + 384},
		{"v3-sgx-default-version", testutil.QuoteOptions{}, 3, dcap.BodySGX, 48 + 384},
		{"v4-sgx", testutil.QuoteOptions{Version: 4}, 4, dcap.BodySGX, 48 + 384},
		{"v5-sgx", testutil.QuoteOptions{Version: 5}, 5, dcap.BodySGX, 48 + 6 + 384},
		{"v4-tdx", testutil.QuoteOptions{TDX: true}, 4, dcap.BodyTD10, 48 + 584},
		{"v5-td10", testutil.QuoteOptions{Version: 5, TDX: true}, 5, dcap.BodyTD10, 48 + 6 + 584},
		{"v5-td15", testutil.QuoteOptions{TDX: true, TD15: true}, 5, dcap.BodyTD15, 48 + 6 + 648},
		{"v4-tdx-own-ak-no-auth", testutil.QuoteOptions{TDX: true, AttestationKey: ak, QEAuthData: []byte{}}, 4, dcap.BodyTD10, 48 + 584},
		{"v3-sgx-long-auth", testutil.QuoteOptions{QEAuthData: bytes.Repeat([]byte{0xA5}, 300)}, 3, dcap.BodySGX, 48 + 384},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.PCK = pck
			o.SGX = sgxBody(byte(i))
			o.TD = tdBody(byte(i))
			fill(o.UserData[:], 0xC0)
			raw := p.Quote(t, o)
			q, err := dcap.ParseQuote(raw)
			if err != nil {
				t.Fatal(err)
			}
			if len(q.Raw()) != len(raw) {
				t.Errorf("parsed %d of %d bytes", len(q.Raw()), len(raw))
			}
			tdx := o.TDX
			h := q.Header
			wantTEE := uint32(dcap.TEETypeSGX)
			if tdx {
				wantTEE = dcap.TEETypeTDX
			}
			if h.Version != tc.version || h.AttKeyType != dcap.AttKeyECDSAP256 || h.TEEType != wantTEE || q.BodyType != tc.bodyType {
				t.Errorf("header version %d, key type %d, TEE %#x, body type %d; want %d, 2, %#x, %d", h.Version, h.AttKeyType, h.TEEType, q.BodyType, tc.version, wantTEE, tc.bodyType)
			}
			if h.QEVendorID != dcap.IntelQEVendorID || h.UserData != o.UserData {
				t.Errorf("QE vendor %x, user data %x", h.QEVendorID, h.UserData)
			}
			wantQESVN, wantPCESVN := uint16(0), uint16(0)
			if tc.version == 3 {
				wantQESVN, wantPCESVN = 8, 13
			}
			if h.QESVN != wantQESVN || h.PCESVN != wantPCESVN {
				t.Errorf("header QE_SVN %d, PCE_SVN %d; want %d, %d", h.QESVN, h.PCESVN, wantQESVN, wantPCESVN)
			}
			if len(q.Signed()) != tc.signedSize || !bytes.Equal(q.Signed(), raw[:tc.signedSize]) {
				t.Errorf("signed region is %d bytes, want the first %d", len(q.Signed()), tc.signedSize)
			}

			// Body, field by field and byte for byte.
			if tdx {
				if q.TD == nil {
					t.Fatal("TD quote has no TD body")
				}
				want := o.TD
				if !o.TD15 {
					want.TEETCBSVN2, want.MRServiceTD = [16]byte{}, [48]byte{}
				}
				if got := fromTD(q.TD); got != want {
					t.Errorf("TD body\n got %+v\nwant %+v", got, want)
				}
				if q.TD.Has15 != o.TD15 {
					t.Errorf("Has15 = %v, want %v", q.TD.Has15, o.TD15)
				}
			} else {
				if q.SGX == nil {
					t.Fatal("SGX quote has no SGX body")
				}
				if got := fromSGX(q.SGX); got != o.SGX {
					t.Errorf("SGX body\n got %+v\nwant %+v", got, o.SGX)
				}
				if !bytes.Equal(q.SGX.Raw(), o.SGX.Marshal()) {
					t.Error("SGX body bytes differ from Marshal (reserved bytes?)")
				}
			}

			// QE report: Intel's QE, the PCK's CPUSVN, the binding.
			qe := testutil.DefaultQEReport(tdx)
			copy(qe.CPUSVN[:], []byte{3, 3, 2, 2, 4, 1, 0, 5})
			qe.ReportData = q.QEReport.ReportData
			if got := fromSGX(q.QEReport); got != qe {
				t.Errorf("QE report\n got %+v\nwant %+v", got, qe)
			}
			wantAuth := o.QEAuthData
			if wantAuth == nil {
				wantAuth = []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}
			}
			if !bytes.Equal(q.QEAuthData, wantAuth) {
				t.Errorf("QE auth data %x, want %x", q.QEAuthData, wantAuth)
			}

			// The chain: PCK, its CA, the root.
			chain, err := q.PCKChain()
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []*x509.Certificate{pck.Cert, pck.CA, p.Root} {
				if !chain[i].Equal(want) {
					t.Errorf("chain[%d] is %q, want %q", i, chain[i].Subject.CommonName, want.Subject.CommonName)
				}
			}

			// The three signatures, with plain crypto/ecdsa.
			if !verifyRS(pck.Cert.PublicKey.(*ecdsa.PublicKey), q.QEReport.Raw(), q.QEReportSignature) {
				t.Error("QE report signature does not verify with the PCK key")
			}
			bind := sha256.Sum256(append(q.AttestationKey[:], q.QEAuthData...))
			if !bytes.Equal(q.QEReport.ReportData[:32], bind[:]) || !bytes.Equal(q.QEReport.ReportData[32:], make([]byte, 32)) {
				t.Errorf("QE REPORTDATA %x does not bind the attestation key (want %x || zeros)", q.QEReport.ReportData, bind)
			}
			akPub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, q.AttestationKey[:]...))
			if err != nil {
				t.Fatal(err)
			}
			if !verifyRS(akPub, q.Signed(), q.Signature) {
				t.Error("quote signature does not verify with the attestation key")
			}
			if o.AttestationKey != nil && !akPub.Equal(&o.AttestationKey.PublicKey) {
				t.Error("the quote carries another attestation key than the one given")
			}
		})
	}
}

func TestIntelQuoteOptions(t *testing.T) {
	p := testutil.NewIntelPKI(t)
	pck := p.IssuePCK(t, testutil.PCKOptions{})

	t.Run("corrupt-qe-binding", func(t *testing.T) {
		q, err := dcap.ParseQuote(p.Quote(t, testutil.QuoteOptions{TDX: true, PCK: pck, CorruptQEBinding: true}))
		if err != nil {
			t.Fatal(err)
		}
		if !verifyRS(pck.Cert.PublicKey.(*ecdsa.PublicKey), q.QEReport.Raw(), q.QEReportSignature) {
			t.Error("QE report signature must still verify")
		}
		bind := sha256.Sum256(append(q.AttestationKey[:], q.QEAuthData...))
		if bytes.Equal(q.QEReport.ReportData[:32], bind[:]) {
			t.Error("binding is intact")
		}
	})
	t.Run("edit-qe", func(t *testing.T) {
		q, err := dcap.ParseQuote(p.Quote(t, testutil.QuoteOptions{PCK: pck, EditQE: func(r *testutil.SGXBody) {
			r.MRSigner[0] ^= 0xFF
			r.ISVSVN = 2
		}}))
		if err != nil {
			t.Fatal(err)
		}
		want := testutil.DefaultQEReport(false).MRSigner
		want[0] ^= 0xFF
		if q.QEReport.MRSigner != want || q.QEReport.ISVSVN != 2 || q.Header.QESVN != 2 {
			t.Errorf("QE MRSIGNER %x ISVSVN %d header QE_SVN %d", q.QEReport.MRSigner, q.QEReport.ISVSVN, q.Header.QESVN)
		}
	})
	t.Run("cert-data-type-3", func(t *testing.T) {
		q, err := dcap.ParseQuote(p.Quote(t, testutil.QuoteOptions{TDX: true, PCK: pck, CertDataType: 3, CertData: []byte("encrypted PPID")}))
		if err != nil {
			t.Fatal(err)
		}
		if q.CertDataType != 3 || string(q.CertData) != "encrypted PPID" {
			t.Errorf("certification data type %d %q", q.CertDataType, q.CertData)
		}
		if _, err := q.PCKChain(); !errors.Is(err, dcap.ErrCollateralMissing) {
			t.Errorf("PCKChain: %v, want ErrCollateralMissing", err)
		}
	})
	t.Run("vendor-id", func(t *testing.T) {
		vendor := [16]byte{1}
		q, err := dcap.ParseQuote(p.Quote(t, testutil.QuoteOptions{PCK: pck, QEVendorID: vendor}))
		if err != nil {
			t.Fatal(err)
		}
		if q.Header.QEVendorID != vendor {
			t.Errorf("QE vendor ID %x", q.Header.QEVendorID)
		}
	})
	t.Run("cert-data-nul-terminated", func(t *testing.T) {
		q, err := dcap.ParseQuote(p.Quote(t, testutil.QuoteOptions{PCK: pck}))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasSuffix(q.CertData, []byte("-----END CERTIFICATE-----\n\x00")) {
			t.Errorf("certification data ends %q, want PEM and a NUL as Intel's QE writes", q.CertData[len(q.CertData)-8:])
		}
	})
}

func TestIntelPCK(t *testing.T) {
	p := testutil.NewIntelPKI(t)
	tests := []struct {
		name string
		o    testutil.PCKOptions
	}{
		{"platform-standard", testutil.PCKOptions{
			FMSPC: [6]byte{0x00, 0xA0, 0x67, 0x11, 0, 0}, PCEID: [2]byte{0, 0},
			SGXComponents: [16]uint8{11, 11, 2, 2, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255}, PCESVN: 13,
		}},
		{"processor-scalable", testutil.PCKOptions{
			FMSPC: [6]byte{0x90, 0xC0, 0x6F, 0, 0, 0}, PCEID: [2]byte{0x12, 0x34},
			SGXComponents: [16]uint8{3, 3, 2, 2, 4, 1, 0, 5}, PCESVN: 65535, SGXType: 1, Processor: true,
			CPUSVN: [16]byte{9, 9, 9}, PPID: [16]byte{0xAA, 0xBB},
			NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC),
		}},
		{"serial", testutil.PCKOptions{Serial: big.NewInt(0x1234)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pck := p.IssuePCK(t, tc.o)
			ext, err := dcap.ParsePCKExtensions(pck.Cert)
			if err != nil {
				t.Fatal(err)
			}
			wantCPUSVN := tc.o.CPUSVN
			if wantCPUSVN == ([16]byte{}) {
				copy(wantCPUSVN[:], tc.o.SGXComponents[:])
			}
			if ext.FMSPC != tc.o.FMSPC || ext.PCEID != tc.o.PCEID || ext.SGXComponents != tc.o.SGXComponents ||
				ext.PCESVN != tc.o.PCESVN || ext.CPUSVN != wantCPUSVN || ext.SGXType != tc.o.SGXType || len(ext.PPID) != 16 {
				t.Errorf("extensions %+v, options %+v", ext, tc.o)
			}
			if tc.o.PPID != ([16]byte{}) && !bytes.Equal(ext.PPID, tc.o.PPID[:]) {
				t.Errorf("PPID %x, want %x", ext.PPID, tc.o.PPID)
			}
			wantCA := p.PlatformCA
			if tc.o.Processor {
				wantCA = p.ProcessorCA
			}
			if !pck.CA.Equal(wantCA) {
				t.Errorf("issued by %q, want %q", pck.CA.Subject.CommonName, wantCA.Subject.CommonName)
			}
			if tc.o.Serial != nil && pck.Cert.SerialNumber.Cmp(tc.o.Serial) != 0 {
				t.Errorf("serial %x, want %x", pck.Cert.SerialNumber, tc.o.Serial)
			}
			if !tc.o.NotAfter.IsZero() && !pck.Cert.NotAfter.Equal(tc.o.NotAfter) {
				t.Errorf("NotAfter %s, want %s", pck.Cert.NotAfter, tc.o.NotAfter)
			}
			if pck.Cert.Subject.CommonName != "Intel SGX PCK Certificate" || pck.Cert.IsCA || pck.Cert.SignatureAlgorithm != x509.ECDSAWithSHA256 {
				t.Errorf("PCK %q CA %v algorithm %v", pck.Cert.Subject.CommonName, pck.Cert.IsCA, pck.Cert.SignatureAlgorithm)
			}
			if !pck.Key.PublicKey.Equal(pck.Cert.PublicKey) {
				t.Error("the PCK key does not match the certificate")
			}
			verifyChain(t, p, pck.Cert, pck.CA)
		})
	}
}

func verifyChain(t *testing.T, p *testutil.IntelPKI, leaf *x509.Certificate, inter ...*x509.Certificate) {
	t.Helper()
	roots, pool := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(p.Root)
	for _, c := range inter {
		pool.AddCert(c)
	}
	at := p.Now()
	if at.Before(leaf.NotBefore) {
		at = leaf.NotBefore.Add(time.Hour)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: pool, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("%q does not chain to the test root: %v", leaf.Subject.CommonName, err)
	}
}

// TestIntelCertificates checks the PKI's shape against Intel's embedded
// certificates (same names, byte for byte; same key type and constraints)
// and that nothing of it verifies under Intel's keys.
func TestIntelCertificates(t *testing.T) {
	p := testutil.NewIntelPKI(t)
	intel := map[string]*x509.Certificate{}
	for _, c := range dcap.EmbeddedCerts() {
		intel[c.Subject.CommonName] = c
	}
	for _, tc := range []struct {
		c      *x509.Certificate
		cn     string
		ca     bool
		maxLen int
	}{
		{p.Root, "Intel SGX Root CA", true, 1},
		{p.PlatformCA, "Intel SGX PCK Platform CA", true, 0},
		{p.ProcessorCA, "Intel SGX PCK Processor CA", true, 0},
		{p.TCBSigning, "Intel SGX TCB Signing", false, -1},
	} {
		t.Run(tc.cn, func(t *testing.T) {
			c := tc.c
			if c.Subject.CommonName != tc.cn || c.IsCA != tc.ca || !c.BasicConstraintsValid {
				t.Errorf("%q CA %v (valid %v), want %q CA %v", c.Subject.CommonName, c.IsCA, c.BasicConstraintsValid, tc.cn, tc.ca)
			}
			if tc.ca && (c.MaxPathLen != tc.maxLen || c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign) {
				t.Errorf("max path length %d key usage %v", c.MaxPathLen, c.KeyUsage)
			}
			pub, ok := c.PublicKey.(*ecdsa.PublicKey)
			if !ok || pub.Curve != elliptic.P256() || c.SignatureAlgorithm != x509.ECDSAWithSHA256 {
				t.Errorf("key %T algorithm %v, want ECDSA P-256 with SHA-256", c.PublicKey, c.SignatureAlgorithm)
			}
			real := intel[tc.cn]
			if real == nil {
				t.Fatalf("no embedded Intel certificate %q", tc.cn)
			}
			if !bytes.Equal(c.RawSubject, real.RawSubject) || !bytes.Equal(c.RawIssuer, real.RawIssuer) {
				t.Errorf("subject/issuer encoding differs from Intel's:\n got %x / %x\nwant %x / %x", c.RawSubject, c.RawIssuer, real.RawSubject, real.RawIssuer)
			}
			if c.Equal(real) || bytes.Equal(c.RawSubjectPublicKeyInfo, real.RawSubjectPublicKeyInfo) {
				t.Error("test certificate has Intel's key")
			}
			if err := c.CheckSignatureFrom(dcap.EmbeddedRoot()); err == nil {
				t.Error("a test certificate verifies under Intel's root")
			}
			if err := c.CheckSignatureFrom(p.Root); err != nil {
				t.Errorf("not signed by the test root: %v", err)
			}
		})
	}
	verifyChain(t, p, p.TCBSigning)
	verifyChain(t, p, p.PlatformCA)

	t.Run("tcb-signing-reissued", func(t *testing.T) {
		nb, na := time.Date(2025, 5, 6, 9, 25, 0, 0, time.UTC), time.Date(2032, 5, 6, 9, 25, 0, 0, time.UTC)
		c := p.TCBSigningCert(t, nb, na)
		if !c.NotBefore.Equal(nb) || !c.NotAfter.Equal(na) {
			t.Errorf("valid %s to %s", c.NotBefore, c.NotAfter)
		}
		if !bytes.Equal(c.RawSubjectPublicKeyInfo, p.TCBSigning.RawSubjectPublicKeyInfo) || c.SerialNumber.Cmp(p.TCBSigning.SerialNumber) == 0 {
			t.Error("want the same key under a new serial")
		}
	})
	t.Run("pem", func(t *testing.T) {
		rest := testutil.PEM(p.TCBSigning, p.Root)
		var got []*x509.Certificate
		for {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, c)
		}
		if len(got) != 2 || !got[0].Equal(p.TCBSigning) || !got[1].Equal(p.Root) || len(rest) != 0 {
			t.Errorf("PEM decodes to %d certificates and %d bytes", len(got), len(rest))
		}
	})
	t.Run("pkis-differ", func(t *testing.T) {
		q := testutil.NewIntelPKI(t)
		if bytes.Equal(q.Root.RawSubjectPublicKeyInfo, p.Root.RawSubjectPublicKeyInfo) {
			t.Error("two PKIs share a root key")
		}
		if err := q.PlatformCA.CheckSignatureFrom(p.Root); err == nil {
			t.Error("one PKI's CA verifies under another's root")
		}
	})
}

func TestIntelCRLs(t *testing.T) {
	p := testutil.NewIntelPKI(t)
	pck := p.IssuePCK(t, testutil.PCKOptions{})
	this, next := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), time.Date(2025, 2, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		crl        *x509.RevocationList
		issuer     *x509.Certificate
		revoked    []*big.Int
		this, next time.Time
	}{
		{"root", p.RootCRL(t, testutil.CRLOptions{}, p.PlatformCA.SerialNumber), p.Root, []*big.Int{p.PlatformCA.SerialNumber},
			time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)},
		{"platform", p.PCKCRL(t, testutil.CRLOptions{}, pck.Cert.SerialNumber, big.NewInt(7)), p.PlatformCA, []*big.Int{pck.Cert.SerialNumber, big.NewInt(7)},
			time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)},
		{"processor-dated", p.PCKCRL(t, testutil.CRLOptions{Processor: true, ThisUpdate: this, NextUpdate: next}), p.ProcessorCA, nil, this, next},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.crl
			if err := l.CheckSignatureFrom(tc.issuer); err != nil {
				t.Errorf("not signed by %q: %v", tc.issuer.Subject.CommonName, err)
			}
			if !bytes.Equal(l.RawIssuer, tc.issuer.RawSubject) || !bytes.Equal(l.AuthorityKeyId, tc.issuer.SubjectKeyId) {
				t.Error("issuer name or authority key ID is not the issuer's")
			}
			if !l.ThisUpdate.Equal(tc.this) || !l.NextUpdate.Equal(tc.next) {
				t.Errorf("thisUpdate %s nextUpdate %s, want %s %s", l.ThisUpdate, l.NextUpdate, tc.this, tc.next)
			}
			var got []*big.Int
			for _, e := range l.RevokedCertificateEntries {
				got = append(got, e.SerialNumber)
				if e.ReasonCode != 1 {
					t.Errorf("reason code %d, want 1 (keyCompromise) as Intel's", e.ReasonCode)
				}
			}
			if !slices.EqualFunc(got, tc.revoked, func(a, b *big.Int) bool { return a.Cmp(b) == 0 }) {
				t.Errorf("revoked %v, want %v", got, tc.revoked)
			}
		})
	}
}

// splitDocument reads a PCS document without internal/dcap: its members
// in order, the raw inner object, and the signature.
func splitDocument(t *testing.T, doc []byte) (keys []string, inner json.RawMessage, sig [64]byte) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	keys = objectKeys(t, doc)
	if len(keys) != 2 || keys[1] != "signature" {
		t.Fatalf("document members %v, want [<inner> signature]", keys)
	}
	inner = m[keys[0]]
	var s string
	if err := json.Unmarshal(m["signature"], &s); err != nil {
		t.Fatal(err)
	}
	if s != strings.ToLower(s) || len(s) != 128 {
		t.Errorf("signature %q: want 128 lower-case hex digits, as Intel's", s)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	copy(sig[:], b)
	// The inner object must appear verbatim in the document.
	if !bytes.Contains(doc, inner) {
		t.Error("inner object is not verbatim in the document")
	}
	return keys, inner, sig
}

// objectKeys returns the member names of a JSON object, in order.
func objectKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %v", err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestIntelTCBInfo(t *testing.T) {
	p := testutil.NewIntelPKI(t)
	levels := []testutil.TCBLevel{
		{SGXComponents: [16]uint8{3, 3, 2, 2, 4, 1, 0, 5}, PCESVN: 13, TDXComponents: [16]uint8{5, 0, 3}, Date: day(2024, 3, 13)},
		{SGXComponents: [16]uint8{2, 2, 2, 2, 3, 1, 0, 3}, PCESVN: 11, TDXComponents: [16]uint8{3, 0, 2}, Date: day(2023, 8, 9),
			Status: "OutOfDate", Advisories: []string{"INTEL-SA-00837", "INTEL-SA-00960"}},
		{SGXComponents: [16]uint8{1}, Date: day(2018, 1, 4), Status: "Revoked", Advisories: []string{"INTEL-SA-00106"}},
	}
	tests := []struct {
		name string
		o    testutil.TCBInfoOptions
	}{
		{"sgx-v3", testutil.TCBInfoOptions{FMSPC: [6]byte{0x00, 0xA0, 0x67, 0x11, 0, 0}, Levels: levels}},
		{"sgx-v2", testutil.TCBInfoOptions{Version: 2, FMSPC: [6]byte{0x00, 0x60, 0x6A, 0, 0, 0}, Levels: levels, TCBEvaluationDataNumber: 16}},
		{"sgx-v3-defaults", testutil.TCBInfoOptions{}},
		{"tdx-v3", testutil.TCBInfoOptions{
			TDX: true, FMSPC: [6]byte{0x90, 0xC0, 0x6F, 0, 0, 0}, PCEID: [2]byte{0xAB, 0xCD}, Levels: levels,
			IssueDate: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), NextUpdate: time.Date(2025, 2, 1, 3, 4, 5, 0, time.UTC),
			TDXModule: &testutil.TDXModule{MRSigner: [48]byte{1}, Attributes: [8]byte{2}, AttributesMask: [8]byte{0xFF, 0xFE}},
			ModuleIdentities: []testutil.ModuleIdentity{
				{ID: "TDX_03", Levels: []testutil.IdentityLevel{{ISVSVN: 3}}},
				{ID: "TDX_01", TDXModule: testutil.TDXModule{MRSigner: [48]byte{9}}, Levels: []testutil.IdentityLevel{
					{ISVSVN: 4, Date: day(2024, 3, 13)},
					{ISVSVN: 2, Date: day(2023, 8, 9), Status: "OutOfDate", Advisories: []string{"INTEL-SA-01036"}},
				}},
			},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := p.TCBInfo(t, tc.o)
			keys, inner, sig := splitDocument(t, doc)
			if keys[0] != "tcbInfo" {
				t.Fatalf("members %v", keys)
			}
			if !verifyRS(p.TCBSigning.PublicKey.(*ecdsa.PublicKey), inner, sig) {
				t.Fatal("signature does not verify over the inner object with the TCB signing key")
			}
			ti, err := dcap.ParseTCBInfo(doc)
			if err != nil {
				t.Fatal(err)
			}
			if err := ti.VerifySignature(p.TCBSigning); err != nil {
				t.Error(err)
			}
			if !bytes.Equal(ti.Signed(), inner) || !bytes.Equal(ti.Marshal(), doc) {
				t.Error("dcap does not read back the same signed bytes and document")
			}
			wantID, wantVersion := "SGX", 3
			if tc.o.TDX {
				wantID = "TDX"
			}
			if tc.o.Version != 0 {
				wantVersion = tc.o.Version
			}
			if ti.ID != wantID || ti.Version != wantVersion || ti.FMSPC != tc.o.FMSPC || ti.PCEID != tc.o.PCEID || ti.TCBType != 0 {
				t.Errorf("id %q version %d FMSPC %X PCE ID %X tcbType %d", ti.ID, ti.Version, ti.FMSPC, ti.PCEID, ti.TCBType)
			}
			wantIssue, wantNext, wantEval := day(2025, 6, 1), day(2025, 7, 1), 17
			if !tc.o.IssueDate.IsZero() {
				wantIssue, wantNext = tc.o.IssueDate, tc.o.NextUpdate
			}
			if tc.o.TCBEvaluationDataNumber != 0 {
				wantEval = tc.o.TCBEvaluationDataNumber
			}
			if !ti.IssueDate.Equal(wantIssue) || !ti.NextUpdate.Equal(wantNext) || ti.TCBEvaluationDataNumber != wantEval {
				t.Errorf("issued %s next %s evaluation %d", ti.IssueDate, ti.NextUpdate, ti.TCBEvaluationDataNumber)
			}
			wantLevels := tc.o.Levels
			if wantLevels == nil {
				wantLevels = []testutil.TCBLevel{{Date: day(2024, 3, 13)}}
			}
			if len(ti.Levels) != len(wantLevels) {
				t.Fatalf("%d levels, want %d", len(ti.Levels), len(wantLevels))
			}
			for i, w := range wantLevels {
				g := ti.Levels[i]
				status := w.Status
				if status == "" {
					status = "UpToDate"
				}
				if g.SGXComponents != w.SGXComponents || g.PCESVN != w.PCESVN || !g.Date.Equal(w.Date) || string(g.Status) != status || !slices.Equal(g.Advisory, w.Advisories) {
					t.Errorf("level %d: %+v, want %+v", i, g, w)
				}
				if tc.o.TDX != (g.TDXComponents != nil) || (g.TDXComponents != nil && *g.TDXComponents != w.TDXComponents) {
					t.Errorf("level %d TDX components %v, want %v", i, g.TDXComponents, w.TDXComponents)
				}
			}
			if !tc.o.TDX {
				if ti.TDXModule != nil || ti.TDXModuleIdentities != nil {
					t.Error("SGX TCB info has TDX members")
				}
				return
			}
			if m := ti.TDXModule; m == nil || m.MRSigner != tc.o.TDXModule.MRSigner || m.Attributes != tc.o.TDXModule.Attributes || m.AttributesMask != tc.o.TDXModule.AttributesMask {
				t.Errorf("tdxModule %+v", ti.TDXModule)
			}
			if len(ti.TDXModuleIdentities) != len(tc.o.ModuleIdentities) {
				t.Fatalf("%d module identities", len(ti.TDXModuleIdentities))
			}
			for i, w := range tc.o.ModuleIdentities {
				g := ti.TDXModuleIdentities[i]
				if g.ID != w.ID || g.MRSigner != w.MRSigner || g.AttributesMask != [8]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF} || len(g.Levels) != len(w.Levels) {
					t.Errorf("module identity %d: %+v", i, g)
					continue
				}
				for j, wl := range w.Levels {
					gl := g.Levels[j]
					if gl.ISVSVN != wl.ISVSVN || string(gl.Status) != cmpOr(wl.Status, "UpToDate") || !slices.Equal(gl.Advisory, wl.Advisories) {
						t.Errorf("module identity %s level %d: %+v", w.ID, j, gl)
					}
				}
			}
		})
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func TestIntelQEIdentity(t *testing.T) {
	p := testutil.NewIntelPKI(t)
	tests := []struct {
		name      string
		o         testutil.QEIdentityOptions
		id        string
		mrsigner  [32]byte
		prodID    uint16
		levelSVNs []uint16
	}{
		{"qe-defaults", testutil.QEIdentityOptions{}, "QE", testutil.DefaultQEReport(false).MRSigner, 1, []uint16{8}},
		{"td-qe-defaults", testutil.QEIdentityOptions{TDX: true}, "TD_QE", testutil.DefaultQEReport(true).MRSigner, 2, []uint16{4}},
		{"qve-custom", testutil.QEIdentityOptions{
			ID: "QVE", MRSigner: [32]byte{7}, ISVProdID: 3, MiscSelect: 0x01020304, MiscSelectMask: 0xFFFF0000,
			Attributes: [16]byte{0x05}, AttributesMask: [16]byte{0xFF}, TCBEvaluationDataNumber: 18,
			IssueDate: day(2025, 3, 1), NextUpdate: day(2025, 4, 1),
			Levels: []testutil.IdentityLevel{
				{ISVSVN: 8, Date: day(2024, 3, 13)},
				{ISVSVN: 6, Date: day(2021, 11, 10), Status: "OutOfDate", Advisories: []string{"INTEL-SA-00615"}},
			},
		}, "QVE", [32]byte{7}, 3, []uint16{8, 6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := p.QEIdentity(t, tc.o)
			keys, inner, sig := splitDocument(t, doc)
			if keys[0] != "enclaveIdentity" {
				t.Fatalf("members %v", keys)
			}
			if !verifyRS(p.TCBSigning.PublicKey.(*ecdsa.PublicKey), inner, sig) {
				t.Fatal("signature does not verify over the inner object with the TCB signing key")
			}
			qi, err := dcap.ParseQEIdentity(doc)
			if err != nil {
				t.Fatal(err)
			}
			if err := qi.VerifySignature(p.TCBSigning); err != nil {
				t.Error(err)
			}
			if !bytes.Equal(qi.Marshal(), doc) {
				t.Error("dcap does not read back the same document")
			}
			if qi.ID != tc.id || qi.Version != 2 || qi.MRSigner != tc.mrsigner || qi.ISVProdID != tc.prodID {
				t.Errorf("id %q version %d MRSIGNER %x ISVPRODID %d", qi.ID, qi.Version, qi.MRSigner, qi.ISVProdID)
			}
			wantMisc, wantMask := tc.o.MiscSelect, tc.o.MiscSelectMask
			if wantMask == 0 {
				wantMask = 0xFFFFFFFF
			}
			if qi.MiscSelect != wantMisc || qi.MiscSelectMask != wantMask {
				t.Errorf("MISCSELECT %08x mask %08x, want %08x %08x", qi.MiscSelect, qi.MiscSelectMask, wantMisc, wantMask)
			}
			var svns []uint16
			for _, l := range qi.Levels {
				svns = append(svns, l.ISVSVN)
			}
			if !slices.Equal(svns, tc.levelSVNs) {
				t.Errorf("level ISVSVNs %v, want %v", svns, tc.levelSVNs)
			}
			if tc.o.Attributes == ([16]byte{}) {
				// The default identity accepts the default QE report.
				qe := testutil.DefaultQEReport(tc.o.TDX)
				r, err := qi.Match(dcap.QEReportIdentity{MRSigner: qe.MRSigner, ISVProdID: qe.ISVProdID, ISVSVN: qe.ISVSVN, MiscSelect: qe.MiscSelect, Attributes: qe.Attributes})
				if err != nil || r.Status != dcap.UpToDate {
					t.Errorf("default QE report against the default identity: %v, %v", r.Status, err)
				}
			}
		})
	}
}

// TestIntelCollateralIsSigned checks what dcap does not: a change of one
// byte of the inner object, or another key, breaks the signature.
func TestIntelCollateralIsSigned(t *testing.T) {
	p := testutil.NewIntelPKI(t)
	other := testutil.NewIntelPKI(t)
	tamper := func(b []byte) []byte { return bytes.Replace(b, []byte(`"UpToDate"`), []byte(`"OutOfDate"`), 1) }
	for name, doc := range map[string][]byte{
		"edit-inner-is-signed": p.TCBInfo(t, testutil.TCBInfoOptions{EditInner: tamper}),
		"qe-edit-inner":        p.QEIdentity(t, testutil.QEIdentityOptions{EditInner: tamper}),
	} {
		t.Run(name, func(t *testing.T) {
			_, inner, sig := splitDocument(t, doc)
			if !bytes.Contains(inner, []byte(`"OutOfDate"`)) {
				t.Fatal("EditInner was not applied")
			}
			if !verifyRS(p.TCBSigning.PublicKey.(*ecdsa.PublicKey), inner, sig) {
				t.Error("EditInner must happen before signing")
			}
		})
	}
	t.Run("signing-key", func(t *testing.T) {
		doc := p.TCBInfo(t, testutil.TCBInfoOptions{SigningKey: mustKey(t)})
		ti, err := dcap.ParseTCBInfo(doc)
		if err != nil {
			t.Fatal(err)
		}
		if err := ti.VerifySignature(p.TCBSigning); !errors.Is(err, dcap.ErrSignature) {
			t.Errorf("signed by another key: %v, want ErrSignature", err)
		}
		if err := ti.VerifySignature(other.TCBSigning); !errors.Is(err, dcap.ErrSignature) {
			t.Errorf("another PKI's signer: %v, want ErrSignature", err)
		}
	})
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestIntelCollateralShape compares the member names and their order, at
// every level, with real Intel PCS documents from the shared corpus: every
// member written is one Intel writes there, in Intel's order, and every
// member Intel writes is written (but the optional component "category"
// and "type" labels).
func TestIntelCollateralShape(t *testing.T) {
	dir := testutil.CorpusDir(t)
	p := testutil.NewIntelPKI(t)
	full := []testutil.TCBLevel{
		{SGXComponents: [16]uint8{3}, PCESVN: 13, TDXComponents: [16]uint8{5}},
		{Status: "OutOfDate", Advisories: []string{"INTEL-SA-00837"}},
	}
	identity := []testutil.IdentityLevel{{ISVSVN: 8}, {ISVSVN: 6, Status: "OutOfDate", Advisories: []string{"INTEL-SA-00615"}}}
	tests := []struct {
		name, real string
		doc        []byte
	}{
		{"tdx-tcb-info", "tdx/dcap-qvl/pcs-format/tdx-quote/tcbinfo.json", p.TCBInfo(t, testutil.TCBInfoOptions{
			TDX: true, Levels: full,
			ModuleIdentities: []testutil.ModuleIdentity{{ID: "TDX_01", Levels: identity}},
		})},
		{"sgx-tcb-info", "tdx/dcap-qvl/pcs-format/sgx-quote/tcbinfo.json", p.TCBInfo(t, testutil.TCBInfoOptions{Levels: full})},
		{"sgx-tcb-info-v2", "tdx/dcap-rs/collateral/sgx_tcbinfo_v2_00606a000000.json", p.TCBInfo(t, testutil.TCBInfoOptions{Version: 2, Levels: full})},
		{"qe-identity", "tdx/dcap-qvl/pcs-format/sgx-quote/qe_identity.json", p.QEIdentity(t, testutil.QEIdentityOptions{Levels: identity})},
		{"td-qe-identity", "tdx/dcap-qvl/pcs-format/tdx-quote/qe_identity.json", p.QEIdentity(t, testutil.QEIdentityOptions{TDX: true, Levels: identity})},
	}
	optional := map[string]bool{"category": true, "type": true}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			real, err := os.ReadFile(filepath.Join(dir, tc.real))
			if err != nil {
				t.Fatal(err)
			}
			ours, theirs := memberOrder(t, tc.doc), memberOrder(t, real)
			for path, keys := range ours {
				ref, ok := theirs[path]
				if !ok {
					t.Errorf("%s: Intel's document has no such object", path)
					continue
				}
				last := -1
				for j, k := range keys {
					i := slices.Index(ref, k)
					switch {
					case i < 0 && k == "advisoryIDs" && j == len(keys)-1:
						// Intel writes advisoryIDs last, and only on levels
						// that have advisories, which this sample may lack.
					case i < 0:
						t.Errorf("%s: member %q is not Intel's (Intel: %v)", path, k, ref)
					case i < last:
						t.Errorf("%s: member order %v, Intel's %v", path, keys, ref)
					}
					last = i
				}
			}
			for path, ref := range theirs {
				for _, k := range ref {
					if !optional[k] && !slices.Contains(ours[path], k) {
						t.Errorf("%s: Intel writes %q, the test PKI does not", path, k)
					}
				}
			}
			// Hex as Intel writes it: upper case in the document.
			_, inner, _ := splitDocument(t, tc.doc)
			var m map[string]any
			if err := json.Unmarshal(inner, &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"fmspc", "pceId", "mrsigner", "attributes", "attributesMask", "miscselect", "miscselectMask"} {
				if s, ok := m[k].(string); ok && s != strings.ToUpper(s) {
					t.Errorf("%s %q is not upper-case hex", k, s)
				}
			}
		})
	}
}

// memberOrder maps each object's path ("tcbInfo.tcbLevels[].tcb") to its
// member names in order of first appearance, across array elements.
func memberOrder(t *testing.T, b []byte) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	var walk func(path string, raw json.RawMessage)
	walk = func(path string, raw json.RawMessage) {
		raw = bytes.TrimSpace(raw)
		switch {
		case len(raw) > 0 && raw[0] == '{':
			for _, k := range objectKeys(t, raw) {
				if !slices.Contains(out[path], k) {
					out[path] = append(out[path], k)
				}
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			for k, v := range m {
				walk(path+"."+k, v)
			}
		case len(raw) > 0 && raw[0] == '[':
			var a []json.RawMessage
			if err := json.Unmarshal(raw, &a); err != nil {
				t.Fatal(err)
			}
			for _, v := range a {
				walk(path+"[]", v)
			}
		}
	}
	walk("$", b)
	return out
}
