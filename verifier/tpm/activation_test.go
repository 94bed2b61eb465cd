package tpm_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/tpm"
)

// TestActivationSWTPM runs the credential-activation protocol against a
// live swtpm: the EK (default RSA 2048 or ECC P-256 template) and an AK are
// made in the TPM, MakeCredential runs in software with the EK public and
// the AK's Name, and TPM2_ActivateCredential (EK policy session:
// PolicySecret(TPM_RH_ENDORSEMENT)) must recover the secret; with another
// AK's Name, or a damaged blob, the TPM must refuse.
func TestActivationSWTPM(t *testing.T) {
	tp := testutil.StartSWTPM(t)
	for _, tc := range []struct {
		name string
		ek   tpm2.TPMTPublic
		ak   tpm2.TPMAlgID
	}{
		{"rsa-ek-rsassa-ak", tpm2.RSAEKTemplate, tpm2.TPMAlgRSASSA},
		{"rsa-ek-ecdsa-ak", tpm2.RSAEKTemplate, tpm2.TPMAlgECDSA},
		{"ecc-ek-rsassa-ak", tpm2.ECCEKTemplate, tpm2.TPMAlgRSASSA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ekRsp := testutil.CreatePrimary(t, tp, tc.ek)
			akRsp := testutil.CreatePrimary(t, tp, testutil.AKTemplate(tc.ak))
			ek, err := tpm.ParseEK(tpm2.Marshal(ekRsp.OutPublic))
			if err != nil {
				t.Fatalf("ParseEK(TPM2B_PUBLIC): %v", err)
			}
			ak, err := tpm.ParseAKPublic(tpm2.Marshal(akRsp.OutPublic))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ak.Name, akRsp.Name.Buffer) {
				t.Fatalf("AK name %x, the TPM says %x", ak.Name, akRsp.Name.Buffer)
			}
			if err := tpm.CheckActivationAK(ak); err != nil {
				t.Fatal(err)
			}
			secret := make([]byte, 32)
			rand.Read(secret)

			// The EK as a bare key (from a certificate or PEM) is put in its
			// default template: the same TPMT_PUBLIC, so the same seed
			// protection.
			blob, enc, err := tpm.MakeCredential(ek.Key, ak.Name, secret)
			if err != nil {
				t.Fatalf("MakeCredential: %v", err)
			}
			got, err := testutil.ActivateCredential(tp, ekRsp, akRsp, blob, enc)
			if err != nil {
				t.Fatalf("ActivateCredential: %v", err)
			}
			if err := tpm.CheckActivation(secret, got); err != nil {
				t.Errorf("CheckActivation: %v", err)
			}
			// The EK as its TPM2B_PUBLIC.
			blob, enc, err = tpm.MakeCredentialPublic(ek.Public, ak.Name, secret)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := testutil.ActivateCredential(tp, ekRsp, akRsp, blob, enc); err != nil || !bytes.Equal(got, secret) {
				t.Errorf("MakeCredentialPublic: ActivateCredential %x, %v", got, err)
			}

			// Bound to another AK's Name: the TPM refuses to release it.
			other := testutil.CreatePrimary(t, tp, testutil.AKTemplate(tpm2.TPMAlgRSAPSS))
			blob, enc, err = tpm.MakeCredential(ek.Key, other.Name.Buffer, secret)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := testutil.ActivateCredential(tp, ekRsp, akRsp, blob, enc); err == nil {
				t.Errorf("activation bound to another AK's name recovered %x", got)
			}
			wrong := append([]byte{}, ak.Name...)
			wrong[len(wrong)-1] ^= 1
			blob, enc, err = tpm.MakeCredential(ek.Key, wrong, secret)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := testutil.ActivateCredential(tp, ekRsp, akRsp, blob, enc); err == nil {
				t.Errorf("activation bound to a flipped name recovered %x", got)
			}
			// A flipped byte of the blob fails its integrity HMAC.
			blob, enc, _ = tpm.MakeCredential(ek.Key, ak.Name, secret)
			blob[len(blob)-1] ^= 1
			if got, err := testutil.ActivateCredential(tp, ekRsp, akRsp, blob, enc); err == nil {
				t.Errorf("a damaged credential blob recovered %x", got)
			}
			if err := tpm.CheckActivation(secret, secret[1:]); !errors.Is(err, tpm.ErrActivation) {
				t.Errorf("CheckActivation of another secret: %v, want ErrActivation", err)
			}
		})
	}
}

// TestActivationTPM2Tools checks the credential file against tpm2-tools:
// tpm2_makecredential (offline, -T none) writes one that ParseCredentialFile
// reads and swtpm activates, and MarshalCredentialFile writes it again
// byte for byte.
func TestActivationTPM2Tools(t *testing.T) {
	bin, err := exec.LookPath("tpm2_makecredential")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tpm2-tools is not installed")
		}
		t.Skip("tpm2-tools is not installed")
	}
	tp := testutil.StartSWTPM(t)
	ekRsp := testutil.CreatePrimary(t, tp, tpm2.RSAEKTemplate)
	akRsp := testutil.CreatePrimary(t, tp, testutil.AKTemplate(tpm2.TPMAlgRSASSA))
	dir := t.TempDir()
	secret := []byte("0123456789abcdef0123456789abcdef")
	for name, b := range map[string][]byte{"ek.pub": tpm2.Marshal(ekRsp.OutPublic), "secret.bin": secret} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-T", "none", "-u", "ek.pub", "-s", "secret.bin", "-n", hex.EncodeToString(akRsp.Name.Buffer), "-o", "cred.out")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tpm2_makecredential: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "cred.out"))
	if err != nil {
		t.Fatal(err)
	}
	blob, enc, err := tpm.ParseCredentialFile(raw)
	if err != nil {
		t.Fatalf("ParseCredentialFile(tpm2_makecredential output): %v", err)
	}
	if !bytes.Equal(tpm.MarshalCredentialFile(blob, enc), raw) {
		t.Errorf("MarshalCredentialFile does not reproduce tpm2_makecredential's file")
	}
	got, err := testutil.ActivateCredential(tp, ekRsp, akRsp, blob, enc)
	if err != nil || !bytes.Equal(got, secret) {
		t.Errorf("ActivateCredential of tpm2_makecredential's credential: %x, %v", got, err)
	}
}

func TestCredentialFile(t *testing.T) {
	f := tpm.MarshalCredentialFile([]byte{1, 2, 3}, []byte{4, 5})
	blob, enc, err := tpm.ParseCredentialFile(f)
	if err != nil || !bytes.Equal(blob, []byte{1, 2, 3}) || !bytes.Equal(enc, []byte{4, 5}) {
		t.Fatalf("round trip: %x %x %v", blob, enc, err)
	}
	for i := range len(f) {
		if _, _, err := tpm.ParseCredentialFile(f[:i]); !errors.Is(err, tpm.ErrMalformed) {
			t.Errorf("truncated to %d bytes: %v, want ErrMalformed", i, err)
		}
	}
	if _, _, err := tpm.ParseCredentialFile(append(f, 0)); !errors.Is(err, tpm.ErrMalformed) {
		t.Errorf("trailing byte: %v, want ErrMalformed", err)
	}
}

func TestMakeCredentialRejects(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	name := append([]byte{0, 0x0b}, make([]byte, 32)...)
	for _, tc := range []struct {
		name   string
		ek     any
		akName []byte
		secret []byte
	}{
		{"rsa-1024-ek", &small.PublicKey, name, []byte("s")},
		{"p521-ek", &p521.PublicKey, name, []byte("s")},
		{"handle-name", &rk.PublicKey, []byte{0x81, 0, 0, 1}, []byte("s")},
		{"short-name", &rk.PublicKey, name[:20], []byte("s")},
		{"long-secret", &rk.PublicKey, name, make([]byte, 33)},
		{"empty-secret", &rk.PublicKey, name, nil},
	} {
		if _, _, err := tpm.MakeCredential(tc.ek, tc.akName, tc.secret); !errors.Is(err, tpm.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", tc.name, err)
		}
	}
	if _, _, err := tpm.MakeCredential(&rk.PublicKey, name, []byte("s")); err != nil {
		t.Errorf("RSA 2048: %v", err)
	}
}

// TestParseEK reads the EK as a certificate (PEM, DER), a PEM public key
// and a TPM2B_PUBLIC; all name the same EK.
func TestParseEK(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: bigOne(), NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	spki, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	fromCert, err := tpm.ParseEK(der)
	if err != nil || fromCert.Cert == nil {
		t.Fatalf("DER certificate: %v", err)
	}
	inputs := map[string][]byte{
		"pem-certificate": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"pem-public-key":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}),
		"tpm2b-public":    tpm2.Marshal(tpm2.New2B(*fromCert.Public)),
	}
	for name, b := range inputs {
		ek, err := tpm.ParseEK(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(ek.SHA256(), fromCert.SHA256()) {
			t.Errorf("%s: EK SHA-256 %x, want %x", name, ek.SHA256(), fromCert.SHA256())
		}
	}
	if _, err := tpm.ParseEK(tpm2.Marshal(tpm2.New2B(testutil.AKTemplate(tpm2.TPMAlgECDSA)))); !errors.Is(err, tpm.ErrMalformed) {
		t.Errorf("a signing key as EK: %v, want ErrMalformed", err)
	}
}

func TestEnrollmentRoundTrip(t *testing.T) {
	ak, err := tpm.ParseAKPublic(softAK(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e := &tpm.Enrollment{AK: ak, EKSHA256: bytes.Repeat([]byte{0xee}, 32), ActivatedAt: at}
	b, err := tpm.MarshalEnrollment(e)
	if err != nil {
		t.Fatal(err)
	}
	es, err := tpm.ParseEnrollments(append(b, b...))
	if err != nil || len(es) != 2 {
		t.Fatalf("ParseEnrollments: %d, %v", len(es), err)
	}
	if !bytes.Equal(es[0].AK.Name, ak.Name) || !bytes.Equal(es[0].EKSHA256, e.EKSHA256) || !es[0].ActivatedAt.Equal(at) {
		t.Errorf("round trip: %+v", es[0])
	}
	// A header that does not match the AK it carries is malformed.
	blk, _ := pem.Decode(b)
	blk.Headers["AK-Name"] = "000b" + hex.EncodeToString(make([]byte, 32))
	if _, err := tpm.ParseEnrollments(pem.EncodeToMemory(blk)); !errors.Is(err, tpm.ErrMalformed) {
		t.Errorf("mismatched AK-Name: %v, want ErrMalformed", err)
	}
	// An AK that is not a restricted signing key is never enrolled.
	badAK, err := tpm.ParseAKPublic(softAK(t, func(p *tpm2.TPMTPublic) { p.ObjectAttributes.Restricted = false }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpm.MarshalEnrollment(&tpm.Enrollment{AK: badAK, EKSHA256: e.EKSHA256, ActivatedAt: at}); !errors.Is(err, tpm.ErrUnvouched) {
		t.Errorf("unrestricted AK: %v, want ErrUnvouched", err)
	}
}

// TestEnrolledAKTrust: an enrolled AK passes ak.trust, another does not.
func TestEnrolledAKTrust(t *testing.T) {
	tp := testutil.StartSWTPM(t)
	akRsp := testutil.CreatePrimary(t, tp, testutil.AKTemplate(tpm2.TPMAlgECDSA))
	otherRsp := testutil.CreatePrimary(t, tp, testutil.AKTemplate(tpm2.TPMAlgRSASSA))
	sel := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: tpm2.PCClientCompatible.PCRs(0)}}}
	q, err := (tpm2.Quote{
		SignHandle: tpm2.AuthHandle{Handle: akRsp.ObjectHandle, Name: akRsp.Name, Auth: tpm2.PasswordAuth(nil)},
		InScheme:   tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
		PCRSelect:  sel,
	}).Execute(tp)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := (tpm2.PCRRead{PCRSelectionIn: sel}).Execute(tp)
	if err != nil {
		t.Fatal(err)
	}
	enroll := func(rsp *tpm2.CreatePrimaryResponse) tpm.Enrollment {
		ak, err := tpm.ParseAKPublic(tpm2.Marshal(rsp.OutPublic))
		if err != nil {
			t.Fatal(err)
		}
		return tpm.Enrollment{AK: ak, EKSHA256: bytes.Repeat([]byte{0xab}, 32), ActivatedAt: time.Unix(1e9, 0)}
	}
	for _, tc := range []struct {
		name     string
		enrolled []tpm.Enrollment
		ok       bool
	}{
		{"enrolled", []tpm.Enrollment{enroll(otherRsp), enroll(akRsp)}, true},
		{"other-enrolled", []tpm.Enrollment{enroll(otherRsp)}, false},
		{"none", nil, false},
	} {
		quote, err := tpm.ParseAttest(q.Quoted.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		quote.Sig = &q.Signature
		quote.PCRs = tpm.PCRs{tpm2.TPMAlgSHA256: {0: pr.PCRValues.Digests[0].Buffer}}
		ak, _ := tpm.ParseAKPublic(tpm2.Marshal(akRsp.OutPublic))
		ev := &tpm.Evidence{Format: tpm.FormatQuoteMsg, Quotes: []*tpm.Quote{quote}, AK: ak}
		_, checks, err := tpm.Verify(context.Background(), ev, tpm.Options{Enrolled: tc.enrolled})
		if tc.ok != (err == nil) {
			t.Errorf("%s: %v, failed %v", tc.name, err, failed(checks))
		}
		if !tc.ok && !errors.Is(err, tpm.ErrUnvouched) {
			t.Errorf("%s: %v, want ErrUnvouched", tc.name, err)
		}
	}
}

func FuzzParseActivation(f *testing.F) {
	f.Add(tpm.MarshalCredentialFile([]byte{1, 2}, []byte{3}))
	ak, _ := tpm.ParseAKPublic(softAK(f, nil))
	if b, err := tpm.MarshalEnrollment(&tpm.Enrollment{AK: ak, EKSHA256: make([]byte, 32), ActivatedAt: time.Unix(0, 0)}); err == nil {
		f.Add(b)
	}
	f.Add(tpm2.Marshal(tpm2.New2B(tpm2.RSAEKTemplate)))
	f.Fuzz(func(t *testing.T, b []byte) {
		if blob, enc, err := tpm.ParseCredentialFile(b); err == nil {
			if !bytes.Equal(tpm.MarshalCredentialFile(blob, enc), b) {
				t.Fatal("credential file does not re-encode to its bytes")
			}
		}
		if es, err := tpm.ParseEnrollments(b); err == nil {
			for _, e := range es {
				if _, err := tpm.MarshalEnrollment(&e); err != nil {
					t.Fatalf("a parsed enrolment does not re-encode: %v", err)
				}
			}
		}
		tpm.ParseEK(b)
	})
}

func bigOne() *big.Int { return big.NewInt(1) }

// softAK is an AK TPMT_PUBLIC (ECDSA P-256) with a software key in its
// unique field, for tests that need no TPM.
func softAK(t testing.TB, mutate func(*tpm2.TPMTPublic)) []byte {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e, _ := k.PublicKey.ECDH()
	pt := e.Bytes()
	pub := testutil.AKTemplate(tpm2.TPMAlgECDSA)
	pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{X: tpm2.TPM2BECCParameter{Buffer: pt[1:33]}, Y: tpm2.TPM2BECCParameter{Buffer: pt[33:]}})
	if mutate != nil {
		mutate(&pub)
	}
	return tpm2.Marshal(tpm2.New2B(pub))
}

// TestActivationTPM2ToolsAttester is the attester of docs/tpm.md run with
// tpm2-tools against swtpm: tpm2_createek and tpm2_createak make the keys,
// MakeCredentialPublic and MarshalCredentialFile make cred.out from their
// ek.pub and ak.pub, and tpm2_activatecredential (with the EK policy
// session) must recover the secret from it.
func TestActivationTPM2ToolsAttester(t *testing.T) {
	if _, err := exec.LookPath("tpm2_activatecredential"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tpm2-tools is not installed")
		}
		t.Skip("tpm2-tools is not installed")
	}
	port := testutil.StartSWTPMServer(t)
	dir := t.TempDir()
	tool := func(args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port="+strconv.Itoa(port))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	// Without a resource manager, objects the tools load stay loaded:
	// flush them after each tool (swtpm holds only three).
	tool("tpm2_createek", "-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub")
	tool("tpm2_flushcontext", "-t")
	tool("tpm2_createak", "-C", "ek.ctx", "-c", "ak.ctx", "-G", "rsa", "-g", "sha256", "-s", "rsassa", "-u", "ak.pub", "-n", "ak.name")
	tool("tpm2_flushcontext", "-t")
	read := func(n string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ek, err := tpm.ParseEK(read("ek.pub"))
	if err != nil {
		t.Fatalf("ParseEK(tpm2_createek -u): %v", err)
	}
	ak, err := tpm.ParseAKPublic(read("ak.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tpm.CheckActivationAK(ak); err != nil {
		t.Fatalf("tpm2_createak's AK: %v", err)
	}
	if name := read("ak.name"); !bytes.Equal(name, ak.Name) {
		t.Fatalf("AK name %x, tpm2_createak says %x", ak.Name, name)
	}
	secret := []byte("assay credential activation 32by")
	blob, enc, err := tpm.MakeCredentialPublic(ek.Public, ak.Name, secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cred.out"), tpm.MarshalCredentialFile(blob, enc), 0o644); err != nil {
		t.Fatal(err)
	}
	tool("tpm2_startauthsession", "--policy-session", "-S", "session.ctx")
	tool("tpm2_policysecret", "-S", "session.ctx", "-c", "e")
	tool("tpm2_activatecredential", "-c", "ak.ctx", "-C", "ek.ctx", "-i", "cred.out", "-o", "actcred.out", "-P", "session:session.ctx")
	tool("tpm2_flushcontext", "session.ctx")
	tool("tpm2_flushcontext", "-t")
	if err := tpm.CheckActivation(secret, read("actcred.out")); err != nil {
		t.Errorf("tpm2_activatecredential: %v", err)
	}
}
