package dcap

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// TrusteeEvidence is Confidential Containers Trustee's "tdx" and "sgx"
// evidence: a JSON object with the base64 quote and, for TDX, the base64
// CC event log (and the attestation agent's event log, which is not
// appraised here).
type TrusteeEvidence struct {
	Quote      []byte
	CCEventLog []byte
}

// SniffTrusteeJSON reports whether b is Trustee quote evidence, and
// whether its quote is a TD quote. It decodes base64 but does no crypto.
func SniffTrusteeJSON(b []byte) (tdx, ok bool) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' || !bytes.Contains(t, []byte(`"quote"`)) {
		return false, false
	}
	ev, err := ParseTrusteeJSON(b)
	if err != nil {
		return false, false
	}
	return Sniff(ev.Quote)
}

// ParseTrusteeJSON decodes Trustee's evidence JSON.
func ParseTrusteeJSON(b []byte) (*TrusteeEvidence, error) {
	var doc struct {
		Quote      *string `json:"quote"`
		CCEventLog *string `json:"cc_eventlog"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: Trustee evidence JSON: %v", ErrMalformed, err)
	}
	if doc.Quote == nil {
		return nil, fmt.Errorf("%w: Trustee evidence JSON has no \"quote\"", ErrMalformed)
	}
	q, err := decodeBase64(*doc.Quote)
	if err != nil {
		return nil, fmt.Errorf("%w: Trustee evidence \"quote\" is not base64: %v", ErrMalformed, err)
	}
	ev := &TrusteeEvidence{Quote: q}
	if doc.CCEventLog != nil && *doc.CCEventLog != "" {
		l, err := decodeBase64(*doc.CCEventLog)
		if err != nil {
			return nil, fmt.Errorf("%w: Trustee evidence \"cc_eventlog\" is not base64: %v", ErrMalformed, err)
		}
		ev.CCEventLog = l
	}
	return ev, nil
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	_, err := base64.StdEncoding.DecodeString(s)
	return nil, err
}
