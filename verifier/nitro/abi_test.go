package nitro_test

import (
	"bytes"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/assay-dev/assay/verifier/nitro"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestParseRejects builds documents that break one rule of
// attestation_process.md 3.2.2 (or of the envelope) each; all are signed
// with a test key, so only Parse can be what rejects them.
func TestParseRejects(t *testing.T) {
	p := newPKI(t, testEpoch, testEpoch.Add(3*time.Hour), elliptic.P384())
	base := p.fields(testEpoch.Add(time.Minute))
	raw := func(hexBytes ...byte) cbor.RawMessage { return cbor.RawMessage(hexBytes) }
	pcr := func(m map[int64][]byte) map[int64][]byte { return m }
	payloads := []struct {
		name    string
		entries []kv
	}{
		{"unknown-field", with(base, "extra", "x")},
		{"missing-module_id", with(base, "module_id", deleteField{})},
		{"missing-cabundle", with(base, "cabundle", deleteField{})},
		{"null-module_id", with(base, "module_id", nil)},
		{"empty-module_id", with(base, "module_id", "")},
		{"module_id-as-bytes", with(base, "module_id", []byte("i-0"))},
		{"digest-sha256", with(base, "digest", "SHA256")},
		{"timestamp-zero", with(base, "timestamp", 0)},
		{"timestamp-negative", with(base, "timestamp", -5)},
		{"timestamp-text", with(base, "timestamp", "2025-03-01")},
		{"timestamp-over-int64", with(base, "timestamp", uint64(1<<63))},
		{"pcrs-empty", with(base, "pcrs", map[int][]byte{})},
		{"pcr-index-32", with(base, "pcrs", pcr(map[int64][]byte{32: make([]byte, 48)}))},
		{"pcr-index-negative", with(base, "pcrs", pcr(map[int64][]byte{-1: make([]byte, 48)}))},
		{"pcr-index-text", with(base, "pcrs", map[string][]byte{"0": make([]byte, 48)})},
		{"pcr-32-bytes-with-sha384", with(base, "pcrs", map[int][]byte{0: make([]byte, 32)})},
		{"pcr-64-bytes-with-sha384", with(base, "pcrs", map[int][]byte{0: make([]byte, 64)})},
		{"pcr-as-array", with(base, "pcrs", map[int][]int{0: make([]int, 48)})},
		{"pcrs-33", with(base, "pcrs", func() map[int][]byte {
			m := map[int][]byte{}
			for i := range 33 {
				m[i] = make([]byte, 48)
			}
			return m
		}())},
		{"certificate-garbage", with(base, "certificate", []byte("not a certificate"))},
		{"certificate-too-long", with(base, "certificate", make([]byte, 1025))},
		{"cabundle-empty", with(base, "cabundle", [][]byte{})},
		{"cabundle-entry-empty", with(base, "cabundle", [][]byte{p.root.Raw, {}})},
		{"cabundle-not-array", with(base, "cabundle", p.root.Raw)},
		{"public_key-empty", with(base, "public_key", []byte{})},
		{"user_data-1025", with(base, "user_data", make([]byte, 1025))},
		{"nonce-text", with(base, "nonce", "abc")},
		{"nonce-undefined", with(base, "nonce", raw(0xf7))},
		{"duplicate-key", append(base, kv{"module_id", "i-1"})},
		{"integer-key", append(with(base, "nonce", deleteField{}), kv{7, []byte{1}})},
		{"indefinite-cabundle", with(base, "cabundle", raw(append(append([]byte{0x9f, 0x59, byte(len(p.root.Raw) >> 8), byte(len(p.root.Raw))}, p.root.Raw...), 0xff)...))},
		{"tagged-timestamp", with(base, "timestamp", raw(0xc1, 0x1a, 0x67, 0xc2, 0xf6, 0x00))},
	}
	for _, tc := range payloads {
		t.Run(tc.name, func(t *testing.T) {
			doc := p.document(t, tc.entries)
			_, err := nitro.Parse(doc)
			if !errors.Is(err, nitro.ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
	good := p.document(t, base)
	if _, err := nitro.Parse(good); err != nil {
		t.Fatalf("base document: %v", err)
	}
	payload := encodeMap(t, base)
	envelope := func(prot, unprot, payload, sig any) []byte {
		b, err := cbor.Marshal([]any{prot, unprot, payload, sig})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	es384 := []byte{0xa1, 0x01, 0x38, 0x22}
	sig := make([]byte, 96)
	envelopes := []struct {
		name string
		doc  []byte
	}{
		{"trailing-byte", append(bytes.Clone(good), 0)},
		{"empty", nil},
		{"not-an-array", []byte{0xa0}},
		{"three-elements", func() []byte { b, _ := cbor.Marshal([]any{es384, map[int]int{}, payload}); return b }()},
		{"alg-es256", envelope([]byte{0xa1, 0x01, 0x26}, map[int]int{}, payload, sig)},
		{"no-alg", envelope([]byte{0xa0}, map[int]int{}, payload, sig)},
		{"protected-extra-parameter", envelope([]byte{0xa2, 0x01, 0x38, 0x22, 0x03, 0x00}, map[int]int{}, payload, sig)},
		{"unprotected-not-empty", envelope(es384, map[int]any{4: []byte("kid")}, payload, sig)},
		{"signature-64-bytes", envelope(es384, map[int]int{}, payload, make([]byte, 64))},
		{"detached-payload", envelope(es384, map[int]int{}, nil, sig)},
		{"payload-not-a-map", envelope(es384, map[int]int{}, []byte{0x80}, sig)},
		{"payload-trailing-byte", envelope(es384, map[int]int{}, append(bytes.Clone(payload), 0), sig)},
		{"payload-too-long", envelope(es384, map[int]int{}, make([]byte, 16385), sig)},
		{"other-tag", append([]byte{0xd8, 0x62}, good...)},
	}
	for _, tc := range envelopes {
		t.Run(tc.name, func(t *testing.T) {
			_, err := nitro.Parse(tc.doc)
			if !errors.Is(err, nitro.ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// Optional fields may be absent or null (the NSM writes null), and an
// empty user_data or nonce is present, not absent.
func TestParseOptionalFields(t *testing.T) {
	p := newPKI(t, testEpoch, testEpoch.Add(3*time.Hour), elliptic.P384())
	base := p.fields(testEpoch.Add(time.Minute))
	absent := with(with(with(base, "public_key", deleteField{}), "user_data", deleteField{}), "nonce", deleteField{})
	d := parse(t, p.document(t, absent))
	if d.PublicKey != nil || d.UserData != nil || d.Nonce != nil {
		t.Errorf("absent fields decoded as %x %x %x", d.PublicKey, d.UserData, d.Nonce)
	}
	d = parse(t, p.document(t, with(with(base, "user_data", []byte{}), "nonce", []byte{})))
	if d.UserData == nil || len(d.UserData) != 0 || d.Nonce == nil {
		t.Errorf("empty user_data/nonce decoded as %#v %#v", d.UserData, d.Nonce)
	}
	c := nitro.NewClaims(d, nil)
	if c.UserData == nil || *c.UserData != "" || c.PublicKey != nil {
		t.Errorf("claims user_data %v public_key %v", c.UserData, c.PublicKey)
	}
}

// TestClaimsGolden pins the JSON claims of a real document.
func TestClaimsGolden(t *testing.T) {
	s := veracruz(t)
	v, _, err := nitro.Verify(s.doc, nitro.Options{Now: at(s.at)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(v.Claims, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", "veracruz-2022-11.claims.json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("claims differ from %s (run with -update after checking):\n%s", path, got)
	}
	// PCRs come in index order, as numbers ordered, not as strings.
	if i0, i2, i10 := bytes.Index(got, []byte(`"0":`)), bytes.Index(got, []byte(`"2":`)), bytes.Index(got, []byte(`"10":`)); !(i0 < i2 && i2 < i10) {
		t.Errorf("PCRs out of index order")
	}
}
