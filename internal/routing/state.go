package routing

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// ringSize is how many recent TTFT samples a deployment keeps for its P90.
const ringSize = 128

// BreakerState is the state of a deployment's circuit breaker.
type BreakerState string

// Breaker states.
const (
	BreakerClosed   BreakerState = "closed"    // traffic flows
	BreakerOpen     BreakerState = "open"      // skipped until the cooldown ends
	BreakerHalfOpen BreakerState = "half-open" // one probe in flight
)

// state is the live view of one deployment: its admission queue, latency
// averages and circuit breaker. One per Deployment, created by New.
type state struct {
	d   *Deployment
	cfg *Config
	now func() time.Time

	// mu guards every field below.
	mu          sync.Mutex
	inflight    int
	stdInflight int       // of inflight, standard requests
	optQ        []*waiter // optimized requests waiting for a slot, FIFO
	stdQ        []*waiter // standard requests waiting for a slot, FIFO
	optRun      int       // optimized admissions in a row while standard waited

	// Rate limiting (Deployment.MaxRPS): a token bucket.
	tokens   float64
	tokensAt time.Time

	ttft     float64 // EWMA of time to first event, seconds; 0 = no sample
	otps     float64 // EWMA of output tokens per second; 0 = no sample
	ring     [ringSize]time.Duration
	ringN    int // samples stored, ≤ ringSize
	ringNext int

	brState    BreakerState
	fails      int       // consecutive failures
	openUntil  time.Time // when an open breaker may probe
	cooldown   time.Duration
	probing    bool // half-open probe in flight
	wrrCurrent int  // smooth weighted round robin state, guarded by the model's mutex

	attempts, failures, hedges, hedgeWins, stalls, opens uint64
}

func newState(d *Deployment, cfg *Config, now func() time.Time) *state {
	return &state{d: d, cfg: cfg, now: now, brState: BreakerClosed, cooldown: time.Duration(cfg.Breaker.Cooldown)}
}

// waiter is a request waiting in a deployment's queue.
type waiter struct {
	ch      chan struct{} // closed when the slot is granted
	granted bool          // guarded by state.mu
}

// errBusy is returned by acquire when wait is false and no slot is free.
var errBusy = llm.Errorf(llm.KindThrottled, "deployment busy")

// acquire takes a slot on the deployment, waiting in its priority queue when
// wait is true and no slot is free for p. Optimized requests are admitted
// before waiting standard ones, except that after StarvationLimit optimized
// admissions in a row one standard request goes first; standard requests
// never take the deployment's ReservedOptimized last slots. The slot is
// given back with release(p).
func (s *state) acquire(ctx context.Context, p llm.Latency, wait bool) error {
	if err := s.takeToken(ctx, wait); err != nil {
		return err
	}
	s.mu.Lock()
	if s.d.MaxConcurrency <= 0 {
		s.admit(p)
		s.mu.Unlock()
		return nil
	}
	if !wait {
		ok := s.inflight < s.d.MaxConcurrency && len(s.optQ) == 0 &&
			(p == llm.LatencyOptimized || (len(s.stdQ) == 0 && s.stdFits()))
		if ok {
			s.admit(p)
		}
		s.mu.Unlock()
		if !ok {
			return errBusy
		}
		return nil
	}
	if len(s.optQ)+len(s.stdQ) >= s.cfg.MaxQueue {
		s.mu.Unlock()
		return &llm.Error{Kind: llm.KindThrottled, Message: fmt.Sprintf("deployment %s queue is full", s.d.Name)}
	}
	w := &waiter{ch: make(chan struct{})}
	if p == llm.LatencyOptimized {
		s.optQ = append(s.optQ, w)
	} else {
		s.stdQ = append(s.stdQ, w)
	}
	s.dispatch() // admits w at once when a slot is free for it
	if w.granted {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()

	t := time.NewTimer(time.Duration(s.cfg.QueueTimeout))
	defer t.Stop()
	var err error
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = &llm.Error{Kind: llm.KindThrottled, Message: fmt.Sprintf("no free slot on deployment %s within %v", s.d.Name, time.Duration(s.cfg.QueueTimeout))}
	}
	s.mu.Lock()
	if w.granted { // the grant raced with our giving up: pass the slot on
		s.unadmit(p)
		s.dispatch()
	} else {
		s.optQ = slices.DeleteFunc(s.optQ, func(x *waiter) bool { return x == w })
		s.stdQ = slices.DeleteFunc(s.stdQ, func(x *waiter) bool { return x == w })
	}
	s.mu.Unlock()
	return err
}

// stdFits reports whether a standard request may take a slot now, leaving
// the reserved ones to optimized traffic. s.mu must be held.
func (s *state) stdFits() bool {
	max := s.d.MaxConcurrency
	return max <= 0 || s.stdInflight < max-s.d.ReservedOptimized
}

// admit and unadmit count a slot taken or given back. s.mu must be held.
func (s *state) admit(p llm.Latency) {
	s.inflight++
	if p != llm.LatencyOptimized {
		s.stdInflight++
	}
}

func (s *state) unadmit(p llm.Latency) {
	s.inflight--
	if p != llm.LatencyOptimized {
		s.stdInflight--
	}
}

// release frees a slot that acquire(p) took.
func (s *state) release(p llm.Latency) {
	s.mu.Lock()
	s.unadmit(p)
	s.dispatch()
	s.mu.Unlock()
}

// dispatch hands free slots to waiters. s.mu must be held.
func (s *state) dispatch() {
	max := s.d.MaxConcurrency
	for max <= 0 || s.inflight < max {
		canOpt := len(s.optQ) > 0
		canStd := len(s.stdQ) > 0 && s.stdFits()
		var w *waiter
		switch {
		case canOpt && (!canStd || s.optRun < s.cfg.StarvationLimit):
			w, s.optQ = s.optQ[0], s.optQ[1:]
			if len(s.stdQ) > 0 {
				s.optRun++
			}
			s.admit(llm.LatencyOptimized)
		case canStd:
			w, s.stdQ = s.stdQ[0], s.stdQ[1:]
			s.optRun = 0
			s.admit(llm.LatencyStandard)
		default:
			return
		}
		w.granted = true
		close(w.ch)
	}
}

// takeToken enforces Deployment.MaxRPS with a token bucket whose burst is
// one second's worth of requests.
func (s *state) takeToken(ctx context.Context, wait bool) error {
	rate := s.d.MaxRPS
	if rate <= 0 {
		return nil
	}
	burst := max(rate, 1)
	for {
		s.mu.Lock()
		now := s.now()
		if s.tokensAt.IsZero() {
			s.tokens = burst
		} else {
			s.tokens = min(burst, s.tokens+now.Sub(s.tokensAt).Seconds()*rate)
		}
		s.tokensAt = now
		if s.tokens >= 1 {
			s.tokens--
			s.mu.Unlock()
			return nil
		}
		need := time.Duration((1 - s.tokens) / rate * float64(time.Second))
		s.mu.Unlock()
		if !wait || need > time.Duration(s.cfg.QueueTimeout) {
			return &llm.Error{Kind: llm.KindThrottled, Message: fmt.Sprintf("deployment %s is at its rate limit", s.d.Name)}
		}
		t := time.NewTimer(need)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// load is the number of requests on or waiting for the deployment.
func (s *state) load() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight + len(s.optQ) + len(s.stdQ)
}

// observeTTFT folds a time-to-first-event sample into the EWMA and the P90
// ring.
func (s *state) observeTTFT(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ttft = ewma(s.ttft, d.Seconds(), s.cfg.EWMAAlpha)
	s.ring[s.ringNext] = d
	s.ringNext = (s.ringNext + 1) % ringSize
	if s.ringN < ringSize {
		s.ringN++
	}
}

// observeSlow records that an attempt had no first event after d (a hedge
// loser or a TTFT timeout): a lower bound on its TTFT, folded into the EWMA
// only when it raises it, so that a slow deployment is not trusted again
// just because its slow answers were cancelled.
func (s *state) observeSlow(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.Seconds() > s.ttft {
		s.ttft = ewma(s.ttft, d.Seconds(), s.cfg.EWMAAlpha)
	}
}

// observeOTPS folds an output-tokens-per-second sample into the EWMA.
func (s *state) observeOTPS(v float64) {
	s.mu.Lock()
	s.otps = ewma(s.otps, v, s.cfg.EWMAAlpha)
	s.mu.Unlock()
}

func ewma(old, x, alpha float64) float64 {
	if old == 0 {
		return x
	}
	return alpha*x + (1-alpha)*old
}

// p90 returns the 90th percentile of the recent TTFT samples and whether
// there are at least min of them.
func (s *state) p90(min int) (time.Duration, bool) {
	s.mu.Lock()
	n := s.ringN
	if n == 0 || n < min {
		s.mu.Unlock()
		return 0, false
	}
	var buf [ringSize]time.Duration
	copy(buf[:], s.ring[:n])
	s.mu.Unlock()
	xs := buf[:n]
	slices.Sort(xs)
	return xs[(n*9+9)/10-1], true
}

// available reports whether the breaker would let a request through now,
// without claiming the half-open probe.
func (s *state) available() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.brState {
	case BreakerOpen:
		return !s.now().Before(s.openUntil)
	case BreakerHalfOpen:
		return !s.probing
	}
	return true
}

// begin claims permission to send a request: always when closed, the single
// probe when open past its cooldown (the breaker turns half-open), never
// otherwise.
func (s *state) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.brState {
	case BreakerOpen:
		if s.now().Before(s.openUntil) {
			return false
		}
		s.brState, s.probing = BreakerHalfOpen, true
	case BreakerHalfOpen:
		if s.probing {
			return false
		}
		s.probing = true
	}
	s.attempts++
	return true
}

// succeed records a successful attempt (a first event arrived). It returns
// the breaker's previous state when the breaker closes.
func (s *state) succeed() (from BreakerState, changed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails = 0
	if s.brState == BreakerClosed {
		return "", false
	}
	from = s.brState
	s.brState, s.probing = BreakerClosed, false
	s.cooldown = time.Duration(s.cfg.Breaker.Cooldown)
	return from, true
}

// fail records a failed attempt; it returns true when the breaker opens.
func (s *state) fail() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures++
	s.fails++
	if s.cfg.Breaker.Failures < 0 {
		return false
	}
	switch {
	case s.brState == BreakerHalfOpen:
		s.cooldown = min(2*s.cooldown, time.Duration(s.cfg.Breaker.MaxCooldown))
	case s.brState == BreakerClosed && s.fails >= s.cfg.Breaker.Failures:
	default:
		return false
	}
	s.brState, s.probing = BreakerOpen, false
	s.openUntil = s.now().Add(s.cooldown)
	s.opens++
	return true
}

// abandon gives back a half-open probe whose outcome says nothing about the
// deployment (the client went away, or the attempt lost a hedge race).
func (s *state) abandon() {
	s.mu.Lock()
	if s.brState == BreakerHalfOpen {
		s.probing = false
	}
	s.mu.Unlock()
}
