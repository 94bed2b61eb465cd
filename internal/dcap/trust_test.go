package dcap_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/assay-dev/assay/internal/dcap"
)

// Fingerprints of the embedded Intel certificates (docs/trust-anchors.md).
var pinnedIntel = map[string]string{
	"44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3": "Intel SGX Root CA",
	"22eb770dca215b607b5ccfc21a672b1da5cc660b1ad0365020567979edcaa0e1": "Intel SGX PCK Platform CA",
	"13b2dccef8fc4ec977ee5249743b0f758ebd1e28d768b2e1e12bc348adaa09fb": "Intel SGX PCK Processor CA",
	"ec37d98107bfb7dab6ff8de4d4dda6fde30a6f50b0d7b03eefb5652f1e652969": "Intel SGX TCB Signing",
	"c0575e76d0303b61d09cde8cbdb70db34a74f38318300d7c0e6ba8cf4bf45aea": "Intel SGX TCB Signing",
}

func TestEmbeddedIntelFingerprints(t *testing.T) {
	certs := dcap.EmbeddedCerts()
	if len(certs) != len(pinnedIntel) {
		t.Fatalf("%d embedded certificates, want %d", len(certs), len(pinnedIntel))
	}
	root := dcap.EmbeddedRoot()
	for _, c := range certs {
		sum := sha256.Sum256(c.Raw)
		fp := hex.EncodeToString(sum[:])
		if cn, ok := pinnedIntel[fp]; !ok || cn != c.Subject.CommonName {
			t.Errorf("%s: fingerprint %s is not pinned", c.Subject.CommonName, fp)
		}
		if err := c.CheckSignatureFrom(root); err != nil {
			t.Errorf("%s is not signed by the embedded root: %v", c.Subject.CommonName, err)
		}
	}
}
