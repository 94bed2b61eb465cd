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
	// and the token's appraisal policy.
	Policy        *policy.Engine
	RefValues     []policy.RefValue
	PolicyOptions policy.EvalOptions
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
	return errors.Join(errs...)
}

// Server serves the API. Build it with New; it is safe for concurrent use.
type Server struct {
	cfg     Config
	st      store.Store
	kr      *broker.Keyring
	metrics *metrics
	admin   adminAuth

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
	if err := s.loadKeys(ctx); err != nil {
		return nil, err
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

// SweepSessions deletes expired sessions every interval until ctx ends.
func (s *Server) SweepSessions(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		n, err := s.st.DeleteExpiredSessions(ctx, s.now())
		if err != nil {
			s.cfg.Logger.Warn("session sweep failed", "err", err)
			return
		}
		if n > 0 {
			s.cfg.Logger.Debug("expired sessions deleted", "count", n)
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
