package tdx

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/assay-dev/assay/measure/fwtable"
)

// ErrMalformed reports a TDVF image whose footer table or metadata cannot
// be read.
var ErrMalformed = errors.New("tdx: malformed TDVF image")

// MetadataGUID is the footer table entry holding the offset of the TDVF
// descriptor from the end of the image (TDX_METADATA_OFFSET_GUID).
var MetadataGUID = fwtable.MustGUID("e47a6535-984a-4798-865e-4685a7bf8ec2")

// SectionType is a TDVF section type (TDVF Design Guide Table 11-3).
type SectionType uint32

// Section types.
const (
	SectionBFV          SectionType = 0 // boot firmware volume
	SectionCFV          SectionType = 1 // configuration firmware volume (variables)
	SectionTDHOB        SectionType = 2
	SectionTempMem      SectionType = 3
	SectionPermMem      SectionType = 4
	SectionPayload      SectionType = 5
	SectionPayloadParam SectionType = 6
)

func (t SectionType) String() string {
	switch t {
	case SectionBFV:
		return "BFV"
	case SectionCFV:
		return "CFV"
	case SectionTDHOB:
		return "TD_HOB"
	case SectionTempMem:
		return "TempMem"
	case SectionPermMem:
		return "PermMem"
	case SectionPayload:
		return "Payload"
	case SectionPayloadParam:
		return "PayloadParam"
	}
	return fmt.Sprintf("section type %d", uint32(t))
}

// Section attributes.
const (
	AttrMRExtend uint32 = 1 << 0 // MR.EXTEND: extend the contents into MRTD
	AttrPageAug  uint32 = 1 << 1 // PAGE.AUG: added after build, unmeasured
)

// Section is one TDVF_SECTION (TDVF Design Guide Table 11-2).
type Section struct {
	DataOffset     uint32 // DataOffset: in the image
	RawDataSize    uint32 // RawDataSize: bytes in the image
	MemoryAddress  uint64 // MemoryAddress: GPA, page aligned
	MemoryDataSize uint64 // MemoryDataSize: bytes of guest memory, whole pages
	Type           SectionType
	Attributes     uint32
}

// TDVF is a parsed TDVF image.
type TDVF struct {
	// Image is the whole firmware file.
	Image []byte
	// Version is the descriptor's version (1).
	Version uint32
	// Sections in descriptor order, which is the order the VMM adds them.
	Sections []Section
}

const (
	pageSize        = 4096
	chunkSize       = 256 // TDH.MR.EXTEND granularity
	descriptorSize  = 16  // "TDVF", length, version, number of sections
	sectionSize     = 32
	maxSections     = 64
	maxMeasuredSize = 1 << 30 // bound on the guest memory a descriptor may ask to measure
)

// ParseTDVF reads the TDVF metadata of a firmware image. It keeps a
// reference to b.
func ParseTDVF(b []byte) (*TDVF, error) {
	tab, err := fwtable.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	off, err := tab.U32(MetadataGUID, "TDX metadata offset")
	if err != nil {
		return nil, fmt.Errorf("%w: %w (not a TDVF image)", ErrMalformed, err)
	}
	if off < descriptorSize || int64(off) > int64(len(b)) {
		return nil, fmt.Errorf("%w: descriptor offset %#x from the end is outside the %d-byte image", ErrMalformed, off, len(b))
	}
	d := b[len(b)-int(off):]
	if string(d[0:4]) != "TDVF" {
		return nil, fmt.Errorf("%w: descriptor signature %q, want \"TDVF\"", ErrMalformed, d[0:4])
	}
	length := binary.LittleEndian.Uint32(d[4:])
	t := &TDVF{Image: b, Version: binary.LittleEndian.Uint32(d[8:])}
	n := binary.LittleEndian.Uint32(d[12:])
	if t.Version != 1 {
		return nil, fmt.Errorf("%w: descriptor version %d, want 1", ErrMalformed, t.Version)
	}
	if n == 0 || n > maxSections {
		return nil, fmt.Errorf("%w: %d sections, want 1 to %d", ErrMalformed, n, maxSections)
	}
	if want := descriptorSize + int64(n)*sectionSize; int64(length) != want || want > int64(len(d)) {
		return nil, fmt.Errorf("%w: descriptor length %d for %d sections (want %d, %d bytes to the end of the image)", ErrMalformed, length, n, want, len(d))
	}
	var measured uint64
	for i := range int(n) {
		r := d[descriptorSize+i*sectionSize:]
		s := Section{
			DataOffset:     binary.LittleEndian.Uint32(r),
			RawDataSize:    binary.LittleEndian.Uint32(r[4:]),
			MemoryAddress:  binary.LittleEndian.Uint64(r[8:]),
			MemoryDataSize: binary.LittleEndian.Uint64(r[16:]),
			Type:           SectionType(binary.LittleEndian.Uint32(r[24:])),
			Attributes:     binary.LittleEndian.Uint32(r[28:]),
		}
		if err := s.check(len(b)); err != nil {
			return nil, fmt.Errorf("%w: section %d (%s): %w", ErrMalformed, i, s.Type, err)
		}
		measured += s.MemoryDataSize
		if measured > maxMeasuredSize {
			return nil, fmt.Errorf("%w: sections cover more than %d bytes of guest memory", ErrMalformed, maxMeasuredSize)
		}
		t.Sections = append(t.Sections, s)
	}
	return t, nil
}

func (s Section) check(imageSize int) error {
	if s.Type > SectionPayloadParam {
		return errors.New("unknown section type")
	}
	if s.Attributes&^(AttrMRExtend|AttrPageAug) != 0 {
		return fmt.Errorf("unknown attributes %#x", s.Attributes)
	}
	if s.Attributes&AttrMRExtend != 0 && s.Attributes&AttrPageAug != 0 {
		return errors.New("both MR.EXTEND and PAGE.AUG: an unadded page cannot be extended")
	}
	if s.MemoryAddress%pageSize != 0 || s.MemoryDataSize%pageSize != 0 {
		return fmt.Errorf("guest range %#x+%#x is not whole pages", s.MemoryAddress, s.MemoryDataSize)
	}
	if s.MemoryAddress+s.MemoryDataSize < s.MemoryAddress {
		return fmt.Errorf("guest range %#x+%#x wraps", s.MemoryAddress, s.MemoryDataSize)
	}
	if uint64(s.RawDataSize) > s.MemoryDataSize {
		return fmt.Errorf("raw size %#x exceeds memory size %#x", s.RawDataSize, s.MemoryDataSize)
	}
	if uint64(s.DataOffset)+uint64(s.RawDataSize) > uint64(imageSize) {
		return fmt.Errorf("file range %#x+%#x beyond the %d-byte image", s.DataOffset, s.RawDataSize, imageSize)
	}
	if s.Attributes&AttrMRExtend != 0 && uint64(s.RawDataSize) != s.MemoryDataSize {
		// What the VMM copies beyond the raw data is not in the image,
		// so the extended contents would be a guess.
		return fmt.Errorf("MR.EXTEND with raw size %#x short of memory size %#x", s.RawDataSize, s.MemoryDataSize)
	}
	return nil
}
