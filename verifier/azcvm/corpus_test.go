package azcvm_test

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/azcvm"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

type corpusCase struct {
	name  string
	files []string // evidence first, then collateral
	at    string
	tee   string
	meas  string // SNP MEASUREMENT or MRTD
	pcr0  string // "" when the evidence has no vTPM quote
}

var corpusCases = []corpusCase{
	{"genoa-hcl-openpcc", []string{"azure/openpcc/azure-snp-genoa-hcl-report.bin", "azure/openpcc/azure-snp-genoa-vcek.pem", "azure/openpcc/amd-genoa-ask-ark.pem"},
		"2025-07-01T00:00:00Z", "snp", "572db4d3f521386bec1c76346f9c913431f2f257c9c09d604c1259b108a686ae0d277f31899a73098b41b556dc70a5fb", ""},
	{"milan-trustee-v0", []string{"azure/trustee/az-snp-vtpm/evidence-v0.json"},
		"2025-07-01T00:00:00Z", "snp", "", "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced"},
	{"milan-trustee-v1", []string{"azure/trustee/az-snp-vtpm/evidence-v1.json"},
		"2025-07-01T00:00:00Z", "snp", "6a063be9dd79f6371c842e480f8dc3b5c725961344e57130e88c5adf49e8f7f6c79b75a5eb77fc769959f4aeb2f9401e", "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced"},
	{"milan-trustee-v2", []string{"azure/trustee/az-snp-vtpm/evidence-v2.json"},
		"2025-07-01T00:00:00Z", "snp", "", "84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7"},
	{"genoa-trustee", []string{"azure/trustee/az-snp-vtpm/evidence-genoa.json"},
		"2025-06-01T00:00:00Z", "snp", "f57dc09a507c6ecd82369bffb600f0003792f4d99bc26e985ec0c266fc34faf3706faf814c9e61065768a6ff917c89ae", "afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338"},
	{"tdx-trustee-v1", []string{"azure/trustee/az-tdx-vtpm/evidence-v1.json", "tdx/dcap-rs/collateral/tcbinfo_00806f050000.json", "tdx/dcap-rs/collateral/qe_identity_td_qe.json", "roots/intel/crl/pck_platform_2025-02-13.der", "roots/intel/crl/IntelSGXRootCA_2024-03-20.der", "roots/intel/tcb_signing_chain_2018-2025.pem"},
		"2025-02-20T00:00:00Z", "tdx", "024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b", "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273"},
	{"tdx-trustee-v0", []string{"azure/trustee/az-tdx-vtpm/evidence-v0.json", "tdx/dcap-rs/collateral/tcbinfo_00806f050000.json", "tdx/dcap-rs/collateral/qe_identity_td_qe.json", "roots/intel/crl/pck_platform_2025-02-13.der", "roots/intel/crl/IntelSGXRootCA_2024-03-20.der", "roots/intel/tcb_signing_chain_2018-2025.pem"},
		"2025-02-20T00:00:00Z", "tdx", "024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b", "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273"},
}

// bundle reads a case's files and sorts the collateral as the classifier
// does: certificates, CRLs, anything else as bytes.
func bundle(t testing.TB, c corpusCase) attest.Bundle {
	t.Helper()
	dir := testutil.CorpusDir(t)
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := attest.Bundle{Evidence: read(c.files[0]), Name: c.files[0]}
	for _, rel := range c.files[1:] {
		data := read(rel)
		switch {
		case strings.HasSuffix(rel, ".pem"):
			for rest := data; ; {
				var blk *pem.Block
				blk, rest = pem.Decode(rest)
				if blk == nil {
					break
				}
				cert, err := x509.ParseCertificate(blk.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				b.Certificates = append(b.Certificates, cert)
			}
		case strings.HasSuffix(rel, ".der"):
			l, err := x509.ParseRevocationList(data)
			if err != nil {
				t.Fatal(err)
			}
			b.CRLs = append(b.CRLs, l)
		default:
			b.Other = append(b.Other, attest.NamedBlob{Name: rel, Data: data})
		}
	}
	return b
}

func at(t testing.TB, s string) time.Time {
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func appraise(t testing.TB, c corpusCase, b attest.Bundle, nonce []byte) (*attest.Result, map[string]any) {
	t.Helper()
	res := (&azcvm.Verifier{}).Appraise(context.Background(), b, attest.Params{Now: at(t, c.at), Nonce: nonce})
	j, err := json.Marshal(res.Claims)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	return res, m
}

func check(res *attest.Result, name string) *attest.Check {
	for i := range res.Checks {
		if res.Checks[i].Name == name {
			return &res.Checks[i]
		}
	}
	return nil
}

// TestCorpus appraises every Azure CVM sample of the shared corpus at its
// own date and compares the measurement and PCR0 with the manifest.
func TestCorpus(t *testing.T) {
	for _, c := range corpusCases {
		t.Run(c.name, func(t *testing.T) {
			res, m := appraise(t, c, bundle(t, c), nil)
			if !res.Status.Trusted() || res.TEE != c.tee {
				t.Fatalf("tee %s status %s, failed: %+v", res.TEE, res.Status, res.Failed())
			}
			key := "measurement"
			if c.tee == "tdx" {
				key = "mr_td"
			}
			if c.meas != "" && m[key] != c.meas {
				t.Errorf("%s = %v, want %s", key, m[key], c.meas)
			}
			for _, n := range []string{"hcl.parse", "hcl.binding", "vtpm.signature", "vtpm.pcr_digest", "nonce", "policy.debug"} {
				if ch := check(res, n); ch == nil || !ch.OK {
					t.Errorf("check %s: %+v", n, ch)
				}
			}
			if c.pcr0 == "" {
				if ch := check(res, "vtpm.signature"); !ch.Skipped {
					t.Errorf("vtpm.signature not skipped without a quote")
				}
				return
			}
			pcrs, _ := m["pcrs"].(map[string]any)
			sha, _ := pcrs["sha256"].(map[string]any)
			if sha["0"] != c.pcr0 {
				t.Errorf("pcrs.sha256.0 = %v, want %s", sha["0"], c.pcr0)
			}
			az, _ := m["azure"].(map[string]any)
			cfg, _ := az["vm_configuration"].(map[string]any)
			if cfg["secure_boot"] != true {
				t.Errorf("azure.vm_configuration = %v", cfg)
			}
			if ch := check(res, "vtpm.signature"); !strings.Contains(ch.Detail, "hcl.binding") {
				t.Errorf("vtpm.signature does not say why the AK is trusted: %s", ch.Detail)
			}
		})
	}
}

// TestNonce: the quote's extraData is "challenge" in Trustee's samples.
func TestNonce(t *testing.T) {
	c := corpusCases[2]
	res, _ := appraise(t, c, bundle(t, c), []byte("challenge"))
	if !res.Status.Trusted() || check(res, "nonce").Skipped {
		t.Fatalf("right nonce: %s %+v", res.Status, res.Failed())
	}
	res, m := appraise(t, c, bundle(t, c), []byte("challengf"))
	if ch := check(res, "nonce"); res.Status.Trusted() || ch.OK {
		t.Fatalf("wrong nonce accepted: %+v", ch)
	}
	if m["pcrs"] != nil {
		t.Errorf("PCR claims despite a failed check")
	}
	ev, _ := azcvm.Parse(bundle(t, c).Evidence)
	if _, _, err := azcvm.Verify(context.Background(), ev, azcvm.Options{Now: func() time.Time { return at(t, c.at) }, Nonce: []byte("x")}); !errors.Is(err, azcvm.ErrNonce) {
		t.Errorf("err = %v, want ErrNonce", err)
	}
	// A nonce no quote can carry (the CLI takes up to 512 bytes, for
	// Nitro) fails the nonce check as such, not as a mismatch.
	long := append([]byte("challenge"), make([]byte, 100)...)
	_, checks, err := azcvm.Verify(context.Background(), ev, azcvm.Options{Now: func() time.Time { return at(t, c.at) }, Nonce: long})
	var nc *attest.Check
	for i := range checks {
		if checks[i].Name == "nonce" {
			nc = &checks[i]
		}
	}
	if !errors.Is(err, azcvm.ErrNonce) || nc == nil || nc.OK || !strings.Contains(nc.Detail, "at most 66") {
		t.Errorf("109-byte nonce: err %v, check %+v", err, nc)
	}
}

// flipEvidence rewrites Trustee v1 evidence with one byte of the HCL
// runtime data or of the TPM quote flipped.
func flipEvidence(t *testing.T, raw []byte, runtime bool, off int) []byte {
	var j map[string]any
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	if runtime {
		ev, err := azcvm.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		h := append([]byte{}, ev.HCL.Raw...)
		// Runtime data starts at 0x20 + 1184 + 20; off counts back from its
		// end, into the user-data hex digits.
		h[1236+len(ev.HCL.RuntimeData)-off] ^= 0x01
		j["hcl_report"] = h
	} else {
		q := j["tpm_quote"].(map[string]any)
		m, _ := hex.DecodeString(q["message"].(string))
		m[off] ^= 0xff
		q["message"] = hex.EncodeToString(m)
	}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFlips(t *testing.T) {
	for _, c := range []corpusCase{corpusCases[2], corpusCases[5]} {
		base := bundle(t, c)
		// A flipped byte of the runtime data (inside a JSON string, so it
		// still parses) breaks the binding.
		for _, off := range []int{3, 10, 40} {
			b := base
			b.Evidence = flipEvidence(t, base.Evidence, true, off)
			res, _ := appraise(t, c, b, nil)
			if ch := check(res, "hcl.binding"); ch == nil || ch.OK || res.Status.Trusted() {
				t.Errorf("%s: runtime data byte %d flipped: hcl.binding %+v, status %s", c.name, off, ch, res.Status)
			}
		}
		ev, _ := azcvm.Parse(base.Evidence)
		for off := range ev.Quote.Message {
			b := base
			b.Evidence = flipEvidence(t, base.Evidence, false, off)
			res, _ := appraise(t, c, b, nil)
			if ch := check(res, "vtpm.signature"); ch == nil || ch.OK || res.Status.Trusted() {
				t.Fatalf("%s: quote byte %d flipped: vtpm.signature %+v, status %s", c.name, off, ch, res.Status)
			}
		}
	}
}

// TestWrongVCEK: an SNP report verified with another chip's VCEK fails in
// the snp checks, and no PCR claims are believed.
func TestWrongVCEK(t *testing.T) {
	c := corpusCases[2]
	b := bundle(t, c)
	pemb, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), "azure/openpcc/azure-snp-genoa-vcek.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pemb)
	cert, _ := x509.ParseCertificate(blk.Bytes)
	b.Certificates = []*x509.Certificate{cert}
	res, _ := appraise(t, c, b, nil)
	if res.Status.Trusted() {
		t.Fatalf("accepted with a foreign VCEK")
	}
	ev, _ := azcvm.Parse(b.Evidence)
	_, _, err = azcvm.Verify(context.Background(), ev, azcvm.Options{Now: func() time.Time { return at(t, c.at) }, SNP: sevsnp.Options{Certificates: b.Certificates}})
	if err == nil {
		t.Fatal("no error")
	}
}
