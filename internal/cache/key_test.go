package cache

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
)

func ptr[T any](v T) *T { return &v }

// fullRequest returns a request with every key field set, built fresh so
// that mutations never reach another copy.
func fullRequest() *llm.Request {
	return &llm.Request{
		Model:  "acme.chat-v1",
		System: []llm.Block{llm.TextBlock("be brief"), {Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{TTL: "5m"}}},
		Messages: []llm.Message{
			{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("weather?"), {Kind: llm.KindImage, Image: &llm.Image{Format: "png", Bytes: []byte{1, 2, 3}}}}},
			{Role: llm.RoleAssistant, Content: []llm.Block{{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: "t1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}}}},
			{Role: llm.RoleUser, Content: []llm.Block{
				{Kind: llm.KindToolResult, ToolResult: &llm.ToolResult{ToolUseID: "t1", Status: "success", Content: []llm.ToolResultContent{{JSON: json.RawMessage(`{"t":21}`)}, {Text: "sunny"}}}},
				{Kind: llm.KindDocument, Document: &llm.Document{Format: "txt", Name: "notes", Text: "n"}},
				{Kind: llm.KindGuardContent, Guard: &llm.Guard{Text: "g", Qualifiers: []string{"query"}}},
			}},
			{Role: llm.RoleAssistant, Content: []llm.Block{{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Text: "think", Signature: "sig"}}}},
		},
		Inference: llm.InferenceConfig{
			MaxTokens: ptr(100), MaxTokensCap: 4096, Temperature: ptr(0.0), TopP: ptr(0.9), TopK: ptr(40),
			Seed: ptr(int64(7)), StopSequences: []string{"END"},
		},
		Tools: &llm.ToolConfig{
			Tools:  []llm.Tool{{Name: "get_weather", Description: "weather", Schema: json.RawMessage(`{"type":"object"}`)}},
			Choice: llm.ToolChoice{Mode: llm.ToolChoiceAuto},
		},
		Additional:              json.RawMessage(`{"top_k":3}`),
		AdditionalResponsePaths: []string{"/x"},
		Performance:             llm.LatencyStandard,
		Metadata:                map[string]string{"team": "a"},
		Guardrail:               &llm.GuardrailConfig{ID: "gr1", Version: "1", Trace: "enabled", StreamMode: "sync"},
		PromptVariables:         map[string]string{"name": "Ada"},
	}
}

var baseIn = KeyInput{Scope: "p:alice", Model: "acme.chat-v1", Version: "v1"}

// keyMutations each change one field that changes the answer.
var keyMutations = []struct {
	name string
	in   func(*KeyInput)
	req  func(*llm.Request)
}{
	{name: "scope", in: func(k *KeyInput) { k.Scope = "p:bob" }},
	{name: "scope kind", in: func(k *KeyInput) { k.Scope = "a:alice" }},
	{name: "model", in: func(k *KeyInput) { k.Model = "acme.chat-v2" }},
	{name: "deployment version", in: func(k *KeyInput) { k.Version = "v2" }},
	{name: "max tokens", req: func(r *llm.Request) { r.Inference.MaxTokens = ptr(101) }},
	{name: "max tokens unset", req: func(r *llm.Request) { r.Inference.MaxTokens = nil }},
	{name: "max tokens cap", req: func(r *llm.Request) { r.Inference.MaxTokensCap = 2048 }},
	{name: "temperature", req: func(r *llm.Request) { r.Inference.Temperature = ptr(0.5) }},
	{name: "temperature unset", req: func(r *llm.Request) { r.Inference.Temperature = nil }},
	{name: "top p", req: func(r *llm.Request) { r.Inference.TopP = ptr(0.8) }},
	{name: "top k", req: func(r *llm.Request) { r.Inference.TopK = ptr(41) }},
	{name: "seed", req: func(r *llm.Request) { r.Inference.Seed = ptr(int64(8)) }},
	{name: "seed unset", req: func(r *llm.Request) { r.Inference.Seed = nil }},
	{name: "stop sequences", req: func(r *llm.Request) { r.Inference.StopSequences = []string{"END", "STOP"} }},
	{name: "stop sequence split", req: func(r *llm.Request) { r.Inference.StopSequences = []string{"EN", "D"} }},
	{name: "performance", req: func(r *llm.Request) { r.Performance = llm.LatencyOptimized }},
	{name: "system text", req: func(r *llm.Request) { r.System[0] = llm.TextBlock("be verbose") }},
	{name: "system dropped", req: func(r *llm.Request) { r.System = r.System[:1] }},
	{name: "cache point ttl", req: func(r *llm.Request) { r.System[1].CachePoint = &llm.CachePoint{TTL: "1h"} }},
	{name: "user text", req: func(r *llm.Request) { r.Messages[0].Content[0] = llm.TextBlock("weather!") }},
	{name: "text moved across blocks", req: func(r *llm.Request) {
		r.Messages[0].Content[0] = llm.TextBlock("weather")
		r.Messages[0].Content = append(r.Messages[0].Content, llm.TextBlock("?"))
	}},
	{name: "role", req: func(r *llm.Request) { r.Messages[1].Role = llm.RoleUser }},
	{name: "message dropped", req: func(r *llm.Request) { r.Messages = r.Messages[:3] }},
	{name: "image bytes", req: func(r *llm.Request) {
		r.Messages[0].Content[1] = llm.Block{Kind: llm.KindImage, Image: &llm.Image{Format: "png", Bytes: []byte{1, 2, 4}}}
	}},
	{name: "image format", req: func(r *llm.Request) {
		r.Messages[0].Content[1] = llm.Block{Kind: llm.KindImage, Image: &llm.Image{Format: "jpeg", Bytes: []byte{1, 2, 3}}}
	}},
	{name: "tool use input", req: func(r *llm.Request) {
		r.Messages[1].Content[0] = llm.Block{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: "t1", Name: "get_weather", Input: json.RawMessage(`{"city":"Lyon"}`)}}
	}},
	{name: "tool result", req: func(r *llm.Request) {
		r.Messages[2].Content[0] = llm.Block{Kind: llm.KindToolResult, ToolResult: &llm.ToolResult{ToolUseID: "t1", Status: "success", Content: []llm.ToolResultContent{{JSON: json.RawMessage(`{"t":22}`)}, {Text: "sunny"}}}}
	}},
	{name: "tool result status", req: func(r *llm.Request) {
		r.Messages[2].Content[0] = llm.Block{Kind: llm.KindToolResult, ToolResult: &llm.ToolResult{ToolUseID: "t1", Status: "error", Content: []llm.ToolResultContent{{JSON: json.RawMessage(`{"t":21}`)}, {Text: "sunny"}}}}
	}},
	{name: "document text", req: func(r *llm.Request) {
		r.Messages[2].Content[1] = llm.Block{Kind: llm.KindDocument, Document: &llm.Document{Format: "txt", Name: "notes", Text: "m"}}
	}},
	{name: "guard content", req: func(r *llm.Request) {
		r.Messages[2].Content[2] = llm.Block{Kind: llm.KindGuardContent, Guard: &llm.Guard{Text: "g", Qualifiers: []string{"grounding_source"}}}
	}},
	{name: "reasoning", req: func(r *llm.Request) {
		r.Messages[3].Content[0] = llm.Block{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Text: "think", Signature: "sig2"}}
	}},
	{name: "tools removed", req: func(r *llm.Request) { r.Tools = nil }},
	{name: "tool schema", req: func(r *llm.Request) { r.Tools.Tools[0].Schema = json.RawMessage(`{"type":"string"}`) }},
	{name: "tool description", req: func(r *llm.Request) { r.Tools.Tools[0].Description = "the weather" }},
	{name: "tool strict", req: func(r *llm.Request) { r.Tools.Tools[0].Strict = true }},
	{name: "tool choice", req: func(r *llm.Request) { r.Tools.Choice = llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "get_weather"} }},
	{name: "guardrail removed", req: func(r *llm.Request) { r.Guardrail = nil }},
	{name: "guardrail id", req: func(r *llm.Request) { r.Guardrail.ID = "gr2" }},
	{name: "guardrail version", req: func(r *llm.Request) { r.Guardrail.Version = "2" }},
	{name: "guardrail stream mode", req: func(r *llm.Request) { r.Guardrail.StreamMode = "async" }},
	{name: "additional fields", req: func(r *llm.Request) { r.Additional = json.RawMessage(`{"top_k":4}`) }},
	{name: "additional paths", req: func(r *llm.Request) { r.AdditionalResponsePaths = nil }},
	{name: "prompt variable value", req: func(r *llm.Request) { r.PromptVariables["name"] = "Bob" }},
	{name: "prompt variable added", req: func(r *llm.Request) { r.PromptVariables["city"] = "Paris" }},
}

func TestKeyChangesWithEveryField(t *testing.T) {
	base := Key(baseIn, fullRequest())
	seen := map[string]string{base: "base"}
	for _, m := range keyMutations {
		t.Run(m.name, func(t *testing.T) {
			in, req := baseIn, fullRequest()
			if m.in != nil {
				m.in(&in)
			}
			if m.req != nil {
				m.req(req)
			}
			k := Key(in, req)
			if prev, dup := seen[k]; dup {
				t.Errorf("mutation %q gives the same key as %q", m.name, prev)
			}
			seen[k] = m.name
		})
	}
}

func TestKeyIgnoresNonAnswerFields(t *testing.T) {
	base := Key(baseIn, fullRequest())
	for _, tc := range []struct {
		name string
		f    func(*llm.Request)
	}{
		{"metadata", func(r *llm.Request) { r.Metadata = map[string]string{MetadataKey: "refresh", "x": "y"} }},
		{"model alias", func(r *llm.Request) { r.Model = "arn:aws:bedrock:us-east-1::foundation-model/acme.chat-v1" }},
	} {
		req := fullRequest()
		tc.f(req)
		if got := Key(baseIn, req); got != base {
			t.Errorf("%s: key changed", tc.name)
		}
	}
}

// TestKeyPropertyRandom applies random sequences of key mutations to the
// full request and checks that the key changes whenever the multiset of
// applied mutations differs (every mutation here is idempotent and
// independent of the others, so two different sets mean two different
// requests).
func TestKeyPropertyRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := map[string]string{}
	// Mutations whose targets overlap (e.g. "seed" and "seed unset") are
	// kept out of the random combinations.
	var indep []int
	skip := map[string]bool{"max tokens unset": true, "temperature unset": true, "seed unset": true,
		"stop sequence split": true, "system dropped": true, "text moved across blocks": true, "message dropped": true, "image format": true,
		"tool result status": true, "tools removed": true, "guardrail removed": true, "scope kind": true, "tool choice": true,
		"additional paths": true}
	for i, m := range keyMutations {
		if !skip[m.name] {
			indep = append(indep, i)
		}
	}
	for range 2000 {
		var set uint64
		in, req := baseIn, fullRequest()
		for _, i := range indep {
			if rng.IntN(4) == 0 {
				set |= 1 << uint(i)
				if keyMutations[i].in != nil {
					keyMutations[i].in(&in)
				}
				if keyMutations[i].req != nil {
					keyMutations[i].req(req)
				}
			}
		}
		k := Key(in, req)
		id := fmt.Sprint(set)
		if prev, ok := keys[k]; ok && prev != id {
			t.Fatalf("mutation sets %s and %s give the same key", prev, id)
		}
		keys[k] = id
	}
	if len(keys) < 1000 {
		t.Fatalf("only %d distinct mutation sets drawn", len(keys))
	}
}
