package bedrock_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/bedrock"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

func newProvider(t *testing.T, baseURL, model string) llm.Provider {
	t.Helper()
	p, err := bedrock.New(context.Background(), bedrock.Config{
		Region: "us-east-1", Model: "us.anthropic.claude-3-5-haiku-20241022-v1:0",
		Endpoint:    strings.TrimSuffix(baseURL, "/v1"),
		AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		HTTPClient: &http.Client{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFixtures replays Bedrock runtime traffic (event-stream frames and JSON
// errors written after the Bedrock API reference) through the real SDK
// client; -providertest.update rewrites the expectations.
func TestFixtures(t *testing.T) {
	providertest.RunFixturesDir(t, "testdata", newProvider)
}

// TestConformance runs the conformance suite against a fake Bedrock that
// answers each call with the recorded response that fits it, and checks
// that calls are SigV4-signed for the inference profile's path.
func TestConformance(t *testing.T) {
	load := func(name string) *providertest.Fixture {
		return providertest.LoadFixture(t, filepath.Join("testdata", name+".txt"))
	}
	text, maxTok, conv, tool, hang := load("stream_text"), load("stream_max_tokens"), load("converse_max_tokens"), load("stream_tool"), load("stream_close")
	up := providertest.NewUpstreamFunc(t, func(c providertest.Call) *providertest.Fixture {
		var body struct {
			InferenceConfig struct {
				MaxTokens int `json:"maxTokens"`
			} `json:"inferenceConfig"`
			ToolConfig *struct {
				ToolChoice map[string]any `json:"toolChoice"`
			} `json:"toolConfig"`
		}
		json.Unmarshal(c.Body, &body)
		auth := c.Header.Get("Authorization")
		switch {
		case !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/us-east-1/bedrock/aws4_request"):
			return nil
		case c.Path == "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse":
			return conv
		case c.Path != "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream":
			return nil
		case body.InferenceConfig.MaxTokens > 0 && body.InferenceConfig.MaxTokens <= 3:
			return maxTok
		case body.ToolConfig != nil && body.ToolConfig.ToolChoice["tool"] != nil:
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
