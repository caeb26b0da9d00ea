package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/config"
)

// BenchmarkChatCompletion measures the whole server in process (request ID,
// audit, authentication in dev mode, authorization, quotas, guardrail stage,
// routing, the openai provider, JSON encoding) around an upstream that
// answers at once, for one non-streaming chat completion.
func BenchmarkChatCompletion(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), `"stream":false`) || !strings.Contains(string(b), `"stream"`) {
			// The router asks the openai provider for one answer when the
			// client does not stream.
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hello there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hello there\"},\"finish_reason\":null}]}\n\n"+
			"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\ndata: [DONE]\n\n")
	}))
	defer up.Close()
	for _, auditOn := range []bool{true, false} {
		b.Run(fmt.Sprintf("audit=%v", auditOn), func(b *testing.B) {
			cfg, err := config.Parse([]byte(fmt.Sprintf("audit:\n  enabled: %v\nmodels:\n  - id: m\n    deployments:\n      - provider: openai\n        base_url: %s/v1\n        model: m\n", auditOn, up.URL)))
			if err != nil {
				b.Fatal(err)
			}
			cfg.Home = b.TempDir()
			a, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			h := a.Handler()
			body := `{"model":"m","messages":[{"role":"user","content":"Say hello."}]}`
			b.ReportAllocs()
			start := cpuTime(b)
			for b.Loop() {
				r := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			// CPU per request (the whole process: server, audit writer,
			// upstream) moves far less with a shared machine's load than
			// ns/op does.
			b.ReportMetric(float64((cpuTime(b)-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
