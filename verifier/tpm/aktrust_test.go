package tpm_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/verifier/tpm"
)

// TestAKCertOtherCA: a certificate for the quote's own AK, issued by a CA
// that is not a built-in AK CA, does not vouch for it.
func TestAKCertOtherCA(t *testing.T) {
	at := gceAt(t)
	ev, err := tpm.ParseEvidence(readCorpus(t, gceCases[1].file), "")
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Not a vTPM AK CA"},
		NotBefore: at.AddDate(-1, 0, 0), NotAfter: at.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "forged AK certificate"},
		NotBefore: at.AddDate(-1, 0, 0), NotAfter: at.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, ev.AK.Key, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ev.AKCert, _ = x509.ParseCertificate(leafDER)
	ev.Intermediates = []*x509.Certificate{ca}
	_, checks, err := tpm.Verify(context.Background(), ev, tpm.Options{Now: func() time.Time { return at }, Nonce: []byte{0x90, 0x09}})
	if !errors.Is(err, tpm.ErrChain) {
		t.Fatalf("err %v, want ErrChain", err)
	}
	if f := failed(checks); len(f) != 1 || !strings.HasPrefix(f[0], "ak.trust:") {
		t.Errorf("failed checks %v, want only ak.trust", f)
	}
	// The same CA given as the root is trusted: Options.Roots replaces
	// the built-in anchors.
	if _, _, err := tpm.Verify(context.Background(), ev, tpm.Options{Now: func() time.Time { return at }, Roots: []*x509.Certificate{ca}}); err != nil {
		t.Errorf("with the CA as root: %v", err)
	}
}

// TestAzureAKCerts: the Azure vTPM AK certificates of the corpus chain to
// the embedded Azure root. No quote comes with them, so the AK is the
// certificate's own key and only ak.trust is judged.
func TestAzureAKCerts(t *testing.T) {
	gce, err := tpm.ParseEvidence(readCorpus(t, gceCases[1].file), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, at string }{
		{"tpm/azure/openpcc-azure-ak-cert-01.der", "2025-11-15T00:00:00Z"},
		{"tpm/azure/openpcc-azure-ak-cert-03.der", "2025-11-15T00:00:00Z"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c, err := x509.ParseCertificate(readCorpus(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			at, _ := time.Parse(time.RFC3339, tc.at)
			ev := &tpm.Evidence{Quotes: gce.Quotes, AK: &tpm.AK{Key: c.PublicKey}, AKCert: c}
			_, checks, _ := tpm.Verify(context.Background(), ev, tpm.Options{Now: func() time.Time { return at }})
			if checks[0].Name != "ak.trust" || !checks[0].OK {
				t.Errorf("ak.trust: %+v", checks[0])
			}
			if checks[1].Name != "signature" || checks[1].OK {
				t.Errorf("signature of another AK's quote passed: %+v", checks[1])
			}
		})
	}
}
