// Package fwtable reads the GUIDed footer table that OVMF-derived
// firmware (OVMF, TDVF) keeps just below its reset vector, and the UEFI
// GUIDs that key it. It is shared by the SEV-SNP and TDX calculators.
//
// Layout (edk2 OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm): the last
// 32 bytes of the image hold the reset vector; immediately before them
// sits the footer entry (UINT16 total table size, table footer GUID), and
// before that the entries, each its data followed by UINT16 size (data +
// 18) and GUID, read from the end backwards.
package fwtable

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed reports a footer table that cannot be read.
var ErrMalformed = errors.New("malformed firmware footer table")

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

// MustGUID is ParseGUID for constants; it panics on a malformed literal.
func MustGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
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

// FooterGUID marks the table (OVMF_TABLE_FOOTER_GUID).
var FooterGUID = MustGUID("96b582de-1fb2-45f7-baea-a366c55a082d")

// Entry is one entry of the footer table.
type Entry struct {
	GUID GUID
	Data []byte
}

// Table is the footer table, last entry in the file first.
type Table []Entry

const (
	entryHeader = 2 + 16 // UINT16 size, GUID
	resetArea   = 32     // bytes after the footer entry
)

// Parse reads the footer table at the end of image. The entries' Data
// alias image.
func Parse(image []byte) (Table, error) {
	end := len(image) - resetArea
	start := end - entryHeader
	if start < 0 {
		return nil, fmt.Errorf("%w: image of %d bytes is too small for a footer table", ErrMalformed, len(image))
	}
	if GUID(image[start+2:end]) != FooterGUID {
		return nil, fmt.Errorf("%w: no table footer GUID %s %d bytes from the end", ErrMalformed, FooterGUID, len(image)-start-2)
	}
	total := int(binary.LittleEndian.Uint16(image[start:]))
	if total < entryHeader || total-entryHeader > start {
		return nil, fmt.Errorf("%w: table size %d out of range", ErrMalformed, total)
	}
	b := image[start-(total-entryHeader) : start]
	var t Table
	for len(b) > 0 {
		if len(b) < entryHeader {
			return nil, fmt.Errorf("%w: %d stray bytes at the start of the table", ErrMalformed, len(b))
		}
		hdr := b[len(b)-entryHeader:]
		size := int(binary.LittleEndian.Uint16(hdr))
		g := GUID(hdr[2:])
		if size < entryHeader || size > len(b) {
			return nil, fmt.Errorf("%w: entry %s has size %d, %d bytes left", ErrMalformed, g, size, len(b))
		}
		t = append(t, Entry{GUID: g, Data: b[len(b)-size : len(b)-entryHeader]})
		b = b[:len(b)-size]
	}
	return t, nil
}

// Lookup returns the data of the entry with GUID g.
func (t Table) Lookup(g GUID) ([]byte, bool) {
	for _, e := range t {
		if e.GUID == g {
			return e.Data, true
		}
	}
	return nil, false
}

// U32 reads the little-endian UINT32 at the start of the entry g, which
// is how the offset and address entries are stored; name is for errors.
func (t Table) U32(g GUID, name string) (uint32, error) {
	d, ok := t.Lookup(g)
	if !ok {
		return 0, fmt.Errorf("%w: no %s entry (%s)", ErrMalformed, name, g)
	}
	if len(d) < 4 {
		return 0, fmt.Errorf("%w: %s entry is %d bytes, want at least 4", ErrMalformed, name, len(d))
	}
	return binary.LittleEndian.Uint32(d), nil
}
