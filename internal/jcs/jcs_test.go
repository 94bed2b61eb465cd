package jcs_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/assay-dev/assay/internal/jcs"
)

// TestRFC8785Examples runs the worked examples of RFC 8785.
func TestRFC8785Examples(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{
			// Section 3.2.2 (and Appendix A's ES6 reference output).
			name: "rfc8785-3.2.2-primitives",
			in: `{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`,
			want: `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
		},
		{
			// Section 3.2.3: sorting by UTF-16 code units, so the emoji
			// (surrogates D83D DE00) sorts before U+FB33.
			name: "rfc8785-3.2.3-sorting",
			in: `{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`,
			want: "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jcs.Canonicalize([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestRFC8785UTF8 is section 3.2.4: the output is UTF-8, and Unicode is
// not normalized ("A" followed by a combining ring stays two code points).
func TestRFC8785UTF8(t *testing.T) {
	got, err := jcs.Canonicalize([]byte(`{
  "Unnormalized Unicode":"A\u030a"
}`))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hex.DecodeString("7b22556e6e6f726d616c697a656420556e69636f6465223a2241cc8a227d")
	if !bytes.Equal(got, want) {
		t.Errorf("got % x\nwant % x", got, want)
	}
}

// TestKBSRuntimeData is the shape Assay canonicalizes in practice (KBS
// protocol 0.4.0, runtime-data binding): members come out in code-unit
// order, the JWK inside sorted too.
func TestKBSRuntimeData(t *testing.T) {
	in := `{"tee-pubkey": {"kty": "EC", "crv": "P-256", "alg": "ECDH-ES+A256KW",
	  "x": "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0", "y": "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps"},
	  "nonce": "KpB1j8h2D4kQ9e0MOSWRdg==", "additional-evidence": "{\"tpm\":{}}"}`
	want := `{"additional-evidence":"{\"tpm\":{}}","nonce":"KpB1j8h2D4kQ9e0MOSWRdg==","tee-pubkey":{"alg":"ECDH-ES+A256KW","crv":"P-256","kty":"EC","x":"gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0","y":"SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps"}}`
	got, err := jcs.Canonicalize([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestCanonicalize(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty-object", ` { } `, `{}`},
		{"empty-array", "[\n]", `[]`},
		{"top-level-string", `"x"`, `"x"`},
		{"top-level-number", ` 1.0 `, `1`},
		{"top-level-true", `true`, `true`},
		{"top-level-null", `null`, `null`},
		{"nested-sorted", `{"b":{"d":1,"c":[{"z":0,"y":1}]},"a":[]}`, `{"a":[],"b":{"c":[{"y":1,"z":0}],"d":1}}`},
		{"array-order-kept", `[3,1,2]`, `[3,1,2]`},
		{"minus-zero", `-0`, `0`},
		{"minus-zero-fraction", `-0.0e5`, `0`},
		{"exponent-upper", `1E2`, `100`},
		{"exponent-plus", `1e+2`, `100`},
		{"trailing-zeros", `4.50`, `4.5`},
		{"integer-2^53+1-rounds", `9007199254740993`, `9007199254740992`},
		{"large-integer", `1e20`, `100000000000000000000`},
		{"exp-at-21", `1e21`, `1e+21`},
		{"small", `0.000001`, `0.000001`},
		{"smaller", `0.0000001`, `1e-7`},
		{"max-double", `1.7976931348623157e308`, `1.7976931348623157e+308`},
		{"min-subnormal", `5e-324`, `5e-324`},
		{"rounds-up-to-min-subnormal", `3e-324`, `5e-324`},
		{"many-digits", `0.1000000000000000055511151231257827`, `0.1`},
		{"escapes-short", `"\b\t\n\f\r"`, `"\b\t\n\f\r"`},
		{"escapes-controls", `"\u0000\u001f\u0001"`, `"\u0000\u001f\u0001"`},
		{"control-hex-lowercase", `"\u001F"`, `"\u001f"`},
		{"del-literal", `"\u007f"`, "\"\x7f\""},
		{"line-separator-literal", `"\u2028\u2029"`, "\"\u2028\u2029\""},
		{"solidus-unescaped", `"\/"`, `"/"`},
		{"quote-backslash", `"\"\\"`, `"\"\\"`},
		{"unicode-escape-to-literal", `"\u00e9\u4e2d"`, `"é中"`},
		{"surrogate-pair", `"\ud83d\ude00"`, `"😀"`},
		{"surrogate-pair-upper-hex", `"\uD83D\uDE00"`, `"😀"`},
		{"literal-replacement-char", `"\ufffd"`, "\"\ufffd\""},
		{"escaped-backslash-then-u", `"\\ud800"`, `"\\ud800"`},
		{"utf16-order-not-utf8", `{"\uffff":1,"\ud800\udc00":2}`, "{\"\U00010000\":2,\"\uffff\":1}"},
		{"prefix-sorts-first", `{"ab":1,"a":2,"":3}`, `{"":3,"a":2,"ab":1}`},
		{"whitespace-everywhere", " \t\r\n[ 1 , { \"a\" : null } ]\n", `[1,{"a":null}]`},
		{"names-escaped-in-output", `{"a\nb":1}`, `{"a\nb":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jcs.Canonicalize([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestCanonicalizeRejects(t *testing.T) {
	for _, tc := range []struct {
		name, in string
	}{
		{"empty", ``},
		{"whitespace-only", " \n"},
		{"duplicate-name", `{"a":1,"a":2}`},
		{"duplicate-after-unescape", `{"a":1,"\u0061":2}`},
		{"duplicate-nested", `[{"x":{"k":1,"k":1}}]`},
		{"invalid-utf8", "\"\xff\""},
		{"invalid-utf8-in-name", "{\"\xc3\x28\":1}"},
		{"overlong-utf8", "\"\xc0\xaf\""},
		{"utf8-encoded-surrogate", "\"\xed\xa0\x80\""},
		{"lone-high-surrogate", `"\ud800"`},
		{"lone-high-at-end", `"a\udbff"`},
		{"high-then-non-low", `"\ud800\u0041"`},
		{"high-then-high", `"\ud800\ud800"`},
		{"lone-low-surrogate", `"\udc00"`},
		{"lone-surrogate-in-name", `{"\ude00":1}`},
		{"overflow", `1e400`},
		{"overflow-negative", `-1.8e308`},
		{"underflow", `1e-400`},
		{"underflow-below-min-subnormal", `2e-324`},
		{"trailing-value", `{} {}`},
		{"trailing-garbage", `1 x`},
		{"truncated-object", `{"a":1`},
		{"truncated-array", `[1,`},
		{"truncated-string", `"abc`},
		{"trailing-comma", `[1,]`},
		{"single-quotes", `{'a':1}`},
		{"nan", `NaN`},
		{"infinity", `Infinity`},
		{"leading-zero", `01`},
		{"hex-number", `0x10`},
		{"raw-control-in-string", "\"a\tb\""},
		{"bom", "\ufeff{}"},
		{"too-deep", strings.Repeat("[", 10001) + strings.Repeat("]", 10001)},
		{"comment", `{} // no`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jcs.Canonicalize([]byte(tc.in))
			if !errors.Is(err, jcs.ErrMalformed) {
				t.Fatalf("got %q, %v; want ErrMalformed", got, err)
			}
		})
	}
}

// TestCanonicalizeMatchesEncodingJSON: for values encoding/json can
// produce (sorted map keys, no duplicates), canonical output decodes to
// the same value.
func TestCanonicalizeMatchesEncodingJSON(t *testing.T) {
	v := map[string]any{
		"z": []any{1.5, "two", true, nil, map[string]any{"é": 1e-9}},
		"a": map[string]any{"nested": 123456789.0},
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got, err := jcs.Canonicalize(b)
	if err != nil {
		t.Fatal(err)
	}
	var back any
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, v) {
		t.Errorf("round trip changed the value: %s", got)
	}
}

func ExampleCanonicalize() {
	out, err := jcs.Canonicalize([]byte(`{"nonce": "n-1", "additional-evidence": "", "n": 1.50E2}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
	// Output: {"additional-evidence":"","n":150,"nonce":"n-1"}
}
