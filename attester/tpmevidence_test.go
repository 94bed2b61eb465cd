package attester_test

import (
	"errors"
	"strings"
	"testing"

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
