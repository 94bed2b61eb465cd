package token_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/veraison/ear"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/token"
)

var kinds = []error{token.ErrMalformed, token.ErrSignature, token.ErrExpired, token.ErrUnknownKey, token.ErrIssuer, token.ErrNonce, token.ErrJWKS}

// kindOf returns the one error kind err wraps, or nil.
func kindOf(err error) error {
	var found []error
	for _, k := range kinds {
		if errors.Is(err, k) {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		return nil
	}
	return found[0]
}

func decodePart(t testing.TB, tok string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		results    []*attest.Result
		opts       token.IssueOptions
		wantStatus string
		// submod name -> ear.status
		wantSubmods map[string]string
		wantVector  map[string]ear.TrustVector
	}{
		{
			name:        "snp-affirming",
			results:     []*attest.Result{snpAffirming()},
			opts:        token.IssueOptions{Now: verifiedAt, Nonce: "n0nce-0123456789", VerifierBuild: "v0.9.0"},
			wantStatus:  "affirming",
			wantSubmods: map[string]string{"snp": "affirming"},
			wantVector: map[string]ear.TrustVector{"snp": {
				Hardware: ear.GenuineHardwareClaim, InstanceIdentity: ear.TrustworthyInstanceClaim, Configuration: ear.NoConfigVulnsClaim,
			}},
		},
		{
			name:        "tdx-contraindicated",
			results:     []*attest.Result{tdxContraindicated()},
			opts:        token.IssueOptions{Now: verifiedAt, TTL: time.Hour, PolicyID: "site/strict"},
			wantStatus:  "contraindicated",
			wantSubmods: map[string]string{"tdx": "contraindicated"},
			wantVector: map[string]ear.TrustVector{"tdx": {
				Hardware: ear.ContraindicatedHardwareClaim, Configuration: ear.UnsupportableConfigClaim,
			}},
		},
		{
			name:        "snp-tdx-snp-with-tee-key",
			results:     []*attest.Result{snpAffirming(), tdxContraindicated(), snpAffirming()},
			opts:        token.IssueOptions{Now: verifiedAt, TEEPubKey: []byte(teeJWK), Subject: "workload-7"},
			wantStatus:  "contraindicated",
			wantSubmods: map[string]string{"snp": "affirming", "tdx": "contraindicated", "snp-2": "affirming"},
		},
		{
			name:        "rsa-tee-key",
			results:     []*attest.Result{snpAffirming()},
			opts:        token.IssueOptions{Now: verifiedAt, TEEPubKey: []byte(teeRSAJWK)},
			wantStatus:  "affirming",
			wantSubmods: map[string]string{"snp": "affirming"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is, _ := newIssuer(t)
			jwks := mustJWKS(t, is)
			tok := mustIssue(t, is, tt.opts, tt.results...)

			v, err := token.Verify(tok, jwks, token.VerifyOptions{Now: verifiedAt.Add(time.Minute), Issuer: "https://assay.example", Nonce: tt.opts.Nonce})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if v.KID != is.KID() || v.Issuer != "https://assay.example" || v.Nonce != tt.opts.Nonce || v.Subject != tt.opts.Subject {
				t.Errorf("Verified = kid %q iss %q nonce %q sub %q", v.KID, v.Issuer, v.Nonce, v.Subject)
			}
			ttl := tt.opts.TTL
			if ttl == 0 {
				ttl = token.DefaultTTL
			}
			if !v.IssuedAt.Equal(verifiedAt) || !v.Expires.Equal(verifiedAt.Add(ttl)) {
				t.Errorf("iat, exp = %s, %s; want %s, %s", v.IssuedAt, v.Expires, verifiedAt, verifiedAt.Add(ttl))
			}
			if v.Status != tt.wantStatus {
				t.Errorf("Status = %q, want %q", v.Status, tt.wantStatus)
			}
			if *v.Result.Profile != ear.EatProfile || *v.Result.VerifierID.Developer != token.Developer {
				t.Errorf("profile %q, developer %q", *v.Result.Profile, *v.Result.VerifierID.Developer)
			}
			wantBuild := tt.opts.VerifierBuild
			if wantBuild == "" {
				wantBuild = "unknown"
			}
			if *v.Result.VerifierID.Build != wantBuild {
				t.Errorf("build = %q, want %q", *v.Result.VerifierID.Build, wantBuild)
			}
			if len(v.Result.Submods) != len(tt.wantSubmods) {
				t.Errorf("submods %v, want %v", slices.Collect(mapKeys(v.Result.Submods)), tt.wantSubmods)
			}
			wantPolicy := tt.opts.PolicyID
			if wantPolicy == "" {
				wantPolicy = token.DefaultPolicyID
			}
			for name, status := range tt.wantSubmods {
				a := v.Result.Submods[name]
				if a == nil {
					t.Errorf("no submod %q", name)
					continue
				}
				if a.Status.String() != status {
					t.Errorf("submod %s status %s, want %s", name, a.Status, status)
				}
				if *a.AppraisalPolicyID != wantPolicy {
					t.Errorf("submod %s policy %q, want %q", name, *a.AppraisalPolicyID, wantPolicy)
				}
				if want, ok := tt.wantVector[name]; ok && *a.TrustVector != want {
					t.Errorf("submod %s vector %+v, want %+v", name, *a.TrustVector, want)
				}
				ev := *a.VeraisonAnnotatedEvidence
				if ev["evidence_sha256"] == "" || ev["evidence_format"] == "" {
					t.Errorf("submod %s annotated evidence lacks hash or format: %v", name, ev)
				}
				if tt.opts.TEEPubKey == nil {
					if a.VeraisonKeyAttestation != nil {
						t.Errorf("submod %s has a key attestation without a TEE key", name)
					}
					continue
				}
				got, err := a.GetKeyAttestation()
				if err != nil {
					t.Fatalf("submod %s: %v", name, err)
				}
				if want := parseJWK(t, tt.opts.TEEPubKey); !got.(interface{ Equal(crypto.PublicKey) bool }).Equal(want) {
					t.Errorf("submod %s akpub is not the TEE key", name)
				}
			}
			if tt.opts.TEEPubKey != nil {
				var compact bytes.Buffer
				if err := json.Compact(&compact, tt.opts.TEEPubKey); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(v.TEEPubKey, compact.Bytes()) {
					t.Errorf("TEEPubKey = %s, want %s", v.TEEPubKey, compact.Bytes())
				}
				if _, ok := decodePart(t, tok, 1)["tee-pubkey"].(map[string]any); !ok {
					t.Error("no top-level tee-pubkey object")
				}
			} else if v.TEEPubKey != nil {
				t.Errorf("TEEPubKey = %s, want nil", v.TEEPubKey)
			}

			hdr := decodePart(t, tok, 0)
			if hdr["alg"] != "ES256" || hdr["typ"] != "JWT" || hdr["kid"] != is.KID() || len(hdr) != 3 {
				t.Errorf("header = %v", hdr)
			}

			// Two independent verifiers accept the token: the EAR
			// library's own (which checks the profile, and exp against the
			// wall clock, hence a token issued now) and jwx's JWS.
			live := tt.opts
			live.Now = time.Time{}
			liveTok := mustIssue(t, is, live, tt.results...)
			pub := parseJWK(t, firstKey(t, jwks))
			var ar ear.AttestationResult
			if err := ar.Verify([]byte(liveTok), jwa.ES256, pub); err != nil {
				t.Errorf("ear.AttestationResult.Verify: %v", err)
			}
			if _, err := jws.Verify([]byte(tok), jws.WithKey(jwa.ES256, pub)); err != nil {
				t.Errorf("jws.Verify: %v", err)
			}
		})
	}
}

// TestAnnotatedEvidenceExact checks that claims cross into the token
// exactly: a uint64 above 2^53 keeps every digit.
func TestAnnotatedEvidenceExact(t *testing.T) {
	is, _ := newIssuer(t)
	tok := mustIssue(t, is, token.IssueOptions{Now: verifiedAt}, snpAffirming())
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"reported_tcb_raw":%d`, uint64(snpReportedTCB)); !bytes.Contains(payload, []byte(want)) {
		t.Errorf("payload lacks %s", want)
	}
	for _, want := range []string{`"evidence_format":"snp-report"`, `"evidence_sha256":"3f44a09b`, `"measurement":"f924dd18`} {
		if !bytes.Contains(payload, []byte(want)) {
			t.Errorf("payload lacks %s", want)
		}
	}
}

// TestStatusNeverRaised: a result that claims affirming over a failed
// check is issued as contraindicated; a result without a verdict stays
// none and carries no trust claims.
func TestStatusNeverRaised(t *testing.T) {
	lying := snpAffirming()
	lying.Checks = append(lying.Checks, attest.Fail("policy.debug", errors.New("POLICY.DEBUG is set")))
	lying.Status = attest.StatusAffirming // not Finish()ed
	none := &attest.Result{TEE: "tpm", Status: attest.StatusNone, Checks: []attest.Check{attest.Pass("signature", "ok"), attest.Pass("ak.trust", "ok")}}
	is, _ := newIssuer(t)
	tok := mustIssue(t, is, token.IssueOptions{Now: verifiedAt}, lying, none)
	v, err := token.Verify(tok, mustJWKS(t, is), token.VerifyOptions{Now: verifiedAt})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Result.Submods["snp"].Status.String(); got != "contraindicated" {
		t.Errorf("lying result issued as %s, want contraindicated", got)
	}
	tpm := v.Result.Submods["tpm"]
	if got := tpm.Status.String(); got != "none" || *tpm.TrustVector != (ear.TrustVector{}) {
		t.Errorf("no-verdict result issued as %s with vector %+v, want none and no claims", got, *tpm.TrustVector)
	}
	if v.Status != "contraindicated" {
		t.Errorf("Status = %s", v.Status)
	}
}

func TestWorstStatus(t *testing.T) {
	warn := snpAffirming()
	warn.Checks = append(warn.Checks, attest.Warn("tcb.status", "SWHardeningNeeded"))
	warn.Finish()
	none := &attest.Result{TEE: "tpm"}
	tests := []struct {
		name    string
		results []*attest.Result
		want    string
	}{
		{"affirming", []*attest.Result{snpAffirming()}, "affirming"},
		{"affirming-warning", []*attest.Result{snpAffirming(), warn}, "warning"},
		{"warning-none", []*attest.Result{warn, none}, "none"},
		{"none-contraindicated", []*attest.Result{none, tdxContraindicated()}, "contraindicated"},
	}
	is, _ := newIssuer(t)
	jwks := mustJWKS(t, is)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := token.Verify(mustIssue(t, is, token.IssueOptions{Now: verifiedAt}, tt.results...), jwks, token.VerifyOptions{Now: verifiedAt})
			if err != nil {
				t.Fatal(err)
			}
			if v.Status != tt.want {
				t.Errorf("Status = %s, want %s", v.Status, tt.want)
			}
		})
	}
}

func TestJWKS(t *testing.T) {
	old1, old2 := mustKey(t), mustKey(t)
	pub1, pub2 := mustPublicJWK(t, old1), mustPublicJWK(t, old2)
	is, active := newIssuer(t, pub1, pub2)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(mustJWKS(t, is), &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k["kid"])
		if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" || k["x"] == "" || k["y"] == "" || len(k) != 7 {
			t.Errorf("key %v", k)
		}
	}
	if want := []string{active.KID, old1.KID, old2.KID}; !slices.Equal(kids, want) {
		t.Errorf("kids = %q, want %q (active first)", kids, want)
	}
	if is.KID() != active.KID {
		t.Errorf("KID() = %q, want %q", is.KID(), active.KID)
	}
}

// TestRotation: the new key signs; a token the retired key signed still
// verifies while that key stays in the JWKS, and stops when it leaves.
func TestRotation(t *testing.T) {
	old, _ := newIssuer(t)
	oldTok := mustIssue(t, old, token.IssueOptions{Now: verifiedAt}, snpAffirming())
	oldKey := firstKey(t, mustJWKS(t, old))

	rotated, _ := newIssuer(t, oldKey)
	newTok := mustIssue(t, rotated, token.IssueOptions{Now: verifiedAt}, snpAffirming())
	jwks := mustJWKS(t, rotated)
	o := token.VerifyOptions{Now: verifiedAt.Add(time.Minute), Issuer: "https://assay.example"}

	v, err := token.Verify(oldTok, jwks, o)
	if err != nil {
		t.Fatalf("token of the retired key: %v", err)
	}
	if v.KID != old.KID() {
		t.Errorf("KID = %q, want the retired %q", v.KID, old.KID())
	}
	if v, err := token.Verify(newTok, jwks, o); err != nil || v.KID != rotated.KID() {
		t.Fatalf("token of the new key: %v", err)
	}
	retired, _ := newIssuer(t) // the old key has left the set
	if _, err := token.Verify(oldTok, mustJWKS(t, retired), o); !errors.Is(err, token.ErrUnknownKey) {
		t.Errorf("after the old key left the JWKS: %v, want ErrUnknownKey", err)
	}
}

// TestFlipEveryByte changes every byte of a token, once to a neighbouring
// byte and once to another base64url character: each variant must be
// refused as a bad signature or malformed. A change inside the header
// that renames the key is refused as an unknown key instead, which is
// also correct.
func TestFlipEveryByte(t *testing.T) {
	is, _ := newIssuer(t)
	jwks := mustJWKS(t, is)
	tok := mustIssue(t, is, token.IssueOptions{Now: verifiedAt, Nonce: "0123456789abcdef", TEEPubKey: []byte(teeJWK)}, snpAffirming())
	headerEnd := strings.IndexByte(tok, '.')
	kid := is.KID()
	o := token.VerifyOptions{Now: verifiedAt}
	for i := range len(tok) {
		alt := byte('A')
		if tok[i] == 'A' {
			alt = 'B'
		}
		for _, c := range []byte{tok[i] ^ 1, alt} {
			flipped := tok[:i] + string(c) + tok[i+1:]
			v, err := token.Verify(flipped, jwks, o)
			if err == nil {
				t.Fatalf("byte %d %q -> %q: verified (%+v)", i, tok[i], c, v)
			}
			switch kindOf(err) {
			case token.ErrSignature, token.ErrMalformed:
			case token.ErrUnknownKey:
				if i < headerEnd && headerKID(flipped) != kid {
					break
				}
				fallthrough
			default:
				t.Fatalf("byte %d %q -> %q: %v, want ErrSignature or ErrMalformed", i, tok[i], c, err)
			}
		}
	}
}

// headerKID decodes a possibly damaged header leniently and returns its
// kid, or "" when there is none to read.
func headerKID(tok string) string {
	part, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return ""
	}
	var h struct {
		KID string `json:"kid"`
	}
	_ = json.Unmarshal(b, &h)
	return h.KID
}

func TestVerifyTime(t *testing.T) {
	is, _ := newIssuer(t)
	jwks := mustJWKS(t, is)
	tok := mustIssue(t, is, token.IssueOptions{Now: verifiedAt, TTL: 10 * time.Minute}, snpAffirming())
	exp := verifiedAt.Add(10 * time.Minute)
	tests := []struct {
		name   string
		now    time.Time
		leeway time.Duration
		want   error
	}{
		{"at-iat", verifiedAt, 0, nil},
		{"at-exp", exp, 0, nil},
		{"inside-default-leeway", exp.Add(30 * time.Second), 0, nil},
		{"past-default-leeway", exp.Add(31 * time.Second), 0, token.ErrExpired},
		{"past-short-leeway", exp.Add(2 * time.Second), time.Second, token.ErrExpired},
		{"inside-long-leeway", exp.Add(4 * time.Minute), 5 * time.Minute, nil},
		{"day-later", exp.Add(24 * time.Hour), 0, token.ErrExpired},
		{"clock-behind-within-leeway", verifiedAt.Add(-30 * time.Second), 0, nil},
		{"issued-in-the-future", verifiedAt.Add(-31 * time.Second), 0, token.ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := token.Verify(tok, jwks, token.VerifyOptions{Now: tt.now, Leeway: tt.leeway})
			t.Log(err)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Verify at %s: %v, want %v", tt.now.Format(time.RFC3339), err, tt.want)
			}
		})
	}
	if _, err := token.Verify(tok, jwks, token.VerifyOptions{Now: verifiedAt, Leeway: -time.Second}); err == nil {
		t.Error("negative leeway accepted")
	}
}

func TestVerifyIssuerAndNonce(t *testing.T) {
	is, _ := newIssuer(t)
	jwks := mustJWKS(t, is)
	withNonce := mustIssue(t, is, token.IssueOptions{Now: verifiedAt, Nonce: "MTIzNDU2Nzg5MGFiY2RlZg"}, snpAffirming())
	without := mustIssue(t, is, token.IssueOptions{Now: verifiedAt}, snpAffirming())
	tests := []struct {
		name string
		tok  string
		o    token.VerifyOptions
		want error
	}{
		{"issuer-matches", withNonce, token.VerifyOptions{Issuer: "https://assay.example"}, nil},
		{"issuer-unchecked", withNonce, token.VerifyOptions{}, nil},
		{"wrong-issuer", withNonce, token.VerifyOptions{Issuer: "https://other.example"}, token.ErrIssuer},
		{"issuer-trailing-slash", withNonce, token.VerifyOptions{Issuer: "https://assay.example/"}, token.ErrIssuer},
		{"nonce-matches", withNonce, token.VerifyOptions{Nonce: "MTIzNDU2Nzg5MGFiY2RlZg"}, nil},
		{"nonce-unchecked", without, token.VerifyOptions{}, nil},
		{"wrong-nonce", withNonce, token.VerifyOptions{Nonce: "MTIzNDU2Nzg5MGFiY2RlZw"}, token.ErrNonce},
		{"nonce-missing", without, token.VerifyOptions{Nonce: "MTIzNDU2Nzg5MGFiY2RlZg"}, token.ErrNonce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Now = verifiedAt
			_, err := token.Verify(tt.tok, jwks, tt.o)
			t.Log(err)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Verify: %v, want %v", err, tt.want)
			}
		})
	}
}

// TestVerifyKeySelection covers the JWKS side: kid absent from the set,
// ambiguous, absent from the header; a key of the wrong type or algorithm
// under the right kid; and sets that are not usable at all.
func TestVerifyKeySelection(t *testing.T) {
	is, k := newIssuer(t)
	tok := mustIssue(t, is, token.IssueOptions{Now: verifiedAt}, snpAffirming())
	pub := mustPublicJWK(t, k)
	other := mustPublicJWK(t, mustKey(t))
	withMember := func(key []byte, name string, value any) []byte {
		var m map[string]any
		if err := json.Unmarshal(key, &m); err != nil {
			t.Fatal(err)
		}
		if value == nil {
			delete(m, name)
		} else {
			m[name] = value
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	set := func(keys ...[]byte) []byte {
		return []byte(`{"keys":[` + string(bytes.Join(keys, []byte(","))) + `]}`)
	}
	noKID := signWithHeader(t, k, `{"alg":"ES256","typ":"JWT"}`, tok)
	tests := []struct {
		name string
		tok  string
		jwks []byte
		want error
	}{
		{"found", tok, set(other, pub), nil},
		{"found-without-alg-and-use", tok, set(withMember(withMember(pub, "alg", nil), "use", nil)), nil},
		{"unknown-kid", tok, set(other), token.ErrUnknownKey},
		{"empty-set", tok, set(), token.ErrUnknownKey},
		{"ambiguous-kid", tok, set(pub, withMember(other, "kid", k.KID)), token.ErrUnknownKey},
		{"header-without-kid", noKID, set(pub), token.ErrUnknownKey},
		{"jwk-alg-rs256", tok, set(withMember(pub, "alg", "RS256")), token.ErrSignature},
		{"jwk-alg-hs256", tok, set(withMember(pub, "alg", "HS256")), token.ErrSignature},
		{"jwk-use-enc", tok, set(withMember(pub, "use", "enc")), token.ErrSignature},
		{"jwk-key-ops-sign-only", tok, set(withMember(pub, "key_ops", []string{"sign"})), token.ErrSignature},
		{"jwk-crv-p384", tok, set(withMember(pub, "crv", "P-384")), token.ErrSignature},
		{"jwk-kty-oct", tok, set([]byte(`{"kty":"oct","kid":"` + k.KID + `"}`)), token.ErrSignature},
		{"jwk-wrong-key-same-kid", tok, set(withMember(other, "kid", k.KID)), token.ErrSignature},
		{"jwk-point-off-curve", tok, set(withMember(pub, "y", base64.RawURLEncoding.EncodeToString(make([]byte, 32)))), token.ErrJWKS},
		{"jwk-short-x", tok, set(withMember(pub, "x", "AQAB")), token.ErrJWKS},
		{"jwk-private", tok, set(withMember(pub, "d", "AQAB")), token.ErrJWKS},
		{"not-json", tok, []byte("keys"), token.ErrJWKS},
		{"no-keys-member", tok, []byte(`{"kys":[]}`), token.ErrJWKS},
		{"key-not-object", tok, []byte(`{"keys":[1]}`), token.ErrJWKS},
		{"jwks-too-large", tok, bytes.Repeat([]byte(" "), token.MaxTokenSize+1), token.ErrJWKS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := token.Verify(tt.tok, tt.jwks, token.VerifyOptions{Now: verifiedAt})
			t.Log(err)
			if tt.want == nil && err != nil || tt.want != nil && kindOf(err) != tt.want {
				t.Errorf("Verify: %v, want %v", err, tt.want)
			}
		})
	}
}

// signWithHeader re-signs the payload of tok under a new header.
func signWithHeader(t testing.TB, k *token.Key, header, tok string) string {
	t.Helper()
	return token.SignEncoded(k, base64.RawURLEncoding.EncodeToString([]byte(header)), strings.Split(tok, ".")[1])
}

// TestVerifyRefusesAlgorithms: unsigned tokens, HMAC tokens keyed with
// the public JWK (the classic confusion), and every algorithm but ES256
// are refused, whatever the signature bytes.
func TestVerifyRefusesAlgorithms(t *testing.T) {
	is, k := newIssuer(t)
	jwks := mustJWKS(t, is)
	tok := mustIssue(t, is, token.IssueOptions{Now: verifiedAt}, snpAffirming())
	parts := strings.Split(tok, ".")
	enc := base64.RawURLEncoding.EncodeToString
	withAlg := func(alg string) string {
		return enc([]byte(`{"alg":"` + alg + `","kid":"` + k.KID + `","typ":"JWT"}`))
	}
	hs256 := func(secret []byte) string {
		input := withAlg("HS256") + "." + parts[1]
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(input))
		return input + "." + enc(mac.Sum(nil))
	}
	tests := []struct {
		name string
		tok  string
		want error
	}{
		{"none-empty-signature", withAlg("none") + "." + parts[1] + ".", token.ErrSignature},
		{"none-kept-signature", withAlg("none") + "." + parts[1] + "." + parts[2], token.ErrSignature},
		{"None-capitalised", withAlg("None") + "." + parts[1] + ".", token.ErrSignature},
		{"hs256-keyed-with-jwks", hs256(jwks), token.ErrSignature},
		{"hs256-keyed-with-jwk", hs256(mustPublicJWK(t, k)), token.ErrSignature},
		{"rs256", withAlg("RS256") + "." + parts[1] + "." + parts[2], token.ErrSignature},
		{"es384", withAlg("ES384") + "." + parts[1] + "." + parts[2], token.ErrSignature},
		{"es256-lowercase", withAlg("es256") + "." + parts[1] + "." + parts[2], token.ErrSignature},
		{"no-alg", token.SignJSON(k, `{"kid":"`+k.KID+`"}`, `{}`), token.ErrMalformed},
		{"alg-not-string", token.SignJSON(k, `{"alg":1,"kid":"`+k.KID+`"}`, `{}`), token.ErrMalformed},
		{"crit", token.SignJSON(k, `{"alg":"ES256","kid":"`+k.KID+`","crit":["b64"],"b64":false}`, `{}`), token.ErrMalformed},
		{"typ-jwe", signWithHeader(t, k, `{"alg":"ES256","kid":"`+k.KID+`","typ":"JWE"}`, tok), token.ErrMalformed},
		{"typ-lowercase-jwt-accepted", signWithHeader(t, k, `{"alg":"ES256","kid":"`+k.KID+`","typ":"jwt"}`, tok), nil},
		{"embedded-jwk-ignored", signWithHeader(t, mustKey(t), `{"alg":"ES256","kid":"`+k.KID+`","jwk":`+string(mustPublicJWK(t, k))+`}`, tok), token.ErrSignature},
		{"signature-der-encoded", parts[0] + "." + parts[1] + "." + enc(derSignature(t, k, parts[0]+"."+parts[1])), token.ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := token.Verify(tt.tok, jwks, token.VerifyOptions{Now: verifiedAt})
			t.Log(err)
			if tt.want == nil && err != nil || tt.want != nil && kindOf(err) != tt.want {
				t.Errorf("Verify: %v, want %v", err, tt.want)
			}
		})
	}
}

// derSignature signs with ASN.1 DER encoding, which JWS does not use.
func derSignature(t testing.TB, k *token.Key, input string) []byte {
	t.Helper()
	der, err := token.MarshalPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte(input))
	sig, err := ecdsa.SignASN1(rand.Reader, priv.(*ecdsa.PrivateKey), d[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// TestVerifyMalformed: forms and claims that are wrong even when signed.
func TestVerifyMalformed(t *testing.T) {
	is, k := newIssuer(t)
	jwks := mustJWKS(t, is)
	good := mustIssue(t, is, token.IssueOptions{Now: verifiedAt, TEEPubKey: []byte(teeJWK)}, snpAffirming())
	claims := decodePart(t, good, 1)
	hdr := `{"alg":"ES256","kid":"` + k.KID + `","typ":"JWT"}`
	// edit returns the good claims with name set to value (deleted when
	// value is nil), signed.
	edit := func(name string, value any) string {
		m := map[string]any{}
		for k, v := range claims {
			m[k] = v
		}
		if value == nil {
			delete(m, name)
		} else {
			m[name] = value
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return token.SignJSON(k, hdr, string(b))
	}
	parts := strings.Split(good, ".")
	tests := []struct {
		name string
		tok  string
		want error
	}{
		{"good", good, nil},
		{"empty", "", token.ErrMalformed},
		{"two-parts", parts[0] + "." + parts[1], token.ErrMalformed},
		{"four-parts", good + ".", token.ErrMalformed},
		{"jwe-five-parts", "a.b.c.d.e", token.ErrMalformed},
		{"json-serialization", `{"payload":"` + parts[1] + `","signatures":[]}`, token.ErrMalformed},
		{"padded-header", parts[0] + "=." + parts[1] + "." + parts[2], token.ErrMalformed},
		{"std-base64-signature", parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]) + "+", token.ErrMalformed},
		{"too-large", good + strings.Repeat("A", token.MaxTokenSize), token.ErrMalformed},
		{"header-not-json", token.SignEncoded(k, "bm90IGpzb24", parts[1]), token.ErrMalformed},
		{"header-trailing-data", signWithHeader(t, k, hdr+"{}", good), token.ErrMalformed},
		{"payload-not-json", token.SignJSON(k, hdr, "not json"), token.ErrMalformed},
		{"payload-array", token.SignJSON(k, hdr, "[]"), token.ErrMalformed},
		{"payload-trailing-data", token.SignJSON(k, hdr, string(mustJSON(t, claims))+"[]"), token.ErrMalformed},
		{"wrong-profile", edit("eat_profile", "tag:example.com,2024:other"), token.ErrMalformed},
		{"no-profile", edit("eat_profile", nil), token.ErrMalformed},
		{"no-submods", edit("submods", map[string]any{}), token.ErrMalformed},
		{"submod-without-status", edit("submods", map[string]any{"snp": map[string]any{}}), token.ErrMalformed},
		{"submod-bad-status", edit("submods", map[string]any{"snp": map[string]any{"ear.status": "great"}}), token.ErrMalformed},
		{"no-verifier-id", edit("ear.verifier-id", nil), token.ErrMalformed},
		{"no-exp", edit("exp", nil), token.ErrMalformed},
		{"no-iat", edit("iat", nil), token.ErrMalformed},
		{"exp-fraction", edit("exp", 1772366700.5), token.ErrMalformed},
		{"exp-string", edit("exp", "1772366700"), token.ErrMalformed},
		{"exp-before-iat", edit("exp", verifiedAt.Unix()-1), token.ErrMalformed},
		{"exp-year-10000", edit("exp", int64(253402300800)), token.ErrMalformed},
		{"iat-negative", edit("iat", -1), token.ErrMalformed},
		{"nonce-too-short", edit("eat_nonce", "abc"), token.ErrMalformed},
		{"tee-pubkey-private", edit("tee-pubkey", map[string]any{"kty": "EC", "crv": "P-256", "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM", "d": "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"}), token.ErrMalformed},
		{"tee-pubkey-not-akpub", edit("tee-pubkey", json.RawMessage(teeRSAJWK)), token.ErrMalformed},
		{"tee-pubkey-not-a-key", edit("tee-pubkey", "key"), token.ErrMalformed},
		{"nbf-future", edit("nbf", verifiedAt.Add(time.Hour).Unix()), token.ErrExpired},
		{"nbf-past", edit("nbf", verifiedAt.Add(-time.Hour).Unix()), nil},
		{"unknown-claims-ignored", edit("x-extra", []int{1, 2}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := token.Verify(tt.tok, jwks, token.VerifyOptions{Now: verifiedAt})
			t.Log(err)
			if tt.want == nil && err != nil || tt.want != nil && kindOf(err) != tt.want {
				t.Errorf("Verify: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestIssueRefuses(t *testing.T) {
	is, _ := newIssuer(t)
	x25519 := `{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`
	array := snpAffirming()
	array.Claims = []int{1}
	clash := snpAffirming()
	clash.Claims = map[string]string{"evidence_sha256": "mine"}
	badStatus := snpAffirming()
	badStatus.Status = attest.Status(7)
	tests := []struct {
		name    string
		results []*attest.Result
		o       token.IssueOptions
	}{
		{"no-results", nil, token.IssueOptions{}},
		{"nil-result", []*attest.Result{nil}, token.IssueOptions{}},
		{"nonce-7-bytes", []*attest.Result{snpAffirming()}, token.IssueOptions{Nonce: "1234567"}},
		{"nonce-89-bytes", []*attest.Result{snpAffirming()}, token.IssueOptions{Nonce: strings.Repeat("n", 89)}},
		{"negative-ttl", []*attest.Result{snpAffirming()}, token.IssueOptions{TTL: -time.Minute}},
		{"sub-second-ttl", []*attest.Result{snpAffirming()}, token.IssueOptions{Now: verifiedAt, TTL: time.Millisecond}},
		{"tee-key-private", []*attest.Result{snpAffirming()}, token.IssueOptions{TEEPubKey: []byte(`{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","d":"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"}`)}},
		{"tee-key-symmetric", []*attest.Result{snpAffirming()}, token.IssueOptions{TEEPubKey: []byte(`{"kty":"oct","k":"c2VjcmV0"}`)}},
		{"tee-key-x25519", []*attest.Result{snpAffirming()}, token.IssueOptions{TEEPubKey: []byte(x25519)}},
		{"tee-key-not-json", []*attest.Result{snpAffirming()}, token.IssueOptions{TEEPubKey: []byte("key")}},
		{"tee-key-empty", []*attest.Result{snpAffirming()}, token.IssueOptions{TEEPubKey: []byte{}}},
		{"claims-array", []*attest.Result{array}, token.IssueOptions{}},
		{"claims-clash", []*attest.Result{clash}, token.IssueOptions{}},
		{"unknown-status", []*attest.Result{badStatus}, token.IssueOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tok, err := is.Issue(tt.results, tt.o); err == nil {
				t.Errorf("Issue = %.40s..., want an error", tok)
			}
		})
	}
}

func TestZeroIssuer(t *testing.T) {
	var is token.Issuer
	if _, err := is.Issue([]*attest.Result{snpAffirming()}, token.IssueOptions{}); err == nil {
		t.Error("the zero Issuer issued a token")
	}
	if _, err := is.JWKS(); err == nil {
		t.Error("the zero Issuer has a JWKS")
	}
	if is.KID() != "" {
		t.Errorf("the zero Issuer has KID %q", is.KID())
	}
}

func TestSubmodNames(t *testing.T) {
	r := func(tee string) *attest.Result { x := snpAffirming(); x.TEE = tee; return x }
	tests := []struct {
		name string
		tees []string
		want []string
	}{
		{"distinct", []string{"snp", "tpm"}, []string{"snp", "tpm"}},
		{"repeated", []string{"snp", "snp", "snp"}, []string{"snp", "snp-2", "snp-3"}},
		{"suffix-taken", []string{"snp", "snp-2", "snp"}, []string{"snp", "snp-2", "snp-3"}},
		{"no-tee", []string{"", ""}, []string{"unknown", "unknown-2"}},
	}
	is, _ := newIssuer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var results []*attest.Result
			for _, tee := range tt.tees {
				results = append(results, r(tee))
			}
			sub := decodePart(t, mustIssue(t, is, token.IssueOptions{}, results...), 1)["submods"].(map[string]any)
			got := slices.Sorted(mapKeys(sub))
			if want := slices.Sorted(slices.Values(tt.want)); !slices.Equal(got, want) {
				t.Errorf("submods %q, want %q", got, want)
			}
		})
	}
}

func TestKeyRoundTrip(t *testing.T) {
	k := mustKey(t)
	der, err := token.MarshalPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	back, err := token.ParsePrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	if back.KID != k.KID {
		t.Errorf("KID %q after the round trip, want %q", back.KID, k.KID)
	}
	if a, b := mustPublicJWK(t, k), mustPublicJWK(t, back); !bytes.Equal(a, b) {
		t.Errorf("public JWK changed: %s, %s", a, b)
	}
	// The KID is the RFC 7638 thumbprint, as jwx computes it too.
	pub := parseJWK(t, mustPublicJWK(t, k))
	jk, err := jwk.FromRaw(pub)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := jk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if want := base64.RawURLEncoding.EncodeToString(tp); k.KID != want {
		t.Errorf("KID %q, jwx thumbprint %q", k.KID, want)
	}
	// A token signed before the round trip verifies with the parsed key's
	// issuer, and the other way round.
	is1, err := token.NewIssuer("https://assay.example", k, nil)
	if err != nil {
		t.Fatal(err)
	}
	is2, err := token.NewIssuer("https://assay.example", back, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := mustIssue(t, is1, token.IssueOptions{Now: verifiedAt}, snpAffirming())
	if _, err := token.Verify(tok, mustJWKS(t, is2), token.VerifyOptions{Now: verifiedAt}); err != nil {
		t.Error(err)
	}
}

func TestParsePrivateKeyRefuses(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	sec1, err := x509.MarshalECPrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	for name, der := range map[string][]byte{
		"p384":    pkcs8(p384),
		"rsa":     pkcs8(rsaKey),
		"ed25519": pkcs8(edKey),
		"sec1":    sec1,
		"empty":   nil,
		"garbage": []byte("not a key"),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := token.ParsePrivateKey(der); err == nil {
				t.Error("accepted")
			}
		})
	}
	if _, err := token.MarshalPrivateKey(&token.Key{}); err == nil {
		t.Error("MarshalPrivateKey accepted an empty Key")
	}
	if _, err := (&token.Key{}).PublicJWK(); err == nil {
		t.Error("PublicJWK accepted an empty Key")
	}
}

func TestNewIssuerRefuses(t *testing.T) {
	k := mustKey(t)
	pub := mustPublicJWK(t, k)
	other := mustKey(t)
	otherPub := mustPublicJWK(t, other)
	tampered := *other
	tampered.KID = "my-key"
	member := func(name, value string) []byte {
		var m map[string]any
		if err := json.Unmarshal(otherPub, &m); err != nil {
			t.Fatal(err)
		}
		if value == "" {
			delete(m, name)
		} else {
			m[name] = value
		}
		return mustJSON(t, m)
	}
	tests := []struct {
		name      string
		issuer    string
		key       *token.Key
		published [][]byte
	}{
		{"empty-issuer", "", k, nil},
		{"nil-key", "https://assay.example", nil, nil},
		{"empty-key", "https://assay.example", &token.Key{}, nil},
		{"kid-not-thumbprint", "https://assay.example", &tampered, nil},
		{"published-active-again", "https://assay.example", k, [][]byte{pub}},
		{"published-twice", "https://assay.example", k, [][]byte{otherPub, otherPub}},
		{"published-without-kid", "https://assay.example", k, [][]byte{member("kid", "")}},
		{"published-private", "https://assay.example", k, [][]byte{member("d", "AQAB")}},
		{"published-rs256", "https://assay.example", k, [][]byte{member("alg", "RS256")}},
		{"published-bad-point", "https://assay.example", k, [][]byte{member("x", "AQAB")}},
		{"published-not-json", "https://assay.example", k, [][]byte{[]byte("{")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := token.NewIssuer(tt.issuer, tt.key, tt.published); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func mustKey(t testing.TB) *token.Key {
	t.Helper()
	k, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustPublicJWK(t testing.TB, k *token.Key) []byte {
	t.Helper()
	b, err := k.PublicJWK()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseJWK reads a public JWK with jwx, independently of the package.
func parseJWK(t testing.TB, b []byte) crypto.PublicKey {
	t.Helper()
	k, err := jwk.ParseKey(b)
	if err != nil {
		t.Fatal(err)
	}
	var raw any
	if err := k.Raw(&raw); err != nil {
		t.Fatal(err)
	}
	return raw
}

func firstKey(t testing.TB, jwks []byte) []byte {
	t.Helper()
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS %s: %v", jwks, err)
	}
	return set.Keys[0]
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
