package tcg_test

import (
	"crypto"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

// TestFindBootAggregate: keylime's IMA list starts with its
// boot_aggregate (keylime-ima.ascii line 1: sha256:e4cb9f57…).
func TestFindBootAggregate(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "keylime-ima.bin"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := tcg.ParseIMA(raw)
	if err != nil {
		t.Fatal(err)
	}
	ba, ok := l.FindBootAggregate(0)
	if !ok || ba.Num != 0 || ba.Alg != crypto.SHA256 || ba.AlgName != "sha256" ||
		hex.EncodeToString(ba.Digest) != "e4cb9f5709c88376b5fc3743cd88e76b9aae8f3d992d845678de5215edb31216" {
		t.Errorf("boot_aggregate %+v %v", ba, ok)
	}
	l.Entries = l.Entries[1:]
	if _, ok := l.FindBootAggregate(0); ok {
		t.Error("found a boot_aggregate in a list without one")
	}
}

// TestBootAggregateDigest: PCRs 0 to upTo in order, each once; a PCR
// missing is an error.
func TestBootAggregateDigest(t *testing.T) {
	pcrs := map[int][]byte{}
	want := sha1.New()
	for i := 0; i <= 9; i++ {
		v := make([]byte, 20)
		v[0] = byte(i + 1)
		pcrs[i] = v
		if i <= 7 {
			want.Write(v)
		}
	}
	got, err := tcg.BootAggregateDigest(crypto.SHA1, pcrs, 7)
	if err != nil || hex.EncodeToString(got) != hex.EncodeToString(want.Sum(nil)) {
		t.Errorf("PCRs 0-7: %x %v", got, err)
	}
	got9, err := tcg.BootAggregateDigest(crypto.SHA1, pcrs, 9)
	if err != nil || hex.EncodeToString(got9) == hex.EncodeToString(got) {
		t.Errorf("PCRs 0-9 same as 0-7 or failed: %v", err)
	}
	delete(pcrs, 8)
	if _, err := tcg.BootAggregateDigest(crypto.SHA1, pcrs, 9); err == nil {
		t.Error("PCR 8 missing was accepted")
	}
	if _, err := tcg.BootAggregateDigest(crypto.MD4, pcrs, 7); err == nil {
		t.Error("an unavailable hash was accepted")
	}
}
