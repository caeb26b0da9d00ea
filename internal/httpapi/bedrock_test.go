package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/eventstream"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/httpapi/bedrocktest"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/routing"
)

// testModel is the model ID the test servers serve.
const testModel = bedrocktest.Model

// replayProvider replays the events that script returns for a request; it
// stands in for an upstream in tests that need exact events.
type replayProvider struct {
	script func(req *llm.Request) ([]llm.Event, error)

	mu   sync.Mutex
	reqs []*llm.Request
}

func (p *replayProvider) ConverseStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	p.mu.Lock()
	p.reqs = append(p.reqs, req)
	p.mu.Unlock()
	evs, err := p.script(req)
	if len(evs) == 0 && err != nil {
		return nil, err
	}
	return &llm.SliceStream{Events: evs, Err: err}, nil
}

func (p *replayProvider) last() *llm.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.reqs) == 0 {
		return nil
	}
	return p.reqs[len(p.reqs)-1]
}

// textEvents is what an upstream streams for a plain text answer.
func textEvents(words ...string) []llm.Event {
	evs := []llm.Event{{Type: llm.EventMessageStart}}
	for _, w := range words {
		evs = append(evs, llm.Event{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: w})
	}
	return append(evs,
		llm.Event{Type: llm.EventBlockStop},
		llm.Event{Type: llm.EventMessageStop, StopReason: llm.StopEndTurn},
		llm.Event{Type: llm.EventMetadata, Usage: &llm.Usage{InputTokens: 11, OutputTokens: len(words)}})
}

// toolEvents is a text block followed by a streamed tool use.
func toolEvents() []llm.Event {
	return []llm.Event{
		{Type: llm.EventMessageStart},
		{Type: llm.EventBlockDelta, Index: 0, Delta: llm.DeltaText, Text: "Let me check."},
		{Type: llm.EventBlockStop, Index: 0},
		{Type: llm.EventBlockStart, Index: 1, ToolUse: &llm.ToolUse{ID: "tooluse_1", Name: "get_weather"}},
		{Type: llm.EventBlockDelta, Index: 1, Delta: llm.DeltaToolInput, Text: `{"city":`},
		{Type: llm.EventBlockDelta, Index: 1, Delta: llm.DeltaToolInput, Text: `"Paris"}`},
		{Type: llm.EventBlockStop, Index: 1},
		{Type: llm.EventMessageStop, StopReason: llm.StopToolUse},
		{Type: llm.EventMetadata, Usage: &llm.Usage{InputTokens: 20, OutputTokens: 9}},
	}
}

// newTestServer serves p as testModel (both profiles) on 127.0.0.1 with
// HTTP/1.1 and cleartext HTTP/2, as `outcrop serve` does.
func newTestServer(t testing.TB, p llm.Provider) *httptest.Server {
	t.Helper()
	return newTestServerModels(t, &routing.Model{
		ID:          testModel,
		Aliases:     []string{"us.acme.chat-v1"},
		Profiles:    []llm.Latency{llm.LatencyStandard, llm.LatencyOptimized},
		Deployments: []*routing.Deployment{{Name: "replay-1", Provider: p, Type: "replay", Weight: 1}},
	})
}

func newTestServerModels(t testing.TB, models ...*routing.Model) *httptest.Server {
	t.Helper()
	return newTestServerWith(t, nil, models...)
}

// newTestServerWith is newTestServerModels with the handler wrapped by wrap
// (when not nil).
func newTestServerWith(t testing.TB, wrap func(http.Handler) http.Handler, models ...*routing.Model) *httptest.Server {
	t.Helper()
	router := routing.New(models)
	gw := gateway.New(gateway.Options{Final: router.Route})
	srv := New(Deps{Gateway: gw, Router: router, MaxBodyBytes: 1 << 20})
	h := srv.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewUnstartedServer(h)
	ts.Config.Protocols = new(http.Protocols)
	ts.Config.Protocols.SetHTTP1(true)
	ts.Config.Protocols.SetUnencryptedHTTP2(true)
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

func modelPath(id, op string) string { return "/model/" + url.PathEscape(id) + "/" + op }

// post sends a raw request and returns status, headers and body.
func post(t testing.TB, ts *httptest.Server, path, body string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// decodeEvents reads an event stream body into (type, payload) pairs;
// exceptions are typed "!" + their exception type.
func decodeEvents(t testing.TB, body []byte) [][2]string {
	t.Helper()
	var out [][2]string
	d := eventstream.NewDecoder(bytes.NewReader(body))
	for {
		m, err := d.Decode()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decode event %d: %v", len(out), err)
		}
		switch m.Headers.String(":message-type") {
		case "event":
			out = append(out, [2]string{m.Headers.String(":event-type"), string(m.Payload)})
		case "exception":
			out = append(out, [2]string{"!" + m.Headers.String(":exception-type"), string(m.Payload)})
		default:
			t.Fatalf("event %d: :message-type %q", len(out), m.Headers.String(":message-type"))
		}
	}
}

const helloBody = `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`

func TestConverseStreamSequence(t *testing.T) {
	p := &replayProvider{script: func(*llm.Request) ([]llm.Event, error) { return toolEvents(), nil }}
	ts := newTestServer(t, p)
	status, hdr, body := post(t, ts, modelPath(testModel, "converse-stream"),
		`{"messages":[{"role":"user","content":[{"text":"weather?"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","inputSchema":{"json":{"type":"object"}}}}]},"performanceConfig":{"latency":"optimized"}}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/vnd.amazon.eventstream" {
		t.Errorf("Content-Type = %q", ct)
	}
	if d, p := hdr.Get(HeaderDeployment), hdr.Get(HeaderProfile); d != "replay-1" || p != "optimized" {
		t.Errorf("served headers = %q, %q; want replay-1, optimized", d, p)
	}
	evs := decodeEvents(t, body)
	want := [][2]string{
		{"messageStart", `{"role":"assistant"}`},
		{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Let me check."}}`},
		{"contentBlockStop", `{"contentBlockIndex":0}`},
		{"contentBlockStart", `{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather"}}}`},
		{"contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"city\":"}}}`},
		{"contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"\"Paris\"}"}}}`},
		{"contentBlockStop", `{"contentBlockIndex":1}`},
		{"messageStop", `{"stopReason":"tool_use"}`},
	}
	if len(evs) != len(want)+1 {
		t.Fatalf("got %d events, want %d: %q", len(evs), len(want)+1, evs)
	}
	for i, w := range want {
		if evs[i] != w {
			t.Errorf("event %d = %q, want %q", i, evs[i], w)
		}
	}
	last := evs[len(evs)-1]
	if last[0] != "metadata" {
		t.Fatalf("last event = %q, want metadata", last[0])
	}
	var meta struct {
		Usage             map[string]int
		Metrics           map[string]*int64
		PerformanceConfig map[string]string
	}
	if err := json.Unmarshal([]byte(last[1]), &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Usage["inputTokens"] != 20 || meta.Usage["outputTokens"] != 9 || meta.Usage["totalTokens"] != 29 {
		t.Errorf("usage = %v", meta.Usage)
	}
	if meta.Metrics["latencyMs"] == nil {
		t.Errorf("metadata %s has no metrics.latencyMs", last[1])
	}
	if meta.PerformanceConfig["latency"] != "optimized" {
		t.Errorf("performanceConfig = %v", meta.PerformanceConfig)
	}
}

// TestSequencerRepairs checks that sloppy provider streams still come out
// in Bedrock's order.
func TestSequencerRepairs(t *testing.T) {
	tests := []struct {
		name string
		in   []llm.Event
		want string
	}{
		{
			name: "no start no stops no metadata",
			in: []llm.Event{
				{Type: llm.EventBlockDelta, Index: 0, Delta: llm.DeltaText, Text: ""},
				{Type: llm.EventBlockDelta, Index: 0, Delta: llm.DeltaText, Text: "a"},
				{Type: llm.EventBlockDelta, Index: 3, Delta: llm.DeltaReasoning, Text: "r"},
			},
			want: "messageStart delta0 stop0 delta1 stop1 messageStop metadata",
		},
		{
			name: "tool use without start, duplicate stop",
			in: []llm.Event{
				{Type: llm.EventMessageStart},
				{Type: llm.EventBlockDelta, Index: 2, Delta: llm.DeltaToolInput, Text: "{}"},
				{Type: llm.EventBlockStop, Index: 2},
				{Type: llm.EventBlockStop, Index: 2},
				{Type: llm.EventMetadata, Usage: &llm.Usage{}},
				{Type: llm.EventBlockDelta, Index: 0, Delta: llm.DeltaText, Text: "late"},
			},
			want: "messageStart start0 delta0 stop0 messageStop metadata",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			emit := func(ev llm.Event, kind llm.BlockKind) error {
				typ, _ := converseEvent(nil, ev, kind)
				switch typ {
				case "":
					return nil
				case "contentBlockDelta":
					typ = "delta" + string(rune('0'+ev.Index))
				case "contentBlockStop":
					typ = "stop" + string(rune('0'+ev.Index))
				case "contentBlockStart":
					typ = "start" + string(rune('0'+ev.Index))
				}
				got = append(got, typ)
				return nil
			}
			var q blockSequencer
			for _, ev := range tc.in {
				if err := q.feed(ev, emit); err != nil {
					t.Fatal(err)
				}
			}
			if err := q.finish(llm.Event{}, emit); err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("sequence = %q, want %q", g, tc.want)
			}
		})
	}
}

func TestConverseStreamException(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantTyp string
		wantKey string
	}{
		{"model error", &llm.Error{Kind: llm.KindModelError, Message: "upstream said no", UpstreamStatus: 502}, "!modelStreamErrorException", `"originalStatusCode":502`},
		{"throttled", llm.Errorf(llm.KindThrottled, "slow down"), "!throttlingException", `"message":"slow down"`},
		{"internal", llm.Errorf(llm.KindInternal, "oops"), "!internalServerException", `"message"`},
		{"unclassified", errors.New("boom"), "!modelStreamErrorException", `"message"`},
		{"unavailable", llm.Errorf(llm.KindUnavailable, "gone"), "!serviceUnavailableException", `"message":"gone"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &replayProvider{script: func(*llm.Request) ([]llm.Event, error) {
				return textEvents("partial")[:2], tc.err
			}}
			ts := newTestServer(t, p)
			status, _, body := post(t, ts, modelPath(testModel, "converse-stream"), helloBody)
			if status != 200 {
				t.Fatalf("status %d", status)
			}
			evs := decodeEvents(t, body)
			last := evs[len(evs)-1]
			if last[0] != tc.wantTyp || !strings.Contains(last[1], tc.wantKey) {
				t.Errorf("last event = %q, want %s with %s", last, tc.wantTyp, tc.wantKey)
			}
			if strings.Contains(last[1], "boom") {
				t.Errorf("internal cause leaked: %s", last[1])
			}
		})
	}
}

func TestConverseJSON(t *testing.T) {
	p := &replayProvider{script: func(*llm.Request) ([]llm.Event, error) { return textEvents("Hello", " there"), nil }}
	ts := newTestServer(t, p)
	status, hdr, body := post(t, ts, modelPath("arn:aws:bedrock:us-east-1:000000000000:inference-profile/us."+testModel, "converse"),
		`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"system":[{"text":"be brief"}],"inferenceConfig":{"maxTokens":50,"temperature":0.2,"stopSequences":["END"]},"additionalModelRequestFields":{"top_k":5},"requestMetadata":{"k":"v"}}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var got struct {
		Output struct {
			Message struct {
				Role    string
				Content []map[string]any
			}
		}
		StopReason        string
		Usage             map[string]int
		Metrics           map[string]*int64
		PerformanceConfig map[string]string
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Output.Message.Role != "assistant" || len(got.Output.Message.Content) != 1 || got.Output.Message.Content[0]["text"] != "Hello there" {
		t.Errorf("output = %+v", got.Output)
	}
	if got.StopReason != "end_turn" || got.Usage["totalTokens"] != 13 || got.Metrics["latencyMs"] == nil || got.PerformanceConfig["latency"] != "standard" {
		t.Errorf("response = %s", body)
	}
	if hdr.Get("X-Amzn-RequestId") == "" || hdr.Get(HeaderDeployment) != "replay-1" || hdr.Get(HeaderProfile) != "standard" {
		t.Errorf("headers = %v", hdr)
	}
	req := p.last()
	if req.SystemText() != "be brief" || *req.Inference.MaxTokens != 50 || string(req.Additional) != `{"top_k":5}` || req.Metadata["k"] != "v" {
		t.Errorf("neutral request = %+v", req)
	}
}

func TestBedrockBadInput(t *testing.T) {
	p := &replayProvider{script: func(*llm.Request) ([]llm.Event, error) { return textEvents("x"), nil }}
	ts := newTestServer(t, p)
	user := func(content string) string { return `{"role":"user","content":[` + content + `]}` }
	asst := func(content string) string { return `{"role":"assistant","content":[` + content + `]}` }
	msgs := func(ms ...string) string { return `{"messages":[` + strings.Join(ms, ",") + `]}` }
	tools := `,"toolConfig":{"tools":[{"toolSpec":{"name":"t","inputSchema":{"json":{"type":"object"}}}}]}`
	withTools := func(ms ...string) string { return `{"messages":[` + strings.Join(ms, ",") + `]` + tools + `}` }
	tests := []struct {
		name, op, model, body string
		status                int
		code, msg             string
	}{
		{"malformed json", "converse", testModel, `{"messages":[`, 400, "ValidationException", "invalid JSON"},
		{"not an object", "converse", testModel, `[1,2]`, 400, "ValidationException", "Malformed input request"},
		{"messages wrong type", "converse", testModel, `{"messages":"hi"}`, 400, "ValidationException", "messages"},
		{"maxTokens wrong type", "converse", testModel, `{"messages":[` + user(`{"text":"a"}`) + `],"inferenceConfig":{"maxTokens":"10"}}`, 400, "ValidationException", "maxTokens"},
		{"temperature range", "converse", testModel, `{"messages":[` + user(`{"text":"a"}`) + `],"inferenceConfig":{"temperature":3}}`, 400, "ValidationException", "temperature"},
		{"empty body", "converse", testModel, ``, 400, "ValidationException", "start with a user message"},
		{"empty messages", "converse", testModel, `{"messages":[]}`, 400, "ValidationException", "start with a user message"},
		{"assistant first", "converse", testModel, msgs(asst(`{"text":"a"}`)), 400, "ValidationException", "start with a user message"},
		{"two users", "converse", testModel, msgs(user(`{"text":"a"}`), user(`{"text":"b"}`)), 400, "ValidationException", "alternate"},
		{"bad role", "converse", testModel, msgs(`{"role":"system","content":[{"text":"a"}]}`), 400, "ValidationException", "role"},
		{"empty content", "converse", testModel, msgs(user(``)), 400, "ValidationException", "content"},
		{"blank text", "converse", testModel, msgs(user(`{"text":"  "}`)), 400, "ValidationException", "blank"},
		{"empty union", "converse", testModel, msgs(user(`{}`)), 400, "ValidationException", "exactly one member"},
		{"two-key union", "converse", testModel, msgs(user(`{"text":"a","image":{}}`)), 400, "ValidationException", "exactly one member"},
		{"unknown block", "converse", testModel, msgs(user(`{"hologram":{}}`)), 400, "ValidationException", "hologram"},
		{"text wrong type", "converse", testModel, msgs(user(`{"text":5}`)), 400, "ValidationException", "messages.0.content.0.text"},
		{"bad image format", "converse", testModel, msgs(user(`{"image":{"format":"bmp","source":{"bytes":"AQID"}}}`)), 400, "ValidationException", "format"},
		{"bad base64", "converse", testModel, msgs(user(`{"image":{"format":"png","source":{"bytes":"***"}}}`)), 400, "ValidationException", "bytes"},
		{"tool use without toolConfig", "converse", testModel, msgs(user(`{"text":"a"}`), asst(`{"toolUse":{"toolUseId":"t1","name":"t","input":{}}}`), user(`{"toolResult":{"toolUseId":"t1","content":[{"text":"ok"}]}}`)), 400, "ValidationException", "toolConfig"},
		{"unanswered tool use", "converse", testModel, withTools(user(`{"text":"a"}`), asst(`{"toolUse":{"toolUseId":"t1","name":"t","input":{}}}`), user(`{"text":"b"}`)), 400, "ValidationException", "Expected toolResult"},
		{"stray tool result", "converse", testModel, withTools(user(`{"toolResult":{"toolUseId":"zz","content":[{"text":"ok"}]}}`)), 400, "ValidationException", "does not match"},
		{"tool name pattern", "converse", testModel, `{"messages":[` + user(`{"text":"a"}`) + `],"toolConfig":{"tools":[{"toolSpec":{"name":"bad name","inputSchema":{"json":{}}}}]}}`, 400, "ValidationException", "name"},
		{"toolChoice unknown tool", "converse", testModel, `{"messages":[` + user(`{"text":"a"}`) + `],"toolConfig":{"tools":[{"toolSpec":{"name":"t","inputSchema":{"json":{}}}}],"toolChoice":{"tool":{"name":"u"}}}}`, 400, "ValidationException", "toolChoice"},
		{"bad latency", "converse", testModel, `{"messages":[` + user(`{"text":"a"}`) + `],"performanceConfig":{"latency":"warp"}}`, 400, "ValidationException", "latency"},
		{"unknown model", "converse", "acme.nope-v9", helloBody, 404, "ResourceNotFoundException", "acme.nope-v9"},
		{"unknown model stream", "converse-stream", "acme.nope-v9", helloBody, 404, "ResourceNotFoundException", "acme.nope-v9"},
		{"oversized", "converse", testModel, `{"messages":[` + user(`{"text":"`+strings.Repeat("a", 1<<20)+`"}`) + `]}`, 400, "ValidationException", "larger than"},
		{"stream bad json", "converse-stream", testModel, `{`, 400, "ValidationException", "invalid JSON"},
		{"invoke no version", "invoke", testModel, `{"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, 400, "ValidationException", "anthropic_version"},
		{"invoke extraneous key", "invoke", testModel, `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"foo":1}`, 400, "ValidationException", "extraneous key [foo]"},
		{"invoke no max_tokens", "invoke", testModel, `{"anthropic_version":"bedrock-2023-05-31","messages":[{"role":"user","content":"hi"}]}`, 400, "ValidationException", "max_tokens"},
		{"invoke wrong type", "invoke", testModel, `{"anthropic_version":"bedrock-2023-05-31","max_tokens":"many","messages":[]}`, 400, "ValidationException", "max_tokens"},
		{"invoke roles", "invoke", testModel, `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"assistant","content":"hi"}]}`, 400, "ValidationException", "first message"},
		{"invoke empty body", "invoke", testModel, ``, 400, "ValidationException", "body"},
		{"invoke stream bad json", "invoke-with-response-stream", testModel, `{"anthropic_version":`, 400, "ValidationException", "not valid JSON"},
		{"invoke unknown model", "invoke", "nope", `{}`, 404, "ResourceNotFoundException", "nope"},
		{"count tokens empty", "count-tokens", testModel, `{}`, 400, "ValidationException", "input"},
		{"count tokens two inputs", "count-tokens", testModel, `{"input":{"converse":{},"invokeModel":{}}}`, 400, "ValidationException", "exactly one member"},
		{"count tokens bad converse", "count-tokens", testModel, `{"input":{"converse":{"messages":[]}}}`, 400, "ValidationException", "user message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := post(t, ts, modelPath(tc.model, tc.op), tc.body)
			if status != tc.status {
				t.Fatalf("status = %d, want %d (%s)", status, tc.status, body)
			}
			if got := hdr.Get("X-Amzn-ErrorType"); got != tc.code {
				t.Errorf("X-Amzn-ErrorType = %q, want %q", got, tc.code)
			}
			var e struct{ Message string }
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body %q is not JSON: %v", body, err)
			}
			if !strings.Contains(e.Message, tc.msg) {
				t.Errorf("message = %q, want it to mention %q", e.Message, tc.msg)
			}
		})
	}
}

// blockingProvider streams one delta and then waits for its context to end,
// reporting the cancellation.
type blockingProvider struct {
	started  chan struct{}
	canceled chan error
}

func (p *blockingProvider) ConverseStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	go func() { // ends when the call's context does, which the test waits for
		<-ctx.Done()
		p.canceled <- ctx.Err()
	}()
	return &blockingStream{ctx: ctx, p: p}, nil
}

type blockingStream struct {
	ctx  context.Context
	p    *blockingProvider
	sent int
}

func (s *blockingStream) Next() (llm.Event, error) {
	s.sent++
	switch s.sent {
	case 1:
		return llm.Event{Type: llm.EventMessageStart}, nil
	case 2:
		close(s.p.started)
		return llm.Event{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: "tick"}, nil
	}
	<-s.ctx.Done()
	return llm.Event{}, s.ctx.Err()
}

func (s *blockingStream) Close() error { return nil }

func TestClientDisconnectCancelsUpstream(t *testing.T) {
	for _, op := range []string{"converse-stream", "converse", "invoke-with-response-stream"} {
		t.Run(op, func(t *testing.T) {
			p := &blockingProvider{started: make(chan struct{}), canceled: make(chan error, 1)}
			ts := newTestServer(t, p)
			ctx, cancel := context.WithCancel(context.Background())
			body := helloBody
			if strings.HasPrefix(op, "invoke") {
				body = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
			}
			req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+modelPath(testModel, op), strings.NewReader(body))
			done := make(chan struct{})
			go func() { // ends when the request fails after cancel
				defer close(done)
				resp, err := ts.Client().Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
			<-p.started
			cancel()
			select {
			case err := <-p.canceled:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("upstream context ended with %v, want context.Canceled", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the upstream call was not cancelled after the client went away")
			}
			<-done
		})
	}
}

func TestInvokeModelAnthropic(t *testing.T) {
	p := &replayProvider{script: func(*llm.Request) ([]llm.Event, error) { return textEvents("Paris", " is nice"), nil }}
	ts := newTestServer(t, p)
	// FMEval's BedrockModelRunner content template for Claude 3.
	body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":512,"system":"be brief","temperature":0.1,"top_k":40,"stop_sequences":["\n\nHuman:"],"messages":[{"role":"user","content":[{"type":"text","text":"Where?"}]}]}`
	status, hdr, out := post(t, ts, modelPath(testModel, "invoke"), body, headerPerfLatency, "optimized")
	if status != 200 {
		t.Fatalf("status %d: %s", status, out)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	// The JMESPath content[0].text.
	content, _ := got["content"].([]any)
	if len(content) == 0 || content[0].(map[string]any)["text"] != "Paris is nice" {
		t.Fatalf("content = %v", got["content"])
	}
	if got["type"] != "message" || got["role"] != "assistant" || got["stop_reason"] != "end_turn" || !strings.HasPrefix(got["id"].(string), "msg_bdrk_") {
		t.Errorf("response = %s", out)
	}
	if hdr.Get(headerPerfLatency) != "optimized" || hdr.Get(headerInputTokens) != "11" || hdr.Get(headerOutputTokens) != "2" || hdr.Get(headerInvokeLatency) == "" {
		t.Errorf("headers = %v", hdr)
	}
	req := p.last()
	if req.Performance != llm.LatencyOptimized || *req.Inference.TopK != 40 || req.SystemText() != "be brief" {
		t.Errorf("neutral request = %+v", req)
	}
}

func TestInvokeModelStreamAnthropic(t *testing.T) {
	p := &replayProvider{script: func(*llm.Request) ([]llm.Event, error) { return toolEvents(), nil }}
	ts := newTestServer(t, p)
	body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"tools":[{"name":"get_weather","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"weather?"}]}`
	status, hdr, out := post(t, ts, modelPath(testModel, "invoke-with-response-stream"), body)
	if status != 200 {
		t.Fatalf("status %d: %s", status, out)
	}
	if hdr.Get(headerStreamType) != "application/json" {
		t.Errorf("%s = %q", headerStreamType, hdr.Get(headerStreamType))
	}
	var types []string
	var last map[string]any
	for _, ev := range decodeEvents(t, out) {
		if ev[0] != "chunk" {
			t.Fatalf("event %q, want chunk", ev[0])
		}
		var c struct{ Bytes []byte }
		if err := json.Unmarshal([]byte(ev[1]), &c); err != nil {
			t.Fatal(err)
		}
		var a map[string]any
		if err := json.Unmarshal(c.Bytes, &a); err != nil {
			t.Fatalf("chunk %s: %v", c.Bytes, err)
		}
		typ := a["type"].(string)
		if d, ok := a["delta"].(map[string]any); ok && d["type"] != nil {
			typ += ":" + d["type"].(string)
		}
		types = append(types, typ)
		last = a
	}
	want := "message_start content_block_start content_block_delta:text_delta content_block_stop content_block_start content_block_delta:input_json_delta content_block_delta:input_json_delta content_block_stop message_delta message_stop"
	if g := strings.Join(types, " "); g != want {
		t.Errorf("events =\n%s\nwant\n%s", g, want)
	}
	m, _ := last["amazon-bedrock-invocationMetrics"].(map[string]any)
	if m["inputTokenCount"] != float64(20) || m["outputTokenCount"] != float64(9) {
		t.Errorf("invocation metrics = %v", m)
	}
}

func TestCountTokensEstimate(t *testing.T) {
	p := &replayProvider{script: func(*llm.Request) ([]llm.Event, error) { return nil, errors.New("not called") }}
	ts := newTestServer(t, p)
	status, hdr, out := post(t, ts, modelPath(testModel, "count-tokens"), `{"input":{"converse":{"messages":[{"role":"user","content":[{"text":"`+strings.Repeat("word ", 40)+`"}]}]}}}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, out)
	}
	var got struct{ InputTokens int }
	json.Unmarshal(out, &got)
	if got.InputTokens < 40 || got.InputTokens > 80 || hdr.Get(HeaderTokenCount) != "estimated" {
		t.Errorf("count = %s (%s)", out, hdr.Get(HeaderTokenCount))
	}
	inv := base64.StdEncoding.EncodeToString([]byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":"hello there"}]}`))
	status, _, out = post(t, ts, modelPath(testModel, "count-tokens"), `{"input":{"invokeModel":{"body":"`+inv+`"}}}`)
	if status != 200 || !strings.Contains(string(out), "inputTokens") {
		t.Errorf("invokeModel count: %d %s", status, out)
	}
}

func TestCountTokensAndListingAreAuthorized(t *testing.T) {
	var seen []string
	router := routing.New([]*routing.Model{{ID: testModel, Deployments: []*routing.Deployment{{Name: "d", Provider: scripted(), Weight: 1}}}})
	srv := New(Deps{Router: router, Gateway: gateway.New(gateway.Options{Final: router.Route}),
		Authorize: func(_ context.Context, action, resource string) error {
			seen = append(seen, action+" "+resource)
			return llm.Errorf(llm.KindAccessDenied, "not allowed")
		}})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	status, hdr, _ := post(t, ts, modelPath(testModel, "count-tokens"), `{"input":{"converse":{"messages":[{"role":"user","content":[{"text":"a"}]}]}}}`)
	if status != 403 || hdr.Get("X-Amzn-ErrorType") != "AccessDeniedException" {
		t.Errorf("count-tokens: %d %s", status, hdr.Get("X-Amzn-ErrorType"))
	}
	resp, err := ts.Client().Get(ts.URL + "/foundation-models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("foundation-models: %d", resp.StatusCode)
	}
	want := "bedrock:CountTokens arn:aws:bedrock:us-east-1::foundation-model/" + testModel + "|bedrock:ListFoundationModels *"
	if got := strings.Join(seen, "|"); got != want {
		t.Errorf("authorized %q, want %q", got, want)
	}
}

func TestListFoundationModels(t *testing.T) {
	ts := newTestServer(t, &replayProvider{})
	resp, err := ts.Client().Get(ts.URL + "/foundation-models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		ModelSummaries []struct{ ModelID, ModelArn string }
	}
	json.NewDecoder(resp.Body).Decode(&got)
	if len(got.ModelSummaries) != 1 || got.ModelSummaries[0].ModelID != testModel || !strings.HasSuffix(got.ModelSummaries[0].ModelArn, ":foundation-model/"+testModel) {
		t.Errorf("listing = %+v", got)
	}
}
