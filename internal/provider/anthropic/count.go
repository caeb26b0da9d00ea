package anthropic

import (
	"context"
	"encoding/json"
	"io"

	"github.com/outcrop/outcrop/internal/llm"
)

var _ llm.TokenCounter = (*Provider)(nil)

// countFields are the Messages members count_tokens accepts; the others
// (max_tokens, sampling, stream) are removed from the request body.
var countFields = map[string]bool{"model": true, "system": true, "messages": true, "tools": true, "tool_choice": true, "thinking": true, "mcp_servers": true}

// CountTokens counts the request's input tokens with Anthropic's
// POST /v1/messages/count_tokens, in the model's own tokenizer.
func (p *Provider) CountTokens(ctx context.Context, req *llm.Request) (int, error) {
	body, beta, err := p.requestBody(req, false)
	if err != nil {
		return 0, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return 0, &llm.Error{Kind: llm.KindInternal, Message: "request encoding", Err: err}
	}
	for k := range m {
		if !countFields[k] {
			delete(m, k)
		}
	}
	if body, err = json.Marshal(m); err != nil {
		return 0, &llm.Error{Kind: llm.KindInternal, Message: "request encoding", Err: err}
	}
	resp, err := p.postTo(ctx, p.messageURL+"/count_tokens", body, beta)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		InputTokens *int `json:"input_tokens"`
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, streamError(ctx, err)
	}
	if json.Unmarshal(b, &out) != nil || out.InputTokens == nil {
		return 0, &llm.Error{Kind: llm.KindModelError, Message: "The upstream's token count is not valid JSON."}
	}
	return *out.InputTokens, nil
}
