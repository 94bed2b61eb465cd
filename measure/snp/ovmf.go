package snp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed reports an OVMF image whose footer table or SEV metadata
// cannot be read.
var ErrMalformed = errors.New("snp: malformed OVMF image")

// ErrInput reports measurement inputs that do not fit the image: a
// kernel for firmware without a hashes section, zero vCPUs, an unknown
// VMM.
var ErrInput = errors.New("snp: unusable measurement input")

// GUID is a UEFI GUID in its in-memory (mixed-endian) byte order.
type GUID [16]byte

// ParseGUID reads the textual form "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
// into the byte order UEFI stores: the first three fields little-endian,
// the last two as written.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, fmt.Errorf("guid %q: want the 8-4-4-4-12 form", s)
	}
	var raw [16]byte
	hexs := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	for i := range raw {
		hi, ok1 := unhex(hexs[2*i])
		lo, ok2 := unhex(hexs[2*i+1])
		if !ok1 || !ok2 {
			return g, fmt.Errorf("guid %q: not hexadecimal", s)
		}
		raw[i] = hi<<4 | lo
	}
	g[0], g[1], g[2], g[3] = raw[3], raw[2], raw[1], raw[0]
	g[4], g[5] = raw[5], raw[4]
	g[6], g[7] = raw[7], raw[6]
	copy(g[8:], raw[8:])
	return g, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// String gives the textual form, lower case.
func (g GUID) String() string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(g[0:4]), binary.LittleEndian.Uint16(g[4:6]),
		binary.LittleEndian.Uint16(g[6:8]), g[8:10], g[10:16])
}

func mustGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err) // only the constants below reach here
	}
	return g
}

// GUIDs of the OVMF footer table and the SEV hashes table (OVMF
// OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm; QEMU target/i386/sev.c).
var (
	FooterTableGUID    = mustGUID("96b582de-1fb2-45f7-baea-a366c55a082d") // OVMF_TABLE_FOOTER_GUID
	SEVESResetGUID     = mustGUID("00f771de-1a7e-4fcb-890e-68c77e2fb44e") // SEV_ES_RESET_BLOCK_GUID
	SEVMetadataGUID    = mustGUID("dc886566-984a-4798-a75e-5585a7bf67cc") // OVMF_SEV_METADATA_GUID
	SEVHashTableRVGUID = mustGUID("7255371f-3a3b-4b04-927b-1da6efa8d454") // SEV_HASH_TABLE_RV_GUID
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

// TableEntry is one entry of the OVMF footer table.
type TableEntry struct {
	GUID GUID
	Data []byte
}

// OVMF is a parsed OVMF (or other SEV-aware firmware) image.
type OVMF struct {
	// Image is the whole firmware volume as mapped below 4 GiB.
	Image []byte
	// Table holds the footer table entries, last in the file first.
	Table []TableEntry
	// Sections are the SEV metadata sections in declaration order; nil
	// when the image has no SEV metadata (not SNP-capable).
	Sections []Section
}

const (
	fourGiB         = 1 << 32
	pageSize        = 4096
	footerEntrySize = 2 + 16 // UINT16 size, GUID
	// The table's footer entry ends 32 bytes before the end of the image,
	// where the reset vector lives (ResetVectorVtf0.asm).
	footerEnd        = 32
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
	if err := o.parseTable(); err != nil {
		return nil, err
	}
	if err := o.parseMetadata(); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *OVMF) parseTable() error {
	b := o.Image
	end := len(b) - footerEnd
	start := end - footerEntrySize
	if start < 0 {
		return fmt.Errorf("%w: image too small for a footer table", ErrMalformed)
	}
	if GUID(b[start+2:end]) != FooterTableGUID {
		return fmt.Errorf("%w: no footer table GUID %s at offset %#x from the end", ErrMalformed, FooterTableGUID, len(b)-start-2)
	}
	total := int(binary.LittleEndian.Uint16(b[start:]))
	if total < footerEntrySize || total-footerEntrySize > start {
		return fmt.Errorf("%w: footer table size %d out of range", ErrMalformed, total)
	}
	table := b[start-(total-footerEntrySize) : start]
	for len(table) > 0 {
		if len(table) < footerEntrySize {
			return fmt.Errorf("%w: %d stray bytes at the start of the footer table", ErrMalformed, len(table))
		}
		hdr := table[len(table)-footerEntrySize:]
		size := int(binary.LittleEndian.Uint16(hdr))
		g := GUID(hdr[2:])
		if size < footerEntrySize || size > len(table) {
			return fmt.Errorf("%w: footer table entry %s has size %d, %d bytes left", ErrMalformed, g, size, len(table))
		}
		o.Table = append(o.Table, TableEntry{GUID: g, Data: table[len(table)-size : len(table)-footerEntrySize]})
		table = table[:len(table)-size]
	}
	return nil
}

// Entry returns the data of the footer table entry with GUID g.
func (o *OVMF) Entry(g GUID) ([]byte, bool) {
	for _, e := range o.Table {
		if e.GUID == g {
			return e.Data, true
		}
	}
	return nil, false
}

func (o *OVMF) entryU32(g GUID, name string) (uint32, error) {
	d, ok := o.Entry(g)
	if !ok {
		return 0, fmt.Errorf("%w: footer table has no %s entry (%s)", ErrMalformed, name, g)
	}
	if len(d) < 4 {
		return 0, fmt.Errorf("%w: %s entry is %d bytes, want at least 4", ErrMalformed, name, len(d))
	}
	return binary.LittleEndian.Uint32(d), nil
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
