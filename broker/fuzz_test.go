package broker_test

import (
	"crypto/ecdh"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/assay-dev/assay/broker"
)

// FuzzParseTEEKey: no panic on any input; every error is ErrTEEKey; a key
// that parses has a known algorithm that fits its type, and Wrap accepts
// it. Seeds: testdata/fuzz/FuzzParseTEEKey (keys of every accepted kind
// and some near misses) and the public keys of RFC 7517 Appendix A.1.
//
//	go test ./broker -run XXX -fuzz '^FuzzParseTEEKey$' -fuzztime 20000x -fuzzminimizetime 0
func FuzzParseTEEKey(f *testing.F) {
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","use":"enc","kid":"1"}`))
	f.Add([]byte(`{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := broker.ParseTEEKey(b)
		if err != nil {
			if !errors.Is(err, broker.ErrTEEKey) {
				t.Fatalf("error of unknown kind: %v", err)
			}
			return
		}
		switch k.Public.(type) {
		case *rsa.PublicKey:
			if k.Alg != broker.AlgRSAOAEP256 && k.Alg != broker.AlgRSAOAEP {
				t.Fatalf("RSA key with alg %q", k.Alg)
			}
		case *ecdh.PublicKey:
			if k.Alg != broker.AlgECDHESA256KW {
				t.Fatalf("EC key with alg %q", k.Alg)
			}
		default:
			t.Fatalf("key of type %T", k.Public)
		}
		if _, err := broker.Wrap([]byte("x"), k); err != nil {
			t.Fatalf("parsed key does not wrap: %v", err)
		}
	})
}

// FuzzParseReleasePolicy: no panic; every error is ErrPolicy; a policy
// that parses evaluates without panic against an appraisal whose claims
// are of every JSON type.
func FuzzParseReleasePolicy(f *testing.F) {
	for _, s := range []string{
		`{}`, ``, `{"tee":["snp"],"min_status":"warning"}`,
		`{"claims":{"measurement":["ab12"],"td_attributes.debug":[false],"rtmr.2":["00"],"pcrs.0":["ff"]}}`,
		`{"claims":{"isv_svn":[3,4.5]}}`, `{"tee":[]}`, `{"min_status":"contraindicated"}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	app := broker.Appraisal{TEE: "snp", Status: "affirming", Claims: map[string]any{
		"measurement": "AB12", "td_attributes": map[string]any{"debug": false}, "rtmr": []any{"00", "11", "00"},
		"pcrs": map[string]any{"0": "ff"}, "isv_svn": 3.0, "nothing": nil,
	}}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := broker.ParseReleasePolicy(b)
		if err != nil {
			if !errors.Is(err, broker.ErrPolicy) {
				t.Fatalf("error of unknown kind: %v", err)
			}
			return
		}
		d := p.Evaluate(app)
		if !d.Allow && len(d.Reasons) == 0 {
			t.Fatal("a denial without a reason")
		}
	})
}

// FuzzParseKeyring: no panic; every error is ErrKeyring; a keyring that
// parses seals and opens under its active key.
func FuzzParseKeyring(f *testing.F) {
	f.Add([]byte("# comment\nkek-1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"))
	f.Add([]byte("a QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=\nb QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n"))
	f.Add([]byte("kek-1 AAEC\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kr, err := broker.ParseKeyring(b)
		if err != nil {
			if !errors.Is(err, broker.ErrKeyring) {
				t.Fatalf("error of unknown kind: %v", err)
			}
			return
		}
		sealed, id, err := kr.Seal([]byte("x"), []byte("aad"))
		if err != nil || id != kr.Active() {
			t.Fatalf("seal: %v (kek %q, active %q)", err, id, kr.Active())
		}
		if got, err := kr.Open(sealed, id, []byte("aad")); err != nil || string(got) != "x" {
			t.Fatalf("open: %q %v", got, err)
		}
	})
}
