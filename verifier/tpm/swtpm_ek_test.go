package tpm_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/eventlog/tcg"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/tpm"
)

// TestSWTPMEKAndIMA runs the whole TPM path against a live swtpm: the EK
// (default RSA template) gets a certificate from a test TPM vendor; an AK
// is enrolled by credential activation against that EK; IMA entries are
// extended into PCR 10 as the kernel does (SHA-256 bank: the hash of each
// entry's template data); the TPM quotes PCRs 0-7 and 10. Every check
// passes, the EK certificate is bound to the quote (it certifies the EK
// the AK was activated against), and the IMA log is judged.
func TestSWTPMEKAndIMA(t *testing.T) {
	tp := testutil.StartSWTPM(t)
	ekRsp := testutil.CreatePrimary(t, tp, tpm2.RSAEKTemplate)
	akRsp := testutil.CreatePrimary(t, tp, testutil.AKTemplate(tpm2.TPMAlgECDSA))
	ek, err := tpm.ParseEK(tpm2.Marshal(ekRsp.OutPublic))
	if err != nil {
		t.Fatal(err)
	}
	ak, err := tpm.ParseAKPublic(tpm2.Marshal(akRsp.OutPublic))
	if err != nil {
		t.Fatal(err)
	}

	// Credential activation: the enrolment of the AK against the EK.
	secret := make([]byte, 32)
	rand.Read(secret)
	blob, enc, err := tpm.MakeCredential(ek.Key, ak.Name, secret)
	if err != nil {
		t.Fatal(err)
	}
	got, err := testutil.ActivateCredential(tp, ekRsp, akRsp, blob, enc)
	if err != nil {
		t.Fatal(err)
	}
	if err := tpm.CheckActivation(secret, got); err != nil {
		t.Fatal(err)
	}
	enrolled := tpm.Enrollment{AK: ak, EKSHA256: ek.SHA256(), ActivatedAt: ekNow}

	// The EK certificate, from a test vendor.
	vendor := newEKPKI(t, "swtpm vendor")
	ekCert := vendor.ek(t, ekCertOptions{key: ek.Key})

	// IMA: extend PCR 10 with each entry's SHA-256 template hash.
	ik := newIMAKey(t)
	boot := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: tpm2.PCClientCompatible.PCRs(0, 1, 2, 3, 4, 5, 6, 7)}}}
	bootVals, err := (tpm2.PCRRead{PCRSelectionIn: boot}).Execute(tp)
	if err != nil || len(bootVals.PCRValues.Digests) != 8 {
		t.Fatalf("PCR_Read 0-7: %v", err)
	}
	bootPCRValues := map[int][]byte{}
	for i, d := range bootVals.PCRValues.Digests {
		bootPCRValues[i] = d.Buffer
	}
	raw, _, _ := imaLogBoot(t, ik.key, ik.pub.ID, imaFiles, testBootAggregate(7, bootPCRValues))
	l, err := tcg.ParseIMA(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i := range l.Entries {
		d := sha256.Sum256(l.Entries[i].Data)
		if _, err := (tpm2.PCRExtend{
			PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(10), Auth: tpm2.PasswordAuth(nil)},
			Digests:   tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{HashAlg: tpm2.TPMAlgSHA256, Digest: d[:]}}},
		}).Execute(tp); err != nil {
			t.Fatal(err)
		}
	}

	sel := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: tpm2.PCClientCompatible.PCRs(0, 1, 2, 3, 4, 5, 6, 7, 10)}}}
	nonce := []byte("swtpm-ek-ima")
	q, err := (tpm2.Quote{
		SignHandle:     tpm2.AuthHandle{Handle: akRsp.ObjectHandle, Name: akRsp.Name, Auth: tpm2.PasswordAuth(nil)},
		QualifyingData: tpm2.TPM2BData{Buffer: nonce},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
		PCRSelect:      sel,
	}).Execute(tp)
	if err != nil {
		t.Fatal(err)
	}
	pf := &tpm.PCRFile{Selection: sel.PCRSelections, Values: tpm.PCRs{tpm2.TPMAlgSHA256: {}}}
	for _, chunk := range [][]uint{{0, 1, 2, 3, 4, 5, 6, 7}, {10}} {
		s := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: tpm2.PCClientCompatible.PCRs(chunk...)}}}
		pr, err := (tpm2.PCRRead{PCRSelectionIn: s}).Execute(tp)
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range pr.PCRValues.Digests {
			pf.Values[tpm2.TPMAlgSHA256][int(chunk[i])] = d.Buffer
		}
	}

	b := attest.Bundle{Evidence: q.Quoted.Bytes(), Name: "quote.msg", Certificates: append([]*x509.Certificate{ekCert}, ik.cert), Other: []attest.NamedBlob{
		{Name: "quote.sig", Data: tpm2.Marshal(q.Signature)},
		{Name: "quote.pcrs", Data: tpm.MarshalPCRFile(pf)},
		{Name: "ak.pub", Data: tpm2.Marshal(akRsp.OutPublic)},
		{Name: "ima.log", Data: raw},
		{Name: "allowlist.txt", Data: allowList(imaFiles[2])},
	}}
	ev, log, err := tpm.Gather(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.EKCerts) != 1 || len(ev.IMAKeys) != 1 || ev.IMAPolicy == nil || ev.IMALog == nil || ev.AKCert != nil {
		t.Fatalf("gathered EK certificates %d, IMA keys %d, policy %v, log %d bytes, AK certificate %v", len(ev.EKCerts), len(ev.IMAKeys), ev.IMAPolicy != nil, len(ev.IMALog), ev.AKCert)
	}
	cl, checks, err := tpm.Verify(context.Background(), ev, tpm.Options{Nonce: nonce, EventLog: log, Enrolled: []tpm.Enrollment{enrolled},
		EKRoots: []*x509.Certificate{vendor.root}, Intermediates: []*x509.Certificate{vendor.inter}, Now: func() time.Time { return vendor.now }})
	if err != nil {
		t.Fatalf("%v: %v", err, failed(checks))
	}
	want := []string{"ak.trust", "ek.chain", "ek.san", "ek.key", "signature", "pcr.digest", "nonce", "eventlog.replay", "ima.replay", "ima.boot_aggregate", "ima.allowlist", "ima.signatures"}
	if got := checkNames(checks); len(got) != len(want) {
		t.Fatalf("checks %v, want %v", got, want)
	}
	if !cl.EK.Bound || cl.EK.Manufacturer != "4E544300" || cl.IMA.BoundEntries != len(l.Entries) || cl.IMA.Appraisal.SignatureValid != 3 {
		t.Errorf("claims: ek %+v, ima %+v", cl.EK, cl.IMA)
	}
	for _, c := range checks {
		t.Logf("%s: %s", c.Name, c.Detail)
	}
}
