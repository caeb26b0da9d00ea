package flow

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"testing"
)

// roundTrip persists and reloads a state, as the executor does between steps.
func roundTrip(t testing.TB, s *State) *State {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	out := &State{}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	if out.Resumes == nil {
		out.Resumes = map[string]json.RawMessage{}
	}
	return out
}

func step(t testing.TB, p *Plan, s *State, ev Event) (*State, []Command) {
	t.Helper()
	s2, cmds, err := p.Step(roundTrip(t, s), ev)
	if err != nil {
		t.Fatalf("Step: %v", err)
	}
	return s2, cmds
}

func runs(cmds []Command) []*Run {
	var out []*Run
	for _, c := range cmds {
		if c.Run != nil {
			out = append(out, c.Run)
		}
	}
	return out
}

func completion(cmds []Command) *Completion {
	for _, c := range cmds {
		if c.Complete != nil {
			return c.Complete
		}
	}
	return nil
}

func outputs(cmds []Command) map[string]string {
	m := map[string]string{}
	for _, c := range cmds {
		if c.Output != nil {
			b, _ := MarshalValue(c.Output.Document)
			m[c.Output.NodeName] = string(b)
		}
	}
	return m
}

func TestTripPlannerGuideBranch(t *testing.T) {
	p, err := Compile(tripPlanner(t))
	if err != nil {
		t.Fatal(err)
	}
	var doc Value = "What's the weather in Paris?"
	s, cmds := step(t, p, NewState(), Event{Start: &doc})
	rs := runs(cmds)
	if len(rs) != 1 || rs[0].Node.Name != "Query_classifier" || rs[0].Inputs[0].Value != doc {
		t.Fatalf("first runs = %+v", rs)
	}
	s, cmds = step(t, p, s, Event{Done: &NodeDone{Activation: "Query_classifier", Outputs: map[string]Value{"modelCompletion": "B"}}})
	rs = runs(cmds)
	if len(rs) != 1 || rs[0].Node.Name != "LLM_guide" {
		t.Fatalf("after classification runs = %+v", rs)
	}
	if s.Nodes["Trip_planner"] != StatusSkipped || s.Nodes["FlowOutputNode"] != StatusSkipped || s.Selected["Condition"] != "default" {
		t.Fatalf("state after B = %+v", s)
	}
	s, cmds = step(t, p, s, Event{Done: &NodeDone{Activation: "LLM_guide", Outputs: map[string]Value{"modelCompletion": "Paris is lovely."}}})
	if got := outputs(cmds); len(got) != 1 || got["GuideOutput"] != `"Paris is lovely."` {
		t.Fatalf("outputs = %v", got)
	}
	if c := completion(cmds); c == nil || c.Reason != ReasonSuccess || s.Status != ExecSucceeded {
		t.Fatalf("completion = %+v, status %s", c, s.Status)
	}
}

func TestTripPlannerMultiTurn(t *testing.T) {
	p, err := Compile(tripPlanner(t))
	if err != nil {
		t.Fatal(err)
	}
	var doc Value = "Book a flight to paris"
	s, _ := step(t, p, NewState(), Event{Start: &doc})
	s, cmds := step(t, p, s, Event{Done: &NodeDone{Activation: "Query_classifier", Outputs: map[string]Value{"modelCompletion": "A"}}})
	rs := runs(cmds)
	if len(rs) != 1 || rs[0].Node.Name != "Trip_planner" || rs[0].Inputs[0].Value != doc {
		t.Fatalf("runs after A = %+v", rs)
	}
	s, cmds = step(t, p, s, Event{Waiting: &NodeWaiting{Activation: "Trip_planner", Question: "From which airport?"}})
	if c := completion(cmds); c == nil || c.Reason != ReasonInputRequired || s.Status != ExecPaused {
		t.Fatalf("completion = %+v, status %s", c, s.Status)
	}
	if cmds[0].InputRequired == nil || cmds[0].InputRequired.NodeName != "Trip_planner" || cmds[0].InputRequired.NodeType != "AgentNode" {
		t.Fatalf("first command = %+v", cmds[0])
	}
	// Wrong node or input name, and resuming a running execution, are refused.
	if _, _, err := p.Step(s, Event{Resume: &ResumeInput{NodeName: "LLM_guide", InputName: "agentInputText", Content: "x"}}); !errors.Is(err, ErrWrongNode) {
		t.Fatalf("resume wrong node = %v", err)
	}
	if _, _, err := p.Step(s, Event{Resume: &ResumeInput{NodeName: "Trip_planner", InputName: "document", Content: "x"}}); !errors.Is(err, ErrWrongNode) {
		t.Fatalf("resume wrong input = %v", err)
	}
	s, cmds = step(t, p, s, Event{Resume: &ResumeInput{NodeName: "Trip_planner", InputName: "agentInputText", Content: "MAD, 20250214"}})
	rs = runs(cmds)
	if len(rs) != 1 || rs[0].Resume == nil || *rs[0].Resume != "MAD, 20250214" {
		t.Fatalf("resume runs = %+v", rs)
	}
	if _, _, err := p.Step(s, Event{Resume: &ResumeInput{NodeName: "Trip_planner", InputName: "agentInputText", Content: "again"}}); !errors.Is(err, ErrNotWaiting) {
		t.Fatalf("second resume = %v", err)
	}
	// A crash now: recovery re-issues the resumed run with the same answer.
	rec, err := p.Recover(roundTrip(t, s))
	if err != nil || len(rec) != 1 || rec[0].Run.Resume == nil || *rec[0].Run.Resume != "MAD, 20250214" {
		t.Fatalf("Recover = %+v, %v", rec, err)
	}
	s, cmds = step(t, p, s, Event{Done: &NodeDone{Activation: "Trip_planner", Outputs: map[string]Value{"agentResponse": "Booked."}}})
	if got := outputs(cmds); got["FlowOutputNode"] != `"Booked."` || len(got) != 1 {
		t.Fatalf("outputs = %v", got)
	}
	if c := completion(cmds); c == nil || c.Reason != ReasonSuccess {
		t.Fatalf("completion = %+v", c)
	}
	if rec, _ := p.Recover(s); len(rec) != 0 {
		t.Fatalf("finished execution recovers runs: %+v", rec)
	}
}

func TestRuntimeTypeErrors(t *testing.T) {
	p, _ := Compile(tripPlanner(t))
	var num Value = json.Number("3")
	if _, _, err := p.Step(NewState(), Event{Start: &num}); err == nil {
		t.Fatal("a Number document for a String input was accepted")
	}
	var doc Value = "hi"
	s, _ := step(t, p, NewState(), Event{Start: &doc})
	s, cmds := step(t, p, s, Event{Done: &NodeDone{Activation: "Query_classifier", Outputs: map[string]Value{"modelCompletion": json.Number("1")}}})
	if c := completion(cmds); c == nil || c.Error == nil || c.Error.Kind != "validation" || s.Status != ExecFailed {
		t.Fatalf("completion = %+v", c)
	}
}

const iterFlow = `{"nodes":[
 {"name":"In","type":"Input","configuration":{"input":{}},"outputs":[{"name":"document","type":"Array"}]},
 {"name":"Each","type":"Iterator","configuration":{"iterator":{}},"inputs":[{"name":"array","type":"Array","expression":"$.data"}],
  "outputs":[{"name":"arrayItem","type":"Object"},{"name":"arraySize","type":"Number"}]},
 {"name":"Pick","type":"Condition","configuration":{"condition":{"conditions":[{"name":"Keep","expression":"keep == true"},{"name":"default"}]}},
  "inputs":[{"name":"keep","type":"Boolean","expression":"$.data.keep"}]},
 {"name":"Say","type":"Prompt","configuration":{"prompt":{"sourceConfiguration":{"inline":{"modelId":"m","templateType":"TEXT","templateConfiguration":{"text":{"text":"{{city}}"}}}}}},
  "inputs":[{"name":"city","type":"String","expression":"$.data.city"}],"outputs":[{"name":"modelCompletion","type":"String"}]},
 {"name":"Gather","type":"Collector","configuration":{"collector":{}},
  "inputs":[{"name":"arrayItem","type":"String","expression":"$.data"},{"name":"arraySize","type":"Number","expression":"$.data"}],
  "outputs":[{"name":"collectedArray","type":"Array"}]},
 {"name":"EachOut","type":"Output","configuration":{"output":{}},"inputs":[{"name":"document","type":"String","expression":"$.data"}]},
 {"name":"Out","type":"Output","configuration":{"output":{}},"inputs":[{"name":"document","type":"Array","expression":"$.data"}]}],
"connections":[
 {"name":"InEach","source":"In","target":"Each","type":"Data","configuration":{"data":{"sourceOutput":"document","targetInput":"array"}}},
 {"name":"EachPick","source":"Each","target":"Pick","type":"Data","configuration":{"data":{"sourceOutput":"arrayItem","targetInput":"keep"}}},
 {"name":"EachSay","source":"Each","target":"Say","type":"Data","configuration":{"data":{"sourceOutput":"arrayItem","targetInput":"city"}}},
 {"name":"PickSay","source":"Pick","target":"Say","type":"Conditional","configuration":{"conditional":{"condition":"Keep"}}},
 {"name":"SayGather","source":"Say","target":"Gather","type":"Data","configuration":{"data":{"sourceOutput":"modelCompletion","targetInput":"arrayItem"}}},
 {"name":"SizeGather","source":"Each","target":"Gather","type":"Data","configuration":{"data":{"sourceOutput":"arraySize","targetInput":"arraySize"}}},
 {"name":"SayEachOut","source":"Say","target":"EachOut","type":"Data","configuration":{"data":{"sourceOutput":"modelCompletion","targetInput":"document"}}},
 {"name":"GatherOut","source":"Gather","target":"Out","type":"Data","configuration":{"data":{"sourceOutput":"collectedArray","targetInput":"document"}}}]}`

func TestIteratorCollector(t *testing.T) {
	def, err := ParseDefinition([]byte(iterFlow))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(def)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	doc, _ := ParseValue([]byte(`[{"city":"Paris","keep":true},{"city":"Oslo","keep":false},{"city":"Rome","keep":true}]`))
	s, cmds := step(t, p, NewState(), Event{Start: &doc})
	rs := runs(cmds)
	if len(rs) != 2 || rs[0].Activation != "Say#0" || rs[1].Activation != "Say#2" {
		t.Fatalf("runs = %+v", rs)
	}
	var emitted []string
	// Finish item 2 before item 0: the collector keeps item order.
	for _, r := range []*Run{rs[1], rs[0]} {
		s, cmds = step(t, p, s, Event{Done: &NodeDone{Activation: r.Activation, Outputs: map[string]Value{"modelCompletion": "hello " + r.Inputs[0].Value.(string)}}})
		for _, c := range cmds {
			if c.Output != nil {
				b, _ := MarshalValue(c.Output.Document)
				emitted = append(emitted, c.Output.NodeName+"="+string(b))
			}
		}
	}
	want := []string{`EachOut="hello Rome"`, `EachOut="hello Paris"`, `Out=["hello Paris","hello Rome"]`}
	if fmt.Sprint(emitted) != fmt.Sprint(want) {
		t.Fatalf("emitted %v, want %v", emitted, want)
	}
	if c := completion(cmds); c == nil || c.Reason != ReasonSuccess {
		t.Fatalf("completion = %+v", c)
	}
}

// randomFlow builds a random valid DAG of Prompt and Condition nodes.
func randomFlow(r *rand.Rand) *Definition {
	d := &Definition{}
	add := func(n Node) { d.Nodes = append(d.Nodes, n) }
	cfg := func(k, v string) map[string]json.RawMessage { return map[string]json.RawMessage{k: json.RawMessage(v)} }
	add(Node{Name: "In", Type: NodeInputT, Configuration: cfg("input", `{}`), Outputs: []NodeOutput{{"document", TypeString}}})
	type src struct{ node, out string }
	data := []src{{"In", "document"}}
	var conds []string
	used := map[string]bool{}
	m := 2 + r.IntN(8)
	for j := range m {
		from := data[r.IntN(len(data))]
		used[from.node] = true
		name := fmt.Sprintf("N%d", j)
		if r.IntN(5) < 2 {
			add(Node{Name: name, Type: NodeCondition, Configuration: cfg("condition", `{"conditions":[{"name":"IsA","expression":"xv == \"a\""},{"name":"default"}]}`),
				Inputs: []NodeInput{{Name: "xv", Type: TypeString, Expression: "$.data"}}})
			conds = append(conds, name)
		} else {
			add(Node{Name: name, Type: NodePrompt, Configuration: cfg("prompt", `{"sourceConfiguration":{"inline":{"modelId":"m","templateType":"TEXT","templateConfiguration":{"text":{"text":"{{xv}}"}}}}}`),
				Inputs: []NodeInput{{Name: "xv", Type: TypeString, Expression: "$.data"}}, Outputs: []NodeOutput{{"modelCompletion", TypeString}}})
			data = append(data, src{name, "modelCompletion"})
			if len(conds) > 0 && r.IntN(2) == 0 {
				c := conds[r.IntN(len(conds))]
				cond := []string{"IsA", "default"}[r.IntN(2)]
				d.Connections = append(d.Connections, Connection{Name: "G" + name, Source: c, Target: name, Type: ConnConditional,
					Configuration: &ConnectionConfiguration{Conditional: &ConditionalConnection{Condition: cond}}})
			}
		}
		d.Connections = append(d.Connections, dataConn("D"+name, from.node, from.out, name, "xv"))
	}
	outs := 0
	for _, s := range data[1:] {
		if !used[s.node] || r.IntN(3) == 0 {
			name := "Out" + s.node
			add(Node{Name: name, Type: NodeOutputT, Configuration: cfg("output", `{}`), Inputs: []NodeInput{{Name: "document", Type: TypeString, Expression: "$.data"}}})
			d.Connections = append(d.Connections, dataConn("D"+name, s.node, s.out, name, "document"))
			outs++
		}
	}
	if outs == 0 {
		add(Node{Name: "OutIn", Type: NodeOutputT, Configuration: cfg("output", `{}`), Inputs: []NodeInput{{Name: "document", Type: TypeString, Expression: "$.data"}}})
		d.Connections = append(d.Connections, dataConn("DOutIn", "In", "document", "OutIn", "document"))
	}
	return d
}

// answer is the scripted model: a pure function of the activation and input.
func answer(r *Run) string {
	h := fnv.New32a()
	fmt.Fprint(h, r.Activation, r.Inputs[0].Value)
	return []string{"a", "b"}[h.Sum32()%2]
}

// drive runs an execution to the end, completing outstanding runs in an
// order chosen by r, and returns the emitted outputs and final state.
func drive(t *testing.T, p *Plan, r *rand.Rand, input string) (map[string]string, *State) {
	var doc Value = input
	s, cmds := step(t, p, NewState(), Event{Start: &doc})
	pending := runs(cmds)
	emitted := map[string]string{}
	started := map[string]bool{}
	collect := func(cmds []Command) {
		for _, c := range cmds {
			if c.Output != nil {
				if _, dup := emitted[c.Output.NodeName]; dup {
					t.Fatalf("output node %s emitted twice", c.Output.NodeName)
				}
				b, _ := MarshalValue(c.Output.Document)
				emitted[c.Output.NodeName] = string(b)
			}
			if c.Run != nil {
				if started[c.Run.Activation] {
					t.Fatalf("activation %s run twice", c.Run.Activation)
				}
				started[c.Run.Activation] = true
			}
		}
	}
	collect(cmds)
	for steps := 0; len(pending) > 0; steps++ {
		if steps > 1000 {
			t.Fatal("execution does not terminate")
		}
		i := r.IntN(len(pending))
		run := pending[i]
		pending = append(pending[:i], pending[i+1:]...)
		s, cmds = step(t, p, s, Event{Done: &NodeDone{Activation: run.Activation, Outputs: map[string]Value{"modelCompletion": answer(run)}}})
		collect(cmds)
		pending = append(pending, runs(cmds)...)
	}
	if s.Status != ExecSucceeded {
		t.Fatalf("final status %s", s.Status)
	}
	for _, n := range p.order {
		st := s.Nodes[n.Name]
		if st != StatusDone && st != StatusSkipped {
			t.Fatalf("node %s ended %q", n.Name, st)
		}
		if n.Type == NodeOutputT {
			if _, ok := emitted[n.Name]; ok != (st == StatusDone) {
				t.Fatalf("output %s: status %s, emitted %v", n.Name, st, ok)
			}
		}
	}
	return emitted, s
}

// TestStepProperties runs random flows with random completion orders: every
// execution terminates with each node done or skipped, no activation runs
// twice, no output is emitted twice, and the result does not depend on the
// order in which runs complete (nor on persisting the state between steps).
func TestStepProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	compiled := 0
	for trial := range 300 {
		def := randomFlow(r)
		p, err := Compile(def)
		if err != nil {
			t.Fatalf("trial %d: random flow does not compile: %v", trial, err)
		}
		compiled++
		in := []string{"a", "b", "trip"}[r.IntN(3)]
		out1, s1 := drive(t, p, rand.New(rand.NewPCG(uint64(trial), 7)), in)
		out2, s2 := drive(t, p, rand.New(rand.NewPCG(uint64(trial), 99)), in)
		if fmt.Sprint(out1) != fmt.Sprint(out2) || fmt.Sprint(s1.Nodes) != fmt.Sprint(s2.Nodes) || fmt.Sprint(s1.Selected) != fmt.Sprint(s2.Selected) {
			t.Fatalf("trial %d: completion order changed the result:\n%v\n%v", trial, out1, out2)
		}
	}
	if compiled < 300 {
		t.Fatalf("only %d flows compiled", compiled)
	}
}
