package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/eventstream"
)

// slowUpstream is an OpenAI-compatible server streaming n tokens, one every
// interval. It counts requests whose context ended before they finished.
type slowUpstream struct {
	*httptest.Server
	n         int
	interval  time.Duration
	cancelled atomic.Int64
	started   chan struct{}
}

func newSlowUpstream(t *testing.T, n int, interval time.Duration) *slowUpstream {
	u := &slowUpstream{n: n, interval: interval, started: make(chan struct{}, 16)}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		u.started <- struct{}{}
		for i := 0; i < u.n; i++ {
			fmt.Fprintf(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"t%d \"},\"finish_reason\":null}]}\n\n", i)
			fl.Flush()
			select {
			case <-time.After(u.interval):
			case <-r.Context().Done():
				u.cancelled.Add(1)
				return
			}
		}
		fmt.Fprint(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(u.Close)
	return u
}

// startApp builds an app for cfgYAML and serves it on a loopback port until
// the returned cancel is called; done reports Serve's result.
func startApp(t *testing.T, cfgYAML string) (addr string, cancel context.CancelFunc, done chan error) {
	t.Helper()
	cfg, err := config.Parse([]byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Home = t.TempDir()
	a, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	return ln.Addr().String(), cancel, done
}

func converseStream(t *testing.T, addr string) *http.Response {
	t.Helper()
	body := `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`
	resp, err := http.Post("http://"+addr+"/model/m/converse-stream", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return resp
}

// events decodes an eventstream body and returns the event types in order.
func events(t *testing.T, r io.Reader) ([]string, error) {
	d := eventstream.NewDecoder(r)
	var out []string
	for {
		m, err := d.Decode()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		name := m.Headers.String(":event-type")
		if name == "" {
			name = m.Headers.String(":exception-type")
		}
		out = append(out, name)
	}
}

func appConfig(upstream string, grace time.Duration) string {
	return fmt.Sprintf(`
listen: 127.0.0.1:0
server:
  shutdown_grace: %s
models:
  - id: m
    deployments:
      - provider: openai
        base_url: %s/v1
        model: m
`, grace, upstream)
}

// TestShutdownDrainsStreams: a stream in flight when shutdown begins
// completes within the grace period, and Serve returns after it.
func TestShutdownDrainsStreams(t *testing.T) {
	up := newSlowUpstream(t, 5, 40*time.Millisecond)
	addr, stop, done := startApp(t, appConfig(up.URL, 10*time.Second))
	resp := converseStream(t, addr)
	defer resp.Body.Close()
	<-up.started
	stop()
	evs, err := events(t, resp.Body)
	if err != nil {
		t.Fatalf("stream broke during drain: %v (events %v)", err, evs)
	}
	if len(evs) == 0 || evs[len(evs)-1] != "metadata" {
		t.Fatalf("events = %v, want a complete stream ending in metadata", evs)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if n := up.cancelled.Load(); n != 0 {
		t.Errorf("%d upstream calls cancelled during a drain that had time", n)
	}
}

// TestShutdownCutsStreamsAfterGrace: a stream that outlives the grace period
// is cut, its upstream call is cancelled, and Serve still returns.
func TestShutdownCutsStreamsAfterGrace(t *testing.T) {
	up := newSlowUpstream(t, 1000, time.Hour)
	addr, stop, done := startApp(t, appConfig(up.URL, 200*time.Millisecond))
	resp := converseStream(t, addr)
	defer resp.Body.Close()
	<-up.started
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	deadline := time.Now().Add(5 * time.Second)
	for up.cancelled.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if up.cancelled.Load() == 0 {
		t.Fatal("upstream call still running after the grace period")
	}
}

// TestDeploymentThatCannotStartIsSkipped: a local deployment whose model file
// is missing is reported and skipped; the other models are served.
func TestDeploymentThatCannotStartIsSkipped(t *testing.T) {
	up := newSlowUpstream(t, 2, time.Millisecond)
	missing := t.TempDir() + "/missing.gguf"
	addr, stop, done := startApp(t, appConfig(up.URL, time.Second)+fmt.Sprintf(`
  - id: broken
    deployments:
      - provider: local
        model: %s
`, missing))
	defer func() { stop(); <-done }()
	resp := converseStream(t, addr)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r, err := http.Post("http://"+addr+"/model/broken/converse", "application/json",
		bytes.NewReader([]byte(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	if r.StatusCode != 404 || r.Header.Get("X-Amzn-ErrorType") != "ResourceNotFoundException" {
		t.Fatalf("broken model: status %d %s, want 404 ResourceNotFoundException", r.StatusCode, r.Header.Get("X-Amzn-ErrorType"))
	}
}

// TestRefusesOpenNonLoopback: with no principals, a non-loopback listener
// must not start open; New reports it instead of serving (or crashing).
func TestRefusesOpenNonLoopback(t *testing.T) {
	cfg, err := config.Parse([]byte("listen: 0.0.0.0:0\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Home = t.TempDir()
	a, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		a.Close()
		t.Fatal("New served open on 0.0.0.0 with no principals")
	}
}
