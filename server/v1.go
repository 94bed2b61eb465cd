package server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/broker"
	"github.com/assay-dev/assay/internal/apiv1"
	"github.com/assay-dev/assay/internal/rcar"
	"github.com/assay-dev/assay/store"
	"github.com/assay-dev/assay/verifier"
)

// Assay's own challenge API (docs/service.md): the same single-use nonce
// and binding as the KBS protocol, but evidence is any set of files the
// CLI would accept (evidence plus collateral), and the answer carries the
// full appraisal, so that a rejection explains itself.

func (s *Server) v1Challenge(w http.ResponseWriter, r *http.Request) {
	var req apiv1.ChallengeRequest
	if r.ContentLength != 0 {
		if code, err := decodeJSON(r, &req); err != nil {
			apiError(w, code, "bad-request", err.Error())
			return
		}
	}
	kind := ""
	if req.TEE != "" {
		k, ok := rcar.TEEKind(req.TEE)
		if !ok {
			apiError(w, http.StatusBadRequest, "unsupported-tee", fmt.Sprintf("tee %q is not one Assay verifies", req.TEE))
			return
		}
		kind = k
	}
	alg := rcar.DefaultHash
	if req.Hash != "" {
		alg = strings.ToLower(req.Hash)
		if _, err := rcar.Digest(alg, nil); err != nil {
			apiError(w, http.StatusBadRequest, "bad-request", err.Error())
			return
		}
	}
	now := s.now()
	sess := store.Session{ID: newID(), Nonce: newNonce(), TEE: kind, ProtocolVersion: "assay/v1", HashAlg: alg,
		State: store.SessionPending, CreatedAt: now, ExpiresAt: now.Add(s.cfg.ChallengeTTL)}
	if err := s.st.CreateSession(r.Context(), sess); err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	s.metrics.sessions.Inc()
	info(r.Context()).session = sess.ID
	writeJSON(w, http.StatusOK, apiv1.ChallengeResponse{SessionID: sess.ID, Nonce: sess.Nonce, Hash: alg, ExpiresAt: sess.ExpiresAt, Binding: apiv1.BindingFormula})
}

func (s *Server) v1Attest(w http.ResponseWriter, r *http.Request) {
	var req apiv1.AttestRequest
	if code, err := decodeJSON(r, &req); err != nil {
		apiError(w, code, "bad-request", err.Error())
		return
	}
	info(r.Context()).session = req.SessionID
	if req.SessionID == "" || len(req.Evidence) == 0 {
		apiError(w, http.StatusBadRequest, "bad-request", "session_id and at least one evidence file are required")
		return
	}
	if len(req.TEEPubKey) > 0 && string(req.TEEPubKey) != "null" {
		if _, err := broker.ParseTEEKey(req.TEEPubKey); err != nil {
			apiError(w, http.StatusBadRequest, "bad-tee-pubkey", "tee_pubkey: "+err.Error())
			return
		}
	} else {
		req.TEEPubKey = nil
	}
	inputs := make([]verifier.Input, 0, len(req.Evidence))
	for i, f := range req.Evidence {
		b, err := base64.StdEncoding.DecodeString(f.Data)
		if err != nil {
			apiError(w, http.StatusBadRequest, "bad-request", fmt.Sprintf("evidence[%d] (%s): data is not standard base64", i, f.Name))
			return
		}
		name := f.Name
		if name == "" {
			name = fmt.Sprintf("evidence[%d]", i)
		}
		inputs = append(inputs, verifier.Input{Name: name, Data: b})
	}
	sess, err := s.st.ConsumeSession(r.Context(), req.SessionID, s.now())
	if err != nil {
		switch {
		case errors.Is(err, store.ErrNotFound):
			apiError(w, http.StatusUnauthorized, "unknown-session", "unknown session: POST /v1/challenge first")
		case errors.Is(err, store.ErrConflict):
			apiError(w, http.StatusUnauthorized, "challenge-used", "the challenge was already used or has expired: a nonce is good for one attestation; POST /v1/challenge again")
		default:
			s.writeStoreError(w, r, err, false)
		}
		return
	}
	fail := func(code int, kind, detail string, results []*attest.Result, status attest.Status) {
		if err := s.st.FinishSession(r.Context(), sess.ID, store.SessionFailed, "", nil, nil, sess.ExpiresAt); err != nil {
			s.cfg.Logger.Warn("finish session", "session", sess.ID, "err", err)
		}
		if results == nil {
			apiError(w, code, kind, detail)
			return
		}
		writeJSON(w, code, apiv1.AttestResponse{Status: status.String(), Error: detail, Results: results})
	}
	digest, err := rcar.DeviceDigest(sess.HashAlg, sess.Nonce, req.TEEPubKey)
	if err != nil {
		fail(http.StatusBadRequest, "bad-request", err.Error(), nil, 0)
		return
	}
	a, err := s.appraise(r.Context(), sess.ID, sess.TEE, inputs, digest)
	if err != nil {
		if errors.Is(err, errBadEvidence) {
			fail(http.StatusBadRequest, "bad-evidence", err.Error(), nil, 0)
			return
		}
		s.cfg.Logger.Error("appraisal", "id", info(r.Context()).id, "err", err)
		fail(http.StatusInternalServerError, "internal", "appraisal failed; see the server log for request "+info(r.Context()).id, nil, 0)
		return
	}
	if !a.trusted() {
		fail(http.StatusForbidden, "attestation-failed", fmt.Sprintf("evidence appraised %s: %s", a.status, a.detail), a.results, a.status)
		return
	}
	tok, expires, err := s.finishAttested(r, sess, a, req.TEEPubKey)
	if err != nil {
		s.cfg.Logger.Error("token", "id", info(r.Context()).id, "err", err)
		fail(http.StatusInternalServerError, "internal", "issuing the token failed; see the server log for request "+info(r.Context()).id, nil, 0)
		return
	}
	writeJSON(w, http.StatusOK, apiv1.AttestResponse{Status: a.status.String(), Token: tok, ExpiresAt: &expires, Results: a.results})
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:6])
}
