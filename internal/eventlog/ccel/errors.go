package ccel

import "errors"

// Error kinds. Every error this package returns wraps exactly one of them,
// so callers branch with errors.Is and never on message text.
var (
	// ErrMalformed: the input is not a well-formed CCEL ACPI table or
	// crypto-agile event log, or an event the replay needs is unusable
	// (for example a measured event without a SHA-384 digest).
	ErrMalformed = errors.New("malformed event log")
	// ErrMismatch: replaying the log does not reproduce the expected RTMR
	// values. The error is a *MismatchError naming each RTMR and where its
	// replay diverges.
	ErrMismatch = errors.New("rtmr mismatch")
	// ErrUnsupported: the log is well formed but cannot be replayed into
	// TDX RTMRs, because its Spec ID header declares no SHA-384 bank (a
	// Hygon CSV log, for example, carries only SM3 digests).
	ErrUnsupported = errors.New("unsupported event log")
)
