package policy_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/policy"
	"github.com/assay-dev/assay/verifier"
)

// The README's main sample: an SEV-SNP report from an AMD Turin running
// Oak Containers, with its VCEK (testdata/README.md), verified at
// turinAt as the CLI golden test does.
const turinMeasurement = "f924dd18f168df60fbea937f0b086284d51b1b376de872bac43694f61134d57967c318018de7335503023dbb50dee624"

var turinAt = time.Date(2025, 8, 15, 0, 0, 0, 0, time.UTC)

func turinInputs(t testing.TB) []verifier.Input {
	t.Helper()
	dir := filepath.Join(testutil.RepoRoot(t), "testdata", "snp", "turin-oak")
	var in []verifier.Input
	for _, f := range []string{"report.bin", "vcek.der"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, verifier.Input{Name: f, Data: b})
	}
	return in
}

// appraise verifies inputs offline at at and returns the one result.
func appraise(t testing.TB, vs []attest.Verifier, in []verifier.Input, at time.Time) *attest.Result {
	t.Helper()
	rs, err := verifier.Appraise(t.Context(), vs, in, "", attest.Params{Now: at})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("%d results, want 1", len(rs))
	}
	return rs[0]
}

func turinResult(t testing.TB) *attest.Result {
	t.Helper()
	r := appraise(t, verifier.Verifiers(verifier.Config{}), turinInputs(t), turinAt)
	if r.Status != attest.StatusAffirming {
		t.Fatalf("turin sample: verifier status %s, want affirming: %v", r.Status, r.Failed())
	}
	return r
}

// turinBadSignature is the sample with a byte of the report's signature
// flipped (SIGNATURE at 0x2A0, SNP ABI Table 23): the claims are intact,
// the verifier contraindicates it.
func turinBadSignature(t testing.TB) *attest.Result {
	t.Helper()
	in := turinInputs(t)
	in[0].Data = bytes.Clone(in[0].Data)
	in[0].Data[0x2A0] ^= 0x01
	r := appraise(t, verifier.Verifiers(verifier.Config{}), in, turinAt)
	if r.Status != attest.StatusContraindicated {
		t.Fatalf("flipped signature: verifier status %s, want contraindicated", r.Status)
	}
	return r
}

// tdxEntry appraises a corpus TDX entry with its own collateral at its
// date (skipped without ../shared/corpus).
func tdxEntry(t testing.TB, id string) *attest.Result {
	t.Helper()
	m, dir := testutil.LoadManifest(t)
	i := slices.IndexFunc(m.Entries, func(e testutil.Entry) bool { return e.ID == id })
	if i < 0 {
		t.Fatalf("corpus has no entry %s", id)
	}
	e := m.Entries[i]
	var in []verifier.Input
	for _, f := range e.Files {
		// The entry's own files: not the nonce, not the alternative
		// collateral for another date.
		if f.Kind == "nonce" || strings.HasPrefix(strings.ToLower(f.Role), "alternative") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, verifier.Input{Name: f.Path, Data: b})
	}
	r := appraise(t, verifier.Verifiers(verifier.Config{}), in, e.At(t).Add(time.Minute))
	if !r.Status.Trusted() {
		t.Fatalf("%s: verifier status %s: %v", id, r.Status, r.Failed())
	}
	return r
}

func newEngine(t testing.TB, o policy.Options) *policy.Engine {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return turinAt }
	}
	e, err := policy.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func prov(note string) policy.Provenance {
	return policy.Provenance{Author: "release@example.com", Source: "https://builds.example.com/4711", Note: note}
}

// ref builds a valid reference value.
func ref(id, tee, claim, value string, state policy.State) policy.RefValue {
	return policy.RefValue{ID: id, TEE: tee, Claim: claim, Value: value, State: state, Version: 1, Provenance: prov("")}
}

// other48 is a 48-byte value no sample has.
var other48 = strings.Repeat("ab", 48)

func reasonFor(d policy.Decision, claim string) (policy.Reason, bool) {
	for _, r := range d.Reasons {
		if r.Claim == claim {
			return r, true
		}
	}
	return policy.Reason{}, false
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func isKind(err, kind error) bool { return errors.Is(err, kind) }
