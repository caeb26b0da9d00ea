package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/eventstream"
	"github.com/outcrop/outcrop/internal/llm"
)

var converseSeeds = []string{
	helloBody,
	benchConverseBody,
	`{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"t","input":{"x":1}}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"json":{"ok":true}},{"text":"done"}],"status":"success"}}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"t","inputSchema":{"json":{"type":"object"}}}}],"toolChoice":{"any":{}}}}`,
	`{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"AQID"}}},{"document":{"format":"txt","name":"d","source":{"text":"hello"}}},{"cachePoint":{"type":"default"}}]}],"system":[{"guardContent":{"text":{"text":"g","qualifiers":["query"]}}}]}`,
	`{"messages":[{"role":"user","content":[{"reasoningContent":{"reasoningText":{"text":"x","signature":"s"}}}]}]}`,
	`{"messages":[{"role":"user","content":[{}]}]}`,
	`{"messages":null,"inferenceConfig":{"maxTokens":-1}}`,
	`[]`, `"x"`, `{`, ``,
}

// FuzzDecodeConverse checks that request decoding never panics and that
// whatever it accepts satisfies the invariants the providers rely on.
func FuzzDecodeConverse(f *testing.F) {
	for _, s := range converseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeConverse(body, testModel, true)
		if err != nil {
			if e := llm.AsError(err); e.Kind != llm.KindValidation {
				t.Fatalf("error kind %v for bad input: %v", e.Kind, err)
			}
			return
		}
		if len(req.Messages) == 0 || req.Messages[0].Role != llm.RoleUser {
			t.Fatalf("accepted a conversation not starting with user: %+v", req.Messages)
		}
		for i, m := range req.Messages {
			if len(m.Content) == 0 {
				t.Fatalf("accepted empty content in message %d", i)
			}
			if i > 0 && m.Role == req.Messages[i-1].Role {
				t.Fatalf("accepted two %s messages in a row", m.Role)
			}
			for _, b := range m.Content {
				if b.Kind == 0 {
					t.Fatalf("accepted a block of no kind")
				}
			}
		}
	})
}

// FuzzDecodeAnthropic does the same for InvokeModel's Anthropic body.
func FuzzDecodeAnthropic(f *testing.F) {
	for _, s := range []string{
		`{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`,
		`{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}],"tools":[{"name":"t","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"t"},"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AQID"}}]},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"t","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}]}`,
		`{"anthropic_version":"x"}`, `{}`, `nul`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeAnthropic(body, testModel)
		if err != nil {
			if e := llm.AsError(err); e.Kind != llm.KindValidation {
				t.Fatalf("error kind %v for bad input: %v", e.Kind, err)
			}
			return
		}
		if len(req.Messages) == 0 || req.Messages[0].Role != llm.RoleUser || req.Inference.MaxTokens == nil {
			t.Fatalf("accepted an invalid request: %+v", req)
		}
	})
}

// FuzzConverseHandler posts arbitrary bodies through the real handler:
// the answer is a 200 or a Bedrock 4xx, never a 5xx or a panic, and a 200
// stream always decodes and ends with metadata.
func FuzzConverseHandler(f *testing.F) {
	for _, s := range converseSeeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	p := &replayProvider{script: func(*llm.Request) ([]llm.Event, error) { return toolEvents(), nil }}
	ts := newTestServer(f, p)
	f.Fuzz(func(t *testing.T, body []byte, stream bool) {
		op := "converse"
		if stream {
			op = "converse-stream"
		}
		req := httptest.NewRequest("POST", modelPath(testModel, op), strings.NewReader(string(body)))
		rec := httptest.NewRecorder()
		ts.Config.Handler.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusOK:
			if stream {
				evs := decodeEvents(t, rec.Body.Bytes())
				if len(evs) == 0 || evs[len(evs)-1][0] != "metadata" {
					t.Fatalf("stream ended with %v", evs)
				}
			}
		case rec.Code >= 400 && rec.Code < 500:
			if rec.Header().Get("X-Amzn-ErrorType") == "" || !strings.HasPrefix(rec.Body.String(), `{"message":`) {
				t.Fatalf("error without Bedrock shape: %d %v %s", rec.Code, rec.Header(), rec.Body)
			}
		default:
			t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body)
		}
	})
}

// benchConverseBody is a typical multi-turn Converse request.
const benchConverseBody = `{"messages":[` +
	`{"role":"user","content":[{"text":"What is the weather in Paris and what should I wear today? I am going out for a walk along the Seine."}]},` +
	`{"role":"assistant","content":[{"text":"Let me check."},{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"city":"Paris"}}}]},` +
	`{"role":"user","content":[{"toolResult":{"toolUseId":"tooluse_1","content":[{"json":{"tempC":21,"sky":"clear"}}],"status":"success"}}]}],` +
	`"system":[{"text":"You are a helpful travel assistant. Answer briefly."}],` +
	`"inferenceConfig":{"maxTokens":512,"temperature":0.5,"topP":0.9,"stopSequences":["END"]},` +
	`"toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","description":"Current weather","inputSchema":{"json":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}}],"toolChoice":{"auto":{}}},` +
	`"performanceConfig":{"latency":"optimized"},"requestMetadata":{"team":"travel"}}`

func BenchmarkDecodeConverse(b *testing.B) {
	body := []byte(benchConverseBody)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := decodeConverse(body, testModel, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConverseStreamEvent measures rendering and framing one
// ConverseStream event, as the stream writer does per model delta.
func BenchmarkConverseStreamEvent(b *testing.B) {
	cases := []struct {
		name string
		ev   llm.Event
		kind llm.BlockKind
	}{
		{"textDelta", llm.Event{Type: llm.EventBlockDelta, Index: 0, Delta: llm.DeltaText, Text: " the quick brown fox"}, llm.KindText},
		{"toolInputDelta", llm.Event{Type: llm.EventBlockDelta, Index: 1, Delta: llm.DeltaToolInput, Text: `{"city":"Par`}, llm.KindToolUse},
		{"metadata", llm.Event{Type: llm.EventMetadata, Usage: &llm.Usage{InputTokens: 120, OutputTokens: 300}, Metrics: &llm.Metrics{LatencyMs: 812}, Served: &llm.Served{Profile: llm.LatencyOptimized}}, 0},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			payload := make([]byte, 0, 256)
			frame := make([]byte, 0, 512)
			hdrs := eventstream.Headers{
				{Name: ":event-type", Value: eventstream.String("")},
				{Name: ":content-type", Value: eventstream.String("application/json")},
				{Name: ":message-type", Value: eventstream.String("event")},
			}
			b.ReportAllocs()
			for b.Loop() {
				typ, p := converseEvent(payload[:0], c.ev, c.kind)
				hdrs[0].Value.Str = typ
				m := eventstream.Message{Headers: hdrs, Payload: p}
				frame, _ = eventstream.Append(frame[:0], &m)
				payload = p
			}
		})
	}
}

// BenchmarkConverseStreamHandler serves a whole 100-delta ConverseStream
// through the handler, gateway and router (no network).
func BenchmarkConverseStreamHandler(b *testing.B) {
	words := make([]string, 100)
	for i := range words {
		words[i] = " word"
	}
	p := &replayProvider{script: func(*llm.Request) ([]llm.Event, error) { return textEvents(words...), nil }}
	ts := newTestServer(b, p)
	h := ts.Config.Handler
	b.ReportAllocs()
	for b.Loop() {
		p.mu.Lock()
		p.reqs = p.reqs[:0]
		p.mu.Unlock()
		req := httptest.NewRequest("POST", modelPath(testModel, "converse-stream"), strings.NewReader(helloBody))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// FuzzUnionMember checks the in-place object scanner against
// encoding/json: for any valid JSON, both agree on whether it is an object
// with exactly one member, and on that member.
func FuzzUnionMember(f *testing.F) {
	for _, s := range []string{`{"text":"a"}`, `{}`, `{"a":1,"b":2}`, ` { "k\u0041" : [1,{"x":"}"}] } `, `{"a":null}`, `[1]`, `"s"`, `{"a":"\"}"}`, `{"a":{"b":[]} , "c":tr`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		key, val, err := unionMember(b, "x")
		if !json.Valid(b) {
			return // callers only pass values encoding/json has validated
		}
		var m map[string]json.RawMessage
		isObj := json.Unmarshal(b, &m) == nil && m != nil
		if err == nil {
			if !isObj || len(m) != 1 {
				t.Fatalf("accepted %q; encoding/json sees %d members", b, len(m))
			}
			if got, ok := m[key]; !ok || string(bytes.TrimSpace(got)) != string(val) {
				t.Fatalf("member %q = %q, encoding/json %q", key, val, m[key])
			}
			return
		}
		if isObj && len(m) == 1 && !hasDuplicateKey(b) {
			for _, v := range m {
				if string(bytes.TrimSpace(v)) != "null" {
					t.Fatalf("refused %q: %v", b, err)
				}
			}
		}
	})
}

// hasDuplicateKey reports whether the top-level object b repeats a key.
func hasDuplicateKey(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		k, _ := tok.(string)
		if seen[k] {
			return true
		}
		seen[k] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}
