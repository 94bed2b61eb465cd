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
		"with an EK certificate (ek.chain, ek.san, ek.key): that a TPM vendor (or cloud vTPM) CA certified the EK for a TPM of the manufacturer, model and version named (ek.manufacturer, ek.model, ek.version); that this TPM is the quote's only when ek.bound: the EK is the one the enrolled AK was activated against",
		"with an IDevID (iak.profile, idevid.certificate, idevid.certify): that the device maker's CA certified the AK as the IAK of a hardware module (hardware_serial) and the IDevID key as that module's, and that the IDevID key is in the quote's TPM",
		"when ima.boot_aggregate passed: the IMA list began on the boot whose PCRs 0-7 (0-9) the quote shows",
		"when ima.replay passed: the IMA measurements (file paths and digests, signatures) up to the quote, bound through PCR 10; with ima.allowlist and ima.signatures, that each measured file was allowed by the allow list or validly signed by a key given",
		"extra_data: the caller's nonce, binding the quote to this request when a nonce was given and matched",
	},
	DoesNotProve: []string{
		"without ak.trust: anything about which TPM, or whether a TPM at all, signed the quote",
		"for an enrolled AK without an EK certificate bound to it (ek.bound): that the EK belongs to a genuine TPM; and in any case that the TPM is still the one enrolled if the enrolment is stale",
		"that an EK certificate vouches for the quote's TPM when ek.bound is false: the certificate is then checked on its own",
		"that a file is benign because IMA measured it, or that files IMA's policy did not measure are; ima-buf entries and a Keylime policy's keyrings are not judged; the allow list and keys are only as trustworthy as whoever supplied them",
		"that the measured software is the software you expect: that is policy, against reference values for the PCRs or the event log",
		"what ran after boot, unless IMA or a runtime measurer extends PCRs and its log is given and appraised (ima.*)",
		"disk encryption, the integrity of storage, or the confidentiality of memory (a vTPM is not a TEE)",
		"that the event log's PCRs outside the quote's selection are what the log says",
		"freshness, unless a nonce was given and matched extraData",
	},
}

// Verifier appraises TPM 2.0 quotes for package verifier's registry.
type Verifier struct {
	// Enrolled are AKs that passed credential activation; nil means none.
	Enrolled []Enrollment
	// IMAPolicy and IMAKeys are an IMA allow list and signature keys the
	// operator holds. When either is set, the allow lists and keys among
	// a bundle's files are ignored: in a service the bundle is the
	// attester's, and whoever supplies keys can sign a file into
	// acceptance. Both nil means those among the bundle's files, if any.
	IMAPolicy *tcg.IMAPolicy
	IMAKeys   []tcg.IMAKey
	// OperatorIMAOnly ignores IMA allow lists and keys among a bundle's
	// files even when the operator configured none (the service, where
	// the bundle is the attester's): IMA appraisal then judges nothing
	// rather than what the attester vouches for.
	OperatorIMAOnly bool
}

// Kind implements attest.Verifier.
func (*Verifier) Kind() string { return "tpm" }

// Formats lists the evidence formats.
func (*Verifier) Formats() []string {
	return []string{FormatEvidenceFile, FormatAttestation, FormatGoAttestation, FormatQuoteMsg}
}

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
	if v.OperatorIMAOnly {
		ev.IMAPolicy, ev.IMAKeys = nil, nil
	}
	res.Checks = append(res.Checks, attest.Pass("parse", "%s: %d quote(s) of %s, TPMS_ATTEST magic and type TPM_ST_ATTEST_QUOTE", ev.Format, len(ev.Quotes), quotesString(ev)))
	o := Options{Roots: p.Roots, EKRoots: p.Roots, Nonce: p.Nonce, Now: func() time.Time { return now }, EventLog: log, Enrolled: v.Enrolled,
		IMAPolicy: v.IMAPolicy, IMAKeys: v.IMAKeys}
	if len(o.Roots) == 0 {
		o.Roots, o.EKRoots = nil, nil
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
// certificates (supplied ones take precedence over the container's), EK
// certificates and an EK public, an IMA log, allow list and keys, and a
// firmware event log (a supplied one replaces the container's; returned
// apart).
//
// Supplied certificates are sorted by what they certify: CAs are
// intermediates; EK certificates are told by their profile
// (IsEKCertificate); the AK certificate is the one that certifies the AK,
// or, when the AK is known only from a certificate, the first other leaf
// that is not an IMA key; the remaining leaves are IMA keys (a
// certificate of another key than a known AK is not taken for the AK's).
// A PEM public key is an IMA key when the AK is known otherwise (the
// container, a TPM2B_PUBLIC, an AK certificate of another key) or when its
// key ID names a signature in the IMA log; otherwise it is the AK.
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
	var pemKeys []attest.NamedBlob
	for _, o := range b.Other {
		f, ok := SniffCollateral(o.Data)
		if !ok {
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
		case FormatAKPublic:
			// A restricted decryption key is an EK (tpm2_createek -u);
			// an AK is a signing key.
			if ek, err := ParseEK(o.Data); err == nil {
				if ev.EK == nil {
					ev.EK = ek
				}
				continue
			}
			ak, err := ParseAKPublic(o.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", o.Name, err)
			}
			if ev.AK == nil {
				ev.AK = ak
			}
		case FormatAKPEM:
			pemKeys = append(pemKeys, o)
		case FormatIMALog:
			ev.IMALog = o.Data
		case FormatIMAAllowList, FormatKeylimePolicy:
			if ev.IMAPolicy != nil {
				return nil, nil, fmt.Errorf("%w: %s: a second IMA allow list; give one", ErrMalformed, o.Name)
			}
			p, err := tcg.ParseIMAPolicy(o.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", o.Name, err)
			}
			ev.IMAPolicy = p
			ev.IMAKeys = append(ev.IMAKeys, p.Keys...)
		default:
			if _, ok := tcg.Sniff(o.Data); ok {
				log = o.Data
			}
		}
	}
	sigKeys := imaSignatureKeyIDs(ev.IMALog)
	var leaves []*x509.Certificate
	for _, c := range b.Certificates {
		switch {
		case c.IsCA:
			ev.Intermediates = append(ev.Intermediates, c)
		case IsEKCertificate(c):
			ev.EKCerts = append(ev.EKCerts, c)
		default:
			leaves = append(leaves, c)
		}
	}
	// With no AK yet, the first leaf that is not an IMA key is taken for
	// the AK's certificate, and a PEM key of another key is an IMA key.
	var akCandidate *x509.Certificate
	if ev.AK == nil {
		for _, c := range leaves {
			if !isIMAKeyCert(c, sigKeys) {
				akCandidate = c
				break
			}
		}
	}
	for _, o := range pemKeys {
		ak, err := ParseAKPublic(o.Data)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", o.Name, err)
		}
		if ev.AK != nil && sameKey(ev.AK.Key, ak.Key) {
			continue // the AK, given twice
		}
		ik, ierr := tcg.ParseIMAKeys(o.Data, o.Name)
		isAK := ev.AK == nil && (akCandidate != nil && sameKey(akCandidate.PublicKey, ak.Key) ||
			akCandidate == nil && (ierr != nil || !sigKeys[ik[0].ID]))
		switch {
		case isAK:
			ev.AK = ak
		case ierr == nil:
			ev.IMAKeys = append(ev.IMAKeys, ik...)
		}
	}
	var akCert *x509.Certificate
	for _, c := range leaves {
		if ev.AK != nil && sameKey(ev.AK.Key, c.PublicKey) {
			akCert = c
			break
		}
	}
	if akCert == nil && ev.AK == nil {
		akCert = akCandidate
	}
	if akCert != nil {
		ev.AKCert = akCert
	}
	for _, c := range leaves {
		if c == akCert {
			continue
		}
		if k, err := tcg.IMAKeyFromCertificate(c); err == nil {
			ev.IMAKeys = append(ev.IMAKeys, k)
		}
	}
	if ev.AK == nil && ev.AKCert != nil {
		if ak, err := akFromKey(ev.AKCert.PublicKey); err == nil {
			ev.AK = ak
		}
	}
	return ev, log, nil
}

// imaSignatureKeyIDs collects the key IDs of the signatures in an IMA
// log, which tell an IMA key from an AK.
func imaSignatureKeyIDs(raw []byte) map[[4]byte]bool {
	out := map[[4]byte]bool{}
	if raw == nil {
		return out
	}
	l, err := tcg.ParseIMA(raw)
	if err != nil {
		return out
	}
	for _, id := range l.SignatureKeyIDs() {
		out[id] = true
	}
	return out
}

// isIMAKeyCert: a leaf that signs code (extended key usage codeSigning,
// as kernel IMA keys are made) or whose key ID names a signature in the
// IMA log.
func isIMAKeyCert(c *x509.Certificate, sigKeys map[[4]byte]bool) bool {
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageCodeSigning {
			return true
		}
	}
	k, err := tcg.IMAKeyFromCertificate(c)
	return err == nil && sigKeys[k.ID]
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
		// A TPM2B_PUBLIC of a restricted decryption key is an EK's.
		if ek, err := ParseEK(b); err == nil && format == FormatAKPublic {
			return map[string]any{"ek": map[string]any{"algorithm": keyAlgorithm(ek.Key), "public_key_sha256": fmt.Sprintf("%x", ek.SHA256())}}, nil
		}
		ak, err := ParseAKPublic(b)
		if err != nil {
			return nil, err
		}
		return akClaims(ak, nil), nil
	case tcg.FormatCryptoAgile, tcg.FormatSHA1:
		l, err := tcg.Parse(b)
		if err != nil {
			return nil, err
		}
		return l.Claims(), nil
	case FormatIMALog:
		l, err := tcg.ParseIMA(b)
		if err != nil {
			return nil, err
		}
		return l.Claims(), nil
	case FormatIMAAllowList, FormatKeylimePolicy:
		p, err := tcg.ParseIMAPolicy(b)
		if err != nil {
			return nil, err
		}
		var keys []string
		for _, k := range p.Keys {
			keys = append(keys, k.IDString()+" "+k.Source)
		}
		return map[string]any{"format": p.Format, "paths": len(p.Digests), "digests": p.Entries(), "excludes": p.Excludes, "verification_keys": keys, "not_evaluated": p.Unevaluated}, nil
	}
	ev, err := ParseEvidence(b, format)
	if err != nil {
		return nil, err
	}
	return map[string]any{"format": ev.Format, "quote": NewClaims(ev, nil, nil)}, nil
}
