package tcg_test

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/tcg"
	"github.com/assay-dev/assay/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden claims in testdata")

// TestClaimsGolden keeps the claims of the seed logs (and of the IMA
// seed) equal to testdata/*.claims.json; -update rewrites them.
func TestClaimsGolden(t *testing.T) {
	names := []string{"keylime-ima.bin"}
	for name := range seedPCRs {
		names = append(names, name)
	}
	for _, name := range names {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var c any
		if strings.Contains(name, "ima") {
			l, err := tcg.ParseIMA(b)
			if err != nil {
				t.Fatal(err)
			}
			c = l.Claims()
		} else {
			l, err := tcg.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			c = l.Claims()
		}
		got, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		golden := filepath.Join("testdata", strings.TrimSuffix(name, ".bin")+".claims.json")
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: claims differ from %s (run with -update after checking the change)", name, golden)
		}
	}
}

// Kernel command lines that go-eventlog states for its logs
// (testdata/eventlog_data.go of github.com/google/go-eventlog v0.0.2,
// Apache-2.0), without their final NUL.
var goEventlogCmdlines = map[string]string{
	"cos-85-amd-sev.bin":         `/syslinux/vmlinuz.A init=/usr/lib/systemd/systemd boot=local rootwait ro noresume noswap loglevel=7 noinitrd console=ttyS0 security=apparmor virtio_net.napi_tx=1 systemd.unified_cgroup_hierarchy=false systemd.legacy_systemd_cgroup_controller=false csm.disabled=1 loadpin.exclude=kernel-module modules-load=loadpin_trigger module.sig_enforce=1 dm_verity.error_behavior=3 dm_verity.max_bios=-1 dm_verity.dev_wait=1 i915.modeset=1 cros_efi root=/dev/dm-0 "dm=1 vroot none ro 1,0 4077568 verity payload=PARTUUID=EF8ECEE2-2385-AE4F-A146-1ED93D8AC217 hashtree=PARTUUID=EF8ECEE2-2385-AE4F-A146-1ED93D8AC217 hashstart=4077568 alg=sha256 root_hexdigest=795872ee03859c10dfcc4d67b4b96c85094b340c2d8784783abc2fa12a6ed671 salt=40eb77fb9093cbff56a6f9c2214c4f7554817d079513b7c77de4953d6b8ffc16"`,
	"cos-93-amd-sev.bin":         `/syslinux/vmlinuz.A init=/usr/lib/systemd/systemd boot=local rootwait ro noresume loglevel=7 noinitrd console=ttyS0 security=apparmor virtio_net.napi_tx=1 systemd.unified_cgroup_hierarchy=false systemd.legacy_systemd_cgroup_controller=false csm.disabled=1 loadpin.exclude=kernel-module modules-load=loadpin_trigger module.sig_enforce=1 console=tty1 dm_verity.error_behavior=3 dm_verity.max_bios=-1 dm_verity.dev_wait=1 i915.modeset=1 cros_efi root=/dev/dm-0 "dm=1 vroot none ro 1,0 4077568 verity payload=PARTUUID=05CDEDEA-42C6-2248-B6B3-AB4CE3EA7501 hashtree=PARTUUID=05CDEDEA-42C6-2248-B6B3-AB4CE3EA7501 hashstart=4077568 alg=sha256 root_hexdigest=8db95edb446a7311634fc8409e6eab39c66886c4db16aeeef166bbd8fe4ff357 salt=3ec6b6fef69119253b9a5f79a5bb06bc7b12f177063b2466a04f08976375af44"`,
	"cos-101-amd-sev.bin":        `/syslinux/vmlinuz.A init=/usr/lib/systemd/systemd boot=local rootwait ro noresume loglevel=7 console=tty1 console=ttyS0 security=apparmor virtio_net.napi_tx=1 nmi_watchdog=0 csm.disabled=1 loadpin.exclude=kernel-module modules-load=loadpin_trigger module.sig_enforce=1 dm_verity.error_behavior=3 dm_verity.max_bios=-1 dm_verity.dev_wait=1 i915.modeset=1 cros_efi root=/dev/dm-0 "dm=1 vroot none ro 1,0 4077568 verity payload=PARTUUID=1D70214B-9AB3-E542-8372-3CCD786534FA hashtree=PARTUUID=1D70214B-9AB3-E542-8372-3CCD786534FA hashstart=4077568 alg=sha256 root_hexdigest=48d436350a7e83bde985cd3f7e79fa443557743b42243803ce31104ca4719c5d salt=b323b014b6f463172fca758a1c5a6745a2c8e5872be0e175e2f4b40c8295b2ab"`,
	"ubuntu-2404-amd-sevsnp.bin": `/vmlinuz-6.8.0-1010-gcp root=PARTUUID=8270f3c9-b4e4-4345-80ee-5a62db7ebf3f ro console=ttyS0,115200 panic=-1`,
}

// TestCorpusClaims checks the decoded claims of corpus logs against what
// their sources state (go-eventlog's command lines and Secure Boot
// tests) and what the raw events show.
func TestCorpusClaims(t *testing.T) {
	dir := testutil.CorpusDir(t)
	type want struct {
		secureBoot string // "true", "false", "nil"
		apps       []string
		cmdline    string // source of the first kernel command line
		grub       int
		authority  int // EV_EFI_VARIABLE_AUTHORITY events in PCR 7
		dbx        int // dbx signatures; -1: none counted
	}
	for _, tc := range []struct {
		path string
		want want
	}{
		// go-eventlog extract TestSecureBoot: enabled.
		{"tpm/quotes/go-attestation/windows_gcp_shielded_vm.eventlog.bin", want{"true", []string{`\EFI\Microsoft\Boot\bootmgfw.efi`}, "", 0, 1, 77}},
		// go-eventlog extract TestSecureBootBug157: 3 authorities after
		// the separator; TestSecureBootOptionRom: 2.
		{"tpm/eventlogs/google/sb_cert_eventlog.bin", want{"true", []string{`\EFI\BOOT\BOOTX64.EFI`, "", ""}, "", 0, 3, 77}},
		{"tpm/eventlogs/google/option_rom_eventlog.bin", want{"true", []string{`\EFI\Microsoft\Boot\bootmgfw.efi`}, "", 0, 2, 78}},
		{"tpm/eventlogs/google/coreos_36_shielded_vm_no_secure_boot_eventlog.bin", want{"false", []string{`\EFI\fedora\shimx64.efi`, `\EFI\fedora\grubx64.efi`}, "grub", 36, 2, 186}},
		{"tpm/eventlogs/google/ubuntu_2104_shielded_vm_no_secure_boot_eventlog.bin", want{"false", []string{`\EFI\ubuntu\shimx64.efi`, `\EFI\ubuntu\grubx64.efi`}, "grub", 66, 1, 186}},
		{"tpm/eventlogs/google/ubuntu-2104-no-dbx.bin", want{"false", []string{`\EFI\ubuntu\shimx64.efi`, `\EFI\ubuntu\grubx64.efi`}, "grub", 72, 1, 0}},
		{"tpm/eventlogs/google/rhel8-uefi.bin", want{"true", []string{`\EFI\redhat\shimx64.efi`, `\EFI\redhat\grubx64.efi`, ""}, "grub", 49, 2, 186}},
		{"tpm/eventlogs/google/arch-linux-workstation.bin", want{"false", []string{`\EFI\SYSTEMD\SYSTEMD-BOOTX64.EFI`, `\vmlinuz-linux-lts`}, "systemd", 0, 0, 77}},
		{"tpm/eventlogs/google/gdc-host.bin", want{"false", []string{`\efi\Dell\System_Services\System_Services.efi`, `\EFI\ubuntu\shimx64.efi`, `\EFI\ubuntu\grubx64.efi`}, "grub", 65, 1, 460}},
		{"tpm/eventlogs/galmasi/rhel.bin", want{"true", []string{"", "", ""}, "grub", 8, 3, 77}},
		{"tpm/eventlogs/google/short_no_action_eventlog.bin", want{"nil", nil, "", 0, 0, -1}},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, tc.path))
			if err != nil {
				t.Fatal(err)
			}
			l, err := tcg.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			c := l.Claims()
			sb := "nil"
			if c.SecureBoot != nil {
				sb = map[bool]string{true: "true", false: "false"}[*c.SecureBoot]
			}
			w := tc.want
			if sb != w.secureBoot {
				t.Errorf("secure_boot %s, want %s", sb, w.secureBoot)
			}
			var apps []string
			for _, a := range c.BootApplications {
				apps = append(apps, a.File)
			}
			if strings.Join(apps, "|") != strings.Join(w.apps, "|") {
				t.Errorf("boot applications %q, want %q", apps, w.apps)
			}
			switch {
			case w.cmdline == "" && len(c.KernelCmdline) != 0:
				t.Errorf("kernel_cmdline %+v, want none", c.KernelCmdline)
			case w.cmdline != "" && (len(c.KernelCmdline) == 0 || c.KernelCmdline[0].Source != w.cmdline || !c.KernelCmdline[0].TextVerified):
				t.Errorf("kernel_cmdline %+v, want a text_verified one from %s", c.KernelCmdline, w.cmdline)
			}
			if len(c.GrubCommands) != w.grub || len(c.SecureBootAuthorities) != w.authority {
				t.Errorf("%d grub commands, %d authorities; want %d, %d", len(c.GrubCommands), len(c.SecureBootAuthorities), w.grub, w.authority)
			}
			for _, g := range c.GrubCommands {
				if !g.TextVerified {
					t.Errorf("grub command #%d %q not text_verified", g.Num, g.Text)
				}
			}
			dbx := -1
			for _, v := range c.SecureBootVariables {
				if v.Name == "dbx" && v.Signatures != nil {
					dbx = *v.Signatures
				}
				if !v.DataVerified {
					t.Errorf("PCR 7 variable %s (#%d) not data_verified", v.Name, v.Num)
				}
			}
			if dbx != w.dbx {
				t.Errorf("dbx has %d signatures, want %d", dbx, w.dbx)
			}
		})
	}
}

// TestCorpusCmdlines compares the kernel command lines with those
// go-eventlog states for the same logs.
func TestCorpusCmdlines(t *testing.T) {
	dir := testutil.CorpusDir(t)
	for name, want := range goEventlogCmdlines {
		b, err := os.ReadFile(filepath.Join(dir, "tpm/eventlogs/google", name))
		if err != nil {
			t.Fatal(err)
		}
		l, err := tcg.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		c := l.Claims()
		if len(c.KernelCmdline) == 0 || c.KernelCmdline[0].Text != want || !c.KernelCmdline[0].TextVerified || c.KernelCmdline[0].PCR != 8 {
			t.Errorf("%s: kernel_cmdline %+v, want %q", name, c.KernelCmdline, want)
		}
	}
}

// PCR values go-eventlog's extract tests give for two of its logs
// (extract/secureboot_test.go of github.com/google/go-eventlog v0.0.2:
// TestSecureBootBug157 for sb_cert_eventlog, TestSecureBootOptionRom for
// option_rom_eventlog); "zero" and "ones" stand for 00.. and ff... PCR 10
// of sb_cert (IMA, not in this log) is left out.
var goEventlogPCRs = map[string]map[crypto.Hash]map[int]string{
	"sb_cert_eventlog.bin": {
		crypto.SHA1: {0: "51c323de0c0c694f4601cdd02beb58ff13629f74", 1: "zero", 2: "zero", 3: "zero", 4: "b771008d173c022bc16f4b4d1a7f8b99ed88eeb1",
			5: "d7396ac6e887da22dea03b40952f70b8dbd2a996", 6: "zero", 7: "45a8621d34a57df2b2e7f14c92b99ac8de7d5805", 8: "zero", 9: "zero",
			11: "zero", 12: "zero", 13: "zero", 14: "zero", 15: "zero", 16: "zero", 17: "ones", 18: "ones", 19: "ones", 20: "ones", 21: "ones", 22: "ones", 23: "zero"},
		crypto.SHA256: {0: "fcecb56acc303862b30eb342c4990beb50b5e0ab89722449c2d9a73f37b019fe", 1: "zero", 2: "zero", 3: "zero",
			4: "a92968806f795fa34435d9f11813684ca1e7056077f700ba49f26f9962f86d89", 5: "cc8618b77932b4efda12cc58bad93ecdd1959dea29e5ab794525a619f5baabee",
			6: "zero", 7: "51b30488c9e6255d822bdc1b20d9a92c32bde6c3e7bc02bcdd32825eb5ef069a", 8: "zero", 9: "zero",
			11: "zero", 12: "zero", 13: "zero", 14: "zero", 15: "zero", 16: "zero", 17: "ones", 18: "ones", 19: "ones", 20: "ones", 21: "ones", 22: "ones", 23: "zero"},
	},
	"option_rom_eventlog.bin": {
		crypto.SHA1: {0: "01518aedc87a0ef505d27261ef835809e7da0086", 1: "bebff4c08a6677473ab604cedefb82f850cde883", 2: "366a31a0c075368f0e10857333ea2ed6e8a00fd3",
			3: "b2a83b0ebf2f8374299a5b2bdfc31ea955ad7236", 4: "39f388c3959e904694726f4c015b6dceae0680a1", 5: "723a0520cf7f2978548742bd1541706b2446459e",
			6: "b2a83b0ebf2f8374299a5b2bdfc31ea955ad7236", 7: "20de7dfba6bcdfccadad7e3eb099c91d4d97c5ad"},
	},
}

func TestCorpusGoEventlogPCRs(t *testing.T) {
	dir := testutil.CorpusDir(t)
	for name, banks := range goEventlogPCRs {
		b, err := os.ReadFile(filepath.Join(dir, "tpm/eventlogs/google", name))
		if err != nil {
			t.Fatal(err)
		}
		l, err := tcg.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		for bank, pcrs := range banks {
			want := map[int][]byte{}
			for p, h := range pcrs {
				switch h {
				case "zero":
					want[p] = make([]byte, bank.Size())
				case "ones":
					want[p] = bytes.Repeat([]byte{0xff}, bank.Size())
				default:
					v, err := hex.DecodeString(h)
					if err != nil {
						t.Fatal(err)
					}
					want[p] = v
				}
			}
			if err := l.Compare(bank, want); err != nil {
				t.Errorf("%s %s: %v", name, tcg.HashName(bank), err)
			}
		}
	}
}

// TestCorpusClaimsAll: every corpus log decodes, its claims marshal, and
// every summary entry comes from a replayed event.
func TestCorpusClaimsAll(t *testing.T) {
	dir, logs := corpusLogs(t)
	for _, cl := range logs {
		b, err := os.ReadFile(filepath.Join(dir, cl.path))
		if err != nil {
			t.Fatal(err)
		}
		l, err := tcg.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		c := l.Claims()
		if len(c.Events) != len(l.Events) {
			t.Fatalf("%s: %d event claims for %d events", cl.path, len(c.Events), len(l.Events))
		}
		if _, err := json.Marshal(c); err != nil {
			t.Fatalf("%s: %v", cl.path, err)
		}
		var nums []int
		for _, v := range append(append(append([]tcg.Variable(nil), c.SecureBootVariables...), c.SecureBootAuthorities...), c.BootVariables...) {
			nums = append(nums, v.Num)
		}
		for _, m := range append(append(append(append(append([]tcg.Measurement(nil), c.KernelCmdline...), c.Initrd...), c.GrubCommands...), c.GrubFiles...), c.EFIActions...) {
			nums = append(nums, m.Num)
		}
		for _, a := range c.BootApplications {
			nums = append(nums, a.Num)
		}
		for _, s := range c.Separators {
			nums = append(nums, s.Num)
		}
		for _, n := range nums {
			if !c.Events[n].Replayed {
				t.Errorf("%s: summary entry from event #%d, which is not replayed", cl.path, n)
			}
		}
	}
}
