package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/outcrop/outcrop/internal/llm"
)

// Adapter turns handlers that return errors into http.Handlers, writing
// each error in the shape of the API the route belongs to and logging
// internal causes once.
type Adapter struct {
	log *slog.Logger
	// MaxBodyBytes bounds request bodies read with ReadBody.
	MaxBodyBytes int64
	// authorize is Deps.Authorize.
	authorize func(ctx context.Context, action, resource string) error
}

// Authorize checks that the caller of r may perform action on resource
// (an IAM action such as "bedrock:GetGuardrail" and an ARN, which may end in
// "*" for listings). Routes outside the inference pipeline call it first.
func (a *Adapter) Authorize(r *http.Request, action, resource string) error {
	if a.authorize == nil {
		return nil
	}
	return a.authorize(r.Context(), action, resource)
}

// HandlerFunc is a handler that reports failure by returning an error.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Bedrock adapts h for a Bedrock route (X-Amzn-ErrorType + {"message"}).
func (a *Adapter) Bedrock(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.WriteBedrockError(w, r, err)
		}
	})
}

// OpenAI adapts h for an OpenAI route ({"error":{…}}).
func (a *Adapter) OpenAI(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.WriteOpenAIError(w, r, err)
		}
	})
}

// bedrockStatus is the HTTP status of each error kind on Bedrock routes.
var bedrockStatus = map[llm.ErrorKind]int{
	llm.KindInternal:        http.StatusInternalServerError,
	llm.KindValidation:      http.StatusBadRequest,
	llm.KindNotFound:        http.StatusNotFound,
	llm.KindAccessDenied:    http.StatusForbidden,
	llm.KindUnauthenticated: http.StatusForbidden,
	llm.KindThrottled:       http.StatusTooManyRequests,
	llm.KindQuotaExceeded:   http.StatusBadRequest,
	llm.KindTimeout:         http.StatusRequestTimeout,
	llm.KindModelError:      http.StatusFailedDependency,
	llm.KindUnavailable:     http.StatusServiceUnavailable,
	llm.KindModelNotReady:   http.StatusTooManyRequests,
	llm.KindConflict:        http.StatusBadRequest,
	llm.KindCanceled:        499,
}

// BedrockStatus returns the HTTP status for e on Bedrock routes.
func BedrockStatus(e *llm.Error) int {
	if s, ok := bedrockStatus[e.Kind]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// SafeMessage is the client-visible message of e: internal causes are never
// shown.
func SafeMessage(e *llm.Error) string {
	if e.Message != "" {
		return e.Message
	}
	switch e.Kind {
	case llm.KindInternal:
		return "An internal error occurred. Try your request again."
	case llm.KindModelError:
		return "The model returned an error."
	case llm.KindUnavailable:
		return "The service is unavailable. Try your request again later."
	}
	return e.Kind.String()
}

func (a *Adapter) logCause(r *http.Request, e *llm.Error) {
	if e.Kind == llm.KindInternal || (e.Err != nil && e.Kind != llm.KindCanceled) {
		a.log.LogAttrs(r.Context(), slog.LevelWarn, "request failed",
			slog.String("request_id", RequestID(r.Context())),
			slog.String("path", r.URL.Path),
			slog.String("error", e.Error()))
	}
}

// WriteBedrockError writes err as a Bedrock error response.
func (a *Adapter) WriteBedrockError(w http.ResponseWriter, r *http.Request, err error) {
	a.writeBedrockError(w, r, err, BedrockStatus)
}

// writeBedrockError writes err in the Bedrock shape with the status that
// status gives its kind (the runtime and the control planes differ).
func (a *Adapter) writeBedrockError(w http.ResponseWriter, r *http.Request, err error, status func(*llm.Error) int) {
	e := llm.AsError(err)
	a.logCause(r, e)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", e.Name())
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+999_999_999)/1_000_000_000)))
	}
	w.WriteHeader(status(e))
	body := map[string]any{"message": SafeMessage(e)}
	if e.Kind == llm.KindModelError && e.UpstreamStatus != 0 {
		body["originalStatusCode"] = e.UpstreamStatus
	}
	json.NewEncoder(w).Encode(body)
}

// WriteOpenAIError writes err as an OpenAI error response.
func (a *Adapter) WriteOpenAIError(w http.ResponseWriter, r *http.Request, err error) {
	e := llm.AsError(err)
	a.logCause(r, e)
	status, typ, code := openAIErrorShape(e)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+999_999_999)/1_000_000_000)))
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(OpenAIErrorBody(e, typ, code))
}

// OpenAIErrorBody is the {"error":{…}} object for e.
func OpenAIErrorBody(e *llm.Error, typ, code string) map[string]any {
	var c any
	if code != "" {
		c = code
	}
	return map[string]any{"error": map[string]any{"message": SafeMessage(e), "type": typ, "param": nil, "code": c}}
}

func openAIErrorShape(e *llm.Error) (status int, typ, code string) {
	switch e.Kind {
	case llm.KindValidation, llm.KindQuotaExceeded, llm.KindConflict:
		return http.StatusBadRequest, "invalid_request_error", ""
	case llm.KindNotFound:
		return http.StatusNotFound, "invalid_request_error", "model_not_found"
	case llm.KindUnauthenticated:
		return http.StatusUnauthorized, "authentication_error", "invalid_api_key"
	case llm.KindAccessDenied:
		return http.StatusForbidden, "permission_error", ""
	case llm.KindThrottled, llm.KindModelNotReady:
		return http.StatusTooManyRequests, "rate_limit_error", "rate_limit_exceeded"
	case llm.KindTimeout:
		return http.StatusGatewayTimeout, "timeout_error", ""
	case llm.KindModelError:
		return http.StatusBadGateway, "api_error", "upstream_error"
	case llm.KindUnavailable:
		return http.StatusServiceUnavailable, "api_error", "service_unavailable"
	case llm.KindCanceled:
		return 499, "api_error", ""
	}
	return http.StatusInternalServerError, "api_error", ""
}

// ReadBody reads the request body, at most MaxBodyBytes, and reports a body
// that is too large as a ValidationException.
func (a *Adapter) ReadBody(r *http.Request) ([]byte, error) {
	limit := a.MaxBodyBytes
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindValidation, Message: "could not read the request body", Err: err}
	}
	if int64(len(b)) > limit {
		return nil, llm.Errorf(llm.KindValidation, "The request body is larger than the limit of %d bytes", limit)
	}
	return b, nil
}

// DecodeJSON decodes b into v and describes syntax and type errors the way
// a client can act on. An empty body decodes as {}.
func DecodeJSON(b []byte, v any) error {
	if len(strings.TrimSpace(string(b))) == 0 {
		b = []byte("{}")
	}
	err := json.Unmarshal(b, v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return llm.Errorf(llm.KindValidation, "Malformed input request: invalid JSON at offset %d: %v", se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(root)"
		}
		return llm.Errorf(llm.KindValidation, "Malformed input request: field %s must be %s, not %s", field, jsonTypeName(te.Type.Kind().String()), te.Value)
	}
	return llm.Errorf(llm.KindValidation, "Malformed input request: %v", err)
}

func jsonTypeName(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int64", "int32", "uint", "uint64", "uint32":
		return "an integer"
	case "float64", "float32":
		return "a number"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr", "pointer":
		return "an object"
	}
	return fmt.Sprintf("a %s", goKind)
}

// WriteJSON writes v as a JSON response with the given status.
// The body is marshalled first, so that a value that cannot be encoded
// becomes an error response rather than a truncated 200, and so that
// Content-Length can be set. A failed write means the client is gone and is
// not reported.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	out, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(status)
	_, _ = w.Write(out)
	return nil
}
