package agent_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	agtypes "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// TestUserConfirmation: a function with requireConfirmation ENABLED is held
// as a USER_CONFIRMATION returnControl; its Lambda runs only after the
// client confirms, and never when the client denies.
func TestUserConfirmation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, storetest.SQLite(t), agent.Limits{})
	e.up.setScript(func(msgs []chatMsg, tools []string) reply {
		last := msgs[len(msgs)-1]
		if last.Role == "tool" {
			return reply{Text: "Result: " + last.text()}
		}
		return reply{Tool: "TravelActions__book_flight", Args: `{"flightId":"BA304"}`}
	})
	ac, rc := e.clients("alice")
	out, err := ac.CreateAgent(ctx, &bedrockagent.CreateAgentInput{AgentName: aws.String("careful"), FoundationModel: aws.String(testModel),
		Instruction: aws.String(travelInstruction)})
	if err != nil {
		t.Fatal(err)
	}
	id := out.Agent.AgentId
	if _, err := ac.CreateAgentActionGroup(ctx, &bedrockagent.CreateAgentActionGroupInput{AgentId: id, AgentVersion: aws.String("DRAFT"),
		ActionGroupName: aws.String("TravelActions"), ActionGroupExecutor: &agtypes.ActionGroupExecutorMemberLambda{Value: travelLambda},
		FunctionSchema: &agtypes.FunctionSchemaMemberFunctions{Value: []agtypes.Function{{Name: aws.String("book_flight"),
			RequireConfirmation: agtypes.RequireConfirmationEnabled,
			Parameters:          map[string]agtypes.ParameterDetail{"flightId": {Type: agtypes.TypeString, Required: aws.Bool(true)}}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.PrepareAgent(ctx, &bedrockagent.PrepareAgentInput{AgentId: id}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		state    rttypes.ConfirmationState
		wantRuns int
		want     string
	}{{rttypes.ConfirmationStateDeny, 0, "denied"}, {rttypes.ConfirmationStateConfirm, 1, "CONFIRMED"}} {
		sess := aws.String("confirm-" + string(tc.state))
		tr := invoke(t, ctx, rc, &bedrockagentruntime.InvokeAgentInput{AgentId: id, AgentAliasId: aws.String("TSTALIASID"), SessionId: sess,
			InputText: aws.String("book BA304")})
		if tr.err != nil || tr.rc == nil {
			t.Fatalf("%s: turn = %+v, want a returnControl", tc.state, tr)
		}
		fi := tr.rc.InvocationInputs[0].(*rttypes.InvocationInputMemberMemberFunctionInvocationInput).Value
		if fi.ActionInvocationType != rttypes.ActionInvocationTypeUserConfirmation || e.lambda.count("book_flight") != 0 {
			t.Fatalf("%s: actionInvocationType %s, lambda runs %d; want USER_CONFIRMATION and none yet", tc.state, fi.ActionInvocationType, e.lambda.count("book_flight"))
		}
		done := invoke(t, ctx, rc, &bedrockagentruntime.InvokeAgentInput{AgentId: id, AgentAliasId: aws.String("TSTALIASID"), SessionId: sess,
			SessionState: &rttypes.SessionState{InvocationId: tr.rc.InvocationId, ReturnControlInvocationResults: []rttypes.InvocationResultMember{
				&rttypes.InvocationResultMemberMemberFunctionResult{Value: rttypes.FunctionResult{ActionGroup: aws.String("TravelActions"),
					Function: aws.String("book_flight"), ConfirmationState: tc.state}}}}})
		if done.err != nil || !strings.Contains(done.text, tc.want) || e.lambda.count("book_flight") != tc.wantRuns {
			t.Fatalf("%s: %+v, lambda runs %d; want %q and %d runs", tc.state, done, e.lambda.count("book_flight"), tc.want, tc.wantRuns)
		}
	}
}
