package app

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/outcrop/outcrop/internal/sdktest"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	agtypes "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/document"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"

	"github.com/outcrop/outcrop/internal/testenv"
)

// TestTripPlannerBuiltinEngine is the end-to-end smoke run of the seed's
// trip planner on the built-in engine (SmolLM2-135M) inside `outcrop
// serve`: flow created over the bedrock-agent REST API, invoked with the
// Go SDK. The tiny model's classification is arbitrary, so the test checks
// the protocol, not the answer: the stream ends with SUCCESS (guide
// branch, one output) or INPUT_REQUIRED (agent branch, a question), and a
// paused execution accepts its resume. The agent node runs the agents
// runtime on an agent created through the bedrock-agent API.
func TestTripPlannerBuiltinEngine(t *testing.T) {
	gguf := testenv.GGUF(t)
	addr, stop, done := startApp(t, fmt.Sprintf(`
listen: 127.0.0.1:0
models:
  - id: amazon.nova-lite-v1:0
    deployments:
      - provider: local
        model: %s
        options: {default_max_tokens: 24}
`, gguf))
	defer func() { stop(); <-done }()
	url := "http://" + addr

	def, err := os.ReadFile("../../examples/flows/trip-planner/flow.json")
	if err != nil {
		t.Fatal(err)
	}
	// Keep the guide short on a shared CPU.
	def = []byte(strings.Replace(string(def), `"maxTokens": 400`, `"maxTokens": 16`, 1))
	// The booking agent, with user input enabled, on the same model.
	ctl := bedrockagent.New(bedrockagent.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", "")})
	ctx := context.Background()
	ag, err := ctl.CreateAgent(ctx, &bedrockagent.CreateAgentInput{AgentName: aws.String("travel"), FoundationModel: aws.String("amazon.nova-lite-v1:0"),
		Instruction: aws.String("You are ACME's travel agent. Book flights; ask the user for any missing detail.")})
	if err != nil {
		t.Fatalf("CreateAgent: %v", err)
	}
	if _, err := ctl.CreateAgentActionGroup(ctx, &bedrockagent.CreateAgentActionGroupInput{AgentId: ag.Agent.AgentId, AgentVersion: aws.String("DRAFT"),
		ActionGroupName: aws.String("UserInputAction"), ParentActionGroupSignature: agtypes.ActionGroupSignatureAmazonUserinput}); err != nil {
		t.Fatalf("CreateAgentActionGroup: %v", err)
	}
	if _, err := ctl.PrepareAgent(ctx, &bedrockagent.PrepareAgentInput{AgentId: ag.Agent.AgentId}); err != nil {
		t.Fatalf("PrepareAgent: %v", err)
	}
	al, err := ctl.CreateAgentAlias(ctx, &bedrockagent.CreateAgentAliasInput{AgentId: ag.Agent.AgentId, AgentAliasName: aws.String("live")})
	if err != nil {
		t.Fatalf("CreateAgentAlias: %v", err)
	}
	def = []byte(strings.Replace(string(def), "arn:aws:bedrock:us-east-1:123456789012:agent-alias/AGENT12345/ALIAS12345", aws.ToString(al.AgentAlias.AgentAliasArn), 1))
	var created struct{ ID string }
	if code := post(t, url+"/flows/", fmt.Sprintf(`{"name":"trip","executionRoleArn":"arn:aws:iam::123456789012:role/r","definition":%s}`, def), &created); code != 201 {
		t.Fatalf("CreateFlow = %d", code)
	}
	if code := post(t, url+"/flows/"+created.ID+"/", ``, nil); code != 202 {
		t.Fatalf("PrepareFlow = %d", code)
	}
	rt := bedrockagentruntime.New(bedrockagentruntime.Options{HTTPClient: sdktest.HTTPClient(), Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", "")})
	invoke := func(execID string, in rttypes.FlowInput) (reason, output, question, id string) {
		req := &bedrockagentruntime.InvokeFlowInput{FlowIdentifier: aws.String(created.ID), FlowAliasIdentifier: aws.String("TSTALIASID"), Inputs: []rttypes.FlowInput{in}}
		if execID != "" {
			req.ExecutionId = aws.String(execID)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := rt.InvokeFlow(ctx, req)
		if err != nil {
			t.Fatalf("InvokeFlow: %v", err)
		}
		st := out.GetStream()
		defer st.Close()
		for ev := range st.Events() {
			switch e := ev.(type) {
			case *rttypes.FlowResponseStreamMemberFlowOutputEvent:
				e.Value.Content.(*rttypes.FlowOutputContentMemberDocument).Value.UnmarshalSmithyDocument(&output)
			case *rttypes.FlowResponseStreamMemberFlowMultiTurnInputRequestEvent:
				e.Value.Content.(*rttypes.FlowMultiTurnInputContentMemberDocument).Value.UnmarshalSmithyDocument(&question)
			case *rttypes.FlowResponseStreamMemberFlowCompletionEvent:
				reason = string(e.Value.CompletionReason)
			}
		}
		if err := st.Err(); err != nil {
			t.Fatalf("InvokeFlow stream: %v", err)
		}
		return reason, output, question, aws.ToString(out.ExecutionId)
	}
	for _, text := range []string{"What's the weather in Paris?", "Book a flight to paris"} {
		reason, output, question, id := invoke("", rttypes.FlowInput{NodeName: aws.String("FlowInputNode"), NodeOutputName: aws.String("document"),
			Content: &rttypes.FlowInputContentMemberDocument{Value: document.NewLazyDocument(text)}})
		t.Logf("%q → %s (output %q, question %q)", text, reason, output, question)
		switch reason {
		case "SUCCESS":
		case "INPUT_REQUIRED":
			if question == "" {
				t.Fatal("INPUT_REQUIRED without a question")
			}
			r2, _, _, _ := invoke(id, rttypes.FlowInput{NodeName: aws.String("Trip_planner"), NodeInputName: aws.String("agentInputText"),
				Content: &rttypes.FlowInputContentMemberDocument{Value: document.NewLazyDocument("MAD, tomorrow, 9:00")}})
			if r2 != "SUCCESS" && r2 != "INPUT_REQUIRED" {
				t.Fatalf("resume ended %q", r2)
			}
		default:
			t.Fatalf("%q ended %q", text, reason)
		}
	}
}

func post(t *testing.T, url, body string, out any) int {
	t.Helper()
	resp, err := httpPost(url, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func httpPost(url, body string) (*http.Response, error) {
	return http.Post(url, "application/json", strings.NewReader(body))
}
