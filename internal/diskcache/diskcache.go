// Package diskcache holds what the collateral clients share about their
// on-disk caches: where they live and how a document is written so that a
// reader never sees half of it.
package diskcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
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

// ErrStale is matched (errors.Is) by a client's check failure that says
// only that a document is past its nextUpdate: the document is otherwise
// what was asked for.
var ErrStale = errors.New("past its nextUpdate")

type staleError string

func (e staleError) Error() string        { return string(e) }
func (e staleError) Is(target error) bool { return target == ErrStale }

// Stale is an error with message format(a...) that matches ErrStale.
func Stale(format string, a ...any) error { return staleError(fmt.Sprintf(format, a...)) }

// StalePolicy says what a collateral client does with a cached document
// past its nextUpdate (an ErrStale check failure). The zero value
// discards it and fetches the document again, failing if that fails.
type StalePolicy struct {
	// Keep keeps such a document and serves it when no current copy can
	// be had (the vendor is down): the verifier then judges how stale it
	// is (attest.Freshness).
	Keep bool
	// Background, with Keep, serves it at once and refreshes it in the
	// background under this context (the service's lifetime): the
	// appraisal never waits on the vendor. Nil fetches first, and falls
	// back to the stale copy only if that fails.
	Background context.Context
	// Refreshed, if set, is told of the outcome of every background
	// refresh (err nil: the new document is cached; otherwise the old one
	// stays).
	Refreshed func(what string, err error)
}

// Revalidator runs at most one background refresh per document at a
// time; its zero value is ready. Requests that find the document stale
// while a refresh runs do not start another.
type Revalidator struct {
	mu      sync.Mutex
	running map[string]bool
}

// Go starts refresh for key under p.Background unless one is running;
// it reports whether it started one. The outcome goes to p.Refreshed.
func (rv *Revalidator) Go(p StalePolicy, key, what string, refresh func(context.Context) error) bool {
	if p.Background == nil || p.Background.Err() != nil {
		return false
	}
	rv.mu.Lock()
	if rv.running[key] {
		rv.mu.Unlock()
		return false
	}
	if rv.running == nil {
		rv.running = map[string]bool{}
	}
	rv.running[key] = true
	rv.mu.Unlock()
	go func() {
		err := refresh(p.Background)
		rv.mu.Lock()
		delete(rv.running, key)
		rv.mu.Unlock()
		if p.Refreshed != nil {
			p.Refreshed(what, err)
		}
	}()
	return true
}

type refreshKey struct{}

// WithRefresh marks ctx as a refresh: a client asked for a document under
// it fetches the document even when its cache holds a current copy (and
// keeps that copy if the fetch fails). The refresher of a service uses it
// to renew documents before their nextUpdate.
func WithRefresh(ctx context.Context) context.Context {
	return context.WithValue(ctx, refreshKey{}, true)
}

// Refreshing reports whether ctx is a refresh (WithRefresh).
func Refreshing(ctx context.Context) bool {
	v, _ := ctx.Value(refreshKey{}).(bool)
	return v
}

// Validity is a cached document's lifetime as its own fields give it
// (collateral's Validate functions return it).
type Validity struct {
	// Until is when the document stops being usable: a certificate's
	// notAfter (the earliest, for a chain), or the nextUpdate of a CRL,
	// TCB info or QE identity.
	Until time.Time `json:"until"`
	// Bound names Until: "notAfter" or "nextUpdate".
	Bound string `json:"bound"`
}

// Expired reports whether the document is past Until at t.
func (v Validity) Expired(t time.Time) bool { return t.After(v.Until) }

// ValidateCRL checks that b is exactly one DER CRL issued and signed by
// issuer, and returns its nextUpdate. Errors say what is wrong; callers
// wrap them with the document's name.
func ValidateCRL(b []byte, issuer *x509.Certificate) (Validity, error) {
	crl, err := x509.ParseRevocationList(b)
	if err != nil {
		return Validity{}, fmt.Errorf("not a DER CRL: %v", err)
	}
	// ParseRevocationList ignores bytes after the CRL.
	if len(crl.Raw) != len(b) {
		return Validity{}, fmt.Errorf("%d bytes after the CRL", len(b)-len(crl.Raw))
	}
	if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		return Validity{}, fmt.Errorf("the CRL is issued by %q, want %q", crl.Issuer.CommonName, issuer.Subject.CommonName)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return Validity{}, fmt.Errorf("the CRL does not verify with the embedded %s: %v", issuer.Subject.CommonName, err)
	}
	return Validity{Until: crl.NextUpdate, Bound: "nextUpdate"}, nil
}
