package bundle_test

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/assay-dev/assay/collateral/bundle"
	"github.com/assay-dev/assay/collateral/cache"
)

// FuzzReadBundle: Read never panics, fails only with ErrMalformed or
// ErrSignature, and what it accepts is stable: its documents, written
// again with the same key and time, read back the same. The committed
// seeds (testdata/fuzz/FuzzReadBundle) are bundles signed with
// testKey(1): valid ones, and ones refused for their structure.
func FuzzReadBundle(f *testing.F) {
	key := testKey(1)
	pub := key.Public().(ed25519.PublicKey)
	f.Add(writeBundle(f, syntheticDocs(), key))
	f.Add(writeBundle(f, nil, key))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := bundle.Read(bytes.NewReader(b), pub)
		if err != nil {
			if !errors.Is(err, bundle.ErrMalformed) && !errors.Is(err, bundle.ErrSignature) {
				t.Fatalf("Read = %v, want ErrMalformed or ErrSignature", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := bundle.Write(&buf, got.Documents, got.Manifest.Created, key); err != nil {
			t.Fatalf("an accepted bundle's documents do not write: %v", err)
		}
		again, err := bundle.Read(&buf, pub)
		if err != nil {
			t.Fatalf("rewritten bundle refused: %v", err)
		}
		if !reflect.DeepEqual(again.Documents, got.Documents) {
			t.Fatalf("rewritten bundle reads back other documents")
		}
	})
}

// FuzzReadSignedManifest reaches what FuzzReadBundle cannot (the fuzzer
// cannot forge a signature): it signs whatever manifest it is given,
// with one document, and checks that Read never panics and never accepts
// a path that could leave the cache.
func FuzzReadSignedManifest(f *testing.F) {
	key := testKey(1)
	pub := key.Public().(ed25519.PublicKey)
	doc := []byte("amd-kds/vcek/v1/Milan/crl")
	for _, p := range []string{"amd-kds/vcek/v1/Milan/crl", "../x", "/x", "a//b", "a/./b"} {
		m := manifestOf(p)
		m["items"].([]map[string]any)[0]["sha256"] = fmt.Sprintf("%x", sha256.Sum256(doc))
		m["items"].([]map[string]any)[0]["size"] = len(doc)
		b, err := json.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, doc)
	}
	f.Fuzz(func(t *testing.T, manifest, data []byte) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, m := range []struct {
			name string
			b    []byte
		}{{bundle.ManifestName, manifest}, {"items/1", data}, {bundle.SignatureName, ed25519.Sign(key, manifest)}} {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: m.name, Size: int64(len(m.b)), Mode: 0o644, Format: tar.FormatUSTAR}); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(m.b); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := bundle.Read(&buf, pub)
		if err != nil {
			if !errors.Is(err, bundle.ErrMalformed) && !errors.Is(err, bundle.ErrSignature) {
				t.Fatalf("Read = %v, want ErrMalformed or ErrSignature", err)
			}
			return
		}
		for _, d := range b.Documents {
			if !cache.Clean(d.Path) || strings.Contains(d.Path, "..") || strings.HasPrefix(d.Path, "/") {
				t.Fatalf("accepted path %q", d.Path)
			}
		}
	})
}
