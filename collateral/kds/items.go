package kds

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/assay-dev/assay/internal/diskcache"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// ErrInvalid wraps every reason Validate refuses a document, and every
// name ParseCacheFile does not recognise.
var ErrInvalid = errors.New("invalid AMD collateral")

// Kind names a KDS document type, as the cache path spells it.
type Kind string

// Document kinds (publication 57230 section 4).
const (
	KindVCEK      Kind = "vcek"       // a chip's VCEK at one TCB (DER)
	KindCertChain Kind = "cert_chain" // the ASK (or ASVK) and ARK of a product (PEM)
	KindCRL       Kind = "crl"        // the ARK-signed CRL of a product's VCEK or VLEK chain (DER)
)

// Document names one document KDS serves and Client caches: what an
// offline appraisal needs and a fleet operator fetches ahead of time.
type Document struct {
	Kind    Kind
	Product sevsnp.Product
	// KeyType selects the VCEK or VLEK chain and CRL; a KindVCEK document
	// is always KeyVCEK (VLEKs are not public).
	KeyType sevsnp.KeyType
	// HWID is the chip's hardware ID (KindVCEK only): the report's 64-byte
	// CHIP_ID, its first 8 bytes on Turin.
	HWID []byte
	// TCB is the reported TCB the VCEK certifies (KindVCEK only). On Turin
	// FMC is set; before Turin it is nil.
	TCB sevsnp.TCB
}

// VCEKDocument names the VCEK of a report: its chip ID (truncated to 8
// bytes on Turin, as KDS keys Turin VCEKs) and its REPORTED_TCB decoded
// for the product.
func VCEKDocument(p sevsnp.Product, chipID []byte, reportedTCB uint64) (Document, error) {
	tcb, err := sevsnp.DecodeTCB(p, reportedTCB)
	if err != nil {
		return Document{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	hwid := chipID
	if p == sevsnp.Turin && len(hwid) == 64 {
		if !allZero(hwid[8:]) {
			return Document{}, fmt.Errorf("%w: a Turin CHIP_ID has 8 significant bytes; bytes 8-63 are not zero", ErrInvalid)
		}
		hwid = hwid[:8]
	}
	d := Document{Kind: KindVCEK, Product: p, KeyType: sevsnp.KeyVCEK, HWID: append([]byte(nil), hwid...), TCB: tcb}
	return d, d.check()
}

// check refuses a document KDS has no endpoint for, before it becomes
// part of a URL or a file name.
func (d Document) check() error {
	if _, err := sevsnp.ParseProduct(d.Product.String()); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if d.KeyType != sevsnp.KeyVCEK && d.KeyType != sevsnp.KeyVLEK {
		return fmt.Errorf("%w: unknown key type %d (want VCEK or VLEK)", ErrInvalid, int(d.KeyType))
	}
	switch d.Kind {
	case KindCertChain, KindCRL:
		return nil
	case KindVCEK:
	default:
		return fmt.Errorf("%w: unknown KDS document kind %q", ErrInvalid, d.Kind)
	}
	if d.KeyType != sevsnp.KeyVCEK {
		return fmt.Errorf("%w: AMD KDS does not serve VLEKs", ErrInvalid)
	}
	want := 64
	if d.Product == sevsnp.Turin {
		want = 8
	}
	if len(d.HWID) != want {
		return fmt.Errorf("%w: a %s hardware ID is %d bytes, not %d", ErrInvalid, d.Product, want, len(d.HWID))
	}
	if (d.TCB.FMC != nil) != (d.Product == sevsnp.Turin) {
		return fmt.Errorf("%w: a %s TCB has an FMC SPL only on Turin", ErrInvalid, d.Product)
	}
	return nil
}

// request is the path and query the document is served at, exactly as
// Client asks for it.
func (d Document) request() (string, url.Values) {
	switch d.Kind {
	case KindVCEK:
		q := url.Values{}
		q.Set("blSPL", strconv.Itoa(int(d.TCB.Bootloader)))
		q.Set("teeSPL", strconv.Itoa(int(d.TCB.TEE)))
		q.Set("snpSPL", strconv.Itoa(int(d.TCB.SNP)))
		q.Set("ucodeSPL", strconv.Itoa(int(d.TCB.Microcode)))
		if d.TCB.FMC != nil {
			q.Set("fmcSPL", strconv.Itoa(int(*d.TCB.FMC)))
		}
		return fmt.Sprintf("/vcek/v1/%s/%s", d.Product, hex.EncodeToString(d.HWID)), q
	case KindCertChain:
		return fmt.Sprintf("/%s/v1/%s/cert_chain", d.KeyType, d.Product), nil
	}
	return fmt.Sprintf("/%s/v1/%s/crl", d.KeyType, d.Product), nil
}

// CacheFile is where a Client keeps the document: a slash-separated path
// relative to its CacheDir.
func (d Document) CacheFile() (string, error) {
	if err := d.check(); err != nil {
		return "", err
	}
	p, q := d.request()
	name := strings.TrimPrefix(p, "/")
	if len(q) > 0 {
		name += "@" + strings.ReplaceAll(q.Encode(), "&", ",")
	}
	return name, nil
}

// URL is where KDS at base (empty: DefaultBaseURL) serves the document.
func (d Document) URL(base string) string {
	if base == "" {
		base = DefaultBaseURL
	}
	p, q := d.request()
	u := strings.TrimSuffix(base, "/") + p
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// String names the document for people and manifests: "Milan vcek
// hwid=… blSPL=3 teeSPL=0 snpSPL=8 ucodeSPL=115", "Genoa vlek".
func (d Document) String() string {
	if d.Kind != KindVCEK {
		return fmt.Sprintf("%s %s", d.Product, d.KeyType)
	}
	s := fmt.Sprintf("%s hwid=%x blSPL=%d teeSPL=%d snpSPL=%d ucodeSPL=%d", d.Product, d.HWID, d.TCB.Bootloader, d.TCB.TEE, d.TCB.SNP, d.TCB.Microcode)
	if d.TCB.FMC != nil {
		s += fmt.Sprintf(" fmcSPL=%d", *d.TCB.FMC)
	}
	return s
}

// ParseCacheFile is the inverse of CacheFile: it names the document a
// cache file holds. Only the exact name CacheFile gives is accepted, so
// that one document has one file.
func ParseCacheFile(name string) (Document, error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[1] != "v1" {
		return Document{}, fmt.Errorf("%w: %q is not a KDS cache file", ErrInvalid, name)
	}
	var d Document
	switch parts[0] {
	case "vcek":
		d.KeyType = sevsnp.KeyVCEK
	case "vlek":
		d.KeyType = sevsnp.KeyVLEK
	default:
		return Document{}, fmt.Errorf("%w: %q is not a KDS cache file", ErrInvalid, name)
	}
	p, err := sevsnp.ParseProduct(parts[2])
	if err != nil || p.String() != parts[2] {
		return Document{}, fmt.Errorf("%w: %q names no AMD product KDS spells %q", ErrInvalid, name, parts[2])
	}
	d.Product = p
	switch last := parts[3]; last {
	case "cert_chain":
		d.Kind = KindCertChain
	case "crl":
		d.Kind = KindCRL
	default:
		d.Kind = KindVCEK
		hwidHex, query, ok := strings.Cut(last, "@")
		if !ok {
			return Document{}, fmt.Errorf("%w: VCEK cache file %q has no TCB", ErrInvalid, name)
		}
		if d.HWID, err = hex.DecodeString(hwidHex); err != nil {
			return Document{}, fmt.Errorf("%w: VCEK cache file %q: hwID is not hex", ErrInvalid, name)
		}
		q, err := url.ParseQuery(strings.ReplaceAll(query, ",", "&"))
		if err != nil {
			return Document{}, fmt.Errorf("%w: VCEK cache file %q: %v", ErrInvalid, name, err)
		}
		spl := func(key string) (*uint8, error) {
			vs, ok := q[key]
			if !ok {
				return nil, nil
			}
			n, err := strconv.ParseUint(vs[0], 10, 8)
			if err != nil || len(vs) != 1 {
				return nil, fmt.Errorf("%w: VCEK cache file %q: %s is not one number 0-255", ErrInvalid, name, key)
			}
			v := uint8(n)
			return &v, nil
		}
		for _, f := range []struct {
			key      string
			dst      *uint8
			optional bool
		}{
			{"blSPL", &d.TCB.Bootloader, false}, {"teeSPL", &d.TCB.TEE, false},
			{"snpSPL", &d.TCB.SNP, false}, {"ucodeSPL", &d.TCB.Microcode, false},
		} {
			v, err := spl(f.key)
			if err != nil {
				return Document{}, err
			}
			if v == nil {
				return Document{}, fmt.Errorf("%w: VCEK cache file %q has no %s", ErrInvalid, name, f.key)
			}
			*f.dst = *v
		}
		if d.TCB.FMC, err = spl("fmcSPL"); err != nil {
			return Document{}, err
		}
	}
	canon, err := d.CacheFile()
	if err != nil {
		return Document{}, err
	}
	if canon != name {
		return Document{}, fmt.Errorf("%w: %q is not the canonical cache name %q", ErrInvalid, name, canon)
	}
	return d, nil
}

// Fetch gets the document through c: from its cache if the cached copy
// passes the client's check, else from KDS, caching it.
func (c *Client) Fetch(ctx context.Context, d Document) error {
	if err := d.check(); err != nil {
		return err
	}
	var err error
	switch d.Kind {
	case KindVCEK:
		_, err = c.VCEK(ctx, d.Product, d.HWID, d.TCB)
	case KindCertChain:
		_, err = c.CertChain(ctx, d.Product, d.KeyType)
	case KindCRL:
		_, err = c.CRL(ctx, d.Product, d.KeyType)
	}
	return err
}

// Validity is what Validate learned about a document's lifetime: the
// certificate's notAfter (the earliest, for a chain), or the CRL's
// nextUpdate.
type Validity = diskcache.Validity

// Validate checks that b is the document d names and that it chains to
// the AMD roots embedded in package sevsnp: a VCEK for exactly this chip
// and TCB, signed by the product's ASK, itself signed by the product's
// ARK; a cert_chain whose intermediate the embedded ARK signed and whose
// ARK is the embedded one; a CRL the embedded ARK signed. It is stricter
// than the Client's own check (which leaves signatures to the verifier)
// because it is for documents that arrive by other roads than KDS: an
// offline bundle, a cache copied between machines. It does not judge
// time: the caller compares Until with its clock.
func Validate(d Document, b []byte) (Validity, error) {
	if err := d.check(); err != nil {
		return Validity{}, err
	}
	ark, err := embeddedARK(d.Product)
	if err != nil {
		return Validity{}, err
	}
	switch d.Kind {
	case KindVCEK:
		return validateVCEK(d, b, ark)
	case KindCertChain:
		return validateChain(d, b, ark)
	}
	return validateCRL(d, b, ark)
}

func validateVCEK(d Document, b []byte, ark *x509.Certificate) (Validity, error) {
	cert, err := x509.ParseCertificate(b)
	if err != nil {
		return Validity{}, fmt.Errorf("%w: %s: not a DER certificate: %v", ErrInvalid, d, err)
	}
	vek, err := sevsnp.ParseVEK(cert)
	if err != nil {
		return Validity{}, fmt.Errorf("%w: %s: not a VCEK: %v", ErrInvalid, d, err)
	}
	switch {
	case vek.Type != sevsnp.KeyVCEK:
		return Validity{}, fmt.Errorf("%w: the certificate is a %s, want a VCEK", ErrInvalid, vek.Type)
	case vek.Product() != d.Product:
		return Validity{}, fmt.Errorf("%w: the VCEK is for %s, want %s", ErrInvalid, vek.Product(), d.Product)
	case !bytes.Equal(vek.HWID, d.HWID):
		return Validity{}, fmt.Errorf("%w: the VCEK is for hwID %x…, want %x…", ErrInvalid, vek.HWID[:min(8, len(vek.HWID))], d.HWID[:8])
	case !vek.TCB.Equal(d.TCB):
		return Validity{}, fmt.Errorf("%w: the VCEK certifies TCB %s, want %s", ErrInvalid, vek.TCB, d.TCB)
	}
	askCN := "SEV-" + d.Product.String()
	var ask *x509.Certificate
	for _, c := range sevsnp.EmbeddedCerts() {
		if c.Subject.CommonName == askCN && bytes.Equal(c.RawSubject, cert.RawIssuer) && cert.CheckSignatureFrom(c) == nil {
			ask = c
			break
		}
	}
	if ask == nil {
		return Validity{}, fmt.Errorf("%w: %s: the VCEK is not signed by the embedded %s", ErrInvalid, d, askCN)
	}
	if err := ask.CheckSignatureFrom(ark); err != nil {
		return Validity{}, fmt.Errorf("%w: the embedded %s is not signed by %s: %v", ErrInvalid, askCN, ark.Subject.CommonName, err)
	}
	return Validity{Until: cert.NotAfter, Bound: "notAfter"}, nil
}

func validateChain(d Document, b []byte, ark *x509.Certificate) (Validity, error) {
	var certs []*x509.Certificate
	rest := b
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 {
			break
		}
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return Validity{}, fmt.Errorf("%w: %s cert_chain: text after PEM block %d", ErrInvalid, d, len(certs))
		}
		if blk.Type != "CERTIFICATE" {
			return Validity{}, fmt.Errorf("%w: %s cert_chain: PEM block %d is %q, want CERTIFICATE", ErrInvalid, d, len(certs)+1, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return Validity{}, fmt.Errorf("%w: %s cert_chain: certificate %d: %v", ErrInvalid, d, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	// Publication 57230 section 4.2: the intermediate, then the ARK.
	if len(certs) != 2 {
		return Validity{}, fmt.Errorf("%w: %s cert_chain has %d certificates, want 2 (intermediate, ARK)", ErrInvalid, d, len(certs))
	}
	inter, root := certs[0], certs[1]
	wantCN := "SEV-" + d.Product.String()
	if d.KeyType == sevsnp.KeyVLEK {
		wantCN = "SEV-VLEK-" + d.Product.String()
	}
	switch {
	case inter.Subject.CommonName != wantCN:
		return Validity{}, fmt.Errorf("%w: %s cert_chain starts with %q, want %q", ErrInvalid, d, inter.Subject.CommonName, wantCN)
	case !bytes.Equal(root.RawSubject, ark.RawSubject) || !bytes.Equal(root.RawSubjectPublicKeyInfo, ark.RawSubjectPublicKeyInfo):
		return Validity{}, fmt.Errorf("%w: %s cert_chain ends with %q, which is not the embedded %s", ErrInvalid, d, root.Subject.CommonName, ark.Subject.CommonName)
	case !inter.IsCA || !inter.BasicConstraintsValid:
		return Validity{}, fmt.Errorf("%w: %s cert_chain: %s is not a CA certificate", ErrInvalid, d, wantCN)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		return Validity{}, fmt.Errorf("%w: %s cert_chain: the ARK is not self-signed: %v", ErrInvalid, d, err)
	}
	if err := inter.CheckSignatureFrom(ark); err != nil {
		return Validity{}, fmt.Errorf("%w: %s cert_chain: %s is not signed by the embedded %s: %v", ErrInvalid, d, wantCN, ark.Subject.CommonName, err)
	}
	until := inter.NotAfter
	if root.NotAfter.Before(until) {
		until = root.NotAfter
	}
	return Validity{Until: until, Bound: "notAfter"}, nil
}

func validateCRL(d Document, b []byte, ark *x509.Certificate) (Validity, error) {
	v, err := diskcache.ValidateCRL(b, ark)
	if err != nil {
		return Validity{}, fmt.Errorf("%w: %s CRL: %v", ErrInvalid, d, err)
	}
	return v, nil
}

// embeddedARK is the product's trusted root.
func embeddedARK(p sevsnp.Product) (*x509.Certificate, error) {
	cn := "ARK-" + p.String()
	for _, c := range sevsnp.EmbeddedRoots() {
		if c.Subject.CommonName == cn {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: no embedded %s", ErrInvalid, cn)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
