package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is the Store in a PostgreSQL database, for several replicas
// sharing one state.
//
// Every change a flow depends on is one conditional statement or one short
// transaction, so replicas need no coordination beyond the database:
// ConsumeSession is a single UPDATE ... WHERE state = 'pending' AND
// expires_at > now, which PostgreSQL re-checks after waiting on a
// concurrent update of the same row, so exactly one caller wins;
// AppendAudit locks the one-row audit_head table (SELECT ... FOR UPDATE)
// for the length of its transaction; PutSecret assigns the next version in
// its INSERT and tries again if a concurrent PutSecret of the same path
// took that version first.
type Postgres struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

var _ Store = (*Postgres)(nil)

// pgMigrationLock is the key of the transaction-scoped advisory lock under
// which replicas migrate the schema, one at a time ("assay" in ASCII).
const pgMigrationLock = 0x6173736179

// pgPutSecretAttempts bounds PutSecret's retries. Each failed attempt means
// another PutSecret of the same path committed, so it takes that many
// concurrent writers of one path to exhaust them.
const pgPutSecretAttempts = 64

// OpenPostgres connects to the PostgreSQL database named by dsn (a libpq
// URL or key=value string, as pgx parses it) and brings its schema up to
// date. Tables live in the connection's search_path, which the DSN may set
// ("...?search_path=assay"). Besides PostgreSQL's own parameters, the DSN
// may give pool_max_conns, the most connections this Store opens (default:
// the larger of 4 and GOMAXPROCS).
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn) // its errors leave out any password
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = int32(max(4, runtime.GOMAXPROCS(0)))
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "assay"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	p := &Postgres{pool: pool, now: time.Now}
	err = p.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(pgMigrationLock)); err != nil {
			return fmt.Errorf("lock for schema migration: %w", err)
		}
		return migrate(ctx, pgMigrationTx{tx}, postgresMigrations())
	})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	return p, nil
}

type pgMigrationTx struct{ tx pgx.Tx }

func (t pgMigrationTx) exec(ctx context.Context, q string) error {
	_, err := t.tx.Exec(ctx, q)
	return err
}

func (t pgMigrationTx) queryInt(ctx context.Context, q string) (int64, error) {
	var n int64
	err := t.tx.QueryRow(ctx, q).Scan(&n)
	return n, err
}

// Ping implements Store.
func (p *Postgres) Ping(ctx context.Context) error {
	err := p.withConn(ctx, func(c *pgx.Conn) error { return c.Ping(ctx) })
	if err != nil {
		return fmt.Errorf("store: postgres: ping: %w", err)
	}
	return nil
}

// Close implements Store. Connections in use close when they are
// released.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

func (p *Postgres) withConn(ctx context.Context, fn func(*pgx.Conn) error) error {
	c, err := p.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	return fn(c.Conn())
}

// inTx runs fn in a transaction (READ COMMITTED), committed if fn returns
// nil.
func (p *Postgres) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return p.withConn(ctx, func(c *pgx.Conn) error { return pgx.BeginFunc(ctx, c, fn) })
}

func (p *Postgres) exec(ctx context.Context, q string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := p.withConn(ctx, func(c *pgx.Conn) error {
		var err error
		tag, err = c.Exec(ctx, q, args...)
		return err
	})
	return tag, err
}

// queryRow runs a query that returns at most one row and scans it with
// scan.
func (p *Postgres) queryRow(ctx context.Context, scan func(pgx.Row) error, q string, args ...any) error {
	return p.withConn(ctx, func(c *pgx.Conn) error { return scan(c.QueryRow(ctx, q, args...)) })
}

// query runs a query and calls scan on each row.
func (p *Postgres) query(ctx context.Context, scan func(pgx.Rows) error, q string, args ...any) error {
	return p.withConn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// pgNullTime stores the zero time as NULL.
func pgNullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = dbTime(t)
	return &t
}

func fromPgNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

const pgSessionCols = "id, nonce, tee, protocol_version, hash_alg, state, created_at, expires_at, token, tee_pubkey, result"

func scanPgSession(row pgx.Row) (Session, error) {
	var (
		s                 Session
		state             string
		teePubKey, result []byte
	)
	if err := row.Scan(&s.ID, &s.Nonce, &s.TEE, &s.ProtocolVersion, &s.HashAlg, &state, &s.CreatedAt, &s.ExpiresAt, &s.Token, &teePubKey, &result); err != nil {
		return Session{}, err
	}
	s.State = SessionState(state)
	s.CreatedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC()
	s.TEEPubKey, s.Result = jsonOrNil(teePubKey), jsonOrNil(result)
	return s, nil
}

// CreateSession implements Sessions.
func (p *Postgres) CreateSession(ctx context.Context, sess Session) error {
	sess, err := prepareSession(sess, p.now())
	if err != nil {
		return err
	}
	tag, err := p.exec(ctx, `INSERT INTO sessions (`+pgSessionCols+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING`,
		sess.ID, sess.Nonce, sess.TEE, sess.ProtocolVersion, sess.HashAlg, string(sess.State),
		sess.CreatedAt, sess.ExpiresAt, sess.Token, nullJSON(sess.TEEPubKey), nullJSON(sess.Result))
	if err != nil {
		return fmt.Errorf("store: create session %s: %w", sess.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: session %s exists", ErrConflict, sess.ID)
	}
	return nil
}

// GetSession implements Sessions.
func (p *Postgres) GetSession(ctx context.Context, id string) (Session, error) {
	var sess Session
	err := p.queryRow(ctx, func(row pgx.Row) (err error) {
		sess, err = scanPgSession(row)
		return err
	}, "SELECT "+pgSessionCols+" FROM sessions WHERE id = $1", id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, fmt.Errorf("%w: session %s", ErrNotFound, id)
	}
	if err != nil {
		return Session{}, fmt.Errorf("store: get session %s: %w", id, err)
	}
	return sess, nil
}

// sessionMissed explains why a conditional update of session id changed
// nothing: ErrNotFound if it is absent, else ErrConflict with its state.
func (p *Postgres) sessionMissed(ctx context.Context, id, wanted string) error {
	var state string
	err := p.queryRow(ctx, func(row pgx.Row) error { return row.Scan(&state) },
		"SELECT state FROM sessions WHERE id = $1", id)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: session %s", ErrNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("store: session %s: %w", id, err)
	}
	return fmt.Errorf("%w: session %s is %s, %s", ErrConflict, id, state, wanted)
}

// ConsumeSession implements Sessions with one conditional UPDATE.
func (p *Postgres) ConsumeSession(ctx context.Context, id string, now time.Time) (Session, error) {
	var sess Session
	err := p.queryRow(ctx, func(row pgx.Row) (err error) {
		sess, err = scanPgSession(row)
		return err
	}, `UPDATE sessions SET state = 'consumed'
WHERE id = $1 AND state = 'pending' AND expires_at > $2
RETURNING `+pgSessionCols, id, dbTime(now))
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, p.sessionMissed(ctx, id, "want pending and unexpired")
	}
	if err != nil {
		return Session{}, fmt.Errorf("store: consume session %s: %w", id, err)
	}
	return sess, nil
}

// FinishSession implements Sessions. A zero expiresAt keeps the session's
// expiry.
func (p *Postgres) FinishSession(ctx context.Context, id string, state SessionState, token string, teePubKey, result json.RawMessage, expiresAt time.Time) error {
	if err := checkFinish(id, state, teePubKey, result); err != nil {
		return err
	}
	tag, err := p.exec(ctx, `UPDATE sessions
SET state = $1, token = $2, tee_pubkey = $3, result = $4, expires_at = COALESCE($5, expires_at)
WHERE id = $6 AND state = 'consumed'`,
		string(state), token, nullJSON(teePubKey), nullJSON(result), pgNullTime(expiresAt), id)
	if err != nil {
		return fmt.Errorf("store: finish session %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return p.sessionMissed(ctx, id, "want consumed")
	}
	return nil
}

// DeleteExpiredSessions implements Sessions.
func (p *Postgres) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	tag, err := p.exec(ctx, "DELETE FROM sessions WHERE expires_at < $1", dbTime(now))
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

// PutSecret implements Secrets. Two concurrent calls for one path may both
// compute the same next version; the primary key lets one commit and the
// other fails with a unique violation and tries again.
func (p *Postgres) PutSecret(ctx context.Context, sec Secret) (Secret, error) {
	sec, err := prepareSecret(sec, p.now())
	if err != nil {
		return Secret{}, err
	}
	for attempt := 1; ; attempt++ {
		err = p.queryRow(ctx, func(row pgx.Row) error { return row.Scan(&sec.Version) },
			`INSERT INTO secrets (path, version, sealed, kek_id, policy, content_type, created_at, created_by)
SELECT $1::text, COALESCE(MAX(version), 0) + 1, $2::bytea, $3::text, $4::json, $5::text, $6::timestamptz, $7::text
FROM secrets WHERE path = $1::text
RETURNING version`,
			sec.Path, sec.Sealed, sec.KEKID, nullJSON(sec.Policy), sec.ContentType, sec.CreatedAt, sec.CreatedBy)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
			if attempt < pgPutSecretAttempts {
				continue
			}
			return Secret{}, fmt.Errorf("%w: put secret %s: %d concurrent writers took every version tried", ErrConflict, sec.Path, attempt)
		}
		if err != nil {
			return Secret{}, fmt.Errorf("store: put secret %s: %w", sec.Path, err)
		}
		return sec, nil
	}
}

const pgSecretCols = "path, version, kek_id, policy, content_type, created_at, created_by"

// scanPgSecret scans pgSecretCols, then sealed if withSealed.
func scanPgSecret(row pgx.Row, withSealed bool) (Secret, error) {
	var (
		sec    Secret
		policy []byte
	)
	dest := []any{&sec.Path, &sec.Version, &sec.KEKID, &policy, &sec.ContentType, &sec.CreatedAt, &sec.CreatedBy}
	if withSealed {
		dest = append(dest, &sec.Sealed)
	}
	if err := row.Scan(dest...); err != nil {
		return Secret{}, err
	}
	sec.CreatedAt = sec.CreatedAt.UTC()
	sec.Policy = jsonOrNil(policy)
	return sec, nil
}

// GetSecret implements Secrets.
func (p *Postgres) GetSecret(ctx context.Context, path string) (Secret, error) {
	var sec Secret
	err := p.queryRow(ctx, func(row pgx.Row) (err error) {
		sec, err = scanPgSecret(row, true)
		return err
	}, "SELECT "+pgSecretCols+`, sealed FROM secrets
WHERE path = $1 AND deleted_at IS NULL ORDER BY version DESC LIMIT 1`, path)
	if errors.Is(err, pgx.ErrNoRows) {
		return Secret{}, fmt.Errorf("%w: secret %s", ErrNotFound, path)
	}
	if err != nil {
		return Secret{}, fmt.Errorf("store: get secret %s: %w", path, err)
	}
	return sec, nil
}

func (p *Postgres) listSecrets(ctx context.Context, what, q string, withSealed bool, args ...any) ([]Secret, error) {
	var out []Secret
	err := p.query(ctx, func(rows pgx.Rows) error {
		sec, err := scanPgSecret(rows, withSealed)
		if err != nil {
			return err
		}
		out = append(out, sec)
		return nil
	}, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

// ListSecrets implements Secrets.
func (p *Postgres) ListSecrets(ctx context.Context) ([]Secret, error) {
	return p.listSecrets(ctx, "list secrets", "SELECT "+pgSecretCols+` FROM secrets s
WHERE deleted_at IS NULL
  AND version = (SELECT MAX(version) FROM secrets WHERE path = s.path AND deleted_at IS NULL)
ORDER BY path`, false)
}

// DeleteSecret implements Secrets.
func (p *Postgres) DeleteSecret(ctx context.Context, path string) error {
	tag, err := p.exec(ctx, "UPDATE secrets SET deleted_at = $1 WHERE path = $2 AND deleted_at IS NULL", dbTime(p.now()), path)
	if err != nil {
		return fmt.Errorf("store: delete secret %s: %w", path, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: secret %s", ErrNotFound, path)
	}
	return nil
}

// ListSealedWith implements Secrets, ordered by path and version.
func (p *Postgres) ListSealedWith(ctx context.Context, kekID string) ([]Secret, error) {
	return p.listSecrets(ctx, "list secrets sealed with "+kekID, "SELECT "+pgSecretCols+`, sealed FROM secrets
WHERE kek_id = $1 ORDER BY path, version`, true, kekID)
}

// Reseal implements Secrets.
func (p *Postgres) Reseal(ctx context.Context, path string, version int64, oldKEK, newKEK string, sealed []byte) error {
	if len(sealed) == 0 || newKEK == "" {
		return fmt.Errorf("store: reseal secret %s version %d: empty sealed value or KEK ID", path, version)
	}
	tag, err := p.exec(ctx, "UPDATE secrets SET sealed = $1, kek_id = $2 WHERE path = $3 AND version = $4 AND kek_id = $5",
		sealed, newKEK, path, version, oldKEK)
	if err != nil {
		return fmt.Errorf("store: reseal secret %s version %d: %w", path, version, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: secret %s version %d is not sealed under %s", ErrConflict, path, version, oldKEK)
	}
	return nil
}

// PutSigningKey implements Keys.
func (p *Postgres) PutSigningKey(ctx context.Context, k SigningKey) error {
	k, err := prepareSigningKey(k, p.now())
	if err != nil {
		return err
	}
	tag, err := p.exec(ctx, `INSERT INTO signing_keys (kid, alg, sealed, kek_id, public, created_at, retired_at)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kid) DO NOTHING`,
		k.KID, k.Alg, k.Sealed, k.KEKID, nullJSON(k.Public), k.CreatedAt, pgNullTime(k.RetiredAt))
	if err != nil {
		return fmt.Errorf("store: put signing key %s: %w", k.KID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: signing key %s exists", ErrConflict, k.KID)
	}
	return nil
}

// ListSigningKeys implements Keys, ordered by creation time, then KID.
func (p *Postgres) ListSigningKeys(ctx context.Context) ([]SigningKey, error) {
	var out []SigningKey
	err := p.query(ctx, func(rows pgx.Rows) error {
		var (
			k       SigningKey
			public  []byte
			retired *time.Time
		)
		if err := rows.Scan(&k.KID, &k.Alg, &k.Sealed, &k.KEKID, &public, &k.CreatedAt, &retired); err != nil {
			return err
		}
		k.CreatedAt, k.RetiredAt = k.CreatedAt.UTC(), fromPgNullTime(retired)
		k.Public = jsonOrNil(public)
		out = append(out, k)
		return nil
	}, `SELECT kid, alg, sealed, kek_id, public, created_at, retired_at FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, fmt.Errorf("store: list signing keys: %w", err)
	}
	return out, nil
}

// RetireSigningKey implements Keys.
func (p *Postgres) RetireSigningKey(ctx context.Context, kid string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("store: retire signing key %s: no retirement time", kid)
	}
	tag, err := p.exec(ctx, "UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL", dbTime(at), kid)
	if err != nil {
		return fmt.Errorf("store: retire signing key %s: %w", kid, err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	var one int
	err = p.queryRow(ctx, func(row pgx.Row) error { return row.Scan(&one) }, "SELECT 1 FROM signing_keys WHERE kid = $1", kid)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: signing key %s", ErrNotFound, kid)
	}
	if err != nil {
		return fmt.Errorf("store: retire signing key %s: %w", kid, err)
	}
	return fmt.Errorf("%w: signing key %s is already retired", ErrConflict, kid)
}

// ResealSigningKey implements Keys.
func (p *Postgres) ResealSigningKey(ctx context.Context, kid, oldKEK, newKEK string, sealed []byte) error {
	if len(sealed) == 0 || newKEK == "" {
		return fmt.Errorf("store: reseal signing key %s: empty sealed value or KEK ID", kid)
	}
	tag, err := p.exec(ctx, "UPDATE signing_keys SET sealed = $1, kek_id = $2 WHERE kid = $3 AND kek_id = $4",
		sealed, newKEK, kid, oldKEK)
	if err != nil {
		return fmt.Errorf("store: reseal signing key %s: %w", kid, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: signing key %s is not sealed under %s", ErrConflict, kid, oldKEK)
	}
	return nil
}

// GetSetting implements Settings.
func (p *Postgres) GetSetting(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := p.queryRow(ctx, func(row pgx.Row) error { return row.Scan(&v) }, "SELECT value FROM settings WHERE key = $1", key)
	if errors.Is(err, pgx.ErrNoRows) {
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

// PutSettingIfAbsent implements Settings. Of concurrent inserts of one
// key, ON CONFLICT DO NOTHING lets one insert and the others wait for it
// to commit and then do nothing.
func (p *Postgres) PutSettingIfAbsent(ctx context.Context, key string, value []byte) (bool, error) {
	tag, err := p.exec(ctx, "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", key, settingValue(value))
	if err != nil {
		return false, fmt.Errorf("store: put setting %s: %w", key, err)
	}
	return tag.RowsAffected() == 1, nil
}

// PutSetting implements Settings.
func (p *Postgres) PutSetting(ctx context.Context, key string, value []byte) error {
	_, err := p.exec(ctx, "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		key, settingValue(value))
	if err != nil {
		return fmt.Errorf("store: put setting %s: %w", key, err)
	}
	return nil
}

// AppendAudit implements Audit. The transaction locks the chain's head
// row, so appenders on every replica take turns, then writes the record
// and moves the head.
func (p *Postgres) AppendAudit(ctx context.Context, r AuditRecord) (AuditRecord, error) {
	r, err := prepareAudit(r, p.now())
	if err != nil {
		return AuditRecord{}, err
	}
	err = p.inTx(ctx, func(tx pgx.Tx) error {
		var (
			seq  int64
			prev []byte
		)
		if err := tx.QueryRow(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE").Scan(&seq, &prev); err != nil {
			return fmt.Errorf("read head: %w", err)
		}
		r = sealAudit(r, seq, prev)
		if _, err := tx.Exec(ctx, `INSERT INTO audit (seq, time, actor, action, subject, verdict, detail, prev_hash, hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			r.Seq, r.Time, r.Actor, r.Action, r.Subject, r.Verdict, nullJSON(r.Detail), r.PrevHash, r.Hash); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", r.Seq, r.Hash)
		return err
	})
	if err != nil {
		return AuditRecord{}, fmt.Errorf("store: append audit record: %w", err)
	}
	return r, nil
}

// ListAudit implements Audit.
func (p *Postgres) ListAudit(ctx context.Context, afterSeq int64, limit int) ([]AuditRecord, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	var out []AuditRecord
	err := p.query(ctx, func(rows pgx.Rows) error {
		var (
			r      AuditRecord
			detail []byte
		)
		if err := rows.Scan(&r.Seq, &r.Time, &r.Actor, &r.Action, &r.Subject, &r.Verdict, &detail, &r.PrevHash, &r.Hash); err != nil {
			return err
		}
		r.Time = r.Time.UTC()
		r.Detail = jsonOrNil(detail)
		out = append(out, r)
		return nil
	}, `SELECT seq, time, actor, action, subject, verdict, detail, prev_hash, hash
FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2`, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	return out, nil
}
