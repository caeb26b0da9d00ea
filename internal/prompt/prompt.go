// Package prompt is Bedrock prompt management: prompts with a DRAFT and
// immutable numbered versions (CreatePrompt, GetPrompt, UpdatePrompt,
// ListPrompts, DeletePrompt, CreatePromptVersion), TEXT and CHAT templates
// with {{variable}} inputs, and rendering a prompt into a model request, so
// that Converse and ConverseStream accept a prompt ARN as modelId plus
// promptVariables, as Bedrock does.
//
// Prompts are internal/resource items (kind "prompt"), per account, on
// SQLite or PostgreSQL.
package prompt

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
)

const kind = "prompt"

// Template types.
const (
	TemplateText = "TEXT"
	TemplateChat = "CHAT"
)

// Prompt is a prompt version in the bedrock-agent wire shape.
type Prompt struct {
	Name                     string    `json:"name"`
	Description              string    `json:"description,omitempty"`
	CustomerEncryptionKeyArn string    `json:"customerEncryptionKeyArn,omitempty"`
	DefaultVariant           string    `json:"defaultVariant,omitempty"`
	Variants                 []Variant `json:"variants"`
	ID                       string    `json:"id"`
	Arn                      string    `json:"arn"`
	Version                  string    `json:"version"`
	CreatedAt                time.Time `json:"createdAt"`
	UpdatedAt                time.Time `json:"updatedAt"`
}

// Input is the body of CreatePrompt and UpdatePrompt.
type Input struct {
	Name                     string            `json:"name"`
	Description              string            `json:"description,omitempty"`
	CustomerEncryptionKeyArn string            `json:"customerEncryptionKeyArn,omitempty"`
	DefaultVariant           string            `json:"defaultVariant,omitempty"`
	Variants                 []Variant         `json:"variants,omitempty"`
	ClientToken              string            `json:"clientToken,omitempty"`
	Tags                     map[string]string `json:"tags,omitempty"`
}

// Variant is one variant of a prompt.
type Variant struct {
	Name                         string                  `json:"name"`
	TemplateType                 string                  `json:"templateType"`
	TemplateConfiguration        TemplateConfiguration   `json:"templateConfiguration"`
	ModelID                      string                  `json:"modelId,omitempty"`
	InferenceConfiguration       *InferenceConfiguration `json:"inferenceConfiguration,omitempty"`
	Metadata                     []Metadata              `json:"metadata,omitempty"`
	AdditionalModelRequestFields json.RawMessage         `json:"additionalModelRequestFields,omitempty"`
	GenAIResource                json.RawMessage         `json:"genAiResource,omitempty"`
}

// Metadata is a key/value pair on a variant.
type Metadata struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// TemplateConfiguration is the union of a TEXT and a CHAT template.
type TemplateConfiguration struct {
	Text *TextTemplate `json:"text,omitempty"`
	Chat *ChatTemplate `json:"chat,omitempty"`
}

// TextTemplate is a single text with {{variables}}.
type TextTemplate struct {
	Text           string          `json:"text"`
	InputVariables []InputVariable `json:"inputVariables,omitempty"`
	CachePoint     json.RawMessage `json:"cachePoint,omitempty"`
}

// ChatTemplate is a system prompt and messages with {{variables}}.
type ChatTemplate struct {
	Messages          []Message       `json:"messages"`
	System            []TextBlock     `json:"system,omitempty"`
	InputVariables    []InputVariable `json:"inputVariables,omitempty"`
	ToolConfiguration json.RawMessage `json:"toolConfiguration,omitempty"`
}

// Message is one message of a chat template.
type Message struct {
	Role    string      `json:"role"`
	Content []TextBlock `json:"content"`
}

// TextBlock is a content or system block; only text is rendered.
type TextBlock struct {
	Text       string          `json:"text,omitempty"`
	CachePoint json.RawMessage `json:"cachePoint,omitempty"`
}

// InputVariable declares a template variable.
type InputVariable struct {
	Name string `json:"name"`
}

// InferenceConfiguration is the inference union; only text exists.
type InferenceConfiguration struct {
	Text *TextInference `json:"text,omitempty"`
}

// TextInference holds sampling parameters.
type TextInference struct {
	Temperature   *float64 `json:"temperature,omitempty"`
	TopP          *float64 `json:"topP,omitempty"`
	MaxTokens     *int     `json:"maxTokens,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

// Summary is one ListPrompts entry.
type Summary struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	ID          string    `json:"id"`
	Arn         string    `json:"arn"`
	Version     string    `json:"version"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Registry stores prompts.
type Registry struct {
	rs *resource.Store
	// modelKnown reports whether a variant's modelId names a served model;
	// nil accepts any.
	modelKnown func(id string) bool
}

// NewRegistry returns a registry over rs; modelKnown may be nil.
func NewRegistry(rs *resource.Store, modelKnown func(string) bool) *Registry {
	return &Registry{rs: rs, modelKnown: modelKnown}
}

// Scope returns the resource scope, for ARNs.
func (g *Registry) Scope() resource.Scope { return g.rs.Scope() }

var variable = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}`)
var variableName = regexp.MustCompile(`^([0-9a-zA-Z][_-]?){1,100}$`)

// validate checks a CreatePrompt/UpdatePrompt body.
func (g *Registry) validate(in *Input) error {
	if err := resource.Name("name", in.Name); err != nil {
		return err
	}
	if err := resource.OptionalLength("description", in.Description, 1, 200); err != nil {
		return err
	}
	if len(in.Variants) > 1 {
		return resource.Invalid("variants", "Member must have length less than or equal to 1")
	}
	if err := resource.Tags("tags", in.Tags); err != nil {
		return err
	}
	for i := range in.Variants {
		v := &in.Variants[i]
		field := "variants." + itoa(i)
		if err := resource.Name(field+".name", v.Name); err != nil {
			return err
		}
		tc := v.TemplateConfiguration
		switch v.TemplateType {
		case TemplateText:
			if tc.Text == nil || tc.Chat != nil {
				return resource.Invalid(field+".templateConfiguration", "a TEXT variant needs exactly the text member")
			}
			if err := resource.Length(field+".templateConfiguration.text.text", tc.Text.Text, 1, 200000); err != nil {
				return err
			}
			if err := checkVariables(field, tc.Text.InputVariables); err != nil {
				return err
			}
		case TemplateChat:
			if tc.Chat == nil || tc.Text != nil {
				return resource.Invalid(field+".templateConfiguration", "a CHAT variant needs exactly the chat member")
			}
			if len(tc.Chat.Messages) == 0 {
				return resource.Invalid(field+".templateConfiguration.chat.messages", "Member must have at least 1 item")
			}
			for j, m := range tc.Chat.Messages {
				if m.Role != "user" && m.Role != "assistant" {
					return resource.Invalid(field+".templateConfiguration.chat.messages."+itoa(j)+".role", "Member must satisfy enum value set: [user, assistant]")
				}
			}
			if tc.Chat.Messages[0].Role != "user" {
				return resource.Invalidf("A chat template must start with a user message.")
			}
			if err := checkVariables(field, tc.Chat.InputVariables); err != nil {
				return err
			}
		default:
			return resource.Invalid(field+".templateType", "Member must satisfy enum value set: [TEXT, CHAT]")
		}
		if v.ModelID != "" && g.modelKnown != nil && !g.modelKnown(v.ModelID) {
			return resource.Invalidf("The modelId %s of variant %s is not a model this server serves.", v.ModelID, v.Name)
		}
		if len(v.AdditionalModelRequestFields) > 0 {
			var m map[string]any
			if json.Unmarshal(v.AdditionalModelRequestFields, &m) != nil {
				return resource.Invalid(field+".additionalModelRequestFields", "Member must be a JSON object")
			}
		}
	}
	if in.DefaultVariant != "" {
		found := false
		for _, v := range in.Variants {
			found = found || v.Name == in.DefaultVariant
		}
		if !found {
			return resource.Invalid("defaultVariant", "Member must name one of the variants")
		}
	}
	return nil
}

func checkVariables(field string, vs []InputVariable) error {
	if len(vs) > 20 {
		return resource.Invalid(field+".inputVariables", "Member must have length less than or equal to 20")
	}
	for _, v := range vs {
		if !variableName.MatchString(v.Name) {
			return resource.Invalid(field+".inputVariables.name", "Member must satisfy regular expression pattern: ([0-9a-zA-Z][_-]?){1,100}")
		}
	}
	return nil
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func (g *Registry) key(acct, id string) resource.Key {
	return resource.Key{Account: acct, Kind: kind, ID: id}
}

// ident resolves a prompt ID or ARN (with an optional ":<version>"
// qualifier) to the ID and the qualifier's version.
func (g *Registry) ident(acct, ident string) (id, version string, err error) {
	id, rest, err := g.rs.Scope().Identifier("promptIdentifier", ident, "prompt", acct)
	if err != nil {
		return "", "", err
	}
	if strings.HasPrefix(rest, ":") {
		version = rest[1:]
		if _, err := resource.ParseVersion("promptIdentifier", version); err != nil {
			return "", "", err
		}
	} else if rest != "" {
		return "", "", resource.NotFound("Prompt %s not found.", ident)
	}
	return id, version, nil
}

func notFound(ident string) error { return resource.NotFound("Prompt %s not found.", ident) }

func isNotFound(err error) bool {
	var e *llm.Error
	return errors.As(err, &e) && e.Kind == llm.KindNotFound
}

// Create stores a new prompt's DRAFT.
func (g *Registry) Create(ctx context.Context, acct string, in *Input) (*Prompt, error) {
	if err := g.validate(in); err != nil {
		return nil, err
	}
	id := resource.NewID()
	now := g.rs.Now()
	p := &Prompt{ID: id, Arn: g.rs.Scope().ARN(acct, "prompt", id), Version: resource.Draft, CreatedAt: now, UpdatedAt: now}
	fill(p, in)
	it, err := g.rs.Create(ctx, g.key(acct, id), in.Name, in.ClientToken, p)
	if err != nil {
		return nil, err
	}
	return resource.Decode[Prompt](it)
}

func fill(p *Prompt, in *Input) {
	p.Name, p.Description, p.CustomerEncryptionKeyArn = in.Name, in.Description, in.CustomerEncryptionKeyArn
	p.Variants, p.DefaultVariant = in.Variants, in.DefaultVariant
	if p.Variants == nil {
		p.Variants = []Variant{}
	}
	if p.DefaultVariant == "" && len(p.Variants) > 0 {
		p.DefaultVariant = p.Variants[0].Name
	}
}

// Get returns a prompt version: version, else the identifier's qualifier,
// else the DRAFT.
func (g *Registry) Get(ctx context.Context, acct, ident, version string) (*Prompt, error) {
	id, q, err := g.ident(acct, ident)
	if err != nil {
		return nil, err
	}
	if version == "" {
		version = q
	}
	if _, err := resource.ParseVersion("promptVersion", version); err != nil {
		return nil, err
	}
	it, err := g.rs.Get(ctx, g.key(acct, id), version)
	if isNotFound(err) {
		if version != "" && version != resource.Draft {
			return nil, resource.NotFound("Version %s of prompt %s not found.", version, id)
		}
		return nil, notFound(ident)
	}
	if err != nil {
		return nil, err
	}
	return resource.Decode[Prompt](it)
}

// Update replaces the DRAFT.
func (g *Registry) Update(ctx context.Context, acct, ident string, in *Input) (*Prompt, error) {
	id, q, err := g.ident(acct, ident)
	if err != nil {
		return nil, err
	}
	if q != "" && q != resource.Draft {
		return nil, resource.Invalid("promptIdentifier", "only the DRAFT of a prompt can be updated")
	}
	if err := g.validate(in); err != nil {
		return nil, err
	}
	it, err := g.rs.Update(ctx, g.key(acct, id), func(it *resource.Item) error {
		p, err := resource.Decode[Prompt](it)
		if err != nil {
			return err
		}
		fill(p, in)
		p.UpdatedAt = g.rs.Now()
		it.Name = in.Name
		it.Body, err = json.Marshal(p)
		return err
	})
	if isNotFound(err) {
		return nil, notFound(ident)
	}
	if err != nil {
		return nil, err
	}
	return resource.Decode[Prompt](it)
}

// CreateVersion freezes the DRAFT as the next version.
func (g *Registry) CreateVersion(ctx context.Context, acct, ident, description string) (*Prompt, error) {
	id, _, err := g.ident(acct, ident)
	if err != nil {
		return nil, err
	}
	if err := resource.OptionalLength("description", description, 1, 200); err != nil {
		return nil, err
	}
	it, err := g.rs.CreateVersion(ctx, g.key(acct, id), func(it *resource.Item) error {
		p, err := resource.Decode[Prompt](it)
		if err != nil {
			return err
		}
		p.Version, p.CreatedAt, p.UpdatedAt = it.Version, it.CreatedAt, it.CreatedAt
		if description != "" {
			p.Description = description
		}
		p.Arn = g.rs.Scope().ARN(acct, "prompt", id+":"+it.Version)
		it.Body, err = json.Marshal(p)
		return err
	})
	if isNotFound(err) {
		return nil, notFound(ident)
	}
	if err != nil {
		return nil, err
	}
	return resource.Decode[Prompt](it)
}

// Delete deletes a prompt (version empty) or one numbered version.
func (g *Registry) Delete(ctx context.Context, acct, ident, version string) (string, string, error) {
	id, _, err := g.ident(acct, ident)
	if err != nil {
		return "", "", err
	}
	if version == "" || version == resource.Draft {
		if err := g.rs.Delete(ctx, g.key(acct, id)); err != nil {
			if isNotFound(err) {
				return "", "", notFound(ident)
			}
			return "", "", err
		}
		return id, "", nil
	}
	if err := g.rs.DeleteVersion(ctx, g.key(acct, id), version); err != nil {
		return "", "", err
	}
	return id, version, nil
}

// List lists the DRAFT of every prompt, or every version of one.
func (g *Registry) List(ctx context.Context, acct, ident string, p resource.Page) ([]Summary, string, error) {
	q := resource.ListQuery{Account: acct, Kind: kind, Page: p}
	if ident != "" {
		id, _, err := g.ident(acct, ident)
		if err != nil {
			return nil, "", err
		}
		q.ID = id
	}
	items, next, err := g.rs.List(ctx, q)
	if err != nil {
		return nil, "", err
	}
	out := make([]Summary, 0, len(items))
	for _, it := range items {
		pr, err := resource.Decode[Prompt](it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, Summary{Name: pr.Name, Description: pr.Description, ID: pr.ID, Arn: pr.Arn, Version: pr.Version,
			CreatedAt: pr.CreatedAt, UpdatedAt: pr.UpdatedAt})
	}
	return out, next, nil
}

// Render resolves a prompt ARN (optionally ":<version>") into a model
// request: the default variant's template with vars substituted for
// {{name}}, its model and inference configuration. A declared variable
// without a value is a ValidationException; a value for a variable the
// template does not declare is ignored.
func (g *Registry) Render(ctx context.Context, acct, arn string, vars map[string]string) (*llm.Request, error) {
	p, err := g.Get(ctx, acct, arn, "")
	if err != nil {
		return nil, err
	}
	if len(p.Variants) == 0 {
		return nil, resource.Invalidf("Prompt %s has no variant to run.", p.ID)
	}
	v := p.Variants[0]
	for _, x := range p.Variants {
		if x.Name == p.DefaultVariant {
			v = x
		}
	}
	if v.ModelID == "" {
		return nil, resource.Invalidf("The variant %s of prompt %s has no modelId.", v.Name, p.ID)
	}
	req := &llm.Request{Model: v.ModelID}
	tc := v.TemplateConfiguration
	var declared []InputVariable
	switch {
	case tc.Text != nil:
		declared = tc.Text.InputVariables
	case tc.Chat != nil:
		declared = tc.Chat.InputVariables
	}
	for _, d := range declared {
		if _, ok := vars[d.Name]; !ok {
			return nil, resource.Invalidf("The prompt variable %s has no value; give it in promptVariables.", d.Name)
		}
	}
	sub := func(s string) string { return Substitute(s, vars) }
	switch {
	case tc.Text != nil:
		req.Messages = []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(sub(tc.Text.Text))}}}
	case tc.Chat != nil:
		for _, s := range tc.Chat.System {
			if s.Text != "" {
				req.System = append(req.System, llm.TextBlock(sub(s.Text)))
			}
		}
		for _, m := range tc.Chat.Messages {
			var blocks []llm.Block
			for _, c := range m.Content {
				if c.Text != "" {
					blocks = append(blocks, llm.TextBlock(sub(c.Text)))
				}
			}
			req.Messages = append(req.Messages, llm.Message{Role: llm.Role(m.Role), Content: blocks})
		}
	}
	if ic := v.InferenceConfiguration; ic != nil && ic.Text != nil {
		t := ic.Text
		req.Inference.Temperature, req.Inference.TopP, req.Inference.MaxTokens = t.Temperature, t.TopP, t.MaxTokens
		req.Inference.StopSequences = t.StopSequences
	}
	if len(v.AdditionalModelRequestFields) > 0 {
		req.Additional = v.AdditionalModelRequestFields
	}
	return req, nil
}

// Substitute replaces every {{name}} in s whose name is in vars; other
// placeholders are left as they are. Substituted values are not scanned
// again, so a value cannot inject another variable.
func Substitute(s string, vars map[string]string) string {
	return variable.ReplaceAllStringFunc(s, func(m string) string {
		name := variable.FindStringSubmatch(m)[1]
		if v, ok := vars[name]; ok {
			return v
		}
		return m
	})
}

// Variables returns the distinct {{names}} used in s, sorted.
func Variables(s string) []string {
	seen := map[string]bool{}
	for _, m := range variable.FindAllStringSubmatch(s, -1) {
		seen[m[1]] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
