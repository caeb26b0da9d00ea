package routing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

// maxHedgeCredit bounds how many hedges an idle period can save up for a
// later burst.
const maxHedgeCredit = 5

// candidate is a deployment of the requested model or of a fallback model.
type candidate struct {
	m *Model
	d *Deployment
}

// Route serves c: it is the gateway's final handler. Failures before the
// first token are retried on other deployments and fallback models; the
// returned stream enforces the stall timeout and the request deadline.
func (r *Router) Route(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
	m, ok := r.Lookup(c.Request.Model)
	if !ok {
		return nil, llm.Errorf(llm.KindNotFound, "The model %s does not exist or you do not have access to it", c.Request.Model)
	}
	profile, err := Profile(m, c.Request)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.requests[profile]++
	if profile == llm.LatencyOptimized {
		r.hedgeCredit = min(r.hedgeCredit+r.cfg.Hedge.Budget, maxHedgeCredit)
	}
	r.mu.Unlock()

	// The deadline covers the whole request, stream included; the stream
	// owns cancelDeadline once it is returned.
	dctx, cancelDeadline := context.WithTimeout(ctx, time.Duration(r.cfg.Deadline))
	s, err := r.serve(ctx, dctx, c, m, profile)
	if err != nil {
		cancelDeadline()
		return nil, err
	}
	s.reqCtx, s.clientCtx, s.cancelDeadline = dctx, ctx, cancelDeadline
	return s, nil
}

// serve runs attempts until one produces a first token or the request
// cannot succeed. ctx is the client's context, dctx the deadline's.
func (r *Router) serve(ctx, dctx context.Context, c *gateway.Call, m *Model, profile llm.Latency) (*stream, error) {
	// Every served request records where its prefix went; only optimized
	// requests use the table to choose.
	var key uint64
	if m.rt.affinity != nil {
		key = PrefixKey(c.Request)
	}
	var cands []candidate
	var buf [maxPlan]*Deployment
	affine := false
	for i, mm := range r.chain(m) {
		ds, aff := r.plan(mm, profile, key, buf[:0])
		if i == 0 {
			affine = aff
		}
		for _, d := range ds {
			cands = append(cands, candidate{mm, d})
		}
	}
	if len(cands) == 0 {
		return nil, llm.Errorf(llm.KindUnavailable, "no deployment of %s serves the %s profile", m.ID, profile)
	}
	maxAttempts := r.cfg.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = min(max(2*len(cands), 3), 10)
	}
	fails := make([]int, len(cands))
	var lastErr error
	var started atomic.Int32 // provider attempts, hedges included
	skips := 0
	for n := 0; n < maxAttempts; n++ {
		i, forced := pickNext(cands, fails)
		if fails[i] > 0 {
			if err := r.backoff(dctx, fails[i], lastErr); err != nil {
				return nil, r.endErr(ctx, dctx, err)
			}
		}
		if n > 0 {
			r.mu.Lock()
			r.retries++
			r.mu.Unlock()
		}
		var hedges []candidate
		if n == 0 && profile == llm.LatencyOptimized && !r.cfg.Hedge.Disabled {
			for j := range cands {
				if j != i && cands[j].m == cands[i].m {
					hedges = append(hedges, cands[j])
				}
			}
		}
		a, failed, err := r.try(dctx, c, cands[i], hedges, profile, forced, &started)
		if err == nil && !c.Stream {
			// A buffered client has received nothing yet: an answer that
			// breaks off part way is a failed attempt like any other.
			if err = a.drain(); err != nil {
				failed = []*Deployment{a.d}
			}
		}
		if err == nil {
			if affine && n == 0 && a.d == cands[0].d {
				c.Annotate(slog.Bool("route_affinity", true))
			}
			if n > 0 {
				c.Annotate(slog.Int("route_retries", n))
			}
			if key != 0 {
				a.m.rt.affinity.put(key, a.d)
			}
			c.SetServed(llm.Served{Model: a.m.ID, Deployment: a.d.Name, Provider: a.d.Type, Profile: profile, Attempts: int(started.Load())})
			c.UpdateAttempt(a.idx, func(x *gateway.Attempt) { x.Winner = true })
			return newStream(r, a), nil
		}
		lastErr = err
		if len(failed) == 0 {
			fails[i]++ // skipped by its breaker: try the others first
		}
		for _, f := range failed {
			for j := range cands {
				if cands[j].d == f {
					fails[j]++
				}
			}
		}
		if ctx.Err() != nil || dctx.Err() != nil {
			return nil, r.endErr(ctx, dctx, err)
		}
		if errors.Is(err, errSkip) && skips < len(cands) {
			skips++
			n-- // the breaker turned it away; no attempt was made
			continue
		}
		if !llm.IsRetryable(err) {
			return nil, err
		}
	}
	return nil, lastErr
}

// errSkip is returned for a candidate whose breaker refused the attempt.
var errSkip = llm.Errorf(llm.KindUnavailable, "circuit open")

// pickNext returns the candidate to try next: the first, in plan order,
// among those that failed least in this request and whose breaker is not
// open. When every breaker is open it returns the least-failed candidate
// anyway (forced): a breaker never turns away a request's last option.
func pickNext(cands []candidate, fails []int) (int, bool) {
	best := -1
	for i := range cands {
		if cands[i].d.st.available() && (best < 0 || fails[i] < fails[best]) {
			best = i
		}
	}
	if best >= 0 {
		return best, false
	}
	for i := range cands {
		if best < 0 || fails[i] < fails[best] {
			best = i
		}
	}
	return best, true
}

// backoff sleeps before retrying a deployment that already failed this
// request: exponential in the number of its failures with full jitter,
// stretched to the upstream's Retry-After when it asks for longer, capped
// by BackoffMax.
func (r *Router) backoff(ctx context.Context, failures int, lastErr error) error {
	d := time.Duration(r.cfg.BackoffBase) << min(failures-1, 16)
	d = time.Duration(rand.Int64N(int64(d) + 1))
	var e *llm.Error
	if errors.As(lastErr, &e) && e.RetryAfter > d {
		d = e.RetryAfter
	}
	d = min(d, time.Duration(r.cfg.BackoffMax))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// endErr is the error of a request whose client went away or whose
// deadline passed.
func (r *Router) endErr(ctx, dctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return &llm.Error{Kind: llm.KindCanceled, Message: "request canceled", Err: llm.ErrCanceled}
	case dctx.Err() != nil:
		return &llm.Error{Kind: llm.KindTimeout, Message: fmt.Sprintf("request deadline of %v exceeded", time.Duration(r.cfg.Deadline)), Err: err}
	}
	return err
}

// try runs one attempt on cand, hedged on one of hedges when the profile
// allows it and the first token is late. It returns the winning attempt, or
// the deployments that failed and the last error.
func (r *Router) try(ctx context.Context, c *gateway.Call, cand candidate, hedges []candidate, profile llm.Latency, forced bool, started *atomic.Int32) (*attempt, []*Deployment, error) {
	delay, hedge := time.Duration(0), false
	if len(hedges) > 0 {
		if p90, ok := cand.d.st.p90(r.cfg.Hedge.MinSamples); ok {
			delay, hedge = max(p90, time.Duration(r.cfg.Hedge.MinDelay)), true
		}
	}
	a := r.newAttempt(ctx, c, cand, profile)
	a.whole = !c.Stream && !hedge && cand.d.TTFTTimeout == 0 && cand.d.StallTimeout == 0
	if !a.claim(forced) {
		a.cancel()
		return nil, nil, errSkip
	}
	started.Add(1)
	c.SetServed(llm.Served{Model: cand.m.ID, Deployment: cand.d.Name, Provider: cand.d.Type, Profile: profile, Attempts: int(started.Load())})
	if !hedge {
		if err := a.run(true); err != nil {
			return nil, []*Deployment{a.d}, err
		}
		return a, nil, nil
	}

	// Hedged: the primary runs in its own goroutine, which ends when its
	// first token arrives or it fails; cancellation guarantees either.
	results := make(chan *attempt, 2)
	go func() {
		a.err = a.run(true)
		results <- a
	}()
	pending := 1
	timer := time.NewTimer(delay)
	defer timer.Stop()
	timerC := timer.C
	var failed []*Deployment
	var lastErr error
	var h *attempt
	for pending > 0 {
		select {
		case <-timerC:
			timerC = nil
			if h = r.startHedge(ctx, c, hedges, profile, results); h != nil {
				pending++
				started.Add(1)
				c.Annotate(slog.String("route_hedge", h.d.Name))
			}
		case x := <-results:
			pending--
			if x.err != nil {
				failed = append(failed, x.d)
				lastErr = x.err
				if h == nil && timerC != nil {
					return nil, failed, lastErr // failed before the hedge delay: retry normally
				}
				continue
			}
			if pending > 0 {
				other := a
				if x == a {
					other = h
				}
				other.lost.Store(true)
				other.cancel()
				go func() { // ends when the loser's run returns, which cancel guarantees
					if y := <-results; y.err == nil {
						y.discard()
					}
				}()
			}
			if x == h {
				x.st.mu.Lock()
				x.st.hedgeWins++
				x.st.mu.Unlock()
			}
			return x, failed, nil
		}
	}
	return nil, failed, lastErr
}

// startHedge starts a hedge on the first of hedges that has a free slot
// right now, if the hedge budget allows one. The hedge's result goes to
// results.
func (r *Router) startHedge(ctx context.Context, c *gateway.Call, hedges []candidate, profile llm.Latency, results chan<- *attempt) *attempt {
	r.mu.Lock()
	if r.hedgeCredit < 1 {
		r.mu.Unlock()
		return nil
	}
	r.hedgeCredit--
	r.mu.Unlock()
	for _, hc := range hedges {
		if !hc.d.st.available() {
			continue
		}
		h := r.newAttempt(ctx, c, hc, profile)
		if !h.claim(false) {
			h.cancel()
			continue
		}
		if err := h.st.acquire(h.ctx, profile, false); err != nil {
			h.st.abandon()
			h.cancel()
			continue
		}
		h.acquired = true
		h.st.mu.Lock()
		h.st.hedges++
		h.st.mu.Unlock()
		r.mu.Lock()
		r.hedges++
		r.mu.Unlock()
		go func() { // ends when the hedge's first token arrives or it fails
			h.err = h.run(false)
			results <- h
		}()
		return h
	}
	r.mu.Lock()
	r.hedgeCredit++ // nothing could take the hedge: refund it
	r.mu.Unlock()
	return nil
}

// attempt is one provider call made for a request.
type attempt struct {
	r       *Router
	c       *gateway.Call
	m       *Model
	d       *Deployment
	st      *state
	profile llm.Latency
	req     *llm.Request
	parent  context.Context // the request's (deadline) context
	ctx     context.Context
	cancel  context.CancelFunc
	idx     int // index in the call's attempts
	start   time.Time

	whole    bool        // ask a Conversor for the whole answer in one piece
	acquired bool        // holds a slot on the deployment
	lost     atomic.Bool // cancelled because another attempt won
	err      error       // run's result, for hedged attempts

	s       llm.Stream
	head    []llm.Event // events read up to and including the first token (to the end when buffered)
	headErr error       // io.EOF when the stream ended within head
	firstAt time.Time
	// firstWall is firstAt on the wall clock, as the call's attempts record it.
	firstWall time.Time

	// Output as it arrived from the upstream, for the OTPS average.
	firstTok, lastTok time.Time
	deltas, outTokens int
}

func (r *Router) newAttempt(ctx context.Context, c *gateway.Call, cand candidate, profile llm.Latency) *attempt {
	a := &attempt{r: r, c: c, m: cand.m, d: cand.d, st: cand.d.st, profile: profile, req: c.Request, parent: ctx}
	if a.req.Model != cand.m.ID || a.req.Performance != profile {
		// Providers see the resolved profile (the local engine admits
		// optimized requests first) and the model actually served.
		a.req = a.req.Clone()
		a.req.Model, a.req.Performance = cand.m.ID, profile
	}
	if cand.d.Timeout > 0 {
		a.ctx, a.cancel = context.WithTimeout(ctx, cand.d.Timeout)
	} else {
		a.ctx, a.cancel = context.WithCancel(ctx)
	}
	return a
}

// claim asks the deployment's breaker for permission; forced attempts go
// through an open breaker.
func (a *attempt) claim(forced bool) bool {
	if forced {
		a.st.mu.Lock()
		a.st.attempts++
		a.st.mu.Unlock()
		return true
	}
	return a.st.begin()
}

// run takes a slot on the deployment (queueing when wait is true and the
// attempt holds none yet), starts the provider call and reads up to its
// first token. On failure everything the attempt held is released.
func (a *attempt) run(wait bool) error {
	a.start = a.r.now()
	a.idx = a.c.AddAttempt(gateway.Attempt{Deployment: a.d.Name, Start: time.Now()})
	if !a.acquired {
		if err := a.st.acquire(a.ctx, a.profile, wait); err != nil {
			return a.failed(err, false)
		}
		a.acquired = true
	}
	upstart := a.r.now()
	var ttftExpired atomic.Bool
	var t *time.Timer
	if a.d.TTFTTimeout > 0 {
		t = time.AfterFunc(a.d.TTFTTimeout, func() { ttftExpired.Store(true); a.cancel() })
	}
	err := a.first()
	if t != nil {
		t.Stop()
	}
	if err != nil {
		if ttftExpired.Load() {
			err = &llm.Error{Kind: llm.KindTimeout, Message: fmt.Sprintf("deployment %s sent no token within %v", a.d.Name, a.d.TTFTTimeout), Err: err}
			a.st.observeSlow(a.r.now().Sub(upstart))
		}
		return a.failed(err, true)
	}
	a.firstAt = a.r.now()
	if !a.whole {
		a.st.observeTTFT(a.firstAt.Sub(upstart)) // a whole answer says nothing about its first token
	}
	if a.c.Stream {
		a.succeed() // a buffered attempt succeeds when drain has its whole answer
	}
	a.firstWall = time.Now()
	a.c.UpdateAttempt(a.idx, func(x *gateway.Attempt) { x.FirstEvent = a.firstWall })
	return nil
}

// succeed closes the deployment's breaker after a successful attempt.
func (a *attempt) succeed() {
	if from, ok := a.st.succeed(); ok {
		a.r.log.Info("breaker closed", "deployment", a.d.Name, "model", a.m.ID, "from", string(from))
	}
}

// drain reads the rest of a buffered attempt's answer into its head, so
// that a stream breaking off anywhere fails the attempt rather than the
// request: the router then retries it on the next deployment. The stall
// timeout bounds every wait for an event, the deployment's timeout and the
// request's deadline the whole answer.
func (a *attempt) drain() error {
	if a.headErr == nil {
		var stall *time.Timer
		var stalled atomic.Bool
		st := a.d.StallTimeout
		for {
			if st > 0 {
				if stall == nil {
					stall = time.AfterFunc(st, func() { stalled.Store(true); a.cancel() })
				} else {
					stall.Reset(st)
				}
			}
			ev, err := a.s.Next()
			if stall != nil {
				stall.Stop()
			}
			if errors.Is(err, io.EOF) {
				a.headErr = io.EOF
				a.s.Close() // before the attempt's context ends, so the connection is reused
				break
			}
			if err != nil {
				a.s.Close()
				a.s = nil
				if stalled.Load() {
					a.st.mu.Lock()
					a.st.stalls++
					a.st.mu.Unlock()
					err = &llm.Error{Kind: llm.KindTimeout, Message: fmt.Sprintf("the model stream stalled: no event for %v", st), Err: err}
				} else if e := (*llm.Error)(nil); !errors.As(err, &e) && a.parent.Err() == nil {
					err = &llm.Error{Kind: llm.KindModelError, Message: fmt.Sprintf("the stream from deployment %s failed", a.d.Name), Err: err}
				}
				return a.failed(err, true)
			}
			a.tally(ev)
			a.head = append(a.head, ev)
		}
	}
	a.succeed()
	done := time.Now()
	if a.whole {
		done = a.firstWall // one piece: its first token is its last
	}
	a.c.UpdateAttempt(a.idx, func(x *gateway.Attempt) { x.Complete = done })
	return nil
}

// tally counts an event read from the upstream, for the OTPS average.
func (a *attempt) tally(ev llm.Event) {
	switch ev.Type {
	case llm.EventBlockDelta:
		now := a.r.now()
		if a.firstTok.IsZero() {
			a.firstTok = now
		}
		a.lastTok = now
		a.deltas++
		a.outTokens += ev.Tokens
	case llm.EventMetadata:
		if ev.Usage != nil && ev.Usage.OutputTokens > 0 {
			a.outTokens = ev.Usage.OutputTokens
			a.deltas = -1 // usage is authoritative
		}
	}
}

// unaryPreferrer is an llm.Conversor whose one-piece answer is as complete
// as its stream and cheaper to get (one JSON body instead of one event per
// token); the router asks it for that when the client does not stream.
// Providers whose Converse is a different upstream call with its own
// recorded behaviour (Anthropic, Bedrock, …) keep streaming until they opt
// in.
type unaryPreferrer interface {
	llm.Conversor
	PreferUnary() bool
}

// first starts the call and reads events up to the first token (a content
// delta or block start) or the end of the stream. For a whole attempt on a
// provider that can answer in one piece it makes that call instead: the
// upstream then sends one JSON answer rather than a stream of chunks, which
// costs both sides less, and there is no first token to wait for.
func (a *attempt) first() error {
	if cv, ok := a.d.Provider.(unaryPreferrer); ok && a.whole && cv.PreferUnary() {
		resp, err := cv.Converse(a.ctx, a.req)
		if err != nil {
			return err
		}
		s := llm.ResponseStream(resp)
		for {
			ev, err := s.Next()
			if err != nil {
				break
			}
			a.head = append(a.head, ev)
		}
		a.s, a.headErr = s, io.EOF
		return nil
	}
	a.whole = false
	s, err := a.d.Provider.ConverseStream(a.ctx, a.req)
	if err != nil {
		return err
	}
	a.s = s
	for len(a.head) < 16 {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			a.headErr = io.EOF
			return nil
		}
		if err != nil {
			s.Close()
			a.s = nil
			return err
		}
		a.tally(ev)
		a.head = append(a.head, ev)
		if ev.Type == llm.EventBlockDelta || ev.Type == llm.EventBlockStart || ev.Type == llm.EventMetadata {
			return nil
		}
	}
	return nil
}

// failed releases what the attempt holds, feeds the breaker and records the
// error. upstream says whether the provider was called.
func (a *attempt) failed(err error, upstream bool) error {
	if a.acquired {
		a.st.release(a.profile)
		a.acquired = false
	}
	switch {
	case a.lost.Load():
		a.st.observeSlow(a.r.now().Sub(a.start))
		a.st.abandon()
		err = &llm.Error{Kind: llm.KindCanceled, Message: "hedge lost", Err: llm.ErrCanceled}
	case a.parent.Err() != nil:
		a.st.abandon() // the client went away or the request deadline passed
	case errors.Is(a.ctx.Err(), context.DeadlineExceeded):
		err = &llm.Error{Kind: llm.KindTimeout, Message: fmt.Sprintf("deployment %s did not answer within %v", a.d.Name, a.d.Timeout), Err: err}
		a.fail()
	case !upstream && llm.IsRetryable(err):
		a.st.abandon() // its queue is full or the wait too long: busy, not broken
	case llm.IsRetryable(err):
		a.fail()
	default:
		a.st.abandon()
	}
	a.cancel()
	a.c.UpdateAttempt(a.idx, func(x *gateway.Attempt) { x.Err = err })
	return err
}

// fail counts a failure against the deployment's breaker.
func (a *attempt) fail() {
	if a.st.fail() {
		a.r.log.Warn("breaker opened", "deployment", a.d.Name, "model", a.m.ID)
	}
}

// discard ends an attempt whose first token came too late to be used.
func (a *attempt) discard() {
	if a.s != nil {
		a.s.Close()
	}
	a.cancel()
	if a.acquired {
		a.st.release(a.profile)
		a.acquired = false
	}
	a.st.abandon()
	a.c.UpdateAttempt(a.idx, func(x *gateway.Attempt) { x.Err = llm.ErrCanceled })
}
