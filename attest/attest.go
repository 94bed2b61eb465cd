// Package attest holds the types every verifier, the policy engine, the
// token issuer and the command line share: the appraisal Status (the EAR
// trust tiers), a Check (one link of the chain, explained), Coverage (what
// the evidence proves and what it leaves open) and the Result that carries
// them.
//
// The package imports nothing else from this repository; everything else
// imports it. Zero values fail closed: the zero Status is StatusNone, which
// no caller may treat as trusted.
package attest

import (
	"encoding/json"
	"fmt"
	"time"
)

// Status is an appraisal's trust tier, after the IETF EAR draft
// (draft-ietf-rats-ear, section 3.2): none < affirming < warning <
// contraindicated in order of severity, with none meaning "no verdict".
type Status int

const (
	// StatusNone is the zero value: no appraisal happened. Never trusted.
	StatusNone Status = iota
	// StatusAffirming: every check passed.
	StatusAffirming
	// StatusWarning: the evidence is genuine but something calls for
	// attention (an out-of-date TCB, a skipped optional check the policy
	// asked to flag).
	StatusWarning
	// StatusContraindicated: a check failed; the evidence must not be
	// relied on.
	StatusContraindicated
)

var statusNames = [...]string{"none", "affirming", "warning", "contraindicated"}

func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return fmt.Sprintf("Status(%d)", int(s))
	}
	return statusNames[s]
}

// ParseStatus is the inverse of Status.String.
func ParseStatus(name string) (Status, error) {
	for i, n := range statusNames {
		if n == name {
			return Status(i), nil
		}
	}
	return StatusNone, fmt.Errorf("unknown status %q (want one of none, affirming, warning, contraindicated)", name)
}

// MarshalText renders the status by name, for JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a status name.
func (s *Status) UnmarshalText(b []byte) error {
	v, err := ParseStatus(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Worse returns the more severe of s and t.
func (s Status) Worse(t Status) Status {
	if t > s {
		return t
	}
	return s
}

// Trusted reports whether a relying party may act on evidence with this
// status: affirming, or warning (trusted, with something to look at).
func (s Status) Trusted() bool { return s == StatusAffirming || s == StatusWarning }

// Check is one link of the appraisal: a signature, a certificate, a
// comparison. Checks come back in the order they ran, whether they passed
// or not, so that a rejection explains itself.
type Check struct {
	// Name is a stable dotted identifier ("chain.vek", "policy.debug").
	Name string `json:"name"`
	// OK is false when the check failed. A skipped check is OK: it did not
	// fail, and Skipped says that it proved nothing.
	OK bool `json:"ok"`
	// Skipped marks a check that could not run (no nonce was given, no CRL
	// was available offline). Coverage names what that leaves unproven.
	Skipped bool `json:"skipped,omitempty"`
	// Severity of a failure: the tier this check forces when it fails
	// ("warning" or "contraindicated"). The zero value, on a failed check,
	// means contraindicated; passing checks leave it empty.
	Severity Status `json:"severity,omitempty"`
	// Detail says what was compared with what, in words a person can act on.
	Detail string `json:"detail"`
}

// Pass, Fail and Skip build checks.
func Pass(name, format string, a ...any) Check {
	return Check{Name: name, OK: true, Detail: fmt.Sprintf(format, a...)}
}

// Fail records a failed check whose failure contraindicates the evidence.
func Fail(name string, err error) Check {
	return Check{Name: name, OK: false, Severity: StatusContraindicated, Detail: err.Error()}
}

// Warn records a failed check whose failure only lowers the tier to warning.
func Warn(name, format string, a ...any) Check {
	return Check{Name: name, OK: false, Severity: StatusWarning, Detail: fmt.Sprintf(format, a...)}
}

// Skip records a check that could not run.
func Skip(name, format string, a ...any) Check {
	return Check{Name: name, OK: true, Skipped: true, Detail: fmt.Sprintf(format, a...)}
}

// Checks collects the checks of one appraisal step in the order they run
// and keeps the first failure's error, so that a step runs every check and
// still returns the error a caller branches on.
type Checks struct {
	List []Check
	// Err is the error of the first failed check, nil while none failed.
	Err error
}

// Pass appends a passed check.
func (c *Checks) Pass(name, format string, a ...any) {
	c.List = append(c.List, Pass(name, format, a...))
}

// Skip appends a check that could not run.
func (c *Checks) Skip(name, format string, a ...any) {
	c.List = append(c.List, Skip(name, format, a...))
}

// Fail appends a failed check and remembers err if it is the first.
func (c *Checks) Fail(name string, err error) {
	c.List = append(c.List, Fail(name, err))
	if c.Err == nil {
		c.Err = err
	}
}

// Merge appends the checks of a sub-step and its error, if it is the first.
func (c *Checks) Merge(list []Check, err error) {
	c.List = append(c.List, list...)
	if err != nil && c.Err == nil {
		c.Err = err
	}
}

// Coverage says what the evidence, once verified, proves about the
// workload and what it does not. It is part of every result so that a
// verdict is never read as more than it is.
type Coverage struct {
	Proves       []string `json:"proves"`
	DoesNotProve []string `json:"does_not_prove"`
}

// Result is one appraisal of one piece of evidence.
type Result struct {
	// TEE names the evidence kind ("snp", "tdx", "sgx", "tpm", ...).
	TEE string `json:"tee"`
	// Status is the overall tier; derived from Checks by Finish.
	Status Status `json:"status"`
	// VerifiedAt is the time at which certificates, CRLs and collateral
	// were judged (the --at flag, or now).
	VerifiedAt time.Time `json:"verified_at"`
	// Evidence describes the input that was appraised.
	Evidence EvidenceInfo `json:"evidence"`
	// Claims are the verified claims, named after the TEE's ABI. They are
	// present even on rejection when the evidence parsed, so that a person
	// can see what was claimed; Status says whether to believe them.
	Claims any `json:"claims"`
	// Checks in the order they ran.
	Checks []Check `json:"checks"`
	// Coverage of this evidence kind.
	Coverage Coverage `json:"coverage"`
	// Collateral lists the documents the appraisal obtained from a
	// collateral cache or vendor service, with their age; supplied files
	// are in Evidence.Files.
	Collateral []CollateralUse `json:"collateral,omitempty"`
	// Policy is the appraisal policy's decision (policy.Decision: the
	// policy's name, status, trust vector and reasons with the reference
	// values compared) when a policy was applied; its verdict is also the
	// "policy" check.
	Policy any `json:"policy,omitempty"`
}

// EvidenceInfo describes the appraised input.
type EvidenceInfo struct {
	// Format is how the evidence was recognised ("snp-report",
	// "snp-extended-report", "trustee-snp-json", ...).
	Format string `json:"format"`
	// Files are the inputs that contributed (evidence and collateral).
	Files []string `json:"files,omitempty"`
	// SHA256 of the evidence bytes as read, lowercase hex.
	SHA256 string `json:"sha256,omitempty"`
}

// Finish derives Status from the checks: contraindicated if any check
// failed with that severity, warning if any failed with warning severity,
// affirming if at least one check passed and none failed, none otherwise.
func (r *Result) Finish() {
	s := StatusNone
	passed := false
	for _, c := range r.Checks {
		if c.OK {
			if !c.Skipped {
				passed = true
			}
			continue
		}
		sev := c.Severity
		if sev == StatusNone || sev == StatusAffirming {
			sev = StatusContraindicated
		}
		s = s.Worse(sev)
	}
	if s == StatusNone && passed {
		s = StatusAffirming
	}
	r.Status = s
}

// Failed returns the checks that did not pass.
func (r *Result) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// MarshalJSON keeps VerifiedAt in UTC with second precision, as RFC 3339.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	return json.Marshal(struct {
		plain
		VerifiedAt string `json:"verified_at"`
	}{plain(r), r.VerifiedAt.UTC().Format(time.RFC3339)})
}
