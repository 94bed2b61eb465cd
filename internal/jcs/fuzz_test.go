package jcs_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/assay-dev/assay/internal/jcs"
)

// FuzzCanonicalize: no panic on any input; every error is ErrMalformed;
// the output is valid JSON, is its own canonical form, and decodes to the
// same value as the input. Seeds are in testdata/fuzz/FuzzCanonicalize.
//
//	go test ./internal/jcs -run XXX -fuzz '^FuzzCanonicalize$' -fuzztime 20000x -fuzzminimizetime 0
func FuzzCanonicalize(f *testing.F) {
	f.Add([]byte(`{"b":[1,2.5e-7,-0],"a":"\u00e9\ud83d\ude00"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := jcs.Canonicalize(b)
		if err != nil {
			if !errors.Is(err, jcs.ErrMalformed) {
				t.Fatalf("error of unknown kind: %v", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("output is not JSON: %q", out)
		}
		again, err := jcs.Canonicalize(out)
		if err != nil {
			t.Fatalf("output does not canonicalize: %v\n%q", err, out)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\n%q\n%q", out, again)
		}
		// Accepted input has no duplicates or lone surrogates, so
		// encoding/json reads input and output as the same value; numbers
		// as float64 on both sides, which the canonical form preserves.
		var in, canon any
		if err := json.Unmarshal(b, &in); err != nil {
			t.Fatalf("accepted input encoding/json rejects: %v", err)
		}
		if err := json.Unmarshal(out, &canon); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(in, canon) {
			t.Fatalf("value changed:\n%q\n%q", b, out)
		}
	})
}
