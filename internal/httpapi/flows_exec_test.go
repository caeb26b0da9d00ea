package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/flow"
	"github.com/outcrop/outcrop/internal/provider/providertest"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// call sends a JSON request and decodes the JSON answer into out.
func call(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

func startBody(text string) string {
	b, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{"nodeName": "FlowInputNode", "nodeOutputName": "document", "content": map[string]any{"document": text}}}})
	return string(b)
}

type execView struct {
	ExecutionArn string
	Status       string
	FlowVersion  string
	Errors       []struct{ Error, Message string }
}

func waitExec(t *testing.T, url string, want string) execView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var v execView
		if code := call(t, "GET", url, "", &v); code != 200 {
			t.Fatalf("GetFlowExecution: %d %+v", code, v)
		}
		if v.Status == want {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution is %s, want %s", v.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFlowExecutionsAsync covers StartFlowExecution, GetFlowExecution,
// ListFlowExecutions, ListFlowExecutionEvents, GetExecutionFlowSnapshot and
// StopFlowExecution on the REST routes the SDKs use.
func TestFlowExecutionsAsync(t *testing.T) {
	db := storetest.SQLite(t)
	srv := newFlowServer(t, db, "", tripUpstream(t).URL, 5*time.Second)
	ctl, _ := agentClients(srv.URL)
	flowID, aliasID := deployTripPlanner(t, ctl)
	base := srv.URL + "/flows/" + flowID + "/aliases/" + aliasID + "/executions"

	var started struct{ ExecutionArn string }
	if code := call(t, "POST", base, startBody("What's the weather in Paris?"), &started); code != 200 || !strings.Contains(started.ExecutionArn, ":flow/"+flowID+"/alias/"+aliasID+"/execution/") {
		t.Fatalf("StartFlowExecution = %d %+v", code, started)
	}
	id := started.ExecutionArn[strings.LastIndex(started.ExecutionArn, "/")+1:]
	v := waitExec(t, base+"/"+id, "Succeeded")
	if v.FlowVersion != "1" {
		t.Fatalf("execution = %+v", v)
	}
	var flowEvents struct {
		FlowExecutionEvents []map[string]json.RawMessage
	}
	call(t, "GET", base+"/"+id+"/events?eventType=Flow", "", &flowEvents)
	if len(flowEvents.FlowExecutionEvents) != 1 || !strings.Contains(string(flowEvents.FlowExecutionEvents[0]["flowOutputEvent"]), "Paris is best in spring") {
		t.Fatalf("Flow events = %+v", flowEvents)
	}
	var nodeEvents struct {
		FlowExecutionEvents []map[string]json.RawMessage
		NextToken           string
	}
	call(t, "GET", base+"/"+id+"/events?eventType=Node&maxResults=2", "", &nodeEvents)
	if len(nodeEvents.FlowExecutionEvents) != 2 || nodeEvents.NextToken == "" {
		t.Fatalf("Node events page = %+v", nodeEvents)
	}
	var allNode struct{ FlowExecutionEvents []map[string]json.RawMessage }
	call(t, "GET", base+"/"+id+"/events?eventType=Node&maxResults=100", "", &allNode)
	actions := 0
	for _, ev := range allNode.FlowExecutionEvents {
		if a, ok := ev["nodeActionEvent"]; ok {
			actions++
			if !strings.Contains(string(a), `"operationName":"Converse"`) || !strings.Contains(string(a), `"modelId":"`+tripModel+`"`) {
				t.Errorf("nodeActionEvent = %s", a)
			}
		}
	}
	if actions != 2 { // the classifier's and the guide's model calls
		t.Errorf("%d nodeActionEvents, want 2: %+v", actions, allNode)
	}
	if code := call(t, "GET", base+"/"+id+"/events?eventType=Bogus", "", nil); code != 400 {
		t.Fatalf("bad eventType = %d", code)
	}
	var snap struct{ Definition string }
	if call(t, "GET", base+"/"+id+"/flowsnapshot", "", &snap); !strings.Contains(snap.Definition, "Query_classifier") {
		t.Fatalf("snapshot = %+v", snap)
	}

	// A booking pauses on the agent; StopFlowExecution aborts it.
	call(t, "POST", base, startBody("Book a flight to paris"), &started)
	id2 := started.ExecutionArn[strings.LastIndex(started.ExecutionArn, "/")+1:]
	deadline := time.Now().Add(30 * time.Second)
	for {
		var fe struct{ FlowExecutionEvents []map[string]json.RawMessage }
		call(t, "GET", base+"/"+id2+"/events?eventType=Node", "", &fe)
		if strings.Contains(string(mustMarshal(fe)), "Trip_planner") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("async booking never reached the agent")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var stopped struct{ Status string }
	if code := call(t, "POST", base+"/"+id2+"/stop", "", &stopped); code != 200 || stopped.Status != "Aborted" {
		t.Fatalf("StopFlowExecution = %d %+v", code, stopped)
	}
	var list struct {
		FlowExecutionSummaries []struct{ Status string }
	}
	call(t, "GET", srv.URL+"/flows/"+flowID+"/executions?flowAliasIdentifier="+aliasID, "", &list)
	if len(list.FlowExecutionSummaries) != 2 || list.FlowExecutionSummaries[0].Status != "Aborted" || list.FlowExecutionSummaries[1].Status != "Succeeded" {
		t.Fatalf("ListFlowExecutions = %+v", list)
	}
	if code := call(t, "GET", base+"/nope", "", nil); code != 404 {
		t.Fatalf("unknown execution = %d", code)
	}
}

func mustMarshal(v any) []byte { b, _ := json.Marshal(v); return b }

// TestResumeOnceAndExpiry: of two concurrent resumes of one pause exactly
// one is accepted, and a pause past its TTL is TimedOut and cannot resume.
func TestResumeOnceAndExpiry(t *testing.T) {
	db := storetest.SQLite(t)
	// The accepted resume's agent call waits until the other three resumes
	// were refused, so that they all meet a running execution however
	// slowly the machine schedules them.
	gate := make(chan struct{})
	up := providertest.NewUpstreamFunc(t, func(c providertest.Call) *providertest.Fixture {
		if b := string(c.Body); strings.Contains(b, flow.AskUserTool) && strings.Count(b, `"role":"tool"`) == 1 {
			select {
			case <-gate:
			case <-time.After(20 * time.Second):
			}
		}
		return tripPick(c)
	})
	srv := newFlowServer(t, db, "", up.URL, 5*time.Second, func(o *flow.ExecutorOptions) { o.PauseTTL = 2 * time.Second })
	ctl, rt := agentClients(srv.URL)
	flowID, aliasID := deployTripPlanner(t, ctl)
	b1, err := invoke(t, rt, flowID, aliasID, "", firstInput("Book a flight to paris"), false)
	if err != nil || b1.reason != "INPUT_REQUIRED" {
		t.Fatalf("booking = %+v, %v", b1, err)
	}
	var wg sync.WaitGroup
	results := make([]error, 4)
	turns := make([]turn, 4)
	var refused atomic.Int32
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			turns[i], results[i] = invoke(t, rt, flowID, aliasID, b1.executionID, agentInput("MAD, 20250214"), false)
			if results[i] != nil && refused.Add(1) == 3 {
				close(gate)
			}
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range results {
		switch {
		case err == nil:
			ok++
			if turns[i].question != "At what time?" {
				t.Errorf("accepted resume = %+v", turns[i])
			}
		case apiCode(err) != "ConflictException" && apiCode(err) != "ValidationException":
			t.Errorf("refused resume = %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of 4 concurrent resumes were accepted, want 1", ok)
	}
	time.Sleep(2500 * time.Millisecond)
	if _, err := invoke(t, rt, flowID, aliasID, b1.executionID, agentInput("20:43"), false); apiCode(err) != "ValidationException" {
		t.Fatalf("resume after the TTL = %v", err)
	}
	v := waitExec(t, srv.URL+"/flows/"+flowID+"/aliases/"+aliasID+"/executions/"+b1.executionID, "TimedOut")
	if len(v.Errors) != 1 || v.Errors[0].Error != "ExecutionTimedOut" {
		t.Fatalf("expired execution = %+v", v)
	}
	_ = context.Background
}

// TestExecutionEventKinds maps stored stream events to the
// ListFlowExecutionEvents union members of each event type.
func TestExecutionEventKinds(t *testing.T) {
	at := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	ev := func(typ, payload string) flow.StoredEvent {
		return flow.StoredEvent{Type: typ, Payload: json.RawMessage(payload), CreatedAt: at}
	}
	tests := []struct {
		ev         flow.StoredEvent
		kind, want string // want: the member and a fragment of it; "" for none
	}{
		{ev(flow.EventOutput, `{"nodeName":"Out","nodeType":"FlowOutputNode","content":{"document":"hi"}}`), "Flow", `"flowOutputEvent":{"fields":[{"content":{"document":"hi"},"name":"document"}],"nodeName":"Out"`},
		{ev(flow.EventOutput, `{"nodeName":"Out","content":{"document":"hi"}}`), "Node", ""},
		{ev("dependencyFailedException", `{"message":"model down","resourceName":"Ask"}`), "Flow", `"flowFailureEvent":{"errorCode":"NODE_EXECUTION_FAILED","errorMessage":"model down"`},
		{ev("dependencyFailedException", `{"message":"model down","resourceName":"Ask"}`), "Node", `"nodeFailureEvent":{"errorCode":"DEPENDENCY_FAILED","errorMessage":"model down","nodeName":"Ask"`},
		{ev("validationException", `{"message":"bad input"}`), "Node", ""},
		{ev(flow.EventTrace, `{"trace":{"nodeActionTrace":{"nodeName":"Ask","requestId":"r1","serviceName":"bedrock","operationName":"Converse"}}}`), "Node", `"nodeActionEvent":{"nodeName":"Ask","operationName":"Converse","requestId":"r1","serviceName":"bedrock"`},
		{ev(flow.EventTrace, `{"trace":{"nodeDependencyTrace":{"nodeName":"Agent","traceElements":{"agentTraces":[{"agentId":"A"}]}}}}`), "Node", `"nodeDependencyEvent":{"nodeName":"Agent"`},
		{ev(flow.EventTrace, `{"trace":{"nodeInputTrace":{"nodeName":"Ask","fields":[{"nodeInputName":"q","content":{"document":"x"}}]}}}`), "Node", `"nodeInputEvent":{"fields":[{"content":{"document":"x"},"name":"q"}]`},
		{ev(flow.EventTrace, `{"trace":{"conditionNodeResultTrace":{"nodeName":"C","satisfiedConditions":[{"conditionName":"yes"}]}}}`), "Node", `"conditionResultEvent":{"nodeName":"C"`},
	}
	for _, tc := range tests {
		got := executionEvent(tc.ev, tc.kind)
		b, _ := json.Marshal(got)
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("%s as %s = %s, want none", tc.ev.Type, tc.kind, b)
		case tc.want != "" && !strings.Contains(string(b), tc.want):
			t.Errorf("%s as %s = %s, want %s", tc.ev.Type, tc.kind, b, tc.want)
		case tc.want != "" && !strings.Contains(string(b), `"timestamp":"2026-12-07T00:00:00Z"`):
			t.Errorf("%s as %s = %s, want the event's timestamp", tc.ev.Type, tc.kind, b)
		}
	}
}
