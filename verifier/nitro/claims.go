package nitro

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Claims are a document's fields, named after [NSM] 2.2, with bytes as
// lowercase hex. They are the input to policy and the body of an
// attestation result.
type Claims struct {
	ModuleID string `json:"module_id"`
	Digest   string `json:"digest"`
	// Timestamp is the document's timestamp, RFC 3339 UTC with
	// milliseconds; TimestampMS the raw value.
	Timestamp   string `json:"timestamp"`
	TimestampMS uint64 `json:"timestamp_ms"`
	// PCRs holds every PCR of the document.
	PCRs PCRs `json:"pcrs"`
	// Debug is true when PCR0, PCR1 and PCR2 are all zero: the enclave
	// was started in debug mode.
	Debug bool `json:"debug"`
	// PublicKey, UserData and Nonce are null when the document does not
	// carry them.
	PublicKey *string `json:"public_key"`
	UserData  *string `json:"user_data"`
	Nonce     *string `json:"nonce"`
	// Certificate is the certificate that signed the document.
	Certificate CertificateClaims `json:"certificate"`
	// TLSCertificate is the certificate that carried the document
	// (FormatCertificate), whose key tls.binding ties to the enclave.
	TLSCertificate *CertificateClaims `json:"tls_certificate,omitempty"`
}

// CertificateClaims identify a certificate.
type CertificateClaims struct {
	Subject   string `json:"subject"`
	Issuer    string `json:"issuer"`
	Serial    string `json:"serial"` // lowercase hex, no prefix
	NotBefore string `json:"not_before"`
	NotAfter  string `json:"not_after"`
	// PublicKeySHA256 is the SHA-256 of the SubjectPublicKeyInfo, DER.
	PublicKeySHA256 string `json:"public_key_sha256"`
}

// PCRs maps a PCR index to its value in lowercase hex. It marshals as a
// JSON object in index order: {"0": "…", "1": "…", …, "15": "…"}.
type PCRs map[int]string

// MarshalJSON writes the PCRs in index order.
func (p PCRs) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(p)) {
		if i > 0 {
			b.WriteByte(',')
		}
		v, err := json.Marshal(p[k])
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%q:%s", fmt.Sprint(k), v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// NewClaims decodes a document's claims; carrier, when not nil, is the
// certificate that carried it. On a document that did not verify they are
// what the document states, not facts.
func NewClaims(d *Document, carrier *x509.Certificate) *Claims {
	c := &Claims{
		ModuleID:    d.ModuleID,
		Digest:      d.Digest,
		Timestamp:   stamp(d.Time()),
		TimestampMS: d.Timestamp,
		PCRs:        PCRs{},
		PublicKey:   optHex(d.PublicKey),
		UserData:    optHex(d.UserData),
		Nonce:       optHex(d.Nonce),
	}
	for i, v := range d.PCRs {
		c.PCRs[i] = hex.EncodeToString(v)
	}
	c.Debug, _ = debugMode(d.PCRs)
	if d.Certificate != nil {
		c.Certificate = certClaims(d.Certificate)
	}
	if carrier != nil {
		cc := certClaims(carrier)
		c.TLSCertificate = &cc
	}
	return c
}

func optHex(b []byte) *string {
	if b == nil {
		return nil
	}
	s := hex.EncodeToString(b)
	return &s
}

func certClaims(c *x509.Certificate) CertificateClaims {
	return CertificateClaims{
		Subject:         c.Subject.String(),
		Issuer:          c.Issuer.String(),
		Serial:          fmt.Sprintf("%x", c.SerialNumber),
		NotBefore:       c.NotBefore.UTC().Format(time.RFC3339),
		NotAfter:        c.NotAfter.UTC().Format(time.RFC3339),
		PublicKeySHA256: sha256Hex(c.RawSubjectPublicKeyInfo),
	}
}
