// Package tdx appraises Intel TDX quotes (v4 and v5; TDX 1.0 and 1.5 TD
// report bodies) with Intel collateral, and replays the TD's RTMRs from
// its CCEL event log when one is supplied.
//
// What is verified: everything internal/dcap.Verify checks (quote and QE
// signatures, the PCK chain to the Intel SGX Root CA, CRLs, TCB info and
// TD_QE identity, TCB level matching with the TDX module identity), the
// nonce, the event log replay, and the default policy (no debug TD).
//
// What is trusted: the Intel SGX Root CA (embedded, or --roots) and the
// clock. What a TD quote does not prove: see Coverage.
package tdx

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/dcap"
	"github.com/assay-dev/assay/internal/eventlog/ccel"
)

// Format names.
const (
	// FormatQuote is a raw TD quote (go-tdx-guest, configfs-tsm outblob,
	// Intel's sample apps).
	FormatQuote = "tdx-quote"
	// FormatTrusteeJSON is Trustee's "tdx" evidence: base64 quote and CC
	// event log in JSON.
	FormatTrusteeJSON = "trustee-tdx-json"
)

// Coverage of a verified TD quote.
var Coverage = attest.Coverage{
	Proves: []string{
		"the quote was produced by an Intel TDX module on a genuine Intel platform whose PCK chains to the Intel SGX Root CA, and signed by an Intel quoting enclave that matches Intel's TD_QE identity",
		"MRTD: the initial TD memory image (the virtual firmware, TDVF/OVMF) as the TDX module measured it",
		"RTMR0-3: what the firmware and boot chain extended at run time; with a matching event log, which events (firmware configuration, Secure Boot variables, shim, grub, kernel, command line, initrd) produced them",
		"the platform's TCB status against Intel's TCB info at the verification time (tcb_status, advisory_ids, tcb_date), including the TDX module (MRSEAM, TEE_TCB_SVN)",
		"TD attributes (debug, SEPT #VE disable, migratable) and XFAM, MRCONFIGID, MROWNER, MROWNERCONFIG as the host set them at TD creation",
		"REPORTDATA: the 64 bytes the TD chose to bind (a nonce, a key)",
	},
	DoesNotProve: []string{
		"what ran after the last RTMR extension (userspace, containers), unless measured into an RTMR and present in the event log",
		"that the RTMR values are what they should be: that is policy, against reference values",
		"disk encryption, or storage integrity",
		"freshness, unless a nonce was given and matched REPORTDATA",
		"that the event log is complete beyond what the RTMRs it replays to cover",
	},
}

// Claims of a TD quote, named after the TDX ABI in snake_case.
type Claims struct {
	TEETCBSVN     string            `json:"tee_tcb_svn"`
	MRSeam        string            `json:"mr_seam"`
	MRSignerSeam  string            `json:"mr_signer_seam"`
	SeamAttrs     string            `json:"seam_attributes"`
	TDAttributes  dcap.TDAttributes `json:"td_attributes"`
	XFAM          string            `json:"xfam"`
	MRTD          string            `json:"mr_td"`
	MRConfigID    string            `json:"mr_config_id"`
	MROwner       string            `json:"mr_owner"`
	MROwnerConfig string            `json:"mr_owner_config"`
	RTMR          []string          `json:"rtmr"`
	ReportData    string            `json:"report_data"`
	TEETCBSVN2    string            `json:"tee_tcb_svn2,omitempty"`
	MRServiceTD   string            `json:"mr_service_td,omitempty"`
	dcap.TCBClaims
	// EventLog holds the decoded CCEL events when a log was supplied and
	// replayed to the quote's RTMRs.
	EventLog *ccel.Claims `json:"event_log,omitempty"`
}

// NewClaims builds the claims of a TD quote.
func NewClaims(q *dcap.Quote, v *dcap.Verification) *Claims {
	h := hex.EncodeToString
	td := q.TD
	c := &Claims{
		TEETCBSVN:     h(td.TEETCBSVN[:]),
		MRSeam:        h(td.MRSeam[:]),
		MRSignerSeam:  h(td.MRSignerSeam[:]),
		SeamAttrs:     h(td.SeamAttributes[:]),
		TDAttributes:  dcap.DecodeTDAttributes(td.TDAttributes),
		XFAM:          h(td.XFAM[:]),
		MRTD:          h(td.MRTD[:]),
		MRConfigID:    h(td.MRConfigID[:]),
		MROwner:       h(td.MROwner[:]),
		MROwnerConfig: h(td.MROwnerConfig[:]),
		ReportData:    h(td.ReportData[:]),
		TCBClaims:     dcap.NewTCBClaims(q, v),
	}
	for i := range td.RTMR {
		c.RTMR = append(c.RTMR, h(td.RTMR[i][:]))
	}
	if td.Has15 {
		c.TEETCBSVN2 = h(td.TEETCBSVN2[:])
		c.MRServiceTD = h(td.MRServiceTD[:])
	}
	return c
}

// Verifier appraises TDX quotes for package verifier's registry.
type Verifier struct {
	// Collateral fetches Intel collateral that was not supplied; nil is
	// offline.
	Collateral dcap.Getter
	// TCBTiers overrides the default tier of TCB statuses; nil is none.
	TCBTiers map[dcap.TCBStatus]string
	// Cache is shared by the appraisals of this Verifier; nil is none.
	Cache *dcap.Cache
	// AllowDebug accepts debug TDs (TDATTRIBUTES.DEBUG); the default policy
	// contraindicates them.
	AllowDebug bool
}

// Kind implements attest.Verifier.
func (*Verifier) Kind() string { return "tdx" }

// Formats lists the formats --format may name: the quote, and the event
// log ("ccel"), which is collateral of a quote.
func (*Verifier) Formats() []string {
	return []string{FormatQuote, FormatTrusteeJSON, "ccel", ccel.FormatLog}
}

// Sniff implements attest.Verifier.
func (*Verifier) Sniff(b []byte) (string, bool) {
	if tdx, ok := dcap.Sniff(b); ok && tdx {
		return FormatQuote, true
	}
	if tdx, ok := dcap.SniffTrusteeJSON(b); ok && tdx {
		return FormatTrusteeJSON, true
	}
	return "", false
}

// SniffCollateral recognises Intel collateral and CCEL event logs.
func (*Verifier) SniffCollateral(b []byte) (string, bool) {
	if f, ok := dcap.SniffCollateral(b); ok {
		return f, true
	}
	return ccel.Sniff(b)
}

// Appraise implements attest.Verifier.
func (v *Verifier) Appraise(ctx context.Context, b attest.Bundle, p attest.Params) *attest.Result {
	a := dcap.Appraisal{TDX: true, Base: dcap.Options{Cache: v.Cache, Collateral: v.Collateral, TCBTiers: v.TCBTiers}}
	res, q, ver, eventLog := a.Run(ctx, b, p, "tdx", FormatQuote, FormatTrusteeJSON, Coverage)
	defer res.Finish()
	if q == nil {
		return res
	}
	claims := NewClaims(q, ver)
	res.Claims = claims

	// The event log, when supplied, must replay to the quote's RTMRs.
	if eventLog != nil {
		b.Other = append(b.Other, attest.NamedBlob{Name: b.Name + "#cc_eventlog", Data: eventLog})
	}
	if logCheck, logClaims := replay(b, q); logCheck != nil {
		res.Checks = append(res.Checks, *logCheck)
		if logCheck.OK {
			claims.EventLog = logClaims
		}
	}

	if claims.TDAttributes.Debug && !v.AllowDebug {
		res.Checks = append(res.Checks, attest.Fail("policy.debug", fmt.Errorf("%w: TDATTRIBUTES.DEBUG is set: the host can read and modify TD memory; contraindicated by default policy", dcap.ErrPolicy)))
	} else {
		res.Checks = append(res.Checks, attest.Pass("policy.debug", "TDATTRIBUTES.DEBUG is %v", claims.TDAttributes.Debug))
	}
	return res
}

// replay finds a CCEL log among the bundle's files and compares its
// replay with the quote's RTMRs. It returns nil when no log was given.
func replay(b attest.Bundle, q *dcap.Quote) (*attest.Check, *ccel.Claims) {
	for _, f := range b.Other {
		format, ok := ccel.Sniff(f.Data)
		if !ok || format != ccel.FormatLog {
			continue
		}
		l, err := ccel.Parse(f.Data)
		if err != nil {
			c := attest.Fail("rtmr.replay", fmt.Errorf("%s: %w", f.Name, err))
			return &c, nil
		}
		if err := l.Compare(q.TD.RTMR); err != nil {
			c := attest.Fail("rtmr.replay", fmt.Errorf("%s: %w", f.Name, err))
			return &c, nil
		}
		c := attest.Pass("rtmr.replay", "%s: %d events replay to the quote's RTMR0-3", f.Name, len(l.Events))
		return &c, l.Claims()
	}
	return nil, nil
}
