package dcap

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
)

// bundleKeys are the members of a collateral bundle, in the order
// dcap-qvl writes them (QuoteCollateralV3, src/lib.rs; Intel's PCCS
// "get_quote_verification_collateral" carries the same items).
var bundleKeys = [...]string{
	"pck_crl_issuer_chain", "root_ca_crl", "pck_crl",
	"tcb_info_issuer_chain", "tcb_info", "tcb_info_signature",
	"qe_identity_issuer_chain", "qe_identity", "qe_identity_signature",
}

// Bundle is a parsed collateral bundle: everything a quote needs besides
// itself, in one JSON object (dcap-qvl QuoteCollateralV3):
//
//	pck_crl_issuer_chain      PEM  PCK CRL issuer chain (PCK CA, root)
//	root_ca_crl               hex  DER Intel SGX Root CA CRL
//	pck_crl                   hex  DER PCK Platform/Processor CA CRL
//	tcb_info_issuer_chain     PEM  TCB signing certificate, root
//	tcb_info                  str  the tcbInfo JSON object, the signed bytes
//	tcb_info_signature        hex  r || s
//	qe_identity_issuer_chain  PEM  TCB signing certificate, root
//	qe_identity               str  the enclaveIdentity JSON object
//	qe_identity_signature     hex  r || s
//	pck_certificate_chain     PEM  optional: PCK leaf, PCK CA, root
//
// Every member but pck_certificate_chain is required. Parsing checks no
// signature; certificates here are untrusted until chained to a root.
type Bundle struct {
	TCBInfo    *TCBInfo
	QEIdentity *QEIdentity

	TCBInfoChain    []*x509.Certificate // tcb_info_issuer_chain
	QEIdentityChain []*x509.Certificate // qe_identity_issuer_chain
	PCKCRLChain     []*x509.Certificate // pck_crl_issuer_chain
	PCKChain        []*x509.Certificate // pck_certificate_chain, may be nil

	RootCACRL *x509.RevocationList // root_ca_crl
	PCKCRL    *x509.RevocationList // pck_crl
}

type bundleJSON struct {
	PCKCRLIssuerChain     *string `json:"pck_crl_issuer_chain"`
	RootCACRL             *string `json:"root_ca_crl"`
	PCKCRL                *string `json:"pck_crl"`
	TCBInfoIssuerChain    *string `json:"tcb_info_issuer_chain"`
	TCBInfo               *string `json:"tcb_info"`
	TCBInfoSignature      *string `json:"tcb_info_signature"`
	QEIdentityIssuerChain *string `json:"qe_identity_issuer_chain"`
	QEIdentity            *string `json:"qe_identity"`
	QEIdentitySignature   *string `json:"qe_identity_signature"`
	PCKCertificateChain   *string `json:"pck_certificate_chain,omitempty"`
}

// ParseBundle parses a collateral bundle.
func ParseBundle(b []byte) (*Bundle, error) {
	m, err := topLevel(b)
	if err != nil {
		return nil, fmt.Errorf("%w: collateral bundle: %v", ErrMalformed, err)
	}
	// Members are read from the exact-case keys topLevel found; the
	// struct only gives them types.
	var j bundleJSON
	ptr := map[string]**string{
		"pck_crl_issuer_chain": &j.PCKCRLIssuerChain, "root_ca_crl": &j.RootCACRL, "pck_crl": &j.PCKCRL,
		"tcb_info_issuer_chain": &j.TCBInfoIssuerChain, "tcb_info": &j.TCBInfo, "tcb_info_signature": &j.TCBInfoSignature,
		"qe_identity_issuer_chain": &j.QEIdentityIssuerChain, "qe_identity": &j.QEIdentity, "qe_identity_signature": &j.QEIdentitySignature,
		"pck_certificate_chain": &j.PCKCertificateChain,
	}
	for k, p := range ptr {
		raw, ok := m[k]
		if !ok {
			if k == "pck_certificate_chain" {
				continue
			}
			return nil, fmt.Errorf("%w: collateral bundle has no %q", ErrMalformed, k)
		}
		if err := json.Unmarshal(raw, p); err != nil || *p == nil {
			return nil, fmt.Errorf("%w: collateral bundle %q is not a string", ErrMalformed, k)
		}
	}
	out := &Bundle{}
	sig, err := parseSignature(*j.TCBInfoSignature, "bundle tcb_info")
	if err != nil {
		return nil, err
	}
	if out.TCBInfo, err = parseTCBInfoBody([]byte(*j.TCBInfo), sig); err != nil {
		return nil, fmt.Errorf("collateral bundle tcb_info: %w", err)
	}
	if sig, err = parseSignature(*j.QEIdentitySignature, "bundle qe_identity"); err != nil {
		return nil, err
	}
	if out.QEIdentity, err = parseQEIdentityBody([]byte(*j.QEIdentity), sig); err != nil {
		return nil, fmt.Errorf("collateral bundle qe_identity: %w", err)
	}
	if out.TCBInfoChain, err = pemChain(*j.TCBInfoIssuerChain, "tcb_info_issuer_chain"); err != nil {
		return nil, err
	}
	if out.QEIdentityChain, err = pemChain(*j.QEIdentityIssuerChain, "qe_identity_issuer_chain"); err != nil {
		return nil, err
	}
	if out.PCKCRLChain, err = pemChain(*j.PCKCRLIssuerChain, "pck_crl_issuer_chain"); err != nil {
		return nil, err
	}
	if j.PCKCertificateChain != nil {
		if out.PCKChain, err = pemChain(*j.PCKCertificateChain, "pck_certificate_chain"); err != nil {
			return nil, err
		}
	}
	if out.RootCACRL, err = hexCRL(*j.RootCACRL, "root_ca_crl"); err != nil {
		return nil, err
	}
	if out.PCKCRL, err = hexCRL(*j.PCKCRL, "pck_crl"); err != nil {
		return nil, err
	}
	return out, nil
}

func pemChain(s, name string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := []byte(s)
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: collateral bundle %s holds a PEM %q block, want CERTIFICATE", ErrMalformed, name, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: collateral bundle %s certificate %d: %v", ErrMalformed, name, len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: collateral bundle %s has %d bytes that are not PEM certificates", ErrMalformed, name, len(bytes.TrimSpace(rest)))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: collateral bundle %s holds no certificate", ErrMalformed, name)
	}
	return out, nil
}

func hexCRL(s, name string) (*x509.RevocationList, error) {
	der, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: collateral bundle %s is not hex: %v", ErrMalformed, name, err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%w: collateral bundle %s is not a DER CRL: %v", ErrMalformed, name, err)
	}
	return crl, nil
}

// CRLs returns the bundle's CRLs: root CA CRL, then PCK CRL.
func (b *Bundle) CRLs() []*x509.RevocationList {
	var out []*x509.RevocationList
	for _, c := range []*x509.RevocationList{b.RootCACRL, b.PCKCRL} {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// Certificates returns every certificate of the bundle's chains, each
// once, in the order of the members (untrusted: for chain building).
func (b *Bundle) Certificates() []*x509.Certificate {
	var out []*x509.Certificate
	seen := map[string]bool{}
	for _, chain := range [][]*x509.Certificate{b.TCBInfoChain, b.QEIdentityChain, b.PCKCRLChain, b.PCKChain} {
		for _, c := range chain {
			if c == nil || seen[string(c.Raw)] {
				continue
			}
			seen[string(c.Raw)] = true
			out = append(out, c)
		}
	}
	return out
}

// Marshal returns the bundle as JSON in dcap-qvl's shape; the signed
// tcb_info and qe_identity strings are kept verbatim, so
// ParseBundle(b.Marshal()) equals b. A bundle missing a required member
// marshals it empty (and then does not parse).
func (b *Bundle) Marshal() []byte {
	str := func(s string) *string { return &s }
	chain := func(cs []*x509.Certificate) string {
		var buf bytes.Buffer
		for _, c := range cs {
			if c != nil {
				_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
			}
		}
		return buf.String()
	}
	crl := func(c *x509.RevocationList) string {
		if c == nil {
			return ""
		}
		return hex.EncodeToString(c.Raw)
	}
	j := bundleJSON{
		PCKCRLIssuerChain:     str(chain(b.PCKCRLChain)),
		RootCACRL:             str(crl(b.RootCACRL)),
		PCKCRL:                str(crl(b.PCKCRL)),
		TCBInfoIssuerChain:    str(chain(b.TCBInfoChain)),
		QEIdentityIssuerChain: str(chain(b.QEIdentityChain)),
		TCBInfo:               str(""),
		TCBInfoSignature:      str(""),
		QEIdentity:            str(""),
		QEIdentitySignature:   str(""),
	}
	if b.TCBInfo != nil {
		j.TCBInfo, j.TCBInfoSignature = str(string(b.TCBInfo.signed)), str(hex.EncodeToString(b.TCBInfo.Signature[:]))
	}
	if b.QEIdentity != nil {
		j.QEIdentity, j.QEIdentitySignature = str(string(b.QEIdentity.signed)), str(hex.EncodeToString(b.QEIdentity.Signature[:]))
	}
	if b.PCKChain != nil {
		j.PCKCertificateChain = str(chain(b.PCKChain))
	}
	out, _ := json.Marshal(j) // strings only: cannot fail
	return out
}
