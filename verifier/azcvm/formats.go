package azcvm

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
)

// Evidence formats.
const (
	// FormatHCL: the raw HCL report as read from vTPM NV index 0x01400001;
	// the VCEK (SNP) or the TD quote (TDX) comes as collateral.
	FormatHCL = "az-hcl-report"
	// FormatTrusteeSNP: Trustee's az-snp-vtpm evidence JSON: version 0
	// {quote, report, vcek} or version 1 and later {version, tpm_quote,
	// hcl_report, vcek}.
	FormatTrusteeSNP = "az-snp-vtpm"
	// FormatTrusteeTDX: Trustee's az-tdx-vtpm evidence JSON: {version,
	// tpm_quote, hcl_report, td_quote}.
	FormatTrusteeTDX = "az-tdx-vtpm"
)

// Evidence is a parsed evidence container.
type Evidence struct {
	Format string
	// Version is Trustee's evidence version (0 when absent).
	Version int
	HCL     *HCLReport
	// Quote is the vTPM quote; nil when the container has none (a raw HCL
	// report).
	Quote *TPMQuote
	// VCEK holds the certificates the container carries (Azure's VCEK).
	VCEK []*x509.Certificate
	// TDQuote is the DCAP quote of the HCL's TD report (TDX only).
	TDQuote []byte
}

// TPMQuote is Trustee's vTPM quote: the TPMS_ATTEST, the raw RSASSA
// signature over it, and PCRs 0-23 of the SHA-256 bank.
type TPMQuote struct {
	Message   []byte
	Signature []byte
	PCRs      [][]byte
}

// trusteeJSON covers every version of both Trustee formats.
type trusteeJSON struct {
	Version   *int        `json:"version,omitempty"`
	Quote     *trusteeTPM `json:"quote,omitempty"`     // v0 SNP
	TPMQuote  *trusteeTPM `json:"tpm_quote,omitempty"` // v1, TDX v0
	Report    blob        `json:"report,omitempty"`    // v0 SNP
	HCLReport blob        `json:"hcl_report,omitempty"`
	VCEK      blob        `json:"vcek,omitempty"`
	TDQuote   blob        `json:"td_quote,omitempty"`
}

type trusteeTPM struct {
	Signature blob   `json:"signature"`
	Message   blob   `json:"message"`
	PCRs      []blob `json:"pcrs"`
}

// blob is bytes as Trustee writes them: a JSON array of numbers (serde's
// Vec<u8>), hex (v1 quotes), base64 or base64url (v1 reports), or PEM.
type blob []byte

func (b *blob) UnmarshalJSON(d []byte) error {
	d = bytes.TrimSpace(d)
	if len(d) > 0 && d[0] == '[' {
		var a []byte
		var nums []uint8
		if err := json.Unmarshal(d, &nums); err != nil {
			return err
		}
		a = append(a, nums...)
		*b = a
		return nil
	}
	var s string
	if err := json.Unmarshal(d, &s); err != nil {
		return err
	}
	v, err := decodeString(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

func decodeString(s string) ([]byte, error) {
	if bytes.Contains([]byte(s), []byte("-----BEGIN ")) {
		return []byte(s), nil // PEM, decoded by the caller
	}
	if len(s)%2 == 0 {
		if v, err := hex.DecodeString(s); err == nil {
			return v, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if v, err := enc.DecodeString(s); err == nil {
			return v, nil
		}
	}
	return nil, fmt.Errorf("%w: a string of %d characters that is neither hex, base64 nor PEM", ErrMalformed, len(s))
}

// sniffTrustee reports whether b is a Trustee Azure evidence document and
// which: a JSON object with an HCL report and a vTPM quote. No crypto.
func sniffTrustee(b []byte) (string, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return "", false
	}
	var keys map[string]json.RawMessage
	if json.Unmarshal(b, &keys) != nil {
		return "", false
	}
	_, hcl := keys["hcl_report"]
	_, report := keys["report"]
	_, q0 := keys["quote"]
	_, q1 := keys["tpm_quote"]
	_, td := keys["td_quote"]
	_, vcek := keys["vcek"]
	switch {
	case td && hcl && q1:
		return FormatTrusteeTDX, true
	case hcl && q1 && vcek, report && q0 && vcek:
		return FormatTrusteeSNP, true
	}
	return "", false
}

// SniffEvidence recognises Azure CVM evidence by content: a raw HCL
// report, or Trustee's az-snp-vtpm / az-tdx-vtpm JSON. No crypto.
func SniffEvidence(b []byte) (string, bool) {
	if looksLikeHCL(b) {
		return FormatHCL, true
	}
	return sniffTrustee(b)
}

// Parse decodes Azure CVM evidence in any format SniffEvidence
// recognises. It checks structure only: no crypto, no I/O.
func Parse(b []byte) (*Evidence, error) {
	if looksLikeHCL(b) {
		h, err := ParseHCL(b)
		if err != nil {
			return nil, err
		}
		return &Evidence{Format: FormatHCL, HCL: h}, nil
	}
	format, ok := sniffTrustee(b)
	if !ok {
		return nil, fmt.Errorf("%w: neither an HCL report nor Trustee az-snp-vtpm/az-tdx-vtpm JSON", ErrMalformed)
	}
	var j trusteeJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%w: %s JSON: %v", ErrMalformed, format, err)
	}
	ev := &Evidence{Format: format}
	if j.Version != nil {
		ev.Version = *j.Version
	}
	raw, q := j.HCLReport, j.TPMQuote
	if raw == nil {
		raw = j.Report
	}
	if q == nil {
		q = j.Quote
	}
	if raw == nil || q == nil {
		return nil, fmt.Errorf("%w: %s JSON lacks the HCL report or the vTPM quote", ErrMalformed, format)
	}
	h, err := ParseHCL(raw)
	if err != nil {
		return nil, err
	}
	ev.HCL = h
	if want := map[string]uint32{FormatTrusteeSNP: ReportTypeSNP, FormatTrusteeTDX: ReportTypeTDX}[format]; h.ReportType != want {
		return nil, fmt.Errorf("%w: %s evidence carries an HCL report of report_type %d, want %d", ErrMalformed, format, h.ReportType, want)
	}
	if len(q.Message) == 0 || len(q.Signature) == 0 {
		return nil, fmt.Errorf("%w: vTPM quote lacks its message or signature", ErrMalformed)
	}
	if len(q.PCRs) > 24 {
		return nil, fmt.Errorf("%w: vTPM quote carries %d PCRs, want at most 24", ErrMalformed, len(q.PCRs))
	}
	tq := &TPMQuote{Message: q.Message, Signature: q.Signature}
	for _, p := range q.PCRs {
		tq.PCRs = append(tq.PCRs, p)
	}
	ev.Quote = tq
	if len(j.VCEK) > 0 {
		certs, err := parseCerts(j.VCEK)
		if err != nil {
			return nil, err
		}
		ev.VCEK = certs
	}
	ev.TDQuote = j.TDQuote
	if format == FormatTrusteeTDX && len(ev.TDQuote) == 0 {
		return nil, fmt.Errorf("%w: az-tdx-vtpm evidence has an empty td_quote", ErrMalformed)
	}
	return ev, nil
}

func parseCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	if bytes.Contains(b, []byte("-----BEGIN ")) {
		rest := b
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: vcek: %v", ErrMalformed, err)
			}
			out = append(out, c)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%w: vcek: no certificate in PEM", ErrMalformed)
		}
		return out, nil
	}
	c, err := x509.ParseCertificates(b)
	if err != nil || len(c) == 0 {
		return nil, fmt.Errorf("%w: vcek: %v", ErrMalformed, err)
	}
	return c, nil
}

// Marshal writes evidence as Trustee version 1 JSON (raw HCL reports stay
// raw): hex quotes, base64 reports, DER certificates in base64.
func Marshal(ev *Evidence) []byte {
	if ev.Format == FormatHCL || ev.Quote == nil {
		return bytes.Clone(ev.HCL.Raw)
	}
	type quote struct {
		Signature string   `json:"signature"`
		Message   string   `json:"message"`
		PCRs      []string `json:"pcrs"`
	}
	out := struct {
		Version   int    `json:"version"`
		TPMQuote  quote  `json:"tpm_quote"`
		HCLReport string `json:"hcl_report"`
		VCEK      string `json:"vcek"`
		TDQuote   string `json:"td_quote,omitempty"`
	}{Version: 1, HCLReport: base64.StdEncoding.EncodeToString(ev.HCL.Raw)}
	out.TPMQuote.Signature = hex.EncodeToString(ev.Quote.Signature)
	out.TPMQuote.Message = hex.EncodeToString(ev.Quote.Message)
	out.TPMQuote.PCRs = []string{}
	for _, p := range ev.Quote.PCRs {
		out.TPMQuote.PCRs = append(out.TPMQuote.PCRs, hex.EncodeToString(p))
	}
	if len(ev.VCEK) > 0 {
		var der []byte
		for _, c := range ev.VCEK {
			der = append(der, c.Raw...)
		}
		out.VCEK = base64.StdEncoding.EncodeToString(der)
	}
	if len(ev.TDQuote) > 0 {
		out.TDQuote = base64.StdEncoding.EncodeToString(ev.TDQuote)
	}
	b, _ := json.Marshal(out)
	return b
}
