package tpm_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"sort"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/tpm"
)

// signingAK is an attestation key held in software: what a TPM's AK would
// sign, made here, for tests of what comes after the signature (EK and
// IMA checks, benchmarks). Its TPMT_PUBLIC is that of a TPM AK
// (testutil.AKTemplate) with the key filled in, so it has a Name and can
// be enrolled.
type signingAK struct {
	key crypto.Signer
	ak  *tpm.AK
	alg tpm2.TPMAlgID // RSASSA or ECDSA
}

func newSigningAK(t testing.TB, alg tpm2.TPMAlgID) *signingAK {
	t.Helper()
	pub := testutil.AKTemplate(alg)
	var key crypto.Signer
	switch alg {
	case tpm2.TPMAlgECDSA:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: k.X.FillBytes(make([]byte, 32))},
			Y: tpm2.TPM2BECCParameter{Buffer: k.Y.FillBytes(make([]byte, 32))},
		})
		key = k
	default:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.FillBytes(make([]byte, 256))})
		key = k
	}
	ak, err := tpm.ParseAKPublic(tpm2.Marshal(pub))
	if err != nil {
		t.Fatal(err)
	}
	return &signingAK{key: key, ak: ak, alg: alg}
}

// enrolment is an enrolment of the AK against the EK whose SHA-256 is ek.
func (s *signingAK) enrolment(ek []byte) tpm.Enrollment {
	return tpm.Enrollment{AK: s.ak, EKSHA256: ek, ActivatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// quote signs a TPMS_ATTEST of a quote over SHA-256 PCRs and returns
// evidence as ParseEvidence and Gather would make it.
func (s *signingAK) quote(t testing.TB, pcrs map[int][]byte, nonce []byte) *tpm.Evidence {
	t.Helper()
	var idx []int
	for i := range pcrs {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	sel := tpm2.TPMSPCRSelection{Hash: tpm2.TPMAlgSHA256, PCRSelect: tpm2.PCClientCompatible.PCRs(toUint(idx)...)}
	h := sha256.New()
	vals := tpm.PCRs{tpm2.TPMAlgSHA256: {}}
	for _, i := range idx {
		h.Write(pcrs[i])
		vals[tpm2.TPMAlgSHA256][i] = pcrs[i]
	}
	a := tpm2.TPMSAttest{
		Magic:           tpm2.TPMGeneratedValue,
		Type:            tpm2.TPMSTAttestQuote,
		QualifiedSigner: tpm2.TPM2BName{Buffer: s.ak.Name},
		ExtraData:       tpm2.TPM2BData{Buffer: nonce},
		ClockInfo:       tpm2.TPMSClockInfo{Clock: 1000, ResetCount: 1, Safe: true},
		FirmwareVersion: 0x2019102300163636,
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestQuote, &tpm2.TPMSQuoteInfo{
			PCRSelect: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{sel}},
			PCRDigest: tpm2.TPM2BDigest{Buffer: h.Sum(nil)},
		}),
	}
	raw := tpm2.Marshal(a)
	d := sha256.Sum256(raw)
	var sig tpm2.TPMTSignature
	switch k := s.key.(type) {
	case *ecdsa.PrivateKey:
		r, ss, err := ecdsa.Sign(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = tpm2.TPMTSignature{SigAlg: tpm2.TPMAlgECDSA, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA, &tpm2.TPMSSignatureECC{
			Hash: tpm2.TPMAlgSHA256, SignatureR: tpm2.TPM2BECCParameter{Buffer: r.Bytes()}, SignatureS: tpm2.TPM2BECCParameter{Buffer: ss.Bytes()}})}
	case *rsa.PrivateKey:
		b, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = tpm2.TPMTSignature{SigAlg: tpm2.TPMAlgRSASSA, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgRSASSA, &tpm2.TPMSSignatureRSA{
			Hash: tpm2.TPMAlgSHA256, Sig: tpm2.TPM2BPublicKeyRSA{Buffer: b}})}
	}
	q, err := tpm.ParseAttest(raw)
	if err != nil {
		t.Fatal(err)
	}
	q.RawSig = tpm2.Marshal(sig)
	if q.Sig, err = tpm.ParseSignature(q.RawSig); err != nil {
		t.Fatal(err)
	}
	q.PCRs = vals
	return &tpm.Evidence{Format: tpm.FormatQuoteMsg, Quotes: []*tpm.Quote{q}, AK: s.ak}
}

func toUint(is []int) []uint {
	out := make([]uint, len(is))
	for i, v := range is {
		out[i] = uint(v)
	}
	return out
}

// bootPCRs are SHA-256 PCRs 0-7 of some boot, and PCR 10 as given.
func bootPCRs(pcr10 []byte) map[int][]byte {
	m := map[int][]byte{}
	for i := 0; i < 8; i++ {
		v := sha256.Sum256([]byte{byte(i)})
		m[i] = v[:]
	}
	if pcr10 != nil {
		m[10] = pcr10
	}
	return m
}
