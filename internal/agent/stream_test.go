package agent_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	agtypes "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/guardrail"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

const longAnswer = "Your flight BA304 from London to Paris on 2026-12-24 is booked and paid. Confirmation XYZ789. Have a pleasant trip!"

// TestStreamFinalResponse: with streamingConfigurations.streamFinalResponse
// the final answer arrives in several chunks of at least
// applyGuardrailInterval characters as the model writes it; without it,
// in one chunk. A question of AMAZON.UserInput is one chunk either way.
func TestStreamFinalResponse(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, storetest.SQLite(t), agent.Limits{})
	e.up.setScript(func(msgs []chatMsg, tools []string) reply {
		if strings.Contains(msgs[len(msgs)-1].text(), "ask me") {
			return reply{Tool: "AskUser", Args: `{"question": "Where are you flying from, and on which date?"}`}
		}
		return reply{Text: longAnswer}
	})
	ac, rc := e.clients("alice")
	id := createTravelAgent(t, ctx, ac, "travel")
	in := func(sess, text string, sc *rttypes.StreamingConfigurations) *bedrockagentruntime.InvokeAgentInput {
		return &bedrockagentruntime.InvokeAgentInput{AgentId: aws.String(id), AgentAliasId: aws.String("TSTALIASID"),
			SessionId: aws.String(sess), InputText: aws.String(text), StreamingConfigurations: sc}
	}
	whole := invokeFull(t, ctx, rc, in("s-whole", "book it", nil))
	if whole.err != nil || len(whole.chunks) != 1 || whole.text() != longAnswer {
		t.Fatalf("without streaming: %d chunks %q, %v; want the answer in one chunk", len(whole.chunks), whole.chunks, whole.err)
	}
	streamed := invokeFull(t, ctx, rc, in("s-stream", "book it", &rttypes.StreamingConfigurations{StreamFinalResponse: true, ApplyGuardrailInterval: aws.Int32(20)}))
	if streamed.err != nil || streamed.text() != longAnswer {
		t.Fatalf("streamed answer %q, %v; want %q", streamed.text(), streamed.err, longAnswer)
	}
	if len(streamed.chunks) < 4 {
		t.Fatalf("streamed answer in %d chunks %q, want at least 4 of ≥ 20 characters", len(streamed.chunks), streamed.chunks)
	}
	for i, c := range streamed.chunks[:len(streamed.chunks)-1] {
		if utf8.RuneCountInString(c) < 20 {
			t.Errorf("chunk %d %q is shorter than applyGuardrailInterval", i, c)
		}
	}
	q := invokeFull(t, ctx, rc, in("s-ask", "ask me", &rttypes.StreamingConfigurations{StreamFinalResponse: true, ApplyGuardrailInterval: aws.Int32(5)}))
	if q.err != nil || len(q.chunks) != 1 || q.text() != "Where are you flying from, and on which date?" {
		t.Fatalf("question with streaming = %q, %v", q.chunks, q.err)
	}
	bad := invokeFull(t, ctx, rc, in("s-bad", "book it", &rttypes.StreamingConfigurations{StreamFinalResponse: true, ApplyGuardrailInterval: aws.Int32(0)}))
	wantAPIError(t, "applyGuardrailInterval 0", bad.err, "ValidationException", 400)
}

// TestAgentGuardrail: the agent's guardrailConfiguration applies to its
// model calls: input with a denied word gets the guardrail's input message
// without reaching the model, a model answer with it is replaced by the
// output message, also when the answer is streamed.
func TestAgentGuardrail(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, storetest.SQLite(t), agent.Limits{})
	e.up.setScript(func(msgs []chatMsg, tools []string) reply {
		if strings.Contains(msgs[len(msgs)-1].text(), "secret") {
			return reply{Text: "The code word is kaboom, keep it safe."}
		}
		return reply{Text: "Hello there."}
	})
	g, err := e.guards.Create(ctx, &guardrail.Definition{Name: "agent-guard", BlockedInputMessaging: "BLOCKED INPUT",
		BlockedOutputsMessaging: "BLOCKED OUTPUT", WordPolicyConfig: &guardrail.WordPolicyConfig{WordsConfig: []guardrail.Word{{Text: "kaboom"}}}})
	if err != nil {
		t.Fatal(err)
	}
	ac, rc := e.clients("alice")
	out, err := ac.CreateAgent(ctx, &bedrockagent.CreateAgentInput{AgentName: aws.String("guarded"), FoundationModel: aws.String(testModel),
		Instruction: aws.String(travelInstruction), GuardrailConfiguration: &agtypes.GuardrailConfiguration{
			GuardrailIdentifier: aws.String(g.GuardrailID), GuardrailVersion: aws.String("DRAFT")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac.PrepareAgent(ctx, &bedrockagent.PrepareAgentInput{AgentId: out.Agent.AgentId}); err != nil {
		t.Fatal(err)
	}
	in := func(sess, text string, sc *rttypes.StreamingConfigurations) *bedrockagentruntime.InvokeAgentInput {
		return &bedrockagentruntime.InvokeAgentInput{AgentId: out.Agent.AgentId, AgentAliasId: aws.String("TSTALIASID"),
			SessionId: aws.String(sess), InputText: aws.String(text), StreamingConfigurations: sc, EnableTrace: aws.Bool(true)}
	}
	before := e.up.calls.Load()
	blockedIn := invokeFull(t, ctx, rc, in("g-1", "what does kaboom mean?", nil))
	if blockedIn.err != nil || blockedIn.text() != "BLOCKED INPUT" {
		t.Fatalf("denied word in the input = %q, %v; want the guardrail's input message", blockedIn.text(), blockedIn.err)
	}
	if e.up.calls.Load() != before {
		t.Fatalf("the model was called with blocked input")
	}
	blockedOut := invokeFull(t, ctx, rc, in("g-2", "tell me the secret", nil))
	if blockedOut.err != nil || blockedOut.text() != "BLOCKED OUTPUT" {
		t.Fatalf("denied word in the answer = %q, %v; want the guardrail's output message", blockedOut.text(), blockedOut.err)
	}
	streamed := invokeFull(t, ctx, rc, in("g-3", "tell me the secret", &rttypes.StreamingConfigurations{StreamFinalResponse: true, ApplyGuardrailInterval: aws.Int32(10)}))
	if streamed.err != nil || strings.Contains(streamed.text(), "kaboom") || !strings.Contains(streamed.text(), "BLOCKED OUTPUT") {
		t.Fatalf("streamed answer with a denied word = %q, %v", streamed.chunks, streamed.err)
	}
	ok := invokeFull(t, ctx, rc, in("g-4", "hello", nil))
	if ok.err != nil || ok.text() != "Hello there." {
		t.Fatalf("clean turn = %q, %v", ok.text(), ok.err)
	}
}
