package nitro

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Evidence formats.
const (
	// FormatDocument: the COSE_Sign1 bytes as the NSM returns them
	// (nsm_get_attestation_doc, nitro-cli, the Nitro Enclaves SDK), tagged
	// or untagged.
	FormatDocument = "nitro-document"
	// FormatDocumentBase64: the same, base64-encoded (standard or URL
	// alphabet, padded or not), as enclave HTTP APIs and KMS requests carry
	// it.
	FormatDocumentBase64 = "nitro-document-base64"
	// FormatCertificate: an X.509 certificate (PEM or DER) that carries a
	// document in its subjectAltName extension (OID 2.5.29.17): a dNSName
	// whose first label is the document in hex, then the enclave's host
	// name ("<hex>.<cage>.<app>.cages.evervault.com"). This is how
	// Evervault enclaves attest their TLS certificate; the document's
	// user_data is then the certificate's SubjectPublicKeyInfo, which the
	// tls.binding check requires.
	FormatCertificate = "nitro-tls-certificate"
)

// Evidence is a parsed document and the container it came in.
type Evidence struct {
	Format   string
	Document *Document
	// Raw is the document's COSE_Sign1 bytes, out of their container.
	Raw []byte
	// Carrier is the certificate that carried the document
	// (FormatCertificate), else nil.
	Carrier *x509.Certificate
}

// SniffEvidence recognises a Nitro document in any of the formats above.
// It does no crypto; a certificate is recognised by SniffCertificate.
func SniffEvidence(b []byte) (string, bool) {
	if looksLikeDocument(b) {
		return FormatDocument, true
	}
	if raw, ok := decodeBase64(b); ok && looksLikeDocument(raw) {
		return FormatDocumentBase64, true
	}
	return "", false
}

// SniffCertificate reports whether c carries a Nitro document.
func SniffCertificate(c *x509.Certificate) (string, bool) {
	if _, n := documentsInCertificate(c); n > 0 {
		return FormatCertificate, true
	}
	return "", false
}

// looksLikeDocument recognises the start of a Nitro document: an optional
// tag 18, an array of four, a protected header {1: -35} as the NSM encodes
// it, and a payload that holds a "module_id" key. It is deliberately
// loose beyond that, so that a damaged document is still routed here and
// Parse says what is wrong with it; it is strict enough that other COSE_Sign1
// evidence (Arm CCA tokens are ES384 too) is not taken for Nitro's.
func looksLikeDocument(b []byte) bool {
	if len(b) > maxDocument {
		return false
	}
	if len(b) > 0 && b[0] == 0xd2 {
		b = b[1:]
	}
	return bytes.HasPrefix(b, []byte{0x84, 0x44, 0xa1, 0x01, 0x38, 0x22}) &&
		bytes.Contains(b, []byte("\x69module_id"))
}

// decodeBase64 decodes text that is entirely base64 (whitespace allowed).
func decodeBase64(b []byte) ([]byte, bool) {
	if len(b) > 2*maxDocument || !utf8.Valid(b) {
		return nil, false
	}
	s := strings.Join(strings.Fields(string(b)), "")
	if len(s) < 16 {
		return nil, false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.Strict().DecodeString(s); err == nil {
			return raw, true
		}
	}
	return nil, false
}

// documentsInCertificate returns the first document c carries in a
// dNSName, and how many distinct documents it carries.
func documentsInCertificate(c *x509.Certificate) ([]byte, int) {
	var first []byte
	n := 0
	for _, name := range c.DNSNames {
		label, _, _ := strings.Cut(name, ".")
		// A document is thousands of bytes; a short label is a host name.
		if len(label) < 64 || len(label)%2 != 0 {
			continue
		}
		raw, err := hex.DecodeString(label)
		if err != nil || !looksLikeDocument(raw) {
			continue
		}
		if first == nil {
			first, n = raw, 1
		} else if !bytes.Equal(first, raw) {
			n++
		}
	}
	return first, n
}

// ParseEvidence parses a document in the named format; an empty format is
// sniffed. For FormatCertificate, b is one certificate in DER, or PEM
// holding the carrying certificate (and possibly its issuers).
func ParseEvidence(b []byte, format string) (*Evidence, error) {
	if format == "" {
		if f, ok := SniffEvidence(b); ok {
			format = f
		} else if _, ok := certificateCarrying(b); ok {
			format = FormatCertificate
		} else {
			return nil, fmt.Errorf("%w: not a Nitro attestation document (COSE_Sign1 with an ES384 protected header), in CBOR, base64 or a certificate", ErrMalformed)
		}
	}
	ev := &Evidence{Format: format}
	switch format {
	case FormatDocument:
		ev.Raw = b
	case FormatDocumentBase64:
		raw, ok := decodeBase64(b)
		if !ok {
			return nil, fmt.Errorf("%w: not base64 text", ErrMalformed)
		}
		ev.Raw = raw
	case FormatCertificate:
		c, ok := certificateCarrying(b)
		if !ok {
			return nil, fmt.Errorf("%w: no certificate carrying an attestation document in a subjectAltName dNSName", ErrMalformed)
		}
		raw, n := documentsInCertificate(c)
		if n > 1 {
			return nil, fmt.Errorf("%w: the certificate carries %d different attestation documents; which one binds it is ambiguous", ErrMalformed, n)
		}
		ev.Raw, ev.Carrier = raw, c
	default:
		return nil, fmt.Errorf("%w: unknown Nitro evidence format %q (want %s, %s or %s)", ErrMalformed, format, FormatDocument, FormatDocumentBase64, FormatCertificate)
	}
	d, err := Parse(ev.Raw)
	if err != nil {
		return nil, err
	}
	ev.Document = d
	return ev, nil
}

// certificateCarrying finds, in PEM or DER, the first certificate that
// carries a document.
func certificateCarrying(b []byte) (*x509.Certificate, bool) {
	var ders [][]byte
	if bytes.Contains(b, []byte("-----BEGIN ")) {
		rest := b
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type == "CERTIFICATE" {
				ders = append(ders, blk.Bytes)
			}
		}
	} else {
		ders = [][]byte{b}
	}
	for _, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		if _, n := documentsInCertificate(c); n > 0 {
			return c, true
		}
	}
	return nil, false
}
