package nitro_test

import (
	"testing"
	"time"

	"github.com/assay-dev/assay/verifier/nitro"
)

// TestCacheKeepsTimeAndSignatureChecks: a warm cache still refuses the
// chain after the leaf certificate expired, and still checks the
// document's own signature.
func TestCacheKeepsTimeAndSignatureChecks(t *testing.T) {
	s := veracruz(t)
	c := &nitro.Cache{}
	if _, checks, err := nitro.Verify(s.doc, nitro.Options{Now: at(s.at), Cache: c}); err != nil {
		t.Fatalf("warm-up: %v %v", err, failed(checks))
	}
	if _, checks, err := nitro.Verify(s.doc, nitro.Options{Now: at(s.at), Cache: c}); err != nil {
		t.Fatalf("cached: %v %v", err, failed(checks))
	}
	late := s.doc.Certificate.NotAfter.Add(time.Hour)
	_, checks, err := nitro.Verify(s.doc, nitro.Options{Now: at(late), Cache: c})
	if err == nil {
		t.Fatal("a warm cache accepted the chain after the leaf expired")
	}
	if ch, ok := check(checks, "chain.leaf"); !ok || ch.OK {
		t.Errorf("chain.leaf after expiry: %+v, want a failure", ch)
	}
	raw := append([]byte(nil), s.raw...)
	raw[len(raw)-1] ^= 1 // the last byte of the COSE signature
	d, err := nitro.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	_, checks, err = nitro.Verify(d, nitro.Options{Now: at(s.at), Cache: c})
	if err == nil {
		t.Fatal("a warm cache accepted a document with a flipped signature byte")
	}
	if ch, ok := check(checks, "signature"); !ok || ch.OK {
		t.Errorf("signature: %+v, want a failure", ch)
	}
}
