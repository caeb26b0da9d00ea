package anthropic

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

// errorBody is the "error" member of Anthropic's error responses and of
// the stream's error event: {"type":"error","error":{"type":…,"message":…}}.
type errorBody struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// maxErrorBody bounds how much of an upstream error body is read.
const maxErrorBody = 64 << 10

// statusError classifies a response with a non-2xx status.
func statusError(resp *http.Response, model string) *llm.Error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var env struct {
		Error *errorBody `json:"error"`
	}
	if json.Unmarshal(b, &env) != nil || env.Error == nil {
		env.Error = &errorBody{}
	}
	e := classify(resp.StatusCode, env.Error, model)
	e.Err = fmt.Errorf("upstream status %d: %.512s", resp.StatusCode, b)
	if e.Kind == llm.KindThrottled || e.Kind == llm.KindUnavailable {
		e.RetryAfter = retryAfter(resp.Header)
	}
	return e
}

// bodyError classifies an error object received in a 200 response (the
// stream's error event, or a body of type "error").
func bodyError(eb *errorBody, status int) *llm.Error {
	e := classify(status, eb, "")
	e.Err = fmt.Errorf("upstream error %s: %.512s", eb.Type, eb.Message)
	return e
}

// classify maps Anthropic's status and error type. The upstream's message is
// shown only where the client can act on it (its own request was invalid).
func classify(status int, eb *errorBody, model string) *llm.Error {
	if status == 0 {
		status = map[string]int{
			"invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
			"permission_error": 403, "not_found_error": 404, "request_too_large": 413,
			"rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529,
		}[eb.Type]
	}
	e := &llm.Error{UpstreamStatus: status}
	switch {
	case status == 0:
		e.Kind = llm.KindModelError
		e.Message = "The upstream reported an error."
	case status == http.StatusTooManyRequests:
		e.Kind = llm.KindThrottled
		e.Message = "The upstream is rate limiting requests. Try again later."
	case status == 529:
		// Anthropic's "overloaded": capacity, not the caller's rate.
		// Another deployment may well answer.
		e.Kind = llm.KindUnavailable
		e.Message = "The upstream is overloaded. Try again later."
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusPaymentRequired:
		e.Kind = llm.KindModelError
		e.Message = "The upstream rejected Outcrop's credentials for this deployment."
	case status == http.StatusNotFound:
		e.Kind = llm.KindModelError
		e.Message = "The upstream does not serve this deployment's model."
		if model != "" {
			e.Message = fmt.Sprintf("The upstream does not serve model %s.", model)
		}
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		e.Kind = llm.KindTimeout
		e.Message = "The upstream timed out."
	case status >= 500:
		e.Kind = llm.KindModelError
		e.Message = fmt.Sprintf("The upstream failed with status %d.", status)
	default:
		e.Kind = llm.KindValidation
		e.Message = "The upstream rejected the request"
		if eb.Message != "" {
			e.Message += ": " + truncate(eb.Message, 300)
		}
	}
	return e
}

// retryAfter reads retry-after (seconds or an HTTP date).
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n > 0 {
		return time.Duration(n * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}

// transportError classifies a failure to reach the upstream.
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
