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
// (skipping the test when there is none, failing it in CI).
func ollamaProvider(t *testing.T) llm.Provider {
	t.Helper()
	p, err := openai.New(openai.Config{BaseURL: testenv.OllamaURL(t) + "/v1", Model: ollamaModel})
	if err != nil {
		t.Fatal(err)
	}
	return capTokens{p, 24}
}

// capTokens bounds the answers of requests that set no maxTokens (the
// seed's snippets set none, and a story from a 135M model on a shared CPU
// would take minutes).
type capTokens struct {
	p   llm.Provider
	max int
}

func (c capTokens) ConverseStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	if req.Inference.MaxTokens == nil {
		req = req.Clone()
		req.Inference.MaxTokens = &c.max
	}
	return c.p.ConverseStream(ctx, req)
}

// upstreams are the upstreams the client tests run against: a scripted
// one whose answers the tests check word for word, and the real model.
var upstreams = []struct {
	name string
	real bool
	new  func(t *testing.T) llm.Provider
}{
	{"replay", false, func(*testing.T) llm.Provider { return scripted() }},
	{"ollama", true, ollamaProvider},
}

func TestSDKOllama(t *testing.T) {
	sdkSuite(t, newTestServer(t, ollamaProvider(t)), true)
}
