package nitro_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"testing"

	"github.com/assay-dev/assay/verifier/nitro"
)

// The SHA-256 fingerprint (of the DER) of the AWS Nitro Enclaves Root-G1,
// as AWS publishes it in the Nitro Enclaves User Guide ("Verifying the
// root of trust"); docs/trust-anchors.md lists it.
const rootG1SHA256 = "641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B"

func TestEmbeddedRootFingerprint(t *testing.T) {
	roots := nitro.EmbeddedRoots()
	if len(roots) != 1 {
		t.Fatalf("%d embedded roots, want the Root-G1 alone", len(roots))
	}
	r := roots[0]
	sum := sha256.Sum256(r.Raw)
	if got := hex.EncodeToString(sum[:]); !bytes.EqualFold([]byte(got), []byte(rootG1SHA256)) {
		t.Errorf("embedded root SHA-256 %s, pinned %s", got, rootG1SHA256)
	}
	if r.Subject.CommonName != "aws.nitro-enclaves" || !r.IsCA {
		t.Errorf("embedded root %s, CA %v", r.Subject, r.IsCA)
	}
	if err := r.CheckSignatureFrom(r); err != nil {
		t.Errorf("self-signature: %v", err)
	}
}

// The embedded root is the corpus's copy (from evervault, identical to
// veracruz's), byte for byte.
func TestEmbeddedRootMatchesCorpus(t *testing.T) {
	blk, _ := pem.Decode(readFile(t, corpusDir(t), "roots/aws/aws_nitro_enclaves_root_g1.pem"))
	if blk == nil || !bytes.Equal(blk.Bytes, nitro.EmbeddedRoots()[0].Raw) {
		t.Error("the embedded root differs from roots/aws/aws_nitro_enclaves_root_g1.pem")
	}
}
