package routingtest

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

	"github.com/outcrop/outcrop/internal/llm"
)

// Client is a minimal llm.Provider for an OpenAI-compatible streaming
// upstream: text in, text deltas and usage out. It exists so that the
// router's fault tests cross a real process boundary without depending on
// the full OpenAI provider; it classifies failures the way a provider must
// (5xx and connection failures retryable, 429 throttled with Retry-After,
// 4xx not retryable).
type Client struct {
	BaseURL string
	Model   string
	HTTP    *http.Client // http.DefaultClient when nil
}

var _ llm.Provider = (*Client)(nil)

// ConverseStream starts a streamed chat completion.
func (c *Client) ConverseStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	type msg struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	body := map[string]any{"model": c.Model, "stream": true}
	var msgs []msg
	if s := req.SystemText(); s != "" {
		msgs = append(msgs, msg{"system", s})
	}
	for _, m := range req.Messages {
		var b strings.Builder
		for _, blk := range m.Content {
			if blk.Kind == llm.KindText {
				b.WriteString(blk.Text)
			}
		}
		msgs = append(msgs, msg{string(m.Role), b.String()})
	}
	body["messages"] = msgs
	if req.Inference.MaxTokens != nil {
		body["max_tokens"] = *req.Inference.MaxTokens
	}
	b, _ := json.Marshal(body)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+"/chat/completions", bytes.NewReader(b))
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInternal, Message: "bad upstream URL", Err: err}
	}
	hr.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &llm.Error{Kind: llm.KindUnavailable, Message: "upstream unreachable", Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		e := &llm.Error{Kind: llm.KindModelError, UpstreamStatus: resp.StatusCode, Message: fmt.Sprintf("upstream status %d", resp.StatusCode), Err: errors.New(string(msg))}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			e.Kind = llm.KindThrottled
			e.RetryAfter = llm.ParseRetryAfter(resp.Header.Get("Retry-After"))
		case resp.StatusCode == http.StatusServiceUnavailable:
			e.Kind = llm.KindUnavailable
		case resp.StatusCode < 500:
			e.Kind = llm.KindValidation
		}
		return nil, e
	}
	return &stream{ctx: ctx, body: resp.Body, sc: bufio.NewScanner(resp.Body)}, nil
}

type stream struct {
	ctx     context.Context
	body    io.ReadCloser
	sc      *bufio.Scanner
	started bool
	pending []llm.Event
	done    bool
}

type chunk struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

func (s *stream) Next() (llm.Event, error) {
	for len(s.pending) == 0 {
		if s.done {
			return llm.Event{}, io.EOF
		}
		if !s.sc.Scan() {
			if s.ctx.Err() != nil {
				return llm.Event{}, s.ctx.Err()
			}
			err := s.sc.Err()
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return llm.Event{}, &llm.Error{Kind: llm.KindModelError, Message: "upstream stream broke", Err: err}
		}
		line := s.sc.Text()
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			s.done = true
			continue
		}
		var ch chunk
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			return llm.Event{}, &llm.Error{Kind: llm.KindModelError, Message: "bad upstream chunk", Err: err}
		}
		if !s.started {
			s.started = true
			s.pending = append(s.pending, llm.Event{Type: llm.EventMessageStart})
		}
		for _, c := range ch.Choices {
			if c.Delta.Content != "" {
				s.pending = append(s.pending, llm.Event{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: c.Delta.Content, Tokens: 1})
			}
			if c.FinishReason != nil {
				s.pending = append(s.pending, llm.Event{Type: llm.EventBlockStop}, llm.Event{Type: llm.EventMessageStop, StopReason: llm.StopEndTurn})
			}
		}
		if ch.Usage != nil {
			s.pending = append(s.pending, llm.Event{Type: llm.EventMetadata, Usage: &llm.Usage{InputTokens: ch.Usage.PromptTokens, OutputTokens: ch.Usage.CompletionTokens}})
		}
	}
	ev := s.pending[0]
	s.pending = s.pending[1:]
	return ev, nil
}

func (s *stream) Close() error { return s.body.Close() }
