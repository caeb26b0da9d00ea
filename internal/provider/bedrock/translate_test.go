package bedrock_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/bedrock"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

// TestRequestPassthrough checks the Converse body Bedrock receives: every
// neutral field the request carries, in Bedrock's own shape, and a Bedrock
// API key sent as a bearer token instead of a SigV4 signature.
func TestRequestPassthrough(t *testing.T) {
	up := providertest.NewUpstreamTLS(t, providertest.LoadFixture(t, "testdata/stream_text.txt"))
	p, err := bedrock.New(context.Background(), bedrock.Config{Region: "eu-west-1", Model: "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
		Endpoint: strings.TrimSuffix(up.URL, "/v1"), APIKey: "bedrock-api-key-abc", HTTPClient: up.Client()})
	if err != nil {
		t.Fatal(err)
	}
	max, temp, topK := 300, 0.5, 40
	req := &llm.Request{
		System: []llm.Block{llm.TextBlock("Be brief."), {Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}}},
		Messages: []llm.Message{
			{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("Weather?")}},
			{Role: llm.RoleAssistant, Content: []llm.Block{
				{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Text: "call it", Signature: "sig"}},
				{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: "tooluse_1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}}}},
			{Role: llm.RoleUser, Content: []llm.Block{{Kind: llm.KindToolResult, ToolResult: &llm.ToolResult{ToolUseID: "tooluse_1", Status: "success",
				Content: []llm.ToolResultContent{{JSON: json.RawMessage(`{"tempC":21}`)}}}}, {Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{TTL: "1h"}}}},
		},
		Inference:   llm.InferenceConfig{MaxTokens: &max, Temperature: &temp, TopK: &topK, StopSequences: []string{"###"}},
		Tools:       &llm.ToolConfig{Tools: []llm.Tool{providertest.WeatherTool}, Choice: llm.ToolChoice{Mode: llm.ToolChoiceAny}},
		Additional:  json.RawMessage(`{"thinking":{"type":"enabled","budget_tokens":1024}}`),
		Performance: llm.LatencyOptimized,
		Metadata:    map[string]string{"team": "search"},
	}
	s, err := p.ConverseStream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if r := providertest.ReadAll(s); r.Err != nil {
		t.Fatal(r.Err)
	}
	calls := up.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	c := calls[0]
	if got := c.Header.Get("Authorization"); got != "Bearer bedrock-api-key-abc" {
		t.Errorf("Authorization = %q, want the API key as a bearer token", got)
	}
	if want := "/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile%2Feu.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream"; c.Path != want {
		t.Errorf("path = %s, want %s", c.Path, want)
	}
	var got, want any
	json.Unmarshal(c.Body, &got)
	json.Unmarshal([]byte(`{
		"system":[{"text":"Be brief."},{"cachePoint":{"type":"default"}}],
		"messages":[
			{"role":"user","content":[{"text":"Weather?"}]},
			{"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"call it","signature":"sig"}}},
				{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"city":"Paris"}}}]},
			{"role":"user","content":[{"toolResult":{"toolUseId":"tooluse_1","status":"success","content":[{"json":{"tempC":21}}]}},
				{"cachePoint":{"type":"default","ttl":"1h"}}]}],
		"inferenceConfig":{"maxTokens":300,"temperature":0.5,"stopSequences":["###"]},
		"toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","description":"Get the current weather in a city.",
			"inputSchema":{"json":{"type":"object","properties":{"city":{"type":"string","description":"City name"}},"required":["city"]}}}}],
			"toolChoice":{"any":{}}},
		"additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":1024},"top_k":40},
		"performanceConfig":{"latency":"optimized"},
		"requestMetadata":{"team":"search"}}`), &want)
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		t.Errorf("body =\n%s", g)
	}
}

func TestInvalidRequests(t *testing.T) {
	p := newProvider(t, "http://127.0.0.1:1/v1", "")
	bad := []*llm.Request{
		{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{{Kind: llm.KindImage, Image: &llm.Image{Format: "bmp"}}}}}},
		{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("x")}}}, Additional: json.RawMessage(`"x"`)},
		{Messages: []llm.Message{{Role: llm.RoleAssistant, Content: []llm.Block{{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: "a", Name: "b", Input: json.RawMessage(`{`)}}}}}},
		{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("")}}}},
	}
	for i, req := range bad {
		_, err := p.ConverseStream(context.Background(), req)
		var e *llm.Error
		if !errors.As(err, &e) || e.Kind != llm.KindValidation {
			t.Errorf("request %d: error = %v, want ValidationException", i, err)
		}
	}
}

// TestGuardrailsLeftToBedrock: with Guardrails set, the request's
// guardrail configuration and guard content reach Bedrock; without it,
// guard content is plain text and no guardrail is named.
func TestGuardrailsLeftToBedrock(t *testing.T) {
	for _, upstream := range []bool{true, false} {
		up := providertest.NewUpstream(t, providertest.LoadFixture(t, "testdata/stream_guardrail.txt"))
		p, err := bedrock.New(context.Background(), bedrock.Config{Region: "us-east-1", Model: "m", Endpoint: strings.TrimSuffix(up.URL, "/v1"),
			AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "s", Guardrails: upstream})
		if err != nil {
			t.Fatal(err)
		}
		req := &llm.Request{
			Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("Context:"),
				{Kind: llm.KindGuardContent, Guard: &llm.Guard{Text: "check me", Qualifiers: []string{"query"}}}}}},
			Guardrail: &llm.GuardrailConfig{ID: "gr-abc123", Version: "2", Trace: "enabled", StreamMode: "async"},
		}
		s, err := p.ConverseStream(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		r := providertest.ReadAll(s)
		if r.Err != nil || r.Response.StopReason != llm.StopGuardrailIntervened {
			t.Fatalf("stream: %v, stop %s", r.Err, r.Response.StopReason)
		}
		body := string(up.Calls()[0].Body)
		wantGuard := `"guardrailConfig":{"guardrailIdentifier":"gr-abc123","guardrailVersion":"2","streamProcessingMode":"async","trace":"enabled"}`
		wantContent := `{"guardContent":{"text":{"qualifiers":["query"],"text":"check me"}}}`
		if upstream != strings.Contains(body, wantGuard) || upstream != strings.Contains(body, wantContent) {
			t.Errorf("guardrails to upstream %t: body %s", upstream, body)
		}
		if !upstream && !strings.Contains(body, `{"text":"check me"}`) {
			t.Errorf("guard content not sent as text: %s", body)
		}
	}
}
