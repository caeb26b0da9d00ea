package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"

	"github.com/outcrop/outcrop/internal/llm"
)

// converseWire is the Converse / ConverseStream request body (bedrock-api.md
// §3.1). Unions stay raw until converseRequest checks that each has exactly
// one member.
type converseWire struct {
	Messages                          []messageWire             `json:"messages"`
	System                            []json.RawMessage         `json:"system"`
	InferenceConfig                   *inferenceWire            `json:"inferenceConfig"`
	ToolConfig                        *toolConfigWire           `json:"toolConfig"`
	GuardrailConfig                   *guardrailWire            `json:"guardrailConfig"`
	AdditionalModelRequestFields      json.RawMessage           `json:"additionalModelRequestFields"`
	AdditionalModelResponseFieldPaths []string                  `json:"additionalModelResponseFieldPaths"`
	PromptVariables                   map[string]promptVarWire  `json:"promptVariables"`
	RequestMetadata                   map[string]string         `json:"requestMetadata"`
	PerformanceConfig                 *struct{ Latency string } `json:"performanceConfig"`
	ServiceTier                       *struct{ Type string }    `json:"serviceTier"`
	OutputConfig                      json.RawMessage           `json:"outputConfig"`
}

type messageWire struct {
	Role    string            `json:"role"`
	Content []json.RawMessage `json:"content"`
}

type inferenceWire struct {
	MaxTokens     *int     `json:"maxTokens"`
	Temperature   *float64 `json:"temperature"`
	TopP          *float64 `json:"topP"`
	StopSequences []string `json:"stopSequences"`
}

type toolConfigWire struct {
	Tools      []json.RawMessage `json:"tools"`
	ToolChoice json.RawMessage   `json:"toolChoice"`
}

type guardrailWire struct {
	GuardrailIdentifier  string `json:"guardrailIdentifier"`
	GuardrailVersion     string `json:"guardrailVersion"`
	Trace                string `json:"trace"`
	StreamProcessingMode string `json:"streamProcessingMode"`
}

type promptVarWire struct {
	Text *string `json:"text"`
}

type sourceWire struct {
	Bytes      []byte            `json:"bytes"`
	Text       *string           `json:"text"`
	Content    []json.RawMessage `json:"content"`
	S3Location json.RawMessage   `json:"s3Location"`
}

type imageWire struct {
	Format string          `json:"format"`
	Source json.RawMessage `json:"source"`
}

type documentWire struct {
	Format    string          `json:"format"`
	Name      string          `json:"name"`
	Source    json.RawMessage `json:"source"`
	Context   string          `json:"context"`
	Citations json.RawMessage `json:"citations"`
}

type toolUseWire struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	Type      string          `json:"type"`
}

type toolResultWire struct {
	ToolUseID string            `json:"toolUseId"`
	Content   []json.RawMessage `json:"content"`
	Status    string            `json:"status"`
	Type      string            `json:"type"`
}

type cachePointWire struct {
	Type string `json:"type"`
	TTL  string `json:"ttl"`
}

type toolSpecWire struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"inputSchema"`
	Strict      bool            `json:"strict"`
}

// Field constraints from the Bedrock service model.
var (
	toolNameRE  = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	toolUseIDRE = regexp.MustCompile(`^[a-zA-Z0-9_.:-]{1,64}$`)
)

const (
	maxStopSequences = 2500
	maxMetadata      = 16
	maxResponsePaths = 10
)

// bedrockInvalid returns a ValidationException with a formatted message.
func bedrockInvalid(format string, args ...any) error {
	return llm.Errorf(llm.KindValidation, format, args...)
}

// constraint returns the ValidationException real Bedrock phrases as
// "1 validation error detected: Value at 'path' failed to satisfy constraint: …".
func constraint(path, what string) error {
	return bedrockInvalid("1 validation error detected: Value at '%s' failed to satisfy constraint: %s", path, what)
}

// unionMember checks that raw is a JSON object with exactly one member and
// returns its name and value. It scans raw in place instead of building a
// map, since every content block of every message passes through here.
func unionMember(raw json.RawMessage, path string) (string, json.RawMessage, error) {
	key, val, n, ok := scanObject(raw)
	if !ok {
		return "", nil, bedrockInvalid("Malformed input request: %s must be an object with exactly one member", path)
	}
	if n != 1 {
		return "", nil, bedrockInvalid("Malformed input request: %s must have exactly one member set, found %d", path, n)
	}
	if bytes.Equal(val, []byte("null")) {
		return "", nil, bedrockInvalid("Malformed input request: %s.%s must not be null", path, key)
	}
	return key, val, nil
}

// scanObject reads the JSON object b and returns its first member and the
// number of members; ok is false when b is not an object. Keys with escapes
// are unquoted with encoding/json; values are returned as sub-slices.
func scanObject(b []byte) (key string, val []byte, n int, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return "", nil, 0, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return "", nil, 0, skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return "", nil, 0, false
		}
		keyStart := i
		end, escaped := scanString(b, i)
		if end < 0 {
			return "", nil, 0, false
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return "", nil, 0, false
		}
		i = skipSpace(b, i+1)
		vEnd := skipValue(b, i)
		if vEnd < 0 {
			return "", nil, 0, false
		}
		if n == 0 {
			if escaped {
				if json.Unmarshal(b[keyStart:end], &key) != nil {
					return "", nil, 0, false
				}
			} else {
				key = string(b[keyStart+1 : end-1])
			}
			val = b[i:vEnd]
		}
		n++
		i = skipSpace(b, vEnd)
		if i >= len(b) {
			return "", nil, 0, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return key, val, n, skipSpace(b, i+1) == len(b)
		default:
			return "", nil, 0, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the index after the string starting at b[i] (a
// quote), or -1, and whether it needs unquoting by encoding/json: it holds
// escapes or non-ASCII bytes (which may be invalid UTF-8, replaced by
// U+FFFD).
func scanString(b []byte, i int) (int, bool) {
	unquote := false
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '\\':
			unquote = true
			j++
		case c == '"':
			return j + 1, unquote
		case c >= 0x80:
			unquote = true
		}
	}
	return -1, unquote
}

// skipValue returns the index after the JSON value starting at b[i], or -1.
// It checks nesting and strings, not the full grammar: values reach it
// from encoding/json, which has validated them.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := scanString(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := scanString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// decodeMember decodes the value of a union member or nested field, naming
// the path in type errors.
func decodeMember(raw json.RawMessage, path string, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			field := path
			if te.Field != "" {
				field += "." + te.Field
			}
			return bedrockInvalid("Malformed input request: %s must be %s, not %s", field, jsonTypeName(te.Type.Kind().String()), te.Value)
		}
		return bedrockInvalid("Malformed input request: %s: %v", path, err)
	}
	return nil
}

// decodeConverse parses and validates a Converse request body into the
// neutral request. It never panics on any input.
func decodeConverse(body []byte, model string, stream bool) (*llm.Request, error) {
	var w converseWire
	if err := DecodeJSON(body, &w); err != nil {
		return nil, err
	}
	return w.request(model, stream)
}

func (w *converseWire) request(model string, stream bool) (*llm.Request, error) {
	req := &llm.Request{Model: model}
	var err error
	if req.System, err = systemBlocks(w.System); err != nil {
		return nil, err
	}
	if len(w.Messages) == 0 {
		return nil, bedrockInvalid("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	if req.Messages, err = messages(w.Messages, w.ToolConfig != nil); err != nil {
		return nil, err
	}
	if err := w.inference(req); err != nil {
		return nil, err
	}
	if w.ToolConfig != nil {
		if req.Tools, err = toolConfig(w.ToolConfig); err != nil {
			return nil, err
		}
	}
	if g := w.GuardrailConfig; g != nil {
		if g.GuardrailIdentifier == "" || g.GuardrailVersion == "" {
			return nil, bedrockInvalid("guardrailConfig requires guardrailIdentifier and guardrailVersion")
		}
		switch g.Trace {
		case "", "enabled", "disabled", "enabled_full":
		default:
			return nil, constraint("guardrailConfig.trace", "Member must satisfy enum value set: [enabled, disabled, enabled_full]")
		}
		switch g.StreamProcessingMode {
		case "":
		case "sync", "async":
			if !stream {
				return nil, bedrockInvalid("guardrailConfig.streamProcessingMode is only valid for ConverseStream")
			}
		default:
			return nil, constraint("guardrailConfig.streamProcessingMode", "Member must satisfy enum value set: [sync, async]")
		}
		req.Guardrail = &llm.GuardrailConfig{ID: g.GuardrailIdentifier, Version: g.GuardrailVersion, Trace: g.Trace, StreamMode: g.StreamProcessingMode}
	}
	if a := bytes.TrimSpace(w.AdditionalModelRequestFields); len(a) > 0 && !bytes.Equal(a, []byte("null")) {
		if a[0] != '{' {
			return nil, bedrockInvalid("Malformed input request: additionalModelRequestFields must be a JSON object")
		}
		req.Additional = json.RawMessage(a)
	}
	if len(w.AdditionalModelResponseFieldPaths) > maxResponsePaths {
		return nil, constraint("additionalModelResponseFieldPaths", "Member must have length less than or equal to 10")
	}
	for i, p := range w.AdditionalModelResponseFieldPaths {
		if p == "" || p[0] != '/' {
			return nil, constraint("additionalModelResponseFieldPaths."+strconv.Itoa(i), "Member must be a JSON Pointer starting with '/'")
		}
	}
	req.AdditionalResponsePaths = w.AdditionalModelResponseFieldPaths
	if len(w.RequestMetadata) > maxMetadata {
		return nil, constraint("requestMetadata", "Member must have length less than or equal to 16")
	}
	req.Metadata = w.RequestMetadata
	if len(w.PromptVariables) > 0 {
		req.PromptVariables = make(map[string]string, len(w.PromptVariables))
		for k, v := range w.PromptVariables {
			if v.Text == nil {
				return nil, bedrockInvalid("Malformed input request: promptVariables.%s must have exactly one member set, found 0", k)
			}
			req.PromptVariables[k] = *v.Text
		}
	}
	if p := w.PerformanceConfig; p != nil {
		switch p.Latency {
		case "standard", "optimized":
			req.Performance = llm.Latency(p.Latency)
		case "":
		default:
			return nil, constraint("performanceConfig.latency", "Member must satisfy enum value set: [standard, optimized]")
		}
	}
	if t := w.ServiceTier; t != nil {
		switch t.Type {
		case "priority", "default", "flex", "reserved":
		default:
			return nil, constraint("serviceTier.type", "Member must satisfy enum value set: [priority, default, flex, reserved]")
		}
	}
	if len(bytes.TrimSpace(w.OutputConfig)) > 0 && !bytes.Equal(bytes.TrimSpace(w.OutputConfig), []byte("null")) {
		return nil, bedrockInvalid("outputConfig is not supported by this model")
	}
	return req, nil
}

func (w *converseWire) inference(req *llm.Request) error {
	ic := w.InferenceConfig
	if ic == nil {
		return nil
	}
	if ic.MaxTokens != nil && *ic.MaxTokens < 1 {
		return constraint("inferenceConfig.maxTokens", "Member must have value greater than or equal to 1")
	}
	if t := ic.Temperature; t != nil && (*t < 0 || *t > 1) {
		return constraint("inferenceConfig.temperature", "Member must have value between 0 and 1")
	}
	if p := ic.TopP; p != nil && (*p < 0 || *p > 1) {
		return constraint("inferenceConfig.topP", "Member must have value between 0 and 1")
	}
	if len(ic.StopSequences) > maxStopSequences {
		return constraint("inferenceConfig.stopSequences", "Member must have length less than or equal to 2500")
	}
	for i, s := range ic.StopSequences {
		if s == "" {
			return constraint("inferenceConfig.stopSequences."+strconv.Itoa(i), "Member must have length greater than or equal to 1")
		}
	}
	req.Inference = llm.InferenceConfig{MaxTokens: ic.MaxTokens, Temperature: ic.Temperature, TopP: ic.TopP, StopSequences: ic.StopSequences}
	return nil
}

func systemBlocks(raw []json.RawMessage) ([]llm.Block, error) {
	var out []llm.Block
	for i, r := range raw {
		path := "system." + strconv.Itoa(i)
		k, v, err := unionMember(r, path)
		if err != nil {
			return nil, err
		}
		switch k {
		case "text":
			var s string
			if err := decodeMember(v, path+".text", &s); err != nil {
				return nil, err
			}
			if s == "" {
				return nil, constraint(path+".text", "Member must have length greater than or equal to 1")
			}
			out = append(out, llm.TextBlock(s))
		case "guardContent":
			b, err := guardBlock(v, path+".guardContent")
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		case "cachePoint":
			b, err := cachePointBlock(v, path+".cachePoint")
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		default:
			return nil, bedrockInvalid("Malformed input request: %s has unknown member %q (expected text, guardContent or cachePoint)", path, k)
		}
	}
	return out, nil
}

// messages converts and checks the conversation: roles alternate starting
// with user, content is never empty, and every toolResult answers a toolUse
// of the assistant turn before it (and every such toolUse is answered).
func messages(in []messageWire, haveTools bool) ([]llm.Message, error) {
	out := make([]llm.Message, len(in))
	for i, m := range in {
		path := "messages." + strconv.Itoa(i)
		switch m.Role {
		case "user", "assistant":
		case "":
			return nil, constraint(path+".member.role", "Member must not be null")
		default:
			return nil, constraint(path+".member.role", "Member must satisfy enum value set: [user, assistant]")
		}
		if i == 0 && m.Role != "user" {
			return nil, bedrockInvalid("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
		}
		if i > 0 && m.Role == in[i-1].Role {
			return nil, bedrockInvalid("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.")
		}
		if len(m.Content) == 0 {
			return nil, constraint(path+".member.content", "Member must have length greater than or equal to 1")
		}
		blocks := make([]llm.Block, 0, len(m.Content))
		for j, raw := range m.Content {
			b, err := contentBlock(raw, path+".content."+strconv.Itoa(j), llm.Role(m.Role))
			if err != nil {
				return nil, err
			}
			if (b.Kind == llm.KindToolUse || b.Kind == llm.KindToolResult) && !haveTools {
				return nil, bedrockInvalid("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
			}
			blocks = append(blocks, b)
		}
		out[i] = llm.Message{Role: llm.Role(m.Role), Content: blocks}
	}
	return out, checkToolPairs(out)
}

func checkToolPairs(ms []llm.Message) error {
	for i, m := range ms {
		if m.Role != llm.RoleUser {
			continue
		}
		asked := map[string]bool{}
		if i > 0 {
			for _, b := range ms[i-1].Content {
				if b.Kind == llm.KindToolUse {
					asked[b.ToolUse.ID] = true
				}
			}
		}
		answered := map[string]bool{}
		for _, b := range m.Content {
			if b.Kind != llm.KindToolResult {
				continue
			}
			id := b.ToolResult.ToolUseID
			if !asked[id] {
				return bedrockInvalid("messages.%d.content contains a toolResult block with toolUseId %s that does not match any toolUse block of the previous assistant turn.", i, id)
			}
			if answered[id] {
				return bedrockInvalid("messages.%d.content contains more than one toolResult block for toolUseId %s.", i, id)
			}
			answered[id] = true
		}
		for id := range asked {
			if !answered[id] {
				return bedrockInvalid("Expected toolResult blocks at messages.%d.content for the following Ids: %s", i, id)
			}
		}
	}
	return nil
}

// contentBlock converts one ContentBlock union.
func contentBlock(raw json.RawMessage, path string, role llm.Role) (llm.Block, error) {
	k, v, err := unionMember(raw, path)
	if err != nil {
		return llm.Block{}, err
	}
	path += "." + k
	switch k {
	case "text":
		var s string
		if err := decodeMember(v, path, &s); err != nil {
			return llm.Block{}, err
		}
		if role == llm.RoleUser && len(bytes.TrimSpace([]byte(s))) == 0 {
			return llm.Block{}, bedrockInvalid("The text field in the ContentBlock object at %s is blank. Add text to the text field, and try again.", path)
		}
		return llm.TextBlock(s), nil
	case "image":
		img, err := imageValue(v, path)
		if err != nil {
			return llm.Block{}, err
		}
		return llm.Block{Kind: llm.KindImage, Image: img}, nil
	case "document":
		d, err := documentValue(v, path)
		if err != nil {
			return llm.Block{}, err
		}
		return llm.Block{Kind: llm.KindDocument, Document: d}, nil
	case "toolUse":
		var tu toolUseWire
		if err := decodeMember(v, path, &tu); err != nil {
			return llm.Block{}, err
		}
		if !toolUseIDRE.MatchString(tu.ToolUseID) {
			return llm.Block{}, constraint(path+".toolUseId", `Member must satisfy regular expression pattern: [a-zA-Z0-9_.:-]+ and have length between 1 and 64`)
		}
		if tu.Name == "" {
			return llm.Block{}, constraint(path+".name", "Member must not be null")
		}
		in := bytes.TrimSpace(tu.Input)
		if len(in) == 0 || bytes.Equal(in, []byte("null")) {
			return llm.Block{}, constraint(path+".input", "Member must not be null")
		}
		if role != llm.RoleAssistant {
			return llm.Block{}, bedrockInvalid("%s: toolUse blocks are only allowed in assistant messages", path)
		}
		return llm.Block{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: tu.ToolUseID, Name: tu.Name, Input: json.RawMessage(in)}}, nil
	case "toolResult":
		tr, err := toolResultValue(v, path)
		if err != nil {
			return llm.Block{}, err
		}
		if role != llm.RoleUser {
			return llm.Block{}, bedrockInvalid("%s: toolResult blocks are only allowed in user messages", path)
		}
		return llm.Block{Kind: llm.KindToolResult, ToolResult: tr}, nil
	case "reasoningContent":
		rk, rv, err := unionMember(v, path)
		if err != nil {
			return llm.Block{}, err
		}
		switch rk {
		case "reasoningText":
			var rt struct {
				Text      *string `json:"text"`
				Signature string  `json:"signature"`
			}
			if err := decodeMember(rv, path+".reasoningText", &rt); err != nil {
				return llm.Block{}, err
			}
			if rt.Text == nil {
				return llm.Block{}, constraint(path+".reasoningText.text", "Member must not be null")
			}
			return llm.Block{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Text: *rt.Text, Signature: rt.Signature}}, nil
		case "redactedContent":
			var b []byte
			if err := decodeMember(rv, path+".redactedContent", &b); err != nil {
				return llm.Block{}, err
			}
			return llm.Block{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Redacted: b}}, nil
		}
		return llm.Block{}, bedrockInvalid("Malformed input request: %s has unknown member %q", path, rk)
	case "cachePoint":
		return cachePointBlock(v, path)
	case "guardContent":
		return guardBlock(v, path)
	case "video", "audio", "citationsContent", "searchResult":
		return llm.Block{}, bedrockInvalid("This model doesn't support the %s content block that you provided (%s). Try again with supported content.", k, path)
	}
	return llm.Block{}, bedrockInvalid("Malformed input request: %s: unknown content block type %q", path[:len(path)-len(k)-1], k)
}

func imageValue(v json.RawMessage, path string) (*llm.Image, error) {
	var iw imageWire
	if err := decodeMember(v, path, &iw); err != nil {
		return nil, err
	}
	switch iw.Format {
	case "png", "jpeg", "gif", "webp":
	default:
		return nil, constraint(path+".format", "Member must satisfy enum value set: [png, jpeg, gif, webp]")
	}
	src, err := sourceValue(iw.Source, path+".source")
	if err != nil {
		return nil, err
	}
	if src.Bytes == nil {
		return nil, bedrockInvalid("%s.source: only the bytes source is supported for images", path)
	}
	return &llm.Image{Format: iw.Format, Bytes: src.Bytes}, nil
}

func sourceValue(v json.RawMessage, path string) (sourceWire, error) {
	k, sv, err := unionMember(v, path)
	if err != nil {
		return sourceWire{}, err
	}
	var s sourceWire
	switch k {
	case "bytes":
		if err := decodeMember(sv, path+".bytes", &s.Bytes); err != nil {
			return s, err
		}
		if s.Bytes == nil {
			s.Bytes = []byte{}
		}
	case "text":
		var t string
		if err := decodeMember(sv, path+".text", &t); err != nil {
			return s, err
		}
		s.Text = &t
	case "content":
		if err := decodeMember(sv, path+".content", &s.Content); err != nil {
			return s, err
		}
	case "s3Location":
		return s, bedrockInvalid("%s.s3Location: Amazon S3 sources are not supported by this server; send the bytes inline", path)
	default:
		return s, bedrockInvalid("Malformed input request: %s has unknown member %q", path, k)
	}
	return s, nil
}

func documentValue(v json.RawMessage, path string) (*llm.Document, error) {
	var dw documentWire
	if err := decodeMember(v, path, &dw); err != nil {
		return nil, err
	}
	switch dw.Format {
	case "", "pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md":
	default:
		return nil, constraint(path+".format", "Member must satisfy enum value set: [pdf, csv, doc, docx, xls, xlsx, html, txt, md]")
	}
	if dw.Name == "" || len(dw.Name) > 200 {
		return nil, constraint(path+".name", "Member must have length between 1 and 200")
	}
	src, err := sourceValue(dw.Source, path+".source")
	if err != nil {
		return nil, err
	}
	d := &llm.Document{Format: dw.Format, Name: dw.Name, Bytes: src.Bytes}
	switch {
	case src.Text != nil:
		d.Text = *src.Text
	case src.Content != nil:
		var buf bytes.Buffer
		for i, c := range src.Content {
			var t struct {
				Text string `json:"text"`
			}
			if err := decodeMember(c, fmt.Sprintf("%s.source.content.%d", path, i), &t); err != nil {
				return nil, err
			}
			if i > 0 {
				buf.WriteByte('\n')
			}
			buf.WriteString(t.Text)
		}
		d.Text = buf.String()
	}
	return d, nil
}

func toolResultValue(v json.RawMessage, path string) (*llm.ToolResult, error) {
	var tw toolResultWire
	if err := decodeMember(v, path, &tw); err != nil {
		return nil, err
	}
	if !toolUseIDRE.MatchString(tw.ToolUseID) {
		return nil, constraint(path+".toolUseId", `Member must satisfy regular expression pattern: [a-zA-Z0-9_.:-]+ and have length between 1 and 64`)
	}
	switch tw.Status {
	case "", "success", "error":
	default:
		return nil, constraint(path+".status", "Member must satisfy enum value set: [success, error]")
	}
	if tw.Content == nil {
		return nil, constraint(path+".content", "Member must not be null")
	}
	tr := &llm.ToolResult{ToolUseID: tw.ToolUseID, Status: tw.Status}
	for i, raw := range tw.Content {
		p := path + ".content." + strconv.Itoa(i)
		k, cv, err := unionMember(raw, p)
		if err != nil {
			return nil, err
		}
		var c llm.ToolResultContent
		switch k {
		case "json":
			c.JSON = json.RawMessage(bytes.TrimSpace(cv))
		case "text":
			if err := decodeMember(cv, p+".text", &c.Text); err != nil {
				return nil, err
			}
		case "image":
			if c.Image, err = imageValue(cv, p+".image"); err != nil {
				return nil, err
			}
		case "document":
			if c.Document, err = documentValue(cv, p+".document"); err != nil {
				return nil, err
			}
		default:
			return nil, bedrockInvalid("This model doesn't support the %s tool result content that you provided (%s).", k, p)
		}
		tr.Content = append(tr.Content, c)
	}
	return tr, nil
}

func cachePointBlock(v json.RawMessage, path string) (llm.Block, error) {
	var cp cachePointWire
	if err := decodeMember(v, path, &cp); err != nil {
		return llm.Block{}, err
	}
	if cp.Type != "default" {
		return llm.Block{}, constraint(path+".type", "Member must satisfy enum value set: [default]")
	}
	switch cp.TTL {
	case "", "5m", "1h":
	default:
		return llm.Block{}, constraint(path+".ttl", "Member must satisfy enum value set: [5m, 1h]")
	}
	return llm.Block{Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{TTL: cp.TTL}}, nil
}

func guardBlock(v json.RawMessage, path string) (llm.Block, error) {
	k, gv, err := unionMember(v, path)
	if err != nil {
		return llm.Block{}, err
	}
	switch k {
	case "text":
		var t struct {
			Text       *string  `json:"text"`
			Qualifiers []string `json:"qualifiers"`
		}
		if err := decodeMember(gv, path+".text", &t); err != nil {
			return llm.Block{}, err
		}
		if t.Text == nil {
			return llm.Block{}, constraint(path+".text.text", "Member must not be null")
		}
		for i, q := range t.Qualifiers {
			switch q {
			case "grounding_source", "query", "guard_content":
			default:
				return llm.Block{}, constraint(fmt.Sprintf("%s.text.qualifiers.%d", path, i), "Member must satisfy enum value set: [grounding_source, query, guard_content]")
			}
		}
		return llm.Block{Kind: llm.KindGuardContent, Guard: &llm.Guard{Text: *t.Text, Qualifiers: t.Qualifiers}}, nil
	case "image":
		img, err := imageValue(gv, path+".image")
		if err != nil {
			return llm.Block{}, err
		}
		if img.Format != "png" && img.Format != "jpeg" {
			return llm.Block{}, constraint(path+".image.format", "Member must satisfy enum value set: [png, jpeg]")
		}
		return llm.Block{Kind: llm.KindGuardContent, Guard: &llm.Guard{Image: img}}, nil
	}
	return llm.Block{}, bedrockInvalid("Malformed input request: %s has unknown member %q", path, k)
}

func toolConfig(tc *toolConfigWire) (*llm.ToolConfig, error) {
	if len(tc.Tools) == 0 {
		return nil, constraint("toolConfig.tools", "Member must have length greater than or equal to 1")
	}
	out := &llm.ToolConfig{Choice: llm.ToolChoice{Mode: llm.ToolChoiceAuto}}
	seen := map[string]bool{}
	for i, raw := range tc.Tools {
		path := "toolConfig.tools." + strconv.Itoa(i)
		k, v, err := unionMember(raw, path)
		if err != nil {
			return nil, err
		}
		switch k {
		case "toolSpec":
			var ts toolSpecWire
			if err := decodeMember(v, path+".toolSpec", &ts); err != nil {
				return nil, err
			}
			if !toolNameRE.MatchString(ts.Name) {
				return nil, constraint(path+".toolSpec.name", "Member must satisfy regular expression pattern: ^[a-zA-Z0-9_-]{1,64}$")
			}
			if seen[ts.Name] {
				return nil, bedrockInvalid("The toolConfig field has more than one tool named %s. Tool names must be unique.", ts.Name)
			}
			seen[ts.Name] = true
			if len(ts.InputSchema) == 0 {
				return nil, constraint(path+".toolSpec.inputSchema", "Member must not be null")
			}
			sk, sv, err := unionMember(ts.InputSchema, path+".toolSpec.inputSchema")
			if err != nil {
				return nil, err
			}
			if sk != "json" {
				return nil, bedrockInvalid("Malformed input request: %s.toolSpec.inputSchema has unknown member %q", path, sk)
			}
			schema := bytes.TrimSpace(sv)
			if len(schema) == 0 || schema[0] != '{' {
				return nil, bedrockInvalid("%s.toolSpec.inputSchema.json must be a JSON Schema object", path)
			}
			out.Tools = append(out.Tools, llm.Tool{Name: ts.Name, Description: ts.Description, Schema: json.RawMessage(schema), Strict: ts.Strict})
		case "cachePoint":
			if _, err := cachePointBlock(v, path+".cachePoint"); err != nil {
				return nil, err
			}
		case "systemTool":
			return nil, bedrockInvalid("%s: system tools are not supported by this model", path)
		default:
			return nil, bedrockInvalid("Malformed input request: %s has unknown member %q", path, k)
		}
	}
	if len(bytes.TrimSpace(tc.ToolChoice)) > 0 && !bytes.Equal(bytes.TrimSpace(tc.ToolChoice), []byte("null")) {
		k, v, err := unionMember(tc.ToolChoice, "toolConfig.toolChoice")
		if err != nil {
			return nil, err
		}
		switch k {
		case "auto":
			out.Choice.Mode = llm.ToolChoiceAuto
		case "any":
			out.Choice.Mode = llm.ToolChoiceAny
		case "tool":
			var t struct {
				Name string `json:"name"`
			}
			if err := decodeMember(v, "toolConfig.toolChoice.tool", &t); err != nil {
				return nil, err
			}
			if !seen[t.Name] {
				return nil, bedrockInvalid("toolConfig.toolChoice.tool.name %q does not name a tool in toolConfig.tools", t.Name)
			}
			out.Choice = llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: t.Name}
		default:
			return nil, bedrockInvalid("Malformed input request: toolConfig.toolChoice has unknown member %q", k)
		}
	}
	return out, nil
}
