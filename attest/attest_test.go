package attest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFinish(t *testing.T) {
	tests := []struct {
		name   string
		checks []Check
		want   Status
	}{
		{"no-checks-is-none", nil, StatusNone},
		{"only-skipped-is-none", []Check{Skip("nonce", "no nonce")}, StatusNone},
		{"passed", []Check{Pass("parse", "ok"), Skip("nonce", "no nonce")}, StatusAffirming},
		{"warning", []Check{Pass("parse", "ok"), Warn("tcb", "out of date")}, StatusWarning},
		{"failure-wins", []Check{Warn("tcb", "out of date"), Fail("signature", errors.New("bad"))}, StatusContraindicated},
		{"zero-severity-fails-closed", []Check{Pass("parse", "ok"), {Name: "x", OK: false}}, StatusContraindicated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Result{Checks: tc.checks}
			r.Finish()
			if r.Status != tc.want {
				t.Errorf("status %s, want %s", r.Status, tc.want)
			}
		})
	}
}

func TestStatusText(t *testing.T) {
	for _, s := range []Status{StatusNone, StatusAffirming, StatusWarning, StatusContraindicated} {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Status
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%s: round trip gave %s, %v", s, back, err)
		}
	}
	var s Status
	if err := s.UnmarshalText([]byte("trusted")); err == nil {
		t.Error("unknown status name accepted")
	}
	if StatusNone.Trusted() || StatusContraindicated.Trusted() || !StatusWarning.Trusted() || !StatusAffirming.Trusted() {
		t.Error("Trusted is wrong")
	}
}

func TestResultJSON(t *testing.T) {
	r := Result{
		TEE:        "snp",
		VerifiedAt: time.Date(2025, 8, 15, 1, 2, 3, 456, time.FixedZone("x", 3600)),
		Checks:     []Check{Pass("parse", "ok"), Skip("nonce", "none given")},
	}
	r.Finish()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"status":"affirming"`, `"verified_at":"2025-08-15T00:02:03Z"`, `"skipped":true`, `"tee":"snp"`} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON lacks %s: %s", want, s)
		}
	}
	if strings.Contains(s, "severity") {
		t.Errorf("a passing result carries severities: %s", s)
	}
	w := Result{Checks: []Check{Pass("parse", "ok"), Warn("tcb", "old")}}
	w.Finish()
	b, _ = json.Marshal(w)
	if !strings.Contains(string(b), `"severity":"warning"`) {
		t.Errorf("a warning check does not say so: %s", b)
	}
}

func TestChecksKeepsFirstFailure(t *testing.T) {
	first, second := errors.New("first"), errors.New("second")
	var c Checks
	c.Pass("a", "ok %d", 1)
	c.Merge([]Check{Pass("b", "sub")}, nil)
	c.Skip("c", "no input")
	if c.Err != nil {
		t.Fatalf("Err = %v with no failure", c.Err)
	}
	c.Fail("d", first)
	c.Merge([]Check{Fail("e", second)}, second)
	c.Fail("f", second)
	if c.Err != first {
		t.Errorf("Err = %v, want the first failure", c.Err)
	}
	var names []string
	for _, ch := range c.List {
		names = append(names, ch.Name)
	}
	if got := strings.Join(names, ","); got != "a,b,c,d,e,f" {
		t.Errorf("checks in order %s", got)
	}
}
