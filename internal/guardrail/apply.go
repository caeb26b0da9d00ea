package guardrail

import (
	"context"
	"fmt"
	"html"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Content is one ApplyGuardrail content block: text or an image.
type Content struct {
	Text  *TextContent  `json:"text,omitempty"`
	Image *ImageContent `json:"image,omitempty"`
}

// Content qualifiers.
const (
	QualifierGroundingSource = "grounding_source"
	QualifierQuery           = "query"
	QualifierGuardContent    = "guard_content"
)

// TextContent is a text block with optional qualifiers.
type TextContent struct {
	Text       string   `json:"text"`
	Qualifiers []string `json:"qualifiers,omitempty"`
}

// ImageContent is an image block. Outcrop counts images in the coverage but
// does not evaluate them.
type ImageContent struct {
	Format string      `json:"format"`
	Source ImageSource `json:"source"`
}

// ImageSource holds image bytes (base64 in JSON).
type ImageSource struct {
	Bytes []byte `json:"bytes,omitempty"`
}

// ApplyRequest is the body of ApplyGuardrail.
type ApplyRequest struct {
	Source      Source    `json:"source"`
	Content     []Content `json:"content"`
	OutputScope string    `json:"outputScope,omitempty"` // INTERVENTIONS (default) or FULL
}

// Output is one output text.
type Output struct {
	Text string `json:"text"`
}

// Usage counts text units (up to 1,000 characters each) per policy.
type Usage struct {
	TopicPolicyUnits                    int `json:"topicPolicyUnits"`
	ContentPolicyUnits                  int `json:"contentPolicyUnits"`
	WordPolicyUnits                     int `json:"wordPolicyUnits"`
	SensitiveInformationPolicyUnits     int `json:"sensitiveInformationPolicyUnits"`
	SensitiveInformationPolicyFreeUnits int `json:"sensitiveInformationPolicyFreeUnits"`
	ContextualGroundingPolicyUnits      int `json:"contextualGroundingPolicyUnits"`
}

// CoverageCount is guarded and total amounts.
type CoverageCount struct {
	Guarded int `json:"guarded"`
	Total   int `json:"total"`
}

// Coverage says how much of the content was evaluated.
type Coverage struct {
	TextCharacters *CoverageCount `json:"textCharacters,omitempty"`
	Images         *CoverageCount `json:"images,omitempty"`
}

// TopicAssessment is one denied topic in an assessment.
type TopicAssessment struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Action   string `json:"action"`
	Detected bool   `json:"detected"`
}

// FilterAssessment is one content filter in an assessment.
type FilterAssessment struct {
	Type           string `json:"type"`
	Confidence     string `json:"confidence"`
	FilterStrength string `json:"filterStrength,omitempty"`
	Action         string `json:"action"`
	Detected       bool   `json:"detected"`
}

// WordAssessment is one custom word match.
type WordAssessment struct {
	Match    string `json:"match"`
	Action   string `json:"action"`
	Detected bool   `json:"detected"`
}

// ManagedWordAssessment is one managed-list match.
type ManagedWordAssessment struct {
	Match    string `json:"match"`
	Type     string `json:"type"`
	Action   string `json:"action"`
	Detected bool   `json:"detected"`
}

// PIIAssessment is one PII match.
type PIIAssessment struct {
	Match    string `json:"match"`
	Type     string `json:"type"`
	Action   string `json:"action"`
	Detected bool   `json:"detected"`
}

// RegexAssessment is one custom regex match.
type RegexAssessment struct {
	Name     string `json:"name"`
	Match    string `json:"match"`
	Regex    string `json:"regex"`
	Action   string `json:"action"`
	Detected bool   `json:"detected"`
}

// GroundingAssessment is one contextual-grounding filter result.
type GroundingAssessment struct {
	Type      string  `json:"type"`
	Threshold float64 `json:"threshold"`
	Score     float64 `json:"score"`
	Action    string  `json:"action"`
	Detected  bool    `json:"detected"`
}

// TopicPolicyAssessment is the topicPolicy member of an assessment.
type TopicPolicyAssessment struct {
	Topics []TopicAssessment `json:"topics"`
}

// ContentPolicyAssessment is the contentPolicy member.
type ContentPolicyAssessment struct {
	Filters []FilterAssessment `json:"filters"`
}

// WordPolicyAssessment is the wordPolicy member.
type WordPolicyAssessment struct {
	CustomWords      []WordAssessment        `json:"customWords"`
	ManagedWordLists []ManagedWordAssessment `json:"managedWordLists"`
}

// SensitiveInformationPolicyAssessment is the sensitiveInformationPolicy member.
type SensitiveInformationPolicyAssessment struct {
	PIIEntities []PIIAssessment   `json:"piiEntities"`
	Regexes     []RegexAssessment `json:"regexes"`
}

// ContextualGroundingPolicyAssessment is the contextualGroundingPolicy member.
type ContextualGroundingPolicyAssessment struct {
	Filters []GroundingAssessment `json:"filters"`
}

// InvocationMetrics are the per-assessment metrics.
type InvocationMetrics struct {
	GuardrailProcessingLatency int64     `json:"guardrailProcessingLatency"`
	Usage                      *Usage    `json:"usage,omitempty"`
	GuardrailCoverage          *Coverage `json:"guardrailCoverage,omitempty"`
}

// AppliedDetails identifies the guardrail that produced an assessment.
type AppliedDetails struct {
	GuardrailID        string   `json:"guardrailId,omitempty"`
	GuardrailVersion   string   `json:"guardrailVersion,omitempty"`
	GuardrailARN       string   `json:"guardrailArn,omitempty"`
	GuardrailOrigin    []string `json:"guardrailOrigin,omitempty"`
	GuardrailOwnership string   `json:"guardrailOwnership,omitempty"`
}

// Assessment is Bedrock's GuardrailAssessment.
type Assessment struct {
	TopicPolicy                *TopicPolicyAssessment                `json:"topicPolicy,omitempty"`
	ContentPolicy              *ContentPolicyAssessment              `json:"contentPolicy,omitempty"`
	WordPolicy                 *WordPolicyAssessment                 `json:"wordPolicy,omitempty"`
	SensitiveInformationPolicy *SensitiveInformationPolicyAssessment `json:"sensitiveInformationPolicy,omitempty"`
	ContextualGroundingPolicy  *ContextualGroundingPolicyAssessment  `json:"contextualGroundingPolicy,omitempty"`
	InvocationMetrics          *InvocationMetrics                    `json:"invocationMetrics,omitempty"`
	AppliedGuardrailDetails    *AppliedDetails                       `json:"appliedGuardrailDetails,omitempty"`
}

// Result is the ApplyGuardrail response.
type Result struct {
	Usage             Usage        `json:"usage"`
	Action            string       `json:"action"`
	ActionReason      string       `json:"actionReason,omitempty"`
	Outputs           []Output     `json:"outputs"`
	Assessments       []Assessment `json:"assessments"`
	GuardrailCoverage *Coverage    `json:"guardrailCoverage,omitempty"`

	// Blocked reports that some policy blocked (Outputs holds the blocked
	// message); otherwise an intervention only masked.
	Blocked bool `json:"-"`
	// Interventions lists what acted, without the matched text, for the
	// request log and metrics.
	Interventions []Intervention `json:"-"`
	// Guarded are the evaluated text blocks after masking and output
	// encoding, in the order they were given (for the gateway stage).
	Guarded []string `json:"-"`
}

// Intervention is one policy decision, safe to log: it never holds the
// matched text.
type Intervention struct {
	Policy string // topic, content, word, managedWord, pii, regex, grounding
	Type   string // topic name, category, PII type, regex name, list type; "custom" for words
	Action string // BLOCKED, ANONYMIZED or NONE (detect only)
}

// EntityDetector finds PII entities that need a model (NAME, ADDRESS). It
// must be safe for concurrent use.
type EntityDetector interface {
	DetectEntities(ctx context.Context, text string, types []string) ([]Span, error)
}

// Engine evaluates guardrails. Its zero value uses the built-in classifier
// and no entity detector.
type Engine struct {
	// Classifier scores content-filter categories; nil means the built-in
	// model.
	Classifier Classifier
	// Entities detects model-only PII types; nil leaves them undetected.
	Entities EntityDetector
	// Topics, if set, builds the denied-topic matcher for a guardrail's
	// topics (for example a judge model); nil uses LexicalTopics, built
	// once when the guardrail is compiled.
	Topics func(topics []Topic) TopicMatcher
	// Now is the clock used for latency; time.Now when nil.
	Now func() time.Time
	// MaxTextBytes bounds the text one Apply evaluates (all guarded
	// blocks together); more is a ValidationException. Detection is linear
	// in the text, but its constant can reach microseconds per byte on
	// adversarial input. Default DefaultMaxTextBytes.
	MaxTextBytes int
}

// DefaultMaxTextBytes is the default Engine.MaxTextBytes: 1 MiB, about
// 250,000 tokens of English.
const DefaultMaxTextBytes = 1 << 20

// Compiled is a guardrail version prepared for evaluation. It is
// immutable and safe for concurrent use.
type Compiled struct {
	G       *Guardrail
	p       Policies
	regexes []*userRegex
	words   *wordSet
	topics  TopicMatcher
}

// Compile prepares g for evaluation. g must have passed Validate.
func Compile(g *Guardrail) (*Compiled, error) {
	c := &Compiled{G: g, p: g.Definition().Policies()}
	for i, r := range c.p.Regexes {
		re, err := newUserRegex(r.Pattern)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("sensitiveInformationPolicyConfig.regexesConfig.%d.member.pattern", i+1), "%v", err)
		}
		c.regexes = append(c.regexes, re)
	}
	c.words = newWordSet()
	for i, w := range c.p.Words {
		c.words.add(w.Text, i)
	}
	if len(c.p.Topics) > 0 {
		c.topics = NewLexicalTopics(c.p.Topics)
	}
	return c, nil
}

// textUnits is the number of 1,000-character text units in s.
func textUnits(s string) int {
	return (utf8.RuneCountInString(s) + 999) / 1000
}

// evalState collects one Apply call's findings.
type evalState struct {
	src      Source
	full     bool
	topics   []TopicAssessment
	filters  []FilterAssessment
	words    []WordAssessment
	managed  []ManagedWordAssessment
	pii      []PIIAssessment
	regexes  []RegexAssessment
	ground   []GroundingAssessment
	blocked  bool
	masked   bool
	interv   []Intervention
	policies struct{ topic, content, word, pii, piiFree, ground bool }
}

func (st *evalState) note(policy, typ, action string) {
	st.interv = append(st.interv, Intervention{Policy: policy, Type: typ, Action: action})
	switch action {
	case AssessBlocked:
		st.blocked = true
	case AssessAnonymized:
		st.masked = true
	}
}

// assess converts a configured action into an assessment action.
func assess(action string, detected bool) string {
	if !detected {
		return AssessNone
	}
	switch action {
	case ActionBlock:
		return AssessBlocked
	case ActionAnonymize:
		return AssessAnonymized
	}
	return AssessNone
}

// Apply evaluates req against c, as ApplyGuardrail does: the request is
// validated and its content sorted by qualifier, each guarded text runs
// through every policy, grounding is checked on outputs, and the result is
// assembled with its assessment.
func (e *Engine) Apply(ctx context.Context, c *Compiled, req *ApplyRequest) (*Result, error) {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	began := now()
	if err := validateApply(req); err != nil {
		return nil, err
	}
	ct, err := sortContent(req.Content)
	if err != nil {
		return nil, err
	}
	limit := e.MaxTextBytes
	if limit <= 0 {
		limit = DefaultMaxTextBytes
	}
	total := 0
	for _, g := range ct.guarded {
		total += len(g)
	}
	if total > limit {
		return nil, fieldErr("content", "the guarded text is %d bytes, more than the limit of %d", total, limit)
	}
	st := &evalState{src: req.Source, full: req.OutputScope == "FULL"}
	outs, usage, err := e.evalGuarded(ctx, c, st, ct.guarded)
	if err != nil {
		return nil, err
	}
	if len(c.p.Grounding) > 0 && req.Source == SourceOutput && len(ct.guarded) > 0 {
		e.evalGrounding(c, st, strings.Join(ct.guarded, "\n"), strings.Join(ct.grounding, "\n"), strings.Join(ct.query, "\n"))
		for _, t := range ct.guarded {
			usage.ContextualGroundingPolicyUnits += textUnits(t)
		}
	}
	res := applyResult(c, req.Source, st, outs, usage, ct.coverage)
	a := st.assessment(c)
	u := usage
	a.InvocationMetrics = &InvocationMetrics{
		GuardrailProcessingLatency: now().Sub(began).Milliseconds(),
		Usage:                      &u,
		GuardrailCoverage:          ct.coverage,
	}
	a.AppliedGuardrailDetails = &AppliedDetails{
		GuardrailID: c.G.GuardrailID, GuardrailVersion: c.G.Version, GuardrailARN: c.G.GuardrailARN,
		GuardrailOrigin: []string{"REQUEST"}, GuardrailOwnership: "SELF",
	}
	res.Assessments = []Assessment{a}
	return res, nil
}

// validateApply checks the request's enumerations and that it has content.
func validateApply(req *ApplyRequest) error {
	if req.Source != SourceInput && req.Source != SourceOutput {
		return fieldErr("source", "Member must satisfy enum value set: [INPUT, OUTPUT]")
	}
	if req.OutputScope != "" && req.OutputScope != "INTERVENTIONS" && req.OutputScope != "FULL" {
		return fieldErr("outputScope", "Member must satisfy enum value set: [INTERVENTIONS, FULL]")
	}
	if len(req.Content) == 0 {
		return fieldErr("content", "Member must have length greater than or equal to 1")
	}
	return nil
}

// applyContent is a request's content sorted by qualifier.
type applyContent struct {
	guarded, grounding, query []string
	coverage                  *Coverage
}

// sortContent sorts the content blocks by qualifier (a text without one is
// guarded) and counts the coverage: characters in all, characters guarded,
// images.
func sortContent(blocks []Content) (applyContent, error) {
	ct := applyContent{coverage: &Coverage{TextCharacters: &CoverageCount{}}}
	images := 0
	for i, b := range blocks {
		switch {
		case b.Text != nil:
			n := utf8.RuneCountInString(b.Text.Text)
			ct.coverage.TextCharacters.Total += n
			isGround, isQuery, isGuard := false, false, len(b.Text.Qualifiers) == 0
			for _, q := range b.Text.Qualifiers {
				switch q {
				case QualifierGroundingSource:
					isGround = true
				case QualifierQuery:
					isQuery = true
				case QualifierGuardContent:
					isGuard = true
				default:
					return ct, fieldErr(fmt.Sprintf("content.%d.member.text.qualifiers", i+1), "Member must satisfy enum value set: [grounding_source, query, guard_content]")
				}
			}
			if isGround {
				ct.grounding = append(ct.grounding, b.Text.Text)
			}
			if isQuery {
				ct.query = append(ct.query, b.Text.Text)
			}
			if isGuard {
				ct.guarded = append(ct.guarded, b.Text.Text)
				ct.coverage.TextCharacters.Guarded += n
			}
		case b.Image != nil:
			images++
		default:
			return ct, fieldErr(fmt.Sprintf("content.%d.member", i+1), "Member must have exactly one of text or image")
		}
	}
	if images > 0 {
		ct.coverage.Images = &CoverageCount{Total: images}
	}
	return ct, nil
}

// evalGuarded runs every policy on each guarded text, returning the texts
// masked and the policy units used.
func (e *Engine) evalGuarded(ctx context.Context, c *Compiled, st *evalState, guarded []string) ([]string, Usage, error) {
	outs := make([]string, len(guarded))
	var usage Usage
	for i, text := range guarded {
		masked, err := e.evalText(ctx, c, st, text)
		if err != nil {
			return nil, usage, err
		}
		outs[i] = masked
		u := textUnits(text)
		if st.policies.topic {
			usage.TopicPolicyUnits += u
		}
		if st.policies.content {
			usage.ContentPolicyUnits += u
		}
		if st.policies.word {
			usage.WordPolicyUnits += u
		}
		if st.policies.pii {
			usage.SensitiveInformationPolicyUnits += u
		} else if st.policies.piiFree {
			usage.SensitiveInformationPolicyFreeUnits += u
		}
	}
	return outs, usage, nil
}

// applyResult assembles the result: the blocked message, or the masked
// (and, for outputs configured so, HTML-encoded) texts.
func applyResult(c *Compiled, src Source, st *evalState, outs []string, usage Usage, cov *Coverage) *Result {
	res := &Result{Usage: usage, Action: NoAction, Outputs: []Output{}, GuardrailCoverage: cov, Interventions: st.interv}
	switch {
	case st.blocked:
		res.Action, res.Blocked = Intervened, true
		res.ActionReason = "Guardrail blocked."
		msg := c.G.BlockedInputMessaging
		if src == SourceOutput {
			msg = c.G.BlockedOutputsMessaging
		}
		res.Outputs = []Output{{Text: msg}}
		res.Guarded = []string{msg}
		return res
	case st.masked:
		res.Action = Intervened
		res.ActionReason = "Guardrail masked."
	default:
		res.ActionReason = "No action."
	}
	encode := src == SourceOutput && c.p.OutputHandling != nil && c.p.OutputHandling.HTMLEncode
	for i := range outs {
		if encode {
			outs[i] = html.EscapeString(outs[i])
		}
	}
	res.Guarded = outs
	if st.masked || encode {
		for _, o := range outs {
			res.Outputs = append(res.Outputs, Output{Text: o})
		}
	}
	return res
}

// assessment builds the assessment from the collected findings, including
// a policy's member only when the policy is configured.
func (st *evalState) assessment(c *Compiled) Assessment {
	var a Assessment
	if c.p.HasTopic && (len(st.topics) > 0 || st.full) {
		a.TopicPolicy = &TopicPolicyAssessment{Topics: nonNil(st.topics)}
	}
	if c.p.HasContent && (len(st.filters) > 0 || st.full) {
		a.ContentPolicy = &ContentPolicyAssessment{Filters: nonNil(st.filters)}
	}
	if c.p.HasWord && (len(st.words)+len(st.managed) > 0 || st.full) {
		a.WordPolicy = &WordPolicyAssessment{CustomWords: nonNil(st.words), ManagedWordLists: nonNil(st.managed)}
	}
	if c.p.HasSensitive && (len(st.pii)+len(st.regexes) > 0 || st.full) {
		a.SensitiveInformationPolicy = &SensitiveInformationPolicyAssessment{PIIEntities: nonNil(st.pii), Regexes: nonNil(st.regexes)}
	}
	if c.p.HasGrounding && len(st.ground) > 0 {
		a.ContextualGroundingPolicy = &ContextualGroundingPolicyAssessment{Filters: st.ground}
	}
	return a
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// evalText runs every policy on one guarded text and returns it masked.
func (e *Engine) evalText(ctx context.Context, c *Compiled, st *evalState, text string) (string, error) {
	if err := e.evalTopics(ctx, c, st, text); err != nil {
		return "", err
	}
	if err := e.evalContent(ctx, c, st, text); err != nil {
		return "", err
	}
	e.evalWords(c, st, text)
	return e.evalSensitive(ctx, c, st, text)
}

// evalTopics runs the denied-topic policy on text.
func (e *Engine) evalTopics(ctx context.Context, c *Compiled, st *evalState, text string) error {
	src, p := st.src, &c.p
	if len(p.Topics) > 0 {
		var on []int
		for i, t := range p.Topics {
			if sideEnabled(src, t.InputEnabled, t.OutputEnabled) {
				on = append(on, i)
			}
		}
		if len(on) > 0 {
			st.policies.topic = true
			tm := c.topics
			if e.Topics != nil {
				tm = e.Topics(p.Topics)
			}
			scores, err := tm.MatchTopics(ctx, text)
			if err != nil {
				return err
			}
			for _, i := range on {
				t := p.Topics[i]
				det := scores[i] >= TopicThreshold
				if !det && !st.full {
					continue
				}
				act := assess(sideAction(src, t.InputAction, t.OutputAction, ""), det)
				st.topics = append(st.topics, TopicAssessment{Name: t.Name, Type: "DENY", Action: act, Detected: det})
				if det {
					st.note("topic", t.Name, act)
				}
			}
		}
	}

	return nil
}

// evalContent runs the content filters and prompt-attack detection on
// text (prompt attacks are judged on inputs only).
func (e *Engine) evalContent(ctx context.Context, c *Compiled, st *evalState, text string) error {
	src, p := st.src, &c.p
	if len(p.ContentFilters) > 0 {
		var on []ContentFilter
		for _, f := range p.ContentFilters {
			if f.Type == "PROMPT_ATTACK" && src == SourceOutput {
				continue
			}
			if sideEnabled(src, f.InputEnabled, f.OutputEnabled) {
				on = append(on, f)
			}
		}
		if len(on) > 0 {
			st.policies.content = true
			cl := e.Classifier
			if cl == nil {
				m, err := BuiltinModel()
				if err != nil {
					return err
				}
				cl = m
			}
			_, conf, err := cl.Classify(ctx, text)
			if err != nil {
				return err
			}
			for _, f := range on {
				h := categoryIndex(f.Type)
				strength := f.InputStrength
				if src == SourceOutput {
					strength = f.OutputStrength
				}
				det := blocks(strength, conf[h])
				if !det && !st.full {
					continue
				}
				act := assess(sideAction(src, f.InputAction, f.OutputAction, ""), det)
				st.filters = append(st.filters, FilterAssessment{Type: f.Type, Confidence: conf[h], FilterStrength: strength, Action: act, Detected: det})
				if det {
					st.note("content", f.Type, act)
				}
			}
		}
	}

	return nil
}

// evalWords runs the custom word list and the managed profanity list on
// text.
func (e *Engine) evalWords(c *Compiled, st *evalState, text string) {
	src, p := st.src, &c.p
	if p.HasWord {
		var toks []token
		var customOn bool
		for _, w := range p.Words {
			if sideEnabled(src, w.InputEnabled, w.OutputEnabled) {
				customOn = true
				break
			}
		}
		var managedOn *ManagedWordList
		for i, m := range p.ManagedWordLists {
			if m.Type == "PROFANITY" && sideEnabled(src, m.InputEnabled, m.OutputEnabled) {
				managedOn = &p.ManagedWordLists[i]
			}
		}
		if customOn || managedOn != nil {
			st.policies.word = true
			tp := tokenPool.Get().(*[]token)
			toks = tokenize(text, (*tp)[:0])
			defer func() { *tp = toks[:0]; tokenPool.Put(tp) }()
		}
		if customOn {
			for _, h := range c.words.match(text, toks, nil) {
				w := p.Words[h.entry.index]
				if !sideEnabled(src, w.InputEnabled, w.OutputEnabled) {
					continue
				}
				act := assess(sideAction(src, w.InputAction, w.OutputAction, ""), true)
				st.words = append(st.words, WordAssessment{Match: text[h.start:h.end], Action: act, Detected: true})
				st.note("word", "custom", act)
			}
		}
		if managedOn != nil {
			act := assess(sideAction(src, managedOn.InputAction, managedOn.OutputAction, ""), true)
			for _, h := range profanity().match(text, toks, nil) {
				st.managed = append(st.managed, ManagedWordAssessment{Match: text[h.start:h.end], Type: "PROFANITY", Action: act, Detected: true})
				st.note("managedWord", "PROFANITY", act)
			}
		}
	}

}

// evalSensitive runs the PII entities and regexes on text and returns it
// with the anonymized matches replaced by {TYPE} or {name}.
func (e *Engine) evalSensitive(ctx context.Context, c *Compiled, st *evalState, text string) (string, error) {
	src, p := st.src, &c.p
	if !p.HasSensitive {
		return text, nil
	}
	type repl struct {
		start, end int
		with       string
	}
	var repls []repl
	want := TypeSet{}
	var modelTypes []string
	actions := map[string]string{}
	for _, pe := range p.PIIEntities {
		if !sideEnabled(src, pe.InputEnabled, pe.OutputEnabled) {
			continue
		}
		actions[pe.Type] = sideAction(src, pe.InputAction, pe.OutputAction, pe.Action)
		if pe.Type == "NAME" || pe.Type == "ADDRESS" {
			modelTypes = append(modelTypes, pe.Type)
		} else {
			want[pe.Type] = true
		}
	}
	if len(actions) > 0 {
		st.policies.pii = true
	}
	var spans []Span
	var lower string
	if len(want) > 0 {
		lower = asciiLower(text)
		spans = detectPII(text, lower, want)
	}
	if len(modelTypes) > 0 && e.Entities != nil {
		ms, err := e.Entities.DetectEntities(ctx, text, modelTypes)
		if err != nil {
			return "", err
		}
		spans = resolve(append(spans, ms...))
	}
	for _, s := range spans {
		act := assess(actions[s.Type], true)
		st.pii = append(st.pii, PIIAssessment{Match: text[s.Start:s.End], Type: s.Type, Action: act, Detected: true})
		st.note("pii", s.Type, act)
		if act == AssessAnonymized {
			repls = append(repls, repl{s.Start, s.End, "{" + s.Type + "}"})
		}
	}
	for i, r := range p.Regexes {
		if !sideEnabled(src, r.InputEnabled, r.OutputEnabled) {
			continue
		}
		if len(actions) == 0 {
			st.policies.piiFree = true
		}
		act := assess(sideAction(src, r.InputAction, r.OutputAction, r.Action), true)
		if lower == "" {
			lower = asciiLower(text)
		}
		for _, m := range c.regexes[i].findAll(text, lower, 100) {
			if m[0] == m[1] {
				continue
			}
			st.regexes = append(st.regexes, RegexAssessment{Name: r.Name, Match: text[m[0]:m[1]], Regex: r.Pattern, Action: act, Detected: true})
			st.note("regex", r.Name, act)
			if act == AssessAnonymized {
				repls = append(repls, repl{m[0], m[1], "{" + r.Name + "}"})
			}
		}
	}
	if len(repls) == 0 {
		return text, nil
	}
	sort.Slice(repls, func(i, j int) bool { return repls[i].start < repls[j].start })
	var b strings.Builder
	b.Grow(len(text) + 16*len(repls))
	pos := 0
	for _, r := range repls {
		if r.start < pos {
			continue // overlaps a replacement already made
		}
		b.WriteString(text[pos:r.start])
		b.WriteString(r.with)
		pos = r.end
	}
	b.WriteString(text[pos:])
	return b.String(), nil
}

// evalGrounding scores the guarded text against the grounding source and
// the query by lexical overlap: grounding is the share of the answer's
// content words and bigrams found in the source, relevance the cosine
// similarity with the query. This is a heuristic stand-in for Bedrock's
// model-based check; docs/GUARDRAILS.md says so.
func (e *Engine) evalGrounding(c *Compiled, st *evalState, answer, source, query string) {
	ab := bag(answer)
	for _, f := range c.p.Grounding {
		if !enabled(f.Enabled) {
			continue
		}
		var score float64
		switch f.Type {
		case "GROUNDING":
			score = containment(ab, bag(source))
		case "RELEVANCE":
			score = cosine(ab, bag(query))
		}
		th := *f.Threshold
		det := score < th
		act := assess(sideAction(SourceInput, f.Action, f.Action, ""), det)
		st.ground = append(st.ground, GroundingAssessment{Type: f.Type, Threshold: th, Score: round2(score), Action: act, Detected: det})
		if det {
			st.note("grounding", f.Type, act)
		}
	}
}

func round2(x float64) float64 { return float64(int(x*100+0.5)) / 100 }

// containment is |a ∩ b| / |a|.
func containment(a, b bagOfWords) float64 {
	if len(a) == 0 {
		return 1
	}
	n := 0
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] == b[j]:
			n++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return float64(n) / float64(len(a))
}
