// Package azure is the provider for Azure OpenAI: OpenAI models deployed in
// an Azure resource, called at deployment-based URLs
// ({endpoint}/openai/deployments/{deployment}/chat/completions) with an
// api-version query parameter and either an api-key header or a Microsoft
// Entra ID bearer token (a token file, or a managed identity, workload
// identity or client secret through Credential). The chat completions wire format is OpenAI's, so
// the translation, streaming and error classification are the openai
// provider's; this package only shapes the requests: URL, query and
// credentials, set by a RoundTripper around the deployment's HTTP client.
//
// Lifecycle: New returns a Provider that is safe for concurrent use and
// holds no goroutines; there is nothing to close.
package azure

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/openai"
)

// DefaultAPIVersion is the api-version sent when Config.APIVersion is empty:
// the latest generally available data-plane version.
const DefaultAPIVersion = "2024-10-21"

// Config configures one Azure OpenAI deployment.
type Config struct {
	// Endpoint is the resource's endpoint,
	// https://<resource>.openai.azure.com. Required.
	Endpoint string
	// Deployment is the deployment name in the resource. Required.
	Deployment string
	// APIVersion is the api-version query parameter. Default 2024-10-21.
	APIVersion string
	// APIKey is sent as the api-key header.
	APIKey string
	// Token returns a Microsoft Entra ID access token (scope
	// https://cognitiveservices.azure.com/.default), sent as
	// "Authorization: Bearer"; it is called for every request, with the
	// request's context, so it caches (Credential.Token) or re-reads a
	// token file that a sidecar refreshes. Used when APIKey is empty.
	Token func(context.Context) (string, error)
	// HTTPClient makes the calls; a plain client when nil.
	HTTPClient *http.Client
	// ContextWindow, MaxTokensField and DefaultMaxTokens are the openai
	// provider's (max_completion_tokens for reasoning models).
	ContextWindow    int
	MaxTokensField   string
	DefaultMaxTokens int
}

// Provider is an openai provider whose requests are shaped for Azure. It
// does not implement llm.Checker: Azure has no model listing at a
// deployment's URL.
type Provider struct {
	p *openai.Provider
}

var (
	_ llm.Provider  = (*Provider)(nil)
	_ llm.Conversor = (*Provider)(nil)
	_ llm.Describer = (*Provider)(nil)
)

// New returns a provider for cfg.
func New(cfg Config) (*Provider, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("azure-openai provider: endpoint %q must be an https:// URL", cfg.Endpoint)
	}
	if cfg.Deployment == "" || strings.ContainsAny(cfg.Deployment, "/?#") {
		return nil, fmt.Errorf("azure-openai provider: deployment %q must be a deployment name", cfg.Deployment)
	}
	if cfg.APIKey == "" && cfg.Token == nil {
		return nil, fmt.Errorf("azure-openai provider: an api key or an Entra ID token is required")
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	base := cfg.HTTPClient
	if base == nil {
		base = &http.Client{}
	}
	rt := base.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	client := *base
	client.Transport = &transport{next: rt, apiVersion: cfg.APIVersion, key: cfg.APIKey, token: cfg.Token}
	root := strings.TrimRight(cfg.Endpoint, "/") + "/openai/deployments/" + url.PathEscape(cfg.Deployment)
	p, err := openai.New(openai.Config{BaseURL: root, Model: cfg.Deployment, HTTPClient: &client,
		ContextWindow: cfg.ContextWindow, MaxTokensField: cfg.MaxTokensField, DefaultMaxTokens: cfg.DefaultMaxTokens})
	if err != nil {
		return nil, fmt.Errorf("azure-openai provider: %w", err)
	}
	return &Provider{p: p}, nil
}

// ConverseStream starts a streaming chat completion.
func (p *Provider) ConverseStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	return p.p.ConverseStream(ctx, req)
}

// Converse makes a non-streaming chat completion.
func (p *Provider) Converse(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	return p.p.Converse(ctx, req)
}

// Describe says what the provider serves.
func (p *Provider) Describe() llm.Description {
	d := p.p.Describe()
	d.Provider = "azure-openai"
	return d
}

// transport adds api-version and the credential to every request.
type transport struct {
	next       http.RoundTripper
	apiVersion string
	key        string
	token      func(context.Context) (string, error)
}

// RoundTrip implements http.RoundTripper. It does not modify the caller's
// request.
func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	q := r.URL.Query()
	q.Set("api-version", t.apiVersion)
	r.URL.RawQuery = q.Encode()
	// The openai provider sends no Authorization without a key; Azure's
	// credential goes in its own header or as an Entra bearer token.
	r.Header.Del("Authorization")
	if t.key != "" {
		r.Header.Set("Api-Key", t.key)
	} else {
		tok, err := t.token(r.Context())
		if err != nil {
			if r.Body != nil {
				r.Body.Close()
			}
			return nil, &llm.Error{Kind: llm.KindModelError, Message: "Outcrop has no Entra ID token for this deployment.", Err: err}
		}
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return t.next.RoundTrip(r)
}
