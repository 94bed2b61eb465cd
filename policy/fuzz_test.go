package policy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/assay-dev/assay/policy"
)

// FuzzParseRefValues: no input panics; what parses marshals back to the
// same values, and validates without panicking. Seeds: the documented
// example (testdata/refvalues.json) and testdata/fuzz/FuzzParseRefValues.
//
//	go test -run XXX -fuzz '^FuzzParseRefValues$' -fuzztime 20000x ./policy/
func FuzzParseRefValues(f *testing.F) {
	b, err := os.ReadFile("testdata/refvalues.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		rvs, err := policy.ParseRefValues(b)
		if err != nil {
			return
		}
		_ = policy.ValidateAll(rvs)
		out, err := policy.MarshalRefValues(rvs)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := policy.ParseRefValues(out)
		if err != nil {
			t.Fatalf("parse of marshalled values: %v\n%s", err, out)
		}
		if len(again) != len(rvs) {
			t.Fatalf("%d values, then %d", len(rvs), len(again))
		}
		for i := range rvs {
			if !sameRefValue(rvs[i], again[i]) {
				t.Fatalf("value %d: %+v, then %+v", i, rvs[i], again[i])
			}
		}
		if out2, _ := policy.MarshalRefValues(again); !bytes.Equal(out, out2) {
			t.Fatalf("marshal not stable:\n%s\n%s", out, out2)
		}
	})
}

// FuzzDecodeJSON holds the engine's JSON decoder (it reads the claims) to
// encoding/json: whatever encoding/json accepts decodes to the same
// values; nothing panics.
func FuzzDecodeJSON(f *testing.F) {
	b, err := os.ReadFile("testdata/refvalues.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"a": [1, -2.5e3, "x\u00e9\"", true, false, null, {}], "b": {"c": []}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := policy.DecodeJSON(b)
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var want any
		if dec.Decode(&want) != nil || dec.More() || !json.Valid(b) {
			return
		}
		if err != nil {
			t.Fatalf("encoding/json accepts %q, DecodeJSON does not: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %#v, want %#v", b, got, want)
		}
	})
}
