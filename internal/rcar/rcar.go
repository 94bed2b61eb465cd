// Package rcar holds the wire types of the Confidential Containers KBS
// attestation protocol (Request-Challenge-Attestation-Response, protocol
// version 0.4.0, as Trustee's KBS and guest-components' kbs_protocol speak
// it) and the one computation both ends must agree on byte for byte: the
// digest of the runtime data that the evidence binds.
//
// The server (package server) and the attester client (package attester)
// both use it, so the binding is written once.
package rcar

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/assay-dev/assay/internal/jcs"
)

// ProtocolVersion is the KBS protocol version Assay speaks.
const ProtocolVersion = "0.4.0"

// SessionCookie is the cookie that carries the KBS session.
const SessionCookie = "kbs-session-id"

// Extra parameter names of the hash negotiation: the client lists what it
// supports in the Request, the server names its choice in the Challenge.
const (
	SupportedHashAlgorithms = "supported-hash-algorithms"
	SelectedHashAlgorithm   = "selected-hash-algorithm"
)

// DefaultHash is the runtime-data hash when the client states no
// preference (as guest-components does).
const DefaultHash = "sha384"

// Request opens a session (POST /kbs/v0/auth).
type Request struct {
	Version     string          `json:"version"`
	TEE         string          `json:"tee"`
	ExtraParams json.RawMessage `json:"extra-params,omitempty"`
}

// Challenge answers a Request.
type Challenge struct {
	Nonce       string         `json:"nonce"`
	ExtraParams map[string]any `json:"extra-params"`
}

// Attestation carries the evidence (POST /kbs/v0/attest).
type Attestation struct {
	InitData    json.RawMessage `json:"init-data,omitempty"`
	RuntimeData RuntimeData     `json:"runtime-data"`
	TEEEvidence TEEEvidence     `json:"tee-evidence"`
}

// RuntimeData is what the attester binds into the evidence.
type RuntimeData struct {
	Nonce     string          `json:"nonce"`
	TEEPubKey json.RawMessage `json:"tee-pubkey"`
}

// TEEEvidence is the composite evidence of protocol 0.4.0: the primary
// TEE's evidence (a TEE-specific JSON value) and, as a JSON string, a map
// from TEE name to the evidence of additional devices.
type TEEEvidence struct {
	PrimaryEvidence    json.RawMessage `json:"primary_evidence"`
	AdditionalEvidence string          `json:"additional_evidence"`
}

// AttestResponse carries the attestation result token.
type AttestResponse struct {
	Token string `json:"token"`
}

// ErrorInformation is the RFC 7807 problem body of a KBS error.
type ErrorInformation struct {
	Type   string `json:"type"`
	Detail string `json:"detail"`
}

// ErrorTypePrefix starts the "type" of every KBS problem body.
const ErrorTypePrefix = "https://github.com/confidential-containers/kbs/errors/"

// ErrBinding: the runtime data cannot be canonicalised or hashed.
var ErrBinding = errors.New("runtime data binding")

// Hashes names the supported runtime-data hashes, strongest last.
var Hashes = []string{"sha256", "sha384", "sha512"}

// Digest hashes b with the named algorithm.
func Digest(alg string, b []byte) ([]byte, error) {
	switch strings.ToLower(alg) {
	case "sha256":
		d := sha256.Sum256(b)
		return d[:], nil
	case "sha384":
		d := sha512.Sum384(b)
		return d[:], nil
	case "sha512":
		d := sha512.Sum512(b)
		return d[:], nil
	}
	return nil, fmt.Errorf("%w: unknown hash algorithm %q (want sha256, sha384 or sha512)", ErrBinding, alg)
}

// PrimaryDigest is the value the primary evidence's report data must
// carry (zero-padded to the field's size) in protocol 0.4.0:
//
//	HASH(JCS({"additional-evidence": additional, "nonce": nonce, "tee-pubkey": teePubKey}))
//
// with JCS the RFC 8785 canonical form.
func PrimaryDigest(alg, nonce string, teePubKey json.RawMessage, additional string) ([]byte, error) {
	return digestOf(alg, map[string]any{
		"nonce":               nonce,
		"tee-pubkey":          teePubKey,
		"additional-evidence": additional,
	})
}

// DeviceDigest is the value additional-device evidence binds:
//
//	HASH(JCS({"nonce": nonce, "tee-pubkey": teePubKey}))
//
// Assay's own challenge API (POST /v1/attest) binds the same value, and
// HASH(JCS({"nonce": nonce})) when the attester sends no key.
func DeviceDigest(alg, nonce string, teePubKey json.RawMessage) ([]byte, error) {
	m := map[string]any{"nonce": nonce}
	if len(teePubKey) > 0 {
		m["tee-pubkey"] = teePubKey
	}
	return digestOf(alg, m)
}

func digestOf(alg string, m map[string]any) ([]byte, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBinding, err)
	}
	c, err := jcs.Canonicalize(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBinding, err)
	}
	return Digest(alg, c)
}

// SelectHash picks the runtime-data hash from the Request's extra
// parameters: sha384 when the client lists it or lists nothing, else the
// strongest of the client's list that Assay supports.
func SelectHash(extra json.RawMessage) (string, error) {
	var p struct {
		Supported []string `json:"supported-hash-algorithms"`
	}
	if len(extra) > 0 && string(extra) != `""` && string(extra) != "null" {
		if err := json.Unmarshal(extra, &p); err != nil {
			// extra-params is "" in older clients and an object in newer
			// ones; anything else carries no hash list.
			return DefaultHash, nil //nolint:nilerr
		}
	}
	if len(p.Supported) == 0 {
		return DefaultHash, nil
	}
	best := ""
	for _, s := range p.Supported {
		s = strings.ToLower(s)
		if s == DefaultHash {
			return DefaultHash, nil
		}
		for _, h := range Hashes {
			if s == h && (best == "" || indexOf(h) > indexOf(best)) {
				best = h
			}
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w: the client supports %v; Assay supports %v", ErrBinding, p.Supported, Hashes)
	}
	return best, nil
}

func indexOf(h string) int {
	for i, x := range Hashes {
		if x == h {
			return i
		}
	}
	return -1
}

// TEEKind maps a KBS tee name to the Assay evidence kind that appraises
// it; ok is false for a TEE Assay does not verify.
func TEEKind(tee string) (kind string, ok bool) {
	switch strings.ToLower(tee) {
	case "snp":
		return "snp", true
	case "tdx":
		return "tdx", true
	case "sgx":
		return "sgx", true
	case "azsnpvtpm", "aztdxvtpm":
		return "azcvm", true
	case "cca":
		return "cca", true
	case "tpm":
		return "tpm", true
	case "nitro":
		return "nitro", true
	}
	return "", false
}
