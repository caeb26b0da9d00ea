package bedrocktest_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"

	"github.com/outcrop/outcrop/internal/app"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/httpapi/bedrocktest"
	"github.com/outcrop/outcrop/internal/testenv"
)

// toolModel is the model ID whose deployment is the SmolLM2 template with
// a tools section (testenv.OllamaToolsModel).
const toolModel = "acme.tools-v1"

// TestOutcropServeBedrock runs the unmodified AWS SDKs (Go, Python, JS)
// against `outcrop serve` — the server internal/app builds from a YAML
// configuration, on 127.0.0.1 with HTTP/1.1 and h2c — whose models are
// served by the real Ollama (SmolLM2-135M) through the openai provider:
// bedrocktest.Model under the GGUF's own template, toolModel under the one
// that takes tools, which the Go SDK's tool-use subtests call.
//
// The seed's snippets set no maxTokens and ask for a story, which
// SmolLM2-135M may tell for thousands of tokens: on a CI machine shared
// with the rest of the run that took minutes. The deployments cap such
// requests at 256 tokens (default_max_tokens), as an operator would.
func TestOutcropServeBedrock(t *testing.T) {
	upstream := testenv.OllamaURL(t)
	cfg, err := config.Parse(fmt.Appendf(nil, `
listen: 127.0.0.1:0
models:
  - id: %s
    aliases: [%q]
    profiles: [standard, optimized]
    deployments:
      - provider: openai
        base_url: %s/v1
        model: %s
        options: {default_max_tokens: 256}
  - id: %s
    deployments:
      - provider: openai
        base_url: %s/v1
        model: %s
        options: {default_max_tokens: 256}
`, bedrocktest.Model, bedrocktest.SeedModelID, upstream, testenv.OllamaModel, toolModel, upstream, testenv.OllamaToolsModel))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Home = t.TempDir()
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }() // ends when cancel starts the drain
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	url := "http://" + ln.Addr().String()

	t.Run("aws-sdk-go-v2", func(t *testing.T) { bedrocktest.SDKSuiteTools(t, url, true, toolModel) })
	t.Run("boto3", func(t *testing.T) { bedrocktest.Boto3Suite(t, url, true) })
	t.Run("aws-sdk-js-v3", func(t *testing.T) { bedrocktest.JSSuite(t, url, true) })
}
