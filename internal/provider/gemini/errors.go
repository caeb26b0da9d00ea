package gemini

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// errorBody is Google's error object: {"error":{"code":429,"message":…,
// "status":"RESOURCE_EXHAUSTED","details":[…]}}.
type errorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []struct {
		Type       string `json:"@type"`
		RetryDelay string `json:"retryDelay"`
	} `json:"details"`
}

// statusError classifies a non-2xx response.
func statusError(status int, h http.Header, b []byte, model string) *llm.Error {
	var env struct {
		Error *errorBody `json:"error"`
	}
	if json.Unmarshal(b, &env) != nil || env.Error == nil {
		env.Error = &errorBody{}
	}
	if env.Error.Code == 0 {
		env.Error.Code = status
	}
	e := classify(env.Error, model)
	e.UpstreamStatus = status
	e.Err = fmt.Errorf("upstream status %d: %.512s", status, b)
	if e.RetryAfter == 0 && (e.Kind == llm.KindThrottled || e.Kind == llm.KindUnavailable) {
		e.RetryAfter = llm.ParseRetryAfter(h.Get("Retry-After"))
	}
	return e
}

// bodyError classifies an error object sent inside a stream.
func bodyError(eb *errorBody) *llm.Error {
	e := classify(eb, "")
	e.UpstreamStatus = eb.Code
	e.Err = fmt.Errorf("upstream error %d %s: %.512s", eb.Code, eb.Status, eb.Message)
	return e
}

func classify(eb *errorBody, model string) *llm.Error {
	e := &llm.Error{}
	for _, d := range eb.Details {
		if d.RetryDelay != "" {
			if dur, err := time.ParseDuration(d.RetryDelay); err == nil && dur > 0 {
				e.RetryAfter = dur
			}
		}
	}
	switch {
	case eb.Status == "RESOURCE_EXHAUSTED" || eb.Code == http.StatusTooManyRequests:
		e.Kind, e.Message = llm.KindThrottled, "The upstream is rate limiting requests. Try again later."
	case eb.Status == "UNAVAILABLE" || eb.Code == http.StatusServiceUnavailable:
		e.Kind, e.Message = llm.KindUnavailable, "The upstream is unavailable. Try again later."
	case eb.Status == "DEADLINE_EXCEEDED" || eb.Code == http.StatusGatewayTimeout:
		e.Kind, e.Message = llm.KindTimeout, "The upstream timed out."
	case eb.Status == "UNAUTHENTICATED" || eb.Status == "PERMISSION_DENIED" || eb.Code == 401 || eb.Code == 403:
		e.Kind, e.Message = llm.KindModelError, "The upstream rejected Outcrop's credentials for this deployment."
	case eb.Status == "NOT_FOUND" || eb.Code == 404:
		e.Kind, e.Message = llm.KindModelError, "The upstream does not serve this deployment's model."
		if model != "" {
			e.Message = fmt.Sprintf("The upstream does not serve model %s.", model)
		}
	case eb.Code >= 500 || eb.Status == "INTERNAL":
		e.Kind, e.Message = llm.KindModelError, "The upstream failed."
	case eb.Code >= 400:
		e.Kind, e.Message = llm.KindValidation, "The upstream rejected the request"
		if eb.Message != "" {
			msg := eb.Message
			if len(msg) > 300 {
				msg = msg[:300] + "…"
			}
			e.Message += ": " + msg
		}
	default:
		e.Kind, e.Message = llm.KindModelError, "The upstream reported an error."
	}
	return e
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
