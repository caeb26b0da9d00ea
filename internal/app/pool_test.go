package app

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
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
	var client atomic.Value // the address of Outcrop's end of the newest upstream connection
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\ndata: [DONE]\n\n")
		w.(http.Flusher).Flush()
		// The terminating chunk follows a moment later, as it does from a
		// busy server.
		time.Sleep(5 * time.Millisecond)
	}))
	up.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			opened.Add(1)
			client.Store(c.RemoteAddr().String())
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
		// The upstream goes idle once it has written the end of the body,
		// and the pool has the connection back once Outcrop has read that
		// end: the next request waits for both, or it would rightly open
		// a second connection.
		waitFor(t, fmt.Sprintf("upstream idle after request %d", i), func() bool {
			return idle.Load()+closed.Load() >= int64(i+1)
		})
		waitFor(t, fmt.Sprintf("Outcrop to read the end of response %d", i), func() bool {
			return socketDrained(t, client.Load().(string))
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

// socketDrained reports whether the loopback TCP socket bound to addr
// (127.0.0.1:port) has no received bytes waiting to be read, from
// /proc/net/tcp. Where that file does not exist it reports true.
func socketDrained(t *testing.T, addr string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return true
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		t.Fatalf("upstream client address %q", addr)
	}
	ip := ap.Addr().As4()
	// /proc/net/tcp writes the IPv4 address as a little-endian word.
	local := fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], ap.Port())
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 || f[1] != local {
			continue
		}
		_, rx, _ := strings.Cut(f[4], ":")
		return strings.TrimLeft(rx, "0") == ""
	}
	return true // the socket is gone
}
