package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/assay-dev/assay/policy"
	"github.com/assay-dev/assay/store"
)

// Admin routes of the policy lifecycle. Every change is a new version in
// the store, carries its author (the admin credential) and a reason, and
// is audited; it takes effect on the next appraisal of every replica.

// policyInfo is a policy version as the admin API shows it.
type policyInfo struct {
	Name      string `json:"name"`
	Version   int64  `json:"version"`
	State     string `json:"state"`
	Source    string `json:"source,omitempty"`
	Author    string `json:"author"`
	Reason    string `json:"reason"`
	CreatedAt string `json:"created_at"`
}

func toPolicyInfo(p store.PolicyVersion) policyInfo {
	return policyInfo{Name: p.Name, Version: p.Version, State: string(p.State), Source: p.Source,
		Author: p.Author, Reason: p.Reason, CreatedAt: p.CreatedAt.UTC().Format(time.RFC3339Nano)}
}

// refValueInfo is a reference value version as the admin API shows it.
type refValueInfo struct {
	ID             string          `json:"id"`
	Version        int64           `json:"version"`
	State          string          `json:"state"`
	ReferenceValue json.RawMessage `json:"reference_value"`
	Author         string          `json:"author"`
	Reason         string          `json:"reason"`
	CreatedAt      string          `json:"created_at"`
}

func toRefValueInfo(r store.RefValueVersion) refValueInfo {
	return refValueInfo{ID: r.ID, Version: r.Version, State: r.State, ReferenceValue: r.Record,
		Author: r.Author, Reason: r.Reason, CreatedAt: r.CreatedAt.UTC().Format(time.RFC3339Nano)}
}

// change is what every lifecycle write carries besides its content.
type change struct {
	// Reason says why; required.
	Reason string `json:"reason"`
	// ExpectedVersion, when given, is the version the change was made
	// against: another change in between makes it a 409 conflict.
	ExpectedVersion *int64 `json:"expected_version,omitempty"`
}

func (c change) check() error {
	if strings.TrimSpace(c.Reason) == "" {
		return errors.New("a reason is required: every change to a policy or reference value records why")
	}
	return nil
}

func (c change) expect() int64 {
	if c.ExpectedVersion == nil {
		return store.AnyVersion
	}
	return *c.ExpectedVersion
}

// pathName checks a policy name or reference value ID from the path.
func pathName(r *http.Request, key string) (string, error) {
	v := r.PathValue(key)
	if v == "" || len(v) > 128 || strings.ContainsAny(v, "/\\\x00") {
		return "", fmt.Errorf("%s %q is not allowed (1-128 characters, no slashes)", key, v)
	}
	return v, nil
}

// readChange reads the path's name (key) and a change request body into
// req, answering 400 itself when either is bad.
func readChange(w http.ResponseWriter, r *http.Request, key string, req interface{ check() error }) (string, bool) {
	name, err := pathName(r, key)
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad-path", err.Error())
		return "", false
	}
	if code, err := decodeJSON(r, req); err != nil {
		apiError(w, code, "bad-request", err.Error())
		return "", false
	}
	if err := req.check(); err != nil {
		apiError(w, http.StatusBadRequest, "bad-request", err.Error())
		return "", false
	}
	return name, true
}

// listCurrent answers the store's policy generation and, under key, what
// list returns.
func (s *Server) listCurrent(w http.ResponseWriter, r *http.Request, key string, list func(context.Context) (any, error)) {
	g, err := s.st.PolicyGeneration(r.Context())
	if err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	out, err := list(r.Context())
	if err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"generation": g, key: out})
}

// listVersions answers the versions history returns for the path's name
// (key).
func listVersions[T any, I any](s *Server, w http.ResponseWriter, r *http.Request, key string, history func(context.Context, string) ([]T, error), conv func(T) I) {
	name, err := pathName(r, key)
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad-path", err.Error())
		return
	}
	h, err := history(r.Context(), name)
	if err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	out := make([]I, 0, len(h))
	for _, v := range h {
		out = append(out, conv(v))
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": out})
}

func (s *Server) adminListPolicies(w http.ResponseWriter, r *http.Request) {
	s.listCurrent(w, r, "policies", func(ctx context.Context) (any, error) {
		ps, err := s.st.ListPolicies(ctx)
		out := make([]policyInfo, 0, len(ps))
		for _, p := range ps {
			out = append(out, toPolicyInfo(p))
		}
		return out, err
	})
}

type putPolicyRequest struct {
	change
	// Source is the Rego module.
	Source string `json:"source"`
}

func (s *Server) adminPutPolicy(w http.ResponseWriter, r *http.Request) {
	var req putPolicyRequest
	name, ok := readChange(w, r, "name", &req)
	if !ok {
		return
	}
	if strings.TrimSpace(req.Source) == "" {
		apiError(w, http.StatusBadRequest, "bad-request", "source (the Rego module) is required")
		return
	}
	// The new version must compile beside the other active policies.
	set, err := LoadPolicySet(r.Context(), s.st)
	if err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	mods := maps.Clone(set.Modules)
	mods[name] = req.Source
	if _, err := policy.New(r.Context(), policy.Options{Policies: mods, Now: s.cfg.Now}); err != nil {
		apiError(w, http.StatusBadRequest, "policy-compile", err.Error())
		return
	}
	p, err := s.st.PutPolicy(r.Context(), store.PolicyVersion{Name: name, Source: req.Source, State: store.PolicyActive,
		Author: actor(r.Context()), Reason: req.Reason, CreatedAt: s.now()}, req.expect())
	if err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	digest := sha256.Sum256([]byte(req.Source))
	if err := s.audit(r.Context(), actor(r.Context()), "policy.put", name, "ok", map[string]any{
		"version": p.Version, "reason": req.Reason, "source_sha256": hex.EncodeToString(digest[:]),
	}); err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusOK, toPolicyInfo(p))
}

func (s *Server) adminRetirePolicy(w http.ResponseWriter, r *http.Request) {
	var req change
	name, ok := readChange(w, r, "name", &req)
	if !ok {
		return
	}
	h, err := s.st.PolicyHistory(r.Context(), name)
	if err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	cur := h[len(h)-1]
	if cur.State == store.PolicyRetired {
		apiError(w, http.StatusConflict, "conflict", fmt.Sprintf("policy %s is already retired (version %d)", name, cur.Version))
		return
	}
	expect := req.expect()
	if expect < 0 {
		expect = cur.Version
	}
	p, err := s.st.PutPolicy(r.Context(), store.PolicyVersion{Name: name, State: store.PolicyRetired,
		Author: actor(r.Context()), Reason: req.Reason, CreatedAt: s.now()}, expect)
	if err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	if err := s.audit(r.Context(), actor(r.Context()), "policy.retire", name, "ok", map[string]any{
		"version": p.Version, "reason": req.Reason,
	}); err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusOK, toPolicyInfo(p))
}

func (s *Server) adminPolicyVersions(w http.ResponseWriter, r *http.Request) {
	listVersions(s, w, r, "name", s.st.PolicyHistory, toPolicyInfo)
}

func (s *Server) adminListRefValues(w http.ResponseWriter, r *http.Request) {
	s.listCurrent(w, r, "reference_values", func(ctx context.Context) (any, error) {
		rs, err := s.st.ListRefValues(ctx)
		out := make([]refValueInfo, 0, len(rs))
		for _, rv := range rs {
			out = append(out, toRefValueInfo(rv))
		}
		return out, err
	})
}

type putRefValueRequest struct {
	change
	// ReferenceValue is one element of a reference value file; its id,
	// when given, must be the path's, and its version is assigned.
	ReferenceValue json.RawMessage `json:"reference_value"`
}

func (s *Server) adminPutRefValue(w http.ResponseWriter, r *http.Request) {
	var req putRefValueRequest
	id, ok := readChange(w, r, "id", &req)
	if !ok {
		return
	}
	if len(req.ReferenceValue) == 0 {
		apiError(w, http.StatusBadRequest, "bad-request", "reference_value is required")
		return
	}
	rv, err := parseRecord(req.ReferenceValue)
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad-reference-value", err.Error())
		return
	}
	if rv.ID != "" && rv.ID != id {
		apiError(w, http.StatusBadRequest, "bad-reference-value", fmt.Sprintf("the reference value's id is %q, the path's %q", rv.ID, id))
		return
	}
	rv.ID = id
	if rv.State == "" {
		rv.State = policy.StateStaged
	}
	v, err := s.putRefValue(r.Context(), rv, req.change, "refvalue.put")
	if err != nil {
		s.writeLifecycleError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toRefValueInfo(v))
}

// putRefValue validates rv against the other current values and stores
// it as the next version of its ID.
func (s *Server) putRefValue(ctx context.Context, rv policy.RefValue, c change, action string) (store.RefValueVersion, error) {
	set, err := LoadPolicySet(ctx, s.st)
	if err != nil {
		return store.RefValueVersion{}, err
	}
	var known []policy.RefValue
	next := int64(1)
	for _, k := range set.RefValues {
		if k.ID == rv.ID {
			next = int64(k.Version) + 1
			continue
		}
		known = append(known, k)
	}
	if e := c.expect(); e >= 0 {
		next = e + 1
	}
	rv.Version = int(next)
	if err := policy.Validate(rv, known); err != nil {
		return store.RefValueVersion{}, badRequest{err}
	}
	rec, err := recordOf(rv)
	if err != nil {
		return store.RefValueVersion{}, err
	}
	who := actor(ctx)
	v, err := s.st.PutRefValue(ctx, store.RefValueVersion{ID: rv.ID, State: string(rv.State), Record: rec,
		Author: who, Reason: c.Reason, CreatedAt: s.now()}, next-1)
	if err != nil {
		return store.RefValueVersion{}, err
	}
	if err := s.audit(ctx, who, action, rv.ID, "ok", map[string]any{
		"version": v.Version, "state": v.State, "reason": c.Reason, "tee": rv.TEE, "claim": rv.Claim, "value": rv.Value,
	}); err != nil {
		return store.RefValueVersion{}, err
	}
	return v, nil
}

// writeLifecycleError answers a failed change: a validation failure or
// bad request 400, the store's kinds as storeStatus maps them.
func (s *Server) writeLifecycleError(w http.ResponseWriter, r *http.Request, err error) {
	var br badRequest
	if errors.As(err, &br) {
		apiError(w, http.StatusBadRequest, "bad-reference-value", err.Error())
		return
	}
	s.writeStoreError(w, r, err, false)
}

// transitions lists the states each target state may be reached from.
var transitions = map[policy.State][]policy.State{
	policy.StateActive:     {policy.StateStaged},
	policy.StateDeprecated: {policy.StateStaged, policy.StateActive},
	policy.StateRevoked:    {policy.StateStaged, policy.StateActive, policy.StateDeprecated},
}

var transitionAction = map[policy.State]string{
	policy.StateActive: "refvalue.promote", policy.StateDeprecated: "refvalue.deprecate", policy.StateRevoked: "refvalue.revoke",
}

// adminRefValueState moves a reference value to a new state as a new
// version: promote (staged -> active), deprecate, revoke. A revocation's
// answer lists the open sessions and unexpired tokens whose appraisal
// matched the value.
func (s *Server) adminRefValueState(to policy.State) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req change
		id, ok := readChange(w, r, "id", &req)
		if !ok {
			return
		}
		h, err := s.st.RefValueHistory(r.Context(), id)
		if err != nil {
			s.writeStoreError(w, r, err, false)
			return
		}
		cur := h[len(h)-1]
		from := policy.State(cur.State)
		allowed := false
		for _, f := range transitions[to] {
			allowed = allowed || f == from
		}
		if !allowed {
			apiError(w, http.StatusConflict, "conflict", fmt.Sprintf("reference value %s is %s (version %d); %s needs it to be %s",
				id, from, cur.Version, strings.TrimPrefix(transitionAction[to], "refvalue."), joinStates(transitions[to])))
			return
		}
		rv, err := refFromVersion(cur)
		if err != nil {
			s.writeStoreError(w, r, err, false)
			return
		}
		rv.State = to
		if to == policy.StateRevoked {
			// The value itself says why it no longer counts.
			rv.Provenance.Note = req.Reason
		}
		if req.ExpectedVersion == nil {
			v := cur.Version
			req.ExpectedVersion = &v
		}
		v, err := s.putRefValue(r.Context(), rv, req, transitionAction[to])
		if err != nil {
			s.writeLifecycleError(w, r, err)
			return
		}
		out := map[string]any{"reference_value": toRefValueInfo(v)}
		if to == policy.StateRevoked {
			aff, err := s.affected(r.Context(), id)
			if err != nil {
				s.writeStoreError(w, r, err, false)
				return
			}
			out["affected"] = aff
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func joinStates(ss []policy.State) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, " or ")
}

// affectedSession is an open session or unexpired token whose appraisal
// matched a reference value.
type affectedSession struct {
	SessionID   string `json:"session_id"`
	AppraisedAt string `json:"appraised_at"`
	// Matched are the versions of the value the appraisal matched.
	Matched   []string `json:"matched"`
	Verdict   string   `json:"verdict"`
	ExpiresAt string   `json:"expires_at"`
	// TokenSHA256 identifies the passport (EAR token) issued, by a
	// prefix of its SHA-256; empty when none was.
	TokenSHA256 string `json:"token_sha256,omitempty"`
}

type affectedReport struct {
	// Sessions are attested sessions (KBS cookies) not yet expired.
	Sessions []affectedSession `json:"sessions"`
	// Passports are tokens this service issued that have not expired.
	Passports []affectedSession `json:"passports"`
	// Note says what the lists cover.
	Note string `json:"note"`
}

// affected lists the attested sessions still open, and the tokens still
// unexpired, whose appraisal matched any version of reference value id.
// Only appraisals within the token lifetime can have either, so only
// those are read.
func (s *Server) affected(ctx context.Context, id string) (affectedReport, error) {
	now := s.now()
	rep := affectedReport{Sessions: []affectedSession{}, Passports: []affectedSession{},
		Note: fmt.Sprintf("appraisals since %s (one token lifetime) that matched %s; a revocation takes effect on the next appraisal, it does not end these sessions or tokens", now.Add(-s.cfg.TokenTTL).Format(time.RFC3339), id)}
	q := store.AppraisalQuery{Since: now.Add(-s.cfg.TokenTTL), MatchedID: id, WithoutResults: true, Limit: 1000}
	for {
		recs, err := s.st.ListAppraisals(ctx, q)
		if err != nil {
			return affectedReport{}, err
		}
		for _, a := range recs {
			sess, err := s.st.GetSession(ctx, a.SessionID)
			if errors.Is(err, store.ErrNotFound) {
				continue // swept: expired
			}
			if err != nil {
				return affectedReport{}, err
			}
			if sess.State != store.SessionAttested || !sess.ExpiresAt.After(now) {
				continue
			}
			var versions []string
			for _, m := range a.Matched {
				if strings.HasPrefix(m, id+"@") {
					versions = append(versions, m)
				}
			}
			e := affectedSession{SessionID: a.SessionID, AppraisedAt: a.Time.Format(time.RFC3339Nano), Matched: versions,
				Verdict: a.Verdict, ExpiresAt: sess.ExpiresAt.Format(time.RFC3339Nano)}
			if sess.Token != "" {
				e.TokenSHA256 = shortHash(sess.Token)
				rep.Passports = append(rep.Passports, e)
			}
			rep.Sessions = append(rep.Sessions, e)
		}
		if len(recs) < q.Limit {
			return rep, nil
		}
		q.AfterSeq = recs[len(recs)-1].Seq
	}
}

func (s *Server) adminRefValueAffected(w http.ResponseWriter, r *http.Request) {
	id, err := pathName(r, "id")
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad-path", err.Error())
		return
	}
	if _, err := s.st.RefValueHistory(r.Context(), id); err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	aff, err := s.affected(r.Context(), id)
	if err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	writeJSON(w, http.StatusOK, aff)
}

func (s *Server) adminRefValueVersions(w http.ResponseWriter, r *http.Request) {
	listVersions(s, w, r, "id", s.st.RefValueHistory, toRefValueInfo)
}

// shadowDiff is an appraisal whose shadow verdict differed.
type shadowDiff struct {
	Seq           int64    `json:"seq"`
	Time          string   `json:"time"`
	SessionID     string   `json:"session_id"`
	TEE           string   `json:"tee"`
	Verdict       string   `json:"verdict"`
	ShadowVerdict string   `json:"shadow_verdict"`
	Matched       []string `json:"matched"`
}

func (s *Server) adminShadowDiffs(w http.ResponseWriter, r *http.Request) {
	q := store.AppraisalQuery{ShadowDiffers: true, WithoutResults: true, Limit: 100, Since: s.now().Add(-24 * time.Hour)}
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			apiError(w, http.StatusBadRequest, "bad-request", "since must be an RFC 3339 time")
			return
		}
		q.Since = t
	}
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			apiError(w, http.StatusBadRequest, "bad-request", "after must be a non-negative integer")
			return
		}
		q.AfterSeq = n
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			apiError(w, http.StatusBadRequest, "bad-request", "limit must be 1 to 1000")
			return
		}
		q.Limit = n
	}
	recs, err := s.st.ListAppraisals(r.Context(), q)
	if err != nil {
		s.writeStoreError(w, r, err, false)
		return
	}
	out := make([]shadowDiff, 0, len(recs))
	for _, a := range recs {
		out = append(out, shadowDiff{Seq: a.Seq, Time: a.Time.Format(time.RFC3339Nano), SessionID: a.SessionID, TEE: a.TEE,
			Verdict: a.Verdict, ShadowVerdict: a.ShadowVerdict, Matched: a.Matched})
	}
	writeJSON(w, http.StatusOK, map[string]any{"differences": out})
}
