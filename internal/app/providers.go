package app

import (
	"context"
	"fmt"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/openai"
)

// openaiOptions are the `options` of an openai deployment.
type openaiOptions struct {
	// httpOptions: proxy, ca_file, timeouts, pool size (cloud.go).
	httpOptions `yaml:",inline"`
	// Headers are sent with every upstream request.
	Headers map[string]string `yaml:"headers"`
	// ContextWindow is the model's context size in tokens (0 = unknown).
	ContextWindow int `yaml:"context_window"`
	// KeepThinkTags leaves <think>…</think> in the answer text instead of
	// turning it into a reasoning block.
	KeepThinkTags bool `yaml:"keep_think_tags"`
	// MaxTokensField is max_tokens (default) or max_completion_tokens.
	MaxTokensField string `yaml:"max_tokens_field"`
	// DefaultMaxTokens caps answers of requests that set no limit (0:
	// 4096, -1: no cap).
	DefaultMaxTokens int `yaml:"default_max_tokens"`
	// Organization and Project are sent as OpenAI-Organization and
	// OpenAI-Project (OpenAI's own service).
	Organization string `yaml:"organization"`
	Project      string `yaml:"project"`
}

// newProvider creates the provider of one deployment.
func (a *App) newProvider(ctx context.Context, d config.Deployment) (llm.Provider, error) {
	switch d.Provider {
	case "openai":
		var o openaiOptions
		if err := config.Decode(d.Options, &o); err != nil {
			return nil, fmt.Errorf("options: %w", err)
		}
		key, err := d.APIKey.Resolve()
		if err != nil {
			return nil, fmt.Errorf("api_key: %w", err)
		}
		if d.BaseURL == "" {
			return nil, fmt.Errorf("base_url: required for provider openai")
		}
		if d.Model == "" {
			return nil, fmt.Errorf("model: required for provider openai")
		}
		for name, v := range map[string]string{"OpenAI-Organization": o.Organization, "OpenAI-Project": o.Project} {
			if v == "" {
				continue
			}
			if o.Headers == nil {
				o.Headers = map[string]string{}
			}
			o.Headers[name] = v
		}
		hc, err := a.openaiClient(o.httpOptions)
		if err != nil {
			return nil, err
		}
		return openai.New(openai.Config{
			HTTPClient:       hc,
			BaseURL:          d.BaseURL,
			Model:            d.Model,
			APIKey:           key,
			Headers:          o.Headers,
			ContextWindow:    o.ContextWindow,
			KeepThinkTags:    o.KeepThinkTags,
			MaxTokensField:   o.MaxTokensField,
			DefaultMaxTokens: o.DefaultMaxTokens,
		})
	case "local":
		return a.newLocal(ctx, d)
	case "anthropic", "bedrock", "azure-openai", "gemini":
		return a.newCloudProvider(ctx, d)
	}
	return nil, fmt.Errorf("unknown provider %q (known: openai, local, anthropic, bedrock, azure-openai, gemini)", d.Provider)
}
