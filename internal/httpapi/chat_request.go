package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/outcrop/outcrop/internal/llm"
)

// HeaderLatency selects the performance profile of an OpenAI-compatible
// request ("standard" or "optimized") for clients that cannot add body
// fields; the body's performance_config.latency wins when both are given.
const HeaderLatency = "X-Outcrop-Latency"

// chatWire is the body of POST /v1/chat/completions. Fields Outcrop does
// not model are ignored, as OpenAI-compatible servers commonly do; the
// ones listed in chatPassthrough are forwarded to the provider.
type chatWire struct {
	Model               string            `json:"model"`
	Messages            []chatMessageWire `json:"messages"`
	MaxTokens           *int              `json:"max_tokens"`
	MaxCompletionTokens *int              `json:"max_completion_tokens"`
	Temperature         *float64          `json:"temperature"`
	TopP                *float64          `json:"top_p"`
	TopK                *int              `json:"top_k"` // vLLM/Ollama extension
	Seed                *int64            `json:"seed"`
	Stop                json.RawMessage   `json:"stop"` // string or array of strings
	N                   *int              `json:"n"`
	Stream              bool              `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools      []chatToolWire    `json:"tools"`
	ToolChoice json.RawMessage   `json:"tool_choice"`
	User       string            `json:"user"`
	Metadata   map[string]string `json:"metadata"`
	// PerformanceConfig is Outcrop's extension mirroring Bedrock's
	// performanceConfig: {"latency":"optimized"}.
	PerformanceConfig *struct {
		Latency string `json:"latency"`
	} `json:"performance_config"`
}

// chatPassthrough are request members forwarded verbatim to the provider
// (merged into an OpenAI-compatible upstream's body).
var chatPassthrough = []string{"response_format", "frequency_penalty", "presence_penalty", "logit_bias", "reasoning_effort", "min_p", "repeat_penalty"}

type chatMessageWire struct {
	Role       string             `json:"role"`
	Content    json.RawMessage    `json:"content"` // string, array of parts, or null
	ToolCalls  []chatToolCallWire `json:"tool_calls"`
	ToolCallID string             `json:"tool_call_id"`
	Name       string             `json:"name"`

	// text is the decoded string content when decoded is set (by
	// fastChat, which has read the string once already).
	text    string
	decoded bool
}

// textContent returns the message's content where it must be text.
func (m *chatMessageWire) textContent(path string) (string, error) {
	if m.decoded {
		return m.text, nil
	}
	return chatText(m.Content, path)
}

type chatPartWire struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url"`
	File *struct {
		FileData string `json:"file_data"` // data URL
		Filename string `json:"filename"`
	} `json:"file"`
}

type chatToolCallWire struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type chatToolWire struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
		Strict      *bool           `json:"strict"`
	} `json:"function"`
}

// chatRequest is a decoded chat completion request.
type chatRequest struct {
	req          *llm.Request
	stream       bool
	includeUsage bool
	// name is the model as the client named it (an alias, say), echoed
	// in the response's "model"; req.Model becomes the canonical ID.
	name string
}

func chatInvalid(format string, args ...any) error {
	return llm.Errorf(llm.KindValidation, format, args...)
}

// decodeChat decodes and validates a chat completion body. latency is the
// X-Outcrop-Latency header, if any.
func decodeChat(body []byte, latency string) (*chatRequest, error) {
	return decodeChatWith(body, latency, true)
}

// decodeChatWith is decodeChat; fast false skips fastChat (for the tests
// that hold both paths to the same results).
func decodeChatWith(body []byte, latency string, fast bool) (*chatRequest, error) {
	var w chatWire
	fast = fast && fastChat(body, &w)
	if !fast {
		w = chatWire{}
		if err := DecodeJSON(body, &w); err != nil {
			return nil, err
		}
	}
	if w.Model == "" {
		return nil, chatInvalid("you must provide a model parameter")
	}
	if len(w.Messages) == 0 {
		return nil, chatInvalid("messages must be a non-empty array")
	}
	if w.N != nil && *w.N != 1 {
		return nil, chatInvalid("n must be 1: Outcrop returns one choice per request")
	}
	req := &llm.Request{Model: w.Model}
	if err := chatInference(&w, req); err != nil {
		return nil, err
	}
	if err := chatMessages(w.Messages, req); err != nil {
		return nil, err
	}
	if err := chatTools(&w, req); err != nil {
		return nil, err
	}
	if !fast { // fastChat accepts no passthrough member
		add, err := chatAdditional(body)
		if err != nil {
			return nil, err
		}
		req.Additional = add
	}
	switch {
	case w.PerformanceConfig != nil && w.PerformanceConfig.Latency != "":
		req.Performance = llm.Latency(w.PerformanceConfig.Latency)
	case latency != "":
		req.Performance = llm.Latency(strings.ToLower(latency))
	}
	if p := req.Performance; p != "" && p != llm.LatencyStandard && p != llm.LatencyOptimized {
		return nil, chatInvalid("performance_config.latency %q must be standard or optimized", p)
	}
	if len(w.Metadata) > 0 || w.User != "" {
		req.Metadata = make(map[string]string, len(w.Metadata)+1)
		for k, v := range w.Metadata {
			req.Metadata[k] = v
		}
		if w.User != "" {
			req.Metadata["user"] = w.User
		}
	}
	cr := &chatRequest{req: req, stream: w.Stream}
	if w.Stream && w.StreamOptions != nil {
		cr.includeUsage = w.StreamOptions.IncludeUsage
	}
	return cr, nil
}

func chatInference(w *chatWire, req *llm.Request) error {
	in := &req.Inference
	in.MaxTokens = w.MaxCompletionTokens
	if in.MaxTokens == nil {
		in.MaxTokens = w.MaxTokens
	}
	if in.MaxTokens != nil && *in.MaxTokens < 1 {
		return chatInvalid("max_tokens must be at least 1, got %d", *in.MaxTokens)
	}
	if t := w.Temperature; t != nil && (*t < 0 || *t > 2) {
		return chatInvalid("temperature must be between 0 and 2, got %g", *t)
	}
	if p := w.TopP; p != nil && (*p < 0 || *p > 1) {
		return chatInvalid("top_p must be between 0 and 1, got %g", *p)
	}
	if k := w.TopK; k != nil && *k < 0 {
		return chatInvalid("top_k must not be negative, got %d", *k)
	}
	in.Temperature, in.TopP, in.TopK, in.Seed = w.Temperature, w.TopP, w.TopK, w.Seed
	if len(w.Stop) > 0 && string(w.Stop) != "null" {
		var one string
		if err := json.Unmarshal(w.Stop, &one); err == nil {
			in.StopSequences = []string{one}
		} else if err := json.Unmarshal(w.Stop, &in.StopSequences); err != nil {
			return chatInvalid("stop must be a string or an array of strings")
		}
		if len(in.StopSequences) > 16 {
			return chatInvalid("stop may hold at most 16 sequences, got %d", len(in.StopSequences))
		}
		for _, s := range in.StopSequences {
			if s == "" {
				return chatInvalid("stop sequences must not be empty")
			}
		}
	}
	return nil
}

// chatMessages translates the conversation: system and developer messages
// become the system prompt, tool messages become toolResult blocks of a
// user turn, and consecutive turns of one role are merged, as the neutral
// (Converse-shaped) model expects.
func chatMessages(in []chatMessageWire, req *llm.Request) error {
	var calls map[string]bool // tool call IDs the assistant has made
	add := func(role llm.Role, blocks ...llm.Block) {
		n := len(req.Messages)
		if n > 0 && req.Messages[n-1].Role == role {
			req.Messages[n-1].Content = append(req.Messages[n-1].Content, blocks...)
			return
		}
		req.Messages = append(req.Messages, llm.Message{Role: role, Content: blocks})
	}
	for i := range in {
		m := &in[i]
		path := "messages[" + strconv.Itoa(i) + "]"
		switch m.Role {
		case "system", "developer":
			text, err := m.textContent(path)
			if err != nil {
				return err
			}
			req.System = append(req.System, llm.TextBlock(text))
		case "user":
			var blocks []llm.Block
			var err error
			if m.decoded {
				if m.text != "" {
					blocks = []llm.Block{llm.TextBlock(m.text)}
				}
			} else if blocks, err = chatUserContent(m.Content, path); err != nil {
				return err
			}
			if len(blocks) == 0 {
				return chatInvalid("%s.content must not be empty", path)
			}
			add(llm.RoleUser, blocks...)
		case "assistant":
			var blocks []llm.Block
			if chatPresent(m.Content) {
				text, err := m.textContent(path)
				if err != nil {
					return err
				}
				if text != "" {
					blocks = append(blocks, llm.TextBlock(text))
				}
			}
			for j, tc := range m.ToolCalls {
				if tc.ID == "" || tc.Function.Name == "" {
					return chatInvalid("%s.tool_calls[%d] needs an id and a function name", path, j)
				}
				args := strings.TrimSpace(tc.Function.Arguments)
				if args == "" {
					args = "{}"
				}
				if !json.Valid([]byte(args)) {
					return chatInvalid("%s.tool_calls[%d].function.arguments must be a JSON string", path, j)
				}
				if calls == nil {
					calls = map[string]bool{}
				}
				calls[tc.ID] = true
				blocks = append(blocks, llm.Block{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: tc.ID, Name: tc.Function.Name, Input: json.RawMessage(args)}})
			}
			if len(blocks) == 0 {
				return chatInvalid("%s: an assistant message needs content or tool_calls", path)
			}
			add(llm.RoleAssistant, blocks...)
		case "tool":
			if m.ToolCallID == "" {
				return chatInvalid("%s.tool_call_id is required for role tool", path)
			}
			if !calls[m.ToolCallID] {
				return chatInvalid("%s.tool_call_id %q does not answer a tool call of an earlier assistant message", path, m.ToolCallID)
			}
			text, err := m.textContent(path)
			if err != nil {
				return err
			}
			res := llm.ToolResultContent{Text: text}
			if t := strings.TrimSpace(text); t != "" && (t[0] == '{' || t[0] == '[') && json.Valid([]byte(t)) {
				res = llm.ToolResultContent{JSON: json.RawMessage(t)}
			}
			add(llm.RoleUser, llm.Block{Kind: llm.KindToolResult, ToolResult: &llm.ToolResult{ToolUseID: m.ToolCallID, Content: []llm.ToolResultContent{res}}})
		case "":
			return chatInvalid("%s.role is required", path)
		default:
			return chatInvalid("%s.role %q must be one of system, developer, user, assistant, tool", path, m.Role)
		}
	}
	if len(req.Messages) == 0 {
		return chatInvalid("messages must contain at least one user message")
	}
	return nil
}

func chatPresent(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

// chatText reads content that must be text: a string or an array of text
// parts.
func chatText(raw json.RawMessage, path string) (string, error) {
	if !chatPresent(raw) {
		return "", nil
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", chatInvalid("%s.content must be a string or an array of content parts", path)
		}
		return s, nil
	}
	var parts []chatPartWire
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", chatInvalid("%s.content must be a string or an array of content parts", path)
	}
	var b strings.Builder
	for j, p := range parts {
		if p.Type != "text" {
			return "", chatInvalid("%s.content[%d].type %q is not allowed here; only text", path, j, p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// chatUserContent reads a user message's content: text, images given as
// data URLs, and files given as data URLs.
func chatUserContent(raw json.RawMessage, path string) ([]llm.Block, error) {
	if !chatPresent(raw) {
		return nil, nil
	}
	if raw[0] == '"' {
		s, err := chatText(raw, path)
		if err != nil || s == "" {
			return nil, err
		}
		return []llm.Block{llm.TextBlock(s)}, nil
	}
	var parts []chatPartWire
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, chatInvalid("%s.content must be a string or an array of content parts", path)
	}
	var out []llm.Block
	for j, p := range parts {
		pp := fmt.Sprintf("%s.content[%d]", path, j)
		switch p.Type {
		case "text":
			if p.Text != "" {
				out = append(out, llm.TextBlock(p.Text))
			}
		case "image_url":
			if p.ImageURL == nil {
				return nil, chatInvalid("%s.image_url is required", pp)
			}
			mt, data, err := chatDataURL(p.ImageURL.URL, pp+".image_url.url")
			if err != nil {
				return nil, err
			}
			format, ok := strings.CutPrefix(mt, "image/")
			switch format {
			case "jpg":
				format = "jpeg"
			case "png", "jpeg", "gif", "webp":
			default:
				ok = false
			}
			if !ok {
				return nil, chatInvalid("%s.image_url: media type %q is not png, jpeg, gif or webp", pp, mt)
			}
			out = append(out, llm.Block{Kind: llm.KindImage, Image: &llm.Image{Format: format, Bytes: data}})
		case "file":
			if p.File == nil || p.File.FileData == "" {
				return nil, chatInvalid("%s.file.file_data is required (file IDs are not supported)", pp)
			}
			mt, data, err := chatDataURL(p.File.FileData, pp+".file.file_data")
			if err != nil {
				return nil, err
			}
			out = append(out, llm.Block{Kind: llm.KindDocument, Document: &llm.Document{Format: chatDocFormat(mt), Name: p.File.Filename, Bytes: data}})
		default:
			return nil, chatInvalid("%s.type %q is not supported; use text, image_url or file", pp, p.Type)
		}
	}
	return out, nil
}

// chatDataURL decodes a base64 data URL. Remote URLs are refused: Outcrop
// does not fetch on a client's behalf.
func chatDataURL(u, path string) (mediaType string, data []byte, err error) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return "", nil, chatInvalid("%s must be a data: URL (base64); remote URLs are not fetched", path)
	}
	meta, payload, ok := strings.Cut(rest, ",")
	mt, isB64 := strings.CutSuffix(meta, ";base64")
	if !ok || !isB64 {
		return "", nil, chatInvalid("%s must be a base64 data: URL", path)
	}
	data, err = base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return "", nil, chatInvalid("%s: invalid base64 data", path)
	}
	return strings.ToLower(mt), data, nil
}

func chatDocFormat(mediaType string) string {
	switch mediaType {
	case "application/pdf":
		return "pdf"
	case "text/plain":
		return "txt"
	case "text/markdown":
		return "md"
	case "text/csv":
		return "csv"
	case "text/html":
		return "html"
	case "application/json":
		return "json"
	}
	if _, sub, ok := strings.Cut(mediaType, "/"); ok {
		return sub
	}
	return "txt"
}

func chatTools(w *chatWire, req *llm.Request) error {
	if len(w.Tools) == 0 {
		if chatPresent(w.ToolChoice) {
			var s string
			if json.Unmarshal(w.ToolChoice, &s) != nil || (s != "none" && s != "auto") {
				return chatInvalid("tool_choice needs tools")
			}
		}
		return nil
	}
	tc := &llm.ToolConfig{Choice: llm.ToolChoice{Mode: llm.ToolChoiceAuto}}
	names := map[string]bool{}
	for i, t := range w.Tools {
		if t.Type != "function" {
			return chatInvalid("tools[%d].type %q is not supported; only function", i, t.Type)
		}
		name := t.Function.Name
		if !validToolName(name) {
			return chatInvalid("tools[%d].function.name %q must be 1 to 64 letters, digits, underscores or dashes", i, name)
		}
		if names[name] {
			return chatInvalid("tools[%d].function.name %q is a duplicate", i, name)
		}
		names[name] = true
		schema := t.Function.Parameters
		if chatPresent(schema) {
			var obj map[string]json.RawMessage
			if json.Unmarshal(schema, &obj) != nil {
				return chatInvalid("tools[%d].function.parameters must be a JSON Schema object", i)
			}
		} else {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		tc.Tools = append(tc.Tools, llm.Tool{Name: name, Description: t.Function.Description, Schema: schema, Strict: t.Function.Strict != nil && *t.Function.Strict})
	}
	if chatPresent(w.ToolChoice) {
		var s string
		if err := json.Unmarshal(w.ToolChoice, &s); err == nil {
			switch s {
			case "auto":
			case "none":
				tc.Choice.Mode = llm.ToolChoiceNone
			case "required":
				tc.Choice.Mode = llm.ToolChoiceAny
			default:
				return chatInvalid("tool_choice %q must be none, auto or required", s)
			}
		} else {
			var o struct {
				Type     string `json:"type"`
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			}
			if err := json.Unmarshal(w.ToolChoice, &o); err != nil || o.Type != "function" {
				return chatInvalid(`tool_choice must be "none", "auto", "required" or {"type":"function","function":{"name":…}}`)
			}
			if !names[o.Function.Name] {
				return chatInvalid("tool_choice names function %q, which is not in tools", o.Function.Name)
			}
			tc.Choice = llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: o.Function.Name}
		}
	}
	req.Tools = tc
	return nil
}

func validToolName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// chatAdditional collects the passthrough members of body into a JSON
// object, or nil when there are none.
func chatAdditional(body []byte) (json.RawMessage, error) {
	if !bytes.Contains(body, []byte(`"`)) {
		return nil, nil
	}
	found := false
	for _, k := range chatPassthrough {
		if bytes.Contains(body, []byte(`"`+k+`"`)) {
			found = true
			break
		}
	}
	if !found {
		return nil, nil // the common case: no second decode
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(body, &all); err != nil {
		return nil, chatInvalid("Malformed input request: %v", err)
	}
	out := map[string]json.RawMessage{}
	for _, k := range chatPassthrough {
		if v, ok := all[k]; ok && chatPresent(v) {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, chatInvalid("Malformed input request: %v", err)
	}
	return b, nil
}

// chatLatencyHeader returns the X-Outcrop-Latency header of r.
func chatLatencyHeader(r *http.Request) string { return r.Header.Get(HeaderLatency) }
