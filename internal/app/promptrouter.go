package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/promptrouter"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/store"
)

// buildPromptRouters builds the prompt-router service on the resource
// store, with the configured default routers and learned artefacts. The
// embedded quality model and every configured artefact are decoded here, so
// a damaged artefact stops the server at start rather than at the first
// routed request.
func (a *App) buildPromptRouters(db *store.DB, log *slog.Logger) (*promptrouter.Service, error) {
	m, err := promptrouter.Default()
	if err != nil {
		return nil, fmt.Errorf("prompt router model: %w", err)
	}
	router := a.router
	svc := &promptrouter.Service{
		Store: resource.NewStore(db, resource.ScopeFrom(a.cfg), time.Now),
		Lookup: func(id string) (string, bool) {
			md, ok := router.Lookup(id)
			if !ok {
				return "", false
			}
			return md.ID, true
		},
		Model:   m,
		Logger:  log,
		Started: time.Now(),
		Authorize: func(ctx context.Context, action, resource string) error {
			return auth.Check(ctx, action, resource, nil)
		},
	}
	if err := svc.Configure(a.cfg.PromptRouters); err != nil {
		return nil, err
	}
	return svc, nil
}
