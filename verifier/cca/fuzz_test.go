package cca_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/assay-dev/assay/verifier/cca"
)

// The fuzz targets are seeded with the real tokens and endorsements in
// testdata (see testdata/README.md). Fuzz one target at a time:
//
//	go test -run XXX -fuzz '^FuzzParse$' -fuzztime 45s -fuzzminimizetime 0 ./verifier/cca/
//	go test -run XXX -fuzz '^FuzzParseEndorsements$' -fuzztime 45s -fuzzminimizetime 0 ./verifier/cca/

func seeds(f *testing.F) {
	f.Helper()
	files, err := filepath.Glob("testdata/*")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		if filepath.Ext(p) == ".md" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParse: Parse never panics; what it accepts, Marshal encodes so that
// Parse reads the same two tokens and Marshal is then stable; claims and
// verification of what it accepts never panic.
func FuzzParse(f *testing.F) {
	seeds(f)
	var ends []cca.Endorsement
	for _, p := range []string{"testdata/tf-rmm-cca-platform.pub", "testdata/veraison-e2e-cca-endorsements.cbor", "testdata/trustee-tastore.json"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		es, _, err := cca.ParseEndorsements(b, p)
		if err != nil {
			f.Fatal(err)
		}
		ends = append(ends, es...)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := cca.Parse(b)
		if err != nil {
			return
		}
		m, err := cca.Marshal(tok)
		if err != nil {
			t.Fatalf("Marshal of a parsed token: %v", err)
		}
		again, err := cca.Parse(m)
		if err != nil {
			t.Fatalf("Parse(Marshal(Parse(b))): %v", err)
		}
		if !bytes.Equal(again.PlatformToken, tok.PlatformToken) || !bytes.Equal(again.RealmToken, tok.RealmToken) {
			t.Fatal("Parse(Marshal(Parse(b))) changed a token")
		}
		m2, err := cca.Marshal(again)
		if err != nil || !bytes.Equal(m, m2) {
			t.Fatalf("Marshal is not stable: %v", err)
		}
		_ = cca.NewClaims(tok)
		_, _, _ = cca.Verify(tok, cca.Options{Endorsements: ends, Nonce: []byte{1}})
	})
}

// FuzzParseCMW: the CMW form (tag 907) of the token. Parse never panics;
// what it accepts as a CMW token, Marshal writes in the same form, which
// Parse reads to the same two tokens, and Marshal is then stable; claims
// and verification never panic. Seeded with the testdata tokens in the
// CMW form (see testdata/README.md).
//
//	go test -run XXX -fuzz '^FuzzParseCMW$' -fuzztime 20000x -fuzzminimizetime 0 ./verifier/cca/
func FuzzParseCMW(f *testing.F) {
	for _, p := range []string{"testdata/tf-rmm-cca-token-cmw.cbor", "testdata/veraison-e2e-cca-evidence-cmw.cbor"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	b, err := os.ReadFile("testdata/tf-rmm-cca-platform.pub")
	if err != nil {
		f.Fatal(err)
	}
	ends, _, err := cca.ParseEndorsements(b, "pem")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := cca.Parse(b)
		if err != nil {
			if !errors.Is(err, cca.ErrMalformed) {
				t.Fatalf("parse error of another kind: %v", err)
			}
			return
		}
		m, err := cca.Marshal(tok)
		if err != nil {
			t.Fatalf("Marshal of a parsed token: %v", err)
		}
		again, err := cca.Parse(m)
		if err != nil || again.Format != tok.Format {
			t.Fatalf("Parse(Marshal(Parse(b))): %v, format %q want %q", err, again.Format, tok.Format)
		}
		if !bytes.Equal(again.PlatformToken, tok.PlatformToken) || !bytes.Equal(again.RealmToken, tok.RealmToken) {
			t.Fatal("Parse(Marshal(Parse(b))) changed a token")
		}
		if m2, err := cca.Marshal(again); err != nil || !bytes.Equal(m, m2) {
			t.Fatalf("Marshal is not stable: %v", err)
		}
		_ = cca.NewClaims(tok)
		_, _, _ = cca.Verify(tok, cca.Options{Endorsements: ends, Nonce: []byte{1}})
	})
}

// FuzzParseSignedCoRIM: ParseEndorsements of signed CoRIMs never panics,
// fails only with ErrMalformed, gives keys only, with the format
// SniffCollateral names; checking the signature of what it accepts, and
// verifying a token with its endorsements, never panics. Seeded with the
// signed CoRIM of testdata (see testdata/README.md) and an unsigned one.
//
//	go test -run XXX -fuzz '^FuzzParseSignedCoRIM$' -fuzztime 20000x -fuzzminimizetime 0 ./verifier/cca/
func FuzzParseSignedCoRIM(f *testing.F) {
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(read("testdata/signed-veraison-e2e-cca-endorsements.cbor"))
	f.Add(read("testdata/veraison-e2e-cca-endorsements.cbor"))
	tok, err := cca.Parse(read("testdata/veraison-e2e-cca-evidence.cbor"))
	if err != nil {
		f.Fatal(err)
	}
	blk, _ := pem.Decode(read("testdata/signed-corim-test-signer.pub"))
	key, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sniffed, ok := cca.SniffCollateral(b)
		es, format, err := cca.ParseEndorsements(b, "fuzz")
		if err != nil {
			if ok && !errors.Is(err, cca.ErrMalformed) {
				t.Fatalf("error of another kind: %v", err)
			}
			return
		}
		if !ok || format != sniffed {
			t.Fatalf("parsed as %q, sniffed as %q (%v)", format, sniffed, ok)
		}
		for _, e := range es {
			if e.Key == nil {
				t.Fatal("endorsement without a key")
			}
		}
		_, _, _ = cca.Verify(tok, cca.Options{Endorsements: es, CoRIMKeys: []crypto.PublicKey{key}})
	})
}

// FuzzParseEndorsements: no panic, and a parsed file's format is the one
// SniffCollateral names.
func FuzzParseEndorsements(f *testing.F) {
	seeds(f)
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]}`))
	f.Add([]byte(`{"platform":[{"implementation-id":"00"}],"realm":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sniffed, ok := cca.SniffCollateral(b)
		es, format, err := cca.ParseEndorsements(b, "fuzz")
		if err != nil {
			return
		}
		if !ok || format != sniffed {
			t.Fatalf("parsed as %q, sniffed as %q (%v)", format, sniffed, ok)
		}
		for _, e := range es {
			if e.Key == nil {
				t.Fatal("endorsement without a key")
			}
		}
	})
}
