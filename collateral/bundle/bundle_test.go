package bundle_test

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/collateral/bundle"
)

// testKey is a fixed key, so that bundles (and the fuzz seeds) are
// reproducible.
func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

var created = time.Date(2025, 6, 19, 11, 0, 0, 0, time.UTC)

// syntheticDocs are documents Read does not interpret: it checks
// structure, signature and digests only.
func syntheticDocs() []bundle.Document {
	return []bundle.Document{
		{Item: bundle.Item{Kind: "crl", Key: "Milan vcek", Path: "amd-kds/vcek/v1/Milan/crl"}, Data: bytes.Repeat([]byte{0x30, 0x82}, 300)},
		{Item: bundle.Item{Kind: "root_crl", Key: "Intel SGX Root CA", Path: "intel-pcs/IntelSGXRootCA.der"}, Data: []byte("a document of 37 bytes, not a block.")},
		{Item: bundle.Item{Kind: "qe_identity", Key: "tdx TD_QE", Path: "intel-pcs/tdx/certification/v4/qe/identity"}, Data: bytes.Repeat([]byte{'x'}, 512)},
	}
}

func writeBundle(t testing.TB, docs []bundle.Document, key ed25519.PrivateKey) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := bundle.Write(&buf, docs, created, key); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	key := testKey(1)
	docs := syntheticDocs()
	b, err := bundle.Read(bytes.NewReader(writeBundle(t, docs, key)), key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	m := b.Manifest
	if m.Format != bundle.Format || m.Version != bundle.Version || !m.Created.Equal(created) || m.Signer != bundle.KeyID(key.Public().(ed25519.PublicKey)) {
		t.Errorf("manifest %+v", m)
	}
	if len(b.Documents) != len(docs) {
		t.Fatalf("%d documents, want %d", len(b.Documents), len(docs))
	}
	for i, d := range b.Documents {
		want := docs[i]
		sum := sha256.Sum256(want.Data)
		want.SHA256, want.Size = hex.EncodeToString(sum[:]), int64(len(want.Data))
		if !reflect.DeepEqual(d, want) {
			t.Errorf("document %d: %+v, want %+v", i, d.Item, want.Item)
		}
	}
}

// TestEmpty: a bundle may hold nothing; Import then writes nothing.
func TestEmpty(t *testing.T) {
	key := testKey(1)
	b, err := bundle.Read(bytes.NewReader(writeBundle(t, nil, key)), key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Documents) != 0 || b.Manifest.Items == nil {
		t.Errorf("documents %d, items %#v", len(b.Documents), b.Manifest.Items)
	}
}

func TestWrongKey(t *testing.T) {
	raw := writeBundle(t, syntheticDocs(), testKey(1))
	if _, err := bundle.Read(bytes.NewReader(raw), testKey(2).Public().(ed25519.PublicKey)); !errors.Is(err, bundle.ErrSignature) {
		t.Errorf("Read with another key = %v, want ErrSignature", err)
	}
	if _, err := bundle.Read(bytes.NewReader(raw), nil); !errors.Is(err, bundle.ErrSignature) {
		t.Errorf("Read with no key = %v, want ErrSignature", err)
	}
}

// region is a byte range of a bundle and what it holds.
type region struct {
	name       string
	start, end int
}

// regions maps a bundle written by Write: per member its header block,
// data and padding, then the end-of-archive blocks.
func regions(t *testing.T, raw []byte) []region {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(raw))
	var out []region
	off := 0
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		out = append(out, region{hdr.Name + " header", off, off + 512})
		off += 512
		out = append(out, region{hdr.Name + " data", off, off + int(hdr.Size)})
		off += int(hdr.Size)
		if pad := (512 - off%512) % 512; pad > 0 {
			out = append(out, region{hdr.Name + " padding", off, off + pad})
			off += pad
		}
	}
	out = append(out, region{"end-of-archive blocks", off, len(raw)})
	if off+1024 != len(raw) {
		t.Fatalf("regions end at %d, the bundle at %d", off+1024, len(raw))
	}
	return out
}

// TestFlip flips every byte of a bundle, region by region (manifest,
// each document, the signature, every header, padding and the trailer):
// Read must refuse each with ErrMalformed or ErrSignature.
func TestFlip(t *testing.T) {
	key := testKey(1)
	pub := key.Public().(ed25519.PublicKey)
	raw := writeBundle(t, syntheticDocs(), key)
	rs := regions(t, raw)
	names := map[string]bool{}
	for _, r := range rs {
		names[r.name] = true
	}
	for _, want := range []string{"manifest.json header", "manifest.json data", "items/1 data", "items/2 padding", "manifest.sig data", "end-of-archive blocks"} {
		if !names[want] {
			t.Fatalf("no region %q in %v", want, rs)
		}
	}
	for _, r := range rs {
		t.Run(r.name, func(t *testing.T) {
			for i := r.start; i < r.end; i++ {
				masks := []byte{0x01, 0x10, 0x20, 0x80, 0xFF}
				if off := (i - r.start); strings.HasSuffix(r.name, " header") && off >= 148 && off < 156 {
					// The checksum field is outside the checksum: every
					// change of it must be caught on its own.
					masks = nil
					for m := 1; m < 256; m++ {
						masks = append(masks, byte(m))
					}
				}
				for _, mask := range masks {
					b := bytes.Clone(raw)
					b[i] ^= mask
					_, err := bundle.Read(bytes.NewReader(b), pub)
					if !errors.Is(err, bundle.ErrMalformed) && !errors.Is(err, bundle.ErrSignature) {
						t.Fatalf("byte %d (%s +%d) ^ %#02x: Read = %v, want ErrMalformed or ErrSignature", i, r.name, i-r.start, mask, err)
					}
				}
			}
		})
	}
}

func TestTruncatedAndExtended(t *testing.T) {
	key := testKey(1)
	pub := key.Public().(ed25519.PublicKey)
	raw := writeBundle(t, syntheticDocs(), key)
	for _, n := range []int{0, 1, 511, 512, len(raw) / 2, len(raw) - 1024, len(raw) - 512, len(raw) - 1} {
		if _, err := bundle.Read(bytes.NewReader(raw[:n]), pub); !errors.Is(err, bundle.ErrMalformed) {
			t.Errorf("first %d bytes: %v, want ErrMalformed", n, err)
		}
	}
	for _, tail := range [][]byte{{0}, make([]byte, 512), make([]byte, 10240), []byte("x")} {
		if _, err := bundle.Read(bytes.NewReader(append(bytes.Clone(raw), tail...)), pub); !errors.Is(err, bundle.ErrMalformed) {
			t.Errorf("%d bytes appended: %v, want ErrMalformed", len(tail), err)
		}
	}
}

// member is one member of a hand-made archive.
type member struct {
	name     string
	typeflag byte
	data     []byte
	link     string
}

// craft writes an archive of members as given, signing manifest (whose
// items get the digests of items unless set) with key: bundles Write
// would never make, for Read to refuse.
func craft(t *testing.T, key ed25519.PrivateKey, manifest map[string]any, members []member) []byte {
	t.Helper()
	mb, err := json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	all := append(append([]member{{name: bundle.ManifestName, data: mb}}, members...), member{name: bundle.SignatureName, data: ed25519.Sign(key, mb)})
	for _, m := range all {
		tf := m.typeflag
		if tf == 0 {
			tf = tar.TypeReg
		}
		hdr := &tar.Header{Typeflag: tf, Name: m.name, Size: int64(len(m.data)), Mode: 0o644, ModTime: created, Linkname: m.link}
		if tf != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if tf == tar.TypeReg {
			if _, err := tw.Write(m.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func manifestOf(paths ...string) map[string]any {
	var items []map[string]any
	for _, p := range paths {
		sum := sha256.Sum256([]byte(p))
		items = append(items, map[string]any{"kind": "crl", "key": "k", "path": p, "sha256": hex.EncodeToString(sum[:]), "size": len(p)})
	}
	if items == nil {
		items = []map[string]any{}
	}
	return map[string]any{"format": bundle.Format, "version": bundle.Version, "created": created, "signer": "", "items": items}
}

// itemMembers are the members of manifestOf(paths): each document's data
// is its own path.
func itemMembers(paths ...string) []member {
	var out []member
	for i, p := range paths {
		out = append(out, member{name: "items/" + strconv.Itoa(i+1), data: []byte(p)})
	}
	return out
}

// TestRefuses: signed bundles that are nevertheless not bundles: unsafe
// paths, other member types, members out of place, other versions.
func TestRefuses(t *testing.T) {
	key := testKey(1)
	pub := key.Public().(ed25519.PublicKey)
	ok := "amd-kds/vcek/v1/Milan/crl"
	with := func(edit func(m map[string]any)) map[string]any {
		m := manifestOf(ok)
		edit(m)
		return m
	}
	tests := []struct {
		name     string
		manifest map[string]any
		members  []member
		want     error
	}{
		{"control", manifestOf(ok), itemMembers(ok), nil},
		{"dot-dot", manifestOf("amd-kds/../../etc/passwd"), itemMembers("amd-kds/../../etc/passwd"), bundle.ErrMalformed},
		{"absolute", manifestOf("/etc/passwd"), itemMembers("/etc/passwd"), bundle.ErrMalformed},
		{"dot", manifestOf("amd-kds/./crl"), itemMembers("amd-kds/./crl"), bundle.ErrMalformed},
		{"hidden", manifestOf("amd-kds/.tmp-1"), itemMembers("amd-kds/.tmp-1"), bundle.ErrMalformed},
		{"backslash", manifestOf(`amd-kds\..\x`), itemMembers(`amd-kds\..\x`), bundle.ErrMalformed},
		{"empty-element", manifestOf("amd-kds//crl"), itemMembers("amd-kds//crl"), bundle.ErrMalformed},
		{"trailing-slash", manifestOf("amd-kds/"), itemMembers("amd-kds/"), bundle.ErrMalformed},
		{"twice", manifestOf(ok, ok), itemMembers(ok, ok), bundle.ErrMalformed},
		{"symlink-member", manifestOf(ok), []member{{name: "items/1", typeflag: tar.TypeSymlink, link: "/etc/passwd"}}, bundle.ErrMalformed},
		{"hardlink-member", manifestOf(ok), []member{{name: "items/1", typeflag: tar.TypeLink, link: bundle.ManifestName}}, bundle.ErrMalformed},
		{"directory-member", manifestOf(ok), append([]member{{name: "items/", typeflag: tar.TypeDir}}, itemMembers(ok)...), bundle.ErrMalformed},
		{"member-named-by-path", manifestOf(ok), []member{{name: ok, data: []byte(ok)}}, bundle.ErrMalformed},
		{"extra-member", manifestOf(ok), append(itemMembers(ok), member{name: "items/2", data: []byte("x")}), bundle.ErrMalformed},
		{"missing-member", manifestOf(ok, "intel-pcs/IntelSGXRootCA.der"), itemMembers(ok), bundle.ErrMalformed},
		{"size-lies", with(func(m map[string]any) { m["items"].([]map[string]any)[0]["size"] = 3 }), itemMembers(ok), bundle.ErrSignature},
		{"digest-of-other", with(func(m map[string]any) {
			m["items"].([]map[string]any)[0]["sha256"] = hex.EncodeToString(make([]byte, 32))
		}), itemMembers(ok), bundle.ErrSignature},
		{"version-2", with(func(m map[string]any) { m["version"] = 2 }), itemMembers(ok), bundle.ErrMalformed},
		{"other-format", with(func(m map[string]any) { m["format"] = "tar" }), itemMembers(ok), bundle.ErrMalformed},
		{"unknown-field", with(func(m map[string]any) { m["extra"] = true }), itemMembers(ok), bundle.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bundle.Read(bytes.NewReader(craft(t, key, tt.manifest, tt.members)), pub)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("control bundle refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Read = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestWriteRefuses: Write does not make a bundle Read would refuse.
func TestWriteRefuses(t *testing.T) {
	for _, p := range []string{"", "../x", "/x", "a/./b", "a/.b", bundle.ManifestName, bundle.SignatureName} {
		var buf bytes.Buffer
		err := bundle.Write(&buf, []bundle.Document{{Item: bundle.Item{Path: p}}}, created, testKey(1))
		if !errors.Is(err, bundle.ErrMalformed) {
			t.Errorf("Write(path %q) = %v, want ErrMalformed", p, err)
		}
	}
	docs := syntheticDocs()
	if err := bundle.Write(&bytes.Buffer{}, append(docs, docs[0]), created, testKey(1)); !errors.Is(err, bundle.ErrMalformed) {
		t.Errorf("Write of a path twice = %v, want ErrMalformed", err)
	}
}

func ExampleRead() {
	key := testKey(1)
	var buf bytes.Buffer
	docs := []bundle.Document{{Item: bundle.Item{Kind: "root_crl", Key: "Intel SGX Root CA", Path: "intel-pcs/IntelSGXRootCA.der"}, Data: []byte("DER")}}
	if err := bundle.Write(&buf, docs, created, key); err != nil {
		fmt.Println(err)
		return
	}
	b, err := bundle.Read(&buf, key.Public().(ed25519.PublicKey))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range b.Documents {
		fmt.Println(d.Path, d.Size, d.SHA256[:16])
	}
	// Output: intel-pcs/IntelSGXRootCA.der 3 bffd28c8eeb10a5e
}
