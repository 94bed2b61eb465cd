package bootchain

import (
	"bufio"
	"bytes"
	"crypto"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/assay-dev/assay/internal/eventlog/ccel"
	"github.com/assay-dev/assay/internal/eventlog/tcg"
	"github.com/assay-dev/assay/internal/testutil"
)

func corpusFile(t *testing.T, rel string) []byte {
	t.Helper()
	return readFile(t, filepath.Join(testutil.CorpusDir(t), rel))
}

func tcgLog(t *testing.T, rel string) *tcg.Log {
	t.Helper()
	l, err := tcg.Parse(corpusFile(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func ccelLog(t *testing.T, rel string) *ccel.Log {
	t.Helper()
	l, err := ccel.Parse(corpusFile(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// tpm2ToolsPCRs reads the "pcrs:" section of tpm2_eventlog's YAML output
// (tpm2-tools 5.5, shipped beside the galmasi logs in the corpus): bank
// and PCR to lowercase hex.
func tpm2ToolsPCRs(t *testing.T, rel string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var in bool
	var bank string
	sc := bufio.NewScanner(bytes.NewReader(corpusFile(t, rel)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "pcrs:":
			in = true
		case !in:
		case strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "    ") && strings.HasSuffix(line, ":"):
			bank = strings.TrimSuffix(strings.TrimSpace(line), ":")
		default:
			n, v, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok {
				continue
			}
			pcr, err := strconv.Atoi(strings.TrimSpace(n))
			if err != nil {
				continue
			}
			out[bank+"/pcr"+strconv.Itoa(pcr)] = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(v), "0x"))
		}
	}
	return out
}

// values maps "bank/register" to hex.
func values(p *Prediction) map[string]string {
	m := map[string]string{}
	for _, r := range p.Registers {
		v, _ := r.Value.MarshalText()
		m[r.Bank+"/"+r.Name] = string(v)
	}
	return m
}

// changed lists the registers (by name, any bank) that differ from the
// reference replay.
func changed(p *Prediction) []string {
	var s []string
	for _, r := range p.Registers {
		if r.Changed && !slices.Contains(s, r.Name) {
			s = append(s, r.Name)
		}
	}
	slices.Sort(s)
	return s
}

// loggedCmdline is the last command line grub logged.
func loggedCmdline(datas [][]byte) (string, bool) {
	var cmd string
	var found bool
	for _, d := range datas {
		s := eventText(d)
		for _, g := range grubEvents {
			if rest, ok := strings.CutPrefix(s, g.prefix); ok && g.kind == "cmdline" {
				cmd, found = rest, true
			}
		}
	}
	return cmd, found
}

// otherCase changes the case of the last letter of s: one byte, and
// quoting untouched.
func otherCase(s string) string {
	b := []byte(s)
	for i := len(b) - 1; i >= 0; i-- {
		if c := b[i] | 0x20; c >= 'a' && c <= 'z' {
			b[i] ^= 0x20
			break
		}
	}
	return string(b)
}

func fwupdImage(t *testing.T) *Image {
	t.Helper()
	im, err := ParsePE(readFile(t, fwupd))
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// TestPredictTCGCorpus predicts real TPM logs' boot-loader PCRs. With
// no component replaced, the prediction must be the PCR values
// tpm2_eventlog (tpm2-tools 5.5) printed for the log, where the corpus
// ships them; with the logged command line given back, grub's command
// line events are rebuilt from scratch and must give the logged digests
// (the model check; otherwise ErrUnsupported); one byte more changes
// exactly the PCRs grub and the Linux EFI stub extend with it; another
// first boot application changes PCR 4 alone.
func TestPredictTCGCorpus(t *testing.T) {
	for _, tc := range []struct {
		name, log, tpm2Tools string
		// rebuilt is the number of events the logged command line
		// rebuilds; cmdlinePCRs the PCRs it changes.
		rebuilt     int
		cmdlinePCRs []string
	}{
		{"galmasi-ubuntu-qemu", "tpm/eventlogs/galmasi/ubuntu_qemu.bin", "tpm/eventlogs/galmasi/ubuntu_qemu.tpm2-tools-5.5.yml", 2, []string{"pcr8"}},
		{"galmasi-rhel", "tpm/eventlogs/galmasi/rhel.bin", "tpm/eventlogs/galmasi/rhel.tpm2-tools-5.5.yml", 2, []string{"pcr8"}},
		{"galmasi-rhcos", "tpm/eventlogs/galmasi/rhcos.bin", "tpm/eventlogs/galmasi/rhcos.tpm2-tools-5.5.yml", 2, []string{"pcr8"}},
		{"galmasi-puiterwijk", "tpm/eventlogs/galmasi/puiterwijk.bin", "tpm/eventlogs/galmasi/puiterwijk.tpm2-tools-5.5.yml", 2, []string{"pcr8"}},
		{"galmasi-swtpm", "tpm/eventlogs/galmasi/swtpm.bin", "tpm/eventlogs/galmasi/swtpm.tpm2-tools-5.5.yml", 2, []string{"pcr8"}},
		{"gce-ubuntu-2404-sevsnp", "tpm/eventlogs/google/ubuntu-2404-amd-sevsnp.bin", "", 3, []string{"pcr8", "pcr9"}},
		{"gce-rhel8", "tpm/eventlogs/google/rhel8-uefi.bin", "", 2, []string{"pcr8"}},
		{"gce-cos-101-sev", "tpm/eventlogs/google/cos-101-amd-sev.bin", "", 2, []string{"pcr8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tcgLog(t, tc.log)
			p, err := Predict(fromTCG(l), Components{})
			if err != nil {
				t.Fatal(err)
			}
			if got := changed(p); len(got) != 0 || len(p.Rebuilt) != 0 {
				t.Errorf("nothing replaced: changed %v, rebuilt %v", got, p.Rebuilt)
			}
			sameAsTCGReplay(t, l, p)
			got := values(p)
			if tc.tpm2Tools != "" {
				want := tpm2ToolsPCRs(t, tc.tpm2Tools)
				n := 0
				for _, bank := range []string{"sha1", "sha256"} {
					for _, pcr := range []string{"pcr4", "pcr8", "pcr9"} {
						k := bank + "/" + pcr
						if got[k] != want[k] {
							t.Errorf("%s predicted %s, tpm2_eventlog %s", k, got[k], want[k])
						}
						n++
					}
				}
				if n == 0 {
					t.Fatal("no tpm2-tools values read")
				}
			}
			datas := make([][]byte, len(l.Events))
			for i := range l.Events {
				datas[i] = l.Events[i].Data
			}
			cmdline, ok := loggedCmdline(datas)
			if !ok {
				t.Fatal("no grub command line in the log")
			}
			same, err := Predict(fromTCG(l), Components{Cmdline: &cmdline})
			if err != nil {
				t.Fatalf("the logged command line: %v", err)
			}
			if !maps.Equal(values(same), got) || len(same.Rebuilt) != tc.rebuilt {
				t.Errorf("the logged command line: changed %v, %d events rebuilt (%+v), want none and %d", changed(same), len(same.Rebuilt), same.Rebuilt, tc.rebuilt)
			}
			for _, r := range same.Rebuilt {
				if r.Changed {
					t.Errorf("event #%d rebuilt from the logged command line has another digest", r.Num)
				}
			}
			other := otherCase(cmdline)
			p2, err := Predict(fromTCG(l), Components{Cmdline: &other})
			if err != nil {
				t.Fatal(err)
			}
			if got := changed(p2); !slices.Equal(got, tc.cmdlinePCRs) {
				t.Errorf("one byte of the command line changed %v, want %v", got, tc.cmdlinePCRs)
			}
			p3, err := Predict(fromTCG(l), Components{EFI: []*Image{fwupdImage(t)}})
			if err != nil {
				t.Fatal(err)
			}
			if got := changed(p3); !slices.Equal(got, []string{"pcr4"}) {
				t.Errorf("another first EFI application changed %v, want [pcr4]", got)
			}
		})
	}
}

// TestPredictCCELCorpus: TDX CC event logs. With nothing replaced the
// prediction equals the RTMRs their sources state (trustee's
// test_rtmr_integrity, go-eventlog's COS113TDX test) or a quote's
// (go-tdx-guest's GCP COS 113 quote, RTMRs parsed by the corpus builder).
func TestPredictCCELCorpus(t *testing.T) {
	for _, tc := range []struct {
		name, log    string
		rtmr1, rtmr2 string // stated; "" replay only
		cmdline      error  // what giving the logged command line back does
		rebuilt      int
	}{
		{"trustee-grub", "ccel/trustee/CCEL_data_grub.bin",
			"6c289e0c62182d41ebe97bdbc9872d10998a08eaa86adcdc684001a363207ee72942c7522cdf00a4bbc3d784bed7b670",
			"08919d017ba0e52cd6d966351c7de16fe76c1d3d3d3da4554239e4c7d16cb8b82a94e7eaea3a0e6e18eb690b999fd31e", ErrUnsupported, 0},
		{"trustee-ovmf", "ccel/trustee/CCEL_data_ovmf.bin",
			"775b9f6bfe99f8a31396f0d0218e67ffa796d3b96ccf961cbb0deba48c79c00f082cda1a5567c1c16305f1fc210c13c6",
			"94eaf7a7bf398ed8d888c91057ae0261802e4f3df084213a76ca7f0b5055ac9d2241de43cd58d9e8b49c503bbf25f34a", ErrUnsupported, 0},
		{"go-eventlog-cos113", "ccel/go-eventlog/cos-113-intel-tdx-dupe-separator-unpadded.bin",
			"0ee9366c928a77092f55e9e114c7394181fd264699155f0df77d23577618d5f650568a17d379355a07bd846e552f4e20",
			"4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1", nil, 2},
		{"gcp-cos113-quote", "tdx/go-tdx-guest/gcp-cos113-ccel-data.bin",
			"f62dbc072bd5d3f3438b7b35c39a727f5aea2ffc2473f43723953f530daf62504f0a7944aa62c41a86e8a878c2b122c1",
			"4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1", nil, 2},
		{"alibaba-aael", "ccel/trustee/CCEL_AAEL_alibabacloud.bin", "", "", nil, 2},
		{"gke-uki", "ccel/trustee/CCEL_data_grub_gke.bin",
			"c17cb288a4dee302bb9ed8d27257a168f3264ad68cab53757f37eeaa7039657fa887cad65cf910e0fdc435ff110f8a7b",
			"334aeba2c985f8886cea97d1ecffbd512769d528b9a94009583db667ad7d2faa7d37fa145d75b192ceee2d2f10b2eb6d", ErrUnsupported, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := ccelLog(t, tc.log)
			p, err := Predict(fromCCEL(l), Components{})
			if err != nil {
				t.Fatal(err)
			}
			sameAsCCELReplay(t, l, p)
			got := values(p)
			for k, want := range map[string]string{"sha384/rtmr1": tc.rtmr1, "sha384/rtmr2": tc.rtmr2} {
				if want != "" && got[k] != want {
					t.Errorf("%s predicted %s, stated %s", k, got[k], want)
				}
			}
			datas := make([][]byte, len(l.Events))
			for i := range l.Events {
				datas[i] = l.Events[i].Data
			}
			cmdline, ok := loggedCmdline(datas)
			if !ok {
				cmdline = "console=ttyS0"
			}
			same, err := Predict(fromCCEL(l), Components{Cmdline: &cmdline})
			if !errors.Is(err, tc.cmdline) || (err != nil) != (tc.cmdline != nil) {
				t.Fatalf("the logged command line: %v, want %v", err, tc.cmdline)
			}
			if err == nil {
				if !maps.Equal(values(same), got) || len(same.Rebuilt) != tc.rebuilt {
					t.Errorf("the logged command line: changed %v, %d events rebuilt, want none and %d", changed(same), len(same.Rebuilt), tc.rebuilt)
				}
				other := otherCase(cmdline)
				p2, err := Predict(fromCCEL(l), Components{Cmdline: &other})
				if err != nil {
					t.Fatal(err)
				}
				if got := changed(p2); !slices.Equal(got, []string{"rtmr2"}) {
					t.Errorf("one byte of the command line changed %v, want [rtmr2]", got)
				}
			}
			p3, err := Predict(fromCCEL(l), Components{EFI: []*Image{fwupdImage(t)}})
			if err != nil {
				t.Fatal(err)
			}
			if got := changed(p3); !slices.Equal(got, []string{"rtmr1"}) {
				t.Errorf("another first EFI application changed %v, want [rtmr1]", got)
			}
			for _, r := range p.Registers {
				if want := r.Index == 1 || r.Index == 2; (r.From == "prediction") != want {
					t.Errorf("%s from %s", r.Name, r.From)
				}
			}
		})
	}
}

// TestPredictInitrd: the Linux EFI stub's "Linux initrd" event (RTMR2)
// and the RHEL grub's "grub_linuxefi Initrd" (PCR 9) take the new
// ramdisk's digest.
func TestPredictInitrd(t *testing.T) {
	initrd := []byte("not really a cpio archive")
	p, err := Predict(fromCCEL(ccelLog(t, "ccel/trustee/CCEL_data_grub.bin")), Components{Initrd: initrd})
	if err != nil {
		t.Fatal(err)
	}
	if got := changed(p); !slices.Equal(got, []string{"rtmr2"}) || len(p.Rebuilt) != 1 || p.Rebuilt[0].Component != "initrd" {
		t.Errorf("CCEL: changed %v, rebuilt %+v", got, p.Rebuilt)
	}
	p, err = Predict(fromTCG(tcgLog(t, "tpm/eventlogs/galmasi/rhel.bin")), Components{Initrd: initrd})
	if err != nil {
		t.Fatal(err)
	}
	if got := changed(p); !slices.Equal(got, []string{"pcr9"}) {
		t.Errorf("RHEL grub: changed %v, want [pcr9]", got)
	}
}

func TestPredictErrors(t *testing.T) {
	im := fwupdImage(t)
	cmd := "/vmlinuz root=/dev/sda1"
	l := tcgLog(t, "tpm/eventlogs/galmasi/thinkpad.bin")
	for _, tc := range []struct {
		name string
		c    Components
		want error
	}{
		{"too-many-efi", Components{EFI: slices.Repeat([]*Image{im}, 50)}, ErrInput},
		{"no-cmdline-event", Components{Cmdline: &cmd}, ErrInput},
		{"no-initrd-event", Components{Initrd: []byte{1}}, ErrInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Predict(fromTCG(l), tc.c); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := Predict(&Log{Format: "tcg", Banks: []crypto.Hash{crypto.MD4}}, Components{}); !errors.Is(err, ErrInput) {
		t.Errorf("a bank Go cannot compute: %v, want ErrInput", err)
	}
	if _, err := Predict(&Log{Format: "cel", Banks: []crypto.Hash{crypto.SHA256}}, Components{}); !errors.Is(err, ErrInput) {
		t.Errorf("an unknown format: %v, want ErrInput", err)
	}
	// A grub command line event whose digest is not the model's.
	l = tcgLog(t, "tpm/eventlogs/galmasi/ubuntu_qemu.bin")
	for i := range l.Events {
		if strings.HasPrefix(string(l.Events[i].Data), "kernel_cmdline: ") {
			l.Events[i].Data = append([]byte("kernel_cmdline: x"), l.Events[i].Data[16:]...)
		}
	}
	if _, err := Predict(fromTCG(l), Components{Cmdline: &cmd}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("tampered command line event: %v, want ErrUnsupported", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
