package fwtable

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

func TestGUID(t *testing.T) {
	const s = "96b582de-1fb2-45f7-baea-a366c55a082d"
	g, err := ParseGUID(s)
	if err != nil || g.String() != s {
		t.Errorf("ParseGUID(%q) = %v, %v", s, g, err)
	}
	// Stored mixed-endian: the first three fields reversed.
	if g[0] != 0xde || g[3] != 0x96 || g[4] != 0xb2 || g[6] != 0xf7 || g[8] != 0xba {
		t.Errorf("byte order % x", g[:])
	}
	for _, bad := range []string{"", "96b582de1fb245f7baeaa366c55a082d", "96b582de-1fb2-45f7-baea-a366c55a082g"} {
		if _, err := ParseGUID(bad); err == nil {
			t.Errorf("ParseGUID(%q) accepted", bad)
		}
	}
}

// The tail of an edk2 2022.11 AmdSevX64 OVMF.fd built by this project (see
// ../snp/testdata/README.md) carries the SEV and TDX entries.
func TestParseOVMFTail(t *testing.T) {
	b, err := os.ReadFile("../snp/testdata/amdsev-edk2-2022.11-tail.bin")
	if err != nil {
		t.Fatal(err)
	}
	tab, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	// The TDX metadata offset entry reads 40 08 00 00 in the file.
	off, err := tab.U32(MustGUID("e47a6535-984a-4798-865e-4685a7bf8ec2"), "TDX metadata")
	if err != nil || off != 0x840 {
		t.Errorf("TDX metadata offset %#x, %v; want 0x840", off, err)
	}
	if _, err := tab.U32(MustGUID("00000000-0000-0000-0000-000000000001"), "absent"); !errors.Is(err, ErrMalformed) {
		t.Errorf("absent entry: %v", err)
	}
	for name, mut := range map[string]func([]byte) []byte{
		"empty":       func([]byte) []byte { return nil },
		"footer-guid": func(b []byte) []byte { b[len(b)-33] ^= 1; return b },
		"table-size":  func(b []byte) []byte { b[len(b)-50], b[len(b)-49] = 0xff, 0xff; return b },
		"entry-size":  func(b []byte) []byte { b[len(b)-68], b[len(b)-67] = 1, 0; return b },
	} {
		if _, err := Parse(mut(bytes.Clone(b))); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	b, err := os.ReadFile("../snp/testdata/amdsev-edk2-2022.11-tail.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[len(b)-256:])
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := Parse(b)
		if err != nil {
			return
		}
		for _, e := range tab {
			if len(e.Data) > len(b) {
				t.Fatalf("entry %s longer than the image", e.GUID)
			}
		}
	})
}
