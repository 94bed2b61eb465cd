package diskcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
)

// TestMetaFollowsTheDocument: a record is read back only for the bytes it
// was written with; a document replaced by other means has none.
func TestMetaFollowsTheDocument(t *testing.T) {
	file := filepath.Join(t.TempDir(), "amd-kds", "vcek", "v1", "Milan", "crl")
	doc := []byte("a CRL")
	at := time.Date(2025, 6, 19, 11, 0, 0, 0, time.FixedZone("x", 3600))
	if err := WriteDocument(file, doc, Meta{Source: "https://kds.example/vcek/v1/Milan/crl", FetchedAt: at, Signature: SignatureUnchecked}); err != nil {
		t.Fatal(err)
	}
	m, ok := ReadMeta(file, doc)
	if !ok || m.Source != "https://kds.example/vcek/v1/Milan/crl" || !m.FetchedAt.Equal(at) || m.FetchedAt.Location() != time.UTC || m.Signature != SignatureUnchecked {
		t.Fatalf("record %+v (%v)", m, ok)
	}
	if filepath.Base(MetaFile(file)) != ".crl.meta" {
		t.Errorf("sidecar %s, want hidden beside the document", MetaFile(file))
	}
	if _, ok := ReadMeta(file, []byte("another CRL")); ok {
		t.Error("a record was read for other bytes")
	}
	if err := os.WriteFile(MetaFile(file), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := ReadMeta(file, doc); ok {
		t.Error("a damaged record was read")
	}
}

// TestRecordUse: a cached document is reported with its recorded source
// and fetch time; an unrecorded one without a source, as old as its file.
func TestRecordUse(t *testing.T) {
	dir := t.TempDir()
	recorded, bare := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	fetched := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	if err := WriteDocument(recorded, []byte("A"), Meta{Source: "bundle:2025-06-19T11:00:00Z/0123456789abcdef", FetchedAt: fetched, Signature: SignatureVerified}); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(bare, []byte("B")); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	if err := os.Chtimes(bare, old, old); err != nil {
		t.Fatal(err)
	}
	RecordUse(context.Background(), "crl", "u", "cache", recorded, []byte("A")) // no recorder: nothing to do
	ctx := attest.WithCollateralRecorder(context.Background())
	RecordUse(ctx, "crl", "https://kds.example/crl", "cache", recorded, []byte("A"))
	RecordUse(ctx, "vcek", "https://kds.example/vcek", "cache", bare, []byte("B"))
	RecordUse(ctx, "cert_chain", "https://kds.example/cert_chain", "fetched", "", nil)
	got := attest.RecordedCollateral(ctx)
	if len(got) != 3 {
		t.Fatalf("%d recorded, want 3: %+v", len(got), got)
	}
	if c := got[0]; c.FetchedFrom != "bundle:2025-06-19T11:00:00Z/0123456789abcdef" || !c.FetchedAt.Equal(fetched) || c.AgeSeconds < 3600 {
		t.Errorf("recorded document: %+v", c)
	}
	if c := got[1]; c.FetchedFrom != "" || !c.FetchedAt.Equal(old.UTC()) || c.AgeSeconds < 7200 {
		t.Errorf("unrecorded document: %+v", c)
	}
	if c := got[2]; c.FetchedFrom != "https://kds.example/cert_chain" || c.From != "fetched" || c.AgeSeconds > 5 {
		t.Errorf("fetched document: %+v", c)
	}
}

// FuzzReadMeta: whatever a sidecar holds, ReadMeta does not panic, and
// it returns a record only when the record names the document's digest.
func FuzzReadMeta(f *testing.F) {
	f.Add([]byte(`{"source":"https://kdsintf.amd.com/vcek/v1/Milan/crl","fetched_at":"2025-06-19T11:00:00Z","signature":"unchecked","sha256":"00"}`), []byte("doc"))
	f.Add([]byte(`{"source":"bundle:2025-06-19T11:00:00Z/0123456789abcdef","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}`), []byte{})
	f.Add([]byte(`[]`), []byte("doc"))
	f.Add([]byte(`{"fetched_at":"not a time"}`), []byte("doc"))
	f.Fuzz(func(t *testing.T, rec, doc []byte) {
		file := filepath.Join(t.TempDir(), "doc")
		if err := os.WriteFile(MetaFile(file), rec, 0o644); err != nil {
			t.Fatal(err)
		}
		m, ok := ReadMeta(file, doc)
		if !ok {
			return
		}
		sum := sha256.Sum256(doc)
		if m.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("record for digest %s returned for a document with %x", m.SHA256, sum)
		}
	})
}
