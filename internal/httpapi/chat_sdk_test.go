package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// openaiGoClient is an unmodified openai-go client pointed at ts.
func openaiGoClient(url string) oai.Client {
	return oai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("sk-outcrop-test"), option.WithMaxRetries(0))
}

// TestOpenAIGoOllama: openai-go against Outcrop serving the real Ollama.
func TestOpenAIGoOllama(t *testing.T) {
	t.Parallel() // the time goes to waiting on the shared Ollama
	ts := chatServer(t, ollamaProvider(t), nil)
	client := openaiGoClient(ts.URL)
	ctx := context.Background()
	params := oai.ChatCompletionNewParams{
		Model:       testModel,
		Messages:    []oai.ChatCompletionMessageParamUnion{oai.SystemMessage("You are terse."), oai.UserMessage("Say hello.")},
		MaxTokens:   oai.Int(8),
		Temperature: oai.Float(0),
		Seed:        oai.Int(1),
	}
	t.Run("completion", func(t *testing.T) {
		t.Parallel()
		var raw *http.Response
		resp, err := client.Chat.Completions.New(ctx, params, option.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Choices) != 1 || resp.Choices[0].Message.Content == "" || resp.Usage.PromptTokens == 0 || resp.Usage.CompletionTokens == 0 {
			t.Errorf("response = %s", resp.RawJSON())
		}
		if fr := resp.Choices[0].FinishReason; fr != "stop" && fr != "length" {
			t.Errorf("finish_reason = %q", fr)
		}
		if raw.Header.Get(HeaderDeployment) != "dep-1" || raw.Header.Get("X-Request-Id") == "" {
			t.Errorf("headers = %v", raw.Header)
		}
	})
	t.Run("stream", func(t *testing.T) {
		t.Parallel()
		p := params
		p.StreamOptions = oai.ChatCompletionStreamOptionsParam{IncludeUsage: oai.Bool(true)}
		stream := client.Chat.Completions.NewStreaming(ctx, p, option.WithHeader(HeaderLatency, "optimized"))
		var acc oai.ChatCompletionAccumulator
		chunks := 0
		for stream.Next() {
			acc.AddChunk(stream.Current())
			chunks++
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if chunks < 3 || len(acc.Choices) != 1 || acc.Choices[0].Message.Content == "" || acc.Usage.TotalTokens == 0 {
			t.Errorf("%d chunks, accumulated %+v usage %+v", chunks, acc.Choices, acc.Usage)
		}
	})
	t.Run("models", func(t *testing.T) {
		page, err := client.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Data) != 1 || page.Data[0].ID != testModel {
			t.Errorf("models = %+v", page.Data)
		}
		m, err := client.Models.Get(ctx, testModel)
		if err != nil || m.ID != testModel {
			t.Errorf("Get = %+v, %v", m, err)
		}
	})
	t.Run("errors", func(t *testing.T) {
		bad := params
		bad.Model = "no-such-model"
		_, err := client.Chat.Completions.New(ctx, bad)
		var apiErr *oai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
			t.Errorf("unknown model: %v, want a 404 *openai.Error", err)
		}
		bad = params
		bad.N = oai.Int(3)
		_, err = client.Chat.Completions.New(ctx, bad)
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.Message, "n must be 1") {
			t.Errorf("n=3: %v, want a 400 *openai.Error", err)
		}
	})
}

// TestOpenAIGoTools: openai-go tool calling, streamed and not, and the
// round trip of the tool result. smollm2:135m on Ollama refuses tools, so
// the upstream replays recorded-format tool-call streams.
func TestOpenAIGoTools(t *testing.T) {
	p, up := fixtureProvider(t, "hand_tool_deltas", "hand_tool_deltas", "hand_reasoning_content")
	ts := chatServer(t, p, nil)
	client := openaiGoClient(ts.URL)
	ctx := context.Background()
	tools := []oai.ChatCompletionToolUnionParam{oai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: oai.String("Get the current weather in a city."),
		Parameters:  shared.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}},
	})}
	msgs := []oai.ChatCompletionMessageParamUnion{oai.UserMessage("Weather in Paris and Oslo?")}
	params := oai.ChatCompletionNewParams{Model: testModel, Messages: msgs, Tools: tools,
		ToolChoice: oai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: oai.String("required")}}

	// Non-streamed.
	resp, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	msg := resp.Choices[0].Message
	if resp.Choices[0].FinishReason != "tool_calls" || len(msg.ToolCalls) != 2 || msg.ToolCalls[0].Function.Name != "get_weather" ||
		msg.ToolCalls[0].ID != "call_abc" || msg.ToolCalls[1].Function.Arguments != `{"city":"Oslo"}` || resp.Usage.PromptTokensDetails.CachedTokens != 64 {
		t.Fatalf("response = %s", resp.RawJSON())
	}

	// Streamed: the accumulator rebuilds the calls from the deltas.
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc oai.ChatCompletionAccumulator
	var finished []string
	for stream.Next() {
		acc.AddChunk(stream.Current())
		if tc, ok := acc.JustFinishedToolCall(); ok {
			finished = append(finished, tc.Name+tc.Arguments)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	calls := acc.Choices[0].Message.ToolCalls
	if len(calls) != 2 || calls[0].Function.Arguments != `{"city": "Paris"}` || calls[1].ID != "call_def" || acc.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("accumulated = %+v", acc.Choices[0])
	}
	if len(finished) != 2 {
		t.Errorf("finished tool calls = %q, want 2", finished)
	}

	// Round trip: send the results back as tool messages.
	msgs = append(msgs, msg.ToParam(),
		oai.ToolMessage(`{"temp_c":21}`, msg.ToolCalls[0].ID),
		oai.ToolMessage(`{"temp_c":4}`, msg.ToolCalls[1].ID))
	params.Messages = msgs
	params.ToolChoice = oai.ChatCompletionToolChoiceOptionUnionParam{}
	final, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if final.Choices[0].Message.Content != "Hello!" || final.Choices[0].FinishReason != "stop" {
		t.Errorf("final = %s", final.RawJSON())
	}
	reqs := up.Requests()
	var sent struct {
		Messages []struct {
			Role       string `json:"role"`
			ToolCallID string `json:"tool_call_id"`
			ToolCalls  []any  `json:"tool_calls"`
		} `json:"messages"`
	}
	json.Unmarshal(reqs[len(reqs)-1], &sent)
	roles := []string{}
	for _, m := range sent.Messages {
		roles = append(roles, m.Role)
	}
	if strings.Join(roles, ",") != "user,assistant,tool,tool" || len(sent.Messages[1].ToolCalls) != 2 || sent.Messages[3].ToolCallID != "call_def" {
		t.Errorf("upstream got messages %s", reqs[len(reqs)-1])
	}
}
