package nitro_test

import (
	"bytes"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/verifier/nitro"
)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

func check(checks []attest.Check, name string) (attest.Check, bool) {
	for _, c := range checks {
		if c.Name == name {
			return c, true
		}
	}
	return attest.Check{}, false
}

func failed(checks []attest.Check) []string {
	var out []string
	for _, c := range checks {
		if !c.OK {
			out = append(out, c.Name)
		}
	}
	return out
}

func TestVerifyRealDocument(t *testing.T) {
	s := veracruz(t)
	v, checks, err := nitro.Verify(s.doc, nitro.Options{Now: at(s.at)})
	if err != nil {
		t.Fatalf("Verify: %v\n%v", err, checks)
	}
	var names []string
	for _, c := range checks {
		names = append(names, c.Name)
	}
	want := []string{"chain.root", "chain.intermediate", "chain.leaf", "signature", "timestamp", "nonce"}
	if !slices.Equal(names, want) {
		t.Errorf("checks %v, want %v", names, want)
	}
	if v.Claims == nil || v.Root == nil || len(v.Intermediates) != 3 {
		t.Fatalf("verification %+v", v)
	}
	if c, _ := check(checks, "nonce"); !c.Skipped {
		t.Errorf("nonce check without a nonce: %+v, want skipped", c)
	}
	if !strings.Contains(v.Root.Subject.CommonName, "aws.nitro-enclaves") {
		t.Errorf("root %s", v.Root.Subject)
	}
}

// TestDocumentByteFlips flips every byte of a real document. Every flip
// must be rejected: where the document no longer parses, by Parse with
// ErrMalformed; elsewhere (the protected header, the payload, the
// signature: everything a parse leaves intact is signed) by the signature
// check, whatever else fails first.
func TestDocumentByteFlips(t *testing.T) {
	s := veracruz(t)
	o := nitro.Options{Now: at(s.at)}
	if _, _, err := nitro.Verify(s.doc, o); err != nil {
		t.Fatalf("unmodified document: %v", err)
	}
	// The flips run in parallel chunks: each costs a parse and, when it
	// parses, about ten P-384 signature verifications.
	const chunks = 8
	per := (len(s.raw) + chunks - 1) / chunks
	for c := range chunks {
		lo, hi := c*per, min((c+1)*per, len(s.raw))
		t.Run(fmt.Sprintf("bytes-%#x-%#x", lo, hi), func(t *testing.T) {
			t.Parallel()
			for i := lo; i < hi; i++ {
				flipOne(t, s, o, i)
			}
		})
	}
}

func flipOne(t *testing.T, s realDoc, o nitro.Options, i int) {
	b := bytes.Clone(s.raw)
	b[i] ^= 0xFF
	d, err := nitro.Parse(b)
	if err != nil {
		if !errors.Is(err, nitro.ErrMalformed) {
			t.Errorf("byte %#x flipped: parse error of another kind: %v", i, err)
		}
		return
	}
	_, checks, err := nitro.Verify(d, o)
	if err == nil {
		t.Errorf("byte %#x flipped: accepted", i)
		return
	}
	if !errors.Is(err, nitro.ErrSignature) && !errors.Is(err, nitro.ErrChain) && !errors.Is(err, nitro.ErrTimestamp) {
		t.Errorf("byte %#x flipped: error of an unexpected kind: %v", i, err)
	}
	if c, ok := check(checks, "signature"); !ok || c.OK {
		t.Errorf("byte %#x flipped: parsed, and the signature check passed or did not run: %v", i, failed(checks))
	}
}

// The COSE_Sign1 tag is not signed: a tagged copy of a document verifies,
// and Marshal keeps the form it was given.
func TestTaggedAndMarshal(t *testing.T) {
	for _, name := range []string{"veracruz-2022-11.cbor", "evervault-debug-2022-10.cbor"} {
		s := loadDoc(t, name)
		for _, raw := range [][]byte{s.raw, append([]byte{0xd2}, s.raw...)} {
			d, err := nitro.Parse(raw)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if d.Tagged != (raw[0] == 0xd2) {
				t.Errorf("%s: Tagged = %v", name, d.Tagged)
			}
			if _, _, err := nitro.Verify(d, nitro.Options{Now: at(s.at)}); err != nil {
				t.Errorf("%s (tagged %v): %v", name, d.Tagged, err)
			}
			m, err := nitro.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m, raw) {
				t.Errorf("%s (tagged %v): Marshal differs from the input", name, d.Tagged)
			}
		}
	}
}

func TestNonce(t *testing.T) {
	s := veracruz(t)
	n := s.doc.Nonce
	debug := loadDoc(t, "evervault-debug-2022-10.cbor")
	tests := []struct {
		name    string
		doc     realDoc
		nonce   []byte
		wantErr error
		skipped bool
	}{
		{"absent", s, nil, nil, true},
		{"exact", s, n, nil, false},
		{"wrong", s, bytes.Repeat([]byte{1}, len(n)), nitro.ErrNonce, false},
		{"prefix-is-not-enough", s, n[:16], nitro.ErrNonce, false},
		{"zero-padded-is-not-equal", s, append(bytes.Clone(n), 0), nitro.ErrNonce, false},
		{"document-without-nonce", debug, n, nitro.ErrNonce, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, checks, err := nitro.Verify(tc.doc.doc, nitro.Options{Now: at(tc.doc.at), Nonce: tc.nonce})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			c, _ := check(checks, "nonce")
			if c.Skipped != tc.skipped || c.OK != (tc.wantErr == nil) {
				t.Errorf("nonce check %+v", c)
			}
		})
	}
}

func TestVerificationTime(t *testing.T) {
	s := veracruz(t)
	leaf := s.doc.Certificate
	tests := []struct {
		name   string
		now    time.Time
		failed []string
	}{
		{"own-timestamp", s.at, nil},
		{"within-leaf-validity", leaf.NotAfter.Add(-time.Minute), nil},
		{"leaf-expired", leaf.NotAfter.Add(time.Second), []string{"chain.leaf"}},
		{"leaf-not-yet-valid", leaf.NotBefore.Add(-time.Second), []string{"chain.leaf"}},
		{"zonal-ca-expired", s.doc.CABundle[2].NotAfter.Add(time.Hour), []string{"chain.intermediate", "chain.leaf"}},
		{"root-expired", time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC), []string{"chain.root", "chain.intermediate", "chain.leaf"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, checks, err := nitro.Verify(s.doc, nitro.Options{Now: at(tc.now)})
			if got := failed(checks); !slices.Equal(got, tc.failed) {
				t.Errorf("failed checks %v, want %v", got, tc.failed)
			}
			if (err == nil) != (tc.failed == nil) {
				t.Errorf("err = %v", err)
			}
			if err != nil && !errors.Is(err, nitro.ErrChain) {
				t.Errorf("err = %v, want ErrChain", err)
			}
		})
	}
}

func TestRoots(t *testing.T) {
	s := veracruz(t)
	other := newPKI(t, testEpoch, testEpoch.Add(3*time.Hour), elliptic.P384())
	// Another root: the chain fails at the root, nothing else does.
	_, checks, err := nitro.Verify(s.doc, nitro.Options{Now: at(s.at), Roots: []*x509.Certificate{other.root}})
	if !errors.Is(err, nitro.ErrChain) || !slices.Equal(failed(checks), []string{"chain.root"}) {
		t.Errorf("foreign root: err %v, failed %v", err, failed(checks))
	}
	// The embedded root given explicitly.
	if _, _, err := nitro.Verify(s.doc, nitro.Options{Now: at(s.at), Roots: nitro.EmbeddedRoots()}); err != nil {
		t.Errorf("embedded root as Options.Roots: %v", err)
	}
	// A document of the test PKI verifies with its root only.
	doc := parse(t, other.document(t, other.fields(testEpoch.Add(time.Minute))))
	o := nitro.Options{Now: at(testEpoch.Add(2 * time.Minute)), Roots: []*x509.Certificate{other.root}}
	if _, checks, err := nitro.Verify(doc, o); err != nil {
		t.Errorf("test PKI document with its root: %v (%v)", err, checks)
	}
	o.Roots = nil
	if _, checks, err := nitro.Verify(doc, o); !errors.Is(err, nitro.ErrChain) || failed(checks)[0] != "chain.root" {
		t.Errorf("test PKI document with the AWS root: err %v, failed %v", err, failed(checks))
	}
}

// A cabundle without its root still chains when a trusted root issued
// its first certificate.
func TestCABundleWithoutRoot(t *testing.T) {
	p := newPKI(t, testEpoch, testEpoch.Add(3*time.Hour), elliptic.P384())
	doc := parse(t, p.document(t, with(p.fields(testEpoch.Add(time.Minute)), "cabundle", [][]byte{p.inter.Raw})))
	_, checks, err := nitro.Verify(doc, nitro.Options{Now: at(testEpoch.Add(time.Hour)), Roots: []*x509.Certificate{p.root}})
	if err != nil {
		t.Fatalf("%v: %v", err, checks)
	}
	if c, _ := check(checks, "chain.root"); !strings.Contains(c.Detail, "omits the root") {
		t.Errorf("chain.root: %s", c.Detail)
	}
}

func TestTimestamp(t *testing.T) {
	p := newPKI(t, testEpoch, testEpoch.Add(3*time.Hour), elliptic.P384())
	roots := []*x509.Certificate{p.root}
	tests := []struct {
		name    string
		ts, now time.Time
		wantErr bool
	}{
		{"inside", testEpoch.Add(time.Minute), testEpoch.Add(time.Hour), false},
		{"before-leaf", testEpoch.Add(-time.Minute), testEpoch.Add(time.Hour), true},
		{"after-leaf", testEpoch.Add(3*time.Hour + time.Second), testEpoch.Add(time.Hour), true},
		{"slightly-after-now", testEpoch.Add(time.Hour + 30*time.Second), testEpoch.Add(time.Hour), false},
		{"well-after-now", testEpoch.Add(time.Hour + 2*time.Minute), testEpoch.Add(time.Hour), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := parse(t, p.document(t, p.fields(tc.ts)))
			_, checks, err := nitro.Verify(doc, nitro.Options{Now: at(tc.now), Roots: roots})
			if tc.wantErr {
				if !errors.Is(err, nitro.ErrTimestamp) || !slices.Equal(failed(checks), []string{"timestamp"}) {
					t.Errorf("err %v, failed %v", err, failed(checks))
				}
			} else if err != nil {
				t.Errorf("err %v", err)
			}
		})
	}
}

func TestLeafKeyMustBeP384(t *testing.T) {
	p := newPKI(t, testEpoch, testEpoch.Add(3*time.Hour), elliptic.P256())
	// An ES256 document fails to parse: the NSM signs with ES384 only.
	if _, err := nitro.Parse(p.document(t, p.fields(testEpoch.Add(time.Minute)))); !errors.Is(err, nitro.ErrMalformed) {
		t.Fatalf("ES256 document: err %v", err)
	}
}

func TestPolicy(t *testing.T) {
	debug := loadDoc(t, "evervault-debug-2022-10.cbor")
	v, _, err := nitro.Verify(debug.doc, nitro.Options{Now: at(debug.at)})
	if err != nil {
		t.Fatal(err)
	}
	if !v.Claims.Debug {
		t.Fatal("debug document: Claims.Debug is false")
	}
	if c := (nitro.Policy{}).Apply(v.Claims); len(c) != 1 || c[0].OK || c[0].Name != "policy.debug" {
		t.Errorf("default policy on a debug enclave: %+v", c)
	}
	if c := (nitro.Policy{AllowDebug: true}).Apply(v.Claims); len(c) != 1 || !c[0].OK {
		t.Errorf("AllowDebug on a debug enclave: %+v", c)
	}
	// Production enclave: passes.
	s := veracruz(t)
	v, _, err = nitro.Verify(s.doc, nitro.Options{Now: at(s.at)})
	if err != nil {
		t.Fatal(err)
	}
	if c := (nitro.Policy{}).Apply(v.Claims); !c[0].OK || v.Claims.Debug {
		t.Errorf("production enclave: %+v", c)
	}
	// A document without PCR2 cannot be told apart from debug mode.
	p := newPKI(t, testEpoch, testEpoch.Add(3*time.Hour), elliptic.P384())
	f := p.fields(testEpoch.Add(time.Minute))
	pcrs := map[int][]byte{0: make([]byte, 48), 1: make([]byte, 48), 3: make([]byte, 48)}
	doc := parse(t, p.document(t, with(f, "pcrs", pcrs)))
	v, _, err = nitro.Verify(doc, nitro.Options{Now: at(testEpoch.Add(time.Hour)), Roots: []*x509.Certificate{p.root}})
	if err != nil {
		t.Fatal(err)
	}
	if c := (nitro.Policy{AllowDebug: true}).Apply(v.Claims); c[0].OK {
		t.Errorf("missing PCR2: %+v", c)
	}
}

// A genuine document copied into a certificate for another key must not
// vouch for that key.
func TestBindingToAnotherKey(t *testing.T) {
	s := loadDoc(t, "evervault-debug-2022-10.cbor")
	key := newKey(t, elliptic.P384())
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "mallory.example"},
		NotBefore: s.at.Add(-time.Hour), NotAfter: s.at.Add(time.Hour),
		DNSNames: []string{"mallory.example", hex.EncodeToString(s.raw) + ".mallory.example"},
	}
	carrier := issue(t, tmpl, tmpl, &key.PublicKey, key)
	ev, err := nitro.ParseEvidence(carrier.Raw, "")
	if err != nil || ev.Format != nitro.FormatCertificate || !bytes.Equal(ev.Raw, s.raw) {
		t.Fatalf("ParseEvidence: %v (%+v)", err, ev)
	}
	_, checks, err := nitro.Verify(ev.Document, nitro.Options{Now: at(s.at), Carrier: ev.Carrier})
	if !errors.Is(err, nitro.ErrBinding) || !slices.Equal(failed(checks), []string{"tls.binding"}) {
		t.Errorf("err %v, failed %v", err, failed(checks))
	}
}

func parse(t testing.TB, b []byte) *nitro.Document {
	t.Helper()
	d, err := nitro.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
