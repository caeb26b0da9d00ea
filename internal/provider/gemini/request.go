package gemini

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/outcrop/outcrop/internal/llm"
)

type content struct {
	Role  string `json:"role,omitempty"`
	Parts []part `json:"parts"`
}

// part is one member of a content: exactly one of the data members is set.
type part struct {
	Text             string            `json:"text,omitempty"`
	Thought          bool              `json:"thought,omitempty"`
	InlineData       *blob             `json:"inlineData,omitempty"`
	FunctionCall     *functionCall     `json:"functionCall,omitempty"`
	FunctionResponse *functionResponse `json:"functionResponse,omitempty"`
	ThoughtSignature string            `json:"thoughtSignature,omitempty"`
}

type blob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type functionCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

type functionResponse struct {
	ID       string          `json:"id,omitempty"`
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

type functionDeclaration struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

type generateRequest struct {
	Contents          []content      `json:"contents"`
	SystemInstruction *content       `json:"systemInstruction,omitempty"`
	Tools             []toolSet      `json:"tools,omitempty"`
	ToolConfig        *toolConfig    `json:"toolConfig,omitempty"`
	GenerationConfig  map[string]any `json:"generationConfig,omitempty"`
}

type toolSet struct {
	FunctionDeclarations []functionDeclaration `json:"functionDeclarations"`
}

type toolConfig struct {
	FunctionCallingConfig struct {
		Mode                 string   `json:"mode"`
		AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
	} `json:"functionCallingConfig"`
}

// topLevel are the additionalModelRequestFields members that belong at the
// top of the request; any other member is a generationConfig field.
var topLevel = map[string]bool{"safetySettings": true, "cachedContent": true, "labels": true, "toolConfig": true, "tools": true}

// effortBudgets maps OpenAI's reasoning_effort to thinking budgets.
var effortBudgets = map[string]int{"minimal": 512, "low": 1024, "medium": 8192, "high": 24576}

// requestBody translates req into a generateContent body.
func (p *Provider) requestBody(req *llm.Request) ([]byte, error) {
	b, err := p.build(req)
	if err != nil {
		return nil, err
	}
	return b.encode()
}

// built is a translated request before it is encoded.
type built struct {
	req generateRequest
	top map[string]json.RawMessage // top-level members from additionalModelRequestFields
	// cacheAt is how many leading contents the request's last cache point
	// covers (a point inside a message covers the messages before it);
	// sysCache says the system prompt has one. cacheTTL is the point's TTL.
	cacheAt  int
	sysCache bool
	cacheTTL string
}

// encode is the generateContent body.
func (b *built) encode() ([]byte, error) {
	body, err := json.Marshal(b.req)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindValidation, Message: "the request cannot be encoded", Err: err}
	}
	if len(b.top) == 0 {
		return body, nil
	}
	var m map[string]json.RawMessage
	json.Unmarshal(body, &m)
	for k, v := range b.top {
		m[k] = v
	}
	return json.Marshal(m)
}

// build translates req.
func (p *Provider) build(req *llm.Request) (*built, error) {
	if len(req.Messages) == 0 {
		return nil, llm.Errorf(llm.KindValidation, "messages: at least one message is required")
	}
	var out generateRequest
	b := &built{}
	if sys := req.SystemText(); sys != "" {
		out.SystemInstruction = &content{Parts: []part{{Text: sys}}}
	}
	for _, blk := range req.System {
		if blk.Kind == llm.KindCachePoint && out.SystemInstruction != nil {
			b.sysCache = true
			b.cacheTTL = blk.CachePoint.TTL
		}
	}
	// Function responses name the function, not the call: remember
	// which call id had which name.
	names := map[string]string{}
	for i, m := range req.Messages {
		role := "user"
		switch m.Role {
		case llm.RoleUser:
		case llm.RoleAssistant:
			role = "model"
		default:
			return nil, llm.Errorf(llm.KindValidation, "messages.%d.role: %q is not user or assistant", i, m.Role)
		}
		c := content{Role: role}
		sig := "" // a thought signature waiting for the part it belongs to
		for j, blk := range m.Content {
			if blk.Kind == llm.KindCachePoint {
				// The point covers this message when nothing but cache
				// points follows it in the message.
				b.cacheAt, b.cacheTTL = len(out.Contents), blk.CachePoint.TTL
				if onlyCachePoints(m.Content[j+1:]) {
					b.cacheAt++
				}
				continue
			}
			pt, ok, err := p.part(blk, names)
			if err != nil {
				return nil, llm.Errorf(llm.KindValidation, "messages.%d.content.%d: %v", i, j, err)
			}
			if blk.Kind == llm.KindReasoning && blk.Reasoning.Signature != "" {
				sig = blk.Reasoning.Signature
				continue
			}
			if !ok {
				continue
			}
			if sig != "" {
				pt.ThoughtSignature, sig = sig, ""
			}
			c.Parts = append(c.Parts, pt)
		}
		if len(c.Parts) == 0 {
			return nil, llm.Errorf(llm.KindValidation, "messages.%d.content: no content Gemini accepts", i)
		}
		out.Contents = append(out.Contents, c)
	}
	gc := map[string]any{}
	inf := req.Inference
	if inf.MaxTokens != nil {
		gc["maxOutputTokens"] = *inf.MaxTokens
	} else if inf.MaxTokensCap > 0 {
		gc["maxOutputTokens"] = inf.MaxTokensCap
	}
	if inf.Temperature != nil {
		gc["temperature"] = *inf.Temperature
	}
	if inf.TopP != nil {
		gc["topP"] = *inf.TopP
	}
	if inf.TopK != nil {
		gc["topK"] = *inf.TopK
	}
	if inf.Seed != nil {
		gc["seed"] = *inf.Seed
	}
	if len(inf.StopSequences) > 0 {
		gc["stopSequences"] = inf.StopSequences
	}
	if req.Tools != nil && len(req.Tools.Tools) > 0 {
		var decls []functionDeclaration
		for _, t := range req.Tools.Tools {
			decls = append(decls, functionDeclaration{Name: t.Name, Description: t.Description, Parameters: t.Schema})
		}
		out.Tools = []toolSet{{FunctionDeclarations: decls}}
		tc := &toolConfig{}
		switch req.Tools.Choice.Mode {
		case llm.ToolChoiceAny:
			tc.FunctionCallingConfig.Mode = "ANY"
		case llm.ToolChoiceTool:
			tc.FunctionCallingConfig.Mode = "ANY"
			tc.FunctionCallingConfig.AllowedFunctionNames = []string{req.Tools.Choice.Name}
		case llm.ToolChoiceNone:
			tc.FunctionCallingConfig.Mode = "NONE"
		default:
			tc.FunctionCallingConfig.Mode = "AUTO"
		}
		out.ToolConfig = tc
	}
	top, err := p.additional(req.Additional, gc)
	if err != nil {
		return nil, err
	}
	if len(gc) > 0 {
		out.GenerationConfig = gc
	}
	b.req, b.top = out, top
	return b, nil
}

// onlyCachePoints reports whether every block of bs is a cache point.
func onlyCachePoints(bs []llm.Block) bool {
	for _, b := range bs {
		if b.Kind != llm.KindCachePoint {
			return false
		}
	}
	return true
}

// additional sorts additionalModelRequestFields: Anthropic-style thinking
// and OpenAI's reasoning_effort become thinkingConfig, top-level members are
// returned, and everything else joins generationConfig.
func (p *Provider) additional(raw json.RawMessage, gc map[string]any) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var extra map[string]json.RawMessage
	if err := json.Unmarshal(raw, &extra); err != nil {
		return nil, llm.Errorf(llm.KindValidation, "additionalModelRequestFields: must be a JSON object")
	}
	top := map[string]json.RawMessage{}
	budget := -1
	for k, v := range extra {
		switch {
		case k == "thinking":
			var th struct {
				Type   string `json:"type"`
				Budget int    `json:"budget_tokens"`
			}
			if json.Unmarshal(v, &th) != nil {
				return nil, llm.Errorf(llm.KindValidation, "additionalModelRequestFields.thinking: not an object")
			}
			if th.Type == "enabled" {
				budget = th.Budget
			} else {
				budget = 0
			}
		case k == "reasoning_effort":
			var e string
			json.Unmarshal(v, &e)
			b, ok := effortBudgets[e]
			switch {
			case ok:
				budget = b
			case e == "none":
				budget = 0
			default:
				return nil, llm.Errorf(llm.KindValidation, "reasoning_effort: %q is not minimal, low, medium, high or none", e)
			}
		case k == "generationConfig":
			var g map[string]any
			if json.Unmarshal(v, &g) != nil {
				return nil, llm.Errorf(llm.KindValidation, "additionalModelRequestFields.generationConfig: not an object")
			}
			for gk, gv := range g {
				gc[gk] = gv
			}
		case topLevel[k]:
			top[k] = v
		default:
			var any1 any
			if json.Unmarshal(v, &any1) != nil {
				return nil, llm.Errorf(llm.KindValidation, "additionalModelRequestFields.%s: not JSON", k)
			}
			gc[k] = any1
		}
	}
	if budget >= 0 {
		if _, set := gc["thinkingConfig"]; !set {
			tc := map[string]any{"thinkingBudget": budget}
			if budget != 0 && !p.cfg.ExcludeThoughts {
				tc["includeThoughts"] = true
			}
			gc["thinkingConfig"] = tc
		}
	}
	return top, nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// part translates one block; ok is false when the block has no Gemini form.
func (p *Provider) part(b llm.Block, names map[string]string) (part, bool, error) {
	switch b.Kind {
	case llm.KindText:
		return part{Text: b.Text}, b.Text != "", nil
	case llm.KindGuardContent:
		if b.Guard != nil && b.Guard.Text != "" {
			return part{Text: b.Guard.Text}, true, nil
		}
	case llm.KindImage:
		f := strings.ToLower(b.Image.Format)
		if f == "jpg" {
			f = "jpeg"
		}
		switch f {
		case "png", "jpeg", "webp", "gif", "heic", "heif":
		default:
			return part{}, false, fmt.Errorf("image format %q is not supported", b.Image.Format)
		}
		return part{InlineData: &blob{MimeType: "image/" + f, Data: b64(b.Image.Bytes)}}, true, nil
	case llm.KindDocument:
		d := b.Document
		switch strings.ToLower(d.Format) {
		case "pdf":
			return part{InlineData: &blob{MimeType: "application/pdf", Data: b64(d.Bytes)}}, true, nil
		case "txt", "md", "csv", "html", "":
			text := d.Text
			if text == "" {
				text = string(d.Bytes)
			}
			return part{Text: text}, text != "", nil
		}
		return part{}, false, fmt.Errorf("document format %q is not supported (pdf or text)", d.Format)
	case llm.KindToolUse:
		args := b.ToolUse.Input
		if len(bytes.TrimSpace(args)) == 0 {
			args = json.RawMessage(`{}`)
		}
		if !jsonObject(args) {
			return part{}, false, fmt.Errorf("toolUse.input must be a JSON object")
		}
		names[b.ToolUse.ID] = b.ToolUse.Name
		fc := &functionCall{Name: b.ToolUse.Name, Args: args}
		if !strings.HasPrefix(b.ToolUse.ID, syntheticPrefix) {
			fc.ID = b.ToolUse.ID
		}
		return part{FunctionCall: fc}, true, nil
	case llm.KindToolResult:
		tr := b.ToolResult
		name := names[tr.ToolUseID]
		if name == "" {
			name = tr.ToolUseID
		}
		resp := toolResponse(tr)
		fr := &functionResponse{Name: name, Response: resp}
		if !strings.HasPrefix(tr.ToolUseID, syntheticPrefix) {
			fr.ID = tr.ToolUseID
		}
		return part{FunctionResponse: fr}, true, nil
	}
	return part{}, false, nil
}

// toolResponse builds a functionResponse.response object: a single JSON
// object result as is, anything else under "result" ("error" when the
// tool failed).
func toolResponse(tr *llm.ToolResult) json.RawMessage {
	key := "result"
	if tr.Status == "error" {
		key = "error"
	}
	if len(tr.Content) == 1 && jsonObject(tr.Content[0].JSON) && tr.Status != "error" {
		return tr.Content[0].JSON
	}
	var texts []string
	for _, c := range tr.Content {
		texts = append(texts, c.String())
	}
	v, _ := json.Marshal(map[string]string{key: strings.Join(texts, "\n")})
	return v
}
