package gemini

import (
	"context"
	"encoding/json"
	"io"
	"strings"

	"github.com/outcrop/outcrop/internal/llm"
)

var _ llm.TokenCounter = (*Provider)(nil)

// CountTokens counts the request's input tokens with models/{model}:countTokens,
// sending the whole generateContent request (system instruction and tools
// included).
func (p *Provider) CountTokens(ctx context.Context, req *llm.Request) (int, error) {
	body, err := p.requestBody(req)
	if err != nil {
		return 0, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return 0, &llm.Error{Kind: llm.KindInternal, Message: "request encoding", Err: err}
	}
	model, _ := json.Marshal("models/" + strings.TrimPrefix(p.cfg.Model, "models/"))
	m["model"] = model
	wrapped, err := json.Marshal(map[string]any{"generateContentRequest": m})
	if err != nil {
		return 0, &llm.Error{Kind: llm.KindInternal, Message: "request encoding", Err: err}
	}
	resp, err := p.post(ctx, strings.TrimSuffix(p.callURL, ":generateContent")+":countTokens", wrapped)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, streamError(ctx, err)
	}
	var out struct {
		TotalTokens *int `json:"totalTokens"`
	}
	if json.Unmarshal(b, &out) != nil || out.TotalTokens == nil {
		return 0, &llm.Error{Kind: llm.KindModelError, Message: "The upstream's token count is not valid JSON."}
	}
	return *out.TotalTokens, nil
}
