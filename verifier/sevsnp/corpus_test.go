package sevsnp_test

import (
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// corpusCase is one complete SEV-SNP entry of ../shared/corpus, with the
// files it needs, read from the manifest (never copies of its numbers).
type corpusCase struct {
	entry   testutil.Entry
	reports []string // evidence files (raw reports, Trustee JSON)
	certs   []*x509.Certificate
	at      time.Time
}

func snpCorpus(t *testing.T) []corpusCase {
	t.Helper()
	m, dir := testutil.LoadManifest(t)
	anchor := regexp.MustCompile(`roots/amd/[A-Za-z0-9_]+\.pem`)
	var out []corpusCase
	for _, e := range m.Entries {
		if e.Kind != "snp-report" || e.CollateralStatus != "complete" || e.Negative {
			continue
		}
		c := corpusCase{entry: e, at: e.At(t)}
		for _, f := range e.Files {
			p := filepath.Join(dir, f.Path)
			switch {
			case f.Negative:
			case f.Kind == "snp-certs":
				c.certs = append(c.certs, readCerts(t, p)...)
			case f.Kind == "snp-report" && (strings.HasSuffix(p, ".bin") || strings.HasSuffix(p, ".json")):
				c.reports = append(c.reports, p)
			}
		}
		if a := anchor.FindString(e.TrustAnchor); a != "" {
			c.certs = append(c.certs, readCerts(t, filepath.Join(dir, a))...)
		}
		out = append(out, c)
	}
	if len(out) < 12 {
		t.Fatalf("found %d complete SEV-SNP corpus entries, want at least 12", len(out))
	}
	return out
}

func readCerts(t testing.TB, path string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if blk, _ := pem.Decode(b); blk == nil {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return []*x509.Certificate{c}
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, c)
	}
}

func readEvidence(t testing.TB, path string) *sevsnp.Evidence {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := sevsnp.ParseEvidence(b, "")
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ev
}

// tcbBytes renders a TCB_VERSION as the manifest does: its bytes in
// memory order, as hex.
func tcbBytes(v uint64) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return hex.EncodeToString(b[:])
}

// TestCorpus verifies every complete SEV-SNP entry of the shared corpus at
// its own verify_at and compares the claims with the manifest's values.
func TestCorpus(t *testing.T) {
	for _, c := range snpCorpus(t) {
		for _, rp := range c.reports {
			t.Run(c.entry.ID+"/"+filepath.Base(rp), func(t *testing.T) {
				ev := readEvidence(t, rp)
				ver, checks, err := sevsnp.Verify(t.Context(), ev.Report, sevsnp.Options{
					Certificates: append(ev.Certificates, c.certs...),
					Now:          func() time.Time { return c.at },
				})
				if err != nil {
					t.Fatalf("Verify: %v\nchecks: %v", err, checks)
				}
				for _, ch := range checks {
					if !ch.OK {
						t.Errorf("check %s failed: %s", ch.Name, ch.Detail)
					}
				}
				want := c.entry.Parsed()
				got := ver.Claims
				r := ev.Report
				compare := map[string]string{
					"measurement":       got.Measurement,
					"report_data":       got.ReportData,
					"chip_id":           got.ChipID,
					"host_data":         got.HostData,
					"id_key_digest":     got.IDKeyDigest,
					"author_key_digest": got.AuthorKeyDigest,
					"family_id":         got.FamilyID,
					"image_id":          got.ImageID,
					"report_id":         got.ReportID,
					"policy":            got.Policy.Raw,
					"platform_info":     got.PlatformInfo.Raw,
					"signing_key":       strings.ToUpper(got.Signer),
					"version":           fmt.Sprint(got.Version),
					"vmpl":              fmt.Sprint(got.VMPL),
					"guest_svn":         fmt.Sprint(got.GuestSVN),
					"reported_tcb":      tcbBytes(r.ReportedTCB),
					"current_tcb":       tcbBytes(r.CurrentTCB),
					"committed_tcb":     tcbBytes(r.CommittedTCB),
					"launch_tcb":        tcbBytes(r.LaunchTCB),
				}
				if got.CPUIDFamID != nil {
					compare["cpuid_fam_id"] = fmt.Sprint(*got.CPUIDFamID)
					compare["cpuid_mod_id"] = fmt.Sprint(*got.CPUIDModID)
					compare["cpuid_step"] = fmt.Sprint(*got.CPUIDStep)
				}
				n := 0
				for k, g := range compare {
					w, ok := want[k]
					if !ok {
						continue
					}
					n++
					if ws := fmt.Sprint(w); !strings.EqualFold(ws, g) {
						t.Errorf("%s = %s, manifest says %s", k, g, ws)
					}
				}
				if n < 15 {
					t.Errorf("compared only %d fields with the manifest", n)
				}
				// The claims' TCB must agree with the VEK's certified TCB.
				if !got.ReportedTCB.Equal(ver.VEK.TCB) {
					t.Errorf("reported_tcb %s, VEK certifies %s", got.ReportedTCB, ver.VEK.TCB)
				}
			})
		}
	}
}

// TestCorpusDefaultPolicy: the GCP sample was launched with POLICY.DEBUG,
// so the default policy contraindicates it while every cryptographic check
// passes; every other sample is affirmed.
func TestCorpusDefaultPolicy(t *testing.T) {
	for _, c := range snpCorpus(t) {
		ev := readEvidence(t, c.reports[0])
		ver, _, err := sevsnp.Verify(t.Context(), ev.Report, sevsnp.Options{Certificates: append(ev.Certificates, c.certs...), Now: func() time.Time { return c.at }})
		if err != nil {
			t.Fatalf("%s: %v", c.entry.ID, err)
		}
		var failed []attest.Check
		for _, ch := range (sevsnp.Policy{}).Apply(ver.Claims) {
			if !ch.OK {
				failed = append(failed, ch)
			}
		}
		wantDebug := ver.Claims.Policy.Debug
		if wantDebug != (len(failed) == 1 && failed[0].Name == "policy.debug") {
			t.Errorf("%s: debug=%v, failed policy checks %v", c.entry.ID, wantDebug, failed)
		}
		if !wantDebug && len(failed) > 0 {
			t.Errorf("%s: default policy refused: %v", c.entry.ID, failed)
		}
	}
}

// TestCorpusOnlyEmbeddedIntermediates: with nothing but the VEK, the
// embedded ASKs/ASVKs and ARKs complete the chain, offline.
func TestCorpusOnlyEmbeddedIntermediates(t *testing.T) {
	for _, c := range snpCorpus(t) {
		ev := readEvidence(t, c.reports[0])
		var veks []*x509.Certificate
		for _, cert := range append(ev.Certificates, c.certs...) {
			if cert.Subject.CommonName == "SEV-VCEK" || cert.Subject.CommonName == "SEV-VLEK" {
				veks = append(veks, cert)
			}
		}
		if _, checks, err := sevsnp.Verify(t.Context(), ev.Report, sevsnp.Options{Certificates: veks, Now: func() time.Time { return c.at }}); err != nil {
			t.Errorf("%s: %v\n%v", c.entry.ID, err, checks)
		}
	}
}

// TestNegativeVCEKs: the corpus' malformed VCEKs (non-canonical extension
// encodings, edited bytes) still parse, as Trustee's tests require, but
// cannot verify a report: their signatures do not chain to ASK-Milan.
func TestNegativeVCEKs(t *testing.T) {
	m, dir := testutil.LoadManifest(t)
	report := readEvidence(t, filepath.Join(dir, "snp/trustee/milan-vcek-report.bin")).Report
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	for _, e := range m.Entries {
		if !e.Negative || e.Kind != "snp-certs" {
			continue
		}
		for _, f := range e.Files {
			n++
			cert := readCerts(t, filepath.Join(dir, f.Path))[0]
			vek, err := sevsnp.ParseVEK(cert)
			if err != nil {
				t.Errorf("%s: ParseVEK: %v", f.Path, err)
				continue
			}
			if len(vek.HWID) != 64 || vek.ProductName == "" {
				t.Errorf("%s: hwID %d bytes, productName %q", f.Path, len(vek.HWID), vek.ProductName)
			}
			_, checks, err := sevsnp.Verify(t.Context(), report, sevsnp.Options{Certificates: []*x509.Certificate{cert}, Now: func() time.Time { return at }})
			if err == nil {
				t.Errorf("%s: a malformed VCEK verified the report", f.Path)
				continue
			}
			if !errors.Is(err, sevsnp.ErrChain) && !errors.Is(err, sevsnp.ErrTCB) {
				t.Errorf("%s: error %v, want ErrChain or ErrTCB", f.Path, err)
			}
			if failedCheck(checks) == "" {
				t.Errorf("%s: rejected without a failing check", f.Path)
			}
		}
	}
	if n != 2 {
		t.Errorf("found %d negative VCEKs in the manifest, want 2", n)
	}
}

func failedCheck(checks []attest.Check) string {
	for _, c := range checks {
		if !c.OK {
			return c.Name
		}
	}
	return ""
}
