package cli

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/policy"
	"github.com/assay-dev/assay/server"
	"github.com/assay-dev/assay/store"
	"github.com/assay-dev/assay/verifier"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// historyFixture is a service store with recorded appraisals of a fake
// SNP guest under three measurements: A (listed, affirming), B and C (not
// listed, contraindicated), plus one of B older than a week.
type historyFixture struct {
	dir     string
	a, b, c string // measurements, hex
	guest   *testutil.SNPGuest
	files   map[string][]string // measurement -> report and VCEK chain files
}

func measurement(m [48]byte, flip byte) [48]byte {
	m[0] ^= flip
	return m
}

func refFile(t *testing.T, dir, name string, rvs ...policy.RefValue) string {
	t.Helper()
	b, err := policy.MarshalRefValues(rvs)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func ref(id, value string) policy.RefValue {
	return policy.RefValue{ID: id, TEE: "snp", Claim: "measurement", Value: value, State: policy.StateActive, Version: 1,
		Provenance: policy.Provenance{Author: "test", Source: id + " build"}}
}

func newHistory(t *testing.T, st store.Store, dir string) *historyFixture {
	t.Helper()
	ctx := t.Context()
	g := testutil.NewSNPGuest(t)
	f := &historyFixture{dir: dir, guest: g, files: map[string][]string{}}
	ms := map[byte]*string{0: &f.a, 1: &f.b, 2: &f.c}
	for flip, dst := range ms {
		m := measurement(g.Measurement, flip)
		*dst = hex.EncodeToString(m[:])
		report := g.Report(t, nil, func(r *sevsnp.Report) { r.Measurement = m })
		rp, cp := filepath.Join(dir, *dst+".bin"), filepath.Join(dir, "vcek.pem")
		if err := os.WriteFile(rp, report, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cp, g.Collateral(), 0o600); err != nil {
			t.Fatal(err)
		}
		f.files[*dst] = []string{rp, cp}
	}
	// The store's current set, as the service would hold it: A active.
	rec, _ := json.Marshal(map[string]any{"id": "fw-a", "tee": "snp", "claim": "measurement", "value": f.a, "state": "active", "version": 1,
		"provenance": map[string]string{"author": "test"}})
	if _, err := st.PutRefValue(ctx, store.RefValueVersion{ID: "fw-a", State: "active", Record: rec, Author: "admin:test", Reason: "fixture"}, 0); err != nil {
		t.Fatal(err)
	}
	set, err := server.LoadPolicySet(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	current := set.RefValues
	eng, err := policy.New(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i, c := range []struct {
		session string
		m       string
		age     time.Duration
	}{
		{"s-a", f.a, 3 * time.Hour},
		{"s-b", f.b, 2 * time.Hour},
		{"s-c", f.c, time.Hour},
		{"s-old-b", f.b, 10 * 24 * time.Hour},
	} {
		var ins []verifier.Input
		for _, p := range f.files[c.m] {
			b, _ := os.ReadFile(p)
			ins = append(ins, verifier.Input{Name: filepath.Base(p), Data: b})
		}
		results, err := verifier.Appraise(ctx, verifier.Verifiers(verifier.Config{SNPCache: &sevsnp.Cache{}}), ins, "",
			attest.Params{Now: now, Roots: g.Roots()})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(results)
		status, matched, err := server.ApplyAll(ctx, eng, current, policy.EvalOptions{}, results)
		if err != nil {
			t.Fatal(err)
		}
		want := "contraindicated"
		if c.m == f.a {
			want = "affirming"
		}
		if status.String() != want {
			t.Fatalf("fixture %d: verdict %s, want %s", i, status, want)
		}
		if _, err := st.RecordAppraisal(ctx, store.AppraisalRecord{Time: now.Add(-c.age), SessionID: c.session, TEE: "snp",
			Verdict: status.String(), Matched: matched, Results: raw}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func sqliteHistory(t *testing.T) (*historyFixture, []string) {
	dir := t.TempDir()
	st, err := store.Open(t.Context(), filepath.Join(dir, "assay.db"))
	if err != nil {
		t.Fatal(err)
	}
	f := newHistory(t, st, dir)
	st.Close()
	return f, []string{"--data", dir}
}

type replayed struct {
	Replayed int `json:"replayed"`
	Changed  int `json:"changed"`
	Changes  []struct {
		SessionID string   `json:"session_id"`
		File      string   `json:"file"`
		Old       string   `json:"old"`
		New       string   `json:"new"`
		Reasons   []string `json:"reasons"`
	} `json:"changes"`
}

func replay(t *testing.T, args ...string) (int, replayed, string) {
	t.Helper()
	code, out, errs := run(t, append([]string{"policy", "test", "-o", "json"}, args...)...)
	var r replayed
	if code != ExitUsage {
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("output %q (stderr %q): %v", out, errs, err)
		}
	}
	return code, r, errs
}

// testReplay: a history replay reports exactly the verdicts that change.
func testReplay(t *testing.T, f *historyFixture, storeArgs []string) {
	hist := append([]string{"--against-history"}, storeArgs...)
	for _, c := range []struct {
		name    string
		args    []string
		code    int
		changes map[string]string // session -> old->new
	}{
		{"current-set-changes-nothing", nil, 0, nil},
		{"same-values-in-a-file", []string{"--refvalues", refFile(t, f.dir, "a.json", ref("fw-a", f.a))}, 0, nil},
		{"add-b", []string{"--refvalues", refFile(t, f.dir, "ab.json", ref("fw-a", f.a), ref("fw-b", f.b))}, 1,
			map[string]string{"s-b": "contraindicated->affirming"}},
		{"replace-a-by-b", []string{"--refvalues", refFile(t, f.dir, "b.json", ref("fw-b", f.b))}, 1,
			map[string]string{"s-a": "affirming->contraindicated", "s-b": "contraindicated->affirming"}},
		{"staged-b-ignored", []string{"--refvalues", refFile(t, f.dir, "sb.json", ref("fw-a", f.a), func() policy.RefValue {
			r := ref("fw-b", f.b)
			r.State = policy.StateStaged
			return r
		}())}, 0, nil},
		{"staged-b-promoted", []string{"--staged", "--refvalues", filepath.Join(f.dir, "sb.json")}, 1,
			map[string]string{"s-b": "contraindicated->affirming"}},
		{"older-days", []string{"--days", "30", "--refvalues", filepath.Join(f.dir, "ab.json")}, 1,
			map[string]string{"s-b": "contraindicated->affirming", "s-old-b": "contraindicated->affirming"}},
		{"deny-policy", []string{"--policy", writeFile(t, f.dir, "snp.rego", `package deny.snp
decision := {"status": "contraindicated", "reasons": [{"rule": "deny.all", "message": "frozen"}]}
`)}, 1, map[string]string{"s-a": "affirming->contraindicated"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, r, errs := replay(t, append(slices.Clone(hist), c.args...)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d (stderr %s)", code, c.code, errs)
			}
			got := map[string]string{}
			for _, ch := range r.Changes {
				got[ch.SessionID] = ch.Old + "->" + ch.New
				if len(ch.Reasons) == 0 {
					t.Errorf("change of %s gives no reason", ch.SessionID)
				}
			}
			if len(got) != len(c.changes) || r.Changed != len(c.changes) {
				t.Fatalf("changes %v, want %v", got, c.changes)
			}
			for k, v := range c.changes {
				if got[k] != v {
					t.Errorf("%s: %s, want %s", k, got[k], v)
				}
			}
			wantReplayed := 3
			if slices.Contains(c.args, "30") {
				wantReplayed = 4
			}
			if r.Replayed != wantReplayed {
				t.Errorf("replayed %d, want %d", r.Replayed, wantReplayed)
			}
		})
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPolicyTestHistorySQLite(t *testing.T) {
	f, args := sqliteHistory(t)
	testReplay(t, f, args)

	// The text form names the session, the verdicts and the reason.
	code, out, _ := run(t, "policy", "test", "--against-history", "--data", f.dir, "--refvalues", filepath.Join(f.dir, "b.json"))
	if code != ExitRejected || !strings.Contains(out, "2 verdicts change") || !strings.Contains(out, "session s-a  snp  affirming -> contraindicated") ||
		!strings.Contains(out, "fw-b") {
		t.Errorf("text report (exit %d):\n%s", code, out)
	}
}

func TestPolicyTestHistoryPostgres(t *testing.T) {
	dsn := testutil.PostgresSchema(t, testutil.PostgresDSN(t))
	st, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := newHistory(t, st, t.TempDir())
	testReplay(t, f, []string{"--postgres", dsn})
}

// TestPolicyTestFiles: evidence files are appraised and judged under the
// store's current set and the proposal.
func TestPolicyTestFiles(t *testing.T) {
	f, storeArgs := sqliteHistory(t)
	roots := writeFile(t, f.dir, "roots.pem", string(testutil.PEM(f.guest.Roots()...)))
	base := append([]string{"--offline", "--roots", roots}, storeArgs...)
	refFile(t, f.dir, "b.json", ref("fw-b", f.b))
	refFile(t, f.dir, "ab.json", ref("fw-a", f.a), ref("fw-b", f.b))
	code, r, errs := replay(t, append(slices.Clone(base), append([]string{"--refvalues", filepath.Join(f.dir, "b.json")}, f.files[f.a]...)...)...)
	if code != ExitRejected || r.Changed != 1 || r.Changes[0].Old != "affirming" || r.Changes[0].New != "contraindicated" {
		t.Fatalf("A under B: exit %d %+v %s", code, r, errs)
	}
	code, r, errs = replay(t, append(slices.Clone(base), append([]string{"--refvalues", filepath.Join(f.dir, "ab.json")}, f.files[f.a]...)...)...)
	if code != 0 || r.Changed != 0 || r.Replayed != 1 {
		t.Fatalf("A under A and B: exit %d %+v %s", code, r, errs)
	}
}

func TestPolicyTestUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--against-history"},
		{"--against-history", "--data", dir},
		{"--against-history", "--data", dir, "--postgres", "postgres://x"},
		{"--against-history", "--postgres", "mysql://x"},
		{"--against-history", "--data", dir, "file.bin"},
		{"--against-history", "--data", dir, "--days", "0"},
		{"-o", "yaml", "x.bin"},
		{},
	} {
		if code, _, errs := run(t, append([]string{"policy", "test"}, args...)...); code != ExitUsage || errs == "" {
			t.Errorf("%v: exit %d, want %d with a message", args, code, ExitUsage)
		}
	}
	f, storeArgs := sqliteHistory(t)
	bad := writeFile(t, f.dir, "bad.json", `{"reference_values": [{"id": "x", "tee": "snp", "claim": "measurement", "value": "00", "state": "active", "version": 1}]}`)
	if code, _, errs := run(t, append([]string{"policy", "test", "--against-history", "--refvalues", bad}, storeArgs...)...); code != ExitUsage || !strings.Contains(errs, "length") {
		t.Errorf("bad reference values: exit %d %s", code, errs)
	}
}
