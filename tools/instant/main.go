// Command instant is an OpenAI-compatible upstream that answers at once,
// for measuring what Outcrop adds to latency. It serves
// POST /v1/chat/completions (JSON, or SSE when "stream" is true) with a fixed
// answer of -tokens tokens. With -interval, streamed tokens are spaced by
// that much, which keeps streams open for RSS measurements.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9100", "listen address")
	tokens := flag.Int("tokens", 8, "tokens per answer")
	interval := flag.Duration("interval", 0, "delay between streamed tokens")
	flag.Parse()

	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &req); err != nil {
			http.Error(w, `{"error":{"message":"bad json","type":"invalid_request_error"}}`, 400)
			return
		}
		created := time.Now().Unix()
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"chatcmpl-1","object":"chat.completion","created":%d,"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":%d,"total_tokens":%d}}`,
				created, req.Model, answer(*tokens), *tokens, 12+*tokens)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for i := 0; i < *tokens; i++ {
			if i > 0 && *interval > 0 {
				select {
				case <-time.After(*interval):
				case <-r.Context().Done():
					return
				}
			}
			role := ""
			if i == 0 {
				role = `"role":"assistant",`
			}
			fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":%d,\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{%s\"content\":\"tok%s \"},\"finish_reason\":null}]}\n\n", created, req.Model, role, strconv.Itoa(i))
			fl.Flush()
		}
		fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":%d,\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n", created, req.Model)
		fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":%d,\"model\":%q,\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\ndata: [DONE]\n\n", created, req.Model, *tokens, 12+*tokens)
		fl.Flush()
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"list","data":[{"id":"instant","object":"model","created":0,"owned_by":"instant"}]}`)
	})
	srv := &http.Server{Addr: *addr, Handler: mux, Protocols: &protos}
	log.Printf("instant upstream on %s (%d tokens, interval %v)", *addr, *tokens, *interval)
	log.Fatal(srv.ListenAndServe())
}

func answer(n int) string {
	s := ""
	for i := 0; i < n; i++ {
		s += "tok" + strconv.Itoa(i) + " "
	}
	return s
}
