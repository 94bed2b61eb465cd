package bundle_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/collateral/bundle"
	"github.com/assay-dev/assay/collateral/cache"
	"github.com/assay-dev/assay/collateral/kds"
	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// importAt is inside the validity of every real document below: the
// dcap-qvl Intel collateral (2025-06-19 to 07-19) and the Milan CRL
// (2025-05-06 to 2026-05-12).
var importAt = time.Date(2025, 6, 19, 11, 0, 0, 0, time.UTC)

// realDocs are genuine cache documents from the shared corpus, each at
// the path the clients would cache it under.
func realDocs(t *testing.T) []bundle.Document {
	t.Helper()
	corpus := testutil.CorpusDir(t)
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(corpus, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	envelope := func(body, chain string) []byte {
		b, err := json.Marshal(struct {
			Body        []byte `json:"body"`
			IssuerChain string `json:"issuer_chain"`
		}{read(body), string(read(chain))})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	vcekDER := read("snp/trustee/milan-vcek.der")
	cert, err := x509.ParseCertificate(vcekDER)
	if err != nil {
		t.Fatal(err)
	}
	vek, err := sevsnp.ParseVEK(cert)
	if err != nil {
		t.Fatal(err)
	}
	tdx := "tdx/dcap-qvl/pcs-format/tdx-quote/"
	docs := []struct {
		it   cache.Item
		data []byte
	}{
		{cache.KDSItem(kds.Document{Kind: kds.KindVCEK, Product: sevsnp.Milan, KeyType: sevsnp.KeyVCEK, HWID: vek.HWID, TCB: vek.TCB}), vcekDER},
		{cache.KDSItem(kds.Document{Kind: kds.KindCertChain, Product: sevsnp.Milan, KeyType: sevsnp.KeyVCEK}), read("roots/amd/milan_vcek_ask_ark.pem")},
		{cache.KDSItem(kds.Document{Kind: kds.KindCRL, Product: sevsnp.Milan, KeyType: sevsnp.KeyVCEK}), read("roots/amd/milan_vcek_crl.der")},
		{cache.PCSItem(pcs.Document{Kind: pcs.KindTCBInfo, TDX: true, FMSPC: [6]byte{0xB0, 0xC0, 0x6F}}), envelope(tdx+"tcbinfo.json", tdx+"tcb_info_issuer_chain.pem")},
		{cache.PCSItem(pcs.Document{Kind: pcs.KindQEIdentity, TDX: true}), envelope(tdx+"qe_identity.json", tdx+"tcb_info_issuer_chain.pem")},
		{cache.PCSItem(pcs.Document{Kind: pcs.KindPCKCRL, CA: "platform"}), read(tdx + "pck_crl.der")},
		{cache.PCSItem(pcs.Document{Kind: pcs.KindRootCRL}), read(tdx + "root_ca_crl.der")},
	}
	var out []bundle.Document
	for _, d := range docs {
		p, err := d.it.Path()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bundle.Document{Item: bundle.Item{Kind: d.it.Kind(), Key: d.it.Key(), Path: p}, Data: d.data})
	}
	return out
}

// readBack writes and reads docs as a bundle, as export and import do.
func readBack(t *testing.T, docs []bundle.Document) *bundle.Bundle {
	t.Helper()
	key := testKey(3)
	b, err := bundle.Read(bytes.NewReader(writeBundle(t, docs, key)), key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// files lists the documents under root (not their hidden records).
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImport(t *testing.T) {
	docs := realDocs(t)
	root := t.TempDir()
	installed, err := bundle.Import(readBack(t, docs), root, importAt)
	if err != nil {
		t.Fatal(err)
	}
	if len(installed) != len(docs) {
		t.Errorf("%d installed, want %d", len(installed), len(docs))
	}
	entries, err := cache.List(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(docs) {
		t.Fatalf("the cache lists %d files, want %d", len(entries), len(docs))
	}
	for _, e := range entries {
		if e.Err != nil || e.Expired(importAt) {
			t.Errorf("%s: %v (until %s)", e.Path, e.Err, e.Until)
		}
	}
	for _, d := range docs {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(d.Path)))
		if err != nil || !bytes.Equal(b, d.Data) {
			t.Errorf("%s: %d bytes (%v), want the bundle's %d", d.Path, len(b), err, len(d.Data))
		}
	}
	// Importing again replaces the files with the same bytes.
	if _, err := bundle.Import(readBack(t, docs), root, importAt); err != nil {
		t.Errorf("second import: %v", err)
	}
}

// TestImportRefuses: one bad document refuses the whole bundle, and
// nothing is written.
func TestImportRefuses(t *testing.T) {
	docs := realDocs(t)
	genoaCRL, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), "roots", "amd", "genoa_vcek_crl.der"))
	if err != nil {
		t.Fatal(err)
	}
	replace := func(i int, edit func(d *bundle.Document)) []bundle.Document {
		out := append([]bundle.Document(nil), docs...)
		edit(&out[i])
		return out
	}
	tests := []struct {
		name string
		docs []bundle.Document
		at   time.Time
		want []error
	}{
		{"genoa-crl-as-milan-crl", replace(2, func(d *bundle.Document) { d.Data = genoaCRL }), importAt, []error{bundle.ErrInvalid, kds.ErrInvalid}},
		{"vcek-as-chain", replace(1, func(d *bundle.Document) { d.Data = docs[0].Data }), importAt, []error{bundle.ErrInvalid, kds.ErrInvalid}},
		{"tcb-info-as-qe-identity", replace(4, func(d *bundle.Document) { d.Data = docs[3].Data }), importAt, []error{bundle.ErrInvalid, pcs.ErrInvalid}},
		{"manifest-kind-lies", replace(2, func(d *bundle.Document) { d.Kind = "cert_chain" }), importAt, []error{bundle.ErrInvalid}},
		{"manifest-key-lies", replace(2, func(d *bundle.Document) { d.Key = "Genoa vcek" }), importAt, []error{bundle.ErrInvalid}},
		{"unknown-path", replace(2, func(d *bundle.Document) { d.Path = "amd-kds/vcek/v1/Milan/crl.bak" }), importAt, []error{bundle.ErrInvalid, cache.ErrUnknown}},
		{"outside-sources", replace(2, func(d *bundle.Document) { d.Path = "bin/assay" }), importAt, []error{bundle.ErrInvalid, cache.ErrUnknown}},
		{"expired", docs, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), []error{bundle.ErrInvalid, cache.ErrExpired}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			_, err := bundle.Import(readBack(t, tt.docs), root, tt.at)
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("Import = %v, want %v", err, w)
				}
			}
			if fs := files(t, root); len(fs) != 0 {
				t.Errorf("a refused bundle wrote %v", fs)
			}
		})
	}
}

// TestImportSymlink: a symbolic link inside the cache is not written
// through, even to a place that looks harmless.
func TestImportSymlink(t *testing.T) {
	docs := realDocs(t)
	for _, link := range []string{"amd-kds", "amd-kds/vcek/v1", "intel-pcs/IntelSGXRootCA.der"} {
		t.Run(link, func(t *testing.T) {
			root, elsewhere := t.TempDir(), t.TempDir()
			l := filepath.Join(root, filepath.FromSlash(link))
			if err := os.MkdirAll(filepath.Dir(l), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, l); err != nil {
				t.Fatal(err)
			}
			_, err := bundle.Import(readBack(t, docs), root, importAt)
			if !errors.Is(err, bundle.ErrMalformed) {
				t.Errorf("Import = %v, want ErrMalformed", err)
			}
			if fs := files(t, elsewhere); len(fs) != 0 {
				t.Errorf("wrote through the link: %v", fs)
			}
			for _, f := range files(t, root) {
				if f != l {
					t.Errorf("a refused bundle wrote %s", f)
				}
			}
		})
	}
}

// TestImportNoRollback: an import does not replace a cached document
// with an earlier issue still current (an older CRL could un-revoke a
// key); a later issue does replace it.
func TestImportNoRollback(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(corpus, "roots", "intel", "crl", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Both issues are current on 2025-03-25.
	at := time.Date(2025, 3, 25, 0, 0, 0, 0, time.UTC)
	older, newer := read("IntelSGXRootCA_2024-03-20.der"), read("IntelSGXRootCA_2025-03-20.der")
	it := cache.PCSItem(pcs.Document{Kind: pcs.KindRootCRL})
	path, err := it.Path()
	if err != nil {
		t.Fatal(err)
	}
	doc := func(b []byte) []bundle.Document {
		return []bundle.Document{{Item: bundle.Item{Kind: it.Kind(), Key: it.Key(), Path: path}, Data: b}}
	}
	root := t.TempDir()
	file := filepath.Join(root, filepath.FromSlash(path))
	steps := []struct {
		name     string
		data     []byte
		wantKept bool
		want     []byte
	}{
		{"older-into-empty", older, false, older},
		{"newer-replaces", newer, false, newer},
		{"older-kept-out", older, true, newer},
		{"same-again", newer, false, newer},
	}
	for _, s := range steps {
		in, err := bundle.Import(readBack(t, doc(s.data)), root, at)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if in[0].Kept != s.wantKept {
			t.Errorf("%s: Kept %v, want %v", s.name, in[0].Kept, s.wantKept)
		}
		if b, err := os.ReadFile(file); err != nil || !bytes.Equal(b, s.want) {
			t.Errorf("%s: the cache holds the wrong issue (%v)", s.name, err)
		}
	}
}
