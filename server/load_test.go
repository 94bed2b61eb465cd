package server_test

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assay-dev/assay/attest"
	"github.com/assay-dev/assay/attester"
	"github.com/assay-dev/assay/internal/rcar"
	"github.com/assay-dev/assay/internal/testutil"
	"github.com/assay-dev/assay/verifier"
	"github.com/assay-dev/assay/verifier/sevsnp"
)

// TestLoad is the bounded load test of the background-check flow: it is
// skipped unless ASSAY_LOAD is set (scripts/loadtest.sh sets it). It serves
// the real handler on loopback TCP, drives challenge + attest round trips
// with SNP evidence from ASSAY_LOAD_WORKERS concurrent clients for
// ASSAY_LOAD_SECONDS, and reports the rate and the p50/p99 latency beside
// the in-process appraisal rate measured in the same run on the same
// evidence. It reports; it asserts nothing about speed.
func TestLoad(t *testing.T) {
	if os.Getenv("ASSAY_LOAD") == "" {
		t.Skip("set ASSAY_LOAD=1 (scripts/loadtest.sh) to run the load test")
	}
	workers := envInt("ASSAY_LOAD_WORKERS", 8)
	seconds := envInt("ASSAY_LOAD_SECONDS", 10)
	storeKind := os.Getenv("ASSAY_LOAD_STORE")
	st := testutil.SQLiteStore(t)
	if storeKind == "postgres" {
		st = testutil.PostgresStore(t, testutil.PostgresDSN(t))
	} else {
		storeKind = "sqlite"
	}
	e := newEnv(t, st)

	// In-process: the same evidence appraised by the same verifiers, as
	// many goroutines as cores, for the same duration.
	vs := verifier.Verifiers(verifier.Config{SNPCache: &sevsnp.Cache{}})
	rd, _ := rcar.DeviceDigest("sha384", "bm9uY2U=", nil)
	files, _ := snpSource{t: t, guest: e.guest}.Evidence(t.Context(), rd)
	inputs := []verifier.Input{{Name: files[0].Name, Data: files[0].Data}, {Name: files[1].Name, Data: files[1].Data}}
	params := attest.Params{Nonce: rd, Roots: e.guest.Roots()}
	var inproc atomic.Int64
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				rs, err := verifier.Appraise(t.Context(), vs, inputs, "", params)
				if err != nil || rs[0].Status != attest.StatusAffirming {
					t.Errorf("in-process appraisal: %v", err)
					return
				}
				inproc.Add(1)
			}
		})
	}
	wg.Wait()
	inRate := float64(inproc.Load()) / float64(seconds)

	// Over HTTP: challenge, evidence bound to it, attest.
	src := snpSource{t: t, guest: e.guest}
	var mu sync.Mutex
	var lat []time.Duration
	var failures atomic.Int64
	deadline = time.Now().Add(time.Duration(seconds) * time.Second)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			c := &attester.Client{BaseURL: e.url}
			var mine []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				v, err := c.Run(t.Context(), src, "snp", nil, nil)
				if err != nil || v.Token == "" {
					failures.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	httpRate := float64(len(lat)) / elapsed.Seconds()
	// Signing the report in the fake guest runs in the client, on the
	// same cores; its cost is measured so the report can say so.
	t0 := time.Now()
	const signs = 200
	for range signs {
		e.guest.Report(t, rd, nil)
	}
	signCost := time.Since(t0) / signs
	fmt.Printf("load: store=%s workers=%d duration=%ds GOMAXPROCS=%d\n", storeKind, workers, seconds, runtime.GOMAXPROCS(0))
	fmt.Printf("load: in-process appraisal: %.0f/s\n", inRate)
	fmt.Printf("load: HTTP background check (challenge+attest): %.0f/s, p50 %v, p99 %v, max %v, failures %d\n",
		httpRate, pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), pct(1).Round(10*time.Microsecond), failures.Load())
	fmt.Printf("load: HTTP/in-process = %.0f%% (the client's fake guest signs each report on the same cores: %v per report)\n",
		100*httpRate/inRate, signCost.Round(time.Microsecond))
	if failures.Load() > 0 {
		t.Errorf("%d round trips failed", failures.Load())
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
