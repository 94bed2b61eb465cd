// Package cache knows the layout of the collateral cache that the AMD KDS
// and Intel PCS clients share: which file holds which document, what a
// file holds, whether it is genuine and until when it is usable, and what
// a piece of evidence needs from it to be appraised offline.
//
// A cache root holds one directory per source:
//
//	ROOT/amd-kds/    collateral/kds Client.CacheDir (VCEKs, cert chains, CRLs)
//	ROOT/intel-pcs/  collateral/pcs Client.CacheDir (TCB info, QE identity, CRLs)
//
// ROOT is --cache-dir (assay serve: DATA/collateral), or
// $XDG_CACHE_HOME/assay. Validation here is stricter than the clients'
// own check, which leaves signatures to the verifier: a document must
// chain to the AMD or Intel roots built into the verifiers, because this
// package is for documents that arrive by other roads than the vendor's
// service (offline bundles, status reports on copied caches).
package cache

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/assay-dev/assay/collateral/kds"
	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/internal/diskcache"
)

// Source directories under a cache root.
const (
	SourceKDS = "amd-kds"
	SourcePCS = "intel-pcs"
)

// ErrUnknown wraps the error for a path that names no document this
// package knows.
var ErrUnknown = errors.New("not a collateral cache file")

// ErrExpired wraps the error for a document past its notAfter or
// nextUpdate at the time asked about.
var ErrExpired = errors.New("expired")

// Item is one document of the cache: from AMD KDS or from Intel PCS.
type Item struct {
	// Source is SourceKDS or SourcePCS; it says which of KDS and PCS is
	// set.
	Source string
	KDS    kds.Document
	PCS    pcs.Document
}

// KDSItem is the item of a KDS document.
func KDSItem(d kds.Document) Item { return Item{Source: SourceKDS, KDS: d} }

// PCSItem is the item of a PCS document.
func PCSItem(d pcs.Document) Item { return Item{Source: SourcePCS, PCS: d} }

// Kind is the document kind: "vcek", "cert_chain", "crl" (AMD);
// "tcb_info", "qe_identity", "pck_crl", "root_crl" (Intel).
func (it Item) Kind() string {
	if it.Source == SourceKDS {
		return string(it.KDS.Kind)
	}
	return string(it.PCS.Kind)
}

// Key names the document within its kind ("Milan vcek", "tdx
// fmspc=B0C06F000000").
func (it Item) Key() string {
	if it.Source == SourceKDS {
		return it.KDS.String()
	}
	return it.PCS.String()
}

// String is source, kind and key.
func (it Item) String() string { return it.Source + " " + it.Kind() + " " + it.Key() }

// Path is the item's file under a cache root, slash-separated.
func (it Item) Path() (string, error) {
	var name string
	var err error
	switch it.Source {
	case SourceKDS:
		name, err = it.KDS.CacheFile()
	case SourcePCS:
		name, err = it.PCS.CacheFile()
	default:
		return "", fmt.Errorf("%w: unknown source %q", ErrUnknown, it.Source)
	}
	if err != nil {
		return "", err
	}
	return it.Source + "/" + name, nil
}

// URLs are the services documents are fetched from; empty fields mean
// the vendors' defaults.
type URLs struct {
	KDS, PCS, RootCRL string
}

// URL is where the item is served.
func (it Item) URL(u URLs) string {
	if it.Source == SourceKDS {
		return it.KDS.URL(u.KDS)
	}
	return it.PCS.URL(u.PCS, u.RootCRL)
}

// Validity is a document's lifetime as its own fields give it.
type Validity = diskcache.Validity

// Validate checks that b is the document it names, genuine up to the
// embedded vendor roots (kds.Validate, pcs.Validate). Time is not judged.
func (it Item) Validate(b []byte) (Validity, error) {
	switch it.Source {
	case SourceKDS:
		return kds.Validate(it.KDS, b)
	case SourcePCS:
		return pcs.Validate(it.PCS, b)
	}
	return Validity{}, fmt.Errorf("%w: unknown source %q", ErrUnknown, it.Source)
}

// ValidateAt is Validate, and an error wrapping ErrExpired when the
// document is past its Until at t.
func (it Item) ValidateAt(b []byte, t time.Time) (Validity, error) {
	v, err := it.Validate(b)
	if err != nil {
		return v, err
	}
	if v.Expired(t) {
		return v, fmt.Errorf("%w: %s %s: its %s %s is before %s", ErrExpired, it.Kind(), it.Key(), v.Bound, v.Until.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	}
	return v, nil
}

// Identify names the document a cache file holds, from its path relative
// to the cache root (slash-separated). Only the exact names the clients
// write are recognised.
func Identify(rel string) (Item, error) {
	if !fs.ValidPath(rel) || strings.Contains(rel, `\`) {
		return Item{}, fmt.Errorf("%w: %q is not a clean relative path", ErrUnknown, rel)
	}
	source, name, ok := strings.Cut(rel, "/")
	if !ok {
		return Item{}, fmt.Errorf("%w: %q", ErrUnknown, rel)
	}
	switch source {
	case SourceKDS:
		d, err := kds.ParseCacheFile(name)
		if err != nil {
			return Item{}, fmt.Errorf("%w: %w", ErrUnknown, err)
		}
		return KDSItem(d), nil
	case SourcePCS:
		d, err := pcs.ParseCacheFile(name)
		if err != nil {
			return Item{}, fmt.Errorf("%w: %w", ErrUnknown, err)
		}
		return PCSItem(d), nil
	}
	return Item{}, fmt.Errorf("%w: %q is under neither %s/ nor %s/", ErrUnknown, rel, SourceKDS, SourcePCS)
}

// Entry is one file of a cache root, as List found it.
type Entry struct {
	// Path is relative to the root, slash-separated.
	Path string
	// Item is the document the path names; zero when Err wraps
	// ErrUnknown.
	Item Item
	Size int64
	// ModTime is when the file was written: when it was fetched or
	// imported.
	ModTime time.Time
	// Record is what the cache recorded beside the document (its source,
	// fetch time and how far its signature was checked when written);
	// zero when there is no record for these bytes (HasRecord false).
	Record    diskcache.Meta
	HasRecord bool
	Validity
	// Err is why the file is not a usable document (unknown name, does
	// not validate); nil for a genuine one. Expiry is not an error here:
	// see Validity.Expired.
	Err error
}

// FetchedAt is when the document was fetched or imported: as recorded,
// else when its file was written.
func (e Entry) FetchedAt() time.Time {
	if e.HasRecord {
		return e.Record.FetchedAt
	}
	return e.ModTime
}

// maxDocument bounds a cache file List reads: the clients refuse bodies
// over 1 MiB, and the PCS envelope adds base64 and a chain.
const maxDocument = 4 << 20

// List returns every file under root's source directories, in path
// order, each identified and validated. Hidden files (the clients'
// temporary files) are skipped; a missing root or source directory is
// empty.
func List(root string) ([]Entry, error) {
	var out []Entry
	for _, source := range []string{SourceKDS, SourcePCS} {
		dir := filepath.Join(root, source)
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && p == dir {
					return nil
				}
				return err
			}
			if strings.HasPrefix(d.Name(), ".") && p != dir {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			out = append(out, entry(p, filepath.ToSlash(rel), d))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func entry(file, rel string, d fs.DirEntry) Entry {
	e := Entry{Path: rel}
	info, err := d.Info()
	if err != nil {
		e.Err = err
		return e
	}
	e.Size, e.ModTime = info.Size(), info.ModTime()
	if !d.Type().IsRegular() {
		e.Err = fmt.Errorf("%w: %s is a %s, not a regular file", ErrUnknown, rel, d.Type())
		return e
	}
	it, err := Identify(rel)
	if err != nil {
		e.Err = err
		return e
	}
	e.Item = it
	b, err := readFile(file)
	if err != nil {
		e.Err = err
		return e
	}
	e.Record, e.HasRecord = diskcache.ReadMeta(file, b)
	e.Validity, e.Err = it.Validate(b)
	return e
}

// Read returns the cached copy of it under root, validated; fs.ErrNotExist
// when there is none.
func Read(root string, it Item) ([]byte, Entry, error) {
	rel, err := it.Path()
	if err != nil {
		return nil, Entry{}, err
	}
	file := filepath.Join(root, filepath.FromSlash(rel))
	info, err := os.Lstat(file)
	if err != nil {
		return nil, Entry{}, err
	}
	e := Entry{Path: rel, Item: it, Size: info.Size(), ModTime: info.ModTime()}
	if !info.Mode().IsRegular() {
		e.Err = fmt.Errorf("%w: %s is not a regular file", ErrUnknown, rel)
		return nil, e, e.Err
	}
	b, err := readFile(file)
	if err != nil {
		e.Err = err
		return nil, e, err
	}
	e.Record, e.HasRecord = diskcache.ReadMeta(file, b)
	e.Validity, e.Err = it.Validate(b)
	return b, e, e.Err
}

func readFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxDocument+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxDocument {
		return nil, fmt.Errorf("%s is larger than %d MiB: not a collateral document", file, maxDocument>>20)
	}
	return b, nil
}

// Clean reports whether rel is a path a bundle or a cache may hold: a
// relative, slash-separated path with no empty, "." or ".." element, no
// backslash and no hidden element.
func Clean(rel string) bool {
	if !fs.ValidPath(rel) || rel == "." || strings.Contains(rel, `\`) || path.Clean(rel) != rel {
		return false
	}
	for _, el := range strings.Split(rel, "/") {
		if strings.HasPrefix(el, ".") {
			return false
		}
	}
	return true
}
