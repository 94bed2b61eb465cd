package nitro_test

import (
	"bytes"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/nitro"
)

func corpusDir(t testing.TB) string { t.Helper(); return testutil.CorpusDir(t) }

func readFile(t testing.TB, dir, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCorpus appraises every Nitro document of the shared corpus, as CBOR,
// base64 or carried in a TLS certificate, at its own timestamp, and
// compares the claims with the manifest. Debug-mode enclaves must fail the
// default policy and nothing else; the negative sample must fail the
// signature and nothing else.
func TestCorpus(t *testing.T) {
	m, dir := testutil.LoadManifest(t)
	n := 0
	for _, e := range m.Entries {
		if e.Kind != "nitro-attestation-doc" {
			continue
		}
		p := e.Parsed()
		for _, f := range e.Files {
			carrier := f.Kind == "x509" && strings.Contains(f.Role, "attestation doc")
			if f.Kind != "nitro-attestation-doc" && !carrier {
				continue
			}
			n++
			t.Run(e.ID+"/"+filepath.Base(f.Path), func(t *testing.T) {
				raw := readFile(t, dir, f.Path)
				format, ok := nitro.SniffEvidence(raw)
				if carrier {
					format, ok = certFormat(t, raw)
				}
				if !ok {
					t.Fatal("not recognised")
				}
				ts := time.UnixMilli(int64(p["timestamp_ms"].(float64))).UTC()
				v := &nitro.Verifier{}
				res := v.Appraise(t.Context(), attest.Bundle{Evidence: raw, Format: format}, attest.Params{Now: ts})
				if res.TEE != "nitro" {
					t.Errorf("tee %q", res.TEE)
				}
				var fails []string
				for _, c := range res.Failed() {
					fails = append(fails, c.Name)
				}
				pcrs := p["pcrs_nonzero"].(map[string]any)
				debug := pcrs["0"] == nil && pcrs["1"] == nil && pcrs["2"] == nil
				switch {
				case f.Negative:
					if !slices.Equal(fails, []string{"signature"}) {
						t.Fatalf("negative sample: failed checks %v, want signature only", fails)
					}
				case debug:
					if !slices.Equal(fails, []string{"policy.debug"}) {
						t.Fatalf("debug enclave: failed checks %v, want policy.debug only\n%v", fails, res.Checks)
					}
				default:
					if res.Status != attest.StatusAffirming {
						t.Fatalf("status %s, failed %v\n%v", res.Status, fails, res.Checks)
					}
				}
				if carrier {
					if c, ok := check(res.Checks, "tls.binding"); !ok || !c.OK {
						t.Errorf("tls.binding: %+v", c)
					}
				}
				c := res.Claims.(*nitro.Claims)
				if c.ModuleID != p["module_id"] || c.Digest != "SHA384" || c.TimestampMS != uint64(p["timestamp_ms"].(float64)) {
					t.Errorf("claims %s %s %d, manifest %v", c.ModuleID, c.Digest, c.TimestampMS, p)
				}
				if c.Debug != debug {
					t.Errorf("debug %v, want %v", c.Debug, debug)
				}
				if len(c.PCRs) != int(p["pcr_count"].(float64)) {
					t.Errorf("%d PCRs, manifest %v", len(c.PCRs), p["pcr_count"])
				}
				for i, v := range c.PCRs {
					want, ok := pcrs[strconv.Itoa(i)].(string)
					if !ok {
						want = strings.Repeat("00", 48)
					}
					if v != want {
						t.Errorf("PCR%d = %s, manifest %s", i, v, want)
					}
				}
				for _, k := range []struct {
					name string
					got  *string
				}{{"nonce", c.Nonce}, {"user_data", c.UserData}, {"public_key", c.PublicKey}} {
					want, _ := p[k.name].(string)
					if (k.got == nil) != (p[k.name] == nil) || (k.got != nil && *k.got != want) {
						t.Errorf("%s = %v, manifest %v", k.name, k.got, p[k.name])
					}
				}
			})
		}
	}
	if n < 8 {
		t.Errorf("%d Nitro corpus cases, want at least 8", n)
	}
}

func certFormat(t *testing.T, raw []byte) (string, bool) {
	t.Helper()
	ev, err := nitro.ParseEvidence(raw, nitro.FormatCertificate)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := nitro.SniffCertificate(ev.Carrier); !ok {
		t.Fatal("SniffCertificate does not recognise the carrier")
	}
	return ev.Format, true
}

// The documents the corpus builder extracted from the Evervault
// certificates are exactly what ParseEvidence finds in them.
func TestCertificateExtraction(t *testing.T) {
	dir := corpusDir(t)
	for _, name := range []string{"non-debug-tls-cert-with-doc", "debug-tls-cert-with-doc"} {
		var raw []byte
		for _, ext := range []string{".der", ".pem"} {
			if b, err := os.ReadFile(filepath.Join(dir, "nitro/evervault", name+ext)); err == nil {
				raw = b
			}
		}
		want := readFile(t, dir, "nitro/evervault/"+name+".extracted-doc.cbor")
		ev, err := nitro.ParseEvidence(raw, "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ev.Format != nitro.FormatCertificate || !bytes.Equal(ev.Raw, want) {
			t.Errorf("%s: format %s, document differs from the extracted one", name, ev.Format)
		}
		if !bytes.Equal(ev.Document.UserData, ev.Carrier.RawSubjectPublicKeyInfo) {
			t.Errorf("%s: user_data is not the certificate's SPKI", name)
		}
	}
	// The GA TLS certificate is bound by the GA document's user_data but
	// does not carry it: it is a certificate, not evidence.
	c, err := x509.ParseCertificate(readFile(t, dir, "nitro/evervault/ga-tls-certificate.der"))
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := nitro.SniffCertificate(c); ok {
		t.Errorf("ga-tls-certificate.der sniffed as %s", f)
	}
	ga, err := nitro.Parse(readFile(t, dir, "nitro/evervault/ga-attestation-doc.cbor"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ga.UserData, c.RawSubjectPublicKeyInfo) {
		t.Errorf("GA user_data %s is not the GA certificate's SPKI", hex.EncodeToString(ga.UserData))
	}
}

func TestSniff(t *testing.T) {
	dir := corpusDir(t)
	tests := []struct {
		file, format string
	}{
		{"nitro/veracruz/aws_nitro_document.cbor", nitro.FormatDocument},
		{"nitro/evervault/ga-attestation-doc.b64", nitro.FormatDocumentBase64},
		{"nitro/evervault/ga-attestation-doc.cbor", nitro.FormatDocument},
		{"roots/aws/aws_nitro_enclaves_root_g1.pem", ""},
		{"nitro/evervault/ga-tls-certificate.der", ""},
	}
	for _, tc := range tests {
		f, ok := nitro.SniffEvidence(readFile(t, dir, tc.file))
		if f != tc.format || ok != (tc.format != "") {
			t.Errorf("%s: sniffed %q %v, want %q", tc.file, f, ok, tc.format)
		}
	}
	// A COSE_Sign1 ES384 of another kind (here: a payload without
	// module_id) is not taken for a Nitro document.
	p := newPKI(t, testEpoch, testEpoch.Add(time.Hour), elliptic.P384())
	other := p.sign(t, encodeMap(t, []kv{{"eat_nonce", []byte{1, 2, 3}}}))
	if f, ok := nitro.SniffEvidence(other); ok {
		t.Errorf("foreign COSE_Sign1 sniffed as %s", f)
	}
	if _, err := nitro.ParseEvidence(other, ""); !errors.Is(err, nitro.ErrMalformed) {
		t.Errorf("foreign COSE_Sign1: %v", err)
	}
}
