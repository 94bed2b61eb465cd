package tpm

import (
	"bytes"
	"crypto/x509"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sync"
)

// The embedded certificate authorities (docs/trust-anchors.md lists each
// with its source and SHA-256; trust_test.go and ektrust_test.go pin
// them).
//
// trust/*: the cloud vTPM AK certificate authorities: Google Compute
// Engine's EK/AK CAs (the legacy "tpm_ek_v1_cloud_host" root and its
// intermediates, and the "EK/AK CA Root" with its intermediates, as
// go-tpm-tools and openpcc ship them) and Azure's "Azure Virtual TPM Root
// Certificate Authority 2023" with the "Global Virtual TPM CA - 01/03"
// intermediates. The self-signed certificates are the anchors; the
// intermediates must chain to them like any supplied certificate.
//
// trust/ek/**: TPM manufacturers' EK certificate authorities, as the
// shared corpus holds them (roots/tpm-vendors): the bundles of
// loicsikidi/tpm-ca-certificates and keylime's tpm_cert_store, copied
// byte for byte. With the cloud CAs above (Google's and Azure's CAs issue
// vTPM EK certificates too) they are the EK trust store.
//
//go:embed trust
var trustFS embed.FS

// embeddedCerts and the other parsed stores are built once; the results
// are never modified.
var (
	embeddedCerts   = sync.OnceValue(EmbeddedCerts)
	embeddedRoots   = sync.OnceValue(EmbeddedRoots)
	embeddedEKCerts = sync.OnceValue(EmbeddedEKCerts)
	embeddedEKRoots = sync.OnceValue(EmbeddedEKRoots)
)

// EmbeddedCerts returns the embedded AK CA certificates, each once (the
// GCE root ships twice, as PEM and DER), freshly parsed.
func EmbeddedCerts() []*x509.Certificate {
	var out []*x509.Certificate
	entries, _ := fs.ReadDir(trustFS, "trust")
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		out = appendCertFile(out, path.Join("trust", e.Name()))
	}
	return out
}

// EmbeddedRoots returns the self-signed embedded AK CA certificates: the
// anchors of ak.trust.
func EmbeddedRoots() []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range EmbeddedCerts() {
		if isSelfSigned(c) {
			out = append(out, c)
		}
	}
	return out
}

// EmbeddedEKCerts returns the EK trust store, each certificate once,
// freshly parsed: the TPM manufacturers' CAs of trust/ek and the cloud
// vTPM CAs of trust.
func EmbeddedEKCerts() []*x509.Certificate {
	out := EmbeddedCerts()
	_ = fs.WalkDir(trustFS, "trust/ek", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			panic(fmt.Sprintf("tpm: embedded %s: %v", p, err))
		}
		if !d.IsDir() {
			out = appendCertFile(out, p)
		}
		return nil
	})
	return out
}

// EmbeddedEKRoots returns the anchors of the EK trust store: each
// certificate that is self-issued, or that no other certificate of the
// store issued with a signature crypto/x509 verifies. The second kind
// are CAs whose own issuer is not in the corpus (AMD's Pluton Global
// Factory ICA, Aliyun's and Nationz's manufacturing CAs, Infineon's "IFX
// TPM EK Root CA", cross-signed by a VeriSign root), that it signed with
// SHA-1, which crypto/x509 does not verify (Infineon's "IFX TPM EK
// Intermediate CA" series), or that name it with other string types than
// its subject has, which crypto/x509 does not match (four of
// STMicroelectronics' ECC intermediates): keylime trusts every
// certificate of its store alike, and so does this one for these.
func EmbeddedEKRoots() []*x509.Certificate {
	all := EmbeddedEKCerts()
	var out []*x509.Certificate
	for _, c := range all {
		if bytes.Equal(c.RawSubject, c.RawIssuer) || !issuedWithin(c, all) {
			out = append(out, c)
		}
	}
	return out
}

// issuedWithin reports whether another certificate of set issued c, as
// crypto/x509 would find it: the same name, byte for byte, and a
// signature it verifies.
func issuedWithin(c *x509.Certificate, set []*x509.Certificate) bool {
	for _, p := range set {
		if p == c || bytes.Equal(p.Raw, c.Raw) {
			continue
		}
		// crypto/x509 finds an issuer by its name's bytes, as here.
		if bytes.Equal(p.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(p) == nil {
			return true
		}
	}
	return false
}

// appendCertFile adds the certificates of an embedded file that out does
// not hold yet.
func appendCertFile(out []*x509.Certificate, name string) []*x509.Certificate {
	b, err := trustFS.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("tpm: embedded %s: %v", name, err))
	}
	certs, err := parseCerts(b)
	if err != nil {
		panic(fmt.Sprintf("tpm: embedded %s: %v", name, err))
	}
next:
	for _, c := range certs {
		for _, o := range out {
			if bytes.Equal(o.Raw, c.Raw) {
				continue next
			}
		}
		out = append(out, c)
	}
	return out
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}
