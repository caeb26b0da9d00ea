// Package openai is the provider for any upstream that speaks the OpenAI
// chat completions API: Ollama, vLLM, llama.cpp's server, LM Studio, OpenAI
// itself. It translates the neutral llm.Request into a chat completions body,
// streams the answer over server-sent events with
// stream_options.include_usage, and translates chunks back into llm events:
// text, tool-call deltas, reasoning (an upstream's reasoning_content or
// reasoning field, or an R1-style <think>…</think> prefix in the content),
// usage with cached prompt tokens, and stop reasons. Upstream failures come
// back as *llm.Error classified for the router's retry decisions.
//
// Lifecycle: New validates the configuration and returns a Provider that is
// safe for concurrent use and holds no goroutines; there is nothing to close.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/h1"
	"github.com/outcrop/outcrop/internal/llm"
)

// Config configures one OpenAI-compatible deployment.
type Config struct {
	// BaseURL is the API root that /chat/completions and /models hang off,
	// e.g. http://127.0.0.1:11434/v1 for Ollama or https://api.openai.com/v1.
	// Required.
	BaseURL string
	// Model is the upstream's model name, e.g. "smollm2:135m". Required.
	Model string
	// APIKey is sent as "Authorization: Bearer <key>" when not empty.
	APIKey string
	// HTTPClient makes the calls; a client with no overall timeout (streams
	// are bounded by the request context) and a 10s dial timeout when nil.
	HTTPClient *http.Client
	// Headers are extra headers sent with every request (e.g.
	// OpenAI-Organization).
	Headers map[string]string
	// ContextWindow is the model's context size in tokens, reported by
	// Describe; 0 means unknown.
	ContextWindow int
	// KeepThinkTags turns off the detection of an R1-style <think>…</think>
	// prefix in the answer text; the tags then reach the client as text.
	// Default false: the prefix becomes a reasoning block.
	KeepThinkTags bool
	// MaxTokensField is the request field that carries the output token
	// limit: "max_tokens" (default, understood by every compatible server)
	// or "max_completion_tokens" (OpenAI's reasoning models require it).
	MaxTokensField string
	// DefaultMaxTokens caps the answer of a request that sets no limit, as
	// Bedrock applies a model's default maximum: without it, a model that
	// never emits its end token generates until the upstream gives up
	// (Ollama shifts its context and goes on). 0 means 4096; -1 sends no
	// limit.
	DefaultMaxTokens int
}

// Provider calls one model on one OpenAI-compatible upstream.
type Provider struct {
	cfg      Config
	client   *http.Client
	chatURL  string
	modelURL string
}

var (
	_ llm.Provider  = (*Provider)(nil)
	_ llm.Conversor = (*Provider)(nil)
	_ llm.Describer = (*Provider)(nil)
	_ llm.Checker   = (*Provider)(nil)
)

// defaultClient is shared by providers that bring no client, so that they
// share one connection pool. Plain-http upstreams (local model servers) go
// through h1's lean transport; https and proxied ones through net/http's.
var defaultClient = &http.Client{Transport: &h1.Transport{
	Fallback: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&netDialer).DialContext,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	},
	Proxy:          http.ProxyFromEnvironment,
	Dial:           (&netDialer).DialContext,
	MaxIdlePerHost: 64,
	IdleTimeout:    90 * time.Second,
}}

// New returns a provider for cfg.
func New(cfg Config) (*Provider, error) {
	if cfg.Model == "" {
		return nil, fmt.Errorf("openai provider: model is required")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("openai provider: base_url %q must be an http:// or https:// URL", cfg.BaseURL)
	}
	if cfg.DefaultMaxTokens == 0 {
		cfg.DefaultMaxTokens = 4096
	}
	switch cfg.MaxTokensField {
	case "":
		cfg.MaxTokensField = "max_tokens"
	case "max_tokens", "max_completion_tokens":
	default:
		return nil, fmt.Errorf("openai provider: max_tokens_field %q is not max_tokens or max_completion_tokens", cfg.MaxTokensField)
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	p := &Provider{cfg: cfg, client: cfg.HTTPClient, chatURL: base + "/chat/completions", modelURL: base + "/models"}
	if p.client == nil {
		p.client = defaultClient
	}
	return p, nil
}

// Describe says what the provider serves.
func (p *Provider) Describe() llm.Description {
	return llm.Description{Provider: "openai", UpstreamModel: p.cfg.Model, ContextWindow: p.cfg.ContextWindow}
}

// Check asks the upstream for its model list and reports an error when the
// upstream is unreachable, rejects the key, or does not list the model.
func (p *Provider) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.modelURL, nil)
	if err != nil {
		return &llm.Error{Kind: llm.KindInternal, Message: "bad upstream URL", Err: err}
	}
	p.setHeaders(req)
	resp, err := p.client.Do(req)
	if err != nil {
		return transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return statusError(resp, p.cfg.Model)
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 8<<20)).Decode(&list); err != nil {
		return &llm.Error{Kind: llm.KindModelError, Message: "the upstream's model list is not valid JSON", Err: err}
	}
	for _, m := range list.Data {
		if m.ID == p.cfg.Model {
			return nil
		}
	}
	return &llm.Error{Kind: llm.KindModelNotReady, Message: fmt.Sprintf("the upstream does not serve model %q", p.cfg.Model)}
}

// ConverseStream starts a streaming chat completion.
func (p *Provider) ConverseStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	body, err := p.requestBody(req, true)
	if err != nil {
		return nil, err
	}
	// The upstream call follows the caller's context only until the answer
	// is complete: the end of the body is then read in the background, after
	// the caller's request may have ended, so that the connection is reused.
	uctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	detach := context.AfterFunc(ctx, cancel)
	resp, err := p.post(uctx, ctx, body, true)
	if err != nil {
		detach()
		cancel()
		return nil, err
	}
	s := newStream(ctx, cancel, resp.Body, req, !p.cfg.KeepThinkTags)
	s.detach = detach
	return s, nil
}

// PreferUnary reports that a non-streamed completion is as complete as a
// streamed one and costs both sides less, so the router asks for one when
// its client does not stream.
func (p *Provider) PreferUnary() bool { return true }

// Converse makes a non-streaming chat completion.
func (p *Provider) Converse(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	body, err := p.requestBody(req, false)
	if err != nil {
		return nil, err
	}
	// As in ConverseStream, the call is detached from ctx once the answer
	// is complete, for an upstream that streams anyway.
	uctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	detach := context.AfterFunc(ctx, cancel)
	resp, err := p.post(uctx, ctx, body, false)
	if err != nil {
		detach()
		cancel()
		return nil, err
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		// An upstream (or a proxy before it) that streams anyway.
		s := newStream(ctx, cancel, resp.Body, req, !p.cfg.KeepThinkTags)
		s.detach = detach
		return llm.Collect(s)
	}
	defer cancel()
	defer detach()
	// The body is read to its end, which hands the connection back to the
	// pool (a decoder stops at the end of the JSON value, before the end of
	// the body, and closing a body early closes its connection).
	buf := bodyBufs.Get().(*bytes.Buffer)
	defer bodyBufs.Put(buf)
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxResponse+1))
	resp.Body.Close()
	if err != nil {
		return nil, streamError(ctx, err)
	}
	if buf.Len() > maxResponse {
		return nil, &llm.Error{Kind: llm.KindModelError, Message: "the upstream's response is too large"}
	}
	var cr completion
	if err := json.Unmarshal(buf.Bytes(), &cr); err != nil {
		return nil, &llm.Error{Kind: llm.KindModelError, Message: "the upstream's response is not valid JSON", Err: err}
	}
	if buf.Cap() > 64<<10 {
		*buf = bytes.Buffer{} // do not keep a rare large answer's buffer in the pool
	}
	return cr.response(req, !p.cfg.KeepThinkTags)
}

// maxResponse bounds a non-streamed answer's body.
const maxResponse = 64 << 20

// bodyBufs holds buffers for non-streamed answers; decoding copies what it
// keeps, so a buffer is free again once the answer is decoded.
var bodyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// post sends a chat completions request and returns the response when the
// upstream accepted it; any other status becomes an *llm.Error.
// The request runs under rctx; its errors are classified (canceled, timed
// out) by the caller's ctx.
func (p *Provider) post(rctx, ctx context.Context, body []byte, stream bool) (*http.Response, error) {
	hreq, err := http.NewRequestWithContext(rctx, http.MethodPost, p.chatURL, bytes.NewReader(body))
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInternal, Message: "bad upstream URL", Err: err}
	}
	hreq.Header.Set("Content-Type", "application/json")
	if stream {
		hreq.Header.Set("Accept", "text/event-stream")
	} else {
		hreq.Header.Set("Accept", "application/json")
	}
	p.setHeaders(hreq)
	resp, err := p.client.Do(hreq)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, statusError(resp, p.cfg.Model)
	}
	return resp, nil
}

func (p *Provider) setHeaders(r *http.Request) {
	if p.cfg.APIKey != "" {
		r.Header.Set("Authorization", "Bearer "+p.cfg.APIKey)
	}
	for k, v := range p.cfg.Headers {
		r.Header.Set(k, v)
	}
}
