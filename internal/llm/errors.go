package llm

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrorKind classifies failures so that the gateway can decide on retries
// and the API layers can pick a status code and error shape.
type ErrorKind uint8

// Error kinds. The names follow Bedrock's exception shapes.
const (
	KindInternal        ErrorKind = iota // InternalServerException, 500
	KindValidation                       // ValidationException, 400
	KindNotFound                         // ResourceNotFoundException, 404
	KindAccessDenied                     // AccessDeniedException, 403
	KindUnauthenticated                  // UnrecognizedClientException / InvalidSignatureException, 403 (401 on OpenAI)
	KindThrottled                        // ThrottlingException, 429
	KindQuotaExceeded                    // ServiceQuotaExceededException, 400
	KindTimeout                          // ModelTimeoutException, 408
	KindModelError                       // ModelErrorException, 424: the upstream failed
	KindUnavailable                      // ServiceUnavailableException, 503
	KindModelNotReady                    // ModelNotReadyException, 429
	KindConflict                         // ConflictException, 400 (409 on the control plane)
	KindCanceled                         // the client went away
)

var errorKindNames = [...]string{
	"InternalServerException", "ValidationException", "ResourceNotFoundException",
	"AccessDeniedException", "UnrecognizedClientException", "ThrottlingException",
	"ServiceQuotaExceededException", "ModelTimeoutException", "ModelErrorException",
	"ServiceUnavailableException", "ModelNotReadyException", "ConflictException",
	"RequestCanceled",
}

// String returns the Bedrock exception name for the kind.
func (k ErrorKind) String() string {
	if int(k) < len(errorKindNames) {
		return errorKindNames[k]
	}
	return "InternalServerException"
}

// Error is a classified failure.
type Error struct {
	Kind    ErrorKind
	Message string // safe to show to the client
	// Code overrides the exception name derived from Kind, e.g.
	// "InvalidSignatureException" for KindUnauthenticated.
	Code string
	// UpstreamStatus is the HTTP status the upstream returned, if any.
	UpstreamStatus int
	// RetryAfter is how long the upstream or a quota asks the caller to
	// wait; zero if unknown.
	RetryAfter time.Duration
	// Err is the underlying cause, logged but never shown to clients.
	Err error
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Err != nil {
		if msg == "" {
			msg = e.Err.Error()
		} else {
			msg += ": " + e.Err.Error()
		}
	}
	return e.Name() + ": " + msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Name returns the exception name clients see.
func (e *Error) Name() string {
	if e.Code != "" {
		return e.Code
	}
	return e.Kind.String()
}

// Retryable reports whether another attempt, possibly on another deployment,
// may succeed.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindThrottled, KindTimeout, KindUnavailable, KindModelNotReady, KindInternal:
		return true
	case KindModelError:
		return e.UpstreamStatus == 0 || e.UpstreamStatus >= 500 || e.UpstreamStatus == 429 || e.UpstreamStatus == 408
	}
	return false
}

// Errorf returns an *Error of the given kind with a formatted message.
func Errorf(kind ErrorKind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error, classifying unknown errors as internal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, ErrCanceled) {
		return &Error{Kind: KindCanceled, Message: "request canceled", Err: err}
	}
	return &Error{Kind: KindInternal, Message: "internal error", Err: err}
}

// IsRetryable reports whether err is an *Error that may succeed on retry.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable()
}

// ErrCanceled is returned when the caller cancelled the request.
var ErrCanceled = errors.New("request canceled")

// ParseRetryAfter parses an HTTP Retry-After header given in seconds.
func ParseRetryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}
