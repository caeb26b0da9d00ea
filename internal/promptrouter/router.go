package promptrouter

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"time"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
)

// kind is the resource kind of prompt routers in the resource store.
const kind = "prompt-router"

// ARNType is the resource type of a prompt router's ARN
// (arn:aws:bedrock:<region>:<account>:prompt-router/<id>).
const ARNType = "prompt-router"

// Router is one prompt router.
type Router struct {
	ID      string
	ARN     string
	Name    string
	Account string
	// Type is TypeCustom (created by CreatePromptRouter) or TypeDefault
	// (configured).
	Type string
	// Models are the two candidate models' ARNs (or IDs), as given.
	Models []string
	// Fallback is the reference model, one of Models: it serves requests
	// the router sends to the stronger model and any it cannot place.
	Fallback string
	// QualityDifference is routingCriteria.responseQualityDifference, in
	// percent: the cheaper model is chosen when its predicted quality is
	// within this much of the fallback's.
	QualityDifference float64
	Description       string
	Tags              map[string]string
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// body is a router's stored JSON document.
type body struct {
	Models            []string          `json:"models"`
	Fallback          string            `json:"fallback"`
	QualityDifference float64           `json:"responseQualityDifference"`
	Description       string            `json:"description,omitempty"`
	Tags              map[string]string `json:"tags,omitempty"`
}

// CreateInput is what CreatePromptRouter asks for.
type CreateInput struct {
	Name              string
	Models            []string
	Fallback          string
	QualityDifference *float64
	Description       string
	Tags              map[string]string
	ClientToken       string
}

// Service keeps prompt routers and decides, per request, which of a
// router's models serves it.
type Service struct {
	// Store keeps the routers.
	Store *resource.Store
	// Lookup resolves a model ARN or ID to the model ID the gateway
	// serves; a router may only name models Lookup knows.
	Lookup func(model string) (id string, ok bool)
	// Model predicts answer quality; Default() when nil.
	Model *Model
	// Pairs are quality models learned for particular pairs of models
	// (Configure); a router between such a pair uses its own.
	Pairs []PairModel
	// Defaults are the configured default routers (Configure).
	Defaults []DefaultConfig
	// Started is reported as the default routers' creation time.
	Started time.Time
	// Authorize, when set, decides whether the principal in ctx may invoke
	// a router: bedrock:InvokeModel (or …WithResponseStream) on the
	// router's ARN, as Bedrock's IAM asks. The routed call is then
	// authorized again on the chosen model by the gateway.
	Authorize func(ctx context.Context, action, resource string) error
	// Logger receives decisions at debug level; component=promptrouter is
	// added.
	Logger *slog.Logger
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger.With("component", "promptrouter")
}

func (s *Service) model() (*Model, error) {
	if s.Model != nil {
		return s.Model, nil
	}
	return Default()
}

// Create validates and stores a router.
func (s *Service) Create(ctx context.Context, in CreateInput) (*Router, error) {
	if err := resource.Name("promptRouterName", in.Name); err != nil {
		return nil, err
	}
	if err := resource.OptionalLength("description", in.Description, 0, 200); err != nil {
		return nil, err
	}
	if err := resource.Tags("tags", in.Tags); err != nil {
		return nil, err
	}
	if len(in.Models) != 2 {
		return nil, resource.Invalidf("A prompt router needs exactly two models; got %d.", len(in.Models))
	}
	seen := map[string]bool{}
	for _, m := range in.Models {
		id, ok := s.Lookup(m)
		if !ok {
			return nil, resource.Invalidf("The model %s is not served here.", m)
		}
		if seen[id] {
			return nil, resource.Invalidf("The two models of a prompt router must differ.")
		}
		seen[id] = true
	}
	if in.Fallback == "" {
		return nil, resource.Invalid("fallbackModel", "Member must not be null")
	}
	fid, ok := s.Lookup(in.Fallback)
	if !ok || !seen[fid] {
		return nil, resource.Invalidf("The fallback model %s must be one of the router's models.", in.Fallback)
	}
	if in.QualityDifference == nil {
		return nil, resource.Invalid("routingCriteria.responseQualityDifference", "Member must not be null")
	}
	d := *in.QualityDifference
	if math.IsNaN(d) || d < 0 || d > 100 {
		return nil, resource.Invalid("routingCriteria.responseQualityDifference", "Member must have value between 0 and 100")
	}
	acct := resource.Account(ctx, s.Store.Scope())
	b := body{Models: in.Models, Fallback: in.Fallback, QualityDifference: d, Description: in.Description, Tags: in.Tags}
	it, err := s.Store.Create(ctx, resource.Key{Account: acct, Kind: kind}, in.Name, in.ClientToken, b)
	if err != nil {
		return nil, err
	}
	return s.fromItem(it)
}

func (s *Service) fromItem(it *resource.Item) (*Router, error) {
	b, err := resource.Decode[body](it)
	if err != nil {
		return nil, err
	}
	return &Router{
		ID: it.ID, ARN: s.Store.Scope().ARN(it.Account, ARNType, it.ID), Name: it.Name, Account: it.Account, Type: TypeCustom,
		Models: b.Models, Fallback: b.Fallback, QualityDifference: b.QualityDifference,
		Description: b.Description, Tags: b.Tags, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
	}, nil
}

// Get returns the router named by ident (its ARN or ID; a default router
// by its ARN).
func (s *Service) Get(ctx context.Context, ident string) (*Router, error) {
	acct := resource.Account(ctx, s.Store.Scope())
	if a, ok := resource.ParseARN(ident); ok && a.Type == DefaultARNType {
		if r, ok := s.defaultRouter(ctx, a.Path); ok && r.ARN == ident {
			return r, nil
		}
		return nil, resource.NotFound("Prompt router %s was not found.", ident)
	}
	id, rest, err := s.Store.Scope().Identifier("promptRouterArn", ident, ARNType, acct)
	if err != nil {
		return nil, err
	}
	if rest != "" {
		return nil, resource.NotFound("Prompt router %s was not found.", ident)
	}
	it, err := s.Store.Get(ctx, resource.Key{Account: acct, Kind: kind, ID: id}, resource.Draft)
	if err != nil {
		var le *llm.Error
		if errors.As(err, &le) && le.Kind == llm.KindNotFound {
			return nil, resource.NotFound("Prompt router %s was not found.", ident)
		}
		return nil, err
	}
	return s.fromItem(it)
}

// List returns one page of the caller's routers.
func (s *Service) List(ctx context.Context, p resource.Page) ([]*Router, string, error) {
	acct := resource.Account(ctx, s.Store.Scope())
	its, next, err := s.Store.List(ctx, resource.ListQuery{Account: acct, Kind: kind, Page: p})
	if err != nil {
		return nil, "", err
	}
	out := make([]*Router, 0, len(its))
	for _, it := range its {
		r, err := s.fromItem(it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, r)
	}
	return out, next, nil
}

// Delete removes the router named by ident.
func (s *Service) Delete(ctx context.Context, ident string) error {
	r, err := s.Get(ctx, ident)
	if err != nil {
		return err
	}
	if r.Type == TypeDefault {
		return resource.Invalidf("The default prompt router %s cannot be deleted.", ident)
	}
	return s.Store.Delete(ctx, resource.Key{Account: r.Account, Kind: kind, ID: r.ID})
}

// Decision is the outcome of routing one request.
type Decision struct {
	// Router is the router's ARN.
	Router string
	// Invoked is the chosen model as the router names it (its ARN or ID),
	// reported as promptRouter.invokedModelId.
	Invoked string
	// ModelID is the chosen model's ID in the gateway.
	ModelID string
	// Gap is the predicted relative quality loss of the cheaper model.
	Gap float64
	// Artefact names the quality model that decided.
	Artefact string
}

// artefactName names the quality model used for the pair, for logs.
func (s *Service) artefactName(cheap, strong string) string {
	if m, err := s.modelFor(cheap, strong); err == nil && m != nil {
		return m.Name
	}
	return ""
}

// Decide picks the model that serves prompt (the text of the request's
// last user turn): the cheaper model when the predicted relative quality
// loss is at most the router's responseQualityDifference, otherwise the
// fallback. With no prompt text, or a model it cannot resolve, the
// fallback serves.
func (s *Service) Decide(r *Router, prompt string) (Decision, error) {
	d := Decision{Router: r.ARN, Invoked: r.Fallback}
	cheap, cheapID := "", ""
	fid, _ := s.Lookup(r.Fallback)
	for _, m := range r.Models {
		if id, ok := s.Lookup(m); ok && id != fid {
			cheap, cheapID = m, id
		}
	}
	if cheap != "" && prompt != "" {
		m, err := s.modelFor(cheapID, fid)
		if err != nil {
			return d, err
		}
		d.Gap = m.Gap(prompt)
		if d.Gap <= r.QualityDifference/100 {
			d.Invoked = cheap
		}
	}
	id, ok := s.Lookup(d.Invoked)
	if !ok {
		return d, llm.Errorf(llm.KindNotFound, "The model %s of prompt router %s is not served here.", d.Invoked, r.ARN)
	}
	d.ModelID = id
	s.log().Debug("prompt routed", "router", r.ARN, "invoked", d.Invoked, "gap", d.Gap)
	d.Artefact = s.artefactName(cheapID, fid)
	return d, nil
}

// ctxKey keys a Decision in a request context.
type ctxKey struct{}

// WithDecision returns ctx carrying d, for the stage to report.
func WithDecision(ctx context.Context, d Decision) context.Context {
	return context.WithValue(ctx, ctxKey{}, d)
}

// DecisionFrom returns the decision carried by ctx.
func DecisionFrom(ctx context.Context) (Decision, bool) {
	d, ok := ctx.Value(ctxKey{}).(Decision)
	return d, ok
}

// Stage reports a routed call's chosen model in the response trace
// (trace.promptRouter.invokedModelId), as Bedrock does, and in the log.
type Stage struct{}

var _ gateway.Stage = Stage{}

// Name implements gateway.Stage.
func (Stage) Name() string { return "promptrouter" }

// Wrap implements gateway.Stage.
func (Stage) Wrap(next gateway.Handler) gateway.Handler {
	return func(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
		if d, ok := DecisionFrom(ctx); ok {
			t, _ := json.Marshal(struct {
				InvokedModelID string `json:"invokedModelId"`
			}{d.Invoked})
			c.SetTrace("promptRouter", t)
			c.Annotate(slog.String("prompt_router", d.Router), slog.String("invoked_model", d.Invoked), slog.String("router_artefact", d.Artefact))
		}
		return next(ctx, c)
	}
}
