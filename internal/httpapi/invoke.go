package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/outcrop/outcrop/internal/llm"
)

// anthropicVersion is the only anthropic_version Bedrock accepts.
const anthropicVersion = "bedrock-2023-05-31"

// InvokeModel request and response headers (bedrock-api.md §3.4–3.5).
const (
	headerPerfLatency    = "X-Amzn-Bedrock-PerformanceConfig-Latency"
	headerInputTokens    = "X-Amzn-Bedrock-Input-Token-Count"
	headerOutputTokens   = "X-Amzn-Bedrock-Output-Token-Count"
	headerInvokeLatency  = "X-Amzn-Bedrock-Invocation-Latency"
	headerStreamType     = "X-Amzn-Bedrock-Content-Type"
	headerGuardrailID    = "X-Amzn-Bedrock-GuardrailIdentifier"
	headerGuardrailVer   = "X-Amzn-Bedrock-GuardrailVersion"
	headerGuardrailTrace = "X-Amzn-Bedrock-Trace"
	headerServiceTier    = "X-Amzn-Bedrock-Service-Tier"
	anthropicIDPrefix    = "msg_bdrk_"
)

// The Anthropic Messages body as Bedrock's InvokeModel takes it. Unknown
// keys are refused, as Bedrock does for Anthropic models.
type (
	anthropicRequest struct {
		AnthropicVersion *string             `json:"anthropic_version"`
		AnthropicBeta    []string            `json:"anthropic_beta"`
		MaxTokens        *int                `json:"max_tokens"`
		Messages         []anthropicMessage  `json:"messages"`
		System           json.RawMessage     `json:"system"`
		Temperature      *float64            `json:"temperature"`
		TopP             *float64            `json:"top_p"`
		TopK             *int                `json:"top_k"`
		StopSequences    []string            `json:"stop_sequences"`
		Tools            []anthropicTool     `json:"tools"`
		ToolChoice       *anthropicToolChoic `json:"tool_choice"`
		Thinking         json.RawMessage     `json:"thinking"`
		Metadata         json.RawMessage     `json:"metadata"`
	}
	anthropicMessage struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	anthropicBlock struct {
		Type         string           `json:"type"`
		Text         *string          `json:"text"`
		Source       *anthropicSource `json:"source"`
		ID           string           `json:"id"`
		Name         string           `json:"name"`
		Input        json.RawMessage  `json:"input"`
		ToolUseID    string           `json:"tool_use_id"`
		Content      json.RawMessage  `json:"content"`
		IsError      bool             `json:"is_error"`
		Thinking     *string          `json:"thinking"`
		Signature    string           `json:"signature"`
		Data         string           `json:"data"`
		Title        string           `json:"title"`
		Context      string           `json:"context"`
		Citations    json.RawMessage  `json:"citations"`
		CacheControl json.RawMessage  `json:"cache_control"`
	}
	anthropicSource struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
	}
	anthropicTool struct {
		Name         string          `json:"name"`
		Description  string          `json:"description"`
		InputSchema  json.RawMessage `json:"input_schema"`
		Type         string          `json:"type"`
		CacheControl json.RawMessage `json:"cache_control"`
	}
	anthropicToolChoic struct {
		Type                   string `json:"type"`
		Name                   string `json:"name"`
		DisableParallelToolUse *bool  `json:"disable_parallel_tool_use"`
	}
)

func anthropicInvalid(format string, args ...any) error {
	return bedrockInvalid("Malformed input request: "+format+", please reformat your input and try again.", args...)
}

// decodeAnthropic parses and validates an Anthropic Messages body into the
// neutral request.
func decodeAnthropic(body []byte, model string) (*llm.Request, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var a anthropicRequest
	if err := dec.Decode(&a); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return nil, anthropicInvalid("#/%s: expected type: %s, found: %s", strings.ReplaceAll(te.Field, ".", "/"), jsonTypeName(te.Type.Kind().String()), te.Value)
		case errors.As(err, &se), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, bedrockInvalid("Malformed input request: the body is not valid JSON: %v", err)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return nil, anthropicInvalid("#: extraneous key [%s] is not permitted", name)
		}
		return nil, anthropicInvalid("%v", err)
	}
	if dec.More() {
		return nil, bedrockInvalid("Malformed input request: the body holds more than one JSON value")
	}
	return a.request(model)
}

func (a *anthropicRequest) request(model string) (*llm.Request, error) {
	if a.AnthropicVersion == nil {
		return nil, anthropicInvalid("#: required key [anthropic_version] not found")
	}
	if *a.AnthropicVersion != anthropicVersion {
		return nil, bedrockInvalid("Invalid API version: anthropic_version must be %q", anthropicVersion)
	}
	if a.MaxTokens == nil {
		return nil, anthropicInvalid("#: required key [max_tokens] not found")
	}
	if *a.MaxTokens < 1 {
		return nil, anthropicInvalid("#/max_tokens: %d is not greater or equal to 1", *a.MaxTokens)
	}
	if a.Messages == nil {
		return nil, anthropicInvalid("#: required key [messages] not found")
	}
	if len(a.Messages) == 0 {
		return nil, bedrockInvalid("messages: at least one message is required")
	}
	if t := a.Temperature; t != nil && (*t < 0 || *t > 1) {
		return nil, anthropicInvalid("#/temperature: %v is not between 0 and 1", *t)
	}
	if p := a.TopP; p != nil && (*p < 0 || *p > 1) {
		return nil, anthropicInvalid("#/top_p: %v is not between 0 and 1", *p)
	}
	if k := a.TopK; k != nil && (*k < 0 || *k > 500) {
		return nil, anthropicInvalid("#/top_k: %d is not between 0 and 500", *k)
	}
	req := &llm.Request{
		Model: model,
		Inference: llm.InferenceConfig{
			MaxTokens: a.MaxTokens, Temperature: a.Temperature, TopP: a.TopP, TopK: a.TopK,
			StopSequences: a.StopSequences,
		},
	}
	sys, err := anthropicSystem(a.System)
	if err != nil {
		return nil, err
	}
	req.System = sys
	for i, m := range a.Messages {
		switch m.Role {
		case "user", "assistant":
		default:
			return nil, anthropicInvalid("#/messages/%d/role: %q is not a valid enum value (user, assistant)", i, m.Role)
		}
		if i == 0 && m.Role != "user" {
			return nil, bedrockInvalid(`messages: first message must use the "user" role`)
		}
		if i > 0 && m.Role == a.Messages[i-1].Role {
			return nil, bedrockInvalid(`messages: roles must alternate between "user" and "assistant", but found multiple %q roles in a row`, m.Role)
		}
		blocks, err := anthropicContent(m.Content, "messages."+strconv.Itoa(i)+".content", llm.Role(m.Role), a.Tools != nil)
		if err != nil {
			return nil, err
		}
		req.Messages = append(req.Messages, llm.Message{Role: llm.Role(m.Role), Content: blocks})
	}
	if err := checkToolPairs(req.Messages); err != nil {
		return nil, err
	}
	if a.Tools != nil {
		tc := &llm.ToolConfig{Choice: llm.ToolChoice{Mode: llm.ToolChoiceAuto}}
		for i, t := range a.Tools {
			if !toolNameRE.MatchString(t.Name) {
				return nil, anthropicInvalid("#/tools/%d/name: %q does not match ^[a-zA-Z0-9_-]{1,64}$", i, t.Name)
			}
			if t.Type != "" && t.Type != "custom" {
				return nil, bedrockInvalid("tools.%d: tool type %q is not supported by this model", i, t.Type)
			}
			if !isJSONObject(t.InputSchema) {
				return nil, anthropicInvalid("#/tools/%d: required key [input_schema] not found or not an object", i)
			}
			tc.Tools = append(tc.Tools, llm.Tool{Name: t.Name, Description: t.Description, Schema: t.InputSchema})
		}
		req.Tools = tc
	}
	if c := a.ToolChoice; c != nil {
		if req.Tools == nil {
			return nil, bedrockInvalid("tool_choice may only be specified while providing tools")
		}
		switch c.Type {
		case "auto":
		case "any":
			req.Tools.Choice.Mode = llm.ToolChoiceAny
		case "none":
			req.Tools.Choice.Mode = llm.ToolChoiceNone
		case "tool":
			found := false
			for _, t := range req.Tools.Tools {
				found = found || t.Name == c.Name
			}
			if !found {
				return nil, bedrockInvalid("tool_choice.name %q does not name a tool in tools", c.Name)
			}
			req.Tools.Choice = llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: c.Name}
		default:
			return nil, anthropicInvalid("#/tool_choice/type: %q is not a valid enum value (auto, any, tool, none)", c.Type)
		}
	}
	return req, nil
}

// anthropicSystem converts the system prompt: a string or text blocks.
func anthropicSystem(raw json.RawMessage) ([]llm.Block, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, anthropicInvalid("#/system: %v", err)
		}
		if s == "" {
			return nil, nil
		}
		return []llm.Block{llm.TextBlock(s)}, nil
	}
	var blocks []anthropicBlock
	if err := strictUnmarshal(raw, &blocks, "system"); err != nil {
		return nil, err
	}
	var out []llm.Block
	for i, b := range blocks {
		if b.Type != "text" || b.Text == nil {
			return nil, anthropicInvalid("#/system/%d: system blocks must be text blocks", i)
		}
		out = append(out, llm.TextBlock(*b.Text))
		if len(b.CacheControl) > 0 {
			out = append(out, llm.Block{Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}})
		}
	}
	return out, nil
}

func strictUnmarshal(raw json.RawMessage, v any, path string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return anthropicInvalid("#/%s: expected type: %s, found: %s", path, jsonTypeName(te.Type.Kind().String()), te.Value)
		}
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return anthropicInvalid("#/%s: extraneous key [%s] is not permitted", path, name)
		}
		return anthropicInvalid("#/%s: %v", path, err)
	}
	return nil
}

// anthropicContent converts a message's content: a string or blocks.
func anthropicContent(raw json.RawMessage, path string, role llm.Role, haveTools bool) ([]llm.Block, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, anthropicInvalid("#/%s: required key [content] not found", strings.ReplaceAll(path, ".", "/"))
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, anthropicInvalid("#/%s: %v", path, err)
		}
		if role == llm.RoleUser && strings.TrimSpace(s) == "" {
			return nil, bedrockInvalid("%s: text content blocks must contain non-whitespace text", path)
		}
		return []llm.Block{llm.TextBlock(s)}, nil
	}
	var blocks []anthropicBlock
	if err := strictUnmarshal(raw, &blocks, strings.ReplaceAll(path, ".", "/")); err != nil {
		return nil, err
	}
	if len(blocks) == 0 {
		return nil, bedrockInvalid("%s: at least one content block is required", path)
	}
	var out []llm.Block
	for i, b := range blocks {
		p := path + "." + strconv.Itoa(i)
		blk, err := anthropicBlockValue(b, p, role)
		if err != nil {
			return nil, err
		}
		if (blk.Kind == llm.KindToolUse || blk.Kind == llm.KindToolResult) && !haveTools {
			return nil, bedrockInvalid("%s: tool_use and tool_result blocks require tools to be defined", p)
		}
		out = append(out, blk)
		if len(b.CacheControl) > 0 {
			out = append(out, llm.Block{Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}})
		}
	}
	return out, nil
}

func anthropicBlockValue(b anthropicBlock, path string, role llm.Role) (llm.Block, error) {
	switch b.Type {
	case "text":
		if b.Text == nil {
			return llm.Block{}, anthropicInvalid("#/%s: required key [text] not found", path)
		}
		if role == llm.RoleUser && strings.TrimSpace(*b.Text) == "" {
			return llm.Block{}, bedrockInvalid("%s: text content blocks must contain non-whitespace text", path)
		}
		return llm.TextBlock(*b.Text), nil
	case "image":
		img, err := anthropicImage(b.Source, path)
		if err != nil {
			return llm.Block{}, err
		}
		return llm.Block{Kind: llm.KindImage, Image: img}, nil
	case "document":
		if b.Source == nil {
			return llm.Block{}, anthropicInvalid("#/%s: required key [source] not found", path)
		}
		d := &llm.Document{Name: b.Title, Format: "txt"}
		if d.Name == "" {
			d.Name = "document"
		}
		switch b.Source.Type {
		case "text":
			d.Text = b.Source.Data
		case "base64":
			data, err := base64.StdEncoding.DecodeString(b.Source.Data)
			if err != nil {
				return llm.Block{}, bedrockInvalid("%s.source.data is not valid base64", path)
			}
			d.Bytes = data
			d.Format = strings.TrimPrefix(b.Source.MediaType, "application/")
		default:
			return llm.Block{}, bedrockInvalid("%s.source.type %q is not supported", path, b.Source.Type)
		}
		return llm.Block{Kind: llm.KindDocument, Document: d}, nil
	case "tool_use":
		if role != llm.RoleAssistant {
			return llm.Block{}, bedrockInvalid("%s: tool_use blocks are only allowed in assistant messages", path)
		}
		if !toolUseIDRE.MatchString(b.ID) || b.Name == "" {
			return llm.Block{}, anthropicInvalid("#/%s: tool_use blocks need an id and a name", path)
		}
		in := bytes.TrimSpace(b.Input)
		if !isJSONObject(in) {
			return llm.Block{}, anthropicInvalid("#/%s/input: expected type: JSONObject", path)
		}
		return llm.Block{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: b.ID, Name: b.Name, Input: json.RawMessage(in)}}, nil
	case "tool_result":
		if role != llm.RoleUser {
			return llm.Block{}, bedrockInvalid("%s: tool_result blocks are only allowed in user messages", path)
		}
		if !toolUseIDRE.MatchString(b.ToolUseID) {
			return llm.Block{}, anthropicInvalid("#/%s: required key [tool_use_id] not found", path)
		}
		tr := &llm.ToolResult{ToolUseID: b.ToolUseID, Status: "success"}
		if b.IsError {
			tr.Status = "error"
		}
		c := bytes.TrimSpace(b.Content)
		switch {
		case len(c) == 0 || bytes.Equal(c, []byte("null")):
		case c[0] == '"':
			var s string
			if err := json.Unmarshal(c, &s); err != nil {
				return llm.Block{}, anthropicInvalid("#/%s/content: %v", path, err)
			}
			tr.Content = []llm.ToolResultContent{{Text: s}}
		default:
			var parts []anthropicBlock
			if err := strictUnmarshal(c, &parts, strings.ReplaceAll(path, ".", "/")+"/content"); err != nil {
				return llm.Block{}, err
			}
			for j, p := range parts {
				switch p.Type {
				case "text":
					if p.Text == nil {
						return llm.Block{}, anthropicInvalid("#/%s/content/%d: required key [text] not found", path, j)
					}
					tr.Content = append(tr.Content, llm.ToolResultContent{Text: *p.Text})
				case "image":
					img, err := anthropicImage(p.Source, path+".content."+strconv.Itoa(j))
					if err != nil {
						return llm.Block{}, err
					}
					tr.Content = append(tr.Content, llm.ToolResultContent{Image: img})
				default:
					return llm.Block{}, bedrockInvalid("%s.content.%d: tool_result content of type %q is not supported", path, j, p.Type)
				}
			}
		}
		return llm.Block{Kind: llm.KindToolResult, ToolResult: tr}, nil
	case "thinking":
		if b.Thinking == nil {
			return llm.Block{}, anthropicInvalid("#/%s: required key [thinking] not found", path)
		}
		return llm.Block{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Text: *b.Thinking, Signature: b.Signature}}, nil
	case "redacted_thinking":
		data, err := base64.StdEncoding.DecodeString(b.Data)
		if err != nil {
			data = []byte(b.Data)
		}
		return llm.Block{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Redacted: data}}, nil
	case "":
		return llm.Block{}, anthropicInvalid("#/%s: required key [type] not found", path)
	}
	return llm.Block{}, anthropicInvalid("#/%s/type: %q is not a valid content block type", path, b.Type)
}

func anthropicImage(src *anthropicSource, path string) (*llm.Image, error) {
	if src == nil {
		return nil, anthropicInvalid("#/%s: required key [source] not found", path)
	}
	if src.Type != "base64" {
		return nil, bedrockInvalid("%s.source.type %q is not supported; send base64 data", path, src.Type)
	}
	format := strings.TrimPrefix(src.MediaType, "image/")
	switch format {
	case "png", "jpeg", "gif", "webp":
	default:
		return nil, anthropicInvalid("#/%s/source/media_type: %q is not a valid enum value (image/jpeg, image/png, image/gif, image/webp)", path, src.MediaType)
	}
	data, err := base64.StdEncoding.DecodeString(src.Data)
	if err != nil {
		return nil, bedrockInvalid("%s.source.data is not valid base64", path)
	}
	return &llm.Image{Format: format, Bytes: data}, nil
}

// applyInvokeHeaders reads the InvokeModel request headers that change the
// call: the performance profile and the guardrail.
func applyInvokeHeaders(r *http.Request, req *llm.Request) error {
	switch v := r.Header.Get(headerPerfLatency); v {
	case "":
	case "standard", "optimized":
		req.Performance = llm.Latency(v)
	default:
		return constraint("performanceConfigLatency", "Member must satisfy enum value set: [standard, optimized]")
	}
	switch v := r.Header.Get(headerServiceTier); v {
	case "", "priority", "default", "flex", "reserved":
	default:
		return constraint("serviceTier", "Member must satisfy enum value set: [priority, default, flex, reserved]")
	}
	id, ver := r.Header.Get(headerGuardrailID), r.Header.Get(headerGuardrailVer)
	if id != "" || ver != "" {
		if id == "" || ver == "" {
			return bedrockInvalid("Guardrail identifier and version must both be provided")
		}
		trace := strings.ToLower(r.Header.Get(headerGuardrailTrace))
		switch trace {
		case "", "enabled", "disabled", "enabled_full":
		default:
			return constraint("trace", "Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_FULL]")
		}
		req.Guardrail = &llm.GuardrailConfig{ID: id, Version: ver, Trace: trace}
	}
	return nil
}

// invokeRequest reads and decodes an InvokeModel body for the path's model.
func (s *Server) invokeRequest(r *http.Request) (string, *llm.Request, error) {
	id, _, err := s.bedrockModel(r)
	if err != nil {
		return id, nil, err
	}
	body, err := s.a.ReadBody(r)
	if err != nil {
		return id, nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return id, nil, constraint("body", "Member must not be null")
	}
	req, err := decodeAnthropic(body, id)
	if err != nil {
		return id, nil, err
	}
	return id, req, applyInvokeHeaders(r, req)
}

// anthropicMessageID derives a message ID from the request ID.
func anthropicMessageID(requestID string) string {
	s := strings.ReplaceAll(requestID, "-", "")
	if len(s) > 24 {
		s = s[:24]
	}
	return anthropicIDPrefix + s
}

// Anthropic response shapes.
type (
	anthropicResponse struct {
		ID           string              `json:"id"`
		Type         string              `json:"type"`
		Role         string              `json:"role"`
		Model        string              `json:"model"`
		Content      []anthropicOutBlock `json:"content"`
		StopReason   string              `json:"stop_reason"`
		StopSequence *string             `json:"stop_sequence"`
		Usage        anthropicUsage      `json:"usage"`
		Guardrail    string              `json:"amazon-bedrock-guardrailAction,omitempty"`
		// Trace carries the prompt router's choice, as Bedrock adds it to a
		// routed InvokeModel's body: {"promptRouter":{"invokedModelId":…}}.
		Trace map[string]json.RawMessage `json:"amazon-bedrock-trace,omitempty"`
	}
	anthropicOutBlock struct {
		Type      string          `json:"type"`
		Text      *string         `json:"text,omitempty"`
		ID        string          `json:"id,omitempty"`
		Name      string          `json:"name,omitempty"`
		Input     json.RawMessage `json:"input,omitempty"`
		Thinking  *string         `json:"thinking,omitempty"`
		Signature *string         `json:"signature,omitempty"`
		Data      string          `json:"data,omitempty"`
	}
	anthropicUsage struct {
		InputTokens              int `json:"input_tokens"`
		OutputTokens             int `json:"output_tokens"`
		CacheReadInputTokens     int `json:"cache_read_input_tokens,omitempty"`
		CacheCreationInputTokens int `json:"cache_creation_input_tokens,omitempty"`
	}
	invocationMetrics struct {
		InputTokenCount   int   `json:"inputTokenCount"`
		OutputTokenCount  int   `json:"outputTokenCount"`
		InvocationLatency int64 `json:"invocationLatency"`
		FirstByteLatency  int64 `json:"firstByteLatency"`
	}
)

// anthropicStop maps a neutral stop reason to Anthropic's.
func anthropicStop(r llm.StopReason) string {
	switch r {
	case llm.StopToolUse, llm.StopMaxTokens, llm.StopSequence:
		return string(r)
	case llm.StopContentFiltered:
		return "refusal"
	}
	return "end_turn"
}

func anthropicUsageOf(u llm.Usage) anthropicUsage {
	in := u.InputTokens - u.CacheReadInputTokens - u.CacheWriteInputTokens
	if in < 0 {
		in = 0
	}
	return anthropicUsage{InputTokens: in, OutputTokens: u.OutputTokens, CacheReadInputTokens: u.CacheReadInputTokens, CacheCreationInputTokens: u.CacheWriteInputTokens}
}

func anthropicResponseOf(r *llm.Response, id, model string) *anthropicResponse {
	out := &anthropicResponse{
		ID: id, Type: "message", Role: "assistant", Model: model,
		Content:    []anthropicOutBlock{},
		StopReason: anthropicStop(r.StopReason),
		Usage:      anthropicUsageOf(r.Usage),
	}
	if r.StopReason == llm.StopGuardrailIntervened {
		out.Guardrail = "INTERVENED"
	}
	out.Trace = routerTrace(r.Trace)
	for _, b := range r.Message.Content {
		switch b.Kind {
		case llm.KindText:
			t := b.Text
			out.Content = append(out.Content, anthropicOutBlock{Type: "text", Text: &t})
		case llm.KindToolUse:
			in := b.ToolUse.Input
			if !isJSONObject(in) {
				in = json.RawMessage(`{}`)
			}
			out.Content = append(out.Content, anthropicOutBlock{Type: "tool_use", ID: b.ToolUse.ID, Name: b.ToolUse.Name, Input: in})
		case llm.KindReasoning:
			if len(b.Reasoning.Redacted) > 0 {
				out.Content = append(out.Content, anthropicOutBlock{Type: "redacted_thinking", Data: base64.StdEncoding.EncodeToString(b.Reasoning.Redacted)})
				continue
			}
			t, sig := b.Reasoning.Text, b.Reasoning.Signature
			out.Content = append(out.Content, anthropicOutBlock{Type: "thinking", Thinking: &t, Signature: &sig})
		}
	}
	return out
}

// routerTrace returns the prompt-router member of a call's trace (nil when
// the call was not routed): the only trace InvokeModel reports in its body.
func routerTrace(t map[string]json.RawMessage) map[string]json.RawMessage {
	if v, ok := t["promptRouter"]; ok && isJSONObject(v) {
		return map[string]json.RawMessage{"promptRouter": v}
	}
	return nil
}

// setInvokeHeaders sets the response headers real Bedrock sends with
// InvokeModel.
func setInvokeHeaders(h http.Header, sv llm.Served, u llm.Usage, m llm.Metrics) {
	setServedHeaders(h, sv)
	if sv.Profile != "" {
		h.Set(headerPerfLatency, string(sv.Profile))
	}
	h.Set(headerInputTokens, strconv.Itoa(u.InputTokens))
	h.Set(headerOutputTokens, strconv.Itoa(u.OutputTokens))
	h.Set(headerInvokeLatency, strconv.FormatInt(m.LatencyMs, 10))
}

// invokeModel serves POST /model/{modelId}/invoke with an Anthropic
// Messages body, or the Titan embeddings body on an embedding model.
func (s *Server) invokeModel(w http.ResponseWriter, r *http.Request) error {
	if m, ok := s.embeddingModel(r.PathValue("modelId")); ok {
		return s.invokeEmbedding(w, r, m)
	}
	received := s.d.Now()
	id, req, err := s.invokeRequest(r)
	if err != nil {
		return err
	}
	c := s.bedrockCall(r.Context(), "InvokeModel", id, req, false)
	c.Received = received
	resp, err := s.d.Gateway.Converse(r.Context(), c)
	if err != nil {
		return err
	}
	setInvokeHeaders(w.Header(), resp.Served, resp.Usage, resp.Metrics)
	return WriteJSON(w, http.StatusOK, anthropicResponseOf(resp, anthropicMessageID(c.RequestID), id))
}

// invokeModelStream serves POST /model/{modelId}/invoke-with-response-stream:
// Anthropic stream events, each base64-encoded in a chunk event.
func (s *Server) invokeModelStream(w http.ResponseWriter, r *http.Request) error {
	received := s.d.Now()
	id, req, err := s.invokeRequest(r)
	if err != nil {
		return err
	}
	c := s.bedrockCall(r.Context(), "InvokeModelWithResponseStream", id, req, true)
	c.Received = received
	st, err := s.d.Gateway.Do(r.Context(), c)
	if err != nil {
		return err
	}
	defer st.Close()
	sv := c.Served()
	setServedHeaders(w.Header(), sv)
	if sv.Profile != "" {
		w.Header().Set(headerPerfLatency, string(sv.Profile))
	}
	w.Header().Set(headerStreamType, "application/json")
	ew := newEventWriter(w, s.d.Now)
	ew.start()
	ar := anthropicStreamer{id: anthropicMessageID(c.RequestID), model: id, ew: ew}
	var q blockSequencer
	s.pumpEvents(r, c, st, ew, &q, ar.emit, received, true)
	return nil
}

// anthropicStreamer renders sequenced events as Anthropic stream events
// wrapped in chunk events.
type anthropicStreamer struct {
	id, model string
	ew        *eventWriter
	stop      llm.StopReason
	js        []byte // the Anthropic event JSON
	chunk     []byte // {"bytes":"<base64>"}
}

func (a *anthropicStreamer) emit(ev llm.Event, kind llm.BlockKind) error {
	switch ev.Type {
	case llm.EventMessageStart:
		b, _ := json.Marshal(map[string]any{"type": "message_start", "message": &anthropicResponse{
			ID: a.id, Type: "message", Role: "assistant", Model: a.model, Content: []anthropicOutBlock{},
		}})
		// stop_reason is null until message_delta.
		b = bytes.Replace(b, []byte(`"stop_reason":""`), []byte(`"stop_reason":null`), 1)
		return a.send(b)
	case llm.EventBlockStart:
		js := append(a.js[:0], `{"type":"content_block_start","index":`...)
		js = strconv.AppendInt(js, int64(ev.Index), 10)
		switch kind {
		case llm.KindToolUse:
			js = append(js, `,"content_block":{"type":"tool_use","id":`...)
			js = appendJSONString(js, ev.ToolUse.ID)
			js = append(js, `,"name":`...)
			js = appendJSONString(js, ev.ToolUse.Name)
			js = append(js, `,"input":{}}}`...)
		case llm.KindReasoning:
			js = append(js, `,"content_block":{"type":"thinking","thinking":""}}`...)
		default:
			js = append(js, `,"content_block":{"type":"text","text":""}}`...)
		}
		a.js = js
		return a.send(js)
	case llm.EventBlockDelta:
		js := append(a.js[:0], `{"type":"content_block_delta","index":`...)
		js = strconv.AppendInt(js, int64(ev.Index), 10)
		switch ev.Delta {
		case llm.DeltaToolInput:
			js = append(js, `,"delta":{"type":"input_json_delta","partial_json":`...)
		case llm.DeltaReasoning:
			js = append(js, `,"delta":{"type":"thinking_delta","thinking":`...)
		case llm.DeltaReasoningSignature:
			js = append(js, `,"delta":{"type":"signature_delta","signature":`...)
		case llm.DeltaReasoningRedacted:
			return nil // Anthropic sends redacted thinking whole, never as a delta
		default:
			js = append(js, `,"delta":{"type":"text_delta","text":`...)
		}
		js = appendJSONString(js, ev.Text)
		js = append(js, `}}`...)
		a.js = js
		return a.send(js)
	case llm.EventBlockStop:
		js := append(a.js[:0], `{"type":"content_block_stop","index":`...)
		js = strconv.AppendInt(js, int64(ev.Index), 10)
		js = append(js, '}')
		a.js = js
		return a.send(js)
	case llm.EventMessageStop:
		a.stop = ev.StopReason // sent with the usage in message_delta
	case llm.EventMetadata:
		var u llm.Usage
		if ev.Usage != nil {
			u = *ev.Usage
		}
		var met llm.Metrics
		if ev.Metrics != nil {
			met = *ev.Metrics
		}
		delta, _ := json.Marshal(map[string]any{
			"type":  "message_delta",
			"delta": map[string]any{"stop_reason": anthropicStop(a.stop), "stop_sequence": nil},
			"usage": map[string]any{"output_tokens": u.OutputTokens},
		})
		if err := a.send(delta); err != nil {
			return err
		}
		last := map[string]any{
			"type": "message_stop",
			"amazon-bedrock-invocationMetrics": invocationMetrics{
				InputTokenCount: u.InputTokens, OutputTokenCount: u.OutputTokens,
				InvocationLatency: met.LatencyMs, FirstByteLatency: met.TTFTMs,
			},
		}
		if t := routerTrace(ev.Trace); t != nil {
			last["amazon-bedrock-trace"] = t
		}
		stop, _ := json.Marshal(last)
		return a.send(stop)
	}
	return nil
}

// send writes one Anthropic event as a chunk.
func (a *anthropicStreamer) send(js []byte) error {
	c := append(a.chunk[:0], `{"bytes":"`...)
	c = base64.StdEncoding.AppendEncode(c, js)
	c = append(c, `"}`...)
	a.chunk = c
	return a.ew.Event("chunk", c)
}
