package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Policy lifecycle (docs/policy.md, "Lifecycle"): every change to an
// appraisal policy or a reference value is a new, append-only version
// carrying its author, time and reason. Nothing is updated in place, so
// the history of a value is the list of its versions. Every change also
// bumps one generation counter, which each replica reads before an
// appraisal to learn, with one indexed single-row read, whether the set
// it compiled is still current.

// PolicyState is where a policy version stands.
type PolicyState string

// Policy states. The newest version of a name is its current one; a
// retired name appraises nothing.
const (
	PolicyActive  PolicyState = "active"
	PolicyRetired PolicyState = "retired"
)

// PolicyVersion is one version of a named Rego policy.
type PolicyVersion struct {
	Name string
	// Version counts from 1 per name; PutPolicy assigns it.
	Version int64
	// Source is the Rego module (empty when retired).
	Source    string
	State     PolicyState
	Author    string
	Reason    string
	CreatedAt time.Time
}

// RefValueVersion is one version of a reference value. The store keeps
// the value's record (the JSON object of one element of a reference value
// file, docs/policy.md) as given; ID, Version and State repeat what the
// record says so that they can be queried.
type RefValueVersion struct {
	ID string
	// Version counts from 1 per ID; PutRefValue assigns it.
	Version int64
	// State is staged, active, deprecated or revoked.
	State     string
	Record    json.RawMessage
	Author    string
	Reason    string
	CreatedAt time.Time
}

// AnyVersion, as PutPolicy's or PutRefValue's expected version, accepts
// whatever the current version is.
const AnyVersion int64 = -1

// PolicyStore keeps versioned policies and reference values.
type PolicyStore interface {
	// PolicyGeneration returns the counter every policy or reference
	// value change increments (0 before the first).
	PolicyGeneration(ctx context.Context) (int64, error)
	// PutPolicy appends a version of p.Name, numbered one more than the
	// newest. With expect >= 0 it is ErrConflict unless the newest
	// version is expect (0: the name is new), so two administrators
	// editing the same version cannot both win.
	PutPolicy(ctx context.Context, p PolicyVersion, expect int64) (PolicyVersion, error)
	// ListPolicies returns the newest version of every name, by name.
	ListPolicies(ctx context.Context) ([]PolicyVersion, error)
	// PolicyHistory returns every version of a name, oldest first;
	// ErrNotFound when there is none.
	PolicyHistory(ctx context.Context, name string) ([]PolicyVersion, error)
	// PutRefValue appends a version of r.ID, with PutPolicy's rule for
	// expect.
	PutRefValue(ctx context.Context, r RefValueVersion, expect int64) (RefValueVersion, error)
	// ListRefValues returns the newest version of every ID, by ID.
	ListRefValues(ctx context.Context) ([]RefValueVersion, error)
	// RefValueHistory returns every version of an ID, oldest first;
	// ErrNotFound when there is none.
	RefValueHistory(ctx context.Context, id string) ([]RefValueVersion, error)
	// SeedPolicy stores the given versions (each numbered 1) in one
	// transaction if, and only if, the store holds no policy and no
	// reference value yet, and reports whether it did. Replicas starting
	// together with the same files agree on one import.
	SeedPolicy(ctx context.Context, ps []PolicyVersion, rs []RefValueVersion) (bool, error)
}

// AppraisalRecord is one appraisal as the history keeps it, for replay
// under a proposed policy (assay policy test --against-history) and for
// finding the sessions a revoked reference value affects.
type AppraisalRecord struct {
	// Seq counts up; RecordAppraisal assigns it.
	Seq       int64
	Time      time.Time
	SessionID string
	// TEE is the primary evidence's kind.
	TEE string
	// Workload and Policy are the workload and policy the appraisal used
	// ("" for the defaults).
	Workload string
	Policy   string
	// Verdict is the appraisal's status name; ShadowVerdict the status
	// with staged reference values counted ("" when none were staged).
	Verdict       string
	ShadowVerdict string
	// Matched lists the reference values the policy matched, as
	// "ID@VERSION".
	Matched []string
	// Results are the verifiers' results before the policy (a JSON array
	// of attest.Result).
	Results json.RawMessage
}

// AppraisalQuery selects history records.
type AppraisalQuery struct {
	// Since keeps records at or after it; zero is no bound.
	Since time.Time
	// AfterSeq keeps records with a larger Seq (paging).
	AfterSeq int64
	// Limit bounds the answer; it must be at least 1.
	Limit int
	// ShadowDiffers keeps records whose shadow verdict differs from the
	// verdict.
	ShadowDiffers bool
	// MatchedID keeps records that matched any version of this
	// reference value ID.
	MatchedID string
	// WithoutResults leaves Results nil (listing is cheaper).
	WithoutResults bool
}

// Appraisals is the appraisal history.
type Appraisals interface {
	// RecordAppraisal appends a record and returns it as stored.
	RecordAppraisal(ctx context.Context, a AppraisalRecord) (AppraisalRecord, error)
	// ListAppraisals returns the records q selects, by Seq.
	ListAppraisals(ctx context.Context, q AppraisalQuery) ([]AppraisalRecord, error)
	// PruneAppraisals deletes records older than before and returns how
	// many.
	PruneAppraisals(ctx context.Context, before time.Time) (int64, error)
}

func (s PolicyState) valid() bool { return s == PolicyActive || s == PolicyRetired }

func validRefState(s string) bool {
	switch s {
	case "staged", "active", "deprecated", "revoked":
		return true
	}
	return false
}

// ErrInvalid: a record the store refuses as it is (an empty name, a
// state it does not know, a record that is not JSON).
var ErrInvalid = errors.New("invalid record")

func preparePolicy(p PolicyVersion, now time.Time) (PolicyVersion, error) {
	if p.Name == "" {
		return PolicyVersion{}, fmt.Errorf("%w: policy has no name", ErrInvalid)
	}
	if !p.State.valid() {
		return PolicyVersion{}, fmt.Errorf("%w: policy %s: state %q (want active or retired)", ErrInvalid, p.Name, p.State)
	}
	if p.State == PolicyActive && p.Source == "" {
		return PolicyVersion{}, fmt.Errorf("%w: policy %s: an active policy has a source", ErrInvalid, p.Name)
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = now
	}
	p.CreatedAt = dbTime(p.CreatedAt)
	return p, nil
}

func prepareRefValue(r RefValueVersion, now time.Time) (RefValueVersion, error) {
	if r.ID == "" {
		return RefValueVersion{}, fmt.Errorf("%w: reference value has no ID", ErrInvalid)
	}
	if !validRefState(r.State) {
		return RefValueVersion{}, fmt.Errorf("%w: reference value %s: state %q (want staged, active, deprecated or revoked)", ErrInvalid, r.ID, r.State)
	}
	if len(r.Record) == 0 || !json.Valid(r.Record) {
		return RefValueVersion{}, fmt.Errorf("%w: reference value %s: record is not JSON", ErrInvalid, r.ID)
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	r.CreatedAt = dbTime(r.CreatedAt)
	r.Record = compactJSON(r.Record)
	return r, nil
}

// checkExpect returns ErrConflict when expect names a version other than
// the current one.
func checkExpect(what string, current, expect int64) error {
	if expect >= 0 && current != expect {
		return fmt.Errorf("%w: %s is at version %d, the change was made against version %d", ErrConflict, what, current, expect)
	}
	return nil
}

func prepareAppraisal(a AppraisalRecord, now time.Time) (AppraisalRecord, []byte, error) {
	if a.SessionID == "" {
		return AppraisalRecord{}, nil, fmt.Errorf("%w: appraisal record has no session", ErrInvalid)
	}
	if len(a.Results) == 0 || !json.Valid(a.Results) {
		return AppraisalRecord{}, nil, fmt.Errorf("%w: appraisal record %s: results are not JSON", ErrInvalid, a.SessionID)
	}
	if a.Time.IsZero() {
		a.Time = now
	}
	a.Time = dbTime(a.Time)
	if a.Matched == nil {
		a.Matched = []string{}
	}
	m, err := json.Marshal(a.Matched)
	if err != nil {
		return AppraisalRecord{}, nil, err
	}
	a.Results = compactJSON(a.Results)
	return a, m, nil
}

func checkAppraisalQuery(q AppraisalQuery) error {
	if q.Limit <= 0 {
		return fmt.Errorf("%w: appraisal list limit is %d, want at least 1", ErrInvalid, q.Limit)
	}
	return nil
}

// keep reports whether a scanned record passes the filters SQL did not
// apply.
func (q AppraisalQuery) keep(a AppraisalRecord) bool {
	if q.ShadowDiffers && (a.ShadowVerdict == "" || a.ShadowVerdict == a.Verdict) {
		return false
	}
	if q.MatchedID != "" && !slices.ContainsFunc(a.Matched, func(m string) bool {
		return len(m) > len(q.MatchedID) && m[:len(q.MatchedID)] == q.MatchedID && m[len(q.MatchedID)] == '@'
	}) {
		return false
	}
	return true
}

func parseMatched(b []byte) ([]string, error) {
	var m []string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("stored matched list: %w", err)
	}
	return m, nil
}

// prepareSeed checks a seed and numbers every entry version 1.
func prepareSeed(ps []PolicyVersion, rs []RefValueVersion, now time.Time) ([]PolicyVersion, []RefValueVersion, error) {
	outP := make([]PolicyVersion, 0, len(ps))
	seen := map[string]bool{}
	for _, p := range ps {
		p, err := preparePolicy(p, now)
		if err != nil {
			return nil, nil, err
		}
		if seen[p.Name] {
			return nil, nil, fmt.Errorf("%w: seed names policy %s twice", ErrInvalid, p.Name)
		}
		seen[p.Name] = true
		p.Version = 1
		outP = append(outP, p)
	}
	outR := make([]RefValueVersion, 0, len(rs))
	seen = map[string]bool{}
	for _, r := range rs {
		r, err := prepareRefValue(r, now)
		if err != nil {
			return nil, nil, err
		}
		if seen[r.ID] {
			return nil, nil, fmt.Errorf("%w: seed names reference value %s twice", ErrInvalid, r.ID)
		}
		seen[r.ID] = true
		r.Version = 1
		outR = append(outR, r)
	}
	return outP, outR, nil
}
