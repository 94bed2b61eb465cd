package uefi

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func node(typ, sub byte, data ...byte) []byte {
	b := []byte{typ, sub, 0, 0}
	binary.LittleEndian.PutUint16(b[2:], uint16(4+len(data)))
	return append(b, data...)
}

func TestDevicePathText(t *testing.T) {
	acpi := binary.LittleEndian.AppendUint32(nil, 0x0a0341d0)
	acpi = binary.LittleEndian.AppendUint32(acpi, 0)
	file := []byte{'\\', 0, 'a', 0, 0, 0}
	var path []byte
	for _, n := range [][]byte{node(2, 1, acpi...), node(1, 1, 0, 2), node(3, 24, []byte("http://x/")...), node(4, 4, file...), node(0x7f, 0xff)} {
		path = append(path, n...)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
		ok   bool
	}{
		{"path", path, `PciRoot(0x0)/Pci(0x2,0x0)/Uri(http://x/)/\a`, true},
		{"generic", node(5, 9, 0xab), "Path(5,9,AB)", true},
		{"instances", append(append(node(1, 5, 1, 0, 0, 0), node(0x7f, 1)...), node(1, 5, 2, 0, 0, 0)...), "Ctrl(0x1)/,/Ctrl(0x2)", true},
		{"after-end", append(node(0x7f, 0xff), 0), "", false},
		{"truncated", path[:14], "PciRoot(0x0)", false},
		{"zero-length", []byte{4, 4, 0, 0}, "", false},
		{"empty", nil, "", true},
	} {
		if got, ok := DevicePathText(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("%s: %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if got := DevicePathFile(path); got != `\a` {
		t.Errorf("DevicePathFile = %q", got)
	}
}

func TestSignatureLists(t *testing.T) {
	list := func(typ GUID, hdr, sigSize int, sigs ...[]byte) []byte {
		b := make([]byte, 28+hdr)
		copy(b, typ[:])
		binary.LittleEndian.PutUint32(b[16:], uint32(28+hdr+sigSize*len(sigs)))
		binary.LittleEndian.PutUint32(b[20:], uint32(hdr))
		binary.LittleEndian.PutUint32(b[24:], uint32(sigSize))
		for _, s := range sigs {
			b = append(b, s...)
		}
		return b
	}
	sig := func(owner byte, data ...byte) []byte { return append(bytes.Repeat([]byte{owner}, 16), data...) }
	db := append(list(CertSHA256, 0, 18, sig(1, 0xa, 0xb), sig(2, 0xc, 0xd)), list(CertX509, 4, 17, sig(3, 0xe))...)
	lists, sigs, ok := SignatureLists(db)
	if !ok || lists != 2 || len(sigs) != 3 {
		t.Fatalf("SignatureLists = %d, %d sigs, %v; want 2, 3, true", lists, len(sigs), ok)
	}
	for i, want := range []struct {
		typ   GUID
		owner byte
		data  []byte
	}{{CertSHA256, 1, []byte{0xa, 0xb}}, {CertSHA256, 2, []byte{0xc, 0xd}}, {CertX509, 3, []byte{0xe}}} {
		s := sigs[i]
		if s.Type != want.typ || s.Owner != (GUID(bytes.Repeat([]byte{want.owner}, 16))) || !bytes.Equal(s.Data, want.data) {
			t.Errorf("sig %d = %+v", i, s)
		}
	}
	if l, s, ok := SignatureLists(nil); !ok || l != 0 || s != nil {
		t.Errorf("empty: %d, %v, %v", l, s, ok)
	}
	for name, in := range map[string][]byte{
		"short":          db[:20],
		"size-too-big":   db[:len(db)-1],
		"zero-sig-size":  list(CertX509, 0, 0),
		"sig-under-guid": list(CertX509, 0, 15, make([]byte, 15)),
		"ragged":         list(CertX509, 0, 18, sig(1, 0), sig(2))[:28+36-1],
	} {
		if _, _, ok := SignatureLists(in); ok {
			t.Errorf("%s: ok", name)
		}
	}
}
