package snp

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// bspEIP is the x86 reset vector, where the BSP starts.
const bspEIP = 0xfffffff0

// Offsets in the VMSA (AMD64 Architecture Programmer's Manual Vol. 2,
// Table B-4 "VMSA Layout, State Save Area for SEV-ES"; Linux
// arch/x86/include/asm/svm.h struct sev_es_save_area).
const (
	vmsaES          = 0x000 // segment registers: selector u16, attrib u16, limit u32, base u64
	vmsaCS          = 0x010
	vmsaSS          = 0x020
	vmsaDS          = 0x030
	vmsaFS          = 0x040
	vmsaGS          = 0x050
	vmsaGDTR        = 0x060
	vmsaLDTR        = 0x070
	vmsaIDTR        = 0x080
	vmsaTR          = 0x090
	vmsaEFER        = 0x0d0
	vmsaCR4         = 0x148
	vmsaCR0         = 0x158
	vmsaDR7         = 0x160
	vmsaDR6         = 0x168
	vmsaRFLAGS      = 0x170
	vmsaRIP         = 0x178
	vmsaGPAT        = 0x268
	vmsaRDX         = 0x310
	vmsaSEVFeatures = 0x3b0
	vmsaXCR0        = 0x3e8
	vmsaMXCSR       = 0x408
	vmsaX87FCW      = 0x410
)

// vmsa builds the initial VMSA page of a vCPU starting at eip, as the
// VMM writes it before SNP_LAUNCH_UPDATE (QEMU: the KVM reset state;
// EC2 and GCE: their own, per the VMMs' published measurements).
func vmsa(eip uint32, opt Options) *[pageSize]byte {
	var p [pageSize]byte
	le := binary.LittleEndian
	seg := func(off int, sel, attrib uint16, limit uint32, base uint64) {
		le.PutUint16(p[off:], sel)
		le.PutUint16(p[off+2:], attrib)
		le.PutUint32(p[off+4:], limit)
		le.PutUint64(p[off+8:], base)
	}
	csFlags, ssFlags, trFlags := uint16(0x9b), uint16(0x93), uint16(0x8b)
	rdx := uint64(opt.VCPUSig)
	mxcsr, fcw := uint32(0x1f80), uint16(0x37f)
	gpat := uint64(0x0007040600070406) // PAT MSR reset value, APM Vol. 2 §A.3
	switch opt.VMM {
	case VMMEC2:
		if eip == bspEIP {
			csFlags = 0x9a
		}
		ssFlags, trFlags = 0x92, 0x83
		rdx, mxcsr, fcw = 0x600, 0, 0
	case VMMGCE:
		gpat = 0x00070106
		rdx, mxcsr, fcw = 0x600, 0, 0
	}
	seg(vmsaES, 0, 0x93, 0xffff, 0)
	seg(vmsaCS, 0xf000, csFlags, 0xffff, uint64(eip&0xffff0000))
	seg(vmsaSS, 0, ssFlags, 0xffff, 0)
	seg(vmsaDS, 0, 0x93, 0xffff, 0)
	seg(vmsaFS, 0, 0x93, 0xffff, 0)
	seg(vmsaGS, 0, 0x93, 0xffff, 0)
	seg(vmsaGDTR, 0, 0, 0xffff, 0)
	seg(vmsaIDTR, 0, 0, 0xffff, 0)
	seg(vmsaLDTR, 0, 0x82, 0xffff, 0)
	seg(vmsaTR, 0, trFlags, 0xffff, 0)
	le.PutUint64(p[vmsaEFER:], 0x1000) // EFER.SVME, set by KVM
	le.PutUint64(p[vmsaCR4:], 0x40)    // CR4.MCE
	le.PutUint64(p[vmsaCR0:], 0x10)    // CR0.ET
	le.PutUint64(p[vmsaDR7:], 0x400)
	le.PutUint64(p[vmsaDR6:], 0xffff0ff0)
	le.PutUint64(p[vmsaRFLAGS:], 0x2)
	le.PutUint64(p[vmsaRIP:], uint64(eip&0xffff))
	le.PutUint64(p[vmsaGPAT:], gpat)
	le.PutUint64(p[vmsaRDX:], rdx)
	le.PutUint64(p[vmsaSEVFeatures:], opt.GuestFeatures)
	le.PutUint64(p[vmsaXCR0:], 0x1)
	le.PutUint32(p[vmsaMXCSR:], mxcsr)
	le.PutUint16(p[vmsaX87FCW:], fcw)
	return &p
}

// CPUSignature is the CPUID Fn0000_0001_EAX value for a family, model
// and stepping (AMD CPUID Specification #25481, "Family, Model, Stepping
// Identifiers"): families above 0xf put 0xf in the base field and the
// rest in the extended field.
func CPUSignature(family, model, stepping uint32) uint32 {
	famLo, famHi := family, uint32(0)
	if family > 0xf {
		famLo, famHi = 0xf, (family-0xf)&0xff
	}
	return famHi<<20 | (model>>4&0xf)<<16 | famLo<<8 | (model&0xf)<<4 | stepping&0xf
}

// vcpuTypes are QEMU's AMD EPYC CPU models (target/i386/cpu.c
// builtin_x86_defs) and their signatures.
var vcpuTypes = map[string]uint32{
	"EPYC":          CPUSignature(23, 1, 2),
	"EPYC-v1":       CPUSignature(23, 1, 2),
	"EPYC-v2":       CPUSignature(23, 1, 2),
	"EPYC-IBPB":     CPUSignature(23, 1, 2),
	"EPYC-v3":       CPUSignature(23, 1, 2),
	"EPYC-v4":       CPUSignature(23, 1, 2),
	"EPYC-Rome":     CPUSignature(23, 49, 0),
	"EPYC-Rome-v1":  CPUSignature(23, 49, 0),
	"EPYC-Rome-v2":  CPUSignature(23, 49, 0),
	"EPYC-Rome-v3":  CPUSignature(23, 49, 0),
	"EPYC-Milan":    CPUSignature(25, 1, 1),
	"EPYC-Milan-v1": CPUSignature(25, 1, 1),
	"EPYC-Milan-v2": CPUSignature(25, 1, 1),
	"EPYC-Genoa":    CPUSignature(25, 17, 0),
	"EPYC-Genoa-v1": CPUSignature(25, 17, 0),
	"EPYC-Turin":    CPUSignature(26, 0, 0),
}

// VCPUSig looks up a vCPU type by its QEMU name.
func VCPUSig(name string) (uint32, error) {
	if s, ok := vcpuTypes[name]; ok {
		return s, nil
	}
	names := make([]string, 0, len(vcpuTypes))
	for n := range vcpuTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return 0, fmt.Errorf("%w: vCPU type %q unknown; known: %v", ErrInput, name, names)
}
