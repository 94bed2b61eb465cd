package broker

import (
	"errors"
	"fmt"
)

// Error kinds. Every error this package returns wraps exactly one of them,
// so callers branch with errors.Is and never on message text.
var (
	// ErrKeyring: the keyring file is malformed (see KeyringError for the
	// line).
	ErrKeyring = errors.New("broker: malformed keyring")
	// ErrUnknownKEK: a sealed secret names a key-encryption key the
	// keyring does not hold (removed too early from the keyring file, or a
	// keyring from another deployment).
	ErrUnknownKEK = errors.New("broker: unknown key-encryption key")
	// ErrSealed: a sealed secret is malformed or fails authentication
	// (tampered, truncated, or opened with the wrong associated data).
	ErrSealed = errors.New("broker: sealed secret is malformed or not authentic")
	// ErrTEEKey: a TEE public key (the KBS tee-pubkey JWK) is malformed,
	// weak, or asks for an algorithm the broker does not use.
	ErrTEEKey = errors.New("broker: unusable TEE public key")
	// ErrJWE: a JWE is malformed, uses an algorithm the caller's key does
	// not allow, or fails to decrypt.
	ErrJWE = errors.New("broker: JWE rejected")
	// ErrPolicy: a release policy is malformed.
	ErrPolicy = errors.New("broker: malformed release policy")
)

// KeyringError is a problem on one line of a keyring file. It wraps
// ErrKeyring. Its message never contains key material.
type KeyringError struct {
	Line   int // 1-based; 0 for the file as a whole
	Reason string
}

func (e *KeyringError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("broker: keyring: %s", e.Reason)
	}
	return fmt.Sprintf("broker: keyring line %d: %s", e.Line, e.Reason)
}

// Unwrap makes errors.Is(err, ErrKeyring) true.
func (e *KeyringError) Unwrap() error { return ErrKeyring }
