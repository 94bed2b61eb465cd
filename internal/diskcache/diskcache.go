// Package diskcache holds what the collateral clients share about their
// on-disk caches: where they live and how a document is written so that a
// reader never sees half of it.
package diskcache

import (
	"context"
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

// RecordUse notes, for the appraisal running in ctx, a collateral
// document a client served from its cache or fetched (attest's
// collateral recorder): fetched now, or when its cache file was written.
func RecordUse(ctx context.Context, what, url, from, file string) {
	fetched := time.Now()
	if file != "" {
		if fi, err := os.Stat(file); err == nil {
			fetched = fi.ModTime()
		}
	}
	attest.RecordCollateral(ctx, attest.CollateralUse{What: what, URL: url, From: from, FetchedAt: fetched.UTC(),
		AgeSeconds: int64(time.Since(fetched) / time.Second)})
}
