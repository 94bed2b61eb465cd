package sevsnp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// The certificate table that SNP_GET_EXT_REPORT fills and that configfs-tsm
// returns as auxblob: AMD "SEV-ES Guest-Hypervisor Communication Block
// Standardization" (publication 56421) rev. 2.03, section 4.1.8.1. Entries
// of 24 bytes (GUID, offset, length: little-endian, offsets from the start
// of the table) end with an all-zero entry; the certificates follow.
const certEntrySize = 24

// GUIDs of the table entries, stored in RFC 4122 byte order as the kernel,
// go-sev-guest and virtee/sev all read them.
var (
	guidVCEK = mustGUID("63da758d-e664-4564-adc5-f4b93be8accd")
	guidVLEK = mustGUID("a8074bc2-a25a-483e-aae6-39c045a0b8a1")
	guidASK  = mustGUID("4ab7b379-bbac-4fe4-a02f-05aef327c782") // also the ASVK
	guidARK  = mustGUID("c0b406a4-a803-4952-9743-3fb6014cd0ae")
	// guidCRL is the entry some hosts use for the ARK-signed CRL
	// (virtee/sev CertType::CRL).
	guidCRL = mustGUID("92f81bc3-5811-4d3d-97ff-d19f88dc67ea")
)

// CertTableEntry is one certificate from the table.
type CertTableEntry struct {
	GUID [16]byte
	// Name is "vcek", "vlek", "ask", "ark", "crl" or the GUID.
	Name string
	Data []byte
}

// ParseCertTable decodes a certificate table. Offsets and lengths must lie
// inside b; an entry table that does not end in the zero entry is
// malformed.
func ParseCertTable(b []byte) ([]CertTableEntry, error) {
	// Find the terminating zero entry first: certificate data must lie
	// after it, never over the entry headers.
	count := 0
	for ; ; count++ {
		off := count * certEntrySize
		if off+certEntrySize > len(b) {
			return nil, fmt.Errorf("%w: certificate table has no terminating zero entry within its %d bytes", ErrMalformed, len(b))
		}
		if firstNonZero(b[off:off+certEntrySize]) < 0 {
			break
		}
	}
	headerEnd := uint64(count+1) * certEntrySize
	var out []CertTableEntry
	for i := range count {
		e := b[i*certEntrySize : (i+1)*certEntrySize]
		var g [16]byte
		copy(g[:], e[:16])
		o := binary.LittleEndian.Uint32(e[16:])
		n := binary.LittleEndian.Uint32(e[20:])
		end := uint64(o) + uint64(n)
		if uint64(o) < headerEnd || end > uint64(len(b)) || n == 0 {
			return nil, fmt.Errorf("%w: certificate table entry %d (%s) spans %d+%d, outside the data area %d-%d", ErrMalformed, i, guidName(g), o, n, headerEnd, len(b))
		}
		out = append(out, CertTableEntry{GUID: g, Name: guidName(g), Data: bytes.Clone(b[o:end])})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: certificate table is empty", ErrMalformed)
	}
	return out, nil
}

// MarshalCertTable encodes entries as a certificate table.
func MarshalCertTable(entries []CertTableEntry) []byte {
	head := (len(entries) + 1) * certEntrySize
	out := make([]byte, head)
	for i, e := range entries {
		off := i * certEntrySize
		copy(out[off:], e.GUID[:])
		binary.LittleEndian.PutUint32(out[off+16:], uint32(len(out)))
		binary.LittleEndian.PutUint32(out[off+20:], uint32(len(e.Data)))
		out = append(out, e.Data...)
	}
	return out
}

// looksLikeCertTable reports whether b starts with a known table GUID.
func looksLikeCertTable(b []byte) bool {
	if len(b) < 2*certEntrySize {
		return false
	}
	var g [16]byte
	copy(g[:], b)
	switch g {
	case guidVCEK, guidVLEK, guidASK, guidARK, guidCRL:
		return true
	}
	return false
}

func guidName(g [16]byte) string {
	switch g {
	case guidVCEK:
		return "vcek"
	case guidVLEK:
		return "vlek"
	case guidASK:
		return "ask"
	case guidARK:
		return "ark"
	case guidCRL:
		return "crl"
	}
	return formatGUID(g)
}

func formatGUID(g [16]byte) string {
	h := hex.EncodeToString(g[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func mustGUID(s string) [16]byte {
	var g [16]byte
	b, err := hex.DecodeString(s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:])
	if err != nil || len(b) != 16 {
		panic("sevsnp: bad GUID literal " + s)
	}
	copy(g[:], b)
	return g
}
