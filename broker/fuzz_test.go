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
