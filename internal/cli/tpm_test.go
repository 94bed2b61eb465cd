package cli

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/tpm"
)

// TestTPMActivationEndToEnd runs the whole enrolment against a live swtpm:
// assay tpm challenge, TPM2_ActivateCredential on the TPM (from Go, as the
// attester would run tpm2_activatecredential), assay tpm activate-check,
// then assay verify of a quote by that AK: ak.trust passes with
// --enrolled-ak and fails without it.
func TestTPMActivationEndToEnd(t *testing.T) {
	tp := testutil.StartSWTPM(t)
	ekRsp := testutil.CreatePrimary(t, tp, tpm2.RSAEKTemplate)
	akRsp := testutil.CreatePrimary(t, tp, testutil.AKTemplate(tpm2.TPMAlgRSASSA))
	otherRsp := testutil.CreatePrimary(t, tp, testutil.AKTemplate(tpm2.TPMAlgECDSA))
	dir := t.TempDir()
	path := func(n string) string { return filepath.Join(dir, n) }
	write := func(n string, b []byte) {
		t.Helper()
		if err := os.WriteFile(path(n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The EK as a PEM public key (as from its certificate): the default
	// RSA template is assumed.
	ekPub, err := ekRsp.OutPublic.Contents()
	if err != nil {
		t.Fatal(err)
	}
	ekKey, err := tpm2.Pub(*ekPub)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(ekKey)
	if err != nil {
		t.Fatal(err)
	}
	write("ek.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
	write("ak.pub", tpm2.Marshal(akRsp.OutPublic))
	write("other-ak.pub", tpm2.Marshal(otherRsp.OutPublic))
	ekSum := sha256.Sum256(spki)

	chal := path("challenge")
	code, out, errs := run(t, "tpm", "challenge", "--ek", path("ek.pem"), "--ak", path("ak.pub"), "-o", chal)
	if code != 0 {
		t.Fatalf("challenge: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, hex.EncodeToString(ekSum[:])) {
		t.Errorf("challenge output does not name the EK: %s", out)
	}
	st, err := os.Stat(filepath.Join(chal, secretFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", secretFile, st.Mode().Perm())
	}

	// The attester: tpm2_activatecredential -i cred.out -o actcred.out.
	cred, err := os.ReadFile(filepath.Join(chal, challengeFile))
	if err != nil {
		t.Fatal(err)
	}
	blob, enc, err := tpm.ParseCredentialFile(cred)
	if err != nil {
		t.Fatal(err)
	}
	recovered, err := testutil.ActivateCredential(tp, ekRsp, akRsp, blob, enc)
	if err != nil {
		t.Fatalf("ActivateCredential: %v", err)
	}
	write("actcred.out", recovered)
	write("wrong.out", append([]byte{recovered[0] ^ 1}, recovered[1:]...))

	secret := filepath.Join(chal, secretFile)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"wrong-secret", []string{"--response", path("wrong.out"), "--ak", path("ak.pub")}},
		{"other-ak", []string{"--response", path("actcred.out"), "--ak", path("other-ak.pub")}},
	} {
		code, _, errs := run(t, append([]string{"tpm", "activate-check", "--secret", secret, "-o", path(tc.name + ".pem")}, tc.args...)...)
		if code != ExitRejected {
			t.Errorf("activate-check %s: exit %d, want %d: %s", tc.name, code, ExitRejected, errs)
		}
		if _, err := os.Stat(path(tc.name + ".pem")); err == nil {
			t.Errorf("activate-check %s wrote an enrolment", tc.name)
		}
	}
	enrolled := path("enrolled-ak.pem")
	code, _, errs = run(t, "tpm", "activate-check", "--secret", secret, "--response", path("actcred.out"), "--ak", path("ak.pub"), "-o", enrolled)
	if code != 0 {
		t.Fatalf("activate-check: exit %d: %s", code, errs)
	}

	// A quote by the AK, as tpm2_quote writes it.
	sel := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: tpm2.PCClientCompatible.PCRs(0, 1, 2, 3, 4, 5, 6, 7)}}}
	nonce := []byte("assay-activation-nonce")
	q, err := (tpm2.Quote{
		SignHandle:     tpm2.AuthHandle{Handle: akRsp.ObjectHandle, Name: akRsp.Name, Auth: tpm2.PasswordAuth(nil)},
		QualifyingData: tpm2.TPM2BData{Buffer: nonce},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
		PCRSelect:      sel,
	}).Execute(tp)
	if err != nil {
		t.Fatalf("Quote: %v", err)
	}
	pr, err := (tpm2.PCRRead{PCRSelectionIn: sel}).Execute(tp)
	if err != nil {
		t.Fatal(err)
	}
	pf := &tpm.PCRFile{Selection: sel.PCRSelections, Values: tpm.PCRs{tpm2.TPMAlgSHA256: {}}}
	for i, d := range pr.PCRValues.Digests {
		pf.Values[tpm2.TPMAlgSHA256][i] = d.Buffer
	}
	write("quote.msg", q.Quoted.Bytes())
	write("quote.sig", tpm2.Marshal(q.Signature))
	write("quote.pcrs", tpm.MarshalPCRFile(pf))
	evidence := []string{path("quote.msg"), path("quote.sig"), path("quote.pcrs"), path("ak.pub")}

	akTrust := func(out string) (bool, string) {
		t.Helper()
		var res struct {
			Checks []struct {
				Name   string `json:"name"`
				OK     bool   `json:"ok"`
				Detail string `json:"detail"`
			} `json:"checks"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("JSON result: %v\n%s", err, out)
		}
		for _, c := range res.Checks {
			if c.Name == "ak.trust" {
				return c.OK, c.Detail
			}
		}
		t.Fatalf("no ak.trust check: %s", out)
		return false, ""
	}
	verify := append([]string{"verify", "--offline", "-o", "json", "--nonce", hex.EncodeToString(nonce)}, evidence...)
	code, out, errs = run(t, append(verify, "--enrolled-ak", enrolled)...)
	if code != ExitAffirming {
		t.Fatalf("verify --enrolled-ak: exit %d: %s\n%s", code, errs, out)
	}
	ok, detail := akTrust(out)
	if want := "AK activated against EK sha256:" + hex.EncodeToString(ekSum[:]); !ok || !strings.Contains(detail, want) {
		t.Errorf("ak.trust with --enrolled-ak: ok %v, %q, want %q", ok, detail, want)
	}
	code, out, _ = run(t, verify...)
	if code != ExitRejected {
		t.Errorf("verify without --enrolled-ak: exit %d, want %d", code, ExitRejected)
	}
	if ok, detail := akTrust(out); ok {
		t.Errorf("ak.trust without --enrolled-ak passed: %s", detail)
	}
	// Another AK's enrolment does not vouch for this one.
	if code, _, _ := run(t, append(verify, "--enrolled-ak", path("other-ak.pub"))...); code != ExitUsage {
		t.Errorf("--enrolled-ak of a file without an enrolment: exit %d, want %d", code, ExitUsage)
	}
}

func TestTPMUsage(t *testing.T) {
	for _, args := range [][]string{
		{"tpm"},
		{"tpm", "nope"},
		{"tpm", "challenge"},
		{"tpm", "challenge", "--ek", "x"},
		{"tpm", "activate-check", "--secret", "x", "--response", "y", "--ak", "z"},
		{"tpm", "challenge", "--ek", "/nonexistent", "--ak", "/nonexistent"},
		{"tpm", "challenge", "--bogus"},
	} {
		if code, _, _ := run(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
}
