package httperr

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		status    int
		kind      llm.ErrorKind
		retryable bool
		withMsg   bool // the upstream's message reaches the client
	}{
		{0, llm.KindModelError, true, false},
		{200, llm.KindModelError, false, false},
		{400, llm.KindValidation, false, true},
		{401, llm.KindModelError, false, false},
		{402, llm.KindModelError, false, false},
		{403, llm.KindModelError, false, false},
		{404, llm.KindModelError, false, false},
		{408, llm.KindTimeout, true, false},
		{413, llm.KindValidation, false, true},
		{422, llm.KindValidation, false, true},
		{429, llm.KindThrottled, true, false},
		{500, llm.KindModelError, true, false},
		{503, llm.KindModelError, true, false},
		{504, llm.KindTimeout, true, false},
		{529, llm.KindUnavailable, true, false},
	} {
		e := Status(tc.status, nil, "prompt is too long", "m1")
		if e.Kind != tc.kind || e.Retryable() != tc.retryable || e.UpstreamStatus != tc.status {
			t.Errorf("Status(%d) = %s (retryable %v, upstream %d), want %s (retryable %v)", tc.status, e.Name(), e.Retryable(), e.UpstreamStatus, tc.kind, tc.retryable)
		}
		if got := strings.Contains(e.Message, "prompt is too long"); got != tc.withMsg {
			t.Errorf("Status(%d) message %q: upstream detail shown = %v, want %v", tc.status, e.Message, got, tc.withMsg)
		}
	}
	if e := Status(404, nil, "", "m1"); !strings.Contains(e.Message, "m1") {
		t.Errorf("Status(404) message %q does not name the model", e.Message)
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		h      http.Header
		want   time.Duration
	}{
		{"seconds", 429, http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{"milliseconds win", 429, http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"7"}}, 250 * time.Millisecond},
		{"503", 503, http.Header{"Retry-After": {"2"}}, 2 * time.Second},
		{"529", 529, http.Header{"Retry-After": {"3"}}, 3 * time.Second},
		{"ignored on 500", 500, http.Header{"Retry-After": {"2"}}, 0},
		{"garbage", 429, http.Header{"Retry-After": {"soon"}}, 0},
		{"none", 429, http.Header{}, 0},
	} {
		if got := Status(tc.status, tc.h, "", "").RetryAfter; got != tc.want {
			t.Errorf("%s: RetryAfter = %v, want %v", tc.name, got, tc.want)
		}
	}
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	if d := RetryAfter(http.Header{"Retry-After": {date}}); d < 80*time.Second || d > 91*time.Second {
		t.Errorf("RetryAfter(HTTP date 90 s ahead) = %v", d)
	}
}

// TestTransport classifies real failures: a refused connection, a
// cancelled and an expired request, a read timeout, an error that is
// already classified.
func TestTransport(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, refused := http.Get("http://" + addr + "/")
	if e := Transport(context.Background(), refused); e.Kind != llm.KindUnavailable || !e.Retryable() {
		t.Errorf("refused: %s", e.Name())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if e := Transport(ctx, context.Canceled); e.Kind != llm.KindCanceled || !errors.Is(e, llm.ErrCanceled) {
		t.Errorf("cancelled: %s", e.Name())
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if e := Transport(ctx, ctx.Err()); e.Kind != llm.KindTimeout {
		t.Errorf("expired: %s", e.Name())
	}
	// A server that accepts and never answers: a read deadline.
	srv, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		c, err := srv.Accept()
		if err == nil {
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, rerr := c.Read(make([]byte, 1))
	if e := Transport(context.Background(), rerr); e.Kind != llm.KindTimeout {
		t.Errorf("read timeout: %s", e.Name())
	}
	if e := Stream(context.Background(), rerr); e.Kind != llm.KindTimeout {
		t.Errorf("stream stalled: %s", e.Name())
	}
	if e := Stream(context.Background(), io.ErrUnexpectedEOF); e.Kind != llm.KindModelError || !e.Retryable() {
		t.Errorf("stream cut: %s", e.Name())
	}
	known := llm.Errorf(llm.KindThrottled, "x")
	if e := Transport(context.Background(), known); e != known {
		t.Errorf("an *llm.Error was reclassified: %s", e.Name())
	}
}
