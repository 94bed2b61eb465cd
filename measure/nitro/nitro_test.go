package nitro

import (
	"bytes"
	"crypto/sha512"
	"errors"
	"testing"
)

type testSection struct {
	typ  SectionType
	data []byte
}

// buildEIF writes an EIF with Marshal. The tests build their own images:
// the one published set of PCRs found (aws-nitro-enclaves-cli
// tests/tests.rs) needs a kernel blob not available offline; see the
// Nitro section of docs/measure.md.
func buildEIF(secs []testSection) []byte {
	e := &EIF{Header: Header{Version: 4, DefaultMem: 512 << 20, DefaultCPUs: 2}}
	for _, s := range secs {
		e.Sections = append(e.Sections, Section{Type: s.typ, Data: s.data})
	}
	return e.Marshal()
}

func sampleSections() []testSection {
	return []testSection{
		{SectionKernel, bytes.Repeat([]byte("bzImage"), 1000)},
		{SectionCmdline, []byte("reboot=k panic=30 pci=off nomodules console=ttyS0 random.trust_cpu=on")},
		{SectionMetadata, []byte(`{"ImageName":"hello"}`)},
		{SectionRamdisk, bytes.Repeat([]byte("bootstrap initramfs"), 300)},
		{SectionRamdisk, bytes.Repeat([]byte("customer initramfs"), 700)},
		{SectionSignature, []byte{0x80}},
	}
}

// pcr spells out one PCR: SHA-384 of the concatenated parts, extended into
// 48 zero bytes.
func pcr(parts ...[]byte) [DigestSize]byte {
	d := sha512.Sum384(bytes.Join(parts, nil))
	return sha512.Sum384(append(make([]byte, DigestSize), d[:]...))
}

func TestMeasure(t *testing.T) {
	secs := sampleSections()
	e, err := ParseEIF(buildEIF(secs))
	if err != nil {
		t.Fatal(err)
	}
	if !e.CRCValid || len(e.Sections) != 6 || e.Header.Version != 4 || e.Header.DefaultCPUs != 2 {
		t.Errorf("parsed %+v", e.Header)
	}
	got := Measure(e)
	k, c, r1, r2 := secs[0].data, secs[1].data, secs[3].data, secs[4].data
	want := PCRs{PCR0: pcr(k, c, r1, r2), PCR1: pcr(k, c, r1), PCR2: pcr(r2)}
	if got != want {
		t.Errorf("PCRs %x, want %x", got, want)
	}
	// The signature and metadata are not measured; a byte of the command
	// line changes PCR0 and PCR1, one of the application ramdisk PCR0 and
	// PCR2.
	mut := func(i int, f func([]byte) []byte) PCRs {
		s := sampleSections()
		s[i].data = f(bytes.Clone(s[i].data))
		e, err := ParseEIF(buildEIF(s))
		if err != nil {
			t.Fatal(err)
		}
		return Measure(e)
	}
	if p := mut(2, func(b []byte) []byte { return append(b, ' ') }); p != got {
		t.Error("metadata changed the PCRs")
	}
	if p := mut(5, func(b []byte) []byte { return append(b, 0) }); p != got {
		t.Error("signature changed the PCRs")
	}
	if p := mut(1, func(b []byte) []byte { b[0] ^= 1; return b }); p.PCR0 == got.PCR0 || p.PCR1 == got.PCR1 || p.PCR2 != got.PCR2 {
		t.Error("a command line byte: want PCR0 and PCR1 changed, PCR2 not")
	}
	if p := mut(4, func(b []byte) []byte { b[9] ^= 1; return b }); p.PCR0 == got.PCR0 || p.PCR1 != got.PCR1 || p.PCR2 == got.PCR2 {
		t.Error("an application ramdisk byte: want PCR0 and PCR2 changed, PCR1 not")
	}
}

func TestParseEIFErrors(t *testing.T) {
	good := buildEIF(sampleSections())
	noCmdline := append([]testSection(nil), sampleSections()[0])
	noCmdline = append(noCmdline, sampleSections()[3])
	for name, b := range map[string][]byte{
		"short":         good[:100],
		"magic":         append([]byte("ELF!"), good[4:]...),
		"truncated":     good[:len(good)-1],
		"section-type":  func() []byte { c := bytes.Clone(good); c[headerSize+1] = 9; return c }(),
		"section-count": func() []byte { c := bytes.Clone(good); c[27] = 5; return c }(),
		"too-many":      func() []byte { c := bytes.Clone(good); c[27] = 33; return c }(),
		"stray-bytes":   append(bytes.Clone(good), 1, 2, 3),
		"no-cmdline":    buildEIF(noCmdline),
		"huge-section":  func() []byte { c := bytes.Clone(good); c[headerSize+4] = 0x7f; return c }(),
	} {
		if _, err := ParseEIF(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v, want ErrMalformed", name, err)
		}
	}
	// A flipped data byte parses but fails the CRC.
	c := bytes.Clone(good)
	c[len(c)-1] ^= 1
	if e, err := ParseEIF(c); err != nil || e.CRCValid {
		t.Errorf("flipped byte: %v, CRC valid %v", err, e != nil && e.CRCValid)
	}
}

func FuzzParseEIF(f *testing.F) {
	f.Add(buildEIF(sampleSections()))
	f.Add(buildEIF(sampleSections()[:2]))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEIF(b)
		if err != nil {
			return
		}
		again, err := ParseEIF(e.Marshal())
		if err != nil {
			t.Fatalf("re-parsing the marshalled image: %v", err)
		}
		if Measure(again) != Measure(e) || !again.CRCValid || len(again.Sections) != len(e.Sections) {
			t.Fatal("Parse(Marshal(Parse(b))) differs")
		}
	})
}

func BenchmarkMeasure(b *testing.B) {
	// A 64 MiB image: kernel, command line, two ramdisks.
	img := buildEIF([]testSection{
		{SectionKernel, make([]byte, 8<<20)},
		{SectionCmdline, []byte("console=ttyS0")},
		{SectionRamdisk, make([]byte, 8<<20)},
		{SectionRamdisk, make([]byte, 48<<20)},
	})
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		e, err := ParseEIF(img)
		if err != nil {
			b.Fatal(err)
		}
		_ = Measure(e)
	}
}
