package snp

import (
	"os"
	"testing"
)

func FuzzParseOVMF(f *testing.F) {
	b, err := os.ReadFile("testdata/" + amdSevTail)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	// The last page of Debian's OVMF.fd: its footer table and SEV
	// metadata, without a hashes section.
	deb := debianImage(f)
	f.Add(deb[len(deb)-pageSize:])
	f.Add(kernelHashesImage())
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOVMF(b)
		if err != nil {
			return
		}
		var total uint64
		for _, s := range o.Sections {
			total += uint64(s.Size)
		}
		if total > 16<<20 {
			return // valid but slow to measure: a page hash per 4 KiB
		}
		// Whatever parses must measure or refuse, never panic.
		k := HashKernel(nil, nil, "")
		_, _ = LaunchDigest(o, Options{VCPUs: 2, GuestFeatures: 1, Kernel: &k})
		_, _ = LaunchDigest(o, Options{VCPUs: 1, VMM: VMMEC2})
	})
}
