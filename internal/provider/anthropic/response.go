package anthropic

import (
	"encoding/base64"

	"github.com/outcrop/outcrop/internal/llm"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// response translates a non-streaming Messages response.
func (m *message) response() *llm.Response {
	var t translator
	t.addUsage(m.Usage)
	r := &llm.Response{Message: llm.Message{Role: llm.RoleAssistant}, StopReason: stopReason(m.StopReason), Usage: t.usage}
	for _, b := range m.Content {
		switch b.Type {
		case "text":
			r.Message.Content = append(r.Message.Content, llm.TextBlock(b.Text))
		case "thinking":
			var text string
			if b.Thinking != nil {
				text = *b.Thinking
			}
			r.Message.Content = append(r.Message.Content, llm.Block{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Text: text, Signature: b.Signature}})
		case "redacted_thinking":
			r.Message.Content = append(r.Message.Content, llm.Block{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Redacted: []byte(b.Data)}})
		case "tool_use":
			in := b.Input
			if len(in) == 0 {
				in = []byte("{}")
			}
			r.Message.Content = append(r.Message.Content, llm.Block{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: b.ID, Name: b.Name, Input: in}})
		}
	}
	return r
}
