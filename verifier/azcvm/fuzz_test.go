package azcvm_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/assay-dev/assay/verifier/azcvm"
)

// FuzzParse: Parse never panics, and what it accepts survives
// Marshal -> Parse with the same HCL report and quote.
func FuzzParse(f *testing.F) {
	for _, n := range []string{"trustee-az-snp-vtpm-evidence-v1.json", "openpcc-azure-snp-genoa-hcl-report.bin"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := azcvm.Parse(b)
		if err != nil {
			return
		}
		ev2, err := azcvm.Parse(azcvm.Marshal(ev))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !bytes.Equal(ev.HCL.Raw, ev2.HCL.Raw) || (ev.Quote == nil) != (ev2.Quote == nil) {
			t.Fatal("HCL report or quote changed by Marshal")
		}
		if ev.Quote != nil && (!bytes.Equal(ev.Quote.Message, ev2.Quote.Message) || !bytes.Equal(ev.Quote.Signature, ev2.Quote.Signature) || len(ev.Quote.PCRs) != len(ev2.Quote.PCRs)) {
			t.Fatal("quote changed by Marshal")
		}
	})
}
