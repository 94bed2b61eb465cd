package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/assay-dev/assay/measure/nitro"
	"github.com/assay-dev/assay/measure/snp"
	"github.com/assay-dev/assay/measure/tdx"
	"github.com/assay-dev/assay/policy"
)

const measureUsage = `usage: assay measure <kind> [flags]

kinds:
  snp   SEV-SNP launch measurement from an OVMF image, and optionally a
        kernel, initrd and command line (direct boot), vCPU count and type,
        guest features and VMM
  tdx   TDX MRTD from a TDVF image
  nitro Nitro Enclaves PCR0, PCR1 and PCR2 from an EIF file
  bootchain
        TPM PCR 4/8/9 or TDX RTMR1/2 from a reference event log and new EFI
        applications, kernel command line and initrd (JSON)

Each prints the value in hex (nitro: one "pcrN hex" line per PCR;
bootchain: the predicted registers as JSON); with --refvalue-id it writes
instead a reference value file (nitro: ids ID-pcr0, ID-pcr1, ID-pcr2;
bootchain: ID-sha256-pcr4 ..., ID-rtmr1, ID-rtmr2, predicted registers
only) (docs/policy.md) whose provenance names the inputs'
SHA-256. docs/measure.md describes the computations.

exit status: 0 computed, 1 the artifacts cannot be measured (malformed
image, kernel for firmware without a hashes table), 2 usage error
`

func runMeasure(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, measureUsage)
		return ExitUsage
	}
	switch args[0] {
	case "snp":
		return runMeasureSNP(args[1:], stdout, stderr)
	case "tdx":
		return runMeasureTDX(args[1:], stdout, stderr)
	case "nitro":
		return runMeasureNitro(args[1:], stdout, stderr)
	case "bootchain":
		return runMeasureBootchain(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, measureUsage)
		return 0
	}
	fmt.Fprintf(stderr, "assay measure: unknown kind %q\n\n%s", args[0], measureUsage)
	return ExitUsage
}

// refValueFlags turn a computed value into a reference value file.
type refValueFlags struct {
	id, author, workload, state, output string
}

func (r *refValueFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.id, "refvalue-id", "", "write a reference value file with this id instead of the bare value")
	fs.StringVar(&r.author, "author", "", "who vouches for the value (provenance.author; with --refvalue-id, required)")
	fs.StringVar(&r.workload, "workload", "", "workload the value belongs to (empty: every workload)")
	fs.StringVar(&r.state, "state", string(policy.StateActive), "state of the written value: staged or active")
	fs.StringVar(&r.output, "o", "", "write to this file instead of standard output")
}

func (r *refValueFlags) check() error {
	if r.id == "" {
		if r.author != "" || r.workload != "" {
			return errors.New("--author and --workload need --refvalue-id")
		}
		return nil
	}
	if r.author == "" {
		return errors.New("--refvalue-id needs --author: a reference value says who vouches for it")
	}
	if r.state != string(policy.StateActive) && r.state != string(policy.StateStaged) {
		return fmt.Errorf("--state %q: want staged or active", r.state)
	}
	return nil
}

// measuredInput is one artifact read for a measurement.
type measuredInput struct {
	role, path string
	data       []byte
}

func readInput(role, path string) (measuredInput, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return measuredInput{}, fmt.Errorf("%s: %w", role, err)
	}
	return measuredInput{role: role, path: path, data: b}, nil
}

// source names the inputs by SHA-256 and the parameters, for the
// provenance of the value.
func source(kind string, in []measuredInput, params []string) string {
	parts := []string{"assay measure " + kind}
	for _, i := range in {
		sum := sha256.Sum256(i.data)
		parts = append(parts, fmt.Sprintf("%s %s sha256:%x", i.role, filepath.Base(i.path), sum))
	}
	return strings.Join(append(parts, params...), "; ")
}

// measured is one computed value: the claim it is reference for and, when
// a command computes several, the suffix of its id and its label.
type measured struct {
	claim, suffix string
	value         []byte
}

// emit prints the values (one "label hex" line each when there are
// several), or the reference value file.
func (r *refValueFlags) emit(stdout, stderr io.Writer, tee string, values []measured, src string) int {
	var out []byte
	if r.id == "" {
		for _, v := range values {
			if len(values) > 1 {
				out = append(out, v.suffix+" "...)
			}
			out = append(out, hex.EncodeToString(v.value)+"\n"...)
		}
	} else {
		rvs := make([]policy.RefValue, 0, len(values))
		for _, v := range values {
			id := r.id
			if len(values) > 1 {
				id += "-" + v.suffix
			}
			rv := policy.RefValue{
				ID: id, TEE: tee, Claim: v.claim, Value: hex.EncodeToString(v.value),
				Provenance: policy.Provenance{Author: r.author, Source: src},
				State:      policy.State(r.state), Version: 1, Workload: r.workload,
			}
			if err := policy.Validate(rv, rvs); err != nil {
				fmt.Fprintf(stderr, "assay measure: %v\n", err)
				return ExitUsage
			}
			rvs = append(rvs, rv)
		}
		b, err := policy.MarshalRefValues(rvs)
		if err != nil {
			fmt.Fprintf(stderr, "assay measure: %v\n", err)
			return ExitRejected
		}
		out = b
	}
	if r.output == "" {
		if _, err := stdout.Write(out); err != nil {
			return ExitRejected
		}
		return 0
	}
	if err := os.WriteFile(r.output, out, 0o644); err != nil {
		fmt.Fprintf(stderr, "assay measure: %v\n", err)
		return ExitUsage
	}
	return 0
}

func parseUint(name, s string, bits int) (uint64, error) {
	v, err := strconv.ParseUint(s, 0, bits)
	if err != nil {
		return 0, fmt.Errorf("--%s %q: want a number (0x for hex) of at most %d bits", name, s, bits)
	}
	return v, nil
}

func runMeasureSNP(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("assay measure snp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ovmfPath := fs.String("ovmf", "", "OVMF image (OVMF.fd; an AmdSev build for direct kernel boot) (required)")
	kernelPath := fs.String("kernel", "", "kernel image given to QEMU -kernel: measured through the SEV hashes table")
	initrdPath := fs.String("initrd", "", "initrd given to QEMU -initrd (with --kernel; none: empty)")
	cmdline := fs.String("append", "", "kernel command line given to QEMU -append (with --kernel)")
	vcpus := fs.Int("vcpus", 1, "number of vCPUs")
	vcpuType := fs.String("vcpu-type", "", "QEMU vCPU model (EPYC-v4, EPYC-Milan, EPYC-Genoa, ...) giving the CPUID signature")
	vcpuSig := fs.String("vcpu-sig", "", "CPUID Fn0000_0001_EAX signature, instead of --vcpu-type")
	features := fs.String("guest-features", "0x1", "SEV_FEATURES of the VMSAs (QEMU 9+: 0x1; older KVM: 0x21)")
	vmmName := fs.String("vmm", "qemu", "VMM: qemu, ec2 or gce")
	ovmfHash := fs.String("ovmf-hash", "", "precomputed firmware digest (hex, 48 bytes) to use instead of hashing --ovmf's pages")
	var rf refValueFlags
	rf.register(fs)
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	usage := func(err error) int {
		fmt.Fprintf(stderr, "assay measure snp: %v\n", err)
		return ExitUsage
	}
	if fs.NArg() != 0 {
		return usage(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if *ovmfPath == "" {
		return usage(errors.New("--ovmf is required"))
	}
	if err := rf.check(); err != nil {
		return usage(err)
	}
	if *kernelPath == "" && (*initrdPath != "" || *cmdline != "") {
		return usage(errors.New("--initrd and --append need --kernel"))
	}
	opt := snp.Options{VCPUs: *vcpus}
	var err error
	if opt.VMM, err = snp.ParseVMM(*vmmName); err != nil {
		return usage(err)
	}
	switch {
	case *vcpuType != "" && *vcpuSig != "":
		return usage(errors.New("give --vcpu-type or --vcpu-sig, not both"))
	case *vcpuType != "":
		if opt.VCPUSig, err = snp.VCPUSig(*vcpuType); err != nil {
			return usage(err)
		}
	case *vcpuSig != "":
		v, err := parseUint("vcpu-sig", *vcpuSig, 32)
		if err != nil {
			return usage(err)
		}
		opt.VCPUSig = uint32(v)
	case opt.VMM == snp.VMMQEMU:
		return usage(errors.New("QEMU puts the vCPU signature in the VMSA: give --vcpu-type or --vcpu-sig"))
	}
	if opt.GuestFeatures, err = parseUint("guest-features", *features, 64); err != nil {
		return usage(err)
	}
	if *ovmfHash != "" {
		h, err := hex.DecodeString(*ovmfHash)
		if err != nil || len(h) != snp.DigestSize {
			return usage(fmt.Errorf("--ovmf-hash: want %d bytes of hex", snp.DigestSize))
		}
		opt.FirmwareDigest = (*[snp.DigestSize]byte)(h)
	}

	ovmf, err := readInput("ovmf", *ovmfPath)
	if err != nil {
		return usage(err)
	}
	inputs := []measuredInput{ovmf}
	if *kernelPath != "" {
		k, err := readInput("kernel", *kernelPath)
		if err != nil {
			return usage(err)
		}
		inputs = append(inputs, k)
		var initrd []byte
		if *initrdPath != "" {
			i, err := readInput("initrd", *initrdPath)
			if err != nil {
				return usage(err)
			}
			inputs = append(inputs, i)
			initrd = i.data
		}
		h := snp.HashKernel(k.data, initrd, *cmdline)
		opt.Kernel = &h
	}
	o, err := snp.ParseOVMF(ovmf.data)
	if err != nil {
		fmt.Fprintf(stderr, "assay measure snp: %s: %v\n", *ovmfPath, err)
		return ExitRejected
	}
	ld, err := snp.LaunchDigest(o, opt)
	if err != nil {
		fmt.Fprintf(stderr, "assay measure snp: %v\n", err)
		return ExitRejected
	}
	params := []string{fmt.Sprintf("vcpus=%d vcpu-sig=%#x guest-features=%#x vmm=%s", opt.VCPUs, opt.VCPUSig, opt.GuestFeatures, opt.VMM)}
	if opt.Kernel != nil {
		params = append(params, fmt.Sprintf("cmdline sha256:%x", opt.Kernel.Cmdline))
	}
	if opt.FirmwareDigest != nil {
		params = append(params, "firmware digest given: "+*ovmfHash)
	}
	return rf.emit(stdout, stderr, "snp", []measured{{claim: "measurement", value: ld[:]}}, source("snp", inputs, params))
}

func runMeasureTDX(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("assay measure tdx", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tdvfPath := fs.String("tdvf", "", "TDVF image (OVMF.fd of an IntelTdx or OvmfPkgX64 build) (required)")
	orderName := fs.String("order", "per-page", "order the VMM adds and extends pages: per-page (upstream KVM) or per-section")
	var rf refValueFlags
	rf.register(fs)
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	usage := func(err error) int {
		fmt.Fprintf(stderr, "assay measure tdx: %v\n", err)
		return ExitUsage
	}
	if fs.NArg() != 0 {
		return usage(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if *tdvfPath == "" {
		return usage(errors.New("--tdvf is required"))
	}
	if err := rf.check(); err != nil {
		return usage(err)
	}
	order, err := tdx.ParseOrder(*orderName)
	if err != nil {
		return usage(err)
	}
	in, err := readInput("tdvf", *tdvfPath)
	if err != nil {
		return usage(err)
	}
	t, err := tdx.ParseTDVF(in.data)
	if err != nil {
		fmt.Fprintf(stderr, "assay measure tdx: %s: %v\n", *tdvfPath, err)
		return ExitRejected
	}
	mrtd, err := tdx.MRTD(t, order)
	if err != nil {
		fmt.Fprintf(stderr, "assay measure tdx: %v\n", err)
		return ExitRejected
	}
	return rf.emit(stdout, stderr, "tdx", []measured{{claim: "mr_td", value: mrtd[:]}}, source("tdx", []measuredInput{in}, []string{"order=" + order.String()}))
}

func runMeasureNitro(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("assay measure nitro", flag.ContinueOnError)
	fs.SetOutput(stderr)
	eifPath := fs.String("eif", "", "enclave image file (nitro-cli build-enclave output) (required)")
	var rf refValueFlags
	rf.register(fs)
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	usage := func(err error) int {
		fmt.Fprintf(stderr, "assay measure nitro: %v\n", err)
		return ExitUsage
	}
	if fs.NArg() != 0 {
		return usage(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if *eifPath == "" {
		return usage(errors.New("--eif is required"))
	}
	if err := rf.check(); err != nil {
		return usage(err)
	}
	in, err := readInput("eif", *eifPath)
	if err != nil {
		return usage(err)
	}
	e, err := nitro.ParseEIF(in.data)
	if err != nil {
		fmt.Fprintf(stderr, "assay measure nitro: %s: %v\n", *eifPath, err)
		return ExitRejected
	}
	if !e.CRCValid {
		// nitro-cli refuses to run such a file; the PCRs are still what
		// its sections measure to.
		fmt.Fprintf(stderr, "assay measure nitro: warning: %s: header CRC-32 %#08x does not match the file\n", *eifPath, e.Header.CRC32)
	}
	p := nitro.Measure(e)
	return rf.emit(stdout, stderr, "nitro", []measured{
		{claim: "pcrs.0", suffix: "pcr0", value: p.PCR0[:]},
		{claim: "pcrs.1", suffix: "pcr1", value: p.PCR1[:]},
		{claim: "pcrs.2", suffix: "pcr2", value: p.PCR2[:]},
	}, source("nitro", []measuredInput{in}, nil))
}
