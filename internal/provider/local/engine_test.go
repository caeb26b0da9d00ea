package local

import (
	"context"
	"io"
	"path/filepath"
	"testing"
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

func TestTinyGenerate(t *testing.T) {
	e := newTiny(t, Config{})
	req := userRequest("Hello world")
	req.Inference.MaxTokens = ptr(8)
	req.Inference.Temperature = ptr(0.0)
	s, err := e.ConverseStream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var text string
	for {
		ev, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%v %q %v", ev.Type, ev.Text, ev.Usage)
		if ev.Type == llm.EventBlockDelta {
			if !utf8.ValidString(ev.Text) {
				t.Errorf("delta %q is not valid UTF-8", ev.Text)
			}
			text += ev.Text
		}
	}
	t.Logf("text %q", text)
}
