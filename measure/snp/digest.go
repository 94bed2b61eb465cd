package snp

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"github.com/assay-dev/assay/measure/fwtable"
)

// Page types of PAGE_INFO (SEV-SNP Firmware ABI §8.17, Table 68).
const (
	pageNormal     = 0x01
	pageVMSA       = 0x02
	pageZero       = 0x03
	pageUnmeasured = 0x04
	pageSecrets    = 0x05
	pageCPUID      = 0x06
)

// vmsaGPA is where a VMSA page is recorded: (u64)-1, page aligned, bits
// above 51 clear.
const vmsaGPA = 0xFFFFFFFFF000

// DigestSize is the size of a launch digest (SHA-384).
const DigestSize = sha512.Size384

// chain is the launch digest being extended.
type chain struct {
	ld   [DigestSize]byte
	info [0x70]byte // PAGE_INFO scratch
}

// update extends the digest with one PAGE_INFO (Table 67): the current
// digest, the page's contents digest, length 0x70, page type, IS_IMI=0,
// VMPL3/2/1 permissions 0, reserved, GPA.
func (c *chain) update(pageType byte, gpa uint64, contents *[DigestSize]byte) {
	b := c.info[:]
	copy(b[0:48], c.ld[:])
	copy(b[48:96], contents[:])
	binary.LittleEndian.PutUint16(b[96:], uint16(len(c.info)))
	b[98] = pageType
	clear(b[99:104])
	binary.LittleEndian.PutUint64(b[104:], gpa)
	c.ld = sha512.Sum384(b)
}

func (c *chain) normalPages(gpa uint64, data []byte) {
	for off := 0; off < len(data); off += pageSize {
		h := sha512.Sum384(data[off : off+pageSize])
		c.update(pageNormal, gpa+uint64(off), &h)
	}
}

func (c *chain) emptyPages(pageType byte, gpa uint64, size uint32) {
	var zero [DigestSize]byte
	for off := uint64(0); off < uint64(size); off += pageSize {
		c.update(pageType, gpa+off, &zero)
	}
}

// FirmwareDigest is the launch digest after the firmware volume alone;
// LaunchDigest can start from it (Options.FirmwareDigest) when only the
// digest of a large image is at hand.
func FirmwareDigest(o *OVMF) [DigestSize]byte {
	var c chain
	c.normalPages(o.GPA(), o.Image)
	return c.ld
}

// KernelHashes are the SHA-256 digests QEMU puts in the SEV hashes table
// for a direct kernel boot (-kernel, -initrd, -append).
type KernelHashes struct {
	Kernel, Initrd, Cmdline [sha256.Size]byte
}

// HashKernel hashes the direct-boot artifacts as QEMU does: the kernel
// image as given, the initrd (empty when none) and the command line with
// its terminating NUL (a lone NUL when empty).
func HashKernel(kernel, initrd []byte, cmdline string) KernelHashes {
	c := make([]byte, len(cmdline)+1)
	copy(c, cmdline)
	return KernelHashes{
		Kernel:  sha256.Sum256(kernel),
		Initrd:  sha256.Sum256(initrd),
		Cmdline: sha256.Sum256(c),
	}
}

// GUIDs of the SEV hashes table (QEMU target/i386/sev.c,
// OvmfPkg/AmdSev/BlobVerifierLibSevHashes).
var (
	hashTableHeaderGUID = fwtable.MustGUID("9438d606-4f22-4cc9-b479-a793d411fd21")
	hashKernelGUID      = fwtable.MustGUID("4de79437-abd2-427f-b835-d5b172d2045b")
	hashInitrdGUID      = fwtable.MustGUID("44baf731-3a2f-4bd7-9af1-41e29169781d")
	hashCmdlineGUID     = fwtable.MustGUID("97d02dd8-bd20-4c94-aa78-e7714d36ab2a")
)

const (
	hashEntrySize = 16 + 2 + sha256.Size       // GUID, UINT16 length, hash
	hashTableSize = 16 + 2 + 3*hashEntrySize   // header GUID, length, cmdline, initrd, kernel
	paddedTable   = (hashTableSize + 15) &^ 15 // QEMU pads to 16 bytes
)

// Table is the padded SEV hashes table as QEMU writes it into guest
// memory: header GUID and length, then the cmdline, initrd and kernel
// entries.
func (k KernelHashes) Table() []byte {
	t := make([]byte, paddedTable)
	copy(t, hashTableHeaderGUID[:])
	binary.LittleEndian.PutUint16(t[16:], hashTableSize)
	off := 18
	for _, e := range []struct {
		g fwtable.GUID
		h [sha256.Size]byte
	}{{hashCmdlineGUID, k.Cmdline}, {hashInitrdGUID, k.Initrd}, {hashKernelGUID, k.Kernel}} {
		copy(t[off:], e.g[:])
		binary.LittleEndian.PutUint16(t[off+16:], hashEntrySize)
		copy(t[off+18:], e.h[:])
		off += hashEntrySize
	}
	return t
}

// VMM is the hypervisor that starts the guest; they differ in a few
// initial register values and in how they measure some sections.
type VMM int

// VMMs.
const (
	VMMQEMU VMM = iota // QEMU/KVM
	VMMEC2             // AWS EC2
	VMMGCE             // Google Compute Engine
)

// ParseVMM reads "qemu", "ec2" or "gce".
func ParseVMM(s string) (VMM, error) {
	switch s {
	case "qemu", "QEMU", "":
		return VMMQEMU, nil
	case "ec2", "EC2":
		return VMMEC2, nil
	case "gce", "GCE":
		return VMMGCE, nil
	}
	return 0, fmt.Errorf("%w: VMM %q, want qemu, ec2 or gce", ErrInput, s)
}

func (v VMM) String() string {
	switch v {
	case VMMQEMU:
		return "qemu"
	case VMMEC2:
		return "ec2"
	case VMMGCE:
		return "gce"
	}
	return fmt.Sprintf("vmm(%d)", int(v))
}

// Options are the launch parameters besides the firmware.
type Options struct {
	// VCPUs is the number of vCPUs; at least 1.
	VCPUs int
	// VCPUSig is the CPUID Fn0000_0001_EAX signature of the vCPU type
	// (CPUSignature, VCPUSig), placed in RDX of each VMSA by QEMU. EC2
	// and GCE ignore it.
	VCPUSig uint32
	// GuestFeatures is SEV_FEATURES of the VMSAs (QEMU 9+ default 0x1,
	// SNPActive; older KVM 0x21, with DebugSwap).
	GuestFeatures uint64
	// VMM is the hypervisor; the zero value is QEMU.
	VMM VMM
	// Kernel, when not nil, are the hashes of a direct kernel boot; the
	// firmware must declare an SNP_KERNEL_HASHES section. Nil: the
	// section, if any, is measured as zero pages.
	Kernel *KernelHashes
	// FirmwareDigest, when not nil, replaces the hashing of the firmware
	// volume (see FirmwareDigest); the image is still read for its
	// metadata.
	FirmwareDigest *[DigestSize]byte
}

// LaunchDigest computes the MEASUREMENT an SNP guest launched from o with
// opt reports.
func LaunchDigest(o *OVMF, opt Options) ([DigestSize]byte, error) {
	var c chain
	if opt.VCPUs < 1 {
		return c.ld, fmt.Errorf("%w: %d vCPUs, want at least 1", ErrInput, opt.VCPUs)
	}
	if opt.VMM != VMMQEMU && opt.VMM != VMMEC2 && opt.VMM != VMMGCE {
		return c.ld, fmt.Errorf("%w: unknown %s", ErrInput, opt.VMM)
	}
	if o.Sections == nil {
		return c.ld, fmt.Errorf("%w: the firmware has no SEV metadata: not SEV-SNP capable", ErrInput)
	}
	if opt.Kernel != nil && !o.HasSection(SectionSNPKernelHashes) {
		return c.ld, fmt.Errorf("%w: a kernel was given but the firmware declares no SNP_KERNEL_HASHES section (use an AmdSev build of OVMF)", ErrInput)
	}
	eip, err := o.ResetEIP()
	if err != nil {
		return c.ld, err
	}
	var hashesPage []byte
	if opt.Kernel != nil {
		gpa, err := o.HashesTableGPA()
		if err != nil {
			return c.ld, err
		}
		hashesPage, err = kernelPage(opt.Kernel, gpa)
		if err != nil {
			return c.ld, err
		}
	}

	if opt.FirmwareDigest != nil {
		c.ld = *opt.FirmwareDigest
	} else {
		c.normalPages(o.GPA(), o.Image)
	}
	for _, s := range o.Sections {
		gpa := uint64(s.GPA)
		switch s.Type {
		case SectionSNPSecMem:
			if opt.VMM == VMMGCE {
				c.emptyPages(pageUnmeasured, gpa, s.Size)
			} else {
				c.emptyPages(pageZero, gpa, s.Size)
			}
		case SectionSNPSecrets:
			c.emptyPages(pageSecrets, gpa, pageSize)
		case SectionCPUID:
			// EC2 measures the CPUID page after every other section.
			if opt.VMM != VMMEC2 {
				c.emptyPages(pageCPUID, gpa, pageSize)
			}
		case SectionSNPKernelHashes:
			if hashesPage == nil {
				c.emptyPages(pageZero, gpa, s.Size)
				break
			}
			if s.Size != pageSize {
				return c.ld, fmt.Errorf("%w: SNP_KERNEL_HASHES section is %#x bytes, want one page", ErrMalformed, s.Size)
			}
			c.normalPages(gpa, hashesPage)
		case SectionSVSMCAA:
			c.emptyPages(pageZero, gpa, s.Size)
		}
	}
	if opt.VMM == VMMEC2 {
		for _, s := range o.Sections {
			if s.Type == SectionCPUID {
				c.emptyPages(pageCPUID, uint64(s.GPA), pageSize)
			}
		}
	}
	bsp := vmsa(bspEIP, opt)
	bh := sha512.Sum384(bsp[:])
	c.update(pageVMSA, vmsaGPA, &bh)
	if opt.VCPUs > 1 {
		ap := vmsa(eip, opt)
		ah := sha512.Sum384(ap[:])
		for range opt.VCPUs - 1 {
			c.update(pageVMSA, vmsaGPA, &ah)
		}
	}
	return c.ld, nil
}

func kernelPage(k *KernelHashes, gpa uint32) ([]byte, error) {
	off := int(gpa % pageSize)
	if off+paddedTable > pageSize {
		return nil, fmt.Errorf("%w: SEV hashes table at GPA %#x would cross a page boundary", ErrMalformed, gpa)
	}
	page := make([]byte, pageSize)
	copy(page[off:], k.Table())
	return page, nil
}
