package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// SQLite is the Store in one SQLite file: the default, for a single
// replica with a local data directory.
//
// The file is in WAL mode with synchronous=FULL, so a write that returned
// is in the log and synced, and survives the process being killed or the
// machine losing power. Writes go through one connection, one at a time,
// each transaction begun IMMEDIATE (taking the write lock at BEGIN), so
// concurrent writers queue in Go instead of failing with SQLITE_BUSY, and
// another process writing the same file waits up to busy_timeout. Reads
// use a separate pool of query_only connections, which WAL lets run
// alongside the writer.
//
// Session writes are the exception: they run at synchronous=NORMAL, which
// in WAL mode skips the fsync at commit (the frames still reach the log
// before the statement returns, so a killed process loses nothing; only an
// OS crash or power loss can lose them). They are safe to leave unsynced
// because the next FULL commit syncs the whole log, earlier frames
// included, and the service writes one before it answers an attestation:
// the appraisal's audit record follows the nonce's consumption, so a
// consumed nonce is on disk before any verdict leaves the server. What a
// power loss can undo is a finished session's state (the attester then
// attests again) or a challenge nobody answered yet. This takes three of
// the four fsyncs out of each attestation.
type SQLite struct {
	w   *sql.DB // one connection, for every write
	r   *sql.DB // query_only connections, for reads
	now func() time.Time
}

var _ Store = (*SQLite)(nil)

// sqliteTimeLayout stores times as fixed-width UTC text with microseconds,
// so they compare as strings in the order they compare as times.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// sqliteBusyTimeout is how long a connection waits for a lock another
// process holds (PRAGMA busy_timeout, milliseconds).
const sqliteBusyTimeout = 10000

// OpenSQLite opens (creating it with mode 0600 if absent) the SQLite
// database at path and brings its schema up to date. The directory must
// exist.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if path == "" {
		return nil, errors.New("store: sqlite: no file path given")
	}
	if strings.ContainsRune(path, '?') {
		// The driver reads parameters after a "?".
		return nil, fmt.Errorf("store: sqlite: file path %q contains \"?\"", path)
	}
	if strings.HasPrefix(path, "file:") {
		// Not a URI: a file in the current directory named "file:...".
		path = "./" + path
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: directory of %s: %w", path, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("store: sqlite: %s is not a directory", dir)
	}
	// Create the file here, so it gets our mode; SQLite gives the -wal and
	// -shm files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}

	common := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)", sqliteBusyTimeout)
	w, err := sql.Open("sqlite", path+"?"+common+"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &SQLite{w: w, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}

	r, err := sql.Open("sqlite", path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.r = r
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *SQLite) migrate(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: sqlite: %w", err)
	}
	defer tx.Rollback()
	if err := migrate(ctx, sqlMigrationTx{tx}, sqliteMigrations()); err != nil {
		return fmt.Errorf("store: sqlite: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: sqlite: commit schema migrations: %w", err)
	}
	return nil
}

type sqlMigrationTx struct{ tx *sql.Tx }

func (t sqlMigrationTx) exec(ctx context.Context, q string) error {
	_, err := t.tx.ExecContext(ctx, q)
	return err
}

func (t sqlMigrationTx) queryInt(ctx context.Context, q string) (int64, error) {
	var n int64
	err := t.tx.QueryRowContext(ctx, q).Scan(&n)
	return n, err
}

// Ping implements Store.
func (s *SQLite) Ping(ctx context.Context) error {
	var n int64
	if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
		return fmt.Errorf("store: sqlite: ping: %w", err)
	}
	return nil
}

// Close implements Store.
func (s *SQLite) Close() error {
	var err error
	if s.r != nil {
		err = s.r.Close()
	}
	// The writer closes last, so it is the connection that checkpoints
	// the log into the database file.
	return errors.Join(err, s.w.Close())
}

// lazy runs one session write on the writer connection at
// synchronous=NORMAL, restoring FULL after it (see the type's comment).
func (s *SQLite) lazy(ctx context.Context, fn func(*sql.Conn) error) error {
	c, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "PRAGMA synchronous=NORMAL"); err != nil {
		return err
	}
	ferr := fn(c)
	// Restore FULL even if ctx ended, so the next durable write is.
	if _, err := c.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous=FULL"); err != nil {
		// A connection left at NORMAL must not serve durable writes.
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
		return errors.Join(ferr, fmt.Errorf("store: sqlite: restore synchronous=FULL: %w", err))
	}
	return ferr
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE).
func (s *SQLite) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func sqliteTime(t time.Time) string { return t.UTC().Format(sqliteTimeLayout) }

// sqliteNullTime stores the zero time as NULL.
func sqliteNullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return sqliteTime(t)
}

func parseSQLiteTime(v string) (time.Time, error) {
	t, err := time.Parse(sqliteTimeLayout, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: sqlite: stored time %q: %w", v, err)
	}
	return t, nil
}

func parseSQLiteNullTime(v sql.NullString) (time.Time, error) {
	if !v.Valid {
		return time.Time{}, nil
	}
	return parseSQLiteTime(v.String)
}

// sqliteText binds JSON as TEXT (a []byte would bind as a BLOB, which a
// STRICT TEXT column refuses), and an empty value as NULL.
func sqliteText(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// jsonOrNil returns a stored JSON column, nil for NULL.
func jsonOrNil(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

type rowScanner interface{ Scan(dest ...any) error }

const sqliteSessionCols = "id, nonce, tee, protocol_version, hash_alg, state, created_at, expires_at, token, tee_pubkey, result"

func scanSQLiteSession(row rowScanner) (Session, error) {
	var (
		s                 Session
		created, expires  string
		teePubKey, result []byte
	)
	if err := row.Scan(&s.ID, &s.Nonce, &s.TEE, &s.ProtocolVersion, &s.HashAlg, &s.State, &created, &expires, &s.Token, &teePubKey, &result); err != nil {
		return Session{}, err
	}
	var err error
	if s.CreatedAt, err = parseSQLiteTime(created); err != nil {
		return Session{}, err
	}
	if s.ExpiresAt, err = parseSQLiteTime(expires); err != nil {
		return Session{}, err
	}
	s.TEEPubKey, s.Result = jsonOrNil(teePubKey), jsonOrNil(result)
	return s, nil
}

// CreateSession implements Sessions.
func (s *SQLite) CreateSession(ctx context.Context, sess Session) error {
	sess, err := prepareSession(sess, s.now())
	if err != nil {
		return err
	}
	var res sql.Result
	err = s.lazy(ctx, func(c *sql.Conn) error {
		var err error
		res, err = c.ExecContext(ctx, `INSERT INTO sessions (`+sqliteSessionCols+`)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			sess.ID, sess.Nonce, sess.TEE, sess.ProtocolVersion, sess.HashAlg, string(sess.State),
			sqliteTime(sess.CreatedAt), sqliteTime(sess.ExpiresAt), sess.Token, sqliteText(sess.TEEPubKey), sqliteText(sess.Result))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create session %s: %w", sess.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: create session %s: %w", sess.ID, err)
	} else if n == 0 {
		return fmt.Errorf("%w: session %s exists", ErrConflict, sess.ID)
	}
	return nil
}

// GetSession implements Sessions.
func (s *SQLite) GetSession(ctx context.Context, id string) (Session, error) {
	sess, err := scanSQLiteSession(s.r.QueryRowContext(ctx, "SELECT "+sqliteSessionCols+" FROM sessions WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("%w: session %s", ErrNotFound, id)
	}
	if err != nil {
		return Session{}, fmt.Errorf("store: get session %s: %w", id, err)
	}
	return sess, nil
}

// sessionMissed explains why a conditional update of session id changed
// nothing: ErrNotFound if it is absent, else ErrConflict with its state.
func (s *SQLite) sessionMissed(ctx context.Context, id, wanted string) error {
	var state string
	err := s.r.QueryRowContext(ctx, "SELECT state FROM sessions WHERE id = ?", id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: session %s", ErrNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("store: session %s: %w", id, err)
	}
	return fmt.Errorf("%w: session %s is %s, %s", ErrConflict, id, state, wanted)
}

// ConsumeSession implements Sessions with one conditional UPDATE.
func (s *SQLite) ConsumeSession(ctx context.Context, id string, now time.Time) (Session, error) {
	var sess Session
	err := s.lazy(ctx, func(c *sql.Conn) error {
		var err error
		sess, err = scanSQLiteSession(c.QueryRowContext(ctx, `UPDATE sessions SET state = 'consumed'
WHERE id = ? AND state = 'pending' AND expires_at > ?
RETURNING `+sqliteSessionCols, id, sqliteTime(dbTime(now))))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, s.sessionMissed(ctx, id, "want pending and unexpired")
	}
	if err != nil {
		return Session{}, fmt.Errorf("store: consume session %s: %w", id, err)
	}
	return sess, nil
}

// FinishSession implements Sessions. A zero expiresAt keeps the session's
// expiry.
func (s *SQLite) FinishSession(ctx context.Context, id string, state SessionState, token string, teePubKey, result json.RawMessage, expiresAt time.Time) error {
	if err := checkFinish(id, state, teePubKey, result); err != nil {
		return err
	}
	var res sql.Result
	err := s.lazy(ctx, func(c *sql.Conn) error {
		var err error
		res, err = c.ExecContext(ctx, `UPDATE sessions
SET state = ?, token = ?, tee_pubkey = ?, result = ?, expires_at = COALESCE(?, expires_at)
WHERE id = ? AND state = 'consumed'`,
			string(state), token, sqliteText(teePubKey), sqliteText(result), sqliteNullTime(dbTime(expiresAt)), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: finish session %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: finish session %s: %w", id, err)
	} else if n == 0 {
		return s.sessionMissed(ctx, id, "want consumed")
	}
	return nil
}

// DeleteExpiredSessions implements Sessions.
func (s *SQLite) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	var res sql.Result
	err := s.lazy(ctx, func(c *sql.Conn) error {
		var err error
		res, err = c.ExecContext(ctx, "DELETE FROM sessions WHERE expires_at < ?", sqliteTime(dbTime(now)))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	return n, nil
}

// PutSecret implements Secrets. The version is assigned inside the INSERT,
// which holds the database's write lock.
func (s *SQLite) PutSecret(ctx context.Context, sec Secret) (Secret, error) {
	sec, err := prepareSecret(sec, s.now())
	if err != nil {
		return Secret{}, err
	}
	err = s.w.QueryRowContext(ctx, `INSERT INTO secrets (path, version, sealed, kek_id, policy, content_type, created_at, created_by)
SELECT ?1, COALESCE(MAX(version), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7 FROM secrets WHERE path = ?1
RETURNING version`,
		sec.Path, sec.Sealed, sec.KEKID, sqliteText(sec.Policy), sec.ContentType, sqliteTime(sec.CreatedAt), sec.CreatedBy).Scan(&sec.Version)
	if err != nil {
		return Secret{}, fmt.Errorf("store: put secret %s: %w", sec.Path, err)
	}
	return sec, nil
}

const sqliteSecretCols = "path, version, kek_id, policy, content_type, created_at, created_by"

// scanSQLiteSecret scans sqliteSecretCols, then sealed if withSealed.
func scanSQLiteSecret(row rowScanner, withSealed bool) (Secret, error) {
	var (
		sec     Secret
		policy  []byte
		created string
	)
	dest := []any{&sec.Path, &sec.Version, &sec.KEKID, &policy, &sec.ContentType, &created, &sec.CreatedBy}
	if withSealed {
		dest = append(dest, &sec.Sealed)
	}
	if err := row.Scan(dest...); err != nil {
		return Secret{}, err
	}
	var err error
	if sec.CreatedAt, err = parseSQLiteTime(created); err != nil {
		return Secret{}, err
	}
	sec.Policy = jsonOrNil(policy)
	return sec, nil
}

// GetSecret implements Secrets.
func (s *SQLite) GetSecret(ctx context.Context, path string) (Secret, error) {
	sec, err := scanSQLiteSecret(s.r.QueryRowContext(ctx, "SELECT "+sqliteSecretCols+`, sealed FROM secrets
WHERE path = ? AND deleted_at IS NULL ORDER BY version DESC LIMIT 1`, path), true)
	if errors.Is(err, sql.ErrNoRows) {
		return Secret{}, fmt.Errorf("%w: secret %s", ErrNotFound, path)
	}
	if err != nil {
		return Secret{}, fmt.Errorf("store: get secret %s: %w", path, err)
	}
	return sec, nil
}

func (s *SQLite) listSecrets(ctx context.Context, what, q string, withSealed bool, args ...any) ([]Secret, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	var out []Secret
	for rows.Next() {
		sec, err := scanSQLiteSecret(rows, withSealed)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, sec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

// ListSecrets implements Secrets.
func (s *SQLite) ListSecrets(ctx context.Context) ([]Secret, error) {
	return s.listSecrets(ctx, "list secrets", "SELECT "+sqliteSecretCols+` FROM secrets s
WHERE deleted_at IS NULL
  AND version = (SELECT MAX(version) FROM secrets WHERE path = s.path AND deleted_at IS NULL)
ORDER BY path`, false)
}

// DeleteSecret implements Secrets.
func (s *SQLite) DeleteSecret(ctx context.Context, path string) error {
	res, err := s.w.ExecContext(ctx, "UPDATE secrets SET deleted_at = ? WHERE path = ? AND deleted_at IS NULL",
		sqliteTime(dbTime(s.now())), path)
	if err != nil {
		return fmt.Errorf("store: delete secret %s: %w", path, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: delete secret %s: %w", path, err)
	} else if n == 0 {
		return fmt.Errorf("%w: secret %s", ErrNotFound, path)
	}
	return nil
}

// ListSealedWith implements Secrets, ordered by path and version.
func (s *SQLite) ListSealedWith(ctx context.Context, kekID string) ([]Secret, error) {
	return s.listSecrets(ctx, "list secrets sealed with "+kekID, "SELECT "+sqliteSecretCols+`, sealed FROM secrets
WHERE kek_id = ? ORDER BY path, version`, true, kekID)
}

// Reseal implements Secrets.
func (s *SQLite) Reseal(ctx context.Context, path string, version int64, oldKEK, newKEK string, sealed []byte) error {
	if len(sealed) == 0 || newKEK == "" {
		return fmt.Errorf("store: reseal secret %s version %d: empty sealed value or KEK ID", path, version)
	}
	res, err := s.w.ExecContext(ctx, "UPDATE secrets SET sealed = ?, kek_id = ? WHERE path = ? AND version = ? AND kek_id = ?",
		sealed, newKEK, path, version, oldKEK)
	if err != nil {
		return fmt.Errorf("store: reseal secret %s version %d: %w", path, version, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: reseal secret %s version %d: %w", path, version, err)
	} else if n == 0 {
		return fmt.Errorf("%w: secret %s version %d is not sealed under %s", ErrConflict, path, version, oldKEK)
	}
	return nil
}

// PutSigningKey implements Keys.
func (s *SQLite) PutSigningKey(ctx context.Context, k SigningKey) error {
	k, err := prepareSigningKey(k, s.now())
	if err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO signing_keys (kid, alg, sealed, kek_id, public, created_at, retired_at)
VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kid) DO NOTHING`,
		k.KID, k.Alg, k.Sealed, k.KEKID, sqliteText(k.Public), sqliteTime(k.CreatedAt), sqliteNullTime(k.RetiredAt))
	if err != nil {
		return fmt.Errorf("store: put signing key %s: %w", k.KID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: put signing key %s: %w", k.KID, err)
	} else if n == 0 {
		return fmt.Errorf("%w: signing key %s exists", ErrConflict, k.KID)
	}
	return nil
}

// ListSigningKeys implements Keys, ordered by creation time, then KID.
func (s *SQLite) ListSigningKeys(ctx context.Context) ([]SigningKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT kid, alg, sealed, kek_id, public, created_at, retired_at
FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, fmt.Errorf("store: list signing keys: %w", err)
	}
	defer rows.Close()
	var out []SigningKey
	for rows.Next() {
		var (
			k       SigningKey
			public  []byte
			created string
			retired sql.NullString
		)
		if err := rows.Scan(&k.KID, &k.Alg, &k.Sealed, &k.KEKID, &public, &created, &retired); err != nil {
			return nil, fmt.Errorf("store: list signing keys: %w", err)
		}
		if k.CreatedAt, err = parseSQLiteTime(created); err != nil {
			return nil, err
		}
		if k.RetiredAt, err = parseSQLiteNullTime(retired); err != nil {
			return nil, err
		}
		k.Public = jsonOrNil(public)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list signing keys: %w", err)
	}
	return out, nil
}

// RetireSigningKey implements Keys.
func (s *SQLite) RetireSigningKey(ctx context.Context, kid string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("store: retire signing key %s: no retirement time", kid)
	}
	res, err := s.w.ExecContext(ctx, "UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL",
		sqliteTime(dbTime(at)), kid)
	if err != nil {
		return fmt.Errorf("store: retire signing key %s: %w", kid, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: retire signing key %s: %w", kid, err)
	} else if n > 0 {
		return nil
	}
	var one int
	err = s.r.QueryRowContext(ctx, "SELECT 1 FROM signing_keys WHERE kid = ?", kid).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: signing key %s", ErrNotFound, kid)
	}
	if err != nil {
		return fmt.Errorf("store: retire signing key %s: %w", kid, err)
	}
	return fmt.Errorf("%w: signing key %s is already retired", ErrConflict, kid)
}

// ResealSigningKey implements Keys.
func (s *SQLite) ResealSigningKey(ctx context.Context, kid, oldKEK, newKEK string, sealed []byte) error {
	if len(sealed) == 0 || newKEK == "" {
		return fmt.Errorf("store: reseal signing key %s: empty sealed value or KEK ID", kid)
	}
	res, err := s.w.ExecContext(ctx, "UPDATE signing_keys SET sealed = ?, kek_id = ? WHERE kid = ? AND kek_id = ?",
		sealed, newKEK, kid, oldKEK)
	if err != nil {
		return fmt.Errorf("store: reseal signing key %s: %w", kid, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: reseal signing key %s: %w", kid, err)
	} else if n == 0 {
		return fmt.Errorf("%w: signing key %s is not sealed under %s", ErrConflict, kid, oldKEK)
	}
	return nil
}

// GetSetting implements Settings.
func (s *SQLite) GetSetting(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: setting %s", ErrNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get setting %s: %w", key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// PutSettingIfAbsent implements Settings.
func (s *SQLite) PutSettingIfAbsent(ctx context.Context, key string, value []byte) (bool, error) {
	res, err := s.w.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
		key, settingValue(value))
	if err != nil {
		return false, fmt.Errorf("store: put setting %s: %w", key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: put setting %s: %w", key, err)
	}
	return n == 1, nil
}

// PutSetting implements Settings.
func (s *SQLite) PutSetting(ctx context.Context, key string, value []byte) error {
	_, err := s.w.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		key, settingValue(value))
	if err != nil {
		return fmt.Errorf("store: put setting %s: %w", key, err)
	}
	return nil
}

// settingValue keeps an empty value from binding as NULL.
func settingValue(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

// AppendAudit implements Audit. The head is read and the record written in
// one IMMEDIATE transaction, which holds the database's write lock.
func (s *SQLite) AppendAudit(ctx context.Context, r AuditRecord) (AuditRecord, error) {
	r, err := prepareAudit(r, s.now())
	if err != nil {
		return AuditRecord{}, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var (
			seq  int64
			prev []byte
		)
		err := tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").Scan(&seq, &prev)
		if errors.Is(err, sql.ErrNoRows) {
			seq, prev = 0, genesisHash()
		} else if err != nil {
			return err
		}
		r = sealAudit(r, seq, prev)
		_, err = tx.ExecContext(ctx, `INSERT INTO audit (seq, time, actor, action, subject, verdict, detail, prev_hash, hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.Seq, sqliteTime(r.Time), r.Actor, r.Action, r.Subject, r.Verdict, sqliteText(r.Detail), r.PrevHash, r.Hash)
		return err
	})
	if err != nil {
		return AuditRecord{}, fmt.Errorf("store: append audit record: %w", err)
	}
	return r, nil
}

// ListAudit implements Audit.
func (s *SQLite) ListAudit(ctx context.Context, afterSeq int64, limit int) ([]AuditRecord, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT seq, time, actor, action, subject, verdict, detail, prev_hash, hash
FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		var (
			r      AuditRecord
			t      string
			detail []byte
		)
		if err := rows.Scan(&r.Seq, &t, &r.Actor, &r.Action, &r.Subject, &r.Verdict, &detail, &r.PrevHash, &r.Hash); err != nil {
			return nil, fmt.Errorf("store: list audit: %w", err)
		}
		if r.Time, err = parseSQLiteTime(t); err != nil {
			return nil, err
		}
		r.Detail = jsonOrNil(detail)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	return out, nil
}
