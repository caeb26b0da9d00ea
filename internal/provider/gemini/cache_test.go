package gemini

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// fakeGemini answers cachedContents creation and generateContent the way
// the Gemini API does (bodies written after its reference: the creation
// answer, the too-small and permission errors, usageMetadata with
// cachedContentTokenCount), and enforces its rule that a request naming a
// cache repeats neither the system instruction nor the tools.
type fakeGemini struct {
	t        *testing.T
	mu       sync.Mutex
	caches   map[string]int // name → tokens
	creates  []map[string]json.RawMessage
	gens     []map[string]json.RawMessage
	tooSmall bool
	n        int
}

func (f *fakeGemini) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body map[string]json.RawMessage
	json.Unmarshal(b, &body)
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	fail := func(code int, status, msg string) {
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"status":%q}}`, code, msg, status)
	}
	switch {
	case r.URL.Path == "/v1beta/cachedContents":
		f.creates = append(f.creates, body)
		if f.tooSmall {
			fail(400, "INVALID_ARGUMENT", "Cached content is too small. total_token_count=38, min_total_token_count=1024")
			return
		}
		f.n++
		name := fmt.Sprintf("cachedContents/k%06dx", f.n)
		f.caches[name] = 4096
		now := time.Now().UTC()
		fmt.Fprintf(w, `{"name":%q,"model":"models/gemini-2.5-flash","createTime":%q,"updateTime":%q,"expireTime":%q,"displayName":"","usageMetadata":{"totalTokenCount":4096}}`,
			name, now.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano), now.Add(5*time.Minute).Format(time.RFC3339Nano))
	case strings.HasPrefix(r.URL.Path, "/v1beta/models/gemini-2.5-flash:"):
		f.gens = append(f.gens, body)
		cached := 0
		if raw, ok := body["cachedContent"]; ok {
			var name string
			json.Unmarshal(raw, &name)
			tokens, ok := f.caches[name]
			if !ok {
				fail(403, "PERMISSION_DENIED", "CachedContent not found (or permission denied)")
				return
			}
			for _, k := range []string{"systemInstruction", "tools", "toolConfig"} {
				if _, ok := body[k]; ok {
					fail(400, "INVALID_ARGUMENT", "CachedContent can not be used with GenerateContent request setting system_instruction, tools or tool_config.\n\nProposed fix: move those values to CachedContent from GenerateContent request.")
					return
				}
			}
			cached = tokens
		}
		chunk := fmt.Sprintf(`{"candidates":[{"content":{"parts":[{"text":"Paris."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":%d,"candidatesTokenCount":2,"totalTokenCount":%d,"cachedContentTokenCount":%d},"modelVersion":"gemini-2.5-flash","responseId":"r1"}`,
			cached+24, cached+26, cached)
		if strings.HasSuffix(r.URL.Path, ":streamGenerateContent") {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: %s\r\n\r\n", chunk)
			return
		}
		io.WriteString(w, chunk)
	default:
		fail(404, "NOT_FOUND", "not found")
	}
}

func newFakeGemini(t *testing.T, cfg Config) (*fakeGemini, *Provider) {
	f := &fakeGemini{t: t, caches: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.BaseURL, cfg.Model = srv.URL+"/v1beta", "gemini-2.5-flash"
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f, p
}

// cachedRequest is a conversation whose system prompt and first user turn
// (a long document) end in cache points, then a question.
func cachedRequest(question, ttl string) *llm.Request {
	return &llm.Request{
		System: []llm.Block{llm.TextBlock("You answer from the document."), {Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{TTL: ttl}}},
		Messages: []llm.Message{
			{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(strings.Repeat("The capital of France is Paris. ", 500)), {Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{TTL: ttl}}}},
			{Role: llm.RoleAssistant, Content: []llm.Block{llm.TextBlock("I have read it.")}},
			{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(question)}},
		},
		Tools: &llm.ToolConfig{Tools: []llm.Tool{{Name: "lookup", Schema: json.RawMessage(`{"type":"object"}`)}}},
	}
}

func usageOf(t *testing.T, p *Provider, req *llm.Request, stream bool) llm.Usage {
	t.Helper()
	if !stream {
		r, err := p.Converse(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return r.Usage
	}
	s, err := p.ConverseStream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var u llm.Usage
	for {
		ev, err := s.Next()
		if err == io.EOF {
			return u
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == llm.EventMetadata && ev.Usage != nil {
			u = *ev.Usage
		}
	}
}

func TestCachePointCreatesAndNamesCache(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprint("stream=", stream), func(t *testing.T) {
			f, p := newFakeGemini(t, Config{})
			u := usageOf(t, p, cachedRequest("What is the capital?", ""), stream)
			if len(f.creates) != 1 {
				t.Fatalf("%d cache creations, want 1", len(f.creates))
			}
			c := f.creates[0]
			var contents []content
			json.Unmarshal(c["contents"], &contents)
			if string(c["model"]) != `"models/gemini-2.5-flash"` || string(c["ttl"]) != `"300s"` || len(contents) != 1 ||
				c["systemInstruction"] == nil || c["tools"] == nil || c["toolConfig"] == nil {
				t.Errorf("creation body %v", c)
			}
			g := f.gens[0]
			json.Unmarshal(g["contents"], &contents)
			if string(g["cachedContent"]) != `"cachedContents/k000001x"` || len(contents) != 2 || g["systemInstruction"] != nil || g["tools"] != nil {
				t.Errorf("generate body %v", g)
			}
			// The request that created the cache reports a cache write.
			if u.InputTokens != 4120 || u.CacheWriteInputTokens != 4096 || u.CacheReadInputTokens != 0 {
				t.Errorf("first usage %+v, want in 4120 write 4096", u)
			}
			// The same prefix, another question: the cache is named, read.
			u = usageOf(t, p, cachedRequest("And in French?", ""), stream)
			if len(f.creates) != 1 || string(f.gens[1]["cachedContent"]) != `"cachedContents/k000001x"` {
				t.Errorf("second request: %d creations, cachedContent %s", len(f.creates), f.gens[1]["cachedContent"])
			}
			if u.CacheReadInputTokens != 4096 || u.CacheWriteInputTokens != 0 {
				t.Errorf("second usage %+v, want read 4096", u)
			}
			// A one-hour point is another cache.
			usageOf(t, p, cachedRequest("Again", "1h"), stream)
			if len(f.creates) != 2 || string(f.creates[1]["ttl"]) != `"3600s"` {
				t.Errorf("1h point: %d creations, ttl %s", len(f.creates), f.creates[len(f.creates)-1]["ttl"])
			}
		})
	}
}

// TestCachePointConcurrent: concurrent first requests on one prefix create
// its cache once.
func TestCachePointConcurrent(t *testing.T) {
	f, p := newFakeGemini(t, Config{})
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() { usageOf(t, p, cachedRequest(fmt.Sprintf("question %d", i), ""), i%2 == 0) })
	}
	wg.Wait()
	if len(f.creates) != 1 || len(f.gens) != 12 {
		t.Errorf("%d creations and %d generations for 12 requests, want 1 and 12", len(f.creates), len(f.gens))
	}
	for i, g := range f.gens {
		if g["cachedContent"] == nil {
			t.Errorf("generation %d named no cache", i)
		}
	}
}

// TestCachePointRefused: a prefix under Gemini's minimum is sent uncached
// (the request does not fail) and creation is not retried at once.
func TestCachePointRefused(t *testing.T) {
	f, p := newFakeGemini(t, Config{})
	f.tooSmall = true
	for range 3 {
		u := usageOf(t, p, cachedRequest("short", ""), true)
		if u.CacheWriteInputTokens != 0 || u.CacheReadInputTokens != 0 {
			t.Errorf("usage %+v", u)
		}
	}
	if len(f.creates) != 1 {
		t.Errorf("%d creations, want 1 then none while refused", len(f.creates))
	}
	for _, g := range f.gens {
		if g["cachedContent"] != nil || g["systemInstruction"] == nil || g["tools"] == nil {
			t.Errorf("uncached request lost its system or tools: %v", g)
		}
	}
}

// TestCachePointGone: a cache deleted before its expiry makes the request
// go once more, uncached; the next request creates it again.
func TestCachePointGone(t *testing.T) {
	f, p := newFakeGemini(t, Config{})
	usageOf(t, p, cachedRequest("one", ""), true)
	f.mu.Lock()
	clear(f.caches)
	f.mu.Unlock()
	u := usageOf(t, p, cachedRequest("two", ""), false)
	if u.CacheReadInputTokens != 0 || len(f.gens) != 3 || f.gens[2]["cachedContent"] != nil || f.gens[2]["systemInstruction"] == nil {
		t.Errorf("after the cache vanished: usage %+v, %d generations, last %v", u, len(f.gens), f.gens[len(f.gens)-1])
	}
	usageOf(t, p, cachedRequest("three", ""), true)
	if len(f.creates) != 2 {
		t.Errorf("%d creations, want a second one after the cache vanished", len(f.creates))
	}
}

// TestCachePointImplicit: cache_points: implicit drops the points; an
// explicit cachedContent in additionalModelRequestFields is the caller's.
func TestCachePointImplicit(t *testing.T) {
	f, p := newFakeGemini(t, Config{CachePoints: CacheImplicit})
	usageOf(t, p, cachedRequest("q", ""), true)
	if len(f.creates) != 0 || f.gens[0]["cachedContent"] != nil {
		t.Errorf("implicit: %d creations, cachedContent %s", len(f.creates), f.gens[0]["cachedContent"])
	}
	f2, p2 := newFakeGemini(t, Config{})
	f2.caches["cachedContents/mine"] = 100
	req := cachedRequest("q", "")
	req.System, req.Tools = []llm.Block{{Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}}}, nil
	req.Additional = json.RawMessage(`{"cachedContent":"cachedContents/mine"}`)
	usageOf(t, p2, req, false)
	if len(f2.creates) != 0 || string(f2.gens[0]["cachedContent"]) != `"cachedContents/mine"` {
		t.Errorf("caller's cachedContent: %d creations, %s", len(f2.creates), f2.gens[0]["cachedContent"])
	}
	if _, err := New(Config{Model: "gemini-2.5-flash", CachePoints: "always"}); err == nil {
		t.Error("cache_points: always accepted")
	}
}

// TestCachePointNoPrefix: a request whose only cache point ends the last
// message has nothing after it, so the message before is the prefix; a
// single message with a point is sent uncached.
func TestCachePointNoPrefix(t *testing.T) {
	f, p := newFakeGemini(t, Config{})
	one := &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("hi"), {Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}}}}}}
	usageOf(t, p, one, true)
	if len(f.creates) != 0 || f.gens[0]["cachedContent"] != nil {
		t.Errorf("single message: %d creations", len(f.creates))
	}
}
