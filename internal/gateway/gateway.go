// Package gateway is Outcrop's request pipeline. The API layers turn a wire
// request into a Call and hand it to Gateway.Do, which runs the configured
// stages in order (authorization, limits and quotas, guardrails, caches, …)
// and finally the router, which picks a deployment and calls its provider.
// The provider's stream flows back through each stage's post side in reverse
// order and through the gateway's measuring wrapper, which fills in latency
// metrics, logs the request and records Prometheus histograms.
//
// A stage is middleware over Handler: it may inspect or change the call,
// refuse it, or wrap the returned stream. Stages know nothing of each other;
// their order is declared once, in internal/app.
package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// Handler serves a call, returning its event stream.
type Handler func(ctx context.Context, c *Call) (llm.Stream, error)

// Stage is one step of the pipeline.
type Stage interface {
	// Name identifies the stage in logs and the overhead histogram.
	Name() string
	// Wrap returns a handler that does the stage's work around next.
	Wrap(next Handler) Handler
}

// Call is one request travelling through the pipeline.
type Call struct {
	// API is the wire API the request came in on: "bedrock" or "openai".
	API string
	// Op is the operation name, e.g. "Converse", "ConverseStream",
	// "InvokeModel", "InvokeModelWithResponseStream", "ChatCompletions".
	Op string
	// Action is the IAM action authorizing the call, e.g.
	// "bedrock:InvokeModel" or "bedrock:InvokeModelWithResponseStream".
	Action string
	// Model is the canonical ID of the model the request names, resolved
	// once at the API edge from whatever the client sent (the ID, an alias,
	// a foundation-model or inference-profile ARN, a cross-region prefix).
	// IAM resources, quota and limit keys, routing, audit and metrics all use
	// it, so no spelling of a model dodges a policy or a quota. The edge
	// also sets Request.Model to it.
	Model string
	// Resource is the ARN the call is authorized against: the
	// foundation-model ARN of Model.
	Resource string
	// Request is the neutral request. Stages may replace or modify it.
	Request *llm.Request
	// Stream reports whether the client reads a stream (TTFT matters).
	Stream bool
	// Received is when the request arrived.
	Received time.Time
	// RequestID is the ID sent back in X-Amzn-RequestId / x-request-id.
	RequestID string
	// Principal is the authenticated caller, set by authentication.
	Principal string

	// mu guards the fields below, which the router and stages fill in while
	// hedged attempts may run concurrently.
	mu       sync.Mutex
	served   llm.Served
	attempts []Attempt
	attrs    []slog.Attr
	trace    map[string]json.RawMessage
}

// Attempt records one provider call made for a Call.
type Attempt struct {
	Deployment string
	Start      time.Time
	FirstEvent time.Time // zero if none arrived
	Err        error
	Winner     bool // its stream went to the client

	// Complete is when the whole answer had arrived, for a client that
	// does not stream (the router buffers it so that it can retry a
	// broken answer); zero for streamed calls.
	Complete time.Time
}

// SetServed records which model, deployment and profile serve the call.
func (c *Call) SetServed(s llm.Served) {
	c.mu.Lock()
	c.served = s
	c.mu.Unlock()
}

// Served returns what SetServed recorded.
func (c *Call) Served() llm.Served {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.served
}

// AddAttempt records a provider attempt and returns its index for
// UpdateAttempt.
func (c *Call) AddAttempt(a Attempt) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attempts = append(c.attempts, a)
	return len(c.attempts) - 1
}

// UpdateAttempt changes the attempt at index i.
func (c *Call) UpdateAttempt(i int, f func(*Attempt)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i >= 0 && i < len(c.attempts) {
		f(&c.attempts[i])
	}
}

// winner returns the attempt whose answer went to the client.
func (c *Call) winner() (Attempt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.attempts {
		if a.Winner {
			return a, true
		}
	}
	return Attempt{}, false
}

// Attempts returns a copy of the attempts made so far.
func (c *Call) Attempts() []Attempt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Attempt(nil), c.attempts...)
}

// Annotate adds attributes to the request's log line. Stages use it to
// record decisions (guardrail interventions, cache hits) without sensitive
// text.
func (c *Call) Annotate(attrs ...slog.Attr) {
	c.mu.Lock()
	c.attrs = append(c.attrs, attrs...)
	c.mu.Unlock()
}

// SetTrace sets a trace member (e.g. "guardrail", "promptRouter") returned
// to clients that asked for a trace.
func (c *Call) SetTrace(key string, v json.RawMessage) {
	c.mu.Lock()
	if c.trace == nil {
		c.trace = map[string]json.RawMessage{}
	}
	c.trace[key] = v
	c.mu.Unlock()
}

// Trace returns the trace members set so far.
func (c *Call) Trace() map[string]json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.trace == nil {
		return nil
	}
	t := make(map[string]json.RawMessage, len(c.trace))
	for k, v := range c.trace {
		t[k] = v
	}
	return t
}

func (c *Call) logAttrs() []slog.Attr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]slog.Attr(nil), c.attrs...)
}

// Recorder receives the figures of every finished request; the telemetry
// package implements it with Prometheus histograms.
type Recorder interface {
	Record(r Record)
}

// Record is the outcome of one request.
type Record struct {
	Call     *Call
	Served   llm.Served
	Usage    llm.Usage
	Metrics  llm.Metrics
	Overhead time.Duration // time spent in Outcrop rather than waiting for the upstream
	Status   string        // "ok" or the exception name
	Err      error
}

// Gateway runs calls through the stages and the router.
type Gateway struct {
	log      *slog.Logger
	stages   []Stage
	final    Handler
	chain    Handler
	recorder Recorder
	now      func() time.Time
	models   Catalog
	resource func(model string) string
}

// Options configure a Gateway.
type Options struct {
	Logger   *slog.Logger
	Stages   []Stage  // run in order; post sides in reverse
	Final    Handler  // the router
	Recorder Recorder // may be nil
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Models resolves the model of calls that arrive without Call.Model
	// (see Do); nil leaves such calls as they are.
	Models Catalog
	// Resource returns the IAM resource (ARN) of a canonical model ID, for
	// calls whose model Do resolves; nil keeps their Resource.
	Resource func(model string) string
}

// New returns a gateway.
func New(o Options) *Gateway {
	g := &Gateway{log: o.Logger, stages: o.Stages, final: o.Final, recorder: o.Recorder, now: o.Now,
		models: o.Models, resource: o.Resource}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	h := g.final
	for i := len(g.stages) - 1; i >= 0; i-- {
		h = g.stages[i].Wrap(h)
	}
	g.chain = h
	return g
}

// Do serves c. The returned stream carries the gateway's metrics in its
// metadata event; closing it ends the call and writes the request log line.
// Errors before the stream are logged and recorded here too, so callers
// only map them to the wire.
//
// A call that arrives without Call.Model (built by an agent, a flow or a
// knowledge base rather than the API edge) has its request's model
// resolved here, through Options.Models, before any stage runs.
func (g *Gateway) Do(ctx context.Context, c *Call) (llm.Stream, error) {
	if c.Received.IsZero() {
		c.Received = g.now()
	}
	g.canonicalize(c)
	s, err := g.chain(ctx, c)
	if err != nil {
		g.finish(c, nil, err)
		return nil, err
	}
	return &measured{g: g, c: c, s: s}, nil
}

// Converse serves c and collects the whole response.
func (g *Gateway) Converse(ctx context.Context, c *Call) (*llm.Response, error) {
	s, err := g.Do(ctx, c)
	if err != nil {
		return nil, err
	}
	return llm.Collect(s)
}
