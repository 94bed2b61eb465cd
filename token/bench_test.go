package token_test

import (
	"testing"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/token"
)

// BenchmarkIssue: one token over one SEV-SNP appraisal (EAR assembly,
// JSON, one ECDSA P-256 signature).
func BenchmarkIssue(b *testing.B) {
	is, _ := newIssuer(b)
	results := []*attest.Result{snpAffirming()}
	o := token.IssueOptions{Now: verifiedAt, Nonce: "MTIzNDU2Nzg5MGFiY2RlZg", TEEPubKey: []byte(teeJWK)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := is.Issue(results, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify: a relying party's offline check of that token against
// a JWKS of two keys (JWKS parsing included, as Verify takes bytes).
func BenchmarkVerify(b *testing.B) {
	is, _ := newIssuer(b, mustPublicJWK(b, mustKey(b)))
	jwks := mustJWKS(b, is)
	tok := mustIssue(b, is, token.IssueOptions{Now: verifiedAt, Nonce: "MTIzNDU2Nzg5MGFiY2RlZg", TEEPubKey: []byte(teeJWK)}, snpAffirming())
	o := token.VerifyOptions{Now: verifiedAt, Issuer: "https://assay.example", Nonce: "MTIzNDU2Nzg5MGFiY2RlZg"}
	b.SetBytes(int64(len(tok)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := token.Verify(tok, jwks, o); err != nil {
			b.Fatal(err)
		}
	}
}
