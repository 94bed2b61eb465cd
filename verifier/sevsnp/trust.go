package sevsnp

import (
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io/fs"
	"sync"
)

// The AMD certificate bundles served by AMD KDS for each product, in the
// order ASK, ARK, ASVK:
//
//	https://kdsintf.amd.com/vcek/v1/{Milan,Genoa,Turin}/cert_chain  (ASK, ARK)
//	https://kdsintf.amd.com/vlek/v1/{Milan,Genoa,Turin}/cert_chain  (ASVK, ARK)
//
// The ARKs are the trust anchors; the ASKs and ASVKs are intermediates that
// must chain to them, embedded so that a report verifies offline with only
// its VCEK or VLEK. The SHA-256 fingerprints of the ARKs are pinned in
// trust_test.go. See docs/trust-anchors.md for provenance.
//
//go:embed trust/*.pem
var trustFS embed.FS

// embeddedCerts and embeddedRoots parse the embedded certificates once;
// the results are never modified.
var (
	embeddedCerts = sync.OnceValue(EmbeddedCerts)
	embeddedRoots = sync.OnceValue(EmbeddedRoots)
)

// EmbeddedCerts returns the embedded AMD ARKs, ASKs and ASVKs, freshly
// parsed.
func EmbeddedCerts() []*x509.Certificate {
	var out []*x509.Certificate
	files, _ := fs.Glob(trustFS, "trust/*.pem")
	for _, f := range files {
		b, err := trustFS.ReadFile(f)
		if err != nil {
			panic(fmt.Sprintf("sevsnp: embedded %s: %v", f, err))
		}
		certs, err := parsePEMCerts(b)
		if err != nil {
			panic(fmt.Sprintf("sevsnp: embedded %s: %v", f, err))
		}
		out = append(out, certs...)
	}
	return out
}

// EmbeddedRoots returns the embedded ARKs only.
func EmbeddedRoots() []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range EmbeddedCerts() {
		if isSelfSigned(c) {
			out = append(out, c)
		}
	}
	return out
}

func parsePEMCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM certificates")
	}
	return out, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return c.CheckSignatureFrom(c) == nil && c.Subject.String() == c.Issuer.String()
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
