package openai

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/outcrop/outcrop/internal/llm"
)

// completion is a non-streamed chat completion.
type completion struct {
	ID      string          `json:"id"`
	Choices []choice        `json:"choices"`
	Usage   *usage          `json:"usage"`
	Error   json.RawMessage `json:"error"`
}

// chunk is one streamed chat completion chunk.
type chunk struct {
	Choices []choice        `json:"choices"`
	Usage   *usage          `json:"usage"`
	Error   json.RawMessage `json:"error"`
}

type choice struct {
	Index        int             `json:"index"`
	Message      delta           `json:"message"` // non-streamed
	Delta        delta           `json:"delta"`   // streamed
	FinishReason string          `json:"finish_reason"`
	StopReason   json.RawMessage `json:"stop_reason"` // vLLM: the stop string or token that ended generation
}

// delta is a message or a streamed delta; the role is always assistant
// and not decoded.
type delta struct {
	Content          string     `json:"content"`
	ReasoningContent string     `json:"reasoning_content"` // DeepSeek, vLLM
	Reasoning        string     `json:"reasoning"`         // Ollama, OpenRouter, vLLM ≥ 0.10
	ToolCalls        []toolCall `json:"tool_calls"`
	Refusal          string     `json:"refusal"`
}

type usage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails *struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func (u *usage) neutral() llm.Usage {
	if u == nil {
		return llm.Usage{}
	}
	n := llm.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens}
	if u.PromptTokensDetails != nil {
		n.CacheReadInputTokens = u.PromptTokensDetails.CachedTokens
	}
	if u.CompletionTokensDetails != nil {
		n.ReasoningTokens = min(max(u.CompletionTokensDetails.ReasoningTokens, 0), n.OutputTokens)
	}
	return n
}

// stopReason maps a finish_reason. A vLLM stop_reason that is one of the
// request's stop sequences means a stop sequence ended generation; other
// servers do not say, and report end_turn.
func stopReason(finish string, vllmStop json.RawMessage, req *llm.Request) llm.StopReason {
	switch finish {
	case "length":
		return llm.StopMaxTokens
	case "tool_calls", "function_call":
		return llm.StopToolUse
	case "content_filter":
		return llm.StopContentFiltered
	}
	if len(vllmStop) > 0 && vllmStop[0] == '"' {
		var s string
		if json.Unmarshal(vllmStop, &s) == nil {
			for _, seq := range req.Inference.StopSequences {
				if s == seq {
					return llm.StopSequence
				}
			}
		}
	}
	return llm.StopEndTurn
}

// response translates a non-streamed completion: reasoning first, then the
// answer text, then tool uses, as a streamed answer would order them.
func (c *completion) response(req *llm.Request, splitThink bool) (*llm.Response, error) {
	if len(c.Error) > 0 && string(c.Error) != "null" {
		return nil, &llm.Error{Kind: llm.KindModelError, Message: "The upstream returned an error.", Err: errorFromBody(c.Error)}
	}
	if len(c.Choices) == 0 {
		return nil, &llm.Error{Kind: llm.KindModelError, Message: "The upstream returned no choices."}
	}
	ch := c.Choices[0]
	r := &llm.Response{Message: llm.Message{Role: llm.RoleAssistant}, Usage: c.Usage.neutral()}
	m := &ch.Message
	reasoning, text := m.ReasoningContent, m.Content
	if reasoning == "" {
		reasoning = m.Reasoning
	}
	if text == "" {
		text = m.Refusal
	}
	if splitThink && reasoning == "" {
		reasoning, text = splitThinkPrefix(text)
	}
	if reasoning != "" {
		r.Message.Content = append(r.Message.Content, llm.Block{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Text: reasoning}})
	}
	r.StopReason = stopReason(ch.FinishReason, ch.StopReason, req)
	if r.StopReason == llm.StopMaxTokens {
		// A character cut by max_tokens, sent as U+FFFD (see translator.cut).
		text = strings.TrimRight(text, "\uFFFD")
	}
	if text != "" {
		r.Message.Content = append(r.Message.Content, llm.TextBlock(text))
	}
	for i, tc := range m.ToolCalls {
		args := tc.Function.Arguments
		if args == "" {
			args = "{}"
		}
		id := tc.ID
		if id == "" {
			id = syntheticToolID(i)
		}
		r.Message.Content = append(r.Message.Content, llm.Block{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: id, Name: tc.Function.Name, Input: json.RawMessage(args)}})
	}
	if r.StopReason == llm.StopEndTurn && len(m.ToolCalls) > 0 {
		// Some servers (older Ollama) report "stop" with tool calls.
		r.StopReason = llm.StopToolUse
	}
	return r, nil
}

func syntheticToolID(i int) string { return "call_" + strconv.Itoa(i) }

// errorFromBody turns an in-band {"error":…} member into a Go error.
func errorFromBody(raw json.RawMessage) error {
	msg := upstreamMessage([]byte(`{"error":` + string(raw) + `}`))
	if msg == "" {
		msg = truncate(string(raw), 512)
	}
	return &upstreamError{msg: msg}
}

type upstreamError struct{ msg string }

func (e *upstreamError) Error() string { return "upstream error: " + e.msg }

// splitThinkPrefix separates an R1-style <think>…</think> prefix from the
// answer of a complete text.
func splitThinkPrefix(s string) (reasoning, text string) {
	var t thinkSplitter
	var r, a []byte
	emit := func(kind llm.DeltaKind, s string) {
		if kind == llm.DeltaReasoning {
			r = append(r, s...)
		} else {
			a = append(a, s...)
		}
	}
	t.feed(s, emit)
	t.flush(emit)
	return string(r), string(a)
}
