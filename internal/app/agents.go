package app

import (
	"context"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/httpapi"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/store"
)

// buildAgents builds the agents control plane and runtime. Every model call
// of an agent goes through the gateway pipeline as the invoking principal.
func (a *App) buildAgents(db *store.DB) (*httpapi.Agents, error) {
	cfg := a.cfg
	ac, err := agent.ParseConfig(cfg)
	if err != nil {
		return nil, err
	}
	scope := resource.ScopeFrom(cfg)
	rs := resource.NewStore(db, scope, nil)
	ctl := agent.NewControl(rs, func(id string) bool { _, ok := a.router.Lookup(id); return ok })
	svc := agent.NewService(agent.Options{
		Control: ctl,
		Converse: func(ctx context.Context, req *llm.Request) (llm.Stream, error) {
			return a.gateway.Do(ctx, &gateway.Call{API: "bedrock", Op: "InvokeAgent", Action: httpapi.ActionInvokeModel,
				Resource: httpapi.ModelARN(scope.Region, req.Model), Request: req, RequestID: httpapi.RequestID(ctx)})
		},
		Authorize: func(ctx context.Context, action, res string) error {
			return auth.Check(ctx, action, res, nil)
		},
		LambdaEndpoints: ac.LambdaEndpoints,
		Limits:          ac.Limits(),
		Logger:          a.log,
	})
	return &httpapi.Agents{Control: ctl, Runtime: svc}, nil
}
