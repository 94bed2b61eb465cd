// Package pcs fetches Intel SGX and TDX collateral from the Intel
// Provisioning Certification Service (PCS) API v4 and keeps it in a disk
// cache, so that an appraisal does not wait on the network for a TCB info,
// QE identity or CRL it already has and that is still current.
//
// The client checks that a document is what the endpoint serves before it
// returns or caches it: a TCB info for the TEE and FMSPC asked for, a QE
// identity for the quoting enclave asked for (QE or TD_QE), a DER CRL of
// the CA asked for, each not past its nextUpdate, and an issuer chain of
// PEM certificates. A cached copy that fails the same check (damaged, or
// past its nextUpdate) is treated as absent and fetched again. The client
// does not verify signatures: that is the verifier's work
// (internal/dcap), against its own trusted roots.
//
// Endpoints, after Intel "Intel SGX and Intel TDX Provisioning
// Certification Service API" version 4:
//
//	GET /sgx/certification/v4/tcb?fmspc={FMSPC}                     SGX TCB info (JSON), TCB-Info-Issuer-Chain
//	GET /tdx/certification/v4/tcb?fmspc={FMSPC}                     TDX TCB info (JSON), TCB-Info-Issuer-Chain
//	GET /sgx/certification/v4/qe/identity                           QE identity (JSON), SGX-Enclave-Identity-Issuer-Chain
//	GET /tdx/certification/v4/qe/identity                           TD_QE identity (JSON), SGX-Enclave-Identity-Issuer-Chain
//	GET /sgx/certification/v4/pckcrl?ca={platform,processor}&encoding=der  PCK CRL (DER), SGX-PCK-CRL-Issuer-Chain
//
// The issuer-chain headers carry a percent-encoded PEM chain. None of these
// endpoints needs an API subscription key (only PCK certificate retrieval
// does, and this client does not retrieve PCK certificates). The Intel SGX
// Root CA CRL is not served by the API but at the CRL distribution point
// of the Intel SGX Root CA certificate, DefaultRootCRLURL.
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
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/assay-dev/assay/collateral/fetch"
	"github.com/assay-dev/assay/internal/dcap"
	"github.com/assay-dev/assay/internal/diskcache"
)

// DefaultBaseURL is Intel's PCS.
const DefaultBaseURL = "https://api.trustedservices.intel.com"

// DefaultRootCRLURL is the CRL distribution point of the Intel SGX Root CA
// certificate.
const DefaultRootCRLURL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"

// maxBody bounds a response: PCS documents are a few kilobytes (an SGX
// TCB info with many levels some tens).
const maxBody = 1 << 20

// Issuer-chain response headers (PCS API v4). API v3 named the TCB info
// chain SGX-TCB-Info-Issuer-Chain; some caching services (PCCS) still send
// that name on v4 paths, so it is read when the v4 name is absent.
const (
	headerTCBInfoChain   = "TCB-Info-Issuer-Chain"
	headerTCBInfoChainV3 = "SGX-TCB-Info-Issuer-Chain"
	headerIdentityChain  = "SGX-Enclave-Identity-Issuer-Chain"
)

// Issuer common names of the CRLs, after Intel "SGX PCK Certificate and
// Certificate Revocation List Profile Specification" (the Platform,
// Processor and Root CA certificate profiles).
const (
	cnPlatformCA  = "Intel SGX PCK Platform CA"
	cnProcessorCA = "Intel SGX PCK Processor CA"
	cnRootCA      = "Intel SGX Root CA"
)

// ErrFetch wraps every failure to obtain a document: a bad argument,
// network, HTTP status, or a response that is not what the endpoint
// serves. A failure caused by the caller's context also wraps the
// context's error.
var ErrFetch = errors.New("intel pcs")

// Client implements dcap.Getter over Intel PCS v4 with a disk cache. It
// is safe for concurrent use, several clients included, on one cache
// directory, and must not be copied after first use: concurrent calls for
// one document share one cache lookup and one fetch.
type Client struct {
	// BaseURL is the PCS root, or that of a caching service with the same
	// paths; empty means DefaultBaseURL.
	BaseURL string
	// RootCRLURL is where the Intel SGX Root CA CRL (DER) is; empty means
	// DefaultRootCRLURL.
	RootCRLURL string
	// HTTP is the client used when Fetcher is nil; nil means
	// http.DefaultClient, bounded by Timeout. Headers a proxy or caching
	// service needs can be added by its Transport.
	HTTP *http.Client
	// Timeout bounds each attempt of a request, body included, when
	// Fetcher is nil; zero means 20 seconds.
	Timeout time.Duration
	// Fetcher makes the requests: it retries transient failures, honours
	// Retry-After, coalesces concurrent requests and limits them per host
	// (see collateral/fetch). Nil means a Fetcher with fetch's defaults
	// over HTTP, Timeout and Logger; when set, HTTP and Timeout are not
	// used.
	Fetcher *fetch.Fetcher
	// CacheDir holds fetched documents; empty means no disk cache.
	CacheDir string
	// Observe, when set and Fetcher is nil, is told of every attempt of
	// every request (fetch.Fetcher.Observe): the server counts fetch
	// errors with it.
	Observe func(host string, status int, err error, d time.Duration)
	// Offline serves only what CacheDir holds (validated, as always) and
	// never touches the network: a miss is an error wrapping
	// ErrNotCached, which the verifiers treat as collateral not supplied.
	// An air-gapped verifier runs this way over an imported bundle.
	Offline bool
	// Now is the clock for nextUpdate: a cached document past its
	// nextUpdate is fetched again, and a fetched one is refused. Nil is
	// time.Now.
	Now func() time.Time
	// Logger receives one line per network fetch, per retry and per
	// cached file discarded; nil discards.
	Logger *slog.Logger

	// Stale says what to do with a cached document past its nextUpdate:
	// the zero value fetches it again (and fails without a current copy);
	// Keep serves the stale copy when the vendor cannot give a current
	// one, and with Background serves it at once and refreshes it in the
	// background (stale-while-revalidate). The verifier judges how stale
	// a document it uses may be (attest.Freshness).
	Stale diskcache.StalePolicy

	fetcher    fetch.Lazy // the default Fetcher, made on first use
	misses     fetch.Group[document]
	revalidate diskcache.Revalidator
}

var _ dcap.Getter = (*Client)(nil)

// DefaultCacheDir is $XDG_CACHE_HOME/assay/intel-pcs, or under the
// platform's user cache directory (~/.cache on Linux) when XDG_CACHE_HOME
// is unset. A relative XDG_CACHE_HOME is ignored, as the XDG Base
// Directory Specification requires: it would put the cache wherever the
// command happens to run.
func DefaultCacheDir() (string, error) { return diskcache.Dir("intel-pcs") }

// TCBInfo implements dcap.Getter. The body served must be a TCB info
// (PCS API v4 "TCB Info", version 3) for this TEE (id SGX or TDX) and
// exactly this FMSPC, not past its nextUpdate; any other document is an
// error and is not cached.
func (c *Client) TCBInfo(ctx context.Context, tdx bool, fmspc [6]byte) (body, issuerChain []byte, err error) {
	tee, id := "sgx", "SGX"
	if tdx {
		tee, id = "tdx", "TDX"
	}
	// PCS takes the FMSPC as base16; Intel's own documents spell it in
	// upper case.
	q := url.Values{"fmspc": {strings.ToUpper(hex.EncodeToString(fmspc[:]))}}
	now := c.now()
	d, err := c.fetch(ctx, c.apiRequest(id+" TCB info", "/"+tee+"/certification/v4/tcb", q,
		[]string{headerTCBInfoChain, headerTCBInfoChainV3},
		func(b []byte) error { return checkTCBInfo(b, id, fmspc, now) }))
	return d.body, d.chain, err
}

// QEIdentity implements dcap.Getter. The body served must be the enclave
// identity (PCS API v4 "Enclave Identity", version 2) of the SGX quoting
// enclave (id QE) or of the TD quoting enclave (id TD_QE), not past its
// nextUpdate.
func (c *Client) QEIdentity(ctx context.Context, tdx bool) (body, issuerChain []byte, err error) {
	tee, id := "sgx", "QE"
	if tdx {
		tee, id = "tdx", "TD_QE"
	}
	now := c.now()
	d, err := c.fetch(ctx, c.apiRequest(id+" identity", "/"+tee+"/certification/v4/qe/identity", nil,
		[]string{headerIdentityChain},
		func(b []byte) error { return checkQEIdentity(b, id, now) }))
	return d.body, d.chain, err
}

// PCKCRL implements dcap.Getter. ca is "platform" or "processor", as PCS
// spells it; the CRL served must be issued by that CA (Intel SGX PCK
// Platform CA or Processor CA) and not be past its nextUpdate. The
// response's SGX-PCK-CRL-Issuer-Chain header is not read: the Getter
// returns the CRL alone, and its issuer is in the quote's PCK chain.
func (c *Client) PCKCRL(ctx context.Context, ca string) ([]byte, error) {
	var cn string
	switch ca {
	case "platform":
		cn = cnPlatformCA
	case "processor":
		cn = cnProcessorCA
	default:
		return nil, fmt.Errorf("%w: PCK CRL for CA %q: want \"platform\" or \"processor\"", ErrFetch, ca)
	}
	q := url.Values{"ca": {ca}, "encoding": {"der"}}
	now := c.now()
	d, err := c.fetch(ctx, c.apiRequest("PCK "+ca+" CA CRL", "/sgx/certification/v4/pckcrl", q, nil,
		func(b []byte) error { return checkCRL(b, cn, now) }))
	return d.body, err
}

// RootCRL implements dcap.Getter: the Intel SGX Root CA CRL from
// RootCRLURL, issued by the Intel SGX Root CA and not past its nextUpdate.
func (c *Client) RootCRL(ctx context.Context) ([]byte, error) {
	u := c.RootCRLURL
	if u == "" {
		u = DefaultRootCRLURL
	}
	now := c.now()
	r := request{
		what:  "Intel SGX Root CA CRL",
		url:   u,
		file:  c.cacheFile("IntelSGXRootCA.der"),
		check: func(b []byte) error { return checkCRL(b, cnRootCA, now) },
	}
	d, err := c.fetch(ctx, r)
	if base := strings.TrimSuffix(c.BaseURL, "/"); err != nil && errors.Is(err, fetch.ErrNotFound) && base != "" && base != DefaultBaseURL && u != base+PCCSRootCRLPath {
		// A PCCS serves the root CRL on its own path, not at Intel's
		// distribution point.
		r.url, r.hex = base+PCCSRootCRLPath, true
		var perr error
		if d, perr = c.fetch(ctx, r); perr != nil {
			return nil, fmt.Errorf("%w; nor at the PCCS path: %v", err, perr)
		}
		err = nil
	}
	return d.body, err
}

// PCCSRootCRLPath is where an Intel PCCS serves the Intel SGX Root CA CRL
// (DER, or its hex text): RootCRL asks a non-default BaseURL there when
// RootCRLURL answers 404.
const PCCSRootCRLPath = "/sgx/certification/v4/rootcacrl"

// unhex returns the DER a hex-encoded body stands for; b itself when it
// is not hex text.
func unhex(b []byte) []byte {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || len(t)%2 != 0 {
		return b
	}
	der, err := hex.DecodeString(string(t))
	if err != nil {
		return b
	}
	return der
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// request is one document to obtain.
type request struct {
	what string // for messages: "TDX TCB info"
	url  string
	file string // cache file; "" for none
	// chainHeaders are the headers that may carry the issuer chain, the
	// first present wins; nil when the document is returned without one.
	chainHeaders []string
	check        func(body []byte) error
	// hex accepts a body that is the hex text of the document (PCCS's
	// root CRL); the document is decoded before it is checked or cached.
	hex bool
}

// document is a response as served: the body, and the percent-decoded
// issuer-chain header when the request reads one.
type document struct {
	body, chain []byte
}

func (c *Client) apiRequest(what, path string, q url.Values, chainHeaders []string, check func([]byte) error) request {
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u := strings.TrimSuffix(base, "/") + path
	name := strings.TrimPrefix(path, "/")
	if len(q) > 0 {
		u += "?" + q.Encode()
		name += "@" + strings.ReplaceAll(q.Encode(), "&", ",")
	}
	return request{what: what, url: u, file: c.cacheFile(filepath.FromSlash(name)), chainHeaders: chainHeaders, check: check}
}

func (c *Client) cacheFile(name string) string {
	if c.CacheDir == "" {
		return ""
	}
	return filepath.Join(c.CacheDir, name)
}

// valid is the check a document passes before it is returned or cached.
func (r request) valid(d document) error {
	if err := r.check(d.body); err != nil {
		return err
	}
	if r.chainHeaders != nil {
		if err := checkChain(d.chain); err != nil {
			return fmt.Errorf("%s header: %v", r.chainHeaders[0], err)
		}
	}
	return nil
}

// cacheEntry is the cache file of a document with an issuer chain: both
// in one file, so that a reader never pairs a body with another
// response's chain. The body is base64 (encoding/json's []byte) because it
// must come back byte for byte: the signature covers the tcbInfo or
// enclaveIdentity object exactly as served.
type cacheEntry struct {
	Body        []byte `json:"body"`
	IssuerChain string `json:"issuer_chain"` // PEM
}

func (r request) encode(d document) ([]byte, error) {
	if r.chainHeaders == nil {
		return d.body, nil
	}
	return json.Marshal(cacheEntry{Body: d.body, IssuerChain: string(d.chain)})
}

func (r request) decode(b []byte) (document, error) {
	if r.chainHeaders == nil {
		return document{body: b}, nil
	}
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return document{}, fmt.Errorf("not a cache entry: %v", err)
	}
	return document{body: e.Body, chain: []byte(e.IssuerChain)}, nil
}

// fetch returns the document r names: from the cache if the cached copy
// passes r's check, else from the network. A cached copy that does not
// (damaged, or past its nextUpdate) is removed; a fetched document is
// cached only once it passes.
//
// Concurrent misses of one document share one fetch, which looks at the
// cache again first: a caller that missed just before another filled the
// cache does not fetch the document a second time. Each caller gets its
// own copy of the bytes.
func (c *Client) fetch(ctx context.Context, r request) (document, error) {
	var stale *document
	var staleRaw []byte
	if r.file != "" && !diskcache.Refreshing(ctx) {
		if b, err := os.ReadFile(r.file); err == nil {
			d, err := r.decode(b)
			if err == nil {
				err = r.valid(d)
			}
			switch {
			case err == nil:
				diskcache.RecordUse(ctx, r.what, r.url, "cache", r.file, b)
				return d, nil
			case c.Stale.Keep && errors.Is(err, diskcache.ErrStale):
				if c.revalidate.Go(c.Stale, r.url, r.what, func(ctx context.Context) error {
					_, err := c.misses.Do(ctx, r.url, c.miss(r))
					return err
				}) && c.Logger != nil {
					c.Logger.Info("refreshing stale Intel collateral in the background", "what", r.what, "url", r.url, "reason", err)
				}
				if c.Stale.Background != nil {
					diskcache.RecordUse(ctx, r.what, r.url, "cache", r.file, b)
					return d, nil
				}
				stale, staleRaw = &d, b
			default:
				if c.Logger != nil {
					c.Logger.Warn("discarding cached Intel collateral", "what", r.what, "file", r.file, "reason", err)
				}
				_ = diskcache.Remove(r.file)
			}
		}
	}
	d, err := c.misses.Do(ctx, r.url, c.miss(r))
	if err != nil {
		if stale != nil && ctx.Err() == nil {
			if c.Logger != nil {
				c.Logger.Warn("using stale Intel collateral: no current copy could be fetched", "what", r.what, "url", r.url, "err", err)
			}
			diskcache.RecordUse(ctx, r.what, r.url, "cache", r.file, staleRaw)
			return *stale, nil
		}
		if cerr := ctx.Err(); cerr != nil && err == cerr {
			return document{}, fmt.Errorf("%w: fetching %s %s: %w", ErrFetch, r.what, r.url, err)
		}
		return document{}, err
	}
	diskcache.RecordUse(ctx, r.what, r.url, "fetched", r.file, nil)
	return document{body: bytes.Clone(d.body), chain: bytes.Clone(d.chain)}, nil
}

// miss is the shared work of a cache miss of r: look at the cache again,
// fetch, check, write the cache. A cached copy that is stale is replaced
// only by a fetched document that passes.
func (c *Client) miss(r request) func(context.Context) (document, error) {
	return func(ctx context.Context) (document, error) {
		if r.file != "" && !diskcache.Refreshing(ctx) {
			if b, err := os.ReadFile(r.file); err == nil {
				if d, err := r.decode(b); err == nil && r.valid(d) == nil {
					return d, nil
				}
			}
		}
		d, err := c.download(ctx, r)
		if err != nil {
			return document{}, err
		}
		if err := r.valid(d); err != nil {
			return document{}, fmt.Errorf("%w: %s %s: %v", ErrFetch, r.what, r.url, err)
		}
		if r.file != "" {
			b, err := r.encode(d)
			if err == nil {
				err = diskcache.WriteDocument(r.file, b, diskcache.Meta{Source: r.url, FetchedAt: time.Now(), Signature: diskcache.SignatureUnchecked})
			}
			if err != nil && c.Logger != nil {
				c.Logger.Warn("could not cache Intel collateral", "file", r.file, "err", err)
			}
		}
		return d, nil
	}
}

// fetcherFor returns Fetcher, or the default one over HTTP, Timeout and
// Logger, made again if those fields have changed since.
func (c *Client) fetcherFor() *fetch.Fetcher {
	if c.Fetcher != nil {
		return c.Fetcher
	}
	return c.fetcher.For(c.HTTP, c.Timeout, c.Logger, maxBody, c.Observe)
}

// download GETs r.url and returns the body and, if r reads one, the
// percent-decoded issuer chain.
func (c *Client) download(ctx context.Context, r request) (document, error) {
	if c.Offline {
		return document{}, fmt.Errorf("%w: %w: %s (%s)", ErrFetch, dcap.ErrNotCached, r.what, r.url)
	}
	if err := ctx.Err(); err != nil {
		return document{}, fmt.Errorf("%w: fetching %s %s: %w", ErrFetch, r.what, r.url, err)
	}
	start := time.Now()
	resp, err := c.fetcherFor().Get(ctx, r.url)
	if err != nil {
		// The fetch error names the URL.
		return document{}, fmt.Errorf("%w: fetching %s: %w", ErrFetch, r.what, err)
	}
	if resp.Status != http.StatusOK {
		return document{}, fmt.Errorf("%w: fetching %s %s: HTTP %d", ErrFetch, r.what, r.url, resp.Status)
	}
	// A caller's Fetcher may allow larger bodies than PCS documents are.
	if len(resp.Body) > maxBody {
		return document{}, fmt.Errorf("%w: %s %s is larger than 1 MiB", ErrFetch, r.what, r.url)
	}
	d := document{body: resp.Body}
	if r.hex {
		d.body = unhex(d.body)
	}
	if r.chainHeaders != nil {
		d.chain, err = issuerChain(resp.Header, r.chainHeaders)
		if err != nil {
			return document{}, fmt.Errorf("%w: %s %s: %v", ErrFetch, r.what, r.url, err)
		}
	}
	if c.Logger != nil {
		c.Logger.Info("fetched Intel collateral", "what", r.what, "url", r.url, "bytes", len(resp.Body), "duration", time.Since(start))
	}
	return d, nil
}

// issuerChain returns the first of the headers present, percent-decoded.
// PCS percent-encodes every reserved character, '+' included; decoding as
// a path (not a query) keeps a literal '+', which base64 uses, as it is.
func issuerChain(h http.Header, names []string) ([]byte, error) {
	for _, name := range names {
		v := h.Get(name)
		if v == "" {
			continue
		}
		s, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("%s header is not percent-encoded: %v", name, err)
		}
		return []byte(s), nil
	}
	return nil, fmt.Errorf("no %s header", names[0])
}

// checkChain accepts PEM certificates and whitespace, nothing else: the
// chain is returned and cached as text, and whatever else a header carried
// would be passed on to the verifier unexamined.
func checkChain(b []byte) error {
	n := 0
	for {
		b = bytes.TrimLeft(b, " \t\r\n")
		if len(b) == 0 {
			break
		}
		if !bytes.HasPrefix(b, []byte("-----BEGIN ")) {
			if n == 0 {
				return errors.New("does not start with a PEM block")
			}
			return fmt.Errorf("text after PEM block %d is not a PEM block", n)
		}
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return fmt.Errorf("PEM block %d does not decode", n+1)
		}
		n++
		if blk.Type != "CERTIFICATE" {
			return fmt.Errorf("PEM block %d is %q, want CERTIFICATE", n, blk.Type)
		}
		if len(blk.Headers) != 0 {
			return fmt.Errorf("PEM block %d has headers", n)
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return fmt.Errorf("PEM certificate %d: %v", n, err)
		}
	}
	if n == 0 {
		return errors.New("no PEM certificates")
	}
	return nil
}

// checkTCBInfo checks a TCB info response: {"tcbInfo": {...}, "signature":
// hex} (PCS API v4, "TCB Info" V3) with the wanted id and FMSPC.
func checkTCBInfo(b []byte, id string, fmspc [6]byte, now time.Time) error {
	info, err := signedObject(b, "tcbInfo")
	if err != nil {
		return err
	}
	gotID, err := member(info, "tcbInfo.id")
	if err != nil {
		return err
	}
	if gotID != id {
		return fmt.Errorf("the TCB info is for %q, want %q", gotID, id)
	}
	f, err := member(info, "tcbInfo.fmspc")
	if err != nil {
		return err
	}
	// Intel spells the FMSPC in either case (upper in PCS responses, lower
	// in some cached copies): compare bytes.
	got, err := hex.DecodeString(f)
	if err != nil || len(got) != len(fmspc) {
		return fmt.Errorf("tcbInfo.fmspc %q is not 6 bytes of hex", f)
	}
	if !bytes.Equal(got, fmspc[:]) {
		return fmt.Errorf("the TCB info is for FMSPC %X, want %X", got, fmspc[:])
	}
	return checkNextUpdate(info, "tcbInfo", now)
}

// checkQEIdentity checks an enclave identity response:
// {"enclaveIdentity": {...}, "signature": hex} (PCS API v4, "Enclave
// Identity" V2) with the wanted id.
func checkQEIdentity(b []byte, id string, now time.Time) error {
	ident, err := signedObject(b, "enclaveIdentity")
	if err != nil {
		return err
	}
	gotID, err := member(ident, "enclaveIdentity.id")
	if err != nil {
		return err
	}
	if gotID != id {
		return fmt.Errorf("the enclave identity is for %q, want %q", gotID, id)
	}
	return checkNextUpdate(ident, "enclaveIdentity", now)
}

// signedObject returns the members of b's object named key, after checking
// that b is one JSON object holding that object and a signature: 64 bytes
// (ECDSA P-256 r and s) in hex. Members are looked up by their exact name;
// encoding/json would match struct fields in any case.
func signedObject(b []byte, key string) (map[string]json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	raw, ok := top[key]
	if !ok {
		return nil, fmt.Errorf("no %q object", key)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("%q is not a JSON object", key)
	}
	sig, err := member(top, "signature")
	if err != nil {
		return nil, err
	}
	if s, err := hex.DecodeString(sig); err != nil || len(s) != 64 {
		return nil, fmt.Errorf("signature is not 64 bytes of hex")
	}
	return obj, nil
}

// member returns the string member at path ("tcbInfo.id"; the last
// element is the name in obj, the whole path is for messages).
func member(obj map[string]json.RawMessage, path string) (string, error) {
	raw, ok := obj[path[strings.LastIndexByte(path, '.')+1:]]
	if !ok {
		return "", fmt.Errorf("no %s", path)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s is not a string", path)
	}
	return s, nil
}

func checkNextUpdate(obj map[string]json.RawMessage, parent string, now time.Time) error {
	s, err := member(obj, parent+".nextUpdate")
	if err != nil {
		return err
	}
	next, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("%s.nextUpdate %q is not an RFC 3339 time", parent, s)
	}
	if now.After(next) {
		return diskcache.Stale("%s is past its nextUpdate %s (now %s)", parent, next.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkCRL accepts one DER CRL issued by the CA named cn, not past its
// nextUpdate.
func checkCRL(b []byte, cn string, now time.Time) error {
	crl, err := x509.ParseRevocationList(b)
	if err != nil {
		return fmt.Errorf("not a DER CRL: %v", err)
	}
	// ParseRevocationList ignores bytes after the CRL.
	if len(crl.Raw) != len(b) {
		return fmt.Errorf("%d bytes after the CRL", len(b)-len(crl.Raw))
	}
	if got := crl.Issuer.CommonName; got != cn {
		return fmt.Errorf("the CRL is issued by %q, want %q", got, cn)
	}
	if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
		return diskcache.Stale("the CRL is past its nextUpdate %s (now %s)", crl.NextUpdate.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}
