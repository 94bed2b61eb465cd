package cca_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cose "github.com/veraison/go-cose"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier"
	"github.com/assay-dev/assay/verifier/cca"
)

// verifyAt is inside the validity of every corpus endorsement (the
// Veraison CoRIM's ends 2025-12-31); the tokens carry no time of their own.
var verifyAt = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// corpusCase is one cca-token entry of ../shared/corpus: a token and the
// collateral files the manifest lists beside it (CPAK sources, reference
// value stores), read from the manifest rather than copied.
type corpusCase struct {
	id         string
	entry      testutil.Entry
	token      string   // path
	collateral []string // paths
}

// ccaCorpus returns the cases expected to verify. Veraison's cca-good.cbor
// is left out, as contract_check.py leaves it out: its entry ships no CPAK
// of its own (TestCCAGoodNeedsACPAK covers it).
func ccaCorpus(t *testing.T) []corpusCase {
	t.Helper()
	m, dir := testutil.LoadManifest(t)
	var out []corpusCase
	for _, e := range m.Entries {
		if e.Kind != "cca-token" || !strings.HasPrefix(e.CollateralStatus, "complete") {
			continue
		}
		var tokens, coll []string
		for _, f := range e.Files {
			p := filepath.Join(dir, f.Path)
			switch f.Kind {
			case "cca-token":
				if filepath.Base(p) != "cca-good.cbor" {
					tokens = append(tokens, p)
				}
			case "collateral":
				coll = append(coll, p)
			}
		}
		for _, tok := range tokens {
			out = append(out, corpusCase{id: e.ID, entry: e, token: tok, collateral: coll})
		}
	}
	if len(out) != 3 {
		t.Fatalf("found %d CCA corpus cases, want 3 (TF-RMM, Trustee, Veraison)", len(out))
	}
	return out
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// appraiseFiles runs the whole command-line path: classification of every
// file by content, then the CCA verifier with all the collateral.
func appraiseFiles(t *testing.T, p attest.Params, files ...string) *attest.Result {
	t.Helper()
	var in []verifier.Input
	for _, f := range files {
		in = append(in, verifier.Input{Name: f, Data: readFile(t, f)})
	}
	rs, err := verifier.Appraise(t.Context(), verifier.Verifiers(verifier.Config{}), in, "", p)
	if err != nil {
		t.Fatalf("appraise: %v", err)
	}
	if len(rs) != 1 {
		t.Fatalf("%d results, want 1", len(rs))
	}
	return rs[0]
}

func checkNames(r *attest.Result) []string {
	var n []string
	for _, c := range r.Checks {
		n = append(n, c.Name)
	}
	return n
}

func firstFailure(r *attest.Result) *attest.Check {
	for i, c := range r.Checks {
		if !c.OK {
			return &r.Checks[i]
		}
	}
	return nil
}

// endorsementsOf reads every CPAK among the case's collateral.
func endorsementsOf(t testing.TB, files []string) []cca.Endorsement {
	t.Helper()
	var out []cca.Endorsement
	for _, f := range files {
		es, _, err := cca.ParseEndorsements(readFile(t, f), filepath.Base(f))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, es...)
	}
	return out
}

func TestCorpusVerifies(t *testing.T) {
	want := []string{"parse", "realm.signature", "platform.signature", "platform.endorsement", "binding", "nonce", "platform.lifecycle"}
	for _, c := range ccaCorpus(t) {
		t.Run(c.id, func(t *testing.T) {
			r := appraiseFiles(t, attest.Params{Now: verifyAt}, append([]string{c.token}, c.collateral...)...)
			if r.TEE != "cca" || r.Evidence.Format != cca.FormatToken {
				t.Errorf("tee %q format %q, want cca, %s", r.TEE, r.Evidence.Format, cca.FormatToken)
			}
			if r.Status != attest.StatusAffirming {
				t.Fatalf("status %s, want affirming; first failure %+v", r.Status, firstFailure(r))
			}
			if got := checkNames(r); !slices.Equal(got, want) {
				t.Errorf("checks %v, want %v", got, want)
			}
			if r.Checks[5].Name != "nonce" || !r.Checks[5].Skipped {
				t.Errorf("nonce check %+v, want skipped", r.Checks[5])
			}
			claims, ok := r.Claims.(*cca.Claims)
			if !ok {
				t.Fatalf("claims are %T", r.Claims)
			}
			if claims.RealHardware != nil {
				t.Errorf("real_hardware = %v, want null: no vendor root endorses a supplied CPAK", *claims.RealHardware)
			}
			if c.entry.RealHardware == nil || *c.entry.RealHardware {
				t.Errorf("manifest says real_hardware %v for %s; the coverage text says every corpus token is simulated", c.entry.RealHardware, c.id)
			}
			if claims.CPAK == nil || claims.CPAK.Source == "" {
				t.Errorf("verified claims do not name the CPAK's source: %+v", claims.CPAK)
			}
		})
	}
}

// The Veraison CoRIM's validity-map ends 2025-12-31. After that its CPAK
// still verifies the token, and the result says the endorsement expired.
func TestCorpusExpiredCoRIMWarns(t *testing.T) {
	for _, c := range ccaCorpus(t) {
		if c.id != "cca-token-veraison-services" {
			continue
		}
		at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		r := appraiseFiles(t, attest.Params{Now: at}, append([]string{c.token}, c.collateral...)...)
		if r.Status != attest.StatusWarning {
			t.Fatalf("status %s, want warning", r.Status)
		}
		f := firstFailure(r)
		if f == nil || f.Name != "platform.endorsement" || f.Severity != attest.StatusWarning || !strings.Contains(f.Detail, "2025-12-31") {
			t.Errorf("first failure %+v, want a platform.endorsement warning naming the end of validity", f)
		}
		before := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
		if r := appraiseFiles(t, attest.Params{Now: before}, append([]string{c.token}, c.collateral...)...); r.Status != attest.StatusWarning {
			t.Errorf("before the CoRIM's not-before: status %s, want warning", r.Status)
		}
		return
	}
	t.Fatal("no Veraison case")
}

// TestCorpusStatedClaims compares claims with what the manifest states.
func TestCorpusStatedClaims(t *testing.T) {
	for _, c := range ccaCorpus(t) {
		tok, err := cca.Parse(readFile(t, c.token))
		if err != nil {
			t.Fatal(err)
		}
		cl := cca.NewClaims(tok)
		switch c.id {
		case "cca-token-tf-rmm-ccatoken":
			// "realm_challenge_hex": "abab...ab (64 bytes)", legacy platform profile.
			if cl.Realm.Challenge != strings.Repeat("ab", 64) {
				t.Errorf("%s: realm challenge %s", c.id, cl.Realm.Challenge)
			}
			if cl.Platform.Profile != "http://arm.com/CCA-SSD/1.0.0" || cl.Realm.Profile != nil {
				t.Errorf("%s: profiles %q, %v", c.id, cl.Platform.Profile, cl.Realm.Profile)
			}
		case "cca-token-trustee":
			// "realm hash alg sha-512, platform sha-256".
			if cl.Realm.HashAlgoID != "sha-512" || cl.Platform.HashAlgoID != "sha-256" {
				t.Errorf("%s: realm hash %s, platform hash %s", c.id, cl.Realm.HashAlgoID, cl.Platform.HashAlgoID)
			}
		}
		if len(cl.Realm.ExtensibleMeasurements) != 4 {
			t.Errorf("%s: %d REMs, want 4", c.id, len(cl.Realm.ExtensibleMeasurements))
		}
		if cl.Platform.LifecycleState != "secured" || len(cl.Platform.SWComponents) == 0 {
			t.Errorf("%s: lifecycle %s, %d sw components", c.id, cl.Platform.LifecycleState, len(cl.Platform.SWComponents))
		}
	}
}

// TestTrusteeExpectedClaims checks our decoding against Trustee's expected
// claims (cca/trustee/cca-claims.expected.json, Trustee's
// test_data/cca-claims.json). That document describes the claims of
// Veraison's e2e token re-encoded with a raw RAK: every claim but two is
// the e2e token's, byte for byte. The two that differ follow from the
// re-encoding: the platform challenge (the hash of a different RAK
// encoding) and the software components.
func TestTrusteeExpectedClaims(t *testing.T) {
	dir := testutil.CorpusDir(t)
	var exp struct {
		Platform map[string]json.RawMessage `json:"platform"`
		Realm    map[string]json.RawMessage `json:"realm"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "cca/trustee/cca-claims.expected.json")), &exp); err != nil {
		t.Fatal(err)
	}
	tok, err := cca.Parse(readFile(t, filepath.Join(dir, "cca/veraison/e2e-cca-evidence.cbor")))
	if err != nil {
		t.Fatal(err)
	}
	cl := cca.NewClaims(tok)
	str := func(m map[string]json.RawMessage, k string) string {
		var s string
		if err := json.Unmarshal(m[k], &s); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return s
	}
	b64hex := func(m map[string]json.RawMessage, k string) string {
		b, err := base64.StdEncoding.DecodeString(str(m, k))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return hex.EncodeToString(b)
	}
	for _, f := range []struct{ name, got, want string }{
		{"realm challenge", cl.Realm.Challenge, b64hex(exp.Realm, "cca-realm-challenge")},
		{"personalization value", cl.Realm.PersonalizationValue, b64hex(exp.Realm, "cca-realm-personalization-value")},
		{"RIM", cl.Realm.InitialMeasurement, b64hex(exp.Realm, "cca-realm-initial-measurement")},
		{"realm hash", cl.Realm.HashAlgoID, str(exp.Realm, "cca-realm-hash-algo-id")},
		{"RAK hash", cl.Realm.PublicKeyHashAlgoID, str(exp.Realm, "cca-realm-public-key-hash-algo-id")},
		{"platform profile", cl.Platform.Profile, str(exp.Platform, "cca-platform-profile")},
		{"implementation ID", cl.Platform.ImplementationID, b64hex(exp.Platform, "cca-platform-implementation-id")},
		{"instance ID", cl.Platform.InstanceID, b64hex(exp.Platform, "cca-platform-instance-id")},
		{"config", cl.Platform.Config, b64hex(exp.Platform, "cca-platform-config")},
		{"verification service", cl.Platform.VerificationService, str(exp.Platform, "cca-platform-service-indicator")},
		{"platform hash", cl.Platform.HashAlgoID, str(exp.Platform, "cca-platform-hash-algo-id")},
	} {
		if f.got != f.want {
			t.Errorf("%s: got %s, Trustee expects %s", f.name, f.got, f.want)
		}
	}
	var lc uint16
	if err := json.Unmarshal(exp.Platform["cca-platform-lifecycle"], &lc); err != nil || lc != cl.Platform.Lifecycle {
		t.Errorf("lifecycle %d, Trustee expects %d (%v)", cl.Platform.Lifecycle, lc, err)
	}
	var rems []string
	if err := json.Unmarshal(exp.Realm["cca-realm-extensible-measurements"], &rems); err != nil {
		t.Fatal(err)
	}
	for i, r := range rems {
		b, _ := base64.StdEncoding.DecodeString(r)
		if i >= len(cl.Realm.ExtensibleMeasurements) || cl.Realm.ExtensibleMeasurements[i] != hex.EncodeToString(b) {
			t.Errorf("REM[%d] differs from Trustee's", i)
		}
	}
	// The RAK: a COSE_Key in the token, a raw point in Trustee's claims.
	raw, _ := base64.StdEncoding.DecodeString(str(exp.Realm, "cca-realm-public-key"))
	keyBytes, _ := hex.DecodeString(cl.Realm.PublicKey)
	var k cose.Key
	if err := k.UnmarshalCBOR(keyBytes); err != nil {
		t.Fatal(err)
	}
	pub, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	ek := pub.(*ecdsa.PublicKey)
	if point, _ := ek.Bytes(); !bytes.Equal(point, raw) || ek.Curve != elliptic.P384() {
		t.Errorf("RAK %x differs from Trustee's %x", point, raw)
	}
}

// Veraison's cca-good.cbor comes without a CPAK of its own: alone it is
// rejected at platform.signature for want of collateral. It is signed by
// the same test CPAK as the e2e token, so the e2e CoRIM verifies it.
func TestCCAGoodNeedsACPAK(t *testing.T) {
	dir := testutil.CorpusDir(t)
	good := filepath.Join(dir, "cca/veraison/cca-good.cbor")
	r := appraiseFiles(t, attest.Params{Now: verifyAt}, good)
	if f := firstFailure(r); r.Status != attest.StatusContraindicated || f == nil || f.Name != "platform.signature" {
		t.Fatalf("status %s, first failure %+v; want contraindicated at platform.signature", r.Status, f)
	}
	tok, err := cca.Parse(readFile(t, good))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cca.Verify(tok, cca.Options{Now: func() time.Time { return verifyAt }}); !errors.Is(err, cca.ErrCollateralMissing) {
		t.Errorf("Verify without a CPAK: %v, want ErrCollateralMissing", err)
	}
	r = appraiseFiles(t, attest.Params{Now: verifyAt}, good, filepath.Join(dir, "cca/veraison/e2e-cca-endorsements.cbor"))
	if r.Status != attest.StatusAffirming {
		t.Errorf("with the e2e CoRIM: status %s, first failure %+v", r.Status, firstFailure(r))
	}
}

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
