package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/assay-dev/assay/broker"
	"github.com/assay-dev/assay/internal/rcar"
	"github.com/assay-dev/assay/store"
	"github.com/assay-dev/assay/verifier"
)

// The Confidential Containers KBS protocol, version 0.4.0 (docs/kbs.md):
//
//	POST /kbs/v0/auth      Request  -> Challenge, Set-Cookie kbs-session-id
//	POST /kbs/v0/attest    Attestation (cookie) -> {"token": EAR}
//	GET  /kbs/v0/resource/<repository>/<type>/<tag> (cookie or Bearer token) -> JWE
//
// Errors are RFC 7807 bodies with the KBS error types; 401 when the
// attester is not authenticated, 403 when a release policy denies, 404
// when the resource does not exist.

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newNonce() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func (s *Server) setSessionCookie(w http.ResponseWriter, id string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: rcar.SessionCookie, Value: id, Path: "/kbs", Expires: expires,
		HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteStrictMode,
	})
}

// supportedVersion accepts protocol 0.4.x.
func supportedVersion(v string) bool {
	parts := strings.SplitN(v, ".", 3)
	return len(parts) == 3 && parts[0] == "0" && parts[1] == "4" && parts[2] != "" && strings.Trim(parts[2], "0123456789") == ""
}

func (s *Server) kbsAuth(w http.ResponseWriter, r *http.Request) {
	var req rcar.Request
	if code, err := decodeJSON(r, &req); err != nil {
		kbsError(w, code, "InvalidRequest", err.Error())
		return
	}
	if !supportedVersion(req.Version) {
		kbsError(w, http.StatusBadRequest, "ProtocolVersion",
			fmt.Sprintf("KBS protocol version %q is not supported; this server speaks %s", req.Version, rcar.ProtocolVersion))
		return
	}
	kind, ok := rcar.TEEKind(req.TEE)
	if !ok {
		kbsError(w, http.StatusBadRequest, "UnsupportedTee",
			fmt.Sprintf("tee %q is not one Assay verifies (snp, tdx, sgx, azsnpvtpm, aztdxvtpm, cca, tpm, nitro)", req.TEE))
		return
	}
	alg, err := rcar.SelectHash(req.ExtraParams)
	if err != nil {
		kbsError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	now := s.now()
	sess := store.Session{ID: newID(), Nonce: newNonce(), TEE: kind, ProtocolVersion: req.Version, HashAlg: alg,
		State: store.SessionPending, CreatedAt: now, ExpiresAt: now.Add(s.cfg.ChallengeTTL)}
	if err := s.st.CreateSession(r.Context(), sess); err != nil {
		s.writeStoreError(w, r, err, true)
		return
	}
	s.metrics.sessions.Inc()
	info(r.Context()).session = sess.ID
	info(r.Context()).tee = kind
	s.setSessionCookie(w, sess.ID, sess.ExpiresAt)
	writeJSON(w, http.StatusOK, rcar.Challenge{Nonce: sess.Nonce, ExtraParams: map[string]any{rcar.SelectedHashAlgorithm: alg}})
}

func (s *Server) kbsAttest(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(rcar.SessionCookie)
	if err != nil || c.Value == "" {
		kbsError(w, http.StatusUnauthorized, "MissingCookie", "no kbs-session-id cookie: POST /kbs/v0/auth first")
		return
	}
	info(r.Context()).session = c.Value
	var att rcar.Attestation
	if code, err := decodeJSON(r, &att); err != nil {
		kbsError(w, code, "InvalidRequest", err.Error())
		return
	}
	if _, err := broker.ParseTEEKey(att.RuntimeData.TEEPubKey); err != nil {
		kbsError(w, http.StatusBadRequest, "InvalidTeePubKey", "runtime-data.tee-pubkey: "+err.Error())
		return
	}
	sess, err := s.st.ConsumeSession(r.Context(), c.Value, s.now())
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			// Trustee answers a repeated attest on an attested session with
			// the token it issued; anything else is a reused or expired
			// challenge.
			if old, gerr := s.st.GetSession(r.Context(), c.Value); gerr == nil && old.State == store.SessionAttested && old.ExpiresAt.After(s.now()) {
				s.setSessionCookie(w, old.ID, old.ExpiresAt)
				writeJSON(w, http.StatusOK, rcar.AttestResponse{Token: old.Token})
				return
			}
			kbsError(w, http.StatusUnauthorized, "ExpiredCookie", "the challenge of this session was already used or has expired: POST /kbs/v0/auth again")
			return
		}
		if errors.Is(err, store.ErrNotFound) {
			kbsError(w, http.StatusUnauthorized, "InvalidCookie", "unknown session: POST /kbs/v0/auth first")
			return
		}
		s.writeStoreError(w, r, err, true)
		return
	}
	info(r.Context()).tee = sess.TEE
	fail := func(code int, kind, detail string) {
		if err := s.st.FinishSession(r.Context(), sess.ID, store.SessionFailed, "", nil, nil, sess.ExpiresAt); err != nil {
			s.cfg.Logger.Warn("finish session", "session", sess.ID, "err", err)
		}
		kbsError(w, code, kind, detail)
	}
	if att.RuntimeData.Nonce != sess.Nonce {
		fail(http.StatusUnauthorized, "AttestationFailed", "runtime-data.nonce is not the nonce of this session's challenge")
		return
	}
	digest, err := rcar.PrimaryDigest(sess.HashAlg, sess.Nonce, att.RuntimeData.TEEPubKey, att.TEEEvidence.AdditionalEvidence)
	if err != nil {
		fail(http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	if att.TEEEvidence.AdditionalEvidence != "" {
		fail(http.StatusBadRequest, "InvalidEvidence", "additional device evidence is not supported by this server; send primary evidence only")
		return
	}
	in, err := evidenceInput("primary_evidence", att.TEEEvidence.PrimaryEvidence)
	if err != nil {
		fail(http.StatusBadRequest, "InvalidEvidence", err.Error())
		return
	}
	a, err := s.appraise(r.Context(), sess.ID, sess.TEE, []verifier.Input{in}, digest)
	if err != nil {
		if errors.Is(err, errBadEvidence) {
			fail(http.StatusBadRequest, "InvalidEvidence", err.Error())
			return
		}
		fail(http.StatusInternalServerError, "Internal", "appraisal failed; see the server log for request "+info(r.Context()).id)
		s.cfg.Logger.Error("appraisal", "id", info(r.Context()).id, "err", err)
		return
	}
	if !a.trusted() {
		fail(http.StatusUnauthorized, "AttestationFailed", fmt.Sprintf("evidence appraised %s: %s", a.status, a.detail))
		return
	}
	tok, expires, err := s.finishAttested(r, sess, a, att.RuntimeData.TEEPubKey)
	if err != nil {
		fail(http.StatusInternalServerError, "Internal", "issuing the token failed; see the server log for request "+info(r.Context()).id)
		s.cfg.Logger.Error("token", "id", info(r.Context()).id, "err", err)
		return
	}
	s.setSessionCookie(w, sess.ID, expires)
	writeJSON(w, http.StatusOK, rcar.AttestResponse{Token: tok})
}

// finishAttested issues the token and records the attested session.
func (s *Server) finishAttested(r *http.Request, sess store.Session, a appraisal, teeKey json.RawMessage) (string, time.Time, error) {
	iss := s.currentIssuer()
	now := s.now()
	tok, err := iss.Issue(a.results, tokenOptions(now, s.cfg.TokenTTL, sess.Nonce, teeKey, s.cfg.Build, a.policy))
	if err != nil {
		return "", time.Time{}, err
	}
	sum, err := summarize(a.results)
	if err != nil {
		return "", time.Time{}, err
	}
	raw, err := json.Marshal(sum)
	if err != nil {
		return "", time.Time{}, err
	}
	expires := now.Add(s.cfg.TokenTTL)
	if err := s.st.FinishSession(r.Context(), sess.ID, store.SessionAttested, tok, teeKey, raw, expires); err != nil {
		return "", time.Time{}, err
	}
	return tok, expires, nil
}

// kbsResource releases a secret to an attested KBS session (cookie) or
// to the holder of a token this service issued (Authorization: Bearer).
func (s *Server) kbsResource(w http.ResponseWriter, r *http.Request) {
	s.resource(w, r, true)
}

func (s *Server) v1Resource(w http.ResponseWriter, r *http.Request) {
	s.resource(w, r, false)
}

func (s *Server) resource(w http.ResponseWriter, r *http.Request, kbs bool) {
	werr := func(code int, kind, detail string) {
		if kbs {
			kbsError(w, code, kind, detail)
		} else {
			apiError(w, code, strings.ToLower(kind), detail)
		}
	}
	path, err := resourcePath(r)
	if err != nil {
		werr(http.StatusBadRequest, "InvalidResourcePath", err.Error())
		return
	}
	who, app, teeKey, err := s.authenticate(r, kbs)
	if err != nil {
		s.metrics.releases.WithLabelValues("unauthenticated").Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="assay"`)
		werr(http.StatusUnauthorized, "Unauthorized", err.Error())
		return
	}
	info(r.Context()).tee = app.TEE
	sec, err := s.st.GetSecret(r.Context(), path)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.metrics.releases.WithLabelValues("not_found").Inc()
			werr(http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("no resource at %s", path))
			return
		}
		s.writeStoreError(w, r, err, kbs)
		return
	}
	pol, err := broker.ParseReleasePolicy(sec.Policy)
	if err != nil {
		s.writeStoreError(w, r, fmt.Errorf("stored release policy of %s: %w", path, err), kbs)
		return
	}
	dec := pol.Evaluate(app)
	if !dec.Allow {
		s.metrics.releases.WithLabelValues("denied").Inc()
		info(r.Context()).failed = "release_policy"
		if err := s.audit(r.Context(), who, "release.denied", path, "denied", map[string]any{"version": sec.Version, "reasons": dec.Reasons}); err != nil {
			s.writeStoreError(w, r, err, kbs)
			return
		}
		werr(http.StatusForbidden, "PolicyDeny", fmt.Sprintf("the release policy of %s denies this attester: %s", path, strings.Join(dec.Reasons, "; ")))
		return
	}
	key, err := broker.ParseTEEKey(teeKey)
	if err != nil {
		werr(http.StatusUnauthorized, "InvalidTeePubKey", "the attested TEE key is unusable: "+err.Error())
		return
	}
	plain, err := s.kr.Open(sec.Sealed, sec.KEKID, SecretAAD(path, sec.Policy))
	if err != nil {
		s.writeStoreError(w, r, fmt.Errorf("unseal %s version %d: %w", path, sec.Version, err), kbs)
		return
	}
	jwe, err := broker.Wrap(plain, key)
	clear(plain)
	if err != nil {
		s.writeStoreError(w, r, fmt.Errorf("wrap %s: %w", path, err), kbs)
		return
	}
	if err := s.audit(r.Context(), who, "release", path, "released", map[string]any{"version": sec.Version, "tee": app.TEE, "status": app.Status}); err != nil {
		s.writeStoreError(w, r, err, kbs)
		return
	}
	s.metrics.releases.WithLabelValues("released").Inc()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(jwe)
}

// authenticate finds who is asking: an attested KBS session (cookie) or a
// token this service signed (Bearer). It returns the actor, the appraisal
// a release policy judges, and the TEE key the secret is wrapped to.
func (s *Server) authenticate(r *http.Request, allowCookie bool) (string, broker.Appraisal, json.RawMessage, error) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && tok != "" {
		return s.authenticateToken(r, strings.TrimSpace(tok))
	}
	if !allowCookie {
		return "", broker.Appraisal{}, nil, errors.New("no Authorization: Bearer <attestation token> header: attest first (POST /v1/attest)")
	}
	c, err := r.Cookie(rcar.SessionCookie)
	if err != nil || c.Value == "" {
		return "", broker.Appraisal{}, nil, errors.New("not attested: no kbs-session-id cookie and no bearer token; POST /kbs/v0/auth and /kbs/v0/attest first")
	}
	info(r.Context()).session = c.Value
	sess, err := s.st.GetSession(r.Context(), c.Value)
	if err != nil {
		return "", broker.Appraisal{}, nil, errors.New("unknown or expired session: attest again")
	}
	if sess.State != store.SessionAttested {
		return "", broker.Appraisal{}, nil, fmt.Errorf("the session is %s, not attested", sess.State)
	}
	if !sess.ExpiresAt.After(s.now()) {
		return "", broker.Appraisal{}, nil, errors.New("the attested session has expired: attest again")
	}
	app, err := primaryAppraisal(sess.Result)
	if err != nil {
		return "", broker.Appraisal{}, nil, err
	}
	return "attester:" + sess.ID, app, sess.TEEPubKey, nil
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func decodeBase64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}
