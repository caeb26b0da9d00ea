package flow

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

func tripPlanner(t testing.TB) *Definition {
	t.Helper()
	b, err := os.ReadFile("testdata/trip-planner.json")
	if err != nil {
		t.Fatal(err)
	}
	def, err := ParseDefinition(b)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

func node(d *Definition, name string) *Node {
	for i := range d.Nodes {
		if d.Nodes[i].Name == name {
			return &d.Nodes[i]
		}
	}
	panic("no node " + name)
}

func conn(d *Definition, name string) *Connection {
	for i := range d.Connections {
		if d.Connections[i].Name == name {
			return &d.Connections[i]
		}
	}
	panic("no connection " + name)
}

func dataConn(name, src, out, tgt, in string) Connection {
	return Connection{Name: name, Source: src, Target: tgt, Type: ConnData,
		Configuration: &ConnectionConfiguration{Data: &DataConnection{SourceOutput: out, TargetInput: in}}}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestTripPlannerIsValid(t *testing.T) {
	if vs := Validate(tripPlanner(t)); len(vs) != 0 {
		t.Fatalf("the seed's trip planner has findings: %+v", vs)
	}
}

// TestValidationTypes breaks the trip planner in one way per case and
// checks that Validate reports that class with Bedrock's type and details.
func TestValidationTypes(t *testing.T) {
	loopNode := func(body string) Node {
		return Node{Name: "Repeat", Type: NodeLoop, Configuration: map[string]json.RawMessage{"loop": raw(`{"definition":` + body + `}`)}}
	}
	goodBody := `{"nodes":[
	  {"name":"LoopStart","type":"LoopInput","configuration":{"loopInput":{}},"outputs":[{"name":"n","type":"Number"}]},
	  {"name":"Ctl","type":"LoopController","configuration":{"loopController":{"continueCondition":{"name":"more","expression":"n < 3"},"maxIterations":5}},
	   "inputs":[{"name":"n","type":"Number","expression":"$.data","category":"LoopCondition"}]}],
	 "connections":[{"name":"StartCtl","source":"LoopStart","target":"Ctl","type":"Data","configuration":{"data":{"sourceOutput":"n","targetInput":"n"}}}]}`
	for _, tc := range []struct {
		name    string
		mutate  func(d *Definition)
		typ     string
		details Details
	}{
		{"cycle", func(d *Definition) {
			node(d, "Trip_planner").Inputs = append(node(d, "Trip_planner").Inputs, NodeInput{Name: "promptAttributes", Type: TypeObject, Expression: "$.data"})
			n := node(d, "Query_classifier")
			n.Inputs = append(n.Inputs, NodeInput{Name: "extra", Type: TypeString, Expression: "$.data"})
			d.Connections = append(d.Connections, dataConn("Back", "LLM_guide", "modelCompletion", "Query_classifier", "extra"))
			d.Connections = append(d.Connections, dataConn("Fwd", "Query_classifier", "modelCompletion", "LLM_guide", "query"))
		}, "CyclicConnection", Details{Connection: "Back"}},
		{"duplicate connections", func(d *Definition) {
			c := *conn(d, "Input_Agent")
			c.Name = "Input_Agent2"
			d.Connections = append(d.Connections, c)
		}, "DuplicateConnections", Details{Source: "FlowInputNode", Target: "Trip_planner"}},
		{"duplicate condition expression", func(d *Definition) {
			node(d, "Condition").Configuration["condition"] = raw(`{"conditions":[{"name":"Booking","expression":"categoryLetter==\"A\""},{"name":"Again","expression":"categoryLetter==\"A\""},{"name":"default"}]}`)
		}, "DuplicateConditionExpression", Details{Node: "Condition", Expression: `categoryLetter=="A"`}},
		{"unreachable node", func(d *Definition) {
			d.Nodes = append(d.Nodes, Node{Name: "Orphan", Type: NodeOutputT, Configuration: map[string]json.RawMessage{"output": raw(`{}`)},
				Inputs: []NodeInput{{Name: "document", Type: TypeString, Expression: "$.data"}}})
		}, "UnreachableNode", Details{Node: "Orphan"}},
		{"unknown source", func(d *Definition) { conn(d, "Input_Agent").Source = "Nobody" }, "UnknownConnectionSource", Details{Connection: "Input_Agent"}},
		{"unknown target", func(d *Definition) { conn(d, "Agent_Output").Target = "Nowhere" }, "UnknownConnectionTarget", Details{Connection: "Agent_Output"}},
		{"unknown source output", func(d *Definition) { conn(d, "Input_Agent").Configuration.Data.SourceOutput = "doc" }, "UnknownConnectionSourceOutput", Details{Connection: "Input_Agent"}},
		{"unknown target input", func(d *Definition) { conn(d, "Input_Agent").Configuration.Data.TargetInput = "text" }, "UnknownConnectionTargetInput", Details{Connection: "Input_Agent"}},
		{"unknown condition", func(d *Definition) { conn(d, "Condition_Booking").Configuration.Conditional.Condition = "Flights" }, "UnknownConnectionCondition", Details{Connection: "Condition_Booking"}},
		{"malformed condition", func(d *Definition) {
			node(d, "Condition").Configuration["condition"] = raw(`{"conditions":[{"name":"Booking","expression":"categoryLetter == "},{"name":"default"}]}`)
		}, "MalformedConditionExpression", Details{Node: "Condition", Condition: "Booking", Cause: "unexpected end of expression"}},
		{"malformed input expression", func(d *Definition) { node(d, "LLM_guide").Inputs[0].Expression = "$.data[" },
			"MalformedNodeInputExpression", Details{Node: "LLM_guide", Input: "query", Cause: "unclosed '['"}},
		{"mismatched input type", func(d *Definition) { node(d, "Trip_planner").Inputs[0].Type = TypeNumber },
			"MismatchedNodeInputType", Details{Node: "Trip_planner", Input: "agentInputText", ExpectedType: TypeString}},
		{"mismatched output type", func(d *Definition) { node(d, "LLM_guide").Outputs[0].Type = TypeObject },
			"MismatchedNodeOutputType", Details{Node: "LLM_guide", Output: "modelCompletion", ExpectedType: TypeString}},
		{"incompatible connection type", func(d *Definition) { node(d, "FlowInputNode").Outputs[0].Type = TypeNumber },
			"IncompatibleConnectionDataType", Details{Connection: "Input_Classifier"}},
		{"deep expression on a string", func(d *Definition) { node(d, "LLM_guide").Inputs[0].Expression = "$.data.text" },
			"IncompatibleConnectionDataType", Details{Connection: "Input_Guide"}},
		{"missing connection configuration", func(d *Definition) { conn(d, "Input_Guide").Configuration = nil },
			"MissingConnectionConfiguration", Details{Connection: "Input_Guide"}},
		{"missing default condition", func(d *Definition) {
			node(d, "Condition").Configuration["condition"] = raw(`{"conditions":[{"name":"Booking","expression":"categoryLetter==\"A\""},{"name":"default","expression":"categoryLetter!=\"A\""}]}`)
		}, "MissingDefaultCondition", Details{Node: "Condition"}},
		{"missing ending nodes", func(d *Definition) {
			d.Nodes = slices.DeleteFunc(d.Nodes, func(n Node) bool { return n.Type == NodeOutputT })
			d.Connections = slices.DeleteFunc(d.Connections, func(c Connection) bool { return strings.HasSuffix(c.Name, "_Output") })
		}, "MissingEndingNodes", Details{}},
		{"missing starting nodes", func(d *Definition) {
			d.Nodes = slices.DeleteFunc(d.Nodes, func(n Node) bool { return n.Type == NodeInputT })
			d.Connections = slices.DeleteFunc(d.Connections, func(c Connection) bool { return strings.HasPrefix(c.Name, "Input_") })
		}, "MissingStartingNodes", Details{}},
		{"missing node configuration", func(d *Definition) { node(d, "Trip_planner").Configuration = nil }, "MissingNodeConfiguration", Details{Node: "Trip_planner"}},
		{"configuration of another type", func(d *Definition) {
			node(d, "Trip_planner").Configuration = map[string]json.RawMessage{"prompt": raw(`{}`)}
		}, "MissingNodeConfiguration", Details{Node: "Trip_planner"}},
		{"missing node input", func(d *Definition) {
			node(d, "Trip_planner").Inputs = nil
			d.Connections = slices.DeleteFunc(d.Connections, func(c Connection) bool { return c.Name == "Input_Agent" })
		}, "MissingNodeInput", Details{Node: "Trip_planner", Input: "agentInputText"}},
		{"missing node output", func(d *Definition) {
			node(d, "LLM_guide").Outputs = nil
			d.Connections = slices.DeleteFunc(d.Connections, func(c Connection) bool { return c.Name == "Guide_Output" })
		}, "MissingNodeOutput", Details{Node: "LLM_guide", Output: "modelCompletion"}},
		{"two connections to one input", func(d *Definition) {
			d.Connections = append(d.Connections, dataConn("Guide_Output2", "LLM_guide", "modelCompletion", "FlowOutputNode", "document"))
		}, "MultipleNodeInputConnections", Details{Node: "FlowOutputNode", Input: "document"}},
		{"unfulfilled input", func(d *Definition) {
			d.Connections = slices.DeleteFunc(d.Connections, func(c Connection) bool { return c.Name == "Input_Guide" })
		}, "UnfulfilledNodeInput", Details{Node: "LLM_guide", Input: "query"}},
		{"conditional from a non-condition node", func(d *Definition) { conn(d, "Condition_Default").Source = "Query_classifier" },
			"UnsatisfiedConnectionConditions", Details{Connection: "Condition_Default"}},
		{"unknown node input", func(d *Definition) {
			node(d, "FlowOutputNode").Inputs = append(node(d, "FlowOutputNode").Inputs, NodeInput{Name: "extra", Type: TypeString, Expression: "$.data"})
		}, "UnknownNodeInput", Details{Node: "FlowOutputNode", Input: "extra"}},
		{"unknown node output", func(d *Definition) {
			node(d, "Trip_planner").Outputs = append(node(d, "Trip_planner").Outputs, NodeOutput{Name: "trace", Type: TypeString})
		}, "UnknownNodeOutput", Details{Node: "Trip_planner", Output: "trace"}},
		{"loop without input node", func(d *Definition) {
			d.Nodes = append(d.Nodes, loopNode(`{"nodes":[{"name":"Ctl","type":"LoopController","configuration":{"loopController":{"continueCondition":{"name":"c","expression":"n < 3"}}},"inputs":[{"name":"n","type":"Number","expression":"$.data"}]}],"connections":[]}`))
		}, "MissingLoopInputNode", Details{LoopNode: "Repeat"}},
		{"loop without controller", func(d *Definition) {
			d.Nodes = append(d.Nodes, loopNode(`{"nodes":[{"name":"LoopStart","type":"LoopInput","configuration":{"loopInput":{}}}],"connections":[]}`))
		}, "MissingLoopControllerNode", Details{LoopNode: "Repeat"}},
		{"two loop inputs", func(d *Definition) {
			d.Nodes = append(d.Nodes, loopNode(strings.Replace(goodBody, `"nodes":[`, `"nodes":[{"name":"LoopStart2","type":"LoopInput","configuration":{"loopInput":{}}},`, 1)))
		}, "MultipleLoopInputNodes", Details{LoopNode: "Repeat"}},
		{"two loop controllers", func(d *Definition) {
			d.Nodes = append(d.Nodes, loopNode(strings.Replace(goodBody, `"nodes":[`, `"nodes":[{"name":"Ctl2","type":"LoopController","configuration":{"loopController":{"continueCondition":{"name":"c","expression":"n < 1"}}},"inputs":[{"name":"n","type":"Number","expression":"$.data"}]},`, 1)))
		}, "MultipleLoopControllerNodes", Details{LoopNode: "Repeat"}},
		{"condition inside a loop", func(d *Definition) {
			d.Nodes = append(d.Nodes, loopNode(strings.Replace(goodBody, `"nodes":[`, `"nodes":[{"name":"Branch","type":"Condition","configuration":{"condition":{"conditions":[{"name":"default"}]}}},`, 1)))
		}, "LoopIncompatibleNodeType", Details{Node: "Repeat", IncompatibleNodeName: "Branch", IncompatibleNodeType: "Condition"}},
		{"connection into a loop body", func(d *Definition) {
			d.Nodes = append(d.Nodes, loopNode(goodBody))
			d.Connections = append(d.Connections, dataConn("IntoLoop", "FlowInputNode", "document", "Ctl", "n"))
		}, "InvalidLoopBoundary", Details{Connection: "IntoLoop", Source: "FlowInputNode", Target: "Ctl"}},
		{"lex is not supported", func(d *Definition) { node(d, "Trip_planner").Type = NodeLex }, "Unspecified", Details{Node: "Trip_planner"}},
		{"bad node name", func(d *Definition) { node(d, "GuideOutput").Name = "Guide__Output" }, "Unspecified", Details{Node: "Guide__Output"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tripPlanner(t)
			tc.mutate(d)
			vs := Validate(d)
			for _, v := range vs {
				if v.Type == tc.typ && v.Details == tc.details {
					if v.Message == "" || (v.Severity != SeverityError && v.Severity != SeverityWarning) {
						t.Fatalf("finding lacks message or severity: %+v", v)
					}
					return
				}
			}
			t.Fatalf("want %s %+v, got %+v", tc.typ, tc.details, vs)
		})
	}
}

func TestValidationWireShape(t *testing.T) {
	v := Validation{Message: "m", Severity: SeverityError, Type: "MissingNodeInput", Details: Details{Node: "N", Input: "i"}}
	b, _ := json.Marshal(v)
	if string(b) != `{"message":"m","severity":"Error","type":"MissingNodeInput","details":{"missingNodeInput":{"node":"N","input":"i"}}}` {
		t.Fatalf("wire shape = %s", b)
	}
}

func FuzzValidate(f *testing.F) {
	b, _ := os.ReadFile("testdata/trip-planner.json")
	f.Add(b)
	f.Add([]byte(`{"nodes":[{"name":"In","type":"Input"}],"connections":[{"name":"C","source":"In","target":"In","type":"Data"}]}`))
	f.Add([]byte(`{"nodes":[{"name":"L","type":"Loop","configuration":{"loop":{"definition":{"nodes":[{"name":"L","type":"Loop","configuration":{"loop":{"definition":{}}}}]}}}}]}`))
	f.Add([]byte(countLoop("")))
	f.Add([]byte(askLoop))
	f.Fuzz(func(t *testing.T, data []byte) {
		def, err := ParseDefinition(data)
		if err != nil {
			return
		}
		vs := Validate(def)
		for _, v := range vs {
			if v.Type == "" || v.Message == "" {
				t.Fatalf("finding without type or message: %+v", v)
			}
			if _, err := json.Marshal(v); err != nil {
				t.Fatal(err)
			}
		}
		if HasErrors(vs) {
			return
		}
		// A valid definition compiles (or is refused with an error) and
		// starts without panicking, loops included.
		p, err := Compile(def)
		if err != nil {
			return
		}
		for _, doc := range []Value{"x", json.Number("1")} {
			if s, cmds, err := p.Step(NewState(), Event{Start: &doc}); err == nil {
				if _, err := p.Recover(s); err != nil {
					t.Fatalf("Recover after start: %v (%d commands)", err, len(cmds))
				}
			}
		}
	})
}
