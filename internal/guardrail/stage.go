package guardrail

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

// Resolver finds the compiled guardrail version a request names.
// *Registry implements it.
type Resolver interface {
	Compiled(ctx context.Context, ident, version string) (*Compiled, error)
}

var _ Resolver = (*Registry)(nil)

// Recorder counts interventions for metrics. It never sees matched text.
type Recorder interface {
	Intervention(src Source, iv Intervention)
}

// Metrics is a Prometheus Recorder:
// outcrop_guardrail_interventions_total{source,policy,type,action}. The type
// label is a Bedrock category or PII type, a configured topic or regex name,
// "custom" for custom words or PROFANITY, so its cardinality is bounded by
// configuration.
type Metrics struct {
	c *prometheus.CounterVec
}

// NewMetrics registers the intervention counter with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{c: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outcrop_guardrail_interventions_total",
		Help: "Guardrail policy decisions (detections, blocks, masks) by source, policy, type and action.",
	}, []string{"source", "policy", "type", "action"})}
	if reg != nil {
		reg.MustRegister(m.c)
	}
	return m
}

// Intervention implements Recorder.
func (m *Metrics) Intervention(src Source, iv Intervention) {
	m.c.WithLabelValues(string(src), iv.Policy, iv.Type, iv.Action).Inc()
}

// Stage is the gateway stage that applies a request's guardrailConfig on
// Converse and ConverseStream: it evaluates the input (guardContent blocks
// if the request has any, otherwise the text of every message) before the
// model is called, answers with the blocked-input message without calling
// the model when a policy blocks, sends masked input on when a policy
// anonymizes, and evaluates the model's text output in the configured
// stream processing mode.
//
// Streaming output, sync mode (the default, and always for non-streaming
// calls): text is held back and released after evaluation, in windows of
// about SyncWindow bytes cut at a sentence or word boundary (whole blocks
// for non-streaming calls), so masking applies and a blocked window is
// never shown. Async mode: text is released as it arrives and evaluated in
// windows afterwards; when a window is blocked the stream ends with the
// blocked-output message, and masking is not applied (as in Bedrock).
type Stage struct {
	Resolver Resolver
	Engine   *Engine
	Recorder Recorder // may be nil
	// Refuse answers every request that asks for a guardrail with a
	// ValidationException (guardrails switched off by configuration), so
	// that a guardrail is never silently skipped.
	Refuse bool
	// SyncWindow is the sync-mode release window in bytes; default 800.
	SyncWindow int
	// Upstream reports whether a model leaves guardrails to its upstream
	// (every deployment is Amazon Bedrock configured with guardrails:
	// true). Its calls pass through untouched, guardrailConfig and all,
	// and Bedrock applies the guardrail, which Outcrop may not know. A
	// model with any other deployment is guarded here, so a fallback never
	// answers unguarded. May be nil.
	Upstream func(model string) bool
}

var _ gateway.Stage = (*Stage)(nil)

// Name implements gateway.Stage.
func (s *Stage) Name() string { return "guardrail" }

// Wrap implements gateway.Stage.
func (s *Stage) Wrap(next gateway.Handler) gateway.Handler {
	return func(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
		gc := c.Request.Guardrail
		if gc == nil || (s.Upstream != nil && s.Upstream(c.Model)) {
			return next(ctx, c)
		}
		if s.Refuse {
			return nil, llm.Errorf(llm.KindValidation, "Guardrails are disabled on this server; remove guardrailConfig from the request.")
		}
		comp, err := s.Resolver.Compiled(ctx, gc.ID, gc.Version)
		if err != nil {
			var le *llm.Error
			if errors.As(err, &le) && (le.Kind == llm.KindNotFound || le.Kind == llm.KindValidation) {
				return nil, &llm.Error{Kind: llm.KindValidation, Message: "The guardrail identifier or version provided in the request does not exist.", Err: err}
			}
			return nil, err
		}
		e := s.Engine
		if e == nil {
			e = &Engine{}
		}
		run := &guardRun{s: s, e: e, c: c, comp: comp, cfg: gc}
		refs, content, grounding := inputContent(c.Request)
		run.grounding = grounding
		if len(content) > 0 {
			res, err := e.Apply(ctx, comp, &ApplyRequest{Source: SourceInput, Content: content})
			if err != nil {
				return nil, err
			}
			run.record(SourceInput, res)
			run.input = &res.Assessments[0]
			if res.Blocked {
				run.reason = res.ActionReason
				run.finish()
				return blockedStream(comp.G.BlockedInputMessaging), nil
			}
			if res.Action == Intervened {
				c.Request = maskInput(c.Request, refs, content, res.Guarded)
			}
		}
		inner, err := next(ctx, c)
		if err != nil {
			run.finish()
			return nil, err
		}
		if !outputEnabled(comp) {
			run.finish()
			return inner, nil
		}
		return newOutputStream(ctx, run, inner), nil
	}
}

// guardRun is one call's guardrail state, for the trace and the log.
type guardRun struct {
	s         *Stage
	e         *Engine
	c         *gateway.Call
	comp      *Compiled
	cfg       *llm.GuardrailConfig
	grounding []Content
	input     *Assessment
	outputs   []Assessment
	modelOut  []string
	reason    string
	interv    []string
	finished  bool
}

func (g *guardRun) record(src Source, res *Result) {
	for _, iv := range res.Interventions {
		if g.s.Recorder != nil {
			g.s.Recorder.Intervention(src, iv)
		}
		g.interv = append(g.interv, strings.ToLower(string(src))+":"+iv.Policy+":"+iv.Type+":"+iv.Action)
	}
	if res.Action == Intervened && g.reason == "" {
		g.reason = res.ActionReason
	}
}

// finish annotates the request log and sets the trace the client asked
// for. Only the first call has an effect.
func (g *guardRun) finish() {
	if g.finished {
		return
	}
	g.finished = true
	action := NoAction
	if len(g.interv) > 0 {
		action = "DETECTED"
	}
	if g.reason != "" {
		action = Intervened
	}
	g.c.Annotate(
		slog.String("guardrail", g.comp.G.GuardrailID+":"+g.comp.G.Version),
		slog.String("guardrail_action", action),
		slog.String("guardrail_interventions", strings.Join(g.interv, ",")),
	)
	if g.cfg.Trace != "enabled" && g.cfg.Trace != "enabled_full" {
		return
	}
	type trace struct {
		ModelOutput       []string                `json:"modelOutput,omitempty"`
		InputAssessment   map[string]Assessment   `json:"inputAssessment,omitempty"`
		OutputAssessments map[string][]Assessment `json:"outputAssessments,omitempty"`
		ActionReason      string                  `json:"actionReason,omitempty"`
	}
	t := trace{ActionReason: g.reason}
	id := g.comp.G.GuardrailID
	if g.input != nil {
		t.InputAssessment = map[string]Assessment{id: *g.input}
	}
	if len(g.outputs) > 0 {
		t.OutputAssessments = map[string][]Assessment{id: g.outputs}
	}
	if g.cfg.Trace == "enabled_full" {
		t.ModelOutput = g.modelOut
	}
	if b, err := json.Marshal(t); err == nil {
		g.c.SetTrace("guardrail", b)
	}
}

// blockRef locates one evaluated text in a request.
type blockRef struct {
	system   bool
	msg, blk int
}

// inputContent selects what the input evaluation sees: the guardContent
// blocks of the system prompt and messages if there are any, otherwise the
// text blocks of every message. Grounding sources and queries are returned
// separately for the output check.
func inputContent(r *llm.Request) ([]blockRef, []Content, []Content) {
	var refs []blockRef
	var content, grounding []Content
	hasGuard := false
	for _, b := range r.System {
		hasGuard = hasGuard || (b.Kind == llm.KindGuardContent && b.Guard != nil && b.Guard.Text != "")
	}
	for _, m := range r.Messages {
		for _, b := range m.Content {
			hasGuard = hasGuard || (b.Kind == llm.KindGuardContent && b.Guard != nil && b.Guard.Text != "")
		}
	}
	add := func(ref blockRef, b llm.Block) {
		if hasGuard {
			if b.Kind != llm.KindGuardContent || b.Guard == nil || b.Guard.Text == "" {
				return
			}
			tc := &TextContent{Text: b.Guard.Text, Qualifiers: b.Guard.Qualifiers}
			for _, q := range b.Guard.Qualifiers {
				if q == QualifierGroundingSource || q == QualifierQuery {
					grounding = append(grounding, Content{Text: &TextContent{Text: b.Guard.Text, Qualifiers: []string{q}}})
				}
			}
			refs = append(refs, ref)
			content = append(content, Content{Text: tc})
			return
		}
		if b.Kind == llm.KindText && b.Text != "" && !ref.system {
			refs = append(refs, ref)
			content = append(content, Content{Text: &TextContent{Text: b.Text}})
		}
	}
	for i, b := range r.System {
		add(blockRef{system: true, blk: i}, b)
	}
	for i, m := range r.Messages {
		for j, b := range m.Content {
			add(blockRef{msg: i, blk: j}, b)
		}
	}
	return refs, content, grounding
}

// isGuarded mirrors Apply's rule for which text blocks are evaluated.
func isGuarded(tc *TextContent) bool {
	if len(tc.Qualifiers) == 0 {
		return true
	}
	for _, q := range tc.Qualifiers {
		if q == QualifierGuardContent {
			return true
		}
	}
	return false
}

// maskInput returns a copy of r with the evaluated texts replaced by their
// masked forms.
func maskInput(r *llm.Request, refs []blockRef, content []Content, masked []string) *llm.Request {
	out := r.Clone()
	k := 0
	for i, ref := range refs {
		if !isGuarded(content[i].Text) {
			continue
		}
		if k >= len(masked) {
			break
		}
		text := masked[k]
		k++
		var b *llm.Block
		if ref.system {
			b = &out.System[ref.blk]
		} else {
			b = &out.Messages[ref.msg].Content[ref.blk]
		}
		if b.Kind == llm.KindGuardContent {
			g := *b.Guard
			g.Text = text
			b.Guard = &g
		} else {
			b.Text = text
		}
	}
	return out
}

// outputEnabled reports whether any policy of c evaluates outputs.
func outputEnabled(c *Compiled) bool {
	p := &c.p
	for _, t := range p.Topics {
		if enabled(t.OutputEnabled) {
			return true
		}
	}
	for _, f := range p.ContentFilters {
		if f.Type != "PROMPT_ATTACK" && enabled(f.OutputEnabled) && f.OutputStrength != "NONE" {
			return true
		}
	}
	for _, w := range p.Words {
		if enabled(w.OutputEnabled) {
			return true
		}
	}
	for _, m := range p.ManagedWordLists {
		if enabled(m.OutputEnabled) {
			return true
		}
	}
	for _, e := range p.PIIEntities {
		if enabled(e.OutputEnabled) {
			return true
		}
	}
	for _, r := range p.Regexes {
		if enabled(r.OutputEnabled) {
			return true
		}
	}
	return len(p.Grounding) > 0 || (p.OutputHandling != nil && p.OutputHandling.HTMLEncode)
}

// blockedStream answers with msg as the assistant's text.
func blockedStream(msg string) llm.Stream {
	return &llm.SliceStream{Events: []llm.Event{
		{Type: llm.EventMessageStart},
		{Type: llm.EventBlockDelta, Index: 0, Delta: llm.DeltaText, Text: msg},
		{Type: llm.EventBlockStop, Index: 0},
		{Type: llm.EventMessageStop, StopReason: llm.StopGuardrailIntervened},
		{Type: llm.EventMetadata, Usage: &llm.Usage{}},
	}}
}

// outputStream evaluates the model's text output; see Stage.
type outputStream struct {
	ctx    context.Context
	g      *guardRun
	inner  llm.Stream
	async  bool
	window int // release window in bytes; 0 = whole blocks

	q        []llm.Event
	pending  map[int]*strings.Builder // sync: text not yet released, by block
	acc      map[int]*strings.Builder // async: text released but not yet evaluated
	blocked  bool
	draining bool // blocked: read the inner stream only for its metadata
	done     bool
	err      error
}

func newOutputStream(ctx context.Context, g *guardRun, inner llm.Stream) *outputStream {
	o := &outputStream{ctx: ctx, g: g, inner: inner, pending: map[int]*strings.Builder{}, acc: map[int]*strings.Builder{}}
	o.async = g.cfg.StreamMode == "async" && g.c.Stream
	if g.c.Stream {
		o.window = g.s.SyncWindow
		if o.window <= 0 {
			o.window = 800
		}
	}
	return o
}

// Next implements llm.Stream.
func (o *outputStream) Next() (llm.Event, error) {
	for len(o.q) == 0 {
		if o.err != nil {
			return llm.Event{}, o.err
		}
		if o.done {
			return llm.Event{}, io.EOF
		}
		ev, err := o.inner.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				o.done = true
				o.g.finish()
				continue
			}
			o.err = err
			o.g.finish()
			continue
		}
		o.process(ev)
	}
	ev := o.q[0]
	o.q = o.q[1:]
	return ev, nil
}

// Close implements llm.Stream.
func (o *outputStream) Close() error { return o.inner.Close() }

func (o *outputStream) push(ev llm.Event) { o.q = append(o.q, ev) }

func (o *outputStream) process(ev llm.Event) {
	if o.draining {
		if ev.Type == llm.EventMetadata {
			o.g.finish()
			o.push(ev)
			o.done = true
		}
		return
	}
	switch {
	case ev.Type == llm.EventBlockDelta && ev.Delta == llm.DeltaText:
		if o.async {
			o.push(ev)
			b := builder(o.acc, ev.Index)
			b.WriteString(ev.Text)
			if b.Len() >= 800 {
				o.evalAsync(ev.Index)
			}
			return
		}
		b := builder(o.pending, ev.Index)
		b.WriteString(ev.Text)
		if o.window > 0 && b.Len() >= o.window {
			o.release(ev.Index, false)
		}
	case ev.Type == llm.EventBlockStop:
		if o.async {
			o.evalAsync(ev.Index)
		} else {
			o.release(ev.Index, true)
		}
		if !o.blocked {
			o.push(ev)
		}
	case ev.Type == llm.EventMessageStop:
		o.flushAll()
		if !o.blocked {
			o.push(ev)
		}
	case ev.Type == llm.EventMetadata:
		o.flushAll()
		if !o.blocked || o.draining {
			o.g.finish()
			o.push(ev)
			o.done = o.draining
		}
	default:
		o.flushAll()
		if !o.blocked {
			o.push(ev)
		}
	}
}

func builder(m map[int]*strings.Builder, i int) *strings.Builder {
	b := m[i]
	if b == nil {
		b = &strings.Builder{}
		m[i] = b
	}
	return b
}

func (o *outputStream) flushAll() {
	if o.async {
		for i := range o.acc {
			o.evalAsync(i)
		}
		return
	}
	for i := range o.pending {
		o.release(i, true)
	}
}

// evaluate applies the guardrail to one output text.
func (o *outputStream) evaluate(text string) (*Result, bool) {
	content := append(append([]Content(nil), o.g.grounding...), Content{Text: &TextContent{Text: text, Qualifiers: []string{QualifierGuardContent}}})
	res, err := o.g.e.Apply(o.ctx, o.g.comp, &ApplyRequest{Source: SourceOutput, Content: content})
	if err != nil {
		o.err = err
		return nil, false
	}
	o.g.record(SourceOutput, res)
	o.g.outputs = append(o.g.outputs, res.Assessments[0])
	o.g.modelOut = append(o.g.modelOut, text)
	return res, true
}

// release evaluates held-back text of block i and queues what may be
// shown: everything when final, else up to the last sentence or word
// boundary.
func (o *outputStream) release(i int, final bool) {
	if o.blocked {
		return
	}
	b := o.pending[i]
	if b == nil || b.Len() == 0 {
		return
	}
	s := b.String()
	cut := len(s)
	if !final {
		cut = boundary(s)
		if cut == 0 {
			return
		}
	}
	text := s[:cut]
	res, ok := o.evaluate(text)
	if !ok {
		return
	}
	b.Reset()
	b.WriteString(s[cut:])
	if res.Blocked {
		o.intervene(i)
		return
	}
	out := text
	if len(res.Guarded) == 1 {
		out = res.Guarded[0]
	}
	o.push(llm.Event{Type: llm.EventBlockDelta, Index: i, Delta: llm.DeltaText, Text: out})
}

// boundary returns where to cut s for release: after the last newline or
// sentence end in its final 200 bytes, else after the last space, else 0.
func boundary(s string) int {
	lo := max(0, len(s)-200)
	for k := len(s) - 1; k >= lo; k-- {
		if s[k] == '\n' || ((s[k] == '.' || s[k] == '!' || s[k] == '?') && k+1 < len(s) && s[k+1] == ' ') {
			return k + 1
		}
	}
	if k := strings.LastIndexByte(s, ' '); k > 0 {
		return k + 1
	}
	return 0
}

// evalAsync evaluates text of block i already released.
func (o *outputStream) evalAsync(i int) {
	if o.blocked {
		return
	}
	b := o.acc[i]
	if b == nil || b.Len() == 0 {
		return
	}
	text := b.String()
	b.Reset()
	res, ok := o.evaluate(text)
	if ok && res.Blocked {
		o.intervene(i)
	}
}

// intervene replaces the rest of the answer with the blocked-output
// message and ends the message with stopReason guardrail_intervened.
func (o *outputStream) intervene(i int) {
	o.blocked = true
	msg := o.g.comp.G.BlockedOutputsMessaging
	o.push(llm.Event{Type: llm.EventBlockDelta, Index: i, Delta: llm.DeltaText, Text: msg})
	o.push(llm.Event{Type: llm.EventBlockStop, Index: i})
	o.push(llm.Event{Type: llm.EventMessageStop, StopReason: llm.StopGuardrailIntervened})
	if o.g.c.Stream {
		// Stop generating: the client has its answer.
		o.inner.Close()
		o.g.finish()
		o.push(llm.Event{Type: llm.EventMetadata, Usage: &llm.Usage{}})
		o.done = true
		return
	}
	o.draining = true
}
