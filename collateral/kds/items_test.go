package kds_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/assay-dev/assay/collateral/kds"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

func itemCorpus(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// itemVCEK is the document of a real VCEK, named from its own extensions.
func itemVCEK(t *testing.T, rel string) (kds.Document, []byte) {
	t.Helper()
	der := itemCorpus(t, rel)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	vek, err := sevsnp.ParseVEK(cert)
	if err != nil {
		t.Fatal(err)
	}
	return kds.Document{Kind: kds.KindVCEK, Product: vek.Product(), KeyType: sevsnp.KeyVCEK, HWID: vek.HWID, TCB: vek.TCB}, der
}

type itemCase struct {
	name  string
	doc   kds.Document
	body  []byte
	until time.Time // want Validity.Until
}

func itemCases(t *testing.T) []itemCase {
	milan, milanDER := itemVCEK(t, "snp/trustee/milan-vcek.der")
	turin, turinDER := itemVCEK(t, "snp/oak/turin-oc-vcek.der")
	genoa, genoaDER := itemVCEK(t, "snp/oak/genoa-oc-vcek.der")
	notAfter := func(der []byte) time.Time {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c.NotAfter
	}
	chain := func(p sevsnp.Product, k sevsnp.KeyType, rel string) itemCase {
		return itemCase{name: p.String() + "-" + k.String() + "-cert-chain", doc: kds.Document{Kind: kds.KindCertChain, Product: p, KeyType: k}, body: itemCorpus(t, rel)}
	}
	return []itemCase{
		{"milan-vcek", milan, milanDER, notAfter(milanDER)},
		{"turin-vcek", turin, turinDER, notAfter(turinDER)},
		{"genoa-vcek", genoa, genoaDER, notAfter(genoaDER)},
		chain(sevsnp.Milan, sevsnp.KeyVCEK, "roots/amd/milan_vcek_ask_ark.pem"),
		chain(sevsnp.Milan, sevsnp.KeyVLEK, "roots/amd/milan_vlek_ask_ark.pem"),
		chain(sevsnp.Genoa, sevsnp.KeyVCEK, "roots/amd/genoa_vcek_ask_ark.pem"),
		chain(sevsnp.Turin, sevsnp.KeyVCEK, "roots/amd/turin_vcek_ask_ark.pem"),
		chain(sevsnp.Turin, sevsnp.KeyVLEK, "roots/amd/turin_vlek_ask_ark.pem"),
		{"milan-vcek-crl", kds.Document{Kind: kds.KindCRL, Product: sevsnp.Milan, KeyType: sevsnp.KeyVCEK}, itemCorpus(t, "roots/amd/milan_vcek_crl.der"), time.Date(2026, 5, 12, 0, 0, 0, 0, time.UTC)},
		{"genoa-vcek-crl", kds.Document{Kind: kds.KindCRL, Product: sevsnp.Genoa, KeyType: sevsnp.KeyVCEK}, itemCorpus(t, "roots/amd/genoa_vcek_crl.der"), time.Date(2025, 11, 3, 1, 0, 0, 0, time.UTC)},
	}
}

// TestCacheFile: a document's CacheFile is the very file the Client
// writes when it fetches that document, ParseCacheFile names it back, and
// the cached bytes validate.
func TestCacheFile(t *testing.T) {
	for _, tc := range itemCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			path, q := "", ""
			u := tc.doc.URL("http://kds.test")
			if i := bytes.IndexByte([]byte(u), '?'); i >= 0 {
				path, q = u[len("http://kds.test"):i], u[i+1:]
			} else {
				path = u[len("http://kds.test"):]
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != path || r.URL.RawQuery != q {
					http.NotFound(w, r)
					return
				}
				w.Write(tc.body)
			}))
			defer srv.Close()
			dir := t.TempDir()
			c := &kds.Client{BaseURL: srv.URL, CacheDir: dir, Now: func() time.Time { return time.Date(2025, 6, 19, 0, 0, 0, 0, time.UTC) }}
			if err := c.Fetch(t.Context(), tc.doc); err != nil {
				t.Fatal(err)
			}
			name, err := tc.doc.CacheFile()
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
			if err != nil {
				t.Fatalf("the client did not write CacheFile %s: %v", name, err)
			}
			if !bytes.Equal(got, tc.body) {
				t.Errorf("%s holds %d bytes, not the %d served", name, len(got), len(tc.body))
			}
			back, err := kds.ParseCacheFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tc.doc) {
				t.Errorf("ParseCacheFile(%q) = %+v, want %+v", name, back, tc.doc)
			}
			v, err := kds.Validate(tc.doc, got)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !tc.until.IsZero() && !v.Until.Equal(tc.until) {
				t.Errorf("Until %s, want %s", v.Until, tc.until)
			}
		})
	}
}

// TestValidateRefuses: a document under another name, or changed in any
// byte of its signature, is refused with ErrInvalid.
func TestValidateRefuses(t *testing.T) {
	cases := itemCases(t)
	milan, genoa := cases[0], cases[2]
	otherTCB := milan.doc
	otherTCB.TCB.SNP++
	otherChip := milan.doc
	otherChip.HWID = bytes.Clone(milan.doc.HWID)
	otherChip.HWID[0] ^= 1
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 0x01
		return b
	}
	milanCRL := cases[8]
	tests := []struct {
		name string
		doc  kds.Document
		body []byte
	}{
		{"vcek-other-tcb", otherTCB, milan.body},
		{"vcek-other-chip", otherChip, milan.body},
		{"vcek-as-genoa", kds.Document{Kind: kds.KindVCEK, Product: sevsnp.Genoa, KeyType: sevsnp.KeyVCEK, HWID: milan.doc.HWID, TCB: milan.doc.TCB}, milan.body},
		{"vcek-signature-flipped", milan.doc, flip(milan.body, len(milan.body)-10)},
		{"vcek-genoa-under-milan-name", milan.doc, genoa.body},
		{"chain-other-product", kds.Document{Kind: kds.KindCertChain, Product: sevsnp.Genoa, KeyType: sevsnp.KeyVCEK}, cases[3].body},
		{"chain-vlek-as-vcek", kds.Document{Kind: kds.KindCertChain, Product: sevsnp.Milan, KeyType: sevsnp.KeyVCEK}, cases[4].body},
		{"chain-trailing-text", cases[3].doc, append(bytes.Clone(cases[3].body), "junk"...)},
		{"crl-other-product", kds.Document{Kind: kds.KindCRL, Product: sevsnp.Genoa, KeyType: sevsnp.KeyVCEK}, milanCRL.body},
		{"crl-signature-flipped", milanCRL.doc, flip(milanCRL.body, len(milanCRL.body)-5)},
		{"crl-trailing-bytes", milanCRL.doc, append(bytes.Clone(milanCRL.body), 0)},
		{"empty", milan.doc, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := kds.Validate(tt.doc, tt.body); !errors.Is(err, kds.ErrInvalid) {
				t.Errorf("Validate = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestParseCacheFileRefuses(t *testing.T) {
	milan, _ := itemVCEK(t, "snp/trustee/milan-vcek.der")
	name, err := milan.CacheFile()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"",
		"vcek/v1/Milan",
		"vcek/v1/milan/crl",    // KDS spells products capitalised
		"vcek/v2/Milan/crl",    // no such API version
		"vcek/v1/Milan/crl/x",  // too deep
		"vlek/v1/Milan/../crl", // not a name the client writes
		"vcek/v1/Bergamo/crl",  // no such product
		name + ",x=1",          // an unknown SPL
		"vcek/v1/Milan/00@blSPL=3,snpSPL=8,teeSPL=0,ucodeSPL=115",                                                      // hwID too short
		"vcek/v1/Milan/" + string(bytes.Repeat([]byte("0A"), 64)) + "@blSPL=3,snpSPL=8,teeSPL=0,ucodeSPL=115",          // upper-case hex
		"vcek/v1/Milan/" + string(bytes.Repeat([]byte("0a"), 64)) + "@teeSPL=0,blSPL=3,snpSPL=8,ucodeSPL=115",          // query out of order
		"vcek/v1/Milan/" + string(bytes.Repeat([]byte("0a"), 64)) + "@blSPL=3,snpSPL=8,teeSPL=0",                       // no ucodeSPL
		"vcek/v1/Milan/" + string(bytes.Repeat([]byte("0a"), 64)) + "@blSPL=3,fmcSPL=1,snpSPL=8,teeSPL=0,ucodeSPL=115", // FMC before Turin
		"vlek/v1/Milan/" + string(bytes.Repeat([]byte("0a"), 64)) + "@blSPL=3,snpSPL=8,teeSPL=0,ucodeSPL=115",          // KDS serves no VLEK
	} {
		if _, err := kds.ParseCacheFile(bad); !errors.Is(err, kds.ErrInvalid) {
			t.Errorf("ParseCacheFile(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

// TestVCEKDocument: a Turin report's 64-byte CHIP_ID names the VCEK by
// its first 8 bytes, as KDS keys Turin VCEKs.
func TestVCEKDocument(t *testing.T) {
	turin, _ := itemVCEK(t, "snp/oak/turin-oc-vcek.der")
	chip := make([]byte, 64)
	copy(chip, turin.HWID)
	tcb, err := sevsnp.EncodeTCB(sevsnp.Turin, turin.TCB)
	if err != nil {
		t.Fatal(err)
	}
	d, err := kds.VCEKDocument(sevsnp.Turin, chip, tcb)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, turin) {
		t.Errorf("VCEKDocument = %+v, want %+v", d, turin)
	}
	chip[20] = 1
	if _, err := kds.VCEKDocument(sevsnp.Turin, chip, tcb); !errors.Is(err, kds.ErrInvalid) {
		t.Errorf("a Turin CHIP_ID with bytes set after the 8th: %v, want ErrInvalid", err)
	}
}
