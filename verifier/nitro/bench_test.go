package nitro_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"testing"

	"github.com/assay-dev/assay/verifier/nitro"
)

func BenchmarkParse(b *testing.B) {
	s := veracruz(b)
	for b.Loop() {
		if _, err := nitro.Parse(s.raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify: the chain (four certificate signatures, then crypto/x509
// path validation) and the document signature, all ECDSA P-384.
func BenchmarkVerify(b *testing.B) {
	s := veracruz(b)
	o := nitro.Options{Now: at(s.at)}
	for b.Loop() {
		if _, _, err := nitro.Verify(s.doc, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached is Verify as a service runs it: the chain's
// signatures and path validation remembered (nitro.Cache), validity
// windows, rules and the document's own signature checked each time.
func BenchmarkVerifyCached(b *testing.B) {
	s := veracruz(b)
	o := nitro.Options{Now: at(s.at), Cache: &nitro.Cache{}}
	if _, _, err := nitro.Verify(s.doc, o); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := nitro.Verify(s.doc, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkP384Floor is the least any verifier must do per document: hash
// a document-sized message with SHA-384 and verify one ECDSA P-384
// signature.
func BenchmarkP384Floor(b *testing.B) {
	s := veracruz(b)
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	d := sha512.Sum384(s.raw)
	sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		d := sha512.Sum384(s.raw)
		if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
			b.Fatal("floor signature does not verify")
		}
	}
}
