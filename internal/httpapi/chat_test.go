package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/provider/providertest"
	"github.com/outcrop/outcrop/internal/routing"
)

// fixtureProvider is the openai provider pointed at a fake upstream that
// replays the named providertest fixtures in turn.
func fixtureProvider(t testing.TB, names ...string) (llm.Provider, *providertest.Upstream) {
	t.Helper()
	var fs []*providertest.Fixture
	for _, n := range names {
		fs = append(fs, providertest.LoadFixture(t, n))
	}
	up := providertest.NewUpstream(t, fs...)
	p, err := openai.New(openai.Config{BaseURL: up.URL, Model: up.Model})
	if err != nil {
		t.Fatal(err)
	}
	return p, up
}

// callRecorder is a gateway stage that records the calls it sees.
type callRecorder struct {
	mu    sync.Mutex
	calls []*gateway.Call
}

func (r *callRecorder) Name() string { return "record" }

func (r *callRecorder) Wrap(next gateway.Handler) gateway.Handler {
	return func(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
		r.mu.Lock()
		r.calls = append(r.calls, c)
		r.mu.Unlock()
		return next(ctx, c)
	}
}

func (r *callRecorder) last() *gateway.Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		return nil
	}
	return r.calls[len(r.calls)-1]
}

// chatServer serves p as testModel, offering both profiles, with rec
// recording gateway calls.
func chatServer(t testing.TB, p llm.Provider, rec *callRecorder) *httptest.Server {
	t.Helper()
	router := routing.New([]*routing.Model{{
		ID:          testModel,
		Aliases:     []string{"acme-alias"},
		Profiles:    []llm.Latency{llm.LatencyStandard, llm.LatencyOptimized},
		Deployments: []*routing.Deployment{{Name: "dep-1", Provider: p, Type: "openai", Weight: 1}},
	}})
	var stages []gateway.Stage
	if rec != nil {
		stages = append(stages, rec)
	}
	gw := gateway.New(gateway.Options{Final: router.Route, Stages: stages})
	srv := New(Deps{Gateway: gw, Router: router, MaxBodyBytes: 1 << 20, Region: "eu-west-1", AccountID: "123456789012"})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func postChat(t testing.TB, url, body string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

type openAIErrorJSON struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func TestChatBadInput(t *testing.T) {
	p := &replayProvider{script: func(*llm.Request) ([]llm.Event, error) { return textEvents("hi"), nil }}
	ts := chatServer(t, p, nil)
	big := `{"model":"acme.chat-v1","messages":[{"role":"user","content":"` + strings.Repeat("x", 1<<20) + `"}]}`
	tests := []struct {
		name   string
		body   string
		header []string
		status int
	}{
		{name: "malformed JSON", body: `{"model":`, status: 400},
		{name: "not an object", body: `[1,2]`, status: 400},
		{name: "empty body", body: ``, status: 400},
		{name: "no model", body: `{"messages":[{"role":"user","content":"hi"}]}`, status: 400},
		{name: "unknown model", body: `{"model":"nope","messages":[{"role":"user","content":"hi"}]}`, status: 404},
		{name: "no messages", body: `{"model":"acme.chat-v1","messages":[]}`, status: 400},
		{name: "only system", body: `{"model":"acme.chat-v1","messages":[{"role":"system","content":"be nice"}]}`, status: 400},
		{name: "wrong type", body: `{"model":"acme.chat-v1","max_tokens":"ten","messages":[{"role":"user","content":"hi"}]}`, status: 400},
		{name: "messages not array", body: `{"model":"acme.chat-v1","messages":{"role":"user"}}`, status: 400},
		{name: "bad role", body: `{"model":"acme.chat-v1","messages":[{"role":"wizard","content":"hi"}]}`, status: 400},
		{name: "missing role", body: `{"model":"acme.chat-v1","messages":[{"content":"hi"}]}`, status: 400},
		{name: "content number", body: `{"model":"acme.chat-v1","messages":[{"role":"user","content":42}]}`, status: 400},
		{name: "empty user content", body: `{"model":"acme.chat-v1","messages":[{"role":"user","content":""}]}`, status: 400},
		{name: "n=2", body: `{"model":"acme.chat-v1","n":2,"messages":[{"role":"user","content":"hi"}]}`, status: 400},
		{name: "max_tokens 0", body: `{"model":"acme.chat-v1","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, status: 400},
		{name: "temperature 3", body: `{"model":"acme.chat-v1","temperature":3,"messages":[{"role":"user","content":"hi"}]}`, status: 400},
		{name: "stop object", body: `{"model":"acme.chat-v1","stop":{"a":1},"messages":[{"role":"user","content":"hi"}]}`, status: 400},
		{name: "remote image", body: `{"model":"acme.chat-v1","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://example.com/a.png"}}]}]}`, status: 400},
		{name: "bad base64 image", body: `{"model":"acme.chat-v1","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,!!!"}}]}]}`, status: 400},
		{name: "unknown part", body: `{"model":"acme.chat-v1","messages":[{"role":"user","content":[{"type":"input_audio"}]}]}`, status: 400},
		{name: "orphan tool message", body: `{"model":"acme.chat-v1","messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"x","content":"1"}]}`, status: 400},
		{name: "bad tool arguments", body: `{"model":"acme.chat-v1","messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{nope"}}]}]}`, status: 400},
		{name: "bad tool type", body: `{"model":"acme.chat-v1","tools":[{"type":"retrieval"}],"messages":[{"role":"user","content":"hi"}]}`, status: 400},
		{name: "bad tool name", body: `{"model":"acme.chat-v1","tools":[{"type":"function","function":{"name":"a b"}}],"messages":[{"role":"user","content":"hi"}]}`, status: 400},
		{name: "tool_choice unknown fn", body: `{"model":"acme.chat-v1","tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}},"messages":[{"role":"user","content":"hi"}]}`, status: 400},
		{name: "tool_choice without tools", body: `{"model":"acme.chat-v1","tool_choice":"required","messages":[{"role":"user","content":"hi"}]}`, status: 400},
		{name: "bad latency", body: `{"model":"acme.chat-v1","performance_config":{"latency":"ludicrous"},"messages":[{"role":"user","content":"hi"}]}`, status: 400},
		{name: "bad latency header", body: `{"model":"acme.chat-v1","messages":[{"role":"user","content":"hi"}]}`, header: []string{HeaderLatency, "warp"}, status: 400},
		{name: "oversized", body: big, status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := postChat(t, ts.URL, tc.body, tc.header...)
			defer resp.Body.Close()
			var e openAIErrorJSON
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if resp.StatusCode != tc.status || e.Error.Message == "" || e.Error.Type == "" {
				t.Errorf("status %d error %+v, want %d with a message and type", resp.StatusCode, e.Error, tc.status)
			}
		})
	}
}

func TestChatCompletion(t *testing.T) {
	rec := &callRecorder{}
	p, up := fixtureProvider(t, "hand_tool_deltas", "hand_reasoning_content")
	ts := chatServer(t, p, rec)
	body := `{"model":"acme-alias","max_completion_tokens":50,"temperature":0.2,"seed":7,"stop":"END","top_k":5,
		"response_format":{"type":"json_object"},"user":"u-1",
		"messages":[{"role":"developer","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Weather in Paris?"}]}],
		"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
		"tool_choice":"required","performance_config":{"latency":"optimized"}}`
	resp := postChat(t, ts.URL, body)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if d, p := resp.Header.Get(HeaderDeployment), resp.Header.Get(HeaderProfile); d != "dep-1" || p != "optimized" {
		t.Errorf("deployment, profile headers = %q, %q; want dep-1, optimized", d, p)
	}
	var got struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Model   string `json:"model"`
		Choices []struct {
			Message struct {
				Role             string  `json:"role"`
				Content          *string `json:"content"`
				ReasoningContent string  `json:"reasoning_content"`
				ToolCalls        []struct {
					ID       string `json:"id"`
					Type     string `json:"type"`
					Function struct{ Name, Arguments string }
				} `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens, CompletionTokens, TotalTokens int
			Details                                     struct {
				Cached int `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Object != "chat.completion" || !strings.HasPrefix(got.ID, "chatcmpl-") || got.Model != "acme-alias" || len(got.Choices) != 1 {
		t.Fatalf("response = %+v", got)
	}
	m := got.Choices[0].Message
	if m.Role != "assistant" || m.Content == nil || *m.Content != "Let me check." || len(m.ToolCalls) != 2 ||
		m.ToolCalls[0].ID != "call_abc" || m.ToolCalls[0].Type != "function" || m.ToolCalls[0].Function.Name != "get_weather" ||
		m.ToolCalls[0].Function.Arguments != `{"city": "Paris"}` || m.ToolCalls[1].ID != "call_def" {
		t.Errorf("message = %+v", m)
	}
	if got.Choices[0].FinishReason != "tool_calls" || got.Usage.Details.Cached != 64 {
		t.Errorf("finish %q usage %+v", got.Choices[0].FinishReason, got.Usage)
	}
	// The gateway call: authorized as Bedrock InvokeModel on the ARN of the
	// canonical model the alias names, which the call carries.
	c := rec.last()
	if c.API != "openai" || c.Op != "ChatCompletions" || c.Action != ActionInvokeModel || c.Model != "acme.chat-v1" ||
		c.Resource != "arn:aws:bedrock:eu-west-1::foundation-model/acme.chat-v1" || c.RequestID == "" || c.Stream {
		t.Errorf("call = %+v", c)
	}
	// What reached the upstream.
	reqs := up.Requests()
	var sent map[string]any
	json.Unmarshal(reqs[len(reqs)-1], &sent)
	for k, want := range map[string]any{"max_tokens": 50.0, "temperature": 0.2, "seed": 7.0, "top_k": 5.0, "tool_choice": "required"} {
		if sent[k] != want {
			t.Errorf("upstream %s = %v, want %v", k, sent[k], want)
		}
	}
	if rf, _ := sent["response_format"].(map[string]any); rf["type"] != "json_object" {
		t.Errorf("upstream response_format = %v", sent["response_format"])
	}
	if msgs, _ := sent["messages"].([]any); len(msgs) != 2 {
		t.Errorf("upstream messages = %v", sent["messages"])
	}

	// Reasoning comes back as reasoning_content, apart from the answer.
	resp2 := postChat(t, ts.URL, `{"model":"acme.chat-v1","messages":[{"role":"user","content":"hi"}]}`)
	defer resp2.Body.Close()
	var r2 struct {
		Choices []struct {
			Message struct {
				Content          string `json:"content"`
				ReasoningContent string `json:"reasoning_content"`
			}
			FinishReason string `json:"finish_reason"`
		}
	}
	json.NewDecoder(resp2.Body).Decode(&r2)
	if len(r2.Choices) != 1 || r2.Choices[0].Message.Content != "Hello!" || r2.Choices[0].Message.ReasoningContent != "The user wants a greeting." {
		t.Errorf("reasoning response = %+v", r2)
	}
}

// sseChunks reads an SSE body into its data payloads.
func sseChunks(t testing.TB, r io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

type chunkJSON struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Choices []struct {
		Delta struct {
			Role             string `json:"role"`
			Content          string `json:"content"`
			ReasoningContent string `json:"reasoning_content"`
			ToolCalls        []struct {
				Index    int    `json:"index"`
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		Details          struct {
			Cached int `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"error"`
}

func TestChatStream(t *testing.T) {
	tests := []struct {
		name, fixture string
		includeUsage  bool
		check         func(t *testing.T, text, reasoning string, tools map[int][2]string, finish string)
	}{
		{name: "tool deltas", fixture: "hand_tool_deltas", includeUsage: true,
			check: func(t *testing.T, text, reasoning string, tools map[int][2]string, finish string) {
				if text != "Let me check." || finish != "tool_calls" || len(tools) != 2 ||
					tools[0] != [2]string{"call_abc:get_weather", `{"city": "Paris"}`} || tools[1] != [2]string{"call_def:get_weather", `{"city":"Oslo"}`} {
					t.Errorf("text %q finish %q tools %v", text, finish, tools)
				}
			}},
		{name: "think prefix", fixture: "hand_think_split",
			check: func(t *testing.T, text, reasoning string, tools map[int][2]string, finish string) {
				if reasoning != "Let me think " || text != "Hello <b>world</think>" || finish != "stop" {
					t.Errorf("reasoning %q text %q finish %q", reasoning, text, finish)
				}
			}},
		{name: "length", fixture: "hand_think_unclosed", includeUsage: true,
			check: func(t *testing.T, text, reasoning string, tools map[int][2]string, finish string) {
				if finish != "length" || text != "" {
					t.Errorf("text %q finish %q", text, finish)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &callRecorder{}
			p, _ := fixtureProvider(t, tc.fixture)
			ts := chatServer(t, p, rec)
			opts := ""
			if tc.includeUsage {
				opts = `,"stream_options":{"include_usage":true}`
			}
			resp := postChat(t, ts.URL, `{"model":"acme.chat-v1","stream":true`+opts+`,"messages":[{"role":"user","content":"hi"}]}`, HeaderLatency, "optimized")
			defer resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
				t.Fatalf("status %d content type %q", resp.StatusCode, ct)
			}
			if resp.Header.Get(HeaderProfile) != "optimized" || resp.Header.Get(HeaderDeployment) != "dep-1" {
				t.Errorf("served headers %v", resp.Header)
			}
			data := sseChunks(t, resp.Body)
			if len(data) < 3 || data[len(data)-1] != "[DONE]" {
				t.Fatalf("chunks %q, want [DONE] last", data)
			}
			var text, reasoning, finish string
			tools := map[int][2]string{}
			var sawUsage bool
			for i, d := range data[:len(data)-1] {
				var c chunkJSON
				if err := json.Unmarshal([]byte(d), &c); err != nil {
					t.Fatalf("chunk %d %q: %v", i, d, err)
				}
				if c.Object != "chat.completion.chunk" || !strings.HasPrefix(c.ID, "chatcmpl-") {
					t.Errorf("chunk %d: %s", i, d)
				}
				if i == 0 && (len(c.Choices) != 1 || c.Choices[0].Delta.Role != "assistant") {
					t.Errorf("first chunk %s, want the assistant role", d)
				}
				if c.Usage != nil {
					sawUsage = true
					if len(c.Choices) != 0 || i != len(data)-2 || c.Usage.PromptTokens == 0 {
						t.Errorf("usage chunk %d of %d: %s", i, len(data), d)
					}
				}
				for _, ch := range c.Choices {
					text += ch.Delta.Content
					reasoning += ch.Delta.ReasoningContent
					for _, tcl := range ch.Delta.ToolCalls {
						cur := tools[tcl.Index]
						if tcl.ID != "" {
							cur[0] = tcl.ID + ":" + tcl.Function.Name
						}
						cur[1] += tcl.Function.Arguments
						tools[tcl.Index] = cur
					}
					if ch.FinishReason != nil {
						finish = *ch.FinishReason
					}
				}
			}
			if sawUsage != tc.includeUsage {
				t.Errorf("usage chunk present = %v, want %v", sawUsage, tc.includeUsage)
			}
			tc.check(t, text, reasoning, tools, finish)
			if c := rec.last(); c.Action != ActionInvokeModelStream || !c.Stream || c.Request.Performance != llm.LatencyOptimized {
				t.Errorf("call = %+v", c)
			}
		})
	}
}

// TestChatStreamErrors: errors before the first byte are JSON errors with
// the right status; errors after it arrive in-band and end the stream
// without [DONE].
func TestChatStreamErrors(t *testing.T) {
	tests := []struct {
		fixture    string
		status     int
		retryAfter string
		inBand     bool
	}{
		{fixture: "hand_429", status: 429, retryAfter: "7"},
		{fixture: "hand_401", status: 502},
		{fixture: "hand_400_context", status: 400},
		{fixture: "hand_500", status: 502},
		{fixture: "hand_reset_before_response", status: 503},
		{fixture: "hand_midstream_error", status: 200, inBand: true},
		{fixture: "hand_malformed_chunk", status: 200, inBand: true},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			p, _ := fixtureProvider(t, tc.fixture)
			ts := chatServer(t, p, nil)
			resp := postChat(t, ts.URL, `{"model":"acme.chat-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
			defer resp.Body.Close()
			if resp.StatusCode != tc.status {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if got := resp.Header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
			if !tc.inBand {
				var e openAIErrorJSON
				if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error.Message == "" {
					t.Errorf("error body: %v %+v", err, e)
				}
				return
			}
			data := sseChunks(t, resp.Body)
			var last chunkJSON
			json.Unmarshal([]byte(data[len(data)-1]), &last)
			if last.Error == nil || last.Error.Message == "" {
				t.Errorf("last chunk %q, want an error object", data[len(data)-1])
			}
		})
	}
}

// TestChatStreamClientGone: a client that disconnects mid-stream cancels
// the upstream request.
func TestChatStreamClientGone(t *testing.T) {
	p, up := fixtureProvider(t, "hand_close_stops_upstream")
	ts := chatServer(t, p, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"acme.chat-v1","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	for n := 0; n < 2; { // role chunk and the first text chunk
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "data: ") {
			n++
		}
	}
	cancel()
	resp.Body.Close()
	if !pollUntil(func() bool { return up.Disconnected() > 0 }) {
		t.Fatal("the upstream request was not cancelled after the client went away")
	}
}

func TestOpenAIModels(t *testing.T) {
	ts := chatServer(t, &replayProvider{}, nil)
	resp, err := http.Get(ts.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Object string
		Data   []struct{ ID, Object, OwnedBy string }
	}
	json.NewDecoder(resp.Body).Decode(&got)
	if got.Object != "list" || len(got.Data) != 1 || got.Data[0].ID != testModel || got.Data[0].Object != "model" {
		t.Errorf("models = %+v", got)
	}
	for path, status := range map[string]int{"/v1/models/acme-alias": 200, "/v1/models/" + testModel: 200, "/v1/models/nope": 404} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, status)
		}
	}
}

func pollUntil(cond func() bool) bool {
	for i := 0; i < 1000; i++ {
		if cond() {
			return true
		}
		timeSleep()
	}
	return cond()
}

func timeSleep() { time.Sleep(10 * time.Millisecond) }

var timeNow = time.Now

// TestChatStreamWire pins the exact SSE bytes of a streamed tool call with
// include_usage (ids and timestamps normalised).
func TestChatStreamWire(t *testing.T) {
	p, _ := fixtureProvider(t, "hand_tool_deltas")
	ts := chatServer(t, p, nil)
	resp := postChat(t, ts.URL, `{"model":"acme.chat-v1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	got := regexp.MustCompile(`"id":"chatcmpl-[0-9a-f]{32}","object":"chat.completion.chunk","created":\d+,`).
		ReplaceAllString(string(b), `"id":"ID","object":"chat.completion.chunk","created":0,`)
	const head = `data: {"id":"ID","object":"chat.completion.chunk","created":0,"model":"acme.chat-v1","choices":[`
	const tail = `,"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n"
	want := head + `{"index":0,"delta":{"role":"assistant","content":""}` + tail +
		head + `{"index":0,"delta":{"content":"Let me check."}` + tail +
		head + `{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}]}` + tail +
		head + `{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]}` + tail +
		head + `{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\": \"Paris\"}"}}]}` + tail +
		head + `{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_def","type":"function","function":{"name":"get_weather","arguments":""}}]}` + tail +
		head + `{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"city\":"}}]}` + tail +
		head + `{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"\"Oslo\"}"}}]}` + tail +
		head + `{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null}` + "\n\n" +
		head + `],"usage":{"prompt_tokens":120,"completion_tokens":40,"total_tokens":160,"prompt_tokens_details":{"cached_tokens":64},"completion_tokens_details":{"reasoning_tokens":0}}}` + "\n\n" +
		"data: [DONE]\n\n"
	if got != want {
		t.Errorf("SSE body differs (-want +got):\n%s", diffLines(want, got))
	}
}

func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("- " + wl + "\n+ " + gl + "\n")
		}
	}
	return b.String()
}
