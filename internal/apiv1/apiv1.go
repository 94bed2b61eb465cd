// Package apiv1 holds the wire types of Assay's own challenge API
// (/v1/challenge, /v1/attest), shared by the server and the attester
// client. docs/service.md describes the flow.
package apiv1

import (
	"encoding/json"
	"time"

	"github.com/assay-dev/assay/attest"
)

// BindingFormula is the value the evidence's report data (SNP REPORT_DATA,
// TDX/SGX report data, TPM extraData, Nitro nonce) must carry.
const BindingFormula = `HASH(JCS({"nonce": nonce, "tee-pubkey": tee_pubkey})), or HASH(JCS({"nonce": nonce})) without a key; zero-padded to the report data field`

// ChallengeRequest asks for a challenge.
type ChallengeRequest struct {
	// TEE optionally names the evidence kind that will follow ("snp");
	// when set, other evidence is rejected.
	TEE string `json:"tee,omitempty"`
	// Hash optionally names the binding hash (sha256, sha384, sha512).
	Hash string `json:"hash,omitempty"`
}

// ChallengeResponse is a challenge.
type ChallengeResponse struct {
	SessionID string `json:"session_id"`
	// Nonce is base64; the attester binds it as Binding says.
	Nonce     string    `json:"nonce"`
	Hash      string    `json:"hash"`
	ExpiresAt time.Time `json:"expires_at"`
	// Binding is the formula of the report data / extraData the evidence
	// must carry.
	Binding string `json:"binding"`
}

// EvidenceFile is one input file, base64.
type EvidenceFile struct {
	Name string `json:"name"`
	Data string `json:"data"`
}

// AttestRequest answers a challenge.
type AttestRequest struct {
	SessionID string `json:"session_id"`
	// TEEPubKey is the attester's ephemeral public key (JWK) that secrets
	// are wrapped to; optional when no secret will be asked for.
	TEEPubKey json.RawMessage `json:"tee_pubkey,omitempty"`
	// Evidence holds the evidence and any collateral, as the CLI takes
	// them.
	Evidence []EvidenceFile `json:"evidence"`
}

// AttestResponse is the verdict: with a token when every result is
// affirming or warning, with the failed checks otherwise.
type AttestResponse struct {
	Status    string           `json:"status"`
	Token     string           `json:"token,omitempty"`
	ExpiresAt *time.Time       `json:"expires_at,omitempty"`
	Error     string           `json:"error,omitempty"`
	Results   []*attest.Result `json:"results"`
}
