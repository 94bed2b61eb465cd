package cli

import (
	"crypto"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/assay-dev/assay/internal/eventlog/ccel"
	"github.com/assay-dev/assay/internal/eventlog/tcg"
	"github.com/assay-dev/assay/measure/bootchain"
)

func runMeasureBootchain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("assay measure bootchain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	logPath := fs.String("log", "", "event log of a known-good boot of the same platform: TPM (binary_bios_measurements) or TDX CCEL (required)")
	format := fs.String("format", "", "tcg or ccel (empty: recognised from the log)")
	var efis stringList
	fs.Var(&efis, "efi", "EFI application replacing the n-th logged EV_EFI_BOOT_SERVICES_APPLICATION, in load order (repeat; - keeps the logged one)")
	cmdline := fs.String("cmdline", "", "kernel command line as grub logs it (kernel path first), replacing the logged one")
	initrdPath := fs.String("initrd", "", "initrd replacing the one grub or the Linux EFI stub measured")
	var rf refValueFlags
	rf.register(fs)
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	usage := func(err error) int {
		fmt.Fprintf(stderr, "assay measure bootchain: %v\n", err)
		return ExitUsage
	}
	if fs.NArg() != 0 {
		return usage(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if *logPath == "" {
		return usage(errors.New("--log is required"))
	}
	if err := rf.check(); err != nil {
		return usage(err)
	}
	log, err := readInput("log", *logPath)
	if err != nil {
		return usage(err)
	}
	inputs := []measuredInput{log}
	var c bootchain.Components
	var params []string
	for i, path := range efis {
		if path == "-" {
			c.EFI = append(c.EFI, nil)
			params = append(params, fmt.Sprintf("efi[%d] as logged", i))
			continue
		}
		in, err := readInput("efi["+strconv.Itoa(i)+"]", path)
		if err != nil {
			return usage(err)
		}
		im, err := bootchain.ParsePE(in.data)
		if err != nil {
			fmt.Fprintf(stderr, "assay measure bootchain: %s: %v\n", path, err)
			return ExitRejected
		}
		inputs = append(inputs, in)
		c.EFI = append(c.EFI, im)
	}
	if *initrdPath != "" {
		in, err := readInput("initrd", *initrdPath)
		if err != nil {
			return usage(err)
		}
		inputs = append(inputs, in)
		c.Initrd = in.data
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "cmdline" {
			c.Cmdline = cmdline
			params = append(params, "cmdline "+strconv.Quote(*cmdline))
		}
	})
	if *format == "" {
		*format = sniffBootLog(log.data)
	}
	var bl *bootchain.Log
	switch *format {
	case "tcg":
		l, perr := tcg.Parse(log.data)
		if perr != nil {
			err = perr
			break
		}
		bl = &bootchain.Log{Format: "tcg", Banks: l.Banks(), Start: l.InitialValue}
		for i := range l.Events {
			e := &l.Events[i]
			reg := e.PCR
			if !e.Extends() {
				reg = -1
			}
			bl.Events = append(bl.Events, bootchain.Event{Num: e.Num, Register: reg, Type: e.Type, Data: e.Data, Digests: e.Digests})
		}
	case "ccel":
		l, perr := ccel.Parse(log.data)
		if perr != nil {
			err = perr
			break
		}
		if !l.HasBank(ccel.AlgSHA384) {
			err = fmt.Errorf("a CC event log without a SHA-384 bank (banks %v) has no RTMRs to predict", l.Banks())
			break
		}
		bl = &bootchain.Log{Format: "ccel", Banks: []crypto.Hash{crypto.SHA384}}
		for i := range l.Events {
			e := &l.Events[i]
			reg, ok := e.RTMR()
			if !ok || e.Type == ccel.EvNoAction {
				reg = -1
			}
			bl.Events = append(bl.Events, bootchain.Event{Num: e.Num, Register: reg, Type: uint32(e.Type), Data: e.Data,
				Digests: map[crypto.Hash][]byte{crypto.SHA384: e.Digest(ccel.AlgSHA384)}})
		}
	default:
		return usage(fmt.Errorf("--format %q: want tcg or ccel (the log was not recognised as either)", *format))
	}
	if err != nil {
		fmt.Fprintf(stderr, "assay measure bootchain: %s: %v\n", *logPath, err)
		return ExitRejected
	}
	p, err := bootchain.Predict(bl, c)
	if err != nil {
		fmt.Fprintf(stderr, "assay measure bootchain: %v\n", err)
		return ExitRejected
	}
	if rf.id != "" {
		return rf.emit(stdout, stderr, teeOf(p), predictedClaims(p), source("bootchain", inputs, append([]string{"format=" + p.Format}, params...)))
	}
	out, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "assay measure bootchain: %v\n", err)
		return ExitRejected
	}
	return writeOutput(rf.output, append(out, '\n'), stdout, stderr)
}

// sniffBootLog names the format of an event log: a CC event log declares
// only SHA-384 (or SM3) banks; anything else tcg.Parse reads is a TPM log.
func sniffBootLog(b []byte) string {
	if f, ok := ccel.Sniff(b); ok && f == ccel.FormatLog {
		return "ccel"
	}
	if _, ok := tcg.Sniff(b); ok {
		return "tcg"
	}
	return ""
}

func teeOf(p *bootchain.Prediction) string {
	if p.Format == "ccel" {
		return "tdx"
	}
	return "tpm"
}

// predictedClaims are the reference values of the predicted registers
// only (policy/validate.go: tpm "pcrs.<bank>.<n>", tdx "rtmr.<n>"); the
// registers copied from the reference log are not written.
func predictedClaims(p *bootchain.Prediction) []measured {
	var ms []measured
	for _, r := range p.Registers {
		if r.From != "prediction" {
			continue
		}
		m := measured{claim: fmt.Sprintf("pcrs.%s.%d", r.Bank, r.Index), suffix: r.Bank + "-" + r.Name, value: r.Value}
		if p.Format == "ccel" {
			m.claim, m.suffix = "rtmr."+strconv.Itoa(r.Index), r.Name
		}
		ms = append(ms, m)
	}
	return ms
}

func writeOutput(path string, out []byte, stdout, stderr io.Writer) int {
	if path == "" {
		if _, err := stdout.Write(out); err != nil {
			return ExitRejected
		}
		return 0
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		fmt.Fprintf(stderr, "assay measure: %v\n", err)
		return ExitUsage
	}
	return 0
}
