package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/policy"
)

// The RTMRs of go-tdx-guest's GCP COS 113 TD quote (corpus entry
// tdx-gcp-cos113-ccel-go-tdx-guest, parsed by the corpus builder), which
// its CC event log replays to.
const (
	cos113RTMR1 = "f62dbc072bd5d3f3438b7b35c39a727f5aea2ffc2473f43723953f530daf62504f0a7944aa62c41a86e8a878c2b122c1"
	cos113RTMR2 = "4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1"
)

type bootchainOutput struct {
	Format    string `json:"format"`
	Registers []struct {
		Register, Bank, Value, From string
		Changed                     bool
	} `json:"registers"`
	Rebuilt []struct {
		Num       int
		Component string
		Changed   bool
	} `json:"rebuilt_events"`
}

func runBootchain(t *testing.T, args ...string) bootchainOutput {
	t.Helper()
	code, out, errs := run(t, append([]string{"measure", "bootchain"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var o bootchainOutput
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return o
}

func TestMeasureBootchainCCEL(t *testing.T) {
	log := filepath.Join(testutil.CorpusDir(t), "tdx/go-tdx-guest/gcp-cos113-ccel-data.bin")
	efi := repoFile(t, "measure/bootchain/testdata/fwupdx64.efi.signed")

	o := runBootchain(t, "--log", log)
	got := map[string]string{}
	for _, r := range o.Registers {
		got[r.Register] = r.Value
		if want := r.Register == "rtmr1" || r.Register == "rtmr2"; (r.From == "prediction") != want || r.Changed {
			t.Errorf("%s: from %s, changed %v", r.Register, r.From, r.Changed)
		}
	}
	if o.Format != "ccel" || got["rtmr1"] != cos113RTMR1 || got["rtmr2"] != cos113RTMR2 {
		t.Errorf("format %s, rtmr1 %s, rtmr2 %s; want ccel and the quote's", o.Format, got["rtmr1"], got["rtmr2"])
	}

	// The second boot application (grub) replaced: RTMR1 alone moves.
	o = runBootchain(t, "--log", log, "--efi", "-", "--efi", efi)
	for _, r := range o.Registers {
		if r.Changed != (r.Register == "rtmr1") {
			t.Errorf("another grub: %s changed %v", r.Register, r.Changed)
		}
	}
	if len(o.Rebuilt) != 1 || o.Rebuilt[0].Component != "efi[1]" || !o.Rebuilt[0].Changed {
		t.Errorf("rebuilt %+v, want efi[1]", o.Rebuilt)
	}

	// As reference values: the two predicted RTMRs.
	rvFile := filepath.Join(t.TempDir(), "rv.json")
	code, _, errs := run(t, "measure", "bootchain", "--log", log, "--efi", "-", "--efi", efi,
		"--refvalue-id", "cos-grub", "--author", "release-bot", "--state", "staged", "-o", rvFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	rvs := readRefValues(t, rvFile)
	if len(rvs) != 2 || rvs[0].ID != "cos-grub-rtmr1" || rvs[0].TEE != "tdx" || rvs[0].Claim != "rtmr.1" ||
		rvs[0].Value == cos113RTMR1 || rvs[1].Claim != "rtmr.2" || rvs[1].Value != cos113RTMR2 || rvs[1].State != policy.StateStaged {
		t.Errorf("reference values %+v", rvs)
	}
}

func readRefValues(t *testing.T, path string) []policy.RefValue {
	t.Helper()
	b, err := os.ReadFile(path)
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
	return rvs
}

// TestMeasureBootchainTPM: galmasi's Ubuntu QEMU log; with its own
// command line given back the PCRs are tpm2_eventlog's (tpm2-tools 5.5,
// the .yml beside the log in the corpus).
func TestMeasureBootchainTPM(t *testing.T) {
	log := filepath.Join(testutil.CorpusDir(t), "tpm/eventlogs/galmasi/ubuntu_qemu.bin")
	want := map[string]string{
		"pcrs.sha1.4":   "488e5fe3b29863c6b7844f14baeacbcb2d3b4506",
		"pcrs.sha1.8":   "c078a23f90690373f4603f51bd1ad68eccae08ed",
		"pcrs.sha1.9":   "68f26c8435c674ef106983f2bc06cdfd01c15f83",
		"pcrs.sha256.4": "6f9cf2cea3b68d2e9a520e1220c4484a498b6bdb10ba1a18d39e83317a3aba7a",
		"pcrs.sha256.8": "b2712259a328691f4ef0bbfeb9e991be631495f97d08d144c6ce74dfb8e00572",
		"pcrs.sha256.9": "369556af19bc2ca1182866749d860054905ccc28fc26dc13bcd89a5904fbf82d",
	}
	o := runBootchain(t, "--log", log, "--format", "tcg")
	for _, r := range o.Registers {
		if r.Register == "pcr8" && r.From != "prediction" {
			t.Errorf("pcr8 from %s", r.From)
		}
	}
	// Another command line: grub's linux command and kernel_cmdline
	// events are rebuilt, PCR 8 alone moves.
	o = runBootchain(t, "--log", log, "--cmdline", "/vmlinuz root=/dev/vda1 ro")
	for _, r := range o.Registers {
		if r.Changed != (r.Register == "pcr8") {
			t.Errorf("another command line: %s/%s changed %v", r.Bank, r.Register, r.Changed)
		}
	}
	if len(o.Rebuilt) != 2 {
		t.Errorf("rebuilt %+v, want grub's linux command and command line", o.Rebuilt)
	}
	rvFile := filepath.Join(t.TempDir(), "rv.json")
	code, _, errs := run(t, "measure", "bootchain", "--log", log, "--refvalue-id", "ubuntu", "--author", "ci", "-o", rvFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	rvs := readRefValues(t, rvFile)
	if len(rvs) != len(want) {
		t.Fatalf("%d reference values, want %d", len(rvs), len(want))
	}
	for _, rv := range rvs {
		if rv.TEE != "tpm" || want[rv.Claim] != rv.Value {
			t.Errorf("%s %s = %s, want tpm %s", rv.ID, rv.Claim, rv.Value, want[rv.Claim])
		}
	}
}

func TestMeasureBootchainErrors(t *testing.T) {
	dir := testutil.CorpusDir(t)
	log := filepath.Join(dir, "tpm/eventlogs/galmasi/thinkpad.bin")
	notPE := filepath.Join(t.TempDir(), "x.efi")
	if err := os.WriteFile(notPE, []byte("MZ not a PE"), 0o644); err != nil {
		t.Fatal(err)
	}
	efi := repoFile(t, "measure/bootchain/testdata/fwupdx64.efi.signed")
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"no-log", nil, ExitUsage},
		{"bad-format", []string{"--log", log, "--format", "cel"}, ExitUsage},
		{"missing-log", []string{"--log", filepath.Join(dir, "nope")}, ExitUsage},
		{"refvalue-without-author", []string{"--log", log, "--refvalue-id", "x"}, ExitUsage},
		{"not-pe", []string{"--log", log, "--efi", notPE}, ExitRejected},
		{"too-many-efi", []string{"--log", log, "--efi", efi, "--efi", efi, "--efi", efi, "--efi", efi}, ExitRejected},
		{"no-cmdline-in-log", []string{"--log", log, "--cmdline", "/vmlinuz ro"}, ExitRejected},
		{"not-a-log", []string{"--log", efi}, ExitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, errs := run(t, append([]string{"measure", "bootchain"}, tc.args...)...); code != tc.code {
				t.Errorf("exit %d, want %d: %s", code, tc.code, errs)
			}
		})
	}
}

// A Hygon CSV log has SM3 only: no RTMRs to predict.
func TestMeasureBootchainSM3(t *testing.T) {
	log := filepath.Join(testutil.CorpusDir(t), "ccel/trustee/CCEL_data_csv.bin")
	if code, _, errs := run(t, "measure", "bootchain", "--log", log, "--format", "ccel"); code != ExitRejected {
		t.Errorf("exit %d, want %d: %s", code, ExitRejected, errs)
	}
}
