package sevsnp

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
)

// Object identifiers of the VCEK/VLEK certificate extensions, AMD
// "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface
// Specification" (publication 57230) rev. 0.91, Table 8, and the VLEK
// specification (publication 58369): 1.3.6.1.4.1.3704.1.*.
var (
	oidAMDPrefix     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1}
	oidProductName   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 2}
	oidBootloaderSPL = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 1}
	oidTEESPL        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 2}
	oidSNPSPL        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 3}
	oidUcodeSPL      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 8}
	oidFMCSPL        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 9} // Turin and later
	oidHWID          = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 4}
	oidCSPID         = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 5} // VLEK only
)

// KeyType says which AMD key signed a report.
type KeyType int

// Key types, after KEY_INFO.SIGNING_KEY.
const (
	KeyVCEK KeyType = iota // Versioned Chip Endorsement Key, per chip
	KeyVLEK                // Versioned Loaded Endorsement Key, per cloud provider
)

func (k KeyType) String() string {
	if k == KeyVLEK {
		return "vlek"
	}
	return "vcek"
}

// VEK is a parsed VCEK or VLEK certificate: the certificate and the AMD
// extensions that bind it to a chip (VCEK) or a provider (VLEK) and a TCB.
type VEK struct {
	Cert *x509.Certificate
	Type KeyType
	// ProductName is the productName extension ("Milan-B0", "Genoa").
	ProductName string
	// TCB holds the SPL extensions. FMC is set only when the certificate
	// carries fmcSPL (Turin).
	TCB TCB
	// HWID is the hwID extension (VCEK only): 64 bytes, 8 on Turin.
	HWID []byte
	// CSPID is the cspID extension (VLEK only), naming the provider.
	CSPID string
}

// ParseVEK reads the AMD extensions of a VCEK or VLEK certificate. It
// checks that the certificate has the shape the specification gives (an
// ECDSA P-384 key, the SPL extensions, hwID for a VCEK or cspID for a
// VLEK); it does not check the signature or the chain.
func ParseVEK(c *x509.Certificate) (*VEK, error) {
	v := &VEK{Cert: c}
	switch c.Subject.CommonName {
	case "SEV-VCEK":
		v.Type = KeyVCEK
	case "SEV-VLEK":
		v.Type = KeyVLEK
	default:
		return nil, fmt.Errorf("%w: certificate subject CN is %q, want SEV-VCEK or SEV-VLEK", ErrChain, c.Subject.CommonName)
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P384() {
		return nil, fmt.Errorf("%w: %s public key is %T, want ECDSA P-384", ErrChain, v.Type, c.PublicKey)
	}
	seen := map[string]bool{}
	spl := map[string]*uint8{}
	for _, e := range c.Extensions {
		if !hasPrefix(e.Id, oidAMDPrefix) {
			continue
		}
		key := e.Id.String()
		if seen[key] {
			return nil, fmt.Errorf("%w: %s extension %s appears twice", ErrMalformed, v.Type, key)
		}
		seen[key] = true
		switch {
		case e.Id.Equal(oidProductName):
			var s string
			if rest, err := asn1.UnmarshalWithParams(e.Value, &s, "ia5"); err != nil || len(rest) != 0 {
				return nil, fmt.Errorf("%w: %s productName extension is not an IA5String", ErrMalformed, v.Type)
			}
			v.ProductName = s
		case e.Id.Equal(oidBootloaderSPL), e.Id.Equal(oidTEESPL), e.Id.Equal(oidSNPSPL), e.Id.Equal(oidUcodeSPL), e.Id.Equal(oidFMCSPL):
			n, err := splValue(e.Value)
			if err != nil {
				return nil, fmt.Errorf("%w: %s extension %s: %v", ErrMalformed, v.Type, key, err)
			}
			spl[key] = &n
		case e.Id.Equal(oidHWID):
			v.HWID = hwIDValue(e.Value)
		case e.Id.Equal(oidCSPID):
			var s string
			if rest, err := asn1.UnmarshalWithParams(e.Value, &s, "ia5"); err != nil || len(rest) != 0 {
				return nil, fmt.Errorf("%w: %s cspID extension is not an IA5String", ErrMalformed, v.Type)
			}
			v.CSPID = s
		}
	}
	for _, need := range []asn1.ObjectIdentifier{oidBootloaderSPL, oidTEESPL, oidSNPSPL, oidUcodeSPL} {
		if spl[need.String()] == nil {
			return nil, fmt.Errorf("%w: %s lacks the SPL extension %s", ErrMalformed, v.Type, need)
		}
	}
	v.TCB = TCB{
		Bootloader: *spl[oidBootloaderSPL.String()],
		TEE:        *spl[oidTEESPL.String()],
		SNP:        *spl[oidSNPSPL.String()],
		Microcode:  *spl[oidUcodeSPL.String()],
		FMC:        spl[oidFMCSPL.String()],
	}
	switch v.Type {
	case KeyVCEK:
		if len(v.HWID) != 64 && len(v.HWID) != 8 {
			return nil, fmt.Errorf("%w: VCEK hwID extension is %d bytes, want 64 (8 on Turin)", ErrMalformed, len(v.HWID))
		}
	case KeyVLEK:
		if v.CSPID == "" {
			return nil, fmt.Errorf("%w: VLEK lacks the cspID extension", ErrMalformed)
		}
	}
	return v, nil
}

// splValue decodes an SPL extension value: a DER INTEGER from 0 to 255.
func splValue(b []byte) (uint8, error) {
	var n int64
	rest, err := asn1.Unmarshal(b, &n)
	if err != nil {
		return 0, fmt.Errorf("not a DER INTEGER: %v", err)
	}
	if len(rest) != 0 {
		return 0, fmt.Errorf("%d trailing bytes after the INTEGER", len(rest))
	}
	if n < 0 || n > 255 {
		return 0, fmt.Errorf("value %d is outside 0-255", n)
	}
	return uint8(n), nil
}

func hasPrefix(id, prefix asn1.ObjectIdentifier) bool {
	if len(id) < len(prefix) {
		return false
	}
	return id[:len(prefix)].Equal(prefix)
}

// Product returns the product the certificate names, from productName, or
// failing that from its issuer ("SEV-Milan", "SEV-VLEK-Genoa").
func (v *VEK) Product() Product {
	if p, err := ParseProduct(v.ProductName); err == nil {
		return p
	}
	return productFromIssuer(v.Cert.Issuer.CommonName)
}

// productFromIssuer reads the product from an AMD CA name: ASK "SEV-Milan",
// ASVK "SEV-VLEK-Milan", ARK "ARK-Milan".
func productFromIssuer(cn string) Product {
	for _, pre := range []string{"SEV-VLEK-", "SEV-", "ARK-"} {
		if len(cn) > len(pre) && cn[:len(pre)] == pre {
			if p, err := ParseProduct(cn[len(pre):]); err == nil {
				return p
			}
		}
	}
	return ProductUnknown
}

// hwIDValue returns the hwID extension's bytes. AMD's KDS writes the raw
// 64 (Turin: 8) bytes as the extension value; some certificates wrap them
// in a DER OCTET STRING (Trustee's test-vcek-invalid-new.der), which is
// unwrapped when that yields a valid length.
func hwIDValue(b []byte) []byte {
	if len(b) == 64 || len(b) == 8 {
		return bytes.Clone(b)
	}
	var inner []byte
	if rest, err := asn1.Unmarshal(b, &inner); err == nil && len(rest) == 0 && (len(inner) == 64 || len(inner) == 8) {
		return inner
	}
	return bytes.Clone(b)
}
