package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/prompt"
	"github.com/outcrop/outcrop/internal/resource"
)

// Prompts is the route group of bedrock-agent prompt management
// (CreatePrompt, GetPrompt, UpdatePrompt, ListPrompts, DeletePrompt,
// CreatePromptVersion).
type Prompts struct {
	Registry *prompt.Registry
}

var _ RouteGroup = (*Prompts)(nil)

// Routes implements RouteGroup.
func (g *Prompts) Routes(mux *http.ServeMux, a *Adapter) {
	h := func(action string, fn func(w http.ResponseWriter, r *http.Request, acct string) error) http.Handler {
		return a.ControlPlane(func(w http.ResponseWriter, r *http.Request) error {
			acct := resource.Account(r.Context(), g.Registry.Scope())
			res := "*"
			if id := r.PathValue("promptIdentifier"); id != "" {
				res = id
				if !strings.HasPrefix(id, "arn:") {
					res = g.Registry.Scope().ARN(acct, "prompt", id)
				}
			}
			if err := a.Authorize(r, action, res); err != nil {
				return err
			}
			return fn(w, r, acct)
		})
	}
	mux.Handle("POST /prompts/{$}", h("bedrock:CreatePrompt", func(w http.ResponseWriter, r *http.Request, acct string) error {
		var in prompt.Input
		if err := readJSON(a, r, &in); err != nil {
			return err
		}
		p, err := g.Registry.Create(r.Context(), acct, &in)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusCreated, p)
	}))
	mux.Handle("GET /prompts/{$}", h("bedrock:ListPrompts", func(w http.ResponseWriter, r *http.Request, acct string) error {
		page, err := resource.PageFromQuery(r.URL.Query())
		if err != nil {
			return err
		}
		items, next, err := g.Registry.List(r.Context(), acct, r.URL.Query().Get("promptIdentifier"), page)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, struct {
			PromptSummaries []prompt.Summary `json:"promptSummaries"`
			NextToken       string           `json:"nextToken,omitempty"`
		}{items, next})
	}))
	mux.Handle("GET /prompts/{promptIdentifier}/{$}", h("bedrock:GetPrompt", func(w http.ResponseWriter, r *http.Request, acct string) error {
		p, err := g.Registry.Get(r.Context(), acct, r.PathValue("promptIdentifier"), r.URL.Query().Get("promptVersion"))
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, p)
	}))
	mux.Handle("PUT /prompts/{promptIdentifier}/{$}", h("bedrock:UpdatePrompt", func(w http.ResponseWriter, r *http.Request, acct string) error {
		var in prompt.Input
		if err := readJSON(a, r, &in); err != nil {
			return err
		}
		p, err := g.Registry.Update(r.Context(), acct, r.PathValue("promptIdentifier"), &in)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, p)
	}))
	mux.Handle("DELETE /prompts/{promptIdentifier}/{$}", h("bedrock:DeletePrompt", func(w http.ResponseWriter, r *http.Request, acct string) error {
		id, v, err := g.Registry.Delete(r.Context(), acct, r.PathValue("promptIdentifier"), r.URL.Query().Get("promptVersion"))
		if err != nil {
			return err
		}
		out := map[string]string{"id": id}
		if v != "" {
			out["version"] = v
		}
		return WriteJSON(w, http.StatusOK, out)
	}))
	mux.Handle("POST /prompts/{promptIdentifier}/versions", h("bedrock:CreatePromptVersion", func(w http.ResponseWriter, r *http.Request, acct string) error {
		var body struct {
			Description string            `json:"description"`
			ClientToken string            `json:"clientToken"`
			Tags        map[string]string `json:"tags"`
		}
		if err := readJSON(a, r, &body); err != nil {
			return err
		}
		p, err := g.Registry.CreateVersion(r.Context(), acct, r.PathValue("promptIdentifier"), body.Description)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusCreated, p)
	}))
}

// PromptRenderer turns a prompt ARN and its variables into a model request
// for the caller of ctx (Deps.Prompts).
type PromptRenderer func(ctx context.Context, arn string, vars map[string]string) (*llm.Request, error)

// isPromptARN reports whether a Converse modelId names a managed prompt.
func isPromptARN(id string) bool {
	a, ok := resource.ParseARN(id)
	return ok && a.Service == "bedrock" && a.Type == "prompt"
}

// promptConverse builds the request of a Converse/ConverseStream call whose
// modelId is a prompt ARN: the prompt's rendered template and model, with
// the request's own messages (if any) after the template's, its system
// blocks after the template's, and its inferenceConfig and
// additionalModelRequestFields overriding the prompt's.
func (s *Server) promptConverse(r *http.Request, arn string, body []byte, stream bool) (string, *llm.Request, error) {
	if s.d.Prompts == nil {
		return "", nil, llm.Errorf(llm.KindNotFound, "The provided model identifier is invalid.")
	}
	if err := s.a.Authorize(r, "bedrock:GetPrompt", arn); err != nil {
		return "", nil, err
	}
	var w converseWire
	if err := DecodeJSON(body, &w); err != nil {
		return "", nil, err
	}
	vars := map[string]string{}
	for k, v := range w.PromptVariables {
		if v.Text == nil {
			return "", nil, bedrockInvalid("Malformed input request: promptVariables.%s must have exactly one member set, found 0", k)
		}
		vars[k] = *v.Text
	}
	base, err := s.d.Prompts(r.Context(), arn, vars)
	if err != nil {
		return "", nil, err
	}
	own := len(w.Messages) > 0
	if !own {
		// The template supplies the conversation; a placeholder lets the
		// rest of the request be checked as usual.
		w.Messages = []messageWire{{Role: "user", Content: []json.RawMessage{json.RawMessage(`{"text":"-"}`)}}}
	}
	req, err := w.request(base.Model, stream)
	if err != nil {
		return "", nil, err
	}
	if own {
		req.Messages = append(base.Messages, req.Messages...)
	} else {
		req.Messages = base.Messages
	}
	req.System = append(base.System, req.System...)
	if w.InferenceConfig == nil {
		req.Inference = base.Inference
	}
	if len(req.Additional) == 0 {
		req.Additional = base.Additional
	}
	if s.d.Router != nil {
		if _, ok := s.d.Router.Resolve(base.Model); !ok {
			return "", nil, llm.Errorf(llm.KindNotFound, "The prompt's model %s does not exist or you do not have access to it.", base.Model)
		}
	}
	return base.Model, req, nil
}
