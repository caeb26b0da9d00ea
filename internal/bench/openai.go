package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// OpenAIOptions configures an OpenAI-compatible client.
type OpenAIOptions struct {
	Endpoint   string // base URL, with or without the trailing /v1
	APIKey     string // sent as a bearer token when set
	HTTPClient *http.Client
}

// OpenAI sends chat completions over HTTP, streaming with SSE and
// stream_options.include_usage so that the server reports token counts.
type OpenAI struct {
	url      string
	endpoint string
	key      string
	hc       *http.Client
}

var _ Client = (*OpenAI)(nil)

// bypassHeader asks Outcrop's response cache (internal/cache) to let the
// request through to the model; other servers ignore it.
const bypassHeader = "X-Outcrop-Cache"

// NewOpenAI builds a client.
func NewOpenAI(o OpenAIOptions) *OpenAI {
	base := strings.TrimRight(o.Endpoint, "/")
	if !strings.HasSuffix(base, "/v1") {
		base += "/v1"
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
		}}
	}
	return &OpenAI{url: base + "/chat/completions", endpoint: o.Endpoint, key: o.APIKey, hc: hc}
}

// API implements Client.
func (c *OpenAI) API() string { return "openai" }

// Endpoint implements Client.
func (c *OpenAI) Endpoint() string { return c.endpoint }

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages"`
	MaxTokens     int           `json:"max_tokens,omitempty"`
	Temperature   *float64      `json:"temperature,omitempty"`
	Stream        bool          `json:"stream,omitempty"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options,omitempty"`
	// PerformanceConfig is Outcrop's performance_config extension carrying the Bedrock latency
	// profile; other servers ignore unknown fields.
	PerformanceConfig *struct {
		Latency string `json:"latency"`
	} `json:"performance_config,omitempty"`
}

type chatUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

type chatResponse struct {
	Choices []struct {
		Message *struct {
			Content          string `json:"content"`
			ReasoningContent string `json:"reasoning_content"`
			Reasoning        string `json:"reasoning"`
		} `json:"message"`
		Delta *struct {
			Content          string `json:"content"`
			ReasoningContent string `json:"reasoning_content"`
			Reasoning        string `json:"reasoning"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage             *chatUsage `json:"usage"`
	PerformanceConfig *struct {
		Latency string `json:"latency"`
	} `json:"performanceConfig"`
	Error *apiError `json:"error"`
}

type apiError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    any    `json:"code"`
}

// Do implements Client.
func (c *OpenAI) Do(ctx context.Context, req Request) (Result, error) {
	body := chatRequest{Model: req.Model, MaxTokens: req.MaxTokens, Temperature: req.Temperature, Stream: req.Stream}
	if req.System != "" {
		body.Messages = append(body.Messages, chatMessage{"system", req.System})
	}
	body.Messages = append(body.Messages, chatMessage{"user", req.Prompt})
	if req.Stream {
		body.StreamOptions = &struct {
			IncludeUsage bool `json:"include_usage"`
		}{true}
	}
	if req.Profile != "" {
		body.PerformanceConfig = &struct {
			Latency string `json:"latency"`
		}{req.Profile}
	}
	buf, err := json.Marshal(body)
	if err != nil {
		return Result{}, &Error{Type: ErrOther, Endpoint: c.endpoint, Model: req.Model, Err: err}
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(buf))
	if err != nil {
		return Result{}, &Error{Type: ErrOther, Endpoint: c.endpoint, Model: req.Model, Err: err}
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set(bypassHeader, "bypass") // measure the model, not Outcrop's response cache
	if req.Stream {
		hreq.Header.Set("Accept", "text/event-stream")
	}
	if c.key != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.key)
	}
	var res Result
	resp, err := c.hc.Do(hreq)
	if err != nil {
		res.End = time.Now()
		return res, &Error{Type: classifyTransport(ctx, err), Endpoint: c.endpoint, Model: req.Model, Err: err}
	}
	defer resp.Body.Close()
	res.Deployment = resp.Header.Get(HeaderDeployment)
	res.ProfileServed = resp.Header.Get(HeaderProfile)
	res.RequestID = firstHeader(resp.Header, "X-Request-Id", "X-Amzn-RequestId")
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		res.End = time.Now()
		return res, c.statusError(req, resp.StatusCode, b)
	}
	if !req.Stream {
		var cr chatResponse
		err := json.NewDecoder(resp.Body).Decode(&cr)
		res.End = time.Now()
		if err != nil {
			return res, c.streamErr(ctx, req, fmt.Errorf("decode response: %w", err))
		}
		for _, ch := range cr.Choices {
			if ch.Message != nil {
				res.TextBytes += len(ch.Message.Content) + len(ch.Message.ReasoningContent) + len(ch.Message.Reasoning)
			}
			if ch.FinishReason != nil {
				res.StopReason = *ch.FinishReason
			}
		}
		c.apply(&res, &cr)
		return res, nil
	}
	err = c.readSSE(ctx, resp.Body, &res)
	res.End = time.Now()
	if err != nil {
		return res, c.streamErr(ctx, req, err)
	}
	return res, nil
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

func (c *OpenAI) apply(res *Result, cr *chatResponse) {
	if cr.Usage != nil {
		res.UsageReported = true
		res.InputTokens = cr.Usage.PromptTokens
		res.OutputTokens = cr.Usage.CompletionTokens
		if cr.Usage.PromptTokensDetails != nil {
			res.CachedTokens = cr.Usage.PromptTokensDetails.CachedTokens
		}
	}
	if cr.PerformanceConfig != nil && cr.PerformanceConfig.Latency != "" && res.ProfileServed == "" {
		res.ProfileServed = cr.PerformanceConfig.Latency
	}
}

// readSSE consumes a chat-completion event stream, timing content chunks.
func (c *OpenAI) readSSE(ctx context.Context, r io.Reader, res *Result) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var data strings.Builder
	done := false
	flush := func() error {
		if data.Len() == 0 {
			return nil
		}
		payload := data.String()
		data.Reset()
		if strings.TrimSpace(payload) == "[DONE]" {
			done = true
			return nil
		}
		now := time.Now()
		var cr chatResponse
		if err := json.Unmarshal([]byte(payload), &cr); err != nil {
			return fmt.Errorf("decode stream event: %w", err)
		}
		if cr.Error != nil {
			return fmt.Errorf("stream error: %s", cr.Error.Message)
		}
		for _, ch := range cr.Choices {
			if ch.Delta != nil {
				n := len(ch.Delta.Content) + len(ch.Delta.ReasoningContent) + len(ch.Delta.Reasoning)
				if n > 0 {
					if res.First.IsZero() {
						res.First = now
					}
					res.Last = now
					res.Chunks++
					res.TextBytes += n
				}
			}
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				res.StopReason = *ch.FinishReason
			}
		}
		c.apply(res, &cr)
		return nil
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if err := flush(); err != nil {
				return err
			}
		case strings.HasPrefix(line, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
		if done {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if !done && ctx.Err() != nil {
		return ctx.Err()
	}
	if !done {
		return errors.New("stream ended without [DONE]")
	}
	return nil
}

func (c *OpenAI) streamErr(ctx context.Context, req Request, err error) *Error {
	t := ErrStream
	if ctx.Err() != nil {
		t = classifyTransport(ctx, err)
	}
	return &Error{Type: t, Endpoint: c.endpoint, Model: req.Model, Err: err}
}

func (c *OpenAI) statusError(req Request, status int, body []byte) *Error {
	var wrapper struct {
		Error *apiError `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	code := ""
	if json.Unmarshal(body, &wrapper) == nil && wrapper.Error != nil {
		msg = wrapper.Error.Message
		if s, ok := wrapper.Error.Code.(string); ok && s != "" {
			code = s
		} else {
			code = wrapper.Error.Type
		}
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	e := &Error{Status: status, Code: code, Endpoint: c.endpoint, Model: req.Model}
	if msg != "" {
		e.Err = errors.New(msg)
	}
	e.Type = classifyStatus(status, code, msg)
	return e
}
