package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PolicyGeneration implements PolicyStore.
func (s *SQLite) PolicyGeneration(ctx context.Context) (int64, error) {
	var g int64
	if err := s.r.QueryRowContext(ctx, "SELECT gen FROM policy_generation WHERE id = 1").Scan(&g); err != nil {
		return 0, fmt.Errorf("store: policy generation: %w", err)
	}
	return g, nil
}

func sqliteBumpGeneration(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "UPDATE policy_generation SET gen = gen + 1 WHERE id = 1")
	return err
}

func sqliteInsertPolicy(ctx context.Context, tx *sql.Tx, p PolicyVersion) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO policies (name, version, source, state, author, reason, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?)`, p.Name, p.Version, p.Source, string(p.State), p.Author, p.Reason, sqliteTime(p.CreatedAt))
	return err
}

func sqliteInsertRefValue(ctx context.Context, tx *sql.Tx, r RefValueVersion) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refvalues (id, version, state, record, author, reason, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Version, r.State, string(r.Record), r.Author, r.Reason, sqliteTime(r.CreatedAt))
	return err
}

// PutPolicy implements PolicyStore. The IMMEDIATE transaction holds the
// write lock from the version read to the insert.
func (s *SQLite) PutPolicy(ctx context.Context, p PolicyVersion, expect int64) (PolicyVersion, error) {
	p, err := preparePolicy(p, s.now())
	if err != nil {
		return PolicyVersion{}, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var cur int64
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM policies WHERE name = ?", p.Name).Scan(&cur); err != nil {
			return err
		}
		if err := checkExpect("policy "+p.Name, cur, expect); err != nil {
			return err
		}
		p.Version = cur + 1
		if err := sqliteInsertPolicy(ctx, tx, p); err != nil {
			return err
		}
		return sqliteBumpGeneration(ctx, tx)
	})
	if err != nil {
		return PolicyVersion{}, fmt.Errorf("store: put policy %s: %w", p.Name, err)
	}
	return p, nil
}

const policyCols = "name, version, source, state, author, reason, created_at"

func (s *SQLite) listPolicies(ctx context.Context, q string, args ...any) ([]PolicyVersion, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PolicyVersion
	for rows.Next() {
		var (
			p       PolicyVersion
			state   string
			created string
		)
		if err := rows.Scan(&p.Name, &p.Version, &p.Source, &state, &p.Author, &p.Reason, &created); err != nil {
			return nil, err
		}
		p.State = PolicyState(state)
		if p.CreatedAt, err = parseSQLiteTime(created); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ListPolicies implements PolicyStore.
func (s *SQLite) ListPolicies(ctx context.Context) ([]PolicyVersion, error) {
	out, err := s.listPolicies(ctx, "SELECT "+policyCols+` FROM policies p
WHERE version = (SELECT MAX(version) FROM policies WHERE name = p.name) ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list policies: %w", err)
	}
	return out, nil
}

// PolicyHistory implements PolicyStore.
func (s *SQLite) PolicyHistory(ctx context.Context, name string) ([]PolicyVersion, error) {
	out, err := s.listPolicies(ctx, "SELECT "+policyCols+" FROM policies WHERE name = ? ORDER BY version", name)
	if err != nil {
		return nil, fmt.Errorf("store: policy history %s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: policy %s", ErrNotFound, name)
	}
	return out, nil
}

// PutRefValue implements PolicyStore.
func (s *SQLite) PutRefValue(ctx context.Context, r RefValueVersion, expect int64) (RefValueVersion, error) {
	r, err := prepareRefValue(r, s.now())
	if err != nil {
		return RefValueVersion{}, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var cur int64
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM refvalues WHERE id = ?", r.ID).Scan(&cur); err != nil {
			return err
		}
		if err := checkExpect("reference value "+r.ID, cur, expect); err != nil {
			return err
		}
		r.Version = cur + 1
		if err := sqliteInsertRefValue(ctx, tx, r); err != nil {
			return err
		}
		return sqliteBumpGeneration(ctx, tx)
	})
	if err != nil {
		return RefValueVersion{}, fmt.Errorf("store: put reference value %s: %w", r.ID, err)
	}
	return r, nil
}

const refValueCols = "id, version, state, record, author, reason, created_at"

func (s *SQLite) listRefValues(ctx context.Context, q string, args ...any) ([]RefValueVersion, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RefValueVersion
	for rows.Next() {
		var (
			r       RefValueVersion
			record  string
			created string
		)
		if err := rows.Scan(&r.ID, &r.Version, &r.State, &record, &r.Author, &r.Reason, &created); err != nil {
			return nil, err
		}
		r.Record = []byte(record)
		if r.CreatedAt, err = parseSQLiteTime(created); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ListRefValues implements PolicyStore.
func (s *SQLite) ListRefValues(ctx context.Context) ([]RefValueVersion, error) {
	out, err := s.listRefValues(ctx, "SELECT "+refValueCols+` FROM refvalues r
WHERE version = (SELECT MAX(version) FROM refvalues WHERE id = r.id) ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: list reference values: %w", err)
	}
	return out, nil
}

// RefValueHistory implements PolicyStore.
func (s *SQLite) RefValueHistory(ctx context.Context, id string) ([]RefValueVersion, error) {
	out, err := s.listRefValues(ctx, "SELECT "+refValueCols+" FROM refvalues WHERE id = ? ORDER BY version", id)
	if err != nil {
		return nil, fmt.Errorf("store: reference value history %s: %w", id, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: reference value %s", ErrNotFound, id)
	}
	return out, nil
}

// SeedPolicy implements PolicyStore.
func (s *SQLite) SeedPolicy(ctx context.Context, ps []PolicyVersion, rs []RefValueVersion) (bool, error) {
	ps, rs, err := prepareSeed(ps, rs, s.now())
	if err != nil {
		return false, err
	}
	seeded := false
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var n int64
		if err := tx.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM policies) + (SELECT COUNT(*) FROM refvalues)").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		for _, p := range ps {
			if err := sqliteInsertPolicy(ctx, tx, p); err != nil {
				return err
			}
		}
		for _, r := range rs {
			if err := sqliteInsertRefValue(ctx, tx, r); err != nil {
				return err
			}
		}
		seeded = true
		return sqliteBumpGeneration(ctx, tx)
	})
	if err != nil {
		return false, fmt.Errorf("store: seed policy: %w", err)
	}
	return seeded, nil
}

// RecordAppraisal implements Appraisals. Like a session write it runs at
// synchronous=NORMAL: the appraisal's audit record, a durable write,
// follows it and syncs it.
func (s *SQLite) RecordAppraisal(ctx context.Context, a AppraisalRecord) (AppraisalRecord, error) {
	a, matched, err := prepareAppraisal(a, s.now())
	if err != nil {
		return AppraisalRecord{}, err
	}
	err = s.lazy(ctx, func(c *sql.Conn) error {
		return c.QueryRowContext(ctx, `INSERT INTO appraisals (time, session_id, tee, workload, policy, verdict, shadow_verdict, matched, results)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
			sqliteTime(a.Time), a.SessionID, a.TEE, a.Workload, a.Policy, a.Verdict, a.ShadowVerdict, string(matched), string(a.Results)).Scan(&a.Seq)
	})
	if err != nil {
		return AppraisalRecord{}, fmt.Errorf("store: record appraisal of %s: %w", a.SessionID, err)
	}
	return a, nil
}

// ListAppraisals implements Appraisals.
func (s *SQLite) ListAppraisals(ctx context.Context, q AppraisalQuery) ([]AppraisalRecord, error) {
	if err := checkAppraisalQuery(q); err != nil {
		return nil, err
	}
	results := "results"
	if q.WithoutResults {
		results = "''"
	}
	since := ""
	if !q.Since.IsZero() {
		since = sqliteTime(dbTime(q.Since))
	}
	rows, err := s.r.QueryContext(ctx, `SELECT seq, time, session_id, tee, workload, policy, verdict, shadow_verdict, matched, `+results+`
FROM appraisals WHERE seq > ? AND time >= ? ORDER BY seq`, q.AfterSeq, since)
	if err != nil {
		return nil, fmt.Errorf("store: list appraisals: %w", err)
	}
	defer rows.Close()
	var out []AppraisalRecord
	for rows.Next() && len(out) < q.Limit {
		var (
			a                AppraisalRecord
			t, matched, body string
		)
		if err := rows.Scan(&a.Seq, &t, &a.SessionID, &a.TEE, &a.Workload, &a.Policy, &a.Verdict, &a.ShadowVerdict, &matched, &body); err != nil {
			return nil, fmt.Errorf("store: list appraisals: %w", err)
		}
		if a.Time, err = parseSQLiteTime(t); err != nil {
			return nil, err
		}
		if a.Matched, err = parseMatched([]byte(matched)); err != nil {
			return nil, fmt.Errorf("store: appraisal %d: %w", a.Seq, err)
		}
		if body != "" {
			a.Results = []byte(body)
		}
		if q.keep(a) {
			out = append(out, a)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list appraisals: %w", err)
	}
	return out, nil
}

// PruneAppraisals implements Appraisals.
func (s *SQLite) PruneAppraisals(ctx context.Context, before time.Time) (int64, error) {
	if before.IsZero() {
		return 0, errors.New("store: prune appraisals: no cut-off time")
	}
	res, err := s.w.ExecContext(ctx, "DELETE FROM appraisals WHERE time < ?", sqliteTime(dbTime(before)))
	if err != nil {
		return 0, fmt.Errorf("store: prune appraisals: %w", err)
	}
	return res.RowsAffected()
}
