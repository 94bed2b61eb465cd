package nitro

import "errors"

// Error kinds. Every error this package returns wraps exactly one of them,
// so callers branch with errors.Is and never on message text.
var (
	// ErrMalformed: the input is not a well-formed attestation document
	// (COSE_Sign1 envelope, payload map, certificates) or evidence
	// container.
	ErrMalformed = errors.New("malformed evidence")
	// ErrSignature: the COSE_Sign1 signature does not verify with the
	// document's certificate.
	ErrSignature = errors.New("bad signature")
	// ErrChain: the certificate does not chain through the cabundle to a
	// trusted root, a certificate is outside its validity window at the
	// verification time, or is not the kind of certificate expected.
	ErrChain = errors.New("certificate chain")
	// ErrTimestamp: the document's timestamp lies outside its certificate's
	// validity, or after the verification time.
	ErrTimestamp = errors.New("timestamp")
	// ErrNonce: the document's nonce is not the expected nonce.
	ErrNonce = errors.New("nonce mismatch")
	// ErrBinding: a certificate carries the document, but the document does
	// not bind that certificate's public key.
	ErrBinding = errors.New("binding")
	// ErrPolicy: the evidence is genuine but the appraisal policy refuses it.
	ErrPolicy = errors.New("policy")
)
