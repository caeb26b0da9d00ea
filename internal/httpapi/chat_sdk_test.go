package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/testenv"
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

// weatherToolParams offers get_weather(city) to openai-go.
func weatherToolParams() []oai.ChatCompletionToolUnionParam {
	return []oai.ChatCompletionToolUnionParam{oai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: oai.String("Get the current weather in a city."),
		Parameters:  shared.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}},
	})}
}

// TestOpenAIGoTools: openai-go tool calling, streamed and not, and the
// round trip of the tool result, word for word: the upstream replays
// recorded-format tool-call streams (two parallel calls, cached tokens),
// which a 135M model cannot be made to produce. TestOpenAIGoToolsOllama
// runs the same client against the real model.
func TestOpenAIGoTools(t *testing.T) {
	p, up := fixtureProvider(t, "hand_tool_deltas", "hand_tool_deltas", "hand_reasoning_content")
	ts := chatServer(t, p, nil)
	client := openaiGoClient(ts.URL)
	ctx := context.Background()
	tools := weatherToolParams()
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

// TestOpenAIGoToolsOllama: openai-go tool calling against Outcrop serving
// the real Ollama's SmolLM2 under the template that takes tools
// (testenv.OllamaToolsModel), decoding greedily. The 135M model mostly
// answers in prose; whichever it does, the answer must be well formed, and
// the tool result round trip (the model's call, or one built by hand) must
// reach it and come back as text.
func TestOpenAIGoToolsOllama(t *testing.T) {
	t.Parallel() // the time goes to waiting on the shared Ollama
	p, err := openai.New(openai.Config{BaseURL: testenv.OllamaURL(t) + "/v1", Model: testenv.OllamaToolsModel})
	if err != nil {
		t.Fatal(err)
	}
	ts := chatServer(t, p, nil)
	client := openaiGoClient(ts.URL)
	ctx := context.Background()
	msgs := []oai.ChatCompletionMessageParamUnion{oai.UserMessage("What is the weather in Paris? Use the get_weather tool.")}
	params := oai.ChatCompletionNewParams{Model: testModel, Messages: msgs, Tools: weatherToolParams(),
		MaxTokens: oai.Int(48), Temperature: oai.Float(0), Seed: oai.Int(1)}

	// checkAnswer checks a tool-call answer or a prose one and says which.
	checkAnswer := func(t *testing.T, msg oai.ChatCompletionMessage, finish string) string {
		t.Helper()
		if len(msg.ToolCalls) == 0 {
			if msg.Content == "" || (finish != "stop" && finish != "length") {
				t.Errorf("no tool call, content %q, finish_reason %q", msg.Content, finish)
			}
			return fmt.Sprintf("prose (finish %s): %q", finish, msg.Content)
		}
		if finish != "tool_calls" {
			t.Errorf("finish_reason = %q with %d tool calls", finish, len(msg.ToolCalls))
		}
		for _, tc := range msg.ToolCalls {
			var args map[string]any
			if err := json.Unmarshal([]byte(tc.Function.Arguments), &args); err != nil || args == nil {
				t.Errorf("arguments %q are not a JSON object: %v", tc.Function.Arguments, err)
			}
			if tc.ID == "" || tc.Function.Name != "get_weather" {
				t.Errorf("tool call id %q, name %q", tc.ID, tc.Function.Name)
			}
		}
		return fmt.Sprintf("%d tool call(s), first get_weather(%s)", len(msg.ToolCalls), msg.ToolCalls[0].Function.Arguments)
	}

	resp, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 1 || resp.Usage.PromptTokens == 0 || resp.Usage.CompletionTokens == 0 {
		t.Fatalf("response = %s", resp.RawJSON())
	}
	msg := resp.Choices[0].Message
	t.Logf("completion: %s", checkAnswer(t, msg, resp.Choices[0].FinishReason))

	t.Run("stream", func(t *testing.T) {
		p := params
		p.StreamOptions = oai.ChatCompletionStreamOptionsParam{IncludeUsage: oai.Bool(true)}
		stream := client.Chat.Completions.NewStreaming(ctx, p)
		var acc oai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if len(acc.Choices) != 1 || acc.Usage.TotalTokens == 0 {
			t.Fatalf("accumulated %+v, usage %+v", acc.Choices, acc.Usage)
		}
		t.Logf("stream: %s", checkAnswer(t, acc.Choices[0].Message, acc.Choices[0].FinishReason))
	})

	t.Run("round trip", func(t *testing.T) {
		assistant, id := msg.ToParam(), ""
		if len(msg.ToolCalls) > 0 {
			id = msg.ToolCalls[0].ID
		} else {
			id = "call_1"
			assistant = oai.ChatCompletionMessageParamUnion{OfAssistant: &oai.ChatCompletionAssistantMessageParam{
				ToolCalls: []oai.ChatCompletionMessageToolCallUnionParam{{OfFunction: &oai.ChatCompletionMessageFunctionToolCallParam{
					ID: id, Function: oai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: "get_weather", Arguments: `{"city":"Paris"}`},
				}}},
			}}
		}
		p := params
		p.Messages = append(msgs[:len(msgs):len(msgs)], assistant, oai.ToolMessage(`{"temp_c":21}`, id))
		p.MaxTokens = oai.Int(16)
		final, err := client.Chat.Completions.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		c := final.Choices[0]
		if c.Message.Content == "" || len(c.Message.ToolCalls) != 0 || (c.FinishReason != "stop" && c.FinishReason != "length") {
			t.Errorf("final = %s", final.RawJSON())
		}
		// The prompt holds the first one plus the call and its result.
		if final.Usage.PromptTokens <= resp.Usage.PromptTokens {
			t.Errorf("prompt tokens %d after the tool result, %d before", final.Usage.PromptTokens, resp.Usage.PromptTokens)
		}
		t.Logf("final (finish %s): %q", c.FinishReason, c.Message.Content)
	})
}
