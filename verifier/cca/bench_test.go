package cca_test

import (
	"testing"
	"time"

	"github.com/assay-dev/assay/verifier/cca"
)

// Benchmarks over the TF-RMM token in testdata (ES384 platform and realm
// signatures).
func BenchmarkParse(b *testing.B) {
	tok := readFile(b, "testdata/tf-rmm-cca-token.cbor")
	for b.Loop() {
		if _, err := cca.Parse(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	tok, err := cca.Parse(readFile(b, "testdata/tf-rmm-cca-token.cbor"))
	if err != nil {
		b.Fatal(err)
	}
	ends, _, err := cca.ParseEndorsements(readFile(b, "testdata/tf-rmm-cca-platform.pub"), "tf-rmm-cca-platform.pub")
	if err != nil {
		b.Fatal(err)
	}
	o := cca.Options{Endorsements: ends, Now: func() time.Time { return verifyAt }}
	for b.Loop() {
		if _, _, err := cca.Verify(tok, o); err != nil {
			b.Fatal(err)
		}
	}
}
