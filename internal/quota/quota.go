// Package quota protects upstream capacity and budgets: request limits
// against unbounded consumption (body size, message count, input tokens,
// maxTokens per model) and quotas in the spirit of provisioned throughput
// (requests and tokens per minute per principal and per model, and a cap on
// concurrent streams), answered with ThrottlingException / HTTP 429 and
// Retry-After.
//
// Counters are fixed one-minute windows: a principal with rpm: 60 gets at
// most 60 requests admitted in each calendar minute, and a refused request
// is told to retry when the window turns. Token quotas admit a request
// while the window's count is below the limit, charging the estimated input
// tokens up front and the rest of the real usage when the stream ends.
// Counters live in process memory by default and in Redis when configured,
// so that several replicas enforce one shared limit.
//
// Stage applies limits and quotas in the inference pipeline; it runs after
// authorization, so the principal is known.
package quota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

// Limit is a set of quotas; zero means unlimited.
type Limit struct {
	// RPM is requests per minute.
	RPM int `yaml:"rpm"`
	// TPM is tokens (input + output) per minute.
	TPM int `yaml:"tpm"`
	// ConcurrentStreams caps inference calls in flight (streaming or not:
	// each holds an upstream stream).
	ConcurrentStreams int `yaml:"concurrent_streams"`
}

func (l Limit) zero() bool { return l.RPM == 0 && l.TPM == 0 && l.ConcurrentStreams == 0 }

// PrincipalLimit is a principal's quotas, with optional per-model quotas
// for that principal.
type PrincipalLimit struct {
	Limit  `yaml:",inline"`
	Models map[string]Limit `yaml:"models"`
}

// Config is the quotas section:
//
//	quotas:
//	  default: {rpm: 600, tpm: 200000, concurrent_streams: 16}  # each principal
//	  principals:
//	    alice: {rpm: 60, tpm: 20000, models: {big-model: {rpm: 5}}}
//	  models:                       # each model, all principals together
//	    smollm2-135m-instruct: {rpm: 1200, concurrent_streams: 32}
//	  backend: auto                 # auto (redis when redis.url is set) | memory | redis
//	  on_backend_error: allow       # allow | deny when Redis fails
//	  stream_lease: 15m
type Config struct {
	// Default applies to every principal without its own entry. Default:
	// unlimited.
	Default Limit `yaml:"default"`
	// Principals overrides Default per principal name.
	Principals map[string]PrincipalLimit `yaml:"principals"`
	// Models limits each model across all principals. A key may be the
	// model's ID, an alias or an ARN: Options.ResolveModel turns it into
	// the model's canonical ID, the one every call carries
	// (gateway.Call.Model), so calls through an alias count too.
	Models map[string]Limit `yaml:"models"`
	// Backend is auto, memory or redis.
	Backend string `yaml:"backend"`
	// OnBackendError says what happens when the counter backend fails:
	// allow (default; logged) or deny (503).
	OnBackendError string `yaml:"on_backend_error"`
	// StreamLease bounds how long a concurrency slot is held if its
	// holder dies without releasing it (Redis). Default 15m.
	StreamLease config.Duration `yaml:"stream_lease"`
}

// ModelLimits are request limits against unbounded consumption.
type ModelLimits struct {
	// MaxMessages caps the messages in a request. Default 1000.
	MaxMessages int `yaml:"max_messages"`
	// MaxInputTokens caps the estimated input tokens (about 4 bytes of
	// text per token). Default 200000.
	MaxInputTokens int `yaml:"max_input_tokens"`
	// MaxTokens caps the maxTokens a request may ask for; a request that
	// asks for none gets the deployment's default output limit, capped at
	// this value. Default 8192.
	MaxTokens int `yaml:"max_tokens"`
}

// LimitsConfig is the limits section:
//
//	limits:
//	  max_messages: 1000
//	  max_input_tokens: 200000
//	  max_tokens: 8192
//	  models:
//	    smollm2-135m-instruct: {max_tokens: 2048, max_input_tokens: 6000}
//
// The request body size is bounded by server.max_body_bytes (default 25 MiB).
type LimitsConfig struct {
	ModelLimits `yaml:",inline"`
	// Models overrides the defaults per model; unset fields inherit them.
	Models map[string]ModelLimits `yaml:"models"`
}

// ParseConfig decodes and validates the quotas and limits sections.
func ParseConfig(cfg *config.Config) (Config, LimitsConfig, error) {
	var q Config
	var l LimitsConfig
	if err := config.Decode(cfg.Quotas, &q); err != nil {
		return q, l, fmt.Errorf("quotas: %w", err)
	}
	if err := config.Decode(cfg.Limits, &l); err != nil {
		return q, l, fmt.Errorf("limits: %w", err)
	}
	switch q.Backend {
	case "":
		q.Backend = "auto"
	case "auto", "memory", "redis":
	default:
		return q, l, fmt.Errorf("quotas.backend: %q is not auto, memory or redis", q.Backend)
	}
	switch q.OnBackendError {
	case "":
		q.OnBackendError = "allow"
	case "allow", "deny":
	default:
		return q, l, fmt.Errorf("quotas.on_backend_error: %q is not allow or deny", q.OnBackendError)
	}
	if q.StreamLease == 0 {
		q.StreamLease = config.Duration(15 * time.Minute)
	}
	check := func(where string, x Limit) error {
		if x.RPM < 0 || x.TPM < 0 || x.ConcurrentStreams < 0 {
			return fmt.Errorf("%s: limits must not be negative", where)
		}
		return nil
	}
	errs := []error{check("quotas.default", q.Default)}
	for n, p := range q.Principals {
		errs = append(errs, check("quotas.principals."+n, p.Limit))
		for m, x := range p.Models {
			errs = append(errs, check("quotas.principals."+n+".models."+m, x))
		}
	}
	for m, x := range q.Models {
		errs = append(errs, check("quotas.models."+m, x))
	}
	if l.MaxMessages == 0 {
		l.MaxMessages = 1000
	}
	if l.MaxInputTokens == 0 {
		l.MaxInputTokens = 200_000
	}
	if l.MaxTokens == 0 {
		l.MaxTokens = 8192
	}
	if l.MaxMessages < 0 || l.MaxInputTokens < 0 || l.MaxTokens < 0 {
		errs = append(errs, errors.New("limits: values must be positive"))
	}
	return q, l, errors.Join(errs...)
}

// For returns the limits of model.
func (l LimitsConfig) For(model string) ModelLimits {
	out := l.ModelLimits
	if m, ok := l.Models[model]; ok {
		if m.MaxMessages > 0 {
			out.MaxMessages = m.MaxMessages
		}
		if m.MaxInputTokens > 0 {
			out.MaxInputTokens = m.MaxInputTokens
		}
		if m.MaxTokens > 0 {
			out.MaxTokens = m.MaxTokens
		}
	}
	return out
}

// CheckRequest applies model limits to r, returning a ValidationException
// for a request over a limit. A request without maxTokens is given the
// model's cap as MaxTokensCap, which bounds the deployment's default. It returns the estimated input tokens.
func CheckRequest(lim ModelLimits, r *llm.Request) (int, error) {
	if lim.MaxMessages > 0 && len(r.Messages) > lim.MaxMessages {
		return 0, llm.Errorf(llm.KindValidation, "The request has %d messages; the limit for this model is %d.", len(r.Messages), lim.MaxMessages)
	}
	est := EstimateInputTokens(r)
	if lim.MaxInputTokens > 0 && est > lim.MaxInputTokens {
		return est, llm.Errorf(llm.KindValidation, "The input is about %d tokens; the limit for this model is %d.", est, lim.MaxInputTokens)
	}
	if lim.MaxTokens > 0 {
		if mt := r.Inference.MaxTokens; mt != nil && *mt > lim.MaxTokens {
			return est, llm.Errorf(llm.KindValidation, "The maximum tokens you requested (%d) exceeds the limit of %d for this model.", *mt, lim.MaxTokens)
		} else if mt == nil {
			// Not MaxTokens itself: the deployment's own default (an
			// operator's default_max_tokens, the engine's 512) must still
			// apply when it is lower.
			r.Inference.MaxTokensCap = lim.MaxTokens
		}
	}
	return est, nil
}

// EstimateInputTokens estimates a request's input tokens as a quarter of
// its text bytes, plus a flat 1000 per image.
func EstimateInputTokens(r *llm.Request) int {
	n := 0
	blocks := func(bs []llm.Block) {
		for _, b := range bs {
			switch b.Kind {
			case llm.KindText:
				n += len(b.Text)
			case llm.KindImage:
				n += 4000
			case llm.KindDocument:
				if b.Document != nil {
					n += len(b.Document.Bytes)
				}
			case llm.KindToolUse:
				if b.ToolUse != nil {
					n += len(b.ToolUse.Input)
				}
			case llm.KindToolResult:
				if b.ToolResult != nil {
					for _, c := range b.ToolResult.Content {
						n += len(c.Text) + len(c.JSON)
					}
				}
			case llm.KindReasoning:
				if b.Reasoning != nil {
					n += len(b.Reasoning.Text)
				}
			case llm.KindGuardContent:
				if b.Guard != nil {
					n += len(b.Guard.Text)
				}
			}
		}
	}
	blocks(r.System)
	for _, m := range r.Messages {
		blocks(m.Content)
	}
	if r.Tools != nil {
		for _, t := range r.Tools.Tools {
			n += len(t.Name) + len(t.Description) + len(t.Schema)
		}
	}
	return (n + 3) / 4
}

// Quotas enforces limits and quotas; it is the pipeline Stage.
type Quotas struct {
	q       Config
	l       LimitsConfig
	backend Backend
	log     *slog.Logger
	now     func() time.Time
	seq     atomic.Uint64
	host    string
}

// Options configure Quotas.
type Options struct {
	Logger *slog.Logger
	// Backend keeps the counters; NewMemory() when nil.
	Backend Backend
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// ResolveModel returns the canonical ID of a model named in the
	// configuration (ID, alias, ARN), or false for a model not served. Nil
	// takes names as they are.
	ResolveModel func(name string) (id string, ok bool)
}

// New returns the quota stage.
func New(q Config, l LimitsConfig, o Options) *Quotas {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ResolveModel != nil {
		q.Models = canonicalKeys(q.Models, o.ResolveModel)
		l.Models = canonicalKeys(l.Models, o.ResolveModel)
		principals := make(map[string]PrincipalLimit, len(q.Principals))
		for name, pl := range q.Principals {
			pl.Models = canonicalKeys(pl.Models, o.ResolveModel)
			principals[name] = pl
		}
		q.Principals = principals
	}
	if o.Backend == nil {
		o.Backend = NewMemory()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Quotas{q: q, l: l, backend: o.Backend, log: o.Logger.With("component", "quota"), now: o.Now, host: strconv.FormatInt(time.Now().UnixNano(), 36)}
}

// Name implements gateway.Stage.
func (*Quotas) Name() string { return "quota" }

func (q *Quotas) principalLimit(name string) PrincipalLimit {
	if p, ok := q.q.Principals[name]; ok {
		return p
	}
	return PrincipalLimit{Limit: q.q.Default}
}

// plan lists the counters and concurrency slots a call of principal on
// model is subject to.
type plan struct {
	rpm, tpm   []Counter
	slotKeys   []string
	slotLimits []int
}

func (q *Quotas) plan(principal, model string, est int) plan {
	var p plan
	add := func(scope string, l Limit) {
		if l.RPM > 0 {
			p.rpm = append(p.rpm, Counter{Key: "rpm:" + scope, Limit: int64(l.RPM), Cost: 1, Window: time.Minute})
		}
		if l.TPM > 0 {
			p.tpm = append(p.tpm, Counter{Key: "tpm:" + scope, Limit: int64(l.TPM), Cost: int64(est), Window: time.Minute, Soft: true})
		}
		if l.ConcurrentStreams > 0 {
			p.slotKeys = append(p.slotKeys, "streams:"+scope)
			p.slotLimits = append(p.slotLimits, l.ConcurrentStreams)
		}
	}
	pl := q.principalLimit(principal)
	add("p:"+principal, pl.Limit)
	if ml, ok := pl.Models[model]; ok {
		add("pm:"+principal+":"+model, ml)
	}
	if ml, ok := q.q.Models[model]; ok {
		add("m:"+model, ml)
	}
	return p
}

func throttled(wait time.Duration, what string) error {
	if wait < time.Second {
		wait = time.Second
	}
	return &llm.Error{Kind: llm.KindThrottled, Message: "Too many requests, please wait before trying again (" + what + ").", RetryAfter: wait}
}

// note reports a limits or quota refusal for the request's record
// (gateway.RecordDecision).
func note(ctx context.Context, decision string) {
	gateway.RecordDecision(ctx, gateway.Decision{Outcome: decision})
}

// Wrap implements gateway.Stage.
func (q *Quotas) Wrap(next gateway.Handler) gateway.Handler {
	return func(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
		if c.Request == nil {
			return next(ctx, c)
		}
		model := c.Model
		if model == "" {
			model = c.Request.Model
		}
		est, err := CheckRequest(q.l.For(model), c.Request)
		if err != nil {
			note(ctx, "limited")
			return nil, err
		}
		principal := c.Principal
		if principal == "" {
			principal = "anonymous"
		}
		p := q.plan(principal, model, est)
		if len(p.rpm) == 0 && len(p.tpm) == 0 && len(p.slotKeys) == 0 {
			return next(ctx, c)
		}
		now := q.now()
		var release func()
		var id string
		if len(p.slotKeys) > 0 {
			id = q.host + "-" + strconv.FormatUint(q.seq.Add(1), 36)
		}
		counters := append(p.rpm, p.tpm...)
		slot, counter, err := q.backend.Admit(ctx, now, p.slotKeys, p.slotLimits, id, q.q.StreamLease.D(), counters)
		switch {
		case err != nil:
			if err := q.backendError(err); err != nil {
				return nil, err
			}
		case slot >= 0:
			note(ctx, "throttled")
			return nil, throttled(time.Second, "concurrent streams")
		case counter >= 0:
			cn := counters[counter]
			wait := time.Duration(windowStart(now, cn.Window)+cn.Window.Milliseconds()-now.UnixMilli()) * time.Millisecond
			what := "requests per minute"
			if cn.Soft {
				what = "tokens per minute"
			}
			note(ctx, "throttled")
			return nil, throttled(wait, what)
		default:
			if len(p.slotKeys) > 0 {
				release = q.releaser(p.slotKeys, id)
			}
		}
		s, err := next(ctx, c)
		if err != nil {
			if release != nil {
				release()
			}
			return nil, err
		}
		return &meteredStream{Stream: s, q: q, tpm: p.tpm, est: est, release: release}, nil
	}
}

func (q *Quotas) backendError(err error) error {
	if q.q.OnBackendError == "deny" {
		return &llm.Error{Kind: llm.KindUnavailable, Message: "Quota service unavailable; try again later.", Err: err}
	}
	q.log.Error("quota backend failed; admitting the request", "error", err)
	return nil
}

func (q *Quotas) releaser(keys []string, id string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx := context.Background()
			if _, local := q.backend.(*Memory); !local {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
			}
			if err := q.backend.Release(ctx, keys, id); err != nil {
				q.log.Warn("releasing a stream slot failed; it expires with its lease", "error", err)
			}
		})
	}
}

// meteredStream charges real token usage when the metadata event arrives
// and frees the concurrency slot when the stream ends.
type meteredStream struct {
	llm.Stream
	q       *Quotas
	tpm     []Counter
	est     int
	release func()
	charged bool
}

func (s *meteredStream) Next() (llm.Event, error) {
	ev, err := s.Stream.Next()
	if err == nil && ev.Type == llm.EventMetadata && ev.Usage != nil && !s.charged {
		s.charged = true
		extra := int64(ev.Usage.InputTokens + ev.Usage.OutputTokens - s.est)
		if extra != 0 {
			now := s.q.now()
			for _, c := range s.tpm {
				if err := s.q.backend.Add(context.Background(), now, c.Key, c.Window, extra); err != nil {
					s.q.log.Warn("charging token usage failed", "error", err)
				}
			}
		}
	}
	if err != nil && s.release != nil { // io.EOF or a failure: the stream is over
		s.release()
	}
	return ev, err
}

func (s *meteredStream) Close() error {
	if s.release != nil {
		s.release()
	}
	return s.Stream.Close()
}

var _ gateway.Stage = (*Quotas)(nil)

// canonicalKeys re-keys m by the canonical model IDs resolve gives. Keys
// of models not served are kept as they are (they match nothing until such
// a model exists); when two keys name one model, the canonical ID's own
// entry wins, then the first in key order.
func canonicalKeys[V any](m map[string]V, resolve func(string) (string, bool)) map[string]V {
	if len(m) == 0 {
		return m
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make(map[string]V, len(m))
	for _, k := range names {
		id, ok := resolve(k)
		if !ok {
			id = k
		}
		if _, taken := out[id]; taken && id != k {
			continue
		}
		out[id] = m[k]
	}
	return out
}
