package flow

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Validation is one finding of Validate, shaped like Bedrock's
// FlowValidation: message, severity (Error or Warning), type, and details
// keyed by the lower-camel type.
type Validation struct {
	Message  string
	Severity string
	Type     string
	Details  Details
}

// Details are the fields of a validation's details union member; empty
// fields are omitted on the wire.
type Details struct {
	Node                 string `json:"node,omitempty"`
	Input                string `json:"input,omitempty"`
	Output               string `json:"output,omitempty"`
	Connection           string `json:"connection,omitempty"`
	Condition            string `json:"condition,omitempty"`
	Cause                string `json:"cause,omitempty"`
	Expression           string `json:"expression,omitempty"`
	ExpectedType         string `json:"expectedType,omitempty"`
	Source               string `json:"source,omitempty"`
	Target               string `json:"target,omitempty"`
	LoopNode             string `json:"loopNode,omitempty"`
	IncompatibleNodeName string `json:"incompatibleNodeName,omitempty"`
	IncompatibleNodeType string `json:"incompatibleNodeType,omitempty"`
}

// Validation severities.
const (
	SeverityError   = "Error"
	SeverityWarning = "Warning"
)

// MarshalJSON writes the Bedrock FlowValidation shape.
func (v Validation) MarshalJSON() ([]byte, error) {
	key := "unspecified"
	if v.Type != "" {
		key = strings.ToLower(v.Type[:1]) + v.Type[1:]
	}
	return json.Marshal(struct {
		Message  string             `json:"message"`
		Severity string             `json:"severity"`
		Type     string             `json:"type"`
		Details  map[string]Details `json:"details"`
	}{v.Message, v.Severity, v.Type, map[string]Details{key: v.Details}})
}

// HasErrors reports whether vs holds an Error (Warnings do not fail
// PrepareFlow).
func HasErrors(vs []Validation) bool {
	return slices.ContainsFunc(vs, func(v Validation) bool { return v.Severity == SeverityError })
}

type portSpec struct {
	name, typ string // typ "" accepts any type
	required  bool
}

type nodeSpec struct {
	inputs, outputs       []portSpec
	anyInputs, anyOutputs bool
}

// specs gives each node type's predefined inputs and outputs.
var specs = map[string]nodeSpec{
	NodeInputT:         {outputs: []portSpec{{"document", "", true}}},
	NodeOutputT:        {inputs: []portSpec{{"document", "", true}}},
	NodePrompt:         {anyInputs: true, outputs: []portSpec{{"modelCompletion", TypeString, true}}},
	NodeCondition:      {anyInputs: true},
	NodeAgent:          {inputs: []portSpec{{"agentInputText", TypeString, true}, {"promptAttributes", TypeObject, false}, {"sessionAttributes", TypeObject, false}}, outputs: []portSpec{{"agentResponse", TypeString, true}}},
	NodeKnowledgeBase:  {inputs: []portSpec{{"retrievalQuery", TypeString, true}}},
	NodeIterator:       {inputs: []portSpec{{"array", TypeArray, true}}, outputs: []portSpec{{"arrayItem", "", true}, {"arraySize", TypeNumber, false}}},
	NodeCollector:      {inputs: []portSpec{{"arrayItem", "", true}, {"arraySize", TypeNumber, true}}, outputs: []portSpec{{"collectedArray", TypeArray, true}}},
	NodeInlineCode:     {anyInputs: true, outputs: []portSpec{{"response", "", true}}},
	NodeStorage:        {inputs: []portSpec{{"content", "", true}, {"objectKey", TypeString, true}}, outputs: []portSpec{{"s3Uri", TypeString, true}}},
	NodeRetrieval:      {inputs: []portSpec{{"objectKey", TypeString, true}}, outputs: []portSpec{{"s3Content", TypeString, true}}},
	NodeLambdaFunction: {anyInputs: true, outputs: []portSpec{{"functionResponse", "", true}}},
	NodeLex:            {inputs: []portSpec{{"inputText", TypeString, true}, {"requestAttributes", TypeObject, false}, {"sessionAttributes", TypeObject, false}}, outputs: []portSpec{{"predictedIntent", TypeString, true}}},
	NodeLoop:           {anyInputs: true, anyOutputs: true},
	NodeLoopInput:      {anyOutputs: true},
	NodeLoopController: {anyInputs: true},
}

var validTypes = []string{TypeString, TypeNumber, TypeBoolean, TypeObject, TypeArray}

type validator struct {
	out []Validation
}

func (v *validator) add(typ, sev string, d Details, format string, args ...any) {
	v.out = append(v.out, Validation{Message: fmt.Sprintf(format, args...), Severity: sev, Type: typ, Details: d})
}

func (v *validator) err(typ string, d Details, format string, args ...any) {
	v.add(typ, SeverityError, d, format, args...)
}

// Validate checks a definition the way PrepareFlow and
// ValidateFlowDefinition do and returns every finding, in a stable order
// (nodes in definition order, then connections, then graph checks).
func Validate(def *Definition) []Validation {
	v := &validator{}
	v.definition(def, "")
	return v.out
}

// definition validates def; loop names the enclosing Loop node when def is
// a loop body.
func (v *validator) definition(def *Definition, loop string) {
	if len(def.Nodes) > MaxNodes {
		v.err("Unspecified", Details{}, "a flow has at most %d nodes, this one has %d", MaxNodes, len(def.Nodes))
	}
	if len(def.Connections) > MaxConnections*10 {
		v.err("Unspecified", Details{}, "too many connections (%d)", len(def.Connections))
	}
	nodes := map[string]*Node{}
	var inputsN, loopInputs, loopControllers []string
	hasOutput := false
	for i := range def.Nodes {
		n := &def.Nodes[i]
		if !nodeNameRE.MatchString(n.Name) {
			v.err("Unspecified", Details{Node: n.Name}, "node name %q does not match [a-zA-Z]([_]?[0-9a-zA-Z]){1,50}", n.Name)
		}
		if _, dup := nodes[n.Name]; dup {
			v.err("Unspecified", Details{Node: n.Name}, "two nodes are named %q", n.Name)
			continue
		}
		nodes[n.Name] = n
		switch n.Type {
		case NodeInputT:
			inputsN = append(inputsN, n.Name)
		case NodeOutputT:
			hasOutput = true
		case NodeLoopInput:
			loopInputs = append(loopInputs, n.Name)
		case NodeLoopController:
			loopControllers = append(loopControllers, n.Name)
		}
		if loop != "" && (n.Type == NodeInputT || n.Type == NodeCondition || n.Type == NodeIterator || n.Type == NodeCollector) {
			v.err("LoopIncompatibleNodeType", Details{Node: loop, IncompatibleNodeName: n.Name, IncompatibleNodeType: n.Type},
				"a loop body cannot contain the %s node %q", n.Type, n.Name)
		}
		if loop == "" && (n.Type == NodeLoopInput || n.Type == NodeLoopController) {
			v.err("Unspecified", Details{Node: n.Name}, "%s node %q is allowed only inside a Loop node's definition", n.Type, n.Name)
		}
		v.node(n)
	}
	if loop == "" {
		if len(inputsN) == 0 {
			v.err("MissingStartingNodes", Details{}, "the flow has no Input node")
		} else if len(inputsN) > 1 {
			v.err("Unspecified", Details{Node: inputsN[1]}, "the flow has %d Input nodes; it must have exactly one", len(inputsN))
		}
		if !hasOutput {
			v.err("MissingEndingNodes", Details{}, "the flow has no Output node")
		}
	} else {
		switch {
		case len(loopInputs) == 0:
			v.err("MissingLoopInputNode", Details{LoopNode: loop}, "loop %q has no LoopInput node", loop)
		case len(loopInputs) > 1:
			v.err("MultipleLoopInputNodes", Details{LoopNode: loop}, "loop %q has %d LoopInput nodes", loop, len(loopInputs))
		}
		switch {
		case len(loopControllers) == 0:
			v.err("MissingLoopControllerNode", Details{LoopNode: loop}, "loop %q has no LoopController node", loop)
		case len(loopControllers) > 1:
			v.err("MultipleLoopControllerNodes", Details{LoopNode: loop}, "loop %q has %d LoopController nodes", loop, len(loopControllers))
		}
	}

	inner := map[string]string{} // node name inside a loop body → loop name
	for i := range def.Nodes {
		n := &def.Nodes[i]
		if n.Type != NodeLoop {
			continue
		}
		var lc LoopConfig
		if ok, err := n.config(&lc); ok && err == nil && lc.Definition != nil {
			for _, in := range lc.Definition.Nodes {
				inner[in.Name] = n.Name
			}
			v.definition(lc.Definition, n.Name)
		}
	}
	v.connections(def, nodes, inner)
	starts := inputsN
	if loop != "" {
		starts = loopInputs
	}
	v.graph(def, nodes, starts)
}

func (v *validator) node(n *Node) {
	spec, known := specs[n.Type]
	if !known {
		v.err("Unspecified", Details{Node: n.Name}, "node %q has unknown type %q", n.Name, n.Type)
		return
	}
	switch n.Type {
	case NodeLex:
		v.err("Unspecified", Details{Node: n.Name}, "Lex nodes are not supported by Outcrop (node %q)", n.Name)
	case NodeLambdaFunction:
		v.err("Unspecified", Details{Node: n.Name}, "LambdaFunction nodes are not supported by Outcrop (node %q); use an InlineCode node", n.Name)
	}
	if _, ok := n.Configuration[configKey[n.Type]]; !ok || len(n.Configuration) != 1 {
		v.err("MissingNodeConfiguration", Details{Node: n.Name}, "node %q needs exactly the configuration member %q", n.Name, configKey[n.Type])
	}
	if len(n.Inputs) > MaxNodeInputs {
		v.err("Unspecified", Details{Node: n.Name}, "node %q has more than %d inputs", n.Name, MaxNodeInputs)
	}
	if len(n.Outputs) > MaxNodeOutputs {
		v.err("Unspecified", Details{Node: n.Name}, "node %q has more than %d outputs", n.Name, MaxNodeOutputs)
	}
	outputs := spec.outputs
	if n.Type == NodeKnowledgeBase {
		var kb struct {
			ModelID string `json:"modelId"`
		}
		n.config(&kb)
		outputs = []portSpec{{"retrievalResults", TypeArray, true}}
		if kb.ModelID != "" {
			outputs = []portSpec{{"outputText", TypeString, true}}
		}
	}
	seen := map[string]bool{}
	for _, in := range n.Inputs {
		d := Details{Node: n.Name, Input: in.Name}
		if seen[in.Name] {
			v.err("Unspecified", d, "node %q declares input %q twice", n.Name, in.Name)
		}
		seen[in.Name] = true
		if !nodeNameRE.MatchString(in.Name) {
			v.err("Unspecified", d, "input name %q does not match [a-zA-Z]([_]?[0-9a-zA-Z]){1,50}", in.Name)
		}
		if !slices.Contains(validTypes, in.Type) {
			v.err("Unspecified", d, "input %q of node %q has unknown type %q", in.Name, n.Name, in.Type)
		}
		i := slices.IndexFunc(spec.inputs, func(p portSpec) bool { return p.name == in.Name })
		switch {
		case i < 0 && !spec.anyInputs:
			v.err("UnknownNodeInput", d, "%s node %q has no input named %q", n.Type, n.Name, in.Name)
		case i >= 0 && spec.inputs[i].typ != "" && spec.inputs[i].typ != in.Type:
			d.ExpectedType = spec.inputs[i].typ
			v.err("MismatchedNodeInputType", d, "input %q of %s node %q must be %s, not %s", in.Name, n.Type, n.Name, spec.inputs[i].typ, in.Type)
		}
		if _, err := ParsePath(in.Expression); err != nil {
			d.Cause = err.Error()
			v.err("MalformedNodeInputExpression", d, "input %q of node %q: malformed expression: %v", in.Name, n.Name, err)
		}
	}
	for _, p := range spec.inputs {
		if p.required && !seen[p.name] {
			v.err("MissingNodeInput", Details{Node: n.Name, Input: p.name}, "%s node %q needs the input %q", n.Type, n.Name, p.name)
		}
	}
	seen = map[string]bool{}
	for _, out := range n.Outputs {
		d := Details{Node: n.Name, Output: out.Name}
		if seen[out.Name] {
			v.err("Unspecified", d, "node %q declares output %q twice", n.Name, out.Name)
		}
		seen[out.Name] = true
		if !slices.Contains(validTypes, out.Type) {
			v.err("Unspecified", d, "output %q of node %q has unknown type %q", out.Name, n.Name, out.Type)
		}
		i := slices.IndexFunc(outputs, func(p portSpec) bool { return p.name == out.Name })
		switch {
		case i < 0 && !spec.anyOutputs:
			v.err("UnknownNodeOutput", d, "%s node %q has no output named %q", n.Type, n.Name, out.Name)
		case i >= 0 && outputs[i].typ != "" && outputs[i].typ != out.Type:
			d.ExpectedType = outputs[i].typ
			v.err("MismatchedNodeOutputType", d, "output %q of %s node %q must be %s, not %s", out.Name, n.Type, n.Name, outputs[i].typ, out.Type)
		}
	}
	for _, p := range outputs {
		if p.required && !seen[p.name] {
			v.err("MissingNodeOutput", Details{Node: n.Name, Output: p.name}, "%s node %q needs the output %q", n.Type, n.Name, p.name)
		}
	}
	v.nodeConfig(n)
}

// nodeConfig checks the configuration of the node kinds that have one.
func (v *validator) nodeConfig(n *Node) {
	d := Details{Node: n.Name}
	bad := func(err error) {
		v.err("Unspecified", d, "node %q: bad configuration: %v", n.Name, err)
	}
	switch n.Type {
	case NodeCondition:
		var cc ConditionConfig
		ok, err := n.config(&cc)
		if err != nil {
			bad(err)
			return
		}
		if !ok {
			return
		}
		if len(cc.Conditions) < 1 || len(cc.Conditions) > 5 {
			v.err("Unspecified", d, "condition node %q needs 1 to 5 conditions, has %d", n.Name, len(cc.Conditions))
		}
		types := map[string]string{}
		for _, in := range n.Inputs {
			types[in.Name] = in.Type
		}
		hasDefault := false
		exprs := map[string]bool{}
		names := map[string]bool{}
		for _, c := range cc.Conditions {
			if names[c.Name] {
				v.err("Unspecified", Details{Node: n.Name, Condition: c.Name}, "condition node %q has two conditions named %q", n.Name, c.Name)
			}
			names[c.Name] = true
			if c.Expression == nil {
				hasDefault = true
				continue
			}
			e := strings.TrimSpace(*c.Expression)
			if exprs[e] {
				v.err("DuplicateConditionExpression", Details{Node: n.Name, Expression: *c.Expression}, "condition node %q repeats the expression %q", n.Name, *c.Expression)
			}
			exprs[e] = true
			if _, err := ParseCond(*c.Expression, types); err != nil {
				v.err("MalformedConditionExpression", Details{Node: n.Name, Condition: c.Name, Cause: err.Error()},
					"condition %q of node %q: %v", c.Name, n.Name, err)
			}
		}
		if !hasDefault {
			v.err("MissingDefaultCondition", d, "condition node %q has no default condition (a condition without an expression)", n.Name)
		}
	case NodePrompt:
		var pc PromptConfig
		ok, err := n.config(&pc)
		if err != nil {
			bad(err)
			return
		}
		if !ok {
			return
		}
		src := pc.SourceConfiguration
		switch {
		case src.Inline == nil && src.Resource == nil:
			v.err("Unspecified", d, "prompt node %q needs sourceConfiguration.inline or .resource", n.Name)
		case src.Inline != nil:
			if src.Inline.ModelID == "" {
				v.err("Unspecified", d, "prompt node %q needs a modelId", n.Name)
			}
			tc := src.Inline.TemplateConfiguration
			switch src.Inline.TemplateType {
			case "TEXT":
				if tc.Text == nil {
					v.err("Unspecified", d, "prompt node %q: TEXT template needs templateConfiguration.text", n.Name)
				}
			case "CHAT":
				if tc.Chat == nil {
					v.err("Unspecified", d, "prompt node %q: CHAT template needs templateConfiguration.chat", n.Name)
				}
			default:
				v.err("Unspecified", d, "prompt node %q: templateType must be TEXT or CHAT", n.Name)
			}
		case src.Resource != nil && src.Resource.PromptARN == "":
			v.err("Unspecified", d, "prompt node %q needs a promptArn", n.Name)
		}
	case NodeAgent:
		var ac AgentConfig
		if ok, err := n.config(&ac); err != nil {
			bad(err)
		} else if ok && ac.AgentAliasARN == "" {
			v.err("Unspecified", d, "agent node %q needs an agentAliasArn", n.Name)
		}
	case NodeInlineCode:
		var ic InlineCodeConfig
		if ok, err := n.config(&ic); err != nil {
			bad(err)
		} else if ok {
			if ic.Language != "Python_3" {
				v.err("Unspecified", d, "inline code node %q: language must be Python_3", n.Name)
			}
			if ic.Code == "" || len(ic.Code) > 5_000_000 {
				v.err("Unspecified", d, "inline code node %q: code must be 1 to 5,000,000 characters", n.Name)
			}
		}
	case NodeLoop:
		var lc LoopConfig
		if ok, err := n.config(&lc); err != nil {
			bad(err)
		} else if ok && lc.Definition == nil {
			v.err("Unspecified", d, "loop node %q needs a definition", n.Name)
		}
	case NodeLoopController:
		var lc LoopControllerConfig
		ok, err := n.config(&lc)
		if err != nil {
			bad(err)
			return
		}
		if !ok {
			return
		}
		if lc.MaxIterations != nil && (*lc.MaxIterations < 1 || *lc.MaxIterations > 1000) {
			v.err("Unspecified", d, "loop controller %q: maxIterations must be 1 to 1000", n.Name)
		}
		if lc.ContinueCondition == nil || lc.ContinueCondition.Expression == nil {
			v.err("MalformedConditionExpression", Details{Node: n.Name, Condition: "continueCondition", Cause: "missing expression"}, "loop controller %q needs a continueCondition expression", n.Name)
			return
		}
		types := map[string]string{}
		for _, in := range n.Inputs {
			if in.Category == "LoopCondition" || in.Category == "" {
				types[in.Name] = in.Type
			}
		}
		if _, err := ParseCond(*lc.ContinueCondition.Expression, types); err != nil {
			v.err("MalformedConditionExpression", Details{Node: n.Name, Condition: lc.ContinueCondition.Name, Cause: err.Error()}, "loop controller %q: %v", n.Name, err)
		}
	case NodeStorage, NodeRetrieval:
		var sc struct {
			ServiceConfiguration struct {
				S3 *struct {
					BucketName string `json:"bucketName"`
				} `json:"s3"`
			} `json:"serviceConfiguration"`
		}
		if ok, err := n.config(&sc); err != nil {
			bad(err)
		} else if ok && (sc.ServiceConfiguration.S3 == nil || sc.ServiceConfiguration.S3.BucketName == "") {
			v.err("Unspecified", d, "%s node %q needs serviceConfiguration.s3.bucketName", n.Type, n.Name)
		}
	case NodeKnowledgeBase:
		var kb struct {
			KnowledgeBaseID string `json:"knowledgeBaseId"`
		}
		if ok, err := n.config(&kb); err != nil {
			bad(err)
		} else if ok && (kb.KnowledgeBaseID == "" || len(kb.KnowledgeBaseID) > 10) {
			v.err("Unspecified", d, "knowledge base node %q needs a knowledgeBaseId of at most 10 characters", n.Name)
		}
	}
}

func conditionNames(n *Node) map[string]bool {
	var cc ConditionConfig
	n.config(&cc)
	names := map[string]bool{}
	for _, c := range cc.Conditions {
		names[c.Name] = true
	}
	return names
}

func findInput(n *Node, name string) *NodeInput {
	for i := range n.Inputs {
		if n.Inputs[i].Name == name {
			return &n.Inputs[i]
		}
	}
	return nil
}

func findOutput(n *Node, name string) *NodeOutput {
	for i := range n.Outputs {
		if n.Outputs[i].Name == name {
			return &n.Outputs[i]
		}
	}
	return nil
}

func (v *validator) connections(def *Definition, nodes map[string]*Node, inner map[string]string) {
	type pair struct{ s, t, kind, a, b string }
	seen := map[pair]bool{}
	names := map[string]bool{}
	fed := map[[2]string]int{} // (node, input) → data connections
	for _, c := range def.Connections {
		cd := Details{Connection: c.Name}
		if !connNameRE.MatchString(c.Name) {
			v.err("Unspecified", cd, "connection name %q does not match [a-zA-Z]([_]?[0-9a-zA-Z]){1,100}", c.Name)
		}
		if names[c.Name] {
			v.err("Unspecified", cd, "two connections are named %q", c.Name)
		}
		names[c.Name] = true
		src, tgt := nodes[c.Source], nodes[c.Target]
		if src == nil || tgt == nil {
			if l, ok := inner[c.Source]; ok && src == nil {
				v.err("InvalidLoopBoundary", Details{Connection: c.Name, Source: c.Source, Target: c.Target}, "connection %q reaches into loop %q", c.Name, l)
				continue
			}
			if l, ok := inner[c.Target]; ok && tgt == nil {
				v.err("InvalidLoopBoundary", Details{Connection: c.Name, Source: c.Source, Target: c.Target}, "connection %q reaches into loop %q", c.Name, l)
				continue
			}
		}
		if src == nil {
			v.err("UnknownConnectionSource", cd, "connection %q: no node named %q", c.Name, c.Source)
		}
		if tgt == nil {
			v.err("UnknownConnectionTarget", cd, "connection %q: no node named %q", c.Name, c.Target)
		}
		cfg := c.Configuration
		switch c.Type {
		case ConnData:
			if cfg == nil || cfg.Data == nil || cfg.Conditional != nil {
				v.err("MissingConnectionConfiguration", cd, "data connection %q needs configuration.data", c.Name)
				continue
			}
			p := pair{c.Source, c.Target, c.Type, cfg.Data.SourceOutput, cfg.Data.TargetInput}
			if seen[p] {
				v.err("DuplicateConnections", Details{Source: c.Source, Target: c.Target}, "connection %q repeats a connection from %q to %q", c.Name, c.Source, c.Target)
			}
			seen[p] = true
			if src == nil || tgt == nil {
				continue
			}
			out := findOutput(src, cfg.Data.SourceOutput)
			if out == nil {
				v.err("UnknownConnectionSourceOutput", cd, "connection %q: node %q has no output %q", c.Name, c.Source, cfg.Data.SourceOutput)
			}
			in := findInput(tgt, cfg.Data.TargetInput)
			if in == nil {
				v.err("UnknownConnectionTargetInput", cd, "connection %q: node %q has no input %q", c.Name, c.Target, cfg.Data.TargetInput)
			}
			if in != nil {
				fed[[2]string{c.Target, in.Name}]++
			}
			if out != nil && in != nil && !typesCompatible(out.Type, in) {
				v.err("IncompatibleConnectionDataType", cd, "connection %q: output %q is %s but input %q (%s) wants %s",
					c.Name, out.Name, out.Type, in.Name, in.Expression, in.Type)
			}
		case ConnConditional:
			if cfg == nil || cfg.Conditional == nil || cfg.Data != nil {
				v.err("MissingConnectionConfiguration", cd, "conditional connection %q needs configuration.conditional", c.Name)
				continue
			}
			p := pair{c.Source, c.Target, c.Type, cfg.Conditional.Condition, ""}
			if seen[p] {
				v.err("DuplicateConnections", Details{Source: c.Source, Target: c.Target}, "connection %q repeats a connection from %q to %q", c.Name, c.Source, c.Target)
			}
			seen[p] = true
			if src == nil {
				continue
			}
			if src.Type != NodeCondition {
				v.err("UnsatisfiedConnectionConditions", cd, "conditional connection %q starts at %s node %q, not a Condition node", c.Name, src.Type, c.Source)
				continue
			}
			if !conditionNames(src)[cfg.Conditional.Condition] {
				v.err("UnknownConnectionCondition", cd, "connection %q: node %q has no condition %q", c.Name, c.Source, cfg.Conditional.Condition)
			}
		default:
			v.err("MissingConnectionConfiguration", cd, "connection %q has type %q; want Data or Conditional", c.Name, c.Type)
		}
	}
	for _, n := range def.Nodes {
		for _, in := range n.Inputs {
			switch k := fed[[2]string{n.Name, in.Name}]; {
			case k == 0:
				v.err("UnfulfilledNodeInput", Details{Node: n.Name, Input: in.Name}, "input %q of node %q has no data connection", in.Name, n.Name)
			case k > 1:
				v.err("MultipleNodeInputConnections", Details{Node: n.Name, Input: in.Name}, "input %q of node %q has %d data connections; it may have one", in.Name, n.Name, k)
			}
		}
	}
}

// typesCompatible reports whether an output of type out can feed in. With
// the whole-value expression the types must match; a deeper expression
// needs an Object or Array to select from, and its result's type is known
// only at run time (a multi-value path always yields an Array).
func typesCompatible(out string, in *NodeInput) bool {
	p, err := ParsePath(in.Expression)
	if err != nil {
		return true // reported as MalformedNodeInputExpression
	}
	if p.Whole() {
		return out == in.Type
	}
	if out != TypeObject && out != TypeArray {
		return false
	}
	return p.Definite() || in.Type == TypeArray
}

// graph checks cycles and reachability from the starting nodes.
func (v *validator) graph(def *Definition, nodes map[string]*Node, starts []string) {
	adj := map[string][]Connection{}
	for _, c := range def.Connections {
		if nodes[c.Source] != nil && nodes[c.Target] != nil {
			adj[c.Source] = append(adj[c.Source], c)
		}
	}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	reported := false
	var visit func(string)
	visit = func(n string) {
		color[n] = grey
		for _, c := range adj[n] {
			switch color[c.Target] {
			case grey:
				if !reported {
					v.err("CyclicConnection", Details{Connection: c.Name}, "connection %q closes a cycle; only Loop nodes may repeat work", c.Name)
					reported = true
				}
			case white:
				visit(c.Target)
			}
		}
		color[n] = black
	}
	for _, n := range def.Nodes {
		if color[n.Name] == white && nodes[n.Name] != nil {
			visit(n.Name)
		}
	}
	reach := map[string]bool{}
	queue := slices.Clone(starts)
	for _, s := range starts {
		reach[s] = true
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, c := range adj[n] {
			if !reach[c.Target] {
				reach[c.Target] = true
				queue = append(queue, c.Target)
			}
		}
	}
	if len(starts) == 0 {
		return
	}
	for _, n := range def.Nodes {
		if !reach[n.Name] && nodes[n.Name] != nil {
			v.add("UnreachableNode", SeverityWarning, Details{Node: n.Name}, "node %q cannot be reached from the start of the flow", n.Name)
		}
	}
}
