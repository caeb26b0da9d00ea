package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
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
	smithy "github.com/aws/smithy-go"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/flow"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/jobs"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/prompt"
	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/provider/providertest"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
	"github.com/outcrop/outcrop/internal/testenv"
)

// tripModel is the model the trip planner's prompt nodes and agent use.
const tripModel = "amazon.nova-lite-v1:0"

// tripUpstream is a scripted OpenAI-compatible upstream for the trip
// planner: the classifier answers A for booking requests and B otherwise,
// the guide answers, and the booking agent asks twice (tool calls of
// AskUser) before it books.
func tripUpstream(t *testing.T) *providertest.Upstream {
	return providertest.NewUpstreamFunc(t, tripPick)
}

// tripPick is tripUpstream's script.
func tripPick(c providertest.Call) *providertest.Fixture {
	{
		body := string(c.Body)
		stream := strings.Contains(body, `"stream":true`)
		switch {
		case strings.Contains(body, "query classifier"):
			letter := "B"
			_, req, _ := strings.Cut(body, "Analyze the ")
			req, _, _ = strings.Cut(req, " and respond")
			if strings.Contains(strings.ToLower(req), "book") {
				letter = "A"
			}
			return chatFixture(stream, letter, "")
		case strings.Contains(body, "AcmeGuide"):
			return chatFixture(stream, "Paris is best in spring; see the Louvre.", "")
		case strings.Contains(body, flow.AskUserTool):
			switch strings.Count(body, `"role":"tool"`) {
			case 0:
				return chatFixture(stream, "", `{"question":"From which airport, and on what date?"}`)
			case 1:
				// Slow, so that concurrent resumes meet a running execution.
				f := chatFixture(stream, "", `{"question":"At what time?"}`)
				f.Response = "@@ sleep 300ms\n" + f.Response
				return f
			default:
				return chatFixture(stream, "Booked: MAD to CDG on 20250214 at 20:43.", "")
			}
		}
		return nil
	}
}

// chatFixture answers a chat completion with text, or with a call of the
// AskUser tool with the given arguments.
func chatFixture(stream bool, text, askArgs string) *providertest.Fixture {
	msg := map[string]any{"role": "assistant", "content": text}
	finish := "stop"
	if askArgs != "" {
		msg["content"] = ""
		msg["tool_calls"] = []map[string]any{{"index": 0, "id": "call_1", "type": "function", "function": map[string]string{"name": flow.AskUserTool, "arguments": askArgs}}}
		finish = "tool_calls"
	}
	usage := map[string]int{"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
	if !stream {
		b, _ := json.Marshal(map[string]any{"id": "c1", "object": "chat.completion", "model": "fixture-model",
			"choices": []map[string]any{{"index": 0, "message": msg, "finish_reason": finish}}, "usage": usage})
		return &providertest.Fixture{Response: "HTTP/1.1 200 OK\nContent-Type: application/json\n\n" + string(b) + "\n"}
	}
	c1, _ := json.Marshal(map[string]any{"id": "c1", "object": "chat.completion.chunk", "model": "fixture-model",
		"choices": []map[string]any{{"index": 0, "delta": msg, "finish_reason": nil}}})
	c2, _ := json.Marshal(map[string]any{"id": "c1", "object": "chat.completion.chunk", "model": "fixture-model",
		"choices": []map[string]any{{"index": 0, "delta": map[string]any{}, "finish_reason": finish}}, "usage": usage})
	return &providertest.Fixture{Response: "HTTP/1.1 200 OK\nContent-Type: text/event-stream\n\ndata: " + string(c1) + "\n\ndata: " + string(c2) + "\n\ndata: [DONE]\n\n"}
}

// flowServer is an Outcrop server with the flows route group on db, whose
// models are served by upstream through the whole gateway pipeline.
type flowServer struct {
	URL      string
	Executor *flow.Executor
	Queue    jobs.Queue
}

func newFlowServer(t testing.TB, db *store.DB, dsn, upstreamURL string, lease time.Duration, opts ...func(*flow.ExecutorOptions)) *flowServer {
	t.Helper()
	p, err := openai.New(openai.Config{BaseURL: upstreamURL, Model: "fixture-model"})
	if err != nil {
		t.Fatal(err)
	}
	router := routing.New([]*routing.Model{{ID: tripModel, Deployments: []*routing.Deployment{{Name: "scripted", Provider: p, Type: "openai", Weight: 1}}}})
	gw := gateway.New(gateway.Options{Final: router.Route})
	rs := resource.NewStore(db, resource.Scope{}, nil)
	ctl := agent.NewControl(rs, func(id string) bool { _, ok := router.Lookup(id); return ok })
	agents := agent.NewService(agent.Options{
		Control: ctl,
		Converse: func(ctx context.Context, req *llm.Request) (llm.Stream, error) {
			return gw.Do(ctx, &gateway.Call{API: "bedrock", Op: "InvokeAgent", Action: ActionInvokeModel, Resource: ModelARN("us-east-1", req.Model), Request: req})
		},
		Authorize: func(ctx context.Context, action, res string) error { return nil },
	})
	prompts := prompt.NewRegistry(rs, func(id string) bool { _, ok := router.Lookup(id); return ok })
	render := func(ctx context.Context, arn string, vars map[string]string) (*llm.Request, error) {
		return prompts.Render(ctx, resource.Account(ctx, rs.Scope()), arn, vars)
	}
	xo := flow.ExecutorOptions{DB: db, Lease: lease, Nodes: &flow.Runner{Models: gw, Prompts: render, Agents: &flow.RuntimeAgents{Runtime: agents}}}
	for _, o := range opts {
		o(&xo)
	}
	x := flow.NewExecutor(xo)
	q, err := jobs.New(context.Background(), db, jobs.Options{PostgresDSN: dsn, Poll: 20 * time.Millisecond, Lease: lease,
		Handlers: map[string]jobs.Handler{flow.JobKind: x.RunJob}})
	if err != nil {
		t.Fatal(err)
	}
	x.SetQueue(q)
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
	srv := New(Deps{Gateway: gw, Router: router, Groups: []RouteGroup{&Flows{Store: rs, Executor: x}, &Agents{Control: ctl, Runtime: agents}, &Prompts{Registry: prompts}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return &flowServer{URL: "http://" + ln.Addr().String(), Executor: x, Queue: q}
}

func agentClients(url string) (*bedrockagent.Client, *bedrockagentruntime.Client) {
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", "")
	return bedrockagent.New(bedrockagent.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: creds}),
		bedrockagentruntime.New(bedrockagentruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: creds,
			HTTPClient: ownedBodyClient{&http.Client{Transport: &http.Transport{}}}})
}

// ownedBodyClient sends each request with a body of its own (a copy of the
// SDK's). Why: with event-stream operations, smithy-go closes the request
// body as soon as the response headers arrive. net/http's writeLoop, after
// writing Content-Length bytes, reads the body once more to check that it
// has ended; when a fast server (loopback) has already answered, that read
// meets the closed body, writeLoop fails and closes the connection, and the
// event-stream reader of the response on it gets "read tcp …: use of
// closed network connection" (aws-sdk-go-v2#2737; the stack is
// persistConn.writeLoop → close). The server is not involved: it reads the
// whole request before answering and keeps the connection alive after the
// stream (TestInvokeFlowKeepAlive). With a body the SDK cannot close, the
// SDK clients here keep one connection across every InvokeFlow.
type ownedBodyClient struct{ c *http.Client }

// Do implements the SDK's HTTPClient.
func (o ownedBodyClient) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		req.ContentLength = int64(len(b))
	}
	return o.c.Do(req)
}

// exampleAliasARN is the agent alias ARN in examples/flows/trip-planner/flow.json.
const exampleAliasARN = "arn:aws:bedrock:us-east-1:123456789012:agent-alias/AGENT12345/ALIAS12345"

// tripDefinition is the example flow with its agent node pointing at aliasARN.
func tripDefinition(t *testing.T, aliasARN string) *agtypes.FlowDefinition {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "examples", "flows", "trip-planner", "flow.json"))
	if err != nil {
		t.Fatal(err)
	}
	return sdkDefinition(t, []byte(strings.Replace(string(b), exampleAliasARN, aliasARN, 1)))
}

// createTravelAgent creates the seed's booking agent (user input enabled)
// through the Go SDK and returns its alias ARN.
func createTravelAgent(t *testing.T, ctl *bedrockagent.Client) string {
	t.Helper()
	ctx := context.Background()
	ag, err := ctl.CreateAgent(ctx, &bedrockagent.CreateAgentInput{AgentName: aws.String("ACME-travel-agent"), FoundationModel: aws.String(tripModel),
		Instruction: aws.String("You are ACME's travel agent. Search and book flights and hotels; ask the user for any missing detail.")})
	if err != nil {
		t.Fatalf("CreateAgent: %v", err)
	}
	id := ag.Agent.AgentId
	if _, err := ctl.CreateAgentActionGroup(ctx, &bedrockagent.CreateAgentActionGroupInput{AgentId: id, AgentVersion: aws.String("DRAFT"),
		ActionGroupName: aws.String("UserInputAction"), ParentActionGroupSignature: agtypes.ActionGroupSignatureAmazonUserinput}); err != nil {
		t.Fatalf("CreateAgentActionGroup: %v", err)
	}
	if _, err := ctl.PrepareAgent(ctx, &bedrockagent.PrepareAgentInput{AgentId: id}); err != nil {
		t.Fatalf("PrepareAgent: %v", err)
	}
	al, err := ctl.CreateAgentAlias(ctx, &bedrockagent.CreateAgentAliasInput{AgentId: id, AgentAliasName: aws.String("live")})
	if err != nil {
		t.Fatalf("CreateAgentAlias: %v", err)
	}
	return aws.ToString(al.AgentAlias.AgentAliasArn)
}

// sdkDefinition decodes a definition JSON into the Go SDK's types through
// a round trip of the SDK's own serializer-compatible shape.
func sdkDefinition(t *testing.T, b []byte) *agtypes.FlowDefinition {
	t.Helper()
	def, err := flow.ParseDefinition(b)
	if err != nil {
		t.Fatal(err)
	}
	out := &agtypes.FlowDefinition{}
	for _, n := range def.Nodes {
		sn := agtypes.FlowNode{Name: aws.String(n.Name), Type: agtypes.FlowNodeType(n.Type)}
		for _, in := range n.Inputs {
			sn.Inputs = append(sn.Inputs, agtypes.FlowNodeInput{Name: aws.String(in.Name), Type: agtypes.FlowNodeIODataType(in.Type), Expression: aws.String(in.Expression)})
		}
		for _, o := range n.Outputs {
			sn.Outputs = append(sn.Outputs, agtypes.FlowNodeOutput{Name: aws.String(o.Name), Type: agtypes.FlowNodeIODataType(o.Type)})
		}
		switch n.Type {
		case flow.NodeInputT:
			sn.Configuration = &agtypes.FlowNodeConfigurationMemberInput{}
		case flow.NodeOutputT:
			sn.Configuration = &agtypes.FlowNodeConfigurationMemberOutput{}
		case flow.NodeAgent:
			var ac flow.AgentConfig
			json.Unmarshal(n.Configuration["agent"], &ac)
			sn.Configuration = &agtypes.FlowNodeConfigurationMemberAgent{Value: agtypes.AgentFlowNodeConfiguration{AgentAliasArn: aws.String(ac.AgentAliasARN)}}
		case flow.NodeCondition:
			var cc flow.ConditionConfig
			json.Unmarshal(n.Configuration["condition"], &cc)
			var conds []agtypes.FlowCondition
			for _, c := range cc.Conditions {
				conds = append(conds, agtypes.FlowCondition{Name: aws.String(c.Name), Expression: c.Expression})
			}
			sn.Configuration = &agtypes.FlowNodeConfigurationMemberCondition{Value: agtypes.ConditionFlowNodeConfiguration{Conditions: conds}}
		case flow.NodePrompt:
			var pc flow.PromptConfig
			json.Unmarshal(n.Configuration["prompt"], &pc)
			inl := pc.SourceConfiguration.Inline
			var vars []agtypes.PromptInputVariable
			for _, v := range inl.TemplateConfiguration.Text.InputVariables {
				vars = append(vars, agtypes.PromptInputVariable{Name: aws.String(v.Name)})
			}
			var temp *float32
			if inl.InferenceConfiguration.Text.Temperature != nil {
				temp = aws.Float32(float32(*inl.InferenceConfiguration.Text.Temperature))
			}
			var maxTok *int32
			if inl.InferenceConfiguration.Text.MaxTokens != nil {
				maxTok = aws.Int32(int32(*inl.InferenceConfiguration.Text.MaxTokens))
			}
			sn.Configuration = &agtypes.FlowNodeConfigurationMemberPrompt{Value: agtypes.PromptFlowNodeConfiguration{
				SourceConfiguration: &agtypes.PromptFlowNodeSourceConfigurationMemberInline{Value: agtypes.PromptFlowNodeInlineConfiguration{
					ModelId: aws.String(inl.ModelID), TemplateType: agtypes.PromptTemplateType(inl.TemplateType),
					TemplateConfiguration: &agtypes.PromptTemplateConfigurationMemberText{Value: agtypes.TextPromptTemplateConfiguration{
						Text: aws.String(inl.TemplateConfiguration.Text.Text), InputVariables: vars}},
					InferenceConfiguration: &agtypes.PromptInferenceConfigurationMemberText{Value: agtypes.PromptModelInferenceConfiguration{Temperature: temp, MaxTokens: maxTok}},
				}}}}
		}
		out.Nodes = append(out.Nodes, sn)
	}
	for _, c := range def.Connections {
		sc := agtypes.FlowConnection{Name: aws.String(c.Name), Source: aws.String(c.Source), Target: aws.String(c.Target), Type: agtypes.FlowConnectionType(c.Type)}
		if d := c.Configuration.Data; d != nil {
			sc.Configuration = &agtypes.FlowConnectionConfigurationMemberData{Value: agtypes.FlowDataConnectionConfiguration{SourceOutput: aws.String(d.SourceOutput), TargetInput: aws.String(d.TargetInput)}}
		} else {
			sc.Configuration = &agtypes.FlowConnectionConfigurationMemberConditional{Value: agtypes.FlowConditionalConnectionConfiguration{Condition: aws.String(c.Configuration.Conditional.Condition)}}
		}
		out.Connections = append(out.Connections, sc)
	}
	return out
}

// deployTripPlanner creates, prepares, versions and aliases the trip
// planner through the Go SDK and returns the flow and alias IDs.
func deployTripPlanner(t *testing.T, ctl *bedrockagent.Client) (string, string) {
	t.Helper()
	ctx := context.Background()
	cf, err := ctl.CreateFlow(ctx, &bedrockagent.CreateFlowInput{Name: aws.String("ACME-Corp-trip-planner"),
		ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/flows"), Definition: tripDefinition(t, createTravelAgent(t, ctl))})
	if err != nil {
		t.Fatalf("CreateFlow: %v", err)
	}
	if cf.Status != agtypes.FlowStatusNotPrepared || aws.ToString(cf.Version) != "DRAFT" || len(aws.ToString(cf.Id)) != 10 {
		t.Fatalf("CreateFlow = %s %s %s", cf.Status, aws.ToString(cf.Version), aws.ToString(cf.Id))
	}
	if _, err := ctl.CreateFlowVersion(ctx, &bedrockagent.CreateFlowVersionInput{FlowIdentifier: cf.Id}); err == nil {
		t.Fatal("CreateFlowVersion of an unprepared flow succeeded")
	}
	pf, err := ctl.PrepareFlow(ctx, &bedrockagent.PrepareFlowInput{FlowIdentifier: cf.Id})
	if err != nil || pf.Status != agtypes.FlowStatusPrepared {
		t.Fatalf("PrepareFlow = %+v, %v", pf, err)
	}
	fv, err := ctl.CreateFlowVersion(ctx, &bedrockagent.CreateFlowVersionInput{FlowIdentifier: cf.Id})
	if err != nil || aws.ToString(fv.Version) != "1" {
		t.Fatalf("CreateFlowVersion = %+v, %v", fv, err)
	}
	al, err := ctl.CreateFlowAlias(ctx, &bedrockagent.CreateFlowAliasInput{FlowIdentifier: cf.Id, Name: aws.String("live"),
		RoutingConfiguration:     []agtypes.FlowAliasRoutingConfigurationListItem{{FlowVersion: aws.String("1")}},
		ConcurrencyConfiguration: &agtypes.FlowAliasConcurrencyConfiguration{Type: agtypes.ConcurrencyTypeManual, MaxConcurrency: aws.Int32(4)}})
	if err != nil {
		t.Fatalf("CreateFlowAlias: %v", err)
	}
	return aws.ToString(cf.Id), aws.ToString(al.Id)
}

// turn is what one InvokeFlow call streamed.
type turn struct {
	executionID string
	outputs     []string
	question    string
	questionOf  string
	reason      string
	traces      int
	// actions lists the nodeActionTraces as node/operation; dependencies
	// counts nodeDependencyTraces.
	actions      []string
	dependencies int
}

func invoke(t *testing.T, rt *bedrockagentruntime.Client, flowID, aliasID, execID string, in rttypes.FlowInput, trace bool) (turn, error) {
	t.Helper()
	req := &bedrockagentruntime.InvokeFlowInput{FlowIdentifier: aws.String(flowID), FlowAliasIdentifier: aws.String(aliasID),
		Inputs: []rttypes.FlowInput{in}, EnableTrace: aws.Bool(trace)}
	if execID != "" {
		req.ExecutionId = aws.String(execID)
	}
	out, err := rt.InvokeFlow(context.Background(), req)
	if err != nil {
		return turn{}, err
	}
	var tr turn
	tr.executionID = aws.ToString(out.ExecutionId)
	st := out.GetStream()
	defer st.Close()
	for ev := range st.Events() {
		switch e := ev.(type) {
		case *rttypes.FlowResponseStreamMemberFlowOutputEvent:
			var s string
			e.Value.Content.(*rttypes.FlowOutputContentMemberDocument).Value.UnmarshalSmithyDocument(&s)
			tr.outputs = append(tr.outputs, aws.ToString(e.Value.NodeName)+"="+s)
		case *rttypes.FlowResponseStreamMemberFlowMultiTurnInputRequestEvent:
			e.Value.Content.(*rttypes.FlowMultiTurnInputContentMemberDocument).Value.UnmarshalSmithyDocument(&tr.question)
			tr.questionOf = aws.ToString(e.Value.NodeName) + "/" + string(e.Value.NodeType)
		case *rttypes.FlowResponseStreamMemberFlowCompletionEvent:
			tr.reason = string(e.Value.CompletionReason)
		case *rttypes.FlowResponseStreamMemberFlowTraceEvent:
			tr.traces++
			switch m := e.Value.Trace.(type) {
			case *rttypes.FlowTraceMemberNodeActionTrace:
				tr.actions = append(tr.actions, aws.ToString(m.Value.NodeName)+"/"+aws.ToString(m.Value.OperationName))
			case *rttypes.UnknownUnionMember: // members newer than this SDK (it keeps only the tag)
				if m.Tag == "nodeDependencyTrace" {
					tr.dependencies++
				}
			}
		}
	}
	return tr, st.Err()
}

func firstInput(text string) rttypes.FlowInput {
	return rttypes.FlowInput{NodeName: aws.String("FlowInputNode"), NodeOutputName: aws.String("document"),
		Content: &rttypes.FlowInputContentMemberDocument{Value: document.NewLazyDocument(text)}}
}

func agentInput(text string) rttypes.FlowInput {
	return rttypes.FlowInput{NodeName: aws.String("Trip_planner"), NodeInputName: aws.String("agentInputText"),
		Content: &rttypes.FlowInputContentMemberDocument{Value: document.NewLazyDocument(text)}}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestTripPlannerGoSDK runs the seed's trip planner end to end through the
// unmodified aws-sdk-go-v2 bedrockagent and bedrockagentruntime clients.
func TestTripPlannerGoSDK(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		dsn := ""
		if db.Dialect == store.Postgres {
			db, dsn = storetest.PostgresSchema(t, testenv.PostgresDSN(t))
		}
		srv := newFlowServer(t, db, dsn, tripUpstream(t).URL, 5*time.Second)
		ctl, rt := agentClients(srv.URL)
		flowID, aliasID := deployTripPlanner(t, ctl)

		// A destination question goes down the guide branch.
		g, err := invoke(t, rt, flowID, aliasID, "", firstInput("What's the weather in Paris?"), true)
		if err != nil {
			t.Fatalf("InvokeFlow guide: %v", err)
		}
		if g.reason != "SUCCESS" || len(g.outputs) != 1 || g.outputs[0] != "GuideOutput=Paris is best in spring; see the Louvre." || g.traces == 0 || g.executionID == "" {
			t.Fatalf("guide turn = %+v", g)
		}

		// With traces, a booking shows the classifier's Converse call
		// (nodeActionTrace) and the agent's own trace (nodeDependencyTrace).
		bt, err := invoke(t, rt, flowID, aliasID, "", firstInput("Book a flight to paris"), true)
		if err != nil || bt.reason != "INPUT_REQUIRED" || !slices.Contains(bt.actions, "Query_classifier/Converse") || bt.dependencies == 0 {
			t.Fatalf("traced booking turn = %+v, %v; want the classifier's action trace and the agent's dependency trace", bt, err)
		}
		// This SDK keeps only the union tag of nodeDependencyTrace; the
		// stored event holds the agent's trace parts.
		evs, _ := srv.Executor.Events(context.Background(), bt.executionID, 0, 100)
		if !slices.ContainsFunc(evs, func(ev flow.StoredEvent) bool {
			return strings.Contains(string(ev.Payload), `"nodeDependencyTrace":{"nodeName":"Trip_planner"`) && strings.Contains(string(ev.Payload), `"agentTraces":[{"agentId":`)
		}) {
			t.Fatal("no nodeDependencyTrace with the agent's trace parts was stored")
		}

		// The alias's Manual concurrency (maxConcurrency 4, deployTripPlanner)
		// is the execution's bound on node runs in flight.
		var maxc int
		if err := db.QueryRow(context.Background(), `SELECT max_concurrency FROM flow_executions WHERE id = ?`, []any{bt.executionID}, &maxc); err != nil || maxc != 4 {
			t.Fatalf("execution max_concurrency = %d (%v), want the alias's 4", maxc, err)
		}

		// A booking request pauses on the agent twice, then completes.
		b1, err := invoke(t, rt, flowID, aliasID, "", firstInput("Book a flight to paris"), false)
		if err != nil {
			t.Fatalf("InvokeFlow booking: %v", err)
		}
		if b1.reason != "INPUT_REQUIRED" || b1.question != "From which airport, and on what date?" || b1.questionOf != "Trip_planner/AgentNode" || len(b1.outputs) != 0 || b1.traces != 0 {
			t.Fatalf("booking turn 1 = %+v", b1)
		}
		// Resuming a node that is not waiting is refused, and changes nothing.
		bad := agentInput("x")
		bad.NodeName = aws.String("LLM_guide")
		if _, err := invoke(t, rt, flowID, aliasID, b1.executionID, bad, false); apiCode(err) != "ValidationException" {
			t.Fatalf("resume of the wrong node = %v", err)
		}
		b2, err := invoke(t, rt, flowID, aliasID, b1.executionID, agentInput("MAD, 20250214"), false)
		if err != nil || b2.reason != "INPUT_REQUIRED" || b2.question != "At what time?" || b2.executionID != b1.executionID {
			t.Fatalf("booking turn 2 = %+v, %v", b2, err)
		}
		b3, err := invoke(t, rt, flowID, aliasID, b1.executionID, agentInput("20:43"), false)
		if err != nil || b3.reason != "SUCCESS" || len(b3.outputs) != 1 || b3.outputs[0] != "FlowOutputNode=Booked: MAD to CDG on 20250214 at 20:43." {
			t.Fatalf("booking turn 3 = %+v, %v", b3, err)
		}
		// The finished execution cannot be resumed again.
		if _, err := invoke(t, rt, flowID, aliasID, b1.executionID, agentInput("again"), false); apiCode(err) != "ValidationException" {
			t.Fatalf("resume of a finished execution = %v", err)
		}
		// Unknown ids are ResourceNotFoundException, not 5xx.
		if _, err := invoke(t, rt, "ABCDEFGHIJ", aliasID, "", firstInput("hi"), false); apiCode(err) != "ResourceNotFoundException" {
			t.Fatalf("unknown flow = %v", err)
		}
		if _, err := invoke(t, rt, flowID, "ABCDEFGHIJ", "", firstInput("hi"), false); apiCode(err) != "ResourceNotFoundException" {
			t.Fatalf("unknown alias = %v", err)
		}
		if _, err := invoke(t, rt, flowID, aliasID, "no-such-execution", agentInput("hi"), false); apiCode(err) != "ResourceNotFoundException" {
			t.Fatalf("unknown execution = %v", err)
		}
		wrongStart := firstInput("hi")
		wrongStart.NodeName = aws.String("Nope")
		if _, err := invoke(t, rt, flowID, aliasID, "", wrongStart, false); apiCode(err) != "ValidationException" {
			t.Fatalf("unknown input node = %v", err)
		}

		// Control plane reads.
		ctx := context.Background()
		gf, err := ctl.GetFlow(ctx, &bedrockagent.GetFlowInput{FlowIdentifier: aws.String(flowID)})
		if err != nil || gf.Status != agtypes.FlowStatusPrepared || len(gf.Definition.Nodes) != 7 {
			t.Fatalf("GetFlow = %+v, %v", gf, err)
		}
		lf, err := ctl.ListFlows(ctx, &bedrockagent.ListFlowsInput{})
		if err != nil || len(lf.FlowSummaries) != 1 {
			t.Fatalf("ListFlows = %+v, %v", lf, err)
		}
		lv, err := ctl.ListFlowVersions(ctx, &bedrockagent.ListFlowVersionsInput{FlowIdentifier: aws.String(flowID)})
		if err != nil || len(lv.FlowVersionSummaries) != 2 {
			t.Fatalf("ListFlowVersions = %+v, %v", lv, err)
		}
		la, err := ctl.ListFlowAliases(ctx, &bedrockagent.ListFlowAliasesInput{FlowIdentifier: aws.String(flowID)})
		if err != nil || len(la.FlowAliasSummaries) != 1 || aws.ToString(la.FlowAliasSummaries[0].RoutingConfiguration[0].FlowVersion) != "1" {
			t.Fatalf("ListFlowAliases = %+v, %v", la, err)
		}
		if _, err := ctl.GetFlowVersion(ctx, &bedrockagent.GetFlowVersionInput{FlowIdentifier: aws.String(flowID), FlowVersion: aws.String("7")}); apiCode(err) != "ResourceNotFoundException" {
			t.Fatalf("GetFlowVersion 7 = %v", err)
		}
		// ValidateFlowDefinition reports Bedrock's validation types.
		broken := tripDefinition(t, exampleAliasARN)
		broken.Connections = broken.Connections[:len(broken.Connections)-1]
		vd, err := ctl.ValidateFlowDefinition(ctx, &bedrockagent.ValidateFlowDefinitionInput{Definition: broken})
		if err != nil {
			t.Fatalf("ValidateFlowDefinition: %v", err)
		}
		found := false
		for _, v := range vd.Validations {
			if v.Type == agtypes.FlowValidationTypeUnfulfilledNodeInput {
				d, ok := v.Details.(*agtypes.FlowValidationDetailsMemberUnfulfilledNodeInput)
				found = ok && aws.ToString(d.Value.Node) == "GuideOutput" && aws.ToString(d.Value.Input) == "document"
			}
		}
		if !found {
			t.Fatalf("validations = %+v", vd.Validations)
		}
		// An update makes the DRAFT unprepared; a failed prepare is a
		// ValidationException and GetFlow lists the findings.
		if _, err := ctl.UpdateFlow(ctx, &bedrockagent.UpdateFlowInput{FlowIdentifier: aws.String(flowID), Name: aws.String("ACME-Corp-trip-planner"),
			ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/flows"), Definition: broken}); err != nil {
			t.Fatalf("UpdateFlow: %v", err)
		}
		if _, err := ctl.PrepareFlow(ctx, &bedrockagent.PrepareFlowInput{FlowIdentifier: aws.String(flowID)}); apiCode(err) != "ValidationException" {
			t.Fatalf("PrepareFlow of a broken flow = %v", err)
		}
		gf, err = ctl.GetFlow(ctx, &bedrockagent.GetFlowInput{FlowIdentifier: aws.String(flowID)})
		if err != nil || gf.Status != agtypes.FlowStatusFailed || len(gf.Validations) == 0 {
			t.Fatalf("GetFlow after failed prepare = %+v, %v", gf, err)
		}
		// Version 1 still serves the alias.
		if g, err := invoke(t, rt, flowID, aliasID, "", firstInput("Tell me about Rome"), false); err != nil || g.reason != "SUCCESS" {
			t.Fatalf("invoke after DRAFT update = %+v, %v", g, err)
		}
		if _, err := ctl.DeleteFlowAlias(ctx, &bedrockagent.DeleteFlowAliasInput{FlowIdentifier: aws.String(flowID), AliasIdentifier: aws.String(aliasID)}); err != nil {
			t.Fatalf("DeleteFlowAlias: %v", err)
		}
		if _, err := ctl.DeleteFlow(ctx, &bedrockagent.DeleteFlowInput{FlowIdentifier: aws.String(flowID)}); err != nil {
			t.Fatalf("DeleteFlow: %v", err)
		}
		if _, err := ctl.GetFlow(ctx, &bedrockagent.GetFlowInput{FlowIdentifier: aws.String(flowID)}); apiCode(err) != "ResourceNotFoundException" {
			t.Fatalf("GetFlow after delete = %v", err)
		}
	})
}

// TestTripPlannerBoto3 runs the seed article's own multi-turn loop
// (examples/flows/trip-planner/multi_turn.py, boto3) against the server.
func TestTripPlannerBoto3(t *testing.T) {
	python := testenv.Python(t)
	db := storetest.SQLite(t)
	srv := newFlowServer(t, db, "", tripUpstream(t).URL, 5*time.Second)
	ctl, _ := agentClients(srv.URL)
	flowID, aliasID := deployTripPlanner(t, ctl)
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "examples", "flows", "trip-planner", "multi_turn.py")
	home := t.TempDir()
	cmd := exec.Command(python, script)
	cmd.Env = append(os.Environ(), "FLOW_ID="+flowID, "FLOW_ALIAS_ID="+aliasID, "OUTCROP_URL="+srv.URL,
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=SECRET", "AWS_CONFIG_FILE="+filepath.Join(home, "c"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "k"), "AWS_EC2_METADATA_DISABLED=true")
	cmd.Stdin = strings.NewReader("Book a flight to paris\nMAD, 20250214\n20:43\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("multi_turn.py: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{"From which airport, and on what date?: ", "At what time?: ", "Booked: MAD to CDG on 20250214 at 20:43."} {
		if !strings.Contains(s, want) {
			t.Fatalf("multi_turn.py output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "Error occurred") {
		t.Fatalf("multi_turn.py logged an error:\n%s", s)
	}
}

// TestManagedPromptNode runs a Prompt node whose template is a managed
// prompt version (sourceConfiguration.resource.promptArn) made through the
// Go SDK's prompt management calls.
func TestManagedPromptNode(t *testing.T) {
	db := storetest.SQLite(t)
	srv := newFlowServer(t, db, "", tripUpstream(t).URL, 5*time.Second)
	ctl, rt := agentClients(srv.URL)
	ctx := context.Background()
	cp, err := ctl.CreatePrompt(ctx, &bedrockagent.CreatePromptInput{Name: aws.String("guide"), Variants: []agtypes.PromptVariant{{
		Name: aws.String("v1"), TemplateType: agtypes.PromptTemplateTypeText, ModelId: aws.String(tripModel),
		TemplateConfiguration: &agtypes.PromptTemplateConfigurationMemberText{Value: agtypes.TextPromptTemplateConfiguration{
			Text: aws.String("You are AcmeGuide. Answer: {{query}}"), InputVariables: []agtypes.PromptInputVariable{{Name: aws.String("query")}}}}}}})
	if err != nil {
		t.Fatalf("CreatePrompt: %v", err)
	}
	pv, err := ctl.CreatePromptVersion(ctx, &bedrockagent.CreatePromptVersionInput{PromptIdentifier: cp.Id})
	if err != nil {
		t.Fatalf("CreatePromptVersion: %v", err)
	}
	def := `{"nodes":[
 {"name":"FlowInputNode","type":"Input","configuration":{"input":{}},"outputs":[{"name":"document","type":"String"}]},
 {"name":"Guide","type":"Prompt","configuration":{"prompt":{"sourceConfiguration":{"resource":{"promptArn":"` + aws.ToString(pv.Arn) + `"}}}},
  "inputs":[{"name":"query","type":"String","expression":"$.data"}],"outputs":[{"name":"modelCompletion","type":"String"}]},
 {"name":"Out","type":"Output","configuration":{"output":{}},"inputs":[{"name":"document","type":"String","expression":"$.data"}]}],
 "connections":[
 {"name":"InGuide","source":"FlowInputNode","target":"Guide","type":"Data","configuration":{"data":{"sourceOutput":"document","targetInput":"query"}}},
 {"name":"GuideOut","source":"Guide","target":"Out","type":"Data","configuration":{"data":{"sourceOutput":"modelCompletion","targetInput":"document"}}}]}`
	var created struct{ ID string }
	if code := call(t, "POST", srv.URL+"/flows/", `{"name":"managed","executionRoleArn":"arn:aws:iam::123456789012:role/r","definition":`+def+`}`, &created); code != 201 {
		t.Fatalf("CreateFlow = %d", code)
	}
	if code := call(t, "POST", srv.URL+"/flows/"+created.ID+"/", "", nil); code != 202 {
		t.Fatalf("PrepareFlow = %d", code)
	}
	g, err := invoke(t, rt, created.ID, "TSTALIASID", "", firstInput("What about Paris?"), false)
	if err != nil || g.reason != "SUCCESS" || len(g.outputs) != 1 || g.outputs[0] != "Out=Paris is best in spring; see the Louvre." {
		t.Fatalf("managed prompt flow = %+v, %v", g, err)
	}
}
