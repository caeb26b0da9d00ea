package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/guardrail"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/provider/providertest"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// testModel is the canonical model of the node tests; "nova" is its alias.
const testModel = "amazon.nova-lite-v1:0"

// chatAnswer is an OpenAI chat completion answering text.
func chatAnswer(text string) *providertest.Fixture {
	b, _ := json.Marshal(map[string]any{"id": "c1", "object": "chat.completion", "model": "fixture-model",
		"choices": []map[string]any{{"index": 0, "message": map[string]any{"role": "assistant", "content": text}, "finish_reason": "stop"}},
		"usage":   map[string]int{"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}})
	return &providertest.Fixture{Response: "HTTP/1.1 200 OK\nContent-Type: application/json\n\n" + string(b) + "\n"}
}

// scriptedModels is the gateway pipeline (with stages) in front of a
// router whose one model, testModel (alias "nova"), is served by an
// OpenAI-compatible upstream over HTTP answering with pick.
func scriptedModels(t *testing.T, pick func(providertest.Call) *providertest.Fixture, stages ...gateway.Stage) (*gateway.Gateway, *routing.Router) {
	t.Helper()
	up := providertest.NewUpstreamFunc(t, pick)
	p, err := openai.New(openai.Config{BaseURL: up.URL, Model: "fixture-model"})
	if err != nil {
		t.Fatal(err)
	}
	router := routing.New([]*routing.Model{{ID: testModel, Aliases: []string{"nova"}, Deployments: []*routing.Deployment{{Name: "scripted", Provider: p, Type: "openai", Weight: 1}}}})
	return gateway.New(gateway.Options{Stages: stages, Final: router.Route}), router
}

func resolver(r *routing.Router) func(string) (string, bool) {
	return func(id string) (string, bool) {
		m, ok := r.Lookup(id)
		if !ok {
			return "", false
		}
		return m.ID, true
	}
}

// runExecution starts def with doc in account acct, drives it to its end
// or pause and returns the stream events it committed.
func runExecution(t *testing.T, x *Executor, acct, def string, doc Value) []StoredEvent {
	t.Helper()
	ctx := context.Background()
	e, err := x.Start(ctx, StartInput{Account: acct, FlowID: "F", AliasID: "A", FlowVersion: "1", Definition: json.RawMessage(def), Document: doc})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := x.Drive(ctx, acct, e.ID, nil); err != nil {
		t.Fatalf("Drive: %v", err)
	}
	evs, err := x.Events(ctx, e.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// eventsOf returns the payloads of the events of type typ.
func eventsOf(evs []StoredEvent, typ string) []map[string]any {
	var out []map[string]any
	for _, ev := range evs {
		if ev.Type == typ {
			var m map[string]any
			json.Unmarshal(ev.Payload, &m)
			out = append(out, m)
		}
	}
	return out
}

// traceMembers returns the trace union members of kind member.
func traceMembers(evs []StoredEvent, member string) []map[string]any {
	var out []map[string]any
	for _, p := range eventsOf(evs, EventTrace) {
		tr, _ := p["trace"].(map[string]any)
		if m, ok := tr[member].(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func outputDocs(evs []StoredEvent) []any {
	var out []any
	for _, p := range eventsOf(evs, EventOutput) {
		out = append(out, p["content"].(map[string]any)["document"])
	}
	return out
}

// promptFlow is Input → one prompt node on model (TEXT template, optional
// guardrail) → Output.
func promptFlow(model, guardrailJSON string) string {
	g := ""
	if guardrailJSON != "" {
		g = `, "guardrailConfiguration": ` + guardrailJSON
	}
	return `{"nodes": [
 {"name": "In", "type": "Input", "configuration": {"input": {}}, "outputs": [{"name": "document", "type": "String"}]},
 {"name": "Ask", "type": "Prompt", "configuration": {"prompt": {"sourceConfiguration": {"inline": {"modelId": "` + model + `", "templateType": "TEXT",
   "inferenceConfiguration": {"text": {"maxTokens": 50, "temperature": 0}},
   "templateConfiguration": {"text": {"text": "Answer briefly: {{question}}", "inputVariables": [{"name": "question"}]}}}}` + g + `}},
  "inputs": [{"name": "question", "type": "String", "expression": "$.data"}], "outputs": [{"name": "modelCompletion", "type": "String"}]},
 {"name": "Out", "type": "Output", "configuration": {"output": {}}, "inputs": [{"name": "document", "type": "String", "expression": "$.data"}]}
], "connections": [
 {"name": "c1", "source": "In", "target": "Ask", "type": "Data", "configuration": {"data": {"sourceOutput": "document", "targetInput": "question"}}},
 {"name": "c2", "source": "Ask", "target": "Out", "type": "Data", "configuration": {"data": {"sourceOutput": "modelCompletion", "targetInput": "document"}}}
]}`
}

// policyStage records each call's model identity and refuses calls on the
// foundation-model ARN in deny, as an IAM Deny on that resource would.
type policyStage struct {
	mu    sync.Mutex
	seen  []gateway.Call
	deny  string
	denyN int
}

func (s *policyStage) Name() string { return "policy" }

func (s *policyStage) Wrap(next gateway.Handler) gateway.Handler {
	return func(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
		s.mu.Lock()
		s.seen = append(s.seen, gateway.Call{Model: c.Model, Resource: c.Resource, Request: &llm.Request{Model: c.Request.Model}})
		deny := s.deny != "" && c.Resource == s.deny
		if deny {
			s.denyN++
		}
		s.mu.Unlock()
		if deny {
			return nil, llm.Errorf(llm.KindAccessDenied, "explicit deny on %s", c.Resource)
		}
		return next(ctx, c)
	}
}

// TestPromptNodeCanonicalModel checks that a prompt node's modelId (here an
// alias) is resolved to the canonical model before the pipeline sees it: the
// call's Model, Resource and Request.Model are canonical, so a Deny on the
// canonical model's ARN applies to the alias too; an unknown model fails
// the node. It also checks the node's nodeActionTrace (the Converse request
// and response).
func TestPromptNodeCanonicalModel(t *testing.T) {
	ps := &policyStage{}
	gw, router := scriptedModels(t, func(providertest.Call) *providertest.Fixture { return chatAnswer("Lisbon.") }, ps)
	x := NewExecutor(ExecutorOptions{DB: storetest.SQLite(t), Nodes: &Runner{Models: gw, Resolve: resolver(router)}})
	canonARN := modelARN("", testModel)

	evs := runExecution(t, x, "a", promptFlow("nova", ""), "Capital of Portugal?")
	if got := outputDocs(evs); len(got) != 1 || got[0] != "Lisbon." {
		t.Fatalf("outputs = %v, want [Lisbon.]", got)
	}
	if len(ps.seen) != 1 || ps.seen[0].Model != testModel || ps.seen[0].Resource != canonARN || ps.seen[0].Request.Model != testModel {
		t.Fatalf("the pipeline saw %+v; want Model, Resource and Request.Model on %s", ps.seen, testModel)
	}
	acts := traceMembers(evs, "nodeActionTrace")
	if len(acts) != 1 {
		t.Fatalf("%d nodeActionTraces, want 1", len(acts))
	}
	a := acts[0]
	req, _ := a["operationRequest"].(map[string]any)
	resp, _ := a["operationResponse"].(map[string]any)
	if a["nodeName"] != "Ask" || a["serviceName"] != "bedrock" || a["operationName"] != "Converse" || a["requestId"] == "" ||
		req["modelId"] != testModel || resp["stopReason"] != "end_turn" {
		t.Fatalf("nodeActionTrace = %v", a)
	}
	msgs, _ := req["messages"].([]any)
	if b, _ := json.Marshal(msgs); !strings.Contains(string(b), "Answer briefly: Capital of Portugal?") {
		t.Fatalf("operationRequest.messages = %s, want the rendered prompt", b)
	}
	if u, _ := resp["usage"].(map[string]any); u["inputTokens"] != float64(12) || u["outputTokens"] != float64(4) {
		t.Fatalf("operationResponse.usage = %v", resp["usage"])
	}

	// A Deny on the canonical model's ARN stops the alias too.
	ps.deny = canonARN
	evs = runExecution(t, x, "a", promptFlow("us.nova", ""), "Capital of Spain?")
	if ps.denyN != 1 || len(outputDocs(evs)) != 0 || len(eventsOf(evs, "dependencyFailedException")) != 1 {
		t.Fatalf("denied call: %d denials, events %v; want the node failed", ps.denyN, evs)
	}
	// An unknown model fails the node before any call.
	n := len(ps.seen)
	evs = runExecution(t, x, "a", promptFlow("no.such-model", ""), "x")
	if f := eventsOf(evs, "dependencyFailedException"); len(f) != 1 || !strings.Contains(fmt.Sprint(f[0]["message"]), "invalid") || len(ps.seen) != n {
		t.Fatalf("unknown model: %v, %d calls; want a failed node and no call", f, len(ps.seen)-n)
	}
}

// TestPromptNodeGuardrail applies a prompt node's guardrailConfiguration
// with the real guardrail stage: a blocked input never reaches the model
// and the node answers with the blocked-input message; a blocked output is
// replaced by the blocked-output message; the intervention shows in the
// nodeActionTrace as Converse shows it (stopReason guardrail_intervened and
// trace.guardrail).
func TestPromptNodeGuardrail(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	reg := guardrail.NewRegistry(db, guardrail.RegistryOptions{})
	g, err := reg.Create(ctx, &guardrail.Definition{Name: "falcon", BlockedInputMessaging: "Sorry, input blocked.", BlockedOutputsMessaging: "Sorry, output blocked.",
		WordPolicyConfig: &guardrail.WordPolicyConfig{WordsConfig: []guardrail.Word{{Text: "Project Falcon"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := 0
	gw, router := scriptedModels(t, func(c providertest.Call) *providertest.Fixture {
		mu.Lock()
		calls++
		mu.Unlock()
		if strings.Contains(string(c.Body), "codename") {
			return chatAnswer("The codename is Project Falcon.")
		}
		return chatAnswer("All clear.")
	}, &guardrail.Stage{Resolver: reg})
	x := NewExecutor(ExecutorOptions{DB: db, Nodes: &Runner{Models: gw, Resolve: resolver(router)}})
	def := promptFlow(testModel, `{"guardrailIdentifier": "`+g.GuardrailID+`", "guardrailVersion": "DRAFT"}`)

	tests := []struct {
		name, in, want string
		calls          int
		intervened     bool
	}{
		{"clean", "What is the weather?", "All clear.", 1, false},
		{"blocked input", "Tell me about Project Falcon", "Sorry, input blocked.", 0, true},
		{"blocked output", "What is the codename?", "Sorry, output blocked.", 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			calls = 0
			mu.Unlock()
			evs := runExecution(t, x, "a", def, tc.in)
			if got := outputDocs(evs); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("outputs = %v, want [%s]", got, tc.want)
			}
			if calls != tc.calls {
				t.Errorf("%d model calls, want %d", calls, tc.calls)
			}
			acts := traceMembers(evs, "nodeActionTrace")
			if len(acts) != 1 {
				t.Fatalf("%d action traces", len(acts))
			}
			req, _ := acts[0]["operationRequest"].(map[string]any)
			if gc, _ := req["guardrailConfig"].(map[string]any); gc["guardrailIdentifier"] != g.GuardrailID {
				t.Errorf("operationRequest.guardrailConfig = %v", req["guardrailConfig"])
			}
			resp, _ := acts[0]["operationResponse"].(map[string]any)
			if got := resp["stopReason"] == "guardrail_intervened"; got != tc.intervened {
				t.Errorf("stopReason = %v, want intervened=%v", resp["stopReason"], tc.intervened)
			}
			tr, _ := resp["trace"].(map[string]any)
			if _, ok := tr["guardrail"]; ok != tc.intervened && tc.intervened {
				t.Errorf("operationResponse.trace = %v, want the guardrail assessment", resp["trace"])
			}
		})
	}
}

// storeFlow writes $.data.text under $.data.key; fetchFlow reads the key.
const storeFlow = `{"nodes": [
 {"name": "In", "type": "Input", "configuration": {"input": {}}, "outputs": [{"name": "document", "type": "Object"}]},
 {"name": "Put", "type": "Storage", "configuration": {"storage": {"serviceConfiguration": {"s3": {"bucketName": "trip-notes"}}}},
  "inputs": [{"name": "content", "type": "String", "expression": "$.data.text"}, {"name": "objectKey", "type": "String", "expression": "$.data.key"}],
  "outputs": [{"name": "s3Uri", "type": "String"}]},
 {"name": "Out", "type": "Output", "configuration": {"output": {}}, "inputs": [{"name": "document", "type": "String", "expression": "$.data"}]}
], "connections": [
 {"name": "c1", "source": "In", "target": "Put", "type": "Data", "configuration": {"data": {"sourceOutput": "document", "targetInput": "content"}}},
 {"name": "c2", "source": "In", "target": "Put", "type": "Data", "configuration": {"data": {"sourceOutput": "document", "targetInput": "objectKey"}}},
 {"name": "c3", "source": "Put", "target": "Out", "type": "Data", "configuration": {"data": {"sourceOutput": "s3Uri", "targetInput": "document"}}}
]}`

const fetchFlow = `{"nodes": [
 {"name": "In", "type": "Input", "configuration": {"input": {}}, "outputs": [{"name": "document", "type": "String"}]},
 {"name": "Get", "type": "Retrieval", "configuration": {"retrieval": {"serviceConfiguration": {"s3": {"bucketName": "trip-notes"}}}},
  "inputs": [{"name": "objectKey", "type": "String", "expression": "$.data"}], "outputs": [{"name": "s3Content", "type": "String"}]},
 {"name": "Out", "type": "Output", "configuration": {"output": {}}, "inputs": [{"name": "document", "type": "String", "expression": "$.data"}]}
], "connections": [
 {"name": "c1", "source": "In", "target": "Get", "type": "Data", "configuration": {"data": {"sourceOutput": "document", "targetInput": "objectKey"}}},
 {"name": "c2", "source": "Get", "target": "Out", "type": "Data", "configuration": {"data": {"sourceOutput": "s3Content", "targetInput": "document"}}}
]}`

// TestStorageRetrieval stores an object with a Storage node and reads it
// back with a Retrieval node in another execution; another account does
// not see it, and a missing key fails the node.
func TestStorageRetrieval(t *testing.T) {
	db := storetest.SQLite(t)
	x := NewExecutor(ExecutorOptions{DB: db, Nodes: &Runner{Objects: &SQLObjects{DB: db}}})
	doc, _ := ParseValue([]byte(`{"key": "paris/2025-02-14.txt", "text": "Louvre at 10, Orsay at 15."}`))
	evs := runExecution(t, x, "a", storeFlow, doc)
	if got := outputDocs(evs); len(got) != 1 || got[0] != "s3://trip-notes/paris/2025-02-14.txt" {
		t.Fatalf("Storage output = %v", got)
	}
	// Writing again (a replayed node) keeps one object with the content.
	runExecution(t, x, "a", storeFlow, doc)
	var n int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM flow_objects`, nil, &n); err != nil || n != 1 {
		t.Fatalf("%d objects (%v), want 1", n, err)
	}
	evs = runExecution(t, x, "a", fetchFlow, "paris/2025-02-14.txt")
	if got := outputDocs(evs); len(got) != 1 || got[0] != "Louvre at 10, Orsay at 15." {
		t.Fatalf("Retrieval output = %v", got)
	}
	for _, tc := range []struct{ acct, key string }{{"b", "paris/2025-02-14.txt"}, {"a", "rome.txt"}, {"a", "bad\x01key"}} {
		evs = runExecution(t, x, tc.acct, fetchFlow, tc.key)
		if f := eventsOf(evs, "dependencyFailedException"); len(f) != 1 || len(outputDocs(evs)) != 0 || f[0]["resourceName"] != "Get" {
			t.Errorf("account %s key %q: events %v; want the Retrieval node failed", tc.acct, tc.key, evs)
		}
	}
}
