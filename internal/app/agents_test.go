package app

import (
	"context"
	"fmt"
	"github.com/outcrop/outcrop/internal/sdktest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	agtypes "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"

	"github.com/outcrop/outcrop/internal/testenv"
)

// TestAgentOnBuiltInModel is the end-to-end smoke run of an agent on the
// built-in engine (SmolLM2-135M) through the Go SDKs and the whole app: the
// travel agent is created, prepared and invoked, and each turn must finish
// without an error. What the 135M model says or which tool it picks is not
// checked (docs/AGENTS.md).
func TestAgentOnBuiltInModel(t *testing.T) {
	gguf := testenv.GGUF(t)
	addr, stop, done := startApp(t, fmt.Sprintf(`
listen: 127.0.0.1:0
models:
  - id: smollm
    deployments:
      - provider: local
        model: %s
        options: {default_max_tokens: 24}
agents:
  max_iterations: 4
`, gguf))
	defer func() { stop(); <-done }()
	url := "http://" + addr
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", "")
	ac := bedrockagent.New(bedrockagent.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: creds})
	rt := bedrockagentruntime.New(bedrockagentruntime.Options{HTTPClient: sdktest.HTTPClient(), Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: creds})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	out, err := ac.CreateAgent(ctx, &bedrockagent.CreateAgentInput{AgentName: aws.String("travel"), FoundationModel: aws.String("smollm"),
		Instruction: aws.String("You are a travel agent. Search flights with search_flights and ask the user for missing details.")})
	if err != nil {
		t.Fatal(err)
	}
	id := out.Agent.AgentId
	_, err = ac.CreateAgentActionGroup(ctx, &bedrockagent.CreateAgentActionGroupInput{AgentId: id, AgentVersion: aws.String("DRAFT"),
		ActionGroupName:     aws.String("TravelActions"),
		ActionGroupExecutor: &agtypes.ActionGroupExecutorMemberCustomControl{Value: agtypes.CustomControlMethodReturnControl},
		FunctionSchema: &agtypes.FunctionSchemaMemberFunctions{Value: []agtypes.Function{{Name: aws.String("search_flights"),
			Description: aws.String("Search flights"), Parameters: map[string]agtypes.ParameterDetail{
				"destination": {Type: agtypes.TypeString, Required: aws.Bool(true)}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac.CreateAgentActionGroup(ctx, &bedrockagent.CreateAgentActionGroupInput{AgentId: id, AgentVersion: aws.String("DRAFT"),
		ActionGroupName: aws.String("UserInput"), ParentActionGroupSignature: agtypes.ActionGroupSignatureAmazonUserinput}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.PrepareAgent(ctx, &bedrockagent.PrepareAgentInput{AgentId: id}); err != nil {
		t.Fatal(err)
	}
	// One turn keeps the smoke run short on a shared CPU; the multi-turn
	// booking runs on a scripted upstream in internal/agent.
	for i, text := range []string{"Book me a flight to Paris"} {
		res, err := rt.InvokeAgent(ctx, &bedrockagentruntime.InvokeAgentInput{AgentId: id, AgentAliasId: aws.String("TSTALIASID"),
			SessionId: aws.String("smoke"), InputText: aws.String(text), EnableTrace: aws.Bool(true)})
		if err != nil {
			t.Fatalf("turn %d: InvokeAgent: %v", i, err)
		}
		st := res.GetStream()
		events := 0
		var rc *rttypes.ReturnControlPayload
		for ev := range st.Events() {
			events++
			if r, ok := ev.(*rttypes.ResponseStreamMemberReturnControl); ok {
				rc = &r.Value
			}
		}
		if err := st.Err(); err != nil {
			t.Fatalf("turn %d: stream error: %v", i, err)
		}
		st.Close()
		if events == 0 {
			t.Fatalf("turn %d: no events", i)
		}
		if rc != nil {
			// Answer the hand-back so the next turn starts clean.
			call := rc.InvocationInputs[0].(*rttypes.InvocationInputMemberMemberFunctionInvocationInput)
			res, err := rt.InvokeAgent(ctx, &bedrockagentruntime.InvokeAgentInput{AgentId: id, AgentAliasId: aws.String("TSTALIASID"),
				SessionId: aws.String("smoke"), SessionState: &rttypes.SessionState{InvocationId: rc.InvocationId,
					ReturnControlInvocationResults: []rttypes.InvocationResultMember{&rttypes.InvocationResultMemberMemberFunctionResult{
						Value: rttypes.FunctionResult{ActionGroup: call.Value.ActionGroup, Function: call.Value.Function,
							ResponseBody: map[string]rttypes.ContentBody{"TEXT": {Body: aws.String(`{"flights":[]}`)}}}}}}})
			if err != nil {
				t.Fatalf("turn %d: returning results: %v", i, err)
			}
			st := res.GetStream()
			for range st.Events() {
			}
			if err := st.Err(); err != nil {
				t.Fatalf("turn %d: stream after returning results: %v", i, err)
			}
			st.Close()
		}
	}
}
