package server

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/assay-dev/assay/broker"
	"github.com/assay-dev/assay/token"
)

func tokenOptions(now time.Time, ttl time.Duration, nonce string, teeKey json.RawMessage, build, policyID string) token.IssueOptions {
	return token.IssueOptions{Now: now, TTL: ttl, Nonce: nonce, TEEPubKey: teeKey, PolicyID: policyID, VerifierBuild: build}
}

func (s *Server) jwksHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, _ = w.Write(s.currentJWKS())
}

//go:embed openapi.yaml
var openapiSpec []byte

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openapiSpec)
}

// authenticateToken verifies a bearer token against this service's keys
// (re-reading them once if the token names a key this replica has not seen
// yet: another replica may have rotated).
func (s *Server) authenticateToken(r *http.Request, tok string) (string, broker.Appraisal, json.RawMessage, error) {
	opts := token.VerifyOptions{Now: s.now(), Issuer: s.cfg.Issuer}
	v, err := token.Verify(tok, s.currentJWKS(), opts)
	if errors.Is(err, token.ErrUnknownKey) {
		if rerr := s.ReloadKeys(r.Context()); rerr == nil {
			v, err = token.Verify(tok, s.currentJWKS(), opts)
		}
	}
	if err != nil {
		return "", broker.Appraisal{}, nil, fmt.Errorf("the bearer token is not valid: %w", err)
	}
	if len(v.TEEPubKey) == 0 {
		return "", broker.Appraisal{}, nil, errors.New("the bearer token binds no TEE key: attest with a tee-pubkey")
	}
	names := sortedKeys(v.Result.Submods)
	if len(names) == 0 {
		return "", broker.Appraisal{}, nil, errors.New("the bearer token has no appraisal")
	}
	sub := v.Result.Submods[names[0]]
	app := broker.Appraisal{TEE: names[0], Status: "none", Claims: map[string]any{}}
	if sub.Status != nil {
		app.Status = sub.Status.String()
	}
	if sub.VeraisonAnnotatedEvidence != nil {
		app.Claims = *sub.VeraisonAnnotatedEvidence
	}
	return "token:" + v.KID + ":" + shortHash(tok), app, v.TEEPubKey, nil
}
