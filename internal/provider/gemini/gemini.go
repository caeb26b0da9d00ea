// Package gemini is the provider for Google's Gemini API
// (generativelanguage.googleapis.com): generateContent, and
// streamGenerateContent with server-sent events. It translates the neutral
// request into contents and parts — text, inline images and PDFs, function
// calls and responses, thought signatures — with generationConfig
// (including thinkingConfig from a thinking budget or reasoning_effort),
// function declarations and the function-calling mode, and translates the
// answer back: thought summaries as reasoning, function calls as tool use,
// usageMetadata with cached and thought tokens, and safety blocks (of the
// prompt or the answer) as the content_filtered stop reason. Google's
// error bodies come back as *llm.Error, RESOURCE_EXHAUSTED with its
// RetryInfo delay.
//
// Lifecycle: New validates the configuration and returns a Provider that is
// safe for concurrent use and holds no goroutines; there is nothing to close.
package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// DefaultBaseURL is the Gemini API root.
const DefaultBaseURL = "https://generativelanguage.googleapis.com/v1beta"

// Config configures one Gemini deployment.
type Config struct {
	// BaseURL is the API root that /models/{model}:generateContent hangs
	// off. Default https://generativelanguage.googleapis.com/v1beta.
	BaseURL string
	// Model is the model name, e.g. "gemini-2.5-flash". Required.
	Model string
	// APIKey is sent as the x-goog-api-key header.
	APIKey string
	// HTTPClient makes the calls; a client with a 10s dial timeout when nil.
	HTTPClient *http.Client
	// Headers are extra headers sent with every request.
	Headers map[string]string
	// ExcludeThoughts stops asking for thought summaries
	// (thinkingConfig.includeThoughts) when thinking is configured; by
	// default they are asked for and stream as reasoning.
	ExcludeThoughts bool
	// ContextWindow is the model's context size in tokens, reported by
	// Describe; 0 means unknown.
	ContextWindow int
	// CachePoints is CacheExplicit (default: a cache point creates or
	// names a cachedContents resource) or CacheImplicit (cache points are
	// dropped and Gemini's implicit caching applies).
	CachePoints string
}

// Provider calls one Gemini model.
type Provider struct {
	cfg       Config
	client    *http.Client
	streamURL string
	callURL   string
	cacheURL  string
	caches    cacheTable
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
	if cfg.Model == "" || strings.ContainsAny(cfg.Model, "/?#:") && !strings.HasPrefix(cfg.Model, "models/") {
		return nil, fmt.Errorf("gemini provider: model %q must be a model name such as gemini-2.5-flash", cfg.Model)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gemini provider: base_url %q must be an http:// or https:// URL", cfg.BaseURL)
	}
	model := strings.TrimPrefix(cfg.Model, "models/")
	root := strings.TrimRight(cfg.BaseURL, "/") + "/models/" + url.PathEscape(model)
	switch cfg.CachePoints {
	case "":
		cfg.CachePoints = CacheExplicit
	case CacheExplicit, CacheImplicit:
	default:
		return nil, fmt.Errorf("gemini provider: cache_points %q must be %s or %s", cfg.CachePoints, CacheExplicit, CacheImplicit)
	}
	p := &Provider{cfg: cfg, client: cfg.HTTPClient, streamURL: root + ":streamGenerateContent?alt=sse", callURL: root + ":generateContent",
		cacheURL: strings.TrimRight(cfg.BaseURL, "/") + "/cachedContents"}
	if p.client == nil {
		p.client = defaultClient
	}
	return p, nil
}

// Describe says what the provider serves.
func (p *Provider) Describe() llm.Description {
	return llm.Description{Provider: "gemini", UpstreamModel: p.cfg.Model, ContextWindow: p.cfg.ContextWindow}
}

// ConverseStream calls streamGenerateContent.
func (p *Provider) ConverseStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	ctx, cancel := context.WithCancel(ctx)
	resp, written, err := p.send(ctx, req, p.streamURL)
	if err != nil {
		cancel()
		return nil, err
	}
	var s llm.Stream = newStream(ctx, cancel, resp.Body)
	if written > 0 {
		s = &writeStream{Stream: s, written: written}
	}
	return s, nil
}

// send translates req, names or creates its context cache, and posts it to
// u. A cache that is gone is forgotten and the request sent once more,
// uncached. written is the tokens this request wrote to a new cache.
func (p *Provider) send(ctx context.Context, req *llm.Request, u string) (*http.Response, int, error) {
	b, err := p.build(req)
	if err != nil {
		return nil, 0, err
	}
	written, key := p.useCache(ctx, b)
	body, err := b.encode()
	if err != nil {
		return nil, 0, err
	}
	resp, err := p.post(ctx, u, body)
	if err != nil && key != "" && cacheGone(err) {
		p.forget(key)
		if body, err = p.requestBody(req); err != nil {
			return nil, 0, err
		}
		written = 0
		resp, err = p.post(ctx, u, body)
	}
	return resp, written, err
}

// Converse calls generateContent.
func (p *Provider) Converse(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	resp, written, err := p.send(ctx, req, p.callURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, streamError(ctx, err)
	}
	var t translator
	if err := t.add(b); err != nil {
		return nil, err
	}
	if err := t.finish(); err != nil {
		return nil, err
	}
	var a llm.Assembler
	for _, ev := range t.queue {
		a.Add(ev)
	}
	r := a.Response()
	cacheWrite(&r.Usage, written)
	return r, nil
}

func (p *Provider) post(ctx context.Context, u string, body []byte) (*http.Response, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInternal, Message: "bad upstream URL", Err: err}
	}
	hreq.Header.Set("Content-Type", "application/json")
	if p.cfg.APIKey != "" {
		hreq.Header.Set("X-Goog-Api-Key", p.cfg.APIKey)
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
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, statusError(resp.StatusCode, resp.Header, b, p.cfg.Model)
	}
	return resp, nil
}

// jsonObject reports whether b is a JSON object.
func jsonObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}
