package agent_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// inlineTurn is what one InvokeInlineAgent call streamed.
type inlineTurn struct {
	text   string
	rc     *rttypes.InlineAgentReturnControlPayload
	traces []rttypes.Trace
	err    error
}

func invokeInline(t *testing.T, ctx context.Context, c *bedrockagentruntime.Client, in *bedrockagentruntime.InvokeInlineAgentInput) inlineTurn {
	t.Helper()
	out, err := c.InvokeInlineAgent(ctx, in)
	if err != nil {
		return inlineTurn{err: err}
	}
	st := out.GetStream()
	defer st.Close()
	var tr inlineTurn
	var b strings.Builder
	for ev := range st.Events() {
		switch v := ev.(type) {
		case *rttypes.InlineAgentResponseStreamMemberChunk:
			b.Write(v.Value.Bytes)
		case *rttypes.InlineAgentResponseStreamMemberReturnControl:
			rc := v.Value
			tr.rc = &rc
		case *rttypes.InlineAgentResponseStreamMemberTrace:
			tr.traces = append(tr.traces, v.Value.Trace)
		}
	}
	tr.text, tr.err = b.String(), st.Err()
	if tr.err == nil && *out.SessionId != *in.SessionId {
		t.Errorf("session id header %q, want %q", *out.SessionId, *in.SessionId)
	}
	return tr
}

// inlineTravelGroups is the travel agent's action groups in
// InvokeInlineAgent's shape.
func inlineTravelGroups() []rttypes.AgentActionGroup {
	str := func(d string, req bool) rttypes.ParameterDetail {
		return rttypes.ParameterDetail{Type: rttypes.ParameterTypeString, Description: aws.String(d), Required: aws.Bool(req)}
	}
	return []rttypes.AgentActionGroup{
		{ActionGroupName: aws.String("TravelActions"), ActionGroupExecutor: &rttypes.ActionGroupExecutorMemberLambda{Value: travelLambda},
			FunctionSchema: &rttypes.FunctionSchemaMemberFunctions{Value: []rttypes.FunctionDefinition{
				{Name: aws.String("search_flights"), Description: aws.String("Search available flights"), Parameters: map[string]rttypes.ParameterDetail{
					"origin": str("departure city", true), "destination": str("arrival city", true), "date": str("date, YYYY-MM-DD", true)}},
				{Name: aws.String("book_flight"), Description: aws.String("Book a flight found by search_flights"), Parameters: map[string]rttypes.ParameterDetail{
					"flightId": str("flight id", true), "passenger": str("passenger name", false)}},
			}}},
		{ActionGroupName: aws.String("HotelActions"), ActionGroupExecutor: &rttypes.ActionGroupExecutorMemberCustomControl{Value: rttypes.CustomControlMethodReturnControl},
			FunctionSchema: &rttypes.FunctionSchemaMemberFunctions{Value: []rttypes.FunctionDefinition{
				{Name: aws.String("search_hotels"), Description: aws.String("Search hotels in a city"), Parameters: map[string]rttypes.ParameterDetail{
					"city": str("city", true)}}}}},
		{ActionGroupName: aws.String("UserInputAction"), ParentActionGroupSignature: rttypes.ActionGroupSignatureAmazonUserinput},
	}
}

// TestInlineAgentThroughGoSDK: InvokeInlineAgent runs the travel agent
// defined in the request (Lambda, RETURN_CONTROL and user-input action
// groups) over several turns of one session, through aws-sdk-go-v2.
func TestInlineAgentThroughGoSDK(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, agent.Limits{})
		e.up.setScript(travelScript)
		_, rc := e.clients("alice")
		sess := aws.String("inline-session-1")
		in := func(text string, st *rttypes.InlineSessionState) *bedrockagentruntime.InvokeInlineAgentInput {
			x := &bedrockagentruntime.InvokeInlineAgentInput{SessionId: sess, FoundationModel: aws.String(testModel),
				Instruction: aws.String(travelInstruction), ActionGroups: inlineTravelGroups(), EnableTrace: aws.Bool(true),
				InlineSessionState: st}
			if text != "" {
				x.InputText = aws.String(text)
			}
			return x
		}
		t1 := invokeInline(t, ctx, rc, in("Book me a flight to Paris for Ana", nil))
		if t1.err != nil || !strings.Contains(t1.text, "Where are you flying from") {
			t.Fatalf("turn 1 = %+v (%v), want the agent's question", t1, t1.err)
		}
		if len(t1.traces) == 0 {
			t.Fatalf("turn 1 with enableTrace streamed no traces")
		}
		if _, ok := t1.traces[0].(*rttypes.TraceMemberOrchestrationTrace); !ok {
			t.Fatalf("first trace is %T, want an orchestration trace", t1.traces[0])
		}
		t2 := invokeInline(t, ctx, rc, in("From London on 2026-12-24", nil))
		if t2.err != nil || !strings.Contains(t2.text, "Confirmation XYZ789") {
			t.Fatalf("turn 2 = %+v (%v), want the booking confirmation", t2, t2.err)
		}
		if e.lambda.count("search_flights") != 1 || e.lambda.count("book_flight") != 1 {
			t.Fatalf("lambda calls = %v", e.lambda.counts)
		}
		h1 := invokeInline(t, ctx, rc, in("Now find me a hotel there", nil))
		if h1.err != nil || h1.rc == nil {
			t.Fatalf("hotel turn = %+v, want returnControl", h1)
		}
		fi, ok := h1.rc.InvocationInputs[0].(*rttypes.InvocationInputMemberMemberFunctionInvocationInput)
		if !ok || *fi.Value.Function != "search_hotels" || *fi.Value.Parameters[0].Value != "Paris" {
			t.Fatalf("returnControl input = %#v", h1.rc.InvocationInputs[0])
		}
		h2 := invokeInline(t, ctx, rc, in("", &rttypes.InlineSessionState{InvocationId: h1.rc.InvocationId,
			ReturnControlInvocationResults: []rttypes.InvocationResultMember{&rttypes.InvocationResultMemberMemberFunctionResult{
				Value: rttypes.FunctionResult{ActionGroup: aws.String("HotelActions"), Function: aws.String("search_hotels"),
					ResponseBody: map[string]rttypes.ContentBody{"TEXT": {Body: aws.String(`[{"name":"Hotel Lumiere"}]`)}}}}}}))
		if h2.err != nil || !strings.Contains(h2.text, "Hotel Lumiere") {
			t.Fatalf("after returning results = %+v", h2)
		}

		// Inline sessions are the caller's, like stored-agent sessions.
		_, brc := e.clients("bob")
		steal := invokeInline(t, ctx, brc, in("From London on 2026-12-24", nil))
		wantAPIError(t, "bob on alice's inline session", steal.err, "AccessDeniedException", 403)
		// Tool policy applies to inline agents (ARN agent-tool/INLINE/…):
		// bob may not book, however the model insists.
		e.up.setScript(insistScript)
		bob := invokeInline(t, ctx, brc, &bedrockagentruntime.InvokeInlineAgentInput{SessionId: aws.String("inline-bob"),
			FoundationModel: aws.String(testModel), Instruction: aws.String(travelInstruction), ActionGroups: inlineTravelGroups(),
			InputText: aws.String("Book flight BA304 now")})
		if bob.err != nil || !strings.Contains(bob.text, "not allowed") {
			t.Fatalf("bob's insisting inline agent = %+v", bob)
		}
		if n := e.lambda.count("book_flight"); n != 1 {
			t.Fatalf("book_flight ran %d times; only alice's booking may run", n)
		}

		bad := []struct {
			name string
			in   *bedrockagentruntime.InvokeInlineAgentInput
			code string
		}{
			{"short instruction", &bedrockagentruntime.InvokeInlineAgentInput{SessionId: aws.String("bad-1"), FoundationModel: aws.String(testModel),
				Instruction: aws.String("too short"), InputText: aws.String("hi")}, "ValidationException"},
			{"unknown model", &bedrockagentruntime.InvokeInlineAgentInput{SessionId: aws.String("bad-2"), FoundationModel: aws.String("no-such-model"),
				Instruction: aws.String(travelInstruction), InputText: aws.String("hi")}, "ValidationException"},
			{"knowledge bases", &bedrockagentruntime.InvokeInlineAgentInput{SessionId: aws.String("bad-3"), FoundationModel: aws.String(testModel),
				Instruction: aws.String(travelInstruction), InputText: aws.String("hi"),
				KnowledgeBases: []rttypes.KnowledgeBase{{KnowledgeBaseId: aws.String("KB12345678"), Description: aws.String("docs")}}}, "ValidationException"},
			{"bad function schema", &bedrockagentruntime.InvokeInlineAgentInput{SessionId: aws.String("bad-4"), FoundationModel: aws.String(testModel),
				Instruction: aws.String(travelInstruction), InputText: aws.String("hi"), ActionGroups: []rttypes.AgentActionGroup{{
					ActionGroupName: aws.String("G"), ActionGroupExecutor: &rttypes.ActionGroupExecutorMemberCustomControl{Value: rttypes.CustomControlMethodReturnControl},
					FunctionSchema: &rttypes.FunctionSchemaMemberFunctions{Value: []rttypes.FunctionDefinition{{Name: aws.String("f"),
						Parameters: map[string]rttypes.ParameterDetail{"p": {Type: "float128"}}}}}}}}, "ValidationException"},
			{"returnControl results without a pending call", &bedrockagentruntime.InvokeInlineAgentInput{SessionId: aws.String("bad-5"),
				FoundationModel: aws.String(testModel), Instruction: aws.String(travelInstruction), InlineSessionState: &rttypes.InlineSessionState{
					InvocationId: aws.String("x"), ReturnControlInvocationResults: []rttypes.InvocationResultMember{&rttypes.InvocationResultMemberMemberFunctionResult{
						Value: rttypes.FunctionResult{ActionGroup: aws.String("HotelActions"), Function: aws.String("search_hotels")}}}}}, "ValidationException"},
		}
		for _, c := range bad {
			tr := invokeInline(t, ctx, rc, c.in)
			wantAPIError(t, c.name, tr.err, c.code, 400)
		}
	})
}
