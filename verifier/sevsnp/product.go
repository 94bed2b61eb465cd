package sevsnp

import (
	"fmt"
	"strings"
)

// Product is an AMD EPYC processor generation that supports SEV-SNP. It
// selects the AMD root of trust (one ARK per product) and the TCB_VERSION
// layout.
type Product int

// Products. The zero value is ProductUnknown.
const (
	ProductUnknown Product = iota
	Milan                  // EPYC 7003, family 19h models 00h-0Fh
	Genoa                  // EPYC 9004/8004 (Genoa, Bergamo, Siena), family 19h models 10h-1Fh, A0h-AFh
	Turin                  // EPYC 9005, family 1Ah models 00h-1Fh
)

var productNames = [...]string{"unknown", "Milan", "Genoa", "Turin"}

// String returns the name AMD KDS uses in its URLs ("Milan").
func (p Product) String() string {
	if p < 0 || int(p) >= len(productNames) {
		return fmt.Sprintf("Product(%d)", int(p))
	}
	return productNames[p]
}

// ParseProduct accepts a product name, case-insensitively, with or without
// a stepping suffix as in the VCEK productName extension ("Milan-B0").
func ParseProduct(s string) (Product, error) {
	name, _, _ := strings.Cut(s, "-")
	for i, n := range productNames[1:] {
		if strings.EqualFold(name, n) {
			return Product(i + 1), nil
		}
	}
	return ProductUnknown, fmt.Errorf("unknown AMD product %q (want Milan, Genoa or Turin)", s)
}

// ProductFromCPUID maps the CPUID family and model that version 3 and later
// reports carry to a product. The model ranges follow AMD's processor
// programming references for families 19h and 1Ah; a model outside them is
// unknown, and the caller falls back to the certificate chain.
func ProductFromCPUID(family, model uint8) Product {
	switch family {
	case 0x19:
		switch {
		case model <= 0x0F:
			return Milan
		case model >= 0x10 && model <= 0x1F, model >= 0xA0 && model <= 0xAF:
			return Genoa
		}
	case 0x1A:
		if model <= 0x1F {
			return Turin
		}
	}
	return ProductUnknown
}

// TCB is a decoded TCB_VERSION: the security patch levels of each firmware
// component. Milan and Genoa use the layout of the SNP ABI spec Table 3;
// Turin adds FMC and moves the fields (same spec, rev. 1.58, Table 4).
type TCB struct {
	Bootloader uint8 `json:"bootloader"`
	TEE        uint8 `json:"tee"`
	SNP        uint8 `json:"snp"`
	Microcode  uint8 `json:"microcode"`
	// FMC is present on Turin and later only.
	FMC *uint8 `json:"fmc,omitempty"`
}

// DecodeTCB splits a TCB_VERSION value according to the product's layout.
// The reserved bytes of the layout must be zero.
func DecodeTCB(p Product, v uint64) (TCB, error) {
	b := func(i int) uint8 { return uint8(v >> (8 * i)) }
	switch p {
	case Milan, Genoa:
		if v&0x0000FFFFFFFF0000 != 0 {
			// bytes 2-5 reserved
			return TCB{}, fmt.Errorf("%w: TCB_VERSION %#016x has reserved bytes 2-5 set (%s layout)", ErrMalformed, v, p)
		}
		return TCB{Bootloader: b(0), TEE: b(1), SNP: b(6), Microcode: b(7)}, nil
	case Turin:
		if v&0x00FFFFFF00000000 != 0 {
			return TCB{}, fmt.Errorf("%w: TCB_VERSION %#016x has reserved bytes 4-6 set (%s layout)", ErrMalformed, v, p)
		}
		fmc := b(0)
		return TCB{FMC: &fmc, Bootloader: b(1), TEE: b(2), SNP: b(3), Microcode: b(7)}, nil
	}
	return TCB{}, fmt.Errorf("%w: cannot decode TCB_VERSION for product %s", ErrMalformed, p)
}

// EncodeTCB is the inverse of DecodeTCB.
func EncodeTCB(p Product, t TCB) (uint64, error) {
	switch p {
	case Milan, Genoa:
		if t.FMC != nil {
			return 0, fmt.Errorf("%w: %s TCB has no FMC field", ErrMalformed, p)
		}
		return uint64(t.Bootloader) | uint64(t.TEE)<<8 | uint64(t.SNP)<<48 | uint64(t.Microcode)<<56, nil
	case Turin:
		var fmc uint8
		if t.FMC != nil {
			fmc = *t.FMC
		}
		return uint64(fmc) | uint64(t.Bootloader)<<8 | uint64(t.TEE)<<16 | uint64(t.SNP)<<24 | uint64(t.Microcode)<<56, nil
	}
	return 0, fmt.Errorf("%w: cannot encode TCB_VERSION for product %s", ErrMalformed, p)
}

// String renders a TCB as its components.
func (t TCB) String() string {
	s := fmt.Sprintf("bootloader=%d tee=%d snp=%d microcode=%d", t.Bootloader, t.TEE, t.SNP, t.Microcode)
	if t.FMC != nil {
		s = fmt.Sprintf("fmc=%d ", *t.FMC) + s
	}
	return s
}

// Equal compares two TCBs component by component.
func (t TCB) Equal(u TCB) bool {
	if (t.FMC == nil) != (u.FMC == nil) || (t.FMC != nil && *t.FMC != *u.FMC) {
		return false
	}
	return t.Bootloader == u.Bootloader && t.TEE == u.TEE && t.SNP == u.SNP && t.Microcode == u.Microcode
}
