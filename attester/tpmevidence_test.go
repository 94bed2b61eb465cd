package attester_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/attester"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/tpm"
)

// TestTPMGatherSWTPM gathers from a live swtpm with the ECC EK and two
// banks: the file parses, each quote's PCR values hash to its digest,
// and a key of the wrong kind at the AK handle is refused, not used or
// overwritten.
func TestTPMGatherSWTPM(t *testing.T) {
	tp := testutil.StartSWTPM(t)
	g := attester.TPMGather{ECC: true, PCRs: []uint{0, 7, 16}, Banks: []tpm2.TPMAlgID{tpm2.TPMAlgSHA1, tpm2.TPMAlgSHA256}}
	nonce := []byte("gather-nonce")
	f, err := g.Gather(t.Context(), tp, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if f.Handles.EK != "0x81010002" || f.Handles.AK != "0x81010003" || len(f.EKCertificates) != 0 {
		t.Errorf("handles %+v, %d EK certificates", f.Handles, len(f.EKCertificates))
	}
	b, err := tpm.MarshalEvidenceFile(f)
	if err != nil {
		t.Fatal(err)
	}
	_, ev, err := tpm.ParseEvidenceFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if ev.EK == nil || ev.EK.Public.Type != tpm2.TPMAlgECC {
		t.Errorf("EK %+v, want the ECC EK", ev.EK)
	}
	for _, q := range ev.Quotes {
		got, err := tpm.CheckPCRDigest(q)
		if err != nil {
			t.Fatal(err)
		}
		if len(got[tpm2.TPMAlgSHA1]) != 3 || len(got[tpm2.TPMAlgSHA256]) != 3 {
			t.Errorf("quoted PCRs %v", got)
		}
		if string(q.Attest.ExtraData.Buffer) != string(nonce) {
			t.Errorf("extraData %q", q.Attest.ExtraData.Buffer)
		}
	}
	// The ECC EK at the AK handle: not an AK.
	bad := attester.TPMGather{ECC: true, AKHandle: attester.EKHandleECC}
	if _, err := bad.Gather(t.Context(), tp, nonce); err == nil || !strings.Contains(err.Error(), "AK handle 0x81010002") {
		t.Errorf("EK at the AK handle: %v", err)
	}
	if _, err := g.Gather(t.Context(), tp, make([]byte, 65)); err == nil {
		t.Error("a 65-byte nonce was taken")
	}
	// A challenge for another AK does not activate.
	other := testutil.CreatePrimary(t, tp, testutil.AKTemplate(tpm2.TPMAlgRSASSA))
	ek, err := g.EK(t.Context(), tp)
	if err != nil {
		t.Fatal(err)
	}
	ekPub, _ := ek.OutPublic.Contents()
	blob, enc, err := tpm.MakeCredentialPublic(ekPub, other.Name.Buffer, []byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.ActivateCredential(t.Context(), tp, tpm.MarshalCredentialFile(blob, enc)); err == nil {
		t.Error("a challenge for another AK's name was answered")
	}
	ak, err := g.AK(t.Context(), tp)
	if err != nil {
		t.Fatal(err)
	}
	blob, enc, _ = tpm.MakeCredentialPublic(ekPub, ak.Name.Buffer, []byte("0123456789abcdef"))
	got, err := g.ActivateCredential(t.Context(), tp, tpm.MarshalCredentialFile(blob, enc))
	if err != nil || string(got) != "0123456789abcdef" {
		t.Errorf("activation: %q %v", got, err)
	}
	if _, err := g.ActivateCredential(t.Context(), tp, []byte("junk")); !errors.Is(err, tpm.ErrMalformed) {
		t.Errorf("junk challenge: %v", err)
	}
}

// highRangeEK is an EK as the EK Credential Profile's high-range
// templates H-3 (ECC P-384) and H-6 (RSA 3072) shape what credential
// protection depends on: SHA-384 nameAlg, AES-256-CFB. Its policy is
// PolicySecret(TPM_RH_ENDORSEMENT) in SHA-384 (the real templates' policy
// also has an NV-authorized branch, which this test does not need).
func highRangeEK(t *testing.T, rsa3072 bool) tpm2.TPMTPublic {
	t.Helper()
	pc, err := tpm2.NewPolicyCalculator(tpm2.TPMAlgSHA384)
	if err != nil {
		t.Fatal(err)
	}
	if err := (tpm2.PolicySecret{AuthHandle: tpm2.TPMRHEndorsement}).Update(pc); err != nil {
		t.Fatal(err)
	}
	sym := tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgAES, KeyBits: tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(256)),
		Mode: tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB)}
	pub := tpm2.TPMTPublic{NameAlg: tpm2.TPMAlgSHA384, AuthPolicy: tpm2.TPM2BDigest{Buffer: pc.Hash().Digest},
		ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, AdminWithPolicy: true, Restricted: true, Decrypt: true}}
	if rsa3072 {
		pub.Type = tpm2.TPMAlgRSA
		pub.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{Symmetric: sym, KeyBits: 3072})
		pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{})
		return pub
	}
	pub.Type = tpm2.TPMAlgECC
	pub.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{Symmetric: sym, CurveID: tpm2.TPMECCNistP384})
	pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{})
	return pub
}

// TestTPMGatherHighRangeEK: with an ECC P-384 or RSA 3072 EK persisted at
// a handle given, the attester reads its certificate from the high-range
// index (0x01C00016, 0x01C0001C); a challenge made from that certificate
// alone (tpm.ParseEK places the key in a SHA-384, AES-256 template) is
// answered by the TPM; and the certificate passes ek.key bound to the EK.
func TestTPMGatherHighRangeEK(t *testing.T) {
	tp := testutil.StartSWTPM(t)
	for _, tc := range []struct {
		name    string
		rsa3072 bool
		handle  tpm2.TPMHandle
		nv      tpm2.TPMHandle
	}{
		{"ecc-p384", false, 0x81010010, attester.NVEKCertECCP384High},
		{"rsa-3072", true, 0x81010011, attester.NVEKCertRSA3072High},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := testutil.PersistPrimary(t, tp, highRangeEK(t, tc.rsa3072), tc.handle)
			if err != nil {
				t.Skipf("swtpm cannot make this EK: %v", err)
			}
			caKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			now := time.Now()
			ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "EK CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
				IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
			caDER, _ := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
			caCert, _ := x509.ParseCertificate(caDER)
			ku := x509.KeyUsageKeyEncipherment
			if !tc.rsa3072 {
				ku = x509.KeyUsageKeyAgreement
			}
			ekDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
				KeyUsage: ku, ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Critical: true,
					Value: tpm.MarshalEKSAN(&tpm.TPMIdentity{Manufacturer: "id:49424D00", Model: "swtpm", Version: "id:20191023"})}}}, caCert, key, caKey)
			if err != nil {
				t.Fatal(err)
			}
			testutil.WriteNV(t, tp, tc.nv, ekDER)

			g := attester.TPMGather{EKHandle: tc.handle, AKHandle: tc.handle + 0x10}
			f, err := g.Gather(t.Context(), tp, []byte("n"))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.EKCertificates) != 1 || f.Handles.EKCertificate != fmt.Sprintf("%#08x", uint32(tc.nv)) {
				t.Fatalf("EK certificates %d at %q", len(f.EKCertificates), f.Handles.EKCertificate)
			}
			ek, err := tpm.ParseEK(f.EKCertificates[0])
			if err != nil {
				t.Fatal(err)
			}
			_, ev, err := tpm.ParseEvidenceFile(mustMarshal(t, f))
			if err != nil {
				t.Fatal(err)
			}
			secret := []byte("high-range-ek-secret")
			blob, enc, err := tpm.MakeCredentialPublic(ek.Public, ev.AK.Name, secret)
			if err != nil {
				t.Fatal(err)
			}
			got, err := g.ActivateCredential(t.Context(), tp, tpm.MarshalCredentialFile(blob, enc))
			if err != nil || string(got) != string(secret) {
				t.Fatalf("activation: %q %v", got, err)
			}
			claims, _, err := tpm.VerifyEK(ev.EKCerts[0], tpm.EKOptions{Roots: []*x509.Certificate{caCert}, EKSHA256: ev.EK.SHA256(), Now: time.Now})
			if err != nil || !claims.Bound {
				t.Errorf("VerifyEK: %+v %v", claims, err)
			}
		})
	}
}

func mustMarshal(t *testing.T, f *tpm.EvidenceFile) []byte {
	t.Helper()
	b, err := tpm.MarshalEvidenceFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
