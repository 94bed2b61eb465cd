package tpm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/eventlog/tcg"
)

// Options of Verify. Passed by value, never written.
type Options struct {
	// Roots are the trusted AK CAs; nil means the embedded cloud vTPM AK
	// CAs (trust/).
	Roots []*x509.Certificate
	// Intermediates are tried beside those the evidence carries and the
	// embedded ones; nil adds none.
	Intermediates []*x509.Certificate
	// Now is the verification time; nil means time.Now.
	Now func() time.Time
	// Nonce is the expected extraData; nil means freshness is not checked,
	// and the nonce check says so.
	Nonce []byte
	// EventLog replaces the event log the evidence carries; nil means the
	// evidence's (and no replay when it carries none).
	EventLog []byte
	// Enrolled are AKs that passed credential activation (assay tpm
	// activate-check); an AK among them passes ak.trust. nil means none.
	Enrolled []Enrollment
	// EKRoots are the trusted EK CAs for an EK certificate supplied with
	// the quote; nil means the embedded TPM vendor and cloud vTPM EK CAs
	// (EmbeddedEKRoots).
	EKRoots []*x509.Certificate
	// IMAPolicy is the allow list that the IMA log's file measurements
	// are judged against, and IMAKeys (with IMAPolicy's own verification
	// keys) the keys that their signatures are checked against. When
	// either is set, the allow list and keys supplied beside the evidence
	// (Evidence.IMAPolicy, Evidence.IMAKeys) are ignored: whoever
	// supplies keys can sign a file into acceptance. Both nil means those
	// supplied beside the evidence; without an allow list ima.allowlist
	// does not run, without keys ima.signatures does not.
	IMAPolicy *tcg.IMAPolicy
	IMAKeys   []tcg.IMAKey
}

// Verification is what Verify established.
type Verification struct {
	// Claims are set only when every check passed.
	Claims *Claims
	// Log is the parsed event log, when one replayed.
	Log *tcg.Log
}

// sanProcessed returns a copy of c (the caller's is not written) whose
// critical subjectAltName, which this package reads itself, no longer
// counts as unhandled for crypto/x509's Verify.
func sanProcessed(c *x509.Certificate) *x509.Certificate {
	leaf := *c
	leaf.UnhandledCriticalExtensions = nil
	for _, e := range c.UnhandledCriticalExtensions {
		if !e.Equal(oidSubjectAltName) {
			leaf.UnhandledCriticalExtensions = append(leaf.UnhandledCriticalExtensions, e)
		}
	}
	return &leaf
}

// oidSubjectAltName: GCE AK certificates mark their TPM-attribute SAN
// critical (TCG EK Credential Profile, section 3.2.9), which crypto/x509
// does not process.
var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// Verify checks a parsed quote, in order: ak.trust; with an EK
// certificate, ek.chain, ek.san and ek.key (VerifyEK; the EK is compared
// with the one an enrolled AK was activated against, or an EK public
// given); signature, pcr.digest, nonce, eventlog.replay; with an IMA log,
// allow list or keys, ima.replay, ima.allowlist and ima.signatures. A
// failed ak.trust or ek check does not stop the others (they still say
// whether the quote is intact), a failed signature does (nothing after it
// would be signed). Claims come back only if every check passed; the
// checks come back either way, and the error wraps the first failure.
func Verify(ctx context.Context, ev *Evidence, o Options) (*Claims, []attest.Check, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	var checks attest.Checks
	if len(ev.Quotes) == 0 {
		err := fmt.Errorf("%w: no quote", ErrMalformed)
		checks.Fail("parse", err)
		return nil, checks.List, err
	}

	// ak.trust: an enrolment (credential activation against an EK) or an
	// AK certificate from a trusted AK CA vouches for the AK.
	enrolment := enrolled(ev.AK, o.Enrolled)
	if e := enrolment; e != nil {
		checks.Pass("ak.trust", "AK activated against EK sha256:%x at %s (enrolled AK name %x)", e.EKSHA256, e.ActivatedAt.UTC().Format(time.RFC3339), e.AK.Name)
	} else if err := akTrust(ev, o, now()); err != nil {
		checks.Fail("ak.trust", err)
	} else {
		c := ev.AKCert
		checks.Pass("ak.trust", "AK certificate %s, issued by %q, chains to a trusted AK CA at %s and certifies the AK public key", certID(c), c.Issuer, now().UTC().Format(time.RFC3339))
	}

	// ek.*: an EK certificate supplied with the quote.
	var ekClaims *EKClaims
	if len(ev.EKCerts) > 0 {
		cert, eo := quoteEK(ev, enrolment, o, now)
		cl, ekChecks, err := VerifyEK(cert, eo)
		checks.Merge(ekChecks, err)
		ekClaims = cl
	}

	// signature
	if ev.AK == nil {
		err := fmt.Errorf("%w: no AK public key (TPM2B_PUBLIC, PEM or AK certificate) was supplied", ErrCollateralMissing)
		checks.Fail("signature", err)
		return nil, checks.List, checks.Err
	}
	var done []string
	for _, q := range ev.Quotes {
		if q.Sig == nil {
			err := fmt.Errorf("%w: no TPMT_SIGNATURE for the quote was supplied", ErrCollateralMissing)
			checks.Fail("signature", err)
			return nil, checks.List, checks.Err
		}
		if err := VerifySignature(ev.AK, q.Sig, q.Raw); err != nil {
			checks.Fail("signature", fmt.Errorf("quote of %s: %w", selectionString(q.Info.PCRSelect), err))
			return nil, checks.List, checks.Err
		}
		done = append(done, sigString(q.Sig))
	}
	checks.Pass("signature", "%d quote(s) signed by the AK: %s", len(ev.Quotes), strings.Join(done, "; "))

	// pcr.digest
	quoted := PCRs{}
	done = done[:0]
	pcrOK := true
	for _, q := range ev.Quotes {
		vals, err := checkPCRDigest(q)
		if err != nil {
			checks.Fail("pcr.digest", err)
			pcrOK = false
			break
		}
		for bank, m := range vals {
			if quoted[bank] == nil {
				quoted[bank] = m // vals is this call's own
				continue
			}
			for i, v := range m {
				if w, ok := quoted[bank][i]; ok && !bytes.Equal(w, v) {
					err := fmt.Errorf("%w: two quotes disagree on %s PCR %d: %x and %x", ErrPCR, bankName(bank), i, w, v)
					checks.Fail("pcr.digest", err)
					pcrOK = false
					break
				}
				quoted[bank][i] = v
			}
		}
		if !pcrOK {
			break
		}
		done = append(done, fmt.Sprintf("%s over %s", hex.EncodeToString(q.Info.PCRDigest.Buffer), selectionString(q.Info.PCRSelect)))
	}
	if pcrOK {
		checks.Pass("pcr.digest", "the supplied PCR values hash to the signed pcrDigest: %s", strings.Join(done, "; "))
	}

	// nonce
	if o.Nonce == nil {
		checks.Skip("nonce", "not checked: no nonce was given; the quote may be a replay (extraData is %x)", ev.Quotes[0].Attest.ExtraData.Buffer)
	} else {
		ok := true
		for _, q := range ev.Quotes {
			if got := q.Attest.ExtraData.Buffer; !bytes.Equal(got, o.Nonce) {
				checks.Fail("nonce", fmt.Errorf("%w: extraData is %x, want %x", ErrNonce, got, o.Nonce))
				ok = false
				break
			}
		}
		if ok {
			checks.Pass("nonce", "extraData of every quote equals the nonce %x", o.Nonce)
		}
	}

	// eventlog.replay
	var log *tcg.Log
	raw := ev.EventLog
	if o.EventLog != nil {
		raw = o.EventLog
	}
	switch {
	case len(raw) == 0:
		checks.Skip("eventlog.replay", "no event log: the PCR values are reported, not explained")
	case !pcrOK:
		checks.Skip("eventlog.replay", "not replayed: the PCR values are not the quoted ones")
	default:
		l, detail, err := replay(raw, quoted)
		if err != nil {
			checks.Fail("eventlog.replay", err)
		} else {
			log = l
			checks.Pass("eventlog.replay", "%s", detail)
		}
	}
	// iak.profile, idevid.*: a device identity certified by the IAK.
	var idevidClaims *IDevIDClaims
	if ev.IDevID != nil {
		cl, idChecks, err := VerifyIDevID(ev.AK, ev.AKCert, ev.IDevID, IDevIDOptions{Roots: o.Roots,
			Intermediates: append(append([]*x509.Certificate{}, ev.Intermediates...), o.Intermediates...), Now: now, Nonce: o.Nonce})
		checks.Merge(idChecks, err)
		idevidClaims = cl
	}
	// ima.*: the IMA measurement list, its allow list and keys.
	policy, keys := ev.IMAPolicy, ev.IMAKeys
	if o.IMAPolicy != nil || o.IMAKeys != nil {
		policy, keys = o.IMAPolicy, o.IMAKeys
		if policy != nil {
			keys = append(append([]tcg.IMAKey{}, keys...), policy.Keys...)
		}
	}
	if len(keys) == 0 {
		keys = nil
	}
	var imaClaims *IMAClaims
	switch {
	case ev.IMALog == nil && policy == nil && keys == nil:
	case !pcrOK:
		checks.Skip("ima.replay", "not replayed: the PCR values are not the quoted ones")
	default:
		imaChecks, cl, err := imaChecks(ev.IMALog, quoted, policy, keys)
		checks.Merge(imaChecks, err)
		imaClaims = cl
	}
	if checks.Err != nil {
		return nil, checks.List, checks.Err
	}
	c := NewClaims(ev, quoted, log)
	c.EK, c.IMA, c.IDevID = ekClaims, imaClaims, idevidClaims
	return c, checks.List, nil
}

// quoteEK picks the EK certificate to judge (the one that certifies the
// EK an enrolled AK was activated against, or the EK public given, when
// one does; else the first) and what to compare it with.
func quoteEK(ev *Evidence, e *Enrollment, o Options, now func() time.Time) (*x509.Certificate, EKOptions) {
	eo := EKOptions{Roots: o.EKRoots, Intermediates: append(append([]*x509.Certificate{}, ev.Intermediates...), o.Intermediates...), Now: now}
	switch {
	case e != nil:
		eo.EKSHA256 = e.EKSHA256
		eo.EKSource = fmt.Sprintf("the EK the quote's AK was activated against (enrolment of %s)", e.ActivatedAt.UTC().Format(time.RFC3339))
	case ev.EK != nil:
		eo.EKSHA256 = ev.EK.SHA256()
		eo.EKSource = "the EK public (TPM2B_PUBLIC) given"
	}
	cert := ev.EKCerts[0]
	if eo.EKSHA256 != nil {
		for _, c := range ev.EKCerts {
			if bytes.Equal((&EK{Key: c.PublicKey}).SHA256(), eo.EKSHA256) {
				cert = c
				break
			}
		}
	}
	return cert, eo
}

// akTrust decides whether anything vouches for the AK.
func akTrust(ev *Evidence, o Options, now time.Time) error {
	if ev.AKCert == nil {
		if len(o.Enrolled) > 0 {
			return fmt.Errorf("%w: no AK certificate was given and the AK (name %x) is none of the %d enrolled AKs; the quote may come from any TPM, or from software holding the key", ErrUnvouched, akName(ev.AK), len(o.Enrolled))
		}
		return fmt.Errorf("%w: no AK certificate was given and the AK is not enrolled (no credential activation against an EK: assay tpm challenge, activate-check, verify --enrolled-ak); the quote may come from any TPM, or from software holding the key", ErrUnvouched)
	}
	if ev.AK != nil && !sameKey(ev.AK.Key, ev.AKCert.PublicKey) {
		return fmt.Errorf("%w: the AK certificate %s certifies another key than the quote's AK", ErrChain, certID(ev.AKCert))
	}
	if ev.AK != nil && ev.AK.Public != nil {
		a := ev.AK.Public.ObjectAttributes
		if !a.Restricted || !a.SignEncrypt || a.Decrypt {
			return fmt.Errorf("%w: the AK is not a restricted signing key (restricted %v, sign %v, decrypt %v): the TPM would sign a forged TPMS_ATTEST with it", ErrUnvouched, a.Restricted, a.SignEncrypt, a.Decrypt)
		}
	}
	roots := o.Roots
	if roots == nil {
		roots = embeddedRoots()
	}
	rp, ip := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range roots {
		rp.AddCert(r)
	}
	for _, c := range append(append(append([]*x509.Certificate{}, ev.Intermediates...), o.Intermediates...), embeddedCerts()...) {
		ip.AddCert(c)
	}
	leaf := sanProcessed(ev.AKCert)
	// AK certificates carry TCG key purposes (2.23.133.8.x), not TLS ones.
	_, err := leaf.Verify(x509.VerifyOptions{Roots: rp, Intermediates: ip, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return fmt.Errorf("%w: AK certificate %s (issuer %q) at %s: %v", ErrChain, certID(ev.AKCert), ev.AKCert.Issuer, now.UTC().Format(time.RFC3339), err)
	}
	return nil
}

func akName(ak *AK) []byte {
	if ak == nil {
		return nil
	}
	return ak.Name
}

func sameKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// VerifySignature checks a TPMT_SIGNATURE over msg with the AK: RSASSA
// (PKCS #1 v1.5), RSAPSS (any salt length, as TPMs differ) or ECDSA.
func VerifySignature(ak *AK, sig *tpm2.TPMTSignature, msg []byte) error {
	switch sig.SigAlg {
	case tpm2.TPMAlgRSASSA, tpm2.TPMAlgRSAPSS:
		var s *tpm2.TPMSSignatureRSA
		var err error
		if sig.SigAlg == tpm2.TPMAlgRSASSA {
			s, err = sig.Signature.RSASSA()
		} else {
			s, err = sig.Signature.RSAPSS()
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		k, ok := ak.Key.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%w: an RSA signature, but the AK is %T", ErrSignature, ak.Key)
		}
		h, err := bankHash(s.Hash)
		if err != nil {
			return err
		}
		d := digest(h, msg)
		if sig.SigAlg == tpm2.TPMAlgRSASSA {
			err = rsa.VerifyPKCS1v15(k, h, d, s.Sig.Buffer)
		} else {
			err = rsa.VerifyPSS(k, h, d, s.Sig.Buffer, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: h})
		}
		if err != nil {
			return fmt.Errorf("%w: %s over %d bytes of TPMS_ATTEST: %v", ErrSignature, sigString(sig), len(msg), err)
		}
		return nil
	case tpm2.TPMAlgECDSA:
		s, err := sig.Signature.ECDSA()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		k, ok := ak.Key.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("%w: an ECDSA signature, but the AK is %T", ErrSignature, ak.Key)
		}
		h, err := bankHash(s.Hash)
		if err != nil {
			return err
		}
		r, ss := new(big.Int).SetBytes(s.SignatureR.Buffer), new(big.Int).SetBytes(s.SignatureS.Buffer)
		if !ecdsa.Verify(k, digest(h, msg), r, ss) {
			return fmt.Errorf("%w: %s over %d bytes of TPMS_ATTEST does not verify", ErrSignature, sigString(sig), len(msg))
		}
		return nil
	}
	return fmt.Errorf("%w: signature scheme %#04x", ErrMalformed, uint16(sig.SigAlg))
}

func digest(h crypto.Hash, b []byte) []byte {
	w := h.New()
	w.Write(b)
	return w.Sum(nil)
}

// CheckPCRDigest recomputes a quote's pcrDigest from q.PCRs with the hash
// of q.Sig (which must be set) and returns the PCR values it covers; the
// error wraps ErrPCR, ErrCollateralMissing or ErrMalformed. Verifiers that
// vouch for the AK by other means (verifier/azcvm) use it with
// VerifySignature.
func CheckPCRDigest(q *Quote) (PCRs, error) {
	if q.Sig == nil {
		return nil, fmt.Errorf("%w: no TPMT_SIGNATURE for the quote was supplied", ErrCollateralMissing)
	}
	return checkPCRDigest(q)
}

// checkPCRDigest recomputes pcrDigest (Part 3, section 18.4.1: the hash of
// the selected PCR values, concatenated bank by bank in selection order and
// PCRs ascending, with the signing scheme's hash) and returns the values it
// covers.
func checkPCRDigest(q *Quote) (PCRs, error) {
	h, err := sigHash(q.Sig)
	if err != nil {
		return nil, err
	}
	w := h.New()
	out := PCRs{}
	for _, s := range q.Info.PCRSelect.PCRSelections {
		bh, err := bankHash(s.Hash)
		if err != nil {
			return nil, err
		}
		sel := Selected(s)
		if out[s.Hash] == nil && len(sel) > 0 {
			out[s.Hash] = make(map[int][]byte, len(sel))
		}
		for _, i := range sel {
			v, ok := q.PCRs[s.Hash][i]
			if !ok {
				return nil, fmt.Errorf("%w: the quote selects %s PCR %d but its value was not supplied", ErrCollateralMissing, bankName(s.Hash), i)
			}
			if len(v) != bh.Size() {
				return nil, fmt.Errorf("%w: %s PCR %d is %d bytes, want %d", ErrMalformed, bankName(s.Hash), i, len(v), bh.Size())
			}
			w.Write(v)
			out[s.Hash][i] = v
		}
	}
	if got := w.Sum(nil); !bytes.Equal(got, q.Info.PCRDigest.Buffer) {
		return nil, fmt.Errorf("%w: %s of the supplied %s values is %x, the quote's pcrDigest %x", ErrPCR, hashName(h), selectionString(q.Info.PCRSelect), got, q.Info.PCRDigest.Buffer)
	}
	return out, nil
}

func sigHash(sig *tpm2.TPMTSignature) (crypto.Hash, error) {
	switch sig.SigAlg {
	case tpm2.TPMAlgRSASSA:
		s, err := sig.Signature.RSASSA()
		if err != nil {
			return 0, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		return bankHash(s.Hash)
	case tpm2.TPMAlgRSAPSS:
		s, err := sig.Signature.RSAPSS()
		if err != nil {
			return 0, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		return bankHash(s.Hash)
	case tpm2.TPMAlgECDSA:
		s, err := sig.Signature.ECDSA()
		if err != nil {
			return 0, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		return bankHash(s.Hash)
	}
	return 0, fmt.Errorf("%w: signature scheme %#04x", ErrMalformed, uint16(sig.SigAlg))
}

// lastFirmwarePCR: the platform firmware logs every extension of PCRs 0-7
// (TCG PC Client Platform Firmware Profile 1.06, section 3.3.4), so those
// are compared even when the log has no event for them (a non-initial
// value then means events missing from the log). Higher PCRs are compared
// only when the log extends them: PCR 10 belongs to IMA's own log, PCRs
// 11-15 to the operating system's.
const lastFirmwarePCR = 7

func sortedKeys(m map[int][]byte) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// replay parses the event log and compares its replay with the quoted PCR
// values of every bank both have.
func replay(raw []byte, quoted PCRs) (*tcg.Log, string, error) {
	log, err := tcg.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrEventLog, err)
	}
	logged := map[int]bool{}
	for i := range log.Events {
		if e := &log.Events[i]; e.Extends() {
			logged[e.PCR] = true
		}
	}
	var compared []string
	for _, bank := range sortedBanks(quoted) {
		h, _ := bankHash(bank)
		has := false
		for _, b := range log.Banks() {
			has = has || b == h
		}
		if !has {
			continue
		}
		cmp := map[int][]byte{}
		for i, v := range quoted[bank] {
			if i <= lastFirmwarePCR || logged[i] {
				cmp[i] = v
			}
		}
		if err := log.Compare(h, cmp); err != nil {
			return nil, "", fmt.Errorf("%w: %s bank: %v", ErrEventLog, bankName(bank), err)
		}
		compared = append(compared, fmt.Sprintf("%s PCRs %v", bankName(bank), sortedKeys(cmp)))
	}
	if len(compared) == 0 {
		var lb []string
		for _, b := range log.Banks() {
			lb = append(lb, hashName(b))
		}
		var qb []string
		for _, b := range sortedBanks(quoted) {
			qb = append(qb, bankName(b))
		}
		return nil, "", fmt.Errorf("%w: the log has banks [%s], the quote [%s]: nothing to compare", ErrEventLog, strings.Join(lb, " "), strings.Join(qb, " "))
	}
	return log, "the event log replays to the quoted PCR values: " + strings.Join(compared, ", "), nil
}

func hashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA1:
		return "sha1"
	case crypto.SHA256:
		return "sha256"
	case crypto.SHA384:
		return "sha384"
	}
	return h.String()
}

func selectionString(l tpm2.TPMLPCRSelection) string {
	// By hand, not fmt's %v: it runs on every verification.
	var b []byte
	for i, s := range l.PCRSelections {
		if i > 0 {
			b = append(b, '+')
		}
		b = append(b, bankName(s.Hash)...)
		b = append(b, '[')
		for j, p := range Selected(s) {
			if j > 0 {
				b = append(b, ' ')
			}
			b = strconv.AppendInt(b, int64(p), 10)
		}
		b = append(b, ']')
	}
	if len(b) == 0 {
		return "no PCRs"
	}
	return string(b)
}

func sigString(sig *tpm2.TPMTSignature) string {
	scheme := map[tpm2.TPMAlgID]string{tpm2.TPMAlgRSASSA: "RSASSA", tpm2.TPMAlgRSAPSS: "RSAPSS", tpm2.TPMAlgECDSA: "ECDSA"}[sig.SigAlg]
	h, err := sigHash(sig)
	if err != nil {
		return scheme
	}
	return scheme + "-" + strings.ToUpper(hashName(h))
}

// certID names a certificate by subject, or by serial when the subject is
// empty (GCE AK certificates name the instance in a SAN only).
func certID(c *x509.Certificate) string {
	if s := c.Subject.String(); s != "" {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("serial %#x", c.SerialNumber)
}
