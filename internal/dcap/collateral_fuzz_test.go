package dcap

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/assay-dev/assay/internal/testutil"
)

// fuzzSeeds adds testdata/collateral/*.json and the corpus's collateral files of the
// given formats (when the corpus is there; fuzzing does not need it).
func fuzzSeeds(f *testing.F, formats ...string) {
	f.Helper()
	files, _ := filepath.Glob("testdata/collateral/*.json")
	for _, p := range files {
		f.Add(collFile(f, p))
	}
	dir := filepath.Join(testutil.RepoRoot(f), "..", "shared", "corpus")
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		return
	}
	for rel, format := range corpusCollateral(f, dir) {
		for _, want := range formats {
			if format == want {
				f.Add(collFile(f, filepath.Join(dir, rel)))
			}
		}
	}
}

// exerciseTCBInfo runs what a verifier runs on a parsed TCB info, for
// panics: matching with platforms at the extremes, validity, marshalling.
func exerciseTCBInfo(t *testing.T, ti *TCBInfo) {
	_ = ti.ValidAt(time.Unix(0, 0))
	_ = ti.Describe()
	for _, s := range [][16]byte{{}, {0xff, 0x00, 0xff}, {0x03, 0x01, 0x03}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}} {
		p := PlatformTCB{FMSPC: ti.FMSPC, PCEID: ti.PCEID, PCESVN: uint16(s[2]) << 8}
		for i := range p.SGXComponents {
			p.SGXComponents[i] = s[i%3]
		}
		if ti.ID == TCBInfoTDX {
			p.TEETCBSVN = &s
		}
		pl, m, err := ti.Match(p)
		if err == nil {
			Converge(pl, m, TCBResult{Status: UpToDate})
		}
	}
	again, err := ParseTCBInfo(ti.Marshal())
	if err != nil {
		t.Fatalf("parse of Marshal: %v", err)
	}
	if !bytes.Equal(again.Marshal(), ti.Marshal()) {
		t.Fatal("Marshal(Parse(Marshal(x))) != Marshal(x)")
	}
}

func FuzzParseTCBInfo(f *testing.F) {
	fuzzSeeds(f, FormatTCBInfo)
	f.Fuzz(func(t *testing.T, b []byte) {
		format, _ := SniffCollateral(b)
		ti, err := ParseTCBInfo(b)
		if err != nil {
			return
		}
		if format != FormatTCBInfo {
			t.Fatalf("parses as TCB info but sniffs as %q", format)
		}
		exerciseTCBInfo(t, ti)
	})
}

func FuzzParseQEIdentity(f *testing.F) {
	fuzzSeeds(f, FormatQEIdentity)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = SniffCollateral(b)
		qi, err := ParseQEIdentity(b)
		if err != nil {
			return
		}
		_ = qi.ValidAt(time.Unix(0, 0))
		for _, svn := range []uint16{0, 4, 0xffff} {
			_, _ = qi.Match(QEReportIdentity{MRSigner: qi.MRSigner, ISVProdID: qi.ISVProdID, ISVSVN: svn, MiscSelect: qi.MiscSelect, Attributes: qi.Attributes})
		}
		again, err := ParseQEIdentity(qi.Marshal())
		if err != nil {
			t.Fatalf("parse of Marshal: %v", err)
		}
		if !bytes.Equal(again.Marshal(), qi.Marshal()) {
			t.Fatal("Marshal(Parse(Marshal(x))) != Marshal(x)")
		}
	})
}

func FuzzParseBundle(f *testing.F) {
	fuzzSeeds(f, FormatBundle)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = SniffCollateral(b)
		bun, err := ParseBundle(b)
		if err != nil {
			return
		}
		_ = bun.CRLs()
		_ = bun.Certificates()
		exerciseTCBInfo(t, bun.TCBInfo)
		again, err := ParseBundle(bun.Marshal())
		if err != nil {
			t.Fatalf("parse of Marshal: %v", err)
		}
		if !bytes.Equal(again.Marshal(), bun.Marshal()) {
			t.Fatal("Marshal(Parse(Marshal(x))) != Marshal(x)")
		}
	})
}
