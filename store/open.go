package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Open opens the database named by database and brings its schema up to
// date:
//
//   - "postgres://..." or "postgresql://..." (a libpq URL, passed to
//     OpenPostgres as it is)
//   - "sqlite:PATH" or "sqlite:///ABSOLUTE/PATH"
//   - a plain file path, which is SQLite
//
// Other URL schemes are an error, as is an empty string.
//
// Both backends keep times in UTC to the microsecond (PostgreSQL's
// resolution), and JSON values byte for byte as given (after checking that
// they are JSON), so a value reads back the same from either.
func Open(ctx context.Context, database string) (Store, error) {
	kind, target, err := parseDatabase(database)
	if err != nil {
		return nil, err
	}
	if kind == "postgres" {
		return OpenPostgres(ctx, target)
	}
	return OpenSQLite(ctx, target)
}

// parseDatabase splits Open's argument into a backend ("postgres" or
// "sqlite") and what that backend opens.
func parseDatabase(database string) (kind, target string, err error) {
	switch {
	case strings.TrimSpace(database) == "":
		return "", "", errors.New("store: no database given (want a file path, sqlite:PATH or postgres://...)")
	case strings.HasPrefix(database, "postgres://"), strings.HasPrefix(database, "postgresql://"):
		return "postgres", database, nil
	case strings.HasPrefix(database, "sqlite://"):
		// sqlite:///var/lib/assay.db is a URL with an empty host.
		rest := strings.TrimPrefix(database, "sqlite://")
		if !strings.HasPrefix(rest, "/") {
			return "", "", fmt.Errorf("store: database %q: a sqlite URL has no host; write sqlite:PATH or sqlite:///ABSOLUTE/PATH", database)
		}
		return "sqlite", rest, nil
	case strings.HasPrefix(database, "sqlite:"):
		rest := strings.TrimPrefix(database, "sqlite:")
		if rest == "" {
			return "", "", errors.New("store: database \"sqlite:\" names no file")
		}
		return "sqlite", rest, nil
	}
	if scheme, ok := urlScheme(database); ok {
		// Only the scheme: the rest may hold a password.
		return "", "", fmt.Errorf("store: database scheme %q is not supported (want postgres://, postgresql://, sqlite: or a file path)", scheme)
	}
	return "sqlite", database, nil
}

// urlScheme returns the scheme of a string that starts "scheme://"
// (RFC 3986, section 3.1: a letter, then letters, digits, "+", "-", ".").
func urlScheme(s string) (string, bool) {
	i := strings.Index(s, "://")
	if i < 1 {
		return "", false
	}
	for j, c := range s[:i] {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (j == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", false
		}
	}
	return s[:i], true
}

// Both backends keep times to the microsecond, PostgreSQL's resolution, so
// a value reads back as it was written whichever backend holds it.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// checkJSON reports an error unless b is empty or valid JSON. Both
// backends check in Go, so they accept the same values.
func checkJSON(what string, b []byte) error {
	if len(b) > 0 && !json.Valid(b) {
		return fmt.Errorf("store: %s is not valid JSON", what)
	}
	return nil
}

// nullJSON returns nil for an empty value, which the backends store as
// NULL.
func nullJSON(b json.RawMessage) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// prepareSession checks a session for CreateSession and returns it as it
// will be stored.
func prepareSession(s Session, now time.Time) (Session, error) {
	if s.ID == "" {
		return Session{}, errors.New("store: session has no ID")
	}
	switch s.State {
	case "":
		s.State = SessionPending
	case SessionPending:
	default:
		return Session{}, fmt.Errorf("store: session %s: a new session is pending, not %q", s.ID, s.State)
	}
	if err := checkJSON("session tee_pubkey", s.TEEPubKey); err != nil {
		return Session{}, err
	}
	if err := checkJSON("session result", s.Result); err != nil {
		return Session{}, err
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	s.CreatedAt = dbTime(s.CreatedAt)
	s.ExpiresAt = dbTime(s.ExpiresAt)
	return s, nil
}

// checkFinish checks FinishSession's arguments.
func checkFinish(id string, state SessionState, teePubKey, result json.RawMessage) error {
	if state != SessionAttested && state != SessionFailed {
		return fmt.Errorf("store: session %s: a consumed session finishes as attested or failed, not %q", id, state)
	}
	if err := checkJSON("session tee_pubkey", teePubKey); err != nil {
		return err
	}
	return checkJSON("session result", result)
}

// prepareSecret checks a secret for PutSecret and returns it as it will be
// stored, Version aside.
func prepareSecret(s Secret, now time.Time) (Secret, error) {
	if s.Path == "" {
		return Secret{}, errors.New("store: secret has no path")
	}
	if len(s.Sealed) == 0 {
		return Secret{}, fmt.Errorf("store: secret %s: sealed value is empty", s.Path)
	}
	if s.KEKID == "" {
		return Secret{}, fmt.Errorf("store: secret %s: no KEK ID", s.Path)
	}
	if err := checkJSON("secret policy", s.Policy); err != nil {
		return Secret{}, err
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	s.CreatedAt = dbTime(s.CreatedAt)
	return s, nil
}

// prepareSigningKey checks a key for PutSigningKey and returns it as it
// will be stored.
func prepareSigningKey(k SigningKey, now time.Time) (SigningKey, error) {
	if k.KID == "" {
		return SigningKey{}, errors.New("store: signing key has no KID")
	}
	if len(k.Sealed) == 0 {
		return SigningKey{}, fmt.Errorf("store: signing key %s: sealed value is empty", k.KID)
	}
	if k.KEKID == "" {
		return SigningKey{}, fmt.Errorf("store: signing key %s: no KEK ID", k.KID)
	}
	if err := checkJSON("signing key public JWK", k.Public); err != nil {
		return SigningKey{}, err
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now
	}
	k.CreatedAt = dbTime(k.CreatedAt)
	if !k.RetiredAt.IsZero() {
		k.RetiredAt = dbTime(k.RetiredAt)
	}
	return k, nil
}

// prepareAudit checks a record for AppendAudit and returns it with Time
// and Detail as they will be stored and hashed; Seq, PrevHash and Hash
// are the backend's to set.
func prepareAudit(r AuditRecord, now time.Time) (AuditRecord, error) {
	if r.Action == "" {
		return AuditRecord{}, errors.New("store: audit record has no action")
	}
	if err := checkJSON("audit detail", r.Detail); err != nil {
		return AuditRecord{}, err
	}
	if r.Time.IsZero() {
		r.Time = now
	}
	r.Time = dbTime(r.Time)
	r.Detail = compactJSON(r.Detail)
	return r, nil
}

// sealAudit completes a prepared record as the successor of (seq,
// prevHash).
func sealAudit(r AuditRecord, seq int64, prevHash []byte) AuditRecord {
	r.Seq = seq + 1
	r.PrevHash = prevHash
	r.Hash = AuditHash(r)
	return r
}

// checkLimit checks ListAudit's limit.
func checkLimit(limit int) error {
	if limit <= 0 {
		return fmt.Errorf("store: audit list limit is %d, want at least 1", limit)
	}
	return nil
}
