package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

func intp(i int) *int { return &i }

func user(bs ...llm.Block) llm.Message { return llm.Message{Role: llm.RoleUser, Content: bs} }

// jsonEqual compares two JSON documents by value.
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got invalid JSON %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want invalid JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body =\n%s\nwant\n%s", got, want)
	}
}

func TestRequestBody(t *testing.T) {
	p, err := New(Config{Model: "claude-sonnet-4-5", DefaultMaxTokens: 1000})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		req      *llm.Request
		want     string
		wantBeta []string
	}{
		{
			name: "system cache point and inference",
			req: &llm.Request{
				System:   []llm.Block{llm.TextBlock("You are terse."), {Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{TTL: "1h"}}},
				Messages: []llm.Message{user(llm.TextBlock("Hi"), llm.Block{Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}})},
				Inference: llm.InferenceConfig{MaxTokens: intp(50), Temperature: new(float64), TopK: intp(5),
					StopSequences: []string{"###"}},
			},
			want: `{"model":"claude-sonnet-4-5","max_tokens":50,"stream":true,"temperature":0,"top_k":5,"stop_sequences":["###"],
				"system":[{"type":"text","text":"You are terse.","cache_control":{"type":"ephemeral","ttl":"1h"}}],
				"messages":[{"role":"user","content":[{"type":"text","text":"Hi","cache_control":{"type":"ephemeral"}}]}]}`,
		},
		{
			name: "tools, forced choice, tool history, thinking history",
			req: &llm.Request{
				Messages: []llm.Message{
					user(llm.TextBlock("Weather?")),
					{Role: llm.RoleAssistant, Content: []llm.Block{
						{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Text: "call it", Signature: "sig"}},
						{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Text: "unsigned"}},
						{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Redacted: []byte("opaque")}},
						{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: "toolu_1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}},
					}},
					user(llm.Block{Kind: llm.KindToolResult, ToolResult: &llm.ToolResult{ToolUseID: "toolu_1", Status: "error",
						Content: []llm.ToolResultContent{{JSON: json.RawMessage(`{"err":"down"}`)}, {Text: "retry later"}}}}),
				},
				Tools: &llm.ToolConfig{Tools: []llm.Tool{{Name: "get_weather", Description: "d", Schema: json.RawMessage(`{"type":"object"}`)}},
					Choice: llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "get_weather"}},
			},
			want: `{"model":"claude-sonnet-4-5","max_tokens":1000,"stream":true,
				"messages":[{"role":"user","content":[{"type":"text","text":"Weather?"}]},
				{"role":"assistant","content":[{"type":"thinking","thinking":"call it","signature":"sig"},{"type":"redacted_thinking","data":"opaque"},
					{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
				{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","is_error":true,
					"content":[{"type":"text","text":"{\"err\":\"down\"}"},{"type":"text","text":"retry later"}]}]}],
				"tools":[{"name":"get_weather","description":"d","input_schema":{"type":"object"}}],
				"tool_choice":{"type":"tool","name":"get_weather"}}`,
		},
		{
			name: "reasoning_effort becomes a thinking budget and raises max_tokens",
			req: &llm.Request{
				Messages:   []llm.Message{user(llm.TextBlock("Think."))},
				Additional: json.RawMessage(`{"reasoning_effort":"medium","anthropic_beta":["interleaved-thinking-2025-05-14"]}`),
			},
			want: `{"model":"claude-sonnet-4-5","max_tokens":9192,"stream":true,
				"messages":[{"role":"user","content":[{"type":"text","text":"Think."}]}],
				"thinking":{"type":"enabled","budget_tokens":8192}}`,
			wantBeta: []string{"interleaved-thinking-2025-05-14"},
		},
		{
			name: "explicit thinking kept with an explicit limit",
			req: &llm.Request{
				Messages:   []llm.Message{user(llm.TextBlock("Think."))},
				Inference:  llm.InferenceConfig{MaxTokens: intp(3000)},
				Additional: json.RawMessage(`{"thinking":{"type":"enabled","budget_tokens":2048}}`),
			},
			want: `{"model":"claude-sonnet-4-5","max_tokens":3000,"stream":true,
				"messages":[{"role":"user","content":[{"type":"text","text":"Think."}]}],
				"thinking":{"type":"enabled","budget_tokens":2048}}`,
		},
		{
			name: "image and documents",
			req: &llm.Request{
				Messages: []llm.Message{user(
					llm.Block{Kind: llm.KindImage, Image: &llm.Image{Format: "png", Bytes: []byte{1, 2, 3}}},
					llm.Block{Kind: llm.KindDocument, Document: &llm.Document{Format: "pdf", Name: "a", Bytes: []byte("%PDF")}},
					llm.Block{Kind: llm.KindDocument, Document: &llm.Document{Format: "txt", Name: "b", Text: "notes"}},
				)},
				Inference: llm.InferenceConfig{MaxTokensCap: 200},
			},
			want: `{"model":"claude-sonnet-4-5","max_tokens":200,"stream":true,
				"messages":[{"role":"user","content":[
					{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AQID"}},
					{"type":"document","title":"a","source":{"type":"base64","media_type":"application/pdf","data":"JVBERg=="}},
					{"type":"document","title":"b","source":{"type":"text","media_type":"text/plain","data":"notes"}}]}]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, beta, err := p.requestBody(tc.req, true)
			if err != nil {
				t.Fatalf("requestBody: %v", err)
			}
			jsonEqual(t, body, tc.want)
			if !reflect.DeepEqual(beta, tc.wantBeta) {
				t.Errorf("beta = %q, want %q", beta, tc.wantBeta)
			}
		})
	}
}

func TestRequestBodyInvalid(t *testing.T) {
	p, _ := New(Config{Model: "m"})
	tests := []struct {
		name string
		req  *llm.Request
	}{
		{"no messages", &llm.Request{}},
		{"bad role", &llm.Request{Messages: []llm.Message{{Role: "system", Content: []llm.Block{llm.TextBlock("x")}}}}},
		{"empty content", &llm.Request{Messages: []llm.Message{user(llm.TextBlock(""))}}},
		{"bad image", &llm.Request{Messages: []llm.Message{user(llm.Block{Kind: llm.KindImage, Image: &llm.Image{Format: "bmp"}})}}},
		{"docx", &llm.Request{Messages: []llm.Message{user(llm.Block{Kind: llm.KindDocument, Document: &llm.Document{Format: "docx"}})}}},
		{"additional not an object", &llm.Request{Messages: []llm.Message{user(llm.TextBlock("x"))}, Additional: json.RawMessage(`[1]`)}},
		{"bad effort", &llm.Request{Messages: []llm.Message{user(llm.TextBlock("x"))}, Additional: json.RawMessage(`{"reasoning_effort":"max"}`)}},
		{"tool input not JSON", &llm.Request{Messages: []llm.Message{{Role: llm.RoleAssistant, Content: []llm.Block{{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: "a", Name: "b", Input: json.RawMessage(`{`)}}}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := p.requestBody(tc.req, true)
			var e *llm.Error
			if !errors.As(err, &e) || e.Kind != llm.KindValidation {
				t.Errorf("requestBody error = %v, want a ValidationException", err)
			}
		})
	}
}

// FuzzStream feeds arbitrary bytes to the stream decoder: it must end with
// io.EOF or a classified error, never panic, and the events before the end
// must keep the stream invariants.
func FuzzStream(f *testing.F) {
	f.Add("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3}}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	f.Add("data: {\"type\":\"message_start\"}\n\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"b\"}}\n\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n")
	f.Add("data: {\"type\":\"message_start\"}\n\ndata: {\"type\":\"content_block_delta\",\"index\":5,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"x\"}}\n\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"text_delta\",\"text\":\"y\"}}\n\ndata: {\"type\":\"message_stop\"}\n\n")
	f.Add("data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		ctx, cancel := context.WithCancel(context.Background())
		s := newStream(ctx, cancel, io.NopCloser(strings.NewReader(in)))
		var evs []llm.Event
		for i := 0; ; i++ {
			ev, err := s.Next()
			if errors.Is(err, io.EOF) {
				if msg := providertest.CheckEvents(evs, true); msg != "" {
					t.Fatalf("complete stream: %s", msg)
				}
				return
			}
			if err != nil {
				var e *llm.Error
				if !errors.As(err, &e) {
					t.Fatalf("unclassified error %T %v", err, err)
				}
				return
			}
			evs = append(evs, ev)
			if i > len(in)*4+10 {
				t.Fatalf("stream does not end")
			}
		}
	})
}
