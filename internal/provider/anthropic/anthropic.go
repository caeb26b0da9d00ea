// Package anthropic is the provider for Anthropic's Messages API
// (POST /v1/messages). It translates the neutral llm.Request into a
// Messages body — system blocks, images, documents, tool use and results,
// thinking blocks with their signatures, cache_control from cache points,
// extended thinking budgets — streams the answer over server-sent events
// (message_start … message_stop, text, input_json and thinking deltas) and
// translates it back into llm events, with usage split into cache reads and
// writes. Upstream failures come back as *llm.Error: rate limits (429) as
// throttling and overload (529) as unavailability, both retryable and
// carrying the upstream's retry-after.
//
// Lifecycle: New validates the configuration and returns a Provider that is
// safe for concurrent use and holds no goroutines; there is nothing to close.
package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// DefaultBaseURL is Anthropic's API root.
const DefaultBaseURL = "https://api.anthropic.com/v1"

// DefaultVersion is the anthropic-version header sent when Config.Version is
// empty.
const DefaultVersion = "2023-06-01"

// Config configures one Anthropic deployment.
type Config struct {
	// BaseURL is the API root that /messages hangs off. Default
	// https://api.anthropic.com/v1.
	BaseURL string
	// Model is the upstream model name, e.g. "claude-sonnet-4-5". Required.
	Model string
	// APIKey is sent as the x-api-key header.
	APIKey string
	// Version is the anthropic-version header. Default 2023-06-01.
	Version string
	// Beta lists anthropic-beta features sent with every request; a
	// request's additionalModelRequestFields.anthropic_beta adds to them.
	Beta []string
	// HTTPClient makes the calls. Default: a client with a 10s dial timeout
	// and no overall timeout (streams are bounded by the request context).
	HTTPClient *http.Client
	// Headers are extra headers sent with every request.
	Headers map[string]string
	// DefaultMaxTokens is max_tokens for requests that set no limit (the
	// Messages API requires one). Default 4096.
	DefaultMaxTokens int
	// ContextWindow is the model's context size in tokens, reported by
	// Describe; 0 means unknown.
	ContextWindow int
}

// Provider calls one model through the Messages API.
type Provider struct {
	cfg        Config
	client     *http.Client
	messageURL string
}

var (
	_ llm.Provider  = (*Provider)(nil)
	_ llm.Conversor = (*Provider)(nil)
	_ llm.Describer = (*Provider)(nil)
)

var defaultClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConnsPerHost:   32,
	IdleConnTimeout:       90 * time.Second,
	TLSHandshakeTimeout:   10 * time.Second,
	ExpectContinueTimeout: time.Second,
	ForceAttemptHTTP2:     true,
}}

// New returns a provider for cfg.
func New(cfg Config) (*Provider, error) {
	if cfg.Model == "" {
		return nil, fmt.Errorf("anthropic provider: model is required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("anthropic provider: base_url %q must be an http:// or https:// URL", cfg.BaseURL)
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.DefaultMaxTokens <= 0 {
		cfg.DefaultMaxTokens = 4096
	}
	p := &Provider{cfg: cfg, client: cfg.HTTPClient, messageURL: strings.TrimRight(cfg.BaseURL, "/") + "/messages"}
	if p.client == nil {
		p.client = defaultClient
	}
	return p, nil
}

// Describe says what the provider serves.
func (p *Provider) Describe() llm.Description {
	return llm.Description{Provider: "anthropic", UpstreamModel: p.cfg.Model, ContextWindow: p.cfg.ContextWindow}
}

// ConverseStream starts a streaming Messages call.
func (p *Provider) ConverseStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	body, beta, err := p.requestBody(req, true)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	resp, err := p.post(ctx, body, beta)
	if err != nil {
		cancel()
		return nil, err
	}
	return newStream(ctx, cancel, resp.Body), nil
}

// Converse makes a non-streaming Messages call.
func (p *Provider) Converse(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	body, beta, err := p.requestBody(req, false)
	if err != nil {
		return nil, err
	}
	resp, err := p.post(ctx, body, beta)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var m message
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		if ctx.Err() != nil {
			return nil, transportError(ctx, err)
		}
		return nil, &llm.Error{Kind: llm.KindModelError, Message: "The upstream's response is not valid JSON.", Err: err}
	}
	if m.Type == "error" && m.Error != nil {
		return nil, bodyError(m.Error, 0)
	}
	return m.response(), nil
}

// post sends a Messages request and returns the response when the upstream
// accepted it; any other status becomes an *llm.Error.
func (p *Provider) post(ctx context.Context, body []byte, beta []string) (*http.Response, error) {
	return p.postTo(ctx, p.messageURL, body, beta)
}

// postTo is post to another endpoint of the API.
func (p *Provider) postTo(ctx context.Context, u string, body []byte, beta []string) (*http.Response, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInternal, Message: "bad upstream URL", Err: err}
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Anthropic-Version", p.cfg.Version)
	if p.cfg.APIKey != "" {
		hreq.Header.Set("X-Api-Key", p.cfg.APIKey)
	}
	if all := append(append([]string(nil), p.cfg.Beta...), beta...); len(all) > 0 {
		hreq.Header.Set("Anthropic-Beta", strings.Join(all, ","))
	}
	for k, v := range p.cfg.Headers {
		hreq.Header.Set(k, v)
	}
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
