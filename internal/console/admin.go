package console

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/httpapi"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/modelstore"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/store"
)

// Admin is the admin API (/admin/v1/): what the console needs that has no
// public HTTP API. Every route is authorized through the same policy
// engine as the rest of the server, with outcrop:* actions on the
// principal's ARN (or "*" for listings); bodies are JSON, errors
// {"message"} with a 4xx status for bad input. docs/CONSOLE.md lists the
// routes and their shapes.
type Admin struct {
	// Auth gives the store of principals, keys and policies.
	Auth *auth.Authenticator
	// Sessions are the console sessions, listed and revoked per principal.
	Sessions *Sessions
	// DB holds the audit log (the request log).
	DB *store.DB
	// Calls is the request recorder (measurements, attempts, traces) for
	// the request log's detail and the metrics; nil serves no metrics.
	Calls *Calls
	// Router gives the models' live state; nil serves no model status.
	Router *routing.Router
	// Models is the local model-file store; nil serves no model files.
	Models *modelstore.Store
	// Pull, if set, downloads a model file into Models (`outcrop models
	// pull`); nil refuses pulls.
	Pull func(ctx context.Context, ref string, o modelstore.PullOptions) (modelstore.Model, error)
	// BenchDir holds the benchmark runs started through the admin API
	// (one folder per run, as `outcrop bench --out` writes); empty
	// disables the bench routes.
	BenchDir string
	// AccountID appears in principal ARNs.
	AccountID string
	// Logger receives internal errors.
	Logger *slog.Logger

	pulls *pulls
	bench *benchRuns
}

var _ httpapi.RouteGroup = (*Admin)(nil)

// Routes implements httpapi.RouteGroup.
func (g *Admin) Routes(mux *http.ServeMux, a *httpapi.Adapter) {
	if g.Logger == nil {
		g.Logger = slog.New(slog.DiscardHandler)
	}
	g.pulls = newPulls()
	g.bench = &benchRuns{m: map[string]*benchRun{}}
	h := func(pattern string, f httpapi.HandlerFunc) { mux.Handle(pattern, a.Admin(f)) }
	authz := func(r *http.Request, action, resource string) error { return a.Authorize(r, action, resource) }
	p := &principalRoutes{g: g, authorize: authz, readBody: a.ReadBody}
	h("GET /admin/v1/principals", p.list)
	h("POST /admin/v1/principals", p.create)
	h("GET /admin/v1/principals/{name}", p.get)
	h("DELETE /admin/v1/principals/{name}", p.delete)
	h("GET /admin/v1/principals/{name}/access-keys", p.listAccessKeys)
	h("POST /admin/v1/principals/{name}/access-keys", p.createAccessKey)
	h("PUT /admin/v1/principals/{name}/access-keys/{id}", p.updateAccessKey)
	h("DELETE /admin/v1/principals/{name}/access-keys/{id}", p.removal("outcrop:DeleteAccessKey", "id", func(ctx context.Context, name, id string) error {
		return p.store().DeleteAccessKey(ctx, name, id)
	}))
	h("GET /admin/v1/principals/{name}/api-keys", p.listAPIKeys)
	h("POST /admin/v1/principals/{name}/api-keys", p.createAPIKey)
	h("DELETE /admin/v1/principals/{name}/api-keys/{id}", p.removal("outcrop:RevokeAPIKey", "id", func(ctx context.Context, name, id string) error {
		return p.store().RevokeAPIKey(ctx, name, id)
	}))
	h("GET /admin/v1/principals/{name}/policies", p.listPolicies)
	h("GET /admin/v1/principals/{name}/policies/{policy}", p.getPolicy)
	h("PUT /admin/v1/principals/{name}/policies/{policy}", p.putPolicy)
	h("DELETE /admin/v1/principals/{name}/policies/{policy}", p.removal("outcrop:DeletePrincipalPolicy", "policy", func(ctx context.Context, name, policy string) error {
		return p.store().DetachPolicy(ctx, name, policy)
	}))
	h("GET /admin/v1/principals/{name}/sessions", p.listSessions)
	h("DELETE /admin/v1/principals/{name}/sessions/{id}", p.removal("outcrop:RevokeSession", "id", func(ctx context.Context, name, id string) error {
		return p.g.Sessions.Revoke(ctx, name, id)
	}))
	h("POST /admin/v1/policies/validate", p.validatePolicy)

	l := &logRoutes{g: g, authorize: authz}
	h("GET /admin/v1/requests", l.list)
	h("GET /admin/v1/requests/{id}", l.get)
	h("GET /admin/v1/metrics", l.metrics)

	m := &modelRoutes{g: g, authorize: authz, readBody: a.ReadBody}
	h("GET /admin/v1/models", m.status)
	h("GET /admin/v1/local-models", m.listFiles)
	h("POST /admin/v1/local-models", m.pull)
	h("GET /admin/v1/local-models/pulls/{id}", m.pullStatus)
	h("DELETE /admin/v1/local-models/{id}", m.removeFile)

	bn := &benchRoutes{g: g, authorize: authz, readBody: a.ReadBody}
	h("POST /admin/v1/bench/runs", bn.start)
	h("GET /admin/v1/bench/runs", bn.list)
	h("GET /admin/v1/bench/runs/{id}", bn.get)
	h("DELETE /admin/v1/bench/runs/{id}", bn.stop)
	h("GET /admin/v1/bench/compare", bn.compare)

	h("/admin/v1/", func(w http.ResponseWriter, r *http.Request) error {
		return llm.Errorf(llm.KindNotFound, "no admin API route %s %s", r.Method, r.URL.Path)
	})
}

// mapStoreError turns the auth store's and the store's errors into API
// errors: bad names and documents are 400 with their text, missing rows
// 404, duplicates 409.
func mapStoreError(err error) error {
	var le *llm.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &le):
		return err
	case errors.Is(err, auth.ErrInvalid):
		msg := strings.TrimPrefix(strings.TrimSuffix(err.Error(), ": "+auth.ErrInvalid.Error()), auth.ErrInvalid.Error()+": ")
		return &llm.Error{Kind: llm.KindValidation, Message: msg}
	case errors.Is(err, store.ErrNotFound), errors.Is(err, modelstore.ErrNotFound):
		return &llm.Error{Kind: llm.KindNotFound, Message: err.Error()}
	case errors.Is(err, store.ErrConflict):
		return &llm.Error{Kind: llm.KindConflict, Message: err.Error()}
	}
	return &llm.Error{Kind: llm.KindInternal, Err: err}
}

// decodeBody decodes a JSON object body strictly (unknown fields are an
// error); an empty body is {}.
func decodeBody(b []byte, v any) error {
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return llm.Errorf(llm.KindValidation, "invalid JSON body: %s", jsonErrorText(err))
	}
	if dec.More() {
		return llm.Errorf(llm.KindValidation, "invalid JSON body: more than one value")
	}
	return nil
}

func jsonErrorText(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return se.Error()
	case errors.As(err, &te):
		return "field " + te.Field + " must be " + te.Type.String()
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// parseTTL reads an optional key lifetime ("720h", "30m"); empty is none.
func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Minute || d > 10*365*24*time.Hour {
		return 0, llm.Errorf(llm.KindValidation, "ttl %q: use a duration from 1m to 87600h, e.g. 720h", s)
	}
	return d, nil
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}
