package store

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func gen(t *testing.T, st Store) int64 {
	t.Helper()
	g, err := st.PolicyGeneration(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func testPolicyVersions(t *testing.T, open opener) {
	st := mustOpen(t, open)
	ctx := t.Context()
	if g := gen(t, st); g != 0 {
		t.Fatalf("fresh generation %d, want 0", g)
	}
	p1, err := st.PutPolicy(ctx, PolicyVersion{Name: "snp", Source: "package a\n", State: PolicyActive, Author: "alice", Reason: "first", CreatedAt: t0}, 0)
	if err != nil || p1.Version != 1 {
		t.Fatalf("put v1: %+v %v", p1, err)
	}
	_, err = st.PutPolicy(ctx, PolicyVersion{Name: "snp", Source: "package b\n", State: PolicyActive, Author: "bob", Reason: "stale"}, 0)
	wantErr(t, "put against a stale version", err, ErrConflict)
	p2, err := st.PutPolicy(ctx, PolicyVersion{Name: "snp", Source: "package c\n", State: PolicyActive, Author: "carol", Reason: "second", CreatedAt: t0.Add(time.Second)}, 1)
	if err != nil || p2.Version != 2 {
		t.Fatalf("put v2: %+v %v", p2, err)
	}
	if _, err := st.PutPolicy(ctx, PolicyVersion{Name: "tdx", Source: "package d\n", State: PolicyActive, Author: "dan", Reason: "r"}, AnyVersion); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []PolicyVersion{
		{Name: "", Source: "x", State: PolicyActive},
		{Name: "snp", Source: "x", State: "paused"},
		{Name: "snp", State: PolicyActive},
	} {
		_, err := st.PutPolicy(ctx, bad, AnyVersion)
		wantErr(t, "bad policy", err, ErrInvalid)
	}
	if g := gen(t, st); g != 3 {
		t.Errorf("generation %d after three changes (and refused ones), want 3", g)
	}
	cur, err := st.ListPolicies(ctx)
	if err != nil || len(cur) != 2 || cur[0].Name != "snp" || cur[0].Version != 2 || cur[0].Source != "package c\n" || cur[1].Name != "tdx" {
		t.Fatalf("current: %+v %v", cur, err)
	}
	h, err := st.PolicyHistory(ctx, "snp")
	if err != nil || len(h) != 2 {
		t.Fatalf("history: %+v %v", h, err)
	}
	if h[0].Author != "alice" || h[0].Reason != "first" || !h[0].CreatedAt.Equal(t0) || h[1].Author != "carol" {
		t.Errorf("history lost author, reason or time: %+v", h)
	}
	_, err = st.PolicyHistory(ctx, "nitro")
	wantErr(t, "history of an unknown name", err, ErrNotFound)
}

func rvRecord(id, state string) json.RawMessage {
	return json.RawMessage(`{"id": "` + id + `", "tee": "snp", "claim": "measurement", "value": "00", "state": "` + state + `"}`)
}

func testRefValueVersions(t *testing.T, open opener) {
	st := mustOpen(t, open)
	ctx := t.Context()
	put := func(id, state string, expect int64) (RefValueVersion, error) {
		return st.PutRefValue(ctx, RefValueVersion{ID: id, State: state, Record: rvRecord(id, state), Author: "alice", Reason: "because"}, expect)
	}
	if r, err := put("fw", "staged", 0); err != nil || r.Version != 1 {
		t.Fatalf("put: %+v %v", r, err)
	}
	if r, err := put("fw", "active", 1); err != nil || r.Version != 2 {
		t.Fatalf("promote: %+v %v", r, err)
	}
	_, err := put("fw", "revoked", 1)
	wantErr(t, "revoke against a stale version", err, ErrConflict)
	if _, err := put("other", "active", AnyVersion); err != nil {
		t.Fatal(err)
	}
	_, err = put("fw", "gone", AnyVersion)
	wantErr(t, "unknown state", err, ErrInvalid)
	_, err = st.PutRefValue(ctx, RefValueVersion{ID: "fw", State: "active", Record: json.RawMessage(`{"id":`)}, AnyVersion)
	wantErr(t, "record not JSON", err, ErrInvalid)
	cur, err := st.ListRefValues(ctx)
	if err != nil || len(cur) != 2 || cur[0].ID != "fw" || cur[0].Version != 2 || cur[0].State != "active" || cur[1].ID != "other" {
		t.Fatalf("current: %+v %v", cur, err)
	}
	var rec map[string]any
	if err := json.Unmarshal(cur[0].Record, &rec); err != nil || rec["state"] != "active" {
		t.Errorf("record read back: %s %v", cur[0].Record, err)
	}
	h, err := st.RefValueHistory(ctx, "fw")
	if err != nil || len(h) != 2 || h[0].State != "staged" || h[1].State != "active" {
		t.Fatalf("history: %+v %v", h, err)
	}
	_, err = st.RefValueHistory(ctx, "nope")
	wantErr(t, "unknown id", err, ErrNotFound)
	if g := gen(t, st); g != 3 {
		t.Errorf("generation %d, want 3", g)
	}
}

// testRefValueConcurrentPut: writers racing on one version of one value,
// across two handles (replicas): exactly one wins, the rest conflict.
func testRefValueConcurrentPut(t *testing.T, open opener) {
	a, b := mustOpen(t, open), mustOpen(t, open)
	ctx := t.Context()
	if _, err := a.PutRefValue(ctx, RefValueVersion{ID: "fw", State: "staged", Record: rvRecord("fw", "staged"), Author: "a", Reason: "r"}, 0); err != nil {
		t.Fatal(err)
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		won, lost int
	)
	for i := range 8 {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Go(func() {
			_, err := st.PutRefValue(ctx, RefValueVersion{ID: "fw", State: "active", Record: rvRecord("fw", "active"), Author: "a", Reason: "r"}, 1)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, ErrConflict):
				lost++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if won != 1 || lost != 7 {
		t.Fatalf("won %d, lost %d; want 1 and 7", won, lost)
	}
}

func testSeedPolicy(t *testing.T, open opener) {
	st := mustOpen(t, open)
	ctx := t.Context()
	ps := []PolicyVersion{{Name: "snp", Source: "package x\n", State: PolicyActive, Author: "seed", Reason: "files"}}
	rs := []RefValueVersion{{ID: "fw", State: "active", Record: rvRecord("fw", "active"), Author: "seed", Reason: "files"}}
	_, err := st.SeedPolicy(ctx, append(ps, ps[0]), rs)
	wantErr(t, "seed naming a policy twice", err, ErrInvalid)
	ok, err := st.SeedPolicy(ctx, ps, rs)
	if err != nil || !ok {
		t.Fatalf("first seed: %v %v", ok, err)
	}
	ok, err = st.SeedPolicy(ctx, ps, rs)
	if err != nil || ok {
		t.Fatalf("second seed: %v %v, want not seeded", ok, err)
	}
	h, err := st.RefValueHistory(ctx, "fw")
	if err != nil || len(h) != 1 || h[0].Version != 1 {
		t.Fatalf("seeded value: %+v %v", h, err)
	}
	if g := gen(t, st); g != 1 {
		t.Errorf("generation %d after one seed, want 1", g)
	}
}

func testAppraisalHistory(t *testing.T, open opener) {
	st := mustOpen(t, open)
	ctx := t.Context()
	res := json.RawMessage(`[{"tee": "snp", "status": "affirming"}]`)
	recs := []AppraisalRecord{
		{Time: t0, SessionID: "s1", TEE: "snp", Verdict: "affirming", ShadowVerdict: "affirming", Matched: []string{"fw@1"}, Results: res},
		{Time: t0.Add(time.Hour), SessionID: "s2", TEE: "snp", Policy: "snp", Verdict: "affirming", ShadowVerdict: "contraindicated", Matched: []string{"fw@2", "fwx@1"}, Results: res},
		{Time: t0.Add(2 * time.Hour), SessionID: "s3", TEE: "tdx", Workload: "web", Verdict: "contraindicated", Results: res},
	}
	for i, a := range recs {
		got, err := st.RecordAppraisal(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		recs[i].Seq = got.Seq
	}
	_, err := st.RecordAppraisal(ctx, AppraisalRecord{SessionID: "s4", Results: json.RawMessage(`[{`)})
	wantErr(t, "results not JSON", err, ErrInvalid)
	_, err = st.ListAppraisals(ctx, AppraisalQuery{})
	wantErr(t, "no limit", err, ErrInvalid)
	sessions := func(q AppraisalQuery) []string {
		t.Helper()
		l, err := st.ListAppraisals(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range l {
			out = append(out, a.SessionID)
		}
		return out
	}
	for _, c := range []struct {
		name string
		q    AppraisalQuery
		want []string
	}{
		{"all", AppraisalQuery{Limit: 10}, []string{"s1", "s2", "s3"}},
		{"since", AppraisalQuery{Since: t0.Add(time.Hour), Limit: 10}, []string{"s2", "s3"}},
		{"limit", AppraisalQuery{Limit: 2}, []string{"s1", "s2"}},
		{"page", AppraisalQuery{AfterSeq: recs[1].Seq, Limit: 2}, []string{"s3"}},
		{"shadow-differs", AppraisalQuery{ShadowDiffers: true, Limit: 10}, []string{"s2"}},
		{"matched-fw", AppraisalQuery{MatchedID: "fw", Limit: 10}, []string{"s1", "s2"}},
		{"matched-fwx", AppraisalQuery{MatchedID: "fwx", Limit: 10}, []string{"s2"}},
		{"matched-none", AppraisalQuery{MatchedID: "f", Limit: 10}, nil},
	} {
		if got := sessions(c.q); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	l, err := st.ListAppraisals(ctx, AppraisalQuery{Limit: 1, AfterSeq: recs[0].Seq})
	if err != nil || len(l) != 1 {
		t.Fatal(l, err)
	}
	a := l[0]
	if !a.Time.Equal(recs[1].Time) || a.Policy != "snp" || !slices.Equal(a.Matched, recs[1].Matched) || !json.Valid(a.Results) {
		t.Errorf("read back %+v, want %+v", a, recs[1])
	}
	l, err = st.ListAppraisals(ctx, AppraisalQuery{Limit: 1, WithoutResults: true})
	if err != nil || len(l) != 1 || l[0].Results != nil {
		t.Errorf("without results: %+v %v", l, err)
	}
	n, err := st.PruneAppraisals(ctx, t0.Add(90*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("prune: %d %v, want 2", n, err)
	}
	if got := sessions(AppraisalQuery{Limit: 10}); !slices.Equal(got, []string{"s3"}) {
		t.Errorf("after prune: %v", got)
	}
}

// BenchmarkPolicyGeneration is what every appraisal pays to learn whether
// the policy set changed.
func BenchmarkPolicyGeneration(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchGeneration(b, benchSQLite(b)) })
	b.Run("postgres", func(b *testing.B) { benchGeneration(b, benchPostgres(b)) })
}

func benchGeneration(b *testing.B, st Store) {
	for b.Loop() {
		if _, err := st.PolicyGeneration(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

func benchPostgres(b *testing.B) Store {
	dsn := os.Getenv("ASSAY_TEST_POSTGRES")
	if dsn == "" {
		b.Skip("ASSAY_TEST_POSTGRES is empty")
	}
	st, err := OpenPostgres(b.Context(), withParams(b, dsn, map[string]string{"search_path": pgSchema(b, dsn)}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkRecordAppraisal is the history write each appraisal adds
// (a 4 KiB results document).
func BenchmarkRecordAppraisal(b *testing.B) {
	st := benchSQLite(b)
	a := AppraisalRecord{Time: t0, SessionID: "s", TEE: "snp", Verdict: "affirming", Matched: []string{"fw@1"},
		Results: json.RawMessage(`[{"tee":"snp","claims":{"x":"` + strings.Repeat("ab", 2048) + `"}}]`)}
	for b.Loop() {
		if _, err := st.RecordAppraisal(b.Context(), a); err != nil {
			b.Fatal(err)
		}
	}
}
