package azure_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/provider/azure"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

// The token endpoints' answers below are written after Microsoft's
// documentation of each endpoint (IMDS 2018-02-01, App Service 2019-08-01,
// the v2.0 token endpoint), string-typed numbers and error bodies included.

// imdsOK is IMDS's answer: expires_in and expires_on are strings.
func imdsOK(token string, expiresOn time.Time) string {
	return fmt.Sprintf(`{"access_token":%q,"refresh_token":"","expires_in":"86399","expires_on":"%d","not_before":"%d","resource":"https://cognitiveservices.azure.com","token_type":"Bearer"}`,
		token, expiresOn.Unix(), expiresOn.Add(-24*time.Hour).Unix())
}

const imdsNotFound = `{"error":"invalid_request","error_description":"Identity not found"}`

const aadBadSecret = `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '6731de76-14a6-49ae-97bc-6eba6914391e'.\r\nTrace ID: 0f2f1b59-a5a4-4a05-8a3a-2d4a5c7b3e00\r\nCorrelation ID: 8c1f9d2e-4b7a-4e3c-9d5f-1a2b3c4d5e6f\r\nTimestamp: 2026-12-06 23:30:00Z","error_codes":[7000215],"timestamp":"2026-12-06 23:30:00Z","trace_id":"0f2f1b59-a5a4-4a05-8a3a-2d4a5c7b3e00","correlation_id":"8c1f9d2e-4b7a-4e3c-9d5f-1a2b3c4d5e6f","error_uri":"https://login.microsoftonline.com/error?code=7000215"}`

// tokenServer serves fn and records each request.
type tokenServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func newTokenServer(t *testing.T, fn func(n int, r *http.Request, body string) (int, string)) *tokenServer {
	ts := &tokenServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ts.mu.Lock()
		ts.reqs = append(ts.reqs, r)
		ts.body = append(ts.body, string(b))
		n := len(ts.reqs)
		ts.mu.Unlock()
		status, out := fn(n, r, string(b))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, out)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) count() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.reqs)
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time                   { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration)              { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestManagedIdentityIMDS(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	var issued atomic.Int32
	ts := newTokenServer(t, func(n int, r *http.Request, _ string) (int, string) {
		if r.Header.Get("Metadata") != "true" {
			return 400, `{"error":"invalid_request","error_description":"Required metadata header not specified"}`
		}
		i := issued.Add(1)
		return 200, imdsOK(fmt.Sprintf("mi-token-%d", i), clk.Now().Add(time.Hour))
	})
	c, err := azure.NewCredential(azure.CredentialConfig{Kind: azure.ManagedIdentity, ClientID: "c0ffee00-0000-4000-8000-000000000001",
		IMDSEndpoint: ts.URL + "/metadata/identity/oauth2/token", Getenv: env(nil), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	// 50 concurrent first calls make one fetch.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if tok, err := c.Token(t.Context()); err != nil || tok != "mi-token-1" {
				t.Errorf("Token = %q, %v", tok, err)
			}
		})
	}
	wg.Wait()
	if n := ts.count(); n != 1 {
		t.Fatalf("%d fetches for 50 concurrent calls, want 1", n)
	}
	q := ts.reqs[0].URL.Query()
	if ts.reqs[0].URL.Path != "/metadata/identity/oauth2/token" || q.Get("api-version") != "2018-02-01" ||
		q.Get("resource") != "https://cognitiveservices.azure.com" || q.Get("client_id") != "c0ffee00-0000-4000-8000-000000000001" {
		t.Errorf("IMDS request %s", ts.reqs[0].URL)
	}
	// Cached until five minutes before expiry, then refreshed.
	clk.Add(54 * time.Minute)
	if tok, _ := c.Token(t.Context()); tok != "mi-token-1" {
		t.Errorf("at 54 min: %q, want the cached token", tok)
	}
	clk.Add(2 * time.Minute)
	if tok, _ := c.Token(t.Context()); tok != "mi-token-2" {
		t.Errorf("at 56 min: %q, want a refreshed token", tok)
	}
}

// TestManagedIdentityRetries: IMDS answers 500 and 429 while it starts or
// is throttled; those are retried, an unknown identity is not.
func TestManagedIdentityRetries(t *testing.T) {
	ts := newTokenServer(t, func(n int, r *http.Request, _ string) (int, string) {
		switch n {
		case 1:
			return 500, `{"error":"unknown","error_description":"Failed to retrieve token from the Active directory. For details see logs in C:\\User\\..."}`
		case 2:
			return 429, `{"error":"too_many_requests","error_description":"Too many requests"}`
		}
		return 200, imdsOK("after-retries", time.Now().Add(time.Hour))
	})
	c, _ := azure.NewCredential(azure.CredentialConfig{Kind: azure.ManagedIdentity, IMDSEndpoint: ts.URL, Getenv: env(nil)})
	if tok, err := c.Token(t.Context()); err != nil || tok != "after-retries" {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	if ts.reqs[0].URL.Query().Has("client_id") {
		t.Error("system-assigned identity sent a client_id")
	}

	missing := newTokenServer(t, func(int, *http.Request, string) (int, string) { return 400, imdsNotFound })
	c, _ = azure.NewCredential(azure.CredentialConfig{Kind: azure.ManagedIdentity, IMDSEndpoint: missing.URL, Getenv: env(nil)})
	_, err := c.Token(t.Context())
	if err == nil || !strings.Contains(err.Error(), "Identity not found") || !strings.Contains(err.Error(), "400") {
		t.Errorf("unknown identity: %v", err)
	}
	if n := missing.count(); n != 1 {
		t.Errorf("a 400 was tried %d times, want once", n)
	}
}

// TestManagedIdentityAppService: with IDENTITY_ENDPOINT and IDENTITY_HEADER
// set, the platform's endpoint is asked, with its header and api-version.
func TestManagedIdentityAppService(t *testing.T) {
	exp := time.Now().Add(8 * time.Hour).Unix()
	ts := newTokenServer(t, func(_ int, r *http.Request, _ string) (int, string) {
		if r.Header.Get("X-IDENTITY-HEADER") != "secret-header-value" {
			return 401, `{"statusCode":401,"message":"Unauthorized"}`
		}
		return 200, fmt.Sprintf(`{"access_token":"app-service-token","expires_on":"%d","resource":"https://cognitiveservices.azure.com","token_type":"Bearer","client_id":"5E29463D-71DA-4FE0-8E69-999B57DB23B0"}`, exp)
	})
	c, _ := azure.NewCredential(azure.CredentialConfig{Kind: azure.ManagedIdentity, IMDSEndpoint: "http://127.0.0.1:1/unused",
		Getenv: env(map[string]string{"IDENTITY_ENDPOINT": ts.URL + "/msi/token", "IDENTITY_HEADER": "secret-header-value"})})
	tok, err := c.Token(t.Context())
	if err != nil || tok != "app-service-token" {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	if q := ts.reqs[0].URL.Query(); q.Get("api-version") != "2019-08-01" || ts.reqs[0].URL.Path != "/msi/token" {
		t.Errorf("App Service request %s", ts.reqs[0].URL)
	}

	bad, _ := azure.NewCredential(azure.CredentialConfig{Kind: azure.ManagedIdentity,
		Getenv: env(map[string]string{"IDENTITY_ENDPOINT": ts.URL, "IDENTITY_HEADER": "wrong"})})
	if _, err := bad.Token(t.Context()); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Errorf("wrong header: %v", err)
	}
}

// TestWorkloadIdentity: the federated token file, re-read at each fetch,
// is exchanged at the tenant's v2.0 endpoint as a JWT client assertion.
func TestWorkloadIdentity(t *testing.T) {
	file := filepath.Join(t.TempDir(), "azure-identity-token")
	os.WriteFile(file, []byte("eyJhbGciOiJSUzI1NiJ9.first.sig\n"), 0o600)
	clk := &clock{t: time.Now()}
	ts := newTokenServer(t, func(n int, r *http.Request, body string) (int, string) {
		return 200, fmt.Sprintf(`{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"wi-token-%d"}`, n)
	})
	c, err := azure.NewCredential(azure.CredentialConfig{Kind: azure.WorkloadIdentity, Now: clk.Now, Getenv: env(map[string]string{
		"AZURE_CLIENT_ID": "app-1", "AZURE_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
		"AZURE_FEDERATED_TOKEN_FILE": file, "AZURE_AUTHORITY_HOST": ts.URL + "/"})})
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := c.Token(t.Context()); err != nil || tok != "wi-token-1" {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	r := ts.reqs[0]
	form, _ := url.ParseQuery(ts.body[0])
	if r.Method != "POST" || r.URL.Path != "/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token" ||
		form.Get("grant_type") != "client_credentials" || form.Get("client_id") != "app-1" ||
		form.Get("scope") != azure.DefaultScope || form.Get("client_assertion") != "eyJhbGciOiJSUzI1NiJ9.first.sig" ||
		form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || form.Has("client_secret") {
		t.Errorf("token request %s %s %v", r.Method, r.URL.Path, form)
	}
	// The kubelet rotates the file; the next fetch sends the new one.
	os.WriteFile(file, []byte("eyJhbGciOiJSUzI1NiJ9.second.sig"), 0o600)
	clk.Add(time.Hour)
	if tok, _ := c.Token(t.Context()); tok != "wi-token-2" {
		t.Errorf("after expiry: %q", tok)
	}
	if form, _ := url.ParseQuery(ts.body[1]); form.Get("client_assertion") != "eyJhbGciOiJSUzI1NiJ9.second.sig" {
		t.Errorf("second assertion %q", form.Get("client_assertion"))
	}

	if _, err := azure.NewCredential(azure.CredentialConfig{Kind: azure.WorkloadIdentity, Getenv: env(nil)}); err == nil {
		t.Error("workload identity without AZURE_* accepted")
	}
}

// TestClientSecret: a wrong secret's AADSTS error reaches the caller; a
// failed refresh keeps a still-valid token.
func TestClientSecret(t *testing.T) {
	clk := &clock{t: time.Now()}
	fail := atomic.Bool{}
	ts := newTokenServer(t, func(n int, r *http.Request, body string) (int, string) {
		form, _ := url.ParseQuery(body)
		if fail.Load() || form.Get("client_secret") != "s3cret" {
			return 401, aadBadSecret
		}
		return 200, `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"cs-token"}`
	})
	secret := "s3cret"
	c, err := azure.NewCredential(azure.CredentialConfig{Kind: azure.ClientSecret, ClientID: "app-2", TenantID: "contoso.onmicrosoft.com",
		Authority: ts.URL, Secret: func() (string, error) { return secret, nil }, Now: clk.Now, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := c.Token(t.Context()); err != nil || tok != "cs-token" {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	// Due for refresh (57 of 60 minutes) but the endpoint fails: the
	// cached token is still valid and is used.
	fail.Store(true)
	clk.Add(57 * time.Minute)
	if tok, err := c.Token(t.Context()); err != nil || tok != "cs-token" {
		t.Errorf("failed refresh of a valid token: %q, %v", tok, err)
	}
	clk.Add(3 * time.Minute)
	if _, err := c.Token(t.Context()); err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Errorf("expired and refresh failing: %v", err)
	}

	for _, cfg := range []azure.CredentialConfig{
		{Kind: azure.ClientSecret, ClientID: "a", TenantID: "t"},
		{Kind: azure.ClientSecret, ClientID: "a", TenantID: "../evil", Secret: func() (string, error) { return "", nil }},
		{Kind: "password"},
		{Kind: azure.ManagedIdentity, Authority: "ftp://login"},
	} {
		cfg.Getenv = env(nil)
		if _, err := azure.NewCredential(cfg); err == nil {
			t.Errorf("NewCredential(%+v) accepted", cfg)
		}
	}
}

// TestTokenEndpointGarbage: unreadable or incomplete answers are errors,
// never an empty bearer token.
func TestTokenEndpointGarbage(t *testing.T) {
	for _, body := range []string{`<html>gateway timeout</html>`, `{"access_token":""}`, `{"access_token":"x"}`,
		`{"access_token":"x","expires_on":"soon"}`, `{"access_token":"x","expires_in":"-5"}`} {
		ts := newTokenServer(t, func(int, *http.Request, string) (int, string) { return 200, body })
		c, _ := azure.NewCredential(azure.CredentialConfig{Kind: azure.ManagedIdentity, IMDSEndpoint: ts.URL, Getenv: env(nil)})
		if tok, err := c.Token(t.Context()); err == nil {
			t.Errorf("%s: token %q accepted", body, tok)
		}
	}
}

// TestManagedIdentityEndToEnd: the provider sends the managed identity's
// token to the deployment, and a failing identity endpoint is a
// classified error that never reaches the upstream.
func TestManagedIdentityEndToEnd(t *testing.T) {
	up := providertest.NewUpstream(t, providertest.LoadFixture(t, "testdata/azure_stream.txt"))
	imds := newTokenServer(t, func(int, *http.Request, string) (int, string) {
		return 200, imdsOK("vm-token", time.Now().Add(time.Hour))
	})
	cred, _ := azure.NewCredential(azure.CredentialConfig{Kind: azure.ManagedIdentity, IMDSEndpoint: imds.URL, Getenv: env(nil)})
	p, err := azure.New(azure.Config{Endpoint: strings.TrimSuffix(up.URL, "/v1"), Deployment: "d", Token: cred.Token})
	if err != nil {
		t.Fatal(err)
	}
	req := providertest.FixtureRequest(&providertest.Fixture{Name: "x"})
	for range 3 {
		s, err := p.ConverseStream(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if r := providertest.ReadAll(s); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	for _, c := range up.Calls() {
		if c.Header.Get("Authorization") != "Bearer vm-token" {
			t.Errorf("Authorization %q", c.Header.Get("Authorization"))
		}
	}
	if n := imds.count(); n != 1 {
		t.Errorf("%d IMDS calls for 3 requests, want 1", n)
	}
}
