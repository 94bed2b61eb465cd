package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/assay-dev/assay/collateral/bundle"
	"github.com/assay-dev/assay/collateral/cache"
	"github.com/assay-dev/assay/collateral/kds"
	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/internal/diskcache"
	"github.com/assay-dev/assay/verifier"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

const collateralUsage = `usage: assay collateral <command> [flags]

commands:
  prefetch  fetch into the cache what offline appraisal of the evidence
            (FILE|DIR...) or of a fleet list (--list FILE) needs
  status    list what the cache holds; given FILE|DIR..., what that
            evidence still lacks
  export    write the cache's current documents to a signed bundle
            (--out BUNDLE --signing-key KEY)
  import    verify a bundle with --trust-key PUB and install its documents
  keygen    make an Ed25519 key pair for bundles (--out KEY: KEY, KEY.pub)

exit status: 0 done, 1 some item failed or is missing, or a bundle was
refused, 2 usage error. docs/collateral.md has the details.
`

// runCollateral is "assay collateral": the collateral cache for fleets
// and air gaps.
func runCollateral(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, collateralUsage)
		return ExitUsage
	}
	switch args[0] {
	case "prefetch":
		return runPrefetch(ctx, args[1:], stdout, stderr)
	case "status":
		return runCollateralStatus(args[1:], stdout, stderr)
	case "export":
		return runExport(args[1:], stdout, stderr)
	case "import":
		return runImport(args[1:], stdout, stderr)
	case "keygen":
		return runKeygen(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, collateralUsage)
		return 0
	}
	fmt.Fprintf(stderr, "assay collateral: unknown command %q\n\n%s", args[0], collateralUsage)
	return ExitUsage
}

// collateralCommand is what the subcommands share: a flag set whose
// values land in a verifyFlags, so that the cache directory, the vendor
// URLs, the clock and the clients are wired exactly as for verify.
type collateralCommand struct {
	name string
	fs   *flag.FlagSet
	vf   verifyFlags
}

func newCollateralCommand(name, args string, stderr io.Writer) *collateralCommand {
	c := &collateralCommand{name: "assay collateral " + name, vf: verifyFlags{output: "text"}}
	c.fs = flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.fs.SetOutput(stderr)
	c.fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [flags] %s\n", c.name, args)
		c.fs.PrintDefaults()
	}
	c.fs.StringVar(&c.vf.cacheDir, "cache-dir", "", "collateral cache root, holding amd-kds/ and intel-pcs/ (default: $XDG_CACHE_HOME/assay; assay serve: DATA/collateral)")
	c.fs.StringVar(&c.vf.at, "at", "", "the time freshness is judged at, RFC 3339 (default: now)")
	return c
}

// vendorFlags adds the flags of the collateral services.
func (c *collateralCommand) vendorFlags() {
	c.fs.StringVar(&c.vf.kdsURL, "kds-url", kds.DefaultBaseURL, "AMD KDS base URL")
	c.fs.StringVar(&c.vf.pcsURL, "pcs-url", pcs.DefaultBaseURL, "Intel PCS base URL (a non-default URL serves IntelSGXRootCA.der too)")
	c.fs.DurationVar(&c.vf.timeout, "timeout", 20*time.Second, "timeout for each fetch")
}

// evidenceFlags adds the flags that say how to read evidence.
func (c *collateralCommand) evidenceFlags() {
	c.fs.StringVar(&c.vf.format, "format", "", "evidence kind or format when sniffing cannot tell (snp, tdx, sgx, ...)")
	c.fs.StringVar(&c.vf.product, "product", "", "AMD product (Milan, Genoa, Turin) of SNP reports that do not name it")
}

// parse parses the flags and returns the positional arguments; ok false
// means the caller returns code.
func (c *collateralCommand) parse(args []string) (pos []string, code int, ok bool) {
	pos, err := parseInterspersed(c.fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0, false
		}
		return nil, ExitUsage, false
	}
	return pos, 0, true
}

// wiring is the verify configuration of the flags: the time, the AMD
// product and the two clients, on the cache root's directories.
type wiring struct {
	now  time.Time
	prod sevsnp.Product
	root string
	kds  *kds.Client
	pcs  *pcs.Client
}

func (c *collateralCommand) wire(stderr io.Writer) (*wiring, error) {
	if c.vf.kdsURL == "" {
		c.vf.kdsURL = kds.DefaultBaseURL
	}
	if c.vf.pcsURL == "" {
		c.vf.pcsURL = pcs.DefaultBaseURL
	}
	p, cfg, err := c.vf.config(stderr)
	if err != nil {
		return nil, err
	}
	w := &wiring{now: p.Now, prod: cfg.SNPProduct}
	w.kds, _ = cfg.SNPCollateral.(*kds.Client)
	w.pcs, _ = cfg.DCAPCollateral.(*pcs.Client)
	if w.kds == nil || w.pcs == nil || w.kds.CacheDir == "" || w.pcs.CacheDir == "" {
		return nil, usagef("no collateral cache directory: give --cache-dir")
	}
	// config puts each client's cache in ROOT/amd-kds and ROOT/intel-pcs.
	w.root = filepath.Dir(w.kds.CacheDir)
	if filepath.Dir(w.pcs.CacheDir) != w.root {
		return nil, fmt.Errorf("the AMD and Intel caches are not under one root (%s, %s)", w.kds.CacheDir, w.pcs.CacheDir)
	}
	return w, nil
}

func (w *wiring) urls() cache.URLs {
	return cache.URLs{KDS: w.kds.BaseURL, PCS: w.pcs.BaseURL, RootCRL: w.pcs.RootCRLURL}
}

// evidenceNeed is what one input needs, or why that cannot be told.
type evidenceNeed struct {
	name string
	need cache.Need
	err  error
}

// evidenceNeeds classifies the inputs as verify does and says what each
// piece of SEV-SNP, TDX, SGX and Azure CVM evidence needs. Certificates,
// CRLs and collateral among the inputs are passed over, and so is
// evidence of kinds that need nothing from AMD or Intel (said on stderr).
func evidenceNeeds(name string, paths []string, format string, product sevsnp.Product, stderr io.Writer) ([]evidenceNeed, error) {
	inputs, err := readInputs(paths)
	if err != nil {
		return nil, err
	}
	vs := verifier.Verifiers(verifier.Config{})
	var out []evidenceNeed
	var hclWithoutQuote []string
	haveTDQuote := false
	for _, in := range inputs {
		it, err := verifier.Classify(in, vs, format)
		if err != nil {
			if in.Optional && errors.Is(err, verifier.ErrUnrecognized) {
				continue
			}
			out = append(out, evidenceNeed{name: in.Name, err: err})
			continue
		}
		if it.Role != verifier.RoleEvidence {
			continue
		}
		switch it.Kind {
		case "snp", "tdx", "sgx", "azcvm":
		default:
			fmt.Fprintf(stderr, "%s: %s: %s evidence needs nothing from AMD KDS or Intel PCS\n", name, in.Name, it.Kind)
			continue
		}
		n, err := cache.Needs(it.Kind, it.Format, in.Data, product)
		if errors.Is(err, cache.ErrNoQuote) {
			hclWithoutQuote = append(hclWithoutQuote, in.Name)
			continue
		}
		if it.Kind == "tdx" {
			haveTDQuote = true
		}
		out = append(out, evidenceNeed{name: in.Name, need: n, err: err})
	}
	// An Azure TDX VM's raw HCL report names no platform; its TD quote,
	// given beside it, does.
	for _, n := range hclWithoutQuote {
		if haveTDQuote {
			fmt.Fprintf(stderr, "%s: %s: an Azure TDX HCL report; its TD quote among the inputs names what it needs\n", name, n)
			continue
		}
		out = append(out, evidenceNeed{name: n, err: fmt.Errorf("%w: %w: the HCL report of an Azure TDX VM does not carry its TD quote; give the quote file", cache.ErrNeeds, cache.ErrNoQuote)})
	}
	return out, nil
}

// listNeeds reads a fleet list file (cache.ParseList).
func listNeeds(path string) ([]evidenceNeed, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	ns, err := cache.ParseList(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []evidenceNeed
	for _, n := range ns {
		out = append(out, evidenceNeed{name: path, need: n})
	}
	return out, nil
}

// Prefetch outcomes, as printed.
const (
	stateFetched = "fetched"
	stateFresh   = "already fresh"
	stateFailed  = "failed"
)

func runPrefetch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCollateralCommand("prefetch", "[--list FILE] FILE|DIR...", stderr)
	c.vendorFlags()
	c.evidenceFlags()
	list := c.fs.String("list", "", "fleet list: lines \"snp PRODUCT CHIP_ID_HEX REPORTED_TCB_HEX\", \"snp PRODUCT vlek\", \"tdx FMSPC_HEX\", \"sgx FMSPC_HEX\"")
	files, code, ok := c.parse(args)
	if !ok {
		return code
	}
	if len(files) == 0 && *list == "" {
		fmt.Fprintf(stderr, "%s: no evidence files and no --list\n", c.name)
		return ExitUsage
	}
	w, err := c.wire(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.name, err)
		return ExitUsage
	}
	var needs []evidenceNeed
	if *list != "" {
		ns, err := listNeeds(*list)
		if err != nil {
			fmt.Fprintf(stderr, "%s: --list %v\n", c.name, err)
			return ExitUsage
		}
		needs = append(needs, ns...)
	}
	if len(files) > 0 {
		ns, err := evidenceNeeds(c.name, files, c.vf.format, w.prod, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", c.name, err)
			return ExitUsage
		}
		needs = append(needs, ns...)
	}
	p := prefetcher{w: w, out: stdout, done: map[string]bool{}}
	for _, n := range needs {
		p.need(ctx, n)
	}
	if p.failed {
		return ExitRejected
	}
	return 0
}

// prefetcher fetches items into the cache, each once, and prints one line
// per item.
type prefetcher struct {
	w      *wiring
	out    io.Writer
	done   map[string]bool // cache paths already reported
	failed bool
}

func (p *prefetcher) line(state string, it cache.Item, err error) {
	if err != nil {
		fmt.Fprintf(p.out, "%-13s  %s: %v\n", state, it, err)
		p.failed = true
		return
	}
	fmt.Fprintf(p.out, "%-13s  %s\n", state, it)
}

func (p *prefetcher) need(ctx context.Context, n evidenceNeed) {
	if n.err != nil {
		fmt.Fprintf(p.out, "%-13s  %s: %v\n", stateFailed, n.name, n.err)
		p.failed = true
		return
	}
	opts := n.need.Options
	if len(opts) == 0 {
		return
	}
	opt := opts[0]
	if len(opts) > 1 {
		// The evidence does not name its product: the option whose first
		// item (the VCEK) is cached or fetchable is the chip's product.
		opt = nil
		for _, o := range opts {
			if p.fresh(o) {
				opt = o
				break
			}
		}
		var errs []error
		for _, o := range opts {
			if opt != nil {
				break
			}
			state, err := p.fetch(ctx, o[0])
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", o[0].KDS.Product, err))
				continue
			}
			opt = o
			p.report(state, o[0], nil)
		}
		if opt == nil {
			p.report(stateFailed, opts[0][0], fmt.Errorf("the report names no product and no product's KDS knows the chip: %w", errors.Join(errs...)))
			return
		}
	}
	for _, it := range opt {
		if path, err := it.Path(); err == nil && p.done[path] {
			continue
		}
		state, err := p.fetch(ctx, it)
		p.report(state, it, err)
	}
}

func (p *prefetcher) report(state string, it cache.Item, err error) {
	if path, perr := it.Path(); perr == nil {
		if p.done[path] {
			return
		}
		p.done[path] = true
	}
	p.line(state, it, err)
}

// fresh reports whether every item is cached, genuine and current.
func (p *prefetcher) fresh(items []cache.Item) bool {
	for _, it := range items {
		if _, e, err := cache.Read(p.w.root, it); err != nil || e.Expired(p.w.now) {
			return false
		}
	}
	return true
}

// fetch makes the cache hold a genuine, current copy of it. A cached
// copy that is not (damaged, forged, expired) is removed first, so that
// the client fetches afresh instead of passing it on; what the client
// caches is then validated as an import would be.
func (p *prefetcher) fetch(ctx context.Context, it cache.Item) (string, error) {
	path, err := it.Path()
	if err != nil {
		return stateFailed, err
	}
	file := filepath.Join(p.w.root, filepath.FromSlash(path))
	_, e, err := cache.Read(p.w.root, it)
	switch {
	case err == nil && !e.Expired(p.w.now):
		return stateFresh, nil
	case err == nil || !errors.Is(err, fs.ErrNotExist):
		if rerr := diskcache.Remove(file); rerr != nil {
			return stateFailed, fmt.Errorf("removing the unusable cached copy: %w", rerr)
		}
	}
	switch it.Source {
	case cache.SourceKDS:
		err = p.w.kds.Fetch(ctx, it.KDS)
	case cache.SourcePCS:
		err = p.w.pcs.Fetch(ctx, it.PCS)
	}
	if err != nil {
		return stateFailed, err
	}
	_, e, err = cache.Read(p.w.root, it)
	if err == nil && e.Expired(p.w.now) {
		err = fmt.Errorf("%w: the served document's %s is %s", cache.ErrExpired, e.Bound, e.Until.UTC().Format(time.RFC3339))
	}
	if err != nil {
		_ = diskcache.Remove(file)
		return stateFailed, fmt.Errorf("the document %s served does not validate: %w", it.URL(p.w.urls()), err)
	}
	return stateFetched, nil
}

// statusItem is one cache file in status output.
type statusItem struct {
	Source    string    `json:"source,omitempty"`
	Kind      string    `json:"kind,omitempty"`
	Key       string    `json:"key,omitempty"`
	Path      string    `json:"path"`
	URL       string    `json:"url,omitempty"`
	FetchedAt time.Time `json:"fetched_at"`
	// FetchedFrom and Signature are the cache's record (absent for a file
	// it has none for): the URL or bundle the document came from, and
	// whether its signature was checked when it was written.
	FetchedFrom string     `json:"fetched_from,omitempty"`
	Signature   string     `json:"signature,omitempty"`
	ValidUntil  *time.Time `json:"valid_until,omitempty"`
	Bound       string     `json:"bound,omitempty"`
	Expired     bool       `json:"expired"`
	Error       string     `json:"error,omitempty"`
}

// statusMissing is an item some evidence needs that the cache lacks.
type statusMissing struct {
	Source string `json:"source"`
	Kind   string `json:"kind"`
	Key    string `json:"key"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// statusEvidence says whether the cache holds what one input needs.
type statusEvidence struct {
	File     string          `json:"file"`
	Complete bool            `json:"complete"`
	Missing  []statusMissing `json:"missing,omitempty"`
	Notes    []string        `json:"notes,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// statusReport is the JSON output of status.
type statusReport struct {
	CacheDir string           `json:"cache_dir"`
	At       time.Time        `json:"at"`
	Items    []statusItem     `json:"items"`
	Evidence []statusEvidence `json:"evidence,omitempty"`
}

func runCollateralStatus(args []string, stdout, stderr io.Writer) int {
	c := newCollateralCommand("status", "[FILE|DIR...]", stderr)
	c.vendorFlags()
	c.evidenceFlags()
	c.fs.StringVar(&c.vf.output, "o", "text", "output: text or json")
	files, code, ok := c.parse(args)
	if !ok {
		return code
	}
	w, err := c.wire(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.name, err)
		return ExitUsage
	}
	var needs []evidenceNeed
	if len(files) > 0 {
		if needs, err = evidenceNeeds(c.name, files, c.vf.format, w.prod, stderr); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", c.name, err)
			return ExitUsage
		}
	}
	entries, err := cache.List(w.root)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.name, err)
		return ExitRejected
	}
	rep := statusReport{CacheDir: w.root, At: w.now, Items: []statusItem{}}
	for _, e := range entries {
		si := statusItem{Path: e.Path, FetchedAt: e.FetchedAt().UTC(), FetchedFrom: e.Record.Source, Signature: e.Record.Signature}
		if e.Item.Source != "" {
			si.Source, si.Kind, si.Key, si.URL = e.Item.Source, e.Item.Kind(), e.Item.Key(), e.Item.URL(w.urls())
		}
		if e.Err != nil {
			si.Error = e.Err.Error()
		} else {
			until := e.Until.UTC()
			si.ValidUntil, si.Bound, si.Expired = &until, e.Bound, e.Expired(w.now)
		}
		rep.Items = append(rep.Items, si)
	}
	code = 0
	for _, n := range needs {
		se := statusEvidence{File: n.name, Notes: n.need.Notes}
		if n.err != nil {
			se.Error = n.err.Error()
			code = ExitRejected
		} else {
			se.Missing = missing(w, n.need)
			se.Complete = len(se.Missing) == 0
			if !se.Complete {
				code = ExitRejected
			}
		}
		rep.Evidence = append(rep.Evidence, se)
	}
	if c.vf.output == "json" {
		err = writeJSON(stdout, []statusReport{rep})
	} else {
		err = writeStatusText(stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.name, err)
		return ExitRejected
	}
	return code
}

// missing is what the cache lacks of the need's best option: none if some
// option is complete, else the option with the fewest gaps.
func missing(w *wiring, n cache.Need) []statusMissing {
	var best []statusMissing
	for i, opt := range n.Options {
		var gaps []statusMissing
		for _, it := range opt {
			path, err := it.Path()
			reason := ""
			if err == nil {
				var e cache.Entry
				_, e, err = cache.Read(w.root, it)
				if err == nil && e.Expired(w.now) {
					reason = fmt.Sprintf("expired: %s %s", e.Bound, e.Until.UTC().Format(time.RFC3339))
				}
			}
			switch {
			case errors.Is(err, fs.ErrNotExist):
				reason = "not in the cache"
			case err != nil:
				reason = "unusable: " + err.Error()
			}
			if reason != "" {
				gaps = append(gaps, statusMissing{Source: it.Source, Kind: it.Kind(), Key: it.Key(), Path: path, Reason: reason})
			}
		}
		if len(gaps) == 0 {
			return nil
		}
		if i == 0 || len(gaps) < len(best) {
			best = gaps
		}
	}
	return best
}

func writeStatusText(w io.Writer, rep statusReport) error {
	fmt.Fprintf(w, "cache %s at %s: %d files\n", rep.CacheDir, rep.At.UTC().Format(time.RFC3339), len(rep.Items))
	if len(rep.Items) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "\nSOURCE\tKIND\tKEY\tFETCHED\tVALID UNTIL\tSTATE\tSIGNATURE\tFETCHED FROM")
		for _, it := range rep.Items {
			state, until := "ok", "-"
			switch {
			case it.Error != "":
				state = "INVALID: " + it.Error
			case it.Expired:
				state = "EXPIRED"
			}
			if it.ValidUntil != nil {
				until = it.ValidUntil.Format(time.RFC3339) + " (" + it.Bound + ")"
			}
			source, kind, key := it.Source, it.Kind, shortKey(it.Key)
			if source == "" {
				source, kind, key = "-", "-", it.Path
			}
			sig, from := it.Signature, it.FetchedFrom
			if sig == "" {
				sig = "-"
			}
			if from == "" {
				from = "unrecorded"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", source, kind, key, it.FetchedAt.Format(time.RFC3339), until, state, sig, from)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, e := range rep.Evidence {
		fmt.Fprintln(w)
		switch {
		case e.Error != "":
			fmt.Fprintf(w, "%s: cannot tell what it needs: %s\n", e.File, e.Error)
		case e.Complete:
			fmt.Fprintf(w, "%s: the cache holds everything it needs\n", e.File)
		default:
			fmt.Fprintf(w, "%s: missing %d:\n", e.File, len(e.Missing))
			for _, m := range e.Missing {
				fmt.Fprintf(w, "  %s %s %s: %s\n", m.Source, m.Kind, shortKey(m.Key), m.Reason)
			}
		}
		for _, n := range e.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
	return nil
}

// shortKey abbreviates a 64-byte hardware ID for text output.
func shortKey(k string) string {
	i := strings.Index(k, "hwid=")
	if i < 0 {
		return k
	}
	j := strings.IndexByte(k[i:], ' ')
	if j < 0 {
		j = len(k) - i
	}
	if hw := k[i+5 : i+j]; len(hw) > 16 {
		return k[:i+5] + hw[:16] + "…" + k[i+j:]
	}
	return k
}

func runExport(args []string, stdout, stderr io.Writer) int {
	c := newCollateralCommand("export", "", stderr)
	out := c.fs.String("out", "", "bundle file to write")
	keyFile := c.fs.String("signing-key", "", "Ed25519 private key, PKCS#8 PEM (assay collateral keygen)")
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	switch {
	case len(pos) > 0:
		fmt.Fprintf(stderr, "%s: unexpected arguments %q\n", c.name, pos)
		return ExitUsage
	case *out == "" || *keyFile == "":
		fmt.Fprintf(stderr, "%s: --out and --signing-key are required\n", c.name)
		return ExitUsage
	}
	key, err := readPrivateKey(*keyFile)
	if err != nil {
		fmt.Fprintf(stderr, "%s: --signing-key: %v\n", c.name, err)
		return ExitUsage
	}
	w, err := c.wire(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.name, err)
		return ExitUsage
	}
	entries, err := cache.List(w.root)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.name, err)
		return ExitRejected
	}
	var docs []bundle.Document
	for _, e := range entries {
		switch {
		case e.Err != nil:
			fmt.Fprintf(stderr, "%s: skipping %s: %v\n", c.name, e.Path, e.Err)
			continue
		case e.Expired(w.now):
			fmt.Fprintf(stderr, "%s: skipping %s: expired (%s %s)\n", c.name, e.Path, e.Bound, e.Until.UTC().Format(time.RFC3339))
			continue
		}
		b, _, err := cache.Read(w.root, e.Item)
		if err != nil {
			fmt.Fprintf(stderr, "%s: skipping %s: %v\n", c.name, e.Path, err)
			continue
		}
		docs = append(docs, bundle.Document{Item: bundle.Item{Kind: e.Item.Kind(), Key: e.Item.Key(), Path: e.Path}, Data: b})
	}
	if len(docs) == 0 {
		fmt.Fprintf(stderr, "%s: the cache %s holds no current document to export\n", c.name, w.root)
		return ExitRejected
	}
	var buf bytes.Buffer
	if err := bundle.Write(&buf, docs, w.now, key); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.name, err)
		return ExitRejected
	}
	if err := diskcache.WriteAtomic(*out, buf.Bytes()); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.name, err)
		return ExitRejected
	}
	for _, d := range docs {
		fmt.Fprintf(stdout, "%-13s  %s %s %s\n", "exported", strings.SplitN(d.Path, "/", 2)[0], d.Kind, d.Key)
	}
	fmt.Fprintf(stdout, "wrote %s: %d documents, %d bytes, signed by key %s\n", *out, len(docs), buf.Len(), bundle.KeyID(key.Public().(ed25519.PublicKey)))
	return 0
}

func runImport(args []string, stdout, stderr io.Writer) int {
	c := newCollateralCommand("import", "BUNDLE", stderr)
	trust := c.fs.String("trust-key", "", "Ed25519 public key, PKIX PEM, the bundle must be signed with (KEY.pub of assay collateral keygen)")
	pos, code, ok := c.parse(args)
	if !ok {
		return code
	}
	switch {
	case len(pos) != 1:
		fmt.Fprintf(stderr, "%s: want exactly one bundle file\n", c.name)
		return ExitUsage
	case *trust == "":
		fmt.Fprintf(stderr, "%s: --trust-key is required: a bundle is imported only if it is signed by a key you trust\n", c.name)
		return ExitUsage
	}
	pub, err := readPublicKey(*trust)
	if err != nil {
		fmt.Fprintf(stderr, "%s: --trust-key: %v\n", c.name, err)
		return ExitUsage
	}
	w, err := c.wire(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.name, err)
		return ExitUsage
	}
	f, err := os.Open(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.name, err)
		return ExitUsage
	}
	defer f.Close()
	b, err := bundle.Read(f, pub)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s refused, nothing imported: %v\n", c.name, pos[0], err)
		return ExitRejected
	}
	installed, err := bundle.Import(b, w.root, w.now)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s refused, nothing imported: %v\n", c.name, pos[0], err)
		return ExitRejected
	}
	n := 0
	for _, in := range installed {
		state := "imported"
		if in.Kept {
			state = "kept newer"
		} else {
			n++
		}
		fmt.Fprintf(stdout, "%-13s  %s (%s %s)\n", state, in.Item, in.Bound, in.Until.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(stdout, "imported %d of %d documents from %s (created %s) into %s\n", n, len(installed), pos[0], b.Manifest.Created.UTC().Format(time.RFC3339), w.root)
	return 0
}

func runKeygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("assay collateral keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "private key file to write (PKCS#8 PEM, mode 0600); the public key goes to FILE.pub (PKIX PEM)")
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 || *out == "" {
		fmt.Fprintln(stderr, "assay collateral keygen: want --out KEY and no arguments")
		return ExitUsage
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		fmt.Fprintf(stderr, "assay collateral keygen: %v\n", err)
		return ExitRejected
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		fmt.Fprintf(stderr, "assay collateral keygen: %v\n", err)
		return ExitRejected
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		fmt.Fprintf(stderr, "assay collateral keygen: %v\n", err)
		return ExitRejected
	}
	// Neither file may exist: a key pair is never overwritten.
	for _, f := range []struct {
		name string
		mode os.FileMode
		typ  string
		der  []byte
	}{{*out + ".pub", 0o644, "PUBLIC KEY", pubDER}, {*out, 0o600, "PRIVATE KEY", privDER}} {
		if err := writeNew(f.name, f.mode, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})); err != nil {
			fmt.Fprintf(stderr, "assay collateral keygen: %v\n", err)
			return ExitRejected
		}
	}
	fmt.Fprintf(stdout, "wrote %s (private, keep it on the connected side) and %s.pub (give it to importers); key %s\n", *out, *out, bundle.KeyID(pub))
	return 0
}

// writeNew creates name, which must not exist, with mode.
func writeNew(name string, mode os.FileMode, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return err
	}
	return nil
}

func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	k, err := readPEMKey(path, "PRIVATE KEY", "PKCS#8", x509.ParsePKCS8PrivateKey)
	if err != nil {
		return nil, err
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s holds a %T, want an Ed25519 key", path, k)
	}
	return priv, nil
}

func readPublicKey(path string) (ed25519.PublicKey, error) {
	k, err := readPEMKey(path, "PUBLIC KEY", "PKIX", x509.ParsePKIXPublicKey)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s holds a %T, want an Ed25519 key", path, k)
	}
	return pub, nil
}

// readPEMKey reads the first PEM block of a file, which must be of type
// typ, and parses it.
func readPEMKey(path, typ, form string, parse func([]byte) (any, error)) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != typ {
		return nil, fmt.Errorf("%s is not a PEM %s (%s)", path, typ, form)
	}
	k, err := parse(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return k, nil
}
