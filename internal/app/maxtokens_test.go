package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestDefaultMaxTokensThroughServer: a request without an output limit
// reaches the upstream with the deployment's default_max_tokens, capped by
// the model's limits.max_tokens, and a request's own limit is passed on as
// sent. The whole pipeline runs (the quota stage once overrode the
// deployment's default with the model's limit).
func TestDefaultMaxTokensThroughServer(t *testing.T) {
	var mu sync.Mutex
	var sent []any
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		sent = append(sent, body["max_tokens"])
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(up.Close)
	addr, cancel, _ := startApp(t, fmt.Sprintf(`
listen: 127.0.0.1:0
limits:
  models:
    small: {max_tokens: 100}
models:
  - id: m
    deployments:
      - {provider: openai, base_url: %[1]s/v1, model: m, options: {default_max_tokens: 256}}
  - id: small
    deployments:
      - {provider: openai, base_url: %[1]s/v1, model: m, options: {default_max_tokens: 256}}
`, up.URL))
	defer cancel()
	for _, tc := range []struct {
		model, inference string
		want             float64
	}{
		{"m", "", 256},
		{"small", "", 100},
		{"m", `,"inferenceConfig":{"maxTokens":7}`, 7},
	} {
		body := `{"messages":[{"role":"user","content":[{"text":"Write a story."}]}]` + tc.inference + `}`
		resp, err := http.Post("http://"+addr+"/model/"+tc.model+"/converse", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s%s: %d %s", tc.model, tc.inference, resp.StatusCode, b)
		}
		mu.Lock()
		got := sent[len(sent)-1]
		mu.Unlock()
		if got != tc.want {
			t.Errorf("%s%s: upstream got max_tokens %v, want %v", tc.model, tc.inference, got, tc.want)
		}
	}
}
