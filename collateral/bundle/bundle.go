// Package bundle reads and writes offline collateral bundles: a signed
// copy of collateral cache documents that carries a verifier's cache
// across an air gap (docs/collateral.md, "Air-gapped operation").
//
// A bundle is one POSIX ustar archive of regular files, in this order:
//
//	manifest.json   the manifest (below), exactly the bytes signed
//	items/1 ...     the documents, in manifest order, members items/1 to items/N
//	manifest.sig    the 64-byte Ed25519 signature (RFC 8032) over manifest.json
//
// The manifest is JSON:
//
//	{"format":"assay-collateral-bundle","version":1,
//	 "created":"2025-06-19T11:00:00Z",
//	 "signer":"<hex SHA-256 of the signing key's PKIX DER>",
//	 "items":[{"kind":"vcek","key":"Milan hwid=… blSPL=3 …",
//	           "path":"amd-kds/vcek/v1/Milan/…@blSPL=3,…",
//	           "sha256":"<hex>","size":1361}, …]}
//
// path is where the document goes under a cache root (package cache);
// kind and key say what it is and must agree with path. The signature
// covers the manifest and, through the SHA-256 digests, every document.
// Nothing in the archive besides those members is allowed: no other
// member, no PAX or GNU extension, no non-zero padding, nothing after
// the end-of-archive blocks. So a bundle changed in any byte is refused
// before any document is looked at.
package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/assay-dev/assay/collateral/cache"
)

// Format and Version identify the manifest.
const (
	Format  = "assay-collateral-bundle"
	Version = 1
)

// Member names.
const (
	ManifestName  = "manifest.json"
	SignatureName = "manifest.sig"
	itemPrefix    = "items/"
)

// Limits on what Read accepts.
const (
	// MaxSize bounds a bundle: a cache is a few kilobytes per machine
	// model, so 256 MiB is a very large fleet.
	MaxSize = 256 << 20
	// MaxItems bounds the manifest.
	MaxItems = 100000
)

// Error kinds. Every error of Read and Import wraps one of them.
var (
	// ErrMalformed: not a bundle this version reads (structure, manifest
	// fields, an unsafe path).
	ErrMalformed = errors.New("malformed collateral bundle")
	// ErrSignature: the manifest signature does not verify with the
	// trusted key, or a document does not match its signed digest.
	ErrSignature = errors.New("collateral bundle signature")
	// ErrInvalid: a document is signed but is not genuine collateral, is
	// not what its path says, or is expired.
	ErrInvalid = errors.New("invalid collateral in bundle")
)

// Manifest is the signed description of a bundle.
type Manifest struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	// Signer is KeyID of the signing key: informative, the signature
	// decides.
	Signer string `json:"signer"`
	Items  []Item `json:"items"`
}

// Item describes one document.
type Item struct {
	Kind   string `json:"kind"`
	Key    string `json:"key"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Document is an item with its bytes.
type Document struct {
	Item
	Data []byte
}

// Bundle is a read bundle whose signature and digests verified.
type Bundle struct {
	Manifest Manifest
	// Documents are in manifest order.
	Documents []Document
}

// KeyID names a public key: the hex SHA-256 of its PKIX DER.
func KeyID(pub ed25519.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

// Write writes a bundle of docs (Kind, Key, Path and Data set; SHA256 and
// Size are computed) created at created, signed with key.
func Write(w io.Writer, docs []Document, created time.Time, key ed25519.PrivateKey) error {
	created = created.UTC().Truncate(time.Second)
	m := Manifest{Format: Format, Version: Version, Created: created, Signer: KeyID(key.Public().(ed25519.PublicKey)), Items: []Item{}}
	seen := map[string]bool{}
	for _, d := range docs {
		if !cache.Clean(d.Path) || d.Path == ManifestName || d.Path == SignatureName {
			return fmt.Errorf("%w: item path %q is not a clean relative path", ErrMalformed, d.Path)
		}
		if seen[d.Path] {
			return fmt.Errorf("%w: item path %q twice", ErrMalformed, d.Path)
		}
		seen[d.Path] = true
		sum := sha256.Sum256(d.Data)
		it := d.Item
		it.SHA256, it.Size = hex.EncodeToString(sum[:]), int64(len(d.Data))
		m.Items = append(m.Items, it)
	}
	mb, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	mb = append(mb, '\n')
	tw := tar.NewWriter(w)
	add := func(name string, b []byte) error {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     name,
			Size:     int64(len(b)),
			Mode:     0o644,
			ModTime:  created,
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	if err := add(ManifestName, mb); err != nil {
		return err
	}
	for i, d := range docs {
		if err := add(itemPrefix+strconv.Itoa(i+1), d.Data); err != nil {
			return err
		}
	}
	if err := add(SignatureName, ed25519.Sign(key, mb)); err != nil {
		return err
	}
	return tw.Close()
}

// member is one archive member as read.
type member struct {
	name string
	data []byte
}

// countingReader counts what the tar reader consumed, so that Read can
// find the padding the tar reader skips unread. It has no Seek method:
// the tar reader must read every byte it passes over.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readMembers reads the archive strictly: regular ustar members only,
// zero padding, and nothing after the end-of-archive blocks.
func readMembers(b []byte) ([]member, error) {
	cr := &countingReader{r: bytes.NewReader(b)}
	tr := tar.NewReader(cr)
	var out []member
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: member %d: %v", ErrMalformed, len(out)+1, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("%w: member %d (%q) is of type %q, want a regular file", ErrMalformed, len(out)+1, hdr.Name, hdr.Typeflag)
		}
		if len(hdr.PAXRecords) != 0 || hdr.Format&tar.FormatUSTAR == 0 || hdr.Format&tar.FormatGNU != 0 {
			return nil, fmt.Errorf("%w: member %d (%q) is not a plain ustar member", ErrMalformed, len(out)+1, hdr.Name)
		}
		if len(out) > MaxItems+2 {
			return nil, fmt.Errorf("%w: more than %d members", ErrMalformed, MaxItems+2)
		}
		start := cr.n
		if err := checkChecksum(b[start-blockSize : start]); err != nil {
			return nil, fmt.Errorf("%w: member %q: %v", ErrMalformed, hdr.Name, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%w: member %q: %v", ErrMalformed, hdr.Name, err)
		}
		// Padding to the next 512-byte block must be zero; the tar reader
		// skips it without looking.
		end := start + hdr.Size
		padEnd := (end + blockSize - 1) &^ (blockSize - 1)
		if padEnd > int64(len(b)) || !allZero(b[end:padEnd]) {
			return nil, fmt.Errorf("%w: member %q: padding is not zero", ErrMalformed, hdr.Name)
		}
		out = append(out, member{hdr.Name, data})
	}
	// Two zero blocks end the archive (POSIX ustar) and nothing follows.
	if cr.n != int64(len(b)) || len(b) < 1024 || !allZero(b[len(b)-1024:]) {
		return nil, fmt.Errorf("%w: the archive does not end with two zero blocks and nothing after them", ErrMalformed)
	}
	return out, nil
}

// blockSize is the tar block size.
const blockSize = 512

// checkChecksum checks that a ustar header block's chksum field (bytes
// 148-155) is exactly what Write writes: six octal digits of the block's
// unsigned byte sum (the field counted as spaces), a NUL and a space. The
// tar reader compares the field's value only, and ignores what follows a
// NUL in it and spaces around it, so without this check a changed byte
// there would go unnoticed.
func checkChecksum(blk []byte) error {
	sum := 0
	for i, c := range blk {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int(c)
	}
	if want := fmt.Sprintf("%06o\x00 ", sum); string(blk[148:156]) != want {
		return fmt.Errorf("header checksum field is %q, want %q", blk[148:156], want)
	}
	return nil
}

// Read reads a bundle and verifies it with the trusted public key: the
// archive's structure, the manifest signature, then each document's size
// and SHA-256 and that its path is a clean relative path. It does not
// look at what the documents are: Import does.
func Read(r io.Reader, trusted ed25519.PublicKey) (*Bundle, error) {
	if len(trusted) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: the trusted key is %d bytes, want an Ed25519 public key", ErrSignature, len(trusted))
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: larger than %d MiB", ErrMalformed, MaxSize>>20)
	}
	members, err := readMembers(b)
	if err != nil {
		return nil, err
	}
	if len(members) < 2 || members[0].name != ManifestName || members[len(members)-1].name != SignatureName {
		return nil, fmt.Errorf("%w: the first member must be %s and the last %s", ErrMalformed, ManifestName, SignatureName)
	}
	mb, sig := members[0].data, members[len(members)-1].data
	if len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, want %d", ErrMalformed, SignatureName, len(sig), ed25519.SignatureSize)
	}
	// The signature first: nothing unsigned is interpreted.
	if !ed25519.Verify(trusted, mb, sig) {
		var hint struct {
			Signer string `json:"signer"`
		}
		_ = json.Unmarshal(mb, &hint)
		if hint.Signer != "" && hint.Signer != KeyID(trusted) {
			return nil, fmt.Errorf("%w: the manifest signature does not verify with the trusted key %.16s… (the manifest names signer %.16s…)", ErrSignature, KeyID(trusted), hint.Signer)
		}
		return nil, fmt.Errorf("%w: the manifest signature does not verify with the trusted key %.16s…", ErrSignature, KeyID(trusted))
	}
	m, err := parseManifest(mb)
	if err != nil {
		return nil, err
	}
	items := members[1 : len(members)-1]
	if len(items) != len(m.Items) {
		return nil, fmt.Errorf("%w: the manifest lists %d items, the archive holds %d", ErrMalformed, len(m.Items), len(items))
	}
	out := &Bundle{Manifest: *m}
	seen := map[string]bool{}
	for i, it := range m.Items {
		mem := items[i]
		if want := itemPrefix + strconv.Itoa(i+1); mem.name != want {
			return nil, fmt.Errorf("%w: member %d is %q, want %q", ErrMalformed, i+2, mem.name, want)
		}
		if !cache.Clean(it.Path) {
			return nil, fmt.Errorf("%w: item %d path %q is not a clean relative path", ErrMalformed, i+1, it.Path)
		}
		if seen[it.Path] {
			return nil, fmt.Errorf("%w: item path %q twice", ErrMalformed, it.Path)
		}
		seen[it.Path] = true
		sum := sha256.Sum256(mem.data)
		if int64(len(mem.data)) != it.Size || hex.EncodeToString(sum[:]) != it.SHA256 {
			return nil, fmt.Errorf("%w: %s (%d bytes, SHA-256 %x) is not the document the manifest signed (%d bytes, SHA-256 %s)", ErrSignature, it.Path, len(mem.data), sum, it.Size, it.SHA256)
		}
		out.Documents = append(out.Documents, Document{Item: it, Data: mem.data})
	}
	return out, nil
}

func parseManifest(b []byte) (*Manifest, error) {
	var head struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrMalformed, err)
	}
	if head.Format != Format {
		return nil, fmt.Errorf("%w: manifest format is %q, want %q", ErrMalformed, head.Format, Format)
	}
	if head.Version != Version {
		return nil, fmt.Errorf("%w: manifest version %d; this assay reads version %d", ErrMalformed, head.Version, Version)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: manifest: data after the JSON object", ErrMalformed)
	}
	if len(m.Items) > MaxItems {
		return nil, fmt.Errorf("%w: manifest lists %d items, more than %d", ErrMalformed, len(m.Items), MaxItems)
	}
	return &m, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
