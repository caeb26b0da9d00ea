// Package llm is Outcrop's provider-neutral model of one inference call.
//
// The shapes follow Amazon Bedrock's Converse API (messages made of content
// blocks, a system prompt, inference and tool configuration, usage with cache
// tokens, stop reasons) because Converse is the richest of the wire formats
// Outcrop speaks; the OpenAI and Anthropic formats map into it without loss for
// everything Outcrop supports. Wire formats never leak past internal/httpapi
// and provider formats never leak past internal/provider: this package is the
// only thing pipeline stages and providers share.
//
// llm imports nothing else from Outcrop.
package llm

import (
	"encoding/json"
	"strings"
)

// Role is the author of a message.
type Role string

// Roles a message may have. System prompts are not messages; they live in
// Request.System.
const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one turn of a conversation.
type Message struct {
	Role    Role
	Content []Block
}

// BlockKind says which member of a Block is set.
type BlockKind uint8

// The kinds of content block, matching Bedrock's ContentBlock union.
const (
	KindText BlockKind = iota + 1
	KindImage
	KindDocument
	KindToolUse
	KindToolResult
	KindReasoning
	KindCachePoint
	KindGuardContent
)

var kindNames = [...]string{"", "text", "image", "document", "toolUse", "toolResult", "reasoningContent", "cachePoint", "guardContent"}

// String returns the Bedrock member name of the kind.
func (k BlockKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Block is one content block. Kind says which of the other fields is
// meaningful; the rest are zero.
type Block struct {
	Kind       BlockKind
	Text       string      // KindText
	Image      *Image      // KindImage
	Document   *Document   // KindDocument
	ToolUse    *ToolUse    // KindToolUse
	ToolResult *ToolResult // KindToolResult
	Reasoning  *Reasoning  // KindReasoning
	CachePoint *CachePoint // KindCachePoint
	Guard      *Guard      // KindGuardContent
}

// TextBlock returns a text block.
func TextBlock(s string) Block { return Block{Kind: KindText, Text: s} }

// Image is an image given inline.
type Image struct {
	Format string // png, jpeg, gif, webp
	Bytes  []byte
}

// Document is a document given inline, either as bytes or as text.
type Document struct {
	Format string // pdf, csv, txt, md, html, …
	Name   string
	Bytes  []byte
	Text   string
}

// ToolUse is the model's request to call a tool.
type ToolUse struct {
	ID    string
	Name  string
	Input json.RawMessage // a JSON value, usually an object
}

// ToolResult is the caller's answer to a ToolUse.
type ToolResult struct {
	ToolUseID string
	Content   []ToolResultContent
	Status    string // "success", "error" or empty
}

// ToolResultContent is one part of a tool result: JSON, text, image or document.
type ToolResultContent struct {
	JSON     json.RawMessage
	Text     string
	Image    *Image
	Document *Document
}

// String renders the content as text, JSON as compact JSON.
func (c ToolResultContent) String() string {
	switch {
	case c.JSON != nil:
		return string(c.JSON)
	case c.Image != nil:
		return "[image]"
	case c.Document != nil:
		if c.Document.Text != "" {
			return c.Document.Text
		}
		return "[document " + c.Document.Name + "]"
	}
	return c.Text
}

// Reasoning is the model's visible chain of thought, or redacted bytes.
type Reasoning struct {
	Text      string
	Signature string
	Redacted  []byte
}

// CachePoint marks the end of a cacheable prefix.
type CachePoint struct {
	TTL string // "5m" (default) or "1h"
}

// Guard is content that a guardrail must evaluate (Bedrock guardContent).
type Guard struct {
	Text       string
	Qualifiers []string // grounding_source, query, guard_content
	Image      *Image
}

// InferenceConfig holds the sampling parameters. Nil pointers mean "the
// model's default".
type InferenceConfig struct {
	MaxTokens *int
	// MaxTokensCap bounds the output of a request that sets no MaxTokens:
	// the model's limit, set by the gateway (quota.CheckRequest). The
	// provider's own default applies when it is lower; 0 means no cap.
	MaxTokensCap  int
	Temperature   *float64
	TopP          *float64
	TopK          *int
	Seed          *int64
	StopSequences []string
}

// Tool is a function the model may call.
type Tool struct {
	Name        string
	Description string
	Schema      json.RawMessage // JSON Schema of the input
	Strict      bool
}

// ToolChoiceMode says how the model must use tools.
type ToolChoiceMode string

// Tool choice modes, as in Bedrock: auto (model decides), any (must call some
// tool), tool (must call the named tool). "none" is OpenAI's; providers that
// cannot express it drop the tools instead.
const (
	ToolChoiceAuto ToolChoiceMode = "auto"
	ToolChoiceAny  ToolChoiceMode = "any"
	ToolChoiceTool ToolChoiceMode = "tool"
	ToolChoiceNone ToolChoiceMode = "none"
)

// ToolChoice constrains tool use.
type ToolChoice struct {
	Mode ToolChoiceMode
	Name string // for ToolChoiceTool
}

// ToolConfig is the set of tools offered to the model.
type ToolConfig struct {
	Tools  []Tool
	Choice ToolChoice
}

// Latency is the performance profile a request asks for.
type Latency string

// Performance profiles, as in Bedrock's performanceConfig.latency.
const (
	LatencyStandard  Latency = "standard"
	LatencyOptimized Latency = "optimized"
)

// GuardrailConfig asks for a guardrail to be applied to the call.
type GuardrailConfig struct {
	ID         string
	Version    string
	Trace      string // enabled, disabled, enabled_full
	StreamMode string // sync, async (streams only)
}

// Request is one inference call in neutral form.
type Request struct {
	// Model is the model ID the client asked for (an Outcrop model ID, an
	// alias or an ARN); providers receive their upstream name separately.
	Model     string
	System    []Block // text, guardContent and cachePoint blocks
	Messages  []Message
	Inference InferenceConfig
	Tools     *ToolConfig
	// Additional holds additionalModelRequestFields: a JSON object merged
	// into the provider's native request.
	Additional json.RawMessage
	// AdditionalResponsePaths are JSON Pointers into the native response
	// whose values are returned in Response.Additional.
	AdditionalResponsePaths []string
	Performance             Latency
	Metadata                map[string]string
	Guardrail               *GuardrailConfig
	PromptVariables         map[string]string
}

// SystemText joins the text system blocks with blank lines.
func (r *Request) SystemText() string {
	var parts []string
	for _, b := range r.System {
		if b.Kind == KindText {
			parts = append(parts, b.Text)
		} else if b.Kind == KindGuardContent && b.Guard != nil && b.Guard.Text != "" {
			parts = append(parts, b.Guard.Text)
		}
	}
	return strings.Join(parts, "\n\n")
}

// Clone returns a copy of r whose slices and maps may be changed without
// affecting r. Blocks are copied shallowly.
func (r *Request) Clone() *Request {
	c := *r
	c.System = append([]Block(nil), r.System...)
	c.Messages = make([]Message, len(r.Messages))
	for i, m := range r.Messages {
		c.Messages[i] = Message{Role: m.Role, Content: append([]Block(nil), m.Content...)}
	}
	c.Inference.StopSequences = append([]string(nil), r.Inference.StopSequences...)
	if r.Tools != nil {
		t := *r.Tools
		t.Tools = append([]Tool(nil), r.Tools.Tools...)
		c.Tools = &t
	}
	if r.Metadata != nil {
		c.Metadata = make(map[string]string, len(r.Metadata))
		for k, v := range r.Metadata {
			c.Metadata[k] = v
		}
	}
	return &c
}

// StopReason says why generation ended.
type StopReason string

// Stop reasons, as Bedrock names them.
const (
	StopEndTurn              StopReason = "end_turn"
	StopToolUse              StopReason = "tool_use"
	StopMaxTokens            StopReason = "max_tokens"
	StopSequence             StopReason = "stop_sequence"
	StopGuardrailIntervened  StopReason = "guardrail_intervened"
	StopContentFiltered      StopReason = "content_filtered"
	StopContextWindowExceded StopReason = "model_context_window_exceeded"
)

// Usage counts tokens. InputTokens includes the cached ones:
// InputTokens = uncached + CacheReadInputTokens + CacheWriteInputTokens.
// OutputTokens includes the reasoning ones: ReasoningTokens is the part of
// OutputTokens the model spent thinking, when the upstream says (OpenAI's
// completion_tokens_details.reasoning_tokens, Gemini's thoughtsTokenCount);
// 0 when it does not.
type Usage struct {
	InputTokens           int
	OutputTokens          int
	CacheReadInputTokens  int
	CacheWriteInputTokens int
	ReasoningTokens       int
}

// Total returns input plus output tokens.
func (u Usage) Total() int { return u.InputTokens + u.OutputTokens }

// Response is a complete, non-streamed answer.
type Response struct {
	Message    Message
	StopReason StopReason
	Usage      Usage
	// Additional holds the values selected by Request.AdditionalResponsePaths.
	Additional json.RawMessage
	// Served says who answered; filled in by the gateway.
	Served Served
	// Metrics are filled in by the gateway.
	Metrics Metrics
	// Trace carries stage output such as guardrail assessments, as JSON
	// objects keyed by Bedrock trace member name ("guardrail", "promptRouter").
	Trace map[string]json.RawMessage
}

// Served identifies what answered a request.
type Served struct {
	Model      string  // Outcrop model ID
	Deployment string  // deployment name
	Provider   string  // provider type
	Profile    Latency // profile actually applied
	Attempts   int     // provider attempts, including hedges and retries
}

// Metrics are the latency figures of one request, as the seed's latency guide
// defines them.
type Metrics struct {
	// LatencyMs is end-to-end latency: request received to last byte produced.
	LatencyMs int64
	// TTFTMs is request received to first output token.
	TTFTMs int64
	// OTPS is output tokens per second of generation after the first token.
	OTPS float64
}
