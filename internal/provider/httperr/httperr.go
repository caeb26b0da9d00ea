// Package httperr classifies the failures of an HTTP model upstream as
// *llm.Error, one way for every provider: a non-2xx status (Status), a
// failure to reach the upstream (Transport) and a stream that breaks off
// after it was accepted (Stream). The upstream's own words reach the client
// only where the client can act on them (its request was invalid);
// failures of Outcrop's configuration (credentials, model name) are
// described without upstream detail.
//
// Providers with their own error vocabulary (Anthropic's error types,
// Google's status names) translate it to a status first, and keep only
// what has no HTTP status of its own.
package httperr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// MaxBody bounds how much of an upstream's error body is read.
const MaxBody = 64 << 10

// Status returns the error of an upstream answer with a non-2xx status
// (0, or any status below 400: an error the upstream reported without a
// failing status). msg is the upstream's
// message, if any; model the upstream model, for a 404. RetryAfter comes
// from h (nil: none) for 429, 503 and 529. The caller sets Err.
func Status(status int, h http.Header, msg, model string) *llm.Error {
	e := &llm.Error{UpstreamStatus: status}
	switch {
	case status < 400:
		e.Kind, e.Message = llm.KindModelError, "The upstream reported an error."
	case status == http.StatusTooManyRequests:
		e.Kind, e.Message = llm.KindThrottled, "The upstream is rate limiting requests. Try again later."
	case status == 529:
		// Anthropic's "overloaded": capacity, not the caller's rate.
		// Another deployment may well answer.
		e.Kind, e.Message = llm.KindUnavailable, "The upstream is overloaded. Try again later."
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusPaymentRequired:
		// Our key or our bill, not the client's: the deployment is
		// misconfigured.
		e.Kind, e.Message = llm.KindModelError, "The upstream rejected Outcrop's credentials for this deployment."
	case status == http.StatusNotFound:
		e.Kind, e.Message = llm.KindModelError, "The upstream does not serve this deployment's model."
		if model != "" {
			e.Message = fmt.Sprintf("The upstream does not serve model %s.", model)
		}
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		e.Kind, e.Message = llm.KindTimeout, "The upstream timed out."
	case status >= 500:
		e.Kind, e.Message = llm.KindModelError, fmt.Sprintf("The upstream failed with status %d.", status)
	default:
		// 400, 413, 422…: the upstream judged the request itself, e.g. a
		// prompt longer than the context window. The client can act on it.
		e.Kind, e.Message = llm.KindValidation, "The upstream rejected the request"
		if msg != "" {
			e.Message += ": " + Truncate(msg, 300)
		}
	}
	if h != nil && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == 529) {
		e.RetryAfter = RetryAfter(h)
	}
	return e
}

// RetryAfter reads Retry-After (seconds or an HTTP date) or the
// Retry-After-Ms header some servers send; 0 when there is none.
func RetryAfter(h http.Header) time.Duration {
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

// Transport classifies a failure to talk to the upstream at all, or a read
// that failed part way: an *llm.Error in err is kept; a cancelled or
// expired ctx is a cancellation or a timeout; a network timeout is a
// timeout; anything else (refused, reset, closed before a response, DNS)
// means the deployment is down or restarting, and another may answer.
func Transport(ctx context.Context, err error) *llm.Error {
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
	return &llm.Error{Kind: llm.KindUnavailable, Message: "The upstream is unavailable.", Err: err}
}

// Stream classifies a failure while reading a stream the upstream had
// accepted: the stream broke off (a model error), stopped sending (a
// timeout), or the request ended (as Transport).
func Stream(ctx context.Context, err error) *llm.Error {
	if ctx.Err() != nil {
		return Transport(ctx, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &llm.Error{Kind: llm.KindTimeout, Message: "The upstream stopped sending.", Err: err}
	}
	return &llm.Error{Kind: llm.KindModelError, Message: "The upstream stream broke off.", Err: err}
}

// Truncate returns s cut to n bytes, marked with "…" when cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
