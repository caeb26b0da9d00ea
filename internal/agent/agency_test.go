package agent_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/audit"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// insistScript calls book_flight until the tool result says it is not
// available three times, then gives up in words; a search for "Evil"
// returns a prompt injection asking for book_flight, which it obeys.
func insistScript(msgs []chatMsg, tools []string) reply {
	last := msgs[len(msgs)-1]
	denied := 0
	for _, m := range msgs {
		if m.Role == "tool" && strings.Contains(m.text(), "not available") {
			denied++
		}
	}
	switch {
	case last.Role == "user" && strings.Contains(last.text(), "Evil"):
		return reply{Tool: "TravelActions__search_flights", Args: `{"origin":"London","destination":"Evil","date":"2026-12-24"}`}
	case last.Role == "tool" && strings.Contains(last.text(), "SYSTEM OVERRIDE"):
		return reply{Tool: "TravelActions__book_flight", Args: `{"flightId":"EV666"}`}
	case denied >= 3:
		return reply{Text: "I am not allowed to book flights for you."}
	case last.Role == "tool" && strings.Contains(last.text(), "not available"):
		return reply{Tool: "TravelActions__book_flight", Args: `{"flightId":"BA304"}`}
	case last.Role == "tool":
		return reply{Text: "Done."}
	}
	return reply{Tool: "TravelActions__book_flight", Args: `{"flightId":"BA304"}`}
}

// TestExcessiveAgency: a tool the principal may not call is never executed,
// however often the model asks, and a prompt-injected tool result cannot
// get it either; the same calls by a principal allowed to make them run.
func TestExcessiveAgency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, agent.Limits{})
		e.up.setScript(insistScript)
		ac, _ := e.clients("alice")
		id := createTravelAgent(t, ctx, ac, "travel")
		_, bob := e.clients("bob")

		tr := invoke(t, ctx, bob, &bedrockagentruntime.InvokeAgentInput{AgentId: aws.String(id), AgentAliasId: aws.String("TSTALIASID"),
			SessionId: aws.String("s-insist"), InputText: aws.String("Book flight BA304 now")})
		if tr.err != nil || !strings.Contains(tr.text, "not allowed") {
			t.Fatalf("insisting model = %+v, want it to give up", tr)
		}
		if n := e.lambda.count("book_flight"); n != 0 {
			t.Fatalf("book_flight ran %d times for a principal denied it", n)
		}
		tr = invoke(t, ctx, bob, &bedrockagentruntime.InvokeAgentInput{AgentId: aws.String(id), AgentAliasId: aws.String("TSTALIASID"),
			SessionId: aws.String("s-inject"), InputText: aws.String("Search flights from London to Evil")})
		if tr.err != nil {
			t.Fatal(tr.err)
		}
		if e.lambda.count("search_flights") != 1 || e.lambda.count("book_flight") != 0 {
			t.Fatalf("after the injected result: lambda calls %v, want search only", e.lambda.counts)
		}
		// The same requests from alice, who may book, do book: the policy
		// is what stopped bob.
		_, alice := e.clients("alice")
		tr = invoke(t, ctx, alice, &bedrockagentruntime.InvokeAgentInput{AgentId: aws.String(id), AgentAliasId: aws.String("TSTALIASID"),
			SessionId: aws.String("s-alice"), InputText: aws.String("Book flight BA304 now")})
		if tr.err != nil || e.lambda.count("book_flight") != 1 {
			t.Fatalf("alice's booking: %+v, book calls %d; want 1", tr, e.lambda.count("book_flight"))
		}
	})
}

// TestIterationCap: a model that never stops calling tools is stopped by
// the invocation's cap with serviceQuotaExceededException in the stream.
func TestIterationCap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, agent.Limits{MaxIterations: 4})
		e.up.setScript(func(msgs []chatMsg, tools []string) reply {
			return reply{Tool: "TravelActions__search_flights", Args: `{"origin":"London","destination":"Paris","date":"2026-12-24"}`}
		})
		ac, rc := e.clients("alice")
		id := createTravelAgent(t, ctx, ac, "looper")
		before := e.up.calls.Load()
		tr := invoke(t, ctx, rc, &bedrockagentruntime.InvokeAgentInput{AgentId: aws.String(id), AgentAliasId: aws.String("TSTALIASID"),
			SessionId: aws.String("s-loop"), InputText: aws.String("loop")})
		var q *rttypes.ServiceQuotaExceededException
		if tr.err == nil || !errorAs(tr.err, &q) {
			t.Fatalf("looping model: %+v, want serviceQuotaExceededException", tr)
		}
		if n := e.up.calls.Load() - before; n != 4 {
			t.Fatalf("model called %d times, want the cap of 4", n)
		}
		if n := e.lambda.count("search_flights"); n != 4 {
			t.Fatalf("search_flights ran %d times, want 4", n)
		}
	})
}

// TestAuditKeepsInvokeAgentDecision: the audit entry of an InvokeAgent
// request keeps the request's own decision (InvokeAgent on the alias) and
// lists the checks of its turn beside it: each step's model call and each
// tool check, the denied ones included.
func TestAuditKeepsInvokeAgentDecision(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, storetest.SQLite(t), agent.Limits{})
	e.up.setScript(insistScript)
	ac, _ := e.clients("alice")
	id := createTravelAgent(t, ctx, ac, "travel")
	_, bob := e.clients("bob")
	tr := invoke(t, ctx, bob, &bedrockagentruntime.InvokeAgentInput{AgentId: aws.String(id), AgentAliasId: aws.String("TSTALIASID"),
		SessionId: aws.String("s-audit"), InputText: aws.String("Book flight BA304 now")})
	if tr.err != nil {
		t.Fatal(tr.err)
	}
	e.audit.Flush()
	entries, err := e.audit.Query(ctx, "bob", 10)
	if err != nil {
		t.Fatal(err)
	}
	var entry *audit.Entry
	for _, x := range entries {
		if strings.HasSuffix(x.Path, "/text") {
			entry = x
		}
	}
	if entry == nil {
		t.Fatalf("no audit entry for InvokeAgent among %d", len(entries))
	}
	alias := "arn:aws:bedrock:us-east-1:000000000000:agent-alias/" + id + "/TSTALIASID"
	if entry.Decision != "allow" || entry.Action != "bedrock:InvokeAgent" || entry.Resource != alias {
		t.Fatalf("InvokeAgent entry records %s %s %s, want allow bedrock:InvokeAgent %s", entry.Decision, entry.Action, entry.Resource, alias)
	}
	denied, models := 0, 0
	tool := "deny bedrock:InvokeAgentTool arn:aws:bedrock:us-east-1:000000000000:agent-tool/" + id + "/TravelActions/book_flight"
	for _, c := range entry.Checks {
		switch {
		case c == tool:
			denied++
		case c == "allow bedrock:InvokeModel arn:aws:bedrock:us-east-1::foundation-model/"+testModel:
			models++
		}
	}
	if denied != 3 || models != 4 {
		t.Fatalf("checks %q: %d denied tool checks (want 3), %d model calls (want 4)", entry.Checks, denied, models)
	}
}
