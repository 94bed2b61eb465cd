// Package dcap verifies Intel DCAP quotes (SGX and TDX) and appraises them
// against Intel collateral: the quote structure and signatures, the PCK
// certificate chain and CRLs, TCB info and QE identity, and TCB level
// matching. verifier/tdx and verifier/sgx are thin adapters over it.
//
// References: Intel "SGX ECDSA Quote Library API" (quote v3), "Intel TDX
// DCAP Quoting Library API" (quote v4 and v5), "Intel SGX PCK Certificate
// and Certificate Revocation List Profile Specification" (PCK extensions),
// and the Intel PCS API v4 documentation (TCB info, enclave identity).
package dcap

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Error kinds. Every error this package returns wraps one of them.
var (
	ErrMalformed         = errors.New("malformed evidence")
	ErrSignature         = errors.New("bad signature")
	ErrChain             = errors.New("certificate chain")
	ErrRevoked           = errors.New("revoked")
	ErrTCB               = errors.New("tcb")
	ErrNonce             = errors.New("nonce mismatch")
	ErrPolicy            = errors.New("policy")
	ErrCollateral        = errors.New("collateral")
	ErrCollateralMissing = errors.New("collateral missing")
	// ErrNotCached: a Getter that only reads its cache (an offline,
	// air-gapped verifier) does not hold the document; the appraisal
	// treats it as collateral that was not supplied.
	ErrNotCached = errors.New("not in the collateral cache, and fetching is off")
)

// TCBStatus is a TCB level's status as Intel's TCB info and enclave
// identity define it.
type TCBStatus string

// TCB statuses (Intel PCS API v4, "TCB Info" tcbStatus).
const (
	UpToDate                          TCBStatus = "UpToDate"
	SWHardeningNeeded                 TCBStatus = "SWHardeningNeeded"
	ConfigurationNeeded               TCBStatus = "ConfigurationNeeded"
	ConfigurationAndSWHardeningNeeded TCBStatus = "ConfigurationAndSWHardeningNeeded"
	OutOfDate                         TCBStatus = "OutOfDate"
	OutOfDateConfigurationNeeded      TCBStatus = "OutOfDateConfigurationNeeded"
	Revoked                           TCBStatus = "Revoked"
)

// ParseTCBStatus accepts the statuses above, exactly as Intel spells them.
func ParseTCBStatus(s string) (TCBStatus, error) {
	switch t := TCBStatus(s); t {
	case UpToDate, SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded,
		OutOfDate, OutOfDateConfigurationNeeded, Revoked:
		return t, nil
	}
	return "", fmt.Errorf("%w: unknown TCB status %q", ErrCollateral, s)
}

// PlatformTCB is what TCB level matching compares with the levels of a
// TCB info: the platform's SGX TCB components and PCESVN (from the PCK
// certificate), and for TDX the TEE_TCB_SVN of the TD report.
type PlatformTCB struct {
	FMSPC         [6]byte
	PCEID         [2]byte
	SGXComponents [16]uint8
	PCESVN        uint16
	// TEETCBSVN is set for TDX quotes only.
	TEETCBSVN *[16]byte
	// MRSignerSeam and SeamAttributes (TDX only) are compared with the TCB
	// info's tdxModule / tdxModuleIdentities.
	MRSignerSeam   [48]byte
	SeamAttributes [8]byte
}

// QEReportIdentity is what a QE identity is compared with: the fields of
// the quoting enclave's report.
type QEReportIdentity struct {
	MRSigner   [32]byte
	ISVProdID  uint16
	ISVSVN     uint16
	MiscSelect uint32
	Attributes [16]byte
}

// TCBResult is the outcome of matching one TCB level.
type TCBResult struct {
	Status   TCBStatus
	Date     time.Time // tcbDate of the matched level
	Advisory []string  // advisoryIDs of the matched level
	// Superseded is the tcbDate of the oldest level newer than the matched
	// one (a later tcbDate): the TCB recovery that made the matched level
	// out of date. Zero when no level is newer. After Converge, the
	// earliest of the parts'.
	Superseded time.Time
	// Level describes the matched level in words, for check details.
	Level string
}

// Getter fetches Intel collateral that was not supplied. The
// collateral/pcs package implements it over the Intel PCS v4 API with a
// disk cache. Bodies are returned as served, for the caller to parse and
// verify; issuer chains are the PEM of the response's issuer-chain header.
type Getter interface {
	// TCBInfo: GET /{sgx,tdx}/certification/v4/tcb?fmspc=..., with the
	// TCB-Info-Issuer-Chain header.
	TCBInfo(ctx context.Context, tdx bool, fmspc [6]byte) (body, issuerChain []byte, err error)
	// QEIdentity: GET /{sgx,tdx}/certification/v4/qe/identity, with the
	// SGX-Enclave-Identity-Issuer-Chain header.
	QEIdentity(ctx context.Context, tdx bool) (body, issuerChain []byte, err error)
	// PCKCRL: GET /sgx/certification/v4/pckcrl?ca={platform,processor}&encoding=der.
	PCKCRL(ctx context.Context, ca string) (der []byte, err error)
	// RootCRL: the Intel SGX Root CA CRL (IntelSGXRootCA.der).
	RootCRL(ctx context.Context) (der []byte, err error)
}
