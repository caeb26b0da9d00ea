package bedrock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/outcrop/outcrop/internal/llm"
)

// input translates req into a Converse input.
func (p *Provider) input(req *llm.Request) (*bedrockruntime.ConverseInput, error) {
	if len(req.Messages) == 0 {
		return nil, llm.Errorf(llm.KindValidation, "messages: at least one message is required")
	}
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(p.cfg.Model)}
	for i, b := range req.System {
		switch b.Kind {
		case llm.KindText:
			in.System = append(in.System, &types.SystemContentBlockMemberText{Value: b.Text})
		case llm.KindCachePoint:
			in.System = append(in.System, &types.SystemContentBlockMemberCachePoint{Value: cachePoint(b.CachePoint)})
		case llm.KindGuardContent:
			if p.cfg.Guardrails {
				in.System = append(in.System, &types.SystemContentBlockMemberGuardContent{Value: guard(b.Guard)})
			} else if b.Guard != nil && b.Guard.Text != "" {
				in.System = append(in.System, &types.SystemContentBlockMemberText{Value: b.Guard.Text})
			}
		default:
			return nil, llm.Errorf(llm.KindValidation, "system.%d: a %s block cannot be a system prompt", i, b.Kind)
		}
	}
	for i, m := range req.Messages {
		if m.Role != llm.RoleUser && m.Role != llm.RoleAssistant {
			return nil, llm.Errorf(llm.KindValidation, "messages.%d.role: %q is not user or assistant", i, m.Role)
		}
		msg := types.Message{Role: types.ConversationRole(m.Role)}
		for j, b := range m.Content {
			cb, err := p.block(b)
			if err != nil {
				return nil, llm.Errorf(llm.KindValidation, "messages.%d.content.%d: %v", i, j, err)
			}
			if cb != nil {
				msg.Content = append(msg.Content, cb)
			}
		}
		if len(msg.Content) == 0 {
			return nil, llm.Errorf(llm.KindValidation, "messages.%d.content: empty", i)
		}
		in.Messages = append(in.Messages, msg)
	}
	inf := req.Inference
	if inf.MaxTokens != nil || inf.Temperature != nil || inf.TopP != nil || len(inf.StopSequences) > 0 || inf.MaxTokensCap > 0 {
		ic := &types.InferenceConfiguration{StopSequences: inf.StopSequences}
		if inf.MaxTokens != nil {
			ic.MaxTokens = aws.Int32(int32(*inf.MaxTokens))
		} else if inf.MaxTokensCap > 0 {
			ic.MaxTokens = aws.Int32(int32(inf.MaxTokensCap))
		}
		if inf.Temperature != nil {
			ic.Temperature = aws.Float32(float32(*inf.Temperature))
		}
		if inf.TopP != nil {
			ic.TopP = aws.Float32(float32(*inf.TopP))
		}
		in.InferenceConfig = ic
	}
	if req.Tools != nil && len(req.Tools.Tools) > 0 && req.Tools.Choice.Mode != llm.ToolChoiceNone {
		tc := &types.ToolConfiguration{}
		for _, t := range req.Tools.Tools {
			schema, err := jsonDoc(t.Schema, `{"type":"object"}`)
			if err != nil {
				return nil, llm.Errorf(llm.KindValidation, "tools %s: schema is not valid JSON", t.Name)
			}
			spec := types.ToolSpecification{Name: aws.String(t.Name), InputSchema: &types.ToolInputSchemaMemberJson{Value: schema}}
			if t.Description != "" {
				spec.Description = aws.String(t.Description)
			}
			if t.Strict {
				spec.Strict = aws.Bool(true)
			}
			tc.Tools = append(tc.Tools, &types.ToolMemberToolSpec{Value: spec})
		}
		switch req.Tools.Choice.Mode {
		case llm.ToolChoiceAuto:
			tc.ToolChoice = &types.ToolChoiceMemberAuto{}
		case llm.ToolChoiceAny:
			tc.ToolChoice = &types.ToolChoiceMemberAny{}
		case llm.ToolChoiceTool:
			tc.ToolChoice = &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String(req.Tools.Choice.Name)}}
		}
		in.ToolConfig = tc
	}
	add, err := additional(req)
	if err != nil {
		return nil, err
	}
	in.AdditionalModelRequestFields = add
	in.AdditionalModelResponseFieldPaths = req.AdditionalResponsePaths
	if req.Performance != "" {
		in.PerformanceConfig = &types.PerformanceConfiguration{Latency: types.PerformanceConfigLatency(req.Performance)}
	}
	if len(req.Metadata) > 0 {
		in.RequestMetadata = req.Metadata
	}
	if p.cfg.Guardrails && req.Guardrail != nil {
		in.GuardrailConfig = &types.GuardrailConfiguration{GuardrailIdentifier: aws.String(req.Guardrail.ID),
			GuardrailVersion: aws.String(req.Guardrail.Version), Trace: types.GuardrailTrace(req.Guardrail.Trace)}
	}
	return in, nil
}

// streamGuardrail is the stream form of in's guardrail configuration.
func streamGuardrail(in *bedrockruntime.ConverseInput, req *llm.Request) *types.GuardrailStreamConfiguration {
	g := in.GuardrailConfig
	if g == nil {
		return nil
	}
	return &types.GuardrailStreamConfiguration{GuardrailIdentifier: g.GuardrailIdentifier, GuardrailVersion: g.GuardrailVersion,
		Trace: g.Trace, StreamProcessingMode: types.GuardrailStreamProcessingMode(req.Guardrail.StreamMode)}
}

// additional returns additionalModelRequestFields, with top_k added when the
// request sets it (Converse has no topK of its own; Anthropic, Mistral and
// Llama models on Bedrock read it from here).
func additional(req *llm.Request) (document.Interface, error) {
	raw := bytes.TrimSpace(req.Additional)
	var m map[string]any
	if len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, llm.Errorf(llm.KindValidation, "additionalModelRequestFields: must be a JSON object")
		}
	}
	if req.Inference.TopK != nil {
		if m == nil {
			m = map[string]any{}
		}
		if _, ok := m["top_k"]; !ok {
			m["top_k"] = *req.Inference.TopK
		}
	}
	if m == nil {
		return nil, nil
	}
	return document.NewLazyDocument(m), nil
}

func jsonDoc(raw json.RawMessage, def string) (document.Interface, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage(def)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return document.NewLazyDocument(v), nil
}

func cachePoint(c *llm.CachePoint) types.CachePointBlock {
	cp := types.CachePointBlock{Type: types.CachePointTypeDefault}
	if c != nil && c.TTL != "" {
		cp.Ttl = types.CacheTTL(c.TTL)
	}
	return cp
}

func guard(g *llm.Guard) types.GuardrailConverseContentBlock {
	tb := types.GuardrailConverseTextBlock{Text: aws.String(g.Text)}
	for _, q := range g.Qualifiers {
		tb.Qualifiers = append(tb.Qualifiers, types.GuardrailConverseContentQualifier(q))
	}
	return &types.GuardrailConverseContentBlockMemberText{Value: tb}
}

func image(img *llm.Image) (types.ImageBlock, error) {
	f := strings.ToLower(img.Format)
	if f == "jpg" {
		f = "jpeg"
	}
	switch f {
	case "png", "jpeg", "gif", "webp":
	default:
		return types.ImageBlock{}, fmt.Errorf("image format %q is not png, jpeg, gif or webp", img.Format)
	}
	return types.ImageBlock{Format: types.ImageFormat(f), Source: &types.ImageSourceMemberBytes{Value: img.Bytes}}, nil
}

func doc(d *llm.Document) types.DocumentBlock {
	db := types.DocumentBlock{Format: types.DocumentFormat(strings.ToLower(d.Format)), Name: aws.String(d.Name)}
	if d.Text != "" && len(d.Bytes) == 0 {
		db.Source = &types.DocumentSourceMemberText{Value: d.Text}
	} else {
		db.Source = &types.DocumentSourceMemberBytes{Value: d.Bytes}
	}
	return db
}

// block translates one content block; nil means it has no Converse form.
func (p *Provider) block(b llm.Block) (types.ContentBlock, error) {
	switch b.Kind {
	case llm.KindText:
		if b.Text == "" {
			return nil, nil
		}
		return &types.ContentBlockMemberText{Value: b.Text}, nil
	case llm.KindImage:
		img, err := image(b.Image)
		if err != nil {
			return nil, err
		}
		return &types.ContentBlockMemberImage{Value: img}, nil
	case llm.KindDocument:
		return &types.ContentBlockMemberDocument{Value: doc(b.Document)}, nil
	case llm.KindToolUse:
		in, err := jsonDoc(b.ToolUse.Input, `{}`)
		if err != nil {
			return nil, fmt.Errorf("toolUse.input is not valid JSON")
		}
		return &types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{ToolUseId: aws.String(b.ToolUse.ID), Name: aws.String(b.ToolUse.Name), Input: in}}, nil
	case llm.KindToolResult:
		tr := types.ToolResultBlock{ToolUseId: aws.String(b.ToolResult.ToolUseID)}
		if b.ToolResult.Status != "" {
			tr.Status = types.ToolResultStatus(b.ToolResult.Status)
		}
		for _, c := range b.ToolResult.Content {
			switch {
			case c.JSON != nil:
				d, err := jsonDoc(c.JSON, `null`)
				if err != nil {
					return nil, fmt.Errorf("toolResult json is not valid JSON")
				}
				tr.Content = append(tr.Content, &types.ToolResultContentBlockMemberJson{Value: d})
			case c.Image != nil:
				img, err := image(c.Image)
				if err != nil {
					return nil, err
				}
				tr.Content = append(tr.Content, &types.ToolResultContentBlockMemberImage{Value: img})
			case c.Document != nil:
				tr.Content = append(tr.Content, &types.ToolResultContentBlockMemberDocument{Value: doc(c.Document)})
			default:
				tr.Content = append(tr.Content, &types.ToolResultContentBlockMemberText{Value: c.Text})
			}
		}
		return &types.ContentBlockMemberToolResult{Value: tr}, nil
	case llm.KindReasoning:
		r := b.Reasoning
		if len(r.Redacted) > 0 {
			return &types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberRedactedContent{Value: r.Redacted}}, nil
		}
		rt := types.ReasoningTextBlock{Text: aws.String(r.Text)}
		if r.Signature != "" {
			rt.Signature = aws.String(r.Signature)
		}
		return &types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberReasoningText{Value: rt}}, nil
	case llm.KindCachePoint:
		return &types.ContentBlockMemberCachePoint{Value: cachePoint(b.CachePoint)}, nil
	case llm.KindGuardContent:
		if b.Guard == nil {
			return nil, nil
		}
		if p.cfg.Guardrails {
			return &types.ContentBlockMemberGuardContent{Value: guard(b.Guard)}, nil
		}
		if b.Guard.Text == "" {
			return nil, nil
		}
		return &types.ContentBlockMemberText{Value: b.Guard.Text}, nil
	}
	return nil, nil
}
