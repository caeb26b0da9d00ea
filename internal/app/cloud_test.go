package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/outcrop/outcrop/internal/sdktest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

// cloudCase is one hosted provider behind Outcrop's front doors: a fake
// upstream replaying its recorded traffic (a tool call, a reasoning answer,
// a cache read) and what clients must see.
type cloudCase struct {
	name       string
	deployment string // YAML of the deployment, %s is the upstream URL
	fixtures   string // directory of the provider's fixtures
	// pick chooses the fixture for an upstream call: "tool", "think" or
	// "cache" (file names without .txt in want).
	pick  func(c providertest.Call) string
	files map[string]string // pick result → fixture file
	// Expected answers.
	toolID              string
	toolUsage           [2]int // input, output
	thinkText, thinkSig string
	// reasoning is the additionalModelRequestFields of the reasoning
	// call; default Anthropic's thinking with a 2048-token budget.
	reasoning             map[string]any
	cacheRead, cacheWrite int
	cacheInput            int
	// cachePoint is the usage (read, write, input) of the Converse call
	// with a system cache point when it differs from cacheRead, cacheWrite
	// and cacheInput (Gemini's first use of a context cache is a write).
	cachePoint *[3]int
	// reasoningTokens is the reasoning part of the cache fixture's output
	// tokens (completion_tokens_details.reasoning_tokens at the OpenAI
	// front door).
	reasoningTokens int
	checkCall       func(t *testing.T, calls []providertest.Call)
	// openaiReasoning says an OpenAI client's reasoning_effort becomes the
	// provider's thinking (the think fixture answers it).
	openaiReasoning bool
	// count is the exact token count the provider's count fixture
	// (files["count"]) answers; 0 when the provider cannot count.
	count int
}

var cloudCases = []cloudCase{
	{
		name: "anthropic",
		deployment: `
      - provider: anthropic
        base_url: %s/v1
        model: claude-sonnet-4-5
        api_key: env:OUTCROP_TEST_ANTHROPIC_KEY`,
		fixtures: "../provider/anthropic/testdata",
		pick: func(c providertest.Call) string {
			b := string(c.Body)
			switch {
			case strings.Contains(b, `"tools"`):
				return "tool"
			case strings.Contains(b, `"thinking"`):
				return "think"
			}
			// The cache fixture reports a cache read; the OpenAI API has
			// no cache points, so its requests get it without one.
			return "cache"
		},
		files:           map[string]string{"tool": "stream_tool", "think": "stream_thinking", "cache": "stream_cache_read", "count": "count/ok"},
		openaiReasoning: true,
		count:           2095,
		toolID:          "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
		toolUsage:       [2]int{472, 89},
		thinkText:       "I need to find the GCD of 1071 and 462 using the Euclidean algorithm.\n\n1071 = 2 × 462 + 147\n462 = 3 × 147 + 21\n147 = 7 × 21 + 0",
		thinkSig:        "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds3NaDaddcbaEdF1hBvJRvHVNCXlGBbPDrMz9+E1BgvmDGr13vigIIUVKxsj8FYD+RW9B",
		cacheRead:       1854, cacheInput: 1875,
		checkCall: func(t *testing.T, calls []providertest.Call) {
			var cached bool
			for _, c := range calls {
				cached = cached || strings.Contains(string(c.Body), `"system":[{"type":"text","text":"You are terse.","cache_control":{"type":"ephemeral"}}]`)
				if c.Path != "/v1/messages" || c.Header.Get("X-Api-Key") != "sk-ant-from-env" || c.Header.Get("Anthropic-Version") != "2023-06-01" {
					t.Errorf("upstream call %s with key %q version %q", c.Path, c.Header.Get("X-Api-Key"), c.Header.Get("Anthropic-Version"))
				}
			}
			if !cached {
				t.Errorf("no upstream call carried the system prompt's cache point as cache_control")
			}
		},
	},
}

func init() {
	// OpenAI's own service and Azure OpenAI answer reasoning models with
	// the answer only (reasoning tokens are counted, not shown).
	openaiCheck := func(wantPath, wantBody string, wantHeaders map[string]string) func(t *testing.T, calls []providertest.Call) {
		return func(t *testing.T, calls []providertest.Call) {
			var effort bool
			for _, c := range calls {
				effort = effort || strings.Contains(string(c.Body), `"reasoning_effort":"low"`)
				if !strings.Contains(string(c.Body), wantBody) {
					t.Errorf("upstream body %s lacks %s", c.Body, wantBody)
				}
				if c.Path != wantPath {
					t.Errorf("upstream path %s, want %s", c.Path, wantPath)
				}
				for k, v := range wantHeaders {
					if got := c.Header.Get(k); got != v {
						t.Errorf("upstream header %s = %q, want %q", k, got, v)
					}
				}
			}
			if !effort {
				t.Errorf("no upstream call carried reasoning_effort")
			}
		}
	}
	pickOpenAI := func(c providertest.Call) string {
		if strings.Contains(string(c.Body), `"tools"`) {
			return "tool"
		}
		return "cache"
	}
	cloudCases = append(cloudCases, cloudCase{
		name: "openai-hosted",
		deployment: `
      - provider: openai
        base_url: %s/v1
        model: o4-mini
        api_key: env:OUTCROP_TEST_OPENAI_KEY
        options:
          organization: org-outcroptest
          project: proj_outcroptest
          max_tokens_field: max_completion_tokens`,
		fixtures:  providertest.TestdataDir(),
		pick:      pickOpenAI,
		files:     map[string]string{"tool": "openai_tool_stream", "cache": "openai_reasoning_stream"},
		toolID:    "call_Hk7Wm2Qx9Pz4Lr1Vb6Ns3Td",
		toolUsage: [2]int{58, 16},
		reasoning: map[string]any{"reasoning_effort": "low"},
		cacheRead: 1152, cacheInput: 1302, reasoningTokens: 192,
		checkCall: openaiCheck("/v1/chat/completions", `"max_completion_tokens":`, map[string]string{"Authorization": "Bearer sk-openai-from-env",
			"Openai-Organization": "org-outcroptest", "Openai-Project": "proj_outcroptest"}),
	}, cloudCase{
		name: "azure-openai",
		deployment: `
      - provider: azure-openai
        base_url: %s
        model: gpt-4o-prod
        api_key: env:OUTCROP_TEST_AZURE_KEY
        options:
          api_version: 2024-10-21`,
		fixtures:  "../provider/azure/testdata",
		pick:      pickOpenAI,
		files:     map[string]string{"tool": "azure_tool", "cache": "azure_stream"},
		toolID:    "call_Vq3x9ZbN2kLm8PqR",
		toolUsage: [2]int{61, 15},
		reasoning: map[string]any{"reasoning_effort": "low"},
		cacheRead: 1280, cacheInput: 1536,
		checkCall: openaiCheck("/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21", `"max_tokens":`, map[string]string{"Api-Key": "azure-key-from-env", "Authorization": ""}),
	}, cloudCase{
		// The same deployment with no key: the token comes from the
		// platform's managed identity endpoint (App Service's
		// IDENTITY_ENDPOINT, served by the test).
		name: "azure-openai-managed-identity",
		deployment: `
      - provider: azure-openai
        base_url: %s
        model: gpt-4o-prod
        options:
          entra: managed-identity
          entra_client_id: 5e29463d-71da-4fe0-8e69-999b57db23b0`,
		fixtures:  "../provider/azure/testdata",
		pick:      pickOpenAI,
		files:     map[string]string{"tool": "azure_tool", "cache": "azure_stream"},
		toolID:    "call_Vq3x9ZbN2kLm8PqR",
		toolUsage: [2]int{61, 15},
		reasoning: map[string]any{"reasoning_effort": "low"},
		cacheRead: 1280, cacheInput: 1536,
		checkCall: openaiCheck("/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21", `"max_tokens":`, map[string]string{"Api-Key": "", "Authorization": "Bearer managed-identity-token"}),
	})
	cloudCases = append(cloudCases, cloudCase{
		name: "gemini",
		deployment: `
      - provider: gemini
        base_url: %s/v1beta
        model: gemini-2.5-flash
        api_key: env:OUTCROP_TEST_GEMINI_KEY`,
		fixtures: "../provider/gemini/testdata",
		pick: func(c providertest.Call) string {
			b := string(c.Body)
			switch {
			case strings.HasSuffix(c.Path, "/cachedContents"):
				return "create"
			case strings.Contains(b, `"functionDeclarations"`):
				return "tool"
			case strings.Contains(b, `"thinkingConfig"`):
				return "think"
			}
			return "cache"
		},
		files:           map[string]string{"tool": "stream_tool", "think": "stream_thinking", "cache": "stream_cached", "count": "count/ok", "create": "cache/create"},
		openaiReasoning: true,
		count:           31,
		toolID:          "gemini_call_nBx9aOe2K4qVkdUP4r6xqAE_0",
		toolUsage:       [2]int{74, 61},
		thinkText:       "**Greeting the user**\n\nThe user said hello; a short friendly reply fits.",
		thinkSig:        "CiQB0e2Kb6Xq3vO1nTzF9yQ8mW2p",
		cacheRead:       2048, cacheInput: 2310,
		cachePoint: &[3]int{0, 2048, 2310},
		checkCall: func(t *testing.T, calls []providertest.Call) {
			var thinking, created, named bool
			for _, c := range calls {
				thinking = thinking || strings.Contains(string(c.Body), `"thinkingConfig":{"includeThoughts":true,"thinkingBudget":2048}`)
				if c.Path == "/v1beta/cachedContents" {
					created = created || strings.Contains(string(c.Body), `"systemInstruction":{"parts":[{"text":"You are terse."}]}`)
					continue
				}
				named = named || strings.Contains(string(c.Body), `"cachedContent":"cachedContents/4d2kq8x7v1m3p9zt"`)
				if c.Path != "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse" || c.Header.Get("X-Goog-Api-Key") != "gemini-key-from-env" {
					t.Errorf("upstream call %s key %q", c.Path, c.Header.Get("X-Goog-Api-Key"))
				}
			}
			if !thinking {
				t.Errorf("no upstream call carried the thinking budget as thinkingConfig")
			}
			if !created || !named {
				t.Errorf("the system cache point made no context cache (created %v, named %v)", created, named)
			}
		},
	})
	cloudCases = append(cloudCases, cloudCase{
		name: "bedrock",
		deployment: `
      - provider: bedrock
        base_url: %s
        model: us.anthropic.claude-3-5-haiku-20241022-v1:0
        options:
          region: us-west-2
          access_key_id: env:OUTCROP_TEST_AWS_KEY_ID
          secret_access_key: env:OUTCROP_TEST_AWS_SECRET`,
		fixtures: "../provider/bedrock/testdata",
		pick: func(c providertest.Call) string {
			b := string(c.Body)
			switch {
			case strings.Contains(b, `"toolConfig"`):
				return "tool"
			case strings.Contains(b, `"thinking"`):
				return "think"
			}
			return "cache"
		},
		files:     map[string]string{"tool": "stream_tool", "think": "stream_reasoning", "cache": "stream_cache", "count": "count/ok"},
		count:     1207,
		toolID:    "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
		toolUsage: [2]int{389, 62},
		thinkText: "The user wants a greeting. Keep it short.",
		thinkSig:  "ErcBCkgIAhABGAIiQMq1Y3Wl0n5g7JtX2bq1",
		cacheRead: 1854, cacheWrite: 120, cacheInput: 1995,
		checkCall: func(t *testing.T, calls []providertest.Call) {
			var cached bool
			for _, c := range calls {
				cached = cached || strings.Contains(string(c.Body), `"system":[{"text":"You are terse."},{"cachePoint":{"type":"default"}}]`)
				auth := c.Header.Get("Authorization")
				if c.Path != "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream" ||
					!strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDFROMENV/") || !strings.Contains(auth, "/us-west-2/bedrock/") {
					t.Errorf("upstream call %s signed %q", c.Path, auth)
				}
			}
			if !cached {
				t.Errorf("no upstream call carried the system prompt's cache point")
			}
		},
	})
}

var weatherSchema = document.NewLazyDocument(map[string]any{
	"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"},
})

// TestCloudProvidersThroughFrontDoors: the aws-sdk-go-v2 Converse and
// ConverseStream calls (tools, reasoning, cache points) and the OpenAI SDK
// reach each hosted provider and come back with its stop reasons and usage,
// cache reads included.
func TestCloudProvidersThroughFrontDoors(t *testing.T) {
	t.Setenv("OUTCROP_TEST_ANTHROPIC_KEY", "sk-ant-from-env")
	t.Setenv("OUTCROP_TEST_AWS_KEY_ID", "AKIDFROMENV")
	t.Setenv("OUTCROP_TEST_AWS_SECRET", "secret-from-env")
	t.Setenv("OUTCROP_TEST_OPENAI_KEY", "sk-openai-from-env")
	t.Setenv("OUTCROP_TEST_AZURE_KEY", "azure-key-from-env")
	t.Setenv("OUTCROP_TEST_GEMINI_KEY", "gemini-key-from-env")
	identity := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-IDENTITY-HEADER") != "identity-header-value" || r.URL.Query().Get("client_id") != "5e29463d-71da-4fe0-8e69-999b57db23b0" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"statusCode":400,"message":"Unable to load the proper Managed Identity."}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":"managed-identity-token","expires_on":"%d","resource":"https://cognitiveservices.azure.com","token_type":"Bearer","client_id":"5e29463d-71da-4fe0-8e69-999b57db23b0"}`, time.Now().Add(time.Hour).Unix())
	}))
	defer identity.Close()
	t.Setenv("IDENTITY_ENDPOINT", identity.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "identity-header-value")
	for _, tc := range cloudCases {
		t.Run(tc.name, func(t *testing.T) {
			fx := map[string]*providertest.Fixture{}
			for k, f := range tc.files {
				fx[k] = providertest.LoadFixture(t, filepath.Join(tc.fixtures, f+".txt"))
			}
			up := providertest.NewUpstreamFunc(t, func(c providertest.Call) *providertest.Fixture {
				if strings.Contains(c.Path, "count") {
					return fx["count"]
				}
				return fx[tc.pick(c)]
			})
			base := strings.TrimSuffix(up.URL, "/v1")
			addr, stop, done := startApp(t, "listen: 127.0.0.1:0\nmodels:\n  - id: cloud\n    deployments:"+fmt.Sprintf(tc.deployment, base)+"\n")
			defer func() { stop(); <-done }()
			ctx := context.Background()
			br := bedrockruntime.New(bedrockruntime.Options{HTTPClient: sdktest.HTTPClient(),
				Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), RetryMaxAttempts: 1,
				Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", ""),
			})
			user := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "What is the weather in Paris?"}}}}

			t.Run("ConverseTools", func(t *testing.T) {
				out, err := br.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("cloud"), Messages: user,
					ToolConfig: &types.ToolConfiguration{Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{
						Name: aws.String("get_weather"), InputSchema: &types.ToolInputSchemaMemberJson{Value: weatherSchema}}}}}})
				if err != nil {
					t.Fatalf("Converse: %v", err)
				}
				if out.StopReason != types.StopReasonToolUse {
					t.Errorf("stop reason = %s, want tool_use", out.StopReason)
				}
				msg := out.Output.(*types.ConverseOutputMemberMessage).Value
				var found bool
				for _, b := range msg.Content {
					if tu, ok := b.(*types.ContentBlockMemberToolUse); ok {
						found = true
						var in map[string]any
						tu.Value.Input.UnmarshalSmithyDocument(&in)
						if *tu.Value.ToolUseId != tc.toolID || *tu.Value.Name != "get_weather" || in["city"] != "Paris" {
							t.Errorf("toolUse = %s %s %v", *tu.Value.ToolUseId, *tu.Value.Name, in)
						}
					}
				}
				if !found {
					t.Errorf("no toolUse block in %+v", msg.Content)
				}
				if *out.Usage.InputTokens != int32(tc.toolUsage[0]) || *out.Usage.OutputTokens != int32(tc.toolUsage[1]) {
					t.Errorf("usage = %d/%d, want %v", *out.Usage.InputTokens, *out.Usage.OutputTokens, tc.toolUsage)
				}
			})

			t.Run("ConverseStreamReasoning", func(t *testing.T) {
				fields := tc.reasoning
				if fields == nil {
					fields = map[string]any{"thinking": map[string]any{"type": "enabled", "budget_tokens": 2048}}
				}
				st, err := br.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("cloud"), Messages: user,
					AdditionalModelRequestFields: document.NewLazyDocument(fields)})
				if err != nil {
					t.Fatalf("ConverseStream: %v", err)
				}
				s := st.GetStream()
				defer s.Close()
				var reasoning, sig, text strings.Builder
				var stopReason types.StopReason
				for ev := range s.Events() {
					switch v := ev.(type) {
					case *types.ConverseStreamOutputMemberContentBlockDelta:
						switch d := v.Value.Delta.(type) {
						case *types.ContentBlockDeltaMemberText:
							text.WriteString(d.Value)
						case *types.ContentBlockDeltaMemberReasoningContent:
							switch r := d.Value.(type) {
							case *types.ReasoningContentBlockDeltaMemberText:
								reasoning.WriteString(r.Value)
							case *types.ReasoningContentBlockDeltaMemberSignature:
								sig.WriteString(r.Value)
							}
						}
					case *types.ConverseStreamOutputMemberMessageStop:
						stopReason = v.Value.StopReason
					}
				}
				if err := s.Err(); err != nil {
					t.Fatalf("stream: %v", err)
				}
				if reasoning.String() != tc.thinkText || sig.String() != tc.thinkSig || text.Len() == 0 || stopReason != types.StopReasonEndTurn {
					t.Errorf("reasoning %q sig %q text %q stop %s", reasoning.String(), sig.String(), text.String(), stopReason)
				}
			})

			t.Run("ConverseCachePoint", func(t *testing.T) {
				out, err := br.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("cloud"), Messages: user,
					System: []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "You are terse."},
						&types.SystemContentBlockMemberCachePoint{Value: types.CachePointBlock{Type: types.CachePointTypeDefault}}}})
				if err != nil {
					t.Fatalf("Converse: %v", err)
				}
				u := out.Usage
				want := [3]int{tc.cacheRead, tc.cacheWrite, tc.cacheInput}
				if tc.cachePoint != nil {
					want = *tc.cachePoint
				}
				if aws.ToInt32(u.CacheReadInputTokens) != int32(want[0]) || aws.ToInt32(u.CacheWriteInputTokens) != int32(want[1]) || *u.InputTokens != int32(want[2]) {
					t.Errorf("usage = in %d cacheRead %d cacheWrite %d, want (read, write, in) %v", *u.InputTokens, aws.ToInt32(u.CacheReadInputTokens), aws.ToInt32(u.CacheWriteInputTokens), want)
				}
			})

			if tc.count > 0 {
				t.Run("CountTokens", func(t *testing.T) {
					out, err := br.CountTokens(ctx, &bedrockruntime.CountTokensInput{ModelId: aws.String("cloud"),
						Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{Messages: user}}})
					if err != nil {
						t.Fatalf("CountTokens: %v", err)
					}
					if aws.ToInt32(out.InputTokens) != int32(tc.count) {
						t.Errorf("CountTokens = %d, want the upstream's exact %d", aws.ToInt32(out.InputTokens), tc.count)
					}
				})
			}

			oc := oai.NewClient(option.WithBaseURL("http://"+addr+"/v1/"), option.WithAPIKey("sk-outcrop-test"), option.WithMaxRetries(0))
			tools := []oai.ChatCompletionToolUnionParam{oai.ChatCompletionFunctionTool(oai.FunctionDefinitionParam{Name: "get_weather",
				Parameters: oai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}})}
			t.Run("OpenAITools", func(t *testing.T) {
				resp, err := oc.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{Model: "cloud", Tools: tools,
					Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("What is the weather in Paris?")}})
				if err != nil {
					t.Fatalf("chat completion: %v", err)
				}
				c := resp.Choices[0]
				if c.FinishReason != "tool_calls" || len(c.Message.ToolCalls) != 1 || c.Message.ToolCalls[0].Function.Name != "get_weather" || c.Message.ToolCalls[0].ID != tc.toolID {
					t.Errorf("choice = %+v", c)
				}
				var args map[string]any
				if json.Unmarshal([]byte(c.Message.ToolCalls[0].Function.Arguments), &args); args["city"] != "Paris" {
					t.Errorf("arguments = %s", c.Message.ToolCalls[0].Function.Arguments)
				}
				if resp.Usage.PromptTokens != int64(tc.toolUsage[0]) || resp.Usage.CompletionTokens != int64(tc.toolUsage[1]) {
					t.Errorf("usage = %+v", resp.Usage)
				}
			})
			if tc.openaiReasoning {
				t.Run("OpenAIReasoningEffort", func(t *testing.T) {
					resp, err := oc.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{Model: "cloud", ReasoningEffort: shared.ReasoningEffortLow,
						Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("Hello")}})
					if err != nil {
						t.Fatalf("chat completion: %v", err)
					}
					var raw struct {
						Choices []struct {
							Message struct {
								ReasoningContent string `json:"reasoning_content"`
							} `json:"message"`
						} `json:"choices"`
					}
					json.Unmarshal([]byte(resp.RawJSON()), &raw)
					if len(raw.Choices) != 1 || raw.Choices[0].Message.ReasoningContent != tc.thinkText || resp.Choices[0].Message.Content == "" {
						t.Errorf("response = %s, want reasoning_content %q and an answer", resp.RawJSON(), tc.thinkText)
					}
				})
			}
			t.Run("OpenAIStreamCached", func(t *testing.T) {
				s := oc.Chat.Completions.NewStreaming(ctx, oai.ChatCompletionNewParams{Model: "cloud",
					StreamOptions: oai.ChatCompletionStreamOptionsParam{IncludeUsage: oai.Bool(true)},
					Messages:      []oai.ChatCompletionMessageParamUnion{oai.SystemMessage("You are terse."), oai.UserMessage("Hi")}})
				var acc oai.ChatCompletionAccumulator
				for s.Next() {
					acc.AddChunk(s.Current())
				}
				if err := s.Err(); err != nil {
					t.Fatalf("stream: %v", err)
				}
				if acc.Usage.PromptTokensDetails.CachedTokens != int64(tc.cacheRead) || acc.Usage.PromptTokens != int64(tc.cacheInput) || acc.Choices[0].FinishReason != "stop" ||
					acc.Usage.CompletionTokensDetails.ReasoningTokens != int64(tc.reasoningTokens) {
					t.Errorf("usage %+v finish %q", acc.Usage, acc.Choices[0].FinishReason)
				}
			})
			var calls []providertest.Call
			for _, c := range up.Calls() {
				if !strings.Contains(c.Path, "count") {
					calls = append(calls, c)
				}
			}
			tc.checkCall(t, calls)
		})
	}
}

func TestSecretRef(t *testing.T) {
	t.Setenv("OUTCROP_TEST_SECRET", "from-env")
	file := filepath.Join(t.TempDir(), "key")
	os.WriteFile(file, []byte("from-file\n"), 0o600)
	tests := []struct {
		in      config.Secret
		want    string
		wantErr bool
	}{
		{"", "", false},
		{"env:OUTCROP_TEST_SECRET", "from-env", false},
		{config.Secret("file:" + file), "from-file", false},
		{"sk-ant-literal", "", true},
		{"env:OUTCROP_TEST_UNSET_SECRET", "", true},
	}
	for _, tc := range tests {
		got, err := secretRef("api_key", tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("secretRef(%s) = %q, %v; want %q, error %t", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "sk-ant-literal") {
			t.Errorf("error %q shows the literal secret", err)
		}
	}
}

// TestEgressRefusesUpstream: with an allow-list that does not name the
// upstream, a call fails cleanly (a retryable 503-class error, never a
// hang) and the upstream receives nothing; the same deployment answers once
// the list names it. Both HTTP client paths are covered: hosted providers'
// (net/http) and openai's (h1 for plain http).
func TestEgressRefusesUpstream(t *testing.T) {
	t.Setenv("OUTCROP_TEST_ANTHROPIC_KEY", "k")
	for _, tc := range []struct {
		name, fixture, deployment string
	}{
		{"anthropic", "../provider/anthropic/testdata/stream_text.txt", `
      - provider: anthropic
        base_url: %s
        model: claude-sonnet-4-5
        api_key: env:OUTCROP_TEST_ANTHROPIC_KEY`},
		{"openai", "../provider/providertest/testdata/ollama_stream.txt", `
      - provider: openai
        base_url: %s
        model: smollm2:135m`},
	} {
		for _, allowed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/allowed=%t", tc.name, allowed), func(t *testing.T) {
				up := providertest.NewUpstream(t, providertest.LoadFixture(t, tc.fixture))
				allow := "api.anthropic.com"
				if allowed {
					allow = strings.TrimPrefix(strings.TrimSuffix(up.URL, "/v1"), "http://")
				}
				addr, stop, done := startApp(t, fmt.Sprintf("listen: 127.0.0.1:0\negress:\n  allow: [%q]\nmodels:\n  - id: cloud\n    deployments:"+tc.deployment+"\n", allow, up.URL))
				defer func() { stop(); <-done }()
				br := bedrockruntime.New(bedrockruntime.Options{HTTPClient: sdktest.HTTPClient(),
					Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), RetryMaxAttempts: 1,
					Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", ""),
				})
				_, err := br.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String("cloud"),
					Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}}}})
				if allowed {
					if err != nil || len(up.Calls()) != 1 {
						t.Fatalf("allowed upstream: err %v, %d calls", err, len(up.Calls()))
					}
					return
				}
				var unavailable *types.ServiceUnavailableException
				if !errors.As(err, &unavailable) {
					t.Fatalf("Converse error = %v, want ServiceUnavailableException", err)
				}
				if n := len(up.Calls()); n != 0 {
					t.Errorf("the refused upstream received %d calls", n)
				}
			})
		}
	}
}

// TestFailoverAnthropicToBedrock: a model served by Anthropic with a Bedrock
// fallback keeps answering when Anthropic is overloaded. A 529 status, and
// an overloaded error event before the first token, fail over for
// streaming and non-streaming clients alike; a stream that breaks after
// its first token (an overloaded_error event, or a connection reset) ends
// with a clean in-stream exception for a streaming client, and the next
// request fails over; a non-streaming client gets Bedrock's answer.
func TestFailoverAnthropicToBedrock(t *testing.T) {
	t.Setenv("OUTCROP_TEST_ANTHROPIC_KEY", "k")
	t.Setenv("OUTCROP_TEST_AWS_KEY_ID", "AKIDFROMENV")
	t.Setenv("OUTCROP_TEST_AWS_SECRET", "s")
	adir, bdir := "../provider/anthropic/testdata/", "../provider/bedrock/testdata/"
	load := providertest.LoadFixture
	// Anthropic's answers, in order: 529; overloaded before any content;
	// a stream cut after its first token; 529 from then on.
	ant := providertest.NewUpstream(t, load(t, adir+"error_529.txt"), load(t, adir+"stream_overloaded_before_content.txt"),
		load(t, adir+"stream_overloaded_midstream.txt"), load(t, adir+"stream_reset_midstream.txt"),
		load(t, adir+"stream_overloaded_midstream.txt"), load(t, adir+"stream_reset_midstream.txt"), load(t, adir+"error_529.txt"))
	bed := providertest.NewUpstream(t, load(t, bdir+"stream_text.txt"))
	addr, stop, done := startApp(t, fmt.Sprintf(`
listen: 127.0.0.1:0
models:
  - id: claude
    fallbacks: [claude-on-bedrock]
    deployments:
      - provider: anthropic
        base_url: %s
        model: claude-3-5-haiku-latest
        api_key: env:OUTCROP_TEST_ANTHROPIC_KEY
  - id: claude-on-bedrock
    deployments:
      - provider: bedrock
        base_url: %s
        model: us.anthropic.claude-3-5-haiku-20241022-v1:0
        options:
          access_key_id: env:OUTCROP_TEST_AWS_KEY_ID
          secret_access_key: env:OUTCROP_TEST_AWS_SECRET
`, ant.URL, strings.TrimSuffix(bed.URL, "/v1")))
	defer func() { stop(); <-done }()
	ctx := context.Background()
	br := bedrockruntime.New(bedrockruntime.Options{HTTPClient: sdktest.HTTPClient(),
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", ""),
	})
	msgs := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Hello"}}}}
	const bedrockText = "Hello! How can I help?"

	// 1. Non-streaming client, Anthropic answers 529: Bedrock answers.
	out, err := br.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("claude"), Messages: msgs})
	if err != nil {
		t.Fatalf("Converse after a 529: %v", err)
	}
	if got := out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value; got != bedrockText || out.StopReason != types.StopReasonEndTurn {
		t.Errorf("Converse after a 529 = %q (%s), want Bedrock's answer", got, out.StopReason)
	}

	// 2. Streaming client, overloaded before any content: Bedrock streams.
	if text, err := streamText(ctx, br, msgs); err != nil || text != bedrockText {
		t.Errorf("stream after an early overload = %q, %v; want Bedrock's answer", text, err)
	}

	// 3. Streaming client, the stream breaks after its first token: a clean
	// in-stream exception after the text already sent.
	text, err := streamText(ctx, br, msgs)
	var unavailable *types.ServiceUnavailableException
	if text != "Hel" || !errors.As(err, &unavailable) {
		t.Errorf("stream cut mid-way = %q, %v; want \"Hel\" then ServiceUnavailableException", text, err)
	}

	// 4. The connection drops after the first token: the same clean
	// ending, a modeled in-stream exception rather than a broken body.
	text, err = streamText(ctx, br, msgs)
	var streamErr *types.ModelStreamErrorException
	if text != "Hel" || !errors.As(err, &streamErr) {
		t.Errorf("stream reset mid-way = %q, %v (%T); want \"Hel\" then ModelStreamErrorException", text, err, err)
	}

	// 5. Non-streaming clients lose nothing when the stream breaks after
	// its first token, by an overloaded_error event or a reset: the router
	// reads a buffered answer whole before replying, so the break is a
	// failed attempt and Bedrock answers.
	for _, cut := range []string{"overloaded_error mid-stream", "reset mid-stream"} {
		out, err := br.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("claude"), Messages: msgs})
		if err != nil {
			t.Fatalf("Converse after an Anthropic %s: %v", cut, err)
		}
		if got := out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value; got != bedrockText {
			t.Errorf("Converse after an Anthropic %s = %q, want Bedrock's answer", cut, got)
		}
	}

	// 6. The next streaming request fails over.
	if text, err := streamText(ctx, br, msgs); err != nil || text != bedrockText {
		t.Errorf("stream after the cut = %q, %v; want Bedrock's answer", text, err)
	}
	if n := len(ant.Calls()); n != 7 {
		t.Errorf("Anthropic received %d calls, want 7", n)
	}
	if n := len(bed.Calls()); n != 5 {
		t.Errorf("Bedrock received %d calls, want 5", n)
	}
}

// streamText runs ConverseStream and returns the text streamed and the
// stream's error.
func streamText(ctx context.Context, br *bedrockruntime.Client, msgs []types.Message) (string, error) {
	st, err := br.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("claude"), Messages: msgs})
	if err != nil {
		return "", err
	}
	s := st.GetStream()
	defer s.Close()
	var b strings.Builder
	for ev := range s.Events() {
		if d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
			if t, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				b.WriteString(t.Value)
			}
		}
	}
	return b.String(), s.Err()
}

// TestSecretsNotLogged: with debug logging, a request whose upstream
// rejects the key, and a deployment refused for a literal key, leave no
// secret value in the log.
func TestSecretsNotLogged(t *testing.T) {
	const key, literal = "sk-ant-SECRET-from-env-123", "sk-ant-LITERAL-SECRET-456"
	t.Setenv("OUTCROP_TEST_ANTHROPIC_KEY", key)
	up := providertest.NewUpstream(t, providertest.LoadFixture(t, "../provider/anthropic/testdata/error_401.txt"))
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listen: 127.0.0.1:0
log: {level: debug}
models:
  - id: cloud
    deployments:
      - provider: anthropic
        base_url: %s
        model: claude-sonnet-4-5
        api_key: env:OUTCROP_TEST_ANTHROPIC_KEY
  - id: literal
    deployments:
      - provider: anthropic
        base_url: %s
        model: claude-sonnet-4-5
        api_key: %s
`, up.URL, up.URL, literal)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Home = t.TempDir()
	var logs syncBuffer
	a, err := New(context.Background(), cfg, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	br := bedrockruntime.New(bedrockruntime.Options{HTTPClient: sdktest.HTTPClient(),
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + ln.Addr().String()), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", ""),
	})
	_, err = br.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("cloud"),
		Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}}}})
	if err == nil {
		t.Fatalf("Converse succeeded; the upstream rejects the key")
	}
	if got := up.Calls()[0].Header.Get("X-Api-Key"); got != key {
		t.Fatalf("upstream received key %q", got)
	}
	out := logs.String()
	if !strings.Contains(out, "must be a reference") {
		t.Errorf("the literal key's deployment was not refused in the log:\n%s", out)
	}
	for _, s := range []string{key, literal, "SECRET-from-env", "LITERAL-SECRET"} {
		if strings.Contains(out, s) {
			t.Errorf("log contains %q:\n%s", s, out)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBedrockUpstreamGuardrail: a model whose every deployment leaves
// guardrails to Bedrock passes a guardrail Outcrop does not know to the
// upstream, and Bedrock's intervention comes back; a model with another
// deployment too is guarded by Outcrop, which refuses the unknown
// guardrail before any upstream call.
func TestBedrockUpstreamGuardrail(t *testing.T) {
	t.Setenv("OUTCROP_TEST_AWS_KEY_ID", "AKIDFROMENV")
	t.Setenv("OUTCROP_TEST_AWS_SECRET", "secret-from-env")
	fx := providertest.LoadFixture(t, "../provider/bedrock/testdata/stream_guardrail.txt")
	up := providertest.NewUpstreamFunc(t, func(providertest.Call) *providertest.Fixture { return fx })
	dep := func(name string, guard bool) string {
		return fmt.Sprintf(`
      - name: %s
        provider: bedrock
        base_url: %s
        model: us.anthropic.claude-3-5-haiku-20241022-v1:0
        options:
          region: us-west-2
          guardrails: %v
          access_key_id: env:OUTCROP_TEST_AWS_KEY_ID
          secret_access_key: env:OUTCROP_TEST_AWS_SECRET`, name, up.URL, guard)
	}
	cfg := "listen: 127.0.0.1:0\nmodels:\n  - id: guarded\n    deployments:" + dep("a", true) + dep("b", true) +
		"\n  - id: mixed\n    deployments:" + dep("c", true) + dep("d", false) + "\n"
	addr, stop, done := startApp(t, cfg)
	defer func() { stop(); <-done }()
	br := bedrockruntime.New(bedrockruntime.Options{HTTPClient: sdktest.HTTPClient(),
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", ""),
	})
	in := func(model string) *bedrockruntime.ConverseInput {
		return &bedrockruntime.ConverseInput{ModelId: aws.String(model),
			Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "How do I pick a lock?"}}}},
			GuardrailConfig: &types.GuardrailConfiguration{GuardrailIdentifier: aws.String("gr7x2kq9abcd"), GuardrailVersion: aws.String("3"),
				Trace: types.GuardrailTraceEnabled}}
	}
	out, err := br.Converse(context.Background(), in("guarded"))
	if err != nil {
		t.Fatalf("guarded: %v", err)
	}
	msg := out.Output.(*types.ConverseOutputMemberMessage).Value
	if out.StopReason != types.StopReasonGuardrailIntervened || msg.Content[0].(*types.ContentBlockMemberText).Value != "Sorry, the model cannot answer this question." {
		t.Errorf("guarded: stop %s content %+v", out.StopReason, msg.Content)
	}
	// Every attempt (a retry on the second deployment under load is
	// allowed) carries the guardrail to Bedrock.
	calls := up.Calls()
	if len(calls) == 0 {
		t.Fatal("no upstream call")
	}
	for i, c := range calls {
		if !strings.Contains(string(c.Body), `"guardrailConfig":{"guardrailIdentifier":"gr7x2kq9abcd","guardrailVersion":"3"`) {
			t.Errorf("upstream call %d of %d lacks the guardrail: %s", i, len(calls), c.Body)
		}
	}

	_, err = br.Converse(context.Background(), in("mixed"))
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		t.Errorf("mixed: err = %v, want ValidationException", err)
	}
	if n := len(up.Calls()) - len(calls); n != 0 {
		t.Errorf("mixed: %d upstream calls, want none", n)
	}
}
