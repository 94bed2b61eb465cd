package policy

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TCBPolicy is a minimum-TCB policy: what platform TCB a TEE kind must
// have, beside the reference values of its measurements. It is written in
// a reference value file under "tcb_policies" (docs/policy.md, "TCB
// minimums") and is shorthand for reference values of the TCB policy
// claims (TCBPolicy.RefValues): stored, versioned, staged, revoked and
// scoped to a workload as every reference value is.
//
// For SEV-SNP (tee "snp"): per-component minimums of the reported,
// committed and launch TCB (SNP ABI, Table 23: REPORTED_TCB,
// COMMITTED_TCB, LAUNCH_TCB; TCB_VERSION layout per product, FMC on Turin
// only), optionally for one product.
//
// For Intel DCAP (tee "tdx" or "sgx"): the accepted TCB statuses, a grace
// period after the TCB recovery that superseded the platform's level, and
// advisory allow and deny lists.
type TCBPolicy struct {
	ID       string
	TEE      string
	Workload string
	State    State
	Version  int
	// NotBefore and NotAfter bound the policy's validity, as a reference
	// value's.
	NotBefore, NotAfter time.Time
	Provenance          Provenance

	// Product (SNP only): "Milan", "Genoa" or "Turin"; the minimums apply
	// to reports of that product only. Empty: every product.
	Product string
	// ReportedTCB, CommittedTCB, LaunchTCB (SNP only): the minimum of each
	// component given; nil is no minimum.
	ReportedTCB, CommittedTCB, LaunchTCB *TCBMinimum

	// AcceptedStatuses (DCAP only): the TCB statuses accepted (UpToDate,
	// SWHardeningNeeded, ...). Empty: the status is not restricted, but
	// for GraceDays.
	AcceptedStatuses []string
	// GraceDays (DCAP only), when not nil: a status not accepted (or, with
	// no accepted statuses, an out-of-date level) is accepted still until
	// this many days after the tcbDate of the TCB level that superseded
	// the platform's (claim tcb_superseded_date). Revoked never is.
	GraceDays *int
	// AdvisoriesAllowed (DCAP only): when not empty, every open advisory
	// (advisory_ids) must be one of these. AdvisoriesDenied: none of
	// these may be open.
	AdvisoriesAllowed, AdvisoriesDenied []string
}

// TCBMinimum is the least each component of an SNP TCB_VERSION may be;
// nil is no minimum. FMC exists on Turin only: a minimum for it is not
// applied to the reports of products without it.
type TCBMinimum struct {
	Bootloader *uint8 `json:"bootloader,omitempty"`
	TEE        *uint8 `json:"tee,omitempty"`
	SNP        *uint8 `json:"snp,omitempty"`
	Microcode  *uint8 `json:"microcode,omitempty"`
	FMC        *uint8 `json:"fmc,omitempty"`
}

// tcbPolicyJSON is a TCBPolicy as the file writes it.
type tcbPolicyJSON struct {
	ID                string      `json:"id"`
	TEE               string      `json:"tee"`
	Workload          string      `json:"workload,omitempty"`
	State             State       `json:"state"`
	Version           int         `json:"version"`
	NotBefore         string      `json:"not_before,omitempty"`
	NotAfter          string      `json:"not_after,omitempty"`
	Provenance        Provenance  `json:"provenance"`
	Product           string      `json:"product,omitempty"`
	ReportedTCB       *TCBMinimum `json:"reported_tcb,omitempty"`
	CommittedTCB      *TCBMinimum `json:"committed_tcb,omitempty"`
	LaunchTCB         *TCBMinimum `json:"launch_tcb,omitempty"`
	AcceptedStatuses  []string    `json:"accepted_statuses,omitempty"`
	GraceDays         *int        `json:"grace_period_days,omitempty"`
	AdvisoriesAllowed []string    `json:"advisories_allowed,omitempty"`
	AdvisoriesDenied  []string    `json:"advisories_denied,omitempty"`
}

// The TCB policy claims: reference value claim paths that name no claim
// of the evidence but a rule over the TCB claims, judged by tcbJudgements
// and handed to policies as input.tcb.
const (
	claimTCBStatus  = "tcb_status"
	claimGraceDays  = "tcb_grace_days"
	claimAdvAllowed = "advisory_ids.allowed"
	claimAdvDenied  = "advisory_ids.denied"
	maxGraceDays    = 3650
	snpProductMilan = "milan"
	snpProductGenoa = "genoa"
	snpProductTurin = "turin"
)

// dcapStatuses are the tcbStatus values of Intel's TCB info (PCS API v4).
var dcapStatuses = []string{"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded",
	"ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded", "Revoked"}

// advisoryID is an Intel security advisory or technical document ID as
// TCB info lists them (INTEL-SA-00960, INTEL-DOC-00123).
var advisoryID = regexp.MustCompile(`^[A-Z]+(-[A-Z]+)*-[0-9]{3,8}$`)

var (
	snpTCBClaims = func() []claimSpec {
		var out []claimSpec
		for _, tcb := range []string{"reported_tcb", "committed_tcb", "launch_tcb"} {
			for _, c := range []string{"bootloader", "tee", "snp", "microcode", "fmc"} {
				out = append(out, claimSpec{name: tcb + "." + c, max: 255, minimum: true, tcb: true,
					what: fmt.Sprintf("minimum %s SVN of %s (decimal; a product may prefix the path: milan., genoa., turin.)", c, strings.ToUpper(tcb))})
			}
		}
		return out
	}()
	dcapTCBClaims = []claimSpec{
		{name: claimTCBStatus, enum: dcapStatuses, tcb: true, what: "an accepted TCB status"},
		{name: claimGraceDays, max: maxGraceDays, tcb: true, what: "days an out-of-date TCB is accepted after the recovery that superseded it (decimal)"},
		{name: claimAdvAllowed, pattern: advisoryID, tcb: true, what: "an advisory that may be open (INTEL-SA-NNNNN)"},
		{name: claimAdvDenied, pattern: advisoryID, tcb: true, what: "an advisory that must not be open (INTEL-SA-NNNNN)"},
	}
	// tcbClaimSpecs are the TCB policy claims of each kind.
	tcbClaimSpecs = map[string][]claimSpec{"snp": snpTCBClaims, "tdx": dcapTCBClaims, "sgx": dcapTCBClaims}
)

// splitProduct splits an SNP TCB claim path into its product prefix (""
// when none) and the claim path.
func splitProduct(path string) (string, string) {
	for _, p := range []string{snpProductMilan, snpProductGenoa, snpProductTurin} {
		if rest, ok := strings.CutPrefix(path, p+"."); ok {
			return p, rest
		}
	}
	return "", path
}

func tcbSpecOf(tee, claim string) (claimSpec, bool) {
	if tee == "snp" {
		_, claim = splitProduct(claim)
	}
	for _, s := range tcbClaimSpecs[tee] {
		if s.match(claim) {
			return s, true
		}
	}
	return claimSpec{}, false
}

// RefValues expands the policy into the reference values it stands for,
// with IDs "<id>/<claim>" (and "/<value>" for a status or an advisory):
//
//	reported_tcb.snp = "9"           (snp; "milan.reported_tcb.snp" with product Milan)
//	tcb_status = "UpToDate"          (tdx, sgx; one per accepted status)
//	tcb_grace_days = "30"
//	advisory_ids.allowed = "INTEL-SA-00960", advisory_ids.denied = ...
//
// It refuses a policy whose fields do not fit its TEE kind; Validate
// judges the values.
func (p TCBPolicy) RefValues() ([]RefValue, error) {
	base := RefValue{TEE: p.TEE, Workload: p.Workload, State: p.State, Version: p.Version,
		NotBefore: p.NotBefore, NotAfter: p.NotAfter, Provenance: p.Provenance}
	var out []RefValue
	add := func(claim, value, idSuffix string) {
		rv := base
		rv.ID, rv.Claim, rv.Value = p.ID+"/"+idSuffix, claim, value
		out = append(out, rv)
	}
	snp := p.Product != "" || p.ReportedTCB != nil || p.CommittedTCB != nil || p.LaunchTCB != nil
	dcap := len(p.AcceptedStatuses) > 0 || p.GraceDays != nil || len(p.AdvisoriesAllowed) > 0 || len(p.AdvisoriesDenied) > 0
	switch p.TEE {
	case "snp":
		if dcap {
			return nil, fmt.Errorf("tcb policy %s: accepted_statuses, grace_period_days and advisories are for tdx and sgx, not snp", p.ID)
		}
		prefix := ""
		if p.Product != "" {
			prod := strings.ToLower(p.Product)
			if prod != snpProductMilan && prod != snpProductGenoa && prod != snpProductTurin {
				return nil, fmt.Errorf("tcb policy %s: product is %q, want Milan, Genoa or Turin", p.ID, p.Product)
			}
			prefix = prod + "."
		}
		for _, t := range []struct {
			name string
			m    *TCBMinimum
		}{{"reported_tcb", p.ReportedTCB}, {"committed_tcb", p.CommittedTCB}, {"launch_tcb", p.LaunchTCB}} {
			if t.m == nil {
				continue
			}
			for _, c := range []struct {
				name string
				v    *uint8
			}{{"bootloader", t.m.Bootloader}, {"tee", t.m.TEE}, {"snp", t.m.SNP}, {"microcode", t.m.Microcode}, {"fmc", t.m.FMC}} {
				if c.v != nil {
					claim := prefix + t.name + "." + c.name
					add(claim, strconv.Itoa(int(*c.v)), claim)
				}
			}
		}
	case "tdx", "sgx":
		if snp {
			return nil, fmt.Errorf("tcb policy %s: product and TCB minimums are for snp, not %s", p.ID, p.TEE)
		}
		for _, s := range p.AcceptedStatuses {
			add(claimTCBStatus, s, claimTCBStatus+"/"+s)
		}
		if p.GraceDays != nil {
			if *p.GraceDays < 0 {
				return nil, fmt.Errorf("tcb policy %s: grace_period_days is %d, want 0 or more", p.ID, *p.GraceDays)
			}
			add(claimGraceDays, strconv.Itoa(*p.GraceDays), claimGraceDays)
		}
		for _, a := range p.AdvisoriesAllowed {
			add(claimAdvAllowed, a, claimAdvAllowed+"/"+a)
		}
		for _, a := range p.AdvisoriesDenied {
			add(claimAdvDenied, a, claimAdvDenied+"/"+a)
		}
	default:
		return nil, fmt.Errorf("tcb policy %s: tee is %q; TCB policies exist for snp, tdx and sgx", p.ID, p.TEE)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("tcb policy %s: states no minimum, status, grace period or advisory", p.ID)
	}
	return out, nil
}

func (j tcbPolicyJSON) policy() (TCBPolicy, error) {
	p := TCBPolicy{ID: j.ID, TEE: j.TEE, Workload: j.Workload, State: j.State, Version: j.Version,
		Provenance: j.Provenance, Product: j.Product, ReportedTCB: j.ReportedTCB, CommittedTCB: j.CommittedTCB,
		LaunchTCB: j.LaunchTCB, AcceptedStatuses: j.AcceptedStatuses, GraceDays: j.GraceDays,
		AdvisoriesAllowed: j.AdvisoriesAllowed, AdvisoriesDenied: j.AdvisoriesDenied}
	var err error
	if p.NotBefore, err = parseTime(j.NotBefore); err != nil {
		return p, fmt.Errorf("not_before: %v", err)
	}
	if p.NotAfter, err = parseTime(j.NotAfter); err != nil {
		return p, fmt.Errorf("not_after: %v", err)
	}
	return p, nil
}

// tcbJudgements judges the claims against the TCB policy claims that
// count (input.tcb): each a reason of the output contract.
func tcbJudgements(kind string, claims map[string]any, by map[string]*refsOf, now time.Time) []*judgement {
	var out []*judgement
	switch kind {
	case "snp":
		product, _ := claims["product"].(string)
		for _, path := range slices.Sorted(maps.Keys(by)) {
			spec, ok := tcbSpecOf(kind, path)
			if !ok || !spec.tcb {
				continue
			}
			prod, claim := splitProduct(path)
			if prod != "" && !strings.EqualFold(prod, product) {
				continue // another product's minimum
			}
			v, present := lookup(claims, claim)
			found, _ := scalarText(v)
			present = present && v != nil
			j := &judgement{rule: kind + ".tcb." + path, claim: claim, found: found}
			if !present && strings.HasSuffix(claim, ".fmc") {
				j.status, j.allowed = "none", by[path].counted
				j.message = fmt.Sprintf("%s: a %s report's TCB has no FMC; the minimum is not applied", claim, orUnknown(product))
			} else {
				minimum(j, claim, found, present, by[path])
			}
			out = append(out, j)
		}
	case "tdx", "sgx":
		if j := statusJudgement(kind, claims, by, now); j != nil {
			out = append(out, j)
		}
		out = append(out, advisoryJudgements(kind, claims, by)...)
	}
	return out
}

// statusJudgement judges tcb_status against the accepted statuses and
// the grace period; nil when neither is named.
func statusJudgement(kind string, claims map[string]any, by map[string]*refsOf, now time.Time) *judgement {
	acc, grace := by[claimTCBStatus], by[claimGraceDays]
	if acc == nil && grace == nil {
		return nil
	}
	if acc == nil {
		acc = &refsOf{}
	}
	if grace == nil {
		grace = &refsOf{}
	}
	status, _ := claims["tcb_status"].(string)
	j := &judgement{rule: kind + ".tcb_status", claim: "tcb_status", found: status}
	bad := func(msg string, a ...any) *judgement {
		j.status, j.allowed, j.message = "contraindicated", acc.counted, fmt.Sprintf(msg, a...)
		return j
	}
	if status == "" {
		return bad("tcb_status is absent: the verifier did not grade the platform's TCB; accepted: %s", listing(acc.counted))
	}
	for _, e := range acc.counted {
		if e.Value == status {
			j.status, j.allowed = "affirming", []*RefValue{e}
			j.message = fmt.Sprintf("tcb_status %s is accepted (reference value %s, %s)", status, e.ID, origin(e))
			return j
		}
	}
	named := len(acc.counted)+len(acc.revoked)+len(acc.outside) > 0
	notAccepted := fmt.Sprintf("tcb_status %s is not among the accepted statuses (%s)", status, listing(acc.counted))
	if !named {
		notAccepted = fmt.Sprintf("tcb_status %s", status)
	}
	// The grace period: the largest that counts (values are alternatives).
	days, dayRef := -1, (*RefValue)(nil)
	for _, e := range grace.counted {
		if n, err := strconv.Atoi(e.Value); err == nil && n > days {
			days, dayRef = n, e
		}
	}
	sup, _ := claims["tcb_superseded_date"].(string)
	supAt, supErr := time.Parse(time.RFC3339, sup)
	switch {
	case days < 0 && named:
		return bad("%s", notAccepted)
	case days < 0:
		return bad("tcb_status %s: no grace period counts (%s)", status, listing(grace.revoked))
	case status == "Revoked":
		return bad("%s, and a revoked TCB gets no grace period", notAccepted)
	case sup == "" || supErr != nil:
		if named {
			return bad("%s, and no newer TCB level superseded it: the grace period (%d days, reference value %s) runs from a TCB recovery", notAccepted, days, dayRef.ID)
		}
		j.status, j.allowed = "affirming", []*RefValue{dayRef}
		j.message = fmt.Sprintf("tcb_status %s: no newer TCB level supersedes the platform's, so the grace period (reference value %s) does not apply", status, dayRef.ID)
		return j
	}
	until := supAt.AddDate(0, 0, days)
	if now.Before(until) {
		j.status, j.allowed = "affirming", []*RefValue{dayRef}
		j.message = fmt.Sprintf("%s, but is within its grace period: superseded by the TCB recovery of %s (tcbDate), accepted for %d days (reference value %s), until %s",
			notAccepted, sup, days, dayRef.ID, until.UTC().Format(time.RFC3339))
		return j
	}
	j.allowed = []*RefValue{dayRef}
	j.status = "contraindicated"
	j.message = fmt.Sprintf("%s, and its grace period is over: superseded by the TCB recovery of %s (tcbDate), accepted for %d days (reference value %s), until %s",
		notAccepted, sup, days, dayRef.ID, until.UTC().Format(time.RFC3339))
	return j
}

// advisoryJudgements judges the open advisories (advisory_ids) against
// the deny and allow lists.
func advisoryJudgements(kind string, claims map[string]any, by map[string]*refsOf) []*judgement {
	var open []string
	if l, ok := claims["advisory_ids"].([]any); ok {
		for _, a := range l {
			if s, ok := a.(string); ok {
				open = append(open, s)
			}
		}
	}
	found := strings.Join(open, ",")
	var out []*judgement
	if rs := by[claimAdvDenied]; rs != nil {
		j := &judgement{rule: kind + ".advisory_ids.denied", claim: "advisory_ids", found: found}
		var hits []*RefValue
		var names []string
		for _, e := range rs.counted {
			if slices.Contains(open, e.Value) {
				hits = append(hits, e)
				names = append(names, fmt.Sprintf("%s (reference value %s)", e.Value, e.ID))
			}
		}
		if len(hits) > 0 {
			j.status, j.allowed = "contraindicated", hits
			j.message = fmt.Sprintf("advisory_ids: denied advisories are open on this platform: %s", strings.Join(names, ", "))
		} else {
			j.status, j.allowed = "affirming", rs.counted
			j.message = fmt.Sprintf("advisory_ids: none of the open advisories (%s) is denied (denied: %s)", orNone(found), listing(rs.counted))
		}
		out = append(out, j)
	}
	if rs := by[claimAdvAllowed]; rs != nil {
		j := &judgement{rule: kind + ".advisory_ids.allowed", claim: "advisory_ids", found: found}
		var outside []string
		for _, a := range open {
			if !slices.ContainsFunc(rs.counted, func(e *RefValue) bool { return e.Value == a }) {
				outside = append(outside, a)
			}
		}
		j.allowed = rs.counted
		if len(outside) > 0 {
			j.status = "contraindicated"
			j.message = fmt.Sprintf("advisory_ids: open advisories %s are not on the allow list (allowed: %s)", strings.Join(outside, ", "), listing(rs.counted))
		} else {
			j.status = "affirming"
			j.message = fmt.Sprintf("advisory_ids: every open advisory (%s) is on the allow list", orNone(found))
		}
		out = append(out, j)
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
