package openai_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/outcrop/outcrop/internal/h1"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/openai"
)

// TestConverseReusesConnection: a non-streamed answer is read to the end of
// its body, so its connection serves the next call (through both the h1
// transport and net/http's), and a body cut short is a retryable
// ModelErrorException.
func TestConverseReusesConnection(t *testing.T) {
	const answer = `{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hello there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`
	var cut atomic.Bool
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
		if cut.Load() {
			w.Write([]byte(answer[:40]))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		w.Write([]byte(answer))
	}))
	var conns atomic.Int64
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	defer ts.Close()
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"h1", &h1.Transport{}}, {"net/http", &http.Transport{}}} {
		t.Run(tc.name, func(t *testing.T) {
			conns.Store(0)
			cut.Store(false)
			p, err := openai.New(openai.Config{BaseURL: ts.URL + "/v1", Model: "m", HTTPClient: &http.Client{Transport: tc.rt}})
			if err != nil {
				t.Fatal(err)
			}
			req := &llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("hi")}}}}
			for i := 0; i < 5; i++ {
				resp, err := p.Converse(context.Background(), req)
				if err != nil || len(resp.Message.Content) != 1 || resp.Message.Content[0].Text != "hello there" || resp.Usage.OutputTokens != 2 {
					t.Fatalf("call %d: %+v, %v", i, resp, err)
				}
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("%d connections for 5 calls, want 1", n)
			}
			cut.Store(true)
			_, err = p.Converse(context.Background(), req)
			if e := llm.AsError(err); e.Kind != llm.KindModelError || !e.Retryable() {
				t.Errorf("cut body: %v, want a retryable ModelErrorException", err)
			}
		})
	}
}

// TestConverseStreamedAnyway: an upstream that streams although asked not
// to is read as a stream.
func TestConverseStreamedAnyway(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, d := range []string{
			`{"choices":[{"index":0,"delta":{"role":"assistant","content":"hel"}}]}`,
			`{"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"length"}]}`,
			`{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}`,
			`[DONE]`,
		} {
			w.Write([]byte("data: " + d + "\n\n"))
		}
	}))
	defer ts.Close()
	p, err := openai.New(openai.Config{BaseURL: ts.URL + "/v1", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Converse(context.Background(), &llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("hi")}}}})
	if err != nil || len(resp.Message.Content) != 1 || resp.Message.Content[0].Text != "hello" || resp.StopReason != llm.StopMaxTokens || resp.Usage.OutputTokens != 2 {
		t.Fatalf("got %+v, %v; want hello, max_tokens, 2 output tokens", resp, err)
	}
}
