package local

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ardanlabs/jinja"

	"github.com/outcrop/outcrop/internal/llm"
)

// cacheMark stands for a cachePoint block while the chat template renders.
// It is a private-use code point that is removed from all request text
// first, so every occurrence in the rendered prompt is a cache point.
const cacheMark = "\U000FFF7E"

// toolCallOpen and toolCallClose delimit a tool call in the model's output
// for templates that have no tool format of their own (and for the many
// models trained on this Hermes-style format).
const (
	toolCallOpen  = "<tool_call>"
	toolCallClose = "</tool_call>"
)

// chatTemplate renders a neutral request with the model's own Jinja chat
// template.
type chatTemplate struct {
	tmpl *jinja.Template
	bos  string
	eos  string
	// toolsNative: the template renders a `tools` variable itself;
	// callsNative: it renders assistant `tool_calls`; toolRole: it knows the
	// "tool" role. Otherwise tools are described in the system prompt and
	// calls and results are written as tagged text.
	toolsNative bool
	callsNative bool
	toolRole    bool
}

func newChatTemplate(src, bos, eos string) (*chatTemplate, error) {
	if strings.TrimSpace(src) == "" {
		// No template in the file: ChatML is the most common format for
		// small instruct models.
		src = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
	}
	t, err := jinja.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("compile chat template: %w", err)
	}
	return &chatTemplate{
		tmpl:        t,
		bos:         bos,
		eos:         eos,
		toolsNative: strings.Contains(src, "tools"),
		callsNative: strings.Contains(src, "tool_calls"),
		toolRole:    strings.Contains(src, "'tool'") || strings.Contains(src, "\"tool\""),
	}, nil
}

// rendered is a prompt ready to tokenize.
type rendered struct {
	text string
	// cuts are byte offsets in text where cachePoint blocks stood, ascending.
	cuts []int
}

// render turns req into the model's prompt text.
func (c *chatTemplate) render(req *llm.Request) (rendered, error) {
	msgs, err := c.messages(req)
	if err != nil {
		return rendered{}, err
	}
	data := map[string]any{
		"messages":              msgs,
		"add_generation_prompt": true,
		"bos_token":             c.bos,
		"eos_token":             c.eos,
	}
	if tools := offeredTools(req); len(tools) > 0 && c.toolsNative {
		list := make([]any, 0, len(tools))
		for _, t := range tools {
			list = append(list, toolJSON(t))
		}
		data["tools"] = list
	}
	out, err := c.tmpl.Render(data)
	if err != nil {
		return rendered{}, llm.Errorf(llm.KindValidation, "the model's chat template rejected the conversation: %v", err)
	}
	var r rendered
	var b strings.Builder
	for {
		i := strings.Index(out, cacheMark)
		if i < 0 {
			b.WriteString(out)
			break
		}
		b.WriteString(out[:i])
		r.cuts = append(r.cuts, b.Len())
		out = out[i+len(cacheMark):]
	}
	r.text = b.String()
	return r, nil
}

// offeredTools returns the tools the model may call, or nil when the
// request offers none or forbids their use.
func offeredTools(req *llm.Request) []llm.Tool {
	if req.Tools == nil || req.Tools.Choice.Mode == llm.ToolChoiceNone {
		return nil
	}
	return req.Tools.Tools
}

// toolJSON is a tool in the OpenAI function format that Hugging Face chat
// templates expect.
func toolJSON(t llm.Tool) map[string]any {
	var params any = map[string]any{"type": "object", "properties": map[string]any{}}
	if len(t.Schema) > 0 {
		var v any
		if json.Unmarshal(t.Schema, &v) == nil {
			params = v
		}
	}
	return map[string]any{
		"type": "function",
		"function": map[string]any{
			"name":        t.Name,
			"description": t.Description,
			"parameters":  params,
		},
	}
}

func clean(s string) string { return strings.ReplaceAll(s, cacheMark, "") }

// messages converts the request into the list of {role, content, …} maps
// that chat templates iterate over.
func (c *chatTemplate) messages(req *llm.Request) ([]any, error) {
	var msgs []any
	sys, err := c.systemText(req)
	if err != nil {
		return nil, err
	}
	if sys != "" {
		msgs = append(msgs, map[string]any{"role": "system", "content": sys})
	}
	for i, m := range req.Messages {
		var text strings.Builder
		var calls []any
		var results []any
		for _, b := range m.Content {
			switch b.Kind {
			case llm.KindText:
				text.WriteString(clean(b.Text))
			case llm.KindCachePoint:
				text.WriteString(cacheMark)
			case llm.KindGuardContent:
				if b.Guard != nil {
					text.WriteString(clean(b.Guard.Text))
				}
			case llm.KindDocument:
				if b.Document == nil || b.Document.Text == "" {
					return nil, llm.Errorf(llm.KindValidation, "messages[%d]: the local engine reads documents given as text only", i)
				}
				fmt.Fprintf(&text, "[document %s]\n%s\n", clean(b.Document.Name), clean(b.Document.Text))
			case llm.KindReasoning:
				// Earlier reasoning is not fed back to the model.
			case llm.KindToolUse:
				if b.ToolUse == nil {
					continue
				}
				calls = append(calls, toolCallMap(b.ToolUse))
			case llm.KindToolResult:
				if b.ToolResult == nil {
					continue
				}
				var parts []string
				for _, rc := range b.ToolResult.Content {
					parts = append(parts, clean(rc.String()))
				}
				results = append(results, map[string]any{"id": b.ToolResult.ToolUseID, "content": strings.Join(parts, "\n")})
			case llm.KindImage:
				return nil, llm.Errorf(llm.KindValidation, "messages[%d]: the local engine serves text-only models; images are not supported", i)
			}
		}
		switch m.Role {
		case llm.RoleAssistant:
			msg := map[string]any{"role": "assistant"}
			content := text.String()
			if len(calls) > 0 {
				if c.callsNative {
					msg["tool_calls"] = calls
				} else {
					for _, call := range calls {
						fn := call.(map[string]any)["function"].(map[string]any)
						js, _ := json.Marshal(map[string]any{"name": fn["name"], "arguments": fn["arguments"]})
						content += toolCallOpen + string(js) + toolCallClose
					}
				}
			}
			msg["content"] = content
			msgs = append(msgs, msg)
		case llm.RoleUser:
			for _, r := range results {
				rm := r.(map[string]any)
				if c.toolRole {
					msgs = append(msgs, map[string]any{"role": "tool", "tool_call_id": rm["id"], "content": rm["content"]})
				} else {
					msgs = append(msgs, map[string]any{"role": "user", "content": "<tool_response>\n" + rm["content"].(string) + "\n</tool_response>"})
				}
			}
			if text.Len() > 0 || len(results) == 0 {
				msgs = append(msgs, map[string]any{"role": "user", "content": text.String()})
			}
		default:
			return nil, llm.Errorf(llm.KindValidation, "messages[%d]: unknown role %q", i, m.Role)
		}
	}
	return msgs, nil
}

func toolCallMap(tu *llm.ToolUse) map[string]any {
	var args any = map[string]any{}
	if len(tu.Input) > 0 {
		var v any
		if json.Unmarshal(tu.Input, &v) == nil {
			args = v
		}
	}
	return map[string]any{
		"id":       tu.ID,
		"type":     "function",
		"function": map[string]any{"name": tu.Name, "arguments": args},
	}
}

// systemText joins the system blocks, turning cachePoint blocks into marks
// and, for templates without a tool format, appending the tool
// instructions.
func (c *chatTemplate) systemText(req *llm.Request) (string, error) {
	var parts []string
	for _, b := range req.System {
		switch b.Kind {
		case llm.KindText:
			parts = append(parts, clean(b.Text))
		case llm.KindGuardContent:
			if b.Guard != nil {
				parts = append(parts, clean(b.Guard.Text))
			}
		case llm.KindCachePoint:
			if len(parts) > 0 {
				parts[len(parts)-1] += cacheMark
			}
		}
	}
	sys := strings.Join(parts, "\n\n")
	if tools := offeredTools(req); len(tools) > 0 && !c.toolsNative {
		sys = strings.TrimLeft(sys+"\n\n"+toolInstructions(tools, req.Tools.Choice), "\n")
	}
	return sys, nil
}

// toolInstructions describes the tools in the Hermes style that many small
// models were trained on.
func toolInstructions(tools []llm.Tool, choice llm.ToolChoice) string {
	var b strings.Builder
	b.WriteString("You can call functions to help answer. The available functions are listed as JSON inside <tools></tools>:\n<tools>\n")
	for _, t := range tools {
		js, _ := json.Marshal(toolJSON(t))
		b.Write(js)
		b.WriteByte('\n')
	}
	b.WriteString("</tools>\nTo call a function, answer with a JSON object naming it and giving its arguments, inside <tool_call></tool_call> tags:\n")
	b.WriteString("<tool_call>{\"name\": \"function name\", \"arguments\": {\"argument\": \"value\"}}</tool_call>")
	switch choice.Mode {
	case llm.ToolChoiceAny:
		b.WriteString("\nYou must call one of the functions.")
	case llm.ToolChoiceTool:
		fmt.Fprintf(&b, "\nYou must call the function %q.", choice.Name)
	}
	return b.String()
}
