package azcvm

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/verifier/tpm"
)

// FuzzParseCollateral: the vTPM collateral readers never panic. What
// SniffCollateral calls an NV read parses, and a parsed certificate parses
// again from its own DER; Inspect describes whatever was sniffed; a log
// replayed against PCR values fails only with ErrEventLog. Seeded with
// the NV read and the event log of testdata/ (see its README).
//
//	go test -run XXX -fuzz '^FuzzParseCollateral$' -fuzztime 20000x ./verifier/azcvm/
func FuzzParseCollateral(f *testing.F) {
	for _, n := range []string{"openpcc-azure-ak-cert-03.nvraw.bin", "go-attestation-crypto-agile-eventlog.bin"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// PCR values no log replays to, every PCR quoted, as the vTPM does.
	quoted := tpm.PCRs{tpm2.TPMAlgSHA256: {}}
	for i := range 24 {
		s := sha256.Sum256([]byte{byte(i)})
		quoted[tpm2.TPMAlgSHA256][i] = s[:]
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		format, sniffed := SniffCollateral(b)
		c, err := ParseAKCertificate(b)
		switch {
		case sniffed && format == FormatAKCertNV && err != nil:
			t.Fatalf("sniffed as an NV read, but: %v", err)
		case err != nil && !errors.Is(err, ErrMalformed):
			t.Fatalf("parse error of another kind: %v", err)
		case err == nil:
			again, err := ParseAKCertificate(c.Raw)
			if err != nil || !bytes.Equal(again.Raw, c.Raw) {
				t.Fatalf("the certificate's own DER: %v", err)
			}
		}
		if sniffed {
			_, _ = (&Verifier{}).Inspect(b, format)
		}
		if _, _, err := replayLog(b, quoted); err != nil && !errors.Is(err, ErrEventLog) {
			t.Fatalf("replay error of another kind: %v", err)
		}
	})
}
