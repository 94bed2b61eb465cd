package nitro_test

import (
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
