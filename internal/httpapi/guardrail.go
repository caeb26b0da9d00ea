package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/guardrail"
)

// Guardrails is the route group of the Bedrock guardrail control plane
// (CreateGuardrail, GetGuardrail, ListGuardrails, UpdateGuardrail,
// DeleteGuardrail, CreateGuardrailVersion; bedrock-api.md §6) and of the
// runtime ApplyGuardrail (§3.7).
type Guardrails struct {
	Registry *guardrail.Registry
	Engine   *guardrail.Engine
	// Recorder counts ApplyGuardrail interventions; may be nil.
	Recorder guardrail.Recorder
}

var _ RouteGroup = (*Guardrails)(nil)

// authz checks the IAM action on the guardrail named in the path (its
// ARN), or on "*" for creation and listing, before running h.
func (g *Guardrails) authz(a *Adapter, action string, h HandlerFunc) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		res := "*"
		if id := r.PathValue("guardrailIdentifier"); id != "" {
			res = id
			if !strings.HasPrefix(id, "arn:") {
				res = g.Registry.ARN(id)
			}
		}
		if err := a.Authorize(r, action, res); err != nil {
			return err
		}
		return h(w, r)
	}
}

// Routes implements RouteGroup.
func (g *Guardrails) Routes(mux *http.ServeMux, a *Adapter) {
	mux.Handle("POST /guardrails", a.Bedrock(g.authz(a, "bedrock:CreateGuardrail", g.create(a))))
	mux.Handle("GET /guardrails", a.Bedrock(g.authz(a, "bedrock:ListGuardrails", g.list)))
	mux.Handle("GET /guardrails/{guardrailIdentifier}", a.Bedrock(g.authz(a, "bedrock:GetGuardrail", g.get)))
	mux.Handle("PUT /guardrails/{guardrailIdentifier}", a.Bedrock(g.authz(a, "bedrock:UpdateGuardrail", g.update(a))))
	mux.Handle("POST /guardrails/{guardrailIdentifier}", a.Bedrock(g.authz(a, "bedrock:CreateGuardrailVersion", g.createVersion(a))))
	mux.Handle("DELETE /guardrails/{guardrailIdentifier}", a.Bedrock(g.authz(a, "bedrock:DeleteGuardrail", g.delete)))
	mux.Handle("POST /guardrail/{guardrailIdentifier}/version/{guardrailVersion}/apply", a.Bedrock(g.authz(a, "bedrock:ApplyGuardrail", g.apply(a))))
}

func (g *Guardrails) create(a *Adapter) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var d guardrail.Definition
		if err := readJSON(a, r, &d); err != nil {
			return err
		}
		gr, err := g.Registry.Create(r.Context(), &d)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, struct {
			GuardrailID  string    `json:"guardrailId"`
			GuardrailARN string    `json:"guardrailArn"`
			Version      string    `json:"version"`
			CreatedAt    time.Time `json:"createdAt"`
		}{gr.GuardrailID, gr.GuardrailARN, gr.Version, gr.CreatedAt})
	}
}

func (g *Guardrails) get(w http.ResponseWriter, r *http.Request) error {
	gr, err := g.Registry.Get(r.Context(), r.PathValue("guardrailIdentifier"), r.URL.Query().Get("guardrailVersion"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, gr)
}

func (g *Guardrails) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	maxResults := 0
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return constraint("maxResults", "Member must have value between 1 and 1000")
		}
		maxResults = n
	}
	items, next, err := g.Registry.List(r.Context(), q.Get("guardrailIdentifier"), maxResults, q.Get("nextToken"))
	if err != nil {
		return err
	}
	if items == nil {
		items = []guardrail.Summary{}
	}
	return WriteJSON(w, http.StatusOK, struct {
		Guardrails []guardrail.Summary `json:"guardrails"`
		NextToken  string              `json:"nextToken,omitempty"`
	}{items, next})
}

func (g *Guardrails) update(a *Adapter) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var d guardrail.Definition
		if err := readJSON(a, r, &d); err != nil {
			return err
		}
		gr, err := g.Registry.Update(r.Context(), r.PathValue("guardrailIdentifier"), &d)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, struct {
			GuardrailID  string    `json:"guardrailId"`
			GuardrailARN string    `json:"guardrailArn"`
			Version      string    `json:"version"`
			UpdatedAt    time.Time `json:"updatedAt"`
		}{gr.GuardrailID, gr.GuardrailARN, gr.Version, gr.UpdatedAt})
	}
}

func (g *Guardrails) createVersion(a *Adapter) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Description        string `json:"description"`
			ClientRequestToken string `json:"clientRequestToken"`
		}
		if err := readJSON(a, r, &body); err != nil {
			return err
		}
		ident := r.PathValue("guardrailIdentifier")
		v, err := g.Registry.CreateVersion(r.Context(), ident, body.Description)
		if err != nil {
			return err
		}
		gr, err := g.Registry.Get(r.Context(), ident, v)
		if err != nil {
			return err
		}
		return WriteJSON(w, http.StatusAccepted, struct {
			GuardrailID string `json:"guardrailId"`
			Version     string `json:"version"`
		}{gr.GuardrailID, v})
	}
}

func (g *Guardrails) delete(w http.ResponseWriter, r *http.Request) error {
	if err := g.Registry.Delete(r.Context(), r.PathValue("guardrailIdentifier"), r.URL.Query().Get("guardrailVersion")); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusAccepted, struct{}{})
}

func (g *Guardrails) apply(a *Adapter) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req guardrail.ApplyRequest
		if err := readJSON(a, r, &req); err != nil {
			return err
		}
		c, err := g.Registry.Compiled(r.Context(), r.PathValue("guardrailIdentifier"), r.PathValue("guardrailVersion"))
		if err != nil {
			return err
		}
		e := g.Engine
		if e == nil {
			e = &guardrail.Engine{}
		}
		res, err := e.Apply(r.Context(), c, &req)
		if err != nil {
			return err
		}
		if g.Recorder != nil {
			for _, iv := range res.Interventions {
				g.Recorder.Intervention(req.Source, iv)
			}
		}
		return WriteJSON(w, http.StatusOK, res)
	}
}

// readJSON reads and decodes a JSON request body.
func readJSON(a *Adapter, r *http.Request, v any) error {
	b, err := a.ReadBody(r)
	if err != nil {
		return err
	}
	if err := DecodeJSON(b, v); err != nil {
		return err
	}
	return nil
}
