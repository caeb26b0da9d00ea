package local

import (
	"context"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/testenv"
)

// realEngine loads SmolLM2-135M-Instruct once per test binary.
func realEngine(t *testing.T) *Engine {
	t.Helper()
	path := testenv.GGUF(t)
	realOnce.Do(func() {
		realEng, realErr = New(context.Background(), Config{Path: path, ContextSize: 4096}, nil)
	})
	if realErr != nil {
		t.Fatal(realErr)
	}
	return realEng
}

func converse(t *testing.T, e *Engine, req *llm.Request) *llm.Response {
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

func text(r *llm.Response) string {
	var b strings.Builder
	for _, c := range r.Message.Content {
		if c.Kind == llm.KindText {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

func TestRealDeterministic(t *testing.T) {
	e := realEngine(t)
	mk := func() *llm.Request {
		r := userRequest("Write one sentence about the sea.")
		r.Inference.Temperature = ptr(0.0)
		r.Inference.Seed = ptr(int64(42))
		r.Inference.MaxTokens = ptr(40)
		return r
	}
	a, b := converse(t, e, mk()), converse(t, e, mk())
	if text(a) != text(b) || text(a) == "" {
		t.Fatalf("two runs differ:\n%q\n%q", text(a), text(b))
	}
	t.Logf("%q %+v %s", text(a), a.Usage, a.StopReason)
}
