package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/outcrop/outcrop/internal/audit"
	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/console"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/httpapi"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/modelstore"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/store"
)

var testKey = bytes.Repeat([]byte{7}, 32)

const testModel = "acme.chat-v1:0"

// echo answers every request with a fixed text after a short pause, so that
// TTFT and OTPS are measured on a real stream.
type echo struct{ text string }

func (e echo) ConverseStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	return &events{evs: []llm.Event{
		{Type: llm.EventMessageStart},
		{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: e.text},
		{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: " done"},
		{Type: llm.EventBlockStop},
		{Type: llm.EventMessageStop, StopReason: llm.StopEndTurn},
		{Type: llm.EventMetadata, Usage: &llm.Usage{InputTokens: 7, OutputTokens: 2}},
	}}, nil
}

type events struct{ evs []llm.Event }

func (s *events) Next() (llm.Event, error) {
	if len(s.evs) == 0 {
		return llm.Event{}, io.EOF
	}
	time.Sleep(2 * time.Millisecond)
	ev := s.evs[0]
	s.evs = s.evs[1:]
	return ev, nil
}
func (s *events) Close() error { return nil }

// env is Outcrop's HTTP surface wired as internal/app wires it: audit and
// authentication middleware (with the console's sessions), the audit and
// authorization stages, the console's request recorder, the admin API and
// the console handler, on a real store.
type env struct {
	URL      string
	db       *store.DB
	st       *auth.Store
	a        *auth.Authenticator
	sessions *console.Sessions
	calls    *console.Calls
	audit    *audit.Log
	models   *modelstore.Store
	clock    *clock
}

type clock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.d) }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.d += d
	c.mu.Unlock()
}

// testAssets is a built console: an index page and a hashed asset.
var testAssets = fstest.MapFS{
	"index.html":             {Data: []byte(`<!doctype html><html><head><script type="module" src="/console/assets/index-abc123.js"></script></head><body><div id="root"></div></body></html>`)},
	"assets/index-abc123.js": {Data: []byte(`console.log("app")`)},
	"favicon.svg":            {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
}

type envOptions struct {
	open   bool
	assets *fstest.MapFS
	pull   func(ctx context.Context, ref string, o modelstore.PullOptions) (modelstore.Model, error)
}

func newEnv(t testing.TB, db *store.DB, o envOptions) *env {
	t.Helper()
	st, err := auth.NewStore(db, testKey)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, st: st, clock: &clock{}}
	e.sessions = console.NewSessions(db, time.Hour)
	e.sessions.Now = e.clock.Now
	var srv *httpapi.Server
	e.a = auth.New(st, auth.Options{Now: e.clock.Now, RefreshInterval: 20 * time.Millisecond, Open: o.open, Sessions: e.sessions,
		WriteError: func(w http.ResponseWriter, r *http.Request, err error) { srv.WriteError(w, r, err) }})
	t.Cleanup(func() { e.a.Close() })
	e.audit = audit.New(db, audit.Options{PromptChars: 200})
	t.Cleanup(func() { e.audit.Close() })
	e.calls = console.NewCalls(db, nil, 0)
	t.Cleanup(func() { e.calls.Close() })
	router := routing.New([]*routing.Model{{
		ID:          testModel,
		Profiles:    []llm.Latency{llm.LatencyStandard, llm.LatencyOptimized},
		Deployments: []*routing.Deployment{{Name: "echo", Provider: echo{text: "hello"}, Type: "echo", Weight: 1}},
	}})
	gw := gateway.New(gateway.Options{Stages: []gateway.Stage{audit.Stage{}, auth.Stage{}}, Final: router.Route, Recorder: e.calls})
	e.models, err = modelstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	assets := testAssets
	if o.assets != nil {
		assets = *o.assets
	}
	c := console.New(console.Options{Auth: e.a, Sessions: e.sessions, Assets: assets})
	adm := &console.Admin{Auth: e.a, Sessions: e.sessions, DB: db, Calls: e.calls, Router: router, Models: e.models, Pull: o.pull, BenchDir: t.TempDir()}
	srv = httpapi.New(httpapi.Deps{Gateway: gw, Router: router, Console: c, Groups: []httpapi.RouteGroup{adm},
		Middleware: []func(http.Handler) http.Handler{e.audit.Middleware, e.a.Middleware},
		Authorize: func(ctx context.Context, action, resource string) error {
			return auth.Check(ctx, action, resource, nil)
		}})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	e.URL = ts.URL
	return e
}

const adminPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["bedrock:*","outcrop:*"],"Resource":"*"}]}`
const bedrockOnly = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:*","Resource":"*"}]}`

// user creates a principal with policy and returns its API key and access key.
func (e *env) user(t testing.TB, name, policy string) (string, *auth.AccessKey) {
	t.Helper()
	ctx := context.Background()
	if err := e.st.AddPrincipal(ctx, name); err != nil {
		t.Fatal(err)
	}
	if policy != "" {
		if err := e.st.AttachPolicy(ctx, name, "p", []byte(policy)); err != nil {
			t.Fatal(err)
		}
	}
	_, key, err := e.st.CreateAPIKey(ctx, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	ak, err := e.st.CreateAccessKey(ctx, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.a.Refresh(ctx)
	return key, ak
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, standing in for the console's fetch calls.
type browser struct {
	t      *testing.T
	base   string
	c      *http.Client
	cookie *http.Cookie
	csrf   string
}

func (e *env) browser(t *testing.T) *browser {
	return &browser{t: t, base: e.URL, c: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request with the session cookie (if any) and, when csrf is
// true, the CSRF header; it returns the status, headers and body.
func (b *browser) do(method, path, body string, csrf bool, hdr ...string) (int, http.Header, []byte) {
	b.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	if csrf {
		req.Header.Set(console.CSRFHeader, b.csrf)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}

type sessionJSON struct {
	Principal  string `json:"principal"`
	Account    string `json:"account"`
	CSRFToken  string `json:"csrfToken"`
	ExpiresAt  string `json:"expiresAt"`
	OpenMode   bool   `json:"openMode"`
	AuthMethod string `json:"authMethod"`
	KeyID      string `json:"keyId"`
}

// signIn posts credentials and keeps the cookie and CSRF token.
func (b *browser) signIn(body string) (int, sessionJSON) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+"/console/api/session", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var s sessionJSON
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &s)
	for _, ck := range resp.Cookies() {
		if ck.Name == console.CookieName {
			b.cookie = ck
		}
	}
	if resp.StatusCode == 200 {
		b.csrf = s.CSRFToken
	}
	return resp.StatusCode, s
}

func message(t *testing.T, body []byte) string {
	t.Helper()
	var m struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("error body is not {\"message\"}: %s", body)
	}
	return m.Message
}

func converseBody(text string) string {
	b, _ := json.Marshal(map[string]any{"messages": []any{map[string]any{"role": "user", "content": []any{map[string]any{"text": text}}}}})
	return string(b)
}

// fstestEmpty is a console build without index.html.
func fstestEmpty() fstest.MapFS { return fstest.MapFS{"robots.txt": {Data: []byte("")}} }
