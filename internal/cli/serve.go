package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/broker"
	"github.com/assay-dev/assay/collateral/kds"
	"github.com/assay-dev/assay/collateral/pcs"
	"github.com/assay-dev/assay/server"
	"github.com/assay-dev/assay/store"
	"github.com/assay-dev/assay/verifier"
)

// serveConfig is the service configuration: defaults, then a JSON file
// (--config), then ASSAY_* environment variables, then flags.
type serveConfig struct {
	Listen         string        `json:"listen"`
	Data           string        `json:"data"`
	Database       string        `json:"database"`
	KEKFile        string        `json:"kek_file"`
	AdminTokenFile string        `json:"admin_token_file"`
	Issuer         string        `json:"issuer"`
	TLSCert        string        `json:"tls_cert"`
	TLSKey         string        `json:"tls_key"`
	ACMEDomain     string        `json:"acme_domain"`
	AdminClientCA  string        `json:"admin_client_ca"`
	ChallengeTTL   time.Duration `json:"challenge_ttl"`
	TokenTTL       time.Duration `json:"token_ttl"`
	Offline        bool          `json:"offline"`
	CacheDir       string        `json:"cache_dir"`
	KDSURL         string        `json:"kds_url"`
	PCSURL         string        `json:"pcs_url"`
	Roots          string        `json:"roots"`
	LogLevel       string        `json:"log_level"`
	LogFormat      string        `json:"log_format"`
	ShutdownGrace  time.Duration `json:"shutdown_grace"`
	// HistoryRetention is how long the appraisal history is kept.
	HistoryRetention time.Duration `json:"history_retention"`
	// CollateralRefreshInterval is the time between passes of the
	// collateral refresher (0: none); CollateralRefreshWindow is how long
	// before its nextUpdate or notAfter a document is fetched again.
	CollateralRefreshInterval time.Duration `json:"collateral_refresh_interval"`
	CollateralRefreshWindow   time.Duration `json:"collateral_refresh_window"`
	// Fresh is the limit on stale collateral; its flags
	// (--collateral-max-staleness, --collateral-stale) are set from a
	// config file by their names like the others.
	Fresh freshnessFlags `json:"-"`
}

func defaultServeConfig() serveConfig {
	return serveConfig{Listen: "127.0.0.1:8080", ChallengeTTL: 5 * time.Minute, TokenTTL: 5 * time.Minute,
		LogLevel: "info", LogFormat: "text", ShutdownGrace: 30 * time.Second, HistoryRetention: 30 * 24 * time.Hour, KDSURL: kds.DefaultBaseURL,
		PCSURL: pcs.DefaultBaseURL, CollateralRefreshInterval: time.Hour, CollateralRefreshWindow: 72 * time.Hour}
}

// env maps ASSAY_* variables to flags; "assay serve -h" lists them.
var serveEnv = [][2]string{
	{"ASSAY_LISTEN", "listen"}, {"ASSAY_DATA", "data"}, {"ASSAY_DATABASE", "database"},
	{"ASSAY_KEK_FILE", "kek-file"}, {"ASSAY_ADMIN_TOKEN_FILE", "admin-token-file"}, {"ASSAY_ISSUER", "issuer"},
	{"ASSAY_TLS_CERT", "tls-cert"}, {"ASSAY_TLS_KEY", "tls-key"}, {"ASSAY_ACME_DOMAIN", "acme-domain"},
	{"ASSAY_LOG_LEVEL", "log-level"},
}

const serveUsage = `usage: assay serve [flags]

Runs the attestation service: the KBS protocol (/kbs/v0/...), Assay's
challenge API (/v1/...), the admin API (/v1/admin/...), /healthz, /readyz,
/metrics and /.well-known/jwks.json. With no flags it keeps its state in
./assay-data (SQLite), generates a key-encryption key and a token signing
key there, and prints an admin token once. docs/service.md has the whole story.

Precedence: flags, then environment, then --config FILE (JSON, same names
with underscores), then defaults.

environment:
  ASSAY_LISTEN, ASSAY_DATA, ASSAY_DATABASE, ASSAY_KEK_FILE, ASSAY_KEK (keyring
  text itself), ASSAY_ADMIN_TOKEN_FILE, ASSAY_ADMIN_TOKEN, ASSAY_ISSUER,
  ASSAY_TLS_CERT, ASSAY_TLS_KEY, ASSAY_ACME_DOMAIN, ASSAY_LOG_LEVEL

flags:
`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var pf policyFlags
	pf.register(fs)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, serveUsage)
		fs.PrintDefaults()
	}
	c := defaultServeConfig()
	configFile := fs.String("config", "", "JSON configuration file")
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to listen on (host:port)")
	fs.StringVar(&c.Data, "data", "", "data directory for the embedded database and generated keys (default ./assay-data)")
	fs.StringVar(&c.Database, "database", "", "database: a postgres:// URL for replicated deployments (default: SQLite in --data)")
	fs.StringVar(&c.KEKFile, "kek-file", "", "key-encryption keyring file (docs/key-broker.md); default: generated in --data (SQLite only)")
	fs.StringVar(&c.AdminTokenFile, "admin-token-file", "", "file holding the admin bearer token (default: generate one and print it once)")
	fs.StringVar(&c.Issuer, "issuer", "", "token issuer, the service's external URL (default http(s)://LISTEN)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate chain (PEM); with --tls-key serves HTTPS")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS private key (PEM)")
	fs.StringVar(&c.ACMEDomain, "acme-domain", "", "obtain the TLS certificate for this domain by ACME (Let's Encrypt); cached in --data")
	fs.StringVar(&c.AdminClientCA, "admin-client-ca", "", "PEM CA certificates whose client certificates authenticate admins over mutual TLS (needs TLS)")
	fs.DurationVar(&c.ChallengeTTL, "challenge-ttl", c.ChallengeTTL, "how long a challenge nonce stays usable")
	fs.DurationVar(&c.TokenTTL, "token-ttl", c.TokenTTL, "lifetime of attestation tokens and attested sessions")
	fs.BoolVar(&c.Offline, "offline", false, "never fetch collateral; evidence must carry it or it must be cached")
	fs.StringVar(&c.CacheDir, "cache-dir", "", "collateral cache directory (default: in --data)")
	fs.StringVar(&c.KDSURL, "kds-url", c.KDSURL, "AMD KDS base URL")
	fs.StringVar(&c.PCSURL, "pcs-url", c.PCSURL, "Intel PCS (or PCCS) base URL")
	fs.StringVar(&c.Roots, "roots", "", "PEM file of trust anchors replacing the built-in ones (private PKI, tests)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", c.ShutdownGrace, "how long shutdown waits for in-flight requests")
	fs.DurationVar(&c.HistoryRetention, "history-retention", c.HistoryRetention, "how long the appraisal history (replayed by assay policy test --against-history) keeps a record")
	fs.DurationVar(&c.CollateralRefreshInterval, "collateral-refresh-interval", c.CollateralRefreshInterval, "time between passes of the collateral refresher, which fetches again cached documents about to expire (0: no refresher)")
	fs.DurationVar(&c.CollateralRefreshWindow, "collateral-refresh-window", c.CollateralRefreshWindow, "how long before its nextUpdate (or notAfter) the refresher fetches a cached document again")
	c.Fresh.register(fs)
	// Pass 1 only to find --config; pass 2 applies file, env, then flags.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "assay serve: unexpected arguments %q\n", fs.Args())
		return ExitUsage
	}
	if err := c.layer(fs, *configFile); err != nil {
		fmt.Fprintf(stderr, "assay serve: %v\n", err)
		return ExitUsage
	}
	if err := c.validate(); err != nil {
		fmt.Fprintf(stderr, "assay serve: %v\n", err)
		return ExitUsage
	}
	logger, err := newLogger(stderr, c.LogLevel, c.LogFormat)
	if err != nil {
		fmt.Fprintf(stderr, "assay serve: %v\n", err)
		return ExitUsage
	}
	if err := serve(ctx, c, pf, logger, stderr); err != nil {
		logger.Error("serve", "err", err)
		return 1
	}
	return 0
}

// layer applies the config file and the environment under the flags that
// were set explicitly.
func (c *serveConfig) layer(fs *flag.FlagSet, file string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	explicit := map[string]string{}
	for name := range set {
		explicit[name] = fs.Lookup(name).Value.String()
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("--config: %w", err)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return fmt.Errorf("--config %s: %w", file, err)
		}
		for k, v := range raw {
			name := strings.ReplaceAll(k, "_", "-")
			f := fs.Lookup(name)
			if f == nil || name == "config" {
				return fmt.Errorf("--config %s: unknown setting %q", file, k)
			}
			var sv any
			if err := json.Unmarshal(v, &sv); err != nil {
				return fmt.Errorf("--config %s: %s: %w", file, k, err)
			}
			if err := f.Value.Set(fmt.Sprint(sv)); err != nil {
				return fmt.Errorf("--config %s: %s: %w", file, k, err)
			}
		}
	}
	for _, e := range serveEnv {
		if v, ok := os.LookupEnv(e[0]); ok && v != "" {
			if err := fs.Lookup(e[1]).Value.Set(v); err != nil {
				return fmt.Errorf("%s: %w", e[0], err)
			}
		}
	}
	for name, v := range explicit {
		if err := fs.Lookup(name).Value.Set(v); err != nil {
			return fmt.Errorf("--%s: %w", name, err)
		}
	}
	return nil
}

func (c *serveConfig) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q is not host:port", c.Listen))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.AdminClientCA != "" && c.TLSCert == "" && c.ACMEDomain == "" {
		errs = append(errs, errors.New("--admin-client-ca needs TLS (--tls-cert or --acme-domain)"))
	}
	if c.ACMEDomain != "" && c.TLSCert != "" {
		errs = append(errs, errors.New("--acme-domain and --tls-cert are alternatives"))
	}
	if c.ChallengeTTL <= 0 || c.TokenTTL <= 0 {
		errs = append(errs, errors.New("--challenge-ttl and --token-ttl must be positive"))
	}
	if c.HistoryRetention <= 0 {
		errs = append(errs, errors.New("--history-retention must be positive"))
	}
	isPG := strings.HasPrefix(c.Database, "postgres://") || strings.HasPrefix(c.Database, "postgresql://")
	if isPG && c.KEKFile == "" && os.Getenv("ASSAY_KEK") == "" {
		errs = append(errs, errors.New("with PostgreSQL every replica needs the same key-encryption keyring: set --kek-file or ASSAY_KEK"))
	}
	return errors.Join(errs...)
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	o := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// loadKeyring reads the KEK keyring from ASSAY_KEK, --kek-file, or the
// data directory (generating it there on first start).
func loadKeyring(c serveConfig, logger *slog.Logger) (*broker.Keyring, error) {
	if v := os.Getenv("ASSAY_KEK"); v != "" {
		return broker.ParseKeyring([]byte(v))
	}
	path := c.KEKFile
	if path == "" {
		path = filepath.Join(c.Data, "kek")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			b, err := broker.GenerateKeyringFile()
			if err != nil {
				return nil, err
			}
			if err := writePrivate(path, b); err != nil {
				return nil, fmt.Errorf("write generated keyring: %w", err)
			}
			logger.Warn("generated a key-encryption key in the data directory; back it up apart from the database, or secrets are lost with it", "path", path)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		logger.Warn("the keyring file is readable by group or others", "path", path, "mode", fi.Mode().Perm().String())
	}
	return broker.ParseKeyring(b)
}

func serve(ctx context.Context, c serveConfig, pf policyFlags, logger *slog.Logger, stderr io.Writer) error {
	if c.Data == "" {
		c.Data = "assay-data"
	}
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	kr, err := loadKeyring(c, logger)
	if err != nil {
		return err
	}
	db := c.Database
	if db == "" {
		db = filepath.Join(c.Data, "assay.db")
	}
	st, err := store.Open(ctx, db)
	if err != nil {
		return err
	}
	defer st.Close()

	supplied := os.Getenv("ASSAY_ADMIN_TOKEN")
	if c.AdminTokenFile != "" {
		b, err := os.ReadFile(c.AdminTokenFile)
		if err != nil {
			return fmt.Errorf("--admin-token-file: %w", err)
		}
		supplied = string(b)
	}
	generated, err := server.BootstrapAdmin(ctx, st, supplied)
	if err != nil {
		return err
	}
	if generated != "" {
		fmt.Fprintf(stderr, "\nadmin token (shown once; keep it): %s\n\n", generated)
	}

	vf := verifyFlags{offline: c.Offline, cacheDir: c.CacheDir, kdsURL: c.KDSURL, pcsURL: c.PCSURL, timeout: 20 * time.Second, output: "json", roots: c.Roots}
	if vf.cacheDir == "" {
		vf.cacheDir = filepath.Join(c.Data, "collateral")
	}
	vf.live = true
	// The clients are built before the server whose metrics count their
	// fetches; they reach it through srvRef once it exists.
	var srvRef atomic.Pointer[server.Server]
	vf.observe = func(host string, status int, err error, d time.Duration) {
		if s := srvRef.Load(); s != nil {
			s.ObserveFetch(host, status, err, d)
		}
	}
	// Stale collateral within the limit is served at once and refreshed
	// in the background, which ends at shutdown.
	collateralBG, stopCollateral := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCollateral()
	refreshes := newRefreshMetrics()
	vf.fresh, vf.background = c.Fresh, collateralBG
	vf.refreshed = func(what string, err error) {
		refreshes.observe("stale", err)
		if err != nil {
			logger.Warn("background refresh of stale collateral failed; the cached copy stays", "what", what, "err", err)
		} else {
			logger.Info("refreshed stale collateral in the background", "what", what)
		}
	}
	vp, vcfg, err := vf.config(stderr)
	if err != nil {
		return err
	}
	fresh, _ := c.Fresh.policy()
	vcfg.AttesterBundles = true
	roots := vp.Roots
	scheme := "http"
	if c.TLSCert != "" || c.ACMEDomain != "" {
		scheme = "https"
	}
	issuer := c.Issuer
	if issuer == "" {
		issuer = scheme + "://" + c.Listen
		if c.ACMEDomain != "" {
			issuer = "https://" + c.ACMEDomain
		}
	}
	scfg := server.Config{
		Issuer: issuer, ChallengeTTL: c.ChallengeTTL, TokenTTL: c.TokenTTL,
		Verifiers: verifier.Verifiers(vcfg), Roots: roots, Logger: logger, Build: Version,
		Secure: scheme == "https", AdminMTLS: c.AdminClientCA != "", HistoryRetention: c.HistoryRetention,
	}
	if pf.active() {
		ap, err := pf.load(ctx, time.Now)
		if err != nil {
			return err
		}
		scfg.Policy, scfg.RefValues, scfg.PolicyOptions = ap.engine, ap.refs, ap.opts
		scfg.PolicyModules = ap.modules
		logger.Info("appraisal policy", "policies", ap.engine.Policies(), "reference_values", len(ap.refs))
	}
	srv, err := server.New(ctx, scfg, st, kr)
	if err != nil {
		return err
	}
	srvRef.Store(srv)
	if err := srv.RegisterMetrics(refreshes.total); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	if fresh != nil {
		// Every appraisal runs under the operator's limit on stale
		// collateral (the collateral.freshness check).
		hs.BaseContext = func(net.Listener) context.Context { return attest.WithFreshness(context.Background(), *fresh) }
	}
	if c.ACMEDomain != "" {
		m := &autocert.Manager{Prompt: autocert.AcceptTOS, HostPolicy: autocert.HostWhitelist(c.ACMEDomain),
			Cache: autocert.DirCache(filepath.Join(c.Data, "acme"))}
		hs.TLSConfig = m.TLSConfig()
	} else if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("TLS: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if c.AdminClientCA != "" {
		pemCAs, err := os.ReadFile(c.AdminClientCA)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--admin-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemCAs) {
			ln.Close()
			return fmt.Errorf("--admin-client-ca %s holds no PEM certificate", c.AdminClientCA)
		}
		// Attesters have no client certificate; admins may present one.
		hs.TLSConfig.ClientAuth = tls.VerifyClientCertIfGiven
		hs.TLSConfig.ClientCAs = pool
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	go srv.SweepSessions(bg, time.Minute)
	go srv.WatchKeys(bg, 30*time.Second)
	if r := collateralRefresher(c, vf.cacheDir, vcfg, logger, refreshes); r != nil {
		go r.Run(collateralBG)
		logger.Info("collateral refresher", "interval", r.Interval, "window", r.Window, "cache", r.Root)
	}

	errc := make(chan error, 1)
	go func() {
		if hs.TLSConfig != nil {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	logger.Info("serving", "addr", ln.Addr().String(), "scheme", scheme, "issuer", issuer, "database", redactDSN(db), "kek", kr.Active())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests", "grace", c.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.ShutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// redactDSN hides a password in a database URL.
func redactDSN(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if at := strings.Index(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				return s[:i+3] + rest[:colon] + ":***" + rest[at:]
			}
		}
	}
	return s
}
