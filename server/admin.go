package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/assay-dev/assay/broker"
	"github.com/assay-dev/assay/store"
)

// The admin credential is a bearer token. Only its SHA-256 is stored
// (setting adminTokenSetting); the token itself is shown once, when it is
// generated, or supplied by the operator from a file or the environment.
const adminTokenSetting = "admin.token.sha256"

// AdminTokenPrefix starts every generated admin token, so that a leaked
// one is recognisable by secret scanners.
const AdminTokenPrefix = "assay-admin-"

// BootstrapAdmin sets up the admin credential. With supplied non-empty it
// stores that token's hash (replacing any earlier one) and returns "".
// Otherwise, if no admin token exists yet, it generates one, stores its
// hash and returns the token for the caller to show once; if one exists it
// returns "".
func BootstrapAdmin(ctx context.Context, st store.Settings, supplied string) (string, error) {
	if supplied = strings.TrimSpace(supplied); supplied != "" {
		if len(supplied) < 16 {
			return "", errors.New("admin token: a supplied token must be at least 16 characters")
		}
		h := sha256.Sum256([]byte(supplied))
		return "", st.PutSetting(ctx, adminTokenSetting, h[:])
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := AdminTokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	h := sha256.Sum256([]byte(tok))
	stored, err := st.PutSettingIfAbsent(ctx, adminTokenSetting, h[:])
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if !stored {
		return "", nil
	}
	return tok, nil
}

type adminAuth struct {
	st   store.Settings
	mtls bool
}

// check returns the actor name for a valid admin credential: a client
// certificate the TLS listener verified against the admin CAs (when
// enabled), or the admin bearer token.
func (a adminAuth) check(r *http.Request) (string, error) {
	if a.mtls && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		leaf := r.TLS.VerifiedChains[0][0]
		return "mtls:" + leaf.Subject.String(), nil
	}
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		return "", errors.New("admin routes need an Authorization: Bearer <admin token> header")
	}
	want, err := a.st.GetSetting(r.Context(), adminTokenSetting)
	if err != nil {
		return "", fmt.Errorf("admin credential unavailable: %w", err)
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	if subtle.ConstantTimeCompare(got[:], want) != 1 {
		return "", errors.New("the admin token is not valid")
	}
	return "admin:" + hex.EncodeToString(want[:4]), nil
}

type actorKey struct{}

func actor(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok {
		return a
	}
	return "unknown"
}

func (s *Server) requireAdmin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, err := s.admin.check(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="assay-admin"`)
			if strings.HasPrefix(r.URL.Path, "/kbs/") {
				kbsError(w, http.StatusUnauthorized, "AdminAuth", err.Error())
			} else {
				apiError(w, http.StatusUnauthorized, "admin-auth", err.Error())
			}
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, who)))
	}
}

// resourcePath validates the three KBS path segments and joins them.
func resourcePath(r *http.Request) (string, error) {
	parts := []string{r.PathValue("repo"), r.PathValue("type"), r.PathValue("tag")}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || len(p) > 128 || strings.ContainsAny(p, "/\\\x00") {
			return "", fmt.Errorf("resource path segment %q is not allowed (1-128 characters, no slashes, not . or ..)", p)
		}
	}
	return strings.Join(parts, "/"), nil
}

// SecretAAD is the additional authenticated data a secret is sealed with:
// its path and the SHA-256 of its release policy. Moving a sealed value to
// another path, or loosening its policy in the database, makes it fail to
// open: a release never happens under a policy the admin API did not set.
func SecretAAD(path string, policy []byte) []byte {
	h := sha256.Sum256(policy)
	return append([]byte("assay-secret\x00"+path+"\x00"), h[:]...)
}

type putSecretRequest struct {
	// Value is the secret, base64 (standard alphabet).
	Value string `json:"value"`
	// ContentType describes the value; default application/octet-stream.
	ContentType string `json:"content_type,omitempty"`
	// Policy is the release policy (docs/key-broker.md); absent means any
	// attested TEE whose appraisal is affirming.
	Policy json.RawMessage `json:"policy,omitempty"`
}

type secretInfo struct {
	Path        string          `json:"path"`
	Version     int64           `json:"version"`
	ContentType string          `json:"content_type"`
	Policy      json.RawMessage `json:"policy"`
	KEK         string          `json:"kek"`
	CreatedAt   string          `json:"created_at"`
	CreatedBy   string          `json:"created_by"`
}

func toInfo(s store.Secret) secretInfo {
	return secretInfo{Path: s.Path, Version: s.Version, ContentType: s.ContentType, Policy: s.Policy,
		KEK: s.KEKID, CreatedAt: s.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), CreatedBy: s.CreatedBy}
}

func (s *Server) adminPutSecret(w http.ResponseWriter, r *http.Request) {
	path, err := resourcePath(r)
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad-path", err.Error())
		return
	}
	var req putSecretRequest
	if code, err := decodeJSON(r, &req); err != nil {
		apiError(w, code, "bad-request", err.Error())
		return
	}
	value, err := base64.StdEncoding.DecodeString(req.Value)
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad-request", "value is not standard base64: "+err.Error())
		return
	}
	sec, err := s.putSecret(r.Context(), path, value, req.ContentType, req.Policy)
	if err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusOK, toInfo(sec))
}

// putSecret seals and stores a new version of a secret and audits it.
func (s *Server) putSecret(ctx context.Context, path string, value []byte, contentType string, policy json.RawMessage) (store.Secret, error) {
	if len(policy) == 0 || string(policy) == "null" {
		policy = json.RawMessage(`{}`)
	}
	if _, err := broker.ParseReleasePolicy(policy); err != nil {
		return store.Secret{}, badRequest{fmt.Errorf("release policy: %w", err)}
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	sealed, kekID, err := s.kr.Seal(value, SecretAAD(path, policy))
	if err != nil {
		return store.Secret{}, fmt.Errorf("seal secret: %w", err)
	}
	who := actor(ctx)
	sec, err := s.st.PutSecret(ctx, store.Secret{Path: path, Sealed: sealed, KEKID: kekID, Policy: policy,
		ContentType: contentType, CreatedAt: s.now(), CreatedBy: who})
	if err != nil {
		return store.Secret{}, err
	}
	digest := sha256.Sum256(policy)
	if err := s.audit(ctx, who, "secret.put", path, "ok", map[string]any{
		"version": sec.Version, "kek": kekID, "policy_sha256": hex.EncodeToString(digest[:]), "size": len(value),
	}); err != nil {
		return store.Secret{}, err
	}
	return sec, nil
}

// badRequest marks an error the client caused.
type badRequest struct{ error }

func (b badRequest) Unwrap() error { return b.error }

func (s *Server) writeStoreError(w http.ResponseWriter, r *http.Request, err error, kbs bool) {
	code := storeStatus(err)
	var br badRequest
	if errors.As(err, &br) {
		code = http.StatusBadRequest
	}
	detail := err.Error()
	if code == http.StatusInternalServerError {
		s.cfg.Logger.Error("internal error", "id", info(r.Context()).id, "err", err)
		detail = "internal error; see the server log for request " + info(r.Context()).id
	}
	if kbs {
		kbsError(w, code, "Internal", detail)
		return
	}
	apiError(w, code, strings.ToLower(strings.ReplaceAll(http.StatusText(code), " ", "-")), detail)
}

func (s *Server) kbsRegisterResource(w http.ResponseWriter, r *http.Request) {
	path, err := resourcePath(r)
	if err != nil {
		kbsError(w, http.StatusBadRequest, "InvalidResourcePath", err.Error())
		return
	}
	value, err := io.ReadAll(r.Body)
	if err != nil {
		kbsError(w, http.StatusBadRequest, "InvalidRequest", "reading the resource: "+err.Error())
		return
	}
	if _, err := s.putSecret(r.Context(), path, value, "", nil); err != nil {
		s.writeStoreError(w, r, err, true)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) adminListSecrets(w http.ResponseWriter, r *http.Request) {
	list, err := s.st.ListSecrets(r.Context())
	if err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	out := make([]secretInfo, 0, len(list))
	for _, sec := range list {
		out = append(out, toInfo(sec))
	}
	writeJSON(w, http.StatusOK, map[string]any{"secrets": out})
}

func (s *Server) adminDeleteSecret(w http.ResponseWriter, r *http.Request) {
	path, err := resourcePath(r)
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad-path", err.Error())
		return
	}
	if err := s.st.DeleteSecret(r.Context(), path); err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	if err := s.audit(r.Context(), actor(r.Context()), "secret.delete", path, "ok", nil); err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// AuditJSON is one audit record as the admin API and "assay audit show" print it.
type AuditJSON struct {
	Seq      int64           `json:"seq"`
	Time     string          `json:"time"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Subject  string          `json:"subject"`
	Verdict  string          `json:"verdict"`
	Detail   json.RawMessage `json:"detail,omitempty"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// AuditEntry converts a stored record to its JSON form.
func AuditEntry(r store.AuditRecord) AuditJSON {
	return AuditJSON{Seq: r.Seq, Time: r.Time.UTC().Format("2006-01-02T15:04:05.000000000Z"), Actor: r.Actor,
		Action: r.Action, Subject: r.Subject, Verdict: r.Verdict, Detail: r.Detail,
		PrevHash: hex.EncodeToString(r.PrevHash), Hash: hex.EncodeToString(r.Hash)}
}

func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request) {
	after, limit := int64(0), 100
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			apiError(w, http.StatusBadRequest, "bad-request", "after must be a non-negative integer")
			return
		}
		after = n
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			apiError(w, http.StatusBadRequest, "bad-request", "limit must be 1 to 1000")
			return
		}
		limit = n
	}
	recs, err := s.st.ListAudit(r.Context(), after, limit)
	if err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	out := make([]AuditJSON, 0, len(recs))
	for _, rec := range recs {
		out = append(out, AuditEntry(rec))
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": out})
}

func (s *Server) adminRotateKey(w http.ResponseWriter, r *http.Request) {
	kid, err := s.RotateKey(r.Context())
	if err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	if err := s.audit(r.Context(), actor(r.Context()), "key.rotate", kid, "ok", nil); err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"kid": kid})
}

func (s *Server) adminReseal(w http.ResponseWriter, r *http.Request) {
	n, err := s.Reseal(r.Context())
	if err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	if err := s.audit(r.Context(), actor(r.Context()), "kek.reseal", s.kr.Active(), "ok", map[string]any{"moved": n}); err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"active_kek": s.kr.Active(), "resealed": n})
}

// audit appends one record; a failure is returned, not logged, so that no
// appraisal or release happens without its record.
func (s *Server) audit(ctx context.Context, who, action, subject, verdict string, detail map[string]any) error {
	var raw json.RawMessage
	if detail != nil {
		b, err := json.Marshal(detail)
		if err != nil {
			return fmt.Errorf("audit detail: %w", err)
		}
		raw = b
	}
	_, err := s.st.AppendAudit(ctx, store.AuditRecord{Time: s.now(), Actor: who, Action: action, Subject: subject, Verdict: verdict, Detail: raw})
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}
