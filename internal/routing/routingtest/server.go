// Package routingtest runs fault-injecting OpenAI-compatible upstreams on
// loopback for the router's resilience tests and benchmarks, and a minimal
// OpenAI streaming client to call them through the router.
//
// A Server speaks POST /v1/chat/completions, streamed (server-sent events,
// one word per chunk, usage in the last chunk) or not (one JSON answer), and
// can be told, at any time, to fail: answer 5xx or 429, reset connections,
// delay the first byte, stall a stream after some tokens, cut a stream or a
// body part way, or die altogether and come back on the same port.
package routingtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is how a Server misbehaves. The zero Fault is a healthy server.
type Fault struct {
	// Status, when not zero, is returned before any event (e.g. 500, 503,
	// 429) with an OpenAI error body.
	Status int
	// RetryAfter is sent as Retry-After (seconds) with Status.
	RetryAfter int
	// Reset aborts the TCP connection with a RST instead of answering.
	Reset bool
	// FirstByteDelay delays the response headers and first event.
	FirstByteDelay time.Duration
	// StallAfter, when > 0, stops sending after that many tokens and holds
	// the connection open until the client goes away.
	StallAfter int
	// BreakAfter, when > 0, cuts the connection after that many server-sent
	// events (the first one carries the assistant role, the next ones one
	// word each, then the finish chunk, the usage chunk and [DONE]): the
	// body ends without its final chunk, as when a replica dies mid-answer.
	// A non-streaming answer is cut after BreakAfter bytes of its JSON.
	BreakAfter int
	// BreakMidEvent cuts the stream inside event BreakAfter+1 instead of
	// between events, leaving a partial "data:" line.
	BreakMidEvent bool
}

// Server is a fault-injecting upstream on 127.0.0.1.
type Server struct {
	// Tokens is how many words an answer has (default 8, or max_tokens when
	// smaller); TokenDelay the pause between them.
	Tokens     int
	TokenDelay time.Duration

	addr string

	mu     sync.Mutex // guards the fields below
	fault  Fault
	srv    *http.Server
	ln     net.Listener
	closed bool

	requests atomic.Int64 // requests received
	active   atomic.Int64 // handlers running
	served   atomic.Int64 // complete answers
	broken   atomic.Int64 // answers cut by BreakAfter
	unary    atomic.Int64 // requests for a non-streamed answer
}

// Start starts a healthy server on a free loopback port. Close stops it.
func Start() (*Server, error) {
	s := &Server{Tokens: 8}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	return s, nil
}

// serve starts an http.Server on ln; s.mu must not be held.
func (s *Server) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 5 * time.Second}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go srv.Serve(ln) // ends when Kill or Close closes srv
}

// URL is the API root to configure as an OpenAI base URL (…/v1).
func (s *Server) URL() string { return "http://" + s.addr + "/v1" }

// SetFault changes how the server answers from now on.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// Requests is the number of requests received; Served the number answered
// completely; Active the number of handlers still running.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Served returns the number of complete answers.
func (s *Server) Served() int64 { return s.served.Load() }

// Active returns the number of requests being handled.
func (s *Server) Active() int64 { return s.active.Load() }

// Unary returns the number of requests that asked for a non-streamed answer.
func (s *Server) Unary() int64 { return s.unary.Load() }

// Broken returns the number of answers cut part way by Fault.BreakAfter.
func (s *Server) Broken() int64 { return s.broken.Load() }

// Kill stops the server abruptly: the listener closes and every open
// connection, including streams in progress, is cut.
func (s *Server) Kill() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Restart brings a killed server back on the same address.
func (s *Server) Restart() error {
	s.mu.Lock()
	if s.srv != nil || s.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.serve(ln)
	return nil
}

// Close stops the server for good.
func (s *Server) Close() {
	s.Kill()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

type chatRequest struct {
	Model     string `json:"model"`
	Stream    bool   `json:"stream"`
	MaxTokens int    `json:"max_tokens"`
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.active.Add(1)
	defer s.active.Add(-1)
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
		return
	}
	var req chatRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, 0, "invalid JSON body")
		return
	}
	s.mu.Lock()
	f := s.fault
	s.mu.Unlock()
	ctx := r.Context()
	if f.Reset {
		reset(w)
		return
	}
	if f.FirstByteDelay > 0 && !sleep(ctx, f.FirstByteDelay) {
		return
	}
	if f.Status != 0 {
		writeError(w, f.Status, f.RetryAfter, "injected failure")
		return
	}
	n := s.Tokens
	if req.MaxTokens > 0 && req.MaxTokens < n {
		n = req.MaxTokens
	}
	id := "chatcmpl-" + strconv.FormatInt(s.requests.Load(), 10)
	if !req.Stream {
		s.unary.Add(1)
		s.answer(ctx, w, f, id, req.Model, n)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fl, _ := w.(http.Flusher)
	events := 0
	send := func(v any) bool {
		b, _ := json.Marshal(v)
		if f.BreakAfter > 0 && events == f.BreakAfter {
			if f.BreakMidEvent {
				fmt.Fprintf(w, "data: %s", b[:len(b)/2])
				fl.Flush()
			}
			s.broken.Add(1)
			panic(http.ErrAbortHandler) // the connection is cut without the body's last chunk
		}
		events++
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return true
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": id, "object": "chat.completion.chunk", "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	if !send(chunk(map[string]any{"role": "assistant", "content": ""}, nil)) {
		return
	}
	for i := 0; i < n; i++ {
		if f.StallAfter > 0 && i == f.StallAfter {
			<-ctx.Done() // a stalled upstream: holds the stream until the client leaves
			return
		}
		if i > 0 && s.TokenDelay > 0 && !sleep(ctx, s.TokenDelay) {
			return
		}
		if !send(chunk(map[string]any{"content": word(i)}, nil)) {
			return
		}
	}
	if !send(chunk(map[string]any{}, "stop")) {
		return
	}
	usage := map[string]any{"id": id, "object": "chat.completion.chunk", "model": req.Model, "choices": []any{},
		"usage": map[string]any{"prompt_tokens": 5, "completion_tokens": n, "total_tokens": 5 + n}}
	if !send(usage) {
		return
	}
	if f.BreakAfter > 0 && events == f.BreakAfter {
		s.broken.Add(1)
		panic(http.ErrAbortHandler)
	}
	io.WriteString(w, "data: [DONE]\n\n")
	s.served.Add(1)
}

// word is the i-th word of every answer.
func word(i int) string { return "w" + strconv.Itoa(i) + " " }

// answer writes a non-streaming chat completion of n words, cut after
// f.BreakAfter bytes when that is set. The words arrive together after
// (n-1)·TokenDelay, as a server generating them would send them.
func (s *Server) answer(ctx context.Context, w http.ResponseWriter, f Fault, id, model string, n int) {
	var text strings.Builder
	for i := 0; i < n; i++ {
		text.WriteString(word(i))
	}
	if n > 1 && s.TokenDelay > 0 && !sleep(ctx, time.Duration(n-1)*s.TokenDelay) {
		return
	}
	b, _ := json.Marshal(map[string]any{"id": id, "object": "chat.completion", "model": model,
		"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": text.String()}, "finish_reason": "stop"}},
		"usage":   map[string]any{"prompt_tokens": 5, "completion_tokens": n, "total_tokens": 5 + n}})
	w.Header().Set("Content-Type", "application/json")
	if f.BreakAfter > 0 && f.BreakAfter < len(b) {
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b[:f.BreakAfter])
		w.(http.Flusher).Flush()
		s.broken.Add(1)
		panic(http.ErrAbortHandler)
	}
	w.Write(b)
	s.served.Add(1)
}

func writeError(w http.ResponseWriter, status, retryAfter int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": "server_error", "code": status}})
	w.Write(b)
}

// reset aborts the connection with a TCP RST.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
