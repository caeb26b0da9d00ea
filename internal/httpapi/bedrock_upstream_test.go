package httpapi

import (
	"context"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/testenv"
)

// The client suites, exported for serve_bedrock_test.go (package
// httpapi_test), which runs them against `outcrop serve` built by
// internal/app with the real Ollama upstream. They live in package httpapi
// so the in-process tests share them.

// SDKSuite runs the aws-sdk-go-v2 suite against url.
func SDKSuite(t *testing.T, url string, real bool) { sdkSuite(t, url, real) }

// Boto3Suite runs test/interop/python/bedrock_runtime.py against url.
func Boto3Suite(t *testing.T, url string, real bool) { boto3Bedrock(t, url, real) }

// JSSuite runs test/interop/js/bedrock_runtime.mjs against url.
func JSSuite(t *testing.T, url string, real bool) { jsBedrock(t, url, nil, real) }

// TestModel is the model ID the suites call.
const TestModel = testModel

// SeedModelID is the seed article's model ID, which the boto3 suite calls.
const SeedModelID = seedModelID

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
