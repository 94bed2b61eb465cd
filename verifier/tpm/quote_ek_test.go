package tpm_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/verifier/tpm"
)

// TestQuoteEK: an EK certificate given with a quote becomes the ek.*
// checks; it is bound to the quote's TPM only through the enrolment of
// the AK (credential activation against that EK).
func TestQuoteEK(t *testing.T) {
	p := newEKPKI(t, "Test")
	ekKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ekCert := p.ek(t, ekCertOptions{key: &ekKey.PublicKey})
	otherCert := p.ek(t, ekCertOptions{})
	ak := newSigningAK(t, tpm2.TPMAlgECDSA)
	nonce := []byte("nonce")
	want := []string{"ak.trust", "ek.chain", "ek.san", "ek.key", "signature", "pcr.digest", "nonce", "eventlog.replay"}
	tests := []struct {
		name    string
		certs   []*x509.Certificate
		enroll  bool
		ekPub   bool
		wantErr error
		failed  []string
		bound   bool
	}{
		{"enrolled-bound", []*x509.Certificate{ekCert}, true, false, nil, nil, true},
		{"enrolled-picks-the-enrolled-ek", []*x509.Certificate{otherCert, ekCert}, true, false, nil, nil, true},
		{"enrolled-other-ek", []*x509.Certificate{otherCert}, true, false, tpm.ErrEKMismatch, []string{"ek.key"}, false},
		{"ek-public-bound", []*x509.Certificate{ekCert}, false, true, tpm.ErrUnvouched, []string{"ak.trust"}, true},
		{"not-enrolled", []*x509.Certificate{ekCert}, false, false, tpm.ErrUnvouched, []string{"ak.trust"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := ak.quote(t, bootPCRs(nil), nonce)
			ev.EKCerts = tc.certs
			o := tpm.Options{Now: func() time.Time { return p.now }, Nonce: nonce, EKRoots: []*x509.Certificate{p.root}, Intermediates: []*x509.Certificate{p.inter}}
			if tc.enroll {
				o.Enrolled = []tpm.Enrollment{ak.enrolment(keySHA(t, &ekKey.PublicKey))}
			}
			if tc.ekPub {
				ev.EK = &tpm.EK{Key: &ekKey.PublicKey}
			}
			cl, checks, err := tpm.Verify(context.Background(), ev, o)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("err %v, want %v: %v", err, tc.wantErr, failed(checks))
			}
			if got := checkNames(checks); !reflect.DeepEqual(got, want) {
				t.Errorf("checks %v, want %v", got, want)
			}
			if got := failedNames(checks); !reflect.DeepEqual(got, tc.failed) {
				t.Errorf("failed %v, want %v", got, tc.failed)
			}
			if err == nil {
				if cl.EK == nil || cl.EK.Bound != tc.bound || cl.EK.Manufacturer != "4E544300" || cl.EK.PublicKeySHA256 != hex.EncodeToString(keySHA(t, &ekKey.PublicKey)) {
					t.Errorf("ek claims %+v", cl.EK)
				}
			}
			if tc.name == "ek-public-bound" && !checks[3].OK {
				t.Errorf("ek.key: %s", checks[3].Detail)
			}
		})
	}
	// Without an EK certificate there are no ek checks, as before.
	ev := ak.quote(t, bootPCRs(nil), nonce)
	_, checks, err := tpm.Verify(context.Background(), ev, tpm.Options{Now: func() time.Time { return p.now }, Nonce: nonce,
		Enrolled: []tpm.Enrollment{ak.enrolment(keySHA(t, &ekKey.PublicKey))}})
	if err != nil || len(checks) != 5 {
		t.Errorf("without EK certificate: %v %v", checkNames(checks), err)
	}
}
