// Package ovmfimage gives tests Debian bookworm's OVMF.fd (ovmf
// 2022.11-6+deb12u2, edk2-stable202211 OvmfPkgX64, 2 MiB), which
// measure/tdx keeps gzipped in its testdata (see the README there for its
// source and the values other implementations compute from it). It uses
// the standard library alone, so the measure packages' tests can use it.
package ovmfimage

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// SHA256 is the SHA-256 of the uncompressed image.
const SHA256 = "7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773"

// Debian returns the uncompressed image, after checking it is the one the
// tests' expected values were computed from.
func Debian(t testing.TB) []byte {
	t.Helper()
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("ovmfimage: cannot locate the repository")
	}
	path := filepath.Join(filepath.Dir(here), "..", "..", "..", "measure", "tdx", "testdata", "debian-ovmf-2022.11-6+deb12u2.fd.gz")
	gz, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	img, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(img); hex.EncodeToString(sum[:]) != SHA256 {
		t.Fatalf("OVMF.fd has SHA-256 %x, want %s (the image the expected values were computed from)", sum, SHA256)
	}
	return img
}
