package token_test

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/token"
)

// FuzzVerify feeds Verify arbitrary tokens and key sets. Its seeds, in
// testdata/fuzz/FuzzVerify, are real tokens this package issued with the
// test key testdata/issuer-key.der, each with its JWKS; TestFuzzSeeds
// checks that they still verify, and -update rewrites them.
//
//	go test ./token -run XXX -fuzz '^FuzzVerify$' -fuzztime 60s -fuzzminimizetime 0
//
// Verify must never panic, must return a Verified exactly when it returns
// no error, and every error must wrap exactly one kind. A fuzzed token
// almost never carries a valid signature, so the target also re-signs the
// fuzzed header and payload with the test key and verifies that: the
// header, claims and EAR decoding behind the signature are fuzzed too.
func FuzzVerify(f *testing.F) {
	key := testKey(f)
	jwks := testJWKS(f, key)
	f.Fuzz(func(t *testing.T, tok string, set []byte) {
		check(t, tok, set)
		if h, rest, ok := strings.Cut(tok, "."); ok && len(tok) <= 64<<10 {
			payload, _, _ := strings.Cut(rest, ".")
			check(t, token.SignEncoded(key, h, payload), jwks)
		}
	})
}

func check(t *testing.T, tok string, jwks []byte) {
	v, err := token.Verify(tok, jwks, token.VerifyOptions{Now: verifiedAt})
	switch {
	case err == nil && v == nil:
		t.Fatal("no error and no result")
	case err != nil && v != nil:
		t.Fatalf("a result and an error: %v", err)
	case err != nil && kindOf(err) == nil:
		t.Fatalf("error wraps no single kind: %v", err)
	}
}

var update = flag.Bool("update", false, "rewrite the fuzz seeds in testdata/fuzz/FuzzVerify (and the test key, if missing)")

const (
	testKeyFile = "testdata/issuer-key.der"
	seedDir     = "testdata/fuzz/FuzzVerify"
)

// seeds are the committed fuzz seeds, by file name.
var seeds = map[string]struct {
	results func() []*attest.Result
	opts    token.IssueOptions
}{
	"snp-affirming": {
		func() []*attest.Result { return []*attest.Result{snpAffirming()} },
		token.IssueOptions{Now: verifiedAt, Nonce: "MTIzNDU2Nzg5MGFiY2RlZg", VerifierBuild: "fuzz-seed"},
	},
	"snp-tdx-tee-pubkey": {
		func() []*attest.Result { return []*attest.Result{snpAffirming(), tdxContraindicated()} },
		token.IssueOptions{Now: verifiedAt, TEEPubKey: []byte(teeJWK), Subject: "workload-7", PolicyID: "site/strict"},
	},
}

// TestFuzzSeeds checks that each committed seed is a real token that
// verifies at its issuance time with its JWKS; with -update it issues
// them afresh.
func TestFuzzSeeds(t *testing.T) {
	key := testKey(t)
	jwks := testJWKS(t, key)
	is, err := token.NewIssuer("https://assay.example", key, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range seeds {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(seedDir, name)
			if *update {
				tok := mustIssue(t, is, s.opts, s.results()...)
				body := fmt.Sprintf("go test fuzz v1\nstring(%s)\n[]byte(%s)\n", strconv.Quote(tok), strconv.Quote(string(jwks)))
				if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tok, set := readSeed(t, path)
			if !bytes.Equal(set, jwks) {
				t.Errorf("seed JWKS is not the test key's")
			}
			v, err := token.Verify(tok, set, token.VerifyOptions{Now: verifiedAt, Issuer: "https://assay.example", Nonce: s.opts.Nonce})
			if err != nil {
				t.Fatalf("seed does not verify: %v (rerun with -update?)", err)
			}
			if len(v.Result.Submods) != len(s.results()) {
				t.Errorf("seed has %d submods, want %d", len(v.Result.Submods), len(s.results()))
			}
		})
	}
}

// readSeed reads a corpus file of the form go test fuzz v1 writes:
// string("...") then []byte("...").
func readSeed(t testing.TB, path string) (string, []byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, token.MaxTokenSize)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 || lines[0] != "go test fuzz v1" {
		t.Fatalf("%s: not a two-value corpus file", path)
	}
	unquote := func(line, prefix string) string {
		inner, ok := strings.CutPrefix(line, prefix+"(")
		if !ok {
			t.Fatalf("%s: %.30q does not start with %s(", path, line, prefix)
		}
		s, err := strconv.Unquote(strings.TrimSuffix(inner, ")"))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return s
	}
	return unquote(lines[1], "string"), []byte(unquote(lines[2], "[]byte"))
}

// testKey is the committed test key: it signed the seeds, and it re-signs
// fuzzed tokens. It signs nothing outside this package's tests.
func testKey(t testing.TB) *token.Key {
	t.Helper()
	der, err := os.ReadFile(testKeyFile)
	if errors.Is(err, os.ErrNotExist) && *update {
		k := mustKey(t)
		if der, err = token.MarshalPrivateKey(k); err == nil {
			err = os.WriteFile(testKeyFile, der, 0o644)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	k, err := token.ParsePrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testJWKS(t testing.TB, k *token.Key) []byte {
	t.Helper()
	is, err := token.NewIssuer("https://assay.example", k, nil)
	if err != nil {
		t.Fatal(err)
	}
	return mustJWKS(t, is)
}
