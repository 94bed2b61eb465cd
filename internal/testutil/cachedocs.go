package testutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// CacheDocuments lists the documents of a collateral cache directory:
// its regular files but the hidden ones (the records diskcache keeps
// beside each document, temporary files). A record whose document is
// gone is an error: a document and its record go together. A missing dir
// is empty.
func CacheDocuments(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if !strings.HasPrefix(d.Name(), ".") {
			out = append(out, p)
			return nil
		}
		if name, ok := strings.CutSuffix(d.Name()[1:], ".meta"); ok {
			if _, err := os.Stat(filepath.Join(filepath.Dir(p), name)); err != nil {
				t.Errorf("record %s outlives its document: %v", p, err)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}
