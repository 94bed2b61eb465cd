package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/assay-dev/assay/internal/testutil"
)

// Real Intel documents from the shared corpus: dcap-qvl's quotes and the
// PCS-format collateral fetched for them from Intel PCS (valid 2025-06-19
// to 2025-07-19).
const (
	dcapQVL     = "tdx/dcap-qvl"
	dcapAt      = "2025-06-19T11:00:00Z"
	rootCRLPath = "/IntelSGXRootCA.der"
)

// pcsDoc is one document the fake PCS serves at a path and query.
type pcsDoc struct {
	file   string // corpus path
	header string // issuer-chain header, "" for none
	chain  string // corpus path of the PEM chain in header
}

// dcapCase is a real quote and what Intel PCS serves for it.
type dcapCase struct {
	name      string
	quote     string // corpus path
	fmspc     string // upper-case hex, as PCS takes it
	docs      map[string]pcsDoc
	code      int
	tee       string
	status    string
	tcbStatus string
	advisory  []string
}

func dcapCases() []dcapCase {
	tdx := dcapQVL + "/pcs-format/tdx-quote/"
	sgx := dcapQVL + "/pcs-format/sgx-quote/"
	return []dcapCase{
		{
			name:  "tdx-v4",
			quote: dcapQVL + "/tdx-quote-v4.dat",
			fmspc: "B0C06F000000",
			docs: map[string]pcsDoc{
				"/tdx/certification/v4/tcb?fmspc=B0C06F000000": {tdx + "tcbinfo.json", "TCB-Info-Issuer-Chain", tdx + "tcb_info_issuer_chain.pem"},
				// The QE identity is signed by the TCB Signing key too, and
				// PCS serves the same chain with it.
				"/tdx/certification/v4/qe/identity":                     {tdx + "qe_identity.json", "SGX-Enclave-Identity-Issuer-Chain", tdx + "tcb_info_issuer_chain.pem"},
				"/sgx/certification/v4/pckcrl?ca=platform&encoding=der": {tdx + "pck_crl.der", "SGX-PCK-CRL-Issuer-Chain", tdx + "pck_crl_issuer_chain.pem"},
				rootCRLPath: {file: tdx + "root_ca_crl.der"},
			},
			code: ExitAffirming, tee: "tdx", status: "affirming", tcbStatus: "UpToDate",
		},
		{
			name:  "sgx-v3",
			quote: dcapQVL + "/sgx-quote-v3.dat",
			fmspc: "00A067110000",
			docs: map[string]pcsDoc{
				"/sgx/certification/v4/tcb?fmspc=00A067110000":           {sgx + "tcbinfo.json", "TCB-Info-Issuer-Chain", sgx + "tcb_info_issuer_chain.pem"},
				"/sgx/certification/v4/qe/identity":                      {sgx + "qe_identity.json", "SGX-Enclave-Identity-Issuer-Chain", sgx + "tcb_info_issuer_chain.pem"},
				"/sgx/certification/v4/pckcrl?ca=processor&encoding=der": {sgx + "pck_crl.der", "SGX-PCK-CRL-Issuer-Chain", sgx + "pck_crl_issuer_chain.pem"},
				rootCRLPath: {file: sgx + "root_ca_crl.der"},
			},
			code: ExitWarning, tee: "sgx", status: "warning", tcbStatus: "ConfigurationAndSWHardeningNeeded",
			advisory: []string{"INTEL-SA-00289", "INTEL-SA-00615"},
		},
	}
}

// fakePCS is a loopback Intel PCS v4 (and Intel certificate server for the
// root CRL). It serves each document at its path and exact query, with
// the issuer chain percent-encoded in its header as PCS does, answers
// HTTP 500 to the paths fail names ("*": every path), and records every
// request as path?query.
type fakePCS struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newFakePCS(t *testing.T, corpus string, docs map[string]pcsDoc, fail ...string) *fakePCS {
	t.Helper()
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(corpus, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type served struct {
		body   []byte
		header http.Header
	}
	routes := map[string]served{}
	for key, d := range docs {
		h := http.Header{}
		if d.header != "" {
			h.Set(d.header, pcsEscape(string(read(d.chain))))
		}
		routes[key] = served{read(d.file), h}
	}
	k := &fakePCS{}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The query in canonical (sorted) form, whatever order the client
		// wrote it in.
		key := r.URL.Path
		if q := r.URL.Query().Encode(); q != "" {
			key += "?" + q
		}
		k.mu.Lock()
		k.seen = append(k.seen, key)
		k.mu.Unlock()
		if slices.Contains(fail, "*") || slices.Contains(fail, r.URL.Path) {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		d, ok := routes[key]
		if !ok || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		for name, v := range d.header {
			w.Header()[name] = v
		}
		w.Write(d.body)
	}))
	t.Cleanup(k.Close)
	return k
}

func (k *fakePCS) requested() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.seen)
}

// pcsEscape percent-encodes s as PCS encodes its issuer-chain headers:
// everything but the RFC 3986 unreserved characters, so '+', '/', '=',
// space and newline all become %XX.
func pcsEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// dcapResult is the part of the JSON result (attest.Result with DCAP
// claims) read here.
type dcapResult struct {
	TEE    string `json:"tee"`
	Status string `json:"status"`
	Claims struct {
		TCBStatus   string   `json:"tcb_status"`
		AdvisoryIDs []string `json:"advisory_ids"`
	} `json:"claims"`
	Checks []onlineCheck `json:"checks"`
}

func runDCAP(t *testing.T, args ...string) (int, dcapResult, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), append([]string{"verify", "-o", "json", "--at", dcapAt}, args...), &stdout, &stderr)
	var res dcapResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("exit %d; JSON output does not parse: %v\nstdout:\n%s\nstderr:\n%s", code, err, stdout.String(), stderr.String())
	}
	return code, res, fmt.Sprintf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
}

func (r dcapResult) check(name string) (onlineCheck, bool) {
	i := slices.IndexFunc(r.Checks, func(c onlineCheck) bool { return c.Name == name })
	if i < 0 {
		return onlineCheck{}, false
	}
	return r.Checks[i], true
}

// firstFailed is the first check that failed, whatever its severity.
func (r dcapResult) firstFailed() (onlineCheck, bool) {
	i := slices.IndexFunc(r.Checks, func(c onlineCheck) bool { return !c.OK })
	if i < 0 {
		return onlineCheck{}, false
	}
	return r.Checks[i], true
}

// TestOnlineDCAP verifies real TDX and SGX quotes with no collateral
// given: TCB info, QE identity, PCK CRL and root CRL come from a loopback
// Intel PCS, through the disk cache.
func TestOnlineDCAP(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	for _, tc := range dcapCases() {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakePCS(t, corpus, tc.docs)
			cache := t.TempDir()
			quote := filepath.Join(corpus, filepath.FromSlash(tc.quote))
			for _, pass := range []string{"cold-cache", "warm-cache"} {
				before := len(k.requested())
				code, res, out := runDCAP(t, "--pcs-url", k.URL, "--cache-dir", cache, quote)
				if code != tc.code {
					t.Fatalf("%s: exit %d, want %d\n%s", pass, code, tc.code, out)
				}
				if res.TEE != tc.tee || res.Status != tc.status || res.Claims.TCBStatus != tc.tcbStatus {
					t.Errorf("%s: tee %q status %q tcb_status %q, want %q %q %q", pass, res.TEE, res.Status, res.Claims.TCBStatus, tc.tee, tc.status, tc.tcbStatus)
				}
				if tc.advisory != nil && !slices.Equal(res.Claims.AdvisoryIDs, tc.advisory) {
					t.Errorf("%s: advisory_ids %v, want %v", pass, res.Claims.AdvisoryIDs, tc.advisory)
				}
				for _, name := range []string{"crl.root", "crl.pck", "collateral.tcb_info", "collateral.qe_identity"} {
					c, ok := res.check(name)
					switch {
					case !ok:
						t.Errorf("%s: no %s check in %+v", pass, name, res.Checks)
					case !c.OK || c.Skipped:
						t.Errorf("%s: %s ok=%v skipped=%v (%s), want passed", pass, name, c.OK, c.Skipped, c.Detail)
					}
				}
				reqs := k.requested()[before:]
				switch pass {
				case "cold-cache":
					for key := range tc.docs {
						if n := countOf(reqs, key); n != 1 {
							t.Errorf("PCS saw %s %d times, want once; requests: %v", key, n, reqs)
						}
					}
					if len(reqs) != len(tc.docs) {
						t.Errorf("PCS saw %d requests, want %d: %v", len(reqs), len(tc.docs), reqs)
					}
				case "warm-cache":
					if len(reqs) != 0 {
						t.Errorf("second run asked PCS for %v; the cache should have served everything", reqs)
					}
				}
			}
		})
	}
}

func countOf(s []string, v string) int {
	n := 0
	for _, e := range s {
		if e == v {
			n++
		}
	}
	return n
}

// TestOfflineMissingTCBInfo: the TDX quote offline with no collateral is
// rejected by collateral.tcb_info, which names the FMSPC and what to
// supply; the CRL checks are skipped, not failed.
func TestOfflineMissingTCBInfo(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	quote := filepath.Join(corpus, filepath.FromSlash(dcapQVL+"/tdx-quote-v4.dat"))
	code, res, out := runDCAP(t, "--cache-dir", t.TempDir(), "--offline", quote)
	if code != ExitRejected {
		t.Fatalf("exit %d, want %d\n%s", code, ExitRejected, out)
	}
	if res.Status != "contraindicated" {
		t.Errorf("status %q, want contraindicated", res.Status)
	}
	c, ok := res.firstFailed()
	if !ok {
		t.Fatalf("no failed check in %+v", res.Checks)
	}
	if c.Name != "collateral.tcb_info" {
		t.Fatalf("first failed check is %s (%s), want collateral.tcb_info", c.Name, c.Detail)
	}
	// The JSON carries the message, not the error value: it must name the
	// platform's FMSPC and the document to supply.
	if !strings.Contains(c.Detail, "B0C06F000000") || !strings.Contains(c.Detail, "TCB info") {
		t.Errorf("collateral.tcb_info detail %q does not name the TCB info for FMSPC B0C06F000000", c.Detail)
	}
	for _, name := range []string{"crl.root", "crl.pck"} {
		if c, ok := res.check(name); !ok || !c.Skipped {
			t.Errorf("%s: %+v, want skipped offline", name, c)
		}
	}
}

// TestOnlineDCAPServerError: a PCS that answers 500 rejects the quote; the
// fetch failure is reported by the checks that needed the documents, and
// nothing is skipped as if offline.
func TestOnlineDCAPServerError(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	tc := dcapCases()[0]
	quote := filepath.Join(corpus, filepath.FromSlash(tc.quote))

	t.Run("everything", func(t *testing.T) {
		k := newFakePCS(t, corpus, tc.docs, "*")
		code, res, out := runDCAP(t, "--pcs-url", k.URL, "--cache-dir", t.TempDir(), quote)
		if code != ExitRejected {
			t.Fatalf("exit %d, want %d\n%s", code, ExitRejected, out)
		}
		if res.Status != "contraindicated" {
			t.Errorf("status %q, want contraindicated", res.Status)
		}
		// The CRLs are needed first (revocation precedes the collateral):
		// each CRL check fails, and so does the collateral fetch.
		for _, name := range []string{"crl.root", "crl.pck", "collateral.fetch"} {
			c, ok := res.check(name)
			if !ok {
				t.Errorf("no %s check in %+v", name, res.Checks)
				continue
			}
			if c.OK || c.Skipped {
				t.Errorf("%s ok=%v skipped=%v (%s), want failed", name, c.OK, c.Skipped, c.Detail)
			}
		}
		if c, _ := res.check("collateral.fetch"); !strings.Contains(c.Detail, tc.fmspc) {
			t.Errorf("collateral.fetch detail %q does not name FMSPC %s", c.Detail, tc.fmspc)
		}
		if len(k.requested()) == 0 {
			t.Error("PCS saw no request")
		}
	})

	t.Run("tcb-info", func(t *testing.T) {
		// CRLs served, TCB info answered with 500.
		k := newFakePCS(t, corpus, tc.docs, "/tdx/certification/v4/tcb")
		code, res, out := runDCAP(t, "--pcs-url", k.URL, "--cache-dir", t.TempDir(), quote)
		if code != ExitRejected {
			t.Fatalf("exit %d, want %d\n%s", code, ExitRejected, out)
		}
		c, ok := res.firstFailed()
		if !ok {
			t.Fatalf("no failed check in %+v", res.Checks)
		}
		if c.Name != "collateral.fetch" {
			t.Fatalf("first failed check is %s (%s), want collateral.fetch", c.Name, c.Detail)
		}
		if !strings.Contains(c.Detail, tc.fmspc) {
			t.Errorf("collateral.fetch detail %q does not name FMSPC %s", c.Detail, tc.fmspc)
		}
		for _, name := range []string{"crl.root", "crl.pck"} {
			if c, ok := res.check(name); !ok || !c.OK || c.Skipped {
				t.Errorf("%s: %+v, want passed", name, c)
			}
		}
	})
}
