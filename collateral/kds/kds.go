// Package kds fetches SEV-SNP collateral from the AMD Key Distribution
// Service and keeps it in a disk cache, so that a certificate fetched once
// is never fetched again and an appraisal does not wait on the network for
// what it already has.
//
// The client checks that a document is what the endpoint serves (a VCEK
// for the chip and TCB asked for, PEM certificates, a DER CRL not past its
// nextUpdate) before it returns or caches it, and treats a cached copy
// that fails the same check as absent. It does not verify signatures:
// that is the verifier's work, against its own trusted roots.
//
// Endpoints, after AMD "Versioned Chip Endorsement Key (VCEK) Certificate
// and KDS Interface Specification" (publication 57230) section 4, and the
// VLEK specification (publication 58369):
//
//	GET /vcek/v1/{product}/{hwid}?blSPL=&teeSPL=&snpSPL=&ucodeSPL=[&fmcSPL=]  VCEK (DER)
//	GET /vcek/v1/{product}/cert_chain                                       ASK, ARK (PEM)
//	GET /vlek/v1/{product}/cert_chain                                       ASVK, ARK (PEM)
//	GET /vcek/v1/{product}/crl, /vlek/v1/{product}/crl                      CRL (DER)
package kds

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/assay-dev/assay/collateral/fetch"
	"github.com/assay-dev/assay/internal/diskcache"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// DefaultBaseURL is AMD's KDS.
const DefaultBaseURL = "https://kdsintf.amd.com"

// maxBody bounds a response: KDS documents are a few kilobytes.
const maxBody = 1 << 20

// ErrFetch wraps every failure to obtain a document: network, HTTP status,
// or a body that is not what the endpoint serves. A failure caused by the
// caller's context also wraps the context's error.
var ErrFetch = errors.New("amd kds")

// Client implements sevsnp.Getter over AMD KDS with a disk cache. It is
// safe for concurrent use, and must not be copied after first use:
// concurrent calls for one document share one cache lookup and one fetch.
type Client struct {
	// BaseURL is the KDS root; empty means DefaultBaseURL.
	BaseURL string
	// HTTP is the client used when Fetcher is nil; nil means
	// http.DefaultClient, bounded by Timeout.
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
	// Now is the clock for CRL freshness in the cache; nil is time.Now.
	Now func() time.Time
	// Logger receives one line per network fetch, per retry and per
	// cached file discarded; nil discards.
	Logger *slog.Logger

	// Stale says what to do with a cached CRL past its nextUpdate: the
	// zero value fetches it again (and fails without a current copy);
	// Keep serves the stale copy when KDS cannot give a current one, and
	// with Background serves it at once and refreshes it in the
	// background (stale-while-revalidate). The verifier judges how stale
	// a CRL it uses may be (attest.Freshness).
	Stale diskcache.StalePolicy

	fetcher    fetch.Lazy // the default Fetcher, made on first use
	misses     fetch.Group[[]byte]
	revalidate diskcache.Revalidator
}

var _ sevsnp.Getter = (*Client)(nil)

// DefaultCacheDir is $XDG_CACHE_HOME/assay/amd-kds, or under the
// platform's user cache directory (~/.cache on Linux) when XDG_CACHE_HOME
// is unset. A relative XDG_CACHE_HOME is ignored, as the XDG Base
// Directory Specification requires: it would put the cache wherever the
// command happens to run.
func DefaultCacheDir() (string, error) { return diskcache.Dir("amd-kds") }

// VCEK implements sevsnp.Getter. The certificate served must be a VCEK for
// this hwid and exactly this TCB; any other document is an error and is
// not cached.
func (c *Client) VCEK(ctx context.Context, p sevsnp.Product, hwid []byte, tcb sevsnp.TCB) (*x509.Certificate, error) {
	if err := checkProduct(p); err != nil {
		return nil, err
	}
	// Publication 57230 section 4.1: the hwID is the 64-byte CHIP_ID; Turin
	// VCEKs are keyed by its first 8 bytes.
	if len(hwid) != 64 && len(hwid) != 8 {
		return nil, fmt.Errorf("%w: a %s hardware ID is 64 bytes (8 on Turin), not %d", ErrFetch, p, len(hwid))
	}
	q := url.Values{}
	q.Set("blSPL", strconv.Itoa(int(tcb.Bootloader)))
	q.Set("teeSPL", strconv.Itoa(int(tcb.TEE)))
	q.Set("snpSPL", strconv.Itoa(int(tcb.SNP)))
	q.Set("ucodeSPL", strconv.Itoa(int(tcb.Microcode)))
	if tcb.FMC != nil {
		q.Set("fmcSPL", strconv.Itoa(int(*tcb.FMC)))
	}
	path := fmt.Sprintf("/vcek/v1/%s/%s", p, hex.EncodeToString(hwid))
	return get(ctx, c, path, q, "vcek", func(b []byte) (*x509.Certificate, error) {
		cert, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, fmt.Errorf("not a DER certificate: %v", err)
		}
		vek, err := sevsnp.ParseVEK(cert)
		if err != nil {
			return nil, fmt.Errorf("not a VCEK: %v", err)
		}
		switch {
		case vek.Type != sevsnp.KeyVCEK:
			return nil, fmt.Errorf("the certificate is a %s, want a VCEK", vek.Type)
		case !bytes.Equal(vek.HWID, hwid):
			return nil, fmt.Errorf("the VCEK is for hwID %x…, want %x…", vek.HWID[:min(8, len(vek.HWID))], hwid[:8])
		case !vek.TCB.Equal(tcb):
			return nil, fmt.Errorf("the VCEK certifies TCB %s, want %s", vek.TCB, tcb)
		}
		return cert, nil
	})
}

// CertChain implements sevsnp.Getter.
func (c *Client) CertChain(ctx context.Context, p sevsnp.Product, k sevsnp.KeyType) ([]*x509.Certificate, error) {
	if err := checkProduct(p); err != nil {
		return nil, err
	}
	if err := checkKeyType(k); err != nil {
		return nil, err
	}
	path := fmt.Sprintf("/%s/v1/%s/cert_chain", k, p)
	return get(ctx, c, path, nil, "cert_chain", func(b []byte) ([]*x509.Certificate, error) {
		var out []*x509.Certificate
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				return nil, fmt.Errorf("PEM block %d is %q, want CERTIFICATE", len(out)+1, blk.Type)
			}
			cert, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM certificate %d: %v", len(out)+1, err)
			}
			out = append(out, cert)
		}
		if len(out) == 0 {
			return nil, errors.New("no PEM certificates")
		}
		return out, nil
	})
}

// CRL implements sevsnp.Getter. A CRL past its nextUpdate at Now is not
// returned: a cached one is fetched again, and a fetched one is an error.
func (c *Client) CRL(ctx context.Context, p sevsnp.Product, k sevsnp.KeyType) (*x509.RevocationList, error) {
	if err := checkProduct(p); err != nil {
		return nil, err
	}
	if err := checkKeyType(k); err != nil {
		return nil, err
	}
	path := fmt.Sprintf("/%s/v1/%s/crl", k, p)
	now := c.now()
	return get(ctx, c, path, nil, "crl", func(b []byte) (*x509.RevocationList, error) {
		crl, err := x509.ParseRevocationList(b)
		if err != nil {
			return nil, fmt.Errorf("not a DER CRL: %v", err)
		}
		if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
			// The CRL comes back with the error: a client that keeps stale
			// documents (Stale.Keep) may serve it.
			return crl, diskcache.Stale("the CRL is past its nextUpdate %s (now %s)", crl.NextUpdate.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
		return crl, nil
	})
}

// checkProduct refuses a product KDS has no endpoints for, before it
// becomes part of a URL or a cache path.
func checkProduct(p sevsnp.Product) error {
	if _, err := sevsnp.ParseProduct(p.String()); err != nil {
		return fmt.Errorf("%w: %v", ErrFetch, err)
	}
	return nil
}

func checkKeyType(k sevsnp.KeyType) error {
	if k != sevsnp.KeyVCEK && k != sevsnp.KeyVLEK {
		return fmt.Errorf("%w: unknown key type %d (want VCEK or VLEK)", ErrFetch, int(k))
	}
	return nil
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) cacheFile(path string, q url.Values) string {
	if c.CacheDir == "" {
		return ""
	}
	name := strings.TrimPrefix(path, "/")
	if len(q) > 0 {
		name += "@" + strings.ReplaceAll(q.Encode(), "&", ",")
	}
	return filepath.Join(c.CacheDir, filepath.FromSlash(name))
}

// get returns the document at path as parse reads it: from the cache if
// the cached copy parses, else from the network. A cached copy that does
// not parse (damaged, or a stale CRL) is removed; a fetched document is
// cached only once it parses.
//
// Concurrent misses of one document share one fetch, which looks at the
// cache again first: a caller that missed just before another filled the
// cache does not fetch the document a second time. Each caller parses its
// own copy of the bytes, so no two share a certificate or CRL value.
func get[T any](ctx context.Context, c *Client, path string, q url.Values, what string, parse func([]byte) (T, error)) (T, error) {
	var zero T
	file := c.cacheFile(path, q)
	u := c.url(path, q)
	check := func(b []byte) error { _, err := parse(b); return err }
	var stale []byte
	if file != "" && !diskcache.Refreshing(ctx) {
		if b, err := os.ReadFile(file); err == nil {
			v, perr := parse(b)
			switch {
			case perr == nil:
				diskcache.RecordUse(ctx, what, u, "cache", file, b)
				return v, nil
			case c.Stale.Keep && errors.Is(perr, diskcache.ErrStale):
				if c.revalidate.Go(c.Stale, u, what, func(ctx context.Context) error {
					_, err := c.misses.Do(ctx, u, c.miss(u, file, what, check))
					return err
				}) && c.Logger != nil {
					c.Logger.Info("refreshing stale AMD collateral in the background", "what", what, "url", u, "reason", perr)
				}
				if c.Stale.Background != nil {
					diskcache.RecordUse(ctx, what, u, "cache", file, b)
					return v, nil
				}
				stale = b
			default:
				if c.Logger != nil {
					c.Logger.Warn("discarding cached AMD collateral", "what", what, "file", file, "reason", perr)
				}
				_ = diskcache.Remove(file)
			}
		}
	}
	b, err := c.misses.Do(ctx, u, c.miss(u, file, what, check))
	from := "fetched"
	if err != nil {
		if stale == nil || ctx.Err() != nil {
			if cerr := ctx.Err(); cerr != nil && err == cerr {
				return zero, fmt.Errorf("%w: fetching %s %s: %w", ErrFetch, what, u, err)
			}
			return zero, err
		}
		if c.Logger != nil {
			c.Logger.Warn("using stale AMD collateral: no current copy could be fetched", "what", what, "url", u, "err", err)
		}
		b, from = stale, "cache"
	}
	v, err := parse(bytes.Clone(b))
	if err != nil && !(from == "cache" && errors.Is(err, diskcache.ErrStale)) {
		return zero, fmt.Errorf("%w: %s %s: %v", ErrFetch, what, u, err)
	}
	diskcache.RecordUse(ctx, what, u, from, file, b)
	return v, nil
}

// miss is the shared work of a cache miss: look at the cache again,
// fetch, check, write the cache. A cached copy that is stale is replaced
// only by a fetched document that passes.
func (c *Client) miss(u, file, what string, check func([]byte) error) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		if file != "" && !diskcache.Refreshing(ctx) {
			if b, err := os.ReadFile(file); err == nil && check(b) == nil {
				return b, nil
			}
		}
		b, err := c.download(ctx, u, what)
		if err != nil {
			return nil, err
		}
		if err := check(b); err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", ErrFetch, what, u, err)
		}
		if file != "" {
			if err := diskcache.WriteDocument(file, b, diskcache.Meta{Source: u, FetchedAt: time.Now(), Signature: diskcache.SignatureUnchecked}); err != nil && c.Logger != nil {
				c.Logger.Warn("could not cache AMD collateral", "file", file, "err", err)
			}
		}
		return b, nil
	}
}

func (c *Client) url(path string, q url.Values) string {
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u := strings.TrimSuffix(base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// fetcherFor returns Fetcher, or the default one over HTTP, Timeout and
// Logger, made again if those fields have changed since.
func (c *Client) fetcherFor() *fetch.Fetcher {
	if c.Fetcher != nil {
		return c.Fetcher
	}
	return c.fetcher.For(c.HTTP, c.Timeout, c.Logger, maxBody, c.Observe)
}

// download GETs u from KDS and returns the body.
func (c *Client) download(ctx context.Context, u, what string) ([]byte, error) {
	if c.Offline {
		return nil, fmt.Errorf("%w: %w: %s (%s)", ErrFetch, sevsnp.ErrNotCached, what, u)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: fetching %s %s: %w", ErrFetch, what, u, err)
	}
	start := time.Now()
	resp, err := c.fetcherFor().Get(ctx, u)
	if err != nil {
		// The fetch error names the URL.
		return nil, fmt.Errorf("%w: fetching %s: %w", ErrFetch, what, err)
	}
	if resp.Status != http.StatusOK {
		return nil, fmt.Errorf("%w: fetching %s %s: HTTP %d", ErrFetch, what, u, resp.Status)
	}
	// A caller's Fetcher may allow larger bodies than KDS documents are.
	if len(resp.Body) > maxBody {
		return nil, fmt.Errorf("%w: %s %s is larger than 1 MiB", ErrFetch, what, u)
	}
	if c.Logger != nil {
		c.Logger.Info("fetched AMD collateral", "what", what, "url", u, "bytes", len(resp.Body), "duration", time.Since(start))
	}
	return resp.Body, nil
}
