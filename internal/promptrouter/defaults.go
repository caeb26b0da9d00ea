package promptrouter

import (
	"context"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/resource"
)

// DefaultARNType is the resource type of a default (preconfigured) prompt
// router's ARN: arn:aws:bedrock:<region>:<account>:default-prompt-router/<id>,
// as Bedrock names the routers it ships per model family.
const DefaultARNType = "default-prompt-router"

// Router types, as ListPromptRouters and GetPromptRouter report them.
const (
	TypeCustom  = "custom"
	TypeDefault = "default"
)

// Config is the prompt_routers section of the configuration file.
type Config struct {
	// Defaults are preconfigured routers, listed by ListPromptRouters with
	// type "default" in every account, invocable by their ARN and never
	// deleted.
	Defaults []DefaultConfig `yaml:"defaults"`
	// Artefacts are quality models learned for one pair of models (from
	// Outcrop's own evaluation results: cmd/routertrain -eval-weak …). A
	// router whose cheaper model and fallback are exactly that pair uses
	// it; every other router uses the embedded RouteLLM model.
	Artefacts []ArtefactConfig `yaml:"artefacts"`
}

// DefaultConfig is one default router.
type DefaultConfig struct {
	// ID is the last part of the ARN, e.g. "acme.chat:1".
	ID string `yaml:"id"`
	// Name is the router's promptRouterName; default the ID.
	Name string `yaml:"name"`
	// Models are the two models (IDs, aliases or ARNs) it routes between.
	Models []string `yaml:"models"`
	// Fallback is one of Models, the reference (stronger) model.
	Fallback string `yaml:"fallback"`
	// ResponseQualityDifference is routingCriteria.responseQualityDifference
	// in percent (0–100).
	ResponseQualityDifference float64 `yaml:"response_quality_difference"`
	// Description is shown by GetPromptRouter.
	Description string `yaml:"description"`
}

// ArtefactConfig names a learned artefact and the pair it was learned for.
type ArtefactConfig struct {
	// Path is the artefact file (written by cmd/routertrain).
	Path string `yaml:"path"`
	// Weak and Strong are the models (IDs, aliases or ARNs) whose
	// evaluation results trained its weak and strong heads.
	Weak   string `yaml:"weak"`
	Strong string `yaml:"strong"`
}

// PairModel is a quality model learned for one pair of models.
type PairModel struct {
	// Weak and Strong are the pair's model IDs as Service.Lookup resolves
	// them.
	Weak, Strong string
	Model        *Model
}

var defaultIDPattern = regexp.MustCompile(`^[a-zA-Z0-9-:.]{1,64}$`)

// Configure decodes the prompt_routers section into s: its default routers
// (validated against s.Lookup) and its learned artefacts, each read,
// checksummed and decoded here so that a damaged or missing artefact stops
// the server at start.
func (s *Service) Configure(node yaml.Node) error {
	var c Config
	if err := config.Decode(node, &c); err != nil {
		return fmt.Errorf("prompt_routers: %w", err)
	}
	seen := map[string]bool{}
	for i, d := range c.Defaults {
		field := fmt.Sprintf("prompt_routers.defaults[%d]", i)
		if !defaultIDPattern.MatchString(d.ID) || seen[d.ID] {
			return fmt.Errorf("%s.id %q: want 1–64 of [a-zA-Z0-9-:.], unique", field, d.ID)
		}
		seen[d.ID] = true
		if d.Name == "" {
			d.Name = d.ID
		}
		if len(d.Models) != 2 {
			return fmt.Errorf("%s.models: want two models, got %d", field, len(d.Models))
		}
		ids := map[string]bool{}
		for _, m := range d.Models {
			id, ok := s.Lookup(m)
			if !ok {
				return fmt.Errorf("%s.models: %s is not a served model", field, m)
			}
			ids[id] = true
		}
		if len(ids) != 2 {
			return fmt.Errorf("%s.models: the two models must differ", field)
		}
		if fid, ok := s.Lookup(d.Fallback); !ok || !ids[fid] {
			return fmt.Errorf("%s.fallback: %q must be one of the router's models", field, d.Fallback)
		}
		q := d.ResponseQualityDifference
		if math.IsNaN(q) || q < 0 || q > 100 {
			return fmt.Errorf("%s.response_quality_difference: %v is not between 0 and 100", field, q)
		}
		s.Defaults = append(s.Defaults, d)
	}
	for i, a := range c.Artefacts {
		field := fmt.Sprintf("prompt_routers.artefacts[%d]", i)
		w, okw := s.Lookup(a.Weak)
		st, oks := s.Lookup(a.Strong)
		if !okw || !oks || w == st {
			return fmt.Errorf("%s: weak %q and strong %q must be two served models", field, a.Weak, a.Strong)
		}
		b, err := os.ReadFile(a.Path)
		if err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		var m Model
		if err := m.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("%s: %s: %w", field, a.Path, err)
		}
		s.Pairs = append(s.Pairs, PairModel{Weak: w, Strong: st, Model: &m})
	}
	return nil
}

// defaultRouter returns the configured default router id as a Router in
// the caller's account.
func (s *Service) defaultRouter(ctx context.Context, id string) (*Router, bool) {
	i := slices.IndexFunc(s.Defaults, func(d DefaultConfig) bool { return d.ID == id })
	if i < 0 {
		return nil, false
	}
	d := s.Defaults[i]
	acct := resource.Account(ctx, s.Store.Scope())
	name := d.Name
	if name == "" {
		name = d.ID
	}
	return &Router{
		ID: d.ID, ARN: s.Store.Scope().ARN(acct, DefaultARNType, d.ID), Name: name, Account: acct, Type: TypeDefault,
		Models: slices.Clone(d.Models), Fallback: d.Fallback, QualityDifference: d.ResponseQualityDifference,
		Description: d.Description, CreatedAt: s.Started, UpdatedAt: s.Started,
	}, true
}

// ListDefaults returns one page of the default routers, in configuration
// order; the token is the index of the next one.
func (s *Service) ListDefaults(ctx context.Context, p resource.Page) ([]*Router, string, error) {
	start := 0
	if p.NextToken != "" {
		n, err := strconv.Atoi(p.NextToken)
		if err != nil || n < 0 || n > len(s.Defaults) {
			return nil, "", resource.Invalid("nextToken", "The pagination token is not valid.")
		}
		start = n
	}
	size := p.MaxResults
	if size <= 0 {
		size = 100
	}
	var out []*Router
	end := min(start+size, len(s.Defaults))
	for _, d := range s.Defaults[start:end] {
		r, _ := s.defaultRouter(ctx, d.ID)
		out = append(out, r)
	}
	next := ""
	if end < len(s.Defaults) {
		next = strconv.Itoa(end)
	}
	return out, next, nil
}

// modelFor returns the quality model for a router between cheap and
// strong (model IDs): the learned artefact of that pair when one is
// configured, else the embedded default.
func (s *Service) modelFor(cheap, strong string) (*Model, error) {
	for _, p := range s.Pairs {
		if p.Weak == cheap && p.Strong == strong {
			return p.Model, nil
		}
	}
	return s.model()
}
