// Package sgx appraises Intel SGX DCAP quotes (v3, v4 and v5 with an SGX
// body) with Intel collateral.
//
// What is verified: everything internal/dcap.Verify checks (quote and QE
// signatures, the PCK chain to the Intel SGX Root CA, CRLs, TCB info and QE
// identity, TCB level matching), the nonce, and the default policy (no
// debug enclave). What is trusted: the Intel SGX Root CA and the clock.
package sgx

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/dcap"
)

// Formats: a raw SGX DCAP quote, and Trustee's "sgx" evidence JSON.
const (
	FormatQuote       = "sgx-quote"
	FormatTrusteeJSON = "trustee-sgx-json"
)

// Coverage of a verified SGX quote.
var Coverage = attest.Coverage{
	Proves: []string{
		"the quote was produced on a genuine Intel SGX platform whose PCK chains to the Intel SGX Root CA, by an Intel quoting enclave matching Intel's QE identity",
		"MRENCLAVE: the enclave's initial code and data; MRSIGNER: the key that signed the enclave; ISVPRODID, ISVSVN, CONFIGSVN as the enclave declared them",
		"enclave attributes (debug, 64-bit mode, provisioning key access) and MISCSELECT",
		"the platform's TCB status against Intel's TCB info at the verification time (tcb_status, advisory_ids, tcb_date)",
		"REPORTDATA: the 64 bytes the enclave chose to bind (a nonce, a key)",
	},
	DoesNotProve: []string{
		"anything outside the enclave: the host OS, other processes, the data the enclave is given",
		"that MRENCLAVE or MRSIGNER is the one you expect: that is policy, against reference values",
		"freshness, unless a nonce was given and matched REPORTDATA",
	},
}

// Claims of an SGX quote, named after sgx_report_body_t in snake_case.
type Claims struct {
	MREnclave    string             `json:"mr_enclave"`
	MRSigner     string             `json:"mr_signer"`
	ISVProdID    uint16             `json:"isv_prod_id"`
	ISVSVN       uint16             `json:"isv_svn"`
	Attributes   dcap.SGXAttributes `json:"attributes"`
	MiscSelect   string             `json:"misc_select"`
	ConfigSVN    uint16             `json:"config_svn"`
	ConfigID     string             `json:"config_id"`
	ISVExtProdID string             `json:"isv_ext_prod_id"`
	ISVFamilyID  string             `json:"isv_family_id"`
	CPUSVNReport string             `json:"report_cpu_svn"`
	ReportData   string             `json:"report_data"`
	dcap.TCBClaims
}

// NewClaims builds the claims of an SGX quote.
func NewClaims(q *dcap.Quote, v *dcap.Verification) *Claims {
	h := hex.EncodeToString
	r := q.SGX
	return &Claims{
		MREnclave:    h(r.MREnclave[:]),
		MRSigner:     h(r.MRSigner[:]),
		ISVProdID:    r.ISVProdID,
		ISVSVN:       r.ISVSVN,
		Attributes:   dcap.DecodeSGXAttributes(r.Attributes),
		MiscSelect:   fmt.Sprintf("%#08x", r.MiscSelect),
		ConfigSVN:    r.ConfigSVN,
		ConfigID:     h(r.ConfigID[:]),
		ISVExtProdID: h(r.ISVExtProdID[:]),
		ISVFamilyID:  h(r.ISVFamilyID[:]),
		CPUSVNReport: h(r.CPUSVN[:]),
		ReportData:   h(r.ReportData[:]),
		TCBClaims:    dcap.NewTCBClaims(q, v),
	}
}

// Verifier appraises SGX quotes for package verifier's registry.
type Verifier struct {
	// Collateral fetches Intel collateral that was not supplied; nil is
	// offline.
	Collateral dcap.Getter
	// TCBTiers overrides the default tier of TCB statuses; nil is none.
	TCBTiers map[dcap.TCBStatus]string
	Cache    *dcap.Cache
	// AllowDebug accepts debug enclaves; the default policy
	// contraindicates them.
	AllowDebug bool
}

// Kind implements attest.Verifier.
func (*Verifier) Kind() string { return "sgx" }

// Formats lists the evidence formats.
func (*Verifier) Formats() []string { return []string{FormatQuote, FormatTrusteeJSON} }

// Sniff implements attest.Verifier.
func (*Verifier) Sniff(b []byte) (string, bool) {
	if tdx, ok := dcap.Sniff(b); ok && !tdx {
		return FormatQuote, true
	}
	if tdx, ok := dcap.SniffTrusteeJSON(b); ok && !tdx {
		return FormatTrusteeJSON, true
	}
	return "", false
}

// Appraise implements attest.Verifier.
func (v *Verifier) Appraise(ctx context.Context, b attest.Bundle, p attest.Params) *attest.Result {
	a := dcap.Appraisal{Base: dcap.Options{Cache: v.Cache, Collateral: v.Collateral, TCBTiers: v.TCBTiers}}
	res, q, ver, _ := a.Run(ctx, b, p, "sgx", FormatQuote, FormatTrusteeJSON, Coverage)
	defer res.Finish()
	if q == nil {
		return res
	}
	claims := NewClaims(q, ver)
	res.Claims = claims
	if claims.Attributes.Debug && !v.AllowDebug {
		res.Checks = append(res.Checks, attest.Fail("policy.debug", fmt.Errorf("%w: ATTRIBUTES.DEBUG is set: the enclave's memory can be read by a debugger; contraindicated by default policy", dcap.ErrPolicy)))
	} else {
		res.Checks = append(res.Checks, attest.Pass("policy.debug", "ATTRIBUTES.DEBUG is %v", claims.Attributes.Debug))
	}
	return res
}

// SniffCollateral recognises Intel collateral.
func (*Verifier) SniffCollateral(b []byte) (string, bool) { return dcap.SniffCollateral(b) }

// Inspect describes an SGX quote or Intel collateral without judging it.
func (*Verifier) Inspect(b []byte, format string) (any, error) {
	if f, ok := dcap.SniffCollateral(b); ok {
		return dcap.DescribeCollateral(b, f)
	}
	q, err := dcap.ParseQuote(b)
	if err != nil {
		return nil, err
	}
	if q.SGX == nil {
		return nil, fmt.Errorf("%w: a TD quote, not an SGX quote", dcap.ErrMalformed)
	}
	return map[string]any{"quote_version": q.Header.Version, "enclave": NewClaims(q, nil)}, nil
}
