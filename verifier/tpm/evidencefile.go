package tpm

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/google/go-tpm/tpm2"
)

// FormatEvidenceFile is Assay's own TPM evidence file (docs/tpm.md,
// "Evidence file"): one JSON document holding what `assay attest tpm`
// gathers, so one file carries a whole attestation.
const FormatEvidenceFile = "assay-tpm-evidence"

// evidenceFileVersion is the only version this package reads and writes.
const evidenceFileVersion = 1

// maxEvidenceFile bounds the JSON document (event and IMA logs included):
// a busy IMA log is a few MiB.
const maxEvidenceFile = 64 << 20

// EvidenceFile is the JSON form of FormatEvidenceFile. Byte fields are
// standard base64 (encoding/json's []byte); PCR values are hex.
type EvidenceFile struct {
	Format  string `json:"format"`  // "assay-tpm-evidence"
	Version int    `json:"version"` // 1
	// EKCertificates are the EK certificates read from the TPM's NV
	// indices, DER; empty when the TPM has none.
	EKCertificates [][]byte `json:"ek_certificates,omitempty"`
	// EKPublic is the EK's TPM2B_PUBLIC; empty when not gathered.
	EKPublic []byte `json:"ek_public,omitempty"`
	// AKPublic is the AK's TPM2B_PUBLIC: required.
	AKPublic []byte `json:"ak_public"`
	// AKCertificate is a certificate of the AK, DER; empty when none.
	AKCertificate []byte `json:"ak_certificate,omitempty"`
	// Quotes are TPM2_Quote outputs: at least one.
	Quotes []EvidenceQuote `json:"quotes"`
	// PCRs are the PCR values read beside the quote: bank ("sha1",
	// "sha256", "sha384") -> decimal index -> hex value.
	PCRs map[string]map[string]string `json:"pcrs"`
	// EventLog is the firmware's TCG event log (binary_bios_measurements);
	// empty when not gathered.
	EventLog []byte `json:"event_log,omitempty"`
	// IMALog is the IMA measurement list (binary_runtime_measurements);
	// empty when not gathered.
	IMALog []byte `json:"ima_log,omitempty"`
	// IDevID is a device identity key certified by the AK (then the
	// IAK); nil when none was gathered.
	IDevID *EvidenceIDevID `json:"idevid,omitempty"`
	// Handles say where the attester found or persisted the keys; they
	// are informational and not verified.
	Handles *EvidenceHandles `json:"handles,omitempty"`
}

// EvidenceIDevID is an IDevID key's TPM2B_PUBLIC, its certificate (DER,
// optional) and TPM2_Certify of it by the AK.
type EvidenceIDevID struct {
	Public      []byte        `json:"public"`
	Certificate []byte        `json:"certificate,omitempty"`
	Certify     EvidenceQuote `json:"certify"`
}

// EvidenceQuote is one TPM2_Quote: the TPMS_ATTEST as signed and its
// TPMT_SIGNATURE.
type EvidenceQuote struct {
	Attest    []byte `json:"attest"`
	Signature []byte `json:"signature"`
}

// EvidenceHandles are the persistent handles and NV indices the attester
// used, as "0x81010001"-style hex strings.
type EvidenceHandles struct {
	EK            string `json:"ek,omitempty"`
	AK            string `json:"ak,omitempty"`
	IDevID        string `json:"idevid,omitempty"`
	EKCertificate string `json:"ek_certificate_nv,omitempty"`
}

// isEvidenceFile is the sniff: a JSON object whose "format" is
// FormatEvidenceFile. It decodes only that member.
func isEvidenceFile(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' || len(b) > maxEvidenceFile || !bytes.Contains(b, []byte(`"`+FormatEvidenceFile+`"`)) {
		return false
	}
	var head struct {
		Format string `json:"format"`
	}
	return json.Unmarshal(b, &head) == nil && head.Format == FormatEvidenceFile
}

// ParseEvidenceFile decodes FormatEvidenceFile strictly: unknown members,
// another version, undecodable structures and PCR values that do not fit
// their bank are errors (ErrMalformed). It does no crypto.
func ParseEvidenceFile(b []byte) (*EvidenceFile, *Evidence, error) {
	if len(b) > maxEvidenceFile {
		return nil, nil, fmt.Errorf("%w: TPM evidence file is %d bytes, at most %d", ErrMalformed, len(b), maxEvidenceFile)
	}
	var f EvidenceFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, nil, fmt.Errorf("%w: TPM evidence file: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, nil, fmt.Errorf("%w: TPM evidence file: data after the JSON object", ErrMalformed)
	}
	if f.Format != FormatEvidenceFile || f.Version != evidenceFileVersion {
		return nil, nil, fmt.Errorf("%w: TPM evidence file format %q version %d, want %q version %d", ErrMalformed, f.Format, f.Version, FormatEvidenceFile, evidenceFileVersion)
	}
	ev, err := f.evidence()
	if err != nil {
		return nil, nil, err
	}
	return &f, ev, nil
}

// evidence turns the file into the Evidence Verify takes.
func (f *EvidenceFile) evidence() (*Evidence, error) {
	if len(f.AKPublic) == 0 || len(f.Quotes) == 0 {
		return nil, fmt.Errorf("%w: TPM evidence file without ak_public or quotes", ErrMalformed)
	}
	if len(f.Quotes) > maxQuotes {
		return nil, fmt.Errorf("%w: TPM evidence file has %d quotes, want at most %d", ErrMalformed, len(f.Quotes), maxQuotes)
	}
	ev := &Evidence{Format: FormatEvidenceFile, EventLog: nilIfEmpty(f.EventLog), IMALog: nilIfEmpty(f.IMALog)}
	var err error
	if ev.AK, err = ParseAKPublic(f.AKPublic); err != nil {
		return nil, fmt.Errorf("ak_public: %w", err)
	}
	if ev.AK.Public == nil {
		return nil, fmt.Errorf("%w: ak_public is not a TPM2B_PUBLIC", ErrMalformed)
	}
	if len(f.EKPublic) > 0 {
		if ev.EK, err = ParseEK(f.EKPublic); err != nil {
			return nil, fmt.Errorf("ek_public: %w", err)
		}
		if ev.EK.Cert != nil {
			return nil, fmt.Errorf("%w: ek_public is a certificate, want a TPM2B_PUBLIC", ErrMalformed)
		}
	}
	for i, c := range f.EKCertificates {
		cert, err := x509.ParseCertificate(c)
		if err != nil {
			return nil, fmt.Errorf("%w: ek_certificates[%d]: %v", ErrMalformed, i, err)
		}
		ev.EKCerts = append(ev.EKCerts, cert)
	}
	if len(f.AKCertificate) > 0 {
		if ev.AKCert, err = x509.ParseCertificate(f.AKCertificate); err != nil {
			return nil, fmt.Errorf("%w: ak_certificate: %v", ErrMalformed, err)
		}
	}
	if d := f.IDevID; d != nil {
		if ev.IDevID, err = ParseIDevID(d.Public, d.Certificate, d.Certify.Attest, d.Certify.Signature); err != nil {
			return nil, fmt.Errorf("idevid: %w", err)
		}
	}
	pcrs, err := parseEvidencePCRs(f.PCRs)
	if err != nil {
		return nil, err
	}
	for i, eq := range f.Quotes {
		q, err := ParseAttest(eq.Attest)
		if err != nil {
			return nil, fmt.Errorf("quotes[%d].attest: %w", i, err)
		}
		if q.Sig, err = ParseSignature(eq.Signature); err != nil {
			return nil, fmt.Errorf("quotes[%d].signature: %w", i, err)
		}
		q.RawSig = bytes.Clone(eq.Signature)
		q.takePCRs(pcrs)
		ev.Quotes = append(ev.Quotes, q)
	}
	return ev, nil
}

// takePCRs gives the quote the values of the banks it selects.
func (q *Quote) takePCRs(pcrs PCRs) {
	for _, s := range q.Info.PCRSelect.PCRSelections {
		if v, ok := pcrs[s.Hash]; ok {
			if q.PCRs == nil {
				q.PCRs = PCRs{}
			}
			q.PCRs[s.Hash] = v
		}
	}
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// bankByName is bankName's inverse for the banks this package verifies.
func bankByName(s string) (tpm2.TPMAlgID, bool) {
	for _, a := range []tpm2.TPMAlgID{tpm2.TPMAlgSHA1, tpm2.TPMAlgSHA256, tpm2.TPMAlgSHA384} {
		if bankName(a) == s {
			return a, true
		}
	}
	return 0, false
}

func parseEvidencePCRs(in map[string]map[string]string) (PCRs, error) {
	out := PCRs{}
	for bank, vals := range in {
		alg, ok := bankByName(bank)
		if !ok {
			return nil, fmt.Errorf("%w: pcrs: bank %q, want sha1, sha256 or sha384", ErrMalformed, bank)
		}
		h, _ := bankHash(alg)
		out[alg] = map[int][]byte{}
		for idx, hx := range vals {
			i, err := strconv.Atoi(idx)
			if err != nil || i < 0 || i > 23 || strconv.Itoa(i) != idx {
				return nil, fmt.Errorf("%w: pcrs.%s: index %q, want 0-23 in decimal", ErrMalformed, bank, idx)
			}
			v, err := hex.DecodeString(hx)
			if err != nil || len(v) != h.Size() {
				return nil, fmt.Errorf("%w: pcrs.%s.%s: want %d bytes in hex", ErrMalformed, bank, idx, h.Size())
			}
			out[alg][i] = v
		}
	}
	return out, nil
}

// EvidencePCRs is the pcrs member for PCR values.
func EvidencePCRs(p PCRs) map[string]map[string]string {
	out := map[string]map[string]string{}
	for alg, vals := range p {
		m := map[string]string{}
		for i, v := range vals {
			m[strconv.Itoa(i)] = hex.EncodeToString(v)
		}
		out[bankName(alg)] = m
	}
	return out
}

// MarshalEvidenceFile encodes f, setting its format and version.
func MarshalEvidenceFile(f *EvidenceFile) ([]byte, error) {
	c := *f
	c.Format, c.Version = FormatEvidenceFile, evidenceFileVersion
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
