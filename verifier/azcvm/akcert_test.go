package azcvm_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/azcvm"
)

// The corpus holds two real Azure AK certificates (tpm/azure/, from
// openpcc) but neither belongs to an HCL report of the corpus, so the
// positive path runs on the synthetic VM with a generated vTPM CA; the
// real certificates serve the negative path (another VM's AK) and the NV
// read format.

func vouchedBy(m map[string]any) []string {
	az, _ := m["azure"].(map[string]any)
	ak, _ := az["ak_pub"].(map[string]any)
	var out []string
	for _, v := range ak["vouched_by"].([]any) {
		out = append(out, v.(string))
	}
	return out
}

// TestAKCertificateTwoAnchors: with the AK certificate beside the
// evidence, the AK is vouched for by two checks, hcl.binding and
// vtpm.ak_certificate, and the claims say so; given as a certificate file
// or as the raw NV read.
func TestAKCertificateTwoAnchors(t *testing.T) {
	vm := newSynthVM(t)
	pki := newAKPKI(t)
	cert := pki.issue(t, &vm.ak.PublicKey)
	l := buildEventLog(synthEvents())
	nonce := []byte("n")
	evidence := vm.evidence(t, l.pcrs, nonce)
	nv := append(bytes.Clone(cert.Raw), make([]byte, 4096-len(cert.Raw))...)
	for name, in := range map[string]struct {
		certs []*x509.Certificate
		other []attest.NamedBlob
	}{
		"certificate-file": {certs: []*x509.Certificate{cert, pki.inter}},
		"nv-read":          {certs: []*x509.Certificate{pki.inter}, other: []attest.NamedBlob{{Name: "akcert.nv", Data: nv}}},
	} {
		t.Run(name, func(t *testing.T) {
			res, m := appraiseSynth(t, vm, evidence, nonce, in.certs, append(in.other, logBlob(l.raw)...), pki.root)
			if res.Status != attest.StatusAffirming {
				t.Fatalf("status %s, failed %+v", res.Status, res.Failed())
			}
			for _, n := range []string{"hcl.binding", "vtpm.ak_certificate"} {
				if ch := check(res, n); ch == nil || !ch.OK || ch.Skipped {
					t.Errorf("%s: %+v", n, ch)
				}
			}
			if ch := check(res, "vtpm.signature"); !strings.Contains(ch.Detail, "vouched for twice") {
				t.Errorf("vtpm.signature: %s", ch.Detail)
			}
			if got := vouchedBy(m); !slices.Equal(got, []string{"hcl.binding", "vtpm.ak_certificate"}) {
				t.Errorf("vouched_by %v", got)
			}
			az := m["azure"].(map[string]any)
			if c, _ := az["ak_pub"].(map[string]any)["certificate"].(map[string]any); c == nil || !strings.Contains(c["subject"].(string), "ConfidentialVM") {
				t.Errorf("ak_pub.certificate: %v", c)
			}
		})
	}

	// A bare HCL report: the AK certificate is judged though no quote is.
	res, m := appraiseSynth(t, vm, vm.hcl, nil, []*x509.Certificate{cert, pki.inter}, nil, pki.root)
	if ch := check(res, "vtpm.ak_certificate"); !res.Status.Trusted() || ch == nil || !ch.OK || ch.Skipped {
		t.Errorf("bare HCL report: %s, %+v", res.Status, ch)
	}
	if got := vouchedBy(m); len(got) != 2 {
		t.Errorf("bare HCL report: vouched_by %v", got)
	}
}

// TestAKCertificateRefused: a certificate for another key, one from an
// untrusted CA, and one verified after it expired each fail
// vtpm.ak_certificate (ErrChain): the result is contraindicated although
// hcl.binding still vouches for the AK, and the claims say only that.
func TestAKCertificateRefused(t *testing.T) {
	vm := newSynthVM(t)
	pki := newAKPKI(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := pki.issue(t, &vm.ak.PublicKey)
	l := buildEventLog(synthEvents())
	evidence := vm.evidence(t, l.pcrs, nil)
	tests := []struct {
		name   string
		certs  []*x509.Certificate
		roots  []*x509.Certificate
		detail string
	}{
		{"another-key", []*x509.Certificate{pki.issue(t, &other.PublicKey), pki.inter}, []*x509.Certificate{pki.root}, "certifies another key"},
		{"untrusted-ca", []*x509.Certificate{good, pki.inter}, nil, "does not chain"},
		{"no-intermediate", []*x509.Certificate{good}, []*x509.Certificate{pki.root}, "does not chain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, m := appraiseSynth(t, vm, evidence, nil, tc.certs, nil, tc.roots...)
			ch := check(res, "vtpm.ak_certificate")
			if res.Status != attest.StatusContraindicated || ch == nil || ch.OK || !strings.Contains(ch.Detail, tc.detail) {
				t.Fatalf("status %s, vtpm.ak_certificate %+v", res.Status, ch)
			}
			if got := vouchedBy(m); !slices.Equal(got, []string{"hcl.binding"}) {
				t.Errorf("vouched_by %v", got)
			}
			if sig := check(res, "vtpm.signature"); sig == nil || !sig.OK || !strings.Contains(sig.Detail, "does not vouch") {
				t.Errorf("vtpm.signature: %+v", sig)
			}
		})
	}

	ev, err := azcvm.Parse(evidence)
	if err != nil {
		t.Fatal(err)
	}
	o := azcvm.Options{SNP: snpOptions(vm), AKCertificate: good, AKIntermediates: []*x509.Certificate{pki.inter}, AKRoots: []*x509.Certificate{pki.root}}
	o.Now = func() time.Time { return synthAt }
	if _, _, err := azcvm.Verify(context.Background(), ev, o); err != nil {
		t.Fatalf("at %s: %v", synthAt, err)
	}
	o.Now = func() time.Time { return good.NotAfter.Add(time.Hour) }
	if _, _, err := azcvm.Verify(context.Background(), ev, o); !errors.Is(err, azcvm.ErrChain) {
		t.Errorf("after the AK certificate expired: %v, want ErrChain", err)
	}
	// Without AKRoots the anchor is the embedded Azure root, which did not
	// issue the test CA.
	o.Now, o.AKRoots = func() time.Time { return synthAt }, nil
	if _, checks, err := azcvm.Verify(context.Background(), ev, o); !errors.Is(err, azcvm.ErrChain) {
		t.Errorf("test CA under the embedded Azure root: %v %v", err, names(checks))
	}
}

// TestAzureAKCertificateCorpus: the real Azure AK certificates of the
// corpus. The NV read (DER and zero fill) parses to the same certificate
// as the trimmed DER and is recognised as collateral; given beside real
// Azure evidence, a certificate of another VM's AK is refused, and the
// SEV-SNP checks are untouched by the extra certificates.
func TestAzureAKCertificateCorpus(t *testing.T) {
	dir := testutil.CorpusDir(t)
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	nv, der := read("tpm/azure/openpcc-azure-ak-cert-03.nvraw.bin"), read("tpm/azure/openpcc-azure-ak-cert-03.der")
	c, err := azcvm.ParseAKCertificate(nv)
	if err != nil || !bytes.Equal(c.Raw, der) {
		t.Fatalf("NV read: %v", err)
	}
	if f, ok := azcvm.SniffCollateral(nv); !ok || f != azcvm.FormatAKCertNV {
		t.Errorf("SniffCollateral(NV read) = %q %v", f, ok)
	}
	if _, ok := azcvm.SniffCollateral(der); ok {
		t.Error("bare DER sniffed as collateral: it is a certificate")
	}
	if !azcvm.IsAKCertificate(c) {
		t.Error("the Azure AK certificate lacks the TCG AK extended key usage")
	}
	if _, err := azcvm.ParseAKCertificate(append(bytes.Clone(nv[:len(nv)-1]), 1)); !errors.Is(err, azcvm.ErrMalformed) {
		t.Errorf("NV read with a non-zero tail: %v", err)
	}

	cc := corpusCases[2] // Trustee v1, Milan
	b := bundle(t, cc)
	b.Certificates = append(b.Certificates, c)
	res, m := appraise(t, cc, b, nil)
	ch := check(res, "vtpm.ak_certificate")
	if res.Status.Trusted() || ch == nil || ch.OK || !strings.Contains(ch.Detail, "another key") {
		t.Fatalf("another VM's AK certificate: %s, %+v", res.Status, ch)
	}
	for _, n := range []string{"snp.signature", "snp.chain.vek", "hcl.binding", "vtpm.signature"} {
		if ch := check(res, n); ch == nil || !ch.OK {
			t.Errorf("%s: %+v", n, ch)
		}
	}
	if got := vouchedBy(m); !slices.Equal(got, []string{"hcl.binding"}) {
		t.Errorf("vouched_by %v", got)
	}
}
