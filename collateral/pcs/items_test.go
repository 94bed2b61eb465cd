package pcs_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/internal/testutil"
)

// The dcap-qvl documents of the shared corpus, as Intel PCS served them
// on 2025-06-19 (valid to 2025-07-19).
const itemDir = "tdx/dcap-qvl/pcs-format/"

var itemAt = time.Date(2025, 6, 19, 11, 0, 0, 0, time.UTC)

func itemCorpus(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.CorpusDir(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type itemCase struct {
	name   string
	doc    pcs.Document
	body   string // corpus path
	header string // issuer-chain header
	chain  string // corpus path of the chain
	until  time.Time
}

func itemCases() []itemCase {
	tdx, sgx := itemDir+"tdx-quote/", itemDir+"sgx-quote/"
	return []itemCase{
		{"tdx-tcb-info", pcs.Document{Kind: pcs.KindTCBInfo, TDX: true, FMSPC: fmspcTDX}, tdx + "tcbinfo.json", "TCB-Info-Issuer-Chain", tdx + "tcb_info_issuer_chain.pem", time.Date(2025, 7, 19, 10, 16, 3, 0, time.UTC)},
		{"sgx-tcb-info", pcs.Document{Kind: pcs.KindTCBInfo, FMSPC: fmspcSGX}, sgx + "tcbinfo.json", "TCB-Info-Issuer-Chain", sgx + "tcb_info_issuer_chain.pem", time.Time{}},
		{"td-qe-identity", pcs.Document{Kind: pcs.KindQEIdentity, TDX: true}, tdx + "qe_identity.json", "SGX-Enclave-Identity-Issuer-Chain", tdx + "tcb_info_issuer_chain.pem", time.Time{}},
		{"qe-identity", pcs.Document{Kind: pcs.KindQEIdentity}, sgx + "qe_identity.json", "SGX-Enclave-Identity-Issuer-Chain", sgx + "tcb_info_issuer_chain.pem", time.Date(2025, 7, 19, 10, 1, 18, 0, time.UTC)},
		{"pck-crl-platform", pcs.Document{Kind: pcs.KindPCKCRL, CA: "platform"}, tdx + "pck_crl.der", "", "", time.Time{}},
		{"pck-crl-processor", pcs.Document{Kind: pcs.KindPCKCRL, CA: "processor"}, sgx + "pck_crl.der", "", "", time.Time{}},
		{"root-crl", pcs.Document{Kind: pcs.KindRootCRL}, tdx + "root_ca_crl.der", "", "", time.Time{}},
	}
}

// fetchItem has a Client fetch the case's document from a loopback PCS
// into a fresh cache and returns the cache directory.
func fetchItem(t *testing.T, tc itemCase) string {
	t.Helper()
	body := itemCorpus(t, tc.body)
	var chain []byte
	if tc.chain != "" {
		chain = itemCorpus(t, tc.chain)
	}
	want, err := url.Parse(tc.doc.URL("http://pcs.test", "http://pcs.test/IntelSGXRootCA.der"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != want.Path || r.URL.Query().Encode() != want.Query().Encode() {
			http.NotFound(w, r)
			return
		}
		if tc.header != "" {
			w.Header().Set(tc.header, pcsEscape(string(chain)))
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	c := &pcs.Client{BaseURL: srv.URL, RootCRLURL: srv.URL + "/IntelSGXRootCA.der", CacheDir: dir, Now: func() time.Time { return itemAt }}
	if err := c.Fetch(t.Context(), tc.doc); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCacheFile: a document's CacheFile is the very file the Client
// writes, ParseCacheFile names it back, and the file validates.
func TestCacheFile(t *testing.T) {
	for _, tc := range itemCases() {
		t.Run(tc.name, func(t *testing.T) {
			dir := fetchItem(t, tc)
			name, err := tc.doc.CacheFile()
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
			if err != nil {
				t.Fatalf("the client did not write CacheFile %s: %v", name, err)
			}
			back, err := pcs.ParseCacheFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tc.doc) {
				t.Errorf("ParseCacheFile(%q) = %+v, want %+v", name, back, tc.doc)
			}
			v, err := pcs.Validate(tc.doc, b)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !tc.until.IsZero() && !v.Until.Equal(tc.until) {
				t.Errorf("Until %s, want %s", v.Until, tc.until)
			}
			if v.Until.Before(itemAt) {
				t.Errorf("Until %s is before the time the document was served", v.Until)
			}
		})
	}
}

// cached returns the cache file content of a case.
func cached(t *testing.T, tc itemCase) []byte {
	t.Helper()
	dir := fetchItem(t, tc)
	name, _ := tc.doc.CacheFile()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestValidateRefuses: a document under another name, a changed signed
// byte, a chain that is not Intel's: ErrInvalid.
func TestValidateRefuses(t *testing.T) {
	cs := itemCases()
	tdxTCB, sgxTCB, tdQE, qe := cached(t, cs[0]), cached(t, cs[1]), cached(t, cs[2]), cached(t, cs[3])
	platformCRL, rootCRL := cached(t, cs[4]), cached(t, cs[6])
	// The envelope's body is base64: change a signed byte by
	// re-encoding a changed document.
	changed := func(t *testing.T, old, repl string) []byte {
		t.Helper()
		body := itemCorpus(t, cs[0].body)
		if !bytes.Contains(body, []byte(old)) {
			t.Fatalf("%q not in the TCB info", old)
		}
		chain := itemCorpus(t, cs[0].chain)
		return []byte(`{"body":"` + b64(bytes.Replace(body, []byte(old), []byte(repl), 1)) + `","issuer_chain":` + jsonString(string(chain)) + `}`)
	}
	otherFMSPC := cs[0].doc
	otherFMSPC.FMSPC[5] = 1
	tests := []struct {
		name string
		doc  pcs.Document
		body []byte
	}{
		{"tcb-info-other-fmspc", otherFMSPC, tdxTCB},
		{"sgx-tcb-info-as-tdx", pcs.Document{Kind: pcs.KindTCBInfo, TDX: true, FMSPC: fmspcSGX}, sgxTCB},
		{"tcb-info-signed-byte-changed", cs[0].doc, changed(t, `"tcbEvaluationDataNumber":17`, `"tcbEvaluationDataNumber":18`)},
		{"tcb-info-pck-chain", cs[0].doc, []byte(`{"body":"` + b64(itemCorpus(t, cs[0].body)) + `","issuer_chain":` + jsonString(string(itemCorpus(t, itemDir+"tdx-quote/pck_crl_issuer_chain.pem"))) + `}`)},
		{"tcb-info-unknown-field", cs[0].doc, append(bytes.TrimSuffix(bytes.TrimSpace(tdxTCB), []byte("}")), `,"x":1}`...)},
		{"tcb-info-raw-not-envelope", cs[0].doc, itemCorpus(t, cs[0].body)},
		{"qe-identity-as-td-qe", cs[2].doc, qe},
		{"td-qe-identity-as-qe", cs[3].doc, tdQE},
		{"platform-crl-as-processor", cs[5].doc, platformCRL},
		{"root-crl-as-pck-crl", cs[4].doc, rootCRL},
		{"pck-crl-as-root-crl", cs[6].doc, platformCRL},
		{"root-crl-trailing-byte", cs[6].doc, append(bytes.Clone(rootCRL), 0)},
		{"root-crl-signature-flipped", cs[6].doc, func() []byte { b := bytes.Clone(rootCRL); b[len(b)-3] ^= 1; return b }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := pcs.Validate(tt.doc, tt.body); !errors.Is(err, pcs.ErrInvalid) {
				t.Errorf("Validate = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestParseCacheFileRefuses(t *testing.T) {
	for _, bad := range []string{
		"",
		"intelSGXRootCA.der",
		"tdx/certification/v4/tcb@fmspc=b0c06f000000", // PCS spells the FMSPC upper case
		"tdx/certification/v4/tcb@fmspc=B0C06F",
		"tdx/certification/v3/tcb@fmspc=B0C06F000000",
		"sgx/certification/v4/pckcrl@ca=platform",
		"sgx/certification/v4/pckcrl@ca=other,encoding=der",
		"tdx/certification/v4/pckcrl@ca=platform,encoding=der", // served under sgx/ only
		"sgx/certification/v4/qe/identity/x",
		"tee/certification/v4/qe/identity",
	} {
		if _, err := pcs.ParseCacheFile(bad); !errors.Is(err, pcs.ErrInvalid) {
			t.Errorf("ParseCacheFile(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
