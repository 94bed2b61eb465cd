// Package verifier turns a set of input files into appraisals: it
// classifies each file by its content (evidence of some TEE, certificate,
// CRL, other collateral), hands each piece of evidence with all the
// collateral to the verifier of its kind, and returns one result per piece
// of evidence. The verifiers themselves live in the subpackages and are
// listed in registry.go.
package verifier

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/assay-dev/assay/attest"
)

// ErrUnrecognized is returned for an input that no verifier, and neither
// the certificate nor the CRL parser, recognises.
var ErrUnrecognized = errors.New("unrecognized input")

// ErrNoEvidence is returned when the inputs hold collateral only.
var ErrNoEvidence = errors.New("no evidence among the inputs")

// Input is one file's content.
type Input struct {
	Name string
	Data []byte
	// Optional inputs (found by walking a directory) are skipped when
	// nothing recognises them, instead of failing the run.
	Optional bool
}

// Role says what an input is.
type Role string

// Roles.
const (
	RoleEvidence    Role = "evidence"
	RoleCertificate Role = "certificate"
	RoleCRL         Role = "crl"
	RoleCollateral  Role = "collateral"
	RoleUnknown     Role = "unknown"
)

// Item is a classified input.
type Item struct {
	Input
	Role Role
	// Kind is the TEE whose verifier recognised it ("snp"), if any.
	Kind string
	// Format names the format within the role ("snp-report", "pem", "der").
	Format       string
	Certificates []*x509.Certificate
	CRLs         []*x509.RevocationList
	verifier     attest.Verifier
}

// collateralSniffer is implemented by verifiers that recognise collateral
// of their own (an SNP certificate table, Intel TCB info JSON).
type collateralSniffer interface {
	SniffCollateral(b []byte) (string, bool)
}

// certificateSniffer is implemented by verifiers whose evidence can travel
// inside an X.509 certificate (a Nitro attestation document in an
// enclave's TLS certificate). Classify asks them about every certificate
// before taking a file for certificates: only a verifier can tell that a
// certificate is a container for its evidence.
type certificateSniffer interface {
	SniffCertificate(c *x509.Certificate) (format string, ok bool)
}

// Inspector is implemented by verifiers that can describe their evidence
// and collateral without judging it.
type Inspector interface {
	Inspect(b []byte, format string) (any, error)
}

// Classify decides what one input is. force, when not empty, names an
// evidence kind or format ("snp", "snp-report") that inputs which are not
// certificates or CRLs are taken to be.
func Classify(in Input, vs []attest.Verifier, force string) (Item, error) {
	it := Item{Input: in, Role: RoleUnknown}
	if certs, crls, format, ok := parseX509(in.Data); ok {
		// A certificate may itself be evidence: an enclave's TLS
		// certificate carrying an attestation document. The verifiers
		// that know such a scheme say so; the file is then evidence,
		// whatever --format says, and not collateral for anyone.
		for _, v := range vs {
			cs, ok := v.(certificateSniffer)
			if !ok {
				continue
			}
			for _, c := range certs {
				if f, ok := cs.SniffCertificate(c); ok {
					it.Role, it.Kind, it.Format, it.verifier = RoleEvidence, v.Kind(), f, v
					return it, nil
				}
			}
		}
		it.Certificates, it.CRLs, it.Format = certs, crls, format
		it.Role = RoleCertificate
		if len(certs) == 0 {
			it.Role = RoleCRL
		}
		return it, nil
	}
	if force != "" {
		for _, v := range vs {
			if force == v.Kind() || slices.Contains(formatsOf(v), force) {
				if cs, ok := v.(collateralSniffer); ok {
					if f, ok := cs.SniffCollateral(in.Data); ok {
						it.Role, it.Kind, it.Format, it.verifier = RoleCollateral, v.Kind(), f, v
						return it, nil
					}
				}
				it.Role, it.Kind, it.Format, it.verifier = RoleEvidence, v.Kind(), force, v
				return it, nil
			}
		}
		return it, fmt.Errorf("%w: unknown --format %q", ErrUnrecognized, force)
	}
	for _, v := range vs {
		if f, ok := v.Sniff(in.Data); ok {
			it.Role, it.Kind, it.Format, it.verifier = RoleEvidence, v.Kind(), f, v
			return it, nil
		}
	}
	for _, v := range vs {
		if cs, ok := v.(collateralSniffer); ok {
			if f, ok := cs.SniffCollateral(in.Data); ok {
				it.Role, it.Kind, it.Format, it.verifier = RoleCollateral, v.Kind(), f, v
				return it, nil
			}
		}
	}
	return it, fmt.Errorf("%w: %s (%d bytes) is not evidence, a certificate, a CRL or collateral this verifier knows", ErrUnrecognized, in.Name, len(in.Data))
}

// formatLister is implemented by verifiers that name the evidence formats
// they read, so that --format can name one.
type formatLister interface {
	Formats() []string
}

func formatsOf(v attest.Verifier) []string {
	if fl, ok := v.(formatLister); ok {
		return fl.Formats()
	}
	return nil
}

// parseX509 recognises PEM (certificates, CRLs) and DER (a certificate or
// a CRL).
func parseX509(b []byte) (certs []*x509.Certificate, crls []*x509.RevocationList, format string, ok bool) {
	// PEM files are text; binary evidence may embed PEM (a DCAP quote
	// carries its PCK chain as PEM) and must not be taken for certificates.
	if bytes.Contains(b, []byte("-----BEGIN ")) && isText(b) {
		rest := b
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			switch blk.Type {
			case "CERTIFICATE":
				c, err := x509.ParseCertificate(blk.Bytes)
				if err != nil {
					return nil, nil, "", false
				}
				certs = append(certs, c)
			case "X509 CRL":
				l, err := x509.ParseRevocationList(blk.Bytes)
				if err != nil {
					return nil, nil, "", false
				}
				crls = append(crls, l)
			}
		}
		if len(certs)+len(crls) > 0 {
			return certs, crls, "pem", true
		}
		return nil, nil, "", false
	}
	if len(b) == 0 || b[0] != 0x30 {
		return nil, nil, "", false
	}
	if c, err := x509.ParseCertificate(b); err == nil {
		return []*x509.Certificate{c}, nil, "der", true
	}
	if l, err := x509.ParseRevocationList(b); err == nil {
		return nil, []*x509.RevocationList{l}, "der", true
	}
	return nil, nil, "", false
}

// Appraise classifies the inputs and appraises each piece of evidence
// with all the certificates, CRLs and collateral among them. It returns an
// error, and no results, when an input is unrecognised or there is no
// evidence: those are problems with the request, not verdicts.
func Appraise(ctx context.Context, vs []attest.Verifier, inputs []Input, force string, p attest.Params) ([]*attest.Result, error) {
	var items []Item
	var errs []error
	for _, in := range inputs {
		it, err := Classify(in, vs, force)
		if err != nil {
			if in.Optional && errors.Is(err, ErrUnrecognized) {
				continue
			}
			errs = append(errs, err)
			continue
		}
		items = append(items, it)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	absorb(items)
	var certs []*x509.Certificate
	var crls []*x509.RevocationList
	var other []attest.NamedBlob
	var names []string
	for _, it := range items {
		certs = append(certs, it.Certificates...)
		crls = append(crls, it.CRLs...)
		if it.Role == RoleCollateral {
			other = append(other, attest.NamedBlob{Name: it.Name, Data: it.Data})
		}
		if it.Role != RoleEvidence {
			names = append(names, it.Name)
		}
	}
	var out []*attest.Result
	for _, it := range items {
		if it.Role != RoleEvidence {
			continue
		}
		format := it.Format
		b := attest.Bundle{Evidence: it.Data, Name: it.Name, Format: format, Certificates: certs, CRLs: crls, Other: other}
		rctx := attest.WithCollateralRecorder(ctx)
		r := it.verifier.Appraise(rctx, b, p)
		r.Evidence.Files = append([]string{it.Name}, names...)
		r.Collateral = attest.RecordedCollateral(rctx)
		if c, ok := attest.Judge(rctx); ok {
			// The operator set a limit on stale collateral (WithFreshness).
			r.Checks = append(r.Checks, c)
			r.Finish()
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %d inputs were all certificates, CRLs or collateral", ErrNoEvidence, len(items))
	}
	return out, nil
}

// isText reports whether b is UTF-8 text without control characters other
// than whitespace.
func isText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}

// absorber is implemented by verifiers whose evidence is composite: when
// their evidence is among the inputs, evidence of another kind that they
// name is a part of it (an Azure TDX VM's HCL report and its TD quote),
// not a separate piece to appraise.
type absorber interface {
	Absorbs(kind, format string) bool
}

// absorb turns evidence that another input's verifier absorbs into
// collateral of that input.
func absorb(items []Item) {
	for i := range items {
		a, ok := items[i].verifier.(absorber)
		if !ok || items[i].Role != RoleEvidence {
			continue
		}
		for j := range items {
			if j == i || items[j].Role != RoleEvidence || items[j].verifier == nil {
				continue
			}
			if _, isAbsorber := items[j].verifier.(absorber); isAbsorber {
				continue
			}
			if a.Absorbs(items[j].Kind, items[j].Format) {
				items[j].Role = RoleCollateral
			}
		}
	}
}
