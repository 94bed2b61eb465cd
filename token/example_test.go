package token_test

import (
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/token"
)

// An issuer signs the appraisal of one piece of evidence; a relying party
// that holds the issuer's JWKS (fetched once from /.well-known/jwks.json)
// verifies the token offline, with its own nonce.
func Example() {
	key, err := token.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	issuer, err := token.NewIssuer("https://assay.example", key, nil)
	if err != nil {
		log.Fatal(err)
	}

	result := &attest.Result{
		TEE:      "snp",
		Evidence: attest.EvidenceInfo{Format: "snp-report", SHA256: "3f44a09b769aae243b2c603c2a6f53d4b1cf5feb36b380ea29adcf47da847e20"},
		Claims:   map[string]any{"measurement": "f924dd18f168df60"},
		Checks: []attest.Check{
			attest.Pass("chain.vek", "SEV-VCEK signed by SEV-Turin"),
			attest.Pass("signature", "ECDSA P-384 signature verifies with the VCEK"),
			attest.Pass("policy.debug", "POLICY.DEBUG is clear"),
		},
	}
	result.Finish()

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	nonce := "c2Vzc2lvbi0xMjM0NTY"
	tok, err := issuer.Issue([]*attest.Result{result}, token.IssueOptions{Now: now, Nonce: nonce, VerifierBuild: "v1.0.0"})
	if err != nil {
		log.Fatal(err)
	}
	jwks, err := issuer.JWKS()
	if err != nil {
		log.Fatal(err)
	}

	// The relying party.
	v, err := token.Verify(tok, jwks, token.VerifyOptions{Now: now.Add(time.Minute), Issuer: "https://assay.example", Nonce: nonce})
	if err != nil {
		log.Fatal(err)
	}
	snp := v.Result.Submods["snp"]
	fmt.Println("status:", v.Status)
	fmt.Println("expires:", v.Expires.Format(time.RFC3339))
	fmt.Println("hardware:", snp.TrustVector.Hardware.GetTier(), int(snp.TrustVector.Hardware))
	fmt.Println("instance-identity:", snp.TrustVector.InstanceIdentity.GetTier())
	fmt.Println("policy:", *snp.AppraisalPolicyID)

	// Ten minutes later the token has expired.
	_, err = token.Verify(tok, jwks, token.VerifyOptions{Now: now.Add(10 * time.Minute)})
	fmt.Println("later:", errors.Is(err, token.ErrExpired))
	// Output:
	// status: affirming
	// expires: 2026-03-01T12:05:00Z
	// hardware: affirming 2
	// instance-identity: affirming
	// policy: assay/default
	// later: true
}
