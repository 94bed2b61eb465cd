package nitro

import (
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// ErrMalformed reports an EIF that cannot be read.
var ErrMalformed = errors.New("nitro: malformed EIF")

// SectionType is an EIF section type (EifSectionType).
type SectionType uint16

// Section types.
const (
	SectionKernel    SectionType = 1
	SectionCmdline   SectionType = 2
	SectionRamdisk   SectionType = 3
	SectionSignature SectionType = 4
	SectionMetadata  SectionType = 5
)

func (t SectionType) String() string {
	switch t {
	case SectionKernel:
		return "kernel"
	case SectionCmdline:
		return "cmdline"
	case SectionRamdisk:
		return "ramdisk"
	case SectionSignature:
		return "signature"
	case SectionMetadata:
		return "metadata"
	}
	return fmt.Sprintf("section type %d", uint16(t))
}

// Section is one section of the file.
type Section struct {
	Type  SectionType
	Flags uint16
	// Offset is where the section's header starts in the file.
	Offset int
	// Data aliases the file.
	Data []byte
}

// Header is the EIF header (EifHeader).
type Header struct {
	Version     uint16
	Flags       uint16 // bit 0: aarch64
	DefaultMem  uint64
	DefaultCPUs uint64
	NumSections uint16
	CRC32       uint32 // over the file but this field
}

// EIF is a parsed enclave image file.
type EIF struct {
	Header   Header
	Sections []Section
	// CRCValid reports whether Header.CRC32 matches the file.
	CRCValid bool
}

const (
	headerSize        = 548
	sectionHeaderSize = 12
	maxSections       = 32
)

var magic = [4]byte{'.', 'e', 'i', 'f'}

// ParseEIF reads the header and sections of an EIF. The sections' Data
// alias b.
func ParseEIF(b []byte) (*EIF, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrMalformed, len(b), headerSize)
	}
	if [4]byte(b[0:4]) != magic {
		return nil, fmt.Errorf("%w: magic % x, want \".eif\"", ErrMalformed, b[0:4])
	}
	be := binary.BigEndian
	h := Header{
		Version:     be.Uint16(b[4:]),
		Flags:       be.Uint16(b[6:]),
		DefaultMem:  be.Uint64(b[8:]),
		DefaultCPUs: be.Uint64(b[16:]),
		NumSections: be.Uint16(b[26:]),
		CRC32:       be.Uint32(b[headerSize-4:]),
	}
	if h.NumSections > maxSections {
		return nil, fmt.Errorf("%w: header declares %d sections, at most %d", ErrMalformed, h.NumSections, maxSections)
	}
	e := &EIF{Header: h}
	off := headerSize
	for off < len(b) {
		if len(b)-off < sectionHeaderSize {
			return nil, fmt.Errorf("%w: %d stray bytes after section %d", ErrMalformed, len(b)-off, len(e.Sections))
		}
		if len(e.Sections) == maxSections {
			return nil, fmt.Errorf("%w: more than %d sections", ErrMalformed, maxSections)
		}
		s := Section{Type: SectionType(be.Uint16(b[off:])), Flags: be.Uint16(b[off+2:]), Offset: off}
		size := be.Uint64(b[off+4:])
		if s.Type < SectionKernel || s.Type > SectionMetadata {
			return nil, fmt.Errorf("%w: section %d at offset %d has %s", ErrMalformed, len(e.Sections), off, s.Type)
		}
		start := off + sectionHeaderSize
		if size > uint64(len(b)-start) {
			return nil, fmt.Errorf("%w: %s section at offset %d is %d bytes, %d left in the file", ErrMalformed, s.Type, off, size, len(b)-start)
		}
		s.Data = b[start : start+int(size)]
		e.Sections = append(e.Sections, s)
		off = start + int(size)
	}
	if len(e.Sections) != int(h.NumSections) {
		return nil, fmt.Errorf("%w: header declares %d sections, the file holds %d", ErrMalformed, h.NumSections, len(e.Sections))
	}
	if err := e.checkLayout(); err != nil {
		return nil, err
	}
	crc := crc32.NewIEEE()
	crc.Write(b[:headerSize-4])
	crc.Write(b[headerSize:])
	e.CRCValid = crc.Sum32() == h.CRC32
	return e, nil
}

// checkLayout requires what a bootable image has: one kernel and one
// command line, and a first ramdisk for PCR1.
func (e *EIF) checkLayout() error {
	var kernels, cmdlines, ramdisks int
	for _, s := range e.Sections {
		switch s.Type {
		case SectionKernel:
			kernels++
		case SectionCmdline:
			cmdlines++
		case SectionRamdisk:
			ramdisks++
		}
	}
	if kernels != 1 || cmdlines != 1 || ramdisks == 0 {
		return fmt.Errorf("%w: %d kernel, %d cmdline and %d ramdisk sections; want one, one and at least one", ErrMalformed, kernels, cmdlines, ramdisks)
	}
	return nil
}

// DigestSize is the size of a PCR (SHA-384).
const DigestSize = sha512.Size384

// PCRs are the image's measurements.
type PCRs struct {
	PCR0, PCR1, PCR2 [DigestSize]byte
}

// Measure computes PCR0, PCR1 and PCR2.
func Measure(e *EIF) PCRs {
	image, boot, app := sha512.New384(), sha512.New384(), sha512.New384()
	ramdisk := 0
	for _, s := range e.Sections {
		switch s.Type {
		case SectionKernel, SectionCmdline:
			image.Write(s.Data)
			boot.Write(s.Data)
		case SectionRamdisk:
			image.Write(s.Data)
			if ramdisk == 0 {
				boot.Write(s.Data)
			} else {
				app.Write(s.Data)
			}
			ramdisk++
		}
	}
	return PCRs{PCR0: extend(image.Sum(nil)), PCR1: extend(boot.Sum(nil)), PCR2: extend(app.Sum(nil))}
}

// extend is one PCR extend of a zero register.
func extend(d []byte) [DigestSize]byte {
	var buf [2 * DigestSize]byte
	copy(buf[DigestSize:], d)
	return sha512.Sum384(buf[:])
}

// Marshal writes the image: the header (offsets table pointing at each
// section's header, sizes table giving each section's data size, CRC-32
// computed afresh) and the sections in order. Offset fields of Sections
// are ignored.
func (e *EIF) Marshal() []byte {
	be := binary.BigEndian
	n := 0
	for _, s := range e.Sections {
		n += sectionHeaderSize + len(s.Data)
	}
	b := make([]byte, headerSize, headerSize+n)
	copy(b, magic[:])
	be.PutUint16(b[4:], e.Header.Version)
	be.PutUint16(b[6:], e.Header.Flags)
	be.PutUint64(b[8:], e.Header.DefaultMem)
	be.PutUint64(b[16:], e.Header.DefaultCPUs)
	be.PutUint16(b[26:], uint16(len(e.Sections)))
	for i, s := range e.Sections {
		if i < maxSections {
			be.PutUint64(b[28+8*i:], uint64(len(b)))
			be.PutUint64(b[28+8*maxSections+8*i:], uint64(len(s.Data)))
		}
		var h [sectionHeaderSize]byte
		be.PutUint16(h[0:], uint16(s.Type))
		be.PutUint16(h[2:], s.Flags)
		be.PutUint64(h[4:], uint64(len(s.Data)))
		b = append(b, h[:]...)
		b = append(b, s.Data...)
	}
	crc := crc32.NewIEEE()
	crc.Write(b[:headerSize-4])
	crc.Write(b[headerSize:])
	be.PutUint32(b[headerSize-4:], crc.Sum32())
	return b
}
