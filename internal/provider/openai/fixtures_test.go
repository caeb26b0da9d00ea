package openai_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/provider/providertest"
	"github.com/outcrop/outcrop/internal/testenv"
)

func newProvider(t *testing.T, baseURL, model string) llm.Provider {
	t.Helper()
	p, err := openai.New(openai.Config{BaseURL: baseURL, Model: model, APIKey: "sk-test", HTTPClient: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFixtures replays recorded and hand-made upstream traffic (see
// internal/provider/providertest/testdata); -providertest.update rewrites
// expectations.
func TestFixtures(t *testing.T) {
	providertest.RunFixtures(t, newProvider)
}

// TestConformanceOllama runs the conformance suite against the real
// Ollama (smollm2:135m, which cannot call tools).
func TestConformanceOllama(t *testing.T) {
	base := testenv.OllamaURL(t) + "/v1"
	providertest.Run(t, providertest.Target{
		New: func(t *testing.T) llm.Provider {
			return newProvider(t, base, "smollm2:135m")
		},
		MaxWait: 2 * time.Minute,
	})
}
