package sevsnp_test

import (
	"crypto/ecdsa"
	"crypto/sha512"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/assay-dev/assay/verifier/sevsnp"
)

// BenchmarkECDSAP384Floor is the floor a warm verification is measured
// against: SHA-384 of the signed region and one ECDSA P-384 verification,
// nothing else.
func BenchmarkECDSAP384Floor(b *testing.B) {
	s := milanSample(b)
	vcek, err := x509.ParseCertificate(s.vcek)
	if err != nil {
		b.Fatal(err)
	}
	pub := vcek.PublicKey.(*ecdsa.PublicKey)
	signed := s.raw[:sevsnp.SignedSize]
	r := new(big.Int).SetBytes(s.report.SignatureR[:])
	sig := new(big.Int).SetBytes(s.report.SignatureS[:])
	b.ReportAllocs()
	for b.Loop() {
		d := sha512.Sum384(signed)
		if !ecdsa.Verify(pub, d[:], r, sig) {
			b.Fatal("signature does not verify")
		}
	}
}

// BenchmarkVerifyWarm: parse and verify one report whose VCEK chain was
// verified before (the Cache holds the chain's signatures), as a
// long-running service does.
func BenchmarkVerifyWarm(b *testing.B) {
	s := milanSample(b)
	vcek, err := x509.ParseCertificate(s.vcek)
	if err != nil {
		b.Fatal(err)
	}
	o := sevsnp.Options{Certificates: []*x509.Certificate{vcek}, Now: func() time.Time { return s.at }, Cache: &sevsnp.Cache{}}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		r, err := sevsnp.Parse(s.raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := sevsnp.Verify(ctx, r, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCold: parse the VCEK and report and verify the whole
// chain (ARK self-signature, ASK, VCEK: three RSA-4096 PSS verifications)
// with no cache, as the CLI does once per run.
func BenchmarkVerifyCold(b *testing.B) {
	s := milanSample(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		vcek, err := x509.ParseCertificate(s.vcek)
		if err != nil {
			b.Fatal(err)
		}
		r, err := sevsnp.Parse(s.raw)
		if err != nil {
			b.Fatal(err)
		}
		o := sevsnp.Options{Certificates: []*x509.Certificate{vcek}, Now: func() time.Time { return s.at }}
		if _, _, err := sevsnp.Verify(ctx, r, o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	s := milanSample(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sevsnp.Parse(s.raw); err != nil {
			b.Fatal(err)
		}
	}
}
