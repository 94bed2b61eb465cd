package verifier_test

import (
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/assay-dev/assay/verifier"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// The classifier's seeds are the SEV-SNP fuzz seeds (real reports, Trustee
// JSON, certificates, a CRL, a certificate table, go-sev-guest
// Attestations; see verifier/sevsnp/testdata/README.md), a PEM bundle, and
// each --format value the CLI passes as force.
const classifySeedDir = "sevsnp/testdata/seed"

var classifyForces = []string{
	"",
	"snp",
	sevsnp.FormatReport,
	sevsnp.FormatReportResponse,
	sevsnp.FormatTrusteeJSON,
	sevsnp.FormatAttestationProto,
	sevsnp.FormatCertTable,
	"tdx", // no verifier of that kind
}

func addClassifySeeds(f *testing.F) {
	f.Helper()
	files, err := os.ReadDir(classifySeedDir)
	if err != nil {
		f.Fatalf("fuzz seeds: %v", err)
	}
	var inputs [][]byte
	for _, e := range files {
		b, err := os.ReadFile(filepath.Join(classifySeedDir, e.Name()))
		if err != nil {
			f.Fatalf("fuzz seed: %v", err)
		}
		inputs = append(inputs, b)
	}
	if len(inputs) == 0 {
		f.Fatalf("no fuzz seeds in %s", classifySeedDir)
	}
	var bundle []byte
	for _, c := range sevsnp.EmbeddedCerts() {
		bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	inputs = append(inputs, bundle, nil)
	for _, b := range inputs {
		for _, force := range classifyForces {
			f.Add(b, force)
		}
	}
}

func FuzzClassify(f *testing.F) {
	addClassifySeeds(f)
	vs := verifier.Verifiers(verifier.Config{})
	f.Fuzz(func(t *testing.T, b []byte, force string) {
		it, err := verifier.Classify(verifier.Input{Name: "fuzz", Data: b}, vs, force)
		if err != nil {
			if !errors.Is(err, verifier.ErrUnrecognized) {
				t.Fatalf("Classify(force %q) error %v does not wrap ErrUnrecognized", force, err)
			}
			return
		}
		switch it.Role {
		case verifier.RoleCertificate:
			if len(it.Certificates) == 0 {
				t.Fatal("classified as certificates, but none were parsed")
			}
		case verifier.RoleCRL:
			if len(it.CRLs) == 0 || len(it.Certificates) != 0 {
				t.Fatalf("classified as CRLs with %d CRLs and %d certificates", len(it.CRLs), len(it.Certificates))
			}
		case verifier.RoleEvidence, verifier.RoleCollateral:
			if it.Kind == "" || it.Format == "" {
				t.Fatalf("classified as %s with kind %q and format %q", it.Role, it.Kind, it.Format)
			}
		default:
			t.Fatalf("Classify succeeded with role %q", it.Role)
		}
	})
}

func FuzzDescribe(f *testing.F) {
	addClassifySeeds(f)
	vs := verifier.Verifiers(verifier.Config{})
	f.Fuzz(func(t *testing.T, b []byte, force string) {
		d := verifier.Describe(verifier.Input{Name: "fuzz", Data: b}, vs, force)
		if d.File != "fuzz" {
			t.Fatalf("Describe names the file %q, want %q", d.File, "fuzz")
		}
		if d.Role == verifier.RoleUnknown && d.Error == "" {
			t.Fatal("Describe gives neither a role nor an error")
		}
	})
}
