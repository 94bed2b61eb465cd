package cca

import "errors"

// Error kinds. Every error this package returns wraps exactly one of them,
// so callers branch with errors.Is and never on message text.
var (
	// ErrMalformed: the input is not a well-formed CCA token (RMM A7.2.1)
	// or CPAK endorsement, or it names something this verifier does not
	// know (a profile, a hash algorithm, a key type).
	ErrMalformed = errors.New("malformed evidence")
	// ErrSignature: a token's COSE_Sign1 signature does not verify with
	// its key: the realm token with the RAK it carries, the platform token
	// with the supplied CPAK.
	ErrSignature = errors.New("bad signature")
	// ErrBinding: the platform token's challenge is not the hash of the
	// realm's RAK, so the platform did not vouch for this realm token.
	ErrBinding = errors.New("binding mismatch")
	// ErrNonce: the realm challenge does not equal the expected nonce.
	ErrNonce = errors.New("nonce mismatch")
	// ErrPolicy: the token is genuine but the appraisal policy refuses it.
	ErrPolicy = errors.New("policy")
	// ErrCollateralMissing: no supplied endorsement carries a CPAK for
	// this platform, so the platform token cannot be verified.
	ErrCollateralMissing = errors.New("collateral missing")
)
