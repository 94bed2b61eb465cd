package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// opener opens a store; called again, it opens the same database anew.
// The store is closed when the test ends.
type opener func(t *testing.T) (Store, error)

// factory makes a fresh, empty database and returns its opener.
type factory func(t *testing.T) opener

func mustOpen(t *testing.T, open opener) Store {
	t.Helper()
	st, err := open(t)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return st
}

func sqliteFactory(t *testing.T) opener {
	path := filepath.Join(t.TempDir(), "assay.db")
	return func(t *testing.T) (Store, error) {
		st, err := OpenSQLite(t.Context(), path)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { st.Close() })
		return st, nil
	}
}

func TestSQLite(t *testing.T) { testStore(t, sqliteFactory) }

// postgresDSN returns the test server's DSN. Without one the PostgreSQL
// suite is skipped, except in CI, which must run it.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("ASSAY_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("ASSAY_TEST_POSTGRES is empty, and CI must run the PostgreSQL suite (.ci/run starts a server with scripts/pg-test-server.sh)")
		}
		t.Skip(`ASSAY_TEST_POSTGRES is empty; to run the PostgreSQL suite: eval "$(scripts/pg-test-server.sh start)"`)
	}
	return dsn
}

// withParams adds connection parameters to a DSN, URL or key=value form.
func withParams(t testing.TB, dsn string, params map[string]string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("ASSAY_TEST_POSTGRES: %v", err)
		}
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for k, v := range params {
		dsn += fmt.Sprintf(" %s=%s", k, v)
	}
	return dsn
}

// pgSchema creates a schema with a random name, dropped when the test
// ends, so test runs (and packages testing in parallel) never see each
// other's rows.
func pgSchema(t testing.TB, dsn string) string {
	t.Helper()
	var b [8]byte
	rand.Read(b[:])
	schema := "assay_test_" + hex.EncodeToString(b[:])
	admin := func(ctx context.Context, q string) error {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, q)
		return err
	}
	if err := admin(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		// t.Context is done by now.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := admin(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// postgresFactory gives each database a schema of its own (pgSchema).
func postgresFactory(dsn string) factory {
	return func(t *testing.T) opener {
		t.Helper()
		schema := pgSchema(t, dsn)
		// Few connections each: the suite's tests run in parallel.
		storeDSN := withParams(t, dsn, map[string]string{"search_path": schema, "pool_max_conns": "4"})
		return func(t *testing.T) (Store, error) {
			st, err := OpenPostgres(t.Context(), storeDSN)
			if err != nil {
				return nil, err
			}
			t.Cleanup(func() { st.Close() })
			return st, nil
		}
	}
}

func TestPostgres(t *testing.T) { testStore(t, postgresFactory(postgresDSN(t))) }

// testStore is the conformance suite every backend passes. Each test gets
// a database of its own.
func testStore(t *testing.T, newDB factory) {
	tests := []struct {
		name string
		run  func(t *testing.T, open opener)
	}{
		{"session-lifecycle", testSessionLifecycle},
		{"consume-exactly-once", testConsumeExactlyOnce},
		{"consume-expired", testConsumeExpired},
		{"finish-session-rules", testFinishSessionRules},
		{"delete-expired-sessions", testDeleteExpiredSessions},
		{"secrets-versioning", testSecretsVersioning},
		{"secrets-concurrent-put", testSecretsConcurrentPut},
		{"secrets-reseal", testSecretsReseal},
		{"signing-keys", testSigningKeys},
		{"settings", testSettings},
		{"settings-race", testSettingsRace},
		{"audit-concurrent-chain", testAuditConcurrentChain},
		{"audit-tamper", testAuditTamper},
		{"audit-input", testAuditInput},
		{"two-replicas", testTwoReplicas},
		{"reopen", testReopen},
		{"schema-newer", testSchemaNewer},
		{"policy-versions", testPolicyVersions},
		{"refvalue-versions", testRefValueVersions},
		{"refvalue-concurrent-put", testRefValueConcurrentPut},
		{"seed-policy", testSeedPolicy},
		{"appraisal-history", testAppraisalHistory},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newDB(t))
		})
	}
}

// t0 is the tests' "now"; its microseconds survive both backends.
var t0 = time.Date(2026, 5, 20, 9, 14, 3, 123456000, time.UTC)

func rawExec(t *testing.T, st Store, q string) {
	t.Helper()
	var err error
	switch s := st.(type) {
	case *SQLite:
		_, err = s.w.ExecContext(t.Context(), q)
	case *Postgres:
		_, err = s.exec(t.Context(), q)
	default:
		t.Fatalf("no raw SQL for %T", st)
	}
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func rawInt(t *testing.T, st Store, q string) int64 {
	t.Helper()
	var (
		n   int64
		err error
	)
	switch s := st.(type) {
	case *SQLite:
		err = s.r.QueryRowContext(t.Context(), q).Scan(&n)
	case *Postgres:
		err = s.queryRow(t.Context(), func(row pgx.Row) error { return row.Scan(&n) }, q)
	default:
		t.Fatalf("no raw SQL for %T", st)
	}
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func newSession(id string, expires time.Time) Session {
	return Session{
		ID: id, Nonce: "nonce-" + id, TEE: "snp", ProtocolVersion: "0.4.0", HashAlg: "sha384",
		State: SessionPending, CreatedAt: t0, ExpiresAt: expires,
	}
}

func testSessionLifecycle(t *testing.T, open opener) {
	ctx := t.Context()
	st := mustOpen(t, open)
	s := newSession("s1", t0.Add(5*time.Minute))
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "create twice", st.CreateSession(ctx, s), ErrConflict)
	got, err := st.GetSession(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("GetSession:\n got %+v\nwant %+v", got, s)
	}
	_, err = st.GetSession(ctx, "absent")
	wantErr(t, "get absent", err, ErrNotFound)
	_, err = st.ConsumeSession(ctx, "absent", t0)
	wantErr(t, "consume absent", err, ErrNotFound)

	consumed, err := st.ConsumeSession(ctx, "s1", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := s
	want.State = SessionConsumed
	if !reflect.DeepEqual(consumed, want) {
		t.Fatalf("ConsumeSession:\n got %+v\nwant %+v", consumed, want)
	}
	_, err = st.ConsumeSession(ctx, "s1", t0.Add(time.Minute))
	wantErr(t, "consume twice", err, ErrConflict)

	key := json.RawMessage(`{"kty":"EC","crv":"P-256","x":"AA","y":"BB"}`)
	result := json.RawMessage(`{"tee": "snp",  "status":"affirming"}`)
	end := t0.Add(time.Hour)
	if err := st.FinishSession(ctx, "s1", SessionAttested, "token", key, result, end); err != nil {
		t.Fatal(err)
	}
	got, err = st.GetSession(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	want.State, want.Token, want.TEEPubKey, want.Result, want.ExpiresAt = SessionAttested, "token", key, result, end
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after FinishSession:\n got %+v\nwant %+v", got, want)
	}
}

func testConsumeExactlyOnce(t *testing.T, open opener) {
	ctx := t.Context()
	st := mustOpen(t, open)
	if err := st.CreateSession(ctx, newSession("race", t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	const callers = 32
	var (
		wins, conflicts atomic.Int32
		start           = make(chan struct{})
		wg              sync.WaitGroup
	)
	for range callers {
		wg.Go(func() {
			<-start
			_, err := st.ConsumeSession(ctx, "race", t0)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, ErrConflict):
				conflicts.Add(1)
			default:
				t.Errorf("ConsumeSession: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != callers-1 {
		t.Fatalf("%d callers: %d succeeded, %d got ErrConflict; want 1 and %d", callers, wins.Load(), conflicts.Load(), callers-1)
	}
}

func testConsumeExpired(t *testing.T, open opener) {
	ctx := t.Context()
	st := mustOpen(t, open)
	tests := []struct {
		name    string
		expires time.Time
		wantErr error
	}{
		{"expired", t0.Add(-time.Second), ErrConflict},
		{"expires-now", t0, ErrConflict},
		{"one-microsecond-left", t0.Add(time.Microsecond), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := st.CreateSession(ctx, newSession(tt.name, tt.expires)); err != nil {
				t.Fatal(err)
			}
			_, err := st.ConsumeSession(ctx, tt.name, t0)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ConsumeSession: %v", err)
				}
				return
			}
			wantErr(t, "ConsumeSession", err, tt.wantErr)
			got, err := st.GetSession(ctx, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != SessionPending {
				t.Fatalf("state after refused consume is %s, want pending", got.State)
			}
		})
	}
}

func testFinishSessionRules(t *testing.T, open opener) {
	ctx := t.Context()
	st := mustOpen(t, open)
	// Each case gets a session brought to state from.
	tests := []struct {
		name    string
		from    SessionState // "" = absent
		to      SessionState
		wantErr error // errAny: any error that is neither sentinel
	}{
		{"pending-to-attested", SessionPending, SessionAttested, ErrConflict},
		{"pending-to-failed", SessionPending, SessionFailed, ErrConflict},
		{"consumed-to-attested", SessionConsumed, SessionAttested, nil},
		{"consumed-to-failed", SessionConsumed, SessionFailed, nil},
		{"attested-to-failed", SessionAttested, SessionFailed, ErrConflict},
		{"attested-to-attested", SessionAttested, SessionAttested, ErrConflict},
		{"failed-to-attested", SessionFailed, SessionAttested, ErrConflict},
		{"absent", "", SessionAttested, ErrNotFound},
		{"consumed-to-pending", SessionConsumed, SessionPending, errAny},
		{"consumed-to-consumed", SessionConsumed, SessionConsumed, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.name
			expires := t0.Add(time.Minute)
			if tt.from != "" {
				if err := st.CreateSession(ctx, newSession(id, expires)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.from != SessionPending && tt.from != "" {
				if _, err := st.ConsumeSession(ctx, id, t0); err != nil {
					t.Fatal(err)
				}
			}
			if tt.from == SessionAttested || tt.from == SessionFailed {
				if err := st.FinishSession(ctx, id, tt.from, "", nil, nil, time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
			err := st.FinishSession(ctx, id, tt.to, "tok", nil, json.RawMessage(`{}`), time.Time{})
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("FinishSession: %v", err)
			case tt.wantErr == errAny:
				if err == nil || errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
					t.Fatalf("FinishSession to %s: error %v, want a refusal of the state", tt.to, err)
				}
			case tt.wantErr != nil:
				wantErr(t, "FinishSession", err, tt.wantErr)
			}
			if tt.from == "" {
				return
			}
			got, err := st.GetSession(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			wantState := tt.from
			if tt.wantErr == nil {
				wantState = tt.to
			}
			if got.State != wantState {
				t.Fatalf("state is %s, want %s", got.State, wantState)
			}
			if !got.ExpiresAt.Equal(expires) {
				t.Fatalf("a zero expiresAt changed the expiry to %v", got.ExpiresAt)
			}
		})
	}
}

// errAny stands for "some error, not a sentinel" in table tests.
var errAny = errors.New("any error")

func testDeleteExpiredSessions(t *testing.T, open opener) {
	ctx := t.Context()
	st := mustOpen(t, open)
	for i, d := range []time.Duration{-time.Hour, -time.Second, 0, time.Second, time.Hour} {
		if err := st.CreateSession(ctx, newSession(fmt.Sprint("s", i), t0.Add(d))); err != nil {
			t.Fatal(err)
		}
	}
	n, err := st.DeleteExpiredSessions(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("deleted %d sessions, want 2", n)
	}
	for i, wantErr := range []error{ErrNotFound, ErrNotFound, nil, nil, nil} {
		if _, err := st.GetSession(ctx, fmt.Sprint("s", i)); !errors.Is(err, wantErr) {
			t.Fatalf("session s%d: error %v, want %v", i, err, wantErr)
		}
	}
}

func newSecret(path, kek string, sealed string) Secret {
	return Secret{
		Path: path, Sealed: []byte(sealed), KEKID: kek,
		Policy:      json.RawMessage(`{"allow": [ "snp" ]}`),
		ContentType: "application/octet-stream", CreatedAt: t0, CreatedBy: "admin:t1",
	}
}

func testSecretsVersioning(t *testing.T, open opener) {
	ctx := t.Context()
	st := mustOpen(t, open)
	_, err := st.GetSecret(ctx, "repo/key/a")
	wantErr(t, "get absent", err, ErrNotFound)

	var stored []Secret
	for i, s := range []Secret{
		newSecret("repo/key/a", "kek-1", "a1"),
		newSecret("repo/key/a", "kek-1", "a2"),
		newSecret("repo/key/b", "kek-1", "b1"),
	} {
		got, err := st.PutSecret(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		s.Version = []int64{1, 2, 1}[i]
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("PutSecret returned\n %+v\nwant %+v", got, s)
		}
		stored = append(stored, got)
	}
	got, err := st.GetSecret(ctx, "repo/key/a")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, stored[1]) {
		t.Fatalf("GetSecret:\n got %+v\nwant %+v", got, stored[1])
	}

	listed, err := st.ListSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantList := []Secret{stored[1], stored[2]}
	for i := range wantList {
		wantList[i].Sealed = nil
	}
	if !reflect.DeepEqual(listed, wantList) {
		t.Fatalf("ListSecrets:\n got %+v\nwant %+v", listed, wantList)
	}

	if err := st.DeleteSecret(ctx, "repo/key/a"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "delete twice", st.DeleteSecret(ctx, "repo/key/a"), ErrNotFound)
	wantErr(t, "delete absent", st.DeleteSecret(ctx, "repo/key/none"), ErrNotFound)
	_, err = st.GetSecret(ctx, "repo/key/a")
	wantErr(t, "get deleted", err, ErrNotFound)
	listed, err = st.ListSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].Path != "repo/key/b" {
		t.Fatalf("ListSecrets after delete: %+v, want only repo/key/b", listed)
	}

	// A path comes back with the next version, not version 1.
	again, err := st.PutSecret(ctx, newSecret("repo/key/a", "kek-1", "a3"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Version != 3 {
		t.Fatalf("put after delete: version %d, want 3", again.Version)
	}
	got, err = st.GetSecret(ctx, "repo/key/a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 3 || string(got.Sealed) != "a3" {
		t.Fatalf("GetSecret after re-put: version %d sealed %q, want 3 a3", got.Version, got.Sealed)
	}

	// Invalid input is refused, on every backend alike.
	for name, s := range map[string]Secret{
		"bad-policy": {Path: "p", Sealed: []byte("x"), KEKID: "k", Policy: json.RawMessage(`{`)},
		"no-sealed":  {Path: "p", KEKID: "k"},
		"no-path":    {Sealed: []byte("x"), KEKID: "k"},
	} {
		if _, err := st.PutSecret(ctx, s); err == nil {
			t.Errorf("PutSecret %s: no error", name)
		}
	}
}

func testSecretsConcurrentPut(t *testing.T, open opener) {
	ctx := t.Context()
	st := mustOpen(t, open)
	const writers = 16
	var (
		mu       sync.Mutex
		versions = map[int64]bool{}
		start    = make(chan struct{})
		wg       sync.WaitGroup
	)
	for i := range writers {
		wg.Go(func() {
			<-start
			s, err := st.PutSecret(ctx, newSecret("repo/key/hot", "kek-1", fmt.Sprint("v", i)))
			if err != nil {
				t.Errorf("PutSecret: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if versions[s.Version] {
				t.Errorf("version %d assigned twice", s.Version)
			}
			versions[s.Version] = true
		})
	}
	close(start)
	wg.Wait()
	for v := int64(1); v <= writers; v++ {
		if !versions[v] {
			t.Fatalf("versions %v: %d missing", versions, v)
		}
	}
}

func testSecretsReseal(t *testing.T, open opener) {
	ctx := t.Context()
	st := mustOpen(t, open)
	for _, s := range []Secret{
		newSecret("a", "kek-1", "a1"),
		newSecret("a", "kek-1", "a2"),
		newSecret("b", "kek-2", "b1"),
		newSecret("c", "kek-1", "c1"),
	} {
		if _, err := st.PutSecret(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteSecret(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	sealedWith := func(kek string) []string {
		t.Helper()
		secs, err := st.ListSealedWith(ctx, kek)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range secs {
			out = append(out, fmt.Sprintf("%s/%d:%s", s.Path, s.Version, s.Sealed))
		}
		return out
	}
	// Deleted versions are re-wrapped too.
	if got, want := sealedWith("kek-1"), []string{"a/1:a1", "a/2:a2", "c/1:c1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ListSealedWith(kek-1) = %v, want %v", got, want)
	}
	if err := st.Reseal(ctx, "a", 1, "kek-1", "kek-3", []byte("a1'")); err != nil {
		t.Fatal(err)
	}
	// Another replica got there first, or the KEK is wrong, or no such row.
	wantErr(t, "reseal again", st.Reseal(ctx, "a", 1, "kek-1", "kek-3", []byte("a1''")), ErrConflict)
	wantErr(t, "reseal wrong KEK", st.Reseal(ctx, "b", 1, "kek-1", "kek-3", []byte("b1'")), ErrConflict)
	wantErr(t, "reseal absent", st.Reseal(ctx, "a", 9, "kek-1", "kek-3", []byte("x")), ErrConflict)
	if got, want := sealedWith("kek-1"), []string{"a/2:a2", "c/1:c1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ListSealedWith(kek-1) after reseal = %v, want %v", got, want)
	}
	if got, want := sealedWith("kek-3"), []string{"a/1:a1'"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ListSealedWith(kek-3) = %v, want %v", got, want)
	}
	got, err := st.GetSecret(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || string(got.Sealed) != "a2" || got.KEKID != "kek-1" {
		t.Fatalf("newest version of a: %+v", got)
	}
}

func testSigningKeys(t *testing.T, open opener) {
	ctx := t.Context()
	st := mustOpen(t, open)
	keys := []SigningKey{
		{KID: "k2", Alg: "ES256", Sealed: []byte("sealed-2"), KEKID: "kek-1", Public: json.RawMessage(`{"kid":"k2"}`), CreatedAt: t0.Add(time.Hour)},
		{KID: "k1", Alg: "ES256", Sealed: []byte("sealed-1"), KEKID: "kek-1", Public: json.RawMessage(`{"kid":"k1"}`), CreatedAt: t0},
	}
	for _, k := range keys {
		if err := st.PutSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "put twice", st.PutSigningKey(ctx, keys[0]), ErrConflict)
	list := func() []SigningKey {
		t.Helper()
		got, err := st.ListSigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got, want := list(), []SigningKey{keys[1], keys[0]}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ListSigningKeys (oldest first):\n got %+v\nwant %+v", got, want)
	}

	retired := t0.Add(2 * time.Hour)
	if err := st.RetireSigningKey(ctx, "k1", retired); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "retire twice", st.RetireSigningKey(ctx, "k1", retired), ErrConflict)
	wantErr(t, "retire absent", st.RetireSigningKey(ctx, "k9", retired), ErrNotFound)

	if err := st.ResealSigningKey(ctx, "k1", "kek-1", "kek-2", []byte("sealed-1'")); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "reseal again", st.ResealSigningKey(ctx, "k1", "kek-1", "kek-2", []byte("x")), ErrConflict)
	wantErr(t, "reseal absent", st.ResealSigningKey(ctx, "k9", "kek-1", "kek-2", []byte("x")), ErrConflict)

	want := []SigningKey{keys[1], keys[0]}
	want[0].RetiredAt, want[0].Sealed, want[0].KEKID = retired, []byte("sealed-1'"), "kek-2"
	if got := list(); !reflect.DeepEqual(got, want) {
		t.Fatalf("ListSigningKeys after retire and reseal:\n got %+v\nwant %+v", got, want)
	}
}

func testSettings(t *testing.T, open opener) {
	ctx := t.Context()
	st := mustOpen(t, open)
	_, err := st.GetSetting(ctx, "admin_token_hash")
	wantErr(t, "get absent", err, ErrNotFound)
	for _, step := range []struct {
		op      string
		value   string
		wantPut bool
		want    string
	}{
		{"if-absent", "h1", true, "h1"},
		{"if-absent", "h2", false, "h1"},
		{"put", "h3", true, "h3"},
		{"put", "", true, ""},
	} {
		var stored bool
		switch step.op {
		case "if-absent":
			stored, err = st.PutSettingIfAbsent(ctx, "admin_token_hash", []byte(step.value))
		case "put":
			stored, err = true, st.PutSetting(ctx, "admin_token_hash", []byte(step.value))
		}
		if err != nil {
			t.Fatalf("%s %q: %v", step.op, step.value, err)
		}
		if stored != step.wantPut {
			t.Fatalf("%s %q stored = %v, want %v", step.op, step.value, stored, step.wantPut)
		}
		got, err := st.GetSetting(ctx, "admin_token_hash")
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != step.want {
			t.Fatalf("after %s %q: value %q, want %q", step.op, step.value, got, step.want)
		}
	}
}

func testSettingsRace(t *testing.T, open opener) {
	ctx := t.Context()
	st := mustOpen(t, open)
	const callers = 32
	var (
		mu     sync.Mutex
		winner []string
		start  = make(chan struct{})
		wg     sync.WaitGroup
	)
	for i := range callers {
		wg.Go(func() {
			<-start
			v := fmt.Sprint("value-", i)
			ok, err := st.PutSettingIfAbsent(ctx, "created_at", []byte(v))
			if err != nil {
				t.Errorf("PutSettingIfAbsent: %v", err)
				return
			}
			if ok {
				mu.Lock()
				winner = append(winner, v)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(winner) != 1 {
		t.Fatalf("%d callers stored a value: %v; want exactly one", len(winner), winner)
	}
	got, err := st.GetSetting(ctx, "created_at")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != winner[0] {
		t.Fatalf("stored %q, but %q was told it won", got, winner[0])
	}
}

// listAll reads the whole audit log in pages of n.
func listAll(t *testing.T, st Store, n int) []AuditRecord {
	t.Helper()
	var all []AuditRecord
	after := int64(0)
	for {
		page, err := st.ListAudit(t.Context(), after, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > n {
			t.Fatalf("ListAudit returned %d records, limit %d", len(page), n)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
}

func testAuditConcurrentChain(t *testing.T, open opener) {
	ctx := t.Context()
	st := mustOpen(t, open)
	const appenders, each = 16, 8
	var (
		mu       sync.Mutex
		appended = map[int64]AuditRecord{}
		start    = make(chan struct{})
		wg       sync.WaitGroup
	)
	for a := range appenders {
		wg.Go(func() {
			<-start
			for i := range each {
				r, err := st.AppendAudit(ctx, AuditRecord{
					Time: t0.Add(time.Duration(i) * time.Second), Actor: fmt.Sprint("admin:", a), Action: "secret.put",
					Subject: fmt.Sprintf("repo/key/%d-%d", a, i), Verdict: "ok",
					Detail: json.RawMessage(fmt.Sprintf(`{ "appender": %d,  "i": %d }`, a, i)),
				})
				if err != nil {
					t.Errorf("AppendAudit: %v", err)
					return
				}
				mu.Lock()
				appended[r.Seq] = r
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	all := listAll(t, st, 50)
	if len(all) != appenders*each {
		t.Fatalf("%d records, want %d", len(all), appenders*each)
	}
	if err := VerifyAuditChain(all, nil); err != nil {
		t.Fatalf("VerifyAuditChain: %v", err)
	}
	// Page by page, each page linked to the one before by its last hash.
	for i := 0; i < len(all); i += 50 {
		var prev []byte
		if i > 0 {
			prev = all[i-1].Hash
		}
		if err := VerifyAuditChain(all[i:min(i+50, len(all))], prev); err != nil {
			t.Fatalf("page from record %d: %v", i+1, err)
		}
	}
	for _, r := range all {
		if !reflect.DeepEqual(r, appended[r.Seq]) {
			t.Fatalf("record %d as stored:\n %+v\nas AppendAudit returned it:\n %+v", r.Seq, r, appended[r.Seq])
		}
	}
	if d := string(all[0].Detail); strings.Contains(d, " ") {
		t.Fatalf("detail %s was not compacted", d)
	}
}

func testAuditTamper(t *testing.T, open opener) {
	ctx := t.Context()
	st := mustOpen(t, open)
	const n = 12
	for i := range n {
		if _, err := st.AppendAudit(ctx, AuditRecord{
			Time: t0.Add(time.Duration(i) * time.Second), Actor: "system", Action: "appraisal",
			Subject: fmt.Sprint("session-", i), Verdict: "affirming", Detail: json.RawMessage(`{"n":1}`),
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := VerifyAuditChain(listAll(t, st, 100), nil); err != nil {
		t.Fatalf("untouched log: %v", err)
	}
	// Applied in order, each to a log the previous ones already broke at
	// a later record, so each must be found first.
	tests := []struct {
		name    string
		sql     string
		wantSeq int64
	}{
		{"delete-last-but-one", "DELETE FROM audit WHERE seq = 11", 12},
		{"verdict", "UPDATE audit SET verdict = 'released' WHERE seq = 9", 9},
		{"detail", `UPDATE audit SET detail = '{"n":2}' WHERE seq = 7`, 7},
		{"actor", "UPDATE audit SET actor = 'mallory' WHERE seq = 5", 5},
		{"prev-hash", "UPDATE audit SET prev_hash = hash WHERE seq = 3", 3},
		{"hash", "UPDATE audit SET hash = prev_hash WHERE seq = 1", 1},
	}
	for _, tt := range tests {
		rawExec(t, st, tt.sql)
		err := VerifyAuditChain(listAll(t, st, 100), nil)
		var ce *ChainError
		if !errors.As(err, &ce) {
			t.Fatalf("%s: VerifyAuditChain error %v, want a *ChainError", tt.name, err)
		}
		if ce.Seq != tt.wantSeq {
			t.Fatalf("%s: %v; want record %d named", tt.name, err, tt.wantSeq)
		}
	}
}

func testAuditInput(t *testing.T, open opener) {
	ctx := t.Context()
	st := mustOpen(t, open)
	if _, err := st.AppendAudit(ctx, AuditRecord{Action: "x", Detail: json.RawMessage(`{"a":`)}); err == nil {
		t.Fatal("AppendAudit with invalid detail JSON: no error")
	}
	// Empty detail, zero time, and a time with nanoseconds and a zone.
	r, err := st.AppendAudit(ctx, AuditRecord{Action: "key.rotate", Actor: "system", Verdict: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Time.IsZero() || r.Seq != 1 || !bytes.Equal(r.PrevHash, make([]byte, 32)) {
		t.Fatalf("first record: %+v", r)
	}
	zone := time.FixedZone("UTC+2", 2*3600)
	r2, err := st.AppendAudit(ctx, AuditRecord{Time: time.Date(2026, 5, 20, 11, 0, 0, 123456789, zone), Action: "release", Verdict: "released"})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 5, 20, 9, 0, 0, 123456000, time.UTC); !r2.Time.Equal(want) {
		t.Fatalf("stored time %v, want %v", r2.Time, want)
	}
	all := listAll(t, st, 10)
	if err := VerifyAuditChain(all, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(all, []AuditRecord{r, r2}) {
		t.Fatalf("ListAudit:\n got %+v\nwant %+v", all, []AuditRecord{r, r2})
	}
	if got, err := st.ListAudit(ctx, 1, 10); err != nil || len(got) != 1 || got[0].Seq != 2 {
		t.Fatalf("ListAudit after 1: %+v, %v", got, err)
	}
	if _, err := st.ListAudit(ctx, 0, 0); err == nil {
		t.Fatal("ListAudit with limit 0: no error")
	}
}

// testTwoReplicas opens the database twice, as two replicas (or two
// processes) would, and races them.
func testTwoReplicas(t *testing.T, open opener) {
	ctx := t.Context()
	replicas := []Store{mustOpen(t, open), mustOpen(t, open)}
	const sessions = 8
	for i := range sessions {
		if err := replicas[0].CreateSession(ctx, newSession(fmt.Sprint("s", i), t0.Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wins  [sessions]atomic.Int32
		start = make(chan struct{})
		wg    sync.WaitGroup
	)
	for w := range 8 {
		st := replicas[w%2]
		wg.Go(func() {
			<-start
			for i := range sessions {
				_, err := st.ConsumeSession(ctx, fmt.Sprint("s", i), t0)
				if err == nil {
					wins[i].Add(1)
				} else if !errors.Is(err, ErrConflict) {
					t.Errorf("ConsumeSession: %v", err)
				}
				if _, err := st.AppendAudit(ctx, AuditRecord{Time: t0, Actor: fmt.Sprint("worker:", w), Action: "appraisal", Subject: fmt.Sprint("s", i)}); err != nil {
					t.Errorf("AppendAudit: %v", err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range wins {
		if n := wins[i].Load(); n != 1 {
			t.Errorf("session s%d consumed %d times", i, n)
		}
	}
	all := listAll(t, replicas[1], 1000)
	if len(all) != 8*sessions {
		t.Fatalf("%d audit records, want %d", len(all), 8*sessions)
	}
	if err := VerifyAuditChain(all, nil); err != nil {
		t.Fatal(err)
	}
}

func testReopen(t *testing.T, open opener) {
	ctx := t.Context()
	st := mustOpen(t, open)
	if _, err := st.PutSecret(ctx, newSecret("repo/key/a", "kek-1", "a1")); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSetting(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendAudit(ctx, AuditRecord{Time: t0, Action: "secret.put", Subject: "repo/key/a", Verdict: "ok"}); err != nil {
		t.Fatal(err)
	}
	migrations := rawInt(t, st, "SELECT COUNT(*) FROM schema_migrations")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		st := mustOpen(t, open)
		if got := rawInt(t, st, "SELECT COUNT(*) FROM schema_migrations"); got != migrations {
			t.Fatalf("reopen: %d schema migrations recorded, want %d", got, migrations)
		}
		s, err := st.GetSecret(ctx, "repo/key/a")
		if err != nil || string(s.Sealed) != "a1" {
			t.Fatalf("secret after reopen: %+v, %v", s, err)
		}
		if v, err := st.GetSetting(ctx, "k"); err != nil || string(v) != "v" {
			t.Fatalf("setting after reopen: %q, %v", v, err)
		}
		// The chain continues where it was.
		r, err := st.AppendAudit(ctx, AuditRecord{Time: t0, Action: "secret.get", Verdict: "ok"})
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyAuditChain(listAll(t, st, 10), nil); err != nil || r.Seq < 2 {
			t.Fatalf("audit after reopen: seq %d, %v", r.Seq, err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func testSchemaNewer(t *testing.T, open opener) {
	st := mustOpen(t, open)
	rawExec(t, st, "INSERT INTO schema_migrations (version) VALUES (9999)")
	st.Close()
	_, err := open(t)
	wantErr(t, "open a newer schema", err, errSchemaNewer)
}

func TestParseDatabase(t *testing.T) {
	tests := []struct {
		in         string
		wantKind   string
		wantTarget string
		wantErr    bool
	}{
		{in: "postgres://u:pw@db:5432/assay?sslmode=verify-full", wantKind: "postgres", wantTarget: "postgres://u:pw@db:5432/assay?sslmode=verify-full"},
		{in: "postgresql://db/assay", wantKind: "postgres", wantTarget: "postgresql://db/assay"},
		{in: "sqlite:assay-data/assay.db", wantKind: "sqlite", wantTarget: "assay-data/assay.db"},
		{in: "sqlite:/var/lib/assay/assay.db", wantKind: "sqlite", wantTarget: "/var/lib/assay/assay.db"},
		{in: "sqlite:///var/lib/assay/assay.db", wantKind: "sqlite", wantTarget: "/var/lib/assay/assay.db"},
		{in: "assay-data/assay.db", wantKind: "sqlite", wantTarget: "assay-data/assay.db"},
		{in: "/var/lib/assay/assay.db", wantKind: "sqlite", wantTarget: "/var/lib/assay/assay.db"},
		{in: "./odd:name.db", wantKind: "sqlite", wantTarget: "./odd:name.db"},
		{in: "", wantErr: true},
		{in: "  ", wantErr: true},
		{in: "sqlite:", wantErr: true},
		{in: "sqlite://host/x.db", wantErr: true},
		{in: "mysql://u:secret@db/assay", wantErr: true},
		{in: "Postgres+x://db", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			kind, target, err := parseDatabase(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseDatabase(%q) = %s %q, want an error", tt.in, kind, target)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error repeats the password: %v", err)
				}
				return
			}
			if err != nil || kind != tt.wantKind || target != tt.wantTarget {
				t.Fatalf("parseDatabase(%q) = %s %q %v, want %s %q", tt.in, kind, target, err, tt.wantKind, tt.wantTarget)
			}
		})
	}
}

func TestOpenSQLite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "assay.db")
	st, err := Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(*SQLite)
	if err := s.PutSetting(t.Context(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(name), perm)
		}
	}
	pragma := func(q string, onWriter bool) string {
		t.Helper()
		db := s.r
		if onWriter {
			db = s.w
		}
		var v string
		if err := db.QueryRowContext(t.Context(), "PRAGMA "+q).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		pragma   string
		onWriter bool
		want     string
	}{
		{"journal_mode", true, "wal"},
		{"synchronous", true, "2"}, // FULL
		{"foreign_keys", true, "1"},
		{"busy_timeout", true, fmt.Sprint(sqliteBusyTimeout)},
		{"query_only", true, "0"},
		{"query_only", false, "1"},
		{"foreign_keys", false, "1"},
	} {
		if got := pragma(c.pragma, c.onWriter); got != c.want {
			t.Errorf("PRAGMA %s (writer %v) = %s, want %s", c.pragma, c.onWriter, got, c.want)
		}
	}

	_, err = OpenSQLite(t.Context(), filepath.Join(dir, "missing", "assay.db"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("open in a missing directory: error %v, want fs.ErrNotExist", err)
	}
	if _, err := OpenSQLite(t.Context(), filepath.Join(dir, "a?b.db")); err == nil {
		t.Error("open a path with ?: no error")
	}
}

// killChildEnv names the database a re-executed test binary writes to
// before waiting to be killed (TestSQLiteSurvivesKill).
const killChildEnv = "ASSAY_STORE_TEST_KILL_CHILD_DB"

func TestMain(m *testing.M) {
	if path := os.Getenv(killChildEnv); path != "" {
		os.Exit(killChild(path))
	}
	os.Exit(m.Run())
}

func killChild(path string) int {
	ctx := context.Background()
	st, err := OpenSQLite(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := range 3 {
		if _, err := st.PutSecret(ctx, newSecret("repo/key/k", "kek-1", fmt.Sprint("s", i))); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if _, err := st.AppendAudit(ctx, AuditRecord{Time: t0, Action: "secret.put", Verdict: "ok"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("stored")
	io.Copy(io.Discard, os.Stdin) // until killed; the parent never closes it
	return 0
}

// TestSQLiteSurvivesKill writes from a child process, kills it with
// SIGKILL once the writes have returned (no Close, no checkpoint), and
// reads the writes back.
func TestSQLiteSurvivesKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "assay.db")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "stored\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q, %v", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("child exited cleanly; want killed")
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("no write-ahead log left by the killed child (%v); the test proves nothing", err)
	}

	st, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := st.GetSecret(t.Context(), "repo/key/k")
	if err != nil || s.Version != 3 || string(s.Sealed) != "s2" {
		t.Fatalf("after kill: %+v, %v; want version 3", s, err)
	}
	recs, err := st.ListAudit(t.Context(), 0, 10)
	if err != nil || len(recs) != 1 {
		t.Fatalf("audit after kill: %d records, %v", len(recs), err)
	}
}

func TestAuditHashEncoding(t *testing.T) {
	r := AuditRecord{
		Seq: 17, Time: time.Date(2026, 5, 20, 11, 14, 3, 520000000, time.FixedZone("", 2*3600)),
		Actor: "admin:t1", Action: "release", Subject: "repo/key/a", Verdict: "released",
		Detail:   json.RawMessage("{\n  \"policy\": \"v3\", \"a\" : [1, 2]\n}"),
		PrevHash: bytes.Repeat([]byte{0xab}, 32),
		Hash:     []byte("ignored"),
	}
	// The documented encoding, written out independently.
	var in []byte
	for _, f := range []string{
		"assay audit record v1",
		string(r.PrevHash),
		"\x00\x00\x00\x00\x00\x00\x00\x11",
		"2026-05-20T09:14:03.52Z",
		"admin:t1", "release", "repo/key/a", "released",
		`{"policy":"v3","a":[1,2]}`,
	} {
		in = binary.BigEndian.AppendUint64(in, uint64(len(f)))
		in = append(in, f...)
	}
	want := sha256.Sum256(in)
	if got := AuditHash(r); !bytes.Equal(got, want[:]) {
		t.Fatalf("AuditHash = %x, want %x", got, want)
	}
}

func TestAuditHashCoversEveryField(t *testing.T) {
	base := AuditRecord{
		Seq: 2, Time: t0, Actor: "ab", Action: "c", Subject: "s", Verdict: "ok",
		Detail: json.RawMessage(`{"k":"v"}`), PrevHash: bytes.Repeat([]byte{1}, 32),
	}
	same := []struct {
		name   string
		change func(*AuditRecord)
	}{
		{"hash-field", func(r *AuditRecord) { r.Hash = []byte("x") }},
		{"time-zone", func(r *AuditRecord) { r.Time = r.Time.In(time.FixedZone("", -5*3600)) }},
		{"detail-white-space", func(r *AuditRecord) { r.Detail = json.RawMessage("{ \"k\" :\t\"v\" }") }},
	}
	different := []struct {
		name   string
		change func(*AuditRecord)
	}{
		{"seq", func(r *AuditRecord) { r.Seq++ }},
		{"time", func(r *AuditRecord) { r.Time = r.Time.Add(time.Nanosecond) }},
		{"actor", func(r *AuditRecord) { r.Actor = "ax" }},
		{"action", func(r *AuditRecord) { r.Action = "d" }},
		{"subject", func(r *AuditRecord) { r.Subject = "t" }},
		{"verdict", func(r *AuditRecord) { r.Verdict = "denied" }},
		{"detail", func(r *AuditRecord) { r.Detail = json.RawMessage(`{"k":"w"}`) }},
		{"detail-empty", func(r *AuditRecord) { r.Detail = nil }},
		{"prev-hash", func(r *AuditRecord) { r.PrevHash = bytes.Repeat([]byte{2}, 32) }},
		// Moving a byte across a field boundary changes the hash.
		{"boundary", func(r *AuditRecord) { r.Actor, r.Action = "a", "bc" }},
	}
	h := AuditHash(base)
	for _, tt := range same {
		r := base
		tt.change(&r)
		if !bytes.Equal(AuditHash(r), h) {
			t.Errorf("%s changed the hash", tt.name)
		}
	}
	for _, tt := range different {
		r := base
		tt.change(&r)
		if bytes.Equal(AuditHash(r), h) {
			t.Errorf("%s did not change the hash", tt.name)
		}
	}
}

// chain builds n linked records starting after (seq, prev).
func chain(n int, seq int64, prev []byte) []AuditRecord {
	var out []AuditRecord
	for i := range n {
		r := sealAudit(AuditRecord{Time: t0.Add(time.Duration(i) * time.Second), Actor: "system", Action: "appraisal", Verdict: "affirming"}, seq, prev)
		out = append(out, r)
		seq, prev = r.Seq, r.Hash
	}
	return out
}

func TestVerifyAuditChain(t *testing.T) {
	tests := []struct {
		name    string
		records func() []AuditRecord
		prev    func(all []AuditRecord) []byte
		wantSeq int64 // 0: verifies
	}{
		{name: "empty", records: func() []AuditRecord { return nil }},
		{name: "whole", records: func() []AuditRecord { return chain(5, 0, genesisHash()) }},
		{
			name:    "page-with-prev-hash",
			records: func() []AuditRecord { return chain(5, 0, genesisHash())[2:] },
			prev:    func([]AuditRecord) []byte { return chain(5, 0, genesisHash())[1].Hash },
		},
		{
			name:    "page-without-prev-hash",
			records: func() []AuditRecord { return chain(5, 0, genesisHash())[2:] },
			wantSeq: 3,
		},
		{
			name:    "page-with-wrong-prev-hash",
			records: func() []AuditRecord { return chain(5, 0, genesisHash())[2:] },
			prev:    func([]AuditRecord) []byte { return genesisHash() },
			wantSeq: 3,
		},
		{
			name:    "first-prev-hash-not-zero",
			records: func() []AuditRecord { return chain(3, 0, bytes.Repeat([]byte{1}, 32)) },
			wantSeq: 1,
		},
		{
			name: "removed",
			records: func() []AuditRecord {
				c := chain(5, 0, genesisHash())
				return append(c[:2], c[3:]...)
			},
			wantSeq: 4,
		},
		{
			name: "swapped",
			records: func() []AuditRecord {
				c := chain(5, 0, genesisHash())
				c[1], c[2] = c[2], c[1]
				return c
			},
			wantSeq: 3,
		},
		{
			name: "renumbered",
			records: func() []AuditRecord {
				c := chain(5, 0, genesisHash())
				c[3].Seq = 3
				return c
			},
			wantSeq: 3,
		},
		{
			name: "content-changed",
			records: func() []AuditRecord {
				c := chain(5, 0, genesisHash())
				c[3].Verdict = "contraindicated"
				return c
			},
			wantSeq: 4,
		},
		{
			name: "content-changed-and-rehashed",
			records: func() []AuditRecord {
				c := chain(5, 0, genesisHash())
				c[3].Verdict = "contraindicated"
				c[3].Hash = AuditHash(c[3])
				return c
			},
			wantSeq: 5,
		},
		{
			name: "last-content-changed",
			records: func() []AuditRecord {
				c := chain(5, 0, genesisHash())
				c[4].Subject = "other"
				return c
			},
			wantSeq: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := tt.records()
			var prev []byte
			if tt.prev != nil {
				prev = tt.prev(recs)
			}
			err := VerifyAuditChain(recs, prev)
			if tt.wantSeq == 0 {
				if err != nil {
					t.Fatalf("VerifyAuditChain: %v", err)
				}
				return
			}
			var ce *ChainError
			if !errors.As(err, &ce) || ce.Seq != tt.wantSeq {
				t.Fatalf("VerifyAuditChain: %v; want a *ChainError for record %d", err, tt.wantSeq)
			}
		})
	}
}

func ExampleVerifyAuditChain() {
	r := AuditRecord{Seq: 1, Time: t0, Actor: "system", Action: "appraisal", Verdict: "affirming", PrevHash: make([]byte, 32)}
	r.Hash = AuditHash(r)
	fmt.Println(VerifyAuditChain([]AuditRecord{r}, nil))
	r.Verdict = "released"
	fmt.Println(VerifyAuditChain([]AuditRecord{r}, nil))
	// Output:
	// <nil>
	// audit record 1: hash does not match its content
}

func benchSQLite(b *testing.B) *SQLite {
	st, err := OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "assay.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

func BenchmarkPutSecret(b *testing.B) {
	st := benchSQLite(b)
	s := newSecret("repo/key/bench", "kek-1", strings.Repeat("x", 256))
	for b.Loop() {
		if _, err := st.PutSecret(b.Context(), s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConsumeSession(b *testing.B) {
	st := benchSQLite(b)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		id := fmt.Sprint("s", i)
		if err := st.CreateSession(b.Context(), newSession(id, t0.Add(time.Minute))); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := st.ConsumeSession(b.Context(), id, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendAudit(b *testing.B) {
	st := benchSQLite(b)
	r := AuditRecord{Time: t0, Actor: "system", Action: "appraisal", Verdict: "affirming", Detail: json.RawMessage(`{"evidence":"sha256:00"}`)}
	for b.Loop() {
		if _, err := st.AppendAudit(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
}
