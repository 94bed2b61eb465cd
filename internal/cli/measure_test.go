package cli

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assay-dev/assay/measure/nitro"
	"github.com/assay-dev/assay/policy"
)

// The OVMF tail and expected digest are virtee/sev-snp-measure's (see
// measure/snp/testdata/README.md): test_snp_default, an empty kernel and
// initrd, command line "console=ttyS0 loglevel=7", EPYC-v4, 0x21.
const snpDefaultDigest = "803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e534442e7e1e17895dfe778d0228977"

func TestMeasureSNP(t *testing.T) {
	ovmf := repoFile(t, "measure/snp/testdata/ovmf_AmdSev_suffix.bin")
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"measure", "snp", "--ovmf", ovmf, "--kernel", empty, "--initrd", empty,
		"--vcpus", "1", "--vcpu-type", "EPYC-v4", "--guest-features", "0x21"}
	code, out, errs := run(t, append(args, "--append", "console=ttyS0 loglevel=7")...)
	if code != 0 || strings.TrimSpace(out) != snpDefaultDigest {
		t.Fatalf("exit %d, out %q, stderr %q; want %s", code, out, errs, snpDefaultDigest)
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
	b, err := os.ReadFile(rvFile)
	if err != nil {
		t.Fatal(err)
	}
	rvs, err := policy.ParseRefValues(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := policy.ValidateAll(rvs); err != nil {
		t.Fatal(err)
	}
	img, _ := os.ReadFile(ovmf)
	rv := rvs[0]
	if len(rvs) != 1 || rv.TEE != "snp" || rv.Claim != "measurement" || rv.Value != snpDefaultDigest ||
		rv.Workload != "web" || rv.Provenance.Author != "release-bot" || rv.State != policy.StateActive ||
		!strings.Contains(rv.Provenance.Source, fmt.Sprintf("sha256:%x", sha256.Sum256(img))) ||
		!strings.Contains(rv.Provenance.Source, fmt.Sprintf("kernel empty sha256:%x", sha256.Sum256(nil))) {
		t.Errorf("reference value %+v", rvs)
	}
}

func TestMeasureSNPErrors(t *testing.T) {
	amd := repoFile(t, "measure/snp/testdata/ovmf_AmdSev_suffix.bin")
	x64 := repoFile(t, "measure/snp/testdata/ovmf_OvmfX64_suffix.bin")
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
		{"kernel-without-hashes-section", []string{"--ovmf", x64, "--vcpu-type", "EPYC", "--kernel", amd}, ExitRejected},
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
	tail, err := os.ReadFile(repoFile(t, "measure/snp/testdata/ovmf_OvmfX64_suffix.bin"))
	if err != nil {
		t.Fatal(err)
	}
	img := make([]byte, 4<<20) // the 4 MiB image its TDVF descriptor describes
	copy(img[len(img)-len(tail):], tail)
	dir := t.TempDir()
	path := filepath.Join(dir, "OVMF.fd")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	code, perPage, errs := run(t, "measure", "tdx", "--tdvf", path)
	if code != 0 || len(strings.TrimSpace(perPage)) != 96 {
		t.Fatalf("exit %d, %q, %s", code, perPage, errs)
	}
	code, perSection, _ := run(t, "measure", "tdx", "--tdvf", path, "--order", "per-section")
	if code != 0 || perSection == perPage {
		t.Errorf("per-section: exit %d, %q (per-page %q)", code, perSection, perPage)
	}
	code, out, errs := run(t, "measure", "tdx", "--tdvf", path, "--refvalue-id", "td-fw", "--author", "ci", "--state", "staged")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	rvs, err := policy.ParseRefValues([]byte(out))
	if err != nil || len(rvs) != 1 || rvs[0].Claim != "mr_td" || rvs[0].Value != strings.TrimSpace(perPage) || rvs[0].State != policy.StateStaged {
		t.Errorf("reference values %+v, %v", rvs, err)
	}
	if code, _, _ := run(t, "measure", "tdx", "--tdvf", repoFile(t, "measure/snp/testdata/ovmf_OvmfX64_suffix.bin")); code != ExitRejected {
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
	if code, _, _ := run(t, "measure", "nitro", "--eif", repoFile(t, "measure/snp/testdata/ovmf_AmdSev_suffix.bin")); code != ExitRejected {
		t.Errorf("not an EIF: exit %d", code)
	}
}
