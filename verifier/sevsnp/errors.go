package sevsnp

import "errors"

// Error kinds. Every error this package returns wraps exactly one of them,
// so callers branch with errors.Is and never on message text.
var (
	// ErrMalformed: the input is not a well-formed report, certificate,
	// certificate table or evidence document.
	ErrMalformed = errors.New("malformed evidence")
	// ErrSignature: the report signature does not verify with the VEK.
	ErrSignature = errors.New("bad signature")
	// ErrChain: a certificate does not chain to a trusted AMD root, is
	// outside its validity window, or is not the kind of key expected.
	ErrChain = errors.New("certificate chain")
	// ErrRevoked: a certificate in the chain is on AMD's CRL, or the CRL
	// itself cannot be trusted at the verification time.
	ErrRevoked = errors.New("revoked")
	// ErrTCB: the VEK certifies a TCB or chip other than the report's.
	ErrTCB = errors.New("tcb mismatch")
	// ErrNonce: REPORT_DATA does not equal the expected nonce.
	ErrNonce = errors.New("nonce mismatch")
	// ErrPolicy: the evidence is genuine but the appraisal policy refuses it.
	ErrPolicy = errors.New("policy")
	// ErrCollateralMissing: a certificate or CRL needed for the appraisal
	// was neither supplied nor obtainable (offline, or the network failed).
	ErrCollateralMissing = errors.New("collateral missing")
	// ErrNotCached: a Getter that only reads its cache (an offline,
	// air-gapped verifier) does not hold the document. The appraisal
	// treats it as collateral that was not supplied, exactly as with no
	// Getter at all.
	ErrNotCached = errors.New("not in the collateral cache, and fetching is off")
)
