package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Microsoft Entra ID credentials for Azure OpenAI, without the Azure SDK:
// the three ways a workload in Azure gets a token without a stored key.
//
//   - Managed identity. On a VM, VM scale set or AKS node, the Instance
//     Metadata Service (IMDS) at http://169.254.169.254 hands out tokens for
//     the machine's identity; on App Service, Functions and Container Apps
//     the platform sets IDENTITY_ENDPOINT and IDENTITY_HEADER instead. A
//     user-assigned identity is chosen by its client ID.
//   - Workload identity (AKS): a federated service-account token, in the
//     file AZURE_FEDERATED_TOKEN_FILE names, is exchanged at the tenant's
//     token endpoint (client credentials with a JWT client assertion).
//   - A service principal's client secret, exchanged the same way.
//
// Tokens are cached and refreshed five minutes before they expire (at half
// their life when that is shorter), one fetch at a time; a refresh that
// fails while the cached token is still valid keeps the cached token.

// DefaultScope is the Entra scope of Azure OpenAI (Cognitive Services).
const DefaultScope = "https://cognitiveservices.azure.com/.default"

// Default endpoints.
const (
	DefaultIMDSEndpoint = "http://169.254.169.254/metadata/identity/oauth2/token"
	DefaultAuthority    = "https://login.microsoftonline.com"
)

// Credential kinds.
const (
	ManagedIdentity  = "managed-identity"
	WorkloadIdentity = "workload-identity"
	ClientSecret     = "client-secret"
)

// CredentialConfig configures an Entra ID credential.
type CredentialConfig struct {
	// Kind is ManagedIdentity, WorkloadIdentity or ClientSecret.
	Kind string
	// ClientID is the user-assigned managed identity's client ID, or the
	// application's (workload identity, client secret). For workload
	// identity it defaults to AZURE_CLIENT_ID.
	ClientID string
	// TenantID is the directory (workload identity, client secret); it
	// defaults to AZURE_TENANT_ID.
	TenantID string
	// Secret returns the client secret (ClientSecret). It is called at each
	// fetch, so a rotated secret is picked up.
	Secret func() (string, error)
	// TokenFile is the federated token file (WorkloadIdentity); it
	// defaults to AZURE_FEDERATED_TOKEN_FILE and is re-read at each fetch
	// (the kubelet rotates it).
	TokenFile string
	// Authority is the Entra login host; default AZURE_AUTHORITY_HOST, then
	// https://login.microsoftonline.com.
	Authority string
	// IMDSEndpoint is the token endpoint of the metadata service; default
	// http://169.254.169.254/metadata/identity/oauth2/token. Ignored when
	// IDENTITY_ENDPOINT and IDENTITY_HEADER are set (App Service).
	IMDSEndpoint string
	// Scope is the token's scope; default DefaultScope.
	Scope string
	// HTTPClient makes the token calls; a client with a 30-second timeout
	// when nil. (Its transport, like the provider's, goes through the
	// egress allow-list when the operator configured one.)
	HTTPClient *http.Client
	// Getenv reads the environment; os.Getenv when nil (tests set it).
	Getenv func(string) string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Credential fetches and caches Entra ID access tokens. It is safe for
// concurrent use.
type Credential struct {
	cfg   CredentialConfig
	fetch func(context.Context) (string, time.Time, error)

	mu      sync.Mutex // held during a fetch: one at a time
	token   string
	expires time.Time
	refresh time.Time
}

// NewCredential returns a credential for cfg; it fetches nothing yet.
func NewCredential(cfg CredentialConfig) (*Credential, error) {
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Scope == "" {
		cfg.Scope = DefaultScope
	}
	if cfg.Authority == "" {
		cfg.Authority = cfg.Getenv("AZURE_AUTHORITY_HOST")
	}
	if cfg.Authority == "" {
		cfg.Authority = DefaultAuthority
	}
	if cfg.IMDSEndpoint == "" {
		cfg.IMDSEndpoint = DefaultIMDSEndpoint
	}
	c := &Credential{cfg: cfg}
	switch cfg.Kind {
	case ManagedIdentity:
		c.fetch = c.managedIdentity
	case WorkloadIdentity:
		if c.cfg.ClientID == "" {
			c.cfg.ClientID = cfg.Getenv("AZURE_CLIENT_ID")
		}
		if c.cfg.TenantID == "" {
			c.cfg.TenantID = cfg.Getenv("AZURE_TENANT_ID")
		}
		if c.cfg.TokenFile == "" {
			c.cfg.TokenFile = cfg.Getenv("AZURE_FEDERATED_TOKEN_FILE")
		}
		if c.cfg.ClientID == "" || c.cfg.TenantID == "" || c.cfg.TokenFile == "" {
			return nil, errors.New("entra workload identity: client ID, tenant ID and federated token file are required (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE)")
		}
		c.fetch = c.clientCredentials
	case ClientSecret:
		if c.cfg.TenantID == "" {
			c.cfg.TenantID = cfg.Getenv("AZURE_TENANT_ID")
		}
		if c.cfg.ClientID == "" || c.cfg.TenantID == "" || c.cfg.Secret == nil {
			return nil, errors.New("entra client secret: client ID, tenant ID and client secret are required")
		}
		c.fetch = c.clientCredentials
	default:
		return nil, fmt.Errorf("entra credential %q: want %s, %s or %s", cfg.Kind, ManagedIdentity, WorkloadIdentity, ClientSecret)
	}
	if c.cfg.TenantID != "" && !validTenant(c.cfg.TenantID) {
		return nil, fmt.Errorf("entra tenant ID %q is not a tenant ID or domain", c.cfg.TenantID)
	}
	u, err := url.Parse(c.cfg.Authority)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("entra authority %q must be an https:// URL", c.cfg.Authority)
	}
	return c, nil
}

// validTenant reports whether s can be a path segment naming a tenant (a
// GUID or a domain).
func validTenant(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// Token returns a valid access token, fetching one when the cached token
// is due for refresh.
func (c *Credential) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	if c.token != "" && now.Before(c.refresh) {
		return c.token, nil
	}
	tok, exp, err := c.fetch(ctx)
	if err != nil {
		if c.token != "" && now.Add(30*time.Second).Before(c.expires) {
			return c.token, nil // still valid: try again on the next call
		}
		return "", err
	}
	life := exp.Sub(now)
	if life <= 0 {
		return "", fmt.Errorf("entra: the token endpoint returned a token that expired at %s", exp.Format(time.RFC3339))
	}
	lead := 5 * time.Minute
	if life < 2*lead {
		lead = life / 2
	}
	c.token, c.expires, c.refresh = tok, exp, exp.Add(-lead)
	return tok, nil
}

// managedIdentity asks the platform's identity endpoint: App Service's
// when IDENTITY_ENDPOINT and IDENTITY_HEADER are set, else IMDS. Both take
// a resource, not a scope. IMDS answers 429 and 5xx while it starts or is
// throttled; those are retried a few times.
func (c *Credential) managedIdentity(ctx context.Context) (string, time.Time, error) {
	resource := strings.TrimSuffix(c.cfg.Scope, "/.default")
	q := url.Values{"resource": {resource}}
	if c.cfg.ClientID != "" {
		q.Set("client_id", c.cfg.ClientID)
	}
	endpoint, header, value := c.cfg.IMDSEndpoint, "Metadata", "true"
	if e, h := c.cfg.Getenv("IDENTITY_ENDPOINT"), c.cfg.Getenv("IDENTITY_HEADER"); e != "" && h != "" {
		endpoint, header, value = e, "X-IDENTITY-HEADER", h
		q.Set("api-version", "2019-08-01")
	} else {
		q.Set("api-version", "2018-02-01")
	}
	var lastErr error
	for attempt := range 4 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return "", time.Time{}, ctx.Err()
			case <-time.After(time.Duration(1<<attempt) * 100 * time.Millisecond):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?"+q.Encode(), nil)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("entra managed identity: %w", err)
		}
		req.Header.Set(header, value)
		tok, exp, status, err := c.do(req)
		if err == nil {
			return tok, exp, nil
		}
		lastErr = fmt.Errorf("entra managed identity: %w", err)
		if status != http.StatusTooManyRequests && status < 500 && status != 0 {
			break // 400 "Identity not found" and the like: retrying will not help
		}
	}
	return "", time.Time{}, lastErr
}

// clientCredentials exchanges the federated token or the client secret at
// the tenant's v2.0 token endpoint.
func (c *Credential) clientCredentials(ctx context.Context) (string, time.Time, error) {
	form := url.Values{
		"grant_type": {"client_credentials"},
		"client_id":  {c.cfg.ClientID},
		"scope":      {c.cfg.Scope},
	}
	what := "entra client secret"
	if c.cfg.Kind == WorkloadIdentity {
		what = "entra workload identity"
		b, err := os.ReadFile(c.cfg.TokenFile)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("%s: federated token: %w", what, err)
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", strings.TrimSpace(string(b)))
	} else {
		s, err := c.cfg.Secret()
		if err != nil {
			return "", time.Time{}, fmt.Errorf("%s: %w", what, err)
		}
		form.Set("client_secret", s)
	}
	endpoint := strings.TrimRight(c.cfg.Authority, "/") + "/" + c.cfg.TenantID + "/oauth2/v2.0/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%s: %w", what, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	tok, exp, _, err := c.do(req)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%s: %w", what, err)
	}
	return tok, exp, nil
}

// tokenResponse is what the token endpoints answer. IMDS and App Service
// send expires_in and expires_on as strings, Entra's v2.0 endpoint sends
// expires_in as a number; errors carry error and error_description (IMDS,
// Entra) or a message (App Service).
type tokenResponse struct {
	AccessToken string      `json:"access_token"`
	ExpiresIn   json.Number `json:"expires_in"`
	ExpiresOn   json.Number `json:"expires_on"`
	Error       string      `json:"error"`
	Description string      `json:"error_description"`
	Message     string      `json:"message"`
}

// UnmarshalJSON accepts expires_in/expires_on as numbers or strings.
func (t *tokenResponse) UnmarshalJSON(b []byte) error {
	var raw struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		ExpiresOn   json.RawMessage `json:"expires_on"`
		Error       string          `json:"error"`
		Description string          `json:"error_description"`
		Message     string          `json:"message"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*t = tokenResponse{AccessToken: raw.AccessToken, Error: raw.Error, Description: raw.Description, Message: raw.Message,
		ExpiresIn: numberOf(raw.ExpiresIn), ExpiresOn: numberOf(raw.ExpiresOn)}
	return nil
}

// numberOf is a JSON number or a string holding one; empty otherwise.
func numberOf(raw json.RawMessage) json.Number {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return ""
	}
	return json.Number(s)
}

// do sends a token request and reads the token and its expiry. status is
// the HTTP status (0 when the request did not get one).
func (c *Credential) do(req *http.Request) (tok string, exp time.Time, status int, err error) {
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", time.Time{}, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", time.Time{}, resp.StatusCode, err
	}
	var tr tokenResponse
	jsonErr := json.Unmarshal(body, &tr)
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(strings.Join([]string{tr.Error, tr.Description, tr.Message}, " "))
		if jsonErr != nil || msg == "" {
			msg = strings.TrimSpace(string(body[:min(len(body), 200)]))
		}
		return "", time.Time{}, resp.StatusCode, fmt.Errorf("token endpoint answered %d: %s", resp.StatusCode, msg)
	}
	if jsonErr != nil {
		return "", time.Time{}, resp.StatusCode, fmt.Errorf("token endpoint answered unreadable JSON: %v", jsonErr)
	}
	if tr.AccessToken == "" {
		return "", time.Time{}, resp.StatusCode, errors.New("token endpoint answered no access_token")
	}
	now := c.cfg.Now()
	switch {
	case tr.ExpiresOn != "":
		sec, err := tr.ExpiresOn.Int64()
		if err != nil {
			return "", time.Time{}, resp.StatusCode, fmt.Errorf("token endpoint answered expires_on %q", tr.ExpiresOn)
		}
		exp = time.Unix(sec, 0)
	case tr.ExpiresIn != "":
		sec, err := tr.ExpiresIn.Int64()
		if err != nil {
			return "", time.Time{}, resp.StatusCode, fmt.Errorf("token endpoint answered expires_in %q", tr.ExpiresIn)
		}
		exp = now.Add(time.Duration(sec) * time.Second)
	default:
		return "", time.Time{}, resp.StatusCode, errors.New("token endpoint answered no expiry")
	}
	return tr.AccessToken, exp, resp.StatusCode, nil
}
