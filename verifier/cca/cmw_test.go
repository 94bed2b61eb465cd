package cca_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/verifier/cca"
)

// No token of the corpus is in the CMW form (tag 907): every CCA sample
// predates RMM 2.0. The tests wrap the corpus tokens, byte for byte, in the
// CMW collection, and expect exactly the verdict of the tag 399 form.

// toCMW rewraps a tag 399 token in the tag 907 CMW collection.
func toCMW(t testing.TB, b []byte) []byte {
	t.Helper()
	tok, err := cca.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	tok.Format = cca.FormatTokenCMW
	out, err := cca.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// cmwRaw encodes a hand-made collection under tag 907.
func cmwRaw(t testing.TB, content any) []byte {
	t.Helper()
	b, err := cbor.Marshal(cbor.Tag{Number: 907, Content: content})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCMWCorpus: every corpus token, in the CMW form, gets the checks,
// status and claims of its tag 399 form through the whole command-line
// path, with the format named.
func TestCMWCorpus(t *testing.T) {
	for _, c := range ccaCorpus(t) {
		t.Run(c.id, func(t *testing.T) {
			cmw := toCMW(t, readFile(t, c.token))
			if !cca.Sniff(cmw) {
				t.Fatal("CMW form not sniffed")
			}
			p := filepath.Join(t.TempDir(), "token-cmw.cbor")
			writeFile(t, p, cmw)
			params := attest.Params{Now: verifyAt}
			want := appraiseFiles(t, params, append([]string{c.token}, c.collateral...)...)
			got := appraiseFiles(t, params, append([]string{p}, c.collateral...)...)
			if got.Status != want.Status || !slices.Equal(checkNames(got), checkNames(want)) {
				t.Fatalf("CMW: %s %v; tag 399: %s %v", got.Status, checkNames(got), want.Status, checkNames(want))
			}
			if got.Evidence.Format != cca.FormatTokenCMW || got.Checks[0].Detail[:len(cca.FormatTokenCMW)] != cca.FormatTokenCMW {
				t.Errorf("format %q, parse detail %q", got.Evidence.Format, got.Checks[0].Detail)
			}
			gc, _ := got.Claims.(*cca.Claims)
			wc, _ := want.Claims.(*cca.Claims)
			if gc == nil || wc == nil || gc.Realm.InitialMeasurement != wc.Realm.InitialMeasurement || gc.Platform.InstanceID != wc.Platform.InstanceID {
				t.Errorf("claims differ: %+v / %+v", gc, wc)
			}

			// Marshal keeps the form, and is stable.
			tok, err := cca.Parse(cmw)
			if err != nil || tok.Format != cca.FormatTokenCMW {
				t.Fatalf("Parse: %v, format %q", err, tok.Format)
			}
			again, err := cca.Marshal(tok)
			if err != nil || !bytes.Equal(again, cmw) {
				t.Errorf("Marshal of a CMW token: %v", err)
			}
		})
	}
}

// TestCMWSeeds: the CMW seeds of the fuzz targets are the testdata tokens
// rewrapped, so that they stay reproducible.
func TestCMWSeeds(t *testing.T) {
	for seed, orig := range map[string]string{
		"tf-rmm-cca-token-cmw.cbor":          "tf-rmm-cca-token.cbor",
		"veraison-e2e-cca-evidence-cmw.cbor": "veraison-e2e-cca-evidence.cbor",
	} {
		got := readFile(t, filepath.Join("testdata", seed))
		if want := toCMW(t, readFile(t, filepath.Join("testdata", orig))); !bytes.Equal(got, want) {
			t.Errorf("testdata/%s is not testdata/%s in the CMW form (regenerate it with toCMW)", seed, orig)
		}
	}
}

// TestCMWMalformed: collections that are not the CCA CMW form are refused
// with ErrMalformed, naming what is wrong.
func TestCMWMalformed(t *testing.T) {
	tok, err := cca.Parse(readFile(t, filepath.Join("testdata", "tf-rmm-cca-token.cbor")))
	if err != nil {
		t.Fatal(err)
	}
	p, r := tok.PlatformToken, tok.RealmToken
	rec := func(typ uint64, v any) []any { return []any{typ, v} }
	tests := []struct {
		name    string
		content any
	}{
		{"no-realm-token", map[int64]any{44234: rec(263, p)}},
		{"no-platform-token", map[int64]any{44241: rec(263, r)}},
		{"unknown-label", map[int64]any{44234: rec(263, p), 44241: rec(263, r), 7: rec(263, r)}},
		{"device-token", map[int64]any{44234: rec(263, p), 44241: rec(263, r), 44258: rec(601, []byte{0xa0})}},
		{"wrong-content-format", map[int64]any{44234: rec(264, p), 44241: rec(263, r)}},
		{"record-with-indicator", map[int64]any{44234: []any{uint64(263), p, uint64(4)}, 44241: rec(263, r)}},
		{"tag-399-content", map[int64]any{44234: p, 44241: r}},
		{"text-value", map[int64]any{44234: rec(263, "x"), 44241: rec(263, r)}},
		{"text-labels", map[string]any{"44234": rec(263, p), "44241": rec(263, r)}},
		{"swapped-tokens", map[int64]any{44234: rec(263, r), 44241: rec(263, p)}},
		{"not-a-map", []any{rec(263, p), rec(263, r)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := cmwRaw(t, tc.content)
			if _, err := cca.Parse(b); !errors.Is(err, cca.ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
	// A duplicate label, hand-encoded: tag 907, map of 3 with 44234 twice.
	var dup []byte
	dup = append(dup, 0xd9, 0x03, 0x8b, 0xa3)
	for _, kv := range []struct {
		k int64
		v []byte
	}{{44234, p}, {44241, r}, {44234, p}} {
		kb, _ := cbor.Marshal(kv.k)
		vb, _ := cbor.Marshal(rec(263, kv.v))
		dup = append(append(dup, kb...), vb...)
	}
	if _, err := cca.Parse(dup); !errors.Is(err, cca.ErrMalformed) {
		t.Errorf("duplicate label: %v, want ErrMalformed", err)
	}
}

// TestCMWFlipFraming flips every byte of the CMW framing (everything
// outside the two tokens, whose own flips TestFlipSignedBytes covers):
// each is refused by Parse, or by Verify.
func TestCMWFlipFraming(t *testing.T) {
	orig := readFile(t, filepath.Join("testdata", "tf-rmm-cca-token.cbor"))
	cmw := toCMW(t, orig)
	tok, _ := cca.Parse(cmw)
	ends := endorsementsOf(t, []string{filepath.Join("testdata", "tf-rmm-cca-platform.pub")})
	if _, _, err := cca.Verify(tok, cca.Options{Endorsements: ends, Now: at(verifyAt)}); err != nil {
		t.Fatalf("unmodified: %v", err)
	}
	pi, ri := bytes.Index(cmw, tok.PlatformToken), bytes.Index(cmw, tok.RealmToken)
	inToken := func(i int) bool {
		return (i >= pi && i < pi+len(tok.PlatformToken)) || (i >= ri && i < ri+len(tok.RealmToken))
	}
	n := 0
	for i := range cmw {
		if inToken(i) {
			continue
		}
		n++
		b := bytes.Clone(cmw)
		b[i] ^= 0xff
		got, err := cca.Parse(b)
		if err != nil {
			if !errors.Is(err, cca.ErrMalformed) {
				t.Errorf("byte %d: %v, want ErrMalformed", i, err)
			}
			continue
		}
		if _, _, err := cca.Verify(got, cca.Options{Endorsements: ends, Now: at(verifyAt)}); err == nil {
			t.Errorf("byte %d flipped: accepted", i)
		}
	}
	if n < 10 {
		t.Fatalf("only %d framing bytes", n)
	}
}
