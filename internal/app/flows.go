package app

import (
	"context"
	"errors"
	"time"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/flow"
	"github.com/outcrop/outcrop/internal/flow/flowkb"
	"github.com/outcrop/outcrop/internal/httpapi"
	"github.com/outcrop/outcrop/internal/jobs"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/store"
)

// buildFlows builds the flow executor, the durable job queue that recovers
// its executions (and that other subsystems' jobs will share), and the
// flows route group. Model calls of prompt and agent nodes go through the
// gateway; managed prompts render through prompt management (apps); agent
// nodes naming an Outcrop agent alias run on the agent runtime
// (flowAgents), others on flow.ConverseAgent over the first configured
// model. Node model identifiers resolve to canonical IDs as at the API
// edge; KnowledgeBase nodes run on the knowledge-base service (kbs) and
// Storage/Retrieval nodes on the flow_objects table (flow.SQLObjects).
func (a *App) buildFlows(ctx context.Context, db *store.DB, sopts store.Options, sec *security, models []*routing.Model, apps *application, kbs *kb.Service) (httpapi.RouteGroup, error) {
	agentModel := ""
	if len(models) > 0 {
		agentModel = models[0].ID
	}
	x := flow.NewExecutor(flow.ExecutorOptions{
		DB:     db,
		Logger: a.log,
		Nodes: &flow.Runner{Models: a.gateway, Region: a.cfg.Server.Region, Prompts: apps.prompts,
			Resolve: func(id string) (string, bool) {
				m, ok := a.gateway.Resolve(id) // the gateway's one model catalog
				return m.ID, ok
			},
			KnowledgeBases: &flowkb.KnowledgeBases{Service: kbs},
			Objects:        &flow.SQLObjects{DB: db},
			Agents:         &flowAgents{app: a, fallback: &flow.ConverseAgent{DB: db, Models: a.gateway, Model: agentModel, Region: a.cfg.Server.Region}}},
		RecoverContext: func(ctx context.Context, principal string) (context.Context, error) {
			if principal == "" {
				return ctx, nil
			}
			p, err := sec.auth.Named(ctx, principal)
			if err != nil {
				return nil, err
			}
			return auth.WithPrincipal(ctx, p), nil
		},
	})
	q, err := jobs.New(ctx, db, jobs.Options{
		PostgresDSN: sopts.DSN,
		Logger:      a.log,
		Handlers:    a.withJobHandlers(flow.JobKind, x.RunJob),
	})
	if err != nil {
		return nil, err
	}
	x.SetQueue(q)
	a.jobQueue = q
	if err := q.Start(ctx); err != nil {
		return nil, err
	}
	a.onClose(func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Release the executions this process drives before the queue
		// stops, so another replica (or this one restarted) resumes them at
		// once instead of after their lease.
		xerr := x.Close(sctx)
		return errors.Join(xerr, q.Stop(sctx))
	})
	return &httpapi.Flows{Store: resource.NewStore(db, resource.ScopeFrom(a.cfg), nil), Executor: x}, nil
}
