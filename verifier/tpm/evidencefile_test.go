package tpm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/verifier/tpm"
)

// evidenceFile makes an assay-tpm-evidence file of a quote over boot PCRs
// by a software AK, with an IMA-free firmware-free body.
func evidenceFile(t testing.TB, ak *signingAK, nonce []byte) []byte {
	t.Helper()
	ev := ak.quote(t, bootPCRs(nil), nonce)
	q := ev.Quotes[0]
	b, err := tpm.MarshalEvidenceFile(&tpm.EvidenceFile{
		AKPublic: tpm2.Marshal(tpm2.New2B(*ak.ak.Public)),
		Quotes:   []tpm.EvidenceQuote{{Attest: q.Raw, Signature: q.RawSig}},
		PCRs:     tpm.EvidencePCRs(q.PCRs),
		Handles:  &tpm.EvidenceHandles{AK: "0x81010003"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEvidenceFile: an evidence file is recognised by content, appraised
// like the same quote as tpm2-tools files (an enrolled AK affirms), and
// re-encodes to the same document.
func TestEvidenceFile(t *testing.T) {
	ak := newSigningAK(t, tpm2.TPMAlgECDSA)
	nonce := []byte("evidence-file-nonce")
	b := evidenceFile(t, ak, nonce)
	if f, ok := tpm.SniffEvidence(b); !ok || f != tpm.FormatEvidenceFile {
		t.Fatalf("sniff: %q %v", f, ok)
	}
	f, ev, err := tpm.ParseEvidenceFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := tpm.MarshalEvidenceFile(f); err != nil || !bytes.Equal(m, b) {
		t.Errorf("re-encoding differs: %v", err)
	}
	if ev.AK == nil || ev.AK.Public == nil || len(ev.Quotes) != 1 || len(ev.Quotes[0].PCRs[tpm2.TPMAlgSHA256]) != 8 {
		t.Fatalf("evidence %+v", ev)
	}
	v := &tpm.Verifier{Enrolled: []tpm.Enrollment{ak.enrolment(make([]byte, 32))}}
	res := v.Appraise(context.Background(), attest.Bundle{Evidence: b, Name: "evidence.json"}, attest.Params{Nonce: nonce, Now: time.Now()})
	if res.Status != attest.StatusAffirming {
		t.Errorf("status %v: %+v", res.Status, res.Checks)
	}
	res = v.Appraise(context.Background(), attest.Bundle{Evidence: b}, attest.Params{Nonce: []byte("other"), Now: time.Now()})
	if f := failed(res.Checks); len(f) != 1 || !strings.HasPrefix(f[0], "nonce: ") {
		t.Errorf("other nonce: failed %v", f)
	}
}

// TestEvidenceFileMalformed: each defect is ErrMalformed, never a panic.
func TestEvidenceFileMalformed(t *testing.T) {
	ak := newSigningAK(t, tpm2.TPMAlgRSASSA)
	good := evidenceFile(t, ak, []byte("n"))
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	pcrs := func(m map[string]any) map[string]any { return m["pcrs"].(map[string]any)["sha256"].(map[string]any) }
	for name, b := range map[string][]byte{
		"version-2":       edit(func(m map[string]any) { m["version"] = 2 }),
		"unknown-member":  edit(func(m map[string]any) { m["extra"] = 1 }),
		"no-quotes":       edit(func(m map[string]any) { m["quotes"] = []any{} }),
		"no-ak":           edit(func(m map[string]any) { delete(m, "ak_public") }),
		"ak-not-base64":   edit(func(m map[string]any) { m["ak_public"] = "%%" }),
		"ak-truncated":    edit(func(m map[string]any) { m["ak_public"] = "AAE=" }),
		"pcr-short":       edit(func(m map[string]any) { pcrs(m)["0"] = "00" }),
		"pcr-index-24":    edit(func(m map[string]any) { pcrs(m)["24"] = pcrs(m)["0"] }),
		"pcr-index-07":    edit(func(m map[string]any) { pcrs(m)["07"] = pcrs(m)["0"] }),
		"bank-md5":        edit(func(m map[string]any) { m["pcrs"].(map[string]any)["md5"] = map[string]any{} }),
		"ek-cert-garbage": edit(func(m map[string]any) { m["ek_certificates"] = []string{"AAAA"} }),
		"attest-garbage":  edit(func(m map[string]any) { m["quotes"].([]any)[0].(map[string]any)["attest"] = "AAAA" }),
		"trailing-data":   append(append([]byte{}, good...), []byte(`{}`)...),
	} {
		if _, _, err := tpm.ParseEvidenceFile(b); !errors.Is(err, tpm.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// FuzzEvidenceFile: no input panics the parser, and what parses
// re-encodes to a document that parses to the same evidence.
func FuzzEvidenceFile(f *testing.F) {
	ak := newSigningAK(f, tpm2.TPMAlgECDSA)
	f.Add(evidenceFile(f, ak, []byte("seed")))
	f.Add([]byte(`{"format":"assay-tpm-evidence","version":1}`))
	f.Add([]byte(`{"format":"assay-tpm-evidence","version":1,"ak_public":"AAE=","quotes":[{}],"pcrs":{"sha1":{"0":""}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tpm.SniffEvidence(b)
		ef, ev, err := tpm.ParseEvidenceFile(b)
		if err != nil {
			return
		}
		m, err := tpm.MarshalEvidenceFile(ef)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		ef2, ev2, err := tpm.ParseEvidenceFile(m)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if m2, _ := tpm.MarshalEvidenceFile(ef2); !bytes.Equal(m, m2) {
			t.Fatalf("encoding not stable")
		}
		if len(ev.Quotes) != len(ev2.Quotes) || !bytes.Equal(ev.AK.Name, ev2.AK.Name) {
			t.Fatalf("evidence changed on re-encoding")
		}
		_ = tpm.NewClaims(ev, nil, nil)
	})
}
