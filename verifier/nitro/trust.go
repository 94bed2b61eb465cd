package nitro

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

// The AWS Nitro Enclaves Root-G1, the root of the AWS Nitro Attestation PKI
// for the commercial AWS partitions, as AWS publishes it at
// https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip
// (aws-nitro-enclaves-nsm-api docs/attestation_process.md, section 2.1).
// Its SHA-256 fingerprint is pinned in trust_test.go; docs/trust-anchors.md
// gives its provenance.
//
//go:embed trust/*.pem
var trustFS embed.FS

// embeddedRoots parses the embedded roots once; the result is never
// modified.
var embeddedRoots = sync.OnceValue(EmbeddedRoots)

// EmbeddedRoots returns the embedded AWS Nitro roots, freshly parsed.
func EmbeddedRoots() []*x509.Certificate {
	var out []*x509.Certificate
	files, _ := fs.Glob(trustFS, "trust/*.pem")
	for _, f := range files {
		b, err := trustFS.ReadFile(f)
		if err != nil {
			panic(fmt.Sprintf("nitro: embedded %s: %v", f, err))
		}
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				panic(fmt.Sprintf("nitro: embedded %s: %v", f, err))
			}
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		panic("nitro: no embedded roots")
	}
	return out
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
