package tpm_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/verifier/tpm"
)

// allPCRs are SHA-256 PCRs 0-23, as go-tpm-tools quotes them.
func allPCRs() map[int][]byte {
	m := map[int][]byte{}
	for i := range 24 {
		v := sha256.Sum256([]byte{byte(i)})
		m[i] = v[:]
	}
	return m
}

// BenchmarkQuoteVerify verifies a quote of the 24 SHA-256 PCRs by an
// enrolled ("known") AK: ak.trust, signature, pcr.digest, nonce and the
// claims. BenchmarkQuoteSignatureFloor is the signature alone (SHA-256 of
// the TPMS_ATTEST and the ECDSA or RSASSA verification), the floor under
// it. On a shared machine two benchmarks run apart see different loads,
// so BenchmarkQuoteVerify also runs the floor between its own iterations
// and reports its own time (own-ns/op), the floor's (floor-ns/op) and their
// ratio (x-floor); ns/op is then the two together. docs/tpm.md records them.
func BenchmarkQuoteVerify(b *testing.B) {
	for _, alg := range []struct {
		name string
		alg  tpm2.TPMAlgID
	}{{"ecdsa-p256", tpm2.TPMAlgECDSA}, {"rsa-2048", tpm2.TPMAlgRSASSA}} {
		ak := newSigningAK(b, alg.alg)
		nonce := []byte("0123456789abcdef")
		ev := ak.quote(b, allPCRs(), nonce)
		o := tpm.Options{Nonce: nonce, Enrolled: []tpm.Enrollment{ak.enrolment(make([]byte, 32))}}
		floor := signatureFloor(b, ak, ev.Quotes[0])
		b.Run(alg.name, func(b *testing.B) {
			var tv, tf time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, _, err := tpm.Verify(context.Background(), ev, o); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				floor()
				tv, tf = tv+t1.Sub(t0), tf+time.Since(t1)
			}
			b.ReportMetric(float64(tv.Nanoseconds())/float64(b.N), "own-ns/op")
			b.ReportMetric(float64(tv)/float64(tf), "x-floor")
			b.ReportMetric(float64(tf.Nanoseconds())/float64(b.N), "floor-ns/op")
		})
	}
}

// signatureFloor returns the verification of q's signature alone.
func signatureFloor(b *testing.B, ak *signingAK, q *tpm.Quote) func() {
	switch k := ak.ak.Key.(type) {
	case *ecdsa.PublicKey:
		s, _ := q.Sig.Signature.ECDSA()
		r, ss := new(big.Int).SetBytes(s.SignatureR.Buffer), new(big.Int).SetBytes(s.SignatureS.Buffer)
		return func() {
			d := sha256.Sum256(q.Raw)
			if !ecdsa.Verify(k, d[:], r, ss) {
				b.Fatal("does not verify")
			}
		}
	case *rsa.PublicKey:
		s, _ := q.Sig.Signature.RSASSA()
		return func() {
			d := sha256.Sum256(q.Raw)
			if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], s.Sig.Buffer); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Fatalf("AK key %T", ak.ak.Key)
	return nil
}

func BenchmarkQuoteSignatureFloor(b *testing.B) {
	for _, alg := range []struct {
		name string
		alg  tpm2.TPMAlgID
	}{{"ecdsa-p256", tpm2.TPMAlgECDSA}, {"rsa-2048", tpm2.TPMAlgRSASSA}} {
		ak := newSigningAK(b, alg.alg)
		ev := ak.quote(b, allPCRs(), []byte("0123456789abcdef"))
		floor := signatureFloor(b, ak, ev.Quotes[0])
		b.Run(alg.name, func(b *testing.B) {
			for b.Loop() {
				floor()
			}
		})
	}
}

// BenchmarkQuoteParseVerify adds the parse of the TPMS_ATTEST and
// TPMT_SIGNATURE to BenchmarkQuoteVerify: a bare quote as it arrives.
func BenchmarkQuoteParseVerify(b *testing.B) {
	ak := newSigningAK(b, tpm2.TPMAlgECDSA)
	nonce := []byte("0123456789abcdef")
	ev := ak.quote(b, allPCRs(), nonce)
	raw, rawSig, pcrs := ev.Quotes[0].Raw, ev.Quotes[0].RawSig, ev.Quotes[0].PCRs
	o := tpm.Options{Nonce: nonce, Enrolled: []tpm.Enrollment{ak.enrolment(make([]byte, 32))}}
	for b.Loop() {
		q, err := tpm.ParseAttest(raw)
		if err != nil {
			b.Fatal(err)
		}
		if q.Sig, err = tpm.ParseSignature(rawSig); err != nil {
			b.Fatal(err)
		}
		q.PCRs = pcrs
		if _, _, err := tpm.Verify(context.Background(), &tpm.Evidence{Quotes: []*tpm.Quote{q}, AK: ak.ak}, o); err != nil {
			b.Fatal(err)
		}
	}
}
