package ccel

import (
	"encoding/binary"
	"testing"
	"unicode/utf16"

	"github.com/assay-dev/assay/internal/eventlog/uefi"
)

func node(typ, sub byte, data ...byte) []byte {
	b := []byte{typ, sub, 0, 0}
	binary.LittleEndian.PutUint16(b[2:], uint16(4+len(data)))
	return append(b, data...)
}

func utf16z(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return append(b, 0, 0)
}

func TestDevicePathText(t *testing.T) {
	end := node(0x7f, 0xff)
	hd := make([]byte, 38)
	binary.LittleEndian.PutUint32(hd, 1)
	binary.LittleEndian.PutUint64(hd[4:], 0x800)
	binary.LittleEndian.PutUint64(hd[12:], 0x12c000)
	copy(hd[20:], []byte{0x0d, 0x46, 0xfd, 0x6e, 0xdf, 0xb4, 0x6d, 0x41, 0x96, 0x76, 0x0a, 0xa0, 0x29, 0xf0, 0xe9, 0x42})
	hd[36], hd[37] = 2, 2
	acpi := binary.LittleEndian.AppendUint32(nil, 0x0a0341d0)
	acpi = binary.LittleEndian.AppendUint32(acpi, 0)
	var path []byte
	for _, n := range [][]byte{node(2, 1, acpi...), node(1, 1, 0, 2), node(3, 0x1a, 1, 2), node(4, 1, hd...), node(4, 4, utf16z(`\EFI\BOOT\BOOTX64.EFI`)...), end} {
		path = append(path, n...)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
		ok   bool
	}{
		{"disk", path, `PciRoot(0x0)/Pci(0x2,0x0)/Path(3,26,0102)/HD(1,GPT,6EFD460D-B4DF-416D-9676-0AA029F0E942,0x800,0x12c000)/\EFI\BOOT\BOOTX64.EFI`, true},
		{"truncated-node", path[:14], "PciRoot(0x0)", false},
		{"zero-length-node", []byte{4, 4, 0, 0, 1, 2}, "", false},
		{"empty", nil, "", true},
	} {
		got, ok := uefi.DevicePathText(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAAELEntry(t *testing.T) {
	e := &Event{Num: 9, MRIndex: 4}
	for _, tc := range []struct {
		in                         string
		domain, op, content, jsonc string
	}{
		{`github.com/confidential-containers PullImage {"image":"alpine","digest":"sha256:0c"}`, "github.com/confidential-containers", "PullImage", `{"image":"alpine","digest":"sha256:0c"}`, `{"image":"alpine","digest":"sha256:0c"}`},
		{"coco.com some-operation some content with spaces", "coco.com", "some-operation", "some content with spaces", ""},
		{"coco.com op ", "coco.com", "op", "", ""},
	} {
		a := aaelEntry(e, 3, []byte(tc.in), true)
		if a == nil || a.Domain != tc.domain || a.Operation != tc.op || a.Content != tc.content || string(a.ContentJSON) != tc.jsonc {
			t.Errorf("%q: %+v", tc.in, a)
		}
	}
	for _, in := range []string{"", "nospace", "one space", " a b", "a\x00 b c"} {
		if a := aaelEntry(e, 3, []byte(in), true); a != nil {
			t.Errorf("%q: %+v, want nil", in, a)
		}
	}
}

func TestSignatureCounts(t *testing.T) {
	list := func(hdr, sigSize, n int) []byte {
		b := make([]byte, 28)
		binary.LittleEndian.PutUint32(b[16:], uint32(28+hdr+sigSize*n))
		binary.LittleEndian.PutUint32(b[20:], uint32(hdr))
		binary.LittleEndian.PutUint32(b[24:], uint32(sigSize))
		return append(b, make([]byte, hdr+sigSize*n)...)
	}
	two := append(list(0, 48, 3), list(0, 1000, 1)...)
	if l, s, ok := signatureCounts(two); !ok || l != 2 || s != 4 {
		t.Errorf("signatureCounts = %d, %d, %v; want 2, 4, true", l, s, ok)
	}
	for name, in := range map[string][]byte{
		"short":         two[:20],
		"size-too-big":  two[:len(two)-1],
		"zero-sig-size": list(0, 0, 0),
		"ragged":        func() []byte { b := list(0, 48, 2); binary.LittleEndian.PutUint32(b[16:], 28+95); return b[:28+95] }(),
	} {
		if _, _, ok := signatureCounts(in); ok {
			t.Errorf("%s: ok", name)
		}
	}
}
