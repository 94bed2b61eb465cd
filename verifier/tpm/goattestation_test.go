package tpm_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/tpm"
)

const goAttestationWindows = "tpm/quotes/go-attestation/windows_gcp_shielded_vm.json"

// TestGoAttestationWindows verifies go-attestation's recorded GCE
// Windows Shielded VM attestation (corpus entry
// tpm-quote-gce-windows-go-attestation): the quote's RSASSA-SHA1
// signature with the AK, the PCR digest, and the SHA-1 event log's replay;
// the PCR values are the manifest's. The JSON carries no AK certificate,
// so the AK is trusted only when enrolled.
func TestGoAttestationWindows(t *testing.T) {
	b := readCorpus(t, goAttestationWindows)
	v := &tpm.Verifier{}
	if f, ok := v.Sniff(b); !ok || f != tpm.FormatGoAttestation {
		t.Fatalf("Sniff = %q, %v", f, ok)
	}
	ev, err := tpm.ParseEvidence(b, "")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	res := v.Appraise(context.Background(), attest.Bundle{Evidence: b, Name: goAttestationWindows}, attest.Params{Now: at})
	if f := failed(res.Checks); len(f) != 1 || !strings.HasPrefix(f[0], "ak.trust:") {
		t.Fatalf("failed checks %v, want only ak.trust (no AK certificate, not enrolled)", f)
	}
	enrolled := &tpm.Verifier{Enrolled: []tpm.Enrollment{{AK: ev.AK, EKSHA256: bytes.Repeat([]byte{0xab}, 32), ActivatedAt: at}}}
	res = enrolled.Appraise(context.Background(), attest.Bundle{Evidence: b, Name: goAttestationWindows}, attest.Params{Now: at})
	if res.Status != attest.StatusAffirming && res.Status != attest.StatusWarning {
		t.Fatalf("status %s; failed: %v", res.Status, failed(res.Checks))
	}
	for _, c := range res.Checks {
		if c.Name == "eventlog.replay" && (!c.OK || c.Skipped) {
			t.Errorf("event log not replayed: %s", c.Detail)
		}
	}
	cl := res.Claims.(*tpm.Claims)
	m, _ := testutil.LoadManifest(t)
	var stated map[string]string
	for _, e := range m.Entries {
		if e.ID == "tpm-quote-gce-windows-go-attestation" {
			raw, _ := json.Marshal(e.Expected["stated"])
			var s struct {
				PCRs map[string]string `json:"pcrs_sha1"`
			}
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatal(err)
			}
			stated = s.PCRs
		}
	}
	if len(stated) != 24 {
		t.Fatalf("manifest states %d SHA-1 PCRs, want 24", len(stated))
	}
	for idx, want := range stated {
		if got := cl.PCRs["sha1"][idx]; got != want {
			t.Errorf("PCR %s = %s, manifest states %s", idx, got, want)
		}
	}
}

// TestGoAttestationTampered: a changed PCR value fails pcr.digest, a
// flipped signature byte fails signature; the file stays well formed.
func TestGoAttestationTampered(t *testing.T) {
	b := readCorpus(t, goAttestationWindows)
	at := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, check string
		edit        func(map[string]map[string]any)
	}{
		{"pcr", "pcr.digest", func(d map[string]map[string]any) {
			p := d["Log"]["PCRs"].([]any)[0].(map[string]any)
			p["Digest"] = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x42}, 20))
		}},
		{"signature", "signature", func(d map[string]map[string]any) {
			s, _ := base64.StdEncoding.DecodeString(d["Quote"]["Signature"].(string))
			s[len(s)-7] ^= 0x01
			d["Quote"]["Signature"] = base64.StdEncoding.EncodeToString(s)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d map[string]map[string]any
			_ = json.Unmarshal(b, &d)
			tc.edit(d)
			nb, _ := json.Marshal(d)
			ev, err := tpm.ParseEvidence(nb, "")
			if err != nil {
				t.Fatal(err)
			}
			enrolled := []tpm.Enrollment{{AK: ev.AK, EKSHA256: bytes.Repeat([]byte{0xab}, 32), ActivatedAt: at}}
			_, checks, err := tpm.Verify(context.Background(), ev, tpm.Options{Now: func() time.Time { return at }, Enrolled: enrolled})
			if err == nil {
				t.Fatal("tampered attestation verified")
			}
			if f := failed(checks); len(f) == 0 || !strings.HasPrefix(f[0], tc.check+":") {
				t.Errorf("failed checks %v, want %s first", f, tc.check)
			}
		})
	}
}

func TestGoAttestationMalformed(t *testing.T) {
	good := readCorpus(t, goAttestationWindows)
	tpm12 := readCorpus(t, "tpm/quotes/go-attestation/linux_tpm12.json")
	edit := func(f func(d map[string]map[string]any)) []byte {
		var d map[string]map[string]any
		_ = json.Unmarshal(good, &d)
		f(d)
		b, _ := json.Marshal(d)
		return b
	}
	for _, tc := range []struct {
		name, want string
		b          []byte
	}{
		{"tpm12", "TPM version 1", tpm12},
		{"unknown-member", "unknown field", edit(func(d map[string]map[string]any) { d["Quote"]["Extra"] = 1 })},
		{"no-quote", "without AK.Public, Quote.Quote or Quote.Signature", edit(func(d map[string]map[string]any) { delete(d["Quote"], "Quote") })},
		{"bad-alg", "DigestAlg 99", edit(func(d map[string]map[string]any) {
			d["Log"]["PCRs"].([]any)[0].(map[string]any)["DigestAlg"] = 99
		})},
		{"short-digest", "want PCR 0-23 and 20 bytes", edit(func(d map[string]map[string]any) {
			d["Log"]["PCRs"].([]any)[0].(map[string]any)["Digest"] = "AAAA"
		})},
		{"twice", "given twice", edit(func(d map[string]map[string]any) {
			ps := d["Log"]["PCRs"].([]any)
			d["Log"]["PCRs"] = append(ps, ps[0])
		})},
		{"quote", "Quote.Quote", edit(func(d map[string]map[string]any) { d["Quote"]["Quote"] = "AAAA" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tpm.ParseEvidence(tc.b, tpm.FormatGoAttestation)
			if !errors.Is(err, tpm.ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrMalformed naming %q", err, tc.want)
			}
		})
	}
}

// FuzzParseGoAttestation: go-attestation JSON never panics the parser,
// and whatever parses has a quote and an AK.
func FuzzParseGoAttestation(f *testing.F) {
	for _, name := range []string{goAttestationWindows, "tpm/quotes/go-attestation/linux_tpm12.json"} {
		f.Add(readCorpus(f, name))
	}
	f.Add([]byte(`{"Static":{"TPMVersion":2},"AK":{},"Quote":{},"Log":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := tpm.ParseEvidence(b, tpm.FormatGoAttestation)
		if err != nil {
			if !errors.Is(err, tpm.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if ev.AK == nil || len(ev.Quotes) != 1 {
			t.Fatalf("parsed without an AK or a quote: %+v", ev)
		}
	})
}
