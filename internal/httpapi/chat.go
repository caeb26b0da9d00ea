package httpapi

import (
	"net/http"
	"strings"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

func chatNotFound(model string) error {
	return llm.Errorf(llm.KindNotFound, "The model `%s` does not exist or you do not have access to it.", model)
}

// chatCompletions serves POST /v1/chat/completions, streamed (SSE) or not.
func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) error {
	received := s.d.Now()
	body, err := s.a.ReadBody(r)
	if err != nil {
		return err
	}
	cr, err := decodeChat(body, chatLatencyHeader(r))
	if err != nil {
		return err
	}
	m, ok := s.resolve(cr.req.Model)
	if !ok {
		return chatNotFound(cr.req.Model)
	}
	cr.name, cr.req.Model = cr.req.Model, m.ID // the canonical ID from here on (gateway.Call.Model)
	c := s.chatCall(r, cr)
	c.Received = received
	if cr.stream {
		return s.chatStream(w, r, c, cr)
	}
	resp, err := s.d.Gateway.Converse(r.Context(), c)
	if err != nil {
		return err
	}
	setServedHeaders(w.Header(), resp.Served)
	out := chatResponse(c, received.Unix(), resp)
	out.Model = cr.name
	return WriteJSON(w, http.StatusOK, out)
}

// chatCall builds the gateway call of a chat completion. It is authorized
// as the Bedrock operation it corresponds to, so one IAM policy covers both
// APIs.
func (s *Server) chatCall(r *http.Request, cr *chatRequest) *gateway.Call {
	return &gateway.Call{
		API:       "openai",
		Op:        "ChatCompletions",
		Action:    invokeAction(cr.stream),
		Model:     cr.req.Model,
		Resource:  ModelARN(s.d.Region, cr.req.Model),
		Request:   cr.req,
		Stream:    cr.stream,
		RequestID: RequestID(r.Context()),
	}
}

// chatID is the completion ID: the request ID, so that logs and responses
// correlate.
func chatID(c *gateway.Call) string {
	return "chatcmpl-" + strings.ReplaceAll(c.RequestID, "-", "")
}

// finishReason maps a stop reason to OpenAI's finish_reason.
func finishReason(s llm.StopReason) string {
	switch s {
	case llm.StopMaxTokens, llm.StopContextWindowExceded:
		return "length"
	case llm.StopToolUse:
		return "tool_calls"
	case llm.StopContentFiltered, llm.StopGuardrailIntervened:
		return "content_filter"
	}
	return "stop"
}

type chatUsageWire struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func chatUsage(u llm.Usage) chatUsageWire {
	w := chatUsageWire{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens, TotalTokens: u.Total()}
	w.PromptTokensDetails.CachedTokens = u.CacheReadInputTokens
	w.CompletionTokensDetails.ReasoningTokens = u.ReasoningTokens
	return w
}

type chatToolCallOut struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type chatMessageOut struct {
	Role             string            `json:"role"`
	Content          *string           `json:"content"`
	ReasoningContent string            `json:"reasoning_content,omitempty"`
	ToolCalls        []chatToolCallOut `json:"tool_calls,omitempty"`
	Refusal          *string           `json:"refusal"`
}

type chatChoiceOut struct {
	Index        int            `json:"index"`
	Message      chatMessageOut `json:"message"`
	Logprobs     *struct{}      `json:"logprobs"`
	FinishReason string         `json:"finish_reason"`
}

type chatResponseWire struct {
	ID      string          `json:"id"`
	Object  string          `json:"object"`
	Created int64           `json:"created"`
	Model   string          `json:"model"`
	Choices []chatChoiceOut `json:"choices"`
	Usage   chatUsageWire   `json:"usage"`
	// Metrics is Outcrop's extension, as in Bedrock's Converse response.
	Metrics struct {
		LatencyMs int64 `json:"latencyMs"`
	} `json:"metrics"`
}

// chatResponse renders a complete response as a chat completion.
func chatResponse(c *gateway.Call, created int64, r *llm.Response) *chatResponseWire {
	var text, reasoning strings.Builder
	msg := chatMessageOut{Role: "assistant"}
	for _, b := range r.Message.Content {
		switch b.Kind {
		case llm.KindText:
			text.WriteString(b.Text)
		case llm.KindReasoning:
			if b.Reasoning != nil {
				reasoning.WriteString(b.Reasoning.Text)
			}
		case llm.KindToolUse:
			if b.ToolUse == nil {
				continue
			}
			tc := chatToolCallOut{ID: b.ToolUse.ID, Type: "function"}
			tc.Function.Name = b.ToolUse.Name
			tc.Function.Arguments = string(b.ToolUse.Input)
			msg.ToolCalls = append(msg.ToolCalls, tc)
		}
	}
	if text.Len() > 0 || len(msg.ToolCalls) == 0 {
		t := text.String()
		msg.Content = &t
	}
	msg.ReasoningContent = reasoning.String()
	out := &chatResponseWire{
		ID:      chatID(c),
		Object:  "chat.completion",
		Created: created,
		Model:   c.Request.Model,
		Choices: []chatChoiceOut{{Index: 0, Message: msg, FinishReason: finishReason(r.StopReason)}},
		Usage:   chatUsage(r.Usage),
	}
	out.Metrics.LatencyMs = r.Metrics.LatencyMs
	return out
}
