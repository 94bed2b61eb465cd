package cache_test

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/collateral/cache"
	"github.com/assay-dev/assay/collateral/kds"
	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

func corpus(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vcekItem is the item of a real VCEK, named from its own extensions:
// what Needs must derive from the report it signed.
func vcekItem(t *testing.T, rel string) cache.Item {
	t.Helper()
	b := corpus(t, rel)
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	cert, err := x509.ParseCertificate(b)
	if err != nil {
		t.Fatal(err)
	}
	vek, err := sevsnp.ParseVEK(cert)
	if err != nil {
		t.Fatal(err)
	}
	return cache.KDSItem(kds.Document{Kind: kds.KindVCEK, Product: vek.Product(), KeyType: sevsnp.KeyVCEK, HWID: vek.HWID, TCB: vek.TCB})
}

func chainItem(p sevsnp.Product, k sevsnp.KeyType) cache.Item {
	return cache.KDSItem(kds.Document{Kind: kds.KindCertChain, Product: p, KeyType: k})
}

func crlItem(p sevsnp.Product, k sevsnp.KeyType) cache.Item {
	return cache.KDSItem(kds.Document{Kind: kds.KindCRL, Product: p, KeyType: k})
}

func intel(tdx bool, fmspc [6]byte, ca string) []cache.Item {
	return []cache.Item{
		cache.PCSItem(pcs.Document{Kind: pcs.KindTCBInfo, TDX: tdx, FMSPC: fmspc}),
		cache.PCSItem(pcs.Document{Kind: pcs.KindQEIdentity, TDX: tdx}),
		cache.PCSItem(pcs.Document{Kind: pcs.KindPCKCRL, CA: ca}),
		cache.PCSItem(pcs.Document{Kind: pcs.KindRootCRL}),
	}
}

// TestNeeds derives what real evidence needs and checks it against the
// real VCEK of each report: the VCEK Needs names is the one KDS served.
func TestNeeds(t *testing.T) {
	vcek := sevsnp.KeyVCEK
	tests := []struct {
		name    string
		kind    string
		file    string
		product sevsnp.Product
		want    [][]cache.Item
		notes   int
	}{
		// A version 2 report names no product: Milan, then Genoa.
		{"milan-v2-unknown-product", "snp", "snp/trustee/milan-vcek-report.bin", sevsnp.ProductUnknown, [][]cache.Item{
			{vcekItem(t, "snp/trustee/milan-vcek.der"), chainItem(sevsnp.Milan, vcek), crlItem(sevsnp.Milan, vcek)},
			{genoaTwin(t, vcekItem(t, "snp/trustee/milan-vcek.der")), chainItem(sevsnp.Genoa, vcek), crlItem(sevsnp.Genoa, vcek)},
		}, 0},
		{"milan-v2-product-given", "snp", "snp/trustee/milan-vcek-report.bin", sevsnp.Milan, [][]cache.Item{
			{vcekItem(t, "snp/trustee/milan-vcek.der"), chainItem(sevsnp.Milan, vcek), crlItem(sevsnp.Milan, vcek)},
		}, 0},
		{"genoa-oak", "snp", "snp/oak/genoa-oc-report.bin", sevsnp.ProductUnknown, [][]cache.Item{
			{vcekItem(t, "snp/oak/genoa-oc-vcek.der"), chainItem(sevsnp.Genoa, vcek), crlItem(sevsnp.Genoa, vcek)},
		}, 0},
		// Turin VCEKs are keyed by the first 8 bytes of CHIP_ID and carry FMC.
		{"turin-oak", "snp", "snp/oak/turin-oc-report.bin", sevsnp.ProductUnknown, [][]cache.Item{
			{vcekItem(t, "snp/oak/turin-oc-vcek.der"), chainItem(sevsnp.Turin, vcek), crlItem(sevsnp.Turin, vcek)},
		}, 0},
		// The CPUID names the product even when --product says otherwise.
		{"turin-product-ignored", "snp", "snp/oak/turin-oc-report.bin", sevsnp.Milan, [][]cache.Item{
			{vcekItem(t, "snp/oak/turin-oc-vcek.der"), chainItem(sevsnp.Turin, vcek), crlItem(sevsnp.Turin, vcek)},
		}, 0},
		{"milan-vlek", "snp", "snp/trustee/aws-milan-vlek-report.bin", sevsnp.ProductUnknown, [][]cache.Item{
			{chainItem(sevsnp.Milan, sevsnp.KeyVLEK), crlItem(sevsnp.Milan, sevsnp.KeyVLEK)},
		}, 1},
		// Trustee's JSON carries the VCEK: only chain and CRL are needed.
		{"trustee-json-with-vcek", "snp", "snp/trustee/e2e-evidence.serde.json", sevsnp.ProductUnknown, [][]cache.Item{
			{chainItem(sevsnp.Genoa, vcek), crlItem(sevsnp.Genoa, vcek)},
		}, 1},
		{"azure-snp-hcl", "azcvm", "azure/openpcc/azure-snp-genoa-hcl-report.bin", sevsnp.ProductUnknown, [][]cache.Item{
			{vcekItem(t, "azure/openpcc/azure-snp-genoa-vcek.pem"), chainItem(sevsnp.Genoa, vcek), crlItem(sevsnp.Genoa, vcek)},
		}, 0},
		{"azure-snp-trustee-with-vcek", "azcvm", "azure/trustee/az-snp-vtpm/evidence-v1.json", sevsnp.ProductUnknown, [][]cache.Item{
			{chainItem(sevsnp.Milan, vcek), crlItem(sevsnp.Milan, vcek)},
		}, 1},
		{"tdx-v4", "tdx", "tdx/dcap-qvl/tdx-quote-v4.dat", sevsnp.ProductUnknown, [][]cache.Item{intel(true, [6]byte{0xB0, 0xC0, 0x6F}, "platform")}, 0},
		{"sgx-v3-processor-ca", "sgx", "tdx/dcap-qvl/sgx-quote-v3.dat", sevsnp.ProductUnknown, [][]cache.Item{intel(false, [6]byte{0x00, 0xA0, 0x67, 0x11}, "processor")}, 0},
		{"azure-tdx-trustee", "azcvm", "azure/trustee/az-tdx-vtpm/evidence-v1.json", sevsnp.ProductUnknown, [][]cache.Item{intel(true, [6]byte{0x00, 0x80, 0x6F, 0x05}, "platform")}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := cache.Needs(tt.kind, "", corpus(t, tt.file), tt.product)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(n.Options, tt.want) {
				t.Errorf("options:\n%v\nwant\n%v", n.Options, tt.want)
			}
			if len(n.Notes) != tt.notes {
				t.Errorf("notes %q, want %d", n.Notes, tt.notes)
			}
		})
	}
}

// genoaTwin is the same chip and TCB asked of KDS under Genoa.
func genoaTwin(t *testing.T, it cache.Item) cache.Item {
	it.KDS.Product = sevsnp.Genoa
	return it
}

func TestNeedsRefuses(t *testing.T) {
	masked := corpus(t, "snp/trustee/milan-vcek-report.bin")
	r, err := sevsnp.Parse(masked)
	if err != nil {
		t.Fatal(err)
	}
	r.ChipID = [64]byte{}
	tests := []struct {
		name, kind string
		b          []byte
		want       error
	}{
		{"masked-chip-id", "snp", r.Marshal(), cache.ErrNeeds},
		{"azure-tdx-hcl-without-quote", "azcvm", corpus(t, "azure/openpcc/azure-tdx-hcl-report.bin"), cache.ErrNoQuote},
		{"not-a-quote", "tdx", []byte("not a quote"), cache.ErrNeeds},
		{"nitro", "nitro", nil, cache.ErrNeeds},
		{"snp-garbage", "snp", make([]byte, 100), cache.ErrNeeds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := cache.Needs(tt.kind, "", tt.b, sevsnp.ProductUnknown); !errors.Is(err, tt.want) {
				t.Errorf("Needs = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseList(t *testing.T) {
	milan := vcekItem(t, "snp/trustee/milan-vcek.der")
	turin := vcekItem(t, "snp/oak/turin-oc-vcek.der")
	milanTCB, err := sevsnp.EncodeTCB(sevsnp.Milan, milan.KDS.TCB)
	if err != nil {
		t.Fatal(err)
	}
	turinTCB, err := sevsnp.EncodeTCB(sevsnp.Turin, turin.KDS.TCB)
	if err != nil {
		t.Fatal(err)
	}
	list := strings.Join([]string{
		"# fleet",
		"",
		"snp milan " + hex.EncodeToString(milan.KDS.HWID) + " " + fmt.Sprintf("%016x", milanTCB),
		"snp Turin " + hex.EncodeToString(turin.KDS.HWID) + " 0x" + fmt.Sprintf("%016x", turinTCB),
		"  SNP genoa vlek  ",
		"tdx B0C06F000000",
		"sgx 00a067110000 processor",
	}, "\n")
	ns, err := cache.ParseList([]byte(list))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]cache.Item{
		{milan, chainItem(sevsnp.Milan, sevsnp.KeyVCEK), crlItem(sevsnp.Milan, sevsnp.KeyVCEK)},
		{turin, chainItem(sevsnp.Turin, sevsnp.KeyVCEK), crlItem(sevsnp.Turin, sevsnp.KeyVCEK)},
		{chainItem(sevsnp.Genoa, sevsnp.KeyVLEK), crlItem(sevsnp.Genoa, sevsnp.KeyVLEK)},
		// Without a CA both PCK CRLs: the FMSPC does not name the CA.
		append(intel(true, [6]byte{0xB0, 0xC0, 0x6F}, "platform")[:3], cache.PCSItem(pcs.Document{Kind: pcs.KindPCKCRL, CA: "processor"}), cache.PCSItem(pcs.Document{Kind: pcs.KindRootCRL})),
		intel(false, [6]byte{0x00, 0xA0, 0x67, 0x11}, "processor"),
	}
	if len(ns) != len(want) {
		t.Fatalf("%d needs, want %d", len(ns), len(want))
	}
	for i, n := range ns {
		if len(n.Options) != 1 || !reflect.DeepEqual(n.Options[0], want[i]) {
			t.Errorf("line %d: %v\nwant %v", i+1, n.Options, want[i])
		}
	}

	bad := strings.Join([]string{
		"snp milan 00",          // line 1: short chip ID
		"snp bergamo vlek",      // line 2: no such product
		"tdx B0C06F",            // line 3: short FMSPC
		"sgx 00a067110000 root", // line 4: no such CA
		"tpm 1234",              // line 5: unknown type
		"snp turin " + hex.EncodeToString(turin.KDS.HWID) + " 0x" + fmt.Sprintf("%016x", milanTCB) + "00", // line 6: TCB over 64 bits
		"snp genoa " + strings.Repeat("00", 64) + " 0",                                                    // line 7: masked chip ID
		"tdx B0C06F000000", // fine
	}, "\n")
	_, err = cache.ParseList([]byte(bad))
	if !errors.Is(err, cache.ErrNeeds) {
		t.Fatalf("ParseList = %v, want ErrNeeds", err)
	}
	for i := 1; i <= 7; i++ {
		if !strings.Contains(err.Error(), fmt.Sprintf("line %d:", i)) {
			t.Errorf("the error does not name line %d: %v", i, err)
		}
	}
}

// TestList: a cache with real documents, a forged one, an unknown file
// and a client's temporary file.
func TestList(t *testing.T) {
	root := t.TempDir()
	milan := vcekItem(t, "snp/trustee/milan-vcek.der")
	put := func(it cache.Item, b []byte) string {
		p, err := it.Path()
		if err != nil {
			t.Fatal(err)
		}
		write(t, root, p, b)
		return p
	}
	vcekPath := put(milan, corpus(t, "snp/trustee/milan-vcek.der"))
	crlPath := put(crlItem(sevsnp.Milan, sevsnp.KeyVCEK), corpus(t, "roots/amd/milan_vcek_crl.der"))
	forged := corpus(t, "roots/amd/genoa_vcek_crl.der")
	forgedPath := put(crlItem(sevsnp.Turin, sevsnp.KeyVCEK), forged)
	rootPath := put(cache.PCSItem(pcs.Document{Kind: pcs.KindRootCRL}), corpus(t, "tdx/dcap-qvl/pcs-format/tdx-quote/root_ca_crl.der"))
	write(t, root, "amd-kds/README", []byte("not a document"))
	write(t, root, "amd-kds/vcek/v1/Milan/.tmp-123", []byte("half a document"))
	write(t, root, "other/ignored", []byte("outside the sources"))

	entries, err := cache.List(root)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]cache.Entry{}
	for _, e := range entries {
		got[e.Path] = e
	}
	if len(got) != 5 {
		t.Errorf("%d entries, want 5: %v", len(got), entries)
	}
	at := time.Date(2025, 6, 19, 11, 0, 0, 0, time.UTC)
	for _, p := range []string{vcekPath, crlPath, rootPath} {
		e, ok := got[p]
		if !ok || e.Err != nil || e.Expired(at) || e.ModTime.IsZero() || e.Item.Source == "" {
			t.Errorf("%s: %+v", p, e)
		}
	}
	if e := got[crlPath]; e.Bound != "nextUpdate" || !e.Until.Equal(time.Date(2026, 5, 12, 0, 0, 0, 0, time.UTC)) || !e.Expired(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Milan CRL validity %+v", e.Validity)
	}
	if e := got[forgedPath]; !errors.Is(e.Err, kds.ErrInvalid) {
		t.Errorf("a Genoa CRL under the Turin name: %v, want kds.ErrInvalid", e.Err)
	}
	if e := got["amd-kds/README"]; !errors.Is(e.Err, cache.ErrUnknown) {
		t.Errorf("README: %v, want ErrUnknown", e.Err)
	}
	// Read finds the same.
	if _, e, err := cache.Read(root, milan); err != nil || e.Path != vcekPath {
		t.Errorf("Read(VCEK) = %+v, %v", e, err)
	}
	if _, _, err := cache.Read(root, chainItem(sevsnp.Milan, sevsnp.KeyVCEK)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Read of an absent item = %v, want ErrNotExist", err)
	}
	if _, err := cache.List(filepath.Join(root, "absent")); err != nil {
		t.Errorf("List of an absent root: %v", err)
	}
}

func TestIdentifyRefuses(t *testing.T) {
	for _, p := range []string{"", "amd-kds", "/amd-kds/vcek/v1/Milan/crl", "amd-kds/../amd-kds/vcek/v1/Milan/crl", `amd-kds\vcek\v1\Milan\crl`, "other/vcek/v1/Milan/crl", "amd-kds/IntelSGXRootCA.der", "intel-pcs/vcek/v1/Milan/crl"} {
		if _, err := cache.Identify(p); !errors.Is(err, cache.ErrUnknown) {
			t.Errorf("Identify(%q) = %v, want ErrUnknown", p, err)
		}
	}
}

func write(t *testing.T, root, rel string, b []byte) {
	t.Helper()
	f := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
