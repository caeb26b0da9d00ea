package flow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
)

// RuntimeAgents runs Agent nodes on Outcrop's agents runtime
// (internal/agent, the one behind InvokeAgent): the node's agentAliasArn
// names the agent and alias, the execution and activation name the
// session, and a turn that ends with the agent asking the user
// (AMAZON.UserInput) pauses the flow. The flow's turn key goes to the
// runtime (Invocation.TurnKey), which replays a repeated turn — a flow step
// replayed after a crash — from the session instead of running the agent
// and its tools again.
type RuntimeAgents struct {
	Runtime agent.Runtime
}

var _ AgentRuntime = (*RuntimeAgents)(nil)

// maxAgentTraces bounds the agent trace parts kept for one node run.
const maxAgentTraces = 200

var sessionIDChars = regexp.MustCompile(`[^0-9a-zA-Z._:-]`)

// AgentSessionID makes a valid InvokeAgent sessionId (2 to 100 characters
// of [0-9a-zA-Z._:-]) from a flow session name, keeping distinct names
// distinct.
func AgentSessionID(s string) string {
	s = sessionIDChars.ReplaceAllString(s, "-")
	if len(s) > 100 {
		h := sha256.Sum256([]byte(s))
		s = s[:60] + "-" + hex.EncodeToString(h[:16])
	}
	for len(s) < 2 {
		s += "-"
	}
	return s
}

// ParseAgentAliasARN splits arn:…:agent-alias/<agentId>/<aliasId>.
func ParseAgentAliasARN(arn string) (agentID, aliasID string, ok bool) {
	a, ok := resource.ParseARN(arn)
	parts := strings.Split(a.Path, "/")
	if !ok || a.Type != "agent-alias" || len(parts) != 2 {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// InvokeAgent implements AgentRuntime.
func (r *RuntimeAgents) InvokeAgent(ctx context.Context, t AgentTurn) (AgentReply, error) {
	agentID, aliasID, ok := ParseAgentAliasARN(t.AliasARN)
	if !ok {
		return AgentReply{}, fmt.Errorf("agentAliasArn %q is not an agent alias ARN", t.AliasARN)
	}
	st, err := r.Runtime.Invoke(ctx, &agent.Invocation{AgentID: agentID, AliasID: aliasID, SessionID: AgentSessionID(t.SessionID),
		InputText: t.InputText, TurnKey: t.TurnKey, EnableTrace: true})
	if err != nil {
		return AgentReply{}, err
	}
	defer st.Close()
	var text strings.Builder
	var rep AgentReply
	for {
		ev, err := st.Next()
		if errors.Is(err, io.EOF) {
			rep.Text = text.String()
			return rep, nil
		}
		if err != nil {
			return AgentReply{}, err
		}
		switch {
		case ev.Chunk != nil:
			text.Write(ev.Chunk.Bytes)
			rep.NeedsInput = rep.NeedsInput || ev.Chunk.Question
		case ev.Trace != nil:
			if b, err := json.Marshal(ev.Trace); err == nil && len(rep.Traces) < maxAgentTraces {
				rep.Traces = append(rep.Traces, b)
			}
		case ev.ReturnControl != nil:
			return AgentReply{}, llm.Errorf(llm.KindValidation, "The agent %s returned control to the caller, which a flow's Agent node cannot answer; use a Lambda or MCP action group for agents in flows.", agentID)
		}
	}
}
