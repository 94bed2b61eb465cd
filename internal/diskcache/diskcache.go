// Package diskcache holds what the collateral clients share about their
// on-disk caches: where they live and how a document is written so that a
// reader never sees half of it.
package diskcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/assay-dev/assay/attest"
)

// Dir is $XDG_CACHE_HOME/assay/<name>, or <name> under the platform's user
// cache directory (~/.cache on Linux) when XDG_CACHE_HOME is unset. A
// relative XDG_CACHE_HOME is ignored, as the XDG Base Directory
// Specification requires: it would put the cache wherever the command
// happens to run.
func Dir(name string) (string, error) {
	if base := os.Getenv("XDG_CACHE_HOME"); filepath.IsAbs(base) {
		return filepath.Join(base, "assay", name), nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		// On Unix, UserCacheDir refuses a relative XDG_CACHE_HOME instead
		// of falling back to ~/.cache.
		home, herr := os.UserHomeDir()
		if herr != nil {
			return "", err
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "assay", name), nil
}

// WriteAtomic writes b to file through a temporary file in the same
// directory and a rename.
func WriteAtomic(file string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// Meta is what the cache keeps beside a document: where it came from,
// when, and how far its signature was checked. It lives in a hidden
// sidecar file (MetaFile) that the cache's listing skips, and it belongs
// to the exact bytes it was written with (SHA256): a document replaced by
// other means (copied in, edited) has no recorded source.
type Meta struct {
	// Source is the URL the document was fetched from, or
	// "bundle:<created>/<signer>" for a document a signed bundle installed.
	Source string `json:"source"`
	// FetchedAt is when it was fetched or imported.
	FetchedAt time.Time `json:"fetched_at"`
	// Signature is "verified" when the document was checked up to the
	// vendor roots before it was written (bundle import), "unchecked" when
	// only its form was (the clients leave signatures to the verifier).
	Signature string `json:"signature"`
	// SHA256 is the hex digest of the document the record is about.
	SHA256 string `json:"sha256"`
}

// Signature statuses of Meta.
const (
	SignatureVerified  = "verified"
	SignatureUnchecked = "unchecked"
)

// MetaFile is the sidecar of a cache file: ".NAME.meta" in its directory.
func MetaFile(file string) string {
	return filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".meta")
}

// maxMeta bounds a sidecar read: a record is a few hundred bytes.
const maxMeta = 64 << 10

// WriteDocument writes b to file atomically and its record m (SHA256
// filled in) to the sidecar. The sidecar is written first: a reader that
// sees the new document sees its record, and a record that does not
// match the document's digest is ignored. A failure to write the sidecar
// is returned after the document is written.
func WriteDocument(file string, b []byte, m Meta) error {
	sum := sha256.Sum256(b)
	m.SHA256 = hex.EncodeToString(sum[:])
	m.FetchedAt = m.FetchedAt.UTC()
	rec, err := json.Marshal(m)
	if err != nil {
		return err
	}
	merr := WriteAtomic(MetaFile(file), rec)
	if err := WriteAtomic(file, b); err != nil {
		return err
	}
	if merr != nil {
		return fmt.Errorf("recording the source of %s: %w", file, merr)
	}
	return nil
}

// Remove deletes a cache file and its record; a file already gone is
// not an error.
func Remove(file string) error {
	err := os.Remove(file)
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if merr := os.Remove(MetaFile(file)); merr != nil && !errors.Is(merr, fs.ErrNotExist) && err == nil {
		err = merr
	}
	return err
}

// ReadMeta returns the record of file whose content is b; ok is false
// when there is none, it does not parse, or it is about other bytes.
func ReadMeta(file string, b []byte) (m Meta, ok bool) {
	f, err := os.Open(MetaFile(file))
	if err != nil {
		return Meta{}, false
	}
	defer f.Close()
	rec, err := io.ReadAll(io.LimitReader(f, maxMeta))
	if err != nil || json.Unmarshal(rec, &m) != nil {
		return Meta{}, false
	}
	sum := sha256.Sum256(b)
	if m.SHA256 != hex.EncodeToString(sum[:]) {
		return Meta{}, false
	}
	return m, true
}

// RecordUse notes, for the appraisal running in ctx, a collateral
// document a client served (attest's collateral recorder). from is
// "fetched" (just now, from url) or "cache": then raw is the cache file's
// content, and its record (ReadMeta) gives the source and fetch time;
// without a record the document counts as fetched when its file was
// written.
func RecordUse(ctx context.Context, what, url, from, file string, raw []byte) {
	if !attest.RecordingCollateral(ctx) {
		return
	}
	fetched, source := time.Now(), url
	if from == "cache" {
		source = ""
		if m, ok := ReadMeta(file, raw); ok {
			fetched, source = m.FetchedAt, m.Source
		} else if fi, err := os.Stat(file); err == nil {
			fetched = fi.ModTime()
		}
	}
	attest.RecordCollateral(ctx, attest.CollateralUse{What: what, URL: url, From: from, FetchedFrom: source, FetchedAt: fetched.UTC(),
		AgeSeconds: int64(time.Since(fetched) / time.Second)})
}
