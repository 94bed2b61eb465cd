package tdx

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/assay-dev/assay/measure/fwtable"
)

// edk2Image is the edk2-stable202405 OvmfPkgX64 image tail (4 KiB, see
// ../snp/testdata/README.md) placed at the end of a 4 MiB image of zeros:
// its TDVF descriptor describes a 4 MiB OVMF.fd whose first 0x84000 bytes
// are the CFV and the rest the BFV.
func edk2Image(t testing.TB) []byte {
	t.Helper()
	tail, err := os.ReadFile("../snp/testdata/ovmf_OvmfX64_suffix.bin")
	if err != nil {
		t.Fatal(err)
	}
	img := make([]byte, 4<<20)
	copy(img[len(img)-len(tail):], tail)
	return img
}

func TestParseTDVFEdk2(t *testing.T) {
	td, err := ParseTDVF(edk2Image(t))
	if err != nil {
		t.Fatal(err)
	}
	// The layout of OvmfPkg/OvmfPkgX64.fdf and ResetVector/X64/IntelTdxMetadata.asm.
	want := []Section{
		{DataOffset: 0x84000, RawDataSize: 0x37c000, MemoryAddress: 0xffc84000, MemoryDataSize: 0x37c000, Type: SectionBFV, Attributes: AttrMRExtend},
		{DataOffset: 0, RawDataSize: 0x84000, MemoryAddress: 0xffc00000, MemoryDataSize: 0x84000, Type: SectionCFV},
		{MemoryAddress: 0x811000, MemoryDataSize: 0xf000, Type: SectionTempMem},
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
// check on MRTD's bookkeeping over synthetic images; TestMRTDKnownValues
// holds MRTD to values computed by other implementations.
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
	img := edk2Image(t)
	for i := range 0x37c000 { // fill the BFV so that every chunk differs
		img[0x84000+i] ^= byte(i*7 + i>>12)
	}
	copy(img[len(img)-4096:], edk2Image(t)[len(img)-4096:])
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

	// A byte of the BFV (extended) changes MRTD; a byte of the CFV (only
	// added: its variables are measured into RTMR0 instead) does not.
	bfv := bytes.Clone(img)
	bfv[0x84000+12345] ^= 1
	cfv := bytes.Clone(img)
	cfv[100] ^= 1
	for name, c := range map[string]struct {
		img     []byte
		changes bool
	}{"bfv-byte": {bfv, true}, "cfv-byte": {cfv, false}} {
		td2, err := ParseTDVF(c.img)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := MRTD(td2, OrderPerPage)
		if (got != perPage) != c.changes {
			t.Errorf("%s: MRTD %x (unchanged %x), want changed=%v", name, got, perPage, c.changes)
		}
	}
}

func TestParseTDVFErrors(t *testing.T) {
	img := edk2Image(t)
	desc := len(img) - 0x9c0 // the footer entry's offset (c0 09 00 00)
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
	tail, err := os.ReadFile("../snp/testdata/ovmf_OvmfX64_suffix.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tail)
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
	img := edk2Image(b)
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
	f, err := os.Open("testdata/debian-ovmf-2022.11-6+deb12u2.fd.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	img, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(img); hex.EncodeToString(sum[:]) != "7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773" {
		t.Fatalf("OVMF.fd has SHA-256 %x, not the image the expected values were computed from", sum)
	}
	return img
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
