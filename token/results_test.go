package token_test

import (
	"errors"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/token"
)

// The appraisals below are shaped like the verifiers' own: the same check
// names in the same order, details in the same words, claims named after
// the ABI. They are built here, not read from a verifier, so that this
// package's tests depend on attest alone, as the package does.

var verifiedAt = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// snpClaims is a cut-down SEV-SNP claim set. ReportedTCB is above 2^53 so
// that a float64 on the way would show.
type snpClaims struct {
	Version     int    `json:"version"`
	Measurement string `json:"measurement"`
	ReportData  string `json:"report_data"`
	ChipID      string `json:"chip_id"`
	ReportedTCB uint64 `json:"reported_tcb_raw"`
	Policy      struct {
		Debug     bool `json:"debug"`
		MigrateMA bool `json:"migrate_ma"`
	} `json:"policy"`
}

const snpReportedTCB = 0xdb18000000000004

// snpAffirming is a Turin VCEK report verified offline: chain, signature
// and policy pass, the CRL was not at hand.
func snpAffirming() *attest.Result {
	r := &attest.Result{
		TEE:        "snp",
		VerifiedAt: verifiedAt,
		Evidence: attest.EvidenceInfo{
			Format: "snp-report",
			Files:  []string{"report.bin", "vcek.der"},
			SHA256: "3f44a09b769aae243b2c603c2a6f53d4b1cf5feb36b380ea29adcf47da847e20",
		},
		Claims: snpClaims{
			Version:     5,
			Measurement: "f924dd18f168df60fbea937f0b086284d51b1b376de872bac43694f61134d57967c318018de7335503023dbb50dee624",
			ReportData:  "e0fd0bdb6aa4030a6ddea9073e1fcec5be6c782a2c8075a0825dfb3d9a81b924",
			ChipID:      "3b42092f69c656d3",
			ReportedTCB: snpReportedTCB,
		},
		Checks: []attest.Check{
			attest.Pass("parse", "snp-report: attestation report version 5, 1184 bytes, reserved fields zero"),
			attest.Pass("signer", "report is signed by the vcek (KEY_INFO.SIGNING_KEY=0)"),
			attest.Pass("product", "Turin"),
			attest.Pass("chain.ark", "ARK-Turin is a trusted root"),
			attest.Pass("chain.ask", "SEV-Turin signed by ARK-Turin"),
			attest.Pass("chain.vek", "SEV-VCEK signed by SEV-Turin"),
			attest.Skip("crl", "not checked: no CRL was supplied and fetching is off (offline)"),
			attest.Pass("vek.hwid", "VCEK hwID is the report's CHIP_ID"),
			attest.Pass("vek.tcb", "VCEK certifies the report's REPORTED_TCB"),
			attest.Pass("signature", "ECDSA P-384 signature verifies with the VCEK"),
			attest.Pass("nonce", "REPORT_DATA equals the nonce"),
			attest.Pass("policy.debug", "POLICY.DEBUG is clear"),
			attest.Pass("policy.migrate_ma", "POLICY.MIGRATE_MA is clear"),
		},
		Coverage: attest.Coverage{Proves: []string{"launch measurement"}, DoesNotProve: []string{"what ran after launch"}},
	}
	r.Finish()
	return r
}

// tdxContraindicated is a TD quote from a genuine but revoked platform,
// launched with debug on.
func tdxContraindicated() *attest.Result {
	r := &attest.Result{
		TEE:        "tdx",
		VerifiedAt: verifiedAt,
		Evidence:   attest.EvidenceInfo{Format: "tdx-quote-v4", SHA256: "9a1d0c2e4b6f8a0c2e4b6f8a0c2e4b6f8a0c2e4b6f8a0c2e4b6f8a0c2e4b6f8a"},
		Claims: map[string]any{
			"mr_td":         "a1b2c3",
			"td_attributes": map[string]any{"debug": true},
		},
		Checks: []attest.Check{
			attest.Pass("parse", "TD quote version 4"),
			attest.Pass("header", "attestation key type ECDSA-256-with-P-256"),
			attest.Pass("chain.root", "Intel SGX Root CA is trusted"),
			attest.Pass("chain.pck", "PCK certificate chains to the root"),
			attest.Pass("qe.signature", "the PCK signs the QE report"),
			attest.Pass("qe.binding", "the QE report binds the attestation key"),
			attest.Pass("signature", "the attestation key signs the quote"),
			attest.Pass("qe.identity", "quoting enclave matches the TD_QE identity"),
			attest.Pass("tcb.level", "TCB level matched"),
			attest.Fail("tcb.status", errors.New("tcb mismatch: TCB status Revoked is contraindicated")),
			attest.Fail("policy.debug", errors.New("policy: TDATTRIBUTES.DEBUG is set")),
		},
	}
	r.Finish()
	return r
}

// newIssuer returns an issuer with a fresh key.
func newIssuer(t testing.TB, published ...[]byte) (*token.Issuer, *token.Key) {
	t.Helper()
	k, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	is, err := token.NewIssuer("https://assay.example", k, published)
	if err != nil {
		t.Fatal(err)
	}
	return is, k
}

func mustJWKS(t testing.TB, is *token.Issuer) []byte {
	t.Helper()
	b, err := is.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustIssue(t testing.TB, is *token.Issuer, o token.IssueOptions, results ...*attest.Result) string {
	t.Helper()
	tok, err := is.Issue(results, o)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// teeJWK is the EC P-256 public key of RFC 7517, appendix A.1, as a TEE
// would send it.
const teeJWK = `{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","use":"enc","kid":"1"}`

// teeRSAJWK is an RSA public key as Trustee's attester sends it.
const teeRSAJWK = `{"kty":"RSA","alg":"RSA1_5","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB"}`
