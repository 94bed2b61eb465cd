package dcap_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/assay-dev/assay/internal/dcap"
)

// FuzzParseQuote: no panic on any input; every error is ErrMalformed (or
// ErrCollateralMissing from PCKChain); a parsed quote re-parses from its
// own Raw bytes to the same signed region and certification data.
//
//	go test ./internal/dcap -run XXX -fuzz '^FuzzParseQuote$' -fuzzminimizetime 0
func FuzzParseQuote(f *testing.F) {
	for _, name := range []string{"tdx-v4.dat", "tdx-v5-td15.dat", "sgx-v3.dat"} {
		b, err := os.ReadFile(filepath.Join("testdata", "quotes", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{4, 0, 2, 0, 0x81, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := dcap.ParseQuote(b)
		if err != nil {
			if !errors.Is(err, dcap.ErrMalformed) {
				t.Fatalf("error of unknown kind: %v", err)
			}
			return
		}
		if _, err := q.PCKChain(); err != nil && !errors.Is(err, dcap.ErrMalformed) && !errors.Is(err, dcap.ErrCollateralMissing) {
			t.Fatalf("PCKChain error of unknown kind: %v", err)
		}
		q2, err := dcap.ParseQuote(q.Raw())
		if err != nil {
			t.Fatalf("Raw does not re-parse: %v", err)
		}
		if !bytes.Equal(q.Signed(), q2.Signed()) || !bytes.Equal(q.CertData, q2.CertData) || q.Signature != q2.Signature {
			t.Fatal("re-parse differs")
		}
		if (q.TD == nil) == (q.SGX == nil) {
			t.Fatal("a quote must have exactly one body")
		}
	})
}
