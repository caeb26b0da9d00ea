package local

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/gguf/ggufgen"
	"github.com/outcrop/outcrop/internal/llm"
)

// smolTemplate is SmolLM2-Instruct's chat template, which adds a default
// system prompt when the conversation has none.
const smolTemplate = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

// nativeToolTemplate renders tools, tool calls and tool results itself, in
// the way Qwen-style templates do.
const nativeToolTemplate = "{% if tools %}<tools>{% for t in tools %}{{ t.function.name }};{% endfor %}</tools>\n{% endif %}" +
	"{% for m in messages %}[{{ m.role }}]{{ m.content }}{% if m.tool_calls %}{% for c in m.tool_calls %}(call {{ c.function.name }} {{ c.function.arguments | tojson }}){% endfor %}{% endif %}{% if m.role == 'tool' %}(for {{ m.tool_call_id }}){% endif %}\n{% endfor %}[assistant]"

func TestRender(t *testing.T) {
	weather := &llm.ToolConfig{Tools: []llm.Tool{{Name: "weather", Description: "Weather by city", Schema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`)}}}
	toolTurns := []llm.Message{
		{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("Weather in Oslo?")}},
		{Role: llm.RoleAssistant, Content: []llm.Block{{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: "t1", Name: "weather", Input: json.RawMessage(`{"city":"Oslo"}`)}}}},
		{Role: llm.RoleUser, Content: []llm.Block{{Kind: llm.KindToolResult, ToolResult: &llm.ToolResult{ToolUseID: "t1", Content: []llm.ToolResultContent{{Text: "rain"}}}}}},
	}
	tests := []struct {
		name     string
		template string
		req      llm.Request
		want     string
		wantCuts []int
	}{
		{
			name:     "chatml system and turns",
			template: ggufgen.ChatMLTemplate,
			req: llm.Request{
				System: []llm.Block{llm.TextBlock("Be brief.")},
				Messages: []llm.Message{
					{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("Hi")}},
					{Role: llm.RoleAssistant, Content: []llm.Block{llm.TextBlock("Hello!")}},
					{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("Bye")}},
				},
			},
			want: "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n",
		},
		{
			name:     "smollm default system prompt",
			template: smolTemplate,
			req:      llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("Hi")}}}},
			want:     "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
		},
		{
			name:     "cache points",
			template: ggufgen.ChatMLTemplate,
			req: llm.Request{
				System: []llm.Block{llm.TextBlock("Rules."), {Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}}},
				Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{
					llm.TextBlock("Doc"), {Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}}, llm.TextBlock(" question")}}},
			},
			want:     "<|im_start|>system\nRules.<|im_end|>\n<|im_start|>user\nDoc question<|im_end|>\n<|im_start|>assistant\n",
			wantCuts: []int{len("<|im_start|>system\nRules."), len("<|im_start|>system\nRules.<|im_end|>\n<|im_start|>user\nDoc")},
		},
		{
			name:     "marker in user text is not a cache point",
			template: ggufgen.ChatMLTemplate,
			req:      llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("a" + cacheMark + "b")}}}},
			want:     "<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n",
		},
		{
			name:     "tools without template support",
			template: ggufgen.ChatMLTemplate,
			req:      llm.Request{Tools: weather, Messages: toolTurns},
			want: "<|im_start|>system\n" + toolInstructions(weather.Tools, llm.ToolChoice{}) + "<|im_end|>\n" +
				"<|im_start|>user\nWeather in Oslo?<|im_end|>\n" +
				"<|im_start|>assistant\n<tool_call>{\"arguments\":{\"city\":\"Oslo\"},\"name\":\"weather\"}</tool_call><|im_end|>\n" +
				"<|im_start|>user\n<tool_response>\nrain\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
		},
		{
			name:     "tools with template support",
			template: nativeToolTemplate,
			req:      llm.Request{Tools: weather, Messages: toolTurns},
			// Blocks swallow the newline after them (trim_blocks), as in
			// Hugging Face's renderer.
			want: "<tools>weather;</tools>\n[user]Weather in Oslo?[assistant](call weather {\"city\": \"Oslo\"})[tool]rain(for t1)[assistant]",
		},
		{
			name:     "tool choice none hides tools",
			template: ggufgen.ChatMLTemplate,
			req: llm.Request{Tools: &llm.ToolConfig{Tools: weather.Tools, Choice: llm.ToolChoice{Mode: llm.ToolChoiceNone}},
				Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("Hi")}}}},
			want: "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct, err := newChatTemplate(tc.template, "<|im_start|>", "<|im_end|>")
			if err != nil {
				t.Fatal(err)
			}
			got, err := ct.render(&tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got.text != tc.want {
				t.Errorf("render =\n%q\nwant\n%q", got.text, tc.want)
			}
			if len(got.cuts) != len(tc.wantCuts) {
				t.Fatalf("cuts = %v, want %v", got.cuts, tc.wantCuts)
			}
			for i := range got.cuts {
				if got.cuts[i] != tc.wantCuts[i] {
					t.Errorf("cuts = %v, want %v", got.cuts, tc.wantCuts)
				}
			}
		})
	}
}

func TestRenderRejectsImages(t *testing.T) {
	ct, _ := newChatTemplate(ggufgen.ChatMLTemplate, "", "")
	_, err := ct.render(&llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{{Kind: llm.KindImage, Image: &llm.Image{Format: "png"}}}}}})
	if e := llm.AsError(err); err == nil || e.Kind != llm.KindValidation {
		t.Fatalf("render(image) = %v, want ValidationException", err)
	}
	if !strings.Contains(err.Error(), "image") {
		t.Errorf("error %q does not mention images", err)
	}
}
