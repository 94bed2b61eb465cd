package nitro

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/veraison/go-cose"

	"github.com/assay-dev/assay/attest"
)

// Options for Verify. Verify never writes to them.
type Options struct {
	// Roots are the trusted roots. Nil means the embedded AWS Nitro
	// Enclaves Root-G1.
	Roots []*x509.Certificate
	// Now is the verification time. Nil means time.Now. Nitro signing
	// certificates live about three hours: recorded documents verify only
	// at (about) their own timestamp.
	Now func() time.Time
	// Nonce is the expected value of the document's nonce field, compared
	// byte for byte. Nil means freshness is not checked (the nonce check
	// says so). A nonce longer than the field can hold (1024 bytes, [NSM]
	// 2.2) fails the nonce check as such.
	Nonce []byte
	// Carrier is the certificate that carried the document
	// (FormatCertificate). Nil means none, and no tls.binding check; when
	// set, the document must bind its public key.
	Carrier *x509.Certificate
	// Cache remembers verified certificate signatures and validated
	// paths across documents; nil is none. Validity windows, CA and key
	// usage rules are checked every time; only the signatures and the
	// time-independent part of path validation are remembered.
	Cache *Cache
}

// Cache remembers the certificate signatures and certification paths a
// verifier has already checked, so that a service appraising documents
// from one enclave fleet verifies the AWS chain once, not per document. It
// is safe for concurrent use; the zero value is ready.
type Cache struct {
	sigs  sync.Map // sha256(child.Raw ‖ parent SPKI) -> struct{}
	paths sync.Map // sha256(leaf ‖ root ‖ intermediates) -> pathWindow
}

// pathWindow is when a validated path is valid: path validation's only
// time-dependent part is each certificate's validity window.
type pathWindow struct{ notBefore, notAfter time.Time }

func (c *Cache) checkSignature(child, parent *x509.Certificate) error {
	if c == nil {
		return parent.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature)
	}
	h := sha256.New()
	h.Write(child.Raw)
	h.Write(parent.RawSubjectPublicKeyInfo)
	var k [32]byte
	h.Sum(k[:0])
	if _, ok := c.sigs.Load(k); ok {
		return nil
	}
	if err := parent.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature); err != nil {
		return err
	}
	c.sigs.Store(k, struct{}{})
	return nil
}

// maxClockSkew is how far a document's timestamp may lie after the
// verification time. --at has second precision and the document
// millisecond precision; a clock a little behind AWS's is not an attack.
const maxClockSkew = time.Minute

// Verification is what Verify learned.
type Verification struct {
	// Root is the trusted root the chain ends in; nil if none.
	Root *x509.Certificate
	// Intermediates are the cabundle certificates between the root and the
	// document's certificate, root side first.
	Intermediates []*x509.Certificate
	// Claims is set only when every check passed.
	Claims *Claims
}

// Verify checks a parsed document, in this order, and reports each as a
// check whether it passes or not:
//
//   - chain.root: cabundle[0] is a trusted root (same name and key; or,
//     should the bundle omit its root, a trusted root issued cabundle[0]),
//     valid at the verification time;
//   - chain.intermediate: every further cabundle certificate is a CA
//     certificate signed by the one before, valid at the verification time
//     (one check naming every link);
//   - chain.leaf: the document's certificate is an ECDSA P-384 end-entity
//     certificate signed by the last cabundle certificate, valid at the
//     verification time, and the whole path passes RFC 5280 validation
//     (crypto/x509: path length, critical extensions);
//   - signature: the COSE_Sign1 ES384 signature verifies with the
//     certificate's key;
//   - timestamp: the document's timestamp lies within the certificate's
//     validity and not after the verification time;
//   - nonce: the nonce field equals Options.Nonce (skipped without one);
//   - tls.binding (with Options.Carrier only): user_data or public_key is
//     the carrying certificate's SubjectPublicKeyInfo.
//
// Every check runs even after one fails, so that a rejection explains
// itself in full; the error wraps the kind of the first failure. Policy
// (debug mode) is judged separately, by Policy.Apply, on verified claims.
func Verify(d *Document, o Options) (*Verification, []attest.Check, error) {
	v := &verification{d: d, o: o, now: time.Now()}
	if o.Now != nil {
		v.now = o.Now()
	}
	out := &Verification{}
	if d == nil || d.Certificate == nil || len(d.CABundle) == 0 {
		v.Fail("chain.root", fmt.Errorf("%w: the document has no certificate or no cabundle (use Parse)", ErrMalformed))
		return out, v.List, v.Err
	}
	out.Root, out.Intermediates = v.chain()
	v.signature()
	v.timestamp()
	v.nonce()
	if o.Carrier != nil {
		v.binding()
	}
	if v.Err == nil {
		out.Claims = NewClaims(d, o.Carrier)
	}
	return out, v.List, v.Err
}

type verification struct {
	d             *Document
	o             Options
	now           time.Time
	attest.Checks // the checks in order and the first failure
}

// chain checks root -> cabundle intermediates -> certificate. The cabundle
// is ordered root first ([NSM] 3.2.3).
func (v *verification) chain() (*x509.Certificate, []*x509.Certificate) {
	d := v.d
	roots := v.o.Roots
	if roots == nil {
		roots = embeddedRoots()
	}
	first := d.CABundle[0]
	var anchor *x509.Certificate
	inter := d.CABundle[1:]
	var how string
	for _, r := range roots {
		if bytes.Equal(r.RawSubject, first.RawSubject) && bytes.Equal(r.RawSubjectPublicKeyInfo, first.RawSubjectPublicKeyInfo) {
			anchor, how = r, "cabundle[0] is this root"
			if !bytes.Equal(r.Raw, first.Raw) {
				how = "cabundle[0] carries this root's name and key"
			}
			break
		}
	}
	if anchor == nil {
		for _, r := range roots {
			if bytes.Equal(first.RawIssuer, r.RawSubject) && r.CheckSignature(first.SignatureAlgorithm, first.RawTBSCertificate, first.Signature) == nil {
				anchor, inter, how = r, d.CABundle, "the cabundle omits the root, which issued cabundle[0]"
				break
			}
		}
	}
	// parent is the certificate the first intermediate must be signed by:
	// the trusted root, or, when there is none, cabundle[0] as given, so
	// that the remaining links are still explained.
	parent := anchor
	if anchor == nil {
		var names []string
		for _, r := range roots {
			names = append(names, fmt.Sprintf("%s (SHA-256 %s…)", r.Subject.CommonName, sha256Hex(r.Raw)[:16]))
		}
		v.Fail("chain.root", fmt.Errorf("%w: cabundle[0] %q (SHA-256 %s…) is not a trusted root, nor issued by one; trusted: %s", ErrChain, first.Subject.String(), sha256Hex(first.Raw)[:16], strings.Join(names, ", ")))
		parent = first
	} else if err := validAt(anchor, v.now); err != nil {
		v.Fail("chain.root", err)
	} else if err := v.o.Cache.checkSignature(anchor, anchor); err != nil {
		v.Fail("chain.root", fmt.Errorf("%w: root %s self-signature: %v", ErrChain, anchor.Subject.CommonName, err))
	} else {
		v.Pass("chain.root", "%s is a trusted root (SHA-256 %s…), self-signed, valid %s to %s; %s", anchor.Subject.CommonName, sha256Hex(anchor.Raw)[:16], day(anchor.NotBefore), day(anchor.NotAfter), how)
	}

	// Intermediates: one check naming every link.
	offset := len(d.CABundle) - len(inter)
	var links []string
	var linkErr error
	for i, c := range inter {
		name := fmt.Sprintf("cabundle[%d]", i+offset)
		if err := link(v.o.Cache, name, c, parent, v.now, true); err != nil {
			// The first broken link is reported; the walk goes on so
			// that the leaf is judged against its own issuer.
			if linkErr == nil {
				linkErr = err
			}
		} else {
			links = append(links, fmt.Sprintf("%s %s (serial %#x) signed by %s, valid %s to %s", name, c.Subject.CommonName, c.SerialNumber, parent.Subject.CommonName, day(c.NotBefore), day(c.NotAfter)))
		}
		parent = c
	}
	switch {
	case linkErr != nil:
		v.Fail("chain.intermediate", linkErr)
	case len(inter) == 0:
		v.Pass("chain.intermediate", "no intermediate certificates: the root issued the document's certificate directly")
	default:
		v.Pass("chain.intermediate", "%s", strings.Join(links, "; "))
	}

	// The document's certificate.
	leaf := d.Certificate
	err := link(v.o.Cache, "certificate", leaf, parent, v.now, false)
	if err == nil && anchor != nil && linkErr == nil {
		err = pathValid(v.o.Cache, leaf, anchor, inter, v.now)
	}
	if err != nil {
		v.Fail("chain.leaf", err)
	} else {
		v.Pass("chain.leaf", "%s (serial %#x, ECDSA P-384) signed by %s, valid %s to %s", leaf.Subject.CommonName, leaf.SerialNumber, parent.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return anchor, inter
}

// link checks that parent signed child, that child is valid at now and is
// a CA (wantCA) or an ECDSA P-384 end-entity certificate with the key
// usages [NSM] 3.2.3.3 requires.
func link(c *Cache, name string, child, parent *x509.Certificate, now time.Time, wantCA bool) error {
	if err := validAt(child, now); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if !parent.IsCA || !parent.BasicConstraintsValid {
		return fmt.Errorf("%w: %s: issuer %s is not a CA certificate", ErrChain, name, parent.Subject.CommonName)
	}
	if wantCA {
		if !child.IsCA || !child.BasicConstraintsValid {
			return fmt.Errorf("%w: %s %s is not a CA certificate", ErrChain, name, child.Subject.CommonName)
		}
		if child.KeyUsage != 0 && child.KeyUsage&x509.KeyUsageCertSign == 0 {
			return fmt.Errorf("%w: %s %s lacks the keyCertSign key usage", ErrChain, name, child.Subject.CommonName)
		}
	} else {
		if child.IsCA {
			return fmt.Errorf("%w: %s %s is a CA certificate, want an end-entity certificate", ErrChain, name, child.Subject.CommonName)
		}
		if child.KeyUsage != 0 && child.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
			return fmt.Errorf("%w: %s %s lacks the digitalSignature key usage", ErrChain, name, child.Subject.CommonName)
		}
		if k, ok := child.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P384() {
			return fmt.Errorf("%w: %s %s has a %s key, want ECDSA P-384 for ES384", ErrChain, name, child.Subject.CommonName, child.PublicKeyAlgorithm)
		}
	}
	if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
		return fmt.Errorf("%w: %s %s names issuer %q, not %q", ErrChain, name, child.Subject.CommonName, child.Issuer.String(), parent.Subject.String())
	}
	if err := c.checkSignature(child, parent); err != nil {
		return fmt.Errorf("%w: %s %s signature by %s does not verify: %v", ErrChain, name, child.Subject.CommonName, parent.Subject.CommonName, err)
	}
	return nil
}

// pathValid runs crypto/x509's RFC 5280 path validation over exactly this
// path, for what the link checks do not cover: path length constraints,
// name constraints, unhandled critical extensions.
//
// With a cache, a path validated once counts again at any time inside
// every certificate's validity window (the rest of validation does not
// depend on the time).
func pathValid(c *Cache, leaf, root *x509.Certificate, inter []*x509.Certificate, now time.Time) error {
	var key [32]byte
	if c != nil {
		h := sha256.New()
		h.Write(leaf.Raw)
		h.Write(root.Raw)
		for _, x := range inter {
			h.Write(x.Raw)
		}
		h.Sum(key[:0])
		if w, ok := c.paths.Load(key); ok {
			pw := w.(pathWindow)
			if !now.Before(pw.notBefore) && !now.After(pw.notAfter) {
				return nil
			}
		}
	}
	rp, ip := x509.NewCertPool(), x509.NewCertPool()
	rp.AddCert(root)
	for _, c := range inter {
		ip.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: rp, Intermediates: ip, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return fmt.Errorf("%w: RFC 5280 path validation: %v", ErrChain, err)
	}
	if c != nil {
		w := pathWindow{leaf.NotBefore, leaf.NotAfter}
		for _, x := range append([]*x509.Certificate{root}, inter...) {
			if x.NotBefore.After(w.notBefore) {
				w.notBefore = x.NotBefore
			}
			if x.NotAfter.Before(w.notAfter) {
				w.notAfter = x.NotAfter
			}
		}
		c.paths.Store(key, w)
	}
	return nil
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

// signature verifies the COSE_Sign1 ES384 signature ([COSE] 4.4, 8.1)
// over the protected header and the payload with go-cose.
func (v *verification) signature() {
	pub, ok := v.d.Certificate.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P384() {
		v.Fail("signature", fmt.Errorf("%w: the certificate's key is %s, ES384 needs ECDSA P-384", ErrSignature, v.d.Certificate.PublicKeyAlgorithm))
		return
	}
	msg, err := v.d.sign1()
	if err != nil {
		v.Fail("signature", err)
		return
	}
	cv, err := cose.NewVerifier(cose.AlgorithmES384, pub)
	if err != nil {
		v.Fail("signature", fmt.Errorf("%w: %v", ErrSignature, err))
		return
	}
	if err := msg.Verify(nil, cv); err != nil {
		v.Fail("signature", fmt.Errorf("%w: the COSE_Sign1 ES384 signature does not verify with the key of %s: %v", ErrSignature, v.d.Certificate.Subject.CommonName, err))
		return
	}
	v.Pass("signature", "COSE_Sign1 ES384 signature over the protected header and the %d-byte payload verifies with the key of %s", len(v.d.Payload), v.d.Certificate.Subject.CommonName)
}

func (v *verification) timestamp() {
	ts, leaf := v.d.Time(), v.d.Certificate
	switch {
	case ts.Before(leaf.NotBefore) || ts.After(leaf.NotAfter):
		v.Fail("timestamp", fmt.Errorf("%w: timestamp %s is outside the validity of the certificate that signed it (%s to %s)", ErrTimestamp, stamp(ts), leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339)))
	case ts.After(v.now.Add(maxClockSkew)):
		v.Fail("timestamp", fmt.Errorf("%w: timestamp %s is %s after the verification time %s", ErrTimestamp, stamp(ts), ts.Sub(v.now).Round(time.Millisecond), v.now.UTC().Format(time.RFC3339)))
	case ts.After(v.now):
		v.Pass("timestamp", "timestamp %s lies within the certificate's validity (%s to %s), %s after the verification time (tolerated clock skew: %s)", stamp(ts), leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), ts.Sub(v.now).Round(time.Millisecond), maxClockSkew)
	default:
		v.Pass("timestamp", "timestamp %s lies within the certificate's validity (%s to %s), %s before the verification time", stamp(ts), leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), v.now.Sub(ts).Round(time.Millisecond))
	}
}

func (v *verification) nonce() {
	want, got := v.o.Nonce, v.d.Nonce
	switch {
	case want == nil:
		v.Skip("nonce", "not checked: no expected nonce given; the document may be a replay")
	case len(want) > maxUserData:
		// No document Parse accepts can carry it; say so rather than
		// report a mismatch.
		v.Fail("nonce", fmt.Errorf("%w: the expected nonce is %d bytes; a document's nonce field holds at most %d ([NSM] 2.2), and the NSM takes at most %d ([NSM] 3.2.2.2)", ErrNonce, len(want), maxUserData, maxNSMNonce))
	case got == nil:
		v.Fail("nonce", fmt.Errorf("%w: the document has no nonce, want %s", ErrNonce, shortHex(want)))
	case !bytes.Equal(got, want):
		v.Fail("nonce", fmt.Errorf("%w: the document's nonce is %s (%d bytes), want %s (%d bytes)", ErrNonce, shortHex(got), len(got), shortHex(want), len(want)))
	default:
		v.Pass("nonce", "the document's nonce equals the expected nonce (%d bytes)", len(want))
	}
}

// binding checks that a document carried in a certificate binds that
// certificate's key, as Evervault's scheme does (user_data is the
// certificate's SubjectPublicKeyInfo, DER). Without it, anyone could copy
// a genuine document into a certificate for their own key.
func (v *verification) binding() {
	c := v.o.Carrier
	spki := c.RawSubjectPublicKeyInfo
	fp := sha256Hex(spki)[:16]
	switch {
	case v.d.UserData != nil && bytes.Equal(v.d.UserData, spki):
		v.Pass("tls.binding", "user_data is the SubjectPublicKeyInfo of the certificate that carries the document (%s, %s key, SHA-256 %s…): the enclave holds that key", c.Subject.CommonName, c.PublicKeyAlgorithm, fp)
	case v.d.PublicKey != nil && bytes.Equal(v.d.PublicKey, spki):
		v.Pass("tls.binding", "public_key is the SubjectPublicKeyInfo of the certificate that carries the document (%s, %s key, SHA-256 %s…): the enclave holds that key", c.Subject.CommonName, c.PublicKeyAlgorithm, fp)
	default:
		v.Fail("tls.binding", fmt.Errorf("%w: neither user_data nor public_key is the SubjectPublicKeyInfo of the certificate that carries the document (%s, SHA-256 %s…): its key is not the enclave's", ErrBinding, c.Subject.CommonName, fp))
	}
}

// shortHex renders bytes as hex, eliding the middle of long values.
func shortHex(b []byte) string {
	if len(b) <= 32 {
		return fmt.Sprintf("%x", b)
	}
	return fmt.Sprintf("%x…%x", b[:16], b[len(b)-8:])
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// stamp renders a document timestamp: RFC 3339, UTC, milliseconds.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
