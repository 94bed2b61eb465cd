package testutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/assay-dev/assay/store"
)

// SQLiteStore opens a fresh SQLite store in a temporary directory and
// closes it at cleanup.
func SQLiteStore(t testing.TB) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "assay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// PostgresDSN returns the test PostgreSQL server's URL from
// ASSAY_TEST_POSTGRES (scripts/pg-test-server.sh starts one). Without it the
// test is skipped, except under CI=true, where it fails: CI must run the
// PostgreSQL half of every dual-store suite.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("ASSAY_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("ASSAY_TEST_POSTGRES is not set under CI=true: .ci/run starts a PostgreSQL server for these tests")
		}
		t.Skip("ASSAY_TEST_POSTGRES is not set; run scripts/pg-test-server.sh start")
	}
	return dsn
}

// PostgresSchema creates a fresh schema on the test server, drops it at
// cleanup, and returns a URL whose search_path selects it, so that tests
// and packages running in parallel never share tables.
func PostgresSchema(t testing.TB, dsn string) string {
	t.Helper()
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(ctx, dsn); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// PostgresStore opens a store in a fresh schema of the test server
// (PostgresSchema) and closes it at cleanup.
func PostgresStore(t testing.TB, dsn string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), PostgresSchema(t, dsn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
