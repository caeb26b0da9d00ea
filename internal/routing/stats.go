package routing

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// Stats is a snapshot of the router's live state, for an admin endpoint.
type Stats struct {
	// Requests counts routed requests by profile.
	Requests map[llm.Latency]uint64 `json:"requests"`
	// Hedges is how many second attempts hedging started; HedgeRate is
	// Hedges over optimized requests — the extra load hedging costs.
	Hedges    uint64  `json:"hedges"`
	HedgeRate float64 `json:"hedge_rate"`
	// Retries counts attempts after a request's first.
	Retries     uint64            `json:"retries"`
	Deployments []DeploymentStats `json:"deployments"`
}

// DeploymentStats is the live state of one deployment.
type DeploymentStats struct {
	Model      string `json:"model"`
	Deployment string `json:"deployment"`
	// InFlight is the requests holding a slot; QueuedOptimized and
	// QueuedStandard those waiting for one.
	InFlight        int `json:"in_flight"`
	QueuedOptimized int `json:"queued_optimized"`
	QueuedStandard  int `json:"queued_standard"`
	// TTFTMs is the EWMA of the time to first token, P90TTFTMs the 90th
	// percentile of the last 128, OTPS the EWMA of output tokens per second.
	TTFTMs    float64 `json:"ttft_ms"`
	P90TTFTMs float64 `json:"p90_ttft_ms"`
	OTPS      float64 `json:"otps"`
	// Breaker is closed, open or half-open; OpenFor is the cooldown left.
	Breaker  BreakerState `json:"breaker"`
	OpenFor  string       `json:"open_for,omitempty"`
	Attempts uint64       `json:"attempts"`
	Failures uint64       `json:"failures"`
	Stalls   uint64       `json:"stalls"`
	Opens    uint64       `json:"breaker_opens"`
	// Hedges is hedges started on this deployment; HedgeWins those that
	// streamed first.
	Hedges    uint64 `json:"hedges"`
	HedgeWins uint64 `json:"hedge_wins"`
}

// Stats returns a snapshot of every deployment's state.
func (r *Router) Stats() Stats {
	r.mu.Lock()
	out := Stats{Requests: map[llm.Latency]uint64{}, Hedges: r.hedges, Retries: r.retries}
	for k, v := range r.requests {
		out.Requests[k] = v
	}
	r.mu.Unlock()
	if n := out.Requests[llm.LatencyOptimized]; n > 0 {
		out.HedgeRate = float64(out.Hedges) / float64(n)
	}
	for _, m := range r.list {
		for _, d := range m.Deployments {
			out.Deployments = append(out.Deployments, d.st.stats(m.ID))
		}
	}
	return out
}

func (s *state) stats(model string) DeploymentStats {
	p90, _ := s.p90(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	ds := DeploymentStats{
		Model: model, Deployment: s.d.Name,
		InFlight: s.inflight, QueuedOptimized: len(s.optQ), QueuedStandard: len(s.stdQ),
		TTFTMs: s.ttft * 1000, P90TTFTMs: float64(p90) / float64(time.Millisecond), OTPS: s.otps,
		Breaker: s.brState, Attempts: s.attempts, Failures: s.failures, Stalls: s.stalls, Opens: s.opens,
		Hedges: s.hedges, HedgeWins: s.hedgeWins,
	}
	if s.brState == BreakerOpen {
		if left := s.openUntil.Sub(s.now()); left > 0 {
			ds.OpenFor = left.Round(time.Millisecond).String()
		}
	}
	return ds
}

// StatsHandler serves Stats as JSON, for an admin endpoint (GET only).
func (r *Router) StatsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(r.Stats())
	})
}
