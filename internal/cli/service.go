package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"

	"github.com/assay-dev/assay/attester"
	"github.com/assay-dev/assay/broker"
	"github.com/assay-dev/assay/server"
	"github.com/assay-dev/assay/store"
	"github.com/assay-dev/assay/token"
)

// --- assay token verify

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "usage: assay token verify --jwks URL|FILE [--issuer ISS] [--nonce N] [--at TIME] TOKEN|FILE|-")
		return ExitUsage
	}
	fs := flag.NewFlagSet("token verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jwksArg := fs.String("jwks", "", "the issuer's JWK set: a URL (…/.well-known/jwks.json) or a file")
	issuer := fs.String("issuer", "", "required issuer (iss)")
	nonce := fs.String("nonce", "", "required eat_nonce")
	at := fs.String("at", "", "verification time, RFC 3339 (default: now)")
	rest, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return ExitUsage
	}
	if *jwksArg == "" || len(rest) != 1 {
		fmt.Fprintln(stderr, "assay token verify: need --jwks and exactly one TOKEN, FILE or -")
		return ExitUsage
	}
	now := time.Now()
	if *at != "" {
		if now, err = time.Parse(time.RFC3339, *at); err != nil {
			fmt.Fprintf(stderr, "assay token verify: --at %q is not RFC 3339\n", *at)
			return ExitUsage
		}
	}
	tok, err := readTokenArg(rest[0])
	if err != nil {
		fmt.Fprintf(stderr, "assay token verify: %v\n", err)
		return ExitUsage
	}
	jwks, err := readJWKS(ctx, *jwksArg)
	if err != nil {
		fmt.Fprintf(stderr, "assay token verify: %v\n", err)
		return ExitUsage
	}
	v, err := token.Verify(tok, jwks, token.VerifyOptions{Now: now, Issuer: *issuer, Nonce: *nonce})
	if err != nil {
		fmt.Fprintf(stderr, "assay token verify: token rejected: %v\n", err)
		return ExitRejected
	}
	out := map[string]any{"valid": true, "kid": v.KID, "iss": v.Issuer, "iat": v.IssuedAt.UTC().Format(time.RFC3339),
		"exp": v.Expires.UTC().Format(time.RFC3339), "status": v.Status, "ear": v.Result}
	if v.Nonce != "" {
		out["eat_nonce"] = v.Nonce
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
	switch v.Status {
	case "affirming":
		return ExitAffirming
	case "warning":
		return ExitWarning
	}
	return ExitRejected
}

func readTokenArg(a string) (string, error) {
	if a == "-" {
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
		return strings.TrimSpace(string(b)), err
	}
	if strings.Count(a, ".") == 2 && !strings.ContainsAny(a, "/\\") {
		return a, nil
	}
	b, err := os.ReadFile(a)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	// A {"token": "..."} answer is accepted as well.
	var wrapped struct {
		Token string `json:"token"`
	}
	if json.Unmarshal([]byte(s), &wrapped) == nil && wrapped.Token != "" {
		return wrapped.Token, nil
	}
	return s, nil
}

func readJWKS(ctx context.Context, a string) ([]byte, error) {
	if strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("--jwks: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("--jwks %s: HTTP %d", a, resp.StatusCode)
		}
		return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	}
	return os.ReadFile(a)
}

// --- assay audit verify | show

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "show") {
		fmt.Fprintln(stderr, "usage: assay audit verify|show [--data DIR | --database URL] [--after N] [--limit N] [-o text|json]")
		return ExitUsage
	}
	sub := args[0]
	fs := flag.NewFlagSet("audit "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "assay-data", "the service's data directory (SQLite)")
	database := fs.String("database", "", "database URL (postgres://…); overrides --data")
	after := fs.Int64("after", 0, "show: records after this sequence number")
	limit := fs.Int("limit", 0, "show: at most this many records (0: all)")
	output := fs.String("o", "text", "show: text or json")
	if _, err := parseInterspersed(fs, args[1:]); err != nil {
		return ExitUsage
	}
	db := *database
	if db == "" {
		db = filepath.Join(*data, "assay.db")
		if _, err := os.Stat(db); err != nil {
			fmt.Fprintf(stderr, "assay audit: %v\n", err)
			return ExitUsage
		}
	}
	st, err := store.Open(ctx, db)
	if err != nil {
		fmt.Fprintf(stderr, "assay audit: %v\n", err)
		return ExitUsage
	}
	defer st.Close()
	if sub == "verify" {
		n, head, err := verifyAudit(ctx, st)
		if err != nil {
			fmt.Fprintf(stderr, "assay audit verify: chain BROKEN after %d intact records: %v\n", n, err)
			return ExitRejected
		}
		fmt.Fprintf(stdout, "audit chain intact: %d records, head %s\n", n, hex.EncodeToString(head))
		return 0
	}
	cur, shown := *after, 0
	var all []server.AuditJSON
	for *limit == 0 || shown < *limit {
		page := 500
		if *limit > 0 && *limit-shown < page {
			page = *limit - shown
		}
		recs, err := st.ListAudit(ctx, cur, page)
		if err != nil {
			fmt.Fprintf(stderr, "assay audit show: %v\n", err)
			return 1
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			all = append(all, server.AuditEntry(r))
			cur = r.Seq
			shown++
		}
	}
	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"records": all})
		return 0
	}
	for _, r := range all {
		fmt.Fprintf(stdout, "%6d  %s  %-16s %-15s %-40s %s\n", r.Seq, r.Time, r.Action, r.Verdict, r.Subject, r.Actor)
	}
	return 0
}

// verifyAudit walks the whole chain in pages.
func verifyAudit(ctx context.Context, st store.Audit) (int64, []byte, error) {
	prev := make([]byte, 32)
	var after, n int64
	for {
		recs, err := st.ListAudit(ctx, after, 1000)
		if err != nil {
			return n, prev, err
		}
		if len(recs) == 0 {
			return n, prev, nil
		}
		if err := store.VerifyAuditChain(recs, prev); err != nil {
			return n, prev, err
		}
		n += int64(len(recs))
		last := recs[len(recs)-1]
		after, prev = last.Seq, last.Hash
	}
}

// --- assay attest / get-secret

type clientFlags struct {
	server     string
	tee        string
	tsm        string
	cmd        string
	collateral stringList
	privLevel  int
	tpm        string
	sevGuest   bool
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.server, "server", os.Getenv("ASSAY_SERVER"), "the Assay server's URL (env ASSAY_SERVER)")
	fs.StringVar(&c.tee, "tee", "", "evidence kind to announce (snp, tdx, sgx, tpm, …)")
	fs.StringVar(&c.tsm, "configfs-tsm", "", "gather SNP/TDX evidence through configfs-tsm at this directory ("+attester.DefaultTSMRoot+")")
	fs.StringVar(&c.cmd, "evidence-cmd", "", "gather evidence by running this shell command (see docs/service.md)")
	fs.Var(&c.collateral, "collateral", "a collateral file to send with the evidence (repeatable)")
	fs.IntVar(&c.privLevel, "privlevel", -1, "configfs-tsm privlevel (SNP VMPL); -1 leaves it")
	fs.BoolVar(&c.sevGuest, "sev-guest", false, "gather an SEV-SNP extended report through go-sev-guest (configfs-tsm, else /dev/sev-guest)")
	fs.StringVar(&c.tpm, "tpm", "", "gather a TPM 2.0 quote from this device (/dev/tpmrm0); the AK must be enrolled with the server")
}

func (c *clientFlags) source() (attester.Source, []attester.File, error) {
	var extra []attester.File
	for _, p := range c.collateral {
		b, err := readFile(p)
		if err != nil {
			return nil, nil, err
		}
		extra = append(extra, attester.File{Name: filepath.Base(p), Data: b})
	}
	switch {
	case c.server == "":
		return nil, nil, errors.New("--server (or ASSAY_SERVER) is required")
	case (c.tsm != "") && (c.cmd != "") || (c.tpm != "") && (c.tsm != "" || c.cmd != ""):
		return nil, nil, errors.New("--configfs-tsm, --tpm and --evidence-cmd are alternatives")
	case c.sevGuest:
		if c.tpm != "" || c.tsm != "" || c.cmd != "" {
			return nil, nil, errors.New("--sev-guest, --configfs-tsm, --tpm and --evidence-cmd are alternatives")
		}
		src := attester.SEVGuest{}
		if c.privLevel >= 0 {
			l := uint(c.privLevel)
			src.VMPL = &l
		}
		return src, extra, nil
	case c.tpm != "":
		dev := c.tpm
		return attester.TPM{Open: func() (transport.TPM, error) { return linuxtpm.Open(dev) }}, extra, nil
	case c.cmd != "":
		return attester.Command{Shell: c.cmd}, extra, nil
	case c.tsm != "":
		return attester.TSM{Root: c.tsm, PrivLevel: c.privLevel}, extra, nil
	}
	if _, err := os.Stat(attester.DefaultTSMRoot); err == nil {
		return attester.TSM{Root: attester.DefaultTSMRoot, PrivLevel: c.privLevel}, extra, nil
	}
	return nil, nil, errors.New("no evidence source: this machine has no " + attester.DefaultTSMRoot + "; use --configfs-tsm DIR or --evidence-cmd CMD")
}

func runAttest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "tpm" { // the service flow takes no arguments
		return runAttestTPM(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("attest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	output := fs.String("o", "json", "json or text")
	if rest, err := parseInterspersed(fs, args); err != nil || len(rest) > 0 {
		return ExitUsage
	}
	src, extra, err := cf.source()
	if err != nil {
		fmt.Fprintf(stderr, "assay attest: %v\n", err)
		return ExitUsage
	}
	c := &attester.Client{BaseURL: cf.server}
	v, err := c.Run(ctx, src, cf.tee, nil, extra)
	if err != nil && !errors.Is(err, attester.ErrRejected) {
		fmt.Fprintf(stderr, "assay attest: %v\n", err)
		return ExitRejected
	}
	if *output == "text" {
		_ = writeText(stdout, v.Results)
		if v.Token != "" {
			fmt.Fprintf(stdout, "token: %s\n", v.Token)
		}
	} else {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
	}
	return exitStatus(v.Results)
}

func runGetSecret(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("get-secret", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	out := fs.String("out", "", "write the secret to this file (0600) instead of standard output")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return ExitUsage
	}
	if len(rest) != 1 {
		fmt.Fprintln(stderr, "usage: assay get-secret --server URL [evidence flags] REPOSITORY/TYPE/TAG")
		return ExitUsage
	}
	src, extra, err := cf.source()
	if err != nil {
		fmt.Fprintf(stderr, "assay get-secret: %v\n", err)
		return ExitUsage
	}
	priv, pub, err := broker.GenerateTEEKey("ec-p256")
	if err != nil {
		fmt.Fprintf(stderr, "assay get-secret: %v\n", err)
		return 1
	}
	c := &attester.Client{BaseURL: cf.server}
	v, err := c.Run(ctx, src, cf.tee, pub, extra)
	if err != nil {
		fmt.Fprintf(stderr, "assay get-secret: %v\n", err)
		if errors.Is(err, attester.ErrRejected) {
			for _, r := range v.Results {
				for _, ch := range r.Failed() {
					fmt.Fprintf(stderr, "  failed %s: %s\n", ch.Name, ch.Detail)
				}
			}
		}
		return ExitRejected
	}
	secret, err := c.Resource(ctx, rest[0], v.Token, priv)
	if err != nil {
		fmt.Fprintf(stderr, "assay get-secret: %v\n", err)
		return ExitRejected
	}
	if *out != "" {
		if err := writePrivate(*out, secret); err != nil {
			fmt.Fprintf(stderr, "assay get-secret: %v\n", err)
			return 1
		}
		return 0
	}
	_, _ = stdout.Write(secret)
	return 0
}
