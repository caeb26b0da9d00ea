package gemini_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/gemini"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

func newProvider(t *testing.T, baseURL, _ string) llm.Provider {
	t.Helper()
	p, err := gemini.New(gemini.Config{BaseURL: strings.TrimSuffix(baseURL, "/v1") + "/v1beta", Model: "gemini-2.5-flash", APIKey: "AIza-test", HTTPClient: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFixtures replays Gemini API traffic written after its documentation
// (SSE streams, thought summaries and signatures, function calls, safety
// blocks, Google error bodies); -providertest.update rewrites expectations.
func TestFixtures(t *testing.T) {
	providertest.RunFixturesDir(t, "testdata", newProvider)
}

// TestConformance runs the conformance suite against a fake Gemini that
// answers each call with the recorded response that fits it.
func TestConformance(t *testing.T) {
	load := func(name string) *providertest.Fixture {
		return providertest.LoadFixture(t, filepath.Join("testdata", name+".txt"))
	}
	text, maxTok, conv, tool, hang := load("stream_text"), load("stream_max_tokens"), load("converse_max_tokens"), load("stream_tool"), load("stream_close")
	up := providertest.NewUpstreamFunc(t, func(c providertest.Call) *providertest.Fixture {
		var body struct {
			GenerationConfig struct {
				MaxOutputTokens int `json:"maxOutputTokens"`
			} `json:"generationConfig"`
			ToolConfig *struct {
				FunctionCallingConfig struct {
					AllowedFunctionNames []string `json:"allowedFunctionNames"`
				} `json:"functionCallingConfig"`
			} `json:"toolConfig"`
		}
		json.Unmarshal(c.Body, &body)
		switch {
		case c.Header.Get("X-Goog-Api-Key") != "AIza-test":
			return nil
		case c.Path == "/v1beta/models/gemini-2.5-flash:generateContent":
			return conv
		case c.Path != "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse":
			return nil
		case body.GenerationConfig.MaxOutputTokens > 0 && body.GenerationConfig.MaxOutputTokens <= 3:
			return maxTok
		case body.ToolConfig != nil && len(body.ToolConfig.FunctionCallingConfig.AllowedFunctionNames) > 0:
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
