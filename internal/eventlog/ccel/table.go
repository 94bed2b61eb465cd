package ccel

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Sizes of the CCEL ACPI table (ACPI 6.5 section 5.2.34, "CC Event Log
// ACPI Table"): the 36-byte system description header, then
// CC Type (1), CC Subtype (1), Reserved (2), LAML (8) and LASA (8).
const (
	acpiHeaderSize = 36
	tableSize      = 56
)

// CCType is the table's CC Type (ACPI 6.5 section 5.2.34).
type CCType uint8

// CC types.
const (
	CCTypeReserved CCType = 0
	CCTypeSEV      CCType = 1
	CCTypeTDX      CCType = 2
)

// String names the CC type.
func (c CCType) String() string {
	switch c {
	case CCTypeSEV:
		return "AMD SEV"
	case CCTypeTDX:
		return "Intel TDX"
	case CCTypeReserved:
		return "reserved"
	}
	return fmt.Sprintf("reserved (%d)", uint8(c))
}

// Table is the CCEL ACPI table. It only locates the log in guest memory
// (LASA, LAML); it proves nothing and is not part of any measurement.
//
// The older TDX "TDEL" table of the GHCI 1.0 specification has the same
// size, a 4-byte Reserved field where CCEL has CC Type and Subtype, and
// LAML and LASA at the same offsets; it is read with CCType 0.
type Table struct {
	Signature       string `json:"signature"`        // "CCEL" (or "TDEL")
	Length          uint32 `json:"length"`           // Length
	Revision        uint8  `json:"revision"`         // Revision
	Checksum        uint8  `json:"checksum"`         // Checksum
	ChecksumOK      bool   `json:"checksum_ok"`      // the table's bytes sum to 0 mod 256
	OEMID           string `json:"oem_id"`           // OEMID
	OEMTableID      string `json:"oem_table_id"`     // OEM Table ID
	OEMRevision     uint32 `json:"oem_revision"`     // OEM Revision
	CreatorID       string `json:"creator_id"`       // Creator ID
	CreatorRevision uint32 `json:"creator_revision"` // Creator Revision
	CCType          CCType `json:"cc_type"`          // CC Type
	CCSubtype       uint8  `json:"cc_subtype"`       // CC Subtype
	LAML            uint64 `json:"laml"`             // Log Area Minimum Length
	LASA            uint64 `json:"lasa"`             // Log Area Start Address
}

// ParseACPITable parses a CCEL ACPI table, as read from
// /sys/firmware/acpi/tables/CCEL. It checks the signature and that
// Length covers the 56 bytes of the table and equals the input's size; a
// wrong checksum is reported in ChecksumOK, not refused, since the table
// is descriptive only.
func ParseACPITable(b []byte) (*Table, error) {
	if len(b) < tableSize {
		return nil, fmt.Errorf("%w: CCEL table is %d bytes, want %d", ErrMalformed, len(b), tableSize)
	}
	sig := string(b[:4])
	if sig != "CCEL" && sig != "TDEL" {
		return nil, fmt.Errorf("%w: ACPI table signature is %q, want \"CCEL\"", ErrMalformed, b[:4])
	}
	n := binary.LittleEndian.Uint32(b[4:])
	if n < tableSize || int64(n) != int64(len(b)) {
		return nil, fmt.Errorf("%w: CCEL table Length is %d, input is %d bytes (at least %d)", ErrMalformed, n, len(b), tableSize)
	}
	var sum byte
	for _, c := range b {
		sum += c
	}
	t := &Table{
		Signature:       sig,
		Length:          n,
		Revision:        b[8],
		Checksum:        b[9],
		ChecksumOK:      sum == 0,
		OEMID:           acpiString(b[10:16]),
		OEMTableID:      acpiString(b[16:24]),
		OEMRevision:     binary.LittleEndian.Uint32(b[24:]),
		CreatorID:       acpiString(b[28:32]),
		CreatorRevision: binary.LittleEndian.Uint32(b[32:]),
		LAML:            binary.LittleEndian.Uint64(b[40:]),
		LASA:            binary.LittleEndian.Uint64(b[48:]),
	}
	if sig == "CCEL" {
		t.CCType = CCType(b[36])
		t.CCSubtype = b[37]
	}
	return t, nil
}

// acpiString returns a fixed-width ACPI ID field without its padding,
// hex-escaped where it is not printable ASCII.
func acpiString(b []byte) string {
	s := strings.TrimRight(string(b), " \x00")
	for _, c := range []byte(s) {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("%x", b)
		}
	}
	return s
}

// String summarises the table for humans.
func (t *Table) String() string {
	return fmt.Sprintf("%s ACPI table rev %d (%s %s): %s, log area %d bytes at 0x%x",
		t.Signature, t.Revision, t.OEMID, t.OEMTableID, t.CCType, t.LAML, t.LASA)
}
