// Package server is Assay's HTTP service: the Confidential Containers KBS
// protocol (RCAR 0.4.0), Assay's own challenge API, secret release, the
// admin API, the JWKS that relying parties verify tokens with, health and
// metrics. It is the only package that knows HTTP status codes.
//
// Data flows one way: a request's evidence goes through the verifiers
// (package verifier), the appraisal becomes an EAR token (package token),
// a secret's release policy reads the appraisal (package broker), and every
// appraisal and release is appended to the audit log (package store).
package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/broker"
	"github.com/assay-dev/assay/policy"
	"github.com/assay-dev/assay/store"
	"github.com/assay-dev/assay/token"
)

// Config is the service's behaviour; New fills zero values with defaults.
type Config struct {
	// Issuer is the "iss" of the tokens: the service's external URL.
	Issuer string
	// ChallengeTTL bounds the time between a challenge and its evidence.
	ChallengeTTL time.Duration
	// TokenTTL is the lifetime of a token and of an attested session.
	TokenTTL time.Duration
	// Verifiers appraise evidence (verifier.Verifiers).
	Verifiers []attest.Verifier
	// Roots, when not empty, replace the verifiers' built-in trust anchors
	// (tests, private PKI).
	Roots []*x509.Certificate
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger gets one line per request; nil discards.
	Logger *slog.Logger
	// MaxBody bounds a request body (evidence is kilobytes; an Azure or
	// TPM bundle with event logs a few hundred).
	MaxBody int64
	// Build names the binary's version in tokens and metrics.
	Build string
	// Secure marks cookies Secure (the listener serves TLS).
	Secure bool
	// Policy, when set, appraises every result against RefValues after
	// the verifiers (docs/policy.md); its decision is the "policy" check
	// and the token's appraisal policy. Once the store holds a policy or
	// a reference value, the store's current versions are used instead
	// (docs/policy.md, "Lifecycle"), compiled with the built-in policies.
	Policy    *policy.Engine
	RefValues []policy.RefValue
	// PolicyModules are the Rego sources of Policy's custom policies by
	// name. New imports them and RefValues into a store that holds no
	// policy and no reference value yet. Nil: only RefValues are
	// imported.
	PolicyModules map[string]string
	// PolicyOptions name the policy and workload. Staged reference
	// values are always evaluated in shadow, whatever IncludeStaged says.
	PolicyOptions policy.EvalOptions
	// HistoryRetention is how long the appraisal history keeps a record
	// (SweepSessions prunes older ones); zero is 30 days.
	HistoryRetention time.Duration
	// AdminMTLS accepts a TLS client certificate that the listener
	// verified (tls.Config.ClientCAs holds only the admin CAs) as an admin
	// credential, beside the bearer token.
	AdminMTLS bool
}

func (c *Config) defaults() {
	if c.ChallengeTTL == 0 {
		c.ChallengeTTL = 5 * time.Minute
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = 5 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxBody == 0 {
		c.MaxBody = 8 << 20
	}
	if c.Build == "" {
		c.Build = "dev"
	}
	if c.Issuer == "" {
		c.Issuer = "assay"
	}
	if c.HistoryRetention == 0 {
		c.HistoryRetention = 30 * 24 * time.Hour
	}
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.ChallengeTTL < 0 || c.TokenTTL < 0 {
		errs = append(errs, errors.New("challenge and token lifetimes must be positive"))
	}
	if len(c.Verifiers) == 0 {
		errs = append(errs, errors.New("no verifiers configured"))
	}
	if c.MaxBody < 0 {
		errs = append(errs, errors.New("max body must be positive"))
	}
	if c.HistoryRetention < 0 {
		errs = append(errs, errors.New("history retention must be positive"))
	}
	return errors.Join(errs...)
}

// Server serves the API. Build it with New; it is safe for concurrent use.
type Server struct {
	cfg     Config
	st      store.Store
	kr      *broker.Keyring
	metrics *metrics
	admin   adminAuth
	pol     policyCache

	mu     sync.RWMutex
	issuer *token.Issuer
	jwks   []byte
}

// New loads the signing keys from st (creating the first one if there is
// none) and returns a server. The admin credential is set up separately
// (Bootstrap) so that the caller can print a freshly generated token once.
func New(ctx context.Context, cfg Config, st store.Store, kr *broker.Keyring) (*Server, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("server config: %w", err)
	}
	if st == nil || kr == nil {
		return nil, errors.New("server: a store and a keyring are required")
	}
	s := &Server{cfg: cfg, st: st, kr: kr, metrics: newMetrics(cfg.Build)}
	s.admin = adminAuth{st: st, mtls: cfg.AdminMTLS}
	s.pol.file = newCompiledSet(0, cfg.Policy, cfg.RefValues)
	if err := s.loadKeys(ctx); err != nil {
		return nil, err
	}
	if err := s.seedPolicy(ctx); err != nil {
		return nil, fmt.Errorf("import the configured policy: %w", err)
	}
	return s, nil
}

// route is one endpoint: a ServeMux pattern and its handler.
type route struct {
	pattern string
	h       http.HandlerFunc
}

// routes lists every endpoint but /metrics; server/openapi.yaml describes
// exactly these (a test holds them to it).
func (s *Server) routes() []route {
	return []route{
		{"GET /healthz", s.healthz},
		{"GET /readyz", s.readyz},
		{"GET /.well-known/jwks.json", s.jwksHandler},
		{"GET /openapi.yaml", s.openapi},

		// Confidential Containers KBS protocol.
		{"POST /kbs/v0/auth", s.kbsAuth},
		{"POST /kbs/v0/attest", s.kbsAttest},
		{"GET /kbs/v0/resource/{repo}/{type}/{tag}", s.kbsResource},
		{"POST /kbs/v0/resource/{repo}/{type}/{tag}", s.requireAdmin(s.kbsRegisterResource)},

		// Assay's challenge API.
		{"POST /v1/challenge", s.v1Challenge},
		{"POST /v1/attest", s.v1Attest},
		{"GET /v1/resource/{repo}/{type}/{tag}", s.v1Resource},

		// Admin API.
		{"PUT /v1/admin/secrets/{repo}/{type}/{tag}", s.requireAdmin(s.adminPutSecret)},
		{"GET /v1/admin/secrets", s.requireAdmin(s.adminListSecrets)},
		{"DELETE /v1/admin/secrets/{repo}/{type}/{tag}", s.requireAdmin(s.adminDeleteSecret)},
		{"GET /v1/admin/audit", s.requireAdmin(s.adminAudit)},
		{"POST /v1/admin/keys/rotate", s.requireAdmin(s.adminRotateKey)},
		{"POST /v1/admin/kek/reseal", s.requireAdmin(s.adminReseal)},

		// Policy lifecycle (docs/policy.md, "Lifecycle").
		{"GET /v1/admin/policies", s.requireAdmin(s.adminListPolicies)},
		{"PUT /v1/admin/policies/{name}", s.requireAdmin(s.adminPutPolicy)},
		{"GET /v1/admin/policies/{name}/versions", s.requireAdmin(s.adminPolicyVersions)},
		{"POST /v1/admin/policies/{name}/retire", s.requireAdmin(s.adminRetirePolicy)},
		{"GET /v1/admin/refvalues", s.requireAdmin(s.adminListRefValues)},
		{"PUT /v1/admin/refvalues/{id}", s.requireAdmin(s.adminPutRefValue)},
		{"GET /v1/admin/refvalues/{id}/versions", s.requireAdmin(s.adminRefValueVersions)},
		{"POST /v1/admin/refvalues/{id}/promote", s.requireAdmin(s.adminRefValueState(policy.StateActive))},
		{"POST /v1/admin/refvalues/{id}/deprecate", s.requireAdmin(s.adminRefValueState(policy.StateDeprecated))},
		{"POST /v1/admin/refvalues/{id}/revoke", s.requireAdmin(s.adminRefValueState(policy.StateRevoked))},
		{"GET /v1/admin/refvalues/{id}/affected", s.requireAdmin(s.adminRefValueAffected)},
		{"GET /v1/admin/shadow-differences", s.requireAdmin(s.adminShadowDiffs)},
	}
}

// Handler returns the HTTP handler of every route.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range s.routes() {
		mux.Handle(r.pattern, s.instrument(r.pattern, r.h))
	}
	mux.Handle("GET /metrics", s.metrics.handler())
	return mux
}

func (s *Server) now() time.Time { return s.cfg.Now().UTC() }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		s.cfg.Logger.Warn("not ready", "err", err)
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	if s.currentIssuer() == nil {
		http.Error(w, "no signing key", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ready")
}

// SweepSessions deletes expired sessions, and appraisal history records
// older than Config.HistoryRetention, every interval until ctx ends.
func (s *Server) SweepSessions(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		n, err := s.st.DeleteExpiredSessions(ctx, s.now())
		if err != nil {
			s.cfg.Logger.Warn("session sweep failed", "err", err)
		} else if n > 0 {
			s.cfg.Logger.Debug("expired sessions deleted", "count", n)
		}
		n, err = s.st.PruneAppraisals(ctx, s.now().Add(-s.cfg.HistoryRetention))
		if err != nil {
			s.cfg.Logger.Warn("appraisal history prune failed", "err", err)
		} else if n > 0 {
			s.cfg.Logger.Debug("appraisal history pruned", "count", n)
		}
	})
}

// every runs fn every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
