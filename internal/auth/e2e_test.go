package auth_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"github.com/outcrop/outcrop/internal/sdktest"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/auth/bearer"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/redis/go-redis/v9"

	"github.com/outcrop/outcrop/internal/audit"
	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/httpapi"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/quota"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
	"github.com/outcrop/outcrop/internal/testenv"
)

// e2eModel has a ":" so that SDKs percent-encode it in the path and sign
// the double-encoded form.
const e2eModel = "acme.chat-v1:0"

// e2eAlias is another name of e2eModel.
const e2eAlias = "team-chat"

// echoProvider answers every request with "ok" and fixed usage; it stands in
// for a model so these tests exercise the HTTP layer and the pipeline.
type echoProvider struct{}

func (echoProvider) ConverseStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	return &eventList{evs: []llm.Event{
		{Type: llm.EventMessageStart},
		{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: "ok"},
		{Type: llm.EventBlockStop},
		{Type: llm.EventMessageStop, StopReason: llm.StopEndTurn},
		{Type: llm.EventMetadata, Usage: &llm.Usage{InputTokens: 5, OutputTokens: 1}},
	}}, nil
}

type eventList struct{ evs []llm.Event }

func (s *eventList) Next() (llm.Event, error) {
	if len(s.evs) == 0 {
		return llm.Event{}, io.EOF
	}
	ev := s.evs[0]
	s.evs = s.evs[1:]
	return ev, nil
}
func (s *eventList) Close() error { return nil }

// server is Outcrop's HTTP surface with the security stages wired as the
// app wires them: audit and authentication middleware, then the audit,
// authorization and quota stages.
type server struct {
	URL    string
	CAFile string // the server certificate, when serving HTTPS
	st     *auth.Store
	a      *auth.Authenticator
	audit  *audit.Log
	clock  *clock
}

func newServer(t *testing.T, db *store.DB, q quota.Config) *server {
	t.Helper()
	return newServerTLS(t, db, q, false)
}

// newServerTLS is newServer, serving HTTPS when useTLS; the certificate is
// then written to s.CAFile.
func newServerTLS(t *testing.T, db *store.DB, q quota.Config, useTLS bool) *server {
	t.Helper()
	return newServerWith(t, db, q, quota.Options{}, useTLS)
}

// newServerWith is newServerTLS with the quota stage's options (its
// counter backend and clock).
func newServerWith(t *testing.T, db *store.DB, q quota.Config, qo quota.Options, useTLS bool) *server {
	t.Helper()
	st, err := auth.NewStore(db, testKey)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{st: st, clock: &clock{}}
	// Authentication failures are written by httpapi, as app wires it.
	var srv *httpapi.Server
	s.a = auth.New(st, auth.Options{Now: s.clock.Now, RefreshInterval: 20 * time.Millisecond,
		WriteError: func(w http.ResponseWriter, r *http.Request, err error) { srv.WriteError(w, r, err) }})
	t.Cleanup(func() { s.a.Close() })
	s.audit = audit.New(db, audit.Options{})
	t.Cleanup(func() { s.audit.Close() })
	if q.OnBackendError == "" {
		q.OnBackendError = "deny"
		q.StreamLease = config.Duration(time.Minute)
	}
	qs := quota.New(q, quota.LimitsConfig{ModelLimits: quota.ModelLimits{MaxMessages: 100, MaxInputTokens: 10000, MaxTokens: 1000}}, qo)
	router := routing.New([]*routing.Model{{
		ID:          e2eModel,
		Aliases:     []string{e2eAlias},
		Profiles:    []llm.Latency{llm.LatencyStandard, llm.LatencyOptimized},
		Deployments: []*routing.Deployment{{Name: "echo", Provider: echoProvider{}, Type: "echo", Weight: 1}},
	}})
	gw := gateway.New(gateway.Options{Stages: []gateway.Stage{audit.Stage{}, auth.Stage{}, qs}, Final: router.Route})
	srv = httpapi.New(httpapi.Deps{Gateway: gw, Router: router, Middleware: []func(http.Handler) http.Handler{s.audit.Middleware, s.a.Middleware}})
	h := srv.Handler()
	ts := httptest.NewUnstartedServer(h)
	ts.Config.Protocols = new(http.Protocols)
	ts.Config.Protocols.SetHTTP1(true)
	ts.Config.Protocols.SetUnencryptedHTTP2(true) // the JS SDK speaks h2c
	if useTLS {
		ts.StartTLS()
		s.CAFile = filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(s.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:*","Resource":"*"}]}`

// addUser creates a principal with an access key, an API key and policy.
func (s *server) addUser(t *testing.T, name, policy string) (*auth.AccessKey, string, string) {
	t.Helper()
	ctx := context.Background()
	if err := s.st.AddPrincipal(ctx, name); err != nil {
		t.Fatal(err)
	}
	if policy != "" {
		if err := s.st.AttachPolicy(ctx, name, "p", []byte(policy)); err != nil {
			t.Fatal(err)
		}
	}
	k, err := s.st.CreateAccessKey(ctx, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	info, apiKey, err := s.st.CreateAPIKey(ctx, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.a.Refresh(ctx)
	return k, info.APIKeyID, apiKey
}

func sdkClient(url, akid, secret string, hc *http.Client) *bedrockruntime.Client {
	o := bedrockruntime.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, ""),
		RetryMaxAttempts: 1,
	}
	if hc != nil {
		o.HTTPClient = hc
	}
	return bedrockruntime.New(o)
}

// headerBearer sets the Authorization header; the SDK's own bearer signer
// refuses plain HTTP (bedrock-api.md §7.3).
type headerBearer struct{}

func (headerBearer) SignWithBearerToken(ctx context.Context, tok bearer.Token, m bearer.Message) (bearer.Message, error) {
	req := m.(*smithyhttp.Request)
	req.Header.Set("Authorization", "Bearer "+tok.Value)
	return req, nil
}

func bearerClient(url, token string) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{HTTPClient: sdktest.HTTPClient(),
		Region:                  "us-east-1",
		BaseEndpoint:            aws.String(url),
		BearerAuthTokenProvider: bearer.StaticTokenProvider{Token: bearer.Token{Value: token}},
		BearerAuthSigner:        headerBearer{},
		AuthSchemePreference:    []string{"httpBearerAuth"},
		RetryMaxAttempts:        1,
	})
}

func converse(c *bedrockruntime.Client, latency types.PerformanceConfigLatency) error {
	in := &bedrockruntime.ConverseInput{
		ModelId: aws.String(e2eModel),
		Messages: []types.Message{{Role: types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "write to jane@example.com"}}}},
	}
	if latency != "" {
		in.PerformanceConfig = &types.PerformanceConfiguration{Latency: latency}
	}
	_, err := c.Converse(context.Background(), in)
	return err
}

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return ""
}

// tamperingTransport changes one byte of every request body after the SDK
// has signed it.
type tamperingTransport struct{}

func (tamperingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	b = bytes.Replace(b, []byte("jane"), []byte("JANE"), 1)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return http.DefaultTransport.RoundTrip(r)
}

// otherSecret returns secret with its first character changed, whatever
// that character was.
func otherSecret(secret string) string {
	c := byte('x')
	if secret[0] == c {
		c = 'y'
	}
	return string(c) + secret[1:]
}

func TestGoSDKEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newServer(t, db, quota.Config{})
		ctx := context.Background()
		alice, _, aliceAPI := s.addUser(t, "alice", allowAll)
		noOpt, _, _ := s.addUser(t, "standard-only", `{"Statement":[
			{"Effect":"Allow","Action":"bedrock:InvokeModel*","Resource":"arn:aws:bedrock:*:*:foundation-model/acme.*"},
			{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"bedrock:PerformanceConfigLatency":"optimized"}}}]}`)
		nobody, _, nobodyAPI := s.addUser(t, "no-policy", "")

		tests := []struct {
			name string
			do   func() error
			want string
		}{
			{"valid sigv4", func() error { return converse(sdkClient(s.URL, alice.AccessKeyID, alice.SecretAccessKey, nil), "") }, ""},
			{"valid bearer", func() error { return converse(bearerClient(s.URL, aliceAPI), "") }, ""},
			{"wrong secret", func() error {
				return converse(sdkClient(s.URL, alice.AccessKeyID, otherSecret(alice.SecretAccessKey), nil), "")
			}, "InvalidSignatureException"},
			{"unknown key", func() error {
				return converse(sdkClient(s.URL, "OCIAUNKNOWNUNKNOWN00", alice.SecretAccessKey, nil), "")
			}, "UnrecognizedClientException"},
			{"tampered body", func() error {
				return converse(sdkClient(s.URL, alice.AccessKeyID, alice.SecretAccessKey, &http.Client{Transport: tamperingTransport{}}), "")
			}, "InvalidSignatureException"},
			{"condition allows standard", func() error {
				return converse(sdkClient(s.URL, noOpt.AccessKeyID, noOpt.SecretAccessKey, nil), types.PerformanceConfigLatencyStandard)
			}, ""},
			{"condition denies optimized", func() error {
				return converse(sdkClient(s.URL, noOpt.AccessKeyID, noOpt.SecretAccessKey, nil), types.PerformanceConfigLatencyOptimized)
			}, "AccessDeniedException"},
			{"no policy denies", func() error { return converse(sdkClient(s.URL, nobody.AccessKeyID, nobody.SecretAccessKey, nil), "") }, "AccessDeniedException"},
			{"no policy denies bearer", func() error { return converse(bearerClient(s.URL, nobodyAPI), "") }, "AccessDeniedException"},
			{"bad bearer", func() error { return converse(bearerClient(s.URL, aliceAPI+"x"), "") }, "UnrecognizedClientException"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if got := errCode(tc.do()); got != tc.want {
					t.Errorf("error code = %q, want %q", got, tc.want)
				}
			})
		}

		t.Run("replay outside the skew window", func(t *testing.T) {
			s.clock.Advance(10 * time.Minute)
			defer s.clock.Advance(-10 * time.Minute)
			if got := errCode(converse(sdkClient(s.URL, alice.AccessKeyID, alice.SecretAccessKey, nil), "")); got != "InvalidSignatureException" {
				t.Errorf("error code = %q, want InvalidSignatureException", got)
			}
		})

		t.Run("expired and revoked keys", func(t *testing.T) {
			k, err := s.st.CreateAccessKey(ctx, "alice", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			s.a.Refresh(ctx)
			c := sdkClient(s.URL, k.AccessKeyID, k.SecretAccessKey, nil)
			if got := errCode(converse(c, "")); got != "" {
				t.Fatalf("fresh key: %q", got)
			}
			// Expiry is checked on the server clock, which moves; the
			// request's own signing time stays within the window.
			s.clock.Advance(61 * time.Second)
			got := errCode(converse(c, ""))
			s.clock.Advance(-61 * time.Second)
			if got != "UnrecognizedClientException" {
				t.Errorf("expired key: %q, want UnrecognizedClientException", got)
			}
			_, apiKeyID, apiKey := s.addUser(t, "revokee", allowAll)
			if err := s.st.RevokeAPIKey(ctx, "revokee", apiKeyID); err != nil {
				t.Fatal(err)
			}
			s.a.Refresh(ctx)
			if got := errCode(converse(bearerClient(s.URL, apiKey), "")); got != "UnrecognizedClientException" {
				t.Errorf("revoked API key: %q, want UnrecognizedClientException", got)
			}
		})

		t.Run("audit", func(t *testing.T) {
			s.audit.Flush()
			es, err := s.audit.Query(ctx, "", 1000)
			if err != nil {
				t.Fatal(err)
			}
			decisions := map[string]int{}
			for _, e := range es {
				decisions[e.Decision]++
				if strings.Contains(e.Prompt, "jane@example.com") {
					t.Errorf("unmasked e-mail in audit entry %+v", e)
				}
				if e.Decision == "allow" && (e.Principal == "" || e.Action == "" || e.Resource == "" || e.Status != 200 || e.OutputTokens != 1) {
					t.Errorf("incomplete allow entry %+v", e)
				}
			}
			if decisions["allow"] < 4 || decisions["deny"] < 3 || decisions["unauthenticated"] < 5 {
				t.Errorf("decisions = %v", decisions)
			}
		})
	})
}

// TestThrottlingEndToEnd bursts above a principal's RPM through the HTTP
// layer: exactly the limit is served, the rest get 429
// ThrottlingException with Retry-After.
func TestThrottlingEndToEnd(t *testing.T) {
	s := newServer(t, storetest.SQLite(t), quota.Config{Default: quota.Limit{RPM: 5}})
	_, _, key := s.addUser(t, "bursty", allowAll)
	ok, throttled := 0, 0
	for range 12 {
		req, _ := http.NewRequest("POST", s.URL+"/model/"+strings.ReplaceAll(e2eModel, ":", "%3A")+"/converse",
			strings.NewReader(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case 200:
			ok++
		case 429:
			throttled++
			if resp.Header.Get("X-Amzn-ErrorType") != "ThrottlingException" || resp.Header.Get("Retry-After") == "" {
				t.Errorf("429 without ThrottlingException / Retry-After: %v", resp.Header)
			}
		default:
			t.Errorf("status %d", resp.StatusCode)
		}
	}
	// The minute may turn during the burst; then up to twice the limit is
	// served, never more.
	if ok < 5 || ok > 10 || ok+throttled != 12 {
		t.Errorf("served %d, throttled %d", ok, throttled)
	}
}

// TestRedisReplicasEndToEnd runs two Outcrop servers, as two replicas
// sharing one store and one Redis, and bursts above a principal's RPM
// across both over HTTP: together they serve exactly the limit and answer
// the rest with 429 ThrottlingException and Retry-After.
func TestRedisReplicasEndToEnd(t *testing.T) {
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.SQLite(t)
	const limit = 10
	q := quota.Config{Default: quota.Limit{RPM: limit}, OnBackendError: "deny", StreamLease: config.Duration(time.Minute)}
	prefix := "outcrop-e2e:{" + strconv.FormatInt(time.Now().UnixNano(), 36) + "}:"
	// A clock in the middle of a minute, so the burst never straddles a
	// window boundary.
	mid := time.Date(2026, 11, 25, 12, 0, 30, 0, time.UTC)
	var replicas []*server
	for range 2 {
		c := redis.NewClient(opt)
		t.Cleanup(func() { c.Close() })
		replicas = append(replicas, newServerWith(t, db, q, quota.Options{Backend: quota.NewRedis(c, prefix), Now: func() time.Time { return mid }}, false))
	}
	_, _, key := replicas[0].addUser(t, "shared", allowAll)
	replicas[1].a.Refresh(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 3 * limit {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", replicas[i%2].URL+"/model/"+strings.ReplaceAll(e2eModel, ":", "%3A")+"/converse",
				strings.NewReader(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 429 && (resp.Header.Get("Retry-After") != "30" || resp.Header.Get("X-Amzn-ErrorType") != "ThrottlingException") {
				t.Errorf("429 headers: Retry-After %q, type %q", resp.Header.Get("Retry-After"), resp.Header.Get("X-Amzn-ErrorType"))
			}
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[200] != limit || statuses[429] != 2*limit {
		t.Errorf("statuses = %v, want %d×200 and %d×429", statuses, limit, 2*limit)
	}
}
