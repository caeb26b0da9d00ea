package local

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/testenv"
)

// The real model is loaded once per test binary: loading is cheap but
// each engine reserves its KV cache.
var (
	realOnce sync.Once
	realEng  *Engine
	realErr  error
)

// realEngine returns an engine on SmolLM2-135M-Instruct (OUTCROP_TEST_GGUF).
func realEngine(t testing.TB) *Engine {
	t.Helper()
	path := testenv.GGUF(t)
	realOnce.Do(func() {
		// OUTCROP_BENCH_FA=0 turns flash attention off, for comparing it
		// with the default in the benchmarks that use this engine.
		noFA := os.Getenv("OUTCROP_BENCH_FA") == "0"
		realEng, realErr = New(context.Background(), Config{Path: path, ContextSize: 4096, Slots: 2, Threads: benchThreads(), NoFlashAttention: noFA,
			NoHugePages: benchNoHugePages()}, nil)
		if realErr == nil {
			<-realEng.hugeDone // measure the engine as it runs after startup
		}
	})
	if realErr != nil {
		t.Fatal(realErr)
	}
	return realEng
}

func converse(t testing.TB, e *Engine, req *llm.Request) *llm.Response {
	t.Helper()
	s, err := e.ConverseStream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := llm.Collect(s)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func responseText(r *llm.Response) string {
	var b strings.Builder
	for _, c := range r.Message.Content {
		if c.Kind == llm.KindText {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

func TestRealSeedIsReproducible(t *testing.T) {
	e := realEngine(t)
	mk := func() *llm.Request {
		r := userRequest("Write one sentence about the sea.")
		r.Inference.Temperature = ptr(0.0)
		r.Inference.Seed = ptr(int64(42))
		r.Inference.MaxTokens = ptr(24)
		return r
	}
	a, b := converse(t, e, mk()), converse(t, e, mk())
	if responseText(a) != responseText(b) || responseText(a) == "" {
		t.Fatalf("two runs differ:\n%q\n%q", responseText(a), responseText(b))
	}
	if a.Usage != b.Usage {
		t.Errorf("usage differs: %+v vs %+v", a.Usage, b.Usage)
	}
}

func TestRealMaxTokens(t *testing.T) {
	e := realEngine(t)
	r := userRequest("Tell me a long story about a dragon.")
	r.Inference.MaxTokens = ptr(5)
	resp := converse(t, e, r)
	if resp.StopReason != llm.StopMaxTokens || resp.Usage.OutputTokens != 5 {
		t.Fatalf("stop %s with %d output tokens, want max_tokens with 5", resp.StopReason, resp.Usage.OutputTokens)
	}
	n, err := e.CountTokens(context.Background(), r)
	if err != nil || n != resp.Usage.InputTokens {
		t.Errorf("CountTokens = %d, %v; usage says %d input tokens", n, err, resp.Usage.InputTokens)
	}
}

func TestRealStopSequence(t *testing.T) {
	e := realEngine(t)
	r := userRequest("Count from 1 to 10, separated by commas.")
	r.Inference.Temperature = ptr(0.0)
	r.Inference.MaxTokens = ptr(60)
	free := responseText(converse(t, e, r))
	// At temperature 0 SmolLM2-135M-Instruct counts "1, 2, 3, 4, 5, …";
	// another answer is a wrong answer from the engine, not a reason to skip.
	if !strings.Contains(free, "5") {
		t.Fatalf("the model did not count to 5 at temperature 0: %q", free)
	}
	r.Inference.StopSequences = []string{"5"}
	resp := converse(t, e, r)
	got := responseText(resp)
	if resp.StopReason != llm.StopSequence || strings.Contains(got, "5") || !strings.HasPrefix(free, got) {
		t.Fatalf("with stop \"5\": %s %q; without: %q", resp.StopReason, got, free)
	}
}

func TestRealCachePoint(t *testing.T) {
	e := realEngine(t)
	sys := strings.Repeat("You are a meticulous assistant for a hardware shop. Answer briefly and politely. ", 20)
	mk := func(q string) *llm.Request {
		return &llm.Request{
			System:    []llm.Block{llm.TextBlock(sys), {Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}}},
			Messages:  []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(q)}}},
			Inference: llm.InferenceConfig{MaxTokens: ptr(4), Seed: ptr(int64(1))},
		}
	}
	first := converse(t, e, mk("Do you sell hammers?"))
	second := converse(t, e, mk("What time do you open?"))
	t.Logf("first %+v second %+v", first.Usage, second.Usage)
	if first.Usage.CacheWriteInputTokens == 0 && first.Usage.CacheReadInputTokens == 0 {
		t.Errorf("first request wrote nothing to the cache: %+v", first.Usage)
	}
	if second.Usage.CacheReadInputTokens < 300 {
		t.Errorf("second request read %d cached tokens, want the ~%d-token system prompt", second.Usage.CacheReadInputTokens, first.Usage.CacheWriteInputTokens)
	}
	for _, u := range []llm.Usage{first.Usage, second.Usage} {
		if u.CacheReadInputTokens+u.CacheWriteInputTokens > u.InputTokens {
			t.Errorf("cache tokens exceed input tokens: %+v", u)
		}
	}
}

func TestRealTooLong(t *testing.T) {
	e := realEngine(t)
	_, err := e.ConverseStream(context.Background(), userRequest(strings.Repeat("word ", 5000)))
	var le *llm.Error
	if !errors.As(err, &le) || le.Kind != llm.KindValidation || !strings.Contains(le.Message, "4096") {
		t.Fatalf("err = %v, want ValidationException naming the context window", err)
	}
}

// cutPrompt is answered at temperature 0 by SmolLM2-135M-Instruct with
// Chinese characters whose first token holds only part of a character's
// UTF-8 bytes, so max_tokens 1 cuts the answer mid-character.
const cutPrompt = "Translate to Chinese: hello"

// TestRealCutCharacterDropped: generation cut by max_tokens inside a
// multi-byte character ends before that character, with no U+FFFD, in the
// collected response and in every streamed delta.
func TestRealCutCharacterDropped(t *testing.T) {
	e := realEngine(t)
	mk := func(max int) *llm.Request {
		r := userRequest(cutPrompt)
		r.Inference.Temperature = ptr(0.0)
		r.Inference.MaxTokens = ptr(max)
		return r
	}
	full := responseText(converse(t, e, mk(8)))
	if first, _ := utf8.DecodeRuneInString(full); first < utf8.RuneSelf {
		t.Fatalf("the answer to %q at temperature 0 is %q; the test needs one that starts with a multi-byte character", cutPrompt, full)
	}
	for _, max := range []int{1, 2} {
		s, err := e.ConverseStream(context.Background(), mk(max))
		if err != nil {
			t.Fatal(err)
		}
		var deltas []string
		resp, err := llm.Collect(tapText(s, &deltas))
		if err != nil {
			t.Fatal(err)
		}
		got := responseText(resp)
		if strings.ContainsRune(got, utf8.RuneError) || !utf8.ValidString(got) || !strings.HasPrefix(full, got) {
			t.Errorf("max_tokens %d: %q, want a prefix of %q made of whole characters", max, got, full)
		}
		for _, d := range deltas {
			if strings.ContainsRune(d, utf8.RuneError) {
				t.Errorf("max_tokens %d: streamed delta %q", max, d)
			}
		}
		if resp.StopReason != llm.StopMaxTokens || resp.Usage.OutputTokens != max {
			t.Errorf("max_tokens %d: stop %s after %d tokens", max, resp.StopReason, resp.Usage.OutputTokens)
		}
	}
}

// textTap is a stream that records the text of every delta it passes on.
type textTap struct {
	llm.Stream
	deltas *[]string
}

func tapText(s llm.Stream, deltas *[]string) llm.Stream { return &textTap{s, deltas} }

func (t *textTap) Next() (llm.Event, error) {
	ev, err := t.Stream.Next()
	if err == nil && ev.Type == llm.EventBlockDelta {
		*t.deltas = append(*t.deltas, ev.Text)
	}
	return ev, err
}
