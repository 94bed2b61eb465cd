package verifier_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier"
	"github.com/assay-dev/assay/verifier/nitro"
)

// A certificate that carries a Nitro document is evidence; any other
// certificate, the AWS root among them, stays a certificate.
func TestClassifyNitroCertificates(t *testing.T) {
	dir := testutil.CorpusDir(t)
	vs := verifier.Verifiers(verifier.Config{})
	tests := []struct {
		file         string
		role         verifier.Role
		kind, format string
	}{
		{"nitro/evervault/non-debug-tls-cert-with-doc.der", verifier.RoleEvidence, "nitro", nitro.FormatCertificate},
		{"nitro/evervault/debug-tls-cert-with-doc.pem", verifier.RoleEvidence, "nitro", nitro.FormatCertificate},
		{"nitro/evervault/ga-tls-certificate.der", verifier.RoleCertificate, "", "der"},
		{"roots/aws/aws_nitro_enclaves_root_g1.pem", verifier.RoleCertificate, "", "pem"},
		{"nitro/veracruz/aws_nitro_document.cbor", verifier.RoleEvidence, "nitro", nitro.FormatDocument},
		{"nitro/evervault/ga-attestation-doc.b64", verifier.RoleEvidence, "nitro", nitro.FormatDocumentBase64},
	}
	for _, tc := range tests {
		b, err := os.ReadFile(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		for _, force := range []string{"", "snp"} {
			it, err := verifier.Classify(verifier.Input{Name: tc.file, Data: b}, vs, force)
			if tc.role == verifier.RoleEvidence && tc.format == nitro.FormatDocument && force == "snp" {
				continue // --format snp takes non-certificates for SNP evidence
			}
			if tc.format == nitro.FormatDocumentBase64 && force == "snp" {
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.file, err)
			}
			if it.Role != tc.role || it.Kind != tc.kind || it.Format != tc.format {
				t.Errorf("%s (force %q): %s %s %s, want %s %s %s", tc.file, force, it.Role, it.Kind, it.Format, tc.role, tc.kind, tc.format)
			}
			if it.Role == verifier.RoleEvidence && len(it.Certificates) != 0 {
				t.Errorf("%s: evidence keeps %d certificates, which would become everyone's collateral", tc.file, len(it.Certificates))
			}
		}
	}
}

// The Evervault TLS certificate alone is a complete appraisal; a TLS
// certificate given beside a document is collateral the Nitro verifier
// does not need.
func TestAppraiseNitro(t *testing.T) {
	dir := testutil.CorpusDir(t)
	read := func(p string) verifier.Input {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		return verifier.Input{Name: p, Data: b}
	}
	vs := verifier.Verifiers(verifier.Config{})
	at := time.Date(2023, 1, 18, 13, 7, 20, 0, time.UTC)
	rs, err := verifier.Appraise(t.Context(), vs, []verifier.Input{read("nitro/evervault/non-debug-tls-cert-with-doc.der")}, "", attest.Params{Now: at})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].TEE != "nitro" || rs[0].Status != attest.StatusAffirming {
		b, _ := json.MarshalIndent(rs, "", " ")
		t.Fatalf("results: %s", b)
	}
	var names []string
	for _, c := range rs[0].Checks {
		names = append(names, c.Name)
	}
	want := []string{"parse", "chain.root", "chain.intermediate", "chain.leaf", "signature", "timestamp", "nonce", "tls.binding", "policy.debug"}
	if !slices.Equal(names, want) {
		t.Errorf("checks %v, want %v", names, want)
	}

	at = time.Date(2023, 9, 18, 15, 3, 31, 0, time.UTC)
	rs, err = verifier.Appraise(t.Context(), vs, []verifier.Input{read("nitro/evervault/ga-attestation-doc.cbor"), read("nitro/evervault/ga-tls-certificate.der")}, "", attest.Params{Now: at})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].TEE != "nitro" || len(rs[0].Evidence.Files) != 2 {
		t.Fatalf("%d results, %+v", len(rs), rs[0].Evidence)
	}
	if f := rs[0].Failed(); len(f) != 1 || f[0].Name != "policy.debug" {
		t.Errorf("GA document (debug enclave): failed %v", f)
	}
}
