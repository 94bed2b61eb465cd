package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the service's Prometheus series, on a registry of its own
// (no global state).
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	appraisals   *prometheus.CounterVec
	appraiseTime *prometheus.HistogramVec
	releases     *prometheus.CounterVec
	sessions     prometheus.Counter
	fetches      *prometheus.CounterVec
	fetchTime    *prometheus.HistogramVec
	collAge      *prometheus.HistogramVec
	// Policy lifecycle.
	shadowDiffs   *prometheus.CounterVec
	policyReloads prometheus.Counter
	policyGen     prometheus.Gauge
}

func newMetrics(build string) *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "assay_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		appraisals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_appraisals_total", Help: "Evidence appraisals by TEE and verdict (EAR tier).",
		}, []string{"tee", "status"}),
		appraiseTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "assay_appraisal_duration_seconds", Help: "Time to appraise one submission of evidence, by TEE.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"tee"}),
		releases: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_secret_releases_total", Help: "Secret release decisions: released, denied, not_found, unauthenticated.",
		}, []string{"outcome"}),
		sessions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "assay_challenges_total", Help: "Challenges issued (KBS auth and /v1/challenge).",
		}),
	}
	m.fetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "assay_collateral_fetches_total", Help: "Attempts to fetch collateral from a vendor service, by host and outcome (HTTP status, or error).",
	}, []string{"host", "outcome"})
	m.fetchTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "assay_collateral_fetch_duration_seconds", Help: "Duration of collateral fetch attempts, by host.",
		Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"host"})
	m.collAge = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "assay_collateral_age_seconds", Help: "Age of the collateral documents appraisals used (since their fetch), by document kind.",
		Buckets: []float64{60, 600, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400, 90 * 86400},
	}, []string{"what"})
	m.shadowDiffs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "assay_policy_shadow_differences_total", Help: "Appraisals whose verdict with staged reference values counted (shadow) differs from the verdict, by TEE.",
	}, []string{"tee"})
	m.policyReloads = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "assay_policy_reloads_total", Help: "Times this replica reloaded and compiled the stored policies and reference values after a change.",
	})
	m.policyGen = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "assay_policy_generation", Help: "The store's policy generation this replica last loaded.",
	})
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "assay_build_info", Help: "Build of the running binary (always 1).",
	}, []string{"version"})
	info.WithLabelValues(build).Set(1)
	reg.MustRegister(m.requests, m.latency, m.appraisals, m.appraiseTime, m.releases, m.sessions, m.fetches, m.fetchTime, m.collAge, m.shadowDiffs, m.policyReloads, m.policyGen, info)
	return m
}

// ObserveFetch counts one collateral fetch attempt; wire it to the
// collateral clients' Observe hook.
func (s *Server) ObserveFetch(host string, status int, err error, d time.Duration) {
	outcome := strconv.Itoa(status)
	if err != nil && status == 0 {
		outcome = "error"
	}
	s.metrics.fetches.WithLabelValues(host, outcome).Inc()
	s.metrics.fetchTime.WithLabelValues(host).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// reqInfo is what a handler tells the request log line.
type reqInfo struct {
	id      string
	tee     string
	failed  string
	session string
}

type reqInfoKey struct{}

func info(ctx context.Context) *reqInfo {
	if ri, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// instrument wraps a handler with a body limit, a request ID, one log line
// and the request metrics.
func (s *Server) instrument(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var idb [8]byte
		_, _ = rand.Read(idb[:])
		ri := &reqInfo{id: hex.EncodeToString(idb[:])}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri))
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
		sw := &statusWriter{ResponseWriter: w}
		w.Header().Set("X-Request-Id", ri.id)
		h(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		d := time.Since(start)
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		s.metrics.latency.WithLabelValues(route).Observe(d.Seconds())
		attrs := []any{"id", ri.id, "route", route, "status", sw.code, "duration", d.Round(time.Microsecond)}
		if ri.tee != "" {
			attrs = append(attrs, "tee", ri.tee)
		}
		if ri.session != "" {
			attrs = append(attrs, "session", ri.session)
		}
		if ri.failed != "" {
			attrs = append(attrs, "failed_check", ri.failed)
		}
		level := slog.LevelInfo
		if route == "GET /healthz" || route == "GET /readyz" {
			level = slog.LevelDebug
		}
		s.cfg.Logger.Log(r.Context(), level, "request", attrs...)
	})
}
