// Package uefi decodes the UEFI event data structures of PFP 1.06 section
// 10.2.6 and UEFI device paths (UEFI 2.10 chapter 10), shared by the TCG
// (tcg) and CCEL (ccel) event log parsers, and the PFP event type names
// both logs use.
package uefi

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Decoders of the event data structures of PFP 1.06 section 10.2.6 ("UEFI
// event data structures") and of the UEFI device path (UEFI 2.10
// chapter 10). Each takes untrusted bytes, checks every length against
// what is left before using it, and returns ok=false rather than guess.

// GUID is an EFI_GUID as stored: Data1..3 little-endian, Data4 as bytes.
type GUID [16]byte

// String formats the GUID in the registry form, lower case
// (8be4df61-93ca-11d2-aa0d-00e098032b8c).
func (g GUID) String() string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(g[0:]), binary.LittleEndian.Uint16(g[4:]),
		binary.LittleEndian.Uint16(g[6:]), g[8:10], g[10:16])
}

// Well-known variable vendor GUIDs (UEFI 2.10 sections 3.3 and 32.6.1).
var (
	GlobalVariable        = GUID{0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c}
	ImageSecurityDatabase = GUID{0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45, 0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f}
)

// uefiVariableDataFixedSize covers VariableName, UnicodeNameLength and
// VariableDataLength.
const uefiVariableDataFixedSize = 32

// evEFIPlatformFirmwareBlob2 is EV_EFI_PLATFORM_FIRMWARE_BLOB2 (PFP 1.06
// section 10.4.1), the one event type FirmwareBlob needs to know.
const evEFIPlatformFirmwareBlob2 uint32 = 0x8000000A

// VariableData is a UEFI_VARIABLE_DATA (PFP 1.06 section 10.2.6).
type VariableData struct {
	Vendor GUID   // VariableName
	Name   string // UnicodeName
	Data   []byte // VariableData
}

// ParseVariableData decodes a UEFI_VARIABLE_DATA; Name and Data alias b.
func ParseVariableData(b []byte) (VariableData, bool) {
	if len(b) < uefiVariableDataFixedSize {
		return VariableData{}, false
	}
	var v VariableData
	copy(v.Vendor[:], b[:16])
	nameLen := binary.LittleEndian.Uint64(b[16:])
	dataLen := binary.LittleEndian.Uint64(b[24:])
	rest := uint64(len(b) - uefiVariableDataFixedSize)
	if nameLen > rest/2 || dataLen > rest-2*nameLen {
		return VariableData{}, false
	}
	off := uefiVariableDataFixedSize
	v.Name = UTF16String(b[off : off+2*int(nameLen)])
	off += 2 * int(nameLen)
	v.Data = b[off : off+int(dataLen)]
	return v, true
}

// ImageLoad is a UEFI_IMAGE_LOAD_EVENT (PFP 1.06 section 10.2.6).
type ImageLoad struct {
	Location, Length, LinkTime uint64 // ImageLocationInMemory, ImageLengthInMemory, ImageLinkTimeAddress
	DevicePath                 []byte // DevicePath, raw; see DevicePathText
}

// ParseImageLoad decodes a UEFI_IMAGE_LOAD_EVENT; DevicePath aliases b.
func ParseImageLoad(b []byte) (ImageLoad, bool) {
	if len(b) < 32 {
		return ImageLoad{}, false
	}
	il := ImageLoad{
		Location: binary.LittleEndian.Uint64(b[0:]),
		Length:   binary.LittleEndian.Uint64(b[8:]),
		LinkTime: binary.LittleEndian.Uint64(b[16:]),
	}
	n := binary.LittleEndian.Uint64(b[24:])
	if n > uint64(len(b)-32) {
		return ImageLoad{}, false
	}
	il.DevicePath = b[32 : 32+int(n)]
	return il, true
}

// FirmwareBlob decodes UEFI_PLATFORM_FIRMWARE_BLOB (base, length) and
// UEFI_PLATFORM_FIRMWARE_BLOB2 (description size and text, base, length),
// PFP 1.06 section 10.2.6.
func FirmwareBlob(eventType uint32, b []byte) (desc string, base, length uint64, ok bool) {
	if eventType == evEFIPlatformFirmwareBlob2 {
		if len(b) < 1 || len(b) != 1+int(b[0])+16 {
			return "", 0, 0, false
		}
		desc, _ = ASCIIText(b[1 : 1+int(b[0])])
		b = b[1+int(b[0]):]
	}
	if len(b) != 16 {
		return "", 0, 0, false
	}
	return desc, binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]), true
}

// HandoffTablesDescription returns the TableDescription of a
// UEFI_HANDOFF_TABLE_POINTERS2 (PFP 1.06 section 10.2.6).
func HandoffTablesDescription(b []byte) (string, bool) {
	if len(b) < 1 || len(b) < 1+int(b[0])+8 {
		return "", false
	}
	return ASCIIText(b[1 : 1+int(b[0])])
}

// TaggedEvent is a TCG_PCClientTaggedEvent (PFP 1.06 section 10.4.2.1).
type TaggedEvent struct {
	ID   uint32 // taggedEventID
	Data []byte // taggedEventData
}

// ParseTaggedEvent decodes a TCG_PCClientTaggedEvent whose
// taggedEventDataSize covers exactly the rest of b.
func ParseTaggedEvent(b []byte) (TaggedEvent, bool) {
	if len(b) < 8 {
		return TaggedEvent{}, false
	}
	n := binary.LittleEndian.Uint32(b[4:])
	if uint64(n) != uint64(len(b)-8) {
		return TaggedEvent{}, false
	}
	return TaggedEvent{ID: binary.LittleEndian.Uint32(b), Data: b[8:]}, true
}

// Signature types of EFI_SIGNATURE_LIST.SignatureType (UEFI 2.10 section
// 32.4.1).
var (
	CertX509   = GUID{0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72}
	CertSHA256 = GUID{0x26, 0x16, 0xc4, 0xc1, 0x4c, 0x50, 0x92, 0x40, 0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28}
)

// SignatureEntry is one EFI_SIGNATURE_DATA of a list: its list's type,
// SignatureOwner and SignatureData.
type SignatureEntry struct {
	Type  GUID   // the list's SignatureType
	Owner GUID   // SignatureOwner
	Data  []byte // SignatureData
}

// SignatureLists walks the EFI_SIGNATURE_LISTs of a signature database
// (UEFI 2.10 section 32.4.1) and returns the number of lists and every
// signature in them; ok is false when the lists do not tile the data
// exactly or a signature is shorter than its owner GUID.
func SignatureLists(b []byte) (lists int, sigs []SignatureEntry, ok bool) {
	for len(b) > 0 {
		if len(b) < 28 {
			return 0, nil, false
		}
		var typ GUID
		copy(typ[:], b[:16])
		listSize := binary.LittleEndian.Uint32(b[16:])
		hdrSize := binary.LittleEndian.Uint32(b[20:])
		sigSize := binary.LittleEndian.Uint32(b[24:])
		if listSize < 28 || uint64(listSize) > uint64(len(b)) || uint64(hdrSize) > uint64(listSize-28) || sigSize < 16 {
			return 0, nil, false
		}
		body := b[28+hdrSize : listSize]
		if uint32(len(body))%sigSize != 0 {
			return 0, nil, false
		}
		lists++
		for len(body) > 0 {
			var owner GUID
			copy(owner[:], body[:16])
			sigs = append(sigs, SignatureEntry{Type: typ, Owner: owner, Data: body[16:sigSize:sigSize]})
			body = body[sigSize:]
		}
		b = b[listSize:]
	}
	return lists, sigs, true
}

// LoadOption is an EFI_LOAD_OPTION (UEFI 2.10 section 3.1.3), the value
// of a Boot#### variable.
type LoadOption struct {
	Attributes  uint32
	Description string
	DevicePath  []byte // FilePathList, raw; see DevicePathText
}

// ParseLoadOption decodes an EFI_LOAD_OPTION; DevicePath aliases b.
func ParseLoadOption(b []byte) (LoadOption, bool) {
	if len(b) < 6 {
		return LoadOption{}, false
	}
	lo := LoadOption{Attributes: binary.LittleEndian.Uint32(b)}
	pathLen := int(binary.LittleEndian.Uint16(b[4:]))
	rest := b[6:]
	// Description is a NUL-terminated UTF-16 string.
	end := -1
	for i := 0; i+1 < len(rest); i += 2 {
		if rest[i] == 0 && rest[i+1] == 0 {
			end = i
			break
		}
	}
	if end < 0 || pathLen > len(rest)-end-2 {
		return LoadOption{}, false
	}
	lo.Description = UTF16String(rest[:end])
	lo.DevicePath = rest[end+2 : end+2+pathLen]
	return lo, true
}

// ASCIIText returns b up to its first NUL when that is non-empty
// printable text (UTF-8 without control characters other than tab and
// newline).
func ASCIIText(b []byte) (string, bool) {
	if i := indexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 || !utf8.Valid(b) {
		return "", false
	}
	s := string(b)
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f || r == utf8.RuneError {
			return "", false
		}
	}
	return s, true
}

// UTF16Text returns b decoded as UTF-16LE up to its first NUL character,
// when b has an even length (after dropping an odd final NUL byte) and the
// result is printable.
func UTF16Text(b []byte) (string, bool) {
	if len(b)%2 != 0 && b[len(b)-1] == 0 {
		// systemd-boot logs its UTF-16 load options one byte short.
		b = b[:len(b)-1]
	}
	if len(b) < 2 || len(b)%2 != 0 {
		return "", false
	}
	s := UTF16String(b)
	if s == "" {
		return "", false
	}
	return ASCIIText([]byte(s))
}

// UTF16String decodes UTF-16LE up to the first NUL character.
func UTF16String(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// Text returns the event data as text: ASCII/UTF-8 up to the first NUL,
// else UTF-16LE, else false.
func Text(b []byte) (string, bool) {
	if s, ok := ASCIIText(b); ok && (len(b) < 2 || b[1] != 0) {
		return s, true
	}
	return UTF16Text(b)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// Device paths (UEFI 2.10 section 10.3): a sequence of nodes, each Type
// (1), SubType (1), Length (2, including these 4 bytes), ending with
// type 0x7F subtype 0xFF. DevicePathText renders them in the text form of
// UEFI 2.10 section 10.6, for the node kinds boot paths use; any other
// node is rendered generically as Path(type,subtype,hex), which that
// section also defines. ok is false for a path whose lengths do not add
// up; the nodes before the fault are still returned.
func DevicePathText(b []byte) (string, bool) {
	var parts []string
	for len(b) > 0 {
		if len(b) < 4 {
			return strings.Join(parts, "/"), false
		}
		typ, sub := b[0], b[1]
		n := int(binary.LittleEndian.Uint16(b[2:]))
		if n < 4 || n > len(b) {
			return strings.Join(parts, "/"), false
		}
		d := b[4:n]
		b = b[n:]
		if typ == 0x7f {
			if sub == 0xff { // End Entire Device Path
				return strings.Join(parts, "/"), len(b) == 0
			}
			parts = append(parts, ",") // End This Instance
			continue
		}
		parts = append(parts, devicePathNode(typ, sub, d))
	}
	return strings.Join(parts, "/"), true
}

func devicePathNode(typ, sub byte, d []byte) string {
	le16 := func(o int) uint16 { return binary.LittleEndian.Uint16(d[o:]) }
	le32 := func(o int) uint32 { return binary.LittleEndian.Uint32(d[o:]) }
	le64 := func(o int) uint64 { return binary.LittleEndian.Uint64(d[o:]) }
	guidText := func(o int) string {
		var g GUID
		copy(g[:], d[o:o+16])
		return strings.ToUpper(g.String())
	}
	switch {
	case typ == 1 && sub == 1 && len(d) == 2: // PCI: Function, Device
		return fmt.Sprintf("Pci(0x%x,0x%x)", d[1], d[0])
	case typ == 1 && sub == 4 && len(d) >= 16: // Vendor-defined hardware
		return vendorNode("VenHw", guidText(0), d[16:])
	case typ == 1 && sub == 5 && len(d) == 4: // Controller
		return fmt.Sprintf("Ctrl(0x%x)", le32(0))
	case typ == 2 && sub == 1 && len(d) == 8: // ACPI: _HID, _UID
		hid, uid := le32(0), le32(4)
		switch hid {
		case 0x0a0341d0: // PNP0A03
			return fmt.Sprintf("PciRoot(0x%x)", uid)
		case 0x0a0841d0: // PNP0A08
			return fmt.Sprintf("PcieRoot(0x%x)", uid)
		}
		if hid&0xffff == 0x41d0 {
			return fmt.Sprintf("Acpi(PNP%04X,0x%x)", hid>>16, uid)
		}
		return fmt.Sprintf("Acpi(0x%08x,0x%x)", hid, uid)
	case typ == 3 && sub == 2 && len(d) == 4: // SCSI: PUN, LUN
		return fmt.Sprintf("Scsi(0x%x,0x%x)", le16(0), le16(2))
	case typ == 3 && sub == 5 && len(d) == 2: // USB: port, interface
		return fmt.Sprintf("USB(0x%x,0x%x)", d[0], d[1])
	case typ == 3 && sub == 11 && len(d) == 33: // MAC address: MacAddress[32], IfType
		n := 32
		if d[32] == 0 || d[32] == 1 { // Ethernet: 6-byte address
			n = 6
		}
		return fmt.Sprintf("MAC(%X,0x%x)", d[:n], d[32])
	case typ == 3 && sub == 12 && len(d) == 23: // IPv4
		ip := func(o int) string { return fmt.Sprintf("%d.%d.%d.%d", d[o], d[o+1], d[o+2], d[o+3]) }
		proto := fmt.Sprint(le16(12))
		switch le16(12) {
		case 6:
			proto = "TCP"
		case 17:
			proto = "UDP"
		}
		origin := "DHCP"
		if d[14] != 0 {
			origin = "Static"
		}
		return fmt.Sprintf("IPv4(%s,%s,%s,%s,%s,%s)", ip(4), proto, origin, ip(0), ip(15), ip(19))
	case typ == 3 && sub == 24: // URI
		if s, ok := ASCIIText(d); ok && len(s) == len(d) {
			return fmt.Sprintf("Uri(%s)", s)
		}
	case typ == 3 && sub == 10 && len(d) >= 16: // Vendor-defined messaging
		return vendorNode("VenMsg", guidText(0), d[16:])
	case typ == 3 && sub == 18 && len(d) == 6: // SATA: HBA port, PM port, LUN
		return fmt.Sprintf("Sata(0x%x,0x%x,0x%x)", le16(0), le16(2), le16(4))
	case typ == 3 && sub == 23 && len(d) == 12: // NVMe namespace: NSID, EUI-64
		eui := make([]string, 8)
		for i := range eui {
			eui[i] = fmt.Sprintf("%02X", d[4+i])
		}
		return fmt.Sprintf("NVMe(0x%x,%s)", le32(0), strings.Join(eui, "-"))
	case typ == 4 && sub == 1 && len(d) == 38: // Hard drive
		part, start, size := le32(0), le64(4), le64(12)
		sig := d[20:36]
		switch d[37] { // SignatureType
		case 1:
			return fmt.Sprintf("HD(%d,MBR,0x%08x,0x%x,0x%x)", part, binary.LittleEndian.Uint32(sig), start, size)
		case 2:
			var g GUID
			copy(g[:], sig)
			return fmt.Sprintf("HD(%d,GPT,%s,0x%x,0x%x)", part, strings.ToUpper(g.String()), start, size)
		}
		return fmt.Sprintf("HD(%d,%d,0,0x%x,0x%x)", part, d[37], start, size)
	case typ == 4 && sub == 2 && len(d) == 20: // CD-ROM: boot entry, start, size
		return fmt.Sprintf("CDROM(0x%x,0x%x,0x%x)", le32(0), le64(4), le64(12))
	case typ == 4 && sub == 3 && len(d) >= 16: // Vendor-defined media
		return vendorNode("VenMedia", guidText(0), d[16:])
	case typ == 4 && sub == 4: // File path: UTF-16 path name
		return UTF16String(d)
	case typ == 4 && sub == 6 && len(d) == 16: // PIWG firmware file
		return fmt.Sprintf("FvFile(%s)", guidText(0))
	case typ == 4 && sub == 7 && len(d) == 16: // PIWG firmware volume
		return fmt.Sprintf("Fv(%s)", guidText(0))
	case typ == 4 && sub == 8 && len(d) == 20: // Relative offset range
		return fmt.Sprintf("Offset(0x%x,0x%x)", le64(4), le64(12))
	}
	return fmt.Sprintf("Path(%d,%d,%X)", typ, sub, d)
}

func vendorNode(kind, guid string, data []byte) string {
	if len(data) == 0 {
		return fmt.Sprintf("%s(%s)", kind, guid)
	}
	return fmt.Sprintf("%s(%s,%X)", kind, guid, data)
}

// DevicePathFile returns the file a device path names: its FilePath
// media nodes (type 4, subtype 4) at its end, joined with backslashes
// where needed, as UEFI 2.10 section 10.3.5.4 lets a path be split across
// consecutive nodes; "" when there is none.
func DevicePathFile(b []byte) string {
	var parts []string
	for len(b) >= 4 {
		typ, sub := b[0], b[1]
		n := int(binary.LittleEndian.Uint16(b[2:]))
		if n < 4 || n > len(b) {
			break
		}
		switch {
		case typ == 4 && sub == 4:
			parts = append(parts, UTF16String(b[4:n]))
		case typ == 0x7f:
			// end of an instance or of the path
		default:
			parts = nil
		}
		b = b[n:]
	}
	var out string
	for _, p := range parts {
		if out != "" && !strings.HasSuffix(out, `\`) && !strings.HasPrefix(p, `\`) {
			out += `\`
		}
		out += p
	}
	return out
}
