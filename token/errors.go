package token

import "errors"

// Error kinds. Every error Verify returns for a token it refuses wraps
// exactly one of them, so relying parties branch with errors.Is and never
// on message text. Issue and the key functions return plain errors: their
// inputs come from this process, not from a peer.
var (
	// ErrMalformed: the token is not a compact JWS of three base64url
	// parts, is over MaxTokenSize, its header or claims are not the JSON
	// this profile defines, or the claims are not a valid EAR.
	ErrMalformed = errors.New("malformed token")
	// ErrSignature: the header names an algorithm other than ES256 (none,
	// HS256, ...), the selected JWK is not an ES256 key, or the ECDSA
	// signature does not verify with it.
	ErrSignature = errors.New("bad token signature")
	// ErrExpired: the verification time is outside the token's validity
	// window (after exp, or before iat or nbf), leeway included.
	ErrExpired = errors.New("token expired")
	// ErrUnknownKey: the header's kid names no key of the JWKS, or names
	// more than one.
	ErrUnknownKey = errors.New("unknown token key")
	// ErrIssuer: iss is not the expected issuer.
	ErrIssuer = errors.New("wrong token issuer")
	// ErrNonce: eat_nonce is not the expected nonce.
	ErrNonce = errors.New("token nonce mismatch")
	// ErrJWKS: the relying party's own JWKS is unusable (not JSON, over
	// MaxTokenSize, a key carries private material). It says nothing about
	// the token: fix the configuration, do not blame the peer.
	ErrJWKS = errors.New("unusable JWKS")
)
