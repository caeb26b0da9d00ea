package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"unicode/utf8"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

// HeaderTokenCount says how CountTokens counted: "exact" (the model's own
// tokenizer) or "estimated" (no deployment can count, so Outcrop estimated
// from the text length).
const HeaderTokenCount = "X-Outcrop-Token-Count"

// countTokens serves POST /model/{modelId}/count-tokens (bedrock-api.md §3.6).
// It does not run the gateway pipeline (nothing is generated), so it is
// authorized here, as bedrock:CountTokens on the model's ARN (AWS's action).
func (s *Server) countTokens(w http.ResponseWriter, r *http.Request) error {
	id, m, err := s.bedrockModel(r)
	if err != nil {
		// An unknown model is denied before it is reported missing, so
		// that a caller without access learns nothing about what exists.
		if aerr := s.a.Authorize(r, ActionCountTokens, ModelARN(s.d.Region, r.PathValue("modelId"))); aerr != nil {
			return aerr
		}
		return err
	}
	if err := s.a.Authorize(r, ActionCountTokens, ModelARN(s.d.Region, id)); err != nil {
		return err
	}
	body, err := s.a.ReadBody(r)
	if err != nil {
		return err
	}
	var wire struct {
		Input json.RawMessage `json:"input"`
	}
	if err := DecodeJSON(body, &wire); err != nil {
		return err
	}
	if len(wire.Input) == 0 {
		return constraint("input", "Member must not be null")
	}
	k, v, err := unionMember(wire.Input, "input")
	if err != nil {
		return err
	}
	var req *llm.Request
	switch k {
	case "converse":
		var cw converseWire
		if err := decodeMember(v, "input.converse", &cw); err != nil {
			return err
		}
		if req, err = cw.request(id, false); err != nil {
			return err
		}
	case "invokeModel":
		var iw struct {
			Body []byte `json:"body"`
		}
		if err := decodeMember(v, "input.invokeModel", &iw); err != nil {
			return err
		}
		if len(iw.Body) == 0 {
			return constraint("input.invokeModel.body", "Member must not be null")
		}
		if req, err = decodeAnthropic(iw.Body, id); err != nil {
			return err
		}
	default:
		return bedrockInvalid("Malformed input request: input has unknown member %q (expected converse or invokeModel)", k)
	}
	n, exact, err := countInputTokens(r.Context(), m, req)
	if err != nil {
		return err
	}
	how := "exact"
	if !exact {
		how = "estimated"
	}
	w.Header().Set(HeaderTokenCount, how)
	return WriteJSON(w, http.StatusOK, struct {
		InputTokens int `json:"inputTokens"`
	}{n})
}

// countInputTokens counts with the first deployment of m whose provider is
// an llm.TokenCounter, and otherwise estimates; exact says which.
func countInputTokens(ctx context.Context, m gateway.ModelInfo, req *llm.Request) (n int, exact bool, err error) {
	req.Model = m.ID
	for _, p := range m.Providers {
		tc, ok := p.(llm.TokenCounter)
		if !ok {
			continue
		}
		n, err := tc.CountTokens(ctx, req)
		if err != nil {
			return 0, false, err
		}
		return n, true, nil
	}
	return estimateTokens(req), false, nil
}

// estimateTokens approximates a request's input tokens as one token per
// four characters of its text, plus a few per message for the chat
// template.
func estimateTokens(req *llm.Request) int {
	chars := utf8.RuneCountInString(req.SystemText())
	for _, m := range req.Messages {
		chars += 16
		for _, b := range m.Content {
			switch b.Kind {
			case llm.KindText:
				chars += utf8.RuneCountInString(b.Text)
			case llm.KindToolUse:
				chars += len(b.ToolUse.Name) + len(b.ToolUse.Input)
			case llm.KindToolResult:
				for _, c := range b.ToolResult.Content {
					chars += utf8.RuneCountInString(c.String())
				}
			case llm.KindReasoning:
				chars += utf8.RuneCountInString(b.Reasoning.Text)
			case llm.KindDocument:
				chars += utf8.RuneCountInString(b.Document.Text) + len(b.Document.Bytes)
			case llm.KindImage:
				chars += 4 * 1600 // a typical image costs ~1,600 tokens
			case llm.KindGuardContent:
				chars += utf8.RuneCountInString(b.Guard.Text)
			}
		}
	}
	if req.Tools != nil {
		for _, t := range req.Tools.Tools {
			chars += len(t.Name) + len(t.Description) + len(t.Schema)
		}
	}
	return (chars + 3) / 4
}
