package anthropic

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/httperr"
)

// errorBody is the "error" member of Anthropic's error responses and of
// the stream's error event: {"type":"error","error":{"type":…,"message":…}}.
type errorBody struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// maxErrorBody bounds how much of an upstream error body is read.
const maxErrorBody = httperr.MaxBody

// statusError classifies a response with a non-2xx status.
func statusError(resp *http.Response, model string) *llm.Error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var env struct {
		Error *errorBody `json:"error"`
	}
	if json.Unmarshal(b, &env) != nil || env.Error == nil {
		env.Error = &errorBody{}
	}
	e := httperr.Status(resp.StatusCode, resp.Header, env.Error.Message, model)
	e.Err = fmt.Errorf("upstream status %d: %.512s", resp.StatusCode, b)
	return e
}

// bodyError classifies an error object received in a 200 response (the
// stream's error event, or a body of type "error"), by the status its type
// stands for.
func bodyError(eb *errorBody, status int) *llm.Error {
	if status == 0 {
		status = typeStatus[eb.Type]
	}
	e := httperr.Status(status, nil, eb.Message, "")
	e.Err = fmt.Errorf("upstream error %s: %.512s", eb.Type, eb.Message)
	return e
}

// typeStatus is the HTTP status of each of Anthropic's error types.
var typeStatus = map[string]int{
	"invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
	"permission_error": 403, "not_found_error": 404, "request_too_large": 413,
	"rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529,
}

// transportError classifies a failure to reach the upstream.
func transportError(ctx context.Context, err error) *llm.Error { return httperr.Transport(ctx, err) }

// streamError classifies a failure while reading an accepted stream.
func streamError(ctx context.Context, err error) *llm.Error { return httperr.Stream(ctx, err) }
