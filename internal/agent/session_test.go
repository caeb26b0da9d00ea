package agent_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// askingModel asks the user a question on a fresh conversation and, once
// the conversation holds the answer, repeats it back; it records how many
// messages each request carried.
type askingModel struct {
	mu   sync.Mutex
	seen []int
}

func (m *askingModel) converse(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	m.mu.Lock()
	m.seen = append(m.seen, len(req.Messages))
	m.mu.Unlock()
	last := req.Messages[len(req.Messages)-1]
	for _, b := range last.Content {
		if b.Kind == llm.KindToolResult {
			return &evs{e: []llm.Event{{Type: llm.EventMessageStart},
				{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: "You said: " + b.ToolResult.Content[0].Text},
				{Type: llm.EventMessageStop, StopReason: llm.StopEndTurn}}}, nil
		}
	}
	return &evs{e: []llm.Event{{Type: llm.EventMessageStart},
		{Type: llm.EventBlockStart, ToolUse: &llm.ToolUse{ID: "q1", Name: "AskUser"}},
		{Type: llm.EventBlockDelta, Delta: llm.DeltaToolInput, Text: `{"question":"Where to?"}`},
		{Type: llm.EventBlockStop},
		{Type: llm.EventMessageStop, StopReason: llm.StopToolUse}}}, nil
}

func turnText(t *testing.T, svc *agent.Service, in *agent.Invocation) string {
	t.Helper()
	st, err := svc.Invoke(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var b strings.Builder
	for {
		ev, err := st.Next()
		if err == io.EOF {
			return b.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Chunk != nil {
			b.Write(ev.Chunk.Bytes)
		}
	}
}

// TestSessionsOutliveTheProcess: a question asked by one runtime is
// answered through another runtime over the same database (a restart, or
// another replica); a session idle past the agent's TTL starts afresh; an
// ended session is gone.
func TestSessionsOutliveTheProcess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var now time.Time = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		model := &askingModel{}
		newSvc := func() *agent.Service {
			rs := resource.NewStore(db, resource.Scope{}, clock)
			return agent.NewService(agent.Options{Control: agent.NewControl(rs, nil), Converse: model.converse, Now: clock})
		}
		first := newSvc()
		acct := resource.DefaultAccount
		a, err := first.Control().CreateAgent(ctx, acct, &agent.AgentInput{AgentName: "a", FoundationModel: "m", Instruction: travelInstruction, IdleSessionTTLInSeconds: 600})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := first.Control().CreateActionGroup(ctx, acct, a.AgentID, "DRAFT", &agent.ActionGroupInput{ActionGroupName: "UserInput", ParentActionGroupSignature: agent.SignatureUserInput}); err != nil {
			t.Fatal(err)
		}
		if _, err := first.Control().PrepareAgent(ctx, acct, a.AgentID); err != nil {
			t.Fatal(err)
		}
		in := func(sess, text string) *agent.Invocation {
			return &agent.Invocation{AgentID: a.AgentID, AliasID: resource.DraftAlias, SessionID: sess, InputText: text}
		}
		if got := turnText(t, first, in("s1", "book a trip")); got != "Where to?" {
			t.Fatalf("turn 1 = %q, want the question", got)
		}
		second := newSvc() // a new process over the same database
		if got := turnText(t, second, in("s1", "Lisbon")); got != "You said: Lisbon" {
			t.Fatalf("turn 2 on another runtime = %q, want the answer to the stored question", got)
		}

		// Idle past the TTL: the next turn starts a new conversation.
		if got := turnText(t, second, in("s2", "book a trip")); got != "Where to?" {
			t.Fatal(got)
		}
		mu.Lock()
		now = now.Add(11 * time.Minute)
		mu.Unlock()
		model.seen = nil
		if got := turnText(t, second, in("s2", "Lisbon")); got != "Where to?" || model.seen[0] != 1 {
			t.Fatalf("after the TTL: %q with %v messages, want a fresh conversation asking again", got, model.seen)
		}

		// endSession deletes it after the turn.
		end := in("s2", "Porto")
		end.EndSession = true
		turnText(t, second, end)
		model.seen = nil
		turnText(t, first, in("s2", "hello"))
		if model.seen[0] != 1 {
			t.Fatalf("after endSession the model saw %d messages, want a new session", model.seen[0])
		}
	})
}
