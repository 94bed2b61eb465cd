package nitro_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/assay-dev/assay/verifier/nitro"
)

// addSeeds adds every file of testdata/ (see testdata/README.md).
func addSeeds(f *testing.F) {
	f.Helper()
	files, err := filepath.Glob("testdata/*.*")
	if err != nil {
		f.Fatal(err)
	}
	n := 0
	for _, p := range files {
		if filepath.Ext(p) == ".md" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		n++
	}
	if n == 0 {
		f.Fatal("no fuzz seeds in testdata/")
	}
}

// FuzzParse: Parse never panics, fails only with ErrMalformed, and a
// document it accepts survives Marshal and Parse unchanged; Verify never
// panics on what Parse accepts.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := nitro.Parse(b)
		if err != nil {
			if !errors.Is(err, nitro.ErrMalformed) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		m, err := nitro.Marshal(d)
		if err != nil {
			t.Fatalf("Marshal of a parsed document: %v", err)
		}
		d2, err := nitro.Parse(m)
		if err != nil {
			t.Fatalf("Parse(Marshal(Parse(b))): %v", err)
		}
		if !sameDocument(d, d2) {
			t.Fatal("Parse(Marshal(Parse(b))) differs from Parse(b)")
		}
		_, checks, err := nitro.Verify(d, nitro.Options{Now: func() time.Time { return d.Time() }, Nonce: []byte{1}})
		if err == nil || len(checks) == 0 {
			t.Fatalf("a document with nonce %x verified against nonce 01", d.Nonce)
		}
	})
}

// FuzzParseEvidence: the container formats (CBOR, base64, certificate)
// never panic and fail only with ErrMalformed.
func FuzzParseEvidence(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		nitro.SniffEvidence(b)
		for _, format := range []string{"", nitro.FormatDocument, nitro.FormatDocumentBase64, nitro.FormatCertificate} {
			if _, err := nitro.ParseEvidence(b, format); err != nil && !errors.Is(err, nitro.ErrMalformed) {
				t.Fatalf("format %q: error of another kind: %v", format, err)
			}
		}
	})
}

func sameDocument(a, b *nitro.Document) bool {
	if a.Tagged != b.Tagged || !bytes.Equal(a.Protected, b.Protected) || !bytes.Equal(a.Payload, b.Payload) || !bytes.Equal(a.Signature, b.Signature) {
		return false
	}
	if a.ModuleID != b.ModuleID || a.Digest != b.Digest || a.Timestamp != b.Timestamp || !reflect.DeepEqual(a.PCRs, b.PCRs) {
		return false
	}
	if !a.Certificate.Equal(b.Certificate) || len(a.CABundle) != len(b.CABundle) {
		return false
	}
	for i := range a.CABundle {
		if !a.CABundle[i].Equal(b.CABundle[i]) {
			return false
		}
	}
	return bytes.Equal(a.PublicKey, b.PublicKey) && bytes.Equal(a.UserData, b.UserData) && bytes.Equal(a.Nonce, b.Nonce) &&
		(a.UserData == nil) == (b.UserData == nil) && (a.Nonce == nil) == (b.Nonce == nil) && (a.PublicKey == nil) == (b.PublicKey == nil)
}
