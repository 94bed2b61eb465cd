package snp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/assay-dev/assay/measure/fwtable"
)

// ErrMalformed reports an OVMF image whose footer table or SEV metadata
// cannot be read.
var ErrMalformed = errors.New("snp: malformed OVMF image")

// ErrInput reports measurement inputs that do not fit the image: a
// kernel for firmware without a hashes section, zero vCPUs, an unknown
// VMM.
var ErrInput = errors.New("snp: unusable measurement input")

// GUIDs of the OVMF footer table and the SEV hashes table (OVMF
// OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm; QEMU target/i386/sev.c).
var (
	SEVESResetGUID     = fwtable.MustGUID("00f771de-1a7e-4fcb-890e-68c77e2fb44e") // SEV_ES_RESET_BLOCK_GUID
	SEVMetadataGUID    = fwtable.MustGUID("dc886566-984a-4798-a75e-5585a7bf67cc") // OVMF_SEV_METADATA_GUID
	SEVHashTableRVGUID = fwtable.MustGUID("7255371f-3a3b-4b04-927b-1da6efa8d454") // SEV_HASH_TABLE_RV_GUID
)

// SectionType is the type of an SEV metadata section
// (OvmfPkg/ResetVector/X64/OvmfSevMetadata.asm).
type SectionType uint32

// Section types.
const (
	SectionSNPSecMem       SectionType = 1    // SNP_SEC_MEM: pre-validated zero pages
	SectionSNPSecrets      SectionType = 2    // SNP_SECRETS: the secrets page
	SectionCPUID           SectionType = 3    // CPUID: the CPUID page
	SectionSVSMCAA         SectionType = 4    // SVSM_CAA: the SVSM calling area
	SectionSNPKernelHashes SectionType = 0x10 // SNP_KERNEL_HASHES: the SEV hashes table page
)

func (t SectionType) String() string {
	switch t {
	case SectionSNPSecMem:
		return "SNP_SEC_MEM"
	case SectionSNPSecrets:
		return "SNP_SECRETS"
	case SectionCPUID:
		return "CPUID"
	case SectionSVSMCAA:
		return "SVSM_CAA"
	case SectionSNPKernelHashes:
		return "SNP_KERNEL_HASHES"
	}
	return fmt.Sprintf("section type %#x", uint32(t))
}

// Section is one entry of the SEV metadata: a guest-physical range and
// what the hypervisor puts there before launch.
type Section struct {
	GPA  uint32
	Size uint32
	Type SectionType
}

// OVMF is a parsed OVMF (or other SEV-aware firmware) image.
type OVMF struct {
	// Image is the whole firmware volume as mapped below 4 GiB.
	Image []byte
	// Table holds the footer table entries, last in the file first.
	Table fwtable.Table
	// Sections are the SEV metadata sections in declaration order; nil
	// when the image has no SEV metadata (not SNP-capable).
	Sections []Section
}

const (
	fourGiB          = 1 << 32
	pageSize         = 4096
	metadataHdrSize  = 16 // "ASEV", size, version, item count
	metadataItemSize = 12 // GPA, size, type (UINT32 each)
)

// ParseOVMF reads the footer table and SEV metadata of a firmware image.
// It keeps a reference to b.
func ParseOVMF(b []byte) (*OVMF, error) {
	if len(b) == 0 || len(b)%pageSize != 0 {
		return nil, fmt.Errorf("%w: image is %d bytes, want a non-zero multiple of %d", ErrMalformed, len(b), pageSize)
	}
	if len(b) > fourGiB {
		return nil, fmt.Errorf("%w: image is %d bytes, larger than the 4 GiB it is mapped below", ErrMalformed, len(b))
	}
	o := &OVMF{Image: b}
	t, err := fwtable.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	o.Table = t
	if err := o.parseMetadata(); err != nil {
		return nil, err
	}
	return o, nil
}

// Entry returns the data of the footer table entry with GUID g.
func (o *OVMF) Entry(g fwtable.GUID) ([]byte, bool) { return o.Table.Lookup(g) }

func (o *OVMF) entryU32(g fwtable.GUID, name string) (uint32, error) {
	v, err := o.Table.U32(g, name)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return v, nil
}

func (o *OVMF) parseMetadata() error {
	if _, ok := o.Entry(SEVMetadataGUID); !ok {
		return nil // not SNP-capable firmware; LaunchDigest says so
	}
	off, err := o.entryU32(SEVMetadataGUID, "SEV metadata")
	if err != nil {
		return err
	}
	if off < metadataHdrSize || int64(off) > int64(len(o.Image)) {
		return fmt.Errorf("%w: SEV metadata offset %#x from the end is outside the %d-byte image", ErrMalformed, off, len(o.Image))
	}
	start := len(o.Image) - int(off)
	h := o.Image[start:]
	if string(h[0:4]) != "ASEV" {
		return fmt.Errorf("%w: SEV metadata signature %q, want \"ASEV\"", ErrMalformed, h[0:4])
	}
	size := binary.LittleEndian.Uint32(h[4:])
	version := binary.LittleEndian.Uint32(h[8:])
	n := binary.LittleEndian.Uint32(h[12:])
	if version != 1 {
		return fmt.Errorf("%w: SEV metadata version %d, want 1", ErrMalformed, version)
	}
	if int64(size) > int64(len(h)) || int64(size) < metadataHdrSize+int64(n)*metadataItemSize {
		return fmt.Errorf("%w: SEV metadata of %d bytes cannot hold %d sections (%d bytes from its start to the end of the image)", ErrMalformed, size, n, len(h))
	}
	o.Sections = make([]Section, 0, n)
	for i := range int(n) {
		it := h[metadataHdrSize+i*metadataItemSize:]
		s := Section{
			GPA:  binary.LittleEndian.Uint32(it),
			Size: binary.LittleEndian.Uint32(it[4:]),
			Type: SectionType(binary.LittleEndian.Uint32(it[8:])),
		}
		switch s.Type {
		case SectionSNPSecMem, SectionSNPSecrets, SectionCPUID, SectionSVSMCAA, SectionSNPKernelHashes:
		default:
			return fmt.Errorf("%w: SEV metadata section %d has unknown %s", ErrMalformed, i, s.Type)
		}
		if s.GPA%pageSize != 0 || s.Size%pageSize != 0 || s.Size == 0 {
			return fmt.Errorf("%w: SEV metadata section %d (%s) at GPA %#x size %#x is not whole pages", ErrMalformed, i, s.Type, s.GPA, s.Size)
		}
		if uint64(s.GPA)+uint64(s.Size) > fourGiB {
			return fmt.Errorf("%w: SEV metadata section %d (%s) at GPA %#x size %#x ends above 4 GiB", ErrMalformed, i, s.Type, s.GPA, s.Size)
		}
		o.Sections = append(o.Sections, s)
	}
	return nil
}

// GPA is the guest-physical address the image is mapped at: it ends at
// 4 GiB.
func (o *OVMF) GPA() uint64 { return fourGiB - uint64(len(o.Image)) }

// ResetEIP is the APs' reset vector from the SEV-ES reset block.
func (o *OVMF) ResetEIP() (uint32, error) {
	return o.entryU32(SEVESResetGUID, "SEV-ES reset block")
}

// HashesTableGPA is where the firmware expects QEMU's SEV hashes table.
func (o *OVMF) HashesTableGPA() (uint32, error) {
	return o.entryU32(SEVHashTableRVGUID, "SEV hashes table")
}

// HasSection reports whether the metadata declares a section of type t.
func (o *OVMF) HasSection(t SectionType) bool {
	for _, s := range o.Sections {
		if s.Type == t {
			return true
		}
	}
	return false
}
