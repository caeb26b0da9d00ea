package app

import (
	"context"
	"errors"

	"github.com/outcrop/outcrop/internal/flow"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
)

// flowAgents serves flow Agent nodes: a node whose agentAliasArn names an
// agent alias that exists (arn:…:agent-alias/<agentId>/<aliasId>) runs
// that agent on the agent runtime; any other node runs on fallback.
type flowAgents struct {
	app      *App
	fallback flow.AgentRuntime
}

var _ flow.AgentRuntime = (*flowAgents)(nil)

// InvokeAgent implements flow.AgentRuntime.
func (f *flowAgents) InvokeAgent(ctx context.Context, t flow.AgentTurn) (flow.AgentReply, error) {
	rt := f.app.agentRuntime
	agentID, aliasID, ok := flow.ParseAgentAliasARN(t.AliasARN)
	if rt == nil || !ok {
		return f.fallback.InvokeAgent(ctx, t)
	}
	acct := resource.Account(ctx, rt.Control().Scope())
	if _, err := rt.Control().GetAlias(ctx, acct, agentID, aliasID); err != nil {
		var le *llm.Error
		if errors.As(err, &le) && (le.Kind == llm.KindNotFound || le.Kind == llm.KindValidation) {
			return f.fallback.InvokeAgent(ctx, t)
		}
		return flow.AgentReply{}, err
	}
	return (&flow.RuntimeAgents{Runtime: rt}).InvokeAgent(ctx, t)
}
