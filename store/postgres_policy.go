package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PolicyGeneration implements PolicyStore.
func (p *Postgres) PolicyGeneration(ctx context.Context) (int64, error) {
	var g int64
	err := p.queryRow(ctx, func(row pgx.Row) error { return row.Scan(&g) }, "SELECT gen FROM policy_generation WHERE id = 1")
	if err != nil {
		return 0, fmt.Errorf("store: policy generation: %w", err)
	}
	return g, nil
}

// pgLockPolicy takes the generation row's lock: every policy and
// reference value write on every replica holds it until commit, so the
// version read and the insert that follows it cannot interleave with
// another writer's.
func pgLockPolicy(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "SELECT gen FROM policy_generation WHERE id = 1 FOR UPDATE")
	return err
}

func pgBumpGeneration(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "UPDATE policy_generation SET gen = gen + 1 WHERE id = 1")
	return err
}

func pgInsertPolicy(ctx context.Context, tx pgx.Tx, v PolicyVersion) error {
	_, err := tx.Exec(ctx, `INSERT INTO policies (name, version, source, state, author, reason, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, v.Name, v.Version, v.Source, string(v.State), v.Author, v.Reason, v.CreatedAt)
	return err
}

func pgInsertRefValue(ctx context.Context, tx pgx.Tx, r RefValueVersion) error {
	_, err := tx.Exec(ctx, `INSERT INTO refvalues (id, version, state, record, author, reason, created_at)
VALUES ($1, $2, $3, $4::json, $5, $6, $7)`, r.ID, r.Version, r.State, string(r.Record), r.Author, r.Reason, r.CreatedAt)
	return err
}

// PutPolicy implements PolicyStore.
func (p *Postgres) PutPolicy(ctx context.Context, v PolicyVersion, expect int64) (PolicyVersion, error) {
	v, err := preparePolicy(v, p.now())
	if err != nil {
		return PolicyVersion{}, err
	}
	err = p.inTx(ctx, func(tx pgx.Tx) error {
		if err := pgLockPolicy(ctx, tx); err != nil {
			return err
		}
		var cur int64
		if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM policies WHERE name = $1", v.Name).Scan(&cur); err != nil {
			return err
		}
		if err := checkExpect("policy "+v.Name, cur, expect); err != nil {
			return err
		}
		v.Version = cur + 1
		if err := pgInsertPolicy(ctx, tx, v); err != nil {
			return err
		}
		return pgBumpGeneration(ctx, tx)
	})
	if err != nil {
		return PolicyVersion{}, fmt.Errorf("store: put policy %s: %w", v.Name, err)
	}
	return v, nil
}

func (p *Postgres) listPolicies(ctx context.Context, q string, args ...any) ([]PolicyVersion, error) {
	var out []PolicyVersion
	err := p.query(ctx, func(rows pgx.Rows) error {
		var (
			v     PolicyVersion
			state string
		)
		if err := rows.Scan(&v.Name, &v.Version, &v.Source, &state, &v.Author, &v.Reason, &v.CreatedAt); err != nil {
			return err
		}
		v.State, v.CreatedAt = PolicyState(state), v.CreatedAt.UTC()
		out = append(out, v)
		return nil
	}, q, args...)
	return out, err
}

// ListPolicies implements PolicyStore.
func (p *Postgres) ListPolicies(ctx context.Context) ([]PolicyVersion, error) {
	out, err := p.listPolicies(ctx, "SELECT DISTINCT ON (name) "+policyCols+" FROM policies ORDER BY name, version DESC")
	if err != nil {
		return nil, fmt.Errorf("store: list policies: %w", err)
	}
	return out, nil
}

// PolicyHistory implements PolicyStore.
func (p *Postgres) PolicyHistory(ctx context.Context, name string) ([]PolicyVersion, error) {
	out, err := p.listPolicies(ctx, "SELECT "+policyCols+" FROM policies WHERE name = $1 ORDER BY version", name)
	if err != nil {
		return nil, fmt.Errorf("store: policy history %s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: policy %s", ErrNotFound, name)
	}
	return out, nil
}

// PutRefValue implements PolicyStore.
func (p *Postgres) PutRefValue(ctx context.Context, r RefValueVersion, expect int64) (RefValueVersion, error) {
	r, err := prepareRefValue(r, p.now())
	if err != nil {
		return RefValueVersion{}, err
	}
	err = p.inTx(ctx, func(tx pgx.Tx) error {
		if err := pgLockPolicy(ctx, tx); err != nil {
			return err
		}
		var cur int64
		if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM refvalues WHERE id = $1", r.ID).Scan(&cur); err != nil {
			return err
		}
		if err := checkExpect("reference value "+r.ID, cur, expect); err != nil {
			return err
		}
		r.Version = cur + 1
		if err := pgInsertRefValue(ctx, tx, r); err != nil {
			return err
		}
		return pgBumpGeneration(ctx, tx)
	})
	if err != nil {
		return RefValueVersion{}, fmt.Errorf("store: put reference value %s: %w", r.ID, err)
	}
	return r, nil
}

func (p *Postgres) listRefValues(ctx context.Context, q string, args ...any) ([]RefValueVersion, error) {
	var out []RefValueVersion
	err := p.query(ctx, func(rows pgx.Rows) error {
		var (
			r      RefValueVersion
			record []byte
		)
		if err := rows.Scan(&r.ID, &r.Version, &r.State, &record, &r.Author, &r.Reason, &r.CreatedAt); err != nil {
			return err
		}
		r.Record, r.CreatedAt = record, r.CreatedAt.UTC()
		out = append(out, r)
		return nil
	}, q, args...)
	return out, err
}

// ListRefValues implements PolicyStore.
func (p *Postgres) ListRefValues(ctx context.Context) ([]RefValueVersion, error) {
	out, err := p.listRefValues(ctx, "SELECT DISTINCT ON (id) "+refValueCols+" FROM refvalues ORDER BY id, version DESC")
	if err != nil {
		return nil, fmt.Errorf("store: list reference values: %w", err)
	}
	return out, nil
}

// RefValueHistory implements PolicyStore.
func (p *Postgres) RefValueHistory(ctx context.Context, id string) ([]RefValueVersion, error) {
	out, err := p.listRefValues(ctx, "SELECT "+refValueCols+" FROM refvalues WHERE id = $1 ORDER BY version", id)
	if err != nil {
		return nil, fmt.Errorf("store: reference value history %s: %w", id, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: reference value %s", ErrNotFound, id)
	}
	return out, nil
}

// SeedPolicy implements PolicyStore.
func (p *Postgres) SeedPolicy(ctx context.Context, ps []PolicyVersion, rs []RefValueVersion) (bool, error) {
	ps, rs, err := prepareSeed(ps, rs, p.now())
	if err != nil {
		return false, err
	}
	seeded := false
	err = p.inTx(ctx, func(tx pgx.Tx) error {
		if err := pgLockPolicy(ctx, tx); err != nil {
			return err
		}
		var n int64
		if err := tx.QueryRow(ctx, "SELECT (SELECT COUNT(*) FROM policies) + (SELECT COUNT(*) FROM refvalues)").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		for _, v := range ps {
			if err := pgInsertPolicy(ctx, tx, v); err != nil {
				return err
			}
		}
		for _, r := range rs {
			if err := pgInsertRefValue(ctx, tx, r); err != nil {
				return err
			}
		}
		seeded = true
		return pgBumpGeneration(ctx, tx)
	})
	if err != nil {
		return false, fmt.Errorf("store: seed policy: %w", err)
	}
	return seeded, nil
}

// RecordAppraisal implements Appraisals.
func (p *Postgres) RecordAppraisal(ctx context.Context, a AppraisalRecord) (AppraisalRecord, error) {
	a, matched, err := prepareAppraisal(a, p.now())
	if err != nil {
		return AppraisalRecord{}, err
	}
	err = p.queryRow(ctx, func(row pgx.Row) error { return row.Scan(&a.Seq) },
		`INSERT INTO appraisals (time, session_id, tee, workload, policy, verdict, shadow_verdict, matched, results)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::json, $9::json) RETURNING seq`,
		a.Time, a.SessionID, a.TEE, a.Workload, a.Policy, a.Verdict, a.ShadowVerdict, string(matched), string(a.Results))
	if err != nil {
		return AppraisalRecord{}, fmt.Errorf("store: record appraisal of %s: %w", a.SessionID, err)
	}
	return a, nil
}

// ListAppraisals implements Appraisals.
func (p *Postgres) ListAppraisals(ctx context.Context, q AppraisalQuery) ([]AppraisalRecord, error) {
	if err := checkAppraisalQuery(q); err != nil {
		return nil, err
	}
	results := "results"
	if q.WithoutResults {
		results = "NULL::json"
	}
	var since *time.Time
	if !q.Since.IsZero() {
		t := dbTime(q.Since)
		since = &t
	}
	var out []AppraisalRecord
	errEnough := errors.New("enough")
	err := p.query(ctx, func(rows pgx.Rows) error {
		var (
			a             AppraisalRecord
			matched, body []byte
		)
		if err := rows.Scan(&a.Seq, &a.Time, &a.SessionID, &a.TEE, &a.Workload, &a.Policy, &a.Verdict, &a.ShadowVerdict, &matched, &body); err != nil {
			return err
		}
		a.Time = a.Time.UTC()
		m, err := parseMatched(matched)
		if err != nil {
			return fmt.Errorf("appraisal %d: %w", a.Seq, err)
		}
		a.Matched, a.Results = m, jsonOrNil(body)
		if q.keep(a) {
			out = append(out, a)
		}
		if len(out) >= q.Limit {
			return errEnough
		}
		return nil
	}, `SELECT seq, time, session_id, tee, workload, policy, verdict, shadow_verdict, matched, `+results+`
FROM appraisals WHERE seq > $1 AND ($2::timestamptz IS NULL OR time >= $2) ORDER BY seq`, q.AfterSeq, since)
	if err != nil && !errors.Is(err, errEnough) {
		return nil, fmt.Errorf("store: list appraisals: %w", err)
	}
	return out, nil
}

// PruneAppraisals implements Appraisals.
func (p *Postgres) PruneAppraisals(ctx context.Context, before time.Time) (int64, error) {
	if before.IsZero() {
		return 0, errors.New("store: prune appraisals: no cut-off time")
	}
	tag, err := p.exec(ctx, "DELETE FROM appraisals WHERE time < $1", dbTime(before))
	if err != nil {
		return 0, fmt.Errorf("store: prune appraisals: %w", err)
	}
	return tag.RowsAffected(), nil
}
