package app

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/outcrop/outcrop/internal/agent"
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
	a, ok := resource.ParseARN(t.AliasARN)
	parts := strings.Split(a.Path, "/")
	if rt == nil || !ok || a.Type != "agent-alias" || len(parts) != 2 {
		return f.fallback.InvokeAgent(ctx, t)
	}
	acct := resource.Account(ctx, rt.Control().Scope())
	if _, err := rt.Control().GetAlias(ctx, acct, parts[0], parts[1]); err != nil {
		var le *llm.Error
		if errors.As(err, &le) && (le.Kind == llm.KindNotFound || le.Kind == llm.KindValidation) {
			return f.fallback.InvokeAgent(ctx, t)
		}
		return flow.AgentReply{}, err
	}
	st, err := rt.Invoke(ctx, &agent.Invocation{AgentID: parts[0], AliasID: parts[1], SessionID: flowSessionID(t.SessionID),
		InputText: t.InputText, TurnKey: t.TurnKey})
	if err != nil {
		return flow.AgentReply{}, err
	}
	defer st.Close()
	var rep flow.AgentReply
	var b strings.Builder
	for {
		ev, err := st.Next()
		if errors.Is(err, io.EOF) {
			rep.Text = b.String()
			return rep, nil
		}
		if err != nil {
			return flow.AgentReply{}, err
		}
		switch {
		case ev.Chunk != nil:
			b.Write(ev.Chunk.Bytes)
			rep.NeedsInput = rep.NeedsInput || ev.Chunk.Question
		case ev.ReturnControl != nil:
			return flow.AgentReply{}, llm.Errorf(llm.KindValidation, "The agent %s returned control to the caller, which a flow's Agent node cannot answer; use a Lambda or MCP action group for agents in flows.", parts[0])
		}
	}
}

// flowSessionID fits a flow's agent session ID to InvokeAgent's pattern
// ([0-9a-zA-Z._:-], 2–100 characters).
func flowSessionID(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '_' || c == ':' || c == '-' {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	out := b.String()
	for len(out) < 2 {
		out += "-"
	}
	if len(out) > 100 {
		out = out[len(out)-100:]
	}
	return out
}
