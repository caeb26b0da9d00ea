package routing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// stream is the winning attempt's stream as the client reads it. It replays
// the events read while waiting for the first token, ends a stream idle for
// the deployment's StallTimeout and turns any failure after the first token
// into a well-formed *llm.Error, and feeds the deployment's OTPS average and
// breaker when the stream ends.
type stream struct {
	r *Router
	a *attempt

	clientCtx      context.Context // the client's context
	reqCtx         context.Context // clientCtx with the request deadline
	cancelDeadline context.CancelFunc

	stall   *time.Timer // nil until the first Next after the head
	stalled atomic.Bool

	err  error // the error that ended the stream, once done
	done bool
}

func newStream(r *Router, a *attempt) *stream {
	return &stream{r: r, a: a}
}

// Next returns the next event.
func (s *stream) Next() (llm.Event, error) {
	if len(s.a.head) > 0 {
		ev := s.a.head[0]
		s.a.head = s.a.head[1:]
		return ev, nil
	}
	if s.done {
		if s.err != nil {
			return llm.Event{}, s.err
		}
		return llm.Event{}, io.EOF
	}
	if s.a.headErr != nil {
		s.finish(nil)
		return llm.Event{}, io.EOF
	}
	if st := s.a.d.StallTimeout; st > 0 {
		if s.stall == nil {
			s.stall = time.AfterFunc(st, s.onStall)
		} else {
			s.stall.Reset(st)
		}
	}
	ev, err := s.a.s.Next()
	if s.stall != nil {
		s.stall.Stop()
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			// The provider's stream is closed before finish ends the
			// attempt's context, so that a complete answer keeps its
			// upstream connection for reuse. Close again is a no-op.
			s.a.s.Close()
			s.finish(nil)
			return ev, err
		}
		err = s.classify(err)
		s.finish(err)
		return llm.Event{}, err
	}
	s.a.tally(ev)
	return ev, nil
}

// onStall runs on the stall timer's goroutine: it cancels the attempt so
// that the pending Next returns.
func (s *stream) onStall() {
	s.stalled.Store(true)
	s.a.cancel()
}

// classify turns an error after the first token into the *llm.Error the
// client sees in the stream.
func (s *stream) classify(err error) error {
	switch {
	case s.stalled.Load():
		s.a.st.mu.Lock()
		s.a.st.stalls++
		s.a.st.mu.Unlock()
		return &llm.Error{Kind: llm.KindTimeout, Message: fmt.Sprintf("the model stream stalled: no event for %v", s.a.d.StallTimeout), Err: err}
	case s.clientCtx != nil && s.clientCtx.Err() != nil:
		return &llm.Error{Kind: llm.KindCanceled, Message: "request canceled", Err: llm.ErrCanceled}
	case s.reqCtx != nil && s.reqCtx.Err() != nil:
		return &llm.Error{Kind: llm.KindTimeout, Message: fmt.Sprintf("request deadline of %v exceeded", time.Duration(s.r.cfg.Deadline)), Err: err}
	case errors.Is(s.a.ctx.Err(), context.DeadlineExceeded):
		return &llm.Error{Kind: llm.KindTimeout, Message: fmt.Sprintf("deployment %s did not finish within %v", s.a.d.Name, s.a.d.Timeout), Err: err}
	}
	var e *llm.Error
	if errors.As(err, &e) {
		return err
	}
	return &llm.Error{Kind: llm.KindModelError, Message: fmt.Sprintf("the stream from deployment %s failed", s.a.d.Name), Err: err}
}

// finish releases the attempt once: err nil means the stream completed.
func (s *stream) finish(err error) {
	if s.done {
		return
	}
	s.done, s.err = true, err
	if s.stall != nil {
		s.stall.Stop()
	}
	a := s.a
	switch {
	case err == nil:
		out := a.outTokens
		if a.deltas > 0 && out < a.deltas {
			out = a.deltas
		}
		if gen := a.lastTok.Sub(a.firstTok).Seconds(); gen > 0 && out > 1 {
			a.st.observeOTPS(float64(out) / gen)
		}
	case llm.AsError(err).Kind == llm.KindCanceled, s.reqCtx != nil && s.reqCtx.Err() != nil && !s.stalled.Load():
		a.st.abandon() // the client left or the request's deadline passed
	case s.stalled.Load() || llm.IsRetryable(err):
		a.fail()
	}
	if a.acquired {
		a.st.release(a.profile)
		a.acquired = false
	}
	a.cancel()
	if s.cancelDeadline != nil {
		s.cancelDeadline()
	}
}

// Close ends the stream and the upstream call.
func (s *stream) Close() error {
	var err error
	if s.a.s != nil {
		err = s.a.s.Close()
	}
	s.finish(&llm.Error{Kind: llm.KindCanceled, Message: "stream closed", Err: llm.ErrCanceled})
	return err
}
