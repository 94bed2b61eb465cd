package attest

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestFreshnessJudge(t *testing.T) {
	at := time.Date(2025, 7, 22, 0, 0, 0, 0, time.UTC)
	next := at.Add(-50 * time.Hour)
	// No limit: stale documents are refused and nothing is judged.
	ctx := WithCollateralRecorder(context.Background())
	if UseStale(ctx, "crl", next, at) {
		t.Error("a stale document was allowed without a limit")
	}
	if _, ok := Judge(ctx); ok {
		t.Error("judged without a limit")
	}
	f := Freshness{MaxStale: 72 * time.Hour, Beyond: StatusContraindicated}
	// A limit but nothing used: nothing to judge.
	if _, ok := Judge(WithCollateralRecorder(WithFreshness(context.Background(), f))); ok {
		t.Error("judged an appraisal that used no collateral")
	}
	// A current document is not stale.
	ctx = WithCollateralRecorder(WithFreshness(context.Background(), f))
	if UseStale(ctx, "crl", at.Add(time.Hour), at) {
		t.Error("a current document counted as stale")
	}
	RecordCollateral(ctx, CollateralUse{What: "crl", From: "cache"})
	if c, ok := Judge(ctx); !ok || !c.OK || !strings.Contains(c.Detail, "no collateral used was past") {
		t.Errorf("current: %+v %v", c, ok)
	}
	// Within the limit: passes, saying how stale.
	for range 2 { // noted once however often it is asked about
		if !UseStale(ctx, "the Milan CRL", next, at) {
			t.Fatal("a stale document within the limit was refused")
		}
	}
	if c, _ := Judge(ctx); !c.OK || !strings.Contains(c.Detail, "the Milan CRL is 50h0m0s past its nextUpdate") {
		t.Errorf("within: %+v", c)
	}
	// Beyond it: fails with the operator's severity, naming the document.
	UseStale(ctx, "TDX TCB info", at.Add(-100*time.Hour), at)
	c, _ := Judge(ctx)
	if c.OK || c.Severity != StatusContraindicated || !strings.Contains(c.Detail, "TDX TCB info is 100h0m0s past") || !strings.Contains(c.Detail, "within it: the Milan CRL") {
		t.Errorf("beyond: %+v", c)
	}
	f.Beyond = StatusWarning
	ctx = WithCollateralRecorder(WithFreshness(context.Background(), f))
	UseStale(ctx, "TDX TCB info", at.Add(-100*time.Hour), at)
	if c, _ := Judge(ctx); c.OK || c.Severity != StatusWarning {
		t.Errorf("beyond, warn: %+v", c)
	}
	for _, bad := range []Freshness{{MaxStale: -time.Hour, Beyond: StatusWarning}, {MaxStale: time.Hour, Beyond: StatusAffirming}} {
		if bad.Validate() == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}
