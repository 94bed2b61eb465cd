package verifier

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// Description says what an input is and what it contains, without
// judging it: the output of "assay inspect".
type Description struct {
	File   string `json:"file"`
	Role   Role   `json:"role"`
	TEE    string `json:"tee,omitempty"`
	Format string `json:"format,omitempty"`
	Fields any    `json:"fields,omitempty"`
	Error  string `json:"error,omitempty"`
}

// CertSummary is a certificate's identifying fields.
type CertSummary struct {
	Subject            string    `json:"subject"`
	Issuer             string    `json:"issuer"`
	Serial             string    `json:"serial"`
	NotBefore          time.Time `json:"not_before"`
	NotAfter           time.Time `json:"not_after"`
	SignatureAlgorithm string    `json:"signature_algorithm"`
	PublicKeyAlgorithm string    `json:"public_key_algorithm"`
	IsCA               bool      `json:"is_ca"`
	SHA256             string    `json:"sha256"`
	// AMD is set for VCEK and VLEK certificates: their TCB and chip or
	// provider extensions.
	AMD *AMDExtensions `json:"amd,omitempty"`
}

// AMDExtensions are a VCEK's or VLEK's AMD extensions.
type AMDExtensions struct {
	Key         string     `json:"key"`
	ProductName string     `json:"product_name"`
	TCB         sevsnp.TCB `json:"tcb"`
	HWID        string     `json:"hwid,omitempty"`
	CSPID       string     `json:"csp_id,omitempty"`
	Error       string     `json:"error,omitempty"`
}

// CRLSummary is a CRL's identifying fields.
type CRLSummary struct {
	Issuer     string    `json:"issuer"`
	Number     *big.Int  `json:"number,omitempty"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
	Revoked    []string  `json:"revoked_serials"`
}

// Describe classifies one input and describes it.
func Describe(in Input, vs []attest.Verifier, force string) Description {
	d := Description{File: in.Name, Role: RoleUnknown}
	it, err := Classify(in, vs, force)
	if err != nil {
		d.Error = err.Error()
		return d
	}
	d.Role, d.TEE, d.Format = it.Role, it.Kind, it.Format
	switch it.Role {
	case RoleCertificate, RoleCRL:
		var certs []CertSummary
		for _, c := range it.Certificates {
			certs = append(certs, SummarizeCert(c))
		}
		var crls []CRLSummary
		for _, l := range it.CRLs {
			crls = append(crls, summarizeCRL(l))
		}
		fields := map[string]any{}
		if len(certs) > 0 {
			fields["certificates"] = certs
		}
		if len(crls) > 0 {
			fields["crls"] = crls
		}
		d.Fields = fields
	default:
		ins, ok := it.verifier.(Inspector)
		if !ok {
			return d
		}
		f, err := ins.Inspect(in.Data, it.Format)
		if err != nil {
			d.Error = err.Error()
			return d
		}
		d.Fields = f
	}
	return d
}

// SummarizeCert describes a certificate.
func SummarizeCert(c *x509.Certificate) CertSummary {
	fp := sha256.Sum256(c.Raw)
	s := CertSummary{
		Subject:            c.Subject.String(),
		Issuer:             c.Issuer.String(),
		Serial:             fmt.Sprintf("%#x", c.SerialNumber),
		NotBefore:          c.NotBefore.UTC(),
		NotAfter:           c.NotAfter.UTC(),
		SignatureAlgorithm: c.SignatureAlgorithm.String(),
		PublicKeyAlgorithm: c.PublicKeyAlgorithm.String(),
		IsCA:               c.IsCA,
		SHA256:             hex.EncodeToString(fp[:]),
	}
	if cn := c.Subject.CommonName; cn == "SEV-VCEK" || cn == "SEV-VLEK" {
		v, err := sevsnp.ParseVEK(c)
		if err != nil {
			s.AMD = &AMDExtensions{Error: err.Error()}
		} else {
			s.AMD = &AMDExtensions{Key: v.Type.String(), ProductName: v.ProductName, TCB: v.TCB, HWID: hex.EncodeToString(v.HWID), CSPID: v.CSPID}
		}
	}
	return s
}

func summarizeCRL(l *x509.RevocationList) CRLSummary {
	s := CRLSummary{Issuer: l.Issuer.String(), Number: l.Number, ThisUpdate: l.ThisUpdate.UTC(), NextUpdate: l.NextUpdate.UTC(), Revoked: []string{}}
	for _, e := range l.RevokedCertificateEntries {
		s.Revoked = append(s.Revoked, fmt.Sprintf("%#x", e.SerialNumber))
	}
	return s
}
