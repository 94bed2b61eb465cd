package nitro

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/assay-dev/assay/attest"
)

// Coverage of a verified Nitro attestation document. The PCR meanings are
// those of the AWS Nitro Enclaves User Guide, "Where to get an enclave's
// measurements".
var Coverage = attest.Coverage{
	Proves: []string{
		"the document was issued by the Nitro Security Module of an AWS Nitro Enclave, running on AWS Nitro hardware, and signed with a certificate that chains to the AWS Nitro Enclaves Root-G1 (through the region's and the zone's CAs, to a certificate for the parent instance)",
		"PCR0: the enclave image file (EIF); PCR1: the Linux kernel and bootstrap; PCR2: the application; all three are zero for an enclave started in debug mode",
		"PCR3: the IAM role of the parent instance (when it has one); PCR4: the parent instance's ID; PCR8: the certificate that signed the EIF (when it was signed)",
		"module_id (the parent instance and the enclave) and the time the document was issued",
		"user_data, nonce and public_key: the values the enclave asked the NSM to sign, binding a nonce or a key to this enclave; for a document carried in a certificate, that the enclave holds that certificate's key",
	},
	DoesNotProve: []string{
		"anything about the parent instance beyond PCR3 and PCR4: its operating system and software, and who controls it, are outside the enclave's trust boundary",
		"what the enclave did after it started, or what the parent instance gives it over vsock",
		"that PCR0-2 are the image you expect or PCR8 the signer you expect: that is policy, against reference values (nitro-cli build-enclave and describe-eif print them)",
		"the meaning of PCRs other than 0-4 and 8: PCR16-31 hold whatever the enclave's software extended into them",
		"freshness, unless a nonce was given and matched the document's nonce field; without one the document may be a replay, whose age only the signing certificate's validity (about three hours) bounds when verified at the current time",
		"revocation: the AWS Nitro PKI publishes no CRLs (its certificates are short-lived instead)",
		"for a document carried in a certificate, the certificate's names and issuer: only that the document binds its key",
	},
}

// Verifier appraises Nitro attestation documents for package verifier's
// registry.
type Verifier struct {
	// Policy is the built-in appraisal policy; the zero value is the
	// default.
	Policy Policy
	// Cache is shared across appraisals; nil is none.
	Cache *Cache
}

// Kind implements attest.Verifier.
func (*Verifier) Kind() string { return "nitro" }

// Formats lists the evidence formats ParseEvidence reads.
func (*Verifier) Formats() []string {
	return []string{FormatDocument, FormatDocumentBase64, FormatCertificate}
}

// Sniff implements attest.Verifier.
func (*Verifier) Sniff(b []byte) (string, bool) { return SniffEvidence(b) }

// SniffCertificate tells package verifier's classifier that a certificate
// carrying a document is evidence, not collateral.
func (*Verifier) SniffCertificate(c *x509.Certificate) (string, bool) { return SniffCertificate(c) }

// Appraise implements attest.Verifier: parse, verify, then policy.
// Certificates and CRLs given beside the document are not used: the
// document carries its own chain, and the trust anchors are the embedded
// root or Params.Roots.
func (v *Verifier) Appraise(_ context.Context, b attest.Bundle, p attest.Params) *attest.Result {
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	res := &attest.Result{
		TEE:        "nitro",
		VerifiedAt: now,
		Coverage:   Coverage,
		Evidence:   attest.EvidenceInfo{Format: b.Format, SHA256: sha256Hex(b.Evidence)},
	}
	defer res.Finish()
	format := b.Format
	if format == "nitro" {
		format = ""
	}
	ev, err := ParseEvidence(b.Evidence, format)
	if err != nil {
		res.Checks = append(res.Checks, attest.Fail("parse", err))
		return res
	}
	d := ev.Document
	res.Evidence.Format = ev.Format
	res.Checks = append(res.Checks, attest.Pass("parse", "%s: %s, ES384, %d-byte payload: module_id %s, digest %s, %d PCRs of %d bytes, certificate and %d-certificate cabundle%s",
		ev.Format, envelope(d), len(d.Payload), d.ModuleID, d.Digest, len(d.PCRs), pcrSize, len(d.CABundle), carrierNote(ev)))
	opts := Options{Roots: p.Roots, Now: func() time.Time { return now }, Nonce: p.Nonce, Carrier: ev.Carrier, Cache: v.Cache}
	if len(opts.Roots) == 0 {
		opts.Roots = nil
	}
	ver, checks, verr := Verify(d, opts)
	res.Checks = append(res.Checks, checks...)
	if verr != nil {
		// Show what the document states, marked by the status as unverified.
		res.Claims = NewClaims(d, ev.Carrier)
		return res
	}
	res.Claims = ver.Claims
	res.Checks = append(res.Checks, v.Policy.Apply(ver.Claims)...)
	return res
}

func envelope(d *Document) string {
	if d.Tagged {
		return "COSE_Sign1 (tag 18)"
	}
	return "COSE_Sign1 (untagged)"
}

func carrierNote(ev *Evidence) string {
	if ev.Carrier == nil {
		return ""
	}
	return fmt.Sprintf("; carried, hex-encoded, in a subjectAltName dNSName of %q", ev.Carrier.Subject.String())
}

// Inspect describes a Nitro document without judging it.
func (*Verifier) Inspect(b []byte, format string) (any, error) {
	if format == "nitro" {
		format = ""
	}
	ev, err := ParseEvidence(b, format)
	if err != nil {
		return nil, err
	}
	var bundle []string
	for _, c := range ev.Document.CABundle {
		bundle = append(bundle, c.Subject.String())
	}
	return map[string]any{
		"format":   ev.Format,
		"tagged":   ev.Document.Tagged,
		"document": NewClaims(ev.Document, ev.Carrier),
		"cabundle": bundle,
	}, nil
}
