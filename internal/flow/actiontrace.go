package flow

import (
	"encoding/json"

	"github.com/outcrop/outcrop/internal/llm"
)

// The nodeActionTrace of a prompt node carries the Converse request and
// response the node made, in Converse's wire shape (the text, tool and
// guardrail parts a flow node can produce; images and documents are not
// produced by flow nodes and are left out).

type wireContent struct {
	Text       *string         `json:"text,omitempty"`
	ToolUse    *wireToolUse    `json:"toolUse,omitempty"`
	ToolResult *wireToolResult `json:"toolResult,omitempty"`
}

type wireToolUse struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

type wireToolResult struct {
	ToolUseID string        `json:"toolUseId"`
	Content   []wireContent `json:"content"`
}

type wireMessage struct {
	Role    string        `json:"role"`
	Content []wireContent `json:"content"`
}

func wireBlocks(bs []llm.Block) []wireContent {
	out := make([]wireContent, 0, len(bs))
	for _, b := range bs {
		switch b.Kind {
		case llm.KindText:
			t := b.Text
			out = append(out, wireContent{Text: &t})
		case llm.KindToolUse:
			if b.ToolUse != nil {
				in := b.ToolUse.Input
				if len(in) == 0 {
					in = json.RawMessage("{}")
				}
				out = append(out, wireContent{ToolUse: &wireToolUse{ToolUseID: b.ToolUse.ID, Name: b.ToolUse.Name, Input: in}})
			}
		case llm.KindToolResult:
			if b.ToolResult != nil {
				r := &wireToolResult{ToolUseID: b.ToolResult.ToolUseID}
				for _, c := range b.ToolResult.Content {
					if c.Text != "" {
						t := c.Text
						r.Content = append(r.Content, wireContent{Text: &t})
					}
				}
				out = append(out, wireContent{ToolResult: r})
			}
		}
	}
	return out
}

// converseRequestJSON renders req as a Converse request body.
func converseRequestJSON(req *llm.Request) json.RawMessage {
	body := map[string]any{"modelId": req.Model}
	msgs := make([]wireMessage, 0, len(req.Messages))
	for _, m := range req.Messages {
		msgs = append(msgs, wireMessage{Role: string(m.Role), Content: wireBlocks(m.Content)})
	}
	body["messages"] = msgs
	if len(req.System) > 0 {
		body["system"] = wireBlocks(req.System)
	}
	ic := map[string]any{}
	if req.Inference.MaxTokens != nil {
		ic["maxTokens"] = *req.Inference.MaxTokens
	}
	if req.Inference.Temperature != nil {
		ic["temperature"] = *req.Inference.Temperature
	}
	if req.Inference.TopP != nil {
		ic["topP"] = *req.Inference.TopP
	}
	if len(req.Inference.StopSequences) > 0 {
		ic["stopSequences"] = req.Inference.StopSequences
	}
	if len(ic) > 0 {
		body["inferenceConfig"] = ic
	}
	if g := req.Guardrail; g != nil {
		gc := map[string]string{"guardrailIdentifier": g.ID, "guardrailVersion": g.Version}
		if g.Trace != "" {
			gc["trace"] = g.Trace
		}
		body["guardrailConfig"] = gc
	}
	b, _ := json.Marshal(body)
	return b
}

// converseResponseJSON renders resp as a Converse response body.
func converseResponseJSON(resp *llm.Response) json.RawMessage {
	body := map[string]any{
		"output":     map[string]any{"message": wireMessage{Role: "assistant", Content: wireBlocks(resp.Message.Content)}},
		"stopReason": string(resp.StopReason),
		"usage": map[string]int{"inputTokens": resp.Usage.InputTokens, "outputTokens": resp.Usage.OutputTokens,
			"totalTokens": resp.Usage.Total()},
		"metrics": map[string]int64{"latencyMs": resp.Metrics.LatencyMs},
	}
	if len(resp.Trace) > 0 {
		body["trace"] = resp.Trace
	}
	b, _ := json.Marshal(body)
	return b
}
