package tdx

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/assay-dev/assay/internal/testutil/ovmfimage"
	"github.com/assay-dev/assay/measure/fwtable"
)

// TestParseTDVFDebian reads the descriptor of Debian's OVMF.fd (see
// testdata/README.md): edk2-stable202211 OvmfPkgX64 built with a 2 MiB
// flash. The expected layout is that tag's
// OvmfPkg/ResetVector/X64/IntelTdxMetadata.asm with the PCDs of
// OvmfPkgX64.fdf and OvmfPkgDefines.fdf.inc for FD_SIZE_2MB: the BFV (code,
// extended) at file offset VARS_SIZE 0x20000, CODE_SIZE 0x1e0000, mapped at
// 0xffe20000; the CFV (variables, added only) the first 0x20000 bytes at
// 0xffe00000; then, relative to MEMFD_BASE_ADDRESS 0x800000, the SEC/PEI
// temporary RAM (0x10000 at +0x10000), the work area and GHCB backup page
// (0x1000 + 0x1000 at +0xb000), the TD HOB in the GHCB range (0x2000 at
// +0x9000) and the SEC page tables (0x6000 at +0).
func TestParseTDVFDebian(t *testing.T) {
	td, err := ParseTDVF(debianOVMF(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []Section{
		{DataOffset: 0x20000, RawDataSize: 0x1e0000, MemoryAddress: 0xffe20000, MemoryDataSize: 0x1e0000, Type: SectionBFV, Attributes: AttrMRExtend},
		{DataOffset: 0, RawDataSize: 0x20000, MemoryAddress: 0xffe00000, MemoryDataSize: 0x20000, Type: SectionCFV},
		{MemoryAddress: 0x810000, MemoryDataSize: 0x10000, Type: SectionTempMem},
		{MemoryAddress: 0x80b000, MemoryDataSize: 0x2000, Type: SectionTempMem},
		{MemoryAddress: 0x809000, MemoryDataSize: 0x2000, Type: SectionTDHOB},
		{MemoryAddress: 0x800000, MemoryDataSize: 0x6000, Type: SectionTempMem},
	}
	if len(td.Sections) != len(want) {
		t.Fatalf("%d sections, want %d: %+v", len(td.Sections), len(want), td.Sections)
	}
	for i := range want {
		if td.Sections[i] != want[i] {
			t.Errorf("section %d: %+v, want %+v", i, td.Sections[i], want[i])
		}
	}
}

// referenceMRTD spells the record stream out for the per-page order,
// straight from the TDX module's description of the two operations, as a
// check on MRTD's bookkeeping over Debian's image and a synthetic one;
// TestMRTDKnownValues holds MRTD to values computed by other
// implementations.
func referenceMRTD(t *TDVF) [DigestSize]byte {
	var stream []byte
	rec := func(op string, gpa uint64) {
		b := make([]byte, 128)
		copy(b, op)
		binary.LittleEndian.PutUint64(b[16:], gpa)
		stream = append(stream, b...)
	}
	for _, s := range t.Sections {
		if s.Attributes&AttrPageAug != 0 {
			continue
		}
		for off := uint64(0); off < s.MemoryDataSize; off += pageSize {
			rec("MEM.PAGE.ADD", s.MemoryAddress+off)
			if s.Attributes&AttrMRExtend == 0 {
				continue
			}
			for c := uint64(0); c < pageSize; c += 256 {
				rec("MR.EXTEND", s.MemoryAddress+off+c)
				src := uint64(s.DataOffset) + off + c
				stream = append(stream, t.Image[src:src+256]...)
			}
		}
	}
	return sha512.Sum384(stream)
}

func TestMRTD(t *testing.T) {
	img := debianOVMF(t)
	td, err := ParseTDVF(img)
	if err != nil {
		t.Fatal(err)
	}
	perPage, err := MRTD(td, OrderPerPage)
	if err != nil {
		t.Fatal(err)
	}
	if want := referenceMRTD(td); perPage != want {
		t.Errorf("per-page MRTD %x, record stream gives %x", perPage, want)
	}
	perSection, err := MRTD(td, OrderPerSection)
	if err != nil {
		t.Fatal(err)
	}
	if perSection == perPage {
		t.Error("the two page orders gave the same MRTD")
	}
}

func TestParseTDVFErrors(t *testing.T) {
	img := debianOVMF(t)
	desc := len(img) - 0x840 // the footer entry's offset (40 08 00 00)
	for name, mut := range map[string]func([]byte) []byte{
		"no-footer":      func(b []byte) []byte { b[len(b)-33] ^= 1; return b },
		"signature":      func(b []byte) []byte { b[desc] = 'X'; return b },
		"version":        func(b []byte) []byte { b[desc+8] = 2; return b },
		"length":         func(b []byte) []byte { b[desc+4]++; return b },
		"no-sections":    func(b []byte) []byte { b[desc+12] = 0; return b },
		"section-type":   func(b []byte) []byte { b[desc+16+24] = 9; return b },
		"unaligned-gpa":  func(b []byte) []byte { b[desc+16+8] = 1; return b },
		"raw-beyond":     func(b []byte) []byte { b[desc+16+3] = 0x7f; return b },
		"attributes":     func(b []byte) []byte { b[desc+16+28] = 3; return b },
		"extend-partial": func(b []byte) []byte { b[desc+16+5] = 0x10; return b },
		"huge-section":   func(b []byte) []byte { b[desc+16+32+16+6] = 1; return b },
		"truncated":      func(b []byte) []byte { return b[len(b)-4096:] },
	} {
		if _, err := ParseTDVF(mut(bytes.Clone(img))); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v, want ErrMalformed", name, err)
		}
	}
	if _, err := MRTD(&TDVF{}, Order(7)); err == nil {
		t.Error("unknown order accepted")
	}
}

func FuzzParseTDVF(f *testing.F) {
	// The last page of Debian's OVMF.fd: footer table and descriptor,
	// without the volumes the descriptor points at.
	img := debianOVMF(f)
	f.Add(img[len(img)-pageSize:])
	// A small image whose one section is its own first page.
	f.Add(smallTDVF())
	f.Fuzz(func(t *testing.T, b []byte) {
		td, err := ParseTDVF(b)
		if err != nil {
			return
		}
		var total uint64
		for _, s := range td.Sections {
			total += s.MemoryDataSize
		}
		if total > 16<<20 {
			return // valid but slow to hash
		}
		if _, err := MRTD(td, OrderPerSection); err != nil {
			t.Fatal(err)
		}
	})
}

// smallTDVF builds a two-page image: page 0 is a BFV section extended
// into MRTD, page 1 holds the descriptor and footer table.
func smallTDVF() []byte {
	img := make([]byte, 2*pageSize)
	for i := range pageSize {
		img[i] = byte(i)
	}
	le := binary.LittleEndian
	desc := img[pageSize:]
	copy(desc, "TDVF")
	le.PutUint32(desc[4:], descriptorSize+sectionSize)
	le.PutUint32(desc[8:], 1)
	le.PutUint32(desc[12:], 1)
	s := desc[16:]
	le.PutUint32(s[4:], pageSize)
	le.PutUint64(s[8:], 0xfffff000)
	le.PutUint64(s[16:], pageSize)
	le.PutUint32(s[28:], AttrMRExtend)
	// Footer: [entry data u32][size][GUID][table size][footer GUID][32 bytes].
	end := len(img) - 32
	copy(img[end-16:], fwtable.FooterGUID[:])
	le.PutUint16(img[end-18:], 18+22)
	copy(img[end-34:], MetadataGUID[:])
	le.PutUint16(img[end-36:], 22)
	le.PutUint32(img[end-40:], uint32(pageSize))
	return img
}

func TestSmallTDVF(t *testing.T) {
	td, err := ParseTDVF(smallTDVF())
	if err != nil {
		t.Fatal(err)
	}
	got, err := MRTD(td, OrderPerPage)
	if err != nil {
		t.Fatal(err)
	}
	if got != referenceMRTD(td) {
		t.Errorf("MRTD %x differs from the record stream", got)
	}
}

func BenchmarkMRTD(b *testing.B) {
	img := debianOVMF(b)
	td, err := ParseTDVF(img)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		if _, err := MRTD(td, OrderPerPage); err != nil {
			b.Fatal(err)
		}
	}
}

// debianOVMF is Debian bookworm's OVMF.fd (see testdata/README.md).
func debianOVMF(t testing.TB) []byte {
	t.Helper()
	return ovmfimage.Debian(t)
}

// TestMRTDKnownValues reproduces the MRTD that two independent
// implementations compute for a real, published TDVF image, in both page
// orders; the values and their sources are in testdata/README.md.
func TestMRTDKnownValues(t *testing.T) {
	img := debianOVMF(t)
	td, err := ParseTDVF(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		order  Order
		want   string
		source string
	}{
		{OrderPerPage, "4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47", "google/gce-tcb-verifier tdx.MRTD @74582c0"},
		{OrderPerSection, "acccbcc870a381adab0d3919d90a7f268ac3b0364771f202ed4bb4e892d045b33db3b32e6924cba830a724eed443f7e1", "quex-tech/td-report-web reproduceMrtd @d857138"},
	} {
		got, err := MRTD(td, c.order)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got[:]) != c.want {
			t.Errorf("order %v: MRTD %x, %s computes %s", c.order, got, c.source, c.want)
		}
	}

	// One byte of the extended BFV changes the MRTD; one byte of the CFV
	// (added, not extended) does not.
	want, _ := MRTD(td, OrderPerPage)
	var bfv, cfv *Section
	for i := range td.Sections {
		switch td.Sections[i].Type {
		case SectionBFV:
			bfv = &td.Sections[i]
		case SectionCFV:
			cfv = &td.Sections[i]
		}
	}
	if bfv == nil || cfv == nil {
		t.Fatalf("no BFV or CFV section: %+v", td.Sections)
	}
	for _, c := range []struct {
		name    string
		off     uint32
		changes bool
	}{
		{"bfv byte", bfv.DataOffset + bfv.RawDataSize/2, true},
		{"cfv byte", cfv.DataOffset + 100, false},
	} {
		mod := bytes.Clone(img)
		mod[c.off] ^= 0x01
		td2, err := ParseTDVF(mod)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, _ := MRTD(td2, OrderPerPage)
		if (got != want) != c.changes {
			t.Errorf("%s: MRTD %x (was %x), want changed=%v", c.name, got, want, c.changes)
		}
	}
}
