package cca_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	cose "github.com/veraison/go-cose"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/verifier/cca"
)

// No CoRIM of the corpus is signed. The tests sign the corpus' unsigned
// CCA endorsements (Veraison's e2e CoRIM, a copy in testdata/) the way
// github.com/veraison/corim v1.1.2 does (COSE_Sign1, content type
// application/rim+cbor, corim-meta at protected header label 8, the
// unsigned CoRIM without its tag 501 as payload) and the way the draft
// writes it (payload tagged 501; signer in CWT claims, label 15), with
// keys made in the test.

// e2eToken and e2eCoRIM are Veraison's end-to-end CCA token and the
// unsigned CoRIM that endorses its CPAK (valid until 2025-12-31).
var (
	e2eToken = filepath.Join("testdata", "veraison-e2e-cca-evidence.cbor")
	e2eCoRIM = filepath.Join("testdata", "veraison-e2e-cca-endorsements.cbor")
)

type signOpts struct {
	untagged  bool           // payload without tag 501, as veraison/corim writes it
	cwt       bool           // signer in CWT claims (15) instead of corim-meta (8)
	validity  [2]time.Time   // signature validity (zero: none)
	extra     map[int64]any  // more protected header parameters
	noSigner  bool           // neither corim-meta nor CWT claims
	ctype     string         // content type; "" is application/rim+cbor
	detached  bool           // no payload
	unprotect map[int64]any  // unprotected header parameters
	alg       cose.Algorithm // zero: ES256
}

// signCoRIM signs an unsigned CoRIM (tag 501) as a signed CoRIM.
func signCoRIM(t testing.TB, corim []byte, key crypto.Signer, o signOpts) []byte {
	t.Helper()
	payload := corim
	if o.untagged {
		var tag cbor.RawTag
		if err := cbor.Unmarshal(corim, &tag); err != nil || tag.Number != 501 {
			t.Fatalf("not a tagged CoRIM: %v", err)
		}
		payload = tag.Content
	}
	alg := o.alg
	if alg == 0 {
		alg = cose.AlgorithmES256
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(alg)
	ct := o.ctype
	if ct == "" {
		ct = "application/rim+cbor"
	}
	msg.Headers.Protected[cose.HeaderLabelContentType] = ct
	switch {
	case o.noSigner:
	case o.cwt:
		claims := map[int64]any{1: "ACME Inc."}
		if !o.validity[1].IsZero() {
			claims[5], claims[4] = o.validity[0].Unix(), o.validity[1].Unix()
		}
		raw, err := cbor.Marshal(claims)
		if err != nil {
			t.Fatal(err)
		}
		msg.Headers.Protected[int64(15)] = cbor.RawMessage(raw)
	default:
		meta := map[int64]any{0: map[int64]any{0: "ACME Inc.", 1: cbor.Tag{Number: 32, Content: "https://acme.example"}}}
		if !o.validity[1].IsZero() {
			meta[1] = map[int64]any{0: cbor.Tag{Number: 1, Content: o.validity[0].Unix()}, 1: cbor.Tag{Number: 1, Content: o.validity[1].Unix()}}
		}
		mb, err := cbor.Marshal(meta)
		if err != nil {
			t.Fatal(err)
		}
		msg.Headers.Protected[int64(8)] = mb
	}
	for k, v := range o.extra {
		msg.Headers.Protected[k] = v
	}
	for k, v := range o.unprotect {
		msg.Headers.Unprotected[k] = v
	}
	msg.Payload = payload
	s, err := cose.NewSigner(alg, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := msg.Sign(rand.Reader, nil, s); err != nil {
		t.Fatal(err)
	}
	if o.detached {
		msg.Payload = nil
	}
	b, err := msg.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pemPublic(t testing.TB, k crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// appraiseWith writes the files to a directory and appraises them as
// `assay verify` would, the e2e token first.
func appraiseWith(t *testing.T, now time.Time, files map[string][]byte) *attest.Result {
	t.Helper()
	dir := t.TempDir()
	paths := []string{e2eToken}
	for name, b := range files {
		p := filepath.Join(dir, name)
		writeFile(t, p, b)
		paths = append(paths, p)
	}
	return appraiseFiles(t, attest.Params{Now: now}, paths...)
}

func checkOf(r *attest.Result, name string) *attest.Check {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

// TestSignedCoRIMVerifies: a signed CoRIM endorses the e2e token's CPAK
// once its signature verifies with the supplied key, in every form: the
// payload tagged or not, the signer in corim-meta or in CWT claims, the
// key as a PEM PUBLIC KEY or in a certificate (RSA-PSS here).
func TestSignedCoRIMVerifies(t *testing.T) {
	corim := readFile(t, e2eCoRIM)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaCert := selfSigned(t, rk)
	tests := []struct {
		name   string
		signed []byte
		key    map[string][]byte
	}{
		{"veraison-form", signCoRIM(t, corim, ec, signOpts{untagged: true}), map[string][]byte{"corim-signer.pub": pemPublic(t, &ec.PublicKey)}},
		{"tagged-payload", signCoRIM(t, corim, ec, signOpts{}), map[string][]byte{"corim-signer.pub": pemPublic(t, &ec.PublicKey)}},
		{"cwt-claims", signCoRIM(t, corim, ec, signOpts{cwt: true, validity: [2]time.Time{verifyAt.AddDate(-1, 0, 0), verifyAt.AddDate(1, 0, 0)}}), map[string][]byte{"corim-signer.pub": pemPublic(t, &ec.PublicKey)}},
		{"rsa-pss-certificate", signCoRIM(t, corim, rk, signOpts{alg: cose.AlgorithmPS256}), map[string][]byte{"corim-signer.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rsaCert.Raw})}},
	}
	want := []string{"parse", "realm.signature", "corim.signature", "platform.signature", "platform.endorsement", "binding", "nonce", "platform.lifecycle"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if f, ok := cca.SniffCollateral(tc.signed); !ok || f != cca.FormatSignedCoRIM {
				t.Fatalf("SniffCollateral = %q %v", f, ok)
			}
			files := map[string][]byte{"endorsements.cbor": tc.signed}
			for k, v := range tc.key {
				files[k] = v
			}
			r := appraiseWith(t, verifyAt, files)
			if r.Status != attest.StatusAffirming || !slices.Equal(checkNames(r), want) {
				t.Fatalf("status %s, checks %v, failed %+v", r.Status, checkNames(r), r.Failed())
			}
			c := r.Claims.(*cca.Claims)
			if c.CPAK == nil || c.CPAK.Format != cca.FormatSignedCoRIM || c.CPAK.CoRIMSigner != "ACME Inc." {
				t.Errorf("cpak claims %+v", c.CPAK)
			}
			if e := checkOf(r, "platform.endorsement"); !strings.Contains(e.Detail, "corim.signature") {
				t.Errorf("platform.endorsement does not say what vouches: %s", e.Detail)
			}
		})
	}
}

func selfSigned(t testing.TB, k *rsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "ACME CoRIM signer"},
		NotBefore: verifyAt.AddDate(-1, 0, 0), NotAfter: verifyAt.AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSignedCoRIMRefused: a signed CoRIM whose signature verifies with no
// supplied key fails corim.signature (ErrSignature), and its CPAK is not
// used; a certificate in its own unprotected header does not count.
func TestSignedCoRIMRefused(t *testing.T) {
	corim := readFile(t, e2eCoRIM)
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	signed := signCoRIM(t, corim, signer, signOpts{})
	withChain := signCoRIM(t, corim, signer, signOpts{unprotect: map[int64]any{33: selfSigned(t, rk).Raw}})
	tests := []struct {
		name  string
		files map[string][]byte
	}{
		{"no-key", map[string][]byte{"e.cbor": signed}},
		{"another-key", map[string][]byte{"e.cbor": signed, "k.pub": pemPublic(t, &other.PublicKey)}},
		{"x5chain-in-unprotected-header", map[string][]byte{"e.cbor": withChain}},
		// The bare PEM CPAK would verify the platform token: the bad
		// CoRIM still makes the result contraindicated.
		{"beside-a-good-cpak", map[string][]byte{"e.cbor": signed, "cpak.pub": pemKey(t, cpakOf(t))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := appraiseWith(t, verifyAt, tc.files)
			c := checkOf(r, "corim.signature")
			if r.Status != attest.StatusContraindicated || c == nil || c.OK || !strings.Contains(c.Detail, "verifies with none") {
				t.Fatalf("status %s, corim.signature %+v", r.Status, c)
			}
		})
	}

	// Through Verify: ErrSignature, and the signed CoRIM's CPAK is not a
	// candidate (platform.signature fails for want of one).
	tok, err := cca.Parse(readFile(t, e2eToken))
	if err != nil {
		t.Fatal(err)
	}
	ends, format, err := cca.ParseEndorsements(signed, "e.cbor")
	if err != nil || format != cca.FormatSignedCoRIM || len(ends) != 1 {
		t.Fatalf("ParseEndorsements: %v %q %d", err, format, len(ends))
	}
	_, checks, err := cca.Verify(tok, cca.Options{Endorsements: ends, Now: at(verifyAt), CoRIMKeys: []crypto.PublicKey{&other.PublicKey}})
	if !errors.Is(err, cca.ErrSignature) || !failed(checks, "corim.signature") || !failed(checks, "platform.signature") {
		t.Errorf("err %v, checks %v", err, checks)
	}
	if _, _, err := cca.Verify(tok, cca.Options{Endorsements: ends, Now: at(verifyAt), CoRIMKeys: []crypto.PublicKey{&signer.PublicKey}}); err != nil {
		t.Errorf("with the signer's key: %v", err)
	}
}

// cpakOf is the CPAK the e2e CoRIM endorses.
func cpakOf(t testing.TB) *ecdsa.PublicKey {
	t.Helper()
	es, _, err := cca.ParseEndorsements(readFile(t, e2eCoRIM), "e2e")
	if err != nil || len(es) != 1 {
		t.Fatalf("%v", err)
	}
	return es[0].Key
}

// TestSignedCoRIMFlips flips every byte of a signed CoRIM: each flip is
// refused, by ParseEndorsements (ErrMalformed) or by corim.signature.
func TestSignedCoRIMFlips(t *testing.T) {
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signed := signCoRIM(t, readFile(t, e2eCoRIM), signer, signOpts{untagged: true})
	tok, err := cca.Parse(readFile(t, e2eToken))
	if err != nil {
		t.Fatal(err)
	}
	keys := []crypto.PublicKey{&signer.PublicKey}
	for i := range signed {
		b := bytes.Clone(signed)
		b[i] ^= 0xff
		ends, _, err := cca.ParseEndorsements(b, "flipped")
		if err != nil {
			if !errors.Is(err, cca.ErrMalformed) {
				t.Errorf("byte %d: %v, want ErrMalformed", i, err)
			}
			continue
		}
		if len(ends) == 0 {
			continue // no longer carries a key: nothing endorsed
		}
		_, checks, err := cca.Verify(tok, cca.Options{Endorsements: ends, Now: at(verifyAt), CoRIMKeys: keys})
		if err == nil {
			t.Errorf("byte %d flipped: accepted", i)
		} else if !failed(checks, "corim.signature") {
			t.Errorf("byte %d flipped: corim.signature passed (%v)", i, err)
		}
	}
}

// TestSignedCoRIMMalformed: what a signed CoRIM must have.
func TestSignedCoRIMMalformed(t *testing.T) {
	corim := readFile(t, e2eCoRIM)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name   string
		b      []byte
		sniffs bool
	}{
		{"no-signer", signCoRIM(t, corim, k, signOpts{noSigner: true}), true},
		{"critical-parameter", signCoRIM(t, corim, k, signOpts{extra: map[int64]any{2: []any{int64(8)}}}), true},
		{"detached-payload", signCoRIM(t, corim, k, signOpts{detached: true}), true},
		{"not-a-corim-payload", signCoRIM(t, []byte{0xd9, 0x01, 0xf5, 0x01}, k, signOpts{}), true},
		{"other-content-type", signCoRIM(t, corim, k, signOpts{ctype: "application/eat+cwt"}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, ok := cca.SniffCollateral(tc.b)
			if ok != tc.sniffs || (ok && f != cca.FormatSignedCoRIM) {
				t.Errorf("SniffCollateral = %q %v", f, ok)
			}
			if _, _, err := cca.ParseEndorsements(tc.b, tc.name); !errors.Is(err, cca.ErrMalformed) {
				t.Errorf("ParseEndorsements: %v, want ErrMalformed", err)
			}
		})
	}
}

// TestSignedCoRIMValidity: the key is endorsed while both the CoRIM's
// validity and the signature's hold; outside, platform.endorsement warns
// (as for an unsigned CoRIM: the operator supplied it).
func TestSignedCoRIMValidity(t *testing.T) {
	corim := readFile(t, e2eCoRIM) // valid until 2025-12-31
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sigEnd := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, cwt := range []bool{false, true} {
		t.Run(fmt.Sprintf("cwt-%v", cwt), func(t *testing.T) {
			signed := signCoRIM(t, corim, k, signOpts{cwt: cwt, validity: [2]time.Time{time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), sigEnd}})
			ends, _, err := cca.ParseEndorsements(signed, "s")
			if err != nil || len(ends) != 1 || !ends[0].NotAfter.Equal(sigEnd) {
				t.Fatalf("%v: not after %v, want the signature's %v", err, ends[0].NotAfter, sigEnd)
			}
			files := map[string][]byte{"e.cbor": signed, "k.pub": pemPublic(t, &k.PublicKey)}
			if r := appraiseWith(t, sigEnd.AddDate(0, 0, -1), files); r.Status != attest.StatusAffirming {
				t.Errorf("inside: %s %+v", r.Status, r.Failed())
			}
			r := appraiseWith(t, sigEnd.AddDate(0, 0, 1), files)
			if e := checkOf(r, "platform.endorsement"); r.Status != attest.StatusWarning || e == nil || e.OK {
				t.Errorf("after the signature's validity: %s %+v", r.Status, e)
			}
		})
	}
}

// TestSignedCoRIMSeed: the signed CoRIM of testdata (the fuzz seed; Veraison's
// e2e CoRIM signed in the veraison/corim form with a key made for it, whose
// public half is beside it) endorses the e2e token's CPAK.
func TestSignedCoRIMSeed(t *testing.T) {
	r := appraiseFiles(t, attest.Params{Now: verifyAt}, e2eToken,
		filepath.Join("testdata", "signed-veraison-e2e-cca-endorsements.cbor"), filepath.Join("testdata", "signed-corim-test-signer.pub"))
	if r.Status != attest.StatusAffirming {
		t.Fatalf("%s %+v", r.Status, r.Failed())
	}
	if c := r.Claims.(*cca.Claims).CPAK; c.Format != cca.FormatSignedCoRIM || !strings.HasSuffix(c.Source, "signed-veraison-e2e-cca-endorsements.cbor") {
		t.Errorf("cpak %+v", c)
	}
}

// TestCoRIMTagsAsBytes: a CoRIM whose tags are byte strings holding the
// tagged CoMID (earlier drafts; veraison/corim v1.1.2 writes them so)
// endorses the same key as the tagged form.
func TestCoRIMTagsAsBytes(t *testing.T) {
	corim := readFile(t, e2eCoRIM)
	var top cbor.RawTag
	if err := cbor.Unmarshal(corim, &top); err != nil {
		t.Fatal(err)
	}
	var m map[int64]cbor.RawMessage
	if err := cbor.Unmarshal(top.Content, &m); err != nil {
		t.Fatal(err)
	}
	var tags []cbor.RawMessage
	if err := cbor.Unmarshal(m[1], &tags); err != nil {
		t.Fatal(err)
	}
	var wrapped [][]byte
	for _, tg := range tags {
		wrapped = append(wrapped, tg)
	}
	var err error
	if m[1], err = cbor.Marshal(wrapped); err != nil {
		t.Fatal(err)
	}
	content, err := cbor.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cbor.Marshal(cbor.RawTag{Number: 501, Content: content})
	if err != nil {
		t.Fatal(err)
	}
	es, _, err := cca.ParseEndorsements(b, "bytes-tags")
	if err != nil || len(es) != 1 || !es[0].Key.Equal(cpakOf(t)) {
		t.Fatalf("%v (%d keys)", err, len(es))
	}
}
