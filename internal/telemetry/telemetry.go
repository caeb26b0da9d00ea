// Package telemetry exposes Outcrop's Prometheus metrics: histograms of time
// to first token, output tokens per second, end-to-end latency and gateway
// overhead by model, deployment and profile, and request and token counters.
package telemetry

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/outcrop/outcrop/internal/gateway"
)

// Metrics holds the collectors of one server. It implements
// gateway.Recorder.
type Metrics struct {
	reg      *prometheus.Registry
	ttft     *prometheus.HistogramVec
	otps     *prometheus.HistogramVec
	e2e      *prometheus.HistogramVec
	overhead *prometheus.HistogramVec
	requests *prometheus.CounterVec
	tokens   *prometheus.CounterVec
}

var labels = []string{"model", "deployment", "profile"}

// New returns metrics registered in a fresh registry (plus the Go runtime
// and process collectors).
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.ttft = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "outcrop_ttft_seconds",
		Help:    "Time from request received to first output token sent.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, labels)
	m.otps = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "outcrop_output_tokens_per_second",
		Help:    "Output tokens divided by generation time after the first token.",
		Buckets: []float64{1, 2, 5, 10, 20, 40, 60, 80, 100, 150, 200, 400, 1000},
	}, labels)
	m.e2e = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "outcrop_e2e_seconds",
		Help:    "Time from request received to response complete.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
	}, labels)
	m.overhead = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "outcrop_gateway_overhead_seconds",
		Help:    "Time a request spent in Outcrop itself rather than waiting for the upstream.",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
	}, labels)
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outcrop_requests_total",
		Help: "Requests by model, deployment, profile, operation and status.",
	}, append(append([]string{}, labels...), "op", "status"))
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outcrop_tokens_total",
		Help: "Tokens by model, deployment, profile and kind (input, output, cache_read, cache_write, reasoning: the part of output spent thinking).",
	}, append(append([]string{}, labels...), "kind"))
	m.reg.MustRegister(m.ttft, m.otps, m.e2e, m.overhead, m.requests, m.tokens,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, for other packages' collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Record implements gateway.Recorder.
func (m *Metrics) Record(r gateway.Record) {
	model := r.Served.Model
	if model == "" {
		model = r.Call.Model
	}
	if model == "" && r.Call.Request != nil {
		model = r.Call.Request.Model
	}
	lv := []string{model, r.Served.Deployment, string(r.Served.Profile)}
	m.requests.WithLabelValues(append(lv, r.Call.Op, r.Status)...).Inc()
	if r.Err != nil {
		return
	}
	if r.Metrics.TTFTMs > 0 || r.Usage.OutputTokens > 0 {
		m.ttft.WithLabelValues(lv...).Observe(float64(r.Metrics.TTFTMs) / 1000)
	}
	if r.Metrics.OTPS > 0 {
		m.otps.WithLabelValues(lv...).Observe(r.Metrics.OTPS)
	}
	m.e2e.WithLabelValues(lv...).Observe(float64(r.Metrics.LatencyMs) / 1000)
	m.overhead.WithLabelValues(lv...).Observe(r.Overhead.Seconds())
	add := func(kind string, n int) {
		if n > 0 {
			m.tokens.WithLabelValues(append(lv, kind)...).Add(float64(n))
		}
	}
	add("input", r.Usage.InputTokens)
	add("output", r.Usage.OutputTokens)
	add("cache_read", r.Usage.CacheReadInputTokens)
	add("cache_write", r.Usage.CacheWriteInputTokens)
	add("reasoning", r.Usage.ReasoningTokens) // part of output, counted apart too
}

var _ gateway.Recorder = (*Metrics)(nil)
