package cca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/cca"
)

// TestCorpusCollateral reads every collateral file of the CCA corpus
// entries: each is recognised, and each CPAK source yields the key the
// manifest describes.
func TestCorpusCollateral(t *testing.T) {
	dir := testutil.CorpusDir(t)
	tfm := "0107060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918"
	for _, tc := range []struct {
		path   string
		format string
		keys   int
		curve  string
		inst   string
		expiry string
	}{
		{"cca/ccatoken/tf-rmm-cca_platform.pub", cca.FormatPEMKey, 1, "P-384", "", ""},
		{"cca/trustee/tastore.json", cca.FormatTrusteeTAStore, 1, "P-384", tfm, ""},
		{"cca/trustee/rvstore.json", cca.FormatTrusteeRVStore, 0, "", "", ""},
		{"cca/veraison/e2e-cca-endorsements.cbor", cca.FormatCoRIM, 1, "P-256", "01" + strings.Repeat("02", 32), "2025-12-31T00:00:00Z"},
		{"cca/veraison/e2e-cca-realm-endorsements.cbor", cca.FormatCoRIM, 0, "", "", ""},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			b := readFile(t, filepath.Join(dir, tc.path))
			if f, ok := cca.SniffCollateral(b); !ok || f != tc.format {
				t.Fatalf("SniffCollateral = %q, %v; want %q", f, ok, tc.format)
			}
			if cca.Sniff(b) {
				t.Error("collateral sniffed as a token")
			}
			es, f, err := cca.ParseEndorsements(b, tc.path)
			if err != nil || f != tc.format {
				t.Fatalf("ParseEndorsements: %v (format %q)", err, f)
			}
			if len(es) != tc.keys {
				t.Fatalf("%d CPAKs, want %d", len(es), tc.keys)
			}
			for _, e := range es {
				if e.Key.Curve.Params().Name != tc.curve || hex.EncodeToString(e.InstanceID) != tc.inst || e.Source != tc.path {
					t.Errorf("CPAK %s for instance %x from %s; want %s, %s", e.Key.Curve.Params().Name, e.InstanceID, e.Source, tc.curve, tc.inst)
				}
				if got := timeOrEmpty(e.NotAfter); got != tc.expiry {
					t.Errorf("not after %q, want %q", got, tc.expiry)
				}
			}
		})
	}
	// Trustee's store endorses TF-M's test CPAK, the key TF-RMM ships.
	a, _, _ := cca.ParseEndorsements(readFile(t, filepath.Join(dir, "cca/ccatoken/tf-rmm-cca_platform.pub")), "pem")
	b, _, _ := cca.ParseEndorsements(readFile(t, filepath.Join(dir, "cca/trustee/tastore.json")), "tastore")
	if len(a) != 1 || len(b) != 1 || !a[0].Key.Equal(b[0].Key) {
		t.Error("tastore.json and tf-rmm-cca_platform.pub should hold the same key")
	}
}

func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func jwkOf(k *ecdsa.PublicKey) string {
	raw, _ := k.Bytes()
	n := (len(raw) - 1) / 2
	e := base64.RawURLEncoding.EncodeToString
	return fmt.Sprintf(`{"kty":"EC","crv":%q,"x":%q,"y":%q}`, k.Curve.Params().Name, e(raw[1:1+n]), e(raw[1+n:]))
}

func TestJWK(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, doc := range map[string]string{
		"key": jwkOf(&k.PublicKey),
		"set": `{"keys":[` + jwkOf(&k.PublicKey) + `]}`,
	} {
		es, f, err := cca.ParseEndorsements([]byte(doc), name)
		if err != nil || f != cca.FormatJWK || len(es) != 1 || !es[0].Key.Equal(&k.PublicKey) {
			t.Errorf("%s: %v, format %q, %d keys", name, err, f, len(es))
		}
	}
}

func TestMalformedEndorsements(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	good := jwkOf(&k.PublicKey)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	impl := strings.Repeat("00", 32)
	inst := "01" + strings.Repeat("02", 32)
	for name, doc := range map[string]string{
		"jwk-rsa":           `{"kty":"RSA","n":"AQAB","e":"AQAB"}`,
		"jwk-curve":         strings.Replace(good, "P-384", "P-192", 1),
		"jwk-short-x":       `{"kty":"EC","crv":"P-384","x":"AAAA","y":"AAAA"}`,
		"jwk-off-curve":     `{"kty":"EC","crv":"P-256","x":"` + strings.Repeat("A", 43) + `","y":"` + strings.Repeat("A", 43) + `"}`,
		"pem-rsa":           string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaDER})),
		"pem-garbage":       "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
		"tastore-inst-type": `[{"pkey":` + good + `,"implementation-id":"` + impl + `","instance-id":"02` + strings.Repeat("02", 32) + `"}]`,
		"tastore-impl-len":  `[{"pkey":` + good + `,"implementation-id":"00","instance-id":"` + inst + `"}]`,
		"tastore-pkey":      `[{"pkey":{"kty":"oct"},"implementation-id":"` + impl + `","instance-id":"` + inst + `"}]`,
	} {
		if _, _, err := cca.ParseEndorsements([]byte(doc), name); !errors.Is(err, cca.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	for name, doc := range map[string]string{
		"empty":       "",
		"json-number": "42",
		"json-other":  `{"tcbInfo":{}}`,
		"empty-array": "[]",
		"cert-pem":    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	} {
		if f, ok := cca.SniffCollateral([]byte(doc)); ok {
			t.Errorf("%s: sniffed as %s", name, f)
		}
	}
}

// CoRIM attest-key triples the reader cannot fully evaluate yield keys
// that are never used, and say why.
func TestCoRIMUnusableTriples(t *testing.T) {
	b := readFile(t, "testdata/veraison-e2e-cca-endorsements.cbor")
	tok, err := cca.Parse(readFile(t, "testdata/veraison-e2e-cca-evidence.cbor"))
	if err != nil {
		t.Fatal(err)
	}
	es, _, err := cca.ParseEndorsements(b, "corim")
	if err != nil {
		t.Fatal(err)
	}
	// Sanity: the e2e CoRIM verifies the e2e token at a time it is valid.
	if _, _, err := cca.Verify(tok, cca.Options{Endorsements: es, Now: at(verifyAt)}); err != nil {
		t.Fatalf("e2e token with its CoRIM: %v", err)
	}
	// The same CoRIM with its attest-key triple given a third element
	// (conditions) is read, and its key is refused, named.
	m := withConditions(t, b)
	es, _, err = cca.ParseEndorsements(m, "corim-with-conditions")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = cca.Verify(tok, cca.Options{Endorsements: es, Now: at(verifyAt)})
	if !errors.Is(err, cca.ErrCollateralMissing) || !strings.Contains(err.Error(), "conditions") {
		t.Errorf("key under conditions: %v, want ErrCollateralMissing naming the conditions", err)
	}
}

// withConditions returns the CoRIM b with a conditions element (its
// authorized-by, key 1, empty) added to every attest-key triple.
func withConditions(t *testing.T, b []byte) []byte {
	t.Helper()
	em, err := cbor.EncOptions{Time: cbor.TimeUnix, TimeTag: cbor.EncTagRequired}.EncMode()
	if err != nil {
		t.Fatal(err)
	}
	var top cbor.Tag
	if err := cbor.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	corim := top.Content.(map[any]any)
	tags := corim[uint64(1)].([]any)
	for i, tg := range tags {
		tag := tg.(cbor.Tag)
		var m map[any]any
		if err := cbor.Unmarshal(tag.Content.([]byte), &m); err != nil {
			t.Fatal(err)
		}
		triples := m[uint64(4)].(map[any]any)
		if aks, ok := triples[uint64(3)].([]any); ok {
			for j, rec := range aks {
				aks[j] = append(rec.([]any), map[any]any{uint64(1): []any{}})
			}
		}
		inner, err := em.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		tags[i] = cbor.Tag{Number: tag.Number, Content: inner}
	}
	out, err := em.Marshal(top)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
