package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// State is where a reference value stands in its life: staged (being
// tried: counted only in the shadow decision), active (counted), then
// deprecated or revoked (never counted; listed so that a policy can say
// why a value that once was good no longer is).
type State string

// States. The zero State is none of them and never counts.
const (
	StateStaged     State = "staged"
	StateActive     State = "active"
	StateDeprecated State = "deprecated"
	StateRevoked    State = "revoked"
)

func (s State) valid() bool {
	switch s {
	case StateStaged, StateActive, StateDeprecated, StateRevoked:
		return true
	}
	return false
}

// Provenance says where a reference value came from.
type Provenance struct {
	// Author is who vouches for the value (a person, a team, a build
	// system).
	Author string `json:"author,omitempty"`
	// Source is the artifact it was computed from or the document that
	// states it: a build log, a URL, a signed manifest's digest.
	Source string `json:"source,omitempty"`
	// Note is free text; required on a revoked value, to say why.
	Note string `json:"note,omitempty"`
}

// RefValue is one reference value: the value one claim of one TEE kind
// may have. Several values of the same claim are alternatives: the claim
// must equal one of them.
type RefValue struct {
	// ID names the value; unique within a set (with Version).
	ID string
	// TEE is the policy kind the value applies to: snp, tdx, sgx, tpm,
	// nitro, cca or azcvm (an Azure confidential VM, whatever its
	// hardware).
	TEE string
	// Claim is the dotted claim path, after the claims' JSON names:
	// "measurement", "host_data", "mr_td", "rtmr.2", "mr_enclave",
	// "pcrs.sha256.7" (TPM), "pcrs.0" (Nitro),
	// "realm.initial_measurement" (CCA). KnownClaims lists them.
	Claim string
	// Value is the claim's value: lowercase hex for byte strings, decimal
	// for numbers (SGX isv_prod_id, isv_svn).
	Value string
	// Provenance says who vouches for the value and why.
	Provenance Provenance
	// NotBefore and NotAfter bound the value's validity; the zero time is
	// no bound. A value counts only when NotBefore <= now < NotAfter.
	NotBefore, NotAfter time.Time
	// State: staged, active, deprecated or revoked.
	State State
	// Version is the record's revision, from 1. When a set holds several
	// versions of one ID, only the highest counts.
	Version int
	// Workload optionally names the workload whose set the value belongs
	// to; empty is every workload's.
	Workload string
}

// refValueJSON is a RefValue as the file writes it.
type refValueJSON struct {
	ID         string     `json:"id"`
	TEE        string     `json:"tee"`
	Claim      string     `json:"claim"`
	Value      string     `json:"value"`
	Workload   string     `json:"workload,omitempty"`
	State      State      `json:"state"`
	Version    int        `json:"version"`
	NotBefore  string     `json:"not_before,omitempty"`
	NotAfter   string     `json:"not_after,omitempty"`
	Provenance Provenance `json:"provenance"`
}

type fileJSON struct {
	ReferenceValues *[]refValueJSON `json:"reference_values"`
	// TCBPolicies are read only: ParseRefValues expands them into
	// reference values, which MarshalRefValues writes.
	TCBPolicies *[]tcbPolicyJSON `json:"tcb_policies,omitempty"`
}

// ParseRefValues reads a reference value file:
//
//	{"reference_values": [{"id": "...", "tee": "snp", "claim": "measurement",
//	  "value": "<hex>", "state": "active", "version": 1,
//	  "not_before": "RFC 3339", "not_after": "RFC 3339", "workload": "...",
//	  "provenance": {"author": "...", "source": "...", "note": "..."}}],
//	 "tcb_policies": [{"id": "...", "tee": "snp", "state": "active", "version": 1,
//	  "reported_tcb": {"snp": 9, ...}, ...}]}
//
// Either array may be absent, not both. Each TCB policy (TCBPolicy) is
// expanded into the reference values it stands for (TCBPolicy.RefValues),
// after the file's reference values.
//
// Unknown fields are refused (a misspelt "not_after" must not silently
// drop a bound), and so is anything after the object. ParseRefValues
// checks the syntax only; Validate judges each value.
func ParseRefValues(b []byte) ([]RefValue, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f fileJSON
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the top-level object", ErrMalformed)
	}
	if f.ReferenceValues == nil && f.TCBPolicies == nil {
		return nil, fmt.Errorf("%w: no \"reference_values\" or \"tcb_policies\" array", ErrMalformed)
	}
	var rvs []refValueJSON
	if f.ReferenceValues != nil {
		rvs = *f.ReferenceValues
	}
	out := make([]RefValue, 0, len(rvs))
	for i, j := range rvs {
		rv := RefValue{
			ID: j.ID, TEE: j.TEE, Claim: j.Claim, Value: j.Value, Workload: j.Workload,
			State: j.State, Version: j.Version, Provenance: j.Provenance,
		}
		var err error
		if rv.NotBefore, err = parseTime(j.NotBefore); err != nil {
			return nil, fmt.Errorf("%w: reference_values[%d] (%s): not_before: %v", ErrMalformed, i, j.ID, err)
		}
		if rv.NotAfter, err = parseTime(j.NotAfter); err != nil {
			return nil, fmt.Errorf("%w: reference_values[%d] (%s): not_after: %v", ErrMalformed, i, j.ID, err)
		}
		out = append(out, rv)
	}
	if f.TCBPolicies != nil {
		for i, j := range *f.TCBPolicies {
			p, err := j.policy()
			if err != nil {
				return nil, fmt.Errorf("%w: tcb_policies[%d] (%s): %v", ErrMalformed, i, j.ID, err)
			}
			exp, err := p.RefValues()
			if err != nil {
				return nil, fmt.Errorf("%w: tcb_policies[%d]: %v", ErrMalformed, i, err)
			}
			out = append(out, exp...)
		}
	}
	return out, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, s)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// MarshalRefValues writes values in the format ParseRefValues reads,
// indented, times in RFC 3339 as given (their zone kept).
func MarshalRefValues(rvs []RefValue) ([]byte, error) {
	l := make([]refValueJSON, 0, len(rvs))
	f := fileJSON{ReferenceValues: &l}
	for _, rv := range rvs {
		*f.ReferenceValues = append(*f.ReferenceValues, refValueJSON{
			ID: rv.ID, TEE: rv.TEE, Claim: rv.Claim, Value: rv.Value, Workload: rv.Workload,
			State: rv.State, Version: rv.Version, Provenance: rv.Provenance,
			NotBefore: formatTime(rv.NotBefore), NotAfter: formatTime(rv.NotAfter),
		})
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// validAt reports whether now lies in the value's validity window.
func (rv RefValue) validAt(now time.Time) bool {
	if !rv.NotBefore.IsZero() && now.Before(rv.NotBefore) {
		return false
	}
	if !rv.NotAfter.IsZero() && !now.Before(rv.NotAfter) {
		return false
	}
	return true
}
