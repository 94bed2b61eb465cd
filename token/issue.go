package token

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/veraison/ear"

	"github.com/assay-dev/assay/attest"
)

const (
	// Developer is the ear.verifier-id developer of every token.
	Developer = "https://github.com/assay-dev/assay"
	// DefaultTTL is a token's lifetime when IssueOptions.TTL is zero.
	DefaultTTL = 5 * time.Minute
	// DefaultPolicyID is ear.appraisal-policy-id when IssueOptions.PolicyID
	// is empty.
	DefaultPolicyID = "assay/default"
	// DefaultLeeway is the clock skew Verify allows when
	// VerifyOptions.Leeway is zero.
	DefaultLeeway = 30 * time.Second
	// MaxTokenSize bounds what Verify reads: a token (and a JWKS) over
	// 1 MiB is refused before any decoding.
	MaxTokenSize = 1 << 20
)

// Issuer signs EAR attestation result tokens with one active key and
// publishes, beside it, the retired keys whose tokens may still be live.
// Make one with NewIssuer; the zero Issuer has no key and issues nothing.
// An Issuer is never modified, so it may be shared between goroutines;
// rotation makes a new one.
type Issuer struct {
	iss       string
	key       *Key
	published []json.RawMessage
}

// NewIssuer returns an issuer that names itself issuer (the iss claim, a
// URL relying parties know it by), signs with active, and lists published
// (public JWKs of retired keys, as PublicJWK returns them) in its JWKS
// after the active key. Each published key must be a public ES256 key with
// a kid that no other key of the set uses.
func NewIssuer(issuer string, active *Key, published [][]byte) (*Issuer, error) {
	if issuer == "" {
		return nil, errors.New("token: the issuer name is empty")
	}
	if active == nil || active.priv == nil {
		return nil, errors.New("token: no active key")
	}
	x, y, err := coordinates(&active.priv.PublicKey)
	if err != nil {
		return nil, err
	}
	if kid := thumbprint(x, y); active.KID != kid {
		return nil, fmt.Errorf("token: the active key's KID is %q, its thumbprint is %q", active.KID, kid)
	}
	is := &Issuer{iss: issuer, key: active}
	seen := map[string]bool{active.KID: true}
	for i, raw := range published {
		k, err := parseJWK(raw)
		if err != nil {
			return nil, fmt.Errorf("token: published key %d: %v", i, err)
		}
		if p := k.es256Problem(); p != "" {
			return nil, fmt.Errorf("token: published key %d: %s", i, p)
		}
		if _, err := k.publicKey(); err != nil {
			return nil, fmt.Errorf("token: published key %d: %v", i, err)
		}
		if k.KID == "" {
			return nil, fmt.Errorf("token: published key %d has no kid", i)
		}
		if seen[k.KID] {
			return nil, fmt.Errorf("token: published key %d: kid %q is already in the set", i, k.KID)
		}
		seen[k.KID] = true
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, fmt.Errorf("token: published key %d: %v", i, err)
		}
		is.published = append(is.published, buf.Bytes())
	}
	return is, nil
}

// KID is the key ID of the active key, the kid of every token it signs.
func (is *Issuer) KID() string {
	if is == nil || is.key == nil {
		return ""
	}
	return is.key.KID
}

// JWKS returns the issuer's JSON Web Key Set (RFC 7517, section 5), to
// serve at /.well-known/jwks.json: {"keys":[active, published...]}.
func (is *Issuer) JWKS() ([]byte, error) {
	if is == nil || is.key == nil {
		return nil, errNoIssuer
	}
	active, err := is.key.PublicJWK()
	if err != nil {
		return nil, err
	}
	keys := append([]json.RawMessage{active}, is.published...)
	return json.Marshal(struct {
		Keys []json.RawMessage `json:"keys"`
	}{keys})
}

var errNoIssuer = errors.New("token: the Issuer has no key (make it with NewIssuer)")

// IssueOptions are the parameters of one token. Options pass by value and
// are never written to.
type IssueOptions struct {
	// Now is the issuance time (iat); the zero value means time.Now().
	Now time.Time
	// TTL is the lifetime: exp is iat + TTL. Zero means DefaultTTL (five
	// minutes); a negative TTL, or one under a second, is an error.
	TTL time.Duration
	// Nonce is the relying party's challenge, carried as eat_nonce; EAR
	// wants 8 to 88 bytes. Empty means the token has no eat_nonce.
	Nonce string
	// TEEPubKey is the public JWK the evidence bound (a TEE's ephemeral
	// key, as Confidential Containers' KBS protocol sends it). The caller
	// has checked that binding; Issue only carries the key, as
	// ear.veraison.key-attestation in every submod and as the top-level
	// tee-pubkey claim. RSA, EC and Ed25519 keys are accepted; a JWK with
	// private members is refused. Nil means no key claims.
	TEEPubKey []byte
	// PolicyID is every submod's ear.appraisal-policy-id; empty means
	// DefaultPolicyID.
	PolicyID string
	// VerifierBuild names this build of Assay in ear.verifier-id; empty
	// means "unknown".
	VerifierBuild string
	// Subject is the sub claim; empty means none.
	Subject string
}

// Issue signs one token over the appraisals in results, one EAR submod
// each, named by the result's TEE (a second result of the same TEE gets
// "-2", a third "-3"; a result without a TEE is "unknown"). See the
// package documentation for the claims.
//
// Each submod's ear.status is the result's Status, lowered (never raised)
// to the worst tier of its trust vector; a result that says affirming but
// whose checks say otherwise is not passed off as affirming.
func (is *Issuer) Issue(results []*attest.Result, o IssueOptions) (string, error) {
	if is == nil || is.key == nil {
		return "", errNoIssuer
	}
	if len(results) == 0 {
		return "", errors.New("token: no results to issue a token for (EAR needs at least one submod)")
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	ttl := o.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	iat, exp := now.Unix(), now.Add(ttl).Unix()
	if ttl < 0 || exp <= iat {
		return "", fmt.Errorf("token: TTL %v leaves no lifetime, want at least a second", ttl)
	}
	if n := len(o.Nonce); o.Nonce != "" && (n < 8 || n > 88) {
		return "", fmt.Errorf("token: nonce is %d bytes, EAR eat_nonce wants 8 to 88", n)
	}
	policyID := o.PolicyID
	if policyID == "" {
		policyID = DefaultPolicyID
	}
	build := o.VerifierBuild
	if build == "" {
		build = "unknown"
	}
	var akpub crypto.PublicKey
	var teeJWK json.RawMessage
	if o.TEEPubKey != nil {
		var err error
		if akpub, teeJWK, err = teeKey(o.TEEPubKey); err != nil {
			return "", fmt.Errorf("token: TEE public key: %w", err)
		}
	}

	profile, developer := ear.EatProfile, Developer
	ar := ear.AttestationResult{
		Profile:    &profile,
		IssuedAt:   &iat,
		VerifierID: &ear.VerifierIdentity{Build: &build, Developer: &developer},
		Submods:    map[string]*ear.Appraisal{},
	}
	if o.Nonce != "" {
		nonce := o.Nonce
		ar.Nonce = &nonce
	}
	for i, name := range submodNames(results) {
		a, err := appraisal(results[i], policyID, akpub)
		if err != nil {
			return "", fmt.Errorf("token: result %d (%s): %w", i, name, err)
		}
		ar.Submods[name] = a
	}
	// The EAR library validates and serializes the EAR claims; the JWT
	// claims it does not know (iss, exp, sub) and tee-pubkey join them.
	earJSON, err := json.Marshal(ar)
	if err != nil {
		return "", fmt.Errorf("token: EAR claims: %w", err)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(earJSON, &claims); err != nil {
		return "", fmt.Errorf("token: EAR claims: %w", err)
	}
	claims["iss"], _ = json.Marshal(is.iss)
	claims["exp"], _ = json.Marshal(exp)
	if o.Subject != "" {
		claims["sub"], _ = json.Marshal(o.Subject)
	}
	if teeJWK != nil {
		claims["tee-pubkey"] = teeJWK
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("token: claims: %w", err)
	}

	return is.sign(payload)
}

// sign makes the compact JWS (RFC 7515 §7.1) of payload with ES256: the
// protected header names the key, the signature is R ‖ S, each 32 bytes
// big-endian (RFC 7518 §3.4), made with crypto/ecdsa directly; Verify
// checks the same form.
func (is *Issuer) sign(payload []byte) (string, error) {
	hdr, err := json.Marshal(struct {
		Alg string `json:"alg"`
		KID string `json:"kid"`
		Typ string `json:"typ"`
	}{"ES256", is.key.KID, "JWT"})
	if err != nil {
		return "", fmt.Errorf("token: header: %w", err)
	}
	enc := base64.RawURLEncoding
	input := make([]byte, 0, enc.EncodedLen(len(hdr))+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(64))
	input = enc.AppendEncode(input, hdr)
	input = append(input, '.')
	input = enc.AppendEncode(input, payload)
	digest := sha256.Sum256(input)
	r, s, err := ecdsa.Sign(rand.Reader, is.key.priv, digest[:])
	if err != nil {
		return "", fmt.Errorf("token: signing: %w", err)
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	input = append(input, '.')
	input = enc.AppendEncode(input, sig[:])
	return string(input), nil
}

// submodNames names each result's submod after its TEE, suffixing -2, -3
// (and so on, skipping names already taken) when a TEE repeats.
func submodNames(results []*attest.Result) []string {
	names := make([]string, len(results))
	used := map[string]bool{}
	for i, r := range results {
		base := "unknown"
		if r != nil && r.TEE != "" {
			base = r.TEE
		}
		name := base
		for n := 2; used[name]; n++ {
			name = fmt.Sprintf("%s-%d", base, n)
		}
		used[name] = true
		names[i] = name
	}
	return names
}

// tiers maps attest's tiers onto EAR's (draft-ietf-rats-ear, section 3.2).
var tiers = map[attest.Status]ear.TrustTier{
	attest.StatusNone:            ear.TrustTierNone,
	attest.StatusAffirming:       ear.TrustTierAffirming,
	attest.StatusWarning:         ear.TrustTierWarning,
	attest.StatusContraindicated: ear.TrustTierContraindicated,
}

func appraisal(r *attest.Result, policyID string, akpub crypto.PublicKey) (*ear.Appraisal, error) {
	if r == nil {
		return nil, errors.New("nil result")
	}
	status, ok := tiers[r.Status]
	if !ok {
		return nil, fmt.Errorf("status %v is not an EAR tier", r.Status)
	}
	tv := TrustVector(r)
	a := &ear.Appraisal{Status: &status, TrustVector: &tv, AppraisalPolicyID: &policyID}
	if status != ear.TrustTierNone {
		// Only lowers: none is below affirming in EAR's order, so a
		// result without a verdict is left alone (its vector is empty).
		a.UpdateStatusFromTrustVector()
	}
	evidence, err := annotatedEvidence(r)
	if err != nil {
		return nil, err
	}
	a.VeraisonAnnotatedEvidence = &evidence
	if akpub != nil {
		if err := a.SetKeyAttestation(akpub); err != nil {
			return nil, fmt.Errorf("key attestation: %w", err)
		}
	}
	return a, nil
}

// annotatedEvidence is the result's claims as a JSON object, plus the
// evidence's hash and format. Numbers stay json.Number, so that 64-bit
// fields survive the round trip through map[string]any intact.
func annotatedEvidence(r *attest.Result) (map[string]any, error) {
	m := map[string]any{}
	if r.Claims != nil {
		b, err := json.Marshal(r.Claims)
		if err != nil {
			return nil, fmt.Errorf("claims: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("claims: %w", err)
		}
		switch v := v.(type) {
		case nil:
		case map[string]any:
			m = v
		default:
			return nil, fmt.Errorf("claims are a JSON %T, want an object", v)
		}
	}
	for k, v := range map[string]string{"evidence_sha256": r.Evidence.SHA256, "evidence_format": r.Evidence.Format} {
		if _, ok := m[k]; ok {
			return nil, fmt.Errorf("claims already have a member %q", k)
		}
		m[k] = v
	}
	return m, nil
}

// teeKey checks a TEE's public JWK and returns its key, for
// SetKeyAttestation, and the JWK compacted, for the tee-pubkey claim.
func teeKey(b []byte) (crypto.PublicKey, json.RawMessage, error) {
	if _, err := parseJWK(b); err != nil {
		return nil, nil, err
	}
	k, err := jwk.ParseKey(b)
	if err != nil {
		return nil, nil, err
	}
	var raw any
	if err := k.Raw(&raw); err != nil {
		return nil, nil, err
	}
	switch raw.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, nil, fmt.Errorf("%T keys are not supported, want RSA, EC or Ed25519", raw)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, nil, err
	}
	return raw, buf.Bytes(), nil
}
