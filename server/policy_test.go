package server_test

import (
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attester"
	"github.com/assay-dev/assay/broker"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/policy"
	"github.com/assay-dev/assay/server"
	"github.com/assay-dev/assay/token"
	"github.com/assay-dev/assay/verifier"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// TestServicePolicy: with reference values configured, the guest whose
// measurement they list is affirmed and its token names the policy; a
// guest with another measurement is rejected at attestation, the reason
// naming the claim, the value found and the value allowed with its ID.
func TestServicePolicy(t *testing.T) {
	st := testutil.SQLiteStore(t)
	g := testutil.NewSNPGuest(t)
	krText, _ := broker.GenerateKeyringFile()
	kr, _ := broker.ParseKeyring(krText)
	eng, err := policy.New(t.Context(), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	refs := []policy.RefValue{{ID: "fake-guest-fw", TEE: "snp", Claim: "measurement", Value: hex.EncodeToString(g.Measurement[:]),
		State: policy.StateActive, Version: 1, Provenance: policy.Provenance{Author: "test", Source: "testutil.SNPGuest"}}}
	srv, err := server.New(t.Context(), server.Config{Verifiers: verifier.Verifiers(verifier.Config{SNPCache: &sevsnp.Cache{}}),
		Roots: g.Roots(), Issuer: "https://assay.test", Policy: eng, RefValues: refs}, st, kr)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	c := &attester.Client{BaseURL: hs.URL}
	v, err := c.Run(t.Context(), snpSource{t: t, guest: g}, "snp", nil, nil)
	if err != nil || v.Status != "affirming" {
		t.Fatalf("listed measurement: %v %s", err, v.Status)
	}
	code, body := (&env{url: hs.URL}).do(t, "GET", "/.well-known/jwks.json", "", nil)
	if code != 200 {
		t.Fatal(code)
	}
	ver, err := token.Verify(v.Token, body, token.VerifyOptions{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for name, sub := range ver.Result.Submods {
		if sub.AppraisalPolicyID == nil || *sub.AppraisalPolicyID != "assay/snp" {
			t.Errorf("submod %s appraisal policy %v, want assay/snp", name, sub.AppraisalPolicyID)
		}
	}
	other := func(r *sevsnp.Report) { r.Measurement[0] ^= 1 }
	v, err = c.Run(t.Context(), snpSource{t: t, guest: g, edit: other}, "snp", nil, nil)
	if !errors.Is(err, attester.ErrRejected) || v.Token != "" {
		t.Fatalf("unlisted measurement: %v (token %q), want a rejection", err, v.Token)
	}
	for _, w := range []string{"policy", "measurement", "fake-guest-fw", hex.EncodeToString(g.Measurement[:4])} {
		if !strings.Contains(v.Error, w) {
			t.Errorf("rejection %q does not name %q", v.Error, w)
		}
	}
}

// TestAttesterCannotSupplyTrustMaterial: an IMA allow list (or a CCA
// endorsement) in an attester's bundle is refused, naming the file: the
// service takes those from its own configuration.
func TestAttesterCannotSupplyTrustMaterial(t *testing.T) {
	e := newEnv(t, testutil.SQLiteStore(t))
	allow, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "internal", "eventlog", "tcg", "testdata", "ima-allowlist.txt"))
	if err != nil {
		t.Fatal(err)
	}
	c := &attester.Client{BaseURL: e.url}
	_, err = c.Run(t.Context(), snpSource{t: t, guest: e.guest}, "snp", nil, []attester.File{{Name: "allowlist.txt", Data: allow}})
	var se *attester.ServerError
	if !errors.As(err, &se) || se.Status != 400 || !strings.Contains(se.Detail, "allowlist.txt") {
		t.Fatalf("got %v, want 400 naming allowlist.txt", err)
	}
}
