package app

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestUpstreamConnectionKept: complete answers leave their upstream
// connection open for the next request, streamed or not. The end of a
// chunked body arrives just after "data: [DONE]"; if the request's end
// cancelled the upstream call before that was read, the connection would be
// closed and every request would pay for a new one.
func TestUpstreamConnectionKept(t *testing.T) {
	var opened, closed, idle atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\ndata: [DONE]\n\n")
		w.(http.Flusher).Flush()
		// The terminating chunk follows a moment later, as it does from a
		// busy server.
		time.Sleep(5 * time.Millisecond)
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			opened.Add(1)
		case http.StateIdle:
			idle.Add(1)
		case http.StateClosed:
			closed.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	addr, cancel, _ := startApp(t, appConfig(up.URL, time.Second))
	defer cancel()

	for i := range 6 {
		stream := i%2 == 1
		body := fmt.Sprintf(`{"model":"m","stream":%v,"messages":[{"role":"user","content":"hi"}]}`, stream)
		resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "hi") {
			t.Fatalf("request %d: status %d: %s", i, resp.StatusCode, b)
		}
		// The upstream goes idle once it has written the end of the body;
		// only then can the pool have the connection back, so the next
		// request waits for that (on a new connection it would not know).
		waitFor(t, fmt.Sprintf("upstream idle after request %d", i), func() bool {
			return idle.Load()+closed.Load() >= int64(i+1)
		})
	}
	if n := closed.Load(); n != 0 {
		t.Errorf("Outcrop closed %d of %d upstream connections after complete answers", n, opened.Load())
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("6 sequential requests opened %d upstream connections, want 1", n)
	}
}

// waitFor polls cond every millisecond for up to ten seconds and fails t,
// naming what it waited for, if cond never holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
