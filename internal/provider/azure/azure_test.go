package azure_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/azure"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

func newProvider(t *testing.T, baseURL, _ string) llm.Provider {
	t.Helper()
	p, err := azure.New(azure.Config{Endpoint: strings.TrimSuffix(baseURL, "/v1"), Deployment: "gpt-4o-prod", APIKey: "azure-key"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFixtures replays Azure OpenAI's own traffic (prompt filter chunks,
// content filter results and errors, its 429 body) through the provider.
func TestFixtures(t *testing.T) {
	providertest.RunFixturesDir(t, "testdata", newProvider)
}

// TestOpenAIFixtures replays the shared chat completions fixtures: Azure
// speaks the same wire format and must classify it the same way.
func TestOpenAIFixtures(t *testing.T) {
	providertest.RunFixtures(t, newProvider)
}

// TestConformance runs the conformance suite against a fake Azure that
// only answers at the deployment URL with api-version and api-key.
func TestConformance(t *testing.T) {
	load := func(name string) *providertest.Fixture {
		return providertest.LoadFixture(t, filepath.Join(providertest.TestdataDir(), name+".txt"))
	}
	text, conv, tool, hang := load("ollama_stream"), load("ollama_converse"), load("hand_tool_deltas"), load("hand_close_stops_upstream")
	maxTok := providertest.LoadFixture(t, "testdata/azure_max_tokens.txt")
	up := providertest.NewUpstreamFunc(t, func(c providertest.Call) *providertest.Fixture {
		var body struct {
			MaxTokens  int             `json:"max_tokens"`
			Stream     bool            `json:"stream"`
			ToolChoice json.RawMessage `json:"tool_choice"`
		}
		json.Unmarshal(c.Body, &body)
		switch {
		case c.Path != "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21" || c.Header.Get("Api-Key") != "azure-key" || c.Header.Get("Authorization") != "":
			return nil
		case !body.Stream:
			return conv
		case body.MaxTokens <= 3:
			return maxTok
		case strings.Contains(string(body.ToolChoice), "get_weather"):
			return tool
		case strings.Contains(string(c.Body), "lighthouse"):
			return hang
		}
		return text
	})
	providertest.Run(t, providertest.Target{
		New:       func(t *testing.T) llm.Provider { return newProvider(t, up.URL, "") },
		ToolCalls: true,
	})
}

// TestEntraToken: without a key, the token function's value is sent as a
// bearer token on every request, and its failure is a classified error
// that never reaches the upstream.
func TestEntraToken(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.LoadFixture(t, "testdata/azure_stream.txt"))
	tokens := []string{"tok-1", "tok-2"}
	n := 0
	p, err := azure.New(azure.Config{Endpoint: strings.TrimSuffix(up.URL, "/v1"), Deployment: "d", APIVersion: "2025-01-01-preview",
		Token: func(context.Context) (string, error) {
			if n == len(tokens) {
				return "", errors.New("token file missing")
			}
			n++
			return tokens[n-1], nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	req := providertest.FixtureRequest(&providertest.Fixture{Name: "x"})
	for i := 0; i < 3; i++ {
		s, err := p.ConverseStream(t.Context(), req)
		if i == 2 {
			var e *llm.Error
			if !errors.As(err, &e) || e.Kind != llm.KindModelError {
				t.Errorf("without a token: err = %v, want ModelErrorException", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if r := providertest.ReadAll(s); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	calls := up.Calls()
	if len(calls) != 2 {
		t.Fatalf("%d calls, want 2", len(calls))
	}
	for i, c := range calls {
		if got := c.Header.Get("Authorization"); got != "Bearer "+tokens[i] || c.Header.Get("Api-Key") != "" {
			t.Errorf("call %d: Authorization %q api-key %q", i, got, c.Header.Get("Api-Key"))
		}
		if !strings.HasSuffix(c.Path, "?api-version=2025-01-01-preview") {
			t.Errorf("call %d path %s", i, c.Path)
		}
	}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []azure.Config{
		{Endpoint: "ftp://x", Deployment: "d", APIKey: "k"},
		{Endpoint: "https://x.openai.azure.com", Deployment: "a/b", APIKey: "k"},
		{Endpoint: "https://x.openai.azure.com", Deployment: "d"},
	} {
		if _, err := azure.New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
}
