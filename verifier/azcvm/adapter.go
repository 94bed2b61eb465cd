package azcvm

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/dcap"
	"github.com/assay-dev/assay/internal/eventlog/tcg"
	"github.com/assay-dev/assay/verifier/sevsnp"
	"github.com/assay-dev/assay/verifier/tdx"
)

// Coverage of verified Azure CVM evidence: the hardware report of the
// paravisor, the vTPM it hosts, and the boot state in the PCRs.
var Coverage = attest.Coverage{
	Proves: []string{
		"the hardware report (SEV-SNP report signed by the VCEK, or TD quote signed by Intel's quoting enclave) is genuine, with its TCB, as the snp.* or tdx.* checks state",
		"the paravisor (HCL) requested the report: on SNP at VMPL0, and MEASUREMENT (or MRTD) is the launch measurement of the paravisor and firmware image, not of the guest OS",
		"the vTPM attestation key, the VM configuration (secure boot, TPM enabled, console, ...) and the user data come from the paravisor inside the TEE: REPORT_DATA commits to the runtime data carrying them (hcl.binding)",
		"the vTPM, inside the TEE's trust boundary, signed the quoted PCR values: the guest's boot chain (firmware, bootloader, kernel) as measured into PCRs",
		"freshness of the vTPM quote, when a nonce was given and matched its extraData",
		"when vtpm.ak_certificate passed: Microsoft's vTPM CA (Azure Virtual TPM Root Certificate Authority 2023) also certifies the AK, an anchor independent of the hardware report",
		"when vtpm.eventlog.replay passed: the boot events (firmware, Secure Boot variables, boot loader, kernel) that produced the quoted PCRs, decoded in event_log",
	},
	DoesNotProve: []string{
		"that the paravisor measurement is a build Microsoft vouches for: that is policy against reference values",
		"that the PCR values are good ones: a replayed event log says what was measured, not that it is acceptable; compare the PCRs or the log's events with reference values",
		"without an event log: what produced the PCR values",
		"the guest OS and what it ran after the last PCR extension (userspace, containers)",
		"freshness of the hardware report itself: REPORT_DATA carries the runtime data hash, not a nonce; the vTPM quote alone carries the nonce",
		"disk encryption, or storage integrity",
		"a bare HCL report proves nothing about PCRs: without a vTPM quote only the AK and VM configuration are attested",
	},
}

// Verifier appraises Azure CVM evidence for package verifier's registry.
type Verifier struct {
	// SNPCollateral fetches a VCEK or CRL the evidence does not carry; nil
	// is offline.
	SNPCollateral sevsnp.Getter
	// SNPProduct names the AMD product when nothing else does.
	SNPProduct sevsnp.Product
	// SNPCache is shared across appraisals; nil is none.
	SNPCache *sevsnp.Cache
	// DCAPCache, DCAPCollateral and TCBTiers configure TD quote
	// verification as for the tdx verifier; nil is none, offline, default.
	DCAPCache      *dcap.Cache
	DCAPCollateral dcap.Getter
	TCBTiers       map[dcap.TCBStatus]string
}

// Kind implements attest.Verifier: the TEE of the hardware report is
// written to the result ("snp" or "tdx"); Kind names the scheme.
func (*Verifier) Kind() string { return "azcvm" }

// Formats lists the evidence formats Parse reads.
func (*Verifier) Formats() []string {
	return []string{FormatHCL, FormatTrusteeSNP, FormatTrusteeTDX}
}

// Sniff implements attest.Verifier.
func (*Verifier) Sniff(b []byte) (string, bool) { return SniffEvidence(b) }

// Absorbs says that a raw TD quote given beside Azure evidence is the
// quote of the HCL report's TD report, part of the same appraisal.
func (*Verifier) Absorbs(kind, format string) bool {
	return kind == "tdx" && format == tdx.FormatQuote
}

// Appraise implements attest.Verifier.
func (v *Verifier) Appraise(ctx context.Context, b attest.Bundle, p attest.Params) *attest.Result {
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	sum := sha256.Sum256(b.Evidence)
	res := &attest.Result{TEE: "snp", VerifiedAt: now, Coverage: Coverage,
		Evidence: attest.EvidenceInfo{Format: b.Format, SHA256: hex.EncodeToString(sum[:])}}
	defer res.Finish()
	ev, err := Parse(b.Evidence)
	if err != nil {
		if _, ok := sniffTrustee(b.Evidence); ok {
			if f, _ := sniffTrustee(b.Evidence); f == FormatTrusteeTDX {
				res.TEE = "tdx"
			}
		}
		res.Checks = append(res.Checks, attest.Fail("hcl.parse", err))
		return res
	}
	res.Evidence.Format = ev.Format
	if ev.HCL.ReportType == ReportTypeTDX {
		res.TEE = "tdx"
	}
	o := Options{
		Now:   func() time.Time { return now },
		Nonce: p.Nonce,
		SNP: sevsnp.Options{
			Roots: p.Roots, Certificates: b.Certificates, CRLs: b.CRLs,
			Collateral: v.SNPCollateral, Product: v.SNPProduct, Cache: v.SNPCache,
		},
	}
	if len(o.SNP.Roots) == 0 {
		o.SNP.Roots = nil
	}
	if ev.HCL.ReportType == ReportTypeTDX {
		do, err := dcap.Inputs(b)
		if err != nil {
			res.Checks = append(res.Checks, attest.Fail("tdx.collateral.parse", err))
			return res
		}
		do.Cache, do.Collateral, do.TCBTiers = v.DCAPCache, v.DCAPCollateral, v.TCBTiers
		if len(p.Roots) > 0 {
			do.Roots = p.Roots
		}
		o.DCAP = do
		if len(ev.TDQuote) == 0 {
			// A raw HCL report travels without its TD quote; the quote
			// may be among the other inputs.
			for _, f := range b.Other {
				if isTD, ok := dcap.Sniff(f.Data); ok && isTD {
					o.TDQuote = f.Data
					break
				}
			}
		}
	}
	if err := gatherVTPM(&o, b, ev); err != nil {
		res.Checks = append(res.Checks, attest.Fail("hcl.parse", err))
		return res
	}
	if len(p.Roots) > 0 {
		o.AKRoots = p.Roots
	}
	claims, checks, _ := Verify(ctx, ev, o)
	res.Claims, res.Checks = claims, checks
	return res
}

// gatherVTPM finds the vTPM's collateral among the bundle: its AK
// certificate (a certificate with the TCG AK extended key usage, or an NV
// read of one; the one certifying the runtime data's AK first) with the CA
// certificates beside it as intermediates, and a crypto-agile TCG event
// log. A malformed NV read is an error; other files are left to the other
// verifiers.
func gatherVTPM(o *Options, b attest.Bundle, ev *Evidence) error {
	var candidates []*x509.Certificate
	for _, c := range b.Certificates {
		switch {
		case IsAKCertificate(c) || (!c.IsCA && ev.HCL.Runtime.AK.Equal(c.PublicKey)):
			candidates = append(candidates, c)
		case c.IsCA:
			o.AKIntermediates = append(o.AKIntermediates, c)
		}
	}
	for _, f := range b.Other {
		if format, ok := SniffCollateral(f.Data); ok {
			switch format {
			case FormatAKCertNV:
				c, err := ParseAKCertificate(f.Data)
				if err != nil {
					return fmt.Errorf("%s: %w", f.Name, err)
				}
				candidates = append(candidates, c)
			case FormatEventLog:
				if o.EventLog == nil {
					o.EventLog = f.Data
				}
			}
		}
	}
	for _, c := range candidates {
		if ev.HCL.Runtime.AK.Equal(c.PublicKey) {
			o.AKCertificate = c
			return nil
		}
	}
	if len(candidates) > 0 {
		// None certifies this AK: the first is judged, and its check
		// says whose key it certifies.
		o.AKCertificate = candidates[0]
	}
	return nil
}

// SniffCollateral recognises the vTPM's collateral that is not a bare
// certificate: an NV read of the AK certificate (DER and zero fill), and a
// crypto-agile TCG event log. No crypto.
func (*Verifier) SniffCollateral(b []byte) (string, bool) { return SniffCollateral(b) }

// SniffCollateral is the function behind Verifier.SniffCollateral.
func SniffCollateral(b []byte) (string, bool) {
	if sniffAKCertNV(b) {
		return FormatAKCertNV, true
	}
	if f, ok := tcg.Sniff(b); ok && f == tcg.FormatCryptoAgile {
		return FormatEventLog, true
	}
	return "", false
}

// Inspect describes Azure CVM evidence, or its vTPM collateral, without
// judging it.
func (*Verifier) Inspect(b []byte, format string) (any, error) {
	switch format {
	case FormatAKCertNV:
		c, err := ParseAKCertificate(b)
		if err != nil {
			return nil, err
		}
		return map[string]any{"format": format, "nv_index": fmt.Sprintf("0x%08x", AKCertNVIndex), "subject": c.Subject.String(), "issuer": c.Issuer.String(),
			"serial": fmt.Sprintf("%#x", c.SerialNumber), "not_before": c.NotBefore.UTC().Format(time.RFC3339), "not_after": c.NotAfter.UTC().Format(time.RFC3339),
			"spki_sha256": sha256Hex(c.RawSubjectPublicKeyInfo)}, nil
	case FormatEventLog:
		l, err := tcg.Parse(b)
		if err != nil {
			return nil, err
		}
		c := l.Claims()
		return map[string]any{"format": format, "events": len(l.Events), "banks": c.Banks, "secure_boot": c.SecureBoot, "replayed": false}, nil
	}
	ev, err := Parse(b)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"format":       ev.Format,
		"report_type":  reportName(ev.HCL.ReportType),
		"azure":        newAzureClaims(ev.HCL),
		"vtpm_quote":   ev.Quote != nil,
		"certificates": len(ev.VCEK),
	}, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
