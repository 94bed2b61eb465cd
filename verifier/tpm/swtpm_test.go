package tpm_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/tpm"
)

// startSWTPM runs swtpm for the test (internal/testutil): skipped without
// swtpm, except under CI.
func startSWTPM(t *testing.T) transport.TPM { return testutil.StartSWTPM(t) }

// akTemplate is a restricted signing key, as an AK must be.
func akTemplate(alg tpm2.TPMAlgID) tpm2.TPMTPublic { return testutil.AKTemplate(alg) }

// TestSWTPM creates AKs in a live swtpm, extends PCR 7, quotes SHA-256
// PCRs 0-7 over a nonce, and verifies the quote: every check passes but
// ak.trust, which must fail (nothing vouches for a freshly made AK).
func TestSWTPM(t *testing.T) {
	tp := startSWTPM(t)
	ext := sha256.Sum256([]byte("assay swtpm test"))
	if _, err := (tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(7), Auth: tpm2.PasswordAuth(nil)},
		Digests:   tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{HashAlg: tpm2.TPMAlgSHA256, Digest: ext[:]}}},
	}).Execute(tp); err != nil {
		t.Fatalf("PCR_Extend: %v", err)
	}
	sel := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: tpm2.PCClientCompatible.PCRs(0, 1, 2, 3, 4, 5, 6, 7)}}}
	for _, scheme := range []tpm2.TPMAlgID{tpm2.TPMAlgRSASSA, tpm2.TPMAlgRSAPSS, tpm2.TPMAlgECDSA} {
		t.Run(map[tpm2.TPMAlgID]string{tpm2.TPMAlgRSASSA: "rsassa", tpm2.TPMAlgRSAPSS: "rsapss", tpm2.TPMAlgECDSA: "ecdsa"}[scheme], func(t *testing.T) {
			cp, err := (tpm2.CreatePrimary{
				PrimaryHandle: tpm2.TPMRHEndorsement,
				InPublic:      tpm2.New2B(akTemplate(scheme)),
			}).Execute(tp)
			if err != nil {
				t.Fatalf("CreatePrimary: %v", err)
			}
			defer func() {
				if _, err := (tpm2.FlushContext{FlushHandle: cp.ObjectHandle}).Execute(tp); err != nil {
					t.Errorf("FlushContext: %v", err)
				}
			}()
			nonce := []byte("assay-nonce-0123456789")
			q, err := (tpm2.Quote{
				SignHandle:     tpm2.AuthHandle{Handle: cp.ObjectHandle, Name: cp.Name, Auth: tpm2.PasswordAuth(nil)},
				QualifyingData: tpm2.TPM2BData{Buffer: nonce},
				InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
				PCRSelect:      sel,
			}).Execute(tp)
			if err != nil {
				t.Fatalf("Quote: %v", err)
			}
			pr, err := (tpm2.PCRRead{PCRSelectionIn: sel}).Execute(tp)
			if err != nil {
				t.Fatalf("PCR_Read: %v", err)
			}
			if len(pr.PCRValues.Digests) != 8 {
				t.Fatalf("PCR_Read gave %d values", len(pr.PCRValues.Digests))
			}
			// The files tpm2_quote and tpm2_createak would write, through
			// the same path as the command line.
			pf := &tpm.PCRFile{Selection: sel.PCRSelections, Values: tpm.PCRs{tpm2.TPMAlgSHA256: {}}}
			for i, d := range pr.PCRValues.Digests {
				pf.Values[tpm2.TPMAlgSHA256][i] = d.Buffer
			}
			msg := q.Quoted.Bytes()
			b := attest.Bundle{Evidence: msg, Name: "quote.msg", Other: []attest.NamedBlob{
				{Name: "quote.sig", Data: tpm2.Marshal(q.Signature)},
				{Name: "quote.pcrs", Data: tpm.MarshalPCRFile(pf)},
				{Name: "ak.pub", Data: tpm2.Marshal(cp.OutPublic)},
			}}
			for _, o := range b.Other {
				if _, ok := tpm.SniffCollateral(o.Data); !ok {
					t.Errorf("%s not recognised", o.Name)
				}
			}
			res := (&tpm.Verifier{}).Appraise(context.Background(), b, attest.Params{Nonce: nonce})
			want := map[string]string{"parse": "pass", "ak.trust": "fail", "signature": "pass", "pcr.digest": "pass", "nonce": "pass", "eventlog.replay": "skip"}
			for _, c := range res.Checks {
				got := "pass"
				if !c.OK {
					got = "fail"
				} else if c.Skipped {
					got = "skip"
				}
				if want[c.Name] != got {
					t.Errorf("%s: %s (%s), want %s", c.Name, got, c.Detail, want[c.Name])
				}
				delete(want, c.Name)
			}
			if len(want) != 0 {
				t.Errorf("checks missing: %v", want)
			}
			cl := res.Claims.(*tpm.Claims)
			if cl.PCRs["sha256"]["7"] == "" || cl.ExtraData != fmt.Sprintf("%x", nonce) {
				t.Errorf("claims: %+v", cl)
			}

			// A flipped byte of the signed TPMS_ATTEST fails the signature.
			ev, _, err := tpm.Gather(b)
			if err != nil {
				t.Fatal(err)
			}
			flipped := append([]byte{}, msg...)
			flipped[len(flipped)-1] ^= 1 // the last byte of pcrDigest
			fq, err := tpm.ParseAttest(flipped)
			if err != nil {
				t.Fatal(err)
			}
			fq.Sig, fq.PCRs = ev.Quotes[0].Sig, ev.Quotes[0].PCRs
			ev.Quotes[0] = fq
			_, checks, err := tpm.Verify(context.Background(), ev, tpm.Options{})
			if !errors.Is(err, tpm.ErrUnvouched) {
				t.Errorf("flipped pcrDigest: %v, want ErrUnvouched first", err)
			}
			if f := failed(checks); len(f) != 2 || !strings.HasPrefix(f[1], "signature: ") {
				t.Errorf("flipped pcrDigest: failed checks %v, want ak.trust then signature", f)
			}
		})
	}
}
