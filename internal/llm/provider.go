package llm

import "context"

// Provider is one deployment of a model behind some API: a base URL plus an
// upstream model name, or a model file in the built-in engine. Providers are
// safe for concurrent use.
//
// ConverseStream starts a call and returns its event stream. Errors before
// the first event are returned directly; errors after it come from
// Stream.Next. Every error a provider returns should be an *Error (or wrap
// one) so that the gateway can tell retryable failures from the caller's
// mistakes. The call ends when ctx is cancelled or the stream is closed.
type Provider interface {
	ConverseStream(ctx context.Context, req *Request) (Stream, error)
}

// Conversor is implemented by providers with a native non-streaming call.
// The router uses it for clients that do not stream when the provider also
// says it prefers to (routing's PreferUnary) and the attempt needs no
// stream timing (hedging, TTFT or stall timeouts); the answer then arrives
// in one piece, so there is no time to first token to measure.
type Conversor interface {
	Converse(ctx context.Context, req *Request) (*Response, error)
}

// TokenCounter is implemented by providers that can count the input tokens of
// a request exactly, in the model's own tokenizer.
type TokenCounter interface {
	CountTokens(ctx context.Context, req *Request) (int, error)
}

// Describer is implemented by providers that can say what they serve.
type Describer interface {
	Describe() Description
}

// Description is static information about a deployment.
type Description struct {
	Provider      string // provider type, e.g. "openai", "local"
	UpstreamModel string
	ContextWindow int // tokens; 0 if unknown
}

// Checker is implemented by providers that can report their health cheaply.
type Checker interface {
	Check(ctx context.Context) error
}
