package httpapi

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
)

var chatSeeds = []string{
	`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw=="}}]}]}`,
	`{"model":"m","messages":[{"role":"user","content":"w"},{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"{\"a\":1}"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
	`{"model":"m","stop":["a","b"],"max_tokens":3,"temperature":0.1,"top_p":1,"seed":1,"n":1,"response_format":{"type":"json_object"},"performance_config":{"latency":"optimized"},"messages":[{"role":"developer","content":[{"type":"text","text":"d"}]},{"role":"user","content":"x"}]}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_data":"data:text/plain;base64,aGk=","filename":"a.txt"}}]}]}`,
	`{"model":1}`, `[]`, `null`, `{"messages":"x"}`,
}

// FuzzDecodeChat: any body decodes to a request or a ValidationException,
// never a panic or another kind of error.
func FuzzDecodeChat(f *testing.F) {
	for _, s := range chatSeeds {
		f.Add(s, "")
	}
	f.Add(chatSeeds[0], "optimized")
	f.Fuzz(func(t *testing.T, body, latency string) {
		cr, err := decodeChat([]byte(body), latency)
		if err != nil {
			var e *llm.Error
			if !errors.As(err, &e) || e.Kind != llm.KindValidation {
				t.Fatalf("decodeChat(%q) error = %v, want a ValidationException", body, err)
			}
			return
		}
		if cr.req.Model == "" || len(cr.req.Messages) == 0 {
			t.Fatalf("decodeChat(%q) accepted a request without model or messages", body)
		}
	})
}

// FuzzChatHandler: through the whole server, bad input is a 4xx and never
// a 5xx.
func FuzzChatHandler(f *testing.F) {
	for _, s := range chatSeeds {
		f.Add(strings.ReplaceAll(s, `"model":"m"`, `"model":"acme.chat-v1"`))
	}
	p := &replayProvider{script: func(*llm.Request) ([]llm.Event, error) { return textEvents("ok"), nil }}
	ts := chatServer(f, p, nil)
	h := ts.Config.Handler
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST %q = %d: %s", body, rec.Code, rec.Body.String())
		}
	})
}

// BenchmarkChatStreamEvent measures rendering one text delta as an SSE
// chunk.
func BenchmarkChatStreamEvent(b *testing.B) {
	w := httptest.NewRecorder()
	s := newChatSSE(w, timeNow, "chatcmpl-0123456789abcdef0123456789abcdef", 1795635253, "acme.chat-v1", true)
	s.start()
	ev := llm.Event{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: " word"}
	b.ReportAllocs()
	for b.Loop() {
		w.Body.Reset()
		if err := s.event(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeChat measures decoding a small chat request.
func BenchmarkDecodeChat(b *testing.B) {
	body := []byte(chatSeeds[3])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeChat(body, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChatStreamOverhead streams a recorded 12-token answer from a
// local fake upstream, directly and through Outcrop (HTTP in, openai
// provider, gateway, router, SSE out), over loopback. The difference
// between the two is what Outcrop adds to a streamed chat completion.
func BenchmarkChatStreamOverhead(b *testing.B) {
	p, up := fixtureProvider(b, "ollama_stream")
	ts := chatServer(b, p, nil)
	body := `{"model":"acme.chat-v1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hello."}]}`
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	run := func(b *testing.B, url string) {
		b.ReportAllocs()
		for b.Loop() {
			resp, err := client.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || n == 0 {
				b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
			}
		}
	}
	b.Run("direct", func(b *testing.B) { run(b, up.URL+"/chat/completions") })
	b.Run("outcrop", func(b *testing.B) { run(b, ts.URL+"/v1/chat/completions") })
}
