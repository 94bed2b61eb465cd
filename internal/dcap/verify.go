package dcap

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/assay-dev/assay/attest"
)

// The Intel SGX Root CA is the trust anchor of every DCAP quote and of
// Intel's collateral. Beside it are embedded the intermediates Intel
// publishes (PCK Platform CA, PCK Processor CA, the TCB Signing
// certificates of 2018-2025 and 2025-2032, which share one key), so that
// collateral verifies offline without its issuer chain. Intermediates are
// verified against the root on every use. Provenance and fingerprints:
// docs/trust-anchors.md.
//
//go:embed trust/*.pem
var trustFS embed.FS

// EmbeddedCerts returns the embedded Intel certificates, freshly parsed.
func EmbeddedCerts() []*x509.Certificate {
	files, _ := fs.Glob(trustFS, "trust/*.pem")
	var out []*x509.Certificate
	for _, f := range files {
		b, _ := trustFS.ReadFile(f)
		blk, _ := pem.Decode(b)
		if blk == nil {
			panic("dcap: embedded " + f + " is not PEM")
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			panic("dcap: embedded " + f + ": " + err.Error())
		}
		out = append(out, c)
	}
	return out
}

var embedded = sync.OnceValue(EmbeddedCerts)

const rootCN = "Intel SGX Root CA"

// EmbeddedRoot returns the embedded Intel SGX Root CA.
func EmbeddedRoot() *x509.Certificate {
	for _, c := range embedded() {
		if c.Subject.CommonName == rootCN {
			return c
		}
	}
	panic("dcap: no embedded root")
}

// Cache remembers verified signatures (certificates, CRLs, collateral) and
// parsed PCK chains, so that a warm verification costs the two
// quote-specific ECDSA verifications (quote and QE report) and little
// else. Validity windows, revocation lists and TCB matching are evaluated
// on every call. Safe for concurrent use; the zero value is ready.
type Cache struct {
	// m holds verified (document, signer key) pairs. The document is the
	// whole signed object, signature included, so a copy with the same
	// signed content and another signature is verified afresh.
	m      sync.Map
	chains sync.Map // PCK certification data -> *parsedChain
}

type parsedChain struct {
	certs []*x509.Certificate
	ext   *PCKExtensions
	err   error
}

// pckChain parses the quote's PCK chain and the PCK's SGX extensions,
// once per distinct certification data when a cache is given.
func (c *Cache) pckChain(q *Quote) ([]*x509.Certificate, *PCKExtensions, error) {
	parse := func() *parsedChain {
		certs, err := q.PCKChain()
		if err != nil {
			return &parsedChain{err: err}
		}
		ext, err := ParsePCKExtensions(certs[0])
		return &parsedChain{certs: certs, ext: ext, err: err}
	}
	if c == nil {
		p := parse()
		return p.certs, p.ext, p.err
	}
	var t [2]byte
	binary.LittleEndian.PutUint16(t[:], q.CertDataType)
	key := cacheKey(t[:], q.CertData)
	if v, ok := c.chains.Load(key); ok {
		p := v.(*parsedChain)
		return p.certs, p.ext, p.err
	}
	p := parse()
	if p.err == nil {
		c.chains.Store(key, p)
	}
	return p.certs, p.ext, p.err
}

// cacheKey digests the parts of a cache key (each length-prefixed), so
// that keys are small whatever the size of the documents they name.
func cacheKey(parts ...[]byte) [32]byte {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.LittleEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (c *Cache) checked(key [32]byte, verify func() error) error {
	if c == nil {
		return verify()
	}
	if _, ok := c.m.Load(key); ok {
		return nil
	}
	if err := verify(); err != nil {
		return err
	}
	c.m.Store(key, struct{}{})
	return nil
}

// Options for Verify. Verify never writes to them.
type Options struct {
	// Roots are the trusted roots. Nil means the embedded Intel SGX Root CA.
	Roots []*x509.Certificate
	// Certificates are untrusted certificates supplied with the quote:
	// TCB signing chain, PCK CA. The embedded intermediates are always
	// considered too.
	Certificates []*x509.Certificate
	// CRLs supplied: the Root CA CRL and the PCK CRL. Nil: revocation is
	// reported as unchecked.
	CRLs []*x509.RevocationList
	// TCBInfos and QEIdentities supplied; the ones for this quote (TEE,
	// FMSPC) are picked. Without them the TCB is not appraised and the
	// quote is rejected, naming what to supply.
	TCBInfos     []*TCBInfo
	QEIdentities []*QEIdentity
	// Now is the verification time. Nil means time.Now.
	Now func() time.Time
	// Nonce is the expected REPORT_DATA (zero-padded to 64 bytes). Nil:
	// freshness is not checked, and the nonce check says so.
	Nonce []byte
	// Cache of verified signatures; nil is none.
	Cache *Cache
	// Collateral fetches TCB info, QE identity and CRLs that were not
	// supplied (Intel PCS). Nil means offline: only what was supplied.
	Collateral Getter
	// TCBTiers overrides DefaultTier for the statuses it lists: the tier
	// ("affirming", "warning", "contraindicated") a converged TCB status
	// gives. Nil means the default for every status.
	TCBTiers map[TCBStatus]string
}

// Verification is what Verify established.
type Verification struct {
	PCK     *PCKExtensions
	PCKCert *x509.Certificate
	// TCB is the converged TCB status of platform, TDX module and QE, set
	// when TCB levels matched.
	TCB      *TCBResult
	Platform *TCBResult
	Module   *TCBResult
	QE       *TCBResult
	TCBInfo  *TCBInfo
}

// Verify appraises a quote: header, PCK chain to a trusted root, CRLs, the
// QE report signature and its binding of the attestation key, the quote
// signature, the collateral's signatures and validity, QE identity, TCB
// level matching and the nonce. Checks come back in order whether they
// pass or not; the error wraps the first failure's kind. The TCB status
// itself is reported as a check whose severity follows DefaultTier: a
// Revoked TCB fails, an out-of-date one warns.
func Verify(ctx context.Context, q *Quote, o Options) (*Verification, []attest.Check, error) {
	v := &verification{ctx: ctx, q: q, o: o, now: time.Now, out: &Verification{}}
	if o.Now != nil {
		v.now = o.Now
	}
	v.run()
	return v.out, v.List, v.Err
}

type verification struct {
	ctx           context.Context
	q             *Quote
	o             Options
	now           func() time.Time
	out           *Verification
	attest.Checks // the checks in order and the first failure
}

func (v *verification) run() {
	q, now := v.q, v.now()
	tee := "SGX"
	if q.IsTDX() {
		tee = "TDX"
	}
	if q.Header.QEVendorID != IntelQEVendorID {
		v.Fail("header", fmt.Errorf("%w: QE_VENDOR_ID is %x, want Intel's %x", ErrMalformed, q.Header.QEVendorID, IntelQEVendorID))
		return
	}
	v.Pass("header", "%s quote version %d, ECDSA P-256 attestation key, Intel quoting enclave", tee, q.Header.Version)

	// PCK chain.
	chain, ext, err := v.o.Cache.pckChain(q)
	if chain == nil {
		v.Fail("chain.pck", err)
		return
	}
	pck, pckCA := chain[0], chain[1]
	if !v.chain(pck, pckCA, now) {
		return
	}
	if err != nil {
		v.Fail("pck.extensions", err)
		return
	}
	v.out.PCK, v.out.PCKCert = ext, pck
	v.Pass("pck.extensions", "FMSPC %X, PCE-ID %X, PCESVN %d, SGX TCB components %s", ext.FMSPC[:], ext.PCEID[:], ext.PCESVN, hex.EncodeToString(ext.SGXComponents[:]))

	// Revocation of the PCK CA (Root CA CRL) and the PCK (PCK CRL).
	root := v.trustedIssuer(pckCA)
	v.revocation("crl.root", root, pckCA, now)
	v.revocation("crl.pck", pckCA, pck, now)

	// The QE report, signed by the PCK key, binds the attestation key.
	pckKey, ok := pck.PublicKey.(*ecdsa.PublicKey)
	if !ok || pckKey.Curve != elliptic.P256() {
		v.Fail("qe.signature", fmt.Errorf("%w: PCK public key is %T, want ECDSA P-256", ErrChain, pck.PublicKey))
		return
	}
	if !verifyP256(pckKey, q.QEReport.Raw(), q.QEReportSignature) {
		v.Fail("qe.signature", fmt.Errorf("%w: the QE report signature does not verify with the PCK key", ErrSignature))
	} else {
		v.Pass("qe.signature", "QE report is signed by the PCK key")
	}
	h := sha256.New()
	h.Write(q.AttestationKey[:])
	h.Write(q.QEAuthData)
	want := h.Sum(nil)
	rd := q.QEReport.ReportData
	if !bytes.Equal(rd[:32], want) || firstNonZero(rd[32:]) >= 0 {
		v.Fail("qe.binding", fmt.Errorf("%w: QE REPORTDATA is %x, want SHA-256(attestation key || QE auth data) = %x followed by zeros", ErrSignature, rd[:], want))
	} else {
		v.Pass("qe.binding", "QE REPORTDATA = SHA-256(attestation key || %d bytes of QE auth data)", len(q.QEAuthData))
	}

	// The quote signature by the attestation key.
	ak, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, q.AttestationKey[:]...))
	switch {
	case err != nil:
		v.Fail("signature", fmt.Errorf("%w: the attestation key is not a P-256 point: %v", ErrSignature, err))
	case !verifyP256(ak, q.Signed(), q.Signature):
		v.Fail("signature", fmt.Errorf("%w: the quote signature over header and body does not verify with the attestation key", ErrSignature))
	default:
		v.Pass("signature", "ECDSA P-256 SHA-256 signature over the %d-byte header and body verifies with the attestation key", len(q.Signed()))
	}

	v.collateral(ext, now, tee)
	v.nonce()
}

// chain verifies PCK -> PCK CA -> trusted root and reports each link.
func (v *verification) chain(pck, pckCA *x509.Certificate, now time.Time) bool {
	root := v.trustedIssuer(pckCA)
	if root == nil {
		v.Fail("chain.root", fmt.Errorf("%w: %s (issuer %q) does not chain to a trusted root", ErrChain, pckCA.Subject.CommonName, pckCA.Issuer.CommonName))
		return false
	}
	ok := true
	if err := validAt(root, now); err != nil {
		v.Fail("chain.root", err)
		ok = false
	} else {
		v.Pass("chain.root", "%s is a trusted root (SHA-256 %s…), valid until %s", root.Subject.CommonName, fingerprint(root)[:16], day(root.NotAfter))
	}
	for _, l := range []struct {
		name          string
		child, parent *x509.Certificate
		ca            bool
	}{{"chain.pck_ca", pckCA, root, true}, {"chain.pck", pck, pckCA, false}} {
		if err := v.link(l.child, l.parent, now, l.ca); err != nil {
			v.Fail(l.name, err)
			ok = false
			continue
		}
		v.Pass(l.name, "%s (serial %x) signed by %s, valid %s to %s", l.child.Subject.CommonName, l.child.SerialNumber, l.parent.Subject.CommonName, day(l.child.NotBefore), day(l.child.NotAfter))
	}
	return ok
}

func (v *verification) link(child, parent *x509.Certificate, now time.Time, wantCA bool) error {
	if err := validAt(child, now); err != nil {
		return err
	}
	if !parent.IsCA || !parent.BasicConstraintsValid {
		return fmt.Errorf("%w: issuer %s is not a CA", ErrChain, parent.Subject.CommonName)
	}
	if wantCA && (!child.IsCA || !child.BasicConstraintsValid) {
		return fmt.Errorf("%w: %s is not a CA", ErrChain, child.Subject.CommonName)
	}
	if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
		return fmt.Errorf("%w: %s is issued by %q, not %q", ErrChain, child.Subject.CommonName, child.Issuer.CommonName, parent.Subject.CommonName)
	}
	err := v.o.Cache.checked(cacheKey(child.Raw, parent.RawSubjectPublicKeyInfo), func() error {
		return parent.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature)
	})
	if err != nil {
		return fmt.Errorf("%w: %s signature by %s does not verify: %v", ErrChain, child.Subject.CommonName, parent.Subject.CommonName, err)
	}
	return nil
}

// trustedIssuer returns the trusted root that issued c, or nil.
func (v *verification) trustedIssuer(c *x509.Certificate) *x509.Certificate {
	roots := v.o.Roots
	if roots == nil {
		roots = []*x509.Certificate{EmbeddedRoot()}
	}
	for _, r := range roots {
		if !bytes.Equal(r.RawSubject, c.RawIssuer) {
			continue
		}
		err := v.o.Cache.checked(cacheKey(c.Raw, r.RawSubjectPublicKeyInfo), func() error {
			return r.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
		})
		if err == nil {
			return r
		}
	}
	return nil
}

// revocation checks that issuer's CRL does not list subject.
func (v *verification) revocation(name string, issuer, subject *x509.Certificate, now time.Time) {
	if issuer == nil {
		return
	}
	var crl *x509.RevocationList
	for _, c := range v.o.CRLs {
		if !bytes.Equal(c.RawIssuer, issuer.RawSubject) {
			continue
		}
		err := v.o.Cache.checked(cacheKey(c.Raw, issuer.RawSubjectPublicKeyInfo), func() error { return c.CheckSignatureFrom(issuer) })
		if err != nil {
			v.Fail(name, fmt.Errorf("%w: a CRL naming %s as issuer has a bad signature: %v", ErrRevoked, issuer.Subject.CommonName, err))
			return
		}
		if crl == nil || c.ThisUpdate.After(crl.ThisUpdate) {
			crl = c
		}
	}
	if crl == nil && v.o.Collateral != nil {
		fetched, err := v.fetchCRL(issuer)
		if err != nil && !errors.Is(err, ErrNotCached) {
			v.Fail(name, err)
			return
		}
		crl = fetched
	}
	if crl == nil {
		v.Skip(name, "not checked: no CRL issued by %s was supplied and fetching is off (offline); revocation of %s is unproven", issuer.Subject.CommonName, subject.Subject.CommonName)
		return
	}
	// As for AMD: a CRL issued after the verification time is newer
	// information and is used; one that expired before it proves nothing.
	if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) && !attest.UseStale(v.ctx, "the CRL of "+issuer.Subject.CommonName, crl.NextUpdate, now) {
		v.Fail(name, fmt.Errorf("%w: the CRL of %s expired at %s (nextUpdate), before the verification time %s", ErrRevoked, issuer.Subject.CommonName, crl.NextUpdate.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
		return
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber != nil && e.SerialNumber.Cmp(subject.SerialNumber) == 0 {
			v.Fail(name, fmt.Errorf("%w: %s serial %x is revoked by %s's CRL (revoked %s)", ErrRevoked, subject.Subject.CommonName, subject.SerialNumber, issuer.Subject.CommonName, e.RevocationTime.UTC().Format(time.RFC3339)))
			return
		}
	}
	v.Pass(name, "%s's CRL (issued %s, next update %s, %d entries) does not list %s serial %x", issuer.Subject.CommonName, day(crl.ThisUpdate), day(crl.NextUpdate), len(crl.RevokedCertificateEntries), subject.Subject.CommonName, subject.SerialNumber)
}

// tcbSigner finds a TCB Signing certificate valid at now that chains to a
// trusted root, for collateral signatures.
func (v *verification) tcbSigners(now time.Time) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	var problems []string
	pool := append(append([]*x509.Certificate{}, v.o.Certificates...), embedded()...)
	for _, c := range pool {
		if c.Subject.CommonName != "Intel SGX TCB Signing" {
			continue
		}
		// Outside its validity: say why only if no signer is left.
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			problems = append(problems, validAt(c, now).Error())
			continue
		}
		root := v.trustedIssuer(c)
		if root == nil {
			problems = append(problems, fmt.Sprintf("a TCB signing certificate (serial %x) does not chain to a trusted root", c.SerialNumber))
			continue
		}
		revoked := false
		for _, crl := range v.o.CRLs {
			if !bytes.Equal(crl.RawIssuer, root.RawSubject) {
				continue
			}
			if v.o.Cache.checked(cacheKey(crl.Raw, root.RawSubjectPublicKeyInfo), func() error { return crl.CheckSignatureFrom(root) }) != nil {
				continue
			}
			for _, e := range crl.RevokedCertificateEntries {
				if e.SerialNumber != nil && e.SerialNumber.Cmp(c.SerialNumber) == 0 {
					revoked = true
				}
			}
		}
		if revoked {
			problems = append(problems, fmt.Sprintf("TCB signing certificate serial %x is revoked", c.SerialNumber))
			continue
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no usable Intel SGX TCB Signing certificate at %s: %s", ErrChain, now.UTC().Format(time.RFC3339), strings.Join(problems, "; "))
	}
	return out, nil
}

// collateral appraises TCB info and QE identity, and matches TCB levels.
func (v *verification) collateral(ext *PCKExtensions, now time.Time, tee string) {
	q := v.q
	if v.o.Collateral != nil {
		if err := v.fetchCollateral(ext); err != nil {
			v.Fail("collateral.fetch", err)
			return
		}
	}
	signers, err := v.tcbSigners(now)
	if err != nil {
		v.Fail("collateral.tcb_signing", err)
		return
	}
	// TCB info for this TEE and FMSPC.
	var ti *TCBInfo
	var reasons []string
	for _, t := range v.o.TCBInfos {
		if err := t.Applies(q.IsTDX(), ext.FMSPC, ext.PCEID); err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		ti = t
		break
	}
	if ti == nil {
		msg := fmt.Sprintf("no %s TCB info for FMSPC %X was supplied (Intel PCS: /%s/certification/v4/tcb?fmspc=%X)", tee, ext.FMSPC[:], strings.ToLower(tee), ext.FMSPC[:])
		if len(reasons) > 0 {
			msg += "; supplied TCB info does not apply: " + strings.Join(reasons, "; ")
		}
		v.Fail("collateral.tcb_info", fmt.Errorf("%w: %s", ErrCollateralMissing, msg))
		return
	}
	if err := v.signedBy(signers, ti.digest, ti.Signature, ti.VerifySignature); err != nil {
		v.Fail("collateral.tcb_info", err)
		return
	}
	if err := ti.ValidAt(now); err != nil && !(now.After(ti.NextUpdate) && !now.Before(ti.IssueDate) && attest.UseStale(v.ctx, ti.Describe(), ti.NextUpdate, now)) {
		v.Fail("collateral.tcb_info", err)
		return
	}
	v.out.TCBInfo = ti
	v.Pass("collateral.tcb_info", "%s TCB info v%d for FMSPC %X signed by Intel SGX TCB Signing, issued %s, next update %s, evaluation data number %d", tee, ti.Version, ext.FMSPC[:], day(ti.IssueDate), day(ti.NextUpdate), ti.TCBEvaluationDataNumber)

	// QE identity.
	wantQE := "QE"
	if q.IsTDX() {
		wantQE = "TD_QE"
	}
	var qi *QEIdentity
	for _, c := range v.o.QEIdentities {
		if c.ID == wantQE {
			qi = c
			break
		}
	}
	if qi == nil {
		v.Fail("collateral.qe_identity", fmt.Errorf("%w: no %s identity was supplied (Intel PCS: /%s/certification/v4/qe/identity)", ErrCollateralMissing, wantQE, map[bool]string{true: "tdx", false: "sgx"}[q.IsTDX()]))
		return
	}
	if err := v.signedBy(signers, qi.digest, qi.Signature, qi.VerifySignature); err != nil {
		v.Fail("collateral.qe_identity", err)
		return
	}
	if err := qi.ValidAt(now); err != nil && !(now.After(qi.NextUpdate) && !now.Before(qi.IssueDate) && attest.UseStale(v.ctx, qi.Describe(), qi.NextUpdate, now)) {
		v.Fail("collateral.qe_identity", err)
		return
	}
	v.Pass("collateral.qe_identity", "%s identity signed by Intel SGX TCB Signing, issued %s, next update %s", wantQE, day(qi.IssueDate), day(qi.NextUpdate))

	qeRes, err := qi.Match(QEReportIdentity{
		MRSigner: q.QEReport.MRSigner, ISVProdID: q.QEReport.ISVProdID, ISVSVN: q.QEReport.ISVSVN,
		MiscSelect: q.QEReport.MiscSelect, Attributes: q.QEReport.Attributes,
	})
	if err != nil {
		v.Fail("qe.identity", err)
		return
	}
	v.out.QE = &qeRes
	v.Pass("qe.identity", "quoting enclave matches the %s identity (MRSIGNER %x…, ISVSVN %d): %s", wantQE, q.QEReport.MRSigner[:8], q.QEReport.ISVSVN, qeRes.Status)

	platform, module, err := ti.Match(ext.Platform(q))
	if err != nil {
		v.Fail("tcb.level", err)
		return
	}
	v.out.Platform, v.out.Module = &platform, module
	detail := fmt.Sprintf("platform TCB level %s: %s (tcbDate %s)", platform.Level, platform.Status, day(platform.Date))
	if module != nil {
		detail += fmt.Sprintf("; TDX module %s: %s", module.Level, module.Status)
	}
	v.Pass("tcb.level", "%s", detail)

	final := Converge(platform, module, qeRes)
	v.out.TCB = &final
	adv := "no advisories"
	if len(final.Advisory) > 0 {
		adv = "advisories " + strings.Join(final.Advisory, ", ")
	}
	tier, source := DefaultTier(final.Status), "the default policy"
	if t, ok := v.o.TCBTiers[final.Status]; ok {
		tier, source = t, "the configured policy"
	}
	switch tier {
	case "affirming":
		v.Pass("tcb.status", "%s (%s): affirming under %s", final.Status, adv, source)
	case "warning":
		v.List = append(v.List, attest.Warn("tcb.status", "%s: the platform is genuine but its TCB needs attention (%s); a warning under %s", final.Status, adv, source))
	default:
		v.Fail("tcb.status", fmt.Errorf("%w: TCB status %s (%s) is contraindicated under %s", ErrTCB, final.Status, adv, source))
	}
}

// signedBy tries each TCB signing certificate; they share a key across
// re-issues, so the first that verifies is the signer.
func (v *verification) signedBy(signers []*x509.Certificate, digest [32]byte, sig [64]byte, verify func(*x509.Certificate) error) error {
	var err error
	for _, s := range signers {
		// The key covers everything the verification reads: the signed
		// bytes, the signature and the signer's key.
		err = v.o.Cache.checked(cacheKey(digest[:], sig[:], s.RawSubjectPublicKeyInfo), func() error { return verify(s) })
		if err == nil {
			return nil
		}
	}
	return err
}

func (v *verification) nonce() {
	rd := v.reportData()
	if v.o.Nonce == nil {
		v.Skip("nonce", "not checked: no expected nonce given; the quote may be a replay")
		return
	}
	if len(v.o.Nonce) > len(rd) {
		v.Fail("nonce", fmt.Errorf("%w: the expected nonce is %d bytes, REPORTDATA holds 64", ErrNonce, len(v.o.Nonce)))
		return
	}
	var want [64]byte
	copy(want[:], v.o.Nonce)
	if want != rd {
		v.Fail("nonce", fmt.Errorf("%w: REPORTDATA is %x, want %x (nonce right-padded with zeros)", ErrNonce, rd[:], want[:]))
		return
	}
	v.Pass("nonce", "REPORTDATA equals the expected nonce (%d bytes, zero-padded to 64)", len(v.o.Nonce))
}

func (v *verification) reportData() [64]byte {
	if v.q.TD != nil {
		return v.q.TD.ReportData
	}
	return v.q.SGX.ReportData
}

func verifyP256(pub *ecdsa.PublicKey, msg []byte, sig [64]byte) bool {
	d := sha256.Sum256(msg)
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, d[:], r, s)
}

func validAt(c *x509.Certificate, now time.Time) error {
	if now.Before(c.NotBefore) {
		return fmt.Errorf("%w: %s is not valid before %s (verification time %s)", ErrChain, c.Subject.CommonName, c.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.After(c.NotAfter) {
		return fmt.Errorf("%w: %s expired at %s (verification time %s)", ErrChain, c.Subject.CommonName, c.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

func fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func firstNonZero(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return -1
}

// fetchCRL gets the CRL of an Intel CA from the Getter and checks its
// signature; the caller checks its dates and entries.
func (v *verification) fetchCRL(issuer *x509.Certificate) (*x509.RevocationList, error) {
	var der []byte
	var err error
	switch issuer.Subject.CommonName {
	case rootCN:
		der, err = v.o.Collateral.RootCRL(v.ctx)
	case "Intel SGX PCK Platform CA":
		der, err = v.o.Collateral.PCKCRL(v.ctx, "platform")
	case "Intel SGX PCK Processor CA":
		der, err = v.o.Collateral.PCKCRL(v.ctx, "processor")
	default:
		return nil, fmt.Errorf("%w: no Intel PCS endpoint serves the CRL of %q", ErrCollateralMissing, issuer.Subject.CommonName)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: fetching the CRL of %s: %w", ErrCollateralMissing, issuer.Subject.CommonName, err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%w: the fetched CRL of %s does not parse: %v", ErrCollateral, issuer.Subject.CommonName, err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("%w: the fetched CRL of %s does not verify: %v", ErrRevoked, issuer.Subject.CommonName, err)
	}
	return crl, nil
}

// fetchCollateral adds fetched TCB info and QE identity to the options
// when none applicable was supplied. Issuer chains returned by PCS join the
// untrusted certificates; they must chain to a trusted root like any other.
func (v *verification) fetchCollateral(ext *PCKExtensions) error {
	tdx := v.q.IsTDX()
	haveTCB := false
	for _, t := range v.o.TCBInfos {
		if t.Applies(tdx, ext.FMSPC, ext.PCEID) == nil {
			haveTCB = true
		}
	}
	if !haveTCB {
		body, chain, err := v.o.Collateral.TCBInfo(v.ctx, tdx, ext.FMSPC)
		if errors.Is(err, ErrNotCached) {
			// Offline and not cached: reported below as not supplied.
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: fetching TCB info for FMSPC %X: %w", ErrCollateralMissing, ext.FMSPC[:], err)
		}
		t, err := ParseTCBInfo(body)
		if err != nil {
			return fmt.Errorf("fetched TCB info: %w", err)
		}
		v.o.TCBInfos = append(append([]*TCBInfo{}, v.o.TCBInfos...), t)
		v.addChain(chain)
	}
	want := "QE"
	if tdx {
		want = "TD_QE"
	}
	for _, q := range v.o.QEIdentities {
		if q.ID == want {
			return nil
		}
	}
	body, chain, err := v.o.Collateral.QEIdentity(v.ctx, tdx)
	if errors.Is(err, ErrNotCached) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: fetching the %s identity: %w", ErrCollateralMissing, want, err)
	}
	q, err := ParseQEIdentity(body)
	if err != nil {
		return fmt.Errorf("fetched QE identity: %w", err)
	}
	v.o.QEIdentities = append(append([]*QEIdentity{}, v.o.QEIdentities...), q)
	v.addChain(chain)
	return nil
}

func (v *verification) addChain(pemChain []byte) {
	rest := pemChain
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return
		}
		if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
			v.o.Certificates = append(append([]*x509.Certificate{}, v.o.Certificates...), c)
		}
	}
}

// ParseTCBTier reads an override "STATUS=TIER" (OutOfDate=contraindicated).
func ParseTCBTier(s string) (TCBStatus, string, error) {
	name, tier, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("%q is not STATUS=TIER", s)
	}
	st, err := ParseTCBStatus(name)
	if err != nil {
		return "", "", err
	}
	switch tier {
	case "affirming", "warning", "contraindicated":
		return st, tier, nil
	}
	return "", "", fmt.Errorf("tier %q is not affirming, warning or contraindicated", tier)
}
