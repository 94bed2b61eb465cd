package tpm

import (
	"bytes"
	"crypto/x509"
	"embed"
	"fmt"
	"io/fs"
	"sync"
)

// The cloud vTPM AK certificate authorities: Google Compute Engine's
// EK/AK CAs (the legacy "tpm_ek_v1_cloud_host" root and its intermediates,
// and the "EK/AK CA Root" with its intermediates, as go-tpm-tools and
// openpcc ship them) and Azure's "Azure Virtual TPM Root Certificate
// Authority 2023" with the "Global Virtual TPM CA - 01/03" intermediates.
// The self-signed certificates are the anchors; the intermediates must
// chain to them like any supplied certificate. SHA-256 fingerprints are
// pinned in trust_test.go; provenance is in docs/trust-anchors.md.
//
//go:embed trust/*
var trustFS embed.FS

// embeddedCerts and embeddedRoots parse the embedded certificates once;
// the results are never modified.
var (
	embeddedCerts = sync.OnceValue(EmbeddedCerts)
	embeddedRoots = sync.OnceValue(EmbeddedRoots)
)

// EmbeddedCerts returns the embedded AK CA certificates, each once (the
// GCE root ships twice, as PEM and DER), freshly parsed.
func EmbeddedCerts() []*x509.Certificate {
	var out []*x509.Certificate
	files, _ := fs.Glob(trustFS, "trust/*")
	for _, f := range files {
		b, err := trustFS.ReadFile(f)
		if err != nil {
			panic(fmt.Sprintf("tpm: embedded %s: %v", f, err))
		}
		certs, err := parseCerts(b)
		if err != nil {
			panic(fmt.Sprintf("tpm: embedded %s: %v", f, err))
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
	}
	return out
}

// EmbeddedRoots returns the self-signed embedded certificates: the anchors.
func EmbeddedRoots() []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range EmbeddedCerts() {
		if isSelfSigned(c) {
			out = append(out, c)
		}
	}
	return out
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}
