package pcs

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/assay-dev/assay/internal/dcap"
	"github.com/assay-dev/assay/internal/diskcache"
)

// ErrInvalid wraps every reason Validate refuses a document, and every
// name ParseCacheFile does not recognise.
var ErrInvalid = errors.New("invalid Intel collateral")

// Kind names a PCS document type.
type Kind string

// Document kinds (PCS API v4; the root CRL from the Intel SGX Root CA's
// CRL distribution point).
const (
	KindTCBInfo    Kind = "tcb_info"    // TCB info of an FMSPC, SGX or TDX, with its issuer chain
	KindQEIdentity Kind = "qe_identity" // QE (SGX) or TD_QE (TDX) identity, with its issuer chain
	KindPCKCRL     Kind = "pck_crl"     // CRL of the PCK Platform or Processor CA (DER)
	KindRootCRL    Kind = "root_crl"    // CRL of the Intel SGX Root CA (DER)
)

// Document names one document Client caches: what an offline appraisal
// of a quote needs and a fleet operator fetches ahead of time.
type Document struct {
	Kind Kind
	// TDX selects the TDX document (KindTCBInfo, KindQEIdentity); false is
	// SGX.
	TDX bool
	// FMSPC is the platform's FMSPC (KindTCBInfo only).
	FMSPC [6]byte
	// CA is "platform" or "processor" (KindPCKCRL only), as PCS spells it.
	CA string
}

func (d Document) check() error {
	switch d.Kind {
	case KindTCBInfo, KindQEIdentity, KindRootCRL:
		return nil
	case KindPCKCRL:
		if d.CA != "platform" && d.CA != "processor" {
			return fmt.Errorf("%w: PCK CRL for CA %q: want \"platform\" or \"processor\"", ErrInvalid, d.CA)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown PCS document kind %q", ErrInvalid, d.Kind)
}

func (d Document) tee() string {
	if d.TDX {
		return "tdx"
	}
	return "sgx"
}

// request is the API path and query of the document, exactly as Client
// asks for it; "" for the root CRL, which is not an API document.
func (d Document) request() (string, url.Values) {
	switch d.Kind {
	case KindTCBInfo:
		return "/" + d.tee() + "/certification/v4/tcb", url.Values{"fmspc": {strings.ToUpper(hex.EncodeToString(d.FMSPC[:]))}}
	case KindQEIdentity:
		return "/" + d.tee() + "/certification/v4/qe/identity", nil
	case KindPCKCRL:
		return "/sgx/certification/v4/pckcrl", url.Values{"ca": {d.CA}, "encoding": {"der"}}
	}
	return "", nil
}

// rootCRLFile is the cache file of the Intel SGX Root CA CRL.
const rootCRLFile = "IntelSGXRootCA.der"

// CacheFile is where a Client keeps the document: a slash-separated path
// relative to its CacheDir.
func (d Document) CacheFile() (string, error) {
	if err := d.check(); err != nil {
		return "", err
	}
	if d.Kind == KindRootCRL {
		return rootCRLFile, nil
	}
	p, q := d.request()
	name := strings.TrimPrefix(p, "/")
	if len(q) > 0 {
		name += "@" + strings.ReplaceAll(q.Encode(), "&", ",")
	}
	return name, nil
}

// URL is where the document is served: base (empty: DefaultBaseURL) for
// the API documents, rootCRLURL (empty: DefaultRootCRLURL) for the root
// CRL.
func (d Document) URL(base, rootCRLURL string) string {
	if d.Kind == KindRootCRL {
		if rootCRLURL == "" {
			rootCRLURL = DefaultRootCRLURL
		}
		return rootCRLURL
	}
	if base == "" {
		base = DefaultBaseURL
	}
	p, q := d.request()
	u := strings.TrimSuffix(base, "/") + p
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// String names the document for people and manifests: "tdx
// fmspc=B0C06F000000", "tdx TD_QE", "ca=platform", "Intel SGX Root CA".
func (d Document) String() string {
	switch d.Kind {
	case KindTCBInfo:
		return fmt.Sprintf("%s fmspc=%X", d.tee(), d.FMSPC[:])
	case KindQEIdentity:
		return d.tee() + " " + d.qeID()
	case KindPCKCRL:
		return "ca=" + d.CA
	}
	return cnRootCA
}

func (d Document) qeID() string {
	if d.TDX {
		return "TD_QE"
	}
	return "QE"
}

// ParseCacheFile is the inverse of CacheFile: it names the document a
// cache file holds. Only the exact name CacheFile gives is accepted.
func ParseCacheFile(name string) (Document, error) {
	d, err := parseCacheFile(name)
	if err != nil {
		return Document{}, err
	}
	canon, err := d.CacheFile()
	if err != nil {
		return Document{}, err
	}
	if canon != name {
		return Document{}, fmt.Errorf("%w: %q is not the canonical cache name %q", ErrInvalid, name, canon)
	}
	return d, nil
}

func parseCacheFile(name string) (Document, error) {
	if name == rootCRLFile {
		return Document{Kind: KindRootCRL}, nil
	}
	bad := fmt.Errorf("%w: %q is not a PCS cache file", ErrInvalid, name)
	tee, rest, ok := strings.Cut(name, "/certification/v4/")
	if !ok || (tee != "sgx" && tee != "tdx") {
		return Document{}, bad
	}
	d := Document{TDX: tee == "tdx"}
	switch {
	case rest == "qe/identity":
		d.Kind = KindQEIdentity
	case strings.HasPrefix(rest, "tcb@fmspc="):
		d.Kind = KindTCBInfo
		f, err := hex.DecodeString(strings.TrimPrefix(rest, "tcb@fmspc="))
		if err != nil || len(f) != len(d.FMSPC) {
			return Document{}, fmt.Errorf("%w: %q: the FMSPC is not 6 bytes of hex", ErrInvalid, name)
		}
		copy(d.FMSPC[:], f)
	case tee == "sgx" && strings.HasPrefix(rest, "pckcrl@ca="):
		d.Kind = KindPCKCRL
		d.CA, _ = strings.CutSuffix(strings.TrimPrefix(rest, "pckcrl@ca="), ",encoding=der")
	default:
		return Document{}, bad
	}
	return d, nil
}

// Fetch gets the document through c: from its cache if the cached copy
// passes the client's check, else from PCS, caching it.
func (c *Client) Fetch(ctx context.Context, d Document) error {
	if err := d.check(); err != nil {
		return err
	}
	var err error
	switch d.Kind {
	case KindTCBInfo:
		_, _, err = c.TCBInfo(ctx, d.TDX, d.FMSPC)
	case KindQEIdentity:
		_, _, err = c.QEIdentity(ctx, d.TDX)
	case KindPCKCRL:
		_, err = c.PCKCRL(ctx, d.CA)
	case KindRootCRL:
		_, err = c.RootCRL(ctx)
	}
	return err
}

// Validity is what Validate learned about a document's lifetime: its
// nextUpdate, after which the document proves nothing.
type Validity = diskcache.Validity

// Validate checks that b, a cache file's content, is the document d names
// and that its signature verifies up to the Intel SGX Root CA embedded in
// internal/dcap: a TCB info or QE identity (in the cache's JSON envelope
// with its issuer chain) for exactly this TEE and FMSPC, whose issuer
// chain starts with an Intel SGX TCB Signing certificate the root signed
// and whose signature verifies with it; a PCK CRL signed by the embedded
// PCK CA it names; a root CRL signed by the root. It is stricter than the
// Client's own check (which leaves signatures to the verifier) because it
// is for documents that arrive by other roads than PCS: an offline
// bundle, a cache copied between machines. It does not judge time: the
// caller compares Until with its clock.
func Validate(d Document, b []byte) (Validity, error) {
	if err := d.check(); err != nil {
		return Validity{}, err
	}
	root := dcap.EmbeddedRoot()
	switch d.Kind {
	case KindTCBInfo, KindQEIdentity:
		return validateSigned(d, b, root)
	case KindPCKCRL:
		cn := cnPlatformCA
		if d.CA == "processor" {
			cn = cnProcessorCA
		}
		var ca *x509.Certificate
		for _, c := range dcap.EmbeddedCerts() {
			if c.Subject.CommonName == cn {
				ca = c
			}
		}
		if ca == nil {
			return Validity{}, fmt.Errorf("%w: no embedded %s", ErrInvalid, cn)
		}
		if err := ca.CheckSignatureFrom(root); err != nil {
			return Validity{}, fmt.Errorf("%w: the embedded %s is not signed by %s: %v", ErrInvalid, cn, cnRootCA, err)
		}
		return validateCRL(d, b, ca)
	}
	return validateCRL(d, b, root)
}

func validateSigned(d Document, b []byte, root *x509.Certificate) (Validity, error) {
	var e cacheEntry
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Validity{}, fmt.Errorf("%w: %s %s: not a cache entry: %v", ErrInvalid, d.Kind, d, err)
	}
	if dec.More() {
		return Validity{}, fmt.Errorf("%w: %s %s: data after the cache entry", ErrInvalid, d.Kind, d)
	}
	if err := checkChain([]byte(e.IssuerChain)); err != nil {
		return Validity{}, fmt.Errorf("%w: %s %s: issuer chain: %v", ErrInvalid, d.Kind, d, err)
	}
	blk, _ := pem.Decode([]byte(e.IssuerChain))
	signer, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return Validity{}, fmt.Errorf("%w: %s %s: issuer chain: %v", ErrInvalid, d.Kind, d, err)
	}
	if signer.Subject.CommonName != "Intel SGX TCB Signing" {
		return Validity{}, fmt.Errorf("%w: %s %s: the issuer chain starts with %q, want Intel SGX TCB Signing", ErrInvalid, d.Kind, d, signer.Subject.CommonName)
	}
	if err := signer.CheckSignatureFrom(root); err != nil {
		return Validity{}, fmt.Errorf("%w: %s %s: the TCB signing certificate is not signed by the embedded %s: %v", ErrInvalid, d.Kind, d, cnRootCA, err)
	}
	if d.Kind == KindTCBInfo {
		t, err := dcap.ParseTCBInfo(e.Body)
		if err != nil {
			return Validity{}, fmt.Errorf("%w: %s %s: %v", ErrInvalid, d.Kind, d, err)
		}
		want := dcap.TCBInfoSGX
		if d.TDX {
			want = dcap.TCBInfoTDX
		}
		switch {
		case t.ID != want:
			return Validity{}, fmt.Errorf("%w: the TCB info is for %q, want %q", ErrInvalid, t.ID, want)
		case t.FMSPC != d.FMSPC:
			return Validity{}, fmt.Errorf("%w: the TCB info is for FMSPC %X, want %X", ErrInvalid, t.FMSPC[:], d.FMSPC[:])
		}
		if err := t.VerifySignature(signer); err != nil {
			return Validity{}, fmt.Errorf("%w: %s %s: %v", ErrInvalid, d.Kind, d, err)
		}
		return Validity{Until: t.NextUpdate, Bound: "nextUpdate"}, nil
	}
	q, err := dcap.ParseQEIdentity(e.Body)
	if err != nil {
		return Validity{}, fmt.Errorf("%w: %s %s: %v", ErrInvalid, d.Kind, d, err)
	}
	if q.ID != d.qeID() {
		return Validity{}, fmt.Errorf("%w: the enclave identity is for %q, want %q", ErrInvalid, q.ID, d.qeID())
	}
	if err := q.VerifySignature(signer); err != nil {
		return Validity{}, fmt.Errorf("%w: %s %s: %v", ErrInvalid, d.Kind, d, err)
	}
	return Validity{Until: q.NextUpdate, Bound: "nextUpdate"}, nil
}

func validateCRL(d Document, b []byte, issuer *x509.Certificate) (Validity, error) {
	v, err := diskcache.ValidateCRL(b, issuer)
	if err != nil {
		return Validity{}, fmt.Errorf("%w: %s: %v", ErrInvalid, d, err)
	}
	return v, nil
}
