package ccel_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/ccel"
	"github.com/assay-dev/assay/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden claims in testdata")

// TestClaimsGolden keeps the claims of the seed logs equal to
// testdata/*.claims.json; -update rewrites them.
func TestClaimsGolden(t *testing.T) {
	for name := range seedRTMRs {
		b, _ := seed(t, name)
		l, err := ccel.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.MarshalIndent(l.Claims(), "", "  ")
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

// TestCorpusClaims checks the decoded claims of the corpus logs against
// what their sources and the raw events show.
func TestCorpusClaims(t *testing.T) {
	dir := testutil.CorpusDir(t)
	type want struct {
		secureBoot    string // "true", "false", "nil"
		apps          int
		lastApp       string // suffix of the last boot application's device path
		cmdlineSource string
		cmdlinePrefix string // when the text is verified
		grub, aael    int
		dbxSignatures int // -1: not counted
	}
	for _, tc := range []struct {
		path string
		want want
	}{
		{"tdx/go-tdx-guest/gcp-cos113-ccel-data.bin", want{"false", 2, `\EFI\BOOT\grub-lakitu.efi`, "grub", "/syslinux/vmlinuz.A init=/usr/lib/systemd/systemd", 14, 0, 4}},
		{"ccel/trustee/CCEL_AAEL_alibabacloud.bin", want{"false", 2, `\EFI\alinux\grubx64.efi`, "grub", "(hd0,gpt3)/boot/vmlinuz-5.10.134-19.1.al8.x86_64 root=", 52, 2, 0}},
		{"ccel/trustee/CCEL_data_grub.bin", want{"true", 5, "", "linux-efi-stub", "", 0, 0, 1}},
		{"ccel/trustee/CCEL_data_grub_gke.bin", want{"false", 2, "VenMedia(55C5D1F8-04CD-46B5-8A20-E56CBB3052D0)", "uki", "", 0, 0, 186}},
		{"ccel/trustee/CCEL_data_ovmf.bin", want{"false", 1, "VenMedia(1428F772-B64A-441E-B8C3-9EBDD7F893C7)/kernel", "linux-efi-stub", "", 0, 0, 0}},
		{"ccel/trustee/CCEL_data.bin", want{"nil", 0, "", "", "", 0, 0, -1}},
		// SM3 only: nothing is data_verified, so no secure_boot claim.
		{"ccel/trustee/CCEL_data_csv.bin", want{"nil", 2, `\EFI\anolis\grubx64.efi`, "grub", "", 50, 0, 0}},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, tc.path))
			if err != nil {
				t.Fatal(err)
			}
			l, err := ccel.Parse(b)
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
			if len(c.BootApplications) != w.apps {
				t.Fatalf("%d boot applications, want %d", len(c.BootApplications), w.apps)
			}
			if w.apps > 0 && !strings.HasSuffix(c.BootApplications[w.apps-1].DevicePath, w.lastApp) {
				t.Errorf("last boot application %q, want …%s", c.BootApplications[w.apps-1].DevicePath, w.lastApp)
			}
			if w.cmdlineSource == "" {
				if len(c.KernelCmdline) != 0 {
					t.Errorf("kernel_cmdline %+v, want none", c.KernelCmdline)
				}
			} else if len(c.KernelCmdline) != 1 || c.KernelCmdline[0].Source != w.cmdlineSource ||
				c.KernelCmdline[0].TextVerified != (w.cmdlinePrefix != "") || !strings.HasPrefix(c.KernelCmdline[0].Text, w.cmdlinePrefix) {
				t.Errorf("kernel_cmdline %+v, want one from %s starting %q", c.KernelCmdline, w.cmdlineSource, w.cmdlinePrefix)
			}
			if len(c.GrubCommands) != w.grub || len(c.AAEL) != w.aael {
				t.Errorf("%d grub commands, %d AAEL entries; want %d, %d", len(c.GrubCommands), len(c.AAEL), w.grub, w.aael)
			}
			if l.HasBank(ccel.AlgSHA384) {
				for _, g := range c.GrubCommands {
					if !g.TextVerified {
						t.Errorf("grub command #%d %q not text_verified", g.Num, g.Text)
					}
				}
			}
			dbx := -1
			for _, v := range c.SecureBootVariables {
				if v.Name == "dbx" && v.Signatures != nil {
					dbx = *v.Signatures
				}
			}
			if dbx != w.dbxSignatures {
				t.Errorf("dbx has %d signatures, want %d", dbx, w.dbxSignatures)
			}
			if _, err := json.Marshal(c); err != nil {
				t.Error(err)
			}
		})
	}
}
