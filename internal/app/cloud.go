package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/egress"
	"github.com/outcrop/outcrop/internal/h1"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/anthropic"
	"github.com/outcrop/outcrop/internal/provider/azure"
	"github.com/outcrop/outcrop/internal/provider/bedrock"
	"github.com/outcrop/outcrop/internal/provider/gemini"
)

// httpOptions are the connection settings every hosted provider's
// `options` accept (docs/PROVIDERS.md).
type httpOptions struct {
	// Proxy is an http(s):// proxy URL; empty uses HTTPS_PROXY/NO_PROXY,
	// "none" connects directly.
	Proxy string `yaml:"proxy"`
	// CAFile is a PEM file trusted in addition to the system roots.
	CAFile string `yaml:"ca_file"`
	// ConnectTimeout bounds TCP connect plus TLS handshake. Default 10s.
	ConnectTimeout config.Duration `yaml:"connect_timeout"`
	// ResponseHeaderTimeout bounds the wait for response headers; 0 waits
	// as long as the attempt's timeout allows.
	ResponseHeaderTimeout config.Duration `yaml:"response_header_timeout"`
	// MaxIdleConns is the keep-alive pool size per host. Default 32.
	MaxIdleConns int `yaml:"max_idle_conns"`
}

func (o httpOptions) egress() egress.Options {
	return egress.Options{Proxy: o.Proxy, CAFile: o.CAFile, ConnectTimeout: o.ConnectTimeout.D(),
		ResponseHeaderTimeout: o.ResponseHeaderTimeout.D(), MaxIdleConnsPerHost: o.MaxIdleConns}
}

func (o httpOptions) isZero() bool { return o == httpOptions{} }

// egressPolicy decodes the `egress` section.
func (a *App) egressPolicy() (*egress.Policy, error) {
	var c egress.Config
	if err := config.Decode(a.cfg.Egress, &c); err != nil {
		return nil, fmt.Errorf("egress: %w", err)
	}
	return egress.New(c, a.log)
}

// httpClient builds a deployment's HTTP client under the egress policy.
func (a *App) httpClient(o httpOptions) (*http.Client, error) {
	pol, err := a.egressPolicy()
	if err != nil {
		return nil, err
	}
	return pol.Client(o.egress())
}

// openaiClient returns the client of an openai deployment: nil (the
// provider's shared default) unless egress is restricted or connection
// options are set; plain-http upstreams then still go through h1.
func (a *App) openaiClient(o httpOptions) (*http.Client, error) {
	pol, err := a.egressPolicy()
	if err != nil {
		return nil, err
	}
	if !pol.Restricted() && o.isZero() {
		return nil, nil
	}
	t, err := pol.Transport(o.egress())
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: &h1.Transport{
		Fallback:       t,
		Proxy:          t.Proxy,
		Dial:           t.DialContext,
		MaxIdlePerHost: t.MaxIdleConnsPerHost,
		IdleTimeout:    90 * time.Second,
	}}, nil
}

// secretRef resolves a hosted provider's credential, which must be a
// reference (env:NAME or file:/path) so that no key sits in the
// configuration file; empty stays empty.
func secretRef(name string, s config.Secret) (string, error) {
	v := string(s)
	if v == "" {
		return "", nil
	}
	if !strings.HasPrefix(v, "env:") && !strings.HasPrefix(v, "file:") {
		return "", fmt.Errorf("%s: must be a reference (env:NAME or file:/path), not a literal value", name)
	}
	val, err := s.Resolve()
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return val, nil
}

// anthropicOptions are the `options` of an anthropic deployment.
type anthropicOptions struct {
	httpOptions `yaml:",inline"`
	// Version is the anthropic-version header. Default 2023-06-01.
	Version string `yaml:"version"`
	// Beta lists anthropic-beta features sent with every request.
	Beta []string `yaml:"beta"`
	// Headers are extra headers sent with every request.
	Headers map[string]string `yaml:"headers"`
	// DefaultMaxTokens is max_tokens for requests that set none. Default 4096.
	DefaultMaxTokens int `yaml:"default_max_tokens"`
	// ContextWindow is the model's context size in tokens (0 = unknown).
	ContextWindow int `yaml:"context_window"`
}

// bedrockOptions are the `options` of a bedrock deployment.
type bedrockOptions struct {
	httpOptions `yaml:",inline"`
	// Region is the AWS region. Default: AWS_REGION or the profile's, else
	// us-east-1.
	Region string `yaml:"region"`
	// Profile is a shared-config profile for the standard credential chain.
	Profile string `yaml:"profile"`
	// AccessKeyID, SecretAccessKey and SessionToken are static SigV4
	// credentials (references); empty uses the standard chain.
	AccessKeyID     config.Secret `yaml:"access_key_id"`
	SecretAccessKey config.Secret `yaml:"secret_access_key"`
	SessionToken    config.Secret `yaml:"session_token"`
	// Guardrails passes guardrailConfig and guardContent to Bedrock
	// instead of leaving them to Outcrop's guardrail stage.
	Guardrails bool `yaml:"guardrails"`
	// MaxAttempts is the SDK's attempts per call. Default 1.
	MaxAttempts int `yaml:"max_attempts"`
	// ContextWindow is the model's context size in tokens (0 = unknown).
	ContextWindow int `yaml:"context_window"`
}

// azureOptions are the `options` of an azure-openai deployment.
type azureOptions struct {
	httpOptions `yaml:",inline"`
	// APIVersion is the api-version query parameter. Default 2024-10-21.
	APIVersion string `yaml:"api_version"`
	// EntraToken is a Microsoft Entra ID access token reference (env: or
	// file:), read for every request so that a refreshed file is picked
	// up; used instead of api_key.
	EntraToken config.Secret `yaml:"entra_token"`
	// Entra gets tokens from Microsoft Entra ID instead: managed-identity
	// (IMDS, or App Service's IDENTITY_ENDPOINT), workload-identity (the
	// AZURE_FEDERATED_TOKEN_FILE exchange) or client-secret.
	Entra string `yaml:"entra"`
	// EntraClientID is the user-assigned identity's or the application's
	// client ID; EntraTenantID the directory (both default to
	// AZURE_CLIENT_ID/AZURE_TENANT_ID for workload identity).
	EntraClientID string `yaml:"entra_client_id"`
	EntraTenantID string `yaml:"entra_tenant_id"`
	// EntraClientSecret is the client secret reference (client-secret).
	EntraClientSecret config.Secret `yaml:"entra_client_secret"`
	// EntraAuthority is the login host (default AZURE_AUTHORITY_HOST, then
	// https://login.microsoftonline.com); EntraEndpoint the managed
	// identity token endpoint (default IMDS's).
	EntraAuthority string `yaml:"entra_authority"`
	EntraEndpoint  string `yaml:"entra_endpoint"`
	// MaxTokensField is max_tokens (default) or max_completion_tokens
	// (reasoning models).
	MaxTokensField string `yaml:"max_tokens_field"`
	// DefaultMaxTokens caps answers of requests that set no limit.
	DefaultMaxTokens int `yaml:"default_max_tokens"`
	// ContextWindow is the model's context size in tokens (0 = unknown).
	ContextWindow int `yaml:"context_window"`
}

// geminiOptions are the `options` of a gemini deployment.
type geminiOptions struct {
	httpOptions `yaml:",inline"`
	// Headers are extra headers sent with every request.
	Headers map[string]string `yaml:"headers"`
	// ExcludeThoughts stops asking for thought summaries when thinking is
	// configured.
	ExcludeThoughts bool `yaml:"exclude_thoughts"`
	// ContextWindow is the model's context size in tokens (0 = unknown).
	ContextWindow int `yaml:"context_window"`
	// CachePoints is explicit (default: cache points create and name
	// Gemini context caches) or implicit (they are dropped).
	CachePoints string `yaml:"cache_points"`
}

// newCloudProvider creates the provider of a deployment on a hosted API.
func (a *App) newCloudProvider(ctx context.Context, d config.Deployment) (llm.Provider, error) {
	if d.Model == "" {
		return nil, fmt.Errorf("model: required for provider %s", d.Provider)
	}
	switch d.Provider {
	case "anthropic":
		var o anthropicOptions
		if err := config.Decode(d.Options, &o); err != nil {
			return nil, fmt.Errorf("options: %w", err)
		}
		key, err := secretRef("api_key", d.APIKey)
		if err != nil {
			return nil, err
		}
		hc, err := a.httpClient(o.httpOptions)
		if err != nil {
			return nil, err
		}
		return anthropic.New(anthropic.Config{
			BaseURL: d.BaseURL, Model: d.Model, APIKey: key, Version: o.Version, Beta: o.Beta,
			HTTPClient: hc, Headers: o.Headers, DefaultMaxTokens: o.DefaultMaxTokens, ContextWindow: o.ContextWindow,
		})
	case "bedrock":
		var o bedrockOptions
		if err := config.Decode(d.Options, &o); err != nil {
			return nil, fmt.Errorf("options: %w", err)
		}
		var secrets [4]string
		for i, s := range []struct {
			name string
			ref  config.Secret
		}{{"api_key", d.APIKey}, {"access_key_id", o.AccessKeyID}, {"secret_access_key", o.SecretAccessKey}, {"session_token", o.SessionToken}} {
			v, err := secretRef(s.name, s.ref)
			if err != nil {
				return nil, err
			}
			secrets[i] = v
		}
		if (secrets[1] == "") != (secrets[2] == "") {
			return nil, fmt.Errorf("options: access_key_id and secret_access_key go together")
		}
		hc, err := a.httpClient(o.httpOptions)
		if err != nil {
			return nil, err
		}
		return bedrock.New(ctx, bedrock.Config{
			Region: o.Region, Model: d.Model, Endpoint: d.BaseURL, APIKey: secrets[0],
			AccessKeyID: secrets[1], SecretAccessKey: secrets[2], SessionToken: secrets[3], Profile: o.Profile,
			Guardrails: o.Guardrails, MaxAttempts: o.MaxAttempts, HTTPClient: hc, ContextWindow: o.ContextWindow,
		})
	case "azure-openai":
		var o azureOptions
		if err := config.Decode(d.Options, &o); err != nil {
			return nil, fmt.Errorf("options: %w", err)
		}
		key, err := secretRef("api_key", d.APIKey)
		if err != nil {
			return nil, err
		}
		hc, err := a.httpClient(o.httpOptions)
		if err != nil {
			return nil, err
		}
		var token func(context.Context) (string, error)
		switch {
		case o.EntraToken != "" && o.Entra != "":
			return nil, fmt.Errorf("options: entra_token and entra are exclusive")
		case o.EntraToken != "":
			if _, err := secretRef("entra_token", o.EntraToken); err != nil {
				return nil, err
			}
			ref := o.EntraToken
			token = func(context.Context) (string, error) { return secretRef("entra_token", ref) }
		case o.Entra != "":
			cc := azure.CredentialConfig{Kind: o.Entra, ClientID: o.EntraClientID, TenantID: o.EntraTenantID,
				Authority: o.EntraAuthority, IMDSEndpoint: o.EntraEndpoint, HTTPClient: hc}
			if o.EntraClientSecret != "" {
				if _, err := secretRef("entra_client_secret", o.EntraClientSecret); err != nil {
					return nil, err
				}
				ref := o.EntraClientSecret
				cc.Secret = func() (string, error) { return secretRef("entra_client_secret", ref) }
			}
			cred, err := azure.NewCredential(cc)
			if err != nil {
				return nil, fmt.Errorf("options: %w", err)
			}
			token = cred.Token
		}
		return azure.New(azure.Config{
			Endpoint: d.BaseURL, Deployment: d.Model, APIVersion: o.APIVersion, APIKey: key, Token: token, HTTPClient: hc,
			ContextWindow: o.ContextWindow, MaxTokensField: o.MaxTokensField, DefaultMaxTokens: o.DefaultMaxTokens,
		})
	case "gemini":
		var o geminiOptions
		if err := config.Decode(d.Options, &o); err != nil {
			return nil, fmt.Errorf("options: %w", err)
		}
		key, err := secretRef("api_key", d.APIKey)
		if err != nil {
			return nil, err
		}
		hc, err := a.httpClient(o.httpOptions)
		if err != nil {
			return nil, err
		}
		return gemini.New(gemini.Config{BaseURL: d.BaseURL, Model: d.Model, APIKey: key, HTTPClient: hc, Headers: o.Headers,
			ExcludeThoughts: o.ExcludeThoughts, ContextWindow: o.ContextWindow, CachePoints: o.CachePoints})
	}
	return nil, fmt.Errorf("unknown provider %q", d.Provider)
}

// upstreamGuardrails reports the models whose guardrails Amazon Bedrock
// applies: every deployment is a bedrock deployment with guardrails: true.
// Outcrop's guardrail stage leaves their calls to the upstream; a model
// with any other deployment keeps Outcrop's stage, so that a fallback
// deployment never answers unguarded.
func (a *App) upstreamGuardrails() func(model string) bool {
	set := map[string]bool{}
	for _, m := range a.cfg.Models {
		all := len(m.Deployments) > 0
		for _, d := range m.Deployments {
			var o bedrockOptions
			if d.Provider != "bedrock" || config.Decode(d.Options, &o) != nil || !o.Guardrails {
				all = false
				break
			}
		}
		if all {
			set[m.ID] = true
		}
	}
	if len(set) == 0 {
		return nil
	}
	return func(model string) bool { return set[model] }
}
