package app

import (
	"context"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/httpapi"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/prompt"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/store"
)

// application is the bedrock-agent surface: prompt management and agents.
type application struct {
	groups  []httpapi.RouteGroup
	prompts httpapi.PromptRenderer
}

// buildAgents builds prompt management and the agents control plane and
// runtime. Every model call of an agent goes through the gateway pipeline
// as the invoking principal.
func (a *App) buildAgents(db *store.DB) (*application, error) {
	cfg := a.cfg
	ac, err := agent.ParseConfig(cfg)
	if err != nil {
		return nil, err
	}
	// Lambda endpoints and MCP servers are reached under the egress policy.
	client, err := a.httpClient(httpOptions{})
	if err != nil {
		return nil, err
	}
	scope := resource.ScopeFrom(cfg)
	rs := resource.NewStore(db, scope, nil)
	known := func(id string) bool { _, ok := a.router.Lookup(id); return ok }
	prompts := prompt.NewRegistry(rs, known)
	ctl := agent.NewControl(rs, known)
	// The runtime resolves the agent's foundationModel to the canonical ID
	// (ResolveModel), as the API edge does for a client's modelId; the call
	// carries that ID, so policies, quotas and routing see the same model
	// whatever spelling the agent uses.
	// The agent's model calls and tool checks are nested under the
	// InvokeAgent request (gateway.Nested): its audit entry keeps the
	// decision on InvokeAgent and lists theirs beside it.
	call := func(stream bool) agent.ConverseFunc {
		return func(ctx context.Context, req *llm.Request) (llm.Stream, error) {
			return a.gateway.Do(gateway.Nested(ctx), &gateway.Call{API: "bedrock", Op: "InvokeAgent", Action: httpapi.ActionInvokeModel,
				Model: req.Model, Resource: httpapi.ModelARN(scope.Region, req.Model), Request: req, Stream: stream,
				RequestID: httpapi.RequestID(ctx)})
		}
	}
	svc := agent.NewService(agent.Options{
		Control:        ctl,
		Converse:       call(false),
		ConverseStream: call(true),
		ResolveModel: func(id string) (string, bool) {
			m, ok := a.router.Lookup(id)
			if !ok {
				return "", false
			}
			return m.ID, true
		},
		Authorize: func(ctx context.Context, action, res string) error {
			return auth.Check(gateway.Nested(ctx), action, res, nil)
		},
		LambdaEndpoints: ac.LambdaEndpoints,
		MCPServers:      ac.MCPServers,
		HTTPClient:      client,
		Limits:          ac.Limits(),
		Logger:          a.log,
	})
	a.agentRuntime = svc
	return &application{
		groups: []httpapi.RouteGroup{&httpapi.Agents{Control: ctl, Runtime: svc}, &httpapi.Prompts{Registry: prompts}},
		prompts: func(ctx context.Context, arn string, vars map[string]string) (*llm.Request, error) {
			return prompts.Render(ctx, resource.Account(ctx, scope), arn, vars)
		},
	}, nil
}
