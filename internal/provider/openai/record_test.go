package openai_test

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/providertest"
	"github.com/outcrop/outcrop/internal/testenv"
)

var record = flag.Bool("record", false, "record providertest fixtures from the Ollama at OUTCROP_TEST_OLLAMA_URL")

// recorder is a pass-through proxy to a real upstream that keeps the last
// request body and the raw response.
type recorder struct {
	target string
	mu     sync.Mutex
	req    []byte
	resp   string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	out, err := http.NewRequestWithContext(r.Context(), r.Method, rc.target+r.URL.Path, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	out.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		http.Error(w, err.Error(), 502)
		return
	}
	defer resp.Body.Close()
	raw, err := providertest.ReadRawResponse(resp)
	if err != nil {
		http.Error(w, err.Error(), 502)
		return
	}
	rc.mu.Lock()
	rc.req, rc.resp = body, raw
	rc.mu.Unlock()
	_, head, _ := strings.Cut(raw, "\n")
	head, respBody, _ := strings.Cut(head, "\n\n")
	for _, line := range strings.Split(head, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			w.Header().Set(k, strings.TrimSpace(v))
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.WriteString(w, respBody)
}

// TestRecord captures real traffic from Ollama v0.17.4 serving
// smollm2:135m into providertest fixtures (ollama_*.txt). Run
//
//	go test ./internal/provider/openai -run TestRecord -record
//	go test ./internal/provider/openai -run TestFixtures -providertest.update
//
// and review the diff: the first records, the second writes expectations.
func TestRecord(t *testing.T) {
	if !*record {
		t.Skip("run with -record to re-record fixtures")
	}
	base := testenv.OllamaURL(t)
	rc := &recorder{target: base}
	proxy := httptest.NewServer(rc)
	defer proxy.Close()
	scenarios := []struct {
		name, comment, model string
		options              map[string]string
	}{
		{"ollama_stream", "a streamed answer cut at max_tokens", "smollm2:135m", map[string]string{"max_tokens": "12"}},
		{"ollama_stream_short", "a longer streamed answer (60 tokens)", "smollm2:135m", map[string]string{"max_tokens": "60"}},
		{"ollama_converse", "a non-streamed answer", "smollm2:135m", map[string]string{"mode": "converse", "max_tokens": "12"}},
		{"ollama_tool_unsupported", "tools offered to a model without tool support: 400", "smollm2:135m", map[string]string{}},
		{"ollama_model_not_found", "an upstream model name Ollama does not have: 404", "no-such-model:1b", map[string]string{}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			f := &providertest.Fixture{Name: sc.name, Options: sc.options}
			f.Options["recorded"] = "ollama v0.17.4, smollm2:135m, by TestRecord in internal/provider/openai"
			p := newProvider(t, proxy.URL+"/v1", sc.model)
			req := providertest.FixtureRequest(f)
			if f.Option("mode", "") == "converse" {
				p.(llm.Conversor).Converse(context.Background(), req)
			} else if s, err := p.ConverseStream(context.Background(), req); err == nil {
				providertest.ReadAll(s)
			}
			rc.mu.Lock()
			f.Request, f.Response = string(rc.req)+"\n", rc.resp
			rc.mu.Unlock()
			f.Path = filepath.Join(providertest.TestdataDir(), sc.name+".txt")
			f.Comment = sc.comment
			out := f.Format()
			if err := os.WriteFile(f.Path, out, 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}
