package app

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/testenv"
)

// TestEmbeddingsThroughPipeline: /v1/embeddings and Titan InvokeModel on an
// embedding model (an openai deployment on the real Ollama) go through the
// embedding pipeline: the request quota counts them (with rpm 1, calls after the first
// in a minute are throttled with each API's error shape), and the request metrics
// record them under the embedding model with their operation.
func TestEmbeddingsThroughPipeline(t *testing.T) {
	base := testenv.OllamaURL(t)
	addr, cancel, _ := startApp(t, fmt.Sprintf(`
listen: 127.0.0.1:0
quotas:
  default: {rpm: 1}
models:
  - id: chat
    deployments:
      - {provider: openai, base_url: %[1]s/v1, model: %[2]s}
embeddings:
  models:
    - {id: emb, provider: openai, base_url: %[1]s/v1, model: %[2]s, dimensions: 576}
`, base, testenv.OllamaModel))
	defer cancel()
	post := func(path, body string) (int, string, http.Header) {
		t.Helper()
		resp, err := http.Post("http://"+addr+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	// rpm 1 in fixed calendar minutes: of five calls made within a minute,
	// every one but the first of each window (at most two windows) is
	// throttled, so each API is throttled at least once.
	throttled := map[string]int{}
	for i := range 5 {
		if i%2 == 0 {
			code, body, _ := post("/v1/embeddings", `{"model":"emb","input":["the office opens at eight"]}`)
			switch {
			case code == 200 && strings.Contains(body, `"embedding"`):
			case code == 429 && strings.Contains(body, "rate_limit_error"):
				throttled["openai"]++
			default:
				t.Fatalf("/v1/embeddings call %d: %d %s", i, code, body)
			}
		} else {
			code, body, h := post("/model/emb/invoke", `{"inputText":"parking is free"}`)
			switch {
			case code == 200 && strings.Contains(body, `"inputTextTokenCount"`):
			case code == 429 && strings.Contains(h.Get("X-Amzn-Errortype"), "ThrottlingException"):
				throttled["bedrock"]++
			default:
				t.Fatalf("Titan InvokeModel call %d: %d %s %v", i, code, body, h)
			}
		}
	}
	if throttled["openai"] == 0 || throttled["bedrock"] == 0 || throttled["openai"]+throttled["bedrock"] < 3 {
		t.Errorf("throttled calls by API: %v; the request quota did not count embedding calls", throttled)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, op := range []string{"Embeddings", "InvokeModel"} {
		found := false
		for _, line := range strings.Split(string(m), "\n") {
			if strings.HasPrefix(line, "outcrop_requests_total{") && strings.Contains(line, `model="emb"`) && strings.Contains(line, `op="`+op+`"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("no outcrop_requests_total line for model emb, op %s in /metrics", op)
		}
	}
}
