package tpm

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

// Coverage of a verified TPM quote.
var Coverage = attest.Coverage{
	Proves: []string{
		"the PCR values (pcrs) were the TPM's at the moment of the quote (clock_info), signed by the AK, a restricted key that the TPM uses only to sign structures it generated itself",
		"when ak.trust passed: the AK lives in a TPM that a trusted AK CA (a cloud provider's vTPM CA) certified, named by the AK certificate; or the AK is enrolled: it passed credential activation against the EK the enrolment names (ek_sha256), so it lives in the TPM holding that EK",
		"when the event log replayed: the boot-time measurements (firmware, bootloader, kernel and whatever else measured boot recorded) that produced those PCR values",
		"extra_data: the caller's nonce, binding the quote to this request when a nonce was given and matched",
	},
	DoesNotProve: []string{
		"without ak.trust: anything about which TPM, or whether a TPM at all, signed the quote",
		"for an enrolled AK: that the EK belongs to a genuine TPM (the EK certificate's chain to a TPM manufacturer is not verified in this version), or that the TPM is still the one enrolled if the enrolment is stale",
		"that the measured software is the software you expect: that is policy, against reference values for the PCRs or the event log",
		"what ran after boot, unless IMA or a runtime measurer extends PCRs and its log is appraised",
		"disk encryption, the integrity of storage, or the confidentiality of memory (a vTPM is not a TEE)",
		"that the event log's PCRs outside the quote's selection are what the log says",
		"freshness, unless a nonce was given and matched extraData",
	},
}

// Verifier appraises TPM 2.0 quotes for package verifier's registry.
type Verifier struct {
	// Enrolled are AKs that passed credential activation; nil means none.
	Enrolled []Enrollment
}

// Kind implements attest.Verifier.
func (*Verifier) Kind() string { return "tpm" }

// Formats lists the evidence formats.
func (*Verifier) Formats() []string { return []string{FormatAttestation, FormatQuoteMsg} }

// Sniff implements attest.Verifier.
func (*Verifier) Sniff(b []byte) (string, bool) { return SniffEvidence(b) }

// SniffCollateral recognises tpm2-tools signature, PCR and AK files.
func (*Verifier) SniffCollateral(b []byte) (string, bool) { return SniffCollateral(b) }

// Appraise implements attest.Verifier.
func (v *Verifier) Appraise(ctx context.Context, b attest.Bundle, p attest.Params) *attest.Result {
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	sum := sha256.Sum256(b.Evidence)
	res := &attest.Result{TEE: "tpm", VerifiedAt: now, Coverage: Coverage,
		Evidence: attest.EvidenceInfo{Format: b.Format, SHA256: hex.EncodeToString(sum[:])}}
	defer res.Finish()
	ev, log, err := Gather(b)
	if err != nil {
		res.Checks = append(res.Checks, attest.Fail("parse", err))
		return res
	}
	res.Evidence.Format = ev.Format
	res.Checks = append(res.Checks, attest.Pass("parse", "%s: %d quote(s) of %s, TPMS_ATTEST magic and type TPM_ST_ATTEST_QUOTE", ev.Format, len(ev.Quotes), quotesString(ev)))
	o := Options{Roots: p.Roots, Nonce: p.Nonce, Now: func() time.Time { return now }, EventLog: log, Enrolled: v.Enrolled}
	if len(o.Roots) == 0 {
		o.Roots = nil
	}
	claims, checks, err := Verify(ctx, ev, o)
	res.Checks = append(res.Checks, checks...)
	if err != nil {
		res.Claims = NewClaims(ev, nil, nil)
		return res
	}
	res.Claims = claims
	return res
}

// Gather parses the evidence and joins to it the collateral of the
// bundle: a signature, PCR values and an AK public for a bare quote, AK
// certificates (supplied ones take precedence over the container's), and
// an event log (a supplied one replaces the container's; returned apart).
func Gather(b attest.Bundle) (*Evidence, []byte, error) {
	format := b.Format
	if format == "tpm" {
		format = ""
	}
	ev, err := ParseEvidence(b.Evidence, format)
	if err != nil {
		return nil, nil, err
	}
	var log []byte
	for _, o := range b.Other {
		f, ok := SniffCollateral(o.Data)
		if !ok {
			if _, ok := tcg.Sniff(o.Data); ok {
				log = o.Data
			}
			continue
		}
		switch f {
		case FormatSignature:
			s, err := ParseSignature(o.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", o.Name, err)
			}
			for _, q := range ev.Quotes {
				if q.Sig == nil {
					q.Sig, q.RawSig = s, o.Data
					break
				}
			}
		case FormatPCRFile:
			pf, err := ParsePCRFile(o.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", o.Name, err)
			}
			for _, q := range ev.Quotes {
				if q.PCRs == nil {
					q.PCRs = pf.Values
				}
			}
		case FormatAKPublic, FormatAKPEM:
			ak, err := ParseAKPublic(o.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", o.Name, err)
			}
			if ev.AK == nil {
				ev.AK = ak
			}
		}
	}
	var leaves []*x509.Certificate
	for _, c := range b.Certificates {
		if c.IsCA {
			ev.Intermediates = append(ev.Intermediates, c)
		} else {
			leaves = append(leaves, c)
		}
	}
	if len(leaves) > 0 {
		ev.AKCert = leaves[0]
		for _, c := range leaves {
			if ev.AK != nil && sameKey(ev.AK.Key, c.PublicKey) {
				ev.AKCert = c
				break
			}
		}
	}
	if ev.AK == nil && ev.AKCert != nil {
		if ak, err := akFromKey(ev.AKCert.PublicKey); err == nil {
			ev.AK = ak
		}
	}
	return ev, log, nil
}

func quotesString(ev *Evidence) string {
	s := ""
	for i, q := range ev.Quotes {
		if i > 0 {
			s += ", "
		}
		s += selectionString(q.Info.PCRSelect)
	}
	return s
}

// Inspect describes TPM evidence or collateral without judging it.
func (*Verifier) Inspect(b []byte, format string) (any, error) {
	switch format {
	case FormatSignature:
		s, err := ParseSignature(b)
		if err != nil {
			return nil, err
		}
		return map[string]any{"scheme": sigString(s)}, nil
	case FormatPCRFile:
		f, err := ParsePCRFile(b)
		if err != nil {
			return nil, err
		}
		return NewClaims(&Evidence{Quotes: []*Quote{{Attest: emptyAttest(), Info: quoteInfo(f), PCRs: f.Values}}}, nil, nil).PCRs, nil
	case FormatAKPublic, FormatAKPEM:
		ak, err := ParseAKPublic(b)
		if err != nil {
			return nil, err
		}
		return akClaims(ak, nil), nil
	}
	ev, err := ParseEvidence(b, format)
	if err != nil {
		return nil, err
	}
	return map[string]any{"format": ev.Format, "quote": NewClaims(ev, nil, nil)}, nil
}
