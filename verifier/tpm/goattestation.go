package tpm

import (
	"bytes"
	"crypto"
	"encoding/json"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// FormatGoAttestation is the JSON that go-attestation's tests and tools
// write of a platform's attestation: Static (TPM version, EK PEM), AK
// (the AK's public area and its creation data), Quote (TPMS_ATTEST and
// TPMT_SIGNATURE, base64) and Log (PCR values, each with its Go
// crypto.Hash, and the raw TCG event log). Example: go-attestation
// attest/testdata/windows_gcp_shielded_vm.json.
const FormatGoAttestation = "go-attestation-json"

// goAttestation is FormatGoAttestation's JSON. Byte fields are standard
// base64 (encoding/json's []byte).
type goAttestation struct {
	Static struct {
		TPMVersion int    `json:"TPMVersion"`
		EKPem      []byte `json:"EKPem"`
	} `json:"Static"`
	AK struct {
		Public []byte `json:"Public"`
		// The AK's creation data and TPM2_CertifyCreation, which bind
		// it to the TPM that created it; Assay trusts an AK by its
		// certificate or by credential activation instead, and does not
		// read them.
		UseTCSDActivationFormat bool   `json:"UseTCSDActivationFormat"`
		CreateData              []byte `json:"CreateData"`
		CreateAttestation       []byte `json:"CreateAttestation"`
		CreateSignature         []byte `json:"CreateSignature"`
	} `json:"AK"`
	Quote struct {
		// Nonce is what the attester says it quoted; the nonce check
		// compares extraData with the verifier's own nonce (--nonce).
		Nonce     []byte `json:"Nonce"`
		Alg       int    `json:"Alg"`
		Quote     []byte `json:"Quote"`
		Signature []byte `json:"Signature"`
	} `json:"Quote"`
	Log struct {
		PCRs []struct {
			Index     int    `json:"Index"`
			Digest    []byte `json:"Digest"`
			DigestAlg int    `json:"DigestAlg"` // a Go crypto.Hash
		} `json:"PCRs"`
		PCRAlg json.RawMessage `json:"PCRAlg"`
		Raw    []byte          `json:"Raw"`
	} `json:"Log"`
}

// isGoAttestation is the sniff: a JSON object with go-attestation's four
// members. It decodes only their presence.
func isGoAttestation(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' || len(b) > maxEvidenceFile || !bytes.Contains(b, []byte(`"TPMVersion"`)) {
		return false
	}
	var head map[string]json.RawMessage
	if json.Unmarshal(b, &head) != nil {
		return false
	}
	for _, k := range []string{"Static", "AK", "Quote", "Log"} {
		if _, ok := head[k]; !ok {
			return false
		}
	}
	return len(head) == 4
}

// goHashBanks maps the Go crypto.Hash values go-attestation writes to
// PCR banks.
var goHashBanks = map[crypto.Hash]tpm2.TPMAlgID{
	crypto.SHA1: tpm2.TPMAlgSHA1, crypto.SHA256: tpm2.TPMAlgSHA256, crypto.SHA384: tpm2.TPMAlgSHA384,
}

// parseGoAttestation decodes FormatGoAttestation strictly: unknown
// members, a TPM 1.2 attestation, undecodable structures and PCR values
// that do not fit their bank are errors (ErrMalformed). It does no
// crypto.
func parseGoAttestation(b []byte) (*Evidence, error) {
	if len(b) > maxEvidenceFile {
		return nil, fmt.Errorf("%w: go-attestation JSON is %d bytes, at most %d", ErrMalformed, len(b), maxEvidenceFile)
	}
	var g goAttestation
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("%w: go-attestation JSON: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: go-attestation JSON: data after the JSON object", ErrMalformed)
	}
	if g.Static.TPMVersion != 2 {
		return nil, fmt.Errorf("%w: go-attestation JSON of a TPM version %d; only TPM 2.0 quotes are verified", ErrMalformed, g.Static.TPMVersion)
	}
	if len(g.AK.Public) == 0 || len(g.Quote.Quote) == 0 || len(g.Quote.Signature) == 0 {
		return nil, fmt.Errorf("%w: go-attestation JSON without AK.Public, Quote.Quote or Quote.Signature", ErrMalformed)
	}
	ev := &Evidence{Format: FormatGoAttestation, EventLog: nilIfEmpty(g.Log.Raw)}
	var err error
	if ev.AK, err = ParseAKPublic(g.AK.Public); err != nil {
		return nil, fmt.Errorf("AK.Public: %w", err)
	}
	q, err := ParseAttest(g.Quote.Quote)
	if err != nil {
		return nil, fmt.Errorf("Quote.Quote: %w", err)
	}
	if q.Sig, err = ParseSignature(g.Quote.Signature); err != nil {
		return nil, fmt.Errorf("Quote.Signature: %w", err)
	}
	q.RawSig = bytes.Clone(g.Quote.Signature)
	pcrs := PCRs{}
	for i, p := range g.Log.PCRs {
		bank, ok := goHashBanks[crypto.Hash(p.DigestAlg)]
		if !ok {
			return nil, fmt.Errorf("%w: Log.PCRs[%d]: DigestAlg %d is not SHA-1, SHA-256 or SHA-384", ErrMalformed, i, p.DigestAlg)
		}
		h := crypto.Hash(p.DigestAlg)
		if p.Index < 0 || p.Index > 23 || len(p.Digest) != h.Size() {
			return nil, fmt.Errorf("%w: Log.PCRs[%d]: PCR %d with a %d-byte %s digest, want PCR 0-23 and %d bytes", ErrMalformed, i, p.Index, len(p.Digest), bankName(bank), h.Size())
		}
		if pcrs[bank] == nil {
			pcrs[bank] = map[int][]byte{}
		}
		if _, dup := pcrs[bank][p.Index]; dup {
			return nil, fmt.Errorf("%w: Log.PCRs[%d]: PCR %d of %s given twice", ErrMalformed, i, p.Index, bankName(bank))
		}
		pcrs[bank][p.Index] = bytes.Clone(p.Digest)
	}
	q.takePCRs(pcrs)
	ev.Quotes = []*Quote{q}
	return ev, nil
}
