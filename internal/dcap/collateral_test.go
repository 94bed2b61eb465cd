package dcap

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/internal/testutil"
)

// intelPKI is the corpus's Intel trust material: the Intel SGX Root CA and
// the two TCB signing chains (2018-2025 and 2025-2032, one key).
type intelPKI struct {
	root   *x509.Certificate
	chains map[string][]*x509.Certificate
}

func loadIntelPKI(t testing.TB) (intelPKI, string) {
	t.Helper()
	dir := testutil.CorpusDir(t)
	der, err := os.ReadFile(filepath.Join(dir, "roots/intel/Intel_SGX_Provisioning_Certification_RootCA.der"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := intelPKI{root: root, chains: map[string][]*x509.Certificate{}}
	for _, name := range []string{"tcb_signing_chain_2018-2025.pem", "tcb_signing_chain_2025-2032.pem"} {
		b, err := os.ReadFile(filepath.Join(dir, "roots/intel", name))
		if err != nil {
			t.Fatal(err)
		}
		chain, err := pemChain(string(b), name)
		if err != nil {
			t.Fatal(err)
		}
		p.chains[name] = chain
	}
	return p, dir
}

// signerAt returns the TCB signing certificate valid at at, chained to the
// root, and the name of its chain.
func (p intelPKI) signerAt(t testing.TB, at time.Time) (*x509.Certificate, string) {
	t.Helper()
	var errs []error
	for name, chain := range p.chains {
		s, err := TCBSigner(chain, p.root, nil, at)
		if err == nil {
			return s, name
		}
		errs = append(errs, err)
	}
	t.Fatalf("no TCB signing certificate at %s: %v", at, errors.Join(errs...))
	return nil, ""
}

// corpusCollateral lists every JSON file under tdx/ and sgx/ of the corpus
// with the format its name says it has ("" for JSON that is not TCB info,
// QE identity or a bundle: TCB evaluation data numbers, expected claims).
func corpusCollateral(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, top := range []string{"tdx", "sgx"} {
		err := filepath.WalkDir(filepath.Join(dir, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			name := d.Name()
			switch {
			case strings.Contains(name, "eval") || strings.Contains(name, "expected"):
				out[rel] = ""
			case strings.HasSuffix(name, "collateral.json"):
				out[rel] = FormatBundle
			case strings.Contains(name, "identity") || strings.Contains(name, "qe_td"):
				out[rel] = FormatQEIdentity
			case strings.Contains(name, "tcb"):
				out[rel] = FormatTCBInfo
			default:
				t.Fatalf("%s: unexpected corpus JSON file; classify it in corpusCollateral", rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func collFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSniffCorpus(t *testing.T) {
	_, dir := loadIntelPKI(t)
	files := corpusCollateral(t, dir)
	count := map[string]int{}
	for rel, want := range files {
		got, ok := SniffCollateral(collFile(t, filepath.Join(dir, rel)))
		if ok != (want != "") || got != want {
			t.Errorf("%s: SniffCollateral = %q, %v; want %q", rel, got, ok, want)
		}
		count[want]++
	}
	// The corpus as of this writing; a shrinking count means files went
	// missing, not that the test should be relaxed.
	for f, min := range map[string]int{FormatTCBInfo: 16, FormatQEIdentity: 14, FormatBundle: 4} {
		if count[f] < min {
			t.Errorf("%d %s files in the corpus, want at least %d", count[f], f, min)
		}
	}
}

func TestSniff(t *testing.T) {
	tcb := collFile(t, "testdata/collateral/tcbinfo_50806f000000.json")
	qe := collFile(t, "testdata/collateral/qe_identity_td_qe.json")
	bundle := collFile(t, "testdata/collateral/sgx_collateral.json")
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"tcb-info", tcb, FormatTCBInfo},
		{"tcb-info-truncated", tcb[:len(tcb)/2], FormatTCBInfo},
		{"tcb-info-bom", append([]byte("\xef\xbb\xbf"), tcb...), FormatTCBInfo},
		{"qe-identity", qe, FormatQEIdentity},
		{"qe-identity-truncated", qe[:40], FormatQEIdentity},
		{"bundle", bundle, FormatBundle},
		{"bundle-truncated", bundle[:len(bundle)/2], FormatBundle},
		{"bundle-one-key", []byte(`{"tcb_info": "x"}`), ""},
		{"key-case", []byte(`{"TcbInfo": {}, "signature": ""}`), ""},
		{"nested", []byte(`{"x": {"tcbInfo": {}}}`), ""},
		{"array", []byte(`[{"tcbInfo": {}}]`), ""},
		{"empty-object", []byte(`{}`), ""},
		{"empty", nil, ""},
		{"binary", []byte{0x04, 0x00, 0x02, 0x00, 0x81}, ""},
		{"tcb-eval-numbers", []byte(`{"tcbEvaluationDataNumbers":{"id":"SGX"},"signature":"00"}`), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := SniffCollateral(tc.in)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("SniffCollateral = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}

// TestCorpusCollateral parses every TCB info and QE identity of the corpus,
// verifies its signature with the TCB signing certificate valid at its
// issue date (chained to the Intel SGX Root CA), and checks its validity
// window and that it marshals back to itself.
func TestCorpusCollateral(t *testing.T) {
	pki, dir := loadIntelPKI(t)
	for rel, format := range corpusCollateral(t, dir) {
		if format != FormatTCBInfo && format != FormatQEIdentity {
			continue
		}
		t.Run(rel, func(t *testing.T) {
			b := collFile(t, filepath.Join(dir, rel))
			var (
				issue, next time.Time
				verify      func(*x509.Certificate) error
				validAt     func(time.Time) error
				signed      []byte
				marshal     func() []byte
				reparse     func([]byte) (any, error)
				parsed      any
			)
			if format == FormatTCBInfo {
				ti, err := ParseTCBInfo(b)
				if err != nil {
					t.Fatal(err)
				}
				issue, next, verify, validAt, signed, marshal, parsed = ti.IssueDate, ti.NextUpdate, ti.VerifySignature, ti.ValidAt, ti.Signed(), ti.Marshal, ti
				reparse = func(b []byte) (any, error) { return ParseTCBInfo(b) }
				if len(ti.Levels) == 0 {
					t.Error("no levels")
				}
				if (ti.ID == TCBInfoTDX) != (ti.TDXModule != nil) {
					t.Errorf("%s: tdxModule set = %v", ti.ID, ti.TDXModule != nil)
				}
			} else {
				qi, err := ParseQEIdentity(b)
				if err != nil {
					t.Fatal(err)
				}
				issue, next, verify, validAt, signed, marshal, parsed = qi.IssueDate, qi.NextUpdate, qi.VerifySignature, qi.ValidAt, qi.Signed(), qi.Marshal, qi
				reparse = func(b []byte) (any, error) { return ParseQEIdentity(b) }
			}
			if !bytes.Contains(b, signed) {
				t.Error("Signed() is not a substring of the document")
			}
			signer, chain := pki.signerAt(t, issue)
			if err := verify(signer); err != nil {
				t.Errorf("signature (signer from %s): %v", chain, err)
			}
			// The two TCB signing certificates share a key: either verifies.
			for name, c := range pki.chains {
				if err := verify(c[0]); err != nil {
					t.Errorf("signature with %s: %v", name, err)
				}
			}
			if err := verify(pki.root); !errors.Is(err, ErrSignature) {
				t.Errorf("signature with the root's key: %v, want ErrSignature", err)
			}
			for _, at := range []time.Time{issue, next, issue.Add(next.Sub(issue) / 2)} {
				if err := validAt(at); err != nil {
					t.Errorf("ValidAt(%s): %v", at, err)
				}
			}
			for _, at := range []time.Time{issue.Add(-time.Second), next.Add(time.Second)} {
				if err := validAt(at); !errors.Is(err, ErrCollateral) {
					t.Errorf("ValidAt(%s) = %v, want ErrCollateral", at, err)
				}
			}
			m := marshal()
			again, err := reparse(m)
			if err != nil {
				t.Fatalf("parse of Marshal: %v", err)
			}
			if !reflect.DeepEqual(again, parsed) {
				t.Error("Parse(Marshal(x)) != x")
			}
		})
	}
}

// TestCorpusBundles parses the dcap-qvl bundles, verifies their TCB info and
// QE identity with their own issuer chains up to the corpus root (and the
// bundle's root CA CRL), and checks they carry the same signed bytes as the
// PCS-format files the corpus derived from them.
func TestCorpusBundles(t *testing.T) {
	pki, dir := loadIntelPKI(t)
	for rel, format := range corpusCollateral(t, dir) {
		if format != FormatBundle {
			continue
		}
		t.Run(rel, func(t *testing.T) {
			b, err := ParseBundle(collFile(t, filepath.Join(dir, rel)))
			if err != nil {
				t.Fatal(err)
			}
			at := b.TCBInfo.IssueDate
			if b.QEIdentity.IssueDate.After(at) {
				at = b.QEIdentity.IssueDate
			}
			for _, c := range []struct {
				name   string
				chain  []*x509.Certificate
				verify func(*x509.Certificate) error
				valid  func(time.Time) error
			}{
				{"tcb_info", b.TCBInfoChain, b.TCBInfo.VerifySignature, b.TCBInfo.ValidAt},
				{"qe_identity", b.QEIdentityChain, b.QEIdentity.VerifySignature, b.QEIdentity.ValidAt},
			} {
				signer, err := TCBSigner(c.chain, pki.root, b.RootCACRL, at)
				if err != nil {
					t.Fatalf("%s issuer chain: %v", c.name, err)
				}
				if err := c.verify(signer); err != nil {
					t.Errorf("%s: %v", c.name, err)
				}
				if err := c.valid(at); err != nil {
					t.Errorf("%s: %v", c.name, err)
				}
			}
			if len(b.CRLs()) != 2 || b.PCKCRL.CheckSignatureFrom(b.PCKCRLChain[0]) != nil {
				t.Errorf("PCK CRL is not signed by the first certificate of pck_crl_issuer_chain (%q)", b.PCKCRLChain[0].Subject.CommonName)
			}
			if err := b.RootCACRL.CheckSignatureFrom(pki.root); err != nil {
				t.Errorf("root CA CRL: %v", err)
			}
			seen := map[string]bool{}
			for _, c := range b.Certificates() {
				if seen[string(c.Raw)] {
					t.Error("Certificates() repeats a certificate")
				}
				seen[string(c.Raw)] = true
			}
			if !seen[string(pki.root.Raw)] {
				t.Error("Certificates() lacks the root")
			}

			// The PCS-format files derived from this bundle hold the same
			// signed bytes.
			pcs := filepath.Join(dir, "tdx/dcap-qvl/pcs-format", strings.TrimSuffix(strings.TrimSuffix(filepath.Base(rel), ".json"), "-collateral"))
			if ti, err := ParseTCBInfo(collFile(t, filepath.Join(pcs, "tcbinfo.json"))); err != nil {
				t.Error(err)
			} else if !bytes.Equal(ti.Signed(), b.TCBInfo.Signed()) || ti.Signature != b.TCBInfo.Signature {
				t.Error("bundle tcb_info differs from the PCS-format tcbinfo.json")
			}
			if qi, err := ParseQEIdentity(collFile(t, filepath.Join(pcs, "qe_identity.json"))); err != nil {
				t.Error(err)
			} else if !bytes.Equal(qi.Signed(), b.QEIdentity.Signed()) {
				t.Error("bundle qe_identity differs from the PCS-format qe_identity.json")
			}

			again, err := ParseBundle(b.Marshal())
			if err != nil {
				t.Fatalf("parse of Marshal: %v", err)
			}
			if !reflect.DeepEqual(again, b) {
				t.Error("ParseBundle(Marshal(b)) != b")
			}
		})
	}
}

// flipEach flips one bit of every byte of b[from:to] in turn (every 7th
// with -short) and checks that check fails with ErrSignature or
// ErrMalformed.
func flipEach(t *testing.T, b []byte, from, to int, check func([]byte) error) {
	t.Helper()
	if from < 0 || to > len(b) || from >= to {
		t.Fatalf("bad region %d-%d of %d bytes", from, to, len(b))
	}
	step := 1
	if testing.Short() {
		step = 7
	}
	m := bytes.Clone(b)
	for i := from; i < to; i += step {
		m[i] ^= 0x01
		err := check(m)
		if !errors.Is(err, ErrSignature) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("byte %d (%q) flipped: %v, want ErrSignature or ErrMalformed", i, b[i], err)
		}
		m[i] = b[i]
	}
}

func TestFlipEveryByte(t *testing.T) {
	pki, dir := loadIntelPKI(t)
	for _, rel := range []string{
		"tdx/dcap-qvl/pcs-format/tdx-quote-outdated/tcbinfo.json",
		"tdx/dcap-rs/collateral/sgx_tcbinfo_v2_00606a000000.json",
		"tdx/dcap-qvl/pcs-format/sgx-quote/qe_identity.json",
		"tdx/trustee/collateral/qe_identity_td_qe.json",
	} {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			b := collFile(t, filepath.Join(dir, rel))
			var err error
			var issue time.Time
			if strings.Contains(rel, "tcbinfo") {
				var ti *TCBInfo
				ti, err = ParseTCBInfo(b)
				if ti != nil {
					issue = ti.IssueDate
				}
			} else {
				var qi *QEIdentity
				qi, err = ParseQEIdentity(b)
				if qi != nil {
					issue = qi.IssueDate
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			signer, _ := pki.signerAt(t, issue)
			flipEach(t, b, 0, len(b), func(m []byte) error {
				if strings.Contains(rel, "tcbinfo") {
					ti, err := ParseTCBInfo(m)
					if err != nil {
						return err
					}
					return ti.VerifySignature(signer)
				}
				qi, err := ParseQEIdentity(m)
				if err != nil {
					return err
				}
				return qi.VerifySignature(signer)
			})
		})
	}
	t.Run("bundle", func(t *testing.T) {
		t.Parallel()
		b := collFile(t, "testdata/collateral/sgx_collateral.json")
		bun, err := ParseBundle(b)
		if err != nil {
			t.Fatal(err)
		}
		signer, _ := pki.signerAt(t, bun.TCBInfo.IssueDate)
		check := func(m []byte) error {
			bun, err := ParseBundle(m)
			if err != nil {
				return err
			}
			if err := bun.TCBInfo.VerifySignature(signer); err != nil {
				return err
			}
			return bun.QEIdentity.VerifySignature(signer)
		}
		// The signed strings and their signatures; CRLs and chains are
		// checked elsewhere (by their own signatures).
		for _, key := range []string{"tcb_info", "tcb_info_signature", "qe_identity", "qe_identity_signature"} {
			m, _ := topLevel(b)
			from := bytes.Index(b, m[key])
			flipEach(t, b, from+1, from+len(m[key])-1, check)
		}
	})
}

func TestVerifySignatureSigner(t *testing.T) {
	pki, dir := loadIntelPKI(t)
	ti, err := ParseTCBInfo(collFile(t, "testdata/collateral/tcbinfo_50806f000000.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ti.VerifySignature(nil); !errors.Is(err, ErrChain) {
		t.Errorf("nil signer: %v, want ErrChain", err)
	}
	amd, err := pemChain(string(collFile(t, filepath.Join(dir, "roots/amd/milan_vcek_ask_ark.pem"))), "amd")
	if err != nil {
		t.Fatal(err)
	}
	if err := ti.VerifySignature(amd[0]); !errors.Is(err, ErrChain) {
		t.Errorf("RSA signer: %v, want ErrChain", err)
	}
	s, _ := pki.signerAt(t, ti.IssueDate)
	ti.Signature[5] ^= 1
	if err := ti.VerifySignature(s); !errors.Is(err, ErrSignature) {
		t.Errorf("flipped signature: %v, want ErrSignature", err)
	}
}

func TestTCBSigner(t *testing.T) {
	pki, dir := loadIntelPKI(t)
	old := pki.chains["tcb_signing_chain_2018-2025.pem"]
	cur := pki.chains["tcb_signing_chain_2025-2032.pem"]
	pckCA, err := pemChain(string(collFile(t, filepath.Join(dir, "roots/intel/pck_platform_ca_chain.pem"))), "pck")
	if err != nil {
		t.Fatal(err)
	}
	amd, err := pemChain(string(collFile(t, filepath.Join(dir, "roots/amd/milan_vcek_ask_ark.pem"))), "amd")
	if err != nil {
		t.Fatal(err)
	}
	var rootCRL *x509.RevocationList
	if blk := collFile(t, filepath.Join(dir, "roots/intel/crl/IntelSGXRootCA_2025-03-20.der")); true {
		if rootCRL, err = x509.ParseRevocationList(blk); err != nil {
			t.Fatal(err)
		}
	}
	day := func(s string) time.Time {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
		root  *x509.Certificate
		crl   *x509.RevocationList
		at    time.Time
		want  error
	}{
		{"2018-2025-in-2023", old, pki.root, nil, day("2023-06-18T00:00:00Z"), nil},
		{"2025-2032-in-2026", cur, pki.root, rootCRL, day("2026-02-18T00:00:00Z"), nil},
		{"leaf-only", cur[:1], pki.root, nil, day("2026-02-18T00:00:00Z"), nil},
		{"2018-2025-expired", old, pki.root, nil, day("2025-06-01T00:00:00Z"), ErrChain},
		{"2025-2032-not-yet", cur, pki.root, nil, day("2025-01-01T00:00:00Z"), ErrChain},
		{"pck-ca-is-not-tcb-signing", pckCA, pki.root, nil, day("2025-01-01T00:00:00Z"), ErrChain},
		{"amd-root", cur, amd[1], nil, day("2026-02-18T00:00:00Z"), ErrChain},
		{"root-crl-expired", cur, pki.root, rootCRL, day("2027-06-01T00:00:00Z"), ErrChain},
		{"empty", nil, pki.root, nil, day("2026-02-18T00:00:00Z"), ErrChain},
		{"no-root", cur, nil, nil, day("2026-02-18T00:00:00Z"), ErrChain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := TCBSigner(tc.chain, tc.root, tc.crl, tc.at)
			if tc.want == nil {
				if err != nil || s != tc.chain[0] {
					t.Fatalf("TCBSigner = %v, %v", s, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("TCBSigner: %v, want %v", err, tc.want)
			}
		})
	}
}

// mutate re-encodes the signed object of a PCS document after fn changed
// it, keeping the original signature (parse tests only).
func mutate(t *testing.T, doc []byte, key string, fn func(m map[string]any)) []byte {
	t.Helper()
	top, err := topLevel(doc)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(top[key], &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var sig string
	_ = json.Unmarshal(top["signature"], &sig)
	out, _ := json.Marshal(map[string]any{key: json.RawMessage(body), "signature": sig})
	return out
}

func level0(m map[string]any) map[string]any {
	return m["tcbLevels"].([]any)[0].(map[string]any)
}

func tcb0(m map[string]any) map[string]any { return level0(m)["tcb"].(map[string]any) }

func TestParseTCBInfoMalformed(t *testing.T) {
	dir := testutil.CorpusDir(t)
	tdx := collFile(t, "testdata/collateral/tcbinfo_50806f000000.json")
	tdx15 := collFile(t, filepath.Join(dir, "tdx/dcap-qvl/pcs-format/tdx-quote-outdated/tcbinfo.json"))
	bundle, err := ParseBundle(collFile(t, "testdata/collateral/sgx_collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	sgx := bundle.TCBInfo.Marshal()
	if _, err := ParseTCBInfo(mutate(t, tdx, "tcbInfo", func(map[string]any) {})); err != nil {
		t.Fatalf("re-encoded document: %v", err)
	}
	for _, tc := range []struct {
		name string
		doc  []byte
		fn   func(m map[string]any)
	}{
		{"version-4", tdx, func(m map[string]any) { m["version"] = 4 }},
		{"version-missing", tdx, func(m map[string]any) { delete(m, "version") }},
		{"version-string", tdx, func(m map[string]any) { m["version"] = "3" }},
		{"v3-no-id", tdx, func(m map[string]any) { delete(m, "id") }},
		{"id-lowercase", tdx, func(m map[string]any) { m["id"] = "tdx" }},
		{"v2-tdx", tdx, func(m map[string]any) { m["version"] = 2 }},
		{"issue-date-missing", tdx, func(m map[string]any) { delete(m, "issueDate") }},
		{"issue-date-not-rfc3339", tdx, func(m map[string]any) { m["issueDate"] = "2023-06-18 08:42:58" }},
		{"fmspc-short", tdx, func(m map[string]any) { m["fmspc"] = "50806f0000" }},
		{"fmspc-not-hex", tdx, func(m map[string]any) { m["fmspc"] = "50806f00000g" }},
		{"pceid-missing", tdx, func(m map[string]any) { delete(m, "pceId") }},
		{"tcb-type-1", tdx, func(m map[string]any) { m["tcbType"] = 1 }},
		{"eval-number-negative", tdx, func(m map[string]any) { m["tcbEvaluationDataNumber"] = -1 }},
		{"tdx-module-missing", tdx, func(m map[string]any) { delete(m, "tdxModule") }},
		{"tdx-module-mrsigner-short", tdx, func(m map[string]any) { m["tdxModule"].(map[string]any)["mrsigner"] = "00" }},
		{"levels-empty", tdx, func(m map[string]any) { m["tcbLevels"] = []any{} }},
		{"levels-missing", tdx, func(m map[string]any) { delete(m, "tcbLevels") }},
		{"level-status-unknown", tdx, func(m map[string]any) { level0(m)["tcbStatus"] = "upToDate" }},
		{"level-date-missing", tdx, func(m map[string]any) { delete(level0(m), "tcbDate") }},
		{"level-tcb-missing", tdx, func(m map[string]any) { delete(level0(m), "tcb") }},
		{"pcesvn-missing", tdx, func(m map[string]any) { delete(tcb0(m), "pcesvn") }},
		{"pcesvn-too-big", tdx, func(m map[string]any) { tcb0(m)["pcesvn"] = 65536 }},
		{"pcesvn-fraction", tdx, func(m map[string]any) { tcb0(m)["pcesvn"] = 1.5 }},
		{"sgx-components-15", tdx, func(m map[string]any) {
			tcb0(m)["sgxtcbcomponents"] = tcb0(m)["sgxtcbcomponents"].([]any)[:15]
		}},
		{"tdx-components-missing", tdx, func(m map[string]any) { delete(tcb0(m), "tdxtcbcomponents") }},
		{"component-svn-256", tdx, func(m map[string]any) {
			tcb0(m)["tdxtcbcomponents"].([]any)[3].(map[string]any)["svn"] = 256
		}},
		{"component-svn-missing", tdx, func(m map[string]any) {
			delete(tcb0(m)["sgxtcbcomponents"].([]any)[0].(map[string]any), "svn")
		}},
		{"sgx-v3-components-missing", sgx, func(m map[string]any) { delete(tcb0(m), "sgxtcbcomponents") }},
		{"module-identity-id-missing", tdx15, func(m map[string]any) {
			delete(m["tdxModuleIdentities"].([]any)[0].(map[string]any), "id")
		}},
		{"module-identity-level-isvsvn-missing", tdx15, func(m map[string]any) {
			l := m["tdxModuleIdentities"].([]any)[0].(map[string]any)["tcbLevels"].([]any)[0].(map[string]any)
			delete(l["tcb"].(map[string]any), "isvsvn")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ti, err := ParseTCBInfo(mutate(t, tc.doc, "tcbInfo", tc.fn))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseTCBInfo = %v, %v; want ErrMalformed", ti, err)
			}
		})
	}
	v2 := collFile(t, filepath.Join(dir, "tdx/dcap-rs/collateral/sgx_tcbinfo_v2_00606a000000.json"))
	for _, tc := range []struct {
		name string
		fn   func(m map[string]any)
	}{
		{"v2-component-missing", func(m map[string]any) { delete(tcb0(m), "sgxtcbcomp16svn") }},
		{"v2-component-string", func(m map[string]any) { tcb0(m)["sgxtcbcomp01svn"] = "14" }},
		{"v2-id-tdx", func(m map[string]any) { m["id"] = "TDX" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseTCBInfo(mutate(t, v2, "tcbInfo", tc.fn)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseTCBInfo: %v, want ErrMalformed", err)
			}
		})
	}
	ti, err := ParseTCBInfo(mutate(t, v2, "tcbInfo", func(m map[string]any) { m["id"] = "SGX" }))
	if err != nil || ti.ID != TCBInfoSGX || ti.Version != 2 {
		t.Errorf("v2 with id SGX: %v, %v", ti, err)
	}

	for _, tc := range []struct{ name, doc string }{
		{"not-json", "tcbInfo"},
		{"array", `[{"tcbInfo":{},"signature":""}]`},
		{"no-signature", `{"tcbInfo":{}}`},
		{"signature-number", `{"tcbInfo":{},"signature":12}`},
		{"signature-short", `{"tcbInfo":{},"signature":"0011"}`},
		{"signature-not-hex", `{"tcbInfo":{},"signature":"` + strings.Repeat("zz", 64) + `"}`},
		{"duplicate-key", `{"tcbInfo":{},"tcbInfo":{},"signature":""}`},
		{"trailing-data", string(tdx) + "{}"},
		{"tcb-info-array", `{"tcbInfo":[],"signature":"` + strings.Repeat("00", 64) + `"}`},
		{"tcb-info-null", `{"tcbInfo":null,"signature":"` + strings.Repeat("00", 64) + `"}`},
		{"key-case", strings.Replace(string(tdx), `"tcbInfo"`, `"TcbInfo"`, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseTCBInfo([]byte(tc.doc)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseTCBInfo: %v, want ErrMalformed", err)
			}
		})
	}
}

func TestParseQEIdentityMalformed(t *testing.T) {
	qe := collFile(t, "testdata/collateral/qe_identity_td_qe.json")
	for _, tc := range []struct {
		name string
		fn   func(m map[string]any)
	}{
		{"id-unknown", func(m map[string]any) { m["id"] = "TD_QE2" }},
		{"id-missing", func(m map[string]any) { delete(m, "id") }},
		{"version-1", func(m map[string]any) { m["version"] = 1 }},
		{"version-3", func(m map[string]any) { m["version"] = 3 }},
		{"next-update-missing", func(m map[string]any) { delete(m, "nextUpdate") }},
		{"miscselect-5-bytes", func(m map[string]any) { m["miscselect"] = "0000000000" }},
		{"attributes-mask-missing", func(m map[string]any) { delete(m, "attributesMask") }},
		{"mrsigner-48-bytes", func(m map[string]any) { m["mrsigner"] = strings.Repeat("00", 48) }},
		{"isvprodid-65536", func(m map[string]any) { m["isvprodid"] = 65536 }},
		{"isvprodid-missing", func(m map[string]any) { delete(m, "isvprodid") }},
		{"levels-empty", func(m map[string]any) { m["tcbLevels"] = []any{} }},
		{"level-tcb-missing", func(m map[string]any) { delete(level0(m), "tcb") }},
		{"level-isvsvn-negative", func(m map[string]any) { tcb0(m)["isvsvn"] = -4 }},
		{"level-status-missing", func(m map[string]any) { delete(level0(m), "tcbStatus") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseQEIdentity(mutate(t, qe, "enclaveIdentity", tc.fn)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseQEIdentity: %v, want ErrMalformed", err)
			}
		})
	}
	if _, err := ParseQEIdentity([]byte(`{"tcbInfo":{},"signature":""}`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("TCB info as QE identity: %v, want ErrMalformed", err)
	}
}

func TestParseBundleMalformed(t *testing.T) {
	orig := collFile(t, "testdata/collateral/sgx_collateral.json")
	var m map[string]any
	if err := json.Unmarshal(orig, &m); err != nil {
		t.Fatal(err)
	}
	enc := func(fn func(m map[string]any)) []byte {
		c := map[string]any{}
		for k, v := range m {
			c[k] = v
		}
		fn(c)
		b, _ := json.Marshal(c)
		return b
	}
	if _, err := ParseBundle(enc(func(map[string]any) {})); err != nil {
		t.Fatalf("re-encoded bundle: %v", err)
	}
	for _, k := range bundleKeys {
		t.Run("missing-"+k, func(t *testing.T) {
			if _, err := ParseBundle(enc(func(c map[string]any) { delete(c, k) })); !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseBundle: %v, want ErrMalformed", err)
			}
		})
		t.Run("number-"+k, func(t *testing.T) {
			if _, err := ParseBundle(enc(func(c map[string]any) { c[k] = 1 })); !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseBundle: %v, want ErrMalformed", err)
			}
		})
		t.Run("empty-"+k, func(t *testing.T) {
			if _, err := ParseBundle(enc(func(c map[string]any) { c[k] = "" })); !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseBundle: %v, want ErrMalformed", err)
			}
		})
	}
	pemKey := m["tcb_info_issuer_chain"].(string)
	for _, tc := range []struct {
		name string
		fn   func(c map[string]any)
	}{
		{"crl-not-hex", func(c map[string]any) { c["pck_crl"] = "zz" }},
		{"crl-not-der", func(c map[string]any) { c["root_ca_crl"] = "3003020100" }},
		{"chain-trailing-garbage", func(c map[string]any) { c["tcb_info_issuer_chain"] = pemKey + "garbage" }},
		{"chain-private-key-block", func(c map[string]any) {
			c["qe_identity_issuer_chain"] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}))
		}},
		{"tcb-info-not-json", func(c map[string]any) { c["tcb_info"] = "{" }},
		{"tcb-info-is-qe-identity", func(c map[string]any) { c["tcb_info"] = c["qe_identity"] }},
		{"signature-short", func(c map[string]any) { c["qe_identity_signature"] = "00" }},
		{"pck-chain-bad", func(c map[string]any) { c["pck_certificate_chain"] = "x" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseBundle(enc(tc.fn)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseBundle: %v, want ErrMalformed", err)
			}
		})
	}
	b, err := ParseBundle(enc(func(c map[string]any) { c["pck_certificate_chain"] = pemKey }))
	if err != nil || len(b.PCKChain) != 2 {
		t.Fatalf("with pck_certificate_chain: %v", err)
	}
	again, err := ParseBundle(b.Marshal())
	if err != nil || !reflect.DeepEqual(again, b) {
		t.Errorf("Marshal round trip with pck_certificate_chain: %v", err)
	}
}

func BenchmarkParseTCBInfo(b *testing.B) {
	doc := collFile(b, "testdata/collateral/tcbinfo_50806f000000.json")
	for b.Loop() {
		if _, err := ParseTCBInfo(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBundle(b *testing.B) {
	doc := collFile(b, "testdata/collateral/sgx_collateral.json")
	for b.Loop() {
		if _, err := ParseBundle(doc); err != nil {
			b.Fatal(err)
		}
	}
}
