package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// countingServer is an httptest server that counts the connections it
// accepted and closed.
type countingServer struct {
	*httptest.Server
	opened, closed atomic.Int64
}

func newCountingServer(t *testing.T, h http.HandlerFunc) *countingServer {
	s := &countingServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.opened.Add(1)
		case http.StateClosed:
			s.closed.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func post(t *testing.T, c *http.Client, u, body string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// echo answers with the request body, chunked when the query asks for it.
func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if r.URL.Query().Get("chunked") != "" {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, part := range strings.SplitAfter(string(b), " ") {
			io.WriteString(w, part)
			w.(http.Flusher).Flush()
		}
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.Write(b)
}

func TestReuse(t *testing.T) {
	s := newCountingServer(t, echo)
	c := &http.Client{Transport: New(http.DefaultTransport)}
	for i := range 10 {
		u := s.URL + "/x"
		if i%2 == 1 {
			u += "?chunked=1"
		}
		want := fmt.Sprintf("request %d of ten", i)
		resp, got := post(t, c, u, want)
		if resp.StatusCode != 200 || got != want {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, got)
		}
	}
	if n := s.opened.Load(); n != 1 {
		t.Errorf("10 sequential requests used %d connections, want 1", n)
	}
}

func TestNoBodyResponses(t *testing.T) {
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
	c := &http.Client{Transport: New(http.DefaultTransport)}
	for range 3 {
		if resp, got := post(t, c, s.URL, "x"); resp.StatusCode != 204 || got != "" {
			t.Fatalf("%d %q", resp.StatusCode, got)
		}
	}
	if n := s.opened.Load(); n != 1 {
		t.Errorf("used %d connections, want 1", n)
	}
}

func TestConnectionClose(t *testing.T) {
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		echo(w, r)
	})
	c := &http.Client{Transport: New(http.DefaultTransport)}
	for i := range 3 {
		if _, got := post(t, c, s.URL, "hello"); got != "hello" {
			t.Fatalf("request %d: %q", i, got)
		}
	}
	if n := s.opened.Load(); n != 3 {
		t.Errorf("a server closing every connection saw %d connections, want 3", n)
	}
}

func TestEarlyCloseDropsConnection(t *testing.T) {
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, strings.Repeat("a", 64<<10))
	})
	tr := New(http.DefaultTransport)
	c := &http.Client{Transport: tr}
	resp, err := c.Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := resp.Body.Read(buf); err == nil {
		t.Error("Read after Close succeeded")
	}
	// The half-read connection must not be reused: the next request gets
	// a whole, correct answer on a new one.
	resp, got := post(t, c, s.URL, "")
	if resp.StatusCode != 200 || len(got) != 64<<10 {
		t.Fatalf("%d, %d bytes", resp.StatusCode, len(got))
	}
	if n := s.opened.Load(); n != 2 {
		t.Errorf("used %d connections, want 2", n)
	}
}

func TestReadAfterEOF(t *testing.T) {
	s := newCountingServer(t, echo)
	c := &http.Client{Transport: New(http.DefaultTransport)}
	resp, err := c.Post(s.URL, "text/plain", strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	for range 2 {
		if n, err := resp.Body.Read(make([]byte, 4)); n != 0 || err != io.EOF {
			t.Fatalf("Read after the end = %d, %v; want 0, EOF", n, err)
		}
	}
	resp.Body.Close()
}

// TestCancel: the request's context ends a wait for the response head and
// a wait inside the body, and the connection is not pooled afterwards.
func TestCancel(t *testing.T) {
	release := make(chan struct{})
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/body" {
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c := &http.Client{Transport: New(http.DefaultTransport)}

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/head", strings.NewReader("x"))
	errc := make(chan error, 1)
	go func() {
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled while waiting for the head: %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx, "POST", s.URL+"/body", strings.NewReader("x"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "partial" {
		t.Fatalf("%q %v", buf, err)
	}
	cancel()
	if _, err := resp.Body.Read(buf); err == nil {
		t.Error("Read of a canceled body succeeded")
	}
	resp.Body.Close()
}

// TestServerClosedIdleConnection: a server that closes a keep-alive
// connection after answering (as uvicorn does after its keep-alive
// timeout) costs the next request a retry on a new connection, not an
// error.
func TestServerClosedIdleConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer nc.Close()
				req, err := http.ReadRequest(bufio.NewReader(nc))
				if err != nil {
					return
				}
				b, _ := io.ReadAll(req.Body)
				// Keep-alive is promised, then the connection is closed.
				fmt.Fprintf(nc, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(b), b)
			}()
		}
	}()
	c := &http.Client{Transport: New(http.DefaultTransport)}
	u := "http://" + ln.Addr().String() + "/"
	for i := range 3 {
		want := fmt.Sprint("n", i)
		resp, err := c.Post(u, "text/plain", strings.NewReader(want))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Fatalf("request %d: %q", i, b)
		}
	}
	if n := accepted.Load(); n != 3 {
		t.Errorf("accepted %d connections, want 3", n)
	}
}

type recordingRT struct {
	n  atomic.Int64
	rt http.RoundTripper
}

func (r *recordingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r.n.Add(1)
	return r.rt.RoundTrip(req)
}

func TestFallback(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(echo))
	defer tlsSrv.Close()
	plain := newCountingServer(t, echo)

	tr := New(tlsSrv.Client().Transport)
	c := &http.Client{Transport: tr}
	if _, got := post(t, c, tlsSrv.URL, "secure"); got != "secure" {
		t.Fatalf("https through the fallback: %q", got)
	}

	proxy := func(*http.Request) (*url.URL, error) { return url.Parse(plain.URL) }
	fb := &recordingRT{rt: &http.Transport{Proxy: proxy}}
	tr = New(fb)
	tr.Proxy = proxy
	c = &http.Client{Transport: tr}
	// The proxy is the echo server itself: an absolute-form request to it
	// still echoes the body.
	if _, got := post(t, c, "http://upstream.invalid/", "proxied"); got != "proxied" {
		t.Fatalf("proxied: %q", got)
	}
	if fb.n.Load() != 1 {
		t.Errorf("fallback served %d requests, want 1 (the proxied one)", fb.n.Load())
	}
}

func TestConcurrent(t *testing.T) {
	s := newCountingServer(t, echo)
	tr := New(http.DefaultTransport)
	tr.MaxIdlePerHost = 4
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				want := fmt.Sprintf("g%d i%d", g, i)
				u := s.URL
				if i%3 == 0 {
					u += "?chunked=1"
				}
				resp, err := c.Post(u, "text/plain", strings.NewReader(want))
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != want {
					errs <- fmt.Errorf("%q, %v; want %q", b, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	tr.mu.Lock()
	pooled := len(tr.idle[strings.TrimPrefix(s.URL, "http://")])
	tr.mu.Unlock()
	if pooled > 4 {
		t.Errorf("%d idle connections pooled, MaxIdlePerHost is 4", pooled)
	}
	tr.CloseIdleConnections()
}

func TestDialError(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	c := &http.Client{Transport: New(http.DefaultTransport)}
	if _, err := c.Get("http://" + addr); err == nil {
		t.Fatal("request to a closed port succeeded")
	}
}

// BenchmarkRoundTrip compares Transport with net/http's on one small
// request and a short chunked answer, over loopback.
func BenchmarkRoundTrip(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"h1", New(http.DefaultTransport)},
		{"net-http", &http.Transport{MaxIdleConnsPerHost: 64}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := &http.Client{Transport: tc.rt}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Post(srv.URL, "application/json", strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
