package tpm_test

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/tpm"
)

// gceCase is one go-tpm-tools attestation of the shared corpus (entry
// tpm-attestation-gce-cos85-go-tpm-tools), verified at the manifest's
// verify_at.
type gceCase struct {
	name  string
	file  string
	nonce []byte
}

var gceCases = []gceCase{
	{"gce-cos-85-no-nonce", "tpm/quotes/go-tpm-tools/gce-cos-85-no-nonce.pb", nil},
	{"gce-cos-85-nonce9009", "tpm/quotes/go-tpm-tools/gce-cos-85-nonce9009.pb", []byte{0x90, 0x09}},
}

func gceAt(t *testing.T) time.Time {
	t.Helper()
	m, _ := testutil.LoadManifest(t)
	for _, e := range m.Entries {
		if e.ID == "tpm-attestation-gce-cos85-go-tpm-tools" {
			return e.At(t)
		}
	}
	t.Fatal("manifest has no entry tpm-attestation-gce-cos85-go-tpm-tools")
	return time.Time{}
}

func readCorpus(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkNames(cs []attest.Check) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func failed(cs []attest.Check) []string {
	var out []string
	for _, c := range cs {
		if !c.OK {
			out = append(out, c.Name+": "+c.Detail)
		}
	}
	return out
}

func TestCorpusGCE(t *testing.T) {
	at := gceAt(t)
	for _, tc := range gceCases {
		t.Run(tc.name, func(t *testing.T) {
			b := readCorpus(t, tc.file)
			v := &tpm.Verifier{}
			if f, ok := v.Sniff(b); !ok || f != tpm.FormatAttestation {
				t.Fatalf("Sniff = %q, %v", f, ok)
			}
			res := v.Appraise(context.Background(), attest.Bundle{Evidence: b, Name: tc.file}, attest.Params{Now: at, Nonce: tc.nonce})
			if res.Status != attest.StatusAffirming {
				t.Fatalf("status %s; failed: %v", res.Status, failed(res.Checks))
			}
			want := []string{"parse", "ak.trust", "signature", "pcr.digest", "nonce", "eventlog.replay"}
			if got := checkNames(res.Checks); len(got) != len(want) {
				t.Fatalf("checks %v, want %v", got, want)
			}
			for i, c := range res.Checks {
				if c.Name != want[i] {
					t.Errorf("check %d is %s, want %s", i, c.Name, want[i])
				}
				if c.Skipped && (c.Name != "nonce" || tc.nonce != nil) {
					t.Errorf("%s skipped: %s", c.Name, c.Detail)
				}
			}
			cl := res.Claims.(*tpm.Claims)
			if len(cl.PCRs["sha1"]) == 0 || len(cl.PCRs["sha256"]) == 0 {
				t.Errorf("claims lack a bank: %v", cl.PCRSelection)
			}
			if cl.EventLog == nil || cl.AK.Certificate == nil || cl.AK.Name == "" {
				t.Errorf("claims lack event log, AK certificate or AK name: %+v", cl.AK)
			}
		})
	}
}

func TestCorpusGCEWrongNonce(t *testing.T) {
	at := gceAt(t)
	for _, tc := range gceCases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := tpm.ParseEvidence(readCorpus(t, tc.file), "")
			if err != nil {
				t.Fatal(err)
			}
			_, checks, err := tpm.Verify(context.Background(), ev, tpm.Options{Now: func() time.Time { return at }, Nonce: []byte{0x90, 0x08}})
			if !errors.Is(err, tpm.ErrNonce) {
				t.Fatalf("err %v, want ErrNonce", err)
			}
			if f := failed(checks); len(f) != 1 || f[0][:6] != "nonce:" {
				t.Errorf("failed checks %v, want only nonce", f)
			}
		})
	}
}

// TestCorpusGCEFlips flips every byte of each quote's TPMS_ATTEST and a
// spread of bytes of its signature: each must fail parse or signature.
func TestCorpusGCEFlips(t *testing.T) {
	at := gceAt(t)
	b := readCorpus(t, gceCases[1].file)
	o := tpm.Options{Now: func() time.Time { return at }}
	for qi := range 2 {
		ev, err := tpm.ParseEvidence(b, "")
		if err != nil {
			t.Fatal(err)
		}
		raw := ev.Quotes[qi].Raw
		for i := range raw {
			flipped := append([]byte{}, raw...)
			flipped[i] ^= 0x01
			q, err := tpm.ParseAttest(flipped)
			if err != nil {
				if !errors.Is(err, tpm.ErrMalformed) {
					t.Fatalf("quote %d byte %d: parse error %v is not ErrMalformed", qi, i, err)
				}
				continue
			}
			ev2 := *ev
			q.Sig, q.PCRs = ev.Quotes[qi].Sig, ev.Quotes[qi].PCRs
			ev2.Quotes = append(append([]*tpm.Quote{}, ev.Quotes[:qi]...), q)
			_, checks, err := tpm.Verify(context.Background(), &ev2, o)
			if !errors.Is(err, tpm.ErrSignature) {
				t.Fatalf("quote %d byte %d flipped: err %v, want ErrSignature (checks %v)", qi, i, err, failed(checks))
			}
		}
		rs := ev.Quotes[qi].RawSig
		for i := 0; i < len(rs); i += 7 {
			flipped := append([]byte{}, rs...)
			flipped[i] ^= 0x80
			s, err := tpm.ParseSignature(flipped)
			if err != nil {
				if !errors.Is(err, tpm.ErrMalformed) {
					t.Fatalf("signature byte %d: %v", i, err)
				}
				continue
			}
			if err := tpm.VerifySignature(ev.AK, s, raw); !errors.Is(err, tpm.ErrSignature) && !errors.Is(err, tpm.ErrMalformed) {
				t.Fatalf("signature byte %d flipped: %v", i, err)
			}
		}
	}
}

// TestCorpusGCEPCRTamper changes one supplied PCR value: pcr.digest fails.
func TestCorpusGCEPCRTamper(t *testing.T) {
	at := gceAt(t)
	ev, err := tpm.ParseEvidence(readCorpus(t, gceCases[0].file), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ev.Quotes[1].PCRs {
		m[4][0] ^= 1
	}
	_, _, err = tpm.Verify(context.Background(), ev, tpm.Options{Now: func() time.Time { return at }})
	if !errors.Is(err, tpm.ErrPCR) {
		t.Fatalf("err %v, want ErrPCR", err)
	}
}

// TestAKTrust: an AK certificate from another CA, a certificate of
// another key, no certificate, and the right certificate too early.
func TestAKTrust(t *testing.T) {
	at := gceAt(t)
	b := readCorpus(t, gceCases[0].file)
	other := readCorpus(t, "tpm/gce/openpcc-gce-ak-cert.pem")
	azure := readCorpus(t, "tpm/azure/openpcc-azure-ak-cert-03.der")
	otherCert := mustPEMCert(t, other)
	azureCert, err := x509.ParseCertificate(azure)
	if err != nil {
		t.Fatal(err)
	}
	ekRoot, err := x509.ParseCertificate(readCorpus(t, "roots/gcp/tpm_ek_root_1.cer"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*tpm.Evidence, *tpm.Options)
		want error
	}{
		{"no-certificate", func(e *tpm.Evidence, _ *tpm.Options) { e.AKCert = nil }, tpm.ErrUnvouched},
		{"certificate-of-another-key", func(e *tpm.Evidence, _ *tpm.Options) { e.AKCert = otherCert }, tpm.ErrChain},
		{"azure-certificate-of-another-key", func(e *tpm.Evidence, _ *tpm.Options) { e.AKCert = azureCert }, tpm.ErrChain},
		{"other-roots", func(_ *tpm.Evidence, o *tpm.Options) { o.Roots = []*x509.Certificate{azureRoot(t)} }, tpm.ErrChain},
		{"before-validity", func(_ *tpm.Evidence, o *tpm.Options) {
			o.Now = func() time.Time { return time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) }
		}, tpm.ErrChain},
		{"explicit-gce-root", func(_ *tpm.Evidence, o *tpm.Options) { o.Roots = []*x509.Certificate{ekRoot} }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := tpm.ParseEvidence(b, "")
			if err != nil {
				t.Fatal(err)
			}
			o := tpm.Options{Now: func() time.Time { return at }}
			tc.edit(ev, &o)
			_, checks, err := tpm.Verify(context.Background(), ev, o)
			if !errors.Is(err, tc.want) && (tc.want != nil || err != nil) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if tc.want == nil {
				return
			}
			// ak.trust fails alone: the quote itself is intact.
			if f := failed(checks); len(f) != 1 || f[0][:9] != "ak.trust:" {
				t.Errorf("failed checks %v, want only ak.trust", f)
			}
		})
	}
}

func azureRoot(t *testing.T) *x509.Certificate {
	return mustPEMCert(t, readCorpus(t, "roots/azure/azure_tpm_root_2023.pem"))
}
