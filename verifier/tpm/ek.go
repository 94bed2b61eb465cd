package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	encasn1 "encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/assay-dev/assay/attest"
)

// EK certificates: TCG EK Credential Profile for TPM Family 2.0, Level 0
// (the "profile" below), section 3 and its ASN.1 definitions.
var (
	// The TPM attributes of the subjectAltName's directoryName
	// (tcg-at-tpmManufacturer, -tpmModel, -tpmVersion).
	oidTPMManufacturer = encasn1.ObjectIdentifier{2, 23, 133, 2, 1}
	oidTPMModel        = encasn1.ObjectIdentifier{2, 23, 133, 2, 2}
	oidTPMVersion      = encasn1.ObjectIdentifier{2, 23, 133, 2, 3}
	// tcg-kp-EKCertificate, the extended key usage of an EK certificate.
	oidEKCertificate = encasn1.ObjectIdentifier{2, 23, 133, 8, 1}
)

// TPMIdentity is what an EK certificate's subjectAltName says of the TPM
// (profile section 3.2.9): its manufacturer, model and version, as
// stated. The manufacturer is "id:" and the TCG vendor ID in 8 hex
// digits; the version, commonly "id:" and the firmware version in hex, is
// vendor-defined.
type TPMIdentity struct {
	Manufacturer string // TPMManufacturer, 2.23.133.2.1
	Model        string // TPMModel, 2.23.133.2.2
	Version      string // TPMVersion, 2.23.133.2.3
}

// maxSANAttr bounds one TPM attribute's value; the profile gives none,
// real ones are a few bytes.
const maxSANAttr = 256

// generalNames opens a subjectAltName's GeneralNames SEQUENCE (RFC 5280,
// section 4.2.1.6).
func generalNames(ext []byte) (cryptobyte.String, error) {
	in := cryptobyte.String(ext)
	var names cryptobyte.String
	if !in.ReadASN1(&names, asn1.SEQUENCE) || !in.Empty() {
		return nil, fmt.Errorf("%w: subjectAltName is not a DER GeneralNames SEQUENCE", ErrMalformed)
	}
	return names, nil
}

// nextGeneralName reads one GeneralName: its content and tag.
func nextGeneralName(names *cryptobyte.String) (cryptobyte.String, asn1.Tag, error) {
	var gn cryptobyte.String
	var tag asn1.Tag
	if !names.ReadAnyASN1(&gn, &tag) {
		return nil, 0, fmt.Errorf("%w: subjectAltName: a GeneralName does not decode", ErrMalformed)
	}
	return gn, tag, nil
}

// ParseEKSAN reads the TPM identity from the value of a subjectAltName
// extension (RFC 5280 section 4.2.1.6: GeneralNames, of which the
// directoryName entries are searched). Each of TPMManufacturer, TPMModel
// and TPMVersion must appear exactly once, as a UTF8String (or
// PrintableString or IA5String, which some manufacturers use) of valid
// UTF-8. Other names and attributes are ignored. No crypto.
func ParseEKSAN(ext []byte) (*TPMIdentity, error) {
	names, err := generalNames(ext)
	if err != nil {
		return nil, err
	}
	var id TPMIdentity
	seen := map[string]bool{}
	dirTag := asn1.Tag(4).ContextSpecific().Constructed()
	for !names.Empty() {
		gn, tag, err := nextGeneralName(&names)
		if err != nil {
			return nil, err
		}
		if tag != dirTag {
			continue
		}
		var name cryptobyte.String
		if !gn.ReadASN1(&name, asn1.SEQUENCE) || !gn.Empty() {
			return nil, fmt.Errorf("%w: subjectAltName: directoryName is not a Name", ErrMalformed)
		}
		for !name.Empty() {
			var rdn cryptobyte.String
			if !name.ReadASN1(&rdn, asn1.SET) || rdn.Empty() {
				return nil, fmt.Errorf("%w: subjectAltName: directoryName has a malformed RelativeDistinguishedName", ErrMalformed)
			}
			for !rdn.Empty() {
				var atv cryptobyte.String
				var oid encasn1.ObjectIdentifier
				var val cryptobyte.String
				var vtag asn1.Tag
				if !rdn.ReadASN1(&atv, asn1.SEQUENCE) || !atv.ReadASN1ObjectIdentifier(&oid) || !atv.ReadAnyASN1(&val, &vtag) || !atv.Empty() {
					return nil, fmt.Errorf("%w: subjectAltName: directoryName has a malformed AttributeTypeAndValue", ErrMalformed)
				}
				var dst *string
				var what string
				switch {
				case oid.Equal(oidTPMManufacturer):
					dst, what = &id.Manufacturer, "TPMManufacturer"
				case oid.Equal(oidTPMModel):
					dst, what = &id.Model, "TPMModel"
				case oid.Equal(oidTPMVersion):
					dst, what = &id.Version, "TPMVersion"
				default:
					continue
				}
				if seen[what] {
					return nil, fmt.Errorf("%w: subjectAltName states %s twice", ErrEKProfile, what)
				}
				seen[what] = true
				if vtag != asn1.UTF8String && vtag != asn1.PrintableString && vtag != asn1.IA5String {
					return nil, fmt.Errorf("%w: subjectAltName %s is of ASN.1 tag %d, want UTF8String", ErrEKProfile, what, vtag)
				}
				if len(val) == 0 || len(val) > maxSANAttr || !utf8.Valid(val) {
					return nil, fmt.Errorf("%w: subjectAltName %s is %d bytes of %s UTF-8, want 1 to %d of valid UTF-8", ErrEKProfile, what, len(val), map[bool]string{true: "valid", false: "invalid"}[utf8.Valid(val)], maxSANAttr)
				}
				*dst = string(val)
			}
		}
	}
	var missing []string
	for _, w := range []string{"TPMManufacturer", "TPMModel", "TPMVersion"} {
		if !seen[w] {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: subjectAltName has no directoryName attribute %s (profile section 3.2.9 requires TPMManufacturer, TPMModel and TPMVersion)", ErrEKProfile, strings.Join(missing, ", "))
	}
	return &id, nil
}

// MarshalEKSAN encodes a TPM identity as a subjectAltName value: one
// directoryName with one RDN per attribute, each a UTF8String (the
// inverse of ParseEKSAN).
func MarshalEKSAN(id *TPMIdentity) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, a := range []struct {
					oid encasn1.ObjectIdentifier
					v   string
				}{{oidTPMManufacturer, id.Manufacturer}, {oidTPMModel, id.Model}, {oidTPMVersion, id.Version}} {
					b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) {
						b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(a.oid)
							b.AddASN1(asn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(a.v)) })
						})
					})
				}
			})
		})
	})
	out, err := b.Bytes()
	if err != nil {
		return nil
	}
	return out
}

// VendorID parses TPMManufacturer: "id:" and 8 hex digits, the TCG
// vendor ID, big-endian.
func (id *TPMIdentity) VendorID() (uint32, error) {
	s, ok := cutPrefixFold(id.Manufacturer, "id:")
	if !ok || len(s) != 8 {
		return 0, fmt.Errorf("%w: TPMManufacturer %q is not \"id:\" and 8 hex digits", ErrEKProfile, id.Manufacturer)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return 0, fmt.Errorf("%w: TPMManufacturer %q is not \"id:\" and 8 hex digits", ErrEKProfile, id.Manufacturer)
	}
	return binary.BigEndian.Uint32(b), nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// ParseEKCertificate reads an EK certificate, PEM (the first CERTIFICATE
// block) or DER. A TCG Platform Certificate, an RFC 5755 attribute
// certificate that describes a platform and holds no key, is recognised
// and refused as such.
func ParseEKCertificate(b []byte) (*x509.Certificate, error) {
	if blk, rest := pem.Decode(b); blk != nil {
		for blk != nil && blk.Type != "CERTIFICATE" {
			blk, rest = pem.Decode(rest)
		}
		if blk == nil {
			return nil, fmt.Errorf("%w: no CERTIFICATE PEM block", ErrMalformed)
		}
		b = blk.Bytes
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		if isAttributeCertificate(b) {
			return nil, fmt.Errorf("%w: an attribute certificate (RFC 5755; a TCG Platform Certificate describes a platform's components and certifies no key), not an EK certificate", ErrMalformed)
		}
		return nil, fmt.Errorf("%w: EK certificate: %v", ErrMalformed, err)
	}
	return c, nil
}

// isAttributeCertificate recognises an RFC 5755 AttributeCertificate:
// its AttributeCertificateInfo starts with version v2 (INTEGER 1) and
// the holder (a SEQUENCE), where a TBSCertificate starts with [0] EXPLICIT
// version.
func isAttributeCertificate(b []byte) bool {
	s := cryptobyte.String(b)
	var outer, info cryptobyte.String
	var v int64
	return s.ReadASN1(&outer, asn1.SEQUENCE) && outer.ReadASN1(&info, asn1.SEQUENCE) &&
		info.ReadASN1Integer(&v) && v == 1 && info.PeekASN1Tag(asn1.SEQUENCE)
}

// IsEKCertificate tells an EK certificate from the other leaf
// certificates that travel with a quote (AK certificates, IMA keys): it
// certifies a key for decryption or key agreement, never for signing
// (profile section 3.2: keyEncipherment for RSA, keyAgreement for
// ECC), or it has tcg-kp-EKCertificate and no digitalSignature.
func IsEKCertificate(c *x509.Certificate) bool {
	if c.IsCA || c.KeyUsage&x509.KeyUsageDigitalSignature != 0 {
		return false
	}
	if c.KeyUsage&(x509.KeyUsageKeyEncipherment|x509.KeyUsageKeyAgreement) != 0 {
		return true
	}
	return hasEKU(c, oidEKCertificate)
}

func hasEKU(c *x509.Certificate, oid encasn1.ObjectIdentifier) bool {
	for _, u := range c.UnknownExtKeyUsage {
		if u.Equal(oid) {
			return true
		}
	}
	return false
}

// EKOptions of VerifyEK. Passed by value, never written.
type EKOptions struct {
	// Roots are the trusted EK CAs; nil means the anchors of the embedded
	// EK trust store (EmbeddedEKRoots).
	Roots []*x509.Certificate
	// Intermediates are tried beside the embedded store's other
	// certificates; nil adds none.
	Intermediates []*x509.Certificate
	// Now is the verification time; nil means time.Now.
	Now func() time.Time
	// EKSHA256 is the SHA-256 of the DER SubjectPublicKeyInfo of the
	// TPM's EK as otherwise known (the EK an enrolled AK was activated
	// against, an EK TPM2B_PUBLIC); nil means not compared, and ek.key
	// says so.
	EKSHA256 []byte
	// EKSource names where EKSHA256 comes from, for messages; "" means
	// "the TPM's EK".
	EKSource string
}

// EKClaims describe a verified EK certificate.
type EKClaims struct {
	// Manufacturer is the TCG vendor ID of TPMManufacturer, 8 upper-case
	// hex digits ("494E5443").
	Manufacturer string `json:"manufacturer"`
	// ManufacturerID is the vendor ID as text ("INTC"); empty when it is
	// not printable.
	ManufacturerID string `json:"manufacturer_id,omitempty"`
	// ManufacturerName is the TCG vendor registry's name ("Intel");
	// empty for a vendor ID the registry does not list.
	ManufacturerName string `json:"manufacturer_name,omitempty"`
	Model            string `json:"model"`   // TPMModel, as stated
	Version          string `json:"version"` // TPMVersion, as stated
	// Algorithm is the EK's: "rsa-2048", "rsa-3072", "ecc-P-256" or "ecc-P-384".
	Algorithm string `json:"algorithm"`
	// PublicKeySHA256 is the SHA-256 of the EK's DER
	// SubjectPublicKeyInfo, as enrolments name an EK.
	PublicKeySHA256 string `json:"public_key_sha256"`
	// Bound says that the certificate's key was compared with the TPM's
	// EK as otherwise known (EKOptions.EKSHA256) and is that key. For a
	// quote: the EK its enrolled AK was activated against.
	Bound       bool       `json:"bound"`
	Certificate CertClaims `json:"certificate"`
	// Chain names the CAs, from the issuer to the anchor.
	Chain []string `json:"chain"`
}

// VerifyEK checks an EK certificate against the TCG EK Credential
// Profile, in order:
//
//   - ek.chain: it chains, through the embedded and given intermediates,
//     to a trusted EK CA (the embedded TPM vendor and cloud vTPM CAs, or
//     o.Roots), every certificate valid at o.Now;
//   - ek.san: its subjectAltName names the TPM: TPMManufacturer (a TCG
//     vendor ID), TPMModel and TPMVersion; with an empty subject the
//     extension is critical (RFC 5280 section 4.2.1.6);
//   - ek.key: it certifies an EK: an RSA 2048 or 3072, or ECC NIST P-256
//     or P-384 key (templates L-1, L-2, H-6, H-3), not a CA, with keyEncipherment (RSA)
//     or keyAgreement (ECC) and without digitalSignature when it states
//     a key usage, and tcg-kp-EKCertificate when it states extended key
//     usages; and, when o.EKSHA256 is set, the key is that EK.
//
// Every check runs; claims come back only if all passed, the checks
// either way, and the error wraps the first failure (ErrChain,
// ErrEKProfile, ErrEKMismatch).
func VerifyEK(c *x509.Certificate, o EKOptions) (*EKClaims, []attest.Check, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	at := now()
	var checks attest.Checks
	cl := &EKClaims{Certificate: certClaims(c)}

	// ek.chain
	chain, err := ekChain(c, o, at)
	if err != nil {
		checks.Fail("ek.chain", err)
	} else {
		for _, p := range chain[1:] {
			cl.Chain = append(cl.Chain, p.Subject.String())
		}
		checks.Pass("ek.chain", "EK certificate %s chains to the TPM vendor CA %q at %s (via %s)", certID(c), chain[len(chain)-1].Subject, at.UTC().Format(time.RFC3339), strings.Join(quoteAll(cl.Chain), " <- "))
	}

	// ek.san
	if id, detail, err := ekSAN(c); err != nil {
		checks.Fail("ek.san", err)
	} else {
		vid, _ := id.VendorID()
		cl.Manufacturer = fmt.Sprintf("%08X", vid)
		cl.ManufacturerID = vendorASCII(vid)
		cl.ManufacturerName = VendorName(vid)
		cl.Model, cl.Version = id.Model, id.Version
		checks.Pass("ek.san", "%s", detail)
	}

	// ek.key
	if detail, bound, err := ekKey(c, o); err != nil {
		checks.Fail("ek.key", err)
	} else {
		cl.Bound = bound
		cl.Algorithm = keyAlgorithm(c.PublicKey)
		if der, err := x509.MarshalPKIXPublicKey(c.PublicKey); err == nil {
			s := sha256.Sum256(der)
			cl.PublicKeySHA256 = hex.EncodeToString(s[:])
		}
		checks.Pass("ek.key", "%s", detail)
	}
	if checks.Err != nil {
		return nil, checks.List, checks.Err
	}
	return cl, checks.List, nil
}

// ekChain verifies the certificate's chain; the subjectAltName, which
// crypto/x509 leaves unhandled when it holds only a directoryName, is
// ek.san's to judge.
func ekChain(c *x509.Certificate, o EKOptions, at time.Time) ([]*x509.Certificate, error) {
	roots := o.Roots
	if roots == nil {
		roots = embeddedEKRoots()
	}
	rp, ip := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range roots {
		rp.AddCert(r)
	}
	for _, x := range append(append([]*x509.Certificate{}, o.Intermediates...), embeddedEKCerts()...) {
		ip.AddCert(x)
	}
	leaf := sanProcessed(c)
	// EK certificates carry tcg-kp-EKCertificate, no TLS key purpose.
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: rp, Intermediates: ip, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, fmt.Errorf("%w: EK certificate %s (issuer %q) does not chain to a trusted TPM vendor CA at %s: %v", ErrChain, certID(c), c.Issuer, at.UTC().Format(time.RFC3339), err)
	}
	return chains[0], nil
}

// ekSAN reads and judges the subjectAltName.
func ekSAN(c *x509.Certificate) (*TPMIdentity, string, error) {
	var san *struct {
		critical bool
		value    []byte
	}
	for _, e := range c.Extensions {
		if e.Id.Equal(oidSubjectAltName) {
			san = &struct {
				critical bool
				value    []byte
			}{e.Critical, e.Value}
		}
	}
	if san == nil {
		return nil, "", fmt.Errorf("%w: EK certificate %s has no subjectAltName: the TPM's manufacturer, model and version are not stated (profile section 3.2.9)", ErrEKProfile, certID(c))
	}
	id, err := ParseEKSAN(san.value)
	if err != nil {
		return nil, "", fmt.Errorf("EK certificate %s: %w", certID(c), err)
	}
	vid, err := id.VendorID()
	if err != nil {
		return nil, "", err
	}
	if len(c.RawSubject) <= 2 && !san.critical { // an empty Name is the 2 bytes 30 00
		return nil, "", fmt.Errorf("%w: EK certificate %s has an empty subject and a non-critical subjectAltName (RFC 5280 section 4.2.1.6 requires it critical)", ErrEKProfile, certID(c))
	}
	name := VendorName(vid)
	if name == "" {
		name = "a vendor ID the TCG registry does not list"
	}
	ascii := vendorASCII(vid)
	if ascii != "" {
		ascii = fmt.Sprintf("%q, ", ascii)
	}
	return id, fmt.Sprintf("TPM manufacturer %s (%s%s), model %q, version %q", id.Manufacturer, ascii, name, id.Model, id.Version), nil
}

// ekKey judges the certified key; bound reports a comparison that held.
func ekKey(c *x509.Certificate, o EKOptions) (detail string, bound bool, err error) {
	if err := ekKeyOK(c.PublicKey); err != nil {
		return "", false, fmt.Errorf("%w: EK certificate %s: %v (profile section 2.2.1.4, templates L-1, L-2, H-3 and H-6)", ErrEKProfile, certID(c), strings.TrimPrefix(err.Error(), ErrMalformed.Error()+": "))
	}
	if c.IsCA {
		return "", false, fmt.Errorf("%w: EK certificate %s is a CA certificate", ErrEKProfile, certID(c))
	}
	if ku := c.KeyUsage; ku != 0 {
		want, wantName := x509.KeyUsageKeyEncipherment, "keyEncipherment"
		if _, ok := c.PublicKey.(*ecdsa.PublicKey); ok {
			want, wantName = x509.KeyUsageKeyAgreement, "keyAgreement"
		}
		if ku&x509.KeyUsageDigitalSignature != 0 {
			return "", false, fmt.Errorf("%w: EK certificate %s has key usage digitalSignature: it certifies a signing key (an AK?), and an EK never signs (profile section 3.2)", ErrEKProfile, certID(c))
		}
		if ku&want == 0 {
			return "", false, fmt.Errorf("%w: EK certificate %s lacks key usage %s (profile section 3.2)", ErrEKProfile, certID(c), wantName)
		}
	}
	if len(c.ExtKeyUsage)+len(c.UnknownExtKeyUsage) > 0 && !hasEKU(c, oidEKCertificate) {
		return "", false, fmt.Errorf("%w: EK certificate %s states extended key usages without tcg-kp-EKCertificate (2.23.133.8.1)", ErrEKProfile, certID(c))
	}
	der, err := x509.MarshalPKIXPublicKey(c.PublicKey)
	if err != nil {
		return "", false, fmt.Errorf("%w: EK certificate %s: %v", ErrMalformed, certID(c), err)
	}
	sum := sha256.Sum256(der)
	alg := keyAlgorithm(c.PublicKey)
	if o.EKSHA256 == nil {
		return fmt.Sprintf("certifies an EK (%s, sha256:%x); not compared with the TPM's EK: nothing else names it", alg, sum), false, nil
	}
	src := o.EKSource
	if src == "" {
		src = "the TPM's EK"
	}
	if !bytes.Equal(sum[:], o.EKSHA256) {
		return "", false, fmt.Errorf("%w: EK certificate %s certifies the key sha256:%x, %s is sha256:%x", ErrEKMismatch, certID(c), sum, src, o.EKSHA256)
	}
	return fmt.Sprintf("certifies an EK (%s, sha256:%x), and it is %s", alg, sum, src), true, nil
}

func keyAlgorithm(k crypto.PublicKey) string {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ecc-" + k.Curve.Params().Name
	}
	return fmt.Sprintf("%T", k)
}

func certClaims(c *x509.Certificate) CertClaims {
	return CertClaims{
		Subject:  c.Subject.String(),
		Issuer:   c.Issuer.String(),
		Serial:   fmt.Sprintf("%#x", c.SerialNumber),
		NotAfter: c.NotAfter.UTC().Format("2006-01-02T15:04:05Z"),
	}
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
