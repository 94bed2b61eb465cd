package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/attester"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/tpm"
)

// provisionEKCert plays the TPM manufacturer on a live swtpm: it makes
// the EK (persisted at 0x81010001 by the attester's code), issues it a
// certificate from a fresh test CA in the TCG EK profile (empty subject,
// critical subjectAltName with the TPM identity, keyEncipherment,
// tcg-kp-EKCertificate) and writes it to the RSA EK certificate index
// 0x01C00002. It returns the CA certificate as PEM.
func provisionEKCert(t *testing.T, dev string) []byte {
	t.Helper()
	tp, err := attester.OpenTPM(t.Context(), dev)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	ek, err := attester.TPMGather{}.EK(t.Context(), tp)
	if err != nil {
		t.Fatalf("EK: %v", err)
	}
	pub, err := ek.OutPublic.Contents()
	if err != nil {
		t.Fatal(err)
	}
	ekKey, err := tpm2.Pub(*pub)
	if err != nil {
		t.Fatal(err)
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test TPM Vendor EK Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	san := tpm.MarshalEKSAN(&tpm.TPMIdentity{Manufacturer: "id:4E544300", Model: "NPCT75x", Version: "id:00070002"})
	ekTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageKeyEncipherment, UnknownExtKeyUsage: []asn1.ObjectIdentifier{{2, 23, 133, 8, 1}}, BasicConstraintsValid: true,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Critical: true, Value: san}}}
	ekDER, err := x509.CreateCertificate(rand.Reader, ekTmpl, ca, ekKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	// Zero padding after the certificate, as some TPMs store it.
	testutil.WriteNV(t, tp, attester.NVEKCertRSA, append(ekDER, make([]byte, 37)...))
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

type verifyOut struct {
	Status string `json:"status"`
	Checks []struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	} `json:"checks"`
	Claims struct {
		EK struct {
			Bound bool `json:"bound"`
		} `json:"ek"`
	} `json:"claims"`
}

func parseVerifyOut(t *testing.T, out string) verifyOut {
	t.Helper()
	var res []verifyOut
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		var one verifyOut
		if err2 := json.Unmarshal([]byte(out), &one); err2 != nil {
			t.Fatalf("JSON result: %v\n%s", err, out)
		}
		return one
	}
	if len(res) != 1 {
		t.Fatalf("%d results", len(res))
	}
	return res[0]
}

func (v verifyOut) failed() []string {
	var f []string
	for _, c := range v.Checks {
		if !c.OK {
			f = append(f, c.Name)
		}
	}
	return f
}

// TestAttestTPMEndToEnd runs the whole flow on a live swtpm through the
// command line: assay attest tpm (EK certificate from NV, AK created and
// persisted) -> assay tpm challenge from the evidence file -> assay
// attest tpm --activate -> assay tpm activate-check -> assay verify
// --enrolled-ak affirms, with the EK certificate verified and bound;
// another nonce, a changed PCR value and a flipped signature byte are
// rejected by the check that should catch each.
func TestAttestTPMEndToEnd(t *testing.T) {
	port := testutil.StartSWTPMServer(t)
	dev := "swtpm:127.0.0.1:" + strconv.Itoa(port)
	dir := t.TempDir()
	path := func(n string) string { return filepath.Join(dir, n) }
	if err := os.WriteFile(path("ca.pem"), provisionEKCert(t, dev), 0o644); err != nil {
		t.Fatal(err)
	}
	nonce := "a5a5a5a5deadbeef0011223344556677"
	ev := path("evidence.json")
	if code, out, errs := run(t, "attest", "tpm", "--tpm", dev, "--nonce", nonce, "-o", ev); code != 0 {
		t.Fatalf("attest tpm: exit %d: %s%s", code, out, errs)
	}
	// A second run finds the persisted AK: the same key.
	if code, _, errs := run(t, "attest", "tpm", "--tpm", dev, "--nonce", nonce, "-o", path("again.json")); code != 0 {
		t.Fatalf("attest tpm again: exit %d: %s", code, errs)
	}
	raw, err := os.ReadFile(ev)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(path("again.json"))
	var g map[string]any
	if err := json.Unmarshal(again, &g); err != nil {
		t.Fatal(err)
	}
	if f["ak_public"] != g["ak_public"] || f["ek_public"] != g["ek_public"] {
		t.Errorf("the AK or EK changed between runs: not persisted")
	}
	if certs, _ := f["ek_certificates"].([]any); len(certs) != 1 {
		t.Errorf("ek_certificates: %v, want the provisioned one", f["ek_certificates"])
	}
	if h, _ := f["handles"].(map[string]any); h["ak"] != "0x81010003" || h["ek"] != "0x81010001" || h["ek_certificate_nv"] != "0x01c00002" {
		t.Errorf("handles %v", f["handles"])
	}

	chal := path("chal")
	if code, _, errs := run(t, "tpm", "challenge", "--ek", ev, "--ak", ev, "-o", chal); code != 0 {
		t.Fatalf("challenge: exit %d: %s", code, errs)
	}
	if code, _, errs := run(t, "attest", "tpm", "--tpm", dev, "--activate", filepath.Join(chal, challengeFile), "-o", path("actcred.out")); code != 0 {
		t.Fatalf("attest tpm --activate: exit %d: %s", code, errs)
	}
	enrolled := path("enrolled-ak.pem")
	if code, _, errs := run(t, "tpm", "activate-check", "--secret", filepath.Join(chal, secretFile), "--response", path("actcred.out"), "--ak", ev, "-o", enrolled); code != 0 {
		t.Fatalf("activate-check: exit %d: %s", code, errs)
	}

	verify := func(nonce, file string, extra ...string) (int, verifyOut) {
		t.Helper()
		args := append([]string{"verify", "--offline", "-o", "json", "--roots", path("ca.pem"), "--nonce", nonce}, extra...)
		code, out, errs := run(t, append(args, file)...)
		if code == ExitUsage {
			t.Fatalf("verify: usage error: %s", errs)
		}
		return code, parseVerifyOut(t, out)
	}
	code, res := verify(nonce, ev, "--enrolled-ak", enrolled)
	if code != ExitAffirming || len(res.failed()) != 0 {
		t.Fatalf("verify --enrolled-ak: exit %d, failed %v: %+v", code, res.failed(), res.Checks)
	}
	if !res.Claims.EK.Bound {
		t.Errorf("ek.bound is false: the EK certificate is the enrolled AK's EK's")
	}
	if code, res := verify(nonce, ev); code != ExitRejected || strings.Join(res.failed(), ",") != "ak.trust" {
		t.Errorf("verify without enrolment: exit %d, failed %v, want ak.trust", code, res.failed())
	}

	// Tampering, each caught by its check.
	tamper := func(name string, edit func(m map[string]any)) string {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		p := path(name + ".json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pcrFile := tamper("pcr", func(m map[string]any) {
		m["pcrs"].(map[string]any)["sha256"].(map[string]any)["7"] = strings.Repeat("00", 31) + "01"
	})
	sigFile := tamper("sig", func(m map[string]any) {
		q := m["quotes"].([]any)[0].(map[string]any)
		s, _ := base64.StdEncoding.DecodeString(q["signature"].(string))
		s[len(s)-1] ^= 1
		q["signature"] = base64.StdEncoding.EncodeToString(s)
	})
	for _, tc := range []struct {
		name, nonce, file, check string
	}{
		{"other-nonce", hex.EncodeToString([]byte("another nonce")), ev, "nonce"},
		{"pcr-changed", nonce, pcrFile, "pcr.digest"},
		{"signature-flipped", nonce, sigFile, "signature"},
	} {
		code, res := verify(tc.nonce, tc.file, "--enrolled-ak", enrolled)
		if code != ExitRejected || strings.Join(res.failed(), ",") != tc.check {
			t.Errorf("%s: exit %d, failed %v, want %s", tc.name, code, res.failed(), tc.check)
		}
	}
}

// TestAttestTPMUsage: assay attest tpm's argument errors, and the service
// form of assay attest still parsing as before.
func TestAttestTPMUsage(t *testing.T) {
	for _, args := range [][]string{
		{"attest", "tpm"}, // no nonce
		{"attest", "tpm", "--nonce", "zz"},
		{"attest", "tpm", "--nonce", strings.Repeat("ab", 65)},
		{"attest", "tpm", "--nonce", "01", "--pcrs", "0-24"},
		{"attest", "tpm", "--nonce", "01", "--pcrs", "7-3"},
		{"attest", "tpm", "--nonce", "01", "--banks", "md5"},
		{"attest", "tpm", "--nonce", "01", "--ak-handle", "0x01c00002"},
		{"attest", "tpm", "--activate", "x", "--nonce", "01"},
		{"attest", "tpm", "extra"},
		{"attest"}, // the service flow: --server is required
		{"attest", "--tpm", "/dev/tpmrm0"},
	} {
		if code, _, _ := run(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
	if code, _, errs := run(t, "attest", "tpm", "--nonce", "01", "--tpm", "/nonexistent/tpm"); code != ExitRejected || !strings.Contains(errs, "/nonexistent/tpm") {
		t.Errorf("missing device: exit %d, %s", code, errs)
	}
	if got, err := parsePCRList("0-3,10,2"); err != nil || len(got) != 5 {
		t.Errorf("parsePCRList: %v %v", got, err)
	}
}
