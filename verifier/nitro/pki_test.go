package nitro_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/assay-dev/assay/verifier/nitro"
)

// A test Nitro PKI: root -> intermediate -> leaf, like AWS's (which has
// two intermediates more), with keys generated per test. It is trusted
// only where a test passes its root in Options.Roots.
type testPKI struct {
	root, inter, leaf *x509.Certificate
	leafKey           *ecdsa.PrivateKey
}

var testEpoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func issue(t testing.TB, tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newPKI makes a PKI whose leaf is valid from notBefore to notAfter and
// has a key on the given curve.
func newPKI(t testing.TB, notBefore, notAfter time.Time, leafCurve elliptic.Curve) *testPKI {
	t.Helper()
	rootKey, interKey, leafKey := newKey(t, elliptic.P384()), newKey(t, elliptic.P384()), newKey(t, leafCurve)
	ca := func(cn string, serial int64) *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"Assay test"}},
			NotBefore: testEpoch.AddDate(-1, 0, 0), NotAfter: testEpoch.AddDate(1, 0, 0),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		}
	}
	rootT := ca("test.nitro-enclaves", 1)
	root := issue(t, rootT, rootT, &rootKey.PublicKey, rootKey)
	inter := issue(t, ca("test.region.nitro-enclaves", 2), root, &interKey.PublicKey, rootKey)
	leafT := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "i-0123456789abcdef0-enc0123456789abcdef.test"},
		NotBefore: notBefore, NotAfter: notAfter, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leaf := issue(t, leafT, inter, &leafKey.PublicKey, interKey)
	return &testPKI{root: root, inter: inter, leaf: leaf, leafKey: leafKey}
}

// kv is one map entry of a hand-built CBOR map (which may repeat keys).
type kv struct {
	k, v any
}

// encodeMap encodes entries in order, as a definite-length CBOR map.
func encodeMap(t testing.TB, entries []kv) []byte {
	t.Helper()
	if len(entries) > 23 {
		t.Fatal("encodeMap: too many entries")
	}
	b := []byte{0xa0 + byte(len(entries))}
	for _, e := range entries {
		for _, x := range []any{e.k, e.v} {
			if raw, ok := x.(cbor.RawMessage); ok {
				b = append(b, raw...)
				continue
			}
			enc, err := cbor.Marshal(x)
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, enc...)
		}
	}
	return b
}

// fields returns the payload entries of a plausible production document
// at ts, in the NSM's order.
func (p *testPKI) fields(ts time.Time) []kv {
	pcrs := map[int][]byte{}
	for i := range 16 {
		pcrs[i] = make([]byte, 48)
	}
	for i := range 3 {
		pcrs[i] = bytes.Repeat([]byte{byte(0x10 + i)}, 48)
	}
	return []kv{
		{"module_id", "i-0123456789abcdef0-enc0123456789abcdef"},
		{"digest", "SHA384"},
		{"timestamp", uint64(ts.UnixMilli())},
		{"pcrs", pcrs},
		{"certificate", p.leaf.Raw},
		{"cabundle", [][]byte{p.root.Raw, p.inter.Raw}},
		{"public_key", nil},
		{"user_data", nil},
		{"nonce", nil},
	}
}

// with replaces (or, if absent, appends) one entry; a nil kv.v of type
// deleteField removes it.
type deleteField struct{}

func with(entries []kv, key string, v any) []kv {
	out := []kv{}
	found := false
	for _, e := range entries {
		if e.k == key {
			found = true
			if _, del := v.(deleteField); del {
				continue
			}
			e.v = v
		}
		out = append(out, e)
	}
	if !found {
		out = append(out, kv{key, v})
	}
	return out
}

// sign signs a payload with the PKI's leaf key as an untagged COSE_Sign1.
func (p *testPKI) sign(t testing.TB, payload []byte) []byte {
	t.Helper()
	alg := cose.AlgorithmES384
	if p.leafKey.Curve != elliptic.P384() {
		alg = cose.AlgorithmES256
	}
	s, err := cose.NewSigner(alg, p.leafKey)
	if err != nil {
		t.Fatal(err)
	}
	h := cose.Headers{Protected: cose.ProtectedHeader{cose.HeaderLabelAlgorithm: alg}}
	b, err := cose.Sign1Untagged(rand.Reader, s, h, payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// document builds and signs a document from entries.
func (p *testPKI) document(t testing.TB, entries []kv) []byte {
	t.Helper()
	return p.sign(t, encodeMap(t, entries))
}

// A real document from the corpus, verified at its own timestamp.
type realDoc struct {
	raw []byte
	doc *nitro.Document
	at  time.Time
}

func loadDoc(t testing.TB, name string) realDoc {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	d, err := nitro.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return realDoc{raw: raw, doc: d, at: d.Time()}
}

func veracruz(t testing.TB) realDoc { return loadDoc(t, "veracruz-2022-11.cbor") }
