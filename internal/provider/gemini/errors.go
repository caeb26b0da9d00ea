package gemini

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/httperr"
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
	e := classify(env.Error, h, model)
	e.UpstreamStatus = status
	e.Err = fmt.Errorf("upstream status %d: %.512s", status, b)
	return e
}

// bodyError classifies an error object sent inside a stream.
func bodyError(eb *errorBody) *llm.Error {
	e := classify(eb, nil, "")
	e.UpstreamStatus = eb.Code
	e.Err = fmt.Errorf("upstream error %d %s: %.512s", eb.Code, eb.Status, eb.Message)
	return e
}

// statusCodes are the HTTP statuses of Google's status names, for errors
// that carry only the name.
var statusCodes = map[string]int{
	"RESOURCE_EXHAUSTED": http.StatusTooManyRequests, "UNAVAILABLE": http.StatusServiceUnavailable,
	"DEADLINE_EXCEEDED": http.StatusGatewayTimeout, "UNAUTHENTICATED": http.StatusUnauthorized,
	"PERMISSION_DENIED": http.StatusForbidden, "NOT_FOUND": http.StatusNotFound, "INTERNAL": http.StatusInternalServerError,
}

// classify maps Google's error (its status name wins over the code) the
// way every provider maps a status (httperr.Status), except that
// UNAVAILABLE/503 is a capacity problem another deployment may not have
// (Unavailable, not a model error), and a retryDelay in the details is the
// Retry-After.
func classify(eb *errorBody, h http.Header, model string) *llm.Error {
	code := eb.Code
	if c, ok := statusCodes[eb.Status]; ok {
		code = c
	}
	e := httperr.Status(code, h, eb.Message, model)
	if code == http.StatusServiceUnavailable {
		e.Kind, e.Message = llm.KindUnavailable, "The upstream is unavailable. Try again later."
	}
	for _, d := range eb.Details {
		if d.RetryDelay != "" {
			if dur, err := time.ParseDuration(d.RetryDelay); err == nil && dur > 0 {
				e.RetryAfter = dur
			}
		}
	}
	return e
}

// transportError classifies a failure to reach the upstream.
func transportError(ctx context.Context, err error) *llm.Error { return httperr.Transport(ctx, err) }

// streamError classifies a failure while reading an accepted stream.
func streamError(ctx context.Context, err error) *llm.Error { return httperr.Stream(ctx, err) }
