package dcap

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
)

// SGX extensions of a PCK certificate: Intel "SGX PCK Certificate and
// Certificate Revocation List Profile Specification" rev. 1.5, section
// 1.3.5, under OID 1.2.840.113741.1.13.1.
var (
	oidSGXExtensions = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	oidPPID          = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 1}
	oidTCB           = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 2}
	oidPCEID         = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 3}
	oidFMSPC         = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 4}
	oidSGXType       = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 5}
)

// PCKExtensions are the SGX extensions of a PCK certificate: what the PCK
// certifies about the platform.
type PCKExtensions struct {
	PPID          []byte
	SGXComponents [16]uint8 // SGX TCB Comp01-16 SVN
	PCESVN        uint16
	CPUSVN        [16]byte
	PCEID         [2]byte
	FMSPC         [6]byte
	// SGXType: 0 Standard, 1 Scalable, 2 Scalable with integrity.
	SGXType int
}

type oidValue struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

// ParsePCKExtensions reads the SGX extensions of a PCK certificate.
func ParsePCKExtensions(c *x509.Certificate) (*PCKExtensions, error) {
	var raw []byte
	for _, e := range c.Extensions {
		if e.Id.Equal(oidSGXExtensions) {
			if raw != nil {
				return nil, fmt.Errorf("%w: PCK certificate has two SGX extensions", ErrMalformed)
			}
			raw = e.Value
		}
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: certificate %q has no SGX extensions (OID %s): not a PCK certificate", ErrChain, c.Subject.CommonName, oidSGXExtensions)
	}
	var items []oidValue
	if rest, err := asn1.Unmarshal(raw, &items); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: PCK SGX extensions are not a SEQUENCE of (OID, value): %v", ErrMalformed, err)
	}
	p := &PCKExtensions{}
	seen := map[string]bool{}
	for _, it := range items {
		k := it.ID.String()
		if seen[k] {
			return nil, fmt.Errorf("%w: PCK SGX extension %s appears twice", ErrMalformed, k)
		}
		seen[k] = true
		switch {
		case it.ID.Equal(oidPPID):
			b, err := octets(it.Value, 16, "PPID")
			if err != nil {
				return nil, err
			}
			p.PPID = b
		case it.ID.Equal(oidPCEID):
			b, err := octets(it.Value, 2, "PCE-ID")
			if err != nil {
				return nil, err
			}
			copy(p.PCEID[:], b)
		case it.ID.Equal(oidFMSPC):
			b, err := octets(it.Value, 6, "FMSPC")
			if err != nil {
				return nil, err
			}
			copy(p.FMSPC[:], b)
		case it.ID.Equal(oidSGXType):
			var n asn1.Enumerated
			if rest, err := asn1.Unmarshal(it.Value.FullBytes, &n); err != nil || len(rest) != 0 {
				return nil, fmt.Errorf("%w: PCK SGX Type is not an ENUMERATED", ErrMalformed)
			}
			p.SGXType = int(n)
		case it.ID.Equal(oidTCB):
			if err := p.parseTCB(it.Value.FullBytes); err != nil {
				return nil, err
			}
		}
	}
	for _, need := range []asn1.ObjectIdentifier{oidTCB, oidPCEID, oidFMSPC} {
		if !seen[need.String()] {
			return nil, fmt.Errorf("%w: PCK SGX extensions lack %s", ErrMalformed, need)
		}
	}
	return p, nil
}

func (p *PCKExtensions) parseTCB(b []byte) error {
	var comps []oidValue
	if rest, err := asn1.Unmarshal(b, &comps); err != nil || len(rest) != 0 {
		return fmt.Errorf("%w: PCK TCB extension is not a SEQUENCE of (OID, value): %v", ErrMalformed, err)
	}
	seen := map[int]bool{}
	for _, c := range comps {
		if len(c.ID) != len(oidTCB)+1 || !c.ID[:len(oidTCB)].Equal(oidTCB) {
			continue
		}
		n := c.ID[len(oidTCB)]
		if seen[n] {
			return fmt.Errorf("%w: PCK TCB component %d appears twice", ErrMalformed, n)
		}
		seen[n] = true
		switch {
		case n >= 1 && n <= 16:
			v, err := smallInt(c.Value, 255, fmt.Sprintf("SGX TCB Comp%02d SVN", n))
			if err != nil {
				return err
			}
			p.SGXComponents[n-1] = uint8(v)
		case n == 17:
			v, err := smallInt(c.Value, 65535, "PCESVN")
			if err != nil {
				return err
			}
			p.PCESVN = uint16(v)
		case n == 18:
			o, err := octets(c.Value, 16, "CPUSVN")
			if err != nil {
				return err
			}
			copy(p.CPUSVN[:], o)
		}
	}
	for n := 1; n <= 17; n++ {
		if !seen[n] {
			return fmt.Errorf("%w: PCK TCB extension lacks component %d", ErrMalformed, n)
		}
	}
	return nil
}

func octets(v asn1.RawValue, n int, what string) ([]byte, error) {
	var b []byte
	if rest, err := asn1.Unmarshal(v.FullBytes, &b); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: PCK %s is not an OCTET STRING", ErrMalformed, what)
	}
	if len(b) != n {
		return nil, fmt.Errorf("%w: PCK %s is %d bytes, want %d", ErrMalformed, what, len(b), n)
	}
	return b, nil
}

func smallInt(v asn1.RawValue, max int64, what string) (int64, error) {
	var n int64
	if rest, err := asn1.Unmarshal(v.FullBytes, &n); err != nil || len(rest) != 0 {
		return 0, fmt.Errorf("%w: PCK %s is not an INTEGER", ErrMalformed, what)
	}
	if n < 0 || n > max {
		return 0, fmt.Errorf("%w: PCK %s is %d, outside 0-%d", ErrMalformed, what, n, max)
	}
	return n, nil
}

// Platform returns the TCB matching input for this PCK and quote.
func (p *PCKExtensions) Platform(q *Quote) PlatformTCB {
	t := PlatformTCB{FMSPC: p.FMSPC, PCEID: p.PCEID, SGXComponents: p.SGXComponents, PCESVN: p.PCESVN}
	if q.TD != nil {
		svn := q.TD.TEETCBSVN
		t.TEETCBSVN = &svn
		t.MRSignerSeam = q.TD.MRSignerSeam
		t.SeamAttributes = q.TD.SeamAttributes
	}
	return t
}
