package tpm_test

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/verifier/tpm"
)

// TestGatherKeys: Gather tells the AK, its certificate, EK certificates
// and IMA keys apart by what they certify, whatever the files' order.
func TestGatherKeys(t *testing.T) {
	ak := newSigningAK(t, tpm2.TPMAlgECDSA)
	ik := newIMAKey(t)
	raw, _, _ := imaLog(t, ik.key, ik.pub.ID, imaFiles)
	ev := ak.quote(t, bootPCRs(nil), nil)
	q := ev.Quotes[0]
	akDER, err := x509.MarshalPKIXPublicKey(ak.ak.Key)
	if err != nil {
		t.Fatal(err)
	}
	akPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: akDER})
	akTPM2B := tpm2.Marshal(tpm2.New2B(*ak.ak.Public))
	ca := newEKPKI(t, "AK")
	akCert := issue(t, &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "AK"}, NotBefore: ekNow.AddDate(-1, 0, 0), NotAfter: ekNow.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature}, ca.inter, ak.ak.Key, ca.interKey)
	ekCert := ca.ek(t, ekCertOptions{})
	sig := attest.NamedBlob{Name: "quote.sig", Data: q.RawSig}
	pcrs := attest.NamedBlob{Name: "quote.pcrs", Data: tpm.MarshalPCRFile(&tpm.PCRFile{Selection: q.Info.PCRSelect.PCRSelections, Values: q.PCRs})}
	imaKey := attest.NamedBlob{Name: "ima-key.pem", Data: ik.pem}
	tests := []struct {
		name    string
		other   []attest.NamedBlob
		certs   []*x509.Certificate
		akFrom  string // "tpm2b", "pem", "cert", ""
		akCert  bool
		imaKeys int
		ekCerts int
		withLog bool
	}{
		{"tpm2b-and-pem-ima-key", []attest.NamedBlob{sig, pcrs, {Name: "ak.pub", Data: akTPM2B}, imaKey}, nil, "tpm2b", false, 1, 0, false},
		{"pem-ima-key-first-then-pem-ak-with-log", []attest.NamedBlob{imaKey, sig, pcrs, {Name: "ak.pem", Data: akPEM}}, nil, "pem", false, 1, 0, true},
		{"ak-twice", []attest.NamedBlob{sig, pcrs, {Name: "ak.pub", Data: akTPM2B}, {Name: "ak.pem", Data: akPEM}}, nil, "tpm2b", false, 0, 0, false},
		{"ak-from-certificate-and-pem-ima-key", []attest.NamedBlob{sig, pcrs, imaKey}, []*x509.Certificate{akCert}, "cert", true, 1, 0, false},
		{"certificates-any-order", []attest.NamedBlob{sig, pcrs}, []*x509.Certificate{ik.cert, ekCert, ca.inter, akCert}, "cert", true, 1, 1, true},
		{"ak-certificate-of-a-known-ak", []attest.NamedBlob{sig, pcrs, {Name: "ak.pub", Data: akTPM2B}}, []*x509.Certificate{ik.cert, akCert}, "tpm2b", true, 1, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			other := tc.other
			if tc.withLog {
				other = append(other, attest.NamedBlob{Name: "ima.log", Data: raw})
			}
			ev, _, err := tpm.Gather(attest.Bundle{Evidence: q.Raw, Name: "quote.msg", Other: other, Certificates: tc.certs})
			if err != nil {
				t.Fatal(err)
			}
			if ev.AK == nil || !ev.AK.Key.(interface{ Equal(crypto.PublicKey) bool }).Equal(ak.ak.Key) {
				t.Fatalf("AK %+v", ev.AK)
			}
			if (tc.akFrom == "tpm2b") != (ev.AK.Public != nil) {
				t.Errorf("AK from %s, TPMT_PUBLIC %v", tc.akFrom, ev.AK.Public != nil)
			}
			if (ev.AKCert != nil) != tc.akCert || len(ev.IMAKeys) != tc.imaKeys || len(ev.EKCerts) != tc.ekCerts {
				t.Errorf("AK certificate %v, IMA keys %d, EK certificates %d", ev.AKCert != nil, len(ev.IMAKeys), len(ev.EKCerts))
			}
			for _, k := range ev.IMAKeys {
				if k.ID != ik.pub.ID {
					t.Errorf("IMA key %s, want %s", k.IDString(), ik.pub.IDString())
				}
			}
		})
	}
}
