package broker_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/assay-dev/assay/broker"
)

// claims decodes JSON claims as the server does; useNumber picks between
// float64 and json.Number, and Evaluate must handle both.
func claims(t *testing.T, s string, useNumber bool) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	if useNumber {
		dec.UseNumber()
	}
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

const tdxClaims = `{
  "mr_td": "AB12cd34ab12cd34",
  "rtmr": ["00", "11", "2222aaaa", "33"],
  "td_attributes": {"debug": false, "raw": "0000001000000000"},
  "tee_tcb_svn": 3,
  "ratio": 0.1,
  "pcrs": {"0": "aa", "7": "bb"},
  "big": 18446744073709551615,
  "nested": [{"name": "x"}],
  "nothing": null
}`

func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		policy  string
		tee     string
		status  string
		allow   bool
		reasons []string
	}{
		{"empty-policy-affirming", `{}`, "tdx", "affirming", true, nil},
		{"empty-input-affirming", ``, "snp", "affirming", true, nil},
		{"empty-policy-warning", `{}`, "tdx", "warning", false, []string{`status is "warning", allowed: ["affirming"]`}},
		{"min-warning-allows-warning", `{"min_status":"warning"}`, "tdx", "warning", true, nil},
		{"min-warning-allows-affirming", `{"min_status":"warning"}`, "tdx", "affirming", true, nil},
		{"min-affirming-explicit", `{"min_status":"affirming"}`, "tdx", "warning", false, []string{`status is "warning", allowed: ["affirming"]`}},
		{"contraindicated-never", `{"min_status":"warning"}`, "tdx", "contraindicated", false, []string{`status is "contraindicated", allowed: ["affirming","warning"]`}},
		{"none-never", `{}`, "tdx", "none", false, []string{`status is "none", allowed: ["affirming"]`}},
		{"empty-status-never", `{}`, "tdx", "", false, []string{`status is "", allowed: ["affirming"]`}},
		{"status-case-matters", `{}`, "tdx", "Affirming", false, []string{`status is "Affirming", allowed: ["affirming"]`}},
		{"tee-allowed", `{"tee":["snp","tdx"]}`, "tdx", "affirming", true, nil},
		{"tee-denied", `{"tee":["snp"]}`, "tdx", "affirming", false, []string{`tee is "tdx", allowed: ["snp"]`}},
		{"hex-case-insensitive", `{"claims":{"mr_td":["ab12CD34AB12cd34"]}}`, "tdx", "affirming", true, nil},
		{"hex-mismatch", `{"claims":{"mr_td":["cd34"]}}`, "tdx", "affirming", false, []string{`claim mr_td is "AB12cd34ab12cd34", allowed: ["cd34"]`}},
		{"hex-one-of-several", `{"claims":{"mr_td":["00","ab12cd34ab12cd34"]}}`, "tdx", "affirming", true, nil},
		{"array-index", `{"claims":{"rtmr.2":["2222AAAA"]}}`, "tdx", "affirming", true, nil},
		{"array-index-mismatch", `{"claims":{"rtmr.3":["34"]}}`, "tdx", "affirming", false, []string{`claim rtmr.3 is "33", allowed: ["34"]`}},
		{"array-index-out-of-range", `{"claims":{"rtmr.4":["00"]}}`, "tdx", "affirming", false, []string{`claim rtmr.4 is missing, allowed: ["00"]`}},
		{"array-non-digit-segment", `{"claims":{"rtmr.first":["00"]}}`, "tdx", "affirming", false, []string{`claim rtmr.first is missing, allowed: ["00"]`}},
		{"map-digit-key", `{"claims":{"pcrs.7":["BB"]}}`, "tdx", "affirming", true, nil},
		{"bool", `{"claims":{"td_attributes.debug":[false]}}`, "tdx", "affirming", true, nil},
		{"bool-mismatch", `{"claims":{"td_attributes.debug":[true]}}`, "tdx", "affirming", false, []string{`claim td_attributes.debug is false, allowed: [true]`}},
		{"bool-not-string", `{"claims":{"td_attributes.debug":["false"]}}`, "tdx", "affirming", false, []string{`claim td_attributes.debug is false, allowed: ["false"]`}},
		{"number", `{"claims":{"tee_tcb_svn":[3]}}`, "tdx", "affirming", true, nil},
		{"number-other-spelling", `{"claims":{"tee_tcb_svn":[3.0, 1]}}`, "tdx", "affirming", true, nil},
		{"number-exponent", `{"claims":{"tee_tcb_svn":[0.3e1]}}`, "tdx", "affirming", true, nil},
		{"number-mismatch", `{"claims":{"tee_tcb_svn":[4,5]}}`, "tdx", "affirming", false, []string{`claim tee_tcb_svn is 3, allowed: [4,5]`}},
		{"number-not-string", `{"claims":{"tee_tcb_svn":["3"]}}`, "tdx", "affirming", false, []string{`claim tee_tcb_svn is 3, allowed: ["3"]`}},
		{"decimal", `{"claims":{"ratio":[0.1]}}`, "tdx", "affirming", true, nil},
		{"big-integer", `{"claims":{"big":[18446744073709551615]}}`, "tdx", "affirming", true, nil},
		{"string-exact", `{"claims":{"nested.0.name":["x"]}}`, "tdx", "affirming", true, nil},
		{"string-case-matters-when-not-hex", `{"claims":{"nested.0.name":["X"]}}`, "tdx", "affirming", false, []string{`claim nested.0.name is "x", allowed: ["X"]`}},
		{"object-equals-nothing", `{"claims":{"td_attributes":["x"]}}`, "tdx", "affirming", false, []string{`claim td_attributes is {"debug":false,"raw":"0000001000000000"}, allowed: ["x"]`}},
		{"null-equals-nothing", `{"claims":{"nothing":["null"]}}`, "tdx", "affirming", false, []string{`claim nothing is null, allowed: ["null"]`}},
		{"missing-claim", `{"claims":{"mr_config_id":["00"]}}`, "tdx", "affirming", false, []string{`claim mr_config_id is missing, allowed: ["00"]`}},
		{"path-through-scalar", `{"claims":{"tee_tcb_svn.0":[3]}}`, "tdx", "affirming", false, []string{`claim tee_tcb_svn.0 is missing, allowed: [3]`}},
		{"every-reason-in-order", `{"tee":["snp"],"claims":{"rtmr.0":["01"],"mr_td":["00"]}}`, "tdx", "warning", false, []string{
			`tee is "tdx", allowed: ["snp"]`,
			`status is "warning", allowed: ["affirming"]`,
			`claim mr_td is "AB12cd34ab12cd34", allowed: ["00"]`,
			`claim rtmr.0 is "00", allowed: ["01"]`,
		}},
	} {
		for _, useNumber := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/usenumber=%v", tc.name, useNumber), func(t *testing.T) {
				p, err := broker.ParseReleasePolicy([]byte(tc.policy))
				if err != nil {
					t.Fatal(err)
				}
				d := p.Evaluate(broker.Appraisal{TEE: tc.tee, Status: tc.status, Claims: claims(t, tdxClaims, useNumber)})
				if d.Allow != tc.allow || !slices.Equal(d.Reasons, tc.reasons) {
					t.Errorf("got %v %q\nwant %v %q", d.Allow, d.Reasons, tc.allow, tc.reasons)
				}
			})
		}
	}
}

// TestEvaluateGoValues: claims and policies built in code rather than
// decoded (ints, typed maps and slices) compare the same way.
func TestEvaluateGoValues(t *testing.T) {
	p := broker.ReleasePolicy{Claims: map[string][]any{
		"svn":      {uint8(2), 7},
		"rtmr.1":   {"AA"},
		"f":        {float32(0.5)},
		"n":        {json.Number("10")},
		"labels.a": {"b"},
	}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	a := broker.Appraisal{TEE: "snp", Status: "affirming", Claims: map[string]any{
		"svn":    int64(7),
		"rtmr":   []string{"00", "aa"},
		"f":      0.5,
		"n":      uint64(10),
		"labels": map[string]string{"a": "b"},
	}}
	if d := p.Evaluate(a); !d.Allow {
		t.Errorf("denied: %q", d.Reasons)
	}
	if d := p.Evaluate(broker.Appraisal{TEE: "snp", Status: "affirming"}); d.Allow || len(d.Reasons) != 5 {
		t.Errorf("nil claims: %v %q", d.Allow, d.Reasons)
	}
	// The zero policy and the zero appraisal: fails closed.
	if d := (broker.ReleasePolicy{}).Evaluate(broker.Appraisal{}); d.Allow {
		t.Error("the zero appraisal was allowed")
	}
	// An unvalidated policy with a bad min_status releases nothing.
	if d := (broker.ReleasePolicy{MinStatus: "contraindicated"}).Evaluate(broker.Appraisal{Status: "contraindicated"}); d.Allow {
		t.Error("min_status contraindicated released")
	}
}

func TestEvaluateReasonsAreBounded(t *testing.T) {
	long := strings.Repeat("ab", 500)
	p := broker.ReleasePolicy{Claims: map[string][]any{"m": {"00"}}}
	d := p.Evaluate(broker.Appraisal{Status: "affirming", Claims: map[string]any{"m": long}})
	if d.Allow || len(d.Reasons) != 1 || len(d.Reasons[0]) > 300 || !strings.Contains(d.Reasons[0], "…") {
		t.Errorf("reason %q", d.Reasons)
	}
}

func TestParseReleasePolicyRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy string
		n      int // how many problems Validate reports
	}{
		{"not-json", `{`, 1},
		{"not-object", `[]`, 1},
		{"unknown-member", `{"tees":["snp"]}`, 1},
		{"max_age-not-supported", `{"max_age":"5m"}`, 1},
		{"trailing-data", `{} {}`, 1},
		{"min-status-contraindicated", `{"min_status":"contraindicated"}`, 1},
		{"min-status-none", `{"min_status":"none"}`, 1},
		{"min-status-case", `{"min_status":"Warning"}`, 1},
		{"tee-empty", `{"tee":[""]}`, 1},
		{"tee-upper", `{"tee":["SNP"]}`, 1},
		{"tee-twice", `{"tee":["snp","snp"]}`, 1},
		{"tee-not-string", `{"tee":[1]}`, 1},
		{"claim-empty-path", `{"claims":{"":["a"]}}`, 1},
		{"claim-leading-dot", `{"claims":{".a":["a"]}}`, 1},
		{"claim-trailing-dot", `{"claims":{"a.":["a"]}}`, 1},
		{"claim-double-dot", `{"claims":{"a..b":["a"]}}`, 1},
		{"claim-bad-char", `{"claims":{"a[0]":["a"]}}`, 1},
		{"claim-space", `{"claims":{"a b":["a"]}}`, 1},
		{"claim-no-values", `{"claims":{"a":[]}}`, 1},
		{"claim-null-values", `{"claims":{"a":null}}`, 1},
		{"claim-null-value", `{"claims":{"a":[null]}}`, 1},
		{"claim-object-value", `{"claims":{"a":[{"b":1}]}}`, 1},
		{"claim-array-value", `{"claims":{"a":[[1]]}}`, 1},
		{"claim-not-a-list", `{"claims":{"a":"x"}}`, 1},
		{"several", `{"min_status":"x","tee":["A"],"claims":{"a..b":["x"],"c":[]}}`, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := broker.ParseReleasePolicy([]byte(tc.policy))
			if !errors.Is(err, broker.ErrPolicy) {
				t.Fatalf("got %v, want ErrPolicy", err)
			}
			if n := len(unjoin(err)); n != tc.n {
				t.Errorf("%d problems reported, want %d: %v", n, tc.n, err)
			}
		})
	}
}

func TestParseReleasePolicy(t *testing.T) {
	p, err := broker.ParseReleasePolicy([]byte(`{
	  "tee": ["tdx", "snp"],
	  "min_status": "warning",
	  "claims": {"td_attributes.debug": [false], "tee_tcb_svn": [3, 4], "pcrs.0": ["aa"], "x-y_z.0": ["v"]}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.MinStatus != "warning" || len(p.TEE) != 2 || len(p.Claims) != 4 {
		t.Errorf("parsed %+v", p)
	}
	if _, ok := p.Claims["tee_tcb_svn"][0].(json.Number); !ok {
		t.Errorf("numbers should stay json.Number, got %T", p.Claims["tee_tcb_svn"][0])
	}
	// A parsed policy marshals back to a policy that parses the same.
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := broker.ParseReleasePolicy(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(p2)
	if string(b) != string(b2) {
		t.Errorf("round trip: %s != %s", b, b2)
	}
}

func ExampleReleasePolicy_Evaluate() {
	p, err := broker.ParseReleasePolicy([]byte(`{
	  "tee": ["tdx"],
	  "claims": {"mr_td": ["cd34"], "td_attributes.debug": [false]}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	d := p.Evaluate(broker.Appraisal{
		TEE:    "tdx",
		Status: "affirming",
		Claims: map[string]any{"mr_td": "ab12", "td_attributes": map[string]any{"debug": false}},
	})
	fmt.Println(d.Allow)
	for _, r := range d.Reasons {
		fmt.Println(r)
	}
	// Output:
	// false
	// claim mr_td is "ab12", allowed: ["cd34"]
}
