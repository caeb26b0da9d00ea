package anthropic_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/anthropic"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

func newProvider(t *testing.T, baseURL, model string) llm.Provider {
	t.Helper()
	p, err := anthropic.New(anthropic.Config{BaseURL: baseURL, Model: model, APIKey: "sk-ant-test", HTTPClient: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFixtures replays the Messages API traffic in testdata (written after
// Anthropic's API documentation: streams, errors, mid-stream failures) and
// compares the neutral events with each fixture's expectations;
// -providertest.update rewrites them.
func TestFixtures(t *testing.T) {
	providertest.RunFixturesDir(t, "testdata", newProvider)
}

// TestConformance runs the provider conformance suite against a fake
// Anthropic that answers each request with the recorded response that fits
// it.
func TestConformance(t *testing.T) {
	load := func(name string) *providertest.Fixture {
		return providertest.LoadFixture(t, filepath.Join("testdata", name+".txt"))
	}
	text, maxTok, conv, tool, hang := load("stream_text"), load("stream_max_tokens"), load("converse_max_tokens"), load("stream_tool"), load("stream_close")
	up := providertest.NewUpstreamFunc(t, func(c providertest.Call) *providertest.Fixture {
		var body struct {
			MaxTokens  int  `json:"max_tokens"`
			Stream     bool `json:"stream"`
			ToolChoice *struct {
				Type string `json:"type"`
			} `json:"tool_choice"`
		}
		json.Unmarshal(c.Body, &body)
		switch {
		case c.Path != "/v1/messages" || c.Header.Get("Anthropic-Version") != anthropic.DefaultVersion || c.Header.Get("X-Api-Key") != "sk-ant-test":
			return nil
		case !body.Stream:
			return conv
		case body.MaxTokens <= 3:
			return maxTok
		case body.ToolChoice != nil && body.ToolChoice.Type == "tool":
			return tool
		case strings.Contains(string(c.Body), "lighthouse"):
			return hang
		}
		return text
	})
	providertest.Run(t, providertest.Target{
		New:       func(t *testing.T) llm.Provider { return newProvider(t, up.URL, "claude-sonnet-4-5") },
		ToolCalls: true,
	})
}
