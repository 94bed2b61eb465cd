package tcg

import "errors"

// Error kinds. Every error this package returns wraps exactly one of them,
// so callers branch with errors.Is and never on message text.
var (
	// ErrMalformed: the input is not a well-formed TCG event log, IMA
	// measurement list, IMA allow list, IMA signature or key, or an event
	// the replay needs is unusable (an extended event without a digest in
	// the bank being compared).
	ErrMalformed = errors.New("malformed event log")
	// ErrMismatch: replaying the log does not reproduce the expected PCR
	// values (the error is a *MismatchError naming each PCR and where its
	// replay diverges), or IMA entries whose template hash is not the hash
	// of their template data (a *TemplateHashError).
	ErrMismatch = errors.New("pcr mismatch")
	// ErrUnsupported: the log is well formed but cannot answer the
	// question: it has no digests in the bank asked for (a SHA-1-format
	// log has only SHA-1), or the bank is not a hash this package can
	// compute.
	ErrUnsupported = errors.New("unsupported event log")
	// ErrSignature: an IMA file signature does not verify with the keys
	// given, or no given key has its key ID.
	ErrSignature = errors.New("ima signature")
)
