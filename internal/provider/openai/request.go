package openai

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/outcrop/outcrop/internal/llm"
)

// chatRequest is the chat completions request body Outcrop sends.
type chatRequest struct {
	Model         string         `json:"model"`
	Messages      []message      `json:"messages"`
	Stream        bool           `json:"stream,omitempty"`
	StreamOptions *streamOptions `json:"stream_options,omitempty"`
	Temperature   *float64       `json:"temperature,omitempty"`
	TopP          *float64       `json:"top_p,omitempty"`
	TopK          *int           `json:"top_k,omitempty"`
	Seed          *int64         `json:"seed,omitempty"`
	Stop          []string       `json:"stop,omitempty"`
	Tools         []tool         `json:"tools,omitempty"`
	ToolChoice    any            `json:"tool_choice,omitempty"`
	// MaxTokens is renamed to Config.MaxTokensField when marshalled.
	MaxTokens *int `json:"max_tokens,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// message is one chat message. Content is a string, a []part, or nil.
type message struct {
	Role       string     `json:"role"`
	Content    any        `json:"content,omitempty"`
	ToolCalls  []toolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

type part struct {
	Type     string    `json:"type"`
	Text     string    `json:"text,omitempty"`
	ImageURL *imageURL `json:"image_url,omitempty"`
}

type imageURL struct {
	URL string `json:"url"`
}

type toolCall struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function functionCall `json:"function"`
}

type functionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type tool struct {
	Type     string   `json:"type"`
	Function function `json:"function"`
}

type function struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      bool            `json:"strict,omitempty"`
}

// requestBody translates req into the JSON body of a chat completion.
func (p *Provider) requestBody(req *llm.Request, stream bool) ([]byte, error) {
	cr := chatRequest{
		Model:       p.cfg.Model,
		Stream:      stream,
		Temperature: req.Inference.Temperature,
		TopP:        req.Inference.TopP,
		TopK:        req.Inference.TopK,
		Seed:        req.Inference.Seed,
		Stop:        req.Inference.StopSequences,
		MaxTokens:   p.maxTokens(req),
	}
	if stream {
		cr.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	msgs, err := messages(req)
	if err != nil {
		return nil, err
	}
	cr.Messages = msgs
	if tc := req.Tools; tc != nil && len(tc.Tools) > 0 && tc.Choice.Mode != llm.ToolChoiceNone {
		for _, t := range tc.Tools {
			schema := t.Schema
			if len(schema) == 0 {
				schema = json.RawMessage(`{"type":"object","properties":{}}`)
			}
			cr.Tools = append(cr.Tools, tool{Type: "function", Function: function{Name: t.Name, Description: t.Description, Parameters: schema, Strict: t.Strict}})
		}
		switch tc.Choice.Mode {
		case llm.ToolChoiceAny:
			cr.ToolChoice = "required"
		case llm.ToolChoiceTool:
			cr.ToolChoice = map[string]any{"type": "function", "function": map[string]string{"name": tc.Choice.Name}}
		case llm.ToolChoiceAuto:
			cr.ToolChoice = "auto"
		}
	}
	body, err := json.Marshal(&cr)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindValidation, Message: "the request cannot be encoded for the upstream", Err: err}
	}
	if p.cfg.MaxTokensField != "max_tokens" && cr.MaxTokens != nil {
		body = bytes.Replace(body, []byte(`,"max_tokens":`), []byte(`,"`+p.cfg.MaxTokensField+`":`), 1)
	}
	if len(req.Additional) > 0 && !bytes.Equal(bytes.TrimSpace(req.Additional), []byte("null")) {
		body, err = mergeObject(body, req.Additional)
		if err != nil {
			return nil, err
		}
	}
	return body, nil
}

// mergeObject sets every member of the JSON object extra in the JSON object
// body, replacing members of the same name.
func mergeObject(body, extra []byte) ([]byte, error) {
	var add map[string]json.RawMessage
	if err := json.Unmarshal(extra, &add); err != nil {
		return nil, llm.Errorf(llm.KindValidation, "additionalModelRequestFields must be a JSON object")
	}
	if len(add) == 0 {
		return body, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, &llm.Error{Kind: llm.KindInternal, Message: "internal error", Err: err}
	}
	for k, v := range add {
		if k == "model" || k == "messages" || k == "stream" {
			continue // the request itself is not for the client to replace
		}
		m[k] = v
	}
	return json.Marshal(m)
}

// messages translates the system prompt and the conversation.
func messages(req *llm.Request) ([]message, error) {
	out := make([]message, 0, len(req.Messages)+1)
	if sys := req.SystemText(); sys != "" {
		out = append(out, message{Role: "system", Content: sys})
	}
	for i, m := range req.Messages {
		var err error
		switch m.Role {
		case llm.RoleUser:
			out, err = userMessages(out, m.Content)
		case llm.RoleAssistant:
			out, err = assistantMessage(out, m.Content)
		default:
			err = llm.Errorf(llm.KindValidation, "messages[%d].role %q is not user or assistant", i, m.Role)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// userMessages appends a user turn: tool results become "tool" messages
// (which must directly follow the assistant's tool calls), the rest one
// user message.
func userMessages(out []message, blocks []llm.Block) ([]message, error) {
	var parts []part
	for _, b := range blocks {
		switch b.Kind {
		case llm.KindText:
			parts = append(parts, part{Type: "text", Text: b.Text})
		case llm.KindGuardContent:
			if b.Guard != nil && b.Guard.Text != "" {
				parts = append(parts, part{Type: "text", Text: b.Guard.Text})
			}
			if b.Guard != nil && b.Guard.Image != nil {
				parts = append(parts, imagePart(b.Guard.Image))
			}
		case llm.KindImage:
			if b.Image == nil {
				return nil, llm.Errorf(llm.KindValidation, "an image block has no image")
			}
			parts = append(parts, imagePart(b.Image))
		case llm.KindDocument:
			t, err := documentText(b.Document)
			if err != nil {
				return nil, err
			}
			parts = append(parts, part{Type: "text", Text: t})
		case llm.KindToolResult:
			if b.ToolResult == nil {
				return nil, llm.Errorf(llm.KindValidation, "a toolResult block has no content")
			}
			out = append(out, message{Role: "tool", ToolCallID: b.ToolResult.ToolUseID, Content: toolResultText(b.ToolResult)})
		case llm.KindCachePoint, llm.KindReasoning:
			// Not expressible in chat completions; the upstream caches
			// prefixes on its own.
		default:
			return nil, llm.Errorf(llm.KindValidation, "content block %s is not supported in a user message", b.Kind)
		}
	}
	switch {
	case len(parts) == 0:
	case allText(parts):
		// A plain string is understood by every compatible server,
		// including ones without multi-part support.
		var sb strings.Builder
		for i, p := range parts {
			if i > 0 {
				sb.WriteString("\n\n")
			}
			sb.WriteString(p.Text)
		}
		out = append(out, message{Role: "user", Content: sb.String()})
	default:
		out = append(out, message{Role: "user", Content: parts})
	}
	return out, nil
}

func allText(ps []part) bool {
	for _, p := range ps {
		if p.Type != "text" {
			return false
		}
	}
	return true
}

func imagePart(img *llm.Image) part {
	f := img.Format
	if f == "jpg" {
		f = "jpeg"
	}
	return part{Type: "image_url", ImageURL: &imageURL{URL: "data:image/" + f + ";base64," + base64.StdEncoding.EncodeToString(img.Bytes)}}
}

// documentText renders a document as text for models that only read text:
// text formats are inlined under their name; binary formats are refused.
func documentText(d *llm.Document) (string, error) {
	if d == nil {
		return "", llm.Errorf(llm.KindValidation, "a document block has no document")
	}
	text := d.Text
	if text == "" {
		switch d.Format {
		case "txt", "md", "csv", "html", "json", "xml", "":
			if !utf8.Valid(d.Bytes) {
				return "", llm.Errorf(llm.KindValidation, "document %q is not valid UTF-8 text", d.Name)
			}
			text = string(d.Bytes)
		default:
			return "", llm.Errorf(llm.KindValidation, "document %q: format %s is not supported by this model; send txt, md, csv, html or text", d.Name, d.Format)
		}
	}
	name := d.Name
	if name == "" {
		name = "document"
	}
	return fmt.Sprintf("<document name=%q>\n%s\n</document>", name, text), nil
}

func toolResultText(r *llm.ToolResult) string {
	var sb strings.Builder
	for i, c := range r.Content {
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(c.String())
	}
	if r.Status == "error" {
		return "Error: " + sb.String()
	}
	return sb.String()
}

// assistantMessage appends an assistant turn: text joined, tool uses as
// tool_calls. Reasoning is not sent back; compatible servers reject it or
// ignore it.
func assistantMessage(out []message, blocks []llm.Block) ([]message, error) {
	var text strings.Builder
	var calls []toolCall
	for _, b := range blocks {
		switch b.Kind {
		case llm.KindText:
			text.WriteString(b.Text)
		case llm.KindToolUse:
			if b.ToolUse == nil {
				return nil, llm.Errorf(llm.KindValidation, "a toolUse block has no content")
			}
			args := string(b.ToolUse.Input)
			if args == "" || args == "null" {
				args = "{}"
			}
			calls = append(calls, toolCall{ID: b.ToolUse.ID, Type: "function", Function: functionCall{Name: b.ToolUse.Name, Arguments: args}})
		}
	}
	m := message{Role: "assistant", ToolCalls: calls}
	if text.Len() > 0 || len(calls) == 0 {
		m.Content = text.String()
	}
	return append(out, m), nil
}

// maxTokens is the request's output limit, or else the deployment's
// default bounded by the gateway's cap.
func (p *Provider) maxTokens(req *llm.Request) *int {
	if req.Inference.MaxTokens != nil {
		return req.Inference.MaxTokens
	}
	n, c := p.cfg.DefaultMaxTokens, req.Inference.MaxTokensCap
	if c > 0 && (n < 0 || n > c) {
		n = c
	}
	if n < 0 {
		return nil
	}
	return &n
}
