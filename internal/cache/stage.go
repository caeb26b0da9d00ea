package cache

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

// Control is a client's per-request instruction to the cache.
type Control string

// Per-request controls, given in the X-Outcrop-Cache header or in the
// request's metadata (Bedrock requestMetadata, OpenAI metadata) under
// MetadataKey. When both are given the stronger wins (bypass over refresh).
const (
	// ControlDefault uses the cache when the request is cacheable.
	ControlDefault Control = ""
	// ControlRefresh skips the lookup, calls the model and stores the new
	// answer in place of any cached one.
	ControlRefresh Control = "refresh"
	// ControlBypass neither reads nor writes the cache.
	ControlBypass Control = "bypass"
)

// HeaderName is the request header carrying a Control and the response
// header reporting the outcome: hit, semantic-hit, semantic-rejected (a
// reworded question the verification step refused), miss, bypass, refresh
// or uncacheable.
const HeaderName = "X-Outcrop-Cache"

// MetadataKey is the request metadata field carrying a Control.
const MetadataKey = "outcrop_cache"

// DeploymentName is what Served.Deployment says for an answer from the cache.
const DeploymentName = "cache"

// Scopes an operator may choose.
const (
	// ScopePrincipal (the default) shares entries only between requests of
	// the same principal.
	ScopePrincipal = "principal"
	// ScopeAccount shares entries between every principal of the account.
	ScopeAccount = "account"
)

// Options configure a Stage.
type Options struct {
	// Backend stores entries. Required.
	Backend Backend
	// Resolve maps a request's model identifier (ID, alias, ARN) to the
	// model's canonical ID and the version of its deployments. A model it
	// cannot resolve is not cached (the router reports the error).
	Resolve func(model string) (id, version string, ok bool)
	// Scope is ScopePrincipal (default) or ScopeAccount.
	Scope string
	// AccountID names the account for ScopeAccount.
	AccountID string
	// TTL is how long an entry is served. Default 10m.
	TTL time.Duration
	// ModelTTL overrides TTL per resolved model ID; a model mapped to a
	// negative duration is never cached.
	ModelTTL map[string]time.Duration
	// MaxEntryBytes bounds one stored answer; larger answers are passed
	// through and not stored. Default 1 MiB.
	MaxEntryBytes int
	// Logger receives backend errors; component=cache is added.
	Logger *slog.Logger
	// Metrics records lookups, fills and saved tokens; may be nil.
	Metrics *Metrics
	// Semantic, when set, also answers reworded questions to the models
	// it opts in (semantic.go).
	Semantic *SemanticOptions
}

// Stage is the gateway stage of the exact cache. It sits after the input
// guardrail and before the router, so the guardrail's output side also
// evaluates answers served from the cache.
type Stage struct {
	o   Options
	log *slog.Logger
}

var _ gateway.Stage = (*Stage)(nil)

// New returns the stage.
func New(o Options) *Stage {
	if o.TTL <= 0 {
		o.TTL = 10 * time.Minute
	}
	if o.MaxEntryBytes <= 0 {
		o.MaxEntryBytes = 1 << 20
	}
	if o.Scope == "" {
		o.Scope = ScopePrincipal
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Stage{o: o, log: log.With("component", "cache")}
}

// Name implements gateway.Stage.
func (s *Stage) Name() string { return "cache" }

// Deterministic reports whether req's answer is reproducible and so may be
// cached: temperature 0 or a fixed seed.
func Deterministic(req *llm.Request) bool {
	inf := req.Inference
	return (inf.Temperature != nil && *inf.Temperature == 0) || inf.Seed != nil
}

// scope returns the tenant scope of c.
func (s *Stage) scope(c *gateway.Call) string {
	if s.o.Scope == ScopeAccount {
		return "a:" + s.o.AccountID
	}
	return "p:" + c.Principal
}

// control reads the request's Control from the header (through ctx) and
// the metadata field.
func control(ctx context.Context, req *llm.Request) (Control, error) {
	var vals []string
	if st, ok := ctx.Value(ctxKey{}).(*reqState); ok && st.header != "" {
		vals = append(vals, st.header)
	}
	if v, ok := req.Metadata[MetadataKey]; ok {
		vals = append(vals, v)
	}
	out := ControlDefault
	for _, v := range vals {
		switch Control(strings.ToLower(strings.TrimSpace(v))) {
		case ControlBypass:
			out = ControlBypass
		case ControlRefresh:
			if out != ControlBypass {
				out = ControlRefresh
			}
		case "", "default":
		default:
			return "", llm.Errorf(llm.KindValidation, "%s must be one of bypass, refresh (got %q)", MetadataKey, v)
		}
	}
	return out, nil
}

// lookupState is the outcome of the lookup half of the stage.
type lookupState struct {
	key     string
	model   string
	scope   string
	ttl     time.Duration
	control Control
	result  string // hit, semantic-hit, semantic-rejected, miss, bypass, refresh, uncacheable
	hit     *entry
	// semantic namespace and question, to index on fill
	semNS  Namespace
	semQ   Question
	semSim float64
}

// lookup decides whether c may use the cache and, if so, reads its entry.
func (s *Stage) lookup(ctx context.Context, c *gateway.Call) (*lookupState, error) {
	ctl, err := control(ctx, c.Request)
	if err != nil {
		return nil, err
	}
	ls := &lookupState{control: ctl}
	if ctl == ControlBypass {
		ls.result = "bypass"
		return ls, nil
	}
	if !Deterministic(c.Request) {
		ls.result = "uncacheable"
		return ls, nil
	}
	id, ver, ok := "", "", false
	if s.o.Resolve != nil {
		id, ver, ok = s.o.Resolve(c.Request.Model)
	}
	if !ok {
		ls.result = "uncacheable"
		return ls, nil
	}
	ls.model = id
	ls.ttl = s.o.TTL
	if t, ok := s.o.ModelTTL[id]; ok {
		if t < 0 {
			ls.result = "uncacheable"
			return ls, nil
		}
		if t > 0 {
			ls.ttl = t
		}
	}
	ls.scope = s.scope(c)
	ls.key = Key(KeyInput{Scope: ls.scope, Model: id, Version: ver}, c.Request)
	if ctl == ControlRefresh {
		ls.result = "refresh"
		return ls, nil
	}
	ls.result = "miss"
	if e := s.read(ctx, ls, ls.key); e != nil {
		ls.result, ls.hit = "hit", e
		return ls, nil
	}
	s.semanticLookup(ctx, ls, KeyInput{Scope: ls.scope, Model: id, Version: ver}, c)
	return ls, nil
}

// read returns the usable entry stored under key, or nil.
func (s *Stage) read(ctx context.Context, ls *lookupState, key string) *entry {
	b, err := s.o.Backend.Get(ctx, key)
	switch {
	case errors.Is(err, ErrMiss):
		return nil
	case err != nil:
		s.log.Warn("cache lookup failed; calling the model", "error", err)
		s.o.Metrics.backendError("get")
		return nil
	}
	e, err := decodeEntry(b)
	if err != nil || e.Scope != ls.scope || e.Model != ls.model {
		s.log.Warn("unusable cache entry ignored", "error", err)
		s.o.Metrics.backendError("decode")
		return nil
	}
	return e
}

// semanticLookup looks for a stored answer to a reworded question when the
// model is opted in, after an exact miss.
func (s *Stage) semanticLookup(ctx context.Context, ls *lookupState, in KeyInput, c *gateway.Call) {
	so := s.o.Semantic
	if so == nil || so.Index == nil || so.Embedder == nil {
		return
	}
	threshold, ok := so.Thresholds[ls.model]
	if !ok {
		return
	}
	text := Normalize(lastUserText(c.Request))
	if text == "" || len(text) > maxQuestionBytes {
		return
	}
	res, err := so.Embedder.Embed(ctx, []string{text})
	if err != nil || len(res.Vectors) != 1 || len(res.Vectors[0]) == 0 {
		s.log.Warn("semantic cache: embedding failed", "error", err)
		s.o.Metrics.backendError("embed")
		return
	}
	tenant := "p:" + c.Principal
	if so.Scope == ScopeAccount && s.o.Scope == ScopeAccount {
		tenant = "a:" + s.o.AccountID
	}
	ls.semNS = semanticNamespace(tenant, in, c.Request)
	ls.semQ = Question{Key: ls.key, Text: text, Vector: res.Vectors[0]}
	m, err := so.Index.Search(ctx, ls.semNS, ls.semQ.Vector)
	if err != nil {
		s.log.Warn("semantic cache: search failed", "error", err)
		s.o.Metrics.backendError("search")
		return
	}
	if m.Key == "" || m.Similarity < threshold {
		return
	}
	if so.Verify != nil && !so.Verify(text, m.Text) {
		ls.result, ls.semSim = "semantic-rejected", m.Similarity
		return
	}
	if e := s.read(ctx, ls, m.Key); e != nil {
		ls.result, ls.hit, ls.semSim = "semantic-hit", e, m.Similarity
	}
}

// Wrap implements gateway.Stage.
func (s *Stage) Wrap(next gateway.Handler) gateway.Handler {
	return func(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
		ls, err := s.lookup(ctx, c)
		if err != nil {
			return nil, err
		}
		if st, ok := ctx.Value(ctxKey{}).(*reqState); ok {
			st.result = ls.result
		}
		s.o.Metrics.lookup(ls.model, ls.result)
		if ls.hit != nil {
			c.SetServed(llm.Served{Model: ls.hit.Model, Deployment: DeploymentName, Provider: DeploymentName, Profile: ls.hit.Profile})
			c.Annotate(slog.String("cache", ls.result))
			if ls.result == "semantic-hit" {
				c.Annotate(slog.Float64("cache_similarity", ls.semSim))
			}
			return s.replay(ls), nil
		}
		c.Annotate(slog.String("cache", ls.result))
		if ls.result == "semantic-rejected" {
			c.Annotate(slog.Float64("cache_similarity", ls.semSim))
		}
		st, err := next(ctx, c)
		if err != nil || ls.key == "" {
			return st, err
		}
		return &filling{s: s, ctx: ctx, c: c, ls: ls, inner: st}, nil
	}
}

// replay returns the stored events of a hit. Usage reports every input
// token as read from the cache and none written; output tokens are those of
// the stored answer.
func (s *Stage) replay(ls *lookupState) llm.Stream {
	evs := ls.hit.Events
	for i := range evs {
		if evs[i].Type == llm.EventMetadata && evs[i].Usage != nil {
			u := *evs[i].Usage
			u.CacheReadInputTokens, u.CacheWriteInputTokens = u.InputTokens, 0
			evs[i].Usage = &u
			s.o.Metrics.saved(ls.model, u)
		}
	}
	return &llm.SliceStream{Events: evs}
}

// cacheableStop lists the stop reasons of answers worth storing: a
// guardrail intervention or a content filter is never replayed.
func cacheableStop(r llm.StopReason) bool {
	switch r {
	case llm.StopEndTurn, llm.StopToolUse, llm.StopMaxTokens, llm.StopSequence:
		return true
	}
	return false
}

// filling passes the model's stream through and stores it once it has
// ended normally.
type filling struct {
	s     *Stage
	ctx   context.Context
	c     *gateway.Call
	ls    *lookupState
	inner llm.Stream

	events  []llm.Event
	size    int
	stop    llm.StopReason
	meta    bool
	dropped bool // too big or failed: not stored
	done    bool
}

// Next implements llm.Stream.
func (f *filling) Next() (llm.Event, error) {
	ev, err := f.inner.Next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			f.finish()
		} else {
			f.dropped = true
		}
		return ev, err
	}
	if !f.dropped {
		f.record(ev)
	}
	return ev, nil
}

// record keeps a copy of ev, owning every buffer it points to.
func (f *filling) record(ev llm.Event) {
	f.size += 64 + len(ev.Text) + len(ev.Redacted) + len(ev.Additional)
	if f.size > f.s.o.MaxEntryBytes {
		f.dropped, f.events = true, nil
		return
	}
	cp := ev
	if ev.Redacted != nil {
		cp.Redacted = append([]byte(nil), ev.Redacted...)
	}
	if ev.Additional != nil {
		cp.Additional = append([]byte(nil), ev.Additional...)
	}
	if ev.ToolUse != nil {
		tu := *ev.ToolUse
		cp.ToolUse = &tu
	}
	if ev.Usage != nil {
		u := *ev.Usage
		cp.Usage = &u
	}
	// Gateway figures are recomputed on replay.
	cp.Metrics, cp.Served, cp.Trace = nil, nil, nil
	switch ev.Type {
	case llm.EventMessageStop:
		f.stop = ev.StopReason
	case llm.EventMetadata:
		f.meta = true
	}
	f.events = append(f.events, cp)
}

// finish stores the answer if it is complete and cacheable. The store
// outlives the request's cancellation but is bounded in time.
func (f *filling) finish() {
	if f.done {
		return
	}
	f.done = true
	if f.dropped || !f.meta || !cacheableStop(f.stop) {
		f.s.o.Metrics.fill("skipped")
		return
	}
	e := &entry{Scope: f.ls.scope, Model: f.ls.model, Profile: f.c.Served().Profile, Events: f.events}
	b, err := encodeEntry(e)
	if err != nil {
		f.s.o.Metrics.fill("error")
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(f.ctx), 2*time.Second)
	defer cancel()
	if err := f.s.o.Backend.Set(ctx, f.ls.key, b, f.ls.ttl); err != nil {
		f.s.log.Warn("cache store failed", "error", err)
		f.s.o.Metrics.backendError("set")
		f.s.o.Metrics.fill("error")
		return
	}
	f.s.o.Metrics.fill("stored")
	if f.ls.semQ.Key != "" {
		if err := f.s.o.Semantic.Index.Add(ctx, f.ls.semNS, f.ls.semQ, f.ls.ttl); err != nil {
			f.s.log.Warn("semantic cache: index add failed", "error", err)
			f.s.o.Metrics.backendError("index")
		}
	}
}

// Close implements llm.Stream. A stream closed before its end is not stored.
func (f *filling) Close() error {
	f.done = true
	return f.inner.Close()
}

// ctxKey keys the per-request state the middleware puts in the context.
type ctxKey struct{}

// reqState carries the request header in and the lookup result out.
type reqState struct {
	header string
	result string
}

// Middleware reads the X-Outcrop-Cache request header for the stage and
// writes the stage's outcome (hit, miss, bypass, refresh, uncacheable) in
// the X-Outcrop-Cache response header.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &reqState{header: r.Header.Get(HeaderName)}
		ctx := context.WithValue(r.Context(), ctxKey{}, st)
		next.ServeHTTP(&resultWriter{ResponseWriter: w, st: st}, r.WithContext(ctx))
	})
}

// resultWriter adds the outcome header when the response starts.
type resultWriter struct {
	http.ResponseWriter
	st      *reqState
	started bool
}

func (w *resultWriter) WriteHeader(code int) {
	if !w.started {
		w.started = true
		if w.st.result != "" {
			w.Header().Set(HeaderName, w.st.result)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *resultWriter) Write(b []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher.
func (w *resultWriter) Flush() {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *resultWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Metrics are the cache's Prometheus collectors.
type Metrics struct {
	lookups *prometheus.CounterVec
	fills   *prometheus.CounterVec
	tokens  *prometheus.CounterVec
	errs    *prometheus.CounterVec
}

// NewMetrics registers the collectors with reg (which may be nil):
// outcrop_cache_lookups_total{model,result},
// outcrop_cache_fills_total{result},
// outcrop_cache_saved_tokens_total{model,type} and
// outcrop_cache_backend_errors_total{op}.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outcrop_cache_lookups_total",
			Help: "Response-cache decisions by model and result (hit, semantic-hit, semantic-rejected, miss, bypass, refresh, uncacheable).",
		}, []string{"model", "result"}),
		fills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outcrop_cache_fills_total",
			Help: "Answers offered to the response cache by result (stored, skipped, error).",
		}, []string{"result"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outcrop_cache_saved_tokens_total",
			Help: "Tokens served from the response cache instead of the model, by model and type (input, output).",
		}, []string{"model", "type"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outcrop_cache_backend_errors_total",
			Help: "Response-cache backend failures by operation (get, set, decode, embed, search, index); the request goes on without the cache.",
		}, []string{"op"}),
	}
	if reg != nil {
		reg.MustRegister(m.lookups, m.fills, m.tokens, m.errs)
	}
	return m
}

func (m *Metrics) lookup(model, result string) {
	if m != nil {
		m.lookups.WithLabelValues(model, result).Inc()
	}
}

func (m *Metrics) fill(result string) {
	if m != nil {
		m.fills.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) saved(model string, u llm.Usage) {
	if m != nil {
		m.tokens.WithLabelValues(model, "input").Add(float64(u.InputTokens))
		m.tokens.WithLabelValues(model, "output").Add(float64(u.OutputTokens))
	}
}

func (m *Metrics) backendError(op string) {
	if m != nil {
		m.errs.WithLabelValues(op).Inc()
	}
}
