package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/outcrop/outcrop/internal/llm"
)

// messagesRequest is the body of POST /v1/messages.
type messagesRequest struct {
	Model         string      `json:"model"`
	MaxTokens     int         `json:"max_tokens"`
	System        []block     `json:"system,omitempty"`
	Messages      []message   `json:"messages"`
	Tools         []tool      `json:"tools,omitempty"`
	ToolChoice    *toolChoice `json:"tool_choice,omitempty"`
	Temperature   *float64    `json:"temperature,omitempty"`
	TopP          *float64    `json:"top_p,omitempty"`
	TopK          *int        `json:"top_k,omitempty"`
	StopSequences []string    `json:"stop_sequences,omitempty"`
	Stream        bool        `json:"stream,omitempty"`
}

// message is a turn in a request, and also the non-streaming response
// (whose extra members are filled only there).
type message struct {
	ID           string     `json:"id,omitempty"`
	Type         string     `json:"type,omitempty"`
	Role         string     `json:"role"`
	Content      []block    `json:"content"`
	Model        string     `json:"model,omitempty"`
	StopReason   string     `json:"stop_reason,omitempty"`
	StopSequence *string    `json:"stop_sequence,omitempty"`
	Usage        *usage     `json:"usage,omitempty"`
	Error        *errorBody `json:"error,omitempty"`
}

// block is a content block in any position: text, image, document,
// tool_use, tool_result, thinking, redacted_thinking.
type block struct {
	Type         string          `json:"type"`
	Text         string          `json:"text,omitempty"`
	Source       *source         `json:"source,omitempty"`
	Title        string          `json:"title,omitempty"`
	ID           string          `json:"id,omitempty"`
	Name         string          `json:"name,omitempty"`
	Input        json.RawMessage `json:"input,omitempty"`
	ToolUseID    string          `json:"tool_use_id,omitempty"`
	Content      []block         `json:"content,omitempty"`
	IsError      bool            `json:"is_error,omitempty"`
	Thinking     *string         `json:"thinking,omitempty"`
	Signature    string          `json:"signature,omitempty"`
	Data         string          `json:"data,omitempty"`
	CacheControl *cacheControl   `json:"cache_control,omitempty"`
}

type source struct {
	Type      string `json:"type"` // base64 or text
	MediaType string `json:"media_type"`
	Data      string `json:"data"`
}

type cacheControl struct {
	Type string `json:"type"`
	TTL  string `json:"ttl,omitempty"`
}

type tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type toolChoice struct {
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
}

// effortBudgets maps OpenAI's reasoning_effort to extended thinking budgets.
var effortBudgets = map[string]int{"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}

// requestBody translates req into a Messages body. It also returns the
// anthropic-beta features the request asked for.
func (p *Provider) requestBody(req *llm.Request, stream bool) ([]byte, []string, error) {
	if len(req.Messages) == 0 {
		return nil, nil, llm.Errorf(llm.KindValidation, "messages: at least one message is required")
	}
	out := messagesRequest{Model: p.cfg.Model, Stream: stream}
	var err error
	if out.System, err = blocks(req.System, "system"); err != nil {
		return nil, nil, err
	}
	for i, m := range req.Messages {
		if m.Role != llm.RoleUser && m.Role != llm.RoleAssistant {
			return nil, nil, llm.Errorf(llm.KindValidation, "messages.%d.role: %q is not user or assistant", i, m.Role)
		}
		bs, err := blocks(m.Content, fmt.Sprintf("messages.%d", i))
		if err != nil {
			return nil, nil, err
		}
		if len(bs) == 0 {
			return nil, nil, llm.Errorf(llm.KindValidation, "messages.%d.content: no content Anthropic accepts", i)
		}
		out.Messages = append(out.Messages, message{Role: string(m.Role), Content: bs})
	}
	inf := req.Inference
	out.Temperature, out.TopP, out.TopK = inf.Temperature, inf.TopP, inf.TopK
	out.StopSequences = inf.StopSequences
	explicit := inf.MaxTokens != nil
	switch {
	case explicit:
		out.MaxTokens = *inf.MaxTokens
	case inf.MaxTokensCap > 0 && inf.MaxTokensCap < p.cfg.DefaultMaxTokens:
		out.MaxTokens = inf.MaxTokensCap
	default:
		out.MaxTokens = p.cfg.DefaultMaxTokens
	}
	if req.Tools != nil && len(req.Tools.Tools) > 0 {
		for _, t := range req.Tools.Tools {
			schema := t.Schema
			if len(bytes.TrimSpace(schema)) == 0 {
				schema = json.RawMessage(`{"type":"object"}`)
			}
			out.Tools = append(out.Tools, tool{Name: t.Name, Description: t.Description, InputSchema: schema})
		}
		switch req.Tools.Choice.Mode {
		case llm.ToolChoiceAny:
			out.ToolChoice = &toolChoice{Type: "any"}
		case llm.ToolChoiceTool:
			out.ToolChoice = &toolChoice{Type: "tool", Name: req.Tools.Choice.Name}
		case llm.ToolChoiceNone:
			out.ToolChoice = &toolChoice{Type: "none"}
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, nil, &llm.Error{Kind: llm.KindValidation, Message: "the request cannot be encoded", Err: err}
	}
	return mergeAdditional(body, req.Additional, explicit, out.MaxTokens)
}

// mergeAdditional merges additionalModelRequestFields into the body. Two
// members are translated rather than copied: reasoning_effort (OpenAI's)
// becomes an extended thinking budget, and anthropic_beta becomes the
// anthropic-beta header. When thinking is on and the output limit was not
// set explicitly, max_tokens grows by the budget, which it must exceed.
func mergeAdditional(body, add json.RawMessage, explicitMax bool, maxTokens int) ([]byte, []string, error) {
	add = bytes.TrimSpace(add)
	if len(add) == 0 || bytes.Equal(add, []byte("null")) {
		return body, nil, nil
	}
	var extra map[string]json.RawMessage
	if err := json.Unmarshal(add, &extra); err != nil {
		return nil, nil, llm.Errorf(llm.KindValidation, "additionalModelRequestFields: must be a JSON object")
	}
	var beta []string
	if raw, ok := extra["anthropic_beta"]; ok {
		if err := json.Unmarshal(raw, &beta); err != nil {
			return nil, nil, llm.Errorf(llm.KindValidation, "additionalModelRequestFields.anthropic_beta: must be a list of strings")
		}
		delete(extra, "anthropic_beta")
	}
	if raw, ok := extra["reasoning_effort"]; ok {
		delete(extra, "reasoning_effort")
		var effort string
		if json.Unmarshal(raw, &effort) != nil {
			return nil, nil, llm.Errorf(llm.KindValidation, "reasoning_effort: must be a string")
		}
		if b, ok := effortBudgets[effort]; ok {
			if _, set := extra["thinking"]; !set {
				extra["thinking"] = json.RawMessage(fmt.Sprintf(`{"type":"enabled","budget_tokens":%d}`, b))
			}
		} else if effort != "none" {
			return nil, nil, llm.Errorf(llm.KindValidation, "reasoning_effort: %q is not minimal, low, medium, high or none", effort)
		}
	}
	if raw, ok := extra["thinking"]; ok && !explicitMax {
		var th struct {
			Type   string `json:"type"`
			Budget int    `json:"budget_tokens"`
		}
		if json.Unmarshal(raw, &th) == nil && th.Type == "enabled" && th.Budget >= maxTokens {
			extra["max_tokens"] = json.RawMessage(fmt.Sprint(th.Budget + maxTokens))
		}
	}
	var base map[string]json.RawMessage
	if err := json.Unmarshal(body, &base); err != nil {
		return nil, nil, &llm.Error{Kind: llm.KindInternal, Message: "request encoding", Err: err}
	}
	for k, v := range extra {
		base[k] = v
	}
	out, err := json.Marshal(base)
	if err != nil {
		return nil, nil, &llm.Error{Kind: llm.KindValidation, Message: "additionalModelRequestFields cannot be encoded", Err: err}
	}
	return out, beta, nil
}

// blocks translates neutral content blocks. A cache point sets
// cache_control on the block before it; where is names the position for
// error messages.
func blocks(in []llm.Block, where string) ([]block, error) {
	var out []block
	for i, b := range in {
		at := fmt.Sprintf("%s.content.%d", where, i)
		switch b.Kind {
		case llm.KindText:
			if b.Text != "" {
				out = append(out, block{Type: "text", Text: b.Text})
			}
		case llm.KindGuardContent:
			if b.Guard != nil && b.Guard.Text != "" {
				out = append(out, block{Type: "text", Text: b.Guard.Text})
			}
		case llm.KindImage:
			ib, err := imageBlock(b.Image, at)
			if err != nil {
				return nil, err
			}
			out = append(out, ib)
		case llm.KindDocument:
			db, err := documentBlock(b.Document, at)
			if err != nil {
				return nil, err
			}
			out = append(out, db)
		case llm.KindToolUse:
			input := b.ToolUse.Input
			if len(bytes.TrimSpace(input)) == 0 {
				input = json.RawMessage(`{}`)
			}
			if !json.Valid(input) {
				return nil, llm.Errorf(llm.KindValidation, "%s.toolUse.input: not valid JSON", at)
			}
			out = append(out, block{Type: "tool_use", ID: b.ToolUse.ID, Name: b.ToolUse.Name, Input: input})
		case llm.KindToolResult:
			tr, err := toolResultBlock(b.ToolResult, at)
			if err != nil {
				return nil, err
			}
			out = append(out, tr)
		case llm.KindReasoning:
			r := b.Reasoning
			switch {
			case len(r.Redacted) > 0:
				out = append(out, block{Type: "redacted_thinking", Data: string(r.Redacted)})
			case r.Signature != "":
				text := r.Text
				out = append(out, block{Type: "thinking", Thinking: &text, Signature: r.Signature})
			}
			// Reasoning without a signature cannot be verified by
			// Anthropic, which rejects it: it is dropped.
		case llm.KindCachePoint:
			if len(out) > 0 {
				cc := &cacheControl{Type: "ephemeral"}
				if b.CachePoint != nil && b.CachePoint.TTL == "1h" {
					cc.TTL = "1h"
				}
				out[len(out)-1].CacheControl = cc
			}
		}
	}
	return out, nil
}

func imageBlock(img *llm.Image, at string) (block, error) {
	mt := map[string]string{"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}[strings.ToLower(img.Format)]
	if mt == "" {
		return block{}, llm.Errorf(llm.KindValidation, "%s.image.format: %q is not png, jpeg, gif or webp", at, img.Format)
	}
	return block{Type: "image", Source: &source{Type: "base64", MediaType: mt, Data: b64(img.Bytes)}}, nil
}

func documentBlock(d *llm.Document, at string) (block, error) {
	switch strings.ToLower(d.Format) {
	case "pdf":
		return block{Type: "document", Title: d.Name, Source: &source{Type: "base64", MediaType: "application/pdf", Data: b64(d.Bytes)}}, nil
	case "txt", "md", "csv", "html", "":
		text := d.Text
		if text == "" {
			text = string(d.Bytes)
		}
		return block{Type: "document", Title: d.Name, Source: &source{Type: "text", MediaType: "text/plain", Data: text}}, nil
	}
	return block{}, llm.Errorf(llm.KindValidation, "%s.document.format: Anthropic accepts pdf and text documents, not %q", at, d.Format)
}

func toolResultBlock(tr *llm.ToolResult, at string) (block, error) {
	out := block{Type: "tool_result", ToolUseID: tr.ToolUseID, IsError: tr.Status == "error"}
	for _, c := range tr.Content {
		switch {
		case c.Image != nil:
			ib, err := imageBlock(c.Image, at)
			if err != nil {
				return block{}, err
			}
			out.Content = append(out.Content, ib)
		case c.Document != nil:
			db, err := documentBlock(c.Document, at)
			if err != nil {
				return block{}, err
			}
			out.Content = append(out.Content, db)
		default:
			if s := c.String(); s != "" {
				out.Content = append(out.Content, block{Type: "text", Text: s})
			}
		}
	}
	return out, nil
}
