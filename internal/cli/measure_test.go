package cli

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assay-dev/assay/internal/testutil/ovmfimage"
	"github.com/assay-dev/assay/measure/nitro"
	"github.com/assay-dev/assay/policy"
)

// kernelImage is the AmdSev-shaped image measure/snp's tests build (with
// an SNP_KERNEL_HASHES section) and amdSevTail the tail of an AmdSevX64
// OVMF.fd built from Debian's edk2 2022.11 source (a hashes table entry,
// no such section); see measure/snp/testdata/README.md.
const (
	kernelImage = "measure/snp/testdata/kernel-hashes-image.bin"
	amdSevTail  = "measure/snp/testdata/amdsev-edk2-2022.11-tail.bin"
)

// snpKernelDigest is sev-snp-measure's for kernelImage with an empty
// kernel and initrd, command line "console=ttyS0 loglevel=7", 1 vCPU
// EPYC-v4, features 0x21 (measure/snp TestLaunchDigestKernel).
const snpKernelDigest = "9cd5cff80883d80f3b38fc06a1d16949e9867d2df1b864af4ed3cfb5d9d59ba2003744517f440780169203d2b3517aab"

// debianOVMF writes Debian's OVMF.fd (measure/tdx/testdata) to a
// temporary file and returns its path.
func debianOVMF(t *testing.T) string {
	t.Helper()
	img := ovmfimage.Debian(t)
	path := filepath.Join(t.TempDir(), "OVMF.fd")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMeasureSNP(t *testing.T) {
	// Debian's OVMF.fd, no kernel: sev-snp-measure and gce-tcb-verifier
	// agree on these (measure/snp/testdata/README.md).
	deb := debianOVMF(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--vcpu-type", "EPYC-v4"}, "11570979c77a0adb515761a702527c8b9e11554e730552621d950988613a3a75c6ff1703f540bd22a9beede8fe7a97e3"},
		{[]string{"--vcpus", "4", "--vmm", "gce"}, "dc9e0c41c8b0ca2000043e749d6fd77737d0ef146b3c9eaaaf693f50dd5ce57fbcb379cb4af9918c94d265a7e0bd8317"},
	} {
		code, out, errs := run(t, append([]string{"measure", "snp", "--ovmf", deb}, c.args...)...)
		if code != 0 || strings.TrimSpace(out) != c.want {
			t.Errorf("%v: exit %d, out %q, stderr %q; want %s", c.args, code, out, errs, c.want)
		}
	}

	ovmf := repoFile(t, kernelImage)
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"measure", "snp", "--ovmf", ovmf, "--kernel", empty, "--initrd", empty,
		"--vcpus", "1", "--vcpu-type", "EPYC-v4", "--guest-features", "0x21"}
	code, out, errs := run(t, append(args, "--append", "console=ttyS0 loglevel=7")...)
	if code != 0 || strings.TrimSpace(out) != snpKernelDigest {
		t.Fatalf("exit %d, out %q, stderr %q; want %s", code, out, errs, snpKernelDigest)
	}
	// One byte of the command line changes the measurement.
	code, out2, _ := run(t, append(args, "--append", "console=ttyS0 loglevel=8")...)
	if code != 0 || out2 == out || len(strings.TrimSpace(out2)) != 96 {
		t.Errorf("changed command line: exit %d, %q", code, out2)
	}

	// As a reference value file, read back by the policy package.
	rvFile := filepath.Join(t.TempDir(), "rv.json")
	code, _, errs = run(t, append(args, "--append", "console=ttyS0 loglevel=7",
		"--refvalue-id", "guest-fw", "--author", "release-bot", "--workload", "web", "-o", rvFile)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	rvs := readRefValues(t, rvFile)
	img, _ := os.ReadFile(ovmf)
	rv := rvs[0]
	if len(rvs) != 1 || rv.TEE != "snp" || rv.Claim != "measurement" || rv.Value != snpKernelDigest ||
		rv.Workload != "web" || rv.Provenance.Author != "release-bot" || rv.State != policy.StateActive ||
		!strings.Contains(rv.Provenance.Source, fmt.Sprintf("sha256:%x", sha256.Sum256(img))) ||
		!strings.Contains(rv.Provenance.Source, fmt.Sprintf("kernel empty sha256:%x", sha256.Sum256(nil))) {
		t.Errorf("reference value %+v", rvs)
	}
}

func TestMeasureSNPErrors(t *testing.T) {
	amd := repoFile(t, kernelImage)
	tail := repoFile(t, amdSevTail)
	notImage := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(notImage, []byte("not firmware"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"no-ovmf", []string{"--vcpu-type", "EPYC"}, ExitUsage},
		{"no-vcpu-type-for-qemu", []string{"--ovmf", amd}, ExitUsage},
		{"unknown-vcpu-type", []string{"--ovmf", amd, "--vcpu-type", "i486"}, ExitUsage},
		{"both-vcpu-flags", []string{"--ovmf", amd, "--vcpu-type", "EPYC", "--vcpu-sig", "0x800f12"}, ExitUsage},
		{"bad-features", []string{"--ovmf", amd, "--vcpu-type", "EPYC", "--guest-features", "snp"}, ExitUsage},
		{"bad-vmm", []string{"--ovmf", amd, "--vcpu-type", "EPYC", "--vmm", "xen"}, ExitUsage},
		{"append-without-kernel", []string{"--ovmf", amd, "--vcpu-type", "EPYC", "--append", "quiet"}, ExitUsage},
		{"refvalue-without-author", []string{"--ovmf", amd, "--vcpu-type", "EPYC", "--refvalue-id", "x"}, ExitUsage},
		{"missing-file", []string{"--ovmf", amd + ".absent", "--vcpu-type", "EPYC"}, ExitUsage},
		{"not-firmware", []string{"--ovmf", notImage, "--vcpu-type", "EPYC"}, ExitRejected},
		{"kernel-without-hashes-section", []string{"--ovmf", tail, "--vcpu-type", "EPYC", "--kernel", amd}, ExitRejected},
		{"zero-vcpus", []string{"--ovmf", amd, "--vcpu-type", "EPYC", "--vcpus", "0"}, ExitRejected},
	} {
		code, _, errs := run(t, append([]string{"measure", "snp"}, tc.args...)...)
		if code != tc.code || errs == "" {
			t.Errorf("%s: exit %d (want %d), stderr %q", tc.name, code, tc.code, errs)
		}
	}
	if code, _, _ := run(t, "measure", "sgx"); code != ExitUsage {
		t.Errorf("unknown kind: exit %d", code)
	}
}

func TestMeasureTDX(t *testing.T) {
	// Debian's OVMF.fd; the MRTDs are gce-tcb-verifier's (per page) and
	// td-report-web's (per section), see measure/tdx/testdata/README.md.
	path := debianOVMF(t)
	const (
		wantPerPage    = "4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47"
		wantPerSection = "acccbcc870a381adab0d3919d90a7f268ac3b0364771f202ed4bb4e892d045b33db3b32e6924cba830a724eed443f7e1"
	)
	code, perPage, errs := run(t, "measure", "tdx", "--tdvf", path)
	if code != 0 || strings.TrimSpace(perPage) != wantPerPage {
		t.Fatalf("exit %d, %q, %s; want %s", code, perPage, errs, wantPerPage)
	}
	code, perSection, _ := run(t, "measure", "tdx", "--tdvf", path, "--order", "per-section")
	if code != 0 || strings.TrimSpace(perSection) != wantPerSection {
		t.Errorf("per-section: exit %d, %q; want %s", code, perSection, wantPerSection)
	}
	code, out, errs := run(t, "measure", "tdx", "--tdvf", path, "--refvalue-id", "td-fw", "--author", "ci", "--state", "staged")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	rvs, err := policy.ParseRefValues([]byte(out))
	if err != nil || len(rvs) != 1 || rvs[0].Claim != "mr_td" || rvs[0].Value != wantPerPage || rvs[0].State != policy.StateStaged {
		t.Errorf("reference values %+v, %v", rvs, err)
	}
	// The last page alone: the descriptor points outside the file.
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tail := filepath.Join(t.TempDir(), "tail.fd")
	if err := os.WriteFile(tail, img[len(img)-4096:], 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := run(t, "measure", "tdx", "--tdvf", tail); code != ExitRejected {
		t.Errorf("truncated image: exit %d, want %d", code, ExitRejected)
	}
	if code, _, _ := run(t, "measure", "tdx", "--tdvf", path, "--order", "random"); code != ExitUsage {
		t.Errorf("bad order: exit %d", code)
	}
}

func TestMeasureNitro(t *testing.T) {
	e := &nitro.EIF{Header: nitro.Header{Version: 4}, Sections: []nitro.Section{
		{Type: nitro.SectionKernel, Data: []byte("kernel")},
		{Type: nitro.SectionCmdline, Data: []byte("console=ttyS0")},
		{Type: nitro.SectionRamdisk, Data: []byte("bootstrap")},
		{Type: nitro.SectionRamdisk, Data: []byte("application")},
	}}
	img := e.Marshal()
	path := filepath.Join(t.TempDir(), "app.eif")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	p := nitro.Measure(e)
	want := fmt.Sprintf("pcr0 %x\npcr1 %x\npcr2 %x\n", p.PCR0, p.PCR1, p.PCR2)
	if code, out, errs := run(t, "measure", "nitro", "--eif", path); code != 0 || out != want || errs != "" {
		t.Errorf("exit %d, out %q, stderr %q; want %q", code, out, errs, want)
	}
	code, out, errs := run(t, "measure", "nitro", "--eif", path, "--refvalue-id", "app", "--author", "ci")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	rvs, err := policy.ParseRefValues([]byte(out))
	if err != nil || len(rvs) != 3 || rvs[2].ID != "app-pcr2" || rvs[2].Claim != "pcrs.2" || rvs[2].Value != fmt.Sprintf("%x", p.PCR2) {
		t.Errorf("reference values %+v, %v", rvs, err)
	}
	// A corrupted file still measures, with a warning.
	img[len(img)-1] ^= 1
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run(t, "measure", "nitro", "--eif", path); code != 0 || !strings.Contains(errs, "CRC") {
		t.Errorf("corrupted: exit %d, stderr %q", code, errs)
	}
	if code, _, _ := run(t, "measure", "nitro", "--eif", repoFile(t, kernelImage)); code != ExitRejected {
		t.Errorf("not an EIF: exit %d", code)
	}
}
