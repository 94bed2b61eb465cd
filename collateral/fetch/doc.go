// Package fetch is the HTTP client the collateral clients (AMD KDS in
// collateral/kds, Intel PCS in collateral/pcs) fetch documents with, so
// that a fleet of verifiers missing the same document in their caches
// neither fails on a vendor's transient error nor stampedes its endpoint.
//
// A Fetcher GETs a URL and returns the response of a 2xx status in full.
// It:
//
//   - retries a network error, a body cut short (fewer bytes than its
//     Content-Length, or an unexpected EOF), any 5xx status and 429, up to
//     MaxAttempts attempts, each bounded by Timeout;
//   - waits between attempts with exponential backoff and jitter, or as
//     long as the response's Retry-After says (RFC 9110 section 10.2.3:
//     delta-seconds or an HTTP-date); a Retry-After longer than MaxWait
//     ends the fetch at once, with an error naming it, rather than holding
//     a verification for that long;
//   - does not retry any other status: 404 is ErrNotFound, every non-2xx
//     final status is an *HTTPError, and ErrRateLimited is wrapped when the
//     last failure was a 429;
//   - coalesces concurrent Gets of one URL (and header set) into one
//     upstream request sequence, each caller receiving its own copy;
//   - holds at most PerHost requests to one host in flight at once.
//
// Everything stops when the caller's context ends. A request shared by
// several callers stops when the last of them has gone.
//
// The package knows nothing of the documents: checking that a body is the
// VCEK, CRL or TCB info that was asked for, and caching it, is the
// collateral clients' work. Group is exported for them: it coalesces a
// whole cache miss (read cache, fetch, check, write cache), so that a
// caller arriving just after a fetch finds the cache filled rather than
// fetching again.
package fetch
