package testutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/assay-dev/assay/verifier/sevsnp"
)

// AMDPKI is a test copy of AMD's SEV-SNP PKI: an ARK, an ASK (or ASVK),
// and VEKs it issues, with the names, key types, signature algorithm
// (RSASSA-PSS SHA-384) and extensions AMD uses, but test keys. It lets
// tests exercise what real samples cannot show: revocation, VLEK and Turin
// edge cases, policy bits, and reports built field by field.
type AMDPKI struct {
	Product sevsnp.Product
	ARK     *x509.Certificate
	ASK     *x509.Certificate // ASK, or ASVK when VLEK is true
	VLEK    bool
	arkKey  *rsa.PrivateKey
	askKey  *rsa.PrivateKey
}

// Test keys are RSA-2048 (AMD's are 4096) to keep tests fast; the verifier
// does not depend on the size.
const testRSABits = 2048

var (
	testNotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	testNotAfter  = time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)
)

// NewAMDPKI makes an ARK and an ASK (or ASVK when vlek) for a product.
func NewAMDPKI(t testing.TB, p sevsnp.Product, vlek bool) *AMDPKI {
	t.Helper()
	pki := &AMDPKI{Product: p, VLEK: vlek}
	var err error
	if pki.arkKey, err = rsa.GenerateKey(rand.Reader, testRSABits); err != nil {
		t.Fatal(err)
	}
	if pki.askKey, err = rsa.GenerateKey(rand.Reader, testRSABits); err != nil {
		t.Fatal(err)
	}
	arkName := amdName("ARK-" + p.String())
	arkTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(0x10000),
		Subject:               arkName,
		Issuer:                arkName,
		NotBefore:             testNotBefore,
		NotAfter:              testNotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SignatureAlgorithm:    x509.SHA384WithRSAPSS,
	}
	pki.ARK = mustCert(t, arkTmpl, arkTmpl, &pki.arkKey.PublicKey, pki.arkKey)
	askCN := "SEV-" + p.String()
	if vlek {
		askCN = "SEV-VLEK-" + p.String()
	}
	askTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(0x10001),
		Subject:               amdName(askCN),
		NotBefore:             testNotBefore,
		NotAfter:              testNotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SignatureAlgorithm:    x509.SHA384WithRSAPSS,
	}
	pki.ASK = mustCert(t, askTmpl, pki.ARK, &pki.askKey.PublicKey, pki.arkKey)
	return pki
}

// VEK is a test VCEK or VLEK and its private key.
type VEK struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// VEKOptions shape a VEK certificate.
type VEKOptions struct {
	HWID      []byte // VCEK: 64 bytes (8 on Turin)
	CSPID     string // VLEK
	TCB       sevsnp.TCB
	NotBefore time.Time // zero: 2020-01-01
	NotAfter  time.Time // zero: 2045-01-01
}

// IssueVEK issues a VCEK (or a VLEK, for a VLEK PKI) with AMD's extensions.
func (pki *AMDPKI) IssueVEK(t testing.TB, o VEKOptions) VEK {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cn := "SEV-VCEK"
	if pki.VLEK {
		cn = "SEV-VLEK"
	}
	ext := func(oid []int, v any, params string) pkix.Extension {
		b, err := asn1.MarshalWithParams(v, params)
		if err != nil {
			t.Fatal(err)
		}
		return pkix.Extension{Id: append(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1}, oid...), Value: b}
	}
	exts := []pkix.Extension{
		ext([]int{1}, 0, ""),
		ext([]int{2}, pki.Product.String(), "ia5"),
		ext([]int{3, 1}, int(o.TCB.Bootloader), ""),
		ext([]int{3, 2}, int(o.TCB.TEE), ""),
		ext([]int{3, 3}, int(o.TCB.SNP), ""),
		ext([]int{3, 8}, int(o.TCB.Microcode), ""),
	}
	if o.TCB.FMC != nil {
		exts = append(exts, ext([]int{3, 9}, int(*o.TCB.FMC), ""))
	}
	if pki.VLEK {
		exts = append(exts, ext([]int{5}, o.CSPID, "ia5"))
	} else {
		exts = append(exts, pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 4}, Value: o.HWID})
	}
	nb, na := o.NotBefore, o.NotAfter
	if nb.IsZero() {
		nb = testNotBefore
	}
	if na.IsZero() {
		na = testNotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(0),
		Subject:            amdName(cn),
		NotBefore:          nb,
		NotAfter:           na,
		ExtraExtensions:    exts,
		SignatureAlgorithm: x509.SHA384WithRSAPSS,
	}
	return VEK{Cert: mustCert(t, tmpl, pki.ASK, &key.PublicKey, pki.askKey), Key: key}
}

// CRL issues an ARK-signed CRL revoking the given serials.
func (pki *AMDPKI) CRL(t testing.TB, thisUpdate, nextUpdate time.Time, revoked ...*big.Int) *x509.RevocationList {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: thisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(1),
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: entries,
		SignatureAlgorithm:        x509.SHA384WithRSAPSS,
	}, pki.ARK, pki.arkKey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// SignReport fills the report's signature with key and returns its bytes.
func SignReport(t testing.TB, r *sevsnp.Report, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	r.SignatureR, r.SignatureS = [48]byte{}, [48]byte{}
	digest := sha512.Sum384(r.Marshal()[:sevsnp.SignedSize])
	rr, ss, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	rr.FillBytes(r.SignatureR[:])
	ss.FillBytes(r.SignatureS[:])
	return r.Marshal()
}

func amdName(cn string) pkix.Name {
	return pkix.Name{
		OrganizationalUnit: []string{"Engineering"},
		Country:            []string{"US"},
		Locality:           []string{"Santa Clara"},
		Province:           []string{"CA"},
		Organization:       []string{"Advanced Micro Devices"},
		CommonName:         cn,
	}
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) *x509.Certificate {
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
