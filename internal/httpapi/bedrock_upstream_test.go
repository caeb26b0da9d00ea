package httpapi

import (
	"context"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/testenv"
)

// ollamaModel is the model the test Ollama serves.
const ollamaModel = "smollm2:135m"

// ollamaProvider returns the openai provider for the test Ollama server
// (skipping the test when there is none, failing it in CI), with answers
// that set no maximum capped by capTokens. The OpenAI tests share it.
func ollamaProvider(t *testing.T) llm.Provider {
	t.Helper()
	p, err := openai.New(openai.Config{BaseURL: testenv.OllamaURL(t) + "/v1", Model: ollamaModel})
	if err != nil {
		t.Fatal(err)
	}
	return capTokens{p, 24}
}

// capTokens bounds the answers of requests that set no maximum: a 135M
// model on a shared CPU would otherwise hold a test for minutes.
type capTokens struct {
	p   llm.Provider
	max int
}

// ConverseStream implements llm.Provider.
func (c capTokens) ConverseStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	if req.Inference.MaxTokens == nil {
		req = req.Clone()
		req.Inference.MaxTokens = &c.max
	}
	return c.p.ConverseStream(ctx, req)
}
