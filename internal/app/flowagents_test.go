package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/flow"
	"github.com/outcrop/outcrop/internal/resource"
)

type noFallback struct{}

func (noFallback) InvokeAgent(context.Context, flow.AgentTurn) (flow.AgentReply, error) {
	return flow.AgentReply{}, errors.New("fallback used")
}

// TestFlowAgentNodeRunsAgents: a flow Agent node whose alias ARN names an
// Outcrop agent runs on the agent runtime: the agent's question comes back
// as NeedsInput, the answer continues the session, and a replayed turn
// (same TurnKey) returns the first reply without a model call.
func TestFlowAgentNodeRunsAgents(t *testing.T) {
	var calls atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var req struct {
			Messages []struct {
				Role    string `json:"role"`
				Content any    `json:"content"`
			} `json:"messages"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		last := req.Messages[len(req.Messages)-1]
		w.Header().Set("Content-Type", "text/event-stream")
		send := func(delta, finish string) {
			fmt.Fprintf(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":%s}]}\n\n", delta, finish)
		}
		if last.Role == "tool" {
			b, _ := json.Marshal(map[string]string{"content": fmt.Sprintf("Booked for %v.", last.Content)})
			send(string(b), `"stop"`)
		} else {
			send(`{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"AskUser","arguments":"{\"question\":\"Which date?\"}"}}]}`, `"tool_calls"`)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	defer up.Close()
	cfg, err := config.Parse([]byte(fmt.Sprintf("listen: 127.0.0.1:0\nmodels:\n  - id: m\n    deployments:\n      - provider: openai\n        base_url: %s/v1\n        model: m\n", up.URL)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Home = t.TempDir()
	a, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// Flow executions carry the principal that started them (open mode
	// here: the anonymous principal).
	ctx := auth.WithPrincipal(context.Background(), auth.Anonymous())
	ctl := a.agentRuntime.Control()
	acct := resource.Account(ctx, ctl.Scope())
	ag, err := ctl.CreateAgent(ctx, acct, &agent.AgentInput{AgentName: "booker", FoundationModel: "m",
		Instruction: "You book trips. Ask the user for the date before booking anything."})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.CreateActionGroup(ctx, acct, ag.AgentID, "DRAFT", &agent.ActionGroupInput{ActionGroupName: "UserInput", ParentActionGroupSignature: agent.SignatureUserInput}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.PrepareAgent(ctx, acct, ag.AgentID); err != nil {
		t.Fatal(err)
	}
	fa := &flowAgents{app: a, fallback: noFallback{}}
	alias := ctl.Scope().ARN(acct, "agent-alias", ag.AgentID, resource.DraftAlias)
	rep, err := fa.InvokeAgent(ctx, flow.AgentTurn{AliasARN: alias, SessionID: "exec/1", TurnKey: "t1", InputText: "book a trip"})
	if err != nil || !rep.NeedsInput || rep.Text != "Which date?" {
		t.Fatalf("turn 1 = %+v, %v; want the question with NeedsInput", rep, err)
	}
	rep, err = fa.InvokeAgent(ctx, flow.AgentTurn{AliasARN: alias, SessionID: "exec/1", TurnKey: "t2", InputText: "May 3"})
	if err != nil || rep.NeedsInput || !strings.Contains(rep.Text, "May 3") {
		t.Fatalf("turn 2 = %+v, %v; want the booking", rep, err)
	}
	before := calls.Load()
	again, err := fa.InvokeAgent(ctx, flow.AgentTurn{AliasARN: alias, SessionID: "exec/1", TurnKey: "t2", InputText: "May 3"})
	if err != nil || again.Text != rep.Text || again.NeedsInput != rep.NeedsInput || calls.Load() != before {
		t.Fatalf("replayed turn = %+v, %v, %d model calls; want the first reply and no call", again, err, calls.Load()-before)
	}
	// An alias ARN that is not an Outcrop agent goes to the fallback.
	if _, err := fa.InvokeAgent(ctx, flow.AgentTurn{AliasARN: "arn:aws:bedrock:us-east-1:000000000000:agent-alias/ZZZZZZZZZZ/YYYYYYYYYY", SessionID: "s", InputText: "x"}); err == nil || err.Error() != "fallback used" {
		t.Fatalf("unknown alias: %v, want the fallback", err)
	}
}
