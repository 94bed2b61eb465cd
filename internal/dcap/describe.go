package dcap

import (
	"encoding/hex"
	"fmt"
	"time"
)

// DescribeCollateral parses Intel collateral of a sniffed format and
// summarises it for "assay inspect". It verifies nothing.
func DescribeCollateral(b []byte, format string) (any, error) {
	switch format {
	case FormatTCBInfo:
		t, err := ParseTCBInfo(b)
		if err != nil {
			return nil, err
		}
		return describeTCBInfo(t), nil
	case FormatQEIdentity:
		q, err := ParseQEIdentity(b)
		if err != nil {
			return nil, err
		}
		return describeQEIdentity(q), nil
	case FormatBundle:
		c, err := ParseBundle(b)
		if err != nil {
			return nil, err
		}
		out := map[string]any{"crls": len(c.CRLs()), "certificates": len(c.Certificates())}
		if c.TCBInfo != nil {
			out["tcb_info"] = describeTCBInfo(c.TCBInfo)
		}
		if c.QEIdentity != nil {
			out["qe_identity"] = describeQEIdentity(c.QEIdentity)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown Intel collateral format %q", ErrMalformed, format)
}

type levelSummary struct {
	Status   TCBStatus `json:"status"`
	Date     string    `json:"tcb_date"`
	Advisory []string  `json:"advisory_ids,omitempty"`
	SGX      string    `json:"sgx_components,omitempty"`
	PCESVN   *uint16   `json:"pce_svn,omitempty"`
	TDX      string    `json:"tdx_components,omitempty"`
	ISVSVN   *uint16   `json:"isv_svn,omitempty"`
}

func describeTCBInfo(t *TCBInfo) map[string]any {
	var levels []levelSummary
	for _, l := range t.Levels {
		pce := l.PCESVN
		s := levelSummary{Status: l.Status, Date: l.Date.UTC().Format(time.RFC3339), Advisory: l.Advisory, SGX: fmt.Sprint(l.SGXComponents), PCESVN: &pce}
		if l.TDXComponents != nil {
			s.TDX = fmt.Sprint(*l.TDXComponents)
		}
		levels = append(levels, s)
	}
	out := map[string]any{
		"id": t.ID, "version": t.Version, "fmspc": hex.EncodeToString(t.FMSPC[:]), "pce_id": hex.EncodeToString(t.PCEID[:]),
		"issue_date": t.IssueDate.UTC().Format(time.RFC3339), "next_update": t.NextUpdate.UTC().Format(time.RFC3339),
		"tcb_evaluation_data_number": t.TCBEvaluationDataNumber, "tcb_levels": levels,
	}
	var mods []string
	for _, m := range t.TDXModuleIdentities {
		mods = append(mods, m.ID)
	}
	if len(mods) > 0 {
		out["tdx_module_identities"] = mods
	}
	return out
}

func describeQEIdentity(q *QEIdentity) map[string]any {
	var levels []levelSummary
	for _, l := range q.Levels {
		svn := l.ISVSVN
		levels = append(levels, levelSummary{Status: l.Status, Date: l.Date.UTC().Format(time.RFC3339), Advisory: l.Advisory, ISVSVN: &svn})
	}
	return map[string]any{
		"id": q.ID, "version": q.Version, "mrsigner": hex.EncodeToString(q.MRSigner[:]), "isvprodid": q.ISVProdID,
		"issue_date": q.IssueDate.UTC().Format(time.RFC3339), "next_update": q.NextUpdate.UTC().Format(time.RFC3339),
		"tcb_evaluation_data_number": q.TCBEvaluationDataNumber, "tcb_levels": levels,
	}
}
