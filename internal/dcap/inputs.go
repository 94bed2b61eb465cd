package dcap

import (
	"fmt"

	"github.com/assay-dev/assay/attest"
)

// Inputs gathers, from a bundle's certificates, CRLs and other files, the
// options Verify needs: TCB infos, QE identities, CRLs and certificates
// from PCS-format files and collateral bundles. Files that are not Intel
// collateral are left alone (an event log, say). A file that claims to be
// Intel collateral but does not parse is an error naming it.
func Inputs(b attest.Bundle) (Options, error) {
	o := Options{Certificates: b.Certificates, CRLs: b.CRLs}
	for _, f := range b.Other {
		format, ok := SniffCollateral(f.Data)
		if !ok {
			continue
		}
		switch format {
		case FormatTCBInfo:
			t, err := ParseTCBInfo(f.Data)
			if err != nil {
				return o, fmt.Errorf("%s: %w", f.Name, err)
			}
			o.TCBInfos = append(o.TCBInfos, t)
		case FormatQEIdentity:
			q, err := ParseQEIdentity(f.Data)
			if err != nil {
				return o, fmt.Errorf("%s: %w", f.Name, err)
			}
			o.QEIdentities = append(o.QEIdentities, q)
		case FormatBundle:
			c, err := ParseBundle(f.Data)
			if err != nil {
				return o, fmt.Errorf("%s: %w", f.Name, err)
			}
			if c.TCBInfo != nil {
				o.TCBInfos = append(o.TCBInfos, c.TCBInfo)
			}
			if c.QEIdentity != nil {
				o.QEIdentities = append(o.QEIdentities, c.QEIdentity)
			}
			o.CRLs = append(o.CRLs, c.CRLs()...)
			o.Certificates = append(o.Certificates, c.Certificates()...)
		}
	}
	return o, nil
}
