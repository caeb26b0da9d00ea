package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Request is one call a Client makes.
type Request struct {
	Model       string
	Profile     string // performanceConfig.latency; "" sends none
	System      string
	Prompt      string
	MaxTokens   int
	Temperature *float64
	Stream      bool
}

// Result is what a Client observed for one call. First and Last are the
// arrival times of the first and last content chunk (zero when not
// streaming); End is when the response was fully read.
type Result struct {
	First, Last, End time.Time
	Chunks           int
	TextBytes        int

	InputTokens, OutputTokens, CachedTokens int
	UsageReported                           bool

	ProfileServed string
	Deployment    string
	RequestID     string
	StopReason    string
	ServerMs      *float64
}

// Client sends benchmark requests to one endpoint.
type Client interface {
	// Do sends req and returns what it observed. A failed call returns an
	// *Error; the Result is still filled up to the failure.
	Do(ctx context.Context, req Request) (Result, error)
	// API names the wire format: "bedrock" or "openai".
	API() string
	// Endpoint is the base URL requests go to.
	Endpoint() string
}

// Error types recorded in Record.ErrorType.
const (
	ErrConnection    = "connection"      // endpoint unreachable
	ErrAuth          = "auth"            // credentials refused (401/403)
	ErrModelNotFound = "model_not_found" // 404 for the model
	ErrThrottled     = "throttled"       // 429
	ErrValidation    = "validation"      // other 4xx
	ErrTimeout       = "timeout"         // network timeout or 408
	ErrServer        = "server"          // 5xx
	ErrStream        = "stream"          // failure after the stream started
	ErrCanceled      = "canceled"        // cut by the run (Ctrl-C, --max-time, fatal error) while in flight
	ErrOther         = "other"
)

// Error is a failed benchmark request.
type Error struct {
	Type     string // one of the Err* constants
	Status   int    // HTTP status, 0 if none
	Code     string // server error code (e.g. ResourceNotFoundException)
	Endpoint string
	Model    string
	Err      error
}

func (e *Error) Error() string {
	var b strings.Builder
	switch e.Type {
	case ErrConnection:
		fmt.Fprintf(&b, "endpoint %s is unreachable", e.Endpoint)
	case ErrAuth:
		fmt.Fprintf(&b, "endpoint %s rejected the credentials", e.Endpoint)
	case ErrModelNotFound:
		fmt.Fprintf(&b, "model %q does not exist at %s", e.Model, e.Endpoint)
	default:
		fmt.Fprintf(&b, "%s error from %s", e.Type, e.Endpoint)
	}
	if e.Status != 0 || e.Code != "" {
		b.WriteString(" (")
		if e.Status != 0 {
			fmt.Fprintf(&b, "HTTP %d", e.Status)
		}
		if e.Code != "" {
			if e.Status != 0 {
				b.WriteByte(' ')
			}
			b.WriteString(e.Code)
		}
		b.WriteByte(')')
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Fatal reports whether the error would repeat on every request (wrong
// endpoint, credentials or model), so that the run should stop.
func (e *Error) Fatal() bool {
	return e.Type == ErrConnection || e.Type == ErrAuth || e.Type == ErrModelNotFound
}

// classifyStatus maps an HTTP status (and, for 404 and 400, the server's
// code or message) to an error type.
func classifyStatus(status int, code, msg string) string {
	lc := strings.ToLower(code + " " + msg)
	switch {
	case status == 401 || status == 403:
		return ErrAuth
	case status == 404:
		return ErrModelNotFound
	case status == 400 && strings.Contains(lc, "model") &&
		(strings.Contains(lc, "not found") || strings.Contains(lc, "does not exist") ||
			strings.Contains(lc, "invalid model") || strings.Contains(lc, "model_not_found")):
		return ErrModelNotFound
	case status == 408:
		return ErrTimeout
	case status == 429:
		return ErrThrottled
	case status >= 500:
		return ErrServer
	case status >= 400:
		return ErrValidation
	}
	return ErrOther
}

// classifyTransport maps an error without an HTTP status.
func classifyTransport(ctx context.Context, err error) string {
	var ne net.Error
	var oe *net.OpError
	var dnsErr *net.DNSError
	switch {
	case ctx.Err() != nil:
		// The run's own context ended (Ctrl-C, --max-time, a fatal error
		// elsewhere): the request was cut, not failed.
		return ErrCanceled
	case errors.As(err, &dnsErr):
		return ErrConnection
	case errors.As(err, &oe) && oe.Op == "dial":
		return ErrConnection
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return ErrTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return ErrServer // the server closed the connection mid-exchange
	}
	return ErrOther
}

// IsLoopback reports whether endpoint names a loopback host.
func IsLoopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
