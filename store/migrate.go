package store

import (
	"context"
	"errors"
	"fmt"
)

// Schema changes are migrations: SQL applied in order, one list per
// dialect, recorded in schema_migrations. Migration N is element N-1 of
// its list. A released migration is never edited, only followed by a new
// one, and both lists keep the same length and meaning so that either
// backend is at the same version after the same release.
//
// Both backends apply the missing migrations in one transaction when they
// open, so a failed migration leaves the schema as it was, and a replica
// that finds a version newer than it knows refuses to start
// (errSchemaNewer) rather than write rows an older schema never had.

// errSchemaNewer: the database was migrated by a newer Assay.
var errSchemaNewer = errors.New("database schema is newer than this build of assay")

// migrations is one dialect's schema history.
type migrations struct {
	// createTable creates schema_migrations if absent.
	createTable string
	// record is a format with one %d, the version, that records a
	// migration as applied (applied_at takes its default).
	record string
	steps  []string
}

// migrationTx is what applying migrations needs from a transaction.
type migrationTx interface {
	exec(ctx context.Context, sql string) error
	queryInt(ctx context.Context, sql string) (int64, error)
}

// migrate brings the schema to the newest version m knows, inside tx.
func migrate(ctx context.Context, tx migrationTx, m migrations) error {
	if err := tx.exec(ctx, m.createTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	found, err := tx.queryInt(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	known := int64(len(m.steps))
	if found > known {
		return fmt.Errorf("%w: the database is at schema version %d, this build knows versions up to %d; run a newer assay", errSchemaNewer, found, known)
	}
	for v := found + 1; v <= known; v++ {
		if err := tx.exec(ctx, m.steps[v-1]); err != nil {
			return fmt.Errorf("schema migration %d: %w", v, err)
		}
		if err := tx.exec(ctx, fmt.Sprintf(m.record, v)); err != nil {
			return fmt.Errorf("record schema migration %d: %w", v, err)
		}
	}
	return nil
}

// sqliteMigrations is the SQLite schema history. Times are TEXT in the
// fixed-width UTC form of sqliteTimeLayout, so they sort and compare as
// strings; tables are STRICT, so a column holds only its declared type.
func sqliteMigrations() migrations {
	return migrations{
		createTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT`,
		record: "INSERT INTO schema_migrations (version) VALUES (%d)",
		steps: []string{
			// 1: the first schema.
			`
CREATE TABLE sessions (
	id               TEXT PRIMARY KEY,
	nonce            TEXT NOT NULL,
	tee              TEXT NOT NULL,
	protocol_version TEXT NOT NULL,
	hash_alg         TEXT NOT NULL,
	state            TEXT NOT NULL CHECK (state IN ('pending', 'consumed', 'attested', 'failed')),
	created_at       TEXT NOT NULL,
	expires_at       TEXT NOT NULL,
	token            TEXT NOT NULL DEFAULT '',
	tee_pubkey       TEXT,
	result           TEXT
) STRICT;
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE secrets (
	path         TEXT NOT NULL,
	version      INTEGER NOT NULL CHECK (version > 0),
	sealed       BLOB NOT NULL,
	kek_id       TEXT NOT NULL,
	policy       TEXT,
	content_type TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	created_by   TEXT NOT NULL,
	deleted_at   TEXT,
	PRIMARY KEY (path, version)
) STRICT;
CREATE INDEX secrets_kek_id ON secrets (kek_id);

CREATE TABLE signing_keys (
	kid        TEXT PRIMARY KEY,
	alg        TEXT NOT NULL,
	sealed     BLOB NOT NULL,
	kek_id     TEXT NOT NULL,
	public     TEXT,
	created_at TEXT NOT NULL,
	retired_at TEXT
) STRICT;

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
) STRICT;

CREATE TABLE audit (
	seq       INTEGER PRIMARY KEY CHECK (seq > 0),
	time      TEXT NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	subject   TEXT NOT NULL,
	verdict   TEXT NOT NULL,
	detail    TEXT,
	prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),
	hash      BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;
`,
			// 2: versioned policies and reference values, the generation
			// counter replicas poll, and the appraisal history.
			`
CREATE TABLE policies (
	name       TEXT NOT NULL,
	version    INTEGER NOT NULL CHECK (version > 0),
	source     TEXT NOT NULL,
	state      TEXT NOT NULL CHECK (state IN ('active', 'retired')),
	author     TEXT NOT NULL,
	reason     TEXT NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (name, version)
) STRICT;

CREATE TABLE refvalues (
	id         TEXT NOT NULL,
	version    INTEGER NOT NULL CHECK (version > 0),
	state      TEXT NOT NULL CHECK (state IN ('staged', 'active', 'deprecated', 'revoked')),
	record     TEXT NOT NULL,
	author     TEXT NOT NULL,
	reason     TEXT NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (id, version)
) STRICT;

CREATE TABLE policy_generation (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	gen INTEGER NOT NULL
) STRICT;
INSERT INTO policy_generation (id, gen) VALUES (1, 0);

CREATE TABLE appraisals (
	seq            INTEGER PRIMARY KEY AUTOINCREMENT,
	time           TEXT NOT NULL,
	session_id     TEXT NOT NULL,
	tee            TEXT NOT NULL,
	workload       TEXT NOT NULL,
	policy         TEXT NOT NULL,
	verdict        TEXT NOT NULL,
	shadow_verdict TEXT NOT NULL,
	matched        TEXT NOT NULL,
	results        TEXT NOT NULL
) STRICT;
CREATE INDEX appraisals_time ON appraisals (time);
`,
		},
	}
}

// postgresMigrations is the PostgreSQL schema history. JSON columns are
// json, not jsonb, so a value reads back byte for byte as written (the
// audit hash covers Detail's bytes; release policies may be hashed too).
func postgresMigrations() migrations {
	return migrations{
		createTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    bigint PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`,
		record: "INSERT INTO schema_migrations (version) VALUES (%d)",
		steps: []string{
			// 1: the first schema.
			`
CREATE TABLE sessions (
	id               text PRIMARY KEY,
	nonce            text NOT NULL,
	tee              text NOT NULL,
	protocol_version text NOT NULL,
	hash_alg         text NOT NULL,
	state            text NOT NULL CHECK (state IN ('pending', 'consumed', 'attested', 'failed')),
	created_at       timestamptz NOT NULL,
	expires_at       timestamptz NOT NULL,
	token            text NOT NULL DEFAULT '',
	tee_pubkey       json,
	result           json
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE secrets (
	path         text NOT NULL,
	version      bigint NOT NULL CHECK (version > 0),
	sealed       bytea NOT NULL,
	kek_id       text NOT NULL,
	policy       json,
	content_type text NOT NULL,
	created_at   timestamptz NOT NULL,
	created_by   text NOT NULL,
	deleted_at   timestamptz,
	PRIMARY KEY (path, version)
);
CREATE INDEX secrets_kek_id ON secrets (kek_id);

CREATE TABLE signing_keys (
	kid        text PRIMARY KEY,
	alg        text NOT NULL,
	sealed     bytea NOT NULL,
	kek_id     text NOT NULL,
	public     json,
	created_at timestamptz NOT NULL,
	retired_at timestamptz
);

CREATE TABLE settings (
	key   text PRIMARY KEY,
	value bytea NOT NULL
);

CREATE TABLE audit (
	seq       bigint PRIMARY KEY CHECK (seq > 0),
	time      timestamptz NOT NULL,
	actor     text NOT NULL,
	action    text NOT NULL,
	subject   text NOT NULL,
	verdict   text NOT NULL,
	detail    json,
	prev_hash bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
	hash      bytea NOT NULL CHECK (octet_length(hash) = 32)
);

-- The head of the audit chain, one row. AppendAudit locks it (SELECT ...
-- FOR UPDATE), so appenders on every replica take turns.
CREATE TABLE audit_head (
	id   integer PRIMARY KEY CHECK (id = 1),
	seq  bigint NOT NULL,
	hash bytea NOT NULL CHECK (octet_length(hash) = 32)
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
`,
			// 2: versioned policies and reference values, the generation
			// counter replicas poll (its row is also the lock every policy
			// write takes), and the appraisal history.
			`
CREATE TABLE policies (
	name       text NOT NULL,
	version    bigint NOT NULL CHECK (version > 0),
	source     text NOT NULL,
	state      text NOT NULL CHECK (state IN ('active', 'retired')),
	author     text NOT NULL,
	reason     text NOT NULL,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (name, version)
);

CREATE TABLE refvalues (
	id         text NOT NULL,
	version    bigint NOT NULL CHECK (version > 0),
	state      text NOT NULL CHECK (state IN ('staged', 'active', 'deprecated', 'revoked')),
	record     json NOT NULL,
	author     text NOT NULL,
	reason     text NOT NULL,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (id, version)
);

CREATE TABLE policy_generation (
	id  integer PRIMARY KEY CHECK (id = 1),
	gen bigint NOT NULL
);
INSERT INTO policy_generation (id, gen) VALUES (1, 0);

CREATE TABLE appraisals (
	seq            bigserial PRIMARY KEY,
	time           timestamptz NOT NULL,
	session_id     text NOT NULL,
	tee            text NOT NULL,
	workload       text NOT NULL,
	policy         text NOT NULL,
	verdict        text NOT NULL,
	shadow_verdict text NOT NULL,
	matched        json NOT NULL,
	results        json NOT NULL
);
CREATE INDEX appraisals_time ON appraisals (time);
`,
		},
	}
}
