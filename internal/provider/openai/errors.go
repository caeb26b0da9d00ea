package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

var netDialer = net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}

// maxErrorBody bounds how much of an upstream error body is read.
const maxErrorBody = 64 << 10

// statusError classifies an upstream response with a non-2xx status. The
// upstream's own message is shown to the client only where the client can
// act on it (4xx about the request); failures of Outcrop's configuration
// (credentials, model name) are described without upstream detail.
func statusError(resp *http.Response, model string) *llm.Error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	msg := upstreamMessage(b)
	cause := fmt.Errorf("upstream status %d: %s", resp.StatusCode, truncate(string(b), 512))
	e := &llm.Error{UpstreamStatus: resp.StatusCode, Err: cause}
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		// Our key, not the client's: the deployment is misconfigured.
		e.Kind = llm.KindModelError
		e.Message = "The upstream rejected Outcrop's credentials for this deployment."
	case s == http.StatusNotFound:
		e.Kind = llm.KindModelError
		e.Message = fmt.Sprintf("The upstream does not serve model %s.", model)
	case s == http.StatusRequestTimeout:
		e.Kind = llm.KindTimeout
		e.Message = "The upstream timed out."
	case s == http.StatusTooManyRequests:
		e.Kind = llm.KindThrottled
		e.Message = "The upstream is rate limiting requests. Try again later."
		e.RetryAfter = retryAfter(resp.Header)
	case s >= 500:
		e.Kind = llm.KindModelError
		e.Message = fmt.Sprintf("The upstream failed with status %d.", s)
		if s == http.StatusServiceUnavailable {
			e.RetryAfter = retryAfter(resp.Header)
		}
	default:
		// 400, 413, 422…: the upstream judged the request itself, e.g. a
		// prompt longer than the context window. The client can act on it.
		e.Kind = llm.KindValidation
		e.Message = "The upstream rejected the request"
		if msg != "" {
			e.Message += ": " + truncate(msg, 300)
		}
	}
	return e
}

// upstreamMessage extracts the message of an OpenAI-style error body
// ({"error":{"message":…}} or {"error":"…"}).
func upstreamMessage(b []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(b, &v) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(v.Error, &s) == nil {
		return s
	}
	var o struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(v.Error, &o) == nil && o.Message != "" {
		return o.Message
	}
	return v.Message
}

// retryAfter reads Retry-After (seconds or an HTTP date) or the
// retry-after-ms header some servers send.
func retryAfter(h http.Header) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if d := llm.ParseRetryAfter(v); d > 0 {
		return d
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// transportError classifies a failure to talk to the upstream at all, or a
// read that failed part way.
func transportError(ctx context.Context, err error) *llm.Error {
	var le *llm.Error
	if errors.As(err, &le) {
		return le
	}
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return &llm.Error{Kind: llm.KindTimeout, Message: "The upstream did not answer in time.", Err: err}
		}
		return &llm.Error{Kind: llm.KindCanceled, Message: "request canceled", Err: errors.Join(llm.ErrCanceled, err)}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &llm.Error{Kind: llm.KindTimeout, Message: "The upstream did not answer in time.", Err: err}
	}
	// Refused, reset, closed before a response, DNS failures: the
	// deployment is down or restarting; another one may answer.
	return &llm.Error{Kind: llm.KindUnavailable, Message: "The upstream is unavailable.", Err: err}
}

// streamError classifies a failure while reading an accepted stream.
func streamError(ctx context.Context, err error) *llm.Error {
	if ctx.Err() != nil {
		return transportError(ctx, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &llm.Error{Kind: llm.KindTimeout, Message: "The upstream stopped sending.", Err: err}
	}
	return &llm.Error{Kind: llm.KindModelError, Message: "The upstream stream broke off.", Err: err}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
