package local

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/ollama/ollama/llama"

	"github.com/outcrop/outcrop/internal/llm"
)

// request is one admitted or queued call. The scheduler goroutine appends
// events; the caller's goroutine pulls them through stream.
type request struct {
	ctx       context.Context
	cancel    context.CancelFunc
	prompt    []int
	cut       int // tokens of the longest cachePoint prefix; 0 if none
	maxTokens int
	room      int // context left for output
	sampling  llama.SamplingParams
	filter    *outputFilter
	optimized bool
	seeded    bool // the caller set a seed: do not reuse a slot's previous tokens
	enqueued  time.Time

	// mu guards events, err and done.
	mu     sync.Mutex
	events []llm.Event
	err    error
	done   bool
	notify chan struct{} // capacity 1: events or done changed
}

func (r *request) emit(ev ...llm.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev...)
	r.mu.Unlock()
	r.wake()
}

// finish marks the event list complete; err, if not nil, is returned after
// the events.
func (r *request) finish(err error) {
	r.mu.Lock()
	if !r.done {
		r.done, r.err = true, err
	}
	r.mu.Unlock()
	r.wake()
}

func (r *request) fail(err error) { r.finish(err) }

func (r *request) wake() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// stream is the llm.Stream of one request.
type stream struct {
	r      *request
	closed bool
}

// Next returns the next event, io.EOF after the last, or the error that
// ended the request (KindCanceled or KindTimeout when its context ended).
func (s *stream) Next() (llm.Event, error) {
	r := s.r
	for {
		r.mu.Lock()
		if len(r.events) > 0 {
			ev := r.events[0]
			r.events[0] = llm.Event{}
			r.events = r.events[1:]
			r.mu.Unlock()
			return ev, nil
		}
		done, err := r.done, r.err
		r.mu.Unlock()
		if done {
			if err != nil {
				return llm.Event{}, err
			}
			return llm.Event{}, io.EOF
		}
		select {
		case <-r.notify:
		case <-r.ctx.Done():
			// Deliver anything that raced in first, then the cancellation.
			r.mu.Lock()
			pending := len(r.events) > 0 || r.done
			r.mu.Unlock()
			if pending {
				continue
			}
			return llm.Event{}, ctxError(r.ctx.Err())
		}
	}
}

// Close cancels the request if it is still running. The scheduler notices
// on its next step and frees the slot.
func (s *stream) Close() error {
	if !s.closed {
		s.closed = true
		s.r.cancel()
	}
	return nil
}

func ctxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &llm.Error{Kind: llm.KindTimeout, Message: "the request timed out", Err: err}
	}
	return &llm.Error{Kind: llm.KindCanceled, Message: "request canceled", Err: llm.ErrCanceled}
}

// admissionQueue orders waiting requests: FIFO within each class,
// latency-optimized before standard, with two bounds on how long standard
// requests can be passed over. Guarded by Engine.mu.
type admissionQueue struct {
	opt, std []*request
	// optRun counts optimized admissions in a row while a standard request
	// was waiting.
	optRun int
}

func (q *admissionQueue) len() int { return len(q.opt) + len(q.std) }

func (q *admissionQueue) push(r *request) {
	if r.optimized {
		q.opt = append(q.opt, r)
	} else {
		q.std = append(q.std, r)
	}
}

// pop returns the next request to admit, or nil.
func (q *admissionQueue) pop(now time.Time, limit int, maxWait time.Duration) *request {
	takeOpt := len(q.opt) > 0
	if takeOpt && len(q.std) > 0 && (q.optRun >= limit || now.Sub(q.std[0].enqueued) >= maxWait) {
		takeOpt = false
	}
	var r *request
	switch {
	case takeOpt:
		r, q.opt = q.opt[0], q.opt[1:]
		if len(q.std) > 0 {
			q.optRun++
		} else {
			q.optRun = 0
		}
	case len(q.std) > 0:
		r, q.std = q.std[0], q.std[1:]
		q.optRun = 0
	}
	return r
}

func (q *admissionQueue) drain() []*request {
	out := append(q.opt, q.std...)
	q.opt, q.std = nil, nil
	return out
}

// toolUseID returns a Bedrock-style tool use id.
func toolUseID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 22)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "tooluse_" + string(b)
}
