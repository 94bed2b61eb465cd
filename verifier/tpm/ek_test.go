package tpm_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/tpm"
)

// ekPKI is a test TPM vendor: a root CA and an intermediate that issues
// EK certificates, as a TPM manufacturer's hierarchy does.
type ekPKI struct {
	now               time.Time
	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
}

var ekNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func newEKPKI(t testing.TB, cn string) *ekPKI {
	t.Helper()
	p := &ekPKI{now: ekNow}
	p.rootKey, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p.interKey, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rt := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn + " Root CA", Organization: []string{"Test TPM Vendor"}},
		NotBefore: p.now.AddDate(-10, 0, 0), NotAfter: p.now.AddDate(20, 0, 0), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	p.root = issue(t, rt, rt, &p.rootKey.PublicKey, p.rootKey)
	it := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn + " EK CA 01", Organization: []string{"Test TPM Vendor"}},
		NotBefore: p.now.AddDate(-5, 0, 0), NotAfter: p.now.AddDate(15, 0, 0), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	p.inter = issue(t, it, p.root, &p.interKey.PublicKey, p.rootKey)
	return p
}

func issue(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ekCertOptions say how an EK certificate deviates from the profile's.
type ekCertOptions struct {
	key         crypto.PublicKey // nil: a fresh RSA 2048 key
	san         []byte           // nil: MarshalEKSAN of a Nuvoton TPM
	noSAN       bool
	sanCritical *bool // nil: critical
	subject     pkix.Name
	keyUsage    *x509.KeyUsage // nil: keyEncipherment or keyAgreement
	eku         []asn1.ObjectIdentifier
	ca          bool
	notBefore   time.Time
	notAfter    time.Time
}

var (
	oidEKCert  = asn1.ObjectIdentifier{2, 23, 133, 8, 1}
	oidAIKCert = asn1.ObjectIdentifier{2, 23, 133, 8, 3}
	nuvoton    = &tpm.TPMIdentity{Manufacturer: "id:4E544300", Model: "NPCT75x", Version: "id:00070002"}
)

func rsaKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (p *ekPKI) ek(t testing.TB, o ekCertOptions) *x509.Certificate {
	t.Helper()
	if o.key == nil {
		o.key = &rsaKey(t, 2048).PublicKey
	}
	ku := x509.KeyUsageKeyEncipherment
	if _, ok := o.key.(*ecdsa.PublicKey); ok {
		ku = x509.KeyUsageKeyAgreement
	}
	if o.keyUsage != nil {
		ku = *o.keyUsage
	}
	if o.eku == nil {
		o.eku = []asn1.ObjectIdentifier{oidEKCert}
	}
	if o.notBefore.IsZero() {
		o.notBefore = p.now.AddDate(-1, 0, 0)
	}
	if o.notAfter.IsZero() {
		o.notAfter = p.now.AddDate(10, 0, 0)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: o.subject, NotBefore: o.notBefore, NotAfter: o.notAfter,
		KeyUsage: ku, UnknownExtKeyUsage: o.eku, BasicConstraintsValid: true, IsCA: o.ca}
	if !o.noSAN {
		san := o.san
		if san == nil {
			san = tpm.MarshalEKSAN(nuvoton)
		}
		crit := true
		if o.sanCritical != nil {
			crit = *o.sanCritical
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Critical: crit, Value: san}}
	}
	return issue(t, tmpl, p.inter, o.key, p.interKey)
}

func (p *ekPKI) opts() tpm.EKOptions {
	return tpm.EKOptions{Roots: []*x509.Certificate{p.root}, Intermediates: []*x509.Certificate{p.inter}, Now: func() time.Time { return p.now }}
}

func keySHA(t testing.TB, k crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(der)
	return s[:]
}

// failedNames lists the names of the failed checks.
func failedNames(cs []attest.Check) []string {
	var out []string
	for _, c := range cs {
		if !c.OK {
			out = append(out, c.Name)
		}
	}
	return out
}

// TestVerifyEKGenerated: generated EK certificates, each off the profile
// in one way, fail the one check that judges it.
func TestVerifyEKGenerated(t *testing.T) {
	p := newEKPKI(t, "Test")
	other := newEKPKI(t, "Other")
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsaEK := rsaKey(t, 2048)
	f := false
	sig := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	none := x509.KeyUsage(0)
	unknownVendor := tpm.MarshalEKSAN(&tpm.TPMIdentity{Manufacturer: "id:00001014", Model: "swtpm", Version: "id:20191023"})
	tests := []struct {
		name   string
		cert   func() *x509.Certificate
		edit   func(*tpm.EKOptions)
		want   error
		failed []string
	}{
		{"ok-rsa", func() *x509.Certificate { return p.ek(t, ekCertOptions{}) }, nil, nil, nil},
		{"ok-ecc", func() *x509.Certificate { return p.ek(t, ekCertOptions{key: &ecKey.PublicKey}) }, nil, nil, nil},
		{"ok-no-key-usage", func() *x509.Certificate { return p.ek(t, ekCertOptions{keyUsage: &none}) }, nil, nil, nil},
		{"ok-unknown-vendor", func() *x509.Certificate { return p.ek(t, ekCertOptions{san: unknownVendor}) }, nil, nil, nil},
		{"bound", func() *x509.Certificate { return p.ek(t, ekCertOptions{key: &rsaEK.PublicKey}) },
			func(o *tpm.EKOptions) { o.EKSHA256 = keySHA(t, &rsaEK.PublicKey) }, nil, nil},
		{"expired", func() *x509.Certificate {
			return p.ek(t, ekCertOptions{notBefore: p.now.AddDate(-3, 0, 0), notAfter: p.now.AddDate(0, 0, -1)})
		}, nil, tpm.ErrChain, []string{"ek.chain"}},
		{"not-yet-valid", func() *x509.Certificate { return p.ek(t, ekCertOptions{notBefore: p.now.AddDate(0, 0, 1)}) }, nil, tpm.ErrChain, []string{"ek.chain"}},
		{"wrong-ca", func() *x509.Certificate { return other.ek(t, ekCertOptions{}) }, nil, tpm.ErrChain, []string{"ek.chain"}},
		{"embedded-roots-only", func() *x509.Certificate { return p.ek(t, ekCertOptions{}) },
			func(o *tpm.EKOptions) { o.Roots = nil }, tpm.ErrChain, []string{"ek.chain"}},
		{"missing-san", func() *x509.Certificate { return p.ek(t, ekCertOptions{noSAN: true}) }, nil, tpm.ErrEKProfile, []string{"ek.san"}},
		{"san-not-critical", func() *x509.Certificate { return p.ek(t, ekCertOptions{sanCritical: &f}) }, nil, tpm.ErrEKProfile, []string{"ek.san"}},
		{"san-not-critical-with-subject", func() *x509.Certificate {
			return p.ek(t, ekCertOptions{sanCritical: &f, subject: pkix.Name{CommonName: "tpm"}})
		}, nil, nil, nil},
		{"san-dns-only", func() *x509.Certificate { return p.ek(t, ekCertOptions{san: dnsOnlySAN(t)}) }, nil, tpm.ErrEKProfile, []string{"ek.san"}},
		{"manufacturer-not-id", func() *x509.Certificate {
			return p.ek(t, ekCertOptions{san: tpm.MarshalEKSAN(&tpm.TPMIdentity{Manufacturer: "NTC", Model: "x", Version: "v"})})
		}, nil, tpm.ErrEKProfile, []string{"ek.san"}},
		{"signing-key", func() *x509.Certificate { return p.ek(t, ekCertOptions{keyUsage: &sig}) }, nil, tpm.ErrEKProfile, []string{"ek.key"}},
		{"aik-eku", func() *x509.Certificate { return p.ek(t, ekCertOptions{eku: []asn1.ObjectIdentifier{oidAIKCert}}) }, nil, tpm.ErrEKProfile, []string{"ek.key"}},
		{"ok-rsa-3072", func() *x509.Certificate { return p.ek(t, ekCertOptions{key: &rsaKey(t, 3072).PublicKey}) }, nil, nil, nil},
		{"ok-ecc-p384", func() *x509.Certificate { return p.ek(t, ekCertOptions{key: &p384.PublicKey}) }, nil, nil, nil},
		{"rsa-1024", func() *x509.Certificate { return p.ek(t, ekCertOptions{key: &rsaKey(t, 1024).PublicKey}) }, nil, tpm.ErrEKProfile, []string{"ek.key"}},
		{"ecc-p521", func() *x509.Certificate { return p.ek(t, ekCertOptions{key: &p521.PublicKey}) }, nil, tpm.ErrEKProfile, []string{"ek.key"}},
		{"ca", func() *x509.Certificate { return p.ek(t, ekCertOptions{ca: true}) }, nil, tpm.ErrEKProfile, []string{"ek.key"}},
		{"mismatch", func() *x509.Certificate { return p.ek(t, ekCertOptions{}) },
			func(o *tpm.EKOptions) { o.EKSHA256 = keySHA(t, &rsaEK.PublicKey) }, tpm.ErrEKMismatch, []string{"ek.key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cert()
			o := p.opts()
			if tc.edit != nil {
				tc.edit(&o)
			}
			cl, checks, err := tpm.VerifyEK(c, o)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if got := checkNames(checks); !reflect.DeepEqual(got, []string{"ek.chain", "ek.san", "ek.key"}) {
				t.Errorf("checks %v", got)
			}
			if got := failedNames(checks); !reflect.DeepEqual(got, tc.failed) {
				t.Errorf("failed %v, want %v: %v", got, tc.failed, failed(checks))
			}
			if (cl != nil) != (err == nil) {
				t.Errorf("claims %v with err %v", cl, err)
			}
			if cl != nil && tc.name == "bound" && !cl.Bound {
				t.Error("not bound")
			}
			if cl != nil && tc.name == "ok-rsa" && (cl.Manufacturer != "4E544300" || cl.ManufacturerID != "NTC" || cl.ManufacturerName != "Nuvoton Technology" ||
				cl.Model != "NPCT75x" || cl.Version != "id:00070002" || cl.Algorithm != "rsa-2048" || cl.Bound || len(cl.Chain) != 2) {
				t.Errorf("claims %+v", cl)
			}
			if cl != nil && tc.name == "ok-unknown-vendor" && (cl.ManufacturerName != "" || cl.ManufacturerID != "" || cl.Manufacturer != "00001014") {
				t.Errorf("claims %+v", cl)
			}
		})
	}
}

// corpusEK says what the EK checks make of one certificate file of the
// shared corpus.
type corpusEK struct {
	parseErr error    // ParseEKCertificate fails with it
	isEK     bool     // IsEKCertificate
	failed   []string // the failed checks
	vendor   string   // ek.manufacturer when all pass
	why      string   // why it does not verify as an EK certificate
}

// corpusEKs covers every certificate file of the corpus's TPM
// directories (TestCorpusEKCertificates fails on a file it lacks).
var corpusEKs = map[string]corpusEK{
	"ek-certs/intel-ptt-spth-ek-rsa.pem": {isEK: true, vendor: "494E5443"},
	"gce/uca_tpm_rsa_enc_cert.pem":       {isEK: true, vendor: "474F4F47"},
	"gce/uca_tpm_ecc_enc_cert.pem":       {isEK: true, vendor: "474F4F47"},
	"gce/pca_tpm_rsa_enc_cert.pem": {isEK: true, failed: []string{"ek.san"},
		why: "a GCE vTPM EK certificate from Google's \"EK/AK CA Intermediate\": it chains and certifies an EK, but has no subjectAltName naming the TPM"},
	"gce/pca_tpm_ecc_enc_cert.pem": {isEK: true, failed: []string{"ek.san"}, why: "as pca_tpm_rsa_enc_cert.pem, ECC P-256"},
	"gce/uca_tpm_rsa_sign_cert.pem": {failed: []string{"ek.key"},
		why: "a GCE vTPM signing-key (AK) certificate: chain and TPM subjectAltName are an EK's, but it certifies a digitalSignature key"},
	"gce/uca_tpm_ecc_sign_cert.pem": {failed: []string{"ek.key"}, why: "as uca_tpm_rsa_sign_cert.pem, ECC P-256"},
	"gce/pca_tpm_rsa_sign_cert.pem": {failed: []string{"ek.san", "ek.key"}, why: "a GCE AK certificate: no TPM subjectAltName, a signing key"},
	"gce/pca_tpm_ecc_sign_cert.pem": {failed: []string{"ek.san", "ek.key"}, why: "as pca_tpm_rsa_sign_cert.pem"},
	"gce/openpcc-gce-ak-cert.pem":   {failed: []string{"ek.san", "ek.key"}, why: "a GCE AK certificate"},
	"azure/openpcc-azure-ak-cert-01.der": {failed: []string{"ek.san", "ek.key"},
		why: "an Azure CVM vTPM AK certificate: chains to the Azure vTPM root, but no TPM subjectAltName and a signing key"},
	"azure/openpcc-azure-ak-cert-03.der":       {failed: []string{"ek.san", "ek.key"}, why: "as openpcc-azure-ak-cert-01.der"},
	"azure/openpcc-azure-ak-cert-03.nvraw.bin": {parseErr: tpm.ErrMalformed, why: "the NV index contents: the DER AK certificate followed by padding (x509: trailing data)"},
	"platform-certs/IntelSigningKey_20April2017.cer": {failed: []string{"ek.chain", "ek.san"},
		why: "Intel's self-signed \"Transparent Supply Chain\" key that signs the platform certificates: not in the EK trust store, no TPM subjectAltName"},
}

// TestCorpusEKCertificates verifies every certificate of the corpus's TPM
// directories as an EK certificate, at 2025-11-15 (inside the validity of
// the Azure AK certificates): those that are EK certificates and chain
// pass; every other fails for the reason corpusEKs records. The platform
// certificates (TCG Platform Certificates: attribute certificates) are
// refused as such by ParseEKCertificate.
func TestCorpusEKCertificates(t *testing.T) {
	at := time.Date(2025, 11, 15, 0, 0, 0, 0, time.UTC)
	dir := filepath.Join(testutil.CorpusDir(t), "tpm")
	var files []string
	for _, d := range []string{"ek-certs", "gce", "azure", "platform-certs"} {
		fs, _ := filepath.Glob(filepath.Join(dir, d, "*"))
		for _, f := range fs {
			if !strings.HasSuffix(f, ".json") {
				files = append(files, f)
			}
		}
	}
	seen := 0
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		rel = filepath.ToSlash(rel)
		t.Run(rel, func(t *testing.T) {
			want, ok := corpusEKs[rel]
			if !ok && strings.HasPrefix(rel, "platform-certs/") {
				want = corpusEK{parseErr: tpm.ErrMalformed, why: "a TCG Platform Certificate (attribute certificate)"}
			} else if !ok {
				t.Fatalf("no expectation for %s", rel)
			}
			seen++
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c, err := tpm.ParseEKCertificate(b)
			if want.parseErr != nil {
				if !errors.Is(err, want.parseErr) {
					t.Fatalf("parse: %v, want %v", err, want.parseErr)
				}
				t.Logf("refused: %v (%s)", err, want.why)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tpm.IsEKCertificate(c) != want.isEK {
				t.Errorf("IsEKCertificate = %v", !want.isEK)
			}
			cl, checks, err := tpm.VerifyEK(c, tpm.EKOptions{Now: func() time.Time { return at }})
			if got := failedNames(checks); !reflect.DeepEqual(got, want.failed) {
				t.Fatalf("failed %v, want %v: %v", got, want.failed, failed(checks))
			}
			if want.failed == nil {
				if err != nil || cl.Manufacturer != want.vendor || len(cl.Chain) < 2 {
					t.Fatalf("claims %+v, err %v", cl, err)
				}
				t.Logf("verified: %s %s (%s), model %s, version %s, via %q", cl.ManufacturerName, cl.Manufacturer, cl.Algorithm, cl.Model, cl.Version, cl.Chain)
				return
			}
			t.Logf("does not verify as an EK certificate: %s; %v", want.why, failed(checks))
		})
	}
	if seen < len(corpusEKs) {
		t.Errorf("%d corpus files seen, %d expectations", seen, len(corpusEKs))
	}
}

// TestParseEKSAN reads subjectAltNames as manufacturers write them.
func TestParseEKSAN(t *testing.T) {
	attr := func(oid asn1.ObjectIdentifier, tag int, v string) []byte {
		b, _ := asn1.Marshal(struct {
			OID asn1.ObjectIdentifier
			V   asn1.RawValue
		}{oid, asn1.RawValue{Tag: tag, Bytes: []byte(v)}})
		return b
	}
	set := func(atvs ...[]byte) []byte {
		b, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSet, IsCompound: true, Bytes: join(atvs...)})
		return b
	}
	dirName := func(rdns ...[]byte) []byte {
		name, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: join(rdns...)})
		b, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: name})
		return b
	}
	names := func(gns ...[]byte) []byte {
		b, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: join(gns...)})
		return b
	}
	man := asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	model := asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	ver := asn1.ObjectIdentifier{2, 23, 133, 2, 3}
	dns, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("tpm.example")})
	want := &tpm.TPMIdentity{Manufacturer: "id:53544D20", Model: "ST33HTPHAHD4", Version: "id:00010101"}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"one-rdn-each", names(dirName(set(attr(man, asn1.TagUTF8String, want.Manufacturer)), set(attr(model, asn1.TagUTF8String, want.Model)), set(attr(ver, asn1.TagUTF8String, want.Version)))), nil},
		{"multi-valued-rdn", names(dirName(set(attr(man, asn1.TagUTF8String, want.Manufacturer), attr(model, asn1.TagUTF8String, want.Model), attr(ver, asn1.TagUTF8String, want.Version)))), nil},
		{"printable-and-other-names", names(dns, dirName(set(attr(man, asn1.TagPrintableString, want.Manufacturer), attr(asn1.ObjectIdentifier{2, 5, 4, 3}, asn1.TagUTF8String, "x")), set(attr(model, asn1.TagIA5String, want.Model)), set(attr(ver, asn1.TagUTF8String, want.Version)))), nil},
		{"split-over-two-names", names(dirName(set(attr(man, asn1.TagUTF8String, want.Manufacturer))), dirName(set(attr(model, asn1.TagUTF8String, want.Model)), set(attr(ver, asn1.TagUTF8String, want.Version)))), nil},
		{"no-version", names(dirName(set(attr(man, asn1.TagUTF8String, want.Manufacturer)), set(attr(model, asn1.TagUTF8String, want.Model)))), tpm.ErrEKProfile},
		{"twice", names(dirName(set(attr(man, asn1.TagUTF8String, want.Manufacturer)), set(attr(man, asn1.TagUTF8String, want.Manufacturer)), set(attr(model, asn1.TagUTF8String, want.Model)), set(attr(ver, asn1.TagUTF8String, want.Version)))), tpm.ErrEKProfile},
		{"bmpstring", names(dirName(set(attr(man, 30, "\x00i\x00d")), set(attr(model, asn1.TagUTF8String, want.Model)), set(attr(ver, asn1.TagUTF8String, want.Version)))), tpm.ErrEKProfile},
		{"empty-value", names(dirName(set(attr(man, asn1.TagUTF8String, "")), set(attr(model, asn1.TagUTF8String, want.Model)), set(attr(ver, asn1.TagUTF8String, want.Version)))), tpm.ErrEKProfile},
		{"dns-only", names(dns), tpm.ErrEKProfile},
		{"empty-rdn", names(dirName(set())), tpm.ErrMalformed},
		{"not-der", []byte{0x30, 0x80, 0, 0}, tpm.ErrMalformed},
		{"trailing", append(tpm.MarshalEKSAN(want), 0), tpm.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := tpm.ParseEKSAN(tc.in)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil || *id != *want {
				t.Fatalf("%+v, %v", id, err)
			}
			if v, err := id.VendorID(); err != nil || v != 0x53544D20 || tpm.VendorName(v) != "STMicroelectronics" {
				t.Errorf("vendor %x %v", v, err)
			}
			again, err := tpm.ParseEKSAN(tpm.MarshalEKSAN(id))
			if err != nil || *again != *id {
				t.Errorf("round trip %+v %v", again, err)
			}
		})
	}
}

func join(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// TestEKStoreRoles: the embedded EK store's anchors are self-issued or
// have no issuer within the store; every other certificate chains to an
// anchor.
func TestEKStoreRoles(t *testing.T) {
	all, roots := tpm.EmbeddedEKCerts(), tpm.EmbeddedEKRoots()
	rp, ip := x509.NewCertPool(), x509.NewCertPool()
	anchor := map[string]bool{}
	for _, r := range roots {
		rp.AddCert(r)
		anchor[string(r.Raw)] = true
	}
	for _, c := range all {
		ip.AddCert(c)
	}
	var names []string
	for _, c := range all {
		if anchor[string(c.Raw)] {
			continue
		}
		// At some time within its validity: its issuers' may be shorter.
		var err error
		for _, at := range []time.Time{c.NotBefore.AddDate(0, 0, 30), c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) / 2), ekNow} {
			if _, err = c.Verify(x509.VerifyOptions{Roots: rp, Intermediates: ip, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
				break
			}
		}
		if err != nil {
			names = append(names, c.Subject.CommonName+": "+err.Error())
		}
	}
	sort.Strings(names)
	if len(names) > 0 {
		t.Errorf("intermediates that chain to no anchor:\n%s", strings.Join(names, "\n"))
	}
}

// dnsOnlySAN is a subjectAltName with one dNSName and no directoryName.
func dnsOnlySAN(t testing.TB) []byte {
	dns, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("tpm.example")})
	b, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: dns})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
