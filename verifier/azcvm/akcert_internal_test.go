package azcvm

import (
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/internal/testutil"
)

// TestRealAzureAKChain: the chain logic of vtpm.ak_certificate on the
// corpus' real Azure AK certificates, judged against their own keys (no
// HCL report of the corpus belongs to them): each chains through the
// embedded "Global Virtual TPM CA - 03" to the embedded Azure root at the
// manifest's verify_at, and not before its validity.
func TestRealAzureAKChain(t *testing.T) {
	dir := testutil.CorpusDir(t)
	at := time.Date(2025, 11, 15, 0, 0, 0, 0, time.UTC)
	for _, n := range []string{"tpm/azure/openpcc-azure-ak-cert-01.der", "tpm/azure/openpcc-azure-ak-cert-03.nvraw.bin"} {
		t.Run(filepath.Base(n), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil {
				t.Fatal(err)
			}
			c, err := ParseAKCertificate(b)
			if err != nil {
				t.Fatal(err)
			}
			ak, ok := c.PublicKey.(*rsa.PublicKey)
			if !ok {
				t.Fatalf("key %T", c.PublicKey)
			}
			detail, err := checkAKCertificate(c, ak, nil, nil, at)
			if err != nil || !strings.Contains(detail, "Azure Virtual TPM Root Certificate Authority 2023") {
				t.Fatalf("%v: %s", err, detail)
			}
			if _, err := checkAKCertificate(c, ak, nil, nil, c.NotBefore.Add(-time.Hour)); !errors.Is(err, ErrChain) {
				t.Errorf("before its validity: %v", err)
			}
		})
	}
}
