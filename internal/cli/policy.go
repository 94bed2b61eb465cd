package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/policy"
)

// policyFlags select an appraisal policy and reference values
// (docs/policy.md). Without any, results are the verifiers' alone.
type policyFlags struct {
	refValues stringList
	modules   stringList
	name      string
	staged    bool
	workload  string
}

func (pf *policyFlags) register(fs *flag.FlagSet) {
	fs.Var(&pf.refValues, "refvalues", "reference values file (JSON, docs/policy.md); repeatable")
	fs.Var(&pf.modules, "policy", "Rego policy file; its name is the file name without .rego (a file named snp.rego replaces the built-in SEV-SNP policy); repeatable")
	fs.StringVar(&pf.name, "policy-name", "", "the policy to apply (default: the built-in or replaced policy of each result's kind)")
	fs.BoolVar(&pf.staged, "staged", false, "also evaluate with staged reference values counted as active, and show that shadow decision")
	fs.StringVar(&pf.workload, "workload", "", "use only this workload's reference values (and those of no workload)")
}

func (pf *policyFlags) active() bool {
	return len(pf.refValues) > 0 || len(pf.modules) > 0 || pf.name != "" || pf.staged
}

// appraiser applies one policy configuration to results.
type appraiser struct {
	engine *policy.Engine
	refs   []policy.RefValue
	opts   policy.EvalOptions
	// modules are the --policy files' sources by policy name.
	modules map[string]string
}

func (pf *policyFlags) load(ctx context.Context, now func() time.Time) (*appraiser, error) {
	mods := map[string]string{}
	for _, path := range pf.modules {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, usagef("--policy: %v", err)
		}
		mods[strings.TrimSuffix(filepath.Base(path), ".rego")] = string(b)
	}
	var refs []policy.RefValue
	for _, path := range pf.refValues {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, usagef("--refvalues: %v", err)
		}
		rvs, err := policy.ParseRefValues(b)
		if err != nil {
			return nil, usagef("--refvalues %s: %v", path, err)
		}
		refs = append(refs, rvs...)
	}
	if err := policy.ValidateAll(refs); err != nil {
		return nil, usagef("reference values: %v", err)
	}
	e, err := policy.New(ctx, policy.Options{Policies: mods, Now: now})
	if err != nil {
		return nil, usagef("policy: %v", err)
	}
	return &appraiser{engine: e, refs: refs, modules: mods, opts: policy.EvalOptions{Policy: pf.name, IncludeStaged: pf.staged, Workload: pf.workload}}, nil
}

// apply records the policy decision in every result.
func (a *appraiser) apply(ctx context.Context, results []*attest.Result) error {
	var errs []error
	for _, r := range results {
		if _, err := a.engine.Apply(ctx, r, a.refs, a.opts); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.TEE, err))
		}
	}
	return errors.Join(errs...)
}
