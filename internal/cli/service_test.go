package cli_test

import (
	"bytes"
	"context"
	"database/sql"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/assay-dev/assay/attester"
	"github.com/assay-dev/assay/broker"
	"github.com/assay-dev/assay/internal/cli"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/server"
	"github.com/assay-dev/assay/store"
	"github.com/assay-dev/assay/verifier"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

type guestSource struct {
	t *testing.T
	g *testutil.SNPGuest
}

func (s guestSource) Evidence(_ context.Context, rd []byte) ([]attester.File, error) {
	return []attester.File{{Name: "report.bin", Data: s.g.Report(s.t, rd, nil)}, {Name: "chain.pem", Data: s.g.Collateral()}}, nil
}

// service runs the server on loopback over a SQLite file in dir and
// returns its URL and a token from one attestation.
func service(t *testing.T, dir string) (string, string) {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(dir, "assay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	krText, _ := broker.GenerateKeyringFile()
	kr, _ := broker.ParseKeyring(krText)
	g := testutil.NewSNPGuest(t)
	srv, err := server.New(t.Context(), server.Config{Verifiers: verifier.Verifiers(verifier.Config{SNPCache: &sevsnp.Cache{}}),
		Roots: g.Roots(), Issuer: "https://assay.test"}, st, kr)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	v, err := (&attester.Client{BaseURL: hs.URL}).Run(t.Context(), guestSource{t, g}, "snp", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return hs.URL, v.Token
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestTokenVerifyCommand(t *testing.T) {
	url, tok := service(t, t.TempDir())
	jwks := url + "/.well-known/jwks.json"
	code, out, errs := run("token", "verify", "--jwks", jwks, "--issuer", "https://assay.test", tok)
	if code != cli.ExitAffirming || !strings.Contains(out, `"status": "affirming"`) {
		t.Fatalf("valid token: exit %d\n%s%s", code, out, errs)
	}
	// From a file, and with the JWKS saved to a file (offline).
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "token"), []byte(tok+"\n"), 0o600)
	code, _, errs = run("token", "verify", "--jwks", jwks, filepath.Join(dir, "token"))
	if code != cli.ExitAffirming {
		t.Errorf("token from a file: exit %d %s", code, errs)
	}
	bad := tok[:len(tok)-4] + "AAAA"
	if code, _, errs := run("token", "verify", "--jwks", jwks, bad); code != cli.ExitRejected || !strings.Contains(errs, "rejected") {
		t.Errorf("tampered token: exit %d %s", code, errs)
	}
	if code, _, errs := run("token", "verify", "--jwks", jwks, "--issuer", "https://other", tok); code != cli.ExitRejected || !strings.Contains(errs, "iss") {
		t.Errorf("wrong issuer: exit %d %s", code, errs)
	}
	if code, _, _ := run("token", "verify", tok); code != cli.ExitUsage {
		t.Errorf("no --jwks: exit %d, want usage", code)
	}
}

func TestAuditCommands(t *testing.T) {
	dir := t.TempDir()
	service(t, dir)
	code, out, errs := run("audit", "verify", "--data", dir)
	if code != 0 || !strings.Contains(out, "audit chain intact") {
		t.Fatalf("audit verify: exit %d %s%s", code, out, errs)
	}
	code, out, _ = run("audit", "show", "--data", dir)
	if code != 0 || !strings.Contains(out, "appraisal") {
		t.Errorf("audit show: exit %d\n%s", code, out)
	}
	// Change one stored record behind the service's back.
	db, err := sql.Open("sqlite", filepath.Join(dir, "assay.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit SET verdict = 'tampered' WHERE seq = 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, _, errs = run("audit", "verify", "--data", dir)
	if code != cli.ExitRejected || !strings.Contains(errs, "audit record 1") {
		t.Errorf("tampered audit log: exit %d %s, want 1 naming record 1", code, errs)
	}
}
