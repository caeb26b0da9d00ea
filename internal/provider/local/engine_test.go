package local

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/outcrop/outcrop/internal/gguf/ggufgen"
	"github.com/outcrop/outcrop/internal/llm"
)

func tinyModel(t testing.TB, o ggufgen.Options) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := ggufgen.WriteFile(path, o); err != nil {
		t.Fatal(err)
	}
	return path
}

// newTiny starts an engine on a freshly generated tiny model.
func newTiny(t testing.TB, cfg Config) *Engine {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = tinyModel(t, ggufgen.Options{})
	}
	if cfg.Threads == 0 {
		cfg.Threads = 1
	}
	if cfg.ContextSize == 0 {
		cfg.ContextSize = 512
	}
	e, err := New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func userRequest(text string) *llm.Request {
	return &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(text)}}}}
}

func ptr[T any](v T) *T { return &v }

// drain reads s to the end, checking the Bedrock event order and that
// every text delta is valid UTF-8.
func drain(t testing.TB, s llm.Stream) (events []llm.Event, err error) {
	t.Helper()
	defer s.Close()
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return events, err
		}
		if ev.Type == llm.EventBlockDelta && !utf8.ValidString(ev.Text) {
			t.Errorf("delta %q is not valid UTF-8", ev.Text)
		}
		events = append(events, ev)
	}
	if len(events) < 3 || events[0].Type != llm.EventMessageStart ||
		events[len(events)-2].Type != llm.EventMessageStop || events[len(events)-1].Type != llm.EventMetadata {
		t.Errorf("bad event order: %v", eventTypes(events))
	}
	return events, nil
}

func eventTypes(evs []llm.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type.String())
	}
	return out
}

func TestTinyGenerate(t *testing.T) {
	e := newTiny(t, Config{})
	for _, maxTok := range []int{1, 5, 40} {
		req := userRequest("Hello world")
		req.Inference.MaxTokens = ptr(maxTok)
		req.Inference.Temperature = ptr(1.5) // random weights: wander through the vocabulary
		req.Inference.Seed = ptr(int64(maxTok))
		s, err := e.ConverseStream(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := drain(t, s)
		if err != nil {
			t.Fatal(err)
		}
		var a llm.Assembler
		deltaTokens := 0
		for _, ev := range evs {
			a.Add(ev)
			deltaTokens += ev.Tokens
		}
		r := a.Response()
		n, _ := e.CountTokens(context.Background(), req)
		if r.Usage.InputTokens != n || r.Usage.OutputTokens < 1 || r.Usage.OutputTokens > maxTok {
			t.Errorf("maxTokens %d: usage %+v, CountTokens %d", maxTok, r.Usage, n)
		}
		if r.StopReason == llm.StopMaxTokens && r.Usage.OutputTokens != maxTok {
			t.Errorf("max_tokens stop after %d tokens, want %d", r.Usage.OutputTokens, maxTok)
		}
		if deltaTokens > r.Usage.OutputTokens {
			t.Errorf("deltas carry %d tokens, usage says %d", deltaTokens, r.Usage.OutputTokens)
		}
	}
}

func TestTokenizeRoundTrip(t *testing.T) {
	e := newTiny(t, Config{})
	tests := []struct {
		name string
		text string
		want []int // nil: only check the round trip
	}{
		{name: "merges", text: "Hello, my name is", want: nil},
		{name: "specials", text: "<|im_start|>user\nHello world<|im_end|>"},
		{name: "unicode", text: "naïve café — 日本語 🌍"},
		{name: "controls", text: "tab\there\x00nul\x1bescape\r\n"},
		{name: "empty", text: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			toks, err := e.Tokenize(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			// llama.cpp's piece API cannot return NUL bytes; they are the
			// one thing that does not round-trip.
			if got := e.Detokenize(toks); got != strings.ReplaceAll(tc.text, "\x00", "") {
				t.Errorf("Detokenize(Tokenize(%q)) = %q", tc.text, got)
			}
		})
	}
	toks, _ := e.Tokenize("<|im_start|>user")
	if len(toks) == 0 || toks[0] != ggufgen.TokenImStart {
		t.Errorf("Tokenize(<|im_start|>user) = %v, want the special token first", toks)
	}
}

func TestUTF8Streaming(t *testing.T) {
	// Random weights at a high temperature produce arbitrary byte tokens,
	// including partial and invalid UTF-8; no delta may split a rune.
	e := newTiny(t, Config{})
	for seed := int64(1); seed <= 5; seed++ {
		req := userRequest("Ünïcödé 🌍 日本")
		req.Inference.MaxTokens = ptr(64)
		req.Inference.Temperature = ptr(2.0)
		req.Inference.TopK = ptr(0)
		req.Inference.TopP = ptr(1.0)
		req.Inference.Seed = ptr(seed)
		s, err := e.ConverseStream(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := drain(t, s); err != nil {
			t.Fatal(err)
		}
	}
}

func TestContextTooLong(t *testing.T) {
	e := newTiny(t, Config{ContextSize: 64})
	_, err := e.ConverseStream(context.Background(), userRequest(strings.Repeat("x y ", 100)))
	var le *llm.Error
	if !errors.As(err, &le) || le.Kind != llm.KindValidation || !strings.Contains(le.Message, "64 tokens") {
		t.Fatalf("ConverseStream(long) = %v, want ValidationException with token counts", err)
	}
}

func TestBadModelFiles(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(tinyModel(t, ggufgen.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"text.gguf":      []byte("hello, I am not a model"),
		"truncated.gguf": good[:len(good)/2],
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"missing.gguf", "text.gguf", "truncated.gguf"} {
		path := filepath.Join(dir, name)
		e, err := New(context.Background(), Config{Path: path}, nil)
		if err == nil {
			e.Close()
			t.Errorf("New(%s) succeeded", name)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("New(%s) = %q, want the file named", name, err)
		}
	}
}

func TestBadInference(t *testing.T) {
	e := newTiny(t, Config{})
	for name, ic := range map[string]llm.InferenceConfig{
		"temperature": {Temperature: ptr(-1.0)},
		"topP":        {TopP: ptr(1.5)},
		"topK":        {TopK: ptr(-3)},
		"maxTokens":   {MaxTokens: ptr(0)},
	} {
		req := userRequest("hi")
		req.Inference = ic
		if _, err := e.ConverseStream(context.Background(), req); llm.AsError(err).Kind != llm.KindValidation || err == nil {
			t.Errorf("%s: err = %v, want ValidationException", name, err)
		}
	}
}

func TestAdmissionQueue(t *testing.T) {
	now := time.Now()
	mk := func(name string, opt bool, age time.Duration) *request {
		return &request{optimized: opt, enqueued: now.Add(-age), ctx: context.WithValue(context.Background(), nameKey{}, name)}
	}
	tests := []struct {
		name    string
		reqs    []*request
		limit   int
		maxWait time.Duration
		want    string
	}{
		{
			name:  "optimized first",
			reqs:  []*request{mk("s1", false, 0), mk("s2", false, 0), mk("o1", true, 0), mk("o2", true, 0)},
			limit: 10, maxWait: time.Hour,
			want: "o1 o2 s1 s2",
		},
		{
			name:  "starvation limit",
			reqs:  []*request{mk("s1", false, 0), mk("o1", true, 0), mk("o2", true, 0), mk("o3", true, 0), mk("s2", false, 0)},
			limit: 2, maxWait: time.Hour,
			want: "o1 o2 s1 o3 s2",
		},
		{
			name:  "max wait",
			reqs:  []*request{mk("s1", false, time.Minute), mk("o1", true, 0)},
			limit: 10, maxWait: time.Second,
			want: "s1 o1",
		},
		{
			name:  "fifo within class",
			reqs:  []*request{mk("s1", false, 0), mk("s2", false, 0), mk("s3", false, 0)},
			limit: 1, maxWait: time.Hour,
			want: "s1 s2 s3",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var q admissionQueue
			for _, r := range tc.reqs {
				q.push(r)
			}
			var got []string
			for r := q.pop(now, tc.limit, tc.maxWait); r != nil; r = q.pop(now, tc.limit, tc.maxWait) {
				got = append(got, r.ctx.Value(nameKey{}).(string))
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("order = %q, want %q", g, tc.want)
			}
		})
	}
}

type nameKey struct{}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSlotScheduling(t *testing.T) {
	e := newTiny(t, Config{Slots: 2, QueueSize: 1, ContextSize: 4096, DefaultMaxTokens: 4000, ignoreEOG: true})
	long := func() *llm.Request {
		r := userRequest("go on")
		r.Inference.StopSequences = []string{"\x00never"}
		return r
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var streams []llm.Stream
	for i := 0; i < 3; i++ {
		s, err := e.ConverseStream(ctx, long())
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		streams = append(streams, s)
	}
	waitFor(t, "two requests in flight and one queued", func() bool {
		st := e.Stats()
		return st.InFlight == 2 && st.Queued == 1
	})
	_, err := e.ConverseStream(ctx, long())
	if le := llm.AsError(err); err == nil || le.Kind != llm.KindThrottled || le.RetryAfter == 0 {
		t.Fatalf("fourth request: err = %v, want ThrottlingException with RetryAfter", err)
	}
	if st := e.Stats(); st.Rejected != 1 {
		t.Errorf("Stats().Rejected = %d, want 1", st.Rejected)
	}
	// Closing a running stream frees its slot for the queued request.
	streams[0].Close()
	waitFor(t, "the queued request to be admitted", func() bool {
		st := e.Stats()
		return st.Queued == 0 && st.InFlight == 2
	})
	// The admitted request streams.
	ev, err := streams[2].Next()
	if err != nil || ev.Type != llm.EventMessageStart {
		t.Fatalf("queued stream: first event %v, %v", ev.Type, err)
	}
	cancel()
	for _, s := range streams[1:] {
		for {
			if _, err := s.Next(); err != nil {
				if le := llm.AsError(err); le.Kind != llm.KindCanceled {
					t.Errorf("after cancel: %v, want RequestCanceled", err)
				}
				break
			}
		}
	}
	waitFor(t, "slots to be freed", func() bool { return e.Stats().InFlight == 0 })
}

func TestConcurrentStreamsComplete(t *testing.T) {
	e := newTiny(t, Config{Slots: 3, BatchSize: 16})
	prompts := []string{"one", "two two", strings.Repeat("three ", 30), "four", "five five five"}
	errs := make(chan error, len(prompts))
	for i, p := range prompts {
		go func() {
			req := userRequest(p)
			req.Inference.MaxTokens = ptr(10 + i)
			req.Inference.Temperature = ptr(0.0)
			s, err := e.ConverseStream(context.Background(), req)
			if err != nil {
				errs <- err
				return
			}
			r, err := llm.Collect(s)
			if err == nil && r.StopReason == llm.StopMaxTokens && r.Usage.OutputTokens != 10+i {
				err = errors.New("wrong output token count")
			}
			errs <- err
		}()
	}
	for range prompts {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestPrefixCacheTiny(t *testing.T) {
	e := newTiny(t, Config{Slots: 1, ContextSize: 1024})
	sys := strings.Repeat("shared rules for everyone ", 20)
	mk := func(q string) *llm.Request {
		return &llm.Request{
			System:    []llm.Block{llm.TextBlock(sys), {Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}}},
			Messages:  []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(q)}}},
			Inference: llm.InferenceConfig{MaxTokens: ptr(2), Seed: ptr(int64(3))},
		}
	}
	collect := func(r *llm.Request) llm.Usage {
		s, err := e.ConverseStream(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := llm.Collect(s)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Usage
	}
	first := collect(mk("alpha"))
	if first.CacheWriteInputTokens == 0 || first.CacheReadInputTokens != 0 {
		t.Errorf("first: %+v, want a cache write and no read", first)
	}
	// A different request in between takes the only slot, so the second
	// read must come from the prefix cache, not the slot's leftovers.
	collect(userRequest("something else entirely"))
	second := collect(mk("beta"))
	if second.CacheReadInputTokens != first.CacheWriteInputTokens || second.CacheWriteInputTokens != 0 {
		t.Errorf("second: %+v, want %d tokens read", second, first.CacheWriteInputTokens)
	}
	if st := e.Stats(); st.CacheEntries != 1 || st.CacheTokens != first.CacheWriteInputTokens {
		t.Errorf("Stats() = %+v", st)
	}
}

func FuzzEngine(f *testing.F) {
	e := newTiny(f, Config{ContextSize: 256})
	for _, s := range []string{"", "hello", "<|im_start|>", "\x00\x01\x02", "\xff\xfe", "日本語🌍", "<tool_call>{", "\U000FFF7E"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, text, stop string) {
		toks, err := e.Tokenize(text)
		if err != nil {
			t.Fatalf("Tokenize(%q): %v", text, err)
		}
		if utf8.ValidString(text) && e.Detokenize(toks) != strings.ReplaceAll(text, "\x00", "") {
			t.Errorf("round trip of %q = %q", text, e.Detokenize(toks))
		}
		req := userRequest(text)
		req.System = []llm.Block{llm.TextBlock(stop), {Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}}}
		req.Inference.MaxTokens = ptr(2)
		req.Inference.StopSequences = []string{stop}
		req.Tools = &llm.ToolConfig{Tools: []llm.Tool{{Name: stop}}}
		s, err := e.ConverseStream(context.Background(), req)
		if err != nil {
			if llm.AsError(err).Kind != llm.KindValidation {
				t.Fatalf("ConverseStream: %v", err)
			}
			return
		}
		if _, err := drain(t, s); err != nil {
			t.Fatal(err)
		}
	})
}

func TestClosed(t *testing.T) {
	e := newTiny(t, Config{})
	if err := e.Check(context.Background()); err != nil {
		t.Fatalf("Check before Close: %v", err)
	}
	e.Close()
	e.Close() // idempotent
	if err := e.Check(context.Background()); llm.AsError(err).Kind != llm.KindUnavailable {
		t.Errorf("Check after Close = %v, want ServiceUnavailable", err)
	}
	if _, err := e.CountTokens(context.Background(), userRequest("hi")); llm.AsError(err).Kind != llm.KindUnavailable {
		t.Errorf("CountTokens after Close = %v, want ServiceUnavailable", err)
	}
	if _, err := e.ConverseStream(context.Background(), userRequest("hi")); llm.AsError(err).Kind != llm.KindUnavailable {
		t.Errorf("ConverseStream after Close = %v, want ServiceUnavailable", err)
	}
	if d := e.Describe(); d.Provider != "local" || d.ContextWindow != 512 || d.UpstreamModel == "" {
		t.Errorf("Describe() = %+v", d)
	}
}

// TestMaxTokensCap: the gateway's cap bounds the engine's default output
// limit for a request that sets none, and never a request's own limit.
func TestMaxTokensCap(t *testing.T) {
	e := newTiny(t, Config{ignoreEOG: true, DefaultMaxTokens: 6})
	for _, tc := range []struct {
		max  *int
		cap  int
		want int
	}{
		{nil, 3, 3},
		{nil, 100, 6},
		{nil, 0, 6},
		{ptr(4), 2, 4},
	} {
		r := userRequest("hello")
		r.Inference.MaxTokens, r.Inference.MaxTokensCap = tc.max, tc.cap
		resp := converse(t, e, r)
		if resp.Usage.OutputTokens != tc.want || resp.StopReason != llm.StopMaxTokens {
			t.Errorf("maxTokens %v, cap %d: %d tokens (%s), want %d", tc.max, tc.cap, resp.Usage.OutputTokens, resp.StopReason, tc.want)
		}
	}
}
