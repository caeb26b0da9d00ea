// Package guardrail implements Outcrop's Bedrock-compatible guardrails: the
// guardrail resource (a DRAFT plus immutable numbered versions) in the JSON
// shapes of Bedrock's CreateGuardrail and GetGuardrail, its validation, and
// the evaluator behind ApplyGuardrail and inline guardrailConfig on Converse.
//
// A guardrail is compiled once (regexes, word sets, topic vectors) and then
// applied to text with Apply, which returns Bedrock's ApplyGuardrail response
// shape: action, outputs, assessments, usage and coverage.
//
// Detectors are built in (PII patterns with checksums and context words, word
// lists, a hashed n-gram logistic-regression classifier for content filters
// and prompt attacks, a lexical denied-topic matcher) and pluggable (the
// EntityDetector and Classifier interfaces, for NAME/ADDRESS recognition or an
// external moderation model). Their measured quality is in docs/GUARDRAILS.md.
package guardrail

import (
	"time"
)

// Source is which side of a model call content comes from.
type Source string

// Sources, as ApplyGuardrail names them.
const (
	SourceInput  Source = "INPUT"
	SourceOutput Source = "OUTPUT"
)

// Policy actions as configured (CreateGuardrail vocabulary).
const (
	ActionBlock     = "BLOCK"
	ActionAnonymize = "ANONYMIZE"
	ActionNone      = "NONE"
)

// Assessment actions (runtime vocabulary).
const (
	AssessBlocked    = "BLOCKED"
	AssessAnonymized = "ANONYMIZED"
	AssessNone       = "NONE"
)

// Top-level ApplyGuardrail actions.
const (
	Intervened = "GUARDRAIL_INTERVENED"
	NoAction   = "NONE"
)

// Draft is the name of the editable working version.
const Draft = "DRAFT"

// Topic is one denied topic.
type Topic struct {
	Name          string   `json:"name"`
	Definition    string   `json:"definition"`
	Examples      []string `json:"examples,omitempty"`
	Type          string   `json:"type"`
	InputAction   string   `json:"inputAction,omitempty"`
	OutputAction  string   `json:"outputAction,omitempty"`
	InputEnabled  *bool    `json:"inputEnabled,omitempty"`
	OutputEnabled *bool    `json:"outputEnabled,omitempty"`
}

// Tier is a policy tier (CLASSIC or STANDARD). Outcrop accepts both and
// evaluates them the same way.
type Tier struct {
	TierName string `json:"tierName"`
}

// ContentFilter is one content-filter category with its strengths.
type ContentFilter struct {
	Type             string   `json:"type"`
	InputStrength    string   `json:"inputStrength"`
	OutputStrength   string   `json:"outputStrength"`
	InputModalities  []string `json:"inputModalities,omitempty"`
	OutputModalities []string `json:"outputModalities,omitempty"`
	InputAction      string   `json:"inputAction,omitempty"`
	OutputAction     string   `json:"outputAction,omitempty"`
	InputEnabled     *bool    `json:"inputEnabled,omitempty"`
	OutputEnabled    *bool    `json:"outputEnabled,omitempty"`
}

// Word is one custom word or phrase (at most three words).
type Word struct {
	Text          string `json:"text"`
	InputAction   string `json:"inputAction,omitempty"`
	OutputAction  string `json:"outputAction,omitempty"`
	InputEnabled  *bool  `json:"inputEnabled,omitempty"`
	OutputEnabled *bool  `json:"outputEnabled,omitempty"`
}

// ManagedWordList selects a managed list; only PROFANITY exists.
type ManagedWordList struct {
	Type          string `json:"type"`
	InputAction   string `json:"inputAction,omitempty"`
	OutputAction  string `json:"outputAction,omitempty"`
	InputEnabled  *bool  `json:"inputEnabled,omitempty"`
	OutputEnabled *bool  `json:"outputEnabled,omitempty"`
}

// PIIEntity configures one PII entity type.
type PIIEntity struct {
	Type          string `json:"type"`
	Action        string `json:"action"`
	InputAction   string `json:"inputAction,omitempty"`
	OutputAction  string `json:"outputAction,omitempty"`
	InputEnabled  *bool  `json:"inputEnabled,omitempty"`
	OutputEnabled *bool  `json:"outputEnabled,omitempty"`
}

// Regex is a custom sensitive-information pattern (RE2 syntax).
type Regex struct {
	Name          string `json:"name"`
	Description   string `json:"description,omitempty"`
	Pattern       string `json:"pattern"`
	Action        string `json:"action"`
	InputAction   string `json:"inputAction,omitempty"`
	OutputAction  string `json:"outputAction,omitempty"`
	InputEnabled  *bool  `json:"inputEnabled,omitempty"`
	OutputEnabled *bool  `json:"outputEnabled,omitempty"`
}

// GroundingFilter is a contextual-grounding check.
type GroundingFilter struct {
	Type      string   `json:"type"`
	Threshold *float64 `json:"threshold"`
	Action    string   `json:"action,omitempty"`
	Enabled   *bool    `json:"enabled,omitempty"`
}

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// OutputHandling is an Outcrop extension (not in Bedrock): how model output is
// prepared for downstream rendering (OWASP LLM05).
type OutputHandling struct {
	// HTMLEncode escapes <, >, &, ' and " in model output (source OUTPUT)
	// so that it can be inserted into HTML safely. Default false.
	HTMLEncode bool `json:"htmlEncode,omitempty"`
}

// Policies is the set of policies of one guardrail version. It is the
// internal form; the wire forms are Definition (CreateGuardrail) and
// Guardrail (GetGuardrail).
type Policies struct {
	Topics           []Topic
	TopicTier        *Tier
	ContentFilters   []ContentFilter
	ContentTier      *Tier
	Words            []Word
	ManagedWordLists []ManagedWordList
	PIIEntities      []PIIEntity
	Regexes          []Regex
	Grounding        []GroundingFilter
	OutputHandling   *OutputHandling
	HasTopic         bool // topicPolicyConfig was given
	HasContent       bool
	HasWord          bool
	HasSensitive     bool
	HasGrounding     bool
}

// TopicPolicyConfig is CreateGuardrail's topicPolicyConfig.
type TopicPolicyConfig struct {
	TopicsConfig []Topic `json:"topicsConfig"`
	TierConfig   *Tier   `json:"tierConfig,omitempty"`
}

// ContentPolicyConfig is CreateGuardrail's contentPolicyConfig.
type ContentPolicyConfig struct {
	FiltersConfig []ContentFilter `json:"filtersConfig"`
	TierConfig    *Tier           `json:"tierConfig,omitempty"`
}

// WordPolicyConfig is CreateGuardrail's wordPolicyConfig.
type WordPolicyConfig struct {
	WordsConfig            []Word            `json:"wordsConfig,omitempty"`
	ManagedWordListsConfig []ManagedWordList `json:"managedWordListsConfig,omitempty"`
}

// SensitiveInformationPolicyConfig is CreateGuardrail's
// sensitiveInformationPolicyConfig.
type SensitiveInformationPolicyConfig struct {
	PIIEntitiesConfig []PIIEntity `json:"piiEntitiesConfig,omitempty"`
	RegexesConfig     []Regex     `json:"regexesConfig,omitempty"`
}

// ContextualGroundingPolicyConfig is CreateGuardrail's
// contextualGroundingPolicyConfig.
type ContextualGroundingPolicyConfig struct {
	FiltersConfig []GroundingFilter `json:"filtersConfig"`
}

// Definition is the body of CreateGuardrail and UpdateGuardrail.
type Definition struct {
	Name                             string                            `json:"name"`
	Description                      string                            `json:"description,omitempty"`
	BlockedInputMessaging            string                            `json:"blockedInputMessaging"`
	BlockedOutputsMessaging          string                            `json:"blockedOutputsMessaging"`
	TopicPolicyConfig                *TopicPolicyConfig                `json:"topicPolicyConfig,omitempty"`
	ContentPolicyConfig              *ContentPolicyConfig              `json:"contentPolicyConfig,omitempty"`
	WordPolicyConfig                 *WordPolicyConfig                 `json:"wordPolicyConfig,omitempty"`
	SensitiveInformationPolicyConfig *SensitiveInformationPolicyConfig `json:"sensitiveInformationPolicyConfig,omitempty"`
	ContextualGroundingPolicyConfig  *ContextualGroundingPolicyConfig  `json:"contextualGroundingPolicyConfig,omitempty"`
	// OutputHandlingConfig is an Outcrop extension; AWS SDKs never send it.
	OutputHandlingConfig *OutputHandling `json:"outputHandlingConfig,omitempty"`
	KMSKeyID             string          `json:"kmsKeyId,omitempty"`
	Tags                 []Tag           `json:"tags,omitempty"`
	ClientRequestToken   string          `json:"clientRequestToken,omitempty"`
}

// Policies returns the definition's policies in internal form.
func (d *Definition) Policies() Policies {
	var p Policies
	if c := d.TopicPolicyConfig; c != nil {
		p.HasTopic, p.Topics, p.TopicTier = true, c.TopicsConfig, c.TierConfig
	}
	if c := d.ContentPolicyConfig; c != nil {
		p.HasContent, p.ContentFilters, p.ContentTier = true, c.FiltersConfig, c.TierConfig
	}
	if c := d.WordPolicyConfig; c != nil {
		p.HasWord, p.Words, p.ManagedWordLists = true, c.WordsConfig, c.ManagedWordListsConfig
	}
	if c := d.SensitiveInformationPolicyConfig; c != nil {
		p.HasSensitive, p.PIIEntities, p.Regexes = true, c.PIIEntitiesConfig, c.RegexesConfig
	}
	if c := d.ContextualGroundingPolicyConfig; c != nil {
		p.HasGrounding, p.Grounding = true, c.FiltersConfig
	}
	p.OutputHandling = d.OutputHandlingConfig
	return p
}

// TopicPolicy is GetGuardrail's topicPolicy.
type TopicPolicy struct {
	Topics []Topic `json:"topics"`
	Tier   *Tier   `json:"tier,omitempty"`
}

// ContentPolicy is GetGuardrail's contentPolicy.
type ContentPolicy struct {
	Filters []ContentFilter `json:"filters"`
	Tier    *Tier           `json:"tier,omitempty"`
}

// WordPolicy is GetGuardrail's wordPolicy.
type WordPolicy struct {
	Words            []Word            `json:"words,omitempty"`
	ManagedWordLists []ManagedWordList `json:"managedWordLists,omitempty"`
}

// SensitiveInformationPolicy is GetGuardrail's sensitiveInformationPolicy.
type SensitiveInformationPolicy struct {
	PIIEntities []PIIEntity `json:"piiEntities,omitempty"`
	Regexes     []Regex     `json:"regexes,omitempty"`
}

// ContextualGroundingPolicy is GetGuardrail's contextualGroundingPolicy.
type ContextualGroundingPolicy struct {
	Filters []GroundingFilter `json:"filters"`
}

// Guardrail is one version of a guardrail in GetGuardrail's shape.
type Guardrail struct {
	Name                       string                      `json:"name"`
	GuardrailID                string                      `json:"guardrailId"`
	GuardrailARN               string                      `json:"guardrailArn"`
	Version                    string                      `json:"version"`
	Status                     string                      `json:"status"`
	Description                string                      `json:"description,omitempty"`
	TopicPolicy                *TopicPolicy                `json:"topicPolicy,omitempty"`
	ContentPolicy              *ContentPolicy              `json:"contentPolicy,omitempty"`
	WordPolicy                 *WordPolicy                 `json:"wordPolicy,omitempty"`
	SensitiveInformationPolicy *SensitiveInformationPolicy `json:"sensitiveInformationPolicy,omitempty"`
	ContextualGroundingPolicy  *ContextualGroundingPolicy  `json:"contextualGroundingPolicy,omitempty"`
	OutputHandling             *OutputHandling             `json:"outputHandling,omitempty"`
	CreatedAt                  time.Time                   `json:"createdAt"`
	UpdatedAt                  time.Time                   `json:"updatedAt"`
	StatusReasons              []string                    `json:"statusReasons,omitempty"`
	FailureRecommendations     []string                    `json:"failureRecommendations,omitempty"`
	BlockedInputMessaging      string                      `json:"blockedInputMessaging"`
	BlockedOutputsMessaging    string                      `json:"blockedOutputsMessaging"`
	KMSKeyARN                  string                      `json:"kmsKeyArn,omitempty"`
}

// FromDefinition builds the GetGuardrail view of a definition. Identity,
// version, status and timestamps are left for the caller.
func FromDefinition(d *Definition) *Guardrail {
	g := &Guardrail{
		Name:                    d.Name,
		Description:             d.Description,
		BlockedInputMessaging:   d.BlockedInputMessaging,
		BlockedOutputsMessaging: d.BlockedOutputsMessaging,
		OutputHandling:          d.OutputHandlingConfig,
		KMSKeyARN:               d.KMSKeyID,
		Status:                  "READY",
	}
	if c := d.TopicPolicyConfig; c != nil {
		g.TopicPolicy = &TopicPolicy{Topics: c.TopicsConfig, Tier: c.TierConfig}
	}
	if c := d.ContentPolicyConfig; c != nil {
		g.ContentPolicy = &ContentPolicy{Filters: c.FiltersConfig, Tier: c.TierConfig}
	}
	if c := d.WordPolicyConfig; c != nil {
		g.WordPolicy = &WordPolicy{Words: c.WordsConfig, ManagedWordLists: c.ManagedWordListsConfig}
	}
	if c := d.SensitiveInformationPolicyConfig; c != nil {
		g.SensitiveInformationPolicy = &SensitiveInformationPolicy{PIIEntities: c.PIIEntitiesConfig, Regexes: c.RegexesConfig}
	}
	if c := d.ContextualGroundingPolicyConfig; c != nil {
		g.ContextualGroundingPolicy = &ContextualGroundingPolicy{Filters: c.FiltersConfig}
	}
	return g
}

// Definition returns the CreateGuardrail form of g (without tags and token).
func (g *Guardrail) Definition() *Definition {
	d := &Definition{
		Name:                    g.Name,
		Description:             g.Description,
		BlockedInputMessaging:   g.BlockedInputMessaging,
		BlockedOutputsMessaging: g.BlockedOutputsMessaging,
		OutputHandlingConfig:    g.OutputHandling,
		KMSKeyID:                g.KMSKeyARN,
	}
	if p := g.TopicPolicy; p != nil {
		d.TopicPolicyConfig = &TopicPolicyConfig{TopicsConfig: p.Topics, TierConfig: p.Tier}
	}
	if p := g.ContentPolicy; p != nil {
		d.ContentPolicyConfig = &ContentPolicyConfig{FiltersConfig: p.Filters, TierConfig: p.Tier}
	}
	if p := g.WordPolicy; p != nil {
		d.WordPolicyConfig = &WordPolicyConfig{WordsConfig: p.Words, ManagedWordListsConfig: p.ManagedWordLists}
	}
	if p := g.SensitiveInformationPolicy; p != nil {
		d.SensitiveInformationPolicyConfig = &SensitiveInformationPolicyConfig{PIIEntitiesConfig: p.PIIEntities, RegexesConfig: p.Regexes}
	}
	if p := g.ContextualGroundingPolicy; p != nil {
		d.ContextualGroundingPolicyConfig = &ContextualGroundingPolicyConfig{FiltersConfig: p.Filters}
	}
	return d
}

// enabled reports whether an optional enable flag is on (default true).
func enabled(b *bool) bool { return b == nil || *b }

// sideAction picks the action for a source: the side-specific action if set,
// else the fallback (the policy-wide action or BLOCK).
func sideAction(src Source, in, out, fallback string) string {
	a := in
	if src == SourceOutput {
		a = out
	}
	if a == "" {
		a = fallback
	}
	if a == "" {
		a = ActionBlock
	}
	return a
}

// sideEnabled picks the enable flag for a source.
func sideEnabled(src Source, in, out *bool) bool {
	if src == SourceOutput {
		return enabled(out)
	}
	return enabled(in)
}
