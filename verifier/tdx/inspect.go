package tdx

import (
	"encoding/hex"
	"fmt"

	"github.com/assay-dev/assay/internal/dcap"
	"github.com/assay-dev/assay/internal/eventlog/ccel"
)

// Inspect describes a TD quote, Intel collateral or a CCEL event log
// without judging it. For an event log it replays RTMR0-3, which is what
// a reference value for them is compared with.
func (*Verifier) Inspect(b []byte, format string) (any, error) {
	switch format {
	case ccel.FormatLog, "ccel":
		l, err := ccel.Parse(b)
		if err != nil {
			return nil, err
		}
		rtmr := l.Replay()
		var replayed []string
		for i := range rtmr {
			replayed = append(replayed, hex.EncodeToString(rtmr[i][:]))
		}
		return map[string]any{
			"events":       len(l.Events),
			"banks":        l.Banks(),
			"rtmr_replay":  replayed,
			"event_claims": l.Claims(),
		}, nil
	case ccel.FormatTable:
		t, err := ccel.ParseACPITable(b)
		if err != nil {
			return nil, err
		}
		return t, nil
	}
	if f, ok := dcap.SniffCollateral(b); ok {
		return dcap.DescribeCollateral(b, f)
	}
	return inspectQuote(b)
}

func inspectQuote(b []byte) (any, error) {
	q, err := dcap.ParseQuote(b)
	if err != nil {
		return nil, err
	}
	if q.TD == nil {
		return nil, fmt.Errorf("%w: an SGX quote, not a TD quote", dcap.ErrMalformed)
	}
	out := map[string]any{"quote_version": q.Header.Version, "body": q.BodyName(), "td_report": NewClaims(q, nil)}
	if ch, err := q.PCKChain(); err == nil {
		if ext, err := dcap.ParsePCKExtensions(ch[0]); err == nil {
			out["fmspc"] = hex.EncodeToString(ext.FMSPC[:])
			out["pck_issuer"] = ch[0].Issuer.CommonName
		}
	}
	return out, nil
}
