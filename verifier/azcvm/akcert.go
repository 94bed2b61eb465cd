package azcvm

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/assay-dev/assay/verifier/tpm"
)

// The vTPM of an Azure confidential VM also holds an AK certificate, in
// NV index 0x01C101D0, issued to the same AK by Microsoft's "Global
// Virtual TPM CA - 0x" under the "Azure Virtual TPM Root Certificate
// Authority 2023" (the roots are embedded in package tpm, trust/). It is a
// second anchor for the AK, independent of the hardware report: Microsoft's
// vTPM CA vouches that the key lives in an Azure vTPM, where hcl.binding
// says that the paravisor inside this TEE named it.
const (
	// AKCertNVIndex is the vTPM NV index of the AK certificate.
	AKCertNVIndex = 0x01C101D0
	// FormatAKCertNV is the AK certificate as read from its NV index:
	// DER followed by the zero fill of the rest of the index.
	FormatAKCertNV = "az-ak-cert-nv"
	// maxAKCertNV bounds the NV read: Azure's index is 4096 bytes.
	maxAKCertNV = 1 << 13
)

// oidAIKCertificate is tcg-kp-AIKCertificate (2.23.133.8.3, TCG EK
// Credential Profile, section 3.2.16): the extended key usage of a TPM AK
// certificate, which Azure's carry. It tells an AK certificate among the
// certificates given beside the evidence from the VCEK and Intel's.
var oidAIKCertificate = asn1.ObjectIdentifier{2, 23, 133, 8, 3}

// IsAKCertificate reports whether c is an end-entity certificate with the
// TCG AK extended key usage.
func IsAKCertificate(c *x509.Certificate) bool {
	if c == nil || c.IsCA {
		return false
	}
	for _, u := range c.UnknownExtKeyUsage {
		if u.Equal(oidAIKCertificate) {
			return true
		}
	}
	return false
}

// ParseAKCertificate reads an AK certificate as the vTPM NV index holds it:
// one DER certificate, then nothing but zero bytes (the unused rest of the
// index; tpm2_nvread returns the whole index). No crypto.
func ParseAKCertificate(b []byte) (*x509.Certificate, error) {
	if len(b) == 0 || len(b) > maxAKCertNV || b[0] != 0x30 {
		return nil, fmt.Errorf("%w: not a DER certificate of at most %d bytes", ErrMalformed, maxAKCertNV)
	}
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(b, &raw)
	if err != nil {
		return nil, fmt.Errorf("%w: AK certificate: %v", ErrMalformed, err)
	}
	if len(bytes.Trim(rest, "\x00")) != 0 {
		return nil, fmt.Errorf("%w: AK certificate: %d bytes after the DER certificate are not zero fill", ErrMalformed, len(rest))
	}
	c, err := x509.ParseCertificate(raw.FullBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: AK certificate: %v", ErrMalformed, err)
	}
	return c, nil
}

// sniffAKCertNV recognises an NV read of an AK certificate: DER with zero
// fill after it (bare DER is a certificate, which the classifier takes).
func sniffAKCertNV(b []byte) bool {
	if len(b) == 0 || len(b) > maxAKCertNV || b[0] != 0x30 {
		return false
	}
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(b, &raw)
	if err != nil || len(rest) == 0 {
		return false
	}
	c, err := ParseAKCertificate(b)
	return err == nil && IsAKCertificate(c)
}

// azureAKRoots returns the embedded Azure vTPM root(s) of package tpm: the
// anchors an Azure AK certificate must chain to when Options.AKRoots is
// nil. GCE's AK CAs, embedded beside them, are not Azure's and are left
// out.
func azureAKRoots() []*x509.Certificate {
	var out []*x509.Certificate
	for _, r := range tpm.EmbeddedRoots() {
		if strings.HasPrefix(r.Subject.CommonName, "Azure Virtual TPM Root") {
			out = append(out, r)
		}
	}
	return out
}

// checkAKCertificate judges an AK certificate as a second anchor for the
// runtime data's AK: it must certify that very key and chain, through the
// intermediates given and those embedded in package tpm, to a trusted
// root at now (RFC 5280 path validation by crypto/x509; AK certificates
// carry TCG key purposes, so any extended key usage is accepted).
func checkAKCertificate(c *x509.Certificate, ak *rsa.PublicKey, intermediates, roots []*x509.Certificate, now time.Time) (string, error) {
	if !ak.Equal(c.PublicKey) {
		return "", fmt.Errorf("%w: the AK certificate %s certifies another key (SPKI SHA-256 %s) than the runtime data's %s (%s): it is another vTPM's", ErrChain, certName(c), spkiSum(c.RawSubjectPublicKeyInfo), AKKeyID, akSum(ak))
	}
	if roots == nil {
		roots = azureAKRoots()
	}
	rp, ip := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range roots {
		rp.AddCert(r)
	}
	for _, i := range append(append([]*x509.Certificate{}, intermediates...), tpm.EmbeddedCerts()...) {
		ip.AddCert(i)
	}
	chains, err := c.Verify(x509.VerifyOptions{Roots: rp, Intermediates: ip, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return "", fmt.Errorf("%w: the AK certificate %s (issuer %q) does not chain to a trusted vTPM CA at %s: %v", ErrChain, certName(c), c.Issuer.String(), now.UTC().Format(time.RFC3339), err)
	}
	path := make([]string, 0, len(chains[0]))
	for _, p := range chains[0][1:] {
		path = append(path, fmt.Sprintf("%q", p.Subject.CommonName))
	}
	return fmt.Sprintf("the AK certificate %s (serial %#x, valid %s to %s) certifies the runtime data's %s and chains through %s at %s: Microsoft's vTPM CA vouches for the AK independently of the hardware report",
		certName(c), c.SerialNumber, c.NotBefore.UTC().Format("2006-01-02"), c.NotAfter.UTC().Format("2006-01-02"), AKKeyID, strings.Join(path, " to "), now.UTC().Format(time.RFC3339)), nil
}

func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return fmt.Sprintf("%q", c.Subject.CommonName)
	}
	return fmt.Sprintf("%q", c.Subject.String())
}

func spkiSum(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:8]) + "…"
}

func akSum(ak *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(ak)
	if err != nil {
		return "unknown"
	}
	return "SPKI SHA-256 " + spkiSum(der)
}
