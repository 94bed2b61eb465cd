package bundle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/assay-dev/assay/collateral/cache"
	"github.com/assay-dev/assay/internal/diskcache"
)

// Installed is one document of an imported bundle.
type Installed struct {
	Item cache.Item
	Path string // relative to the cache root, slash-separated
	cache.Validity
	// Kept is set when the cache already held a genuine copy usable
	// longer (a later nextUpdate) and it was kept: an import never rolls
	// a CRL, TCB info or QE identity back to an earlier issue.
	Kept bool
}

// Import installs a verified bundle into the cache at root. First every
// document is checked as the collateral its path names (cache.Item
// ValidateAt: genuine up to the AMD and Intel roots built into the
// verifiers, exactly the chip, TCB, FMSPC or CA of its path, kind and key
// as the manifest says, not expired at at) and every destination is
// checked to stay inside root (no symbolic link or non-directory on the
// way, no non-regular file in the place). Only if all of that holds is
// anything written: each document atomically (diskcache.WriteAtomic),
// replacing the cache's copy unless that copy is genuine and usable
// longer (Installed.Kept). Every problem is reported, each naming its
// document.
func Import(b *Bundle, root string, at time.Time) ([]Installed, error) {
	var out []Installed
	var errs []error
	for _, d := range b.Documents {
		it, err := cache.Identify(d.Path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %w", ErrInvalid, d.Path, err))
			continue
		}
		if it.Kind() != d.Kind || it.Key() != d.Key {
			errs = append(errs, fmt.Errorf("%w: %s holds %s %q, the manifest says %s %q", ErrInvalid, d.Path, it.Kind(), it.Key(), d.Kind, d.Key))
			continue
		}
		v, err := it.ValidateAt(d.Data, at)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %w", ErrInvalid, d.Path, err))
			continue
		}
		if err := inside(root, d.Path); err != nil {
			errs = append(errs, err)
			continue
		}
		in := Installed{Item: it, Path: d.Path, Validity: v}
		if _, e, err := cache.Read(root, it); err == nil && !e.Expired(at) && e.Until.After(v.Until) {
			in.Kept = true
		}
		out = append(out, in)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Every document was checked up to the vendor roots above.
	meta := diskcache.Meta{Source: b.SourceID(), FetchedAt: time.Now(), Signature: diskcache.SignatureVerified}
	for i, d := range b.Documents {
		if out[i].Kept {
			continue
		}
		if err := diskcache.WriteDocument(filepath.Join(root, filepath.FromSlash(d.Path)), d.Data, meta); err != nil {
			return nil, fmt.Errorf("writing %s: %w", d.Path, err)
		}
	}
	return out, nil
}

// SourceID names the bundle as the source of the documents it installs:
// "bundle:" and its creation time and the first 16 hex digits of its
// signer's key ID.
func (b *Bundle) SourceID() string {
	signer := b.Manifest.Signer
	if len(signer) > 16 {
		signer = signer[:16]
	}
	return "bundle:" + b.Manifest.Created.UTC().Format(time.RFC3339) + "/" + signer
}

// inside checks that writing rel under root stays under root: no
// existing element on the way is a symbolic link or anything but a
// directory, and the file itself, if present, is a regular file.
func inside(root, rel string) error {
	if !cache.Clean(rel) {
		return fmt.Errorf("%w: %q is not a clean relative path", ErrMalformed, rel)
	}
	els := strings.Split(rel, "/")
	p := root
	for i, el := range els {
		p = filepath.Join(p, el)
		info, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		last := i == len(els)-1
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: %s: %s is a symbolic link; refusing to write through it", ErrMalformed, rel, p)
		case !last && !info.IsDir():
			return fmt.Errorf("%w: %s: %s is not a directory", ErrMalformed, rel, p)
		case last && !info.Mode().IsRegular():
			return fmt.Errorf("%w: %s: %s exists and is not a regular file", ErrMalformed, rel, p)
		}
	}
	return nil
}
