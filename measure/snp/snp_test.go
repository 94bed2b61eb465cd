package snp

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/assay-dev/assay/internal/testutil/ovmfimage"
	"github.com/assay-dev/assay/measure/fwtable"
)

var update = flag.Bool("update", false, "rewrite testdata/"+kernelHashesFile)

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

// debianImage is OVMF.fd of Debian bookworm's ovmf 2022.11-6+deb12u2
// (edk2-stable202211 OvmfPkgX64, 2 MiB), kept gzipped by measure/tdx; see
// ../tdx/testdata/README.md and testdata/README.md.
func debianImage(t testing.TB) []byte {
	t.Helper()
	return ovmfimage.Debian(t)
}

func debianOVMF(t testing.TB) *OVMF {
	t.Helper()
	o, err := ParseOVMF(debianImage(t))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func sig(t testing.TB, vcpuType string) uint32 {
	t.Helper()
	s, err := VCPUSig(vcpuType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The expected digests were computed over Debian's OVMF.fd and the AmdSev
// tail by virtee/sev-snp-measure at commit
// 8f2b337e38bc83f87cd30f3253cdfe8e3e12cc3a (Python), run as
//
//	sev-snp-measure.py --mode snp --ovmf IMAGE --output-format hex \
//	    --vcpus N [--vcpu-type T] [--vmm-type ec2|gce] --guest-features F
//
// with the row's N, T, VMM and F (no --vcpu-type for ec2 and gce, which
// ignore it), and the gce rows with features 0x1 also by
// google/gce-tcb-verifier at commit 74582c07899756043cf4ae98789bf5f670f1374a
// (Go; sev.LaunchDigest with LaunchOptionsDefault and Vcpus N, which fixes
// SEV_FEATURES at 0x1), which gave the same values. Neither tool's code is
// part of this repository; testdata/README.md lists the commands.
func TestLaunchDigestNoKernel(t *testing.T) {
	images := map[string]*OVMF{"debian": debianOVMF(t), "amdsev": readOVMF(t, amdSevTail)}
	cases := []struct {
		name     string
		image    string
		vcpus    int
		vcpuType string
		vmm      VMM
		features uint64
		digest   string
	}{
		{"debian-qemu-1-epyc-v4-0x1", "debian", 1, "EPYC-v4", VMMQEMU, 0x1,
			"11570979c77a0adb515761a702527c8b9e11554e730552621d950988613a3a75c6ff1703f540bd22a9beede8fe7a97e3"},
		{"debian-qemu-1-epyc-v4-0x21", "debian", 1, "EPYC-v4", VMMQEMU, 0x21,
			"c32245cb607f82791b60757bf0b344d9030e5b5a107342e69c09e668ff28aca5af9ca1dc41ce74f5a4e81aeaeb5e7b54"},
		{"debian-qemu-4-epyc-v4-0x1", "debian", 4, "EPYC-v4", VMMQEMU, 0x1,
			"32ac9d7a17d28f7cd4404a4516d2f00519668c40ada2062351c36767e908eb3f090d66c33ab10f80150e00a4385b6d0f"},
		{"debian-qemu-4-epyc-milan-0x21", "debian", 4, "EPYC-Milan", VMMQEMU, 0x21,
			"968824524f03c9ab191fbb02ac50d286a4aa1b5922ed74a422a806ce376a9e589d16c8dd8202c256834c0d4013e2584b"},
		{"debian-qemu-1-epyc-genoa-0x1", "debian", 1, "EPYC-Genoa", VMMQEMU, 0x1,
			"98988ff584a1d2b80cbac0c290d592aec2caf460ca58ec34f13c29d44b84dcc3141a8571bb1747aba84fe30c36b2c757"},
		{"debian-qemu-4-epyc-rome-0x1", "debian", 4, "EPYC-Rome", VMMQEMU, 0x1,
			"69b80478ea963e120cb38cb0ff2bfccdf667fa0cb08456e5d692932b101114764e726d9df752d49c24481dd9b9f20af7"},
		{"debian-qemu-1-epyc-turin-0x1", "debian", 1, "EPYC-Turin", VMMQEMU, 0x1,
			"99c1df0f55572eef834a3c9c2fda6885666c9b06dd4b43b3f511fcc01deb48f8c06deaa792663e839d6c22afd29740b0"},
		{"debian-ec2-1-0x1", "debian", 1, "", VMMEC2, 0x1,
			"0aaa035d47b06741a745a62cb88eade395f648a7383d71cc322fab9df33859ca3c188a0578534c01526f1b4c0f0b0eb6"},
		{"debian-ec2-4-0x21", "debian", 4, "", VMMEC2, 0x21,
			"3f757d05a96701b52146defb95eaf8c6e574b281ef60526d1496b13fa734085ae58e5e3996bf622a60c3c014226716a8"},
		// Also gce-tcb-verifier's value.
		{"debian-gce-1-0x1", "debian", 1, "", VMMGCE, 0x1,
			"6c5ed8d7d566801c36cf93c1e735e111d212d71892755cc9967a50c67f72e387909cfd3a3961b10d2799f7779f3beac6"},
		// Also gce-tcb-verifier's value.
		{"debian-gce-4-0x1", "debian", 4, "", VMMGCE, 0x1,
			"dc9e0c41c8b0ca2000043e749d6fd77737d0ef146b3c9eaaaf693f50dd5ce57fbcb379cb4af9918c94d265a7e0bd8317"},
		{"debian-gce-4-0x21", "debian", 4, "", VMMGCE, 0x21,
			"0f8721e39f8b15eed9e616cd5f0efb40eb1c44c84064e4a7c66880a62b3f25dbe00c95018e95a498875baf4507cce0f8"},
		{"amdsev-qemu-1-epyc-v4-0x1", "amdsev", 1, "EPYC-v4", VMMQEMU, 0x1,
			"4a8d2d53d7be8bbf36f1fce4976252baaa7b982b1d99a2d8496d8b8b6cf08f2fd742303b925a71f2c4506caad1e4e466"},
		{"amdsev-qemu-4-epyc-milan-0x21", "amdsev", 4, "EPYC-Milan", VMMQEMU, 0x21,
			"f7731880be4e19ae992482a3522ba6b7e544f48c07a2ccba246069e9a9b5f9e68d78044012c067a4ced5485a05ae6004"},
		{"amdsev-ec2-1-0x1", "amdsev", 1, "", VMMEC2, 0x1,
			"6ef8063cfafe450e134b5b066e8643e33c8292e6a9f4df001df1a4f9cffadca6999a64668e0387cb36e0d2f66da07386"},
		// Also gce-tcb-verifier's value.
		{"amdsev-gce-1-0x1", "amdsev", 1, "", VMMGCE, 0x1,
			"acbd4cfe4a68d445a01e6d4beb7079aee5071f22ff2485c3578757d6719c682b5b3ed0055f8646e994ccab2498762f32"},
		// Also gce-tcb-verifier's value.
		{"amdsev-gce-4-0x1", "amdsev", 4, "", VMMGCE, 0x1,
			"60c93dc1891d0a0a042ce5e3a1d61cbbc9b78eb6782773608c57aa0873035c3b63935fe1d198e2e9088464e5592e31b4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opt := Options{VCPUs: tc.vcpus, VMM: tc.vmm, GuestFeatures: tc.features}
			if tc.vcpuType != "" {
				opt.VCPUSig = sig(t, tc.vcpuType)
			}
			got, err := LaunchDigest(images[tc.image], opt)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhexT(t, tc.digest); !bytes.Equal(got[:], want) {
				t.Errorf("digest %x, sev-snp-measure computes %x", got, want)
			}
		})
	}
}

// The firmware digest of Debian's OVMF.fd is sev-snp-measure's
// "--mode snp:ovmf-hash --ovmf OVMF.fd"; seeded with it (--snp-ovmf-hash),
// the launch digest is the unseeded one.
func TestFirmwareDigestDebian(t *testing.T) {
	o := debianOVMF(t)
	fw := FirmwareDigest(o)
	if want := unhexT(t, "ba2c811512ef868474f239a21f7d7057d65a20de87a003c4f116e4fb1573183bfbcd75c3e99b2f558575a5d0094f73c6"); !bytes.Equal(fw[:], want) {
		t.Fatalf("firmware digest %x, sev-snp-measure computes %x", fw, want)
	}
	seeded := &OVMF{Table: o.Table, Sections: o.Sections, Image: make([]byte, len(o.Image))}
	got, err := LaunchDigest(seeded, Options{VCPUs: 1, VCPUSig: sig(t, "EPYC-v4"), GuestFeatures: 0x21, FirmwareDigest: &fw})
	if err != nil {
		t.Fatal(err)
	}
	if want := unhexT(t, "c32245cb607f82791b60757bf0b344d9030e5b5a107342e69c09e668ff28aca5af9ca1dc41ce74f5a4e81aeaeb5e7b54"); !bytes.Equal(got[:], want) {
		t.Errorf("digest %x, sev-snp-measure computes %x", got, want)
	}
}

// amdSevTail is the last page of an AmdSevX64 OVMF.fd built by this
// project from Debian's edk2 2022.11-6+deb12u2 source (testdata/README.md
// gives the recipe). Like sev-snp-measure's own fixtures it is only the
// tail: footer table, SEV-ES reset block, SEV hashes table entry and SEV
// metadata. That edk2 release declares no SNP_KERNEL_HASHES section (the
// hashes page lies inside an SNP_SEC_MEM range), so it measures SNP guests
// without a kernel only; kernelHashesImage covers kernel hashes.
const amdSevTail = "amdsev-edk2-2022.11-tail.bin"

// kernelHashesImage builds a two-page image shaped like a newer AmdSevX64
// OVMF.fd (edk2 releases after 2022.11 declare the SNP_KERNEL_HASHES
// section; Debian's 2022.11 source, built in testdata, has the hashes
// table entry but not the section): page 0 stands for the firmware
// volume, page 1 ends with the SEV metadata and the footer table (edk2
// OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm: entries of data, UINT16
// size and GUID read backwards from 32 bytes before the end, behind the
// table's own size and footer GUID). The sections follow the shape of
// OvmfSevMetadata.asm with a kernel hashes page at 0x80c000 and an SVSM
// calling-area page; the hashes table sits 0xc00 into that page as in
// the AmdSev build.
func kernelHashesImage() []byte {
	img := make([]byte, 2*pageSize)
	for i := range pageSize {
		img[i] = byte(i*7 + i>>8)
	}
	le := binary.LittleEndian
	sections := []Section{
		{0x800000, 0x9000, SectionSNPSecMem},
		{0x80a000, 0x2000, SectionSNPSecMem},
		{0x80c000, 0x1000, SectionSNPKernelHashes},
		{0x80d000, 0x1000, SectionSVSMCAA},
		{0x80e000, 0x1000, SectionSNPSecrets},
		{0x80f000, 0x1000, SectionCPUID},
		{0x810000, 0x10000, SectionSNPSecMem},
	}
	const metaOff = 0x800 // from the end of the image
	meta := img[len(img)-metaOff:]
	copy(meta, "ASEV")
	le.PutUint32(meta[4:], uint32(metadataHdrSize+metadataItemSize*len(sections)))
	le.PutUint32(meta[8:], 1)
	le.PutUint32(meta[12:], uint32(len(sections)))
	for i, s := range sections {
		it := meta[metadataHdrSize+i*metadataItemSize:]
		le.PutUint32(it, s.GPA)
		le.PutUint32(it[4:], s.Size)
		le.PutUint32(it[8:], uint32(s.Type))
	}
	pos := len(img) - 32
	put := func(g fwtable.GUID, data []byte) {
		copy(img[pos-16:], g[:])
		le.PutUint16(img[pos-18:], uint16(len(data)+18))
		copy(img[pos-18-len(data):], data)
		pos -= len(data) + 18
	}
	u32 := func(v ...uint32) []byte {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			le.PutUint32(b[4*i:], x)
		}
		return b
	}
	put(fwtable.FooterGUID, nil) // its size, patched below, covers the table
	put(SEVESResetGUID, u32(0x80b004))
	put(SEVHashTableRVGUID, u32(0x80cc00, 0x400))
	put(SEVMetadataGUID, u32(metaOff))
	le.PutUint16(img[len(img)-32-18:], uint16(len(img)-32-pos))
	return img
}

// kernelHashesFile holds kernelHashesImage for other packages' tests (the
// CLI's); go test -update rewrites it.
const kernelHashesFile = "kernel-hashes-image.bin"

func TestKernelHashesImageFile(t *testing.T) {
	img := kernelHashesImage()
	if *update {
		if err := os.WriteFile("testdata/"+kernelHashesFile, img, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile("testdata/" + kernelHashesFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, img) {
		t.Errorf("testdata/%s differs from kernelHashesImage (run go test -update if intended)", kernelHashesFile)
	}
}

// testKernel and testInitrd are direct-boot inputs; only their SHA-256
// enters the digest, so they need not be a real kernel and initrd.
var (
	testKernel = []byte("vmlinuz: not a kernel, a test input\n")
	testInitrd = []byte("initrd: test input\n")
)

// The expected digests were computed by sev-snp-measure at commit
// 8f2b337e38bc83f87cd30f3253cdfe8e3e12cc3a over kernelHashesImage written
// to a file (SHA-256 checked below), as
//
//	sev-snp-measure.py --mode snp --ovmf image.bin --output-format hex \
//	    --vcpus N [--vcpu-type T] [--vmm-type V] --guest-features F \
//	    --kernel K [--initrd I] [--append S]
//
// with K and I files holding testKernel and testInitrd, or empty files
// for the "empty" rows; testdata/README.md lists each command.
// gce-tcb-verifier computes no kernel hashes (and refuses the section).
func TestLaunchDigestKernel(t *testing.T) {
	img := kernelHashesImage()
	const imgSHA256 = "2258cf5f8ba18e71f2b0279ba2cf9dc0a51fb6565a874f75bd7ffa397ebf6984"
	if sum := sha256.Sum256(img); hex.EncodeToString(sum[:]) != imgSHA256 {
		t.Fatalf("kernelHashesImage has SHA-256 %x, want %s (the image the digests were computed from)", sum, imgSHA256)
	}
	o, err := ParseOVMF(img)
	if err != nil {
		t.Fatal(err)
	}
	empty := HashKernel(nil, nil, "console=ttyS0 loglevel=7")
	test := HashKernel(testKernel, testInitrd, "root=/dev/vda1 console=ttyS0")
	noInitrd := HashKernel(testKernel, nil, "")
	cases := []struct {
		name   string
		opt    Options
		digest string
	}{
		{"qemu-1-epyc-v4-0x21-empty", Options{VCPUs: 1, VCPUSig: sig(t, "EPYC-v4"), GuestFeatures: 0x21, Kernel: &empty},
			"9cd5cff80883d80f3b38fc06a1d16949e9867d2df1b864af4ed3cfb5d9d59ba2003744517f440780169203d2b3517aab"},
		{"qemu-1-epyc-v4-0x1-empty", Options{VCPUs: 1, VCPUSig: sig(t, "EPYC-v4"), GuestFeatures: 0x1, Kernel: &empty},
			"ad65ca5f906edec0a01747c20debbb385fdae21fabdf3f8663b4e5bc27c913d447b21a9387ab4a6f5b8247a532820b48"},
		{"qemu-4-epyc-milan-0x1", Options{VCPUs: 4, VCPUSig: sig(t, "EPYC-Milan"), GuestFeatures: 0x1, Kernel: &test},
			"61cc6bd06897b5a2d19cc5334bcb055e76955fb06a89eeb4ae97fc588d2b379bec80f9fdafeac776ae999372eba227c9"},
		{"qemu-1-epyc-genoa-0x21-no-initrd-no-append", Options{VCPUs: 1, VCPUSig: sig(t, "EPYC-Genoa"), GuestFeatures: 0x21, Kernel: &noInitrd},
			"41e40f9bb857388973af052601fb3b5127db167a8e4bebd0edc7e426d4c3a81386654bd1c7d145574f4b95d3d77fa61a"},
		{"ec2-1-0x1", Options{VCPUs: 1, VMM: VMMEC2, GuestFeatures: 0x1, Kernel: &test},
			"0df6ebe0d8e2b9d624abf1ef24b15fa48518ef5cf6c55aa4dcd246cbdbda957c6b492f36935641be386a9a3dc4fb3a68"},
		{"gce-4-0x1", Options{VCPUs: 4, VMM: VMMGCE, GuestFeatures: 0x1, Kernel: &test},
			"fb2c0d7100f7a01f0196f1edcd9af36e8f8b4d0e945ca01af9a04a01be5b71c82b80b366f5859cdb80a9a5f0bd71db40"},
		// Without a kernel the hashes page is measured as zero pages.
		{"qemu-2-epyc-v4-0x1-no-kernel", Options{VCPUs: 2, VCPUSig: sig(t, "EPYC-v4"), GuestFeatures: 0x1},
			"574f8e31d201727c9d1b015685e9bdadcba359cb2a1b342f605914290b6bb84d3a9e0390852859404d24ab38a086c3e8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LaunchDigest(o, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhexT(t, tc.digest); !bytes.Equal(got[:], want) {
				t.Errorf("digest %x, sev-snp-measure computes %x", got, want)
			}
		})
	}
}

// One byte of the command line, kernel, initrd, the vCPU count, type,
// features, VMM or a firmware byte each change the digest.
func TestLaunchDigestSensitivity(t *testing.T) {
	b := kernelHashesImage()
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
	amd := readOVMF(t, amdSevTail)
	deb := debianOVMF(t)
	k := HashKernel(nil, nil, "")
	cases := []struct {
		name string
		o    *OVMF
		opt  Options
	}{
		// Debian's OvmfPkgX64 build declares no SNP_KERNEL_HASHES section
		// (its hashes table entry is zero); sev-snp-measure refuses it too.
		{"kernel-without-hashes-section", deb, Options{VCPUs: 1, Kernel: &k}},
		{"zero-vcpus", deb, Options{}},
		{"unknown-vmm", deb, Options{VCPUs: 1, VMM: VMM(9)}},
		// The AmdSev build has the hashes table entry but, being 2022.11,
		// no SNP_KERNEL_HASHES section: sev-snp-measure refuses it too.
		{"kernel-with-hashes-entry-without-section", amd, Options{VCPUs: 1, Kernel: &k}},
	}
	for _, tc := range cases {
		if _, err := LaunchDigest(tc.o, tc.opt); !errors.Is(err, ErrInput) {
			t.Errorf("%s: error %v, want ErrInput", tc.name, err)
		}
	}
}

// TestParseOVMF reads the SEV metadata of both images. Debian's sections
// are edk2-stable202211 OvmfSevMetadata.asm with OvmfPkgX64.fdf's PCDs
// (MEMFD_BASE_ADDRESS 0x800000): SNP_SEC_MEM from the SEC page tables up
// to the GHCB (0x809000) and from the page after it up to the secrets
// page, the secrets and CPUID pages, then SNP_SEC_MEM up to the PEI
// memory FV (0x820000).
func TestParseOVMF(t *testing.T) {
	deb := debianOVMF(t)
	want := []Section{
		{GPA: 0x800000, Size: 0x9000, Type: SectionSNPSecMem},
		{GPA: 0x80a000, Size: 0x3000, Type: SectionSNPSecMem},
		{GPA: 0x80d000, Size: 0x1000, Type: SectionSNPSecrets},
		{GPA: 0x80e000, Size: 0x1000, Type: SectionCPUID},
		{GPA: 0x80f000, Size: 0x11000, Type: SectionSNPSecMem},
	}
	if fmt.Sprint(deb.Sections) != fmt.Sprint(want) {
		t.Errorf("Debian OVMF.fd sections %+v, want %+v", deb.Sections, want)
	}
	// The SEV-ES reset block reads 04 b0 80 00 in both images.
	amd := readOVMF(t, amdSevTail)
	for name, o := range map[string]*OVMF{"debian": deb, "amdsev": amd} {
		if eip, err := o.ResetEIP(); err != nil || eip != 0x0080b004 {
			t.Errorf("%s: reset EIP %#x, %v; want 0x80b004", name, eip, err)
		}
	}
	// The AmdSev build places QEMU's hashes table at 0x80cc00 (footer
	// entry 00 cc 80 00, size 00 04 00 00); Debian's entry is zero.
	if gpa, err := amd.HashesTableGPA(); err != nil || gpa != 0x80cc00 {
		t.Errorf("AmdSev hashes table at %#x, %v; want 0x80cc00", gpa, err)
	}
	if !amd.HasSection(SectionSNPSecrets) || !amd.HasSection(SectionCPUID) || amd.HasSection(SectionSNPKernelHashes) || deb.HasSection(SectionSNPKernelHashes) {
		t.Errorf("AmdSev sections %v, Debian %v: want secrets and CPUID pages and, in 2022.11, no SNP_KERNEL_HASHES", amd.Sections, deb.Sections)
	}
	b, _ := os.ReadFile("testdata/" + amdSevTail)
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
	// A 4 MiB image: the size of an OVMF.fd, its last page that of
	// kernelHashesImage (metadata and footer table).
	tail := kernelHashesImage()[pageSize:]
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
