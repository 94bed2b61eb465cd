package tpm_test

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/verifier/tpm"
)

// certifySeed is a TPMS_ATTEST of type TPM_ST_ATTEST_CERTIFY of a made-up
// object, and an AK's signature over it.
func certifySeed(t testing.TB) (attestB, sig []byte) {
	t.Helper()
	ak := newSigningAK(t, tpm2.TPMAlgECDSA)
	q := ak.quote(t, bootPCRs(nil), []byte("n")) // for a TPMT_SIGNATURE's shape
	a := tpm2.TPMSAttest{Magic: tpm2.TPMGeneratedValue, Type: tpm2.TPMSTAttestCertify,
		QualifiedSigner: tpm2.TPM2BName{Buffer: ak.ak.Name}, ExtraData: tpm2.TPM2BData{Buffer: []byte("nonce")},
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestCertify, &tpm2.TPMSCertifyInfo{
			Name: tpm2.TPM2BName{Buffer: append([]byte{0, 0x0b}, bytes.Repeat([]byte{7}, 32)...)}, QualifiedName: tpm2.TPM2BName{Buffer: append([]byte{0, 0x0b}, bytes.Repeat([]byte{8}, 32)...)}})}
	return tpm2.Marshal(a), q.Quotes[0].RawSig
}

// TestParseCertify: a certify structure parses; a quote, trailing bytes
// and a truncation do not.
func TestParseCertify(t *testing.T) {
	a, s := certifySeed(t)
	c, err := tpm.ParseCertify(a, s)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Attest.ExtraData.Buffer) != "nonce" || c.Info.Name.Buffer[2] != 7 {
		t.Errorf("certify %+v", c.Info)
	}
	ak := newSigningAK(t, tpm2.TPMAlgECDSA)
	quote := ak.quote(t, bootPCRs(nil), nil).Quotes[0]
	for name, b := range map[string][]byte{"quote": quote.Raw, "trailing": append(append([]byte{}, a...), 0), "truncated": a[:len(a)-3], "short": a[:4]} {
		if _, err := tpm.ParseCertify(b, s); !errors.Is(err, tpm.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// FuzzParseCertify: the certify and hardwareModuleName parsers never
// panic, and a parsed certify re-encodes to its bytes.
func FuzzParseCertify(f *testing.F) {
	a, s := certifySeed(f)
	f.Add(a, s)
	f.Add(a[:10], s[:3])
	f.Fuzz(func(t *testing.T, a, s []byte) {
		if c, err := tpm.ParseCertify(a, s); err == nil {
			if !bytes.Equal(tpm2.Marshal(*c.Attest), a) {
				t.Fatal("certify does not re-encode to its bytes")
			}
		}
		_, _ = tpm.ParseHardwareModuleName(&x509.Certificate{Extensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: a}}})
		_, _ = tpm.ParseIDevID(s, nil, a, s)
	})
}
