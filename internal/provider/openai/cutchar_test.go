package openai_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/testenv"
)

// TestCutCharacterOllama: the real Ollama answers "Translate to Chinese:
// hello" with Chinese characters; max_tokens 1 and 2 stop inside the first
// one. Streamed and collected, the answer has no U+FFFD (the fixtures
// hand_cut_character_* cover servers that send one).
func TestCutCharacterOllama(t *testing.T) {
	p := newProvider(t, testenv.OllamaURL(t)+"/v1", testenv.OllamaModel)
	mk := func(max int) *llm.Request {
		temp := 0.0
		return &llm.Request{
			Messages:  []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("Translate to Chinese: hello")}}},
			Inference: llm.InferenceConfig{MaxTokens: &max, Temperature: &temp},
		}
	}
	text := func(r *llm.Response) string {
		var b strings.Builder
		for _, c := range r.Message.Content {
			if c.Kind == llm.KindText {
				b.WriteString(c.Text)
			}
		}
		return b.String()
	}
	ctx := context.Background()
	s, err := p.ConverseStream(ctx, mk(12))
	if err != nil {
		t.Fatal(err)
	}
	full, err := llm.Collect(s)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := utf8.DecodeRuneInString(text(full)); r < utf8.RuneSelf {
		t.Fatalf("answer %q does not start with a multi-byte character; the test needs one that does", text(full))
	}
	for _, max := range []int{1, 2} {
		s, err := p.ConverseStream(ctx, mk(max))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := llm.Collect(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := text(resp); strings.ContainsRune(got, utf8.RuneError) || !strings.HasPrefix(text(full), got) || resp.StopReason != llm.StopMaxTokens {
			t.Errorf("max_tokens %d: %q stop %s, want whole characters of %q and max_tokens", max, got, resp.StopReason, text(full))
		}
	}
}
