package sevsnp

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"github.com/assay-dev/assay/attest"
)

// Coverage of a verified SEV-SNP report on its own: what the hardware
// measured at launch, and what it never saw.
var Coverage = attest.Coverage{
	Proves: []string{
		"the report was produced by the AMD secure processor of a genuine AMD EPYC (Milan, Genoa or Turin) and signed by its VCEK, or by a cloud provider's VLEK endorsed by AMD",
		"MEASUREMENT: the initial guest memory image (firmware such as OVMF, and whatever the launch measured with it: kernel hashes when the VMM uses measured direct boot) and the initial vCPU state",
		"the firmware TCB (bootloader, TEE, SNP, microcode; FMC on Turin) that the VEK certifies, and the guest policy (debug, migration agent, SMT) enforced by the firmware",
		"REPORT_DATA: the 64 bytes the guest asked the firmware to sign, which binds a nonce or a key to this guest",
		"VMPL: the privilege level of the software that requested the report",
		"HOST_DATA, ID_KEY_DIGEST and AUTHOR_KEY_DIGEST as the host and the ID block supplied them at launch",
	},
	DoesNotProve: []string{
		"the kernel, initrd and command line, unless the launch measured them (measured direct boot); what the guest loaded after launch (bootloader chain, userspace, containers)",
		"Secure Boot state",
		"vTPM state, or that a vTPM is inside the guest's trust boundary",
		"disk encryption, or the integrity of storage",
		"that the software at a lower VMPL (a paravisor or SVSM) is what it should be, beyond what MEASUREMENT covers",
		"freshness, unless a nonce was given and matched REPORT_DATA",
	},
}

// Verifier appraises SEV-SNP evidence for package verifier's registry.
type Verifier struct {
	// Collateral fetches missing certificates and CRLs; nil is offline.
	Collateral Getter
	// Policy is the built-in appraisal policy; the zero value is the
	// default.
	Policy Policy
	// Product, when known, selects the AMD product for version 2 reports
	// that neither the report nor a certificate names.
	Product Product
	// Cache is shared by every appraisal of this Verifier; nil is none.
	Cache *Cache
}

// Kind implements attest.Verifier.
func (*Verifier) Kind() string { return "snp" }

// Formats lists the evidence formats ParseEvidence reads.
func (*Verifier) Formats() []string {
	return []string{FormatReport, FormatReportResponse, FormatTrusteeJSON, FormatAttestationProto}
}

// Sniff implements attest.Verifier.
func (*Verifier) Sniff(b []byte) (string, bool) { return SniffEvidence(b) }

// SniffCollateral recognises SNP collateral that is neither a certificate
// nor a CRL: the extended report's certificate table.
func (*Verifier) SniffCollateral(b []byte) (string, bool) {
	if looksLikeCertTable(b) {
		return FormatCertTable, true
	}
	return "", false
}

// Appraise implements attest.Verifier: parse, verify, then policy.
func (v *Verifier) Appraise(ctx context.Context, b attest.Bundle, p attest.Params) *attest.Result {
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	res := &attest.Result{
		TEE:        "snp",
		VerifiedAt: now,
		Coverage:   Coverage,
		Evidence:   attest.EvidenceInfo{Format: b.Format, SHA256: sha256Hex(b.Evidence)},
	}
	defer res.Finish()
	format := b.Format
	if format == "snp" {
		format = ""
	}
	ev, err := ParseEvidence(b.Evidence, format)
	if err != nil {
		res.Checks = append(res.Checks, attest.Fail("parse", err))
		return res
	}
	res.Evidence.Format = ev.Format
	res.Checks = append(res.Checks, attest.Pass("parse", "%s: attestation report version %d, %d bytes, reserved fields zero", ev.Format, ev.Report.Version, ReportSize))

	// Certificates given beside the evidence (files, certificate tables)
	// take precedence over those the evidence container carries: when the
	// operator supplies a VEK, that VEK is the one judged, and a bad one
	// fails the appraisal instead of being passed over.
	supplied := append([]*x509.Certificate{}, b.Certificates...)
	crls := append(append([]*x509.RevocationList{}, b.CRLs...), ev.CRLs...)
	for _, o := range b.Other {
		if !looksLikeCertTable(o.Data) {
			continue
		}
		c, l, err := CertTableContents(o.Data)
		if err != nil {
			res.Checks = append(res.Checks, attest.Fail("parse.cert_table", fmt.Errorf("%s: %w", o.Name, err)))
			return res
		}
		supplied, crls = append(supplied, c...), append(crls, l...)
	}
	certs := supplied
	for _, c := range ev.Certificates {
		if isVEK(c) && slices.ContainsFunc(supplied, isVEK) {
			continue
		}
		certs = append(certs, c)
	}
	opts := Options{
		Roots:        p.Roots,
		Certificates: certs,
		CRLs:         crls,
		Collateral:   v.Collateral,
		Now:          func() time.Time { return now },
		Nonce:        p.Nonce,
		Product:      v.Product,
		Cache:        v.Cache,
	}
	if len(opts.Roots) == 0 {
		opts.Roots = nil
	}
	ver, checks, verr := Verify(ctx, ev.Report, opts)
	res.Checks = append(res.Checks, checks...)
	if verr != nil {
		// Show what the report claims, marked by the status as unverified.
		prod := ver.Product
		if prod == ProductUnknown && ev.Report.Version >= 3 {
			prod = ProductFromCPUID(ev.Report.CPUIDFamID, ev.Report.CPUIDModID)
		}
		if prod == ProductUnknown && ver.VEK != nil {
			prod = ver.VEK.Product()
		}
		if c := unverifiedClaims(ev.Report, prod, ver.VEK); c != nil {
			res.Claims = c
		}
		return res
	}
	res.Claims = ver.Claims
	res.Checks = append(res.Checks, v.Policy.Apply(ver.Claims)...)
	return res
}

// unverifiedClaims decodes a report for display when it could not be
// verified (or was only inspected). Without a known product the TCB layout
// of Milan and Genoa is used: only those products make version 2 reports,
// the one version without CPUID fields.
func unverifiedClaims(r *Report, p Product, vek *VEK) *Claims {
	layout := p
	if layout == ProductUnknown {
		layout = Milan
	}
	c, err := NewClaims(r, layout, vek)
	if err != nil {
		return nil
	}
	c.Product = p.String()
	return c
}

// Inspect describes SNP evidence or collateral without judging it.
func (*Verifier) Inspect(b []byte, format string) (any, error) {
	if format == FormatCertTable {
		entries, err := ParseCertTable(b)
		if err != nil {
			return nil, err
		}
		type entry struct {
			GUID  string `json:"guid"`
			Name  string `json:"name"`
			Bytes int    `json:"bytes"`
		}
		var out []entry
		for _, e := range entries {
			out = append(out, entry{GUID: formatGUID(e.GUID), Name: e.Name, Bytes: len(e.Data)})
		}
		return map[string]any{"entries": out}, nil
	}
	ev, err := ParseEvidence(b, format)
	if err != nil {
		return nil, err
	}
	p := ProductUnknown
	if ev.Report.Version >= 3 {
		p = ProductFromCPUID(ev.Report.CPUIDFamID, ev.Report.CPUIDModID)
	}
	out := map[string]any{"format": ev.Format, "report": unverifiedClaims(ev.Report, p, nil)}
	if len(ev.Certificates) > 0 {
		var names []string
		for _, c := range ev.Certificates {
			names = append(names, c.Subject.CommonName)
		}
		out["certificates"] = names
	}
	return out, nil
}

func isVEK(c *x509.Certificate) bool {
	return c.Subject.CommonName == "SEV-VCEK" || c.Subject.CommonName == "SEV-VLEK"
}
