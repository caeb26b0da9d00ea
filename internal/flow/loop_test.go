package flow

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/store/storetest"
)

// countLoop is In (Number) → Loop "Refine" → Out. The body adds one to the
// count (inline code) until the count reaches 3: the controller exits when
// `done >= 3`, feeds the count back to the loop start, and exposes it as
// the loop's output "result". maxIter sets maxIterations ("" for default).
func countLoop(maxIter string) string {
	mi := ""
	if maxIter != "" {
		mi = `, "maxIterations": ` + maxIter
	}
	body := `{"nodes": [
  {"name": "Start", "type": "LoopInput", "configuration": {"loopInput": {}}, "outputs": [{"name": "count", "type": "Number"}]},
  {"name": "Step", "type": "InlineCode", "configuration": {"inlineCode": {"language": "Python_3", "code": "count + 1"}},
   "inputs": [{"name": "count", "type": "Number", "expression": "$.data"}], "outputs": [{"name": "response", "type": "Number"}]},
  {"name": "Check", "type": "LoopController", "configuration": {"loopController": {"continueCondition": {"name": "reached", "expression": "done >= 3"}` + mi + `}},
   "inputs": [{"name": "done", "type": "Number", "expression": "$.data", "category": "LoopCondition"},
              {"name": "count", "type": "Number", "expression": "$.data", "category": "ReturnValueToLoopStart"},
              {"name": "result", "type": "Number", "expression": "$.data", "category": "ExitLoop"}]}
 ], "connections": [
  {"name": "b1", "source": "Start", "target": "Step", "type": "Data", "configuration": {"data": {"sourceOutput": "count", "targetInput": "count"}}},
  {"name": "b2", "source": "Step", "target": "Check", "type": "Data", "configuration": {"data": {"sourceOutput": "response", "targetInput": "done"}}},
  {"name": "b3", "source": "Step", "target": "Check", "type": "Data", "configuration": {"data": {"sourceOutput": "response", "targetInput": "count"}}},
  {"name": "b4", "source": "Step", "target": "Check", "type": "Data", "configuration": {"data": {"sourceOutput": "response", "targetInput": "result"}}}
 ]}`
	return `{"nodes": [
 {"name": "In", "type": "Input", "configuration": {"input": {}}, "outputs": [{"name": "document", "type": "Number"}]},
 {"name": "Refine", "type": "Loop", "configuration": {"loop": {"definition": ` + body + `}},
  "inputs": [{"name": "count", "type": "Number", "expression": "$.data"}], "outputs": [{"name": "result", "type": "Number"}]},
 {"name": "Out", "type": "Output", "configuration": {"output": {}}, "inputs": [{"name": "document", "type": "Number", "expression": "$.data"}]}
], "connections": [
 {"name": "c1", "source": "In", "target": "Refine", "type": "Data", "configuration": {"data": {"sourceOutput": "document", "targetInput": "count"}}},
 {"name": "c2", "source": "Refine", "target": "Out", "type": "Data", "configuration": {"data": {"sourceOutput": "result", "targetInput": "document"}}}
]}`
}

// TestDoWhileLoop runs DoWhile loops through the durable executor: the
// body repeats until the controller's condition is true, at least once,
// and at most maxIterations times (leaving with the last iteration's
// values); ReturnValueToLoopStart feeds the next iteration and ExitLoop is
// the Loop node's output. Body node traces carry the loop iteration in
// their executionChain.
func TestDoWhileLoop(t *testing.T) {
	x := NewExecutor(ExecutorOptions{DB: storetest.SQLite(t), Nodes: &Runner{}})
	tests := []struct {
		name, maxIter string
		start         int
		want          string
		iterations    int
	}{
		{"until the condition", "", 0, "3", 3},
		{"at least once", "", 10, "11", 1},
		{"maxIterations", "2", 0, "2", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs := runExecution(t, x, "a", countLoop(tc.maxIter), json.Number(strconv.Itoa(tc.start)))
			got := outputDocs(evs)
			if len(got) != 1 || mustJSON(t, got[0]) != tc.want {
				t.Fatalf("outputs = %v, want [%s]; events %v", got, tc.want, evs)
			}
			if c := eventsOf(evs, EventCompletion); len(c) != 1 || c[0]["completionReason"] != ReasonSuccess {
				t.Fatalf("completion = %v", c)
			}
			// One input trace of the inline code per iteration, each with
			// its iteration in the executionChain.
			var chains []string
			for _, in := range traceMembers(evs, "nodeInputTrace") {
				if in["nodeName"] != "Step" {
					continue
				}
				f := in["fields"].([]any)[0].(map[string]any)
				b, _ := json.Marshal(f["executionChain"])
				chains = append(chains, string(b))
			}
			if len(chains) != tc.iterations {
				t.Fatalf("%d iterations traced, want %d: %v", len(chains), tc.iterations, chains)
			}
			for i, c := range chains {
				if want := `[{"index":` + strconv.Itoa(i) + `,"nodeName":"Refine","type":"Loop"}]`; c != want {
					t.Errorf("iteration %d executionChain = %s, want %s", i+1, c, want)
				}
			}
		})
	}
}

// askLoop is In → Loop (body: LoopInput → Agent → LoopController that
// exits when the agent says "yes") → Out.
const askLoop = `{"nodes": [
 {"name": "In", "type": "Input", "configuration": {"input": {}}, "outputs": [{"name": "document", "type": "String"}]},
 {"name": "Confirm", "type": "Loop", "configuration": {"loop": {"definition": {"nodes": [
   {"name": "Start", "type": "LoopInput", "configuration": {"loopInput": {}}, "outputs": [{"name": "text", "type": "String"}]},
   {"name": "Ask", "type": "Agent", "configuration": {"agent": {"agentAliasArn": "arn:aws:bedrock:us-east-1:000000000000:agent-alias/AGENT12345/ALIAS12345"}},
    "inputs": [{"name": "agentInputText", "type": "String", "expression": "$.data"}], "outputs": [{"name": "agentResponse", "type": "String"}]},
   {"name": "Check", "type": "LoopController", "configuration": {"loopController": {"continueCondition": {"name": "confirmed", "expression": "answer == \"yes\""}, "maxIterations": 5}},
    "inputs": [{"name": "answer", "type": "String", "expression": "$.data", "category": "LoopCondition"},
               {"name": "text", "type": "String", "expression": "$.data", "category": "ReturnValueToLoopStart"},
               {"name": "final", "type": "String", "expression": "$.data", "category": "ExitLoop"}]}
  ], "connections": [
   {"name": "b1", "source": "Start", "target": "Ask", "type": "Data", "configuration": {"data": {"sourceOutput": "text", "targetInput": "agentInputText"}}},
   {"name": "b2", "source": "Ask", "target": "Check", "type": "Data", "configuration": {"data": {"sourceOutput": "agentResponse", "targetInput": "answer"}}},
   {"name": "b3", "source": "Ask", "target": "Check", "type": "Data", "configuration": {"data": {"sourceOutput": "agentResponse", "targetInput": "text"}}},
   {"name": "b4", "source": "Ask", "target": "Check", "type": "Data", "configuration": {"data": {"sourceOutput": "agentResponse", "targetInput": "final"}}}
  ]}}},
  "inputs": [{"name": "text", "type": "String", "expression": "$.data"}], "outputs": [{"name": "final", "type": "String"}]},
 {"name": "Out", "type": "Output", "configuration": {"output": {}}, "inputs": [{"name": "document", "type": "String", "expression": "$.data"}]}
], "connections": [
 {"name": "c1", "source": "In", "target": "Confirm", "type": "Data", "configuration": {"data": {"sourceOutput": "document", "targetInput": "text"}}},
 {"name": "c2", "source": "Confirm", "target": "Out", "type": "Data", "configuration": {"data": {"sourceOutput": "final", "targetInput": "document"}}}
]}`

// TestLoopPauseResume steps a loop whose body pauses on an agent: the
// pause surfaces as the flow's INPUT_REQUIRED with the body node's name, a
// resume by that name reaches the body, a state persisted mid-loop
// recovers the body's run under its iteration, and the next iteration
// runs under a new activation.
func TestLoopPauseResume(t *testing.T) {
	def, err := ParseDefinition([]byte(askLoop))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(def)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	start := Value("Book it?")
	s, cmds := step(t, p, NewState(), Event{Start: &start})
	rs := runs(cmds)
	if len(rs) != 1 || rs[0].Activation != "Confirm/1/Ask" || rs[0].Node.Name != "Ask" {
		t.Fatalf("first runs = %+v", rs)
	}
	// Recovery of the persisted state re-issues the body's run.
	rec, err := p.Recover(roundTrip(t, s))
	if err != nil || len(rec) != 1 || rec[0].Run.Activation != "Confirm/1/Ask" || valueText(rec[0].Run.Inputs[0].Value) != "Book it?" {
		t.Fatalf("Recover = %+v, %v", rec, err)
	}
	s, cmds = step(t, p, s, Event{Waiting: &NodeWaiting{Activation: "Confirm/1/Ask", Question: "Which day?"}})
	if c := completion(cmds); c == nil || c.Reason != ReasonInputRequired || s.Status != ExecPaused {
		t.Fatalf("after the question: %+v, status %s", c, s.Status)
	}
	var asked *InputRequest
	for _, c := range cmds {
		if c.InputRequired != nil {
			asked = c.InputRequired
		}
	}
	if asked == nil || asked.NodeName != "Ask" || asked.NodeType != "AgentNode" {
		t.Fatalf("input request = %+v", asked)
	}
	if _, _, err := p.Step(s, Event{Resume: &ResumeInput{NodeName: "Nope", InputName: "agentInputText", Content: "x"}}); err == nil {
		t.Fatal("a resume of an unknown node was accepted")
	}
	s, cmds = step(t, p, s, Event{Resume: &ResumeInput{NodeName: "Ask", InputName: "agentInputText", Content: "Monday"}})
	rs = runs(cmds)
	if len(rs) != 1 || rs[0].Activation != "Confirm/1/Ask" || rs[0].Resume == nil || valueText(*rs[0].Resume) != "Monday" {
		t.Fatalf("resumed runs = %+v", rs)
	}
	s, cmds = step(t, p, s, Event{Done: &NodeDone{Activation: "Confirm/1/Ask", Outputs: map[string]Value{"agentResponse": "no"}}})
	rs = runs(cmds)
	if len(rs) != 1 || rs[0].Activation != "Confirm/2/Ask" || valueText(rs[0].Inputs[0].Value) != "no" {
		t.Fatalf("second iteration runs = %+v", rs)
	}
	// A late event for the finished iteration is refused.
	if _, _, err := p.Step(roundTrip(t, s), Event{Done: &NodeDone{Activation: "Confirm/1/Ask", Outputs: map[string]Value{"agentResponse": "x"}}}); err == nil {
		t.Fatal("an event of a finished iteration was accepted")
	}
	s, cmds = step(t, p, s, Event{Done: &NodeDone{Activation: "Confirm/2/Ask", Outputs: map[string]Value{"agentResponse": "yes"}}})
	if got := outputs(cmds); got["Out"] != `"yes"` {
		t.Fatalf("outputs = %v", got)
	}
	if c := completion(cmds); c == nil || c.Reason != ReasonSuccess || s.Status != ExecSucceeded || len(s.Loops) != 0 {
		t.Fatalf("end: %+v, status %s, loops %v", c, s.Status, s.Loops)
	}
}

// TestLoopBodyFailure: a failing body node fails the execution with the
// node's error.
func TestLoopBodyFailure(t *testing.T) {
	x := NewExecutor(ExecutorOptions{DB: storetest.SQLite(t), Nodes: &Runner{}})
	def := strings.Replace(countLoop(""), `"code": "count + 1"`, `"code": "count // 0"`, 1)
	evs := runExecution(t, x, "a", def, json.Number("1"))
	f := eventsOf(evs, "dependencyFailedException")
	if len(f) != 1 || !strings.Contains(f[0]["message"].(string), "division by zero") || len(outputDocs(evs)) != 0 {
		t.Fatalf("events = %v", evs)
	}
}

// nestedIterators is In (an array of arrays) → Outer iterator → Inner
// iterator (each outer item) → Up (inline code, per inner item) → Each
// (an Output per inner item) and InnerCollect (per outer item) →
// OuterCollect → Out.
const nestedIterators = `{"nodes": [
 {"name": "In", "type": "Input", "configuration": {"input": {}}, "outputs": [{"name": "document", "type": "Array"}]},
 {"name": "Outer", "type": "Iterator", "configuration": {"iterator": {}}, "inputs": [{"name": "array", "type": "Array", "expression": "$.data"}],
  "outputs": [{"name": "arrayItem", "type": "Array"}, {"name": "arraySize", "type": "Number"}]},
 {"name": "Inner", "type": "Iterator", "configuration": {"iterator": {}}, "inputs": [{"name": "array", "type": "Array", "expression": "$.data"}],
  "outputs": [{"name": "arrayItem", "type": "String"}, {"name": "arraySize", "type": "Number"}]},
 {"name": "Up", "type": "InlineCode", "configuration": {"inlineCode": {"language": "Python_3", "code": "word.upper()"}},
  "inputs": [{"name": "word", "type": "String", "expression": "$.data"}], "outputs": [{"name": "response", "type": "String"}]},
 {"name": "Each", "type": "Output", "configuration": {"output": {}}, "inputs": [{"name": "document", "type": "String", "expression": "$.data"}]},
 {"name": "InnerCollect", "type": "Collector", "configuration": {"collector": {}},
  "inputs": [{"name": "arrayItem", "type": "String", "expression": "$.data"}, {"name": "arraySize", "type": "Number", "expression": "$.data"}],
  "outputs": [{"name": "collectedArray", "type": "Array"}]},
 {"name": "OuterCollect", "type": "Collector", "configuration": {"collector": {}},
  "inputs": [{"name": "arrayItem", "type": "Array", "expression": "$.data"}, {"name": "arraySize", "type": "Number", "expression": "$.data"}],
  "outputs": [{"name": "collectedArray", "type": "Array"}]},
 {"name": "Out", "type": "Output", "configuration": {"output": {}}, "inputs": [{"name": "document", "type": "Array", "expression": "$.data"}]}
], "connections": [
 {"name": "c1", "source": "In", "target": "Outer", "type": "Data", "configuration": {"data": {"sourceOutput": "document", "targetInput": "array"}}},
 {"name": "c2", "source": "Outer", "target": "Inner", "type": "Data", "configuration": {"data": {"sourceOutput": "arrayItem", "targetInput": "array"}}},
 {"name": "c3", "source": "Inner", "target": "Up", "type": "Data", "configuration": {"data": {"sourceOutput": "arrayItem", "targetInput": "word"}}},
 {"name": "c4", "source": "Up", "target": "Each", "type": "Data", "configuration": {"data": {"sourceOutput": "response", "targetInput": "document"}}},
 {"name": "c5", "source": "Up", "target": "InnerCollect", "type": "Data", "configuration": {"data": {"sourceOutput": "response", "targetInput": "arrayItem"}}},
 {"name": "c6", "source": "Inner", "target": "InnerCollect", "type": "Data", "configuration": {"data": {"sourceOutput": "arraySize", "targetInput": "arraySize"}}},
 {"name": "c7", "source": "InnerCollect", "target": "OuterCollect", "type": "Data", "configuration": {"data": {"sourceOutput": "collectedArray", "targetInput": "arrayItem"}}},
 {"name": "c8", "source": "Outer", "target": "OuterCollect", "type": "Data", "configuration": {"data": {"sourceOutput": "arraySize", "targetInput": "arraySize"}}},
 {"name": "c9", "source": "OuterCollect", "target": "Out", "type": "Data", "configuration": {"data": {"sourceOutput": "collectedArray", "targetInput": "document"}}}
]}`

// TestNestedIterators runs an iterator inside an iterator: the inner
// nodes run once per (outer, inner) item, an Output inside emits per inner
// item, the inner Collector gathers per outer item (an empty inner array
// gives an empty collection) and the outer Collector gathers those, in
// order; traces carry both iterations in their executionChain.
func TestNestedIterators(t *testing.T) {
	x := NewExecutor(ExecutorOptions{DB: storetest.SQLite(t), Nodes: &Runner{}})
	doc, _ := ParseValue([]byte(`[["a", "b"], [], ["c"]]`))
	evs := runExecution(t, x, "a", nestedIterators, doc)
	var each []string
	var out string
	for _, p := range eventsOf(evs, EventOutput) {
		b, _ := json.Marshal(p["content"].(map[string]any)["document"])
		if p["nodeName"] == "Each" {
			each = append(each, string(b))
		} else {
			out = string(b)
		}
	}
	slices.Sort(each) // the per-item runs finish in any order
	if strings.Join(each, ",") != `"A","B","C"` || out != `[["A","B"],[],["C"]]` {
		t.Fatalf("Each outputs %v, Out %s", each, out)
	}
	var chains []string
	for _, in := range traceMembers(evs, "nodeInputTrace") {
		if in["nodeName"] == "Up" {
			b, _ := json.Marshal(in["fields"].([]any)[0].(map[string]any)["executionChain"])
			chains = append(chains, string(b))
		}
	}
	want := []string{
		`[{"index":0,"nodeName":"Outer","type":"Iterator"},{"index":0,"nodeName":"Inner","type":"Iterator"}]`,
		`[{"index":0,"nodeName":"Outer","type":"Iterator"},{"index":1,"nodeName":"Inner","type":"Iterator"}]`,
		`[{"index":2,"nodeName":"Outer","type":"Iterator"},{"index":0,"nodeName":"Inner","type":"Iterator"}]`,
	}
	if strings.Join(chains, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Up's executionChains:\n%s\nwant\n%s", strings.Join(chains, "\n"), strings.Join(want, "\n"))
	}
	// Keys of nested activations parse back to the node and inner index.
	if n, i := ParseActivation("Up#2.0"); n != "Up" || i != 0 {
		t.Fatalf("ParseActivation(Up#2.0) = %s, %d", n, i)
	}
	if n, i := ParseActivation("Odd#name#x"); n != "Odd#name#x" || i != -1 {
		t.Fatalf("ParseActivation(Odd#name#x) = %s, %d", n, i)
	}
}
