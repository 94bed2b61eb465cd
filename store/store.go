// Package store keeps the service's state: challenge sessions, sealed
// secrets, token signing keys, settings, the hash-chained audit log,
// versioned appraisal policies and reference values, and the appraisal
// history.
//
// The interfaces are small and the SQL is plain. Two implementations share
// one conformance suite: SQLite (modernc.org/sqlite, WAL, the default,
// embedded in a data directory) and PostgreSQL (pgx) for several replicas
// behind a load balancer. Every state change a flow depends on is a single
// conditional statement, so any replica can finish a flow another began and
// a nonce is consumed exactly once.
//
// Secrets and signing keys arrive already sealed (package broker); the
// store never sees plaintext key material.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Kinds of failure a caller branches on.
var (
	// ErrNotFound: no row with that key.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the row is not in the state the change requires (a
	// challenge already consumed or expired, a secret rewrapped by another
	// replica, a key that already exists).
	ErrConflict = errors.New("conflict")
)

// Store is everything the service keeps.
type Store interface {
	Sessions
	Secrets
	Keys
	Settings
	Audit
	PolicyStore
	Appraisals
	// Ping reports whether the database answers (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// SessionState is where a challenge session stands.
type SessionState string

// Session states. A session moves pending -> consumed -> attested or
// failed, and never back: the nonce of a consumed session cannot be used
// again.
const (
	SessionPending  SessionState = "pending"
	SessionConsumed SessionState = "consumed"
	SessionAttested SessionState = "attested"
	SessionFailed   SessionState = "failed"
)

// Session is one challenge-response exchange (a KBS session or an Assay
// challenge).
type Session struct {
	ID string
	// Nonce is the challenge as sent to the attester.
	Nonce string
	// TEE is the evidence kind the attester announced.
	TEE string
	// ProtocolVersion is the KBS protocol version of the request, or
	// "assay/v1".
	ProtocolVersion string
	// HashAlg names the hash that binds runtime data into the evidence
	// ("sha384").
	HashAlg string
	State   SessionState
	// CreatedAt and ExpiresAt bound the challenge; after attestation
	// ExpiresAt is the end of the attested session.
	CreatedAt time.Time
	ExpiresAt time.Time
	// Token is the EAR token issued on attestation.
	Token string
	// TEEPubKey is the JWK the evidence bound, set on attestation.
	TEEPubKey json.RawMessage
	// Result is the appraisal summary (TEE, status, claims) that release
	// policies read, set on attestation.
	Result json.RawMessage
}

// Sessions stores challenge sessions.
type Sessions interface {
	// CreateSession inserts a new pending session; ErrConflict if the ID
	// exists.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns a session by ID; ErrNotFound when absent.
	GetSession(ctx context.Context, id string) (Session, error)
	// ConsumeSession moves a pending session whose ExpiresAt is after now
	// to consumed and returns it. ErrNotFound when absent; ErrConflict
	// when it is not pending (already used) or has expired. Exactly one of
	// any number of concurrent callers, on any replica, succeeds.
	ConsumeSession(ctx context.Context, id string, now time.Time) (Session, error)
	// FinishSession moves a consumed session to attested (with token, key,
	// result and the attested session's expiry) or to failed. ErrConflict
	// when it is not consumed.
	FinishSession(ctx context.Context, id string, state SessionState, token string, teePubKey, result json.RawMessage, expiresAt time.Time) error
	// DeleteExpiredSessions removes sessions that expired before now and
	// returns how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)
}

// Secret is one version of a stored secret, sealed under a key-encryption
// key.
type Secret struct {
	// Path is the resource path, "repository/type/tag".
	Path string
	// Version counts from 1 per path; PutSecret assigns it.
	Version int64
	// Sealed is the secret encrypted under the KEK named by KEKID.
	Sealed []byte
	KEKID  string
	// Policy is the release policy (JSON) that attestation claims must
	// satisfy for this secret to be released.
	Policy json.RawMessage
	// ContentType describes the plaintext ("application/octet-stream").
	ContentType string
	CreatedAt   time.Time
	CreatedBy   string
}

// Secrets stores sealed secrets, versioned per path.
type Secrets interface {
	// PutSecret stores a new version of s.Path (Version = previous + 1)
	// and returns it as stored. It returns only once the write is durable.
	PutSecret(ctx context.Context, s Secret) (Secret, error)
	// GetSecret returns the newest version of a path that is not deleted;
	// ErrNotFound otherwise.
	GetSecret(ctx context.Context, path string) (Secret, error)
	// ListSecrets returns the newest version of every live path, sorted by
	// path, with Sealed left nil.
	ListSecrets(ctx context.Context) ([]Secret, error)
	// DeleteSecret marks every version of a path deleted; ErrNotFound when
	// there is no live version.
	DeleteSecret(ctx context.Context, path string) error
	// ListSealedWith returns every stored version (deleted or not) sealed
	// under kekID, Sealed included, for re-wrapping after a KEK rotation.
	ListSealedWith(ctx context.Context, kekID string) ([]Secret, error)
	// Reseal replaces the sealed bytes of one version if it is still
	// sealed under oldKEK; ErrConflict otherwise.
	Reseal(ctx context.Context, path string, version int64, oldKEK, newKEK string, sealed []byte) error
}

// SigningKey is a token signing key, its private part sealed under a KEK.
type SigningKey struct {
	KID string
	// Alg is the JWS algorithm ("ES256").
	Alg string
	// Sealed is the PKCS #8 private key sealed under KEKID.
	Sealed []byte
	KEKID  string
	// Public is the public JWK (JSON), published in the JWKS until the
	// key has been retired for longer than the longest token lifetime.
	Public    json.RawMessage
	CreatedAt time.Time
	// RetiredAt is zero while the key signs new tokens.
	RetiredAt time.Time
}

// Keys stores token signing keys.
type Keys interface {
	// PutSigningKey inserts a key; ErrConflict if the KID exists.
	PutSigningKey(ctx context.Context, k SigningKey) error
	// ListSigningKeys returns every key, oldest first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// RetireSigningKey sets RetiredAt on a key that is not retired;
	// ErrNotFound when absent, ErrConflict when already retired.
	RetireSigningKey(ctx context.Context, kid string, at time.Time) error
	// ResealSigningKey replaces the sealed private key if it is still
	// sealed under oldKEK; ErrConflict otherwise.
	ResealSigningKey(ctx context.Context, kid, oldKEK, newKEK string, sealed []byte) error
}

// Settings is a small key-value table for service-wide values (the admin
// token's hash, the schema's creation time).
type Settings interface {
	// GetSetting returns a value; ErrNotFound when absent.
	GetSetting(ctx context.Context, key string) ([]byte, error)
	// PutSettingIfAbsent stores a value unless the key exists, and reports
	// whether it stored it. Replicas starting together agree on one value.
	PutSettingIfAbsent(ctx context.Context, key string, value []byte) (bool, error)
	// PutSetting stores or replaces a value.
	PutSetting(ctx context.Context, key string, value []byte) error
}
