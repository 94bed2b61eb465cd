package bootchain

import (
	"crypto"
	_ "crypto/sha1" // the banks an image is hashed in
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/binary"
	"fmt"
	"slices"
)

// Offsets in a PE/COFF image (Microsoft PE Format: "MS-DOS Stub",
// "Signature", "COFF File Header", "Optional Header Standard Fields",
// "Optional Header Windows-Specific Fields", "Optional Header Data
// Directories").
const (
	dosLfanewOff      = 0x3c // e_lfanew: file offset of "PE\0\0"
	coffHeaderSize    = 20
	sectionHeaderSize = 40
	optMagicPE32      = 0x10b
	optMagicPE32Plus  = 0x20b
	optSizeOfHeaders  = 60 // SizeOfHeaders, both formats
	optCheckSum       = 64 // CheckSum, both formats
	optNumDirsPE32    = 92 // NumberOfRvaAndSizes
	optNumDirsPE32P   = 108
	dirCertificate    = 4 // Certificate Table: a file offset, not an RVA
	dataDirSize       = 8
)

// Image is a PE/COFF image read far enough to compute its Authenticode
// digest: the byte ranges the digest covers, in the order they are
// hashed.
type Image struct {
	data   []byte
	ranges [][2]int // [start, end) file offsets
	// CertOffset and CertSize locate the attribute certificate table
	// (WIN_CERTIFICATE entries), zero when the image is unsigned.
	CertOffset, CertSize int
}

// ParsePE reads the headers and section table of a PE/COFF image and
// works out what its Authenticode digest covers (Microsoft "Windows
// Authenticode Portable Executable Signature Format" 1.0, "Calculating
// the PE Image Hash"): the headers up to SizeOfHeaders without the
// CheckSum field and the Certificate Table directory entry; each section
// with raw data, in file-offset order; then whatever follows the last
// section except the attribute certificate table. Everything that does
// not fit in the file is ErrMalformed. ParsePE keeps b; it does no
// hashing.
func ParsePE(b []byte) (*Image, error) {
	u16 := func(off int) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
	u32 := func(off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
	if len(b) < dosLfanewOff+4 || string(b[:2]) != "MZ" {
		return nil, fmt.Errorf("%w: no MZ header", ErrMalformed)
	}
	pe := int(u32(dosLfanewOff))
	if pe < 0 || pe > len(b)-4-coffHeaderSize || string(b[pe:pe+4]) != "PE\x00\x00" {
		return nil, fmt.Errorf("%w: e_lfanew %#x does not point at a PE signature in %d bytes", ErrMalformed, pe, len(b))
	}
	coff := pe + 4
	nSections := int(u16(coff + 2))
	optSize := int(u16(coff + 16))
	opt := coff + coffHeaderSize
	if opt+optSize > len(b) || optSize < optCheckSum+4 {
		return nil, fmt.Errorf("%w: optional header of %d bytes at %#x does not fit in %d bytes", ErrMalformed, optSize, opt, len(b))
	}
	var numDirsOff int
	switch m := u16(opt); m {
	case optMagicPE32:
		numDirsOff = optNumDirsPE32
	case optMagicPE32Plus:
		numDirsOff = optNumDirsPE32P
	default:
		return nil, fmt.Errorf("%w: optional header magic %#x, want %#x or %#x", ErrMalformed, m, optMagicPE32, optMagicPE32Plus)
	}
	sizeOfHeaders := int(u32(opt + optSizeOfHeaders))
	sections := opt + optSize
	if sections+nSections*sectionHeaderSize > len(b) {
		return nil, fmt.Errorf("%w: %d section headers at %#x do not fit in %d bytes", ErrMalformed, nSections, sections, len(b))
	}
	if sizeOfHeaders < sections+nSections*sectionHeaderSize || sizeOfHeaders > len(b) {
		return nil, fmt.Errorf("%w: SizeOfHeaders %#x, want the section table's end (%#x) to the file's (%#x)", ErrMalformed, sizeOfHeaders, sections+nSections*sectionHeaderSize, len(b))
	}
	im := &Image{data: b}
	checksum := opt + optCheckSum
	im.ranges = append(im.ranges, [2]int{0, checksum})
	// Without a Certificate Table entry nothing but CheckSum is skipped
	// (as EDK2's DxeImageVerificationLib and osslsigncode do).
	if numDirsOff+4 <= optSize && int(u32(opt+numDirsOff)) > dirCertificate && numDirsOff+4+(dirCertificate+1)*dataDirSize <= optSize {
		certDir := opt + numDirsOff + 4 + dirCertificate*dataDirSize
		im.ranges = append(im.ranges, [2]int{checksum + 4, certDir}, [2]int{certDir + dataDirSize, sizeOfHeaders})
		off, size := int(u32(certDir)), int(u32(certDir+4))
		if size != 0 {
			if off < sizeOfHeaders || off > len(b) || size > len(b)-off {
				return nil, fmt.Errorf("%w: certificate table [%#x, +%#x) outside the file's %#x bytes after its headers", ErrMalformed, off, size, len(b))
			}
			im.CertOffset, im.CertSize = off, size
		}
	} else {
		im.ranges = append(im.ranges, [2]int{checksum + 4, sizeOfHeaders})
	}
	type raw struct{ off, size int }
	var raws []raw
	for i := range nSections {
		s := sections + i*sectionHeaderSize
		size, off := int(u32(s+16)), int(u32(s+20)) // SizeOfRawData, PointerToRawData
		if size == 0 {
			continue
		}
		if off < 0 || off > len(b) || size < 0 || size > len(b)-off {
			return nil, fmt.Errorf("%w: section %d raw data [%#x, +%#x) outside the file's %#x bytes", ErrMalformed, i, off, size, len(b))
		}
		raws = append(raws, raw{off, size})
	}
	slices.SortStableFunc(raws, func(a, b raw) int { return a.off - b.off })
	hashed := sizeOfHeaders
	for _, r := range raws {
		im.ranges = append(im.ranges, [2]int{r.off, r.off + r.size})
		hashed += r.size
	}
	// Trailing data: the spec hashes FileSize - (CertSize +
	// SUM_OF_BYTES_HASHED) bytes from offset SUM_OF_BYTES_HASHED.
	if end := len(b) - im.CertSize; end > hashed {
		im.ranges = append(im.ranges, [2]int{hashed, end})
	}
	return im, nil
}

// Digest returns the Authenticode digest of the image in h (SHA-1,
// SHA-256 or SHA-384: what a TPM bank or an RTMR needs).
func (im *Image) Digest(h crypto.Hash) []byte {
	w := h.New()
	for _, r := range im.ranges {
		w.Write(im.data[r[0]:r[1]])
	}
	return w.Sum(nil)
}

// Certificates returns the attribute certificate table (a sequence of
// WIN_CERTIFICATE structures), nil for an unsigned image.
func (im *Image) Certificates() []byte {
	if im.CertSize == 0 {
		return nil
	}
	return im.data[im.CertOffset : im.CertOffset+im.CertSize]
}
