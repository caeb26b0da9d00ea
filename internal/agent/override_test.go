package agent_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	agtypes "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// fullTurn is an InvokeAgent call's chunks and traces, decoded by the SDK.
type fullTurn struct {
	chunks []string
	traces []rttypes.Trace
	err    error
}

func (f fullTurn) text() string { return strings.Join(f.chunks, "") }

func invokeFull(t *testing.T, ctx context.Context, c *bedrockagentruntime.Client, in *bedrockagentruntime.InvokeAgentInput) fullTurn {
	t.Helper()
	out, err := c.InvokeAgent(ctx, in)
	if err != nil {
		return fullTurn{err: err}
	}
	st := out.GetStream()
	defer st.Close()
	var f fullTurn
	for ev := range st.Events() {
		switch v := ev.(type) {
		case *rttypes.ResponseStreamMemberChunk:
			f.chunks = append(f.chunks, string(v.Value.Bytes))
		case *rttypes.ResponseStreamMemberTrace:
			f.traces = append(f.traces, v.Value.Trace)
		}
	}
	f.err = st.Err()
	return f
}

// lastUser is the text of the request's last user message.
func lastUser(body map[string]any) string {
	msgs, _ := body["messages"].([]any)
	for i := len(msgs) - 1; i >= 0; i-- {
		m, _ := msgs[i].(map[string]any)
		if m["role"] == "user" {
			return chatMsg{Content: m["content"]}.text()
		}
	}
	return ""
}

// systemText is the text of the request's system message.
func systemText(body map[string]any) string {
	msgs, _ := body["messages"].([]any)
	for _, x := range msgs {
		m, _ := x.(map[string]any)
		if m["role"] == "system" {
			return chatMsg{Content: m["content"]}.text()
		}
	}
	return ""
}

// overrideScript answers the pre-processing step with a category (A for
// anything "dangerous"), the post-processing step with a tagged answer and
// orchestration with a plan.
func overrideScript(msgs []chatMsg, tools []string) reply {
	txt := msgs[len(msgs)-1].text()
	switch {
	case strings.Contains(txt, "Sort the user's latest message") && strings.Contains(txt, "dangerous"):
		return reply{Text: "This asks for harm. <category>A</category>"}
	case strings.Contains(txt, "Sort the user's latest message"):
		return reply{Text: "A travel request. <category>D</category>"}
	case strings.Contains(txt, "polish the final answer"):
		return reply{Text: "<final_response>Your trip to Rome is planned, enjoy.</final_response>"}
	}
	return reply{Text: "Your trip is planned."}
}

// TestPromptOverrides: promptOverrideConfiguration is applied. Enabled
// PRE_PROCESSING screens the input with Outcrop's template (and refuses
// input it finds invalid without running orchestration); an OVERRIDDEN
// ORCHESTRATION template becomes the system prompt with its variables
// filled, and its inferenceConfiguration reaches the model; enabled
// POST_PROCESSING rewrites the answer, parsed by the override Lambda
// (parserMode OVERRIDDEN). Each step shows in its trace.
func TestPromptOverrides(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, storetest.SQLite(t), agent.Limits{})
	e.up.setScript(overrideScript)
	var pmu sync.Mutex
	var parserEvents []map[string]any
	parser := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var ev map[string]any
		_ = json.Unmarshal(raw, &ev)
		pmu.Lock()
		parserEvents = append(parserEvents, ev)
		pmu.Unlock()
		text, _ := ev["invokeModelRawResponse"].(string)
		json.NewEncoder(w).Encode(map[string]any{"messageVersion": "1.0", "promptType": ev["promptType"],
			"postProcessingParsedResponse": map[string]any{"responseText": "POLISHED: " + text}})
	}))
	t.Cleanup(parser.Close)
	const parserARN = "arn:aws:lambda:us-east-1:000000000000:function:parser"
	e.extraLambdas = map[string]string{parserARN: parser.URL}
	url := e.replica(t)
	ac, rc := e.clientsAt(url, "alice")

	const tpl = "ROLE: $instruction$ | CONTEXT: $prompt_session_attributes$ | MEMORY: $memory_content$."
	over := &agtypes.PromptOverrideConfiguration{OverrideLambda: aws.String(parserARN), PromptConfigurations: []agtypes.PromptConfiguration{
		{PromptType: agtypes.PromptTypePreProcessing, PromptState: agtypes.PromptStateEnabled, PromptCreationMode: agtypes.CreationModeDefault},
		{PromptType: agtypes.PromptTypeOrchestration, PromptState: agtypes.PromptStateEnabled, PromptCreationMode: agtypes.CreationModeOverridden,
			BasePromptTemplate:     aws.String(tpl),
			InferenceConfiguration: &agtypes.InferenceConfiguration{Temperature: aws.Float32(0.25), MaximumLength: aws.Int32(77)}},
		{PromptType: agtypes.PromptTypePostProcessing, PromptState: agtypes.PromptStateEnabled, PromptCreationMode: agtypes.CreationModeDefault,
			ParserMode: agtypes.CreationModeOverridden},
	}}
	out, err := ac.CreateAgent(ctx, &bedrockagent.CreateAgentInput{AgentName: aws.String("overridden"), FoundationModel: aws.String(testModel),
		Instruction: aws.String(travelInstruction), PromptOverrideConfiguration: over})
	if err != nil {
		t.Fatal(err)
	}
	id := out.Agent.AgentId
	if _, err := ac.PrepareAgent(ctx, &bedrockagent.PrepareAgentInput{AgentId: id}); err != nil {
		t.Fatal(err)
	}

	ft := invokeFull(t, ctx, rc, &bedrockagentruntime.InvokeAgentInput{AgentId: id, AgentAliasId: aws.String("TSTALIASID"),
		SessionId: aws.String("s-over"), InputText: aws.String("Plan my trip to Rome"), EnableTrace: aws.Bool(true),
		SessionState: &rttypes.SessionState{PromptSessionAttributes: map[string]string{"city": "Rome"}}})
	if ft.err != nil {
		t.Fatal(ft.err)
	}
	want := "POLISHED: <final_response>Your trip to Rome is planned, enjoy.</final_response>"
	if ft.text() != want {
		t.Fatalf("answer %q, want the post-processing output as parsed by the override Lambda %q", ft.text(), want)
	}
	reqs := e.up.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d model calls, want pre-processing, orchestration, post-processing", len(reqs))
	}
	pre, orch, post := reqs[0], reqs[1], reqs[2]
	if u := lastUser(pre); !strings.Contains(u, "Sort the user's latest message") || !strings.Contains(u, "Plan my trip to Rome") ||
		!strings.Contains(u, travelInstruction) {
		t.Errorf("pre-processing prompt = %q", u)
	}
	wantSys := "ROLE: " + travelInstruction + " | CONTEXT: - city: Rome | MEMORY: ."
	if got := systemText(orch); got != wantSys {
		t.Errorf("orchestration system prompt = %q, want %q", got, wantSys)
	}
	if temp, _ := orch["temperature"].(float64); math.Abs(temp-0.25) > 1e-6 {
		t.Errorf("orchestration temperature = %v, want 0.25", orch["temperature"])
	}
	if mt, _ := orch["max_tokens"].(float64); mt != 77 {
		t.Errorf("orchestration max_tokens = %v, want 77", orch["max_tokens"])
	}
	if _, ok := pre["temperature"]; ok {
		t.Errorf("the pre-processing call got the orchestration's temperature")
	}
	if u := lastUser(post); !strings.Contains(u, "polish the final answer") || !strings.Contains(u, "Your trip is planned.") ||
		!strings.Contains(u, "Plan my trip to Rome") {
		t.Errorf("post-processing prompt = %q", u)
	}
	pmu.Lock()
	if len(parserEvents) != 1 || parserEvents[0]["promptType"] != "POST_PROCESSING" || parserEvents[0]["overrideType"] != "OUTPUT_PARSER" ||
		parserEvents[0]["invokeModelRawResponse"] != "<final_response>Your trip to Rome is planned, enjoy.</final_response>" ||
		parserEvents[0]["messageVersion"] != "1.0" {
		t.Errorf("parser Lambda events = %v", parserEvents)
	}
	pmu.Unlock()

	var preValid *bool
	var postText, orchMode, preType string
	for _, tr := range ft.traces {
		switch v := tr.(type) {
		case *rttypes.TraceMemberPreProcessingTrace:
			switch p := v.Value.(type) {
			case *rttypes.PreProcessingTraceMemberModelInvocationInput:
				preType = string(p.Value.Type)
			case *rttypes.PreProcessingTraceMemberModelInvocationOutput:
				preValid = p.Value.ParsedResponse.IsValid
				if p.Value.RawResponse == nil || !strings.Contains(*p.Value.RawResponse.Content, "<category>D</category>") {
					t.Errorf("pre-processing raw response = %+v", p.Value.RawResponse)
				}
			}
		case *rttypes.TraceMemberPostProcessingTrace:
			if p, ok := v.Value.(*rttypes.PostProcessingTraceMemberModelInvocationOutput); ok {
				postText = *p.Value.ParsedResponse.Text
			}
		case *rttypes.TraceMemberOrchestrationTrace:
			if p, ok := v.Value.(*rttypes.OrchestrationTraceMemberModelInvocationInput); ok {
				orchMode = string(p.Value.PromptCreationMode)
			}
		}
	}
	if preType != "PRE_PROCESSING" || preValid == nil || !*preValid || postText != want || orchMode != "OVERRIDDEN" {
		t.Errorf("traces: pre type %q valid %v, post text %q, orchestration mode %q", preType, preValid, postText, orchMode)
	}

	// Input pre-processing finds invalid is refused; orchestration does
	// not run.
	before := len(e.up.requests())
	bad := invokeFull(t, ctx, rc, &bedrockagentruntime.InvokeAgentInput{AgentId: id, AgentAliasId: aws.String("TSTALIASID"),
		SessionId: aws.String("s-over"), InputText: aws.String("Something dangerous")})
	if bad.err != nil || bad.text() != "I can't help with that request." {
		t.Fatalf("invalid input = %+v", bad)
	}
	if n := len(e.up.requests()) - before; n != 1 {
		t.Fatalf("%d model calls for refused input, want only pre-processing", n)
	}

	// Overrides Outcrop cannot apply are refused at creation.
	for name, pc := range map[string]*agtypes.PromptOverrideConfiguration{
		"orchestration parser": {OverrideLambda: aws.String(parserARN), PromptConfigurations: []agtypes.PromptConfiguration{
			{PromptType: agtypes.PromptTypeOrchestration, ParserMode: agtypes.CreationModeOverridden}}},
		"parser without a Lambda": {PromptConfigurations: []agtypes.PromptConfiguration{
			{PromptType: agtypes.PromptTypePostProcessing, ParserMode: agtypes.CreationModeOverridden}}},
		"overridden without a template": {PromptConfigurations: []agtypes.PromptConfiguration{
			{PromptType: agtypes.PromptTypePreProcessing, PromptCreationMode: agtypes.CreationModeOverridden}}},
		"temperature out of range": {PromptConfigurations: []agtypes.PromptConfiguration{
			{PromptType: agtypes.PromptTypeOrchestration, InferenceConfiguration: &agtypes.InferenceConfiguration{Temperature: aws.Float32(3)}}}},
	} {
		_, err := ac.CreateAgent(ctx, &bedrockagent.CreateAgentInput{AgentName: aws.String("bad-override"), FoundationModel: aws.String(testModel),
			Instruction: aws.String(travelInstruction), PromptOverrideConfiguration: pc})
		wantAPIError(t, name, err, "ValidationException", 400)
	}
}
