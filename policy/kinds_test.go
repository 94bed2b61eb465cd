package policy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/policy"
	"github.com/assay-dev/assay/verifier"
)

// corpusResult appraises files of the shared corpus at at (skipped
// without ../shared/corpus).
func corpusResult(t *testing.T, at string, files ...string) *attest.Result {
	t.Helper()
	dir := testutil.CorpusDir(t)
	var in []verifier.Input
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, verifier.Input{Name: f, Data: b})
	}
	now, err := time.Parse(time.RFC3339, at)
	if err != nil {
		t.Fatal(err)
	}
	return appraise(t, verifier.Verifiers(verifier.Config{}), in, now)
}

// claimAt reads a claim of a result by dotted path, through its JSON form,
// as policies see it: "rtmr.2" indexes an array, "pcrs.sha256.7" an
// object.
func claimAt(t *testing.T, r *attest.Result, path string) string {
	t.Helper()
	b, err := json.Marshal(r.Claims)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for _, seg := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[seg]
		case []any:
			i, _ := strconv.Atoi(seg)
			v = x[i]
		}
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.Itoa(int(x))
	}
	t.Fatalf("claim %s is %T", path, v)
	return ""
}

// flip changes a hex value's last digit.
func flip(v string) string {
	last := v[len(v)-1]
	if last == '0' {
		return v[:len(v)-1] + "1"
	}
	return v[:len(v)-1] + "0"
}

// TestDefaultPerKind runs every built-in policy on real evidence of its
// kind: a reference value equal to the claim affirms the category the
// policy files it under, one that differs contraindicates it. The
// verifier's own status caps the result either way.
func TestDefaultPerKind(t *testing.T) {
	type sample struct {
		name, kind, claim, category string
		at                          string
		files                       []string
	}
	samples := []sample{
		{"sgx-occlum", "sgx", "mr_enclave", "executables", "2025-02-20T00:01:00Z", []string{"sgx/trustee/occlum-quote-v3.dat", "tdx/dcap-rs/collateral/sgx_tcbinfo_v2_00606a000000.json", "tdx/dcap-rs/collateral/qe_identity_sgx_qe.json", "roots/intel/crl/pck_platform_2025-02-13.der", "roots/intel/crl/IntelSGXRootCA_2024-03-20.der", "roots/intel/tcb_signing_chain_2018-2025.pem"}},
		{"sgx-occlum-signer", "sgx", "mr_signer", "executables", "2025-02-20T00:01:00Z", []string{"sgx/trustee/occlum-quote-v3.dat", "tdx/dcap-rs/collateral/sgx_tcbinfo_v2_00606a000000.json", "tdx/dcap-rs/collateral/qe_identity_sgx_qe.json", "roots/intel/crl/pck_platform_2025-02-13.der", "roots/intel/crl/IntelSGXRootCA_2024-03-20.der", "roots/intel/tcb_signing_chain_2018-2025.pem"}},
		{"nitro-veracruz-pcr0", "nitro", "pcrs.0", "executables", "2022-11-09T22:52:00Z", []string{"nitro/veracruz/aws_nitro_document.cbor"}},
		{"nitro-veracruz-pcr4", "nitro", "pcrs.4", "instance_identity", "2022-11-09T22:52:00Z", []string{"nitro/veracruz/aws_nitro_document.cbor"}},
		{"tpm-gce-cos85", "tpm", "pcrs.sha256.0", "executables", "2022-01-01T00:00:00Z", []string{"tpm/quotes/go-tpm-tools/gce-cos-85-nonce9009.pb"}},
		{"cca-tf-rmm-rim", "cca", "realm.initial_measurement", "executables", "2025-08-15T00:00:00Z", []string{"cca/ccatoken/tf-rmm-cca_token.cbor", "cca/ccatoken/tf-rmm-cca_platform.pub"}},
		{"cca-tf-rmm-rem1", "cca", "realm.extensible_measurements.1", "executables", "2025-08-15T00:00:00Z", []string{"cca/ccatoken/tf-rmm-cca_token.cbor", "cca/ccatoken/tf-rmm-cca_platform.pub"}},
		{"cca-tf-rmm-impl-id", "cca", "platform.implementation_id", "hardware", "2025-08-15T00:00:00Z", []string{"cca/ccatoken/tf-rmm-cca_token.cbor", "cca/ccatoken/tf-rmm-cca_platform.pub"}},
		{"azcvm-snp-measurement", "azcvm", "measurement", "executables", "2025-07-01T00:00:00Z", []string{"azure/trustee/az-snp-vtpm/evidence-v1.json"}},
		{"azcvm-snp-pcr", "azcvm", "pcrs.sha256.4", "executables", "2025-07-01T00:00:00Z", []string{"azure/trustee/az-snp-vtpm/evidence-v1.json"}},
		{"azcvm-tdx-mrtd", "azcvm", "mr_td", "executables", "2025-02-20T00:01:00Z", []string{"azure/trustee/az-tdx-vtpm/evidence-v1.json"}},
	}
	e := newEngine(t, policy.Options{})
	for _, s := range samples {
		t.Run(s.name, func(t *testing.T) {
			r := corpusResult(t, s.at, s.files...)
			if got := policy.Kind(r); got != s.kind {
				t.Fatalf("kind %s, want %s", got, s.kind)
			}
			v := claimAt(t, r, s.claim)
			for _, tc := range []struct {
				value string
				want  attest.Status
			}{{v, attest.StatusAffirming}, {flip(v), attest.StatusContraindicated}} {
				rv := ref("rv", s.kind, s.claim, tc.value, policy.StateActive)
				if err := policy.Validate(rv, nil); err != nil {
					t.Fatalf("the sample's own value does not validate: %v", err)
				}
				d, err := e.Evaluate(t.Context(), r, []policy.RefValue{rv}, policy.EvalOptions{})
				if err != nil {
					t.Fatal(err)
				}
				reason, ok := reasonFor(d, s.claim)
				if !ok || reason.Status != tc.want || reason.Found != v {
					t.Errorf("%s = %s…: reason %+v, want status %s", s.claim, tc.value[:8], reason, tc.want)
				}
				tv := map[string]int8{"executables": d.TrustVector.Executables, "hardware": d.TrustVector.Hardware,
					"instance_identity": d.TrustVector.InstanceIdentity, "configuration": d.TrustVector.Configuration}
				if got := policy.ClaimTier(tv[s.category]); got != tc.want {
					t.Errorf("%s = %s…: %s %d, want %s", s.claim, tc.value[:8], s.category, tv[s.category], tc.want)
				}
				want := r.Status
				if tc.want == attest.StatusContraindicated {
					want = attest.StatusContraindicated
				}
				if d.Status != want && r.Status != attest.StatusContraindicated {
					t.Errorf("%s = %s…: status %s, want %s (verifier %s)", s.claim, tc.value[:8], d.Status, want, r.Status)
				}
				if r.Status == attest.StatusContraindicated && d.Status != attest.StatusContraindicated {
					t.Errorf("verifier contraindicated, policy raised it to %s", d.Status)
				}
			}
		})
	}
}

var sgxOcclum = []string{"sgx/trustee/occlum-quote-v3.dat", "tdx/dcap-rs/collateral/sgx_tcbinfo_v2_00606a000000.json", "tdx/dcap-rs/collateral/qe_identity_sgx_qe.json", "roots/intel/crl/pck_platform_2025-02-13.der", "roots/intel/crl/IntelSGXRootCA_2024-03-20.der", "roots/intel/tcb_signing_chain_2018-2025.pem"}

// TestSGXIdentity: MRENCLAVE or MRSIGNER, with ISVPRODID and a minimum
// ISVSVN, on an Occlum enclave's quote (a debug enclave: configuration is
// contraindicated whatever the values).
func TestSGXIdentity(t *testing.T) {
	r := corpusResult(t, "2025-02-20T00:01:00Z", sgxOcclum...)
	enclave, signer := claimAt(t, r, "mr_enclave"), claimAt(t, r, "mr_signer")
	prod, svn := claimAt(t, r, "isv_prod_id"), claimAt(t, r, "isv_svn")
	n, _ := strconv.Atoi(svn)
	prodN, _ := strconv.Atoi(prod)
	other32 := strings.Repeat("cd", 32)
	tests := []struct {
		name        string
		refs        []policy.RefValue
		executables attest.Status
		reasons     map[string]attest.Status // claim -> status of its reason
	}{
		{"enclave", []policy.RefValue{ref("e", "sgx", "mr_enclave", enclave, policy.StateActive)},
			attest.StatusAffirming, map[string]attest.Status{"mr_enclave": attest.StatusAffirming}},
		{"signer-when-enclave-differs", []policy.RefValue{
			ref("e", "sgx", "mr_enclave", other32, policy.StateActive),
			ref("s", "sgx", "mr_signer", signer, policy.StateActive),
		}, attest.StatusAffirming, map[string]attest.Status{"mr_signer": attest.StatusAffirming}},
		{"neither", []policy.RefValue{
			ref("e", "sgx", "mr_enclave", other32, policy.StateActive),
			ref("s", "sgx", "mr_signer", other32, policy.StateActive),
		}, attest.StatusContraindicated, map[string]attest.Status{"mr_enclave": attest.StatusContraindicated, "mr_signer": attest.StatusContraindicated}},
		{"signer-product-svn", []policy.RefValue{
			ref("s", "sgx", "mr_signer", signer, policy.StateActive),
			ref("p", "sgx", "isv_prod_id", prod, policy.StateActive),
			ref("v", "sgx", "isv_svn", svn, policy.StateActive),
		}, attest.StatusAffirming, map[string]attest.Status{"isv_prod_id": attest.StatusAffirming, "isv_svn": attest.StatusAffirming}},
		{"svn-below-minimum", []policy.RefValue{
			ref("s", "sgx", "mr_signer", signer, policy.StateActive),
			ref("v1", "sgx", "isv_svn", svn, policy.StateActive),
			ref("v2", "sgx", "isv_svn", strconv.Itoa(n+1), policy.StateActive),
		}, attest.StatusContraindicated, map[string]attest.Status{"mr_signer": attest.StatusAffirming, "isv_svn": attest.StatusContraindicated}},
		{"other-product", []policy.RefValue{
			ref("s", "sgx", "mr_signer", signer, policy.StateActive),
			ref("p", "sgx", "isv_prod_id", strconv.Itoa(prodN+1), policy.StateActive),
		}, attest.StatusContraindicated, map[string]attest.Status{"isv_prod_id": attest.StatusContraindicated}},
	}
	e := newEngine(t, policy.Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := policy.ValidateAll(tc.refs); err != nil {
				t.Fatal(err)
			}
			d, err := e.Evaluate(t.Context(), r, tc.refs, policy.EvalOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := policy.ClaimTier(d.TrustVector.Executables); got != tc.executables {
				t.Errorf("executables %d, want %s: %+v", d.TrustVector.Executables, tc.executables, d.Reasons)
			}
			if policy.ClaimTier(d.TrustVector.Configuration) != attest.StatusContraindicated || d.Status != attest.StatusContraindicated {
				t.Errorf("a debug enclave: configuration %d, status %s", d.TrustVector.Configuration, d.Status)
			}
			for claim, want := range tc.reasons {
				if r, ok := reasonFor(d, claim); !ok || r.Status != want {
					t.Errorf("reason for %s: %+v, want %s", claim, r, want)
				}
			}
		})
	}
}

var ccaTFRMM = []string{"cca/ccatoken/tf-rmm-cca_token.cbor", "cca/ccatoken/tf-rmm-cca_platform.pub"}

// TestCCASoftwareComponents: every platform software component must
// match a reference value once any is given (Trustee's example token,
// whose components have distinct measurements).
func TestCCASoftwareComponents(t *testing.T) {
	r := corpusResult(t, "2025-08-15T00:00:00Z", "cca/trustee/cca-example-token.cbor", "cca/trustee/tastore.json")
	var comps []string
	{
		b, _ := json.Marshal(r.Claims)
		var c struct {
			Platform struct {
				SWComponents []struct {
					MeasurementValue string `json:"measurement_value"`
				} `json:"sw_components"`
			} `json:"platform"`
		}
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		for _, sc := range c.Platform.SWComponents {
			comps = append(comps, sc.MeasurementValue)
		}
	}
	if len(comps) < 2 {
		t.Fatalf("%d components; the test wants two or more", len(comps))
	}
	var all []policy.RefValue
	for i, v := range comps {
		all = append(all, ref(fmt.Sprintf("sw%d", i), "cca", "platform.sw_components", v, policy.StateActive))
	}
	e := newEngine(t, policy.Options{})
	for _, tc := range []struct {
		name string
		refs []policy.RefValue
		want attest.Status
	}{
		{"all-listed", all, attest.StatusAffirming},
		{"one-missing", all[1:], attest.StatusContraindicated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := e.Evaluate(t.Context(), r, tc.refs, policy.EvalOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := policy.ClaimTier(d.TrustVector.Hardware); got != tc.want {
				t.Errorf("hardware %d, want %s: %+v", d.TrustVector.Hardware, tc.want, d.Reasons)
			}
			n := 0
			for _, r := range d.Reasons {
				if r.Claim == "platform.sw_components" {
					n++
					if !strings.HasPrefix(r.Message, "component ") {
						t.Errorf("message %q does not name the component", r.Message)
					}
				}
			}
			if n != len(comps) {
				t.Errorf("%d component reasons, want %d", n, len(comps))
			}
		})
	}
}

// TestUnquotedPCR: a PCR that reference values name but the quote does
// not cover is a mismatch, not a pass. The Azure vTPM quote of the
// sample covers the SHA-256 bank only.
func TestUnquotedPCR(t *testing.T) {
	r := corpusResult(t, "2025-07-01T00:00:00Z", "azure/trustee/az-snp-vtpm/evidence-v1.json")
	refs := []policy.RefValue{
		ref("pcr0", "azcvm", "pcrs.sha256.0", claimAt(t, r, "pcrs.sha256.0"), policy.StateActive),
		ref("pcr0-sha1", "azcvm", "pcrs.sha1.0", strings.Repeat("ab", 20), policy.StateActive),
	}
	d, err := newEngine(t, policy.Options{}).Evaluate(t.Context(), r, refs, policy.EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reason, ok := reasonFor(d, "pcrs.sha1.0")
	if !ok || reason.Status != attest.StatusContraindicated || !contains(reason.Message, "absent") {
		t.Errorf("reason %+v", reason)
	}
	if reason, _ := reasonFor(d, "pcrs.sha256.0"); reason.Status != attest.StatusAffirming {
		t.Errorf("PCR0: %+v", reason)
	}
	if d.Status != attest.StatusContraindicated {
		t.Errorf("status %s", d.Status)
	}
}

// TestNitroDebug: a debug-mode enclave is contraindicated.
func TestNitroDebug(t *testing.T) {
	r := corpusResult(t, "2022-10-12T13:50:06Z", "nitro/evervault/debug-mode-attestation-doc.cbor")
	d, err := newEngine(t, policy.Options{}).Evaluate(t.Context(), r, nil, policy.EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if reason, ok := reasonFor(d, "debug"); !ok || reason.Status != attest.StatusContraindicated || policy.ClaimTier(d.TrustVector.Configuration) != attest.StatusContraindicated {
		t.Errorf("decision %+v", d)
	}
}

// sampleResults are a result of every kind: the Turin sample, and with
// the shared corpus one of each other TEE.
func sampleResults(t *testing.T) map[string]*attest.Result {
	t.Helper()
	results := map[string]*attest.Result{"turin": turinResult(t)}
	if _, err := os.Stat(filepath.Join(testutil.RepoRoot(t), "..", "shared", "corpus")); err == nil {
		results["tdx-cos113"] = tdxEntry(t, "tdx-gcp-cos113-ccel-go-tdx-guest")
		results["sgx-occlum"] = corpusResult(t, "2025-02-20T00:01:00Z", sgxOcclum...)
		results["cca-tf-rmm"] = corpusResult(t, "2025-08-15T00:00:00Z", ccaTFRMM...)
		results["nitro-veracruz"] = corpusResult(t, "2022-11-09T22:52:00Z", "nitro/veracruz/aws_nitro_document.cbor")
		results["tpm-gce"] = corpusResult(t, "2022-01-01T00:00:00Z", "tpm/quotes/go-tpm-tools/gce-cos-85-nonce9009.pb")
		results["azcvm-snp"] = corpusResult(t, "2025-07-01T00:00:00Z", "azure/trustee/az-snp-vtpm/evidence-v1.json")
		results["azcvm-tdx"] = corpusResult(t, "2025-02-20T00:01:00Z", "azure/trustee/az-tdx-vtpm/evidence-v1.json")
	}
	return results
}

// TestClaimsAsJSON: a policy sees every corpus result's claims exactly as
// their JSON form says (the engine converts them itself, for speed).
func TestClaimsAsJSON(t *testing.T) {
	e := newEngine(t, policy.Options{Policies: map[string]string{"echo": `package echo
decision := {"status": "none", "reasons": [{"rule": "echo", "message": json.marshal(input.claims)}]}
`}})
	for name, r := range sampleResults(t) {
		t.Run(name, func(t *testing.T) {
			d, err := e.Evaluate(t.Context(), r, nil, policy.EvalOptions{Policy: "echo"})
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(r.Claims)
			if err != nil {
				t.Fatal(err)
			}
			var got, exp any
			if err := json.Unmarshal([]byte(d.Reasons[0].Message), &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(want, &exp); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, exp) {
				t.Errorf("the policy saw\n%s\nthe claims are\n%s", d.Reasons[0].Message, want)
			}
		})
	}
}
