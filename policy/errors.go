package policy

import (
	"errors"
	"fmt"
)

// Error kinds. Every error this package returns wraps one of them (a
// Validate error joins several *ValidationError, each wrapping one), so
// callers branch with errors.Is and errors.As, never on message text.
var (
	// ErrMalformed: a reference value file is not the documented JSON
	// (syntax, unknown field, wrong type, a time that is not RFC 3339).
	ErrMalformed = errors.New("malformed reference values")

	// Validation problems of one reference value; see Validate.

	// ErrMissing: a required field (id, tee, claim, value, state) is empty.
	ErrMissing = errors.New("missing field")
	// ErrUnknownTEE: the tee is none this package has claims for.
	ErrUnknownTEE = errors.New("unknown tee")
	// ErrUnknownClaim: the claim path names no claim of the tee that
	// reference values apply to.
	ErrUnknownClaim = errors.New("unknown claim")
	// ErrEncoding: the value is not lowercase hex (or, for a numeric
	// claim, a decimal number in range).
	ErrEncoding = errors.New("bad value encoding")
	// ErrLength: the value's length does not fit the claim.
	ErrLength = errors.New("bad value length")
	// ErrByteReversed: the value is a known value of the same claim with
	// its bytes in reverse order.
	ErrByteReversed = errors.New("byte-reversed value")
	// ErrWindow: not_after is not after not_before.
	ErrWindow = errors.New("bad validity window")
	// ErrState: the state is not staged, active, deprecated or revoked, or
	// the version is below 1.
	ErrState = errors.New("bad state")
	// ErrNoNote: a revoked value says nothing about why.
	ErrNoNote = errors.New("revoked without a note")
	// ErrDuplicate: the id and version, or the value, are already known.
	ErrDuplicate = errors.New("duplicate reference value")

	// Engine errors.

	// ErrCompile: a policy does not parse or compile, or does not define
	// the decision rule.
	ErrCompile = errors.New("policy does not compile")
	// ErrUnknownPolicy: Evaluate was asked for a policy the engine does
	// not have.
	ErrUnknownPolicy = errors.New("unknown policy")
	// ErrEval: evaluation failed (a built-in error, a conflict), the
	// decision was undefined, or its value breaks the output contract. It
	// is a fault of the policy or the engine, never a verdict: callers must
	// not treat the evidence as trusted.
	ErrEval = errors.New("policy evaluation failed")
)

// ValidationError is one problem with one reference value. Validate
// returns them joined (errors.Join), one per problem; errors.As finds the
// first and errors.Is(err, ErrLength) any of them.
type ValidationError struct {
	// ID of the reference value ("" when it has none).
	ID string
	// Field is the JSON name of the field at fault ("value", "claim",
	// "not_after", "provenance.note", ...).
	Field string
	// Kind is the error kind (ErrLength, ErrUnknownClaim, ...).
	Kind error
	// Detail says what was found and what was wanted.
	Detail string
}

func (e *ValidationError) Error() string {
	id := e.ID
	if id == "" {
		id = "(no id)"
	}
	return fmt.Sprintf("reference value %s: %s: %v: %s", id, e.Field, e.Kind, e.Detail)
}

// Unwrap returns the kind, for errors.Is.
func (e *ValidationError) Unwrap() error { return e.Kind }
