package snp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"testing"
)

func readOVMF(t testing.TB, name string) *OVMF {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	o, err := ParseOVMF(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return o
}

func unhexT(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The expected digests are published in virtee/sev-snp-measure
// tests/test_guest.py at 8f2b337e38bc83f87cd30f3253cdfe8e3e12cc3a, for the
// OVMF fixtures copied into testdata (see testdata/README.md). "/dev/null"
// there is an empty kernel and initrd.
func TestLaunchDigestPublished(t *testing.T) {
	empty := HashKernel(nil, nil, "")
	console := HashKernel(nil, nil, "console=ttyS0 loglevel=7")
	epyc := CPUSignature(23, 1, 2) // EPYC-v4
	cases := []struct {
		name   string
		ovmf   string
		opt    Options
		digest string
	}{
		{"test_snp_default", "ovmf_AmdSev_suffix.bin", Options{VCPUs: 1, VCPUSig: epyc, GuestFeatures: 0x21, Kernel: &console},
			"803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e534442e7e1e17895dfe778d0228977"},
		{"test_snp_guest_feature_snp_only", "ovmf_AmdSev_suffix.bin", Options{VCPUs: 1, VCPUSig: epyc, GuestFeatures: 0x1, Kernel: &console},
			"6d287813eb5222d770f75005c664e34c204f385ce832cc2ce7d0d6f354454362f390ef83a92046c042e706363b4b08fa"},
		{"test_snp_without_kernel_default", "ovmf_AmdSev_suffix.bin", Options{VCPUs: 1, VCPUSig: epyc, GuestFeatures: 0x21},
			"e1e1ca029dd7973ab9513295be68198472dcd4fc834bd9af9b63f6e8a1674dbf281a9278a4a2ebe0eed9f22adbcd0e2b"},
		{"test_snp_without_kernel_feature_snp_only", "ovmf_AmdSev_suffix.bin", Options{VCPUs: 1, VCPUSig: epyc, GuestFeatures: 0x1},
			"19358ba9a7615534a9a1e2f0dfc29384dcd4dcb7062ff9c6013b26869a5fc6ecabe033c48dd6f6db5d6d76e7c5df632d"},
		{"test_snp_with_multiple_vcpus_default", "ovmf_AmdSev_suffix.bin", Options{VCPUs: 4, VCPUSig: epyc, GuestFeatures: 0x21, Kernel: &empty},
			"4953b1fb416fa874980e8442b3706d345926d5f38879134e00813c5d7abcbe78eafe7b422907be0b4698e2414a631942"},
		{"test_snp_with_multiple_vcpus_feature_snp_only", "ovmf_AmdSev_suffix.bin", Options{VCPUs: 4, VCPUSig: epyc, GuestFeatures: 0x1, Kernel: &empty},
			"5061fffb019493a903613d56d54b94912a1a2f9e4502385f5c194616753720a92441310ba6c4933de877c36e23046ad5"},
		{"test_snp_ec2_default", "ovmf_AmdSev_suffix.bin", Options{VCPUs: 1, VCPUSig: epyc, GuestFeatures: 0x21, VMM: VMMEC2, Kernel: &empty},
			"0ce9ccc06bab55eebe8abc234f3df6514883977a68a591b71052498ab52b2f1aa415db338033946ef93aa8278c0d67fb"},
		{"test_snp_ec2_feature_snp_only", "ovmf_AmdSev_suffix.bin", Options{VCPUs: 1, VCPUSig: epyc, GuestFeatures: 0x1, VMM: VMMEC2, Kernel: &empty},
			"0883bd0eeb716e65b7b977a321c278d1e51b33b5c655fab985443bbcc65c086b9c15e8a0bd8811050dec7e24964e5056"},
		{"test_snp_gce_default", "ovmf_AmdSev_suffix.bin", Options{VCPUs: 1, GuestFeatures: 0x1, VMM: VMMGCE, Kernel: &empty},
			"5da7106cf14cf46b1725ebab123eb9e53bd46a1e9f400cd0c08e7827b04b688ea8b4e403c8404efed4397ea5d5d0722e"},
		{"test_snp_gce_with_multiple_vcpus_default", "ovmf_AmdSev_suffix.bin", Options{VCPUs: 4, GuestFeatures: 0x1, VMM: VMMGCE, Kernel: &empty},
			"5c5debf100fc339f90276e761ee1f1658d08922c3b20e2a2e6c7a6c3370b2452a15a00eae11886a93d6fd1e7ab81e29d"},
		{"test_snp_with_ovmfx64_without_default", "ovmf_OvmfX64_suffix.bin", Options{VCPUs: 1, VCPUSig: epyc, GuestFeatures: 0x21},
			"28797ae0afaba4005a81e629acebfb59e6687949d6be44007cd5506823b0dd66f146aaae26ff291eed7b493d8a64c385"},
		{"test_snp_with_ovmfx64_without_kernel_feature_snp_only", "ovmf_OvmfX64_suffix.bin", Options{VCPUs: 1, VCPUSig: epyc, GuestFeatures: 0x1},
			"da0296de8193586a5512078dcd719eccecbd87e2b825ad4148c44f665dc87df21e5b49e21523a9ad993afdb6a30b4005"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LaunchDigest(readOVMF(t, tc.ovmf), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhexT(t, tc.digest); !bytes.Equal(got[:], want) {
				t.Errorf("digest %x, published %x", got, want)
			}
		})
	}
}

// test_snp_ovmf_hash_full_default and test_snp_ovmf_hash_gen_*: the digest
// of the firmware alone, and a launch digest seeded with it.
func TestFirmwareDigestPublished(t *testing.T) {
	o := readOVMF(t, "ovmf_AmdSev_suffix.bin")
	fw := FirmwareDigest(o)
	if want := unhexT(t, "086e2e9149ebf45abdc3445fba5b2da8270bdbb04094d7a2c37faaa4b24af3aa16aff8c374c2a55c467a50da6d466b74"); !bytes.Equal(fw[:], want) {
		t.Fatalf("firmware digest %x, published %x", fw, want)
	}
	empty := HashKernel(nil, nil, "")
	got, err := LaunchDigest(o, Options{VCPUs: 1, VCPUSig: CPUSignature(23, 1, 2), GuestFeatures: 0x21, Kernel: &empty, FirmwareDigest: &fw})
	if err != nil {
		t.Fatal(err)
	}
	if want := unhexT(t, "329c8ce0972ae52343b64d34a434a86f245dfd74f5ed7aae15d22efc78fb9683632b9b50e4e1d7fa41179ef98a7ef198"); !bytes.Equal(got[:], want) {
		t.Errorf("digest %x, published %x", got, want)
	}
}

// One byte of the command line, kernel, initrd, the vCPU count, type,
// features or a firmware byte each change the digest.
func TestLaunchDigestSensitivity(t *testing.T) {
	b, err := os.ReadFile("testdata/ovmf_AmdSev_suffix.bin")
	if err != nil {
		t.Fatal(err)
	}
	o, err := ParseOVMF(b)
	if err != nil {
		t.Fatal(err)
	}
	k := HashKernel([]byte("kernel"), []byte("initrd"), "console=ttyS0 loglevel=7")
	base := Options{VCPUs: 2, VCPUSig: CPUSignature(25, 1, 1), GuestFeatures: 0x1, Kernel: &k}
	want, err := LaunchDigest(o, base)
	if err != nil {
		t.Fatal(err)
	}
	variants := map[string]func() (Options, *OVMF){
		"cmdline": func() (Options, *OVMF) {
			v := base
			h := HashKernel([]byte("kernel"), []byte("initrd"), "console=ttyS0 loglevel=8")
			v.Kernel = &h
			return v, o
		},
		"kernel": func() (Options, *OVMF) {
			v := base
			h := HashKernel([]byte("kernek"), []byte("initrd"), "console=ttyS0 loglevel=7")
			v.Kernel = &h
			return v, o
		},
		"initrd": func() (Options, *OVMF) {
			v := base
			h := HashKernel([]byte("kernel"), []byte("initrD"), "console=ttyS0 loglevel=7")
			v.Kernel = &h
			return v, o
		},
		"no-kernel": func() (Options, *OVMF) { v := base; v.Kernel = nil; return v, o },
		"vcpus":     func() (Options, *OVMF) { v := base; v.VCPUs = 3; return v, o },
		"vcpu-type": func() (Options, *OVMF) { v := base; v.VCPUSig = CPUSignature(25, 17, 0); return v, o },
		"features":  func() (Options, *OVMF) { v := base; v.GuestFeatures = 0x21; return v, o },
		"vmm":       func() (Options, *OVMF) { v := base; v.VMM = VMMEC2; return v, o },
		"firmware-byte": func() (Options, *OVMF) {
			c := bytes.Clone(b)
			c[0] ^= 1
			o2, err := ParseOVMF(c)
			if err != nil {
				t.Fatal(err)
			}
			return base, o2
		},
	}
	for name, f := range variants {
		opt, img := f()
		got, err := LaunchDigest(img, opt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got == want {
			t.Errorf("%s: changing it left the digest at %x", name, got)
		}
	}
}

func TestLaunchDigestErrors(t *testing.T) {
	amd := readOVMF(t, "ovmf_AmdSev_suffix.bin")
	x64 := readOVMF(t, "ovmf_OvmfX64_suffix.bin")
	k := HashKernel(nil, nil, "")
	cases := []struct {
		name string
		o    *OVMF
		opt  Options
	}{
		// test_snp_with_ovmfx64_and_kernel_should_fail
		{"kernel-without-hashes-section", x64, Options{VCPUs: 1, Kernel: &k}},
		{"zero-vcpus", amd, Options{}},
		{"unknown-vmm", amd, Options{VCPUs: 1, VMM: VMM(9)}},
	}
	for _, tc := range cases {
		if _, err := LaunchDigest(tc.o, tc.opt); !errors.Is(err, ErrInput) {
			t.Errorf("%s: error %v, want ErrInput", tc.name, err)
		}
	}
}

func TestParseOVMF(t *testing.T) {
	o := readOVMF(t, "ovmf_AmdSev_suffix.bin")
	eip, err := o.ResetEIP()
	if err != nil {
		t.Fatal(err)
	}
	// The entry reads 04 b0 80 00 at offset 0xfbc of the fixture.
	if eip != 0x0080b004 {
		t.Errorf("reset EIP %#x, want 0x80b004", eip)
	}
	if !o.HasSection(SectionSNPKernelHashes) || !o.HasSection(SectionSNPSecrets) || !o.HasSection(SectionCPUID) {
		t.Errorf("sections %v lack the AmdSev build's kernel hashes, secrets or CPUID page", o.Sections)
	}
	b, _ := os.ReadFile("testdata/ovmf_AmdSev_suffix.bin")
	for name, mut := range map[string]func([]byte) []byte{
		"empty":        func([]byte) []byte { return nil },
		"not-pages":    func(b []byte) []byte { return b[:len(b)-1] },
		"footer-guid":  func(b []byte) []byte { b[len(b)-33] ^= 1; return b },
		"table-size":   func(b []byte) []byte { b[len(b)-50] = 0xff; b[len(b)-49] = 0xff; return b },
		"zero-pages":   func([]byte) []byte { return make([]byte, pageSize) },
		"asev-missing": func(b []byte) []byte { return corruptMetadata(t, b) },
	} {
		if _, err := ParseOVMF(mut(bytes.Clone(b))); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v, want ErrMalformed", name, err)
		}
	}
}

// corruptMetadata breaks the "ASEV" signature the metadata entry points at.
func corruptMetadata(t *testing.T, b []byte) []byte {
	o, err := ParseOVMF(b)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := o.Entry(SEVMetadataGUID)
	off := int(d[0]) | int(d[1])<<8 | int(d[2])<<16 | int(d[3])<<24
	b[len(b)-off] = 'X'
	return b
}

func TestVCPUSig(t *testing.T) {
	// AMD #25481: family 19h model 01h stepping 1 (Milan) is 0x00a00f11.
	if s, err := VCPUSig("EPYC-Milan"); err != nil || s != 0x00a00f11 {
		t.Errorf("EPYC-Milan = %#x, %v", s, err)
	}
	if _, err := VCPUSig("Pentium"); !errors.Is(err, ErrInput) {
		t.Errorf("unknown type: %v", err)
	}
}

func BenchmarkLaunchDigest(b *testing.B) {
	// A 4 MiB image: the size of an OVMF.fd, its last page the fixture.
	tail, err := os.ReadFile("testdata/ovmf_AmdSev_suffix.bin")
	if err != nil {
		b.Fatal(err)
	}
	img := make([]byte, 4<<20)
	copy(img[len(img)-len(tail):], tail)
	o, err := ParseOVMF(img)
	if err != nil {
		b.Fatal(err)
	}
	k := HashKernel(make([]byte, 8<<20), nil, "console=ttyS0")
	opt := Options{VCPUs: 4, VCPUSig: CPUSignature(25, 1, 1), GuestFeatures: 1, Kernel: &k}
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		if _, err := LaunchDigest(o, opt); err != nil {
			b.Fatal(err)
		}
	}
}
