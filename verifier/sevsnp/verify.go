package sevsnp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/assay-dev/assay/attest"
)

// Getter fetches what the evidence did not carry. The collateral package
// implements it over AMD KDS with a disk cache; tests use a loopback KDS.
type Getter interface {
	// VCEK returns the VCEK of the chip with this hardware ID at this TCB.
	VCEK(ctx context.Context, p Product, hwid []byte, tcb TCB) (*x509.Certificate, error)
	// CertChain returns the intermediate (ASK for VCEK, ASVK for VLEK) and
	// the ARK of a product, in that order. They are untrusted until they
	// chain to a root in Options.Roots.
	CertChain(ctx context.Context, p Product, k KeyType) ([]*x509.Certificate, error)
	// CRL returns the ARK-signed CRL for a product's VCEK or VLEK chain.
	CRL(ctx context.Context, p Product, k KeyType) (*x509.RevocationList, error)
}

// Options for Verify. Verify never writes to them.
type Options struct {
	// Roots are the trusted ARKs. Nil means the embedded AMD roots.
	Roots []*x509.Certificate
	// Certificates are untrusted certificates supplied with the evidence:
	// the VCEK or VLEK, ASK, ASVK. Nil means none; the embedded ASKs and
	// ASVKs are always considered.
	Certificates []*x509.Certificate
	// CRLs supplied with the evidence. Nil means none: revocation is then
	// checked only if Collateral supplies a CRL, and otherwise the crl
	// check is reported as skipped.
	CRLs []*x509.RevocationList
	// Collateral fetches a missing VEK, chain or CRL. Nil means offline:
	// only what was supplied or embedded is used.
	Collateral Getter
	// Now is the verification time. Nil means time.Now.
	Now func() time.Time
	// Nonce is the expected REPORT_DATA, right-padded with zeros to 64
	// bytes. Nil means freshness is not checked (the nonce check says so).
	Nonce []byte
	// Product is used when neither the report (version 2 has no CPUID
	// fields) nor a certificate names it. ProductUnknown means: find out.
	Product Product
	// Cache keeps certificate signatures already verified, so a warm
	// verification costs one ECDSA verification. Nil means no cache.
	Cache *Cache
}

// Cache remembers verified certificate and CRL signatures. Safe for
// concurrent use; its zero value is ready. Validity windows, revocation
// and the report signature are checked on every call regardless.
type Cache struct {
	m sync.Map // key: signed bytes + issuer SPKI -> struct{}
}

// checked runs verify once per (object, issuer key). object must be the
// whole signed object (certificate or CRL DER, signature included), so
// that a copy with the same content and another signature is verified
// afresh rather than found in the cache.
func (c *Cache) checked(object, issuerSPKI []byte, verify func() error) error {
	if c == nil {
		return verify()
	}
	k := string(object) + "\x00" + string(issuerSPKI)
	if _, ok := c.m.Load(k); ok {
		return nil
	}
	if err := verify(); err != nil {
		return err
	}
	c.m.Store(k, struct{}{})
	return nil
}

// Verification is what Verify learned: the product, the chain it used,
// and, only when every check passed, the claims.
type Verification struct {
	Product Product
	VEK     *VEK
	ASK     *x509.Certificate // ASK, or ASVK for a VLEK
	ARK     *x509.Certificate
	// Claims is set only when every check passed.
	Claims *Claims
}

// Verify checks an attestation report: the product; the certificate chain
// VEK -> ASK/ASVK -> ARK up to a trusted root at the verification time; the
// CRL; that the VEK certifies this chip (hwID = CHIP_ID) or provider and
// exactly the report's REPORTED_TCB; the ECDSA P-384 report signature; and
// the nonce. It returns the checks in that order whether they pass or not,
// and an error wrapping the first failure's kind. It judges no policy
// (debug, migration, VMPL): see Policy.
func Verify(ctx context.Context, r *Report, o Options) (*Verification, []attest.Check, error) {
	v := &verification{ctx: ctx, r: r, o: o, now: time.Now}
	if o.Now != nil {
		v.now = o.Now
	}
	return v.run()
}

type verification struct {
	ctx           context.Context
	r             *Report
	o             Options
	now           func() time.Time
	attest.Checks // the checks in order and the first failure
}

func (v *verification) run() (*Verification, []attest.Check, error) {
	r, out := v.r, &Verification{}
	now := v.now()

	// Signing key.
	var kt KeyType
	switch r.SigningKey() {
	case SigningKeyVCEK:
		kt = KeyVCEK
	case SigningKeyVLEK:
		kt = KeyVLEK
	default:
		v.Fail("signer", fmt.Errorf("%w: SIGNING_KEY is %d: the report is not signed", ErrSignature, r.SigningKey()))
		return out, v.List, v.Err
	}
	v.Pass("signer", "report is signed by the %s (KEY_INFO.SIGNING_KEY=%d)", kt, r.SigningKey())

	// Product, from CPUID where the report has it; else from certificates.
	cpuidProduct := ProductUnknown
	if r.Version >= 3 {
		cpuidProduct = ProductFromCPUID(r.CPUIDFamID, r.CPUIDModID)
	}
	product := cpuidProduct
	if product == ProductUnknown {
		product = v.o.Product
	}

	// The VEK: supplied, else fetched.
	vek, err := v.findVEK(kt, product)
	if err != nil {
		if product != ProductUnknown {
			v.Pass("product", "%s", v.productDetail(product, cpuidProduct, nil))
		}
		v.Fail("chain.vek", err)
		return out, v.List, v.Err
	}
	out.VEK = vek
	certProduct := vek.Product()
	switch {
	case certProduct == ProductUnknown:
		v.Fail("product", fmt.Errorf("%w: the %s names no known product (productName %q, issuer %q)", ErrChain, kt, vek.ProductName, vek.Cert.Issuer.CommonName))
		return out, v.List, v.Err
	case cpuidProduct != ProductUnknown && certProduct != cpuidProduct:
		v.Fail("product", fmt.Errorf("%w: report CPUID says %s (family %02Xh model %02Xh), the %s is for %s", ErrChain, cpuidProduct, r.CPUIDFamID, r.CPUIDModID, kt, certProduct))
		return out, v.List, v.Err
	}
	product = certProduct
	out.Product = product
	v.Pass("product", "%s", v.productDetail(product, cpuidProduct, vek))

	// Chain: ARK -> ASK/ASVK -> VEK, reported root first.
	ask, ark, chainChecks, err := v.chain(product, kt, vek.Cert, now)
	out.ASK, out.ARK = ask, ark
	v.List = append(v.List, chainChecks...)
	if err != nil {
		if v.Err == nil {
			v.Err = err
		}
		return out, v.List, v.Err
	}

	// Revocation.
	v.revocation(product, kt, ark, ask, now)

	// The VEK binds this chip (or provider) and this TCB.
	v.bindings(product, vek)

	// Signature.
	if err := checkSignature(r, vek.Cert.PublicKey.(*ecdsa.PublicKey)); err != nil {
		v.Fail("signature", err)
	} else {
		v.Pass("signature", "ECDSA P-384 SHA-384 signature over bytes 0h-29Fh verifies with the %s", kt)
	}

	// Freshness.
	v.nonce()

	if v.Err == nil {
		c, err := NewClaims(r, product, vek)
		if err != nil {
			v.Fail("claims", err)
		} else {
			out.Claims = c
		}
	}
	return out, v.List, v.Err
}

func (v *verification) productDetail(p, cpuid Product, vek *VEK) string {
	r := v.r
	var s string
	switch {
	case cpuid != ProductUnknown:
		s = fmt.Sprintf("%s: report CPUID family %02Xh model %02Xh stepping %d", p, r.CPUIDFamID, r.CPUIDModID, r.CPUIDStep)
	case r.Version >= 3:
		s = fmt.Sprintf("%s: report CPUID family %02Xh model %02Xh is not in this verifier's table; product taken from the certificate", p, r.CPUIDFamID, r.CPUIDModID)
	default:
		s = fmt.Sprintf("%s: report version %d has no CPUID fields; product taken from the certificate", p, r.Version)
	}
	if vek != nil {
		s += fmt.Sprintf("; %s productName %q, issuer %q", vek.Type, vek.ProductName, vek.Cert.Issuer.CommonName)
	}
	return s
}

// findVEK picks the VEK among the supplied certificates: the right type,
// and for a VCEK the one whose hwID and TCB match the report. If none is
// supplied it asks the Getter (VCEK only: VLEKs are not public).
func (v *verification) findVEK(kt KeyType, p Product) (*VEK, error) {
	var candidates []*VEK
	var parseErrs []error
	for _, c := range v.o.Certificates {
		if c.Subject.CommonName != "SEV-VCEK" && c.Subject.CommonName != "SEV-VLEK" {
			continue
		}
		vek, err := ParseVEK(c)
		if err != nil {
			parseErrs = append(parseErrs, err)
			continue
		}
		if vek.Type != kt {
			continue
		}
		candidates = append(candidates, vek)
	}
	// Prefer the candidate for this product, chip and TCB; else one for
	// this product; else the first, so that the product and binding checks
	// explain the mismatch.
	sameProduct := func(c *VEK) bool { return p == ProductUnknown || c.Product() == p }
	for _, c := range candidates {
		if sameProduct(c) && v.hwidMatches(c) == nil && v.tcbMatches(c.Product(), c) == nil {
			return c, nil
		}
	}
	for _, c := range candidates {
		if sameProduct(c) {
			return c, nil
		}
	}
	if len(candidates) > 0 {
		return candidates[0], nil
	}
	if len(parseErrs) > 0 {
		return nil, errors.Join(parseErrs...)
	}
	if kt == KeyVLEK {
		return nil, fmt.Errorf("%w: the report is signed by a VLEK and no VLEK certificate was supplied (a VLEK comes from the cloud provider, with the report or its certificate table; AMD KDS does not serve it)", ErrCollateralMissing)
	}
	if v.o.Collateral == nil {
		return nil, fmt.Errorf("%w: no VCEK supplied and offline; give the VCEK file, the extended report's certificate table, or allow fetching it from AMD KDS", ErrCollateralMissing)
	}
	if firstNonZero(v.r.ChipID[:]) < 0 {
		return nil, fmt.Errorf("%w: no VCEK supplied, and CHIP_ID is masked, so AMD KDS cannot be asked for one: supply the VCEK", ErrCollateralMissing)
	}
	// A version 2 report does not name its product; only Milan and Genoa
	// made such reports, and KDS knows a chip under its own product only.
	products := []Product{p}
	if p == ProductUnknown {
		products = []Product{Milan, Genoa}
	}
	var errs []error
	for _, p := range products {
		c, err := v.fetchVCEK(p)
		if err == nil {
			return ParseVEK(c)
		}
		errs = append(errs, err)
	}
	all := errors.Join(errs...)
	if errors.Is(all, ErrNotCached) {
		return nil, fmt.Errorf("%w: no VCEK supplied and offline, and the collateral cache holds none for this chip and TCB; give the VCEK file or the extended report's certificate table, prefetch it (assay collateral prefetch), or allow fetching it from AMD KDS", ErrCollateralMissing)
	}
	return nil, fmt.Errorf("%w: fetching the VCEK: %w", ErrCollateralMissing, all)
}

func (v *verification) fetchVCEK(p Product) (*x509.Certificate, error) {
	hwid := v.r.ChipID[:]
	if p == Turin {
		hwid = hwid[:8]
	}
	tcb, err := DecodeTCB(p, v.r.ReportedTCB)
	if err != nil {
		return nil, err
	}
	c, err := v.o.Collateral.VCEK(v.ctx, p, hwid, tcb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return c, nil
}

// chain verifies VEK -> intermediate -> ARK and returns one check per link,
// root first.
func (v *verification) chain(p Product, kt KeyType, vek *x509.Certificate, now time.Time) (ask, ark *x509.Certificate, checks []attest.Check, err error) {
	roots := v.o.Roots
	if roots == nil {
		roots = embeddedRoots()
	}
	intermediateCN := "SEV-" + p.String()
	if kt == KeyVLEK {
		intermediateCN = "SEV-VLEK-" + p.String()
	}
	pool := append(append([]*x509.Certificate{}, v.o.Certificates...), embeddedCerts()...)
	ask = findIssuer(pool, vek, intermediateCN, v.o.Cache)
	if ask == nil && v.o.Collateral != nil {
		if fetched, ferr := v.o.Collateral.CertChain(v.ctx, p, kt); ferr == nil {
			ask = findIssuer(fetched, vek, intermediateCN, v.o.Cache)
		}
	}
	arkCN := "ARK-" + p.String()
	var askCheck, vekCheck attest.Check
	if ask == nil {
		err = fmt.Errorf("%w: no %s certificate that issued the %s was supplied, embedded or fetched", ErrCollateralMissing, intermediateCN, kt)
		return nil, nil, []attest.Check{attest.Fail("chain.ask", err)}, err
	}
	// The root: a trusted ARK that issued the intermediate.
	ark = findIssuer(roots, ask, arkCN, v.o.Cache)
	if ark == nil {
		err = fmt.Errorf("%w: %s (issuer %q) does not chain to any trusted root (%d roots; want %s)", ErrChain, ask.Subject.CommonName, ask.Issuer.CommonName, len(roots), arkCN)
		return ask, nil, []attest.Check{attest.Fail("chain.ark", err)}, err
	}
	fp := sha256Hex(ark.Raw)
	if e := validAt(ark, now); e != nil {
		err = e
		checks = append(checks, attest.Fail("chain.ark", e))
	} else if e := v.o.Cache.checked(ark.Raw, ark.RawSubjectPublicKeyInfo, func() error { return ark.CheckSignatureFrom(ark) }); e != nil {
		err = fmt.Errorf("%w: %s self-signature: %v", ErrChain, arkCN, e)
		checks = append(checks, attest.Fail("chain.ark", err))
	} else {
		checks = append(checks, attest.Pass("chain.ark", "%s is a trusted root (SHA-256 %s…), self-signed, valid %s to %s", arkCN, fp[:16], day(ark.NotBefore), day(ark.NotAfter)))
	}
	askCheck = linkCheck("chain.ask", ask, ark, now, v.o.Cache, true)
	vekCheck = linkCheck("chain.vek", vek, ask, now, v.o.Cache, false)
	checks = append(checks, askCheck, vekCheck)
	if err == nil && !askCheck.OK {
		err = fmt.Errorf("%w: %s", ErrChain, askCheck.Detail)
	}
	if err == nil && !vekCheck.OK {
		err = fmt.Errorf("%w: %s", ErrChain, vekCheck.Detail)
	}
	return ask, ark, checks, err
}

// linkCheck verifies that parent signed child and child is valid at now.
func linkCheck(name string, child, parent *x509.Certificate, now time.Time, cache *Cache, wantCA bool) attest.Check {
	if err := validAt(child, now); err != nil {
		return attest.Fail(name, err)
	}
	if !parent.IsCA || !parent.BasicConstraintsValid {
		return attest.Fail(name, fmt.Errorf("%w: issuer %s is not a CA certificate", ErrChain, parent.Subject.CommonName))
	}
	if wantCA && (!child.IsCA || !child.BasicConstraintsValid) {
		return attest.Fail(name, fmt.Errorf("%w: %s is not a CA certificate", ErrChain, child.Subject.CommonName))
	}
	err := cache.checked(child.Raw, parent.RawSubjectPublicKeyInfo, func() error {
		return parent.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature)
	})
	if err != nil {
		return attest.Fail(name, fmt.Errorf("%w: %s signature by %s does not verify: %v", ErrChain, child.Subject.CommonName, parent.Subject.CommonName, err))
	}
	return attest.Pass(name, "%s (serial %#x) signed by %s (%s), valid %s to %s", child.Subject.CommonName, child.SerialNumber, parent.Subject.CommonName, child.SignatureAlgorithm, day(child.NotBefore), day(child.NotAfter))
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

// findIssuer returns the certificate in pool named cn that issued child:
// the first whose signature over child verifies, or failing that the first
// with the right name, so that the caller's link check explains the
// failure. A forged certificate with a borrowed name cannot displace the
// genuine one.
func findIssuer(pool []*x509.Certificate, child *x509.Certificate, cn string, cache *Cache) *x509.Certificate {
	var byName *x509.Certificate
	for _, c := range pool {
		if c.Subject.CommonName != cn || !bytes.Equal(c.RawSubject, child.RawIssuer) {
			continue
		}
		if byName == nil {
			byName = c
		}
		err := cache.checked(child.Raw, c.RawSubjectPublicKeyInfo, func() error {
			return c.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature)
		})
		if err == nil {
			return c
		}
	}
	return byName
}

// revocation checks the ARK-signed CRL for the intermediate and the VEK.
func (v *verification) revocation(p Product, kt KeyType, ark, ask *x509.Certificate, now time.Time) {
	var crl *x509.RevocationList
	var rejected []string
	for _, c := range v.o.CRLs {
		if !bytes.Equal(c.RawIssuer, ark.RawSubject) {
			continue
		}
		if err := v.o.Cache.checked(c.Raw, ark.RawSubjectPublicKeyInfo, func() error { return c.CheckSignatureFrom(ark) }); err != nil {
			rejected = append(rejected, fmt.Sprintf("a CRL naming %s as issuer has a bad signature: %v", ark.Subject.CommonName, err))
			continue
		}
		crl = c
		break
	}
	source := "supplied"
	if crl == nil && v.o.Collateral != nil {
		c, err := v.o.Collateral.CRL(v.ctx, p, kt)
		switch {
		case errors.Is(err, ErrNotCached):
			// An offline cache without it: as if none was supplied.
		case err != nil:
			v.Fail("crl", fmt.Errorf("%w: fetching the %s CRL: %w", ErrCollateralMissing, p, err))
			return
		default:
			if err := c.CheckSignatureFrom(ark); err != nil {
				v.Fail("crl", fmt.Errorf("%w: the fetched %s CRL does not verify with %s: %v", ErrRevoked, p, ark.Subject.CommonName, err))
				return
			}
			crl, source = c, "fetched"
		}
	}
	if crl == nil {
		if len(rejected) > 0 {
			v.Fail("crl", fmt.Errorf("%w: %s", ErrRevoked, rejected[0]))
			return
		}
		v.Skip("crl", "not checked: no CRL issued by %s was supplied and fetching is off (offline); revocation of %s is unproven", ark.Subject.CommonName, ask.Subject.CommonName)
		return
	}
	// A CRL issued after the verification time is newer information, not
	// stale: it is used, and a listing in it counts whatever its
	// revocation date, because a report carries no time of its own and a
	// revoked key could have signed it at any time. A CRL whose nextUpdate
	// passed before the verification time is stale and proves nothing.
	if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) && !attest.UseStale(v.ctx, "the "+p.String()+" CRL", crl.NextUpdate, now) {
		v.Fail("crl", fmt.Errorf("%w: the %s CRL expired at %s (nextUpdate), before the verification time %s", ErrRevoked, p, crl.NextUpdate.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
		return
	}
	// The CRL is issued by the ARK, so its serials name certificates the
	// ARK issued: the ASK or ASVK. (VEK serials are all zero and are not
	// comparable with it.)
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber != nil && e.SerialNumber.Cmp(ask.SerialNumber) == 0 {
			v.Fail("crl", fmt.Errorf("%w: %s serial %#x was revoked at %s", ErrRevoked, ask.Subject.CommonName, ask.SerialNumber, e.RevocationTime.UTC().Format(time.RFC3339)))
			return
		}
	}
	v.Pass("crl", "%s CRL (%s, number %v, issued %s, next update %s, %d entries) does not revoke %s (serial %#x)", p, source, crl.Number, day(crl.ThisUpdate), day(crl.NextUpdate), len(crl.RevokedCertificateEntries), ask.Subject.CommonName, ask.SerialNumber)
}

// bindings checks that the VEK certifies this chip (VCEK) or names its
// provider (VLEK), and exactly the report's REPORTED_TCB.
func (v *verification) bindings(p Product, vek *VEK) {
	if vek.Type == KeyVCEK {
		if err := v.hwidMatches(vek); err != nil {
			v.Fail("vek.hwid", err)
		} else if v.r.MaskChipKey() || firstNonZero(v.r.ChipID[:]) < 0 {
			v.Skip("vek.hwid", "CHIP_ID is masked in the report (MASK_CHIP_ID); the chip is identified only by the VCEK signature")
		} else {
			v.Pass("vek.hwid", "VCEK hwID equals the report's CHIP_ID (%s…)", fmt.Sprintf("%x", vek.HWID[:8]))
		}
	} else {
		v.Pass("vek.csp", "VLEK issued to cloud provider %q", vek.CSPID)
	}
	if err := v.tcbMatches(p, vek); err != nil {
		v.Fail("vek.tcb", err)
		return
	}
	v.Pass("vek.tcb", "%s certifies the report's REPORTED_TCB (%s)", vek.Type, vek.TCB)
}

func (v *verification) hwidMatches(vek *VEK) error {
	if vek.Type != KeyVCEK {
		return nil
	}
	chip := v.r.ChipID[:]
	if v.r.MaskChipKey() || firstNonZero(chip) < 0 {
		return nil
	}
	n := len(vek.HWID)
	if !bytes.Equal(chip[:n], vek.HWID) || firstNonZero(chip[n:]) >= 0 {
		return fmt.Errorf("%w: report CHIP_ID %x… is not the VCEK's hwID %x…", ErrTCB, chip[:8], vek.HWID[:min(8, n)])
	}
	return nil
}

func (v *verification) tcbMatches(p Product, vek *VEK) error {
	if p == ProductUnknown {
		p = vek.Product()
	}
	rep, err := DecodeTCB(p, v.r.ReportedTCB)
	if err != nil {
		return fmt.Errorf("%w: REPORTED_TCB: %v", ErrTCB, err)
	}
	if p == Turin && vek.TCB.FMC == nil {
		return fmt.Errorf("%w: the Turin %s lacks the fmcSPL extension", ErrTCB, vek.Type)
	}
	if !rep.Equal(vek.TCB) {
		return fmt.Errorf("%w: report REPORTED_TCB is %s, the %s certifies %s", ErrTCB, rep, vek.Type, vek.TCB)
	}
	return nil
}

// checkSignature verifies the report's ECDSA P-384 SHA-384 signature.
func checkSignature(r *Report, pub *ecdsa.PublicKey) error {
	digest := sha512.Sum384(r.Signed())
	rr := new(big.Int).SetBytes(r.SignatureR[:])
	ss := new(big.Int).SetBytes(r.SignatureS[:])
	if !ecdsa.Verify(pub, digest[:], rr, ss) {
		return fmt.Errorf("%w: the report signature does not verify with the VEK's public key", ErrSignature)
	}
	return nil
}

func (v *verification) nonce() {
	if v.o.Nonce == nil {
		v.Skip("nonce", "not checked: no expected nonce given; the report may be a replay")
		return
	}
	if len(v.o.Nonce) > len(v.r.ReportData) {
		v.Fail("nonce", fmt.Errorf("%w: the expected nonce is %d bytes, REPORT_DATA holds %d", ErrNonce, len(v.o.Nonce), len(v.r.ReportData)))
		return
	}
	var want [64]byte
	copy(want[:], v.o.Nonce)
	if want != v.r.ReportData {
		v.Fail("nonce", fmt.Errorf("%w: REPORT_DATA is %x, want %x (nonce right-padded with zeros)", ErrNonce, v.r.ReportData[:], want[:]))
		return
	}
	v.Pass("nonce", "REPORT_DATA equals the expected nonce (%d bytes, zero-padded to 64)", len(v.o.Nonce))
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }
