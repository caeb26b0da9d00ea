package openai

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
)

func ptr[T any](v T) *T { return &v }

func TestRequestBody(t *testing.T) {
	png := []byte{0x89, 'P', 'N', 'G'}
	tests := []struct {
		name   string
		cfg    Config
		req    llm.Request
		stream bool
		want   string // compact JSON
	}{
		{
			name:   "plain stream",
			req:    llm.Request{System: []llm.Block{llm.TextBlock("Be brief.")}, Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("Hi")}}}},
			stream: true,
			want:   `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true}}`,
		},
		{
			name: "inference and additional fields",
			req: llm.Request{
				Messages:   []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("Hi")}}},
				Inference:  llm.InferenceConfig{MaxTokens: ptr(5), Temperature: ptr(0.5), TopP: ptr(0.9), TopK: ptr(40), Seed: ptr(int64(7)), StopSequences: []string{"##"}},
				Additional: json.RawMessage(`{"top_k":3,"response_format":{"type":"json_object"},"model":"evil"}`),
			},
			want: `{"max_tokens":5,"messages":[{"role":"user","content":"Hi"}],"model":"m","response_format":{"type":"json_object"},"seed":7,"stop":["##"],"temperature":0.5,"top_k":3,"top_p":0.9}`,
		},
		{
			name: "max_completion_tokens",
			cfg:  Config{MaxTokensField: "max_completion_tokens"},
			req:  llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("Hi")}}}, Inference: llm.InferenceConfig{MaxTokens: ptr(9)}},
			want: `{"model":"m","messages":[{"role":"user","content":"Hi"}],"max_completion_tokens":9}`,
		},
		{
			name: "image and document parts",
			req: llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{
				llm.TextBlock("Look"),
				{Kind: llm.KindImage, Image: &llm.Image{Format: "png", Bytes: png}},
				{Kind: llm.KindDocument, Document: &llm.Document{Format: "txt", Name: "a.txt", Bytes: []byte("abc")}},
			}}}},
			want: `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"Look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw=="}},{"type":"text","text":"\u003cdocument name=\"a.txt\"\u003e\nabc\n\u003c/document\u003e"}]}]}`,
		},
		{
			name: "tool round trip",
			req: llm.Request{
				Messages: []llm.Message{
					{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("Weather?")}},
					{Role: llm.RoleAssistant, Content: []llm.Block{{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Text: "hmm"}}, {Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: "c1", Name: "w", Input: json.RawMessage(`{"city":"Paris"}`)}}}},
					{Role: llm.RoleUser, Content: []llm.Block{{Kind: llm.KindToolResult, ToolResult: &llm.ToolResult{ToolUseID: "c1", Content: []llm.ToolResultContent{{JSON: json.RawMessage(`{"t":21}`)}}}}, llm.TextBlock("Thanks")}},
				},
				Tools: &llm.ToolConfig{Tools: []llm.Tool{{Name: "w", Description: "weather", Schema: json.RawMessage(`{"type":"object"}`)}}, Choice: llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "w"}},
			},
			want: `{"model":"m","messages":[{"role":"user","content":"Weather?"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"w","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","content":"{\"t\":21}","tool_call_id":"c1"},{"role":"user","content":"Thanks"}],"tools":[{"type":"function","function":{"name":"w","description":"weather","parameters":{"type":"object"}}}],"tool_choice":{"function":{"name":"w"},"type":"function"}}`,
		},
		{
			name: "tool choice any and none",
			req: llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("x")}}},
				Tools: &llm.ToolConfig{Tools: []llm.Tool{{Name: "w"}}, Choice: llm.ToolChoice{Mode: llm.ToolChoiceAny}}},
			want: `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"w","parameters":{"type":"object","properties":{}}}}],"tool_choice":"required"}`,
		},
		{
			name: "tool choice none drops tools",
			req: llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("x")}}},
				Tools: &llm.ToolConfig{Tools: []llm.Tool{{Name: "w"}}, Choice: llm.ToolChoice{Mode: llm.ToolChoiceNone}}},
			want: `{"model":"m","messages":[{"role":"user","content":"x"}]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.BaseURL, cfg.Model = "http://127.0.0.1:1/v1", "m"
			if cfg.DefaultMaxTokens == 0 {
				cfg.DefaultMaxTokens = -1 // the default cap has its own test
			}
			p, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.requestBody(&tc.req, tc.stream)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("requestBody =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestRequestBodyInvalid(t *testing.T) {
	p, _ := New(Config{BaseURL: "http://127.0.0.1:1/v1", Model: "m"})
	tests := []struct {
		name string
		req  llm.Request
	}{
		{"pdf document", llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{{Kind: llm.KindDocument, Document: &llm.Document{Format: "pdf", Bytes: []byte("%PDF")}}}}}}},
		{"bad role", llm.Request{Messages: []llm.Message{{Role: "x"}}}},
		{"additional not an object", llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("x")}}}, Additional: json.RawMessage(`[1]`)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.requestBody(&tc.req, false)
			var e *llm.Error
			if !errors.As(err, &e) || e.Kind != llm.KindValidation {
				t.Errorf("requestBody error = %v, want a ValidationException", err)
			}
		})
	}
}

func TestNewInvalid(t *testing.T) {
	for _, cfg := range []Config{{Model: "m"}, {BaseURL: "ftp://x", Model: "m"}, {BaseURL: "http://x/v1"}, {BaseURL: "http://x/v1", Model: "m", MaxTokensField: "tokens"}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
}

// TestThinkSplitAnywhere splits an R1-style answer at every byte boundary
// pair and checks that reasoning and text come out the same.
func TestThinkSplitAnywhere(t *testing.T) {
	const in = "\n<think>a</b> </think\n x</think>\n\nAnswer <think>y</think>"
	const wantR, wantT = "a</b> </think\n x", "Answer <think>y</think>"
	for i := 0; i <= len(in); i++ {
		for j := i; j <= len(in); j++ {
			var ts thinkSplitter
			var r, txt strings.Builder
			emit := func(k llm.DeltaKind, s string) {
				if k == llm.DeltaReasoning {
					r.WriteString(s)
				} else {
					txt.WriteString(s)
				}
			}
			for _, part := range []string{in[:i], in[i:j], in[j:]} {
				ts.feed(part, emit)
			}
			ts.flush(emit)
			if r.String() != wantR || txt.String() != wantT {
				t.Fatalf("split at %d,%d: reasoning %q text %q, want %q %q", i, j, r.String(), txt.String(), wantR, wantT)
			}
		}
	}
}

func TestCheckAndDescribe(t *testing.T) {
	var status = http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" || r.Header.Get("X-Org") != "o" {
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, `{"object":"list","data":[{"id":"m1"}]}`)
	}))
	defer srv.Close()
	tests := []struct {
		model  string
		key    string
		status int
		kind   llm.ErrorKind
		ok     bool
	}{
		{model: "m1", key: "k", status: 200, ok: true},
		{model: "m2", key: "k", status: 200, kind: llm.KindModelNotReady},
		{model: "m1", key: "wrong", status: 200, kind: llm.KindModelError},
		{model: "m1", key: "k", status: 503, kind: llm.KindModelError},
	}
	for _, tc := range tests {
		status = tc.status
		p, _ := New(Config{BaseURL: srv.URL + "/v1/", Model: tc.model, APIKey: tc.key, Headers: map[string]string{"X-Org": "o"}, ContextWindow: 8192})
		err := p.Check(context.Background())
		if tc.ok {
			if err != nil {
				t.Errorf("Check(%s, %s) = %v", tc.model, tc.key, err)
			}
			continue
		}
		var e *llm.Error
		if !errors.As(err, &e) || e.Kind != tc.kind {
			t.Errorf("Check(%s, %s, %d) = %v, want %s", tc.model, tc.key, tc.status, err, tc.kind)
		}
	}
	p, _ := New(Config{BaseURL: "http://127.0.0.1:1/v1", Model: "m", ContextWindow: 8192})
	if d := p.Describe(); d != (llm.Description{Provider: "openai", UpstreamModel: "m", ContextWindow: 8192}) {
		t.Errorf("Describe = %+v", d)
	}
	// Nothing listens on port 1: connection refused is retryable.
	err := p.Check(context.Background())
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindUnavailable || !e.Retryable() {
		t.Errorf("Check on a closed port = %v, want a retryable ServiceUnavailableException", err)
	}
}

// drain feeds an SSE body through the translator and renders the
// events; used by the fuzz target and the benchmark.
func drain(body string) (int, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := newStream(ctx, cancel, io.NopCloser(strings.NewReader(body)), &llm.Request{}, true)
	defer s.Close()
	n := 0
	for {
		_, err := s.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
		n++
	}
}

// FuzzStream feeds arbitrary SSE bodies to the stream reader: it must never
// panic, must end, and must report failures as *llm.Error.
func FuzzStream(f *testing.F) {
	f.Add("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"<think>a</think>b\"}}]}\n\ndata: [DONE]\n\n")
	f.Add("data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"x\",\"function\":{\"name\":\"f\",\"arguments\":\"{\"}}]}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":1}}\n\ndata: [DONE]\n")
	f.Add("data: {\"error\":{\"message\":\"x\"}}\n\n")
	f.Add("data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"r\",\"content\":\"c\"},\"finish_reason\":\"length\"}]}\n")
	f.Add(": ping\n\nevent: x\ndata:{}\n\n")
	f.Fuzz(func(t *testing.T, body string) {
		_, err := drain(body)
		if err != nil {
			var e *llm.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not an *llm.Error", err, err)
			}
		}
	})
}

// benchBody is a typical streamed answer: a role chunk, 64 one-token text
// chunks, the finish chunk and the usage chunk.
func benchBody(chunks int) string {
	var b strings.Builder
	b.WriteString(`data: {"id":"chatcmpl-89","object":"chat.completion.chunk","created":1795635253,"model":"smollm2:135m","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n")
	for i := 0; i < chunks; i++ {
		b.WriteString(`data: {"id":"chatcmpl-89","object":"chat.completion.chunk","created":1795635253,"model":"smollm2:135m","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":" word"},"finish_reason":null}]}` + "\n\n")
	}
	b.WriteString(`data: {"id":"chatcmpl-89","object":"chat.completion.chunk","created":1795635253,"model":"smollm2:135m","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"stop"}]}` + "\n\n")
	b.WriteString(`data: {"id":"chatcmpl-89","object":"chat.completion.chunk","created":1795635253,"model":"smollm2:135m","system_fingerprint":"fp_ollama","choices":[],"usage":{"prompt_tokens":32,"completion_tokens":64,"total_tokens":96}}` + "\n\ndata: [DONE]\n\n")
	return b.String()
}

// BenchmarkChunkTranslation measures reading and translating one streamed
// chunk (SSE line → JSON → llm.Event), reported per chunk.
func BenchmarkChunkTranslation(b *testing.B) {
	for _, n := range []int{1, 64} {
		body := benchBody(n)
		b.Run(strconv.Itoa(n)+"chunks", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := drain(body); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n+3), "ns/chunk")
		})
	}
}

// TestDefaultMaxTokens: a request without a limit gets the deployment's
// default (4096 unless configured), -1 sends none, and a request's own
// limit always wins. The gateway's cap (the model's limit) bounds the
// default but not the request's own limit, which the gateway checked.
func TestDefaultMaxTokens(t *testing.T) {
	five := 5
	for _, tc := range []struct {
		def  int
		req  *int
		cap  int
		want string
	}{
		{0, nil, 0, `"max_tokens":4096`},
		{100, nil, 0, `"max_tokens":100`},
		{-1, nil, 0, ""},
		{100, &five, 0, `"max_tokens":5`},
		{-1, &five, 0, `"max_tokens":5`},
		{256, nil, 8192, `"max_tokens":256`},
		{0, nil, 1000, `"max_tokens":1000`},
		{-1, nil, 8192, `"max_tokens":8192`},
		{100, &five, 3, `"max_tokens":5`},
	} {
		p, err := New(Config{BaseURL: "http://127.0.0.1:1/v1", Model: "m", DefaultMaxTokens: tc.def})
		if err != nil {
			t.Fatal(err)
		}
		req := &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("hi")}}}}
		req.Inference.MaxTokens, req.Inference.MaxTokensCap = tc.req, tc.cap
		body, err := p.requestBody(req, true)
		if err != nil {
			t.Fatal(err)
		}
		if tc.want == "" && strings.Contains(string(body), "max_tokens") || tc.want != "" && !strings.Contains(string(body), tc.want) {
			t.Errorf("default %d, request %v, cap %d: body %s, want %s", tc.def, tc.req, tc.cap, body, tc.want)
		}
	}
}
