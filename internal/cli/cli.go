// Package cli is the assay command line: flag parsing, reading inputs,
// wiring verifiers to collateral, rendering results and choosing the exit
// status. cmd/assay only calls Run.
package cli

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/collateral/kds"
	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/internal/dcap"
	"github.com/assay-dev/assay/verifier"
	"github.com/assay-dev/assay/verifier/nitro"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// Exit statuses: the contract in docs/cli.md.
const (
	ExitAffirming = 0 // every result affirming
	ExitRejected  = 1 // some result contraindicated, or evidence unreadable as evidence
	ExitUsage     = 2 // bad flags, unreadable path
	ExitWarning   = 3 // trusted, with warnings
)

// maxInput bounds one input file; evidence and collateral are kilobytes.
const maxInput = 64 << 20

const usage = `usage: assay <command> [flags] FILE...

commands:
  verify    appraise evidence; every FILE (or directory of files) is classified
            by content: evidence, certificates, CRLs, collateral
  inspect   say what each FILE is and print its parsed fields, without judging
  tpm       TPM credential activation: "assay tpm challenge", "assay tpm activate-check"
  serve     run the attestation service and key broker (docs/service.md)
  attest    gather local evidence and have a server appraise it
  get-secret
            attest, then fetch a secret released to this TEE
  token     "assay token verify": check an attestation result token offline
  audit     "assay audit verify|show": check or list the service's audit log
  collateral "assay collateral prefetch|status|export|import|keygen": the collateral cache for fleets and air gaps
  policy    "assay policy test|import-corim": try a proposed policy, import reference values
  measure   "assay measure snp|tdx|nitro|bootchain": compute expected measurements from artifacts
  version   print the version

exit status (verify): 0 affirming, 3 warning, 1 rejected, 2 usage error
run "assay verify -h" for the flags; docs/cli.md has the whole contract
`

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

// Run executes the command line and returns the exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	switch args[0] {
	case "verify":
		return runVerify(ctx, args[1:], stdout, stderr)
	case "inspect":
		return runInspect(args[1:], stdout, stderr)
	case "tpm":
		return runTPM(args[1:], stdout, stderr, time.Now)
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "token":
		return runToken(ctx, args[1:], stdout, stderr)
	case "audit":
		return runAudit(ctx, args[1:], stdout, stderr)
	case "attest":
		return runAttest(ctx, args[1:], stdout, stderr)
	case "get-secret":
		return runGetSecret(ctx, args[1:], stdout, stderr)
	case "collateral":
		return runCollateral(ctx, args[1:], stdout, stderr)
	case "policy":
		return runPolicy(ctx, args[1:], stdout, stderr)
	case "measure":
		return runMeasure(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "assay", Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "assay: unknown command %q\n\n%s", args[0], usage)
	return ExitUsage
}

// verifyFlags is the configuration of one verify run.
type verifyFlags struct {
	at       string
	offline  bool
	nonce    string
	roots    string
	output   string
	format   string
	product  string
	cacheDir string
	kdsURL   string
	pcsURL   string
	timeout  time.Duration
	tcbTiers stringList
	enrolled stringList
	// live makes the collateral clients read the wall clock at each
	// fetch (the server) instead of the run's fixed verification time.
	live bool
	// observe is told of every collateral fetch attempt (the server's
	// metrics).
	observe func(host string, status int, err error, d time.Duration)
	// fresh is the operator's limit on stale collateral; background and
	// refreshed are the server's: stale documents are served at once and
	// refreshed behind the appraisal (freshness.go).
	fresh      freshnessFlags
	background context.Context
	refreshed  func(what string, err error)
}

func (f *verifyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.at, "at", "", "verification time, RFC 3339 (default: now)")
	fs.BoolVar(&f.offline, "offline", false, "never touch the network; fail naming what is missing")
	fs.StringVar(&f.nonce, "nonce", "", "expected nonce, hex (SNP: REPORT_DATA, right-padded with zeros to 64 bytes)")
	fs.StringVar(&f.roots, "roots", "", "PEM or DER file of trust anchors replacing the built-in roots")
	fs.StringVar(&f.output, "o", "text", "output: text or json")
	fs.StringVar(&f.format, "format", "", "evidence kind or format when sniffing cannot tell (snp, snp-report, trustee-snp-json, ...)")
	fs.StringVar(&f.product, "product", "", "AMD product (Milan, Genoa, Turin) for version 2 SNP reports fetched online")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "collateral cache directory (default: $XDG_CACHE_HOME/assay)")
	fs.StringVar(&f.kdsURL, "kds-url", kds.DefaultBaseURL, "AMD KDS base URL")
	fs.StringVar(&f.pcsURL, "pcs-url", pcs.DefaultBaseURL, "Intel PCS base URL (TCB info, QE identity, PCK CRL)")
	fs.DurationVar(&f.timeout, "timeout", 20*time.Second, "timeout for each collateral fetch")
	fs.Var(&f.tcbTiers, "tcb-tier", "Intel TCB status tier override STATUS=TIER, repeatable (OutOfDate=contraindicated)")
	fs.Var(&f.enrolled, "enrolled-ak", "TPM: enrolment record of an activated AK (assay tpm activate-check -o), repeatable")
	f.fresh.register(fs)
}

// parseInterspersed parses flags that may appear before, between or after
// the positional arguments ("assay verify report.bin --offline").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseArgs parses flags and positional arguments (parseInterspersed);
// when it fails, ok is false and code is the exit status: 0 for -h, else
// ExitUsage (the flag package has printed the problem).
func parseArgs(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, 0, false
	}
	if err != nil {
		return nil, ExitUsage, false
	}
	return pos, 0, true
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("assay verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f verifyFlags
	f.register(fs)
	var pf policyFlags
	pf.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: assay verify [flags] FILE|DIR...")
		fs.PrintDefaults()
	}
	files, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	p, cfg, err := f.config(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "assay verify: %v\n", err)
		return ExitUsage
	}
	if fp, _ := f.fresh.policy(); fp != nil {
		ctx = attest.WithFreshness(ctx, *fp)
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "assay verify: no input files")
		return ExitUsage
	}
	inputs, err := readInputs(files)
	if err != nil {
		fmt.Fprintf(stderr, "assay verify: %v\n", err)
		return ExitUsage
	}
	var ap *appraiser
	if pf.active() {
		now := p.Now
		if ap, err = pf.load(ctx, func() time.Time { return now }); err != nil {
			fmt.Fprintf(stderr, "assay verify: %v\n", err)
			return ExitUsage
		}
	}
	results, err := verifier.Appraise(ctx, verifier.Verifiers(cfg), inputs, f.format, p)
	if err != nil {
		fmt.Fprintf(stderr, "assay verify: %v\n", err)
		return ExitRejected
	}
	if ap != nil {
		if err := ap.apply(ctx, results); err != nil {
			fmt.Fprintf(stderr, "assay verify: policy evaluation failed, no verdict: %v\n", err)
			return ExitRejected
		}
	}
	if f.output == "json" {
		err = writeJSON(stdout, results)
	} else {
		err = writeText(stdout, results)
	}
	if err != nil {
		fmt.Fprintf(stderr, "assay verify: writing the result: %v\n", err)
		return ExitRejected
	}
	return exitStatus(results)
}

// config turns flags into appraisal parameters and verifier wiring.
func (f *verifyFlags) config(stderr io.Writer) (attest.Params, verifier.Config, error) {
	var p attest.Params
	var cfg verifier.Config
	var problems []error
	if f.output != "text" && f.output != "json" {
		problems = append(problems, usagef("-o must be text or json, not %q", f.output))
	}
	if f.at != "" {
		t, err := time.Parse(time.RFC3339, f.at)
		if err != nil {
			problems = append(problems, usagef("--at %q is not an RFC 3339 time (2025-07-01T00:00:00Z)", f.at))
		}
		p.Now = t.UTC()
	} else {
		p.Now = time.Now().UTC()
	}
	if f.nonce != "" {
		n, err := hex.DecodeString(strings.TrimPrefix(f.nonce, "0x"))
		switch {
		case err != nil:
			problems = append(problems, usagef("--nonce is not hex: %v", err))
		// 512 bytes: the longest nonce any evidence kind carries (a Nitro
		// document's nonce field); each verifier refuses one its own
		// field cannot hold (SNP, TDX, SGX, CCA: 64 bytes) in its nonce check.
		case len(n) == 0 || len(n) > 512:
			problems = append(problems, usagef("--nonce is %d bytes; it must be 1 to 512", len(n)))
		}
		p.Nonce = n
	}
	if f.roots != "" {
		roots, err := readRoots(f.roots)
		if err != nil {
			problems = append(problems, usagef("--roots: %v", err))
		}
		p.Roots = roots
	}
	if f.product != "" {
		prod, err := sevsnp.ParseProduct(f.product)
		if err != nil {
			problems = append(problems, usagef("--product: %v", err))
		}
		cfg.SNPProduct = prod
	}
	cfg.SNPCache = &sevsnp.Cache{}
	if len(f.enrolled) > 0 {
		es, err := readEnrolled(f.enrolled)
		if err != nil {
			problems = append(problems, usagef("--enrolled-ak: %v", err))
		}
		cfg.TPMEnrolled = es
	}
	for _, o := range f.tcbTiers {
		st, tier, err := dcap.ParseTCBTier(o)
		if err != nil {
			problems = append(problems, usagef("--tcb-tier: %v", err))
			continue
		}
		if cfg.TCBTiers == nil {
			cfg.TCBTiers = map[dcap.TCBStatus]string{}
		}
		cfg.TCBTiers[st] = tier
	}
	// Online, the clients fetch what is missing and cache it; --offline,
	// they serve only what the cache holds (an air-gapped verifier's
	// imported bundle) and a miss counts as collateral not supplied.
	{
		dir := f.cacheDir
		if dir == "" {
			d, err := kds.DefaultCacheDir()
			if err == nil {
				dir = d
			}
		} else {
			dir = filepath.Join(dir, "amd-kds")
		}
		now := p.Now
		clock := func() time.Time { return now }
		if f.live && f.at == "" {
			clock = time.Now
		}
		logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		fp, err := f.fresh.policy()
		if err != nil {
			problems = append(problems, err)
		}
		stale := stalePolicy(fp, f.background, f.refreshed)
		if dir != "" || !f.offline {
			cfg.SNPCollateral = &kds.Client{
				BaseURL:  f.kdsURL,
				Timeout:  f.timeout,
				CacheDir: dir,
				Offline:  f.offline,
				Observe:  f.observe,
				Now:      clock,
				Logger:   logger,
				Stale:    stale,
			}
		}
		pcsDir := ""
		if f.cacheDir != "" {
			pcsDir = filepath.Join(f.cacheDir, "intel-pcs")
		} else if d, err := pcs.DefaultCacheDir(); err == nil {
			pcsDir = d
		}
		pc := &pcs.Client{
			BaseURL:  f.pcsURL,
			Timeout:  f.timeout,
			CacheDir: pcsDir,
			Offline:  f.offline,
			Observe:  f.observe,
			Now:      clock,
			Logger:   logger,
			Stale:    stale,
		}
		if strings.TrimSuffix(f.pcsURL, "/") != pcs.DefaultBaseURL {
			// A private PCS or PCCS mirror serves the root CRL too.
			pc.RootCRLURL = strings.TrimSuffix(f.pcsURL, "/") + "/IntelSGXRootCA.der"
		}
		if pcsDir != "" || !f.offline {
			cfg.DCAPCollateral = pc
		}
	}
	cfg.DCAPCache = &dcap.Cache{}
	cfg.NitroCache = &nitro.Cache{}
	return p, cfg, errors.Join(problems...)
}

func readRoots(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	it, err := verifier.Classify(verifier.Input{Name: path, Data: b}, nil, "")
	if err != nil || len(it.Certificates) == 0 {
		return nil, fmt.Errorf("%s holds no PEM or DER certificates", path)
	}
	return it.Certificates, nil
}

// readInputs reads files and, one level down and recursively, directories.
// Files inside directories are optional: what nothing recognises is
// skipped (a configfs-tsm report directory holds text files beside the
// blobs).
func readInputs(paths []string) ([]verifier.Input, error) {
	var out []verifier.Input
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			b, err := readFile(p)
			if err != nil {
				return nil, err
			}
			out = append(out, verifier.Input{Name: p, Data: b})
			continue
		}
		var names []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
				names = append(names, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(names)
		for _, n := range names {
			b, err := readFile(n)
			if err != nil {
				return nil, err
			}
			out = append(out, verifier.Input{Name: n, Data: b, Optional: true})
		}
	}
	return out, nil
}

func readFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("%s is larger than %d MiB: not evidence", path, maxInput>>20)
	}
	return b, nil
}

// exitStatus is 1 if any result is not trusted, else 3 if any is a
// warning, else 0.
func exitStatus(results []*attest.Result) int {
	worst := attest.StatusAffirming
	for _, r := range results {
		if !r.Status.Trusted() {
			return ExitRejected
		}
		worst = worst.Worse(r.Status)
	}
	if worst == attest.StatusWarning {
		return ExitWarning
	}
	return ExitAffirming
}

func runInspect(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("assay inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	output := fs.String("o", "text", "output: text or json")
	format := fs.String("format", "", "evidence kind or format when sniffing cannot tell")
	files, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if *output != "text" && *output != "json" {
		fmt.Fprintf(stderr, "assay inspect: -o must be text or json, not %q\n", *output)
		return ExitUsage
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "assay inspect: no input files")
		return ExitUsage
	}
	inputs, err := readInputs(files)
	if err != nil {
		fmt.Fprintf(stderr, "assay inspect: %v\n", err)
		return ExitUsage
	}
	vs := verifier.Verifiers(verifier.Config{})
	var descs []verifier.Description
	code = 0
	for _, in := range inputs {
		d := verifier.Describe(in, vs, *format)
		if d.Error != "" && !in.Optional {
			code = ExitRejected
		}
		descs = append(descs, d)
	}
	if *output == "json" {
		err = writeJSON(stdout, descs)
	} else {
		err = writeInspectText(stdout, descs)
	}
	if err != nil {
		fmt.Fprintf(stderr, "assay inspect: %v\n", err)
		return ExitRejected
	}
	return code
}

// stringList is a flag that may be given several times; it keeps every
// value in order.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
