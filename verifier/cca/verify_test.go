package cca_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"path/filepath"
	"testing"
	"time"

	cose "github.com/veraison/go-cose"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier/cca"
)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

func failed(checks []attest.Check, name string) bool {
	for _, c := range checks {
		if c.Name == name && !c.OK {
			return true
		}
	}
	return false
}

func pemKey(t testing.TB, k *ecdsa.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// unbound keeps only the keys of endorsements, so that a flipped byte in
// an identity claim is judged by the signature, not by the endorsement's
// binding to the platform's instance ID.
func unbound(es []cca.Endorsement) []cca.Endorsement {
	var out []cca.Endorsement
	for _, e := range es {
		out = append(out, cca.Endorsement{Key: e.Key, Source: e.Source, Format: e.Format})
	}
	return out
}

// region is a signed part of one token inside the collection.
type region struct {
	name  string // "realm" or "platform"
	check string // the check that must fail
	from  int    // offset in the collection
	to    int
}

// signedRegions locates each token's protected header and payload (the
// bytes its COSE_Sign1 signature covers, RFC 9052 section 4.4) in b.
func signedRegions(t *testing.T, b []byte, tok *cca.Token) []region {
	t.Helper()
	var out []region
	for _, x := range []struct {
		name, check string
		raw         []byte
	}{{"platform", "platform.signature", tok.PlatformToken}, {"realm", "realm.signature", tok.RealmToken}} {
		off := bytes.Index(b, x.raw)
		m := cose.NewSign1Message()
		if off < 0 || m.UnmarshalCBOR(x.raw) != nil {
			t.Fatalf("%s token not found in the collection", x.name)
		}
		for _, part := range [][]byte{m.Headers.RawProtected, m.Payload} {
			i := bytes.Index(x.raw, part)
			if i < 0 {
				t.Fatalf("%s token: signed part not found", x.name)
			}
			out = append(out, region{x.name, x.check, off + i, off + i + len(part)})
		}
	}
	return out
}

// TestFlipSignedBytes flips every byte each token's signature covers (its
// protected header and payload), in all three corpus tokens: each variant
// must fail to parse (ErrMalformed) or fail that token's signature check
// (ErrSignature). The endorsements are unbound so that a flip in the
// instance ID is caught by the signature, not by the CPAK lookup.
func TestFlipSignedBytes(t *testing.T) {
	for _, c := range ccaCorpus(t) {
		t.Run(c.id, func(t *testing.T) {
			t.Parallel()
			b := readFile(t, c.token)
			tok, err := cca.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			ends := unbound(endorsementsOf(t, c.collateral))
			o := cca.Options{Endorsements: ends, Now: at(verifyAt)}
			if _, _, err := cca.Verify(tok, o); err != nil {
				t.Fatalf("unmodified token: %v", err)
			}
			// Each variant costs two or three ECDSA verifications; -short
			// flips every 13th byte only.
			step := 1
			if testing.Short() {
				step = 13
			}
			n := 0
			for _, r := range signedRegions(t, b, tok) {
				for i := r.from; i < r.to; i += step {
					m := bytes.Clone(b)
					m[i] ^= 0x01
					n++
					mt, err := cca.Parse(m)
					if err != nil {
						if !errors.Is(err, cca.ErrMalformed) {
							t.Errorf("%s byte %d: parse error %v is not ErrMalformed", r.name, i, err)
						}
						continue
					}
					_, checks, err := cca.Verify(mt, o)
					if !errors.Is(err, cca.ErrSignature) && !errors.Is(err, cca.ErrMalformed) {
						t.Errorf("%s byte %d: Verify returned %v, want ErrSignature or ErrMalformed", r.name, i, err)
					}
					if !failed(checks, r.check) {
						t.Errorf("%s byte %d: %s did not fail: %+v", r.name, i, r.check, checks)
					}
				}
			}
			t.Logf("%d single-byte variants rejected", n)
		})
	}
}

// A flipped payload byte, through the command-line path, contraindicates
// the token and names the check that caught it.
func TestFlipThroughAppraise(t *testing.T) {
	for _, c := range ccaCorpus(t) {
		t.Run(c.id, func(t *testing.T) {
			b := readFile(t, c.token)
			tok, err := cca.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range signedRegions(t, b, tok) {
				// The last byte of each payload is a claim value's, so the
				// token still parses and the signature must catch it.
				m := bytes.Clone(b)
				m[r.to-1] ^= 0x01
				f := filepath.Join(t.TempDir(), "token.cbor")
				writeFile(t, f, m)
				res := appraiseFiles(t, attest.Params{Now: verifyAt}, append([]string{f}, c.collateral...)...)
				ff := firstFailure(res)
				if res.Status != attest.StatusContraindicated || ff == nil || (ff.Name != r.check && ff.Name != "parse") {
					t.Errorf("%s byte %d: status %s, first failure %+v; want contraindicated at %s", r.name, r.to-1, res.Status, ff, r.check)
				}
			}
		})
	}
}

func TestWrongCPAK(t *testing.T) {
	dir := testutil.CorpusDir(t)
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(t.TempDir(), "wrong.pub")
	writeFile(t, wrong, pemKey(t, &k.PublicKey))
	for _, c := range ccaCorpus(t) {
		t.Run(c.id, func(t *testing.T) {
			// Only the wrong key: the signature check fails.
			r := appraiseFiles(t, attest.Params{Now: verifyAt}, c.token, wrong)
			if f := firstFailure(r); r.Status != attest.StatusContraindicated || f == nil || f.Name != "platform.signature" {
				t.Fatalf("status %s, first failure %+v; want contraindicated at platform.signature", r.Status, f)
			}
			tok, _ := cca.Parse(readFile(t, c.token))
			ends, _, err := cca.ParseEndorsements(readFile(t, wrong), "wrong.pub")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := cca.Verify(tok, cca.Options{Endorsements: ends, Now: at(verifyAt)}); !errors.Is(err, cca.ErrSignature) {
				t.Errorf("Verify: %v, want ErrSignature", err)
			}
			// The wrong key beside the right one: the right one is found.
			r = appraiseFiles(t, attest.Params{Now: verifyAt}, append([]string{c.token, wrong}, c.collateral...)...)
			if r.Status != attest.StatusAffirming {
				t.Errorf("with the right key too: status %s, first failure %+v", r.Status, firstFailure(r))
			}
		})
	}

	// The right key under an endorsement for another platform is not used.
	tok, err := cca.Parse(readFile(t, filepath.Join(dir, "cca/ccatoken/tf-rmm-cca_token.cbor")))
	if err != nil {
		t.Fatal(err)
	}
	ta, _, err := cca.ParseEndorsements(readFile(t, filepath.Join(dir, "cca/trustee/tastore.json")), "tastore.json")
	if err != nil {
		t.Fatal(err)
	}
	ta[0].InstanceID = bytes.Clone(ta[0].InstanceID)
	ta[0].InstanceID[32] ^= 0xff
	_, checks, err := cca.Verify(tok, cca.Options{Endorsements: ta, Now: at(verifyAt)})
	if !errors.Is(err, cca.ErrCollateralMissing) || !failed(checks, "platform.signature") {
		t.Errorf("CPAK endorsed for another instance ID: %v, want ErrCollateralMissing at platform.signature", err)
	}
	ta[0].InstanceID = nil
	ta[0].ImplementationID[0] ^= 0xff
	if _, _, err := cca.Verify(tok, cca.Options{Endorsements: ta, Now: at(verifyAt)}); !errors.Is(err, cca.ErrCollateralMissing) {
		t.Errorf("CPAK endorsed for another implementation ID: %v, want ErrCollateralMissing", err)
	}

	// A P-256 CPAK cannot verify an ES384 platform token: named, not tried.
	k256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, _, err = cca.Verify(tok, cca.Options{Endorsements: []cca.Endorsement{{Key: &k256.PublicKey, Source: "p256", Format: cca.FormatPEMKey}}})
	if !errors.Is(err, cca.ErrSignature) {
		t.Errorf("P-256 key for an ES384 token: %v, want ErrSignature", err)
	}
}

func TestNonce(t *testing.T) {
	for _, c := range ccaCorpus(t) {
		t.Run(c.id, func(t *testing.T) {
			tok, err := cca.Parse(readFile(t, c.token))
			if err != nil {
				t.Fatal(err)
			}
			challenge, _ := hex.DecodeString(cca.NewClaims(tok).Realm.Challenge)
			ends := endorsementsOf(t, c.collateral)

			right := cca.Options{Endorsements: ends, Now: at(verifyAt), Nonce: challenge}
			if _, checks, err := cca.Verify(tok, right); err != nil {
				t.Fatalf("the realm challenge as nonce: %v", err)
			} else if n := checks[len(checks)-1]; n.Name != "nonce" || !n.OK || n.Skipped {
				t.Errorf("nonce check %+v, want passed", n)
			}

			wrong := bytes.Clone(challenge)
			wrong[0] ^= 1
			for name, nonce := range map[string][]byte{
				"flipped":  wrong,
				"prefix":   challenge[:32], // zero-padded, it is not the challenge
				"too-long": append(bytes.Clone(challenge), 0),
				// The longest --nonce (Nitro's field): refused, not padded.
				"cli-maximum": append(bytes.Clone(challenge), make([]byte, 512-len(challenge))...),
			} {
				o := right
				o.Nonce = nonce
				_, checks, err := cca.Verify(tok, o)
				if !errors.Is(err, cca.ErrNonce) || !failed(checks, "nonce") {
					t.Errorf("%s nonce: %v, want ErrNonce at the nonce check", name, err)
				}
			}

			// Through the command line: contraindicated, named.
			r := appraiseFiles(t, attest.Params{Now: verifyAt, Nonce: wrong}, append([]string{c.token}, c.collateral...)...)
			if f := firstFailure(r); r.Status != attest.StatusContraindicated || f == nil || f.Name != "nonce" {
				t.Errorf("wrong nonce: status %s, first failure %+v", r.Status, f)
			}
		})
	}
}

// A Token not made by Parse is refused, not dereferenced.
func TestZeroToken(t *testing.T) {
	for _, tok := range []*cca.Token{nil, {}, {PlatformToken: []byte{1}, RealmToken: []byte{2}}} {
		if _, _, err := cca.Verify(tok, cca.Options{}); !errors.Is(err, cca.ErrMalformed) {
			t.Errorf("Verify(%v): %v, want ErrMalformed", tok, err)
		}
		if c := cca.NewClaims(tok); c == nil || c.RealHardware != nil {
			t.Errorf("NewClaims(%v) = %+v", tok, c)
		}
	}
}

// Collateral that is not a CPAK: an RSA public key (a TPM AK, say) is
// passed over; a broken Trustee store fails platform.endorsement.
func TestForeignAndBrokenCollateral(t *testing.T) {
	c := ccaCorpus(t)[0]
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	ak := filepath.Join(dir, "ak.pem")
	writeFile(t, ak, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	r := appraiseFiles(t, attest.Params{Now: verifyAt}, append([]string{c.token, ak}, c.collateral...)...)
	if r.Status != attest.StatusAffirming {
		t.Errorf("with an RSA key beside the CPAK: status %s, first failure %+v", r.Status, firstFailure(r))
	}
	broken := filepath.Join(dir, "tastore.json")
	writeFile(t, broken, []byte(`[{"pkey":{"kty":"EC","crv":"P-384","x":"AA","y":"AA"},"instance-id":"01","implementation-id":"00"}]`))
	r = appraiseFiles(t, attest.Params{Now: verifyAt}, append([]string{c.token, broken}, c.collateral...)...)
	if f := firstFailure(r); r.Status != attest.StatusContraindicated || f == nil || f.Name != "platform.endorsement" {
		t.Errorf("with a broken tastore: status %s, first failure %+v", r.Status, f)
	}
}
