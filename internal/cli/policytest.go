package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/policy"
	"github.com/assay-dev/assay/server"
	"github.com/assay-dev/assay/store"
	"github.com/assay-dev/assay/verifier"
)

const policyTestUsage = `usage: assay policy test --against-history (--data DIR | --postgres DSN) [--days N] [PROPOSAL] [-o text|json]
       assay policy test [--data DIR | --postgres DSN] [PROPOSAL] [verify flags] FILE|DIR...

Lists every verdict that a proposed policy or set of reference values
would change. PROPOSAL is --refvalues, --policy, --policy-name, --workload
(as for assay verify); what it leaves out is the service's current set.
--staged counts the proposal's staged values as active (what promoting
them would do).

With --against-history, the appraisals the service recorded in the last N
days are re-evaluated under the proposal (the policy only: no signature or
certificate is checked again). With files, the evidence is appraised as
assay verify does, and the verdict under the service's current set (or,
without a store, the built-in policies and no reference values) is compared
with the proposal's.

Exit 0 when no verdict changes, 1 when some do, 2 for a usage error.

flags:
`

func runPolicyTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("assay policy test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var vf verifyFlags
	vf.register(fs)
	var pf policyFlags
	pf.register(fs)
	history := fs.Bool("against-history", false, "replay the service's recorded appraisals instead of appraising files")
	data := fs.String("data", "", "the service's data directory (its SQLite database, DATA/assay.db)")
	pg := fs.String("postgres", "", "the service's PostgreSQL database (postgres://…), instead of --data")
	days := fs.Int("days", 7, "with --against-history: replay the appraisals of the last N days")
	fs.Usage = func() {
		fmt.Fprint(stderr, policyTestUsage)
		fs.PrintDefaults()
	}
	files, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "assay policy test: %v\n", err)
		return code
	}
	switch {
	case vf.output != "text" && vf.output != "json":
		return fail(ExitUsage, fmt.Errorf("-o must be text or json, not %q", vf.output))
	case *data != "" && *pg != "":
		return fail(ExitUsage, errors.New("--data and --postgres are alternatives"))
	case *history && *data == "" && *pg == "":
		return fail(ExitUsage, errors.New("--against-history needs the service's store: --data DIR or --postgres DSN"))
	case *history && len(files) > 0:
		return fail(ExitUsage, fmt.Errorf("--against-history replays the store; it takes no files (%s)", strings.Join(files, ", ")))
	case !*history && len(files) == 0:
		return fail(ExitUsage, errors.New("give evidence files, or --against-history"))
	case *days < 1:
		return fail(ExitUsage, fmt.Errorf("--days is %d, want at least 1", *days))
	}
	var base *server.PolicySet
	var st store.Store
	if *data != "" || *pg != "" {
		var err error
		if st, err = openServiceStore(ctx, *data, *pg); err != nil {
			return fail(ExitUsage, err)
		}
		defer st.Close()
		set, err := server.LoadPolicySet(ctx, st)
		if err != nil {
			return fail(ExitRejected, err)
		}
		base = &set
	}
	// The proposal is judged at each appraisal's own time.
	var at time.Time
	clock := func() time.Time { return at }
	prop, err := loadProposal(ctx, &pf, base, clock)
	if err != nil {
		return fail(ExitUsage, err)
	}
	var rep replayReport
	if *history {
		since := time.Now().UTC().Add(-time.Duration(*days) * 24 * time.Hour)
		rep, err = replayHistory(ctx, st, prop, since, &at)
	} else {
		rep, err = compareFiles(ctx, &vf, &pf, base, prop, files, &at, stderr)
	}
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			return fail(ExitUsage, err)
		}
		return fail(ExitRejected, err)
	}
	if vf.output == "json" {
		err = writeJSON(stdout, []replayReport{rep})
	} else {
		err = rep.writeText(stdout)
	}
	if err != nil {
		return fail(ExitRejected, fmt.Errorf("writing the report: %w", err))
	}
	if len(rep.Changes) > 0 {
		return ExitRejected
	}
	return 0
}

// openServiceStore opens the store assay serve keeps: DATA/assay.db, which
// must exist, or a PostgreSQL URL.
func openServiceStore(ctx context.Context, data, pg string) (store.Store, error) {
	if pg != "" {
		if !strings.HasPrefix(pg, "postgres://") && !strings.HasPrefix(pg, "postgresql://") {
			return nil, errors.New("--postgres takes a postgres:// or postgresql:// URL")
		}
		return store.Open(ctx, pg)
	}
	db := filepath.Join(data, "assay.db")
	if _, err := os.Stat(db); err != nil {
		return nil, fmt.Errorf("--data %s: no service database: %w", data, err)
	}
	return store.Open(ctx, db)
}

// proposal is the policy configuration under test.
type proposal struct {
	engine *policy.Engine
	refs   []policy.RefValue
	// name and workload, when set, replace the recorded ones.
	name, workload string
}

// loadProposal builds the proposal: the flags' files over the store's
// current set (base; nil without a store).
func loadProposal(ctx context.Context, pf *policyFlags, base *server.PolicySet, clock func() time.Time) (*proposal, error) {
	ap, err := pf.load(ctx, clock)
	if err != nil {
		return nil, err
	}
	p := &proposal{engine: ap.engine, refs: ap.refs, name: pf.name, workload: pf.workload}
	if base != nil {
		if len(pf.refValues) == 0 {
			p.refs = base.RefValues
		}
		if len(base.Modules) > 0 {
			mods := maps.Clone(base.Modules)
			maps.Copy(mods, ap.modules)
			if p.engine, err = policy.New(ctx, policy.Options{Policies: mods, Now: clock}); err != nil {
				return nil, usagef("the store's policies with --policy: %v", err)
			}
		}
	}
	if pf.staged {
		p.refs = activateStaged(p.refs)
	}
	return p, nil
}

// activateStaged returns refs with staged values active.
func activateStaged(refs []policy.RefValue) []policy.RefValue {
	out := make([]policy.RefValue, len(refs))
	for i, rv := range refs {
		if rv.State == policy.StateStaged {
			rv.State = policy.StateActive
		}
		out[i] = rv
	}
	return out
}

// evaluate applies the proposal to results (as a recorded appraisal's
// policy and workload name them) and returns the verdict and what
// explains it.
func (p *proposal) evaluate(ctx context.Context, results []*attest.Result, policyName, workload string) (string, []string) {
	o := policy.EvalOptions{Policy: policyName, Workload: workload}
	if p.name != "" {
		o.Policy = p.name
	}
	if p.workload != "" {
		o.Workload = p.workload
	}
	status, _, err := server.ApplyAll(ctx, p.engine, p.refs, o, results)
	if err != nil {
		return "error", []string{"no verdict: " + err.Error()}
	}
	return status.String(), explain(results, status)
}

// explain lists why results came out as they did: every failed check (the
// policy check names each reason that was not affirming), or, when none
// failed, the reference values matched.
func explain(results []*attest.Result, status attest.Status) []string {
	var out []string
	for _, r := range results {
		for _, c := range r.Failed() {
			out = append(out, fmt.Sprintf("%s: %s: %s", r.TEE, c.Name, c.Detail))
		}
	}
	if len(out) > 0 || !status.Trusted() {
		return out
	}
	for _, r := range results {
		if d, ok := r.Policy.(policy.Decision); ok {
			for _, rs := range d.Reasons {
				if rs.Status == attest.StatusAffirming {
					out = append(out, fmt.Sprintf("%s: %s: %s", r.TEE, rs.Rule, rs.Message))
				}
			}
		}
	}
	return out
}

// verdictChange is one appraisal whose verdict the proposal changes.
type verdictChange struct {
	Seq       int64    `json:"seq,omitempty"`
	SessionID string   `json:"session_id,omitempty"`
	File      string   `json:"file,omitempty"`
	Time      string   `json:"time"`
	TEE       string   `json:"tee"`
	Old       string   `json:"old"`
	New       string   `json:"new"`
	Reasons   []string `json:"reasons"`
}

type replayReport struct {
	// Since bounds the history replayed (empty for files).
	Since    string          `json:"since,omitempty"`
	Replayed int             `json:"replayed"`
	Changed  int             `json:"changed"`
	Changes  []verdictChange `json:"changes"`
}

// replayHistory re-evaluates every appraisal recorded since since.
func replayHistory(ctx context.Context, st store.Appraisals, p *proposal, since time.Time, at *time.Time) (replayReport, error) {
	rep := replayReport{Since: since.Format(time.RFC3339), Changes: []verdictChange{}}
	q := store.AppraisalQuery{Since: since, Limit: 500}
	for {
		recs, err := st.ListAppraisals(ctx, q)
		if err != nil {
			return replayReport{}, err
		}
		for _, a := range recs {
			var results []*attest.Result
			if err := json.Unmarshal(a.Results, &results); err != nil || len(results) == 0 {
				return replayReport{}, fmt.Errorf("appraisal %d (session %s): the recorded results do not decode: %v", a.Seq, a.SessionID, err)
			}
			*at = a.Time
			rep.Replayed++
			verdict, reasons := p.evaluate(ctx, results, a.Policy, a.Workload)
			if verdict == a.Verdict {
				continue
			}
			rep.Changes = append(rep.Changes, verdictChange{Seq: a.Seq, SessionID: a.SessionID, Time: a.Time.Format(time.RFC3339Nano),
				TEE: a.TEE, Old: a.Verdict, New: verdict, Reasons: reasons})
		}
		if len(recs) < q.Limit {
			break
		}
		q.AfterSeq = recs[len(recs)-1].Seq
	}
	rep.Changed = len(rep.Changes)
	return rep, nil
}

// compareFiles appraises evidence files as assay verify does and compares
// the verdict of each result under the current set and the proposal.
func compareFiles(ctx context.Context, vf *verifyFlags, pf *policyFlags, base *server.PolicySet, p *proposal, files []string, at *time.Time, stderr io.Writer) (replayReport, error) {
	params, cfg, err := vf.config(stderr)
	if err != nil {
		return replayReport{}, err
	}
	*at = params.Now
	inputs, err := readInputs(files)
	if err != nil {
		return replayReport{}, usagef("%v", err)
	}
	results, err := verifier.Appraise(ctx, verifier.Verifiers(cfg), inputs, vf.format, params)
	if err != nil {
		return replayReport{}, err
	}
	cur := &proposal{name: pf.name, workload: pf.workload}
	var mods map[string]string
	if base != nil {
		mods, cur.refs = base.Modules, base.RefValues
	}
	if cur.engine, err = policy.New(ctx, policy.Options{Policies: mods, Now: func() time.Time { return *at }}); err != nil {
		return replayReport{}, fmt.Errorf("the store's policies: %w", err)
	}
	// Each side judges its own copy of the verifiers' results.
	raw, err := json.Marshal(results)
	if err != nil {
		return replayReport{}, err
	}
	rep := replayReport{Changes: []verdictChange{}}
	for i, r := range results {
		var before, after []*attest.Result
		if err := json.Unmarshal(raw, &before); err != nil {
			return replayReport{}, err
		}
		if err := json.Unmarshal(raw, &after); err != nil {
			return replayReport{}, err
		}
		rep.Replayed++
		old, _ := cur.evaluate(ctx, before[i:i+1], "", "")
		verdict, reasons := p.evaluate(ctx, after[i:i+1], "", "")
		if verdict != old {
			file := ""
			if len(r.Evidence.Files) > 0 {
				file = r.Evidence.Files[0]
			}
			rep.Changes = append(rep.Changes, verdictChange{File: file, Time: params.Now.Format(time.RFC3339), TEE: r.TEE,
				Old: old, New: verdict, Reasons: reasons})
		}
	}
	rep.Changed = len(rep.Changes)
	return rep, nil
}

func (rep replayReport) writeText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	what := "results"
	if rep.Since != "" {
		what = "appraisals since " + rep.Since
	}
	noun := "verdicts change"
	if rep.Changed == 1 {
		noun = "verdict changes"
	}
	fmt.Fprintf(bw, "replayed %d %s: %d %s\n", rep.Replayed, what, rep.Changed, noun)
	for _, c := range rep.Changes {
		who := "session " + c.SessionID
		if c.File != "" {
			who = c.File
		}
		fmt.Fprintf(bw, "\n%s  %s  %s  %s -> %s\n", c.Time, who, c.TEE, c.Old, c.New)
		for _, r := range c.Reasons {
			fmt.Fprintf(bw, "    %s\n", r)
		}
	}
	return bw.Flush()
}
