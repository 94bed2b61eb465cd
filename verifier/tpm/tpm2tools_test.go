package tpm_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/verifier/tpm"
)

// TestTPM2Tools verifies the files tpm2-tools 5.4 wrote against swtpm
// (testdata/README.md): quote.msg as evidence, quote.sig, quote.pcrs and
// the AK public (TPM2B_PUBLIC or PEM) as collateral. ak.trust fails (no
// certificate vouches for this AK); every other check passes.
func TestTPM2Tools(t *testing.T) {
	read := func(name string) attest.NamedBlob {
		b, err := os.ReadFile(filepath.Join("testdata", "swtpm-rsa", name))
		if err != nil {
			t.Fatal(err)
		}
		return attest.NamedBlob{Name: name, Data: b}
	}
	msg := read("quote.msg")
	wantFormat := map[string]string{"quote.sig": tpm.FormatSignature, "quote.pcrs": tpm.FormatPCRFile, "ak.tpm2b": tpm.FormatAKPublic, "ak.pem": tpm.FormatAKPEM}
	for name, want := range wantFormat {
		if f, ok := tpm.SniffCollateral(read(name).Data); !ok || f != want {
			t.Errorf("%s sniffed as %q, want %q", name, f, want)
		}
	}
	if f, ok := tpm.SniffEvidence(msg.Data); !ok || f != tpm.FormatQuoteMsg {
		t.Errorf("quote.msg sniffed as %q", f)
	}
	for _, ak := range []string{"ak.tpm2b", "ak.pem"} {
		t.Run(ak, func(t *testing.T) {
			b := attest.Bundle{Evidence: msg.Data, Name: msg.Name, Other: []attest.NamedBlob{read("quote.sig"), read("quote.pcrs"), read(ak)}}
			res := (&tpm.Verifier{}).Appraise(context.Background(), b, attest.Params{Nonce: []byte{0x90, 0x09}})
			f := failed(res.Checks)
			if len(f) != 1 || f[0][:9] != "ak.trust:" {
				t.Fatalf("failed checks %v, want only ak.trust", f)
			}
			cl := res.Claims.(*tpm.Claims)
			if len(cl.PCRs["sha256"]) != 8 || len(cl.PCRs["sha1"]) != 2 {
				t.Errorf("pcrs %v, want sha256 0-7 and sha1 0,7", cl.PCRs)
			}
		})
	}
	t.Run("no-signature", func(t *testing.T) {
		b := attest.Bundle{Evidence: msg.Data, Other: []attest.NamedBlob{read("quote.pcrs"), read("ak.pem")}}
		res := (&tpm.Verifier{}).Appraise(context.Background(), b, attest.Params{})
		if f := failed(res.Checks); len(f) != 2 || f[1][:10] != "signature:" {
			t.Errorf("failed checks %v, want ak.trust and signature", f)
		}
	})
}

// TestPCRFileRoundTrip: MarshalPCRFile gives back tpm2-tools' bytes.
func TestPCRFileRoundTrip(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "swtpm-rsa", "quote.pcrs"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := tpm.ParsePCRFile(b)
	if err != nil {
		t.Fatal(err)
	}
	f2, err := tpm.ParsePCRFile(tpm.MarshalPCRFile(f))
	if err != nil {
		t.Fatal(err)
	}
	for bank, m := range f.Values {
		for i, v := range m {
			if string(f2.Values[bank][i]) != string(v) {
				t.Errorf("bank %v PCR %d differs after a round trip", bank, i)
			}
		}
	}
}
