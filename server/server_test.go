package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attester"
	"github.com/assay-dev/assay/broker"
	"github.com/assay-dev/assay/internal/rcar"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/server"
	"github.com/assay-dev/assay/store"
	"github.com/assay-dev/assay/token"
	"github.com/assay-dev/assay/verifier"
	"github.com/assay-dev/assay/verifier/sevsnp"
	"github.com/assay-dev/assay/verifier/tpm"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// env is one running service on loopback with a fake SNP guest whose AMD
// root is configured only here.
type env struct {
	url     string
	handler http.Handler
	admin   string
	guest   *testutil.SNPGuest
	st      store.Store
	srv     *server.Server
}

func newEnv(t testing.TB, st store.Store, edit ...func(*verifier.Config)) *env {
	t.Helper()
	ctx := context.Background()
	guest := testutil.NewSNPGuest(t)
	krText, err := broker.GenerateKeyringFile()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := broker.ParseKeyring(krText)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := server.BootstrapAdmin(ctx, st, "")
	if err != nil || admin == "" {
		t.Fatalf("bootstrap admin: %q %v", admin, err)
	}
	vc := verifier.Config{SNPCache: &sevsnp.Cache{}}
	for _, e := range edit {
		e(&vc)
	}
	srv, err := server.New(ctx, server.Config{
		Verifiers: verifier.Verifiers(vc),
		Roots:     guest.Roots(),
		Issuer:    "https://assay.test",
	}, st, kr)
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return &env{url: hs.URL, handler: h, admin: admin, guest: guest, st: st, srv: srv}
}

// snpSource is the fake guest as an attester.Source: a report carrying
// the report data, and the VCEK chain beside it.
type snpSource struct {
	t     *testing.T
	guest *testutil.SNPGuest
	edit  func(*sevsnp.Report)
}

func (s snpSource) Evidence(_ context.Context, rd []byte) ([]attester.File, error) {
	return []attester.File{
		{Name: "report.bin", Data: s.guest.Report(s.t, rd, s.edit)},
		{Name: "vcek-chain.pem", Data: s.guest.Collateral()},
	}, nil
}

func (e *env) do(t *testing.T, method, path, bearer string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e *env) putSecret(t *testing.T, path string, value []byte, policy string) {
	t.Helper()
	code, body := e.do(t, http.MethodPut, "/v1/admin/secrets/"+path, e.admin, map[string]any{
		"value": base64.StdEncoding.EncodeToString(value), "policy": json.RawMessage(policy)})
	if code != http.StatusOK {
		t.Fatalf("put secret: %d %s", code, body)
	}
}

func (e *env) measurementPolicy() string {
	return `{"tee":["snp"],"claims":{"measurement":["` + hex.EncodeToString(e.guest.Measurement[:]) + `"]}}`
}

// runSuite is the end-to-end suite; it runs on SQLite and PostgreSQL.
func runSuite(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("challenge-token-secret", func(t *testing.T) {
		e := newEnv(t, open(t))
		secret := []byte("disk encryption key 0123456789")
		e.putSecret(t, "default/key/1", secret, e.measurementPolicy())
		priv, pub, err := broker.GenerateTEEKey("ec-p256")
		if err != nil {
			t.Fatal(err)
		}
		c := &attester.Client{BaseURL: e.url}
		v, err := c.Run(t.Context(), snpSource{t: t, guest: e.guest}, "snp", pub, nil)
		if err != nil {
			t.Fatalf("attest: %v", err)
		}
		if v.Status != "affirming" || v.Token == "" {
			t.Fatalf("verdict %s, token %q", v.Status, v.Token)
		}
		// The relying party verifies the token offline with the JWKS.
		code, jwks := e.do(t, http.MethodGet, "/.well-known/jwks.json", "", nil)
		if code != http.StatusOK {
			t.Fatalf("jwks: %d", code)
		}
		ver, err := token.Verify(v.Token, jwks, token.VerifyOptions{Now: time.Now(), Issuer: "https://assay.test"})
		if err != nil {
			t.Fatalf("token verify: %v", err)
		}
		if ver.Status != "affirming" {
			t.Errorf("token status %s", ver.Status)
		}
		got, err := c.Resource(t.Context(), "default/key/1", v.Token, priv)
		if err != nil {
			t.Fatalf("resource: %v", err)
		}
		if !bytes.Equal(got, secret) {
			t.Errorf("released %q, want %q", got, secret)
		}
		// The audit log recorded the appraisal and the release, and its
		// chain is intact.
		recs, err := e.st.ListAudit(t.Context(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		actions := map[string]bool{}
		for _, r := range recs {
			actions[r.Action] = true
		}
		for _, a := range []string{"secret.put", "appraisal", "release"} {
			if !actions[a] {
				t.Errorf("audit log has no %s record", a)
			}
		}
		if err := store.VerifyAuditChain(recs, make([]byte, 32)); err != nil {
			t.Errorf("audit chain: %v", err)
		}
	})

	t.Run("replayed-nonce", func(t *testing.T) {
		e := newEnv(t, open(t))
		_, pub, _ := broker.GenerateTEEKey("ec-p256")
		c := &attester.Client{BaseURL: e.url}
		ch, err := c.Challenge(t.Context(), "snp")
		if err != nil {
			t.Fatal(err)
		}
		rd, _ := attester.ReportData(ch, pub)
		files, _ := snpSource{t: t, guest: e.guest}.Evidence(t.Context(), rd)
		if _, err := c.Attest(t.Context(), ch, pub, files); err != nil {
			t.Fatalf("first attest: %v", err)
		}
		_, err = c.Attest(t.Context(), ch, pub, files)
		var se *attester.ServerError
		if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || !strings.Contains(se.Detail, "already used") {
			t.Fatalf("replayed nonce: got %v, want 401 naming the used challenge", err)
		}
	})

	t.Run("evidence-for-another-nonce", func(t *testing.T) {
		e := newEnv(t, open(t))
		c := &attester.Client{BaseURL: e.url}
		ch, _ := c.Challenge(t.Context(), "snp")
		files, _ := snpSource{t: t, guest: e.guest}.Evidence(t.Context(), []byte("some other nonce"))
		v, err := c.Attest(t.Context(), ch, nil, files)
		if !errors.Is(err, attester.ErrRejected) || v.Token != "" {
			t.Fatalf("got %v (token %q), want a rejection without token", err, v.Token)
		}
		if !strings.Contains(v.Error, "nonce") {
			t.Errorf("rejection does not name the nonce check: %s", v.Error)
		}
	})

	t.Run("wrong-measurement-releases-nothing", func(t *testing.T) {
		e := newEnv(t, open(t))
		e.putSecret(t, "default/key/1", []byte("s3cret"), e.measurementPolicy())
		priv, pub, _ := broker.GenerateTEEKey("ec-p256")
		c := &attester.Client{BaseURL: e.url}
		other := func(r *sevsnp.Report) { r.Measurement[0] ^= 0xFF }
		v, err := c.Run(t.Context(), snpSource{t: t, guest: e.guest, edit: other}, "snp", pub, nil)
		if err != nil {
			t.Fatalf("attest: %v", err)
		}
		_, err = c.Resource(t.Context(), "default/key/1", v.Token, priv)
		var se *attester.ServerError
		if !errors.As(err, &se) || se.Status != http.StatusForbidden || !strings.Contains(se.Detail, "measurement") {
			t.Fatalf("got %v, want 403 naming the measurement", err)
		}
	})

	t.Run("tampered-token", func(t *testing.T) {
		e := newEnv(t, open(t))
		e.putSecret(t, "default/key/1", []byte("s3cret"), "{}")
		priv, pub, _ := broker.GenerateTEEKey("ec-p256")
		c := &attester.Client{BaseURL: e.url}
		v, err := c.Run(t.Context(), snpSource{t: t, guest: e.guest}, "snp", pub, nil)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(v.Token, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		payload = bytes.Replace(payload, []byte(`"affirming"`), []byte(`"warning"`), 1)
		parts[1] = base64.RawURLEncoding.EncodeToString(payload)
		_, err = c.Resource(t.Context(), "default/key/1", strings.Join(parts, "."), priv)
		var se *attester.ServerError
		if !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
			t.Fatalf("got %v, want 401", err)
		}
	})

	t.Run("admin-credential", func(t *testing.T) {
		e := newEnv(t, open(t))
		body := map[string]any{"value": base64.StdEncoding.EncodeToString([]byte("x"))}
		for _, tok := range []string{"", "assay-admin-wrong-token-value"} {
			code, b := e.do(t, http.MethodPut, "/v1/admin/secrets/default/key/1", tok, body)
			if code != http.StatusUnauthorized {
				t.Errorf("admin token %q: %d %s, want 401", tok, code, b)
			}
		}
		if _, err := e.st.GetSecret(t.Context(), "default/key/1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a secret was stored without credentials: %v", err)
		}
	})

	t.Run("tpm-swtpm", func(t *testing.T) {
		tp := testutil.StartSWTPM(t)
		// The AK is a primary key from a fixed template: creating it here
		// yields the key the attester will quote with. Enrol it as
		// credential activation would (docs/tpm.md).
		ak := testutil.CreatePrimary(t, tp, attester.AKTemplate)
		akPub, err := tpm.ParseAKPublic(tpm2.Marshal(ak.OutPublic))
		if err != nil {
			t.Fatal(err)
		}
		enrolled := tpm.Enrollment{AK: akPub, EKSHA256: bytes.Repeat([]byte{0xab}, 32), ActivatedAt: time.Now()}
		e := newEnv(t, open(t), func(c *verifier.Config) { c.TPMEnrolled = []tpm.Enrollment{enrolled} })
		secret := []byte("tpm-bound secret")
		e.putSecret(t, "default/key/tpm", secret, `{"tee":["tpm"]}`)
		priv, pub, _ := broker.GenerateTEEKey("ec-p256")
		// The source closes what Open returns; this TPM serves two runs.
		src := attester.TPM{Open: func() (transport.TPM, error) { return struct{ transport.TPM }{tp}, nil }}
		c := &attester.Client{BaseURL: e.url}
		v, err := c.Run(t.Context(), src, "tpm", pub, nil)
		if err != nil {
			t.Fatalf("attest: %v %+v", err, v)
		}
		got, err := c.Resource(t.Context(), "default/key/tpm", v.Token, priv)
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("resource: %q %v", got, err)
		}
		// Another server that has not enrolled this AK rejects the same
		// TPM, and names the AK's trust as the reason.
		e2 := newEnv(t, open(t))
		v, err = (&attester.Client{BaseURL: e2.url}).Run(t.Context(), src, "tpm", pub, nil)
		if !errors.Is(err, attester.ErrRejected) || !strings.Contains(v.Error, "ak") {
			t.Fatalf("unenrolled AK: %v %q, want a rejection naming the AK", err, v.Error)
		}
	})

	t.Run("kbs-protocol", func(t *testing.T) {
		e := newEnv(t, open(t))
		secret := []byte("kbs resource")
		e.putSecret(t, "default/key/1", secret, e.measurementPolicy())
		kbsFlow(t, e, secret)
	})
}

// kbsFlow speaks the KBS protocol as a Confidential Containers guest
// does: the request bodies are the ones the protocol description shows.
func kbsFlow(t *testing.T, e *env, secret []byte) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	post := func(path string, body any) (int, []byte) {
		b, _ := json.Marshal(body)
		resp, err := hc.Post(e.url+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	// Unattested: 401.
	resp, err := hc.Get(e.url + "/kbs/v0/resource/default/key/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unattested resource request: %d, want 401", resp.StatusCode)
	}
	code, b := post("/kbs/v0/auth", map[string]any{"version": "0.4.0", "tee": "snp",
		"extra-params": map[string]any{"supported-hash-algorithms": []string{"sha256", "sha384", "sha512"}}})
	if code != http.StatusOK {
		t.Fatalf("auth: %d %s", code, b)
	}
	var ch rcar.Challenge
	if err := json.Unmarshal(b, &ch); err != nil || ch.Nonce == "" {
		t.Fatalf("challenge %s: %v", b, err)
	}
	if ch.ExtraParams[rcar.SelectedHashAlgorithm] != "sha384" {
		t.Errorf("selected hash %v, want sha384", ch.ExtraParams[rcar.SelectedHashAlgorithm])
	}
	priv, pub, _ := broker.GenerateTEEKey("ec-p256")
	rd, err := rcar.PrimaryDigest("sha384", ch.Nonce, pub, "")
	if err != nil {
		t.Fatal(err)
	}
	raw := e.guest.Report(t, rd, nil)
	r, err := sevsnp.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	evJSON, err := sevsnp.MarshalTrusteeJSON(r, []sevsnp.CertEntry{{Type: "VCEK", DER: e.guest.VEK.Cert.Raw}, {Type: "ASK", DER: e.guest.PKI.ASK.Raw}})
	if err != nil {
		t.Fatal(err)
	}
	code, b = post("/kbs/v0/attest", map[string]any{
		"runtime-data": map[string]any{"nonce": ch.Nonce, "tee-pubkey": json.RawMessage(pub)},
		"tee-evidence": map[string]any{"primary_evidence": json.RawMessage(evJSON), "additional_evidence": ""},
	})
	if code != http.StatusOK {
		t.Fatalf("attest: %d %s", code, b)
	}
	var tr rcar.AttestResponse
	if err := json.Unmarshal(b, &tr); err != nil || tr.Token == "" {
		t.Fatalf("attest answer %s: %v", b, err)
	}
	resp, err = hc.Get(e.url + "/kbs/v0/resource/default/key/1")
	if err != nil {
		t.Fatal(err)
	}
	jwe, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("resource: %d %s", resp.StatusCode, jwe)
	}
	var shape map[string]any
	_ = json.Unmarshal(jwe, &shape)
	for _, k := range []string{"protected", "encrypted_key", "iv", "ciphertext", "tag"} {
		if _, ok := shape[k]; !ok {
			t.Errorf("KBS response has no %q member: %s", k, jwe)
		}
	}
	got, err := broker.Unwrap(jwe, priv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, secret) {
		t.Errorf("released %q", got)
	}
	// The same challenge cannot be answered twice with other evidence.
	code, _ = post("/kbs/v0/attest", map[string]any{
		"runtime-data": map[string]any{"nonce": ch.Nonce, "tee-pubkey": json.RawMessage(pub)},
		"tee-evidence": map[string]any{"primary_evidence": json.RawMessage(evJSON), "additional_evidence": ""},
	})
	if code != http.StatusOK {
		t.Errorf("repeated attest on an attested session: %d, want the issued token again", code)
	}
}

func TestServiceSQLite(t *testing.T) {
	runSuite(t, func(t *testing.T) store.Store { return testutil.SQLiteStore(t) })
}

func TestServicePostgres(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	runSuite(t, func(t *testing.T) store.Store { return testutil.PostgresStore(t, dsn) })
}
