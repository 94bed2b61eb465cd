package nitro_test

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/verifier/nitro"
)

// TestLongNonce: documents carry nonces far longer than the 64 bytes of
// other TEEs' report data (Evervault's are 256 bytes; the NSM takes up to
// 512). A document of the test PKI with such a nonce verifies against it
// exactly, through Verify and through the Verifier that `assay verify`
// uses; a nonce no document can hold fails the nonce check as such.
func TestLongNonce(t *testing.T) {
	p := newPKI(t, testEpoch, testEpoch.Add(3*time.Hour), elliptic.P384())
	now := testEpoch.Add(time.Hour)
	roots := []*x509.Certificate{p.root}
	for _, n := range []int{256, 512} {
		nonce := bytes.Repeat([]byte{0xA5}, n)
		nonce[0], nonce[n-1] = 0x01, 0x02 // not a repeated byte at either end
		raw := p.document(t, with(p.fields(testEpoch.Add(time.Minute)), "nonce", nonce))
		doc := parse(t, raw)
		tests := []struct {
			name    string
			want    []byte
			wantErr bool
		}{
			{"exact", nonce, false},
			{"one-byte-short", nonce[:n-1], true},
			{"one-byte-more", append(bytes.Clone(nonce), 0), true},
			{"last-byte-differs", append(bytes.Clone(nonce[:n-1]), 0x03), true},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, checks, err := nitro.Verify(doc, nitro.Options{Now: at(now), Roots: roots, Nonce: tc.want})
				c, _ := check(checks, "nonce")
				if tc.wantErr {
					if !errors.Is(err, nitro.ErrNonce) || c.OK {
						t.Fatalf("%d-byte document nonce, %d-byte expected: err %v, check %+v", n, len(tc.want), err, c)
					}
					return
				}
				if err != nil || !c.OK || c.Skipped {
					t.Fatalf("%d-byte nonce: err %v, check %+v", n, err, c)
				}
			})
		}
		// The path of `assay verify --nonce HEX`: Params.Nonce reaches the
		// nonce check unchanged, whatever its length.
		res := (&nitro.Verifier{}).Appraise(context.Background(), attest.Bundle{Evidence: raw}, attest.Params{Now: now, Nonce: nonce, Roots: roots})
		if res.Status != attest.StatusAffirming {
			t.Fatalf("Appraise with the %d-byte nonce: %s, failed %+v", n, res.Status, res.Failed())
		}
		claims, ok := res.Claims.(*nitro.Claims)
		if !ok || claims.Nonce == nil || len(*claims.Nonce) != 2*n {
			t.Errorf("nonce claim of a %d-byte nonce: %+v", n, res.Claims)
		}
	}

	// Longer than any document's nonce field: refused as such, before any
	// comparison.
	doc := parse(t, p.document(t, with(p.fields(testEpoch.Add(time.Minute)), "nonce", bytes.Repeat([]byte{1}, 1024))))
	_, checks, err := nitro.Verify(doc, nitro.Options{Now: at(now), Roots: roots, Nonce: bytes.Repeat([]byte{1}, 1025)})
	c, _ := check(checks, "nonce")
	if !errors.Is(err, nitro.ErrNonce) || c.OK || !strings.Contains(c.Detail, "at most 1024") {
		t.Errorf("1025-byte nonce: err %v, check %+v", err, c)
	}
}
