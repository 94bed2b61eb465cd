package attester

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/client"
)

// SEVGuest gathers an SEV-SNP extended report through go-sev-guest's quote
// provider, which uses configfs-tsm where the kernel has it and the
// /dev/sev-guest ioctl (SNP_GET_EXT_REPORT) otherwise. It returns the raw
// report ("report.bin") and, when the host supplied one, the certificate
// table ("certs.bin", the VCEK or VLEK chain).
type SEVGuest struct {
	// Provider is the quote provider; nil asks go-sev-guest for the
	// platform's.
	Provider client.QuoteProvider
	// VMPL, when set, is the privilege level the report is requested at
	// (the provider must support levels); nil is the provider's default.
	VMPL *uint
}

// Evidence implements Source.
func (s SEVGuest) Evidence(_ context.Context, reportData []byte) ([]File, error) {
	if len(reportData) > abi.ReportDataSize {
		return nil, fmt.Errorf("report data is %d bytes; SEV-SNP REPORT_DATA holds %d", len(reportData), abi.ReportDataSize)
	}
	qp := s.Provider
	if qp == nil {
		var err error
		if qp, err = client.GetQuoteProvider(); err != nil {
			return nil, fmt.Errorf("SEV-SNP guest interface: %w", err)
		}
	}
	if !qp.IsSupported() {
		return nil, errors.New("SEV-SNP guest interface: neither configfs-tsm nor /dev/sev-guest is available (not an SNP guest?)")
	}
	var rd [abi.ReportDataSize]byte
	copy(rd[:], reportData)
	var raw []byte
	var err error
	if s.VMPL != nil {
		lqp, ok := qp.(client.LeveledQuoteProvider)
		if !ok {
			return nil, fmt.Errorf("SEV-SNP guest interface: %T cannot request a report at VMPL %d", qp, *s.VMPL)
		}
		raw, err = lqp.GetRawQuoteAtLevel(rd, *s.VMPL)
	} else {
		raw, err = qp.GetRawQuote(rd)
	}
	if err != nil {
		return nil, fmt.Errorf("SEV-SNP report: %w", err)
	}
	if len(raw) < abi.ReportSize {
		return nil, fmt.Errorf("SEV-SNP report: %d bytes, want at least %d", len(raw), abi.ReportSize)
	}
	files := []File{{Name: "report.bin", Data: raw[:abi.ReportSize]}}
	if len(raw) > abi.ReportSize {
		files = append(files, File{Name: "certs.bin", Data: raw[abi.ReportSize:]})
	}
	return files, nil
}
