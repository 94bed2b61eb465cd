// Package kds fetches SEV-SNP collateral from the AMD Key Distribution
// Service and keeps it in a disk cache, so that a certificate fetched once
// is never fetched again and an appraisal does not wait on the network for
// what it already has.
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
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/assay-dev/assay/verifier/sevsnp"
)

// DefaultBaseURL is AMD's KDS.
const DefaultBaseURL = "https://kdsintf.amd.com"

// ErrFetch wraps every failure to obtain a document: network, HTTP status,
// or a body that is not what the endpoint serves.
var ErrFetch = errors.New("amd kds")

// Client implements sevsnp.Getter over AMD KDS with a disk cache.
type Client struct {
	// BaseURL is the KDS root; empty means DefaultBaseURL.
	BaseURL string
	// HTTP is the client used; nil means a client with Timeout.
	HTTP *http.Client
	// Timeout bounds each request; zero means 20 seconds.
	Timeout time.Duration
	// CacheDir holds fetched documents; empty means no disk cache.
	CacheDir string
	// Now is the clock for CRL freshness in the cache; nil is time.Now.
	Now func() time.Time
	// Logger receives one line per network fetch; nil discards.
	Logger *slog.Logger
}

var _ sevsnp.Getter = (*Client)(nil)

// DefaultCacheDir is $XDG_CACHE_HOME/assay/amd-kds, or the platform's user
// cache directory (~/.cache on Linux) when XDG_CACHE_HOME is unset.
func DefaultCacheDir() (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		base = d
	}
	return filepath.Join(base, "assay", "amd-kds"), nil
}

// VCEK implements sevsnp.Getter.
func (c *Client) VCEK(ctx context.Context, p sevsnp.Product, hwid []byte, tcb sevsnp.TCB) (*x509.Certificate, error) {
	q := url.Values{}
	q.Set("blSPL", fmt.Sprint(tcb.Bootloader))
	q.Set("teeSPL", fmt.Sprint(tcb.TEE))
	q.Set("snpSPL", fmt.Sprint(tcb.SNP))
	q.Set("ucodeSPL", fmt.Sprint(tcb.Microcode))
	if tcb.FMC != nil {
		q.Set("fmcSPL", fmt.Sprint(*tcb.FMC))
	}
	path := fmt.Sprintf("/vcek/v1/%s/%s", p, hex.EncodeToString(hwid))
	b, err := c.get(ctx, path, q, "vcek", false)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(b)
	if err != nil {
		c.evict(path, q)
		return nil, fmt.Errorf("%w: %s did not return a DER certificate: %v", ErrFetch, path, err)
	}
	return cert, nil
}

// CertChain implements sevsnp.Getter.
func (c *Client) CertChain(ctx context.Context, p sevsnp.Product, k sevsnp.KeyType) ([]*x509.Certificate, error) {
	path := fmt.Sprintf("/%s/v1/%s/cert_chain", k, p)
	b, err := c.get(ctx, path, nil, "cert_chain", false)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			c.evict(path, nil)
			return nil, fmt.Errorf("%w: %s: %v", ErrFetch, path, err)
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		c.evict(path, nil)
		return nil, fmt.Errorf("%w: %s returned no PEM certificates", ErrFetch, path)
	}
	return out, nil
}

// CRL implements sevsnp.Getter. A cached CRL past its nextUpdate is
// fetched again.
func (c *Client) CRL(ctx context.Context, p sevsnp.Product, k sevsnp.KeyType) (*x509.RevocationList, error) {
	path := fmt.Sprintf("/%s/v1/%s/crl", k, p)
	for attempt := 0; attempt < 2; attempt++ {
		b, err := c.get(ctx, path, nil, "crl", attempt > 0)
		if err != nil {
			return nil, err
		}
		crl, err := x509.ParseRevocationList(b)
		if err != nil {
			c.evict(path, nil)
			return nil, fmt.Errorf("%w: %s did not return a DER CRL: %v", ErrFetch, path, err)
		}
		if !crl.NextUpdate.IsZero() && c.now().After(crl.NextUpdate) && attempt == 0 {
			continue // stale in cache: refetch once
		}
		return crl, nil
	}
	return nil, fmt.Errorf("%w: %s: the CRL served is past its nextUpdate", ErrFetch, path)
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

func (c *Client) evict(path string, q url.Values) {
	if f := c.cacheFile(path, q); f != "" {
		_ = os.Remove(f)
	}
}

// get returns the document at path, from the cache unless refresh, and
// stores what it fetches.
func (c *Client) get(ctx context.Context, path string, q url.Values, what string, refresh bool) ([]byte, error) {
	file := c.cacheFile(path, q)
	if file != "" && !refresh {
		if b, err := os.ReadFile(file); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u := strings.TrimSuffix(base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: timeout}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: fetching %s %s: %v", ErrFetch, what, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		hint := ""
		if resp.StatusCode == http.StatusTooManyRequests {
			hint = " (rate limited; retry later or supply the file)"
		}
		return nil, fmt.Errorf("%w: fetching %s %s: HTTP %d%s", ErrFetch, what, u, resp.StatusCode, hint)
	}
	// KDS documents are a few kilobytes; refuse anything absurd.
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s %s: %v", ErrFetch, what, u, err)
	}
	if len(b) > 1<<20 {
		return nil, fmt.Errorf("%w: %s %s is larger than 1 MiB", ErrFetch, what, u)
	}
	if c.Logger != nil {
		c.Logger.Info("fetched AMD collateral", "what", what, "url", u, "bytes", len(b), "duration", time.Since(start))
	}
	if file != "" {
		if err := writeAtomic(file, b); err != nil && c.Logger != nil {
			c.Logger.Warn("could not cache AMD collateral", "file", file, "err", err)
		}
	}
	return b, nil
}

// writeAtomic writes b to file through a temporary file and a rename, so a
// reader never sees half a certificate.
func writeAtomic(file string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), file)
}
