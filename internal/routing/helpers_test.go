package routing

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

// script is an in-process provider whose behaviour a test sets per call.
type script struct {
	name  string
	calls atomic.Int64
	// behave returns the error to fail the call with before any event, or
	// nil; gate, when not nil, is waited on before the first event.
	mu     sync.Mutex
	err    error
	gate   chan struct{}
	words  []string
	midErr error // returned after the words instead of the end events
	hang   bool  // never sends the end of the stream: a stall
}

func (p *script) set(f func(p *script)) {
	p.mu.Lock()
	f(p)
	p.mu.Unlock()
}

func (p *script) ConverseStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	p.calls.Add(1)
	p.mu.Lock()
	err, gate, words, midErr, hang := p.err, p.gate, p.words, p.midErr, p.hang
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		words = []string{"a", "b", "c"}
	}
	return &scriptStream{ctx: ctx, gate: gate, words: words, midErr: midErr, hang: hang, name: p.name}, nil
}

type scriptStream struct {
	ctx    context.Context
	gate   chan struct{}
	words  []string
	midErr error
	hang   bool
	name   string
	i      int
	closed bool
}

func (s *scriptStream) Next() (llm.Event, error) {
	if s.i == 0 {
		s.i++
		return llm.Event{Type: llm.EventMessageStart}, nil
	}
	if s.i == 1 && s.gate != nil {
		select {
		case <-s.gate:
		case <-s.ctx.Done():
			return llm.Event{}, s.ctx.Err()
		}
	}
	if err := s.ctx.Err(); err != nil {
		return llm.Event{}, err
	}
	k := s.i - 1
	s.i++
	switch {
	case k < len(s.words):
		return llm.Event{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: s.words[k]}, nil
	case s.midErr != nil:
		return llm.Event{}, s.midErr
	case s.hang:
		<-s.ctx.Done()
		return llm.Event{}, s.ctx.Err()
	case k == len(s.words):
		return llm.Event{Type: llm.EventMessageStop, StopReason: llm.StopEndTurn}, nil
	case k == len(s.words)+1:
		return llm.Event{Type: llm.EventMetadata, Usage: &llm.Usage{InputTokens: 3, OutputTokens: len(s.words)}, Served: &llm.Served{Deployment: s.name}}, nil
	}
	return llm.Event{}, io.EOF
}

func (s *scriptStream) Close() error { s.closed = true; return nil }

// fleet builds a model "m" offering both profiles over the given providers.
func fleet(ps ...*script) *Model {
	m := &Model{ID: "m", Profiles: []llm.Latency{llm.LatencyStandard, llm.LatencyOptimized}}
	for _, p := range ps {
		m.Deployments = append(m.Deployments, &Deployment{Name: p.name, Provider: p, Type: "script", Weight: 1})
	}
	return m
}

// call is a streamed call: the client reads events as they come.
func call(model string, profile llm.Latency) *gateway.Call {
	return &gateway.Call{Stream: true, Request: &llm.Request{Model: model, Performance: profile,
		Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("hi")}}}}}
}

// collect routes c and reads the whole stream, returning the text and the
// deployment that served it.
func collect(t testing.TB, r *Router, c *gateway.Call) (string, string, error) {
	t.Helper()
	s, err := r.Route(context.Background(), c)
	if err != nil {
		return "", "", err
	}
	resp, err := llm.Collect(s)
	if err != nil {
		return "", c.Served().Deployment, err
	}
	text := ""
	for _, b := range resp.Message.Content {
		text += b.Text
	}
	return text, c.Served().Deployment, nil
}

// settleGoroutines waits, by polling against a deadline, for the goroutine
// count to come back to at most base, and fails the test if it does not.
func settleGoroutines(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines: %d, want ≤ %d\n%s", n, base, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kindOf returns the llm error kind of err.
func kindOf(err error) llm.ErrorKind {
	var e *llm.Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 255
}

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
