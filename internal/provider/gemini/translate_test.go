package gemini

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

func TestRequestBody(t *testing.T) {
	p, err := New(Config{Model: "gemini-2.5-flash"})
	if err != nil {
		t.Fatal(err)
	}
	max, temp, topK, seed := 500, 0.2, 20, int64(7)
	req := &llm.Request{
		System: []llm.Block{llm.TextBlock("Be brief."), {Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}}},
		Messages: []llm.Message{
			{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("Weather?"), {Kind: llm.KindImage, Image: &llm.Image{Format: "jpg", Bytes: []byte{1, 2}}}}},
			{Role: llm.RoleAssistant, Content: []llm.Block{
				{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Text: "summary", Signature: "sig-1"}},
				{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: "gemini_call_r1_0", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}}}},
			{Role: llm.RoleUser, Content: []llm.Block{{Kind: llm.KindToolResult, ToolResult: &llm.ToolResult{ToolUseID: "gemini_call_r1_0",
				Content: []llm.ToolResultContent{{Text: "21C, sunny"}}}}}},
		},
		Inference:  llm.InferenceConfig{MaxTokens: &max, Temperature: &temp, TopK: &topK, Seed: &seed, StopSequences: []string{"###"}},
		Tools:      &llm.ToolConfig{Tools: []llm.Tool{providertest.WeatherTool}, Choice: llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "get_weather"}},
		Additional: json.RawMessage(`{"reasoning_effort":"low","responseMimeType":"text/plain","safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_ONLY_HIGH"}]}`),
	}
	body, err := p.requestBody(req)
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	json.Unmarshal(body, &got)
	json.Unmarshal([]byte(`{
		"systemInstruction":{"parts":[{"text":"Be brief."}]},
		"contents":[
			{"role":"user","parts":[{"text":"Weather?"},{"inlineData":{"mimeType":"image/jpeg","data":"AQI="}}]},
			{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"sig-1"}]},
			{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"result":"21C, sunny"}}}]}],
		"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Get the current weather in a city.",
			"parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name"}},"required":["city"]}}]}],
		"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}},
		"generationConfig":{"maxOutputTokens":500,"temperature":0.2,"topK":20,"seed":7,"stopSequences":["###"],
			"responseMimeType":"text/plain","thinkingConfig":{"thinkingBudget":1024,"includeThoughts":true}},
		"safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_ONLY_HIGH"}]}`), &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body =\n%s", body)
	}
}

func TestRequestBodyInvalid(t *testing.T) {
	p, _ := New(Config{Model: "m"})
	for i, req := range []*llm.Request{
		{},
		{Messages: []llm.Message{{Role: "tool", Content: []llm.Block{llm.TextBlock("x")}}}},
		{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{{Kind: llm.KindDocument, Document: &llm.Document{Format: "docx"}}}}}},
		{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("x")}}}, Additional: json.RawMessage(`{"reasoning_effort":"max"}`)},
		{Messages: []llm.Message{{Role: llm.RoleAssistant, Content: []llm.Block{{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{Name: "f", Input: json.RawMessage(`[1]`)}}}}}},
	} {
		_, err := p.requestBody(req)
		var e *llm.Error
		if !errors.As(err, &e) || e.Kind != llm.KindValidation {
			t.Errorf("request %d: error = %v, want ValidationException", i, err)
		}
	}
}

// FuzzStream: arbitrary SSE bodies end in io.EOF or a classified error,
// with the stream invariants kept.
func FuzzStream(f *testing.F) {
	f.Add("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hi\"}]},\"finishReason\":\"STOP\"}]}\r\n\r\n")
	f.Add("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"t\",\"thought\":true},{\"functionCall\":{\"name\":\"f\",\"args\":[1]}},{\"text\":\"x\",\"thoughtSignature\":\"s\"}]}}]}\n\ndata: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}\n\n")
	f.Add("data: {\"error\":{\"code\":503}}\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		ctx, cancel := context.WithCancel(context.Background())
		s := newStream(ctx, cancel, io.NopCloser(strings.NewReader(in)))
		var evs []llm.Event
		for i := 0; i < len(in)*4+16; i++ {
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
				if msg := providertest.CheckEvents(evs, false); msg != "" {
					t.Fatalf("before error: %s", msg)
				}
				return
			}
			evs = append(evs, ev)
		}
		t.Fatalf("stream does not end")
	})
}
