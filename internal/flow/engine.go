package flow

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Plan is a validated definition compiled for the engine: each node's data
// sources, its condition gates, its compiled conditions and expressions,
// and the iterator whose items it runs once per item (if any).
type Plan struct {
	Def   *Definition
	nodes map[string]*planNode
	order []*planNode
	input *planNode // the Input node (the LoopInput node of a loop body)
	loops map[string]*loopPlan
}

type planInput struct {
	NodeInput
	path   *Path
	source string // source node
	output string // source output
}

type gate struct{ cond, condition string }

type planCond struct {
	name string
	cond *Cond // nil for the default condition
}

type planNode struct {
	*Node
	inputs []planInput
	gates  []gate
	conds  []planCond
	// stack lists the Iterators this node runs under, outermost first: it
	// runs once per item path (one index per iterator).
	stack []string
	// consumers lists (node, input) pairs fed by each output, for traces.
	consumers map[string][][2]string
}

// ErrInvalid wraps the findings of a definition that failed validation.
type ErrInvalid struct{ Validations []Validation }

func (e *ErrInvalid) Error() string {
	for _, v := range e.Validations {
		if v.Severity == SeverityError {
			return "invalid flow definition: " + v.Message
		}
	}
	return "invalid flow definition"
}

// Compile validates def and builds its Plan. Definitions that validate but
// that the engine cannot run (a node fed from two unrelated iterations)
// fail here with an Unspecified finding.
func Compile(def *Definition) (*Plan, error) {
	if vs := Validate(def); HasErrors(vs) {
		return nil, &ErrInvalid{vs}
	}
	return compile(def)
}

// compile builds the plan of a validated definition (a flow or a loop
// body, whose entry is its LoopInput node).
func compile(def *Definition) (*Plan, error) {
	p := &Plan{Def: def, nodes: map[string]*planNode{}, loops: map[string]*loopPlan{}}
	for i := range def.Nodes {
		n := &planNode{Node: &def.Nodes[i], consumers: map[string][][2]string{}}
		p.nodes[n.Name] = n
		p.order = append(p.order, n)
		if n.Type == NodeInputT || n.Type == NodeLoopInput {
			p.input = n
		}
	}
	for _, c := range def.Connections {
		src, tgt := p.nodes[c.Source], p.nodes[c.Target]
		switch c.Type {
		case ConnData:
			in := findInput(tgt.Node, c.Configuration.Data.TargetInput)
			path, _ := ParsePath(in.Expression)
			tgt.inputs = append(tgt.inputs, planInput{NodeInput: *in, path: path, source: c.Source, output: c.Configuration.Data.SourceOutput})
			src.consumers[c.Configuration.Data.SourceOutput] = append(src.consumers[c.Configuration.Data.SourceOutput], [2]string{c.Target, in.Name})
		case ConnConditional:
			tgt.gates = append(tgt.gates, gate{c.Source, c.Configuration.Conditional.Condition})
		}
	}
	for _, n := range p.order {
		// Inputs in declaration order, so traces and templates are stable.
		slices.SortStableFunc(n.inputs, func(a, b planInput) int {
			return indexOfInput(n.Node, a.Name) - indexOfInput(n.Node, b.Name)
		})
		if n.Type == NodeCondition {
			var cc ConditionConfig
			n.config(&cc)
			types := map[string]string{}
			for _, in := range n.Inputs {
				types[in.Name] = in.Type
			}
			for _, c := range cc.Conditions {
				pc := planCond{name: c.Name}
				if c.Expression != nil {
					pc.cond, _ = ParseCond(*c.Expression, types)
				}
				n.conds = append(n.conds, pc)
			}
		}
	}
	if err := p.assignIterators(); err != nil {
		return nil, err
	}
	if err := p.compileLoops(); err != nil {
		return nil, err
	}
	return p, nil
}

func indexOfInput(n *Node, name string) int {
	return slices.IndexFunc(n.Inputs, func(in NodeInput) bool { return in.Name == name })
}

// assignIterators gives every node its iterator stack: a node fed by an
// Iterator's item runs under that iterator (inside the iterators its
// source runs under), a Collector closes the innermost iterator of its
// item, and any other node runs under the longest stack among its sources
// (outer values are broadcast to every item). Sources from unrelated
// iterations are refused.
func (p *Plan) assignIterators() error {
	indeg := map[string]int{}
	next := map[string][]string{}
	for _, c := range p.Def.Connections {
		next[c.Source] = append(next[c.Source], c.Target)
		indeg[c.Target]++
	}
	var queue, topo []string
	for _, n := range p.order {
		if indeg[n.Name] == 0 {
			queue = append(queue, n.Name)
		}
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		topo = append(topo, name)
		for _, t := range next[name] {
			if indeg[t]--; indeg[t] == 0 {
				queue = append(queue, t)
			}
		}
	}
	bad := func(n *planNode, msg string) error {
		return &ErrInvalid{[]Validation{{Type: "Unspecified", Severity: SeverityError, Details: Details{Node: n.Name},
			Message: fmt.Sprintf("node %q %s", n.Name, msg)}}}
	}
	for _, name := range topo {
		n := p.nodes[name]
		var longest []string
		consider := func(st []string) error {
			short, long := st, longest
			if len(short) > len(long) {
				short, long = long, short
			}
			if !slices.Equal(short, long[:len(short)]) {
				return bad(n, "takes inputs from unrelated iterations")
			}
			longest = long
			return nil
		}
		for _, in := range n.inputs {
			src := p.nodes[in.source]
			st := src.stack
			if src.Type == NodeIterator {
				st = append(slices.Clone(src.stack), src.Name)
			}
			if n.Type == NodeCollector {
				if in.Name != "arrayItem" {
					continue
				}
				if len(st) > 0 {
					st = st[:len(st)-1]
				}
			}
			if err := consider(st); err != nil {
				return err
			}
		}
		for _, g := range n.gates {
			if err := consider(p.nodes[g.cond].stack); err != nil {
				return err
			}
		}
		n.stack = slices.Clone(longest)
	}
	return nil
}

// Activation status.
const (
	StatusRunning = "running" // a Run command is out
	StatusWaiting = "waiting" // paused for user input (multi-turn)
	StatusDone    = "done"
	StatusSkipped = "skipped" // dead branch
)

// State is an execution's complete engine state. It is plain JSON so that
// it can be persisted after every step and reloaded after a crash.
type State struct {
	// Status is running, paused, succeeded or failed.
	Status string `json:"status"`
	// Nodes maps an activation key ("node" or "node#i" for item i of an
	// iteration) to its status.
	Nodes map[string]string `json:"nodes"`
	// Values maps "activation/output" to the output's JSON value.
	Values map[string]json.RawMessage `json:"values"`
	// Selected maps a Condition activation to the condition it took.
	Selected map[string]string `json:"selected"`
	// Items maps an Iterator to the number of items it produced.
	Items map[string]int `json:"items"`
	// Runs maps a running or waiting activation to its evaluated inputs.
	Runs map[string]json.RawMessage `json:"runs"`
	// Resumes maps a resumed activation to the user's answer until it
	// finishes, so a crash during the resumed run replays the answer.
	Resumes map[string]json.RawMessage `json:"resumes,omitempty"`
	// Error is the failure of a failed execution.
	Error *StepError `json:"error,omitempty"`
	// Loops maps a running or waiting Loop activation to its iteration.
	Loops map[string]*LoopState `json:"loops,omitempty"`
}

// Execution statuses.
const (
	ExecRunning   = "running"
	ExecPaused    = "paused"
	ExecSucceeded = "succeeded"
	ExecFailed    = "failed"
)

// StepError is a run-time failure, with the Bedrock exception it maps to.
type StepError struct {
	// Kind is "validation" (bad input data, type mismatch) or
	// "dependency" (a node's model, agent or code failed).
	Kind    string `json:"kind"`
	Node    string `json:"node,omitempty"`
	Message string `json:"message"`
}

func (e *StepError) Error() string { return e.Message }

// NewState returns the state of an execution that has not started.
func NewState() *State {
	return &State{Status: ExecRunning, Nodes: map[string]string{}, Values: map[string]json.RawMessage{},
		Selected: map[string]string{}, Items: map[string]int{}, Runs: map[string]json.RawMessage{}, Resumes: map[string]json.RawMessage{}}
}

// Clone returns a deep copy of s (values are immutable JSON and shared).
func (s *State) Clone() *State {
	c := *s
	c.Nodes = cloneMap(s.Nodes)
	c.Values = cloneMap(s.Values)
	c.Selected = cloneMap(s.Selected)
	c.Items = cloneMap(s.Items)
	c.Runs = cloneMap(s.Runs)
	c.Resumes = cloneMap(s.Resumes)
	if c.Resumes == nil {
		c.Resumes = map[string]json.RawMessage{}
	}
	if s.Error != nil {
		e := *s.Error
		c.Error = &e
	}
	if s.Loops != nil {
		c.Loops = make(map[string]*LoopState, len(s.Loops))
		for k, l := range s.Loops {
			c.Loops[k] = &LoopState{Iter: l.Iter, Vars: cloneMap(l.Vars), Body: l.Body.Clone()}
		}
	}
	return &c
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Event is an input to Step: exactly one field is set.
type Event struct {
	// Start begins the execution with the Input node's document.
	Start *Value `json:"start,omitempty"`
	// Done reports the outputs of a Run.
	Done *NodeDone `json:"done,omitempty"`
	// Waiting reports that a Run asks the user for input.
	Waiting *NodeWaiting `json:"waiting,omitempty"`
	// Resume gives the user's answer to a waiting node.
	Resume *ResumeInput `json:"resume,omitempty"`
	// Failed reports that a Run failed.
	Failed *NodeFailed `json:"failed,omitempty"`
}

// NodeDone carries the outputs of one activation.
type NodeDone struct {
	Activation string           `json:"activation"`
	Outputs    map[string]Value `json:"-"`
	NodeTraces
}

// NodeWaiting carries the question of a node that needs user input.
type NodeWaiting struct {
	Activation string `json:"activation"`
	Question   Value  `json:"-"`
	NodeTraces
}

// NodeTraces is what a run of an effectful node did, for its traces: the
// calls it made (nodeActionTrace) and an agent's own trace parts
// (nodeDependencyTrace).
type NodeTraces struct {
	Actions     []ActionTrace     `json:"-"`
	AgentTraces []json.RawMessage `json:"-"`
}

// ActionTrace is one call a node made to a service (nodeActionTrace): the
// request and response are the operation's wire JSON.
type ActionTrace struct {
	RequestID     string
	ServiceName   string
	OperationName string
	Request       json.RawMessage
	Response      json.RawMessage
}

// traceCommands turns a run's NodeTraces into trace commands.
func (t NodeTraces) traceCommands(node string) []Command {
	var cmds []Command
	for i := range t.Actions {
		cmds = append(cmds, Command{Trace: &Trace{NodeName: node, Action: &t.Actions[i]}})
	}
	if len(t.AgentTraces) > 0 {
		cmds = append(cmds, Command{Trace: &Trace{NodeName: node, AgentTraces: t.AgentTraces}})
	}
	return cmds
}

// ResumeInput is the input that resumes a waiting node.
type ResumeInput struct {
	NodeName  string `json:"nodeName"`
	InputName string `json:"inputName"`
	Content   Value  `json:"-"`
}

// NodeFailed reports a failed activation.
type NodeFailed struct {
	Activation string `json:"activation"`
	Message    string `json:"message"`
	NodeTraces
}

// Command is an output of Step: exactly one field is set.
type Command struct {
	// Run asks the executor to run an effectful node (Prompt, Agent,
	// InlineCode, Storage, Retrieval, KnowledgeBase).
	Run *Run
	// Output is a flowOutputEvent.
	Output *OutputEvent
	// InputRequired is a flowMultiTurnInputRequestEvent.
	InputRequired *InputRequest
	// Trace is a flowTraceEvent (emitted only when traces are enabled).
	Trace *Trace
	// Complete ends this invocation: SUCCESS or INPUT_REQUIRED, or a
	// failure when Error is set.
	Complete *Completion
}

// Run is one activation of an effectful node.
type Run struct {
	Activation string
	Node       *Node
	Index      int // item index under an iterator, -1 otherwise
	Inputs     []NamedValue
	// Resume is the user's answer when a waiting node resumes.
	Resume *Value
}

// NamedValue is one evaluated node input.
type NamedValue struct {
	Name  string
	Value Value
}

// OutputEvent is what an Output node emits.
type OutputEvent struct {
	NodeName string
	Document Value
}

// InputRequest is what a pausing node asks.
type InputRequest struct {
	NodeName string
	NodeType string
	Document Value
}

// Trace is one trace event: exactly one of its parts is set.
type Trace struct {
	NodeName    string
	Inputs      []TraceField      // nodeInputTrace
	Outputs     []TraceField      // nodeOutputTrace
	Condition   []string          // conditionNodeResultTrace: satisfied condition names
	Action      *ActionTrace      // nodeActionTrace
	AgentTraces []json.RawMessage // nodeDependencyTrace: the agent's TraceParts
	// Chain is the executionChain of the node's inputs: the loop
	// iterations the node runs in, outermost first.
	Chain []ChainLink
}

// TraceField is one input or output in a trace.
type TraceField struct {
	Name     string
	Value    Value
	Type     string
	Source   *TraceSource
	Next     [][2]string
	Category string
}

// TraceSource is where an input came from.
type TraceSource struct {
	NodeName, OutputName, Expression string
}

// Completion ends an invocation.
type Completion struct {
	Reason string // SUCCESS or INPUT_REQUIRED; "" with Error
	Error  *StepError
}

// Completion reasons.
const (
	ReasonSuccess       = "SUCCESS"
	ReasonInputRequired = "INPUT_REQUIRED"
)

// Errors of Step for events that do not fit the state.
var (
	// ErrNotWaiting means a resume arrived for an execution that is not paused.
	ErrNotWaiting = errors.New("the execution is not waiting for input")
	// ErrWrongNode means a resume named a node or input that is not waiting.
	ErrWrongNode = errors.New("the execution is not waiting for that node input")
)

// actKey is the activation key of node at item path path: "node" outside
// iterations, "node#i" under one iterator, "node#i.j" under two.
func actKey(node string, path []int) string {
	if len(path) == 0 {
		return node
	}
	var b strings.Builder
	b.WriteString(node)
	for i, x := range path {
		if i == 0 {
			b.WriteByte('#')
		} else {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(x))
	}
	return b.String()
}

// ParseActivation splits an activation key into node name and the item
// index of its innermost iteration (-1 outside iterations).
func ParseActivation(k string) (string, int) {
	i := strings.LastIndexByte(k, '#')
	if i < 0 {
		return k, -1
	}
	parts := strings.Split(k[i+1:], ".")
	last := -1
	for _, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 || part != strconv.Itoa(n) {
			return k, -1
		}
		last = n
	}
	return k[:i], last
}

// withItem returns path extended by j (a new slice).
func withItem(path []int, j int) []int {
	return append(slices.Clone(path), j)
}

// Step is the engine's semantic core, a pure function: given the plan, the
// current state (not modified) and one event, it returns the next state and
// the commands to carry out, in order. The executor persists the new state
// with the commands before acting on them, so a crash replays nothing twice.
func (p *Plan) Step(s *State, ev Event) (*State, []Command, error) {
	s = s.Clone()
	var cmds []Command
	switch {
	case ev.Start != nil:
		if len(s.Nodes) != 0 {
			return nil, nil, errors.New("execution already started")
		}
		in := p.input
		if err := checkType(*ev.Start, in.Outputs[0].Type); err != nil {
			return nil, nil, &StepError{Kind: "validation", Node: in.Name, Message: fmt.Sprintf("input to node %q: %v", in.Name, err)}
		}
		s.Nodes[in.Name] = StatusDone
		setValue(s, in.Name, "document", *ev.Start)
		cmds = append(cmds, Command{Trace: &Trace{NodeName: in.Name, Outputs: []TraceField{{Name: "document", Value: *ev.Start, Type: in.Outputs[0].Type, Next: in.consumers["document"]}}}})
	case ev.Done != nil && isLoopAct(ev.Done.Activation):
		return p.stepLoop(s, ev.Done.Activation, ev)
	case ev.Waiting != nil && isLoopAct(ev.Waiting.Activation):
		return p.stepLoop(s, ev.Waiting.Activation, ev)
	case ev.Failed != nil && isLoopAct(ev.Failed.Activation):
		return p.stepLoop(s, ev.Failed.Activation, ev)
	case ev.Done != nil:
		k := ev.Done.Activation
		if s.Nodes[k] != StatusRunning {
			return nil, nil, fmt.Errorf("activation %q is not running", k)
		}
		name, _ := ParseActivation(k)
		n := p.nodes[name]
		cmds = append(cmds, ev.Done.traceCommands(name)...)
		var fields []TraceField
		for _, o := range n.Outputs {
			v, ok := ev.Done.Outputs[o.Name]
			if !ok {
				continue
			}
			if err := checkType(v, o.Type); err != nil {
				return p.fail(s, cmds, &StepError{Kind: "validation", Node: name, Message: fmt.Sprintf("output %q of node %q: %v", o.Name, name, err)})
			}
			setValue(s, k, o.Name, v)
			fields = append(fields, TraceField{Name: o.Name, Value: v, Type: o.Type, Next: n.consumers[o.Name]})
		}
		s.Nodes[k] = StatusDone
		delete(s.Runs, k)
		delete(s.Resumes, k)
		cmds = append(cmds, Command{Trace: &Trace{NodeName: name, Outputs: fields}})
	case ev.Waiting != nil:
		k := ev.Waiting.Activation
		if s.Nodes[k] != StatusRunning {
			return nil, nil, fmt.Errorf("activation %q is not running", k)
		}
		name, _ := ParseActivation(k)
		s.Nodes[k] = StatusWaiting
		delete(s.Resumes, k)
		cmds = append(cmds, ev.Waiting.traceCommands(name)...)
		cmds = append(cmds, Command{InputRequired: &InputRequest{NodeName: name, NodeType: runtimeNodeType(p.nodes[name].Type), Document: ev.Waiting.Question}})
	case ev.Resume != nil:
		if s.Status != ExecPaused {
			return nil, nil, ErrNotWaiting
		}
		var k string
		for _, key := range sortedKeys(s.Nodes) {
			if s.Nodes[key] == StatusWaiting {
				if name, _ := ParseActivation(key); name == ev.Resume.NodeName {
					k = key
					break
				}
			}
		}
		if k == "" && ev.Resume.InputName == "agentInputText" {
			return p.resumeLoop(s, ev)
		}
		if k == "" || ev.Resume.InputName != "agentInputText" {
			return nil, nil, ErrWrongNode
		}
		s.Nodes[k] = StatusRunning
		s.Status = ExecRunning
		b, err := MarshalValue(ev.Resume.Content)
		if err != nil {
			return nil, nil, err
		}
		s.Resumes[k] = b
		run, err := p.runOf(s, k)
		if err != nil {
			return nil, nil, err
		}
		return s, []Command{{Run: run}}, nil
	case ev.Failed != nil:
		name, _ := ParseActivation(ev.Failed.Activation)
		cmds = append(cmds, ev.Failed.traceCommands(name)...)
		return p.fail(s, cmds, &StepError{Kind: "dependency", Node: name, Message: ev.Failed.Message})
	default:
		return nil, nil, errors.New("empty event")
	}
	return p.propagate(s, cmds)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (p *Plan) fail(s *State, cmds []Command, e *StepError) (*State, []Command, error) {
	s.Status = ExecFailed
	s.Error = e
	return s, append(cmds, Command{Complete: &Completion{Error: e}}), nil
}

func runtimeNodeType(t string) string {
	switch t {
	case NodeInputT:
		return "FlowInputNode"
	case NodeOutputT:
		return "FlowOutputNode"
	}
	return t + "Node"
}

func setValue(s *State, act, output string, v Value) {
	b, _ := MarshalValue(v)
	s.Values[act+"/"+output] = b
}

func getValue(s *State, act, output string) (Value, bool) {
	b, ok := s.Values[act+"/"+output]
	if !ok {
		return nil, false
	}
	v, err := ParseValue(b)
	return v, err == nil
}

// checkType checks a run-time value against a declared type.
func checkType(v Value, typ string) error {
	if got := TypeOf(v); got != typ {
		return fmt.Errorf("expected a %s but got a %s", typ, typeName(v))
	}
	return nil
}

// sourceAct is the activation of src whose outputs feed item path path
// of a consumer: an Iterator's item outputs are keyed by the item's path.
func (p *Plan) sourceAct(src string, path []int) string {
	sn := p.nodes[src]
	d := len(sn.stack)
	if sn.Type == NodeIterator {
		d++
	}
	return actKey(src, path[:min(d, len(path))])
}

// sourceStatus returns the status of the activation feeding item path path.
func (p *Plan) sourceStatus(s *State, src string, path []int) string {
	sn := p.nodes[src]
	if sn.Type == NodeIterator {
		return s.Nodes[actKey(src, path[:min(len(sn.stack), len(path))])]
	}
	return s.Nodes[p.sourceAct(src, path)]
}

// itemPaths enumerates the item paths of a node under stack whose
// iterators have run, and the path prefixes under which an iterator was
// skipped (the node is skipped there too).
func (p *Plan) itemPaths(s *State, stack []string) (paths, skipped [][]int) {
	paths = [][]int{nil}
	for _, it := range stack {
		var next [][]int
		for _, pr := range paths {
			k := actKey(it, pr)
			switch s.Nodes[k] {
			case StatusDone:
				for j := range s.Items[k] {
					next = append(next, withItem(pr, j))
				}
			case StatusSkipped:
				skipped = append(skipped, pr)
			}
		}
		paths = next
	}
	return paths, skipped
}

// propagate resolves every activation it can: it runs pure nodes in place,
// skips dead branches, issues Run commands, and decides completion.
func (p *Plan) propagate(s *State, cmds []Command) (*State, []Command, error) {
	for changed := true; changed && s.Status == ExecRunning; {
		changed = false
		for _, n := range p.order {
			if n.Type == NodeInputT || n.Type == NodeLoopInput {
				continue
			}
			idx := [][]int{nil}
			if len(n.stack) > 0 {
				var skipped [][]int
				idx, skipped = p.itemPaths(s, n.stack)
				for _, pr := range skipped {
					if k := actKey(n.Name, pr); s.Nodes[k] == "" {
						s.Nodes[k] = StatusSkipped
						changed = true
					}
				}
			}
			for _, i := range idx {
				k := actKey(n.Name, i)
				if s.Nodes[k] != "" {
					continue
				}
				var err error
				var progressed bool
				cmds, progressed, err = p.tryActivate(s, n, i, cmds)
				if err != nil {
					var se *StepError
					if errors.As(err, &se) {
						return p.fail(s, cmds, se)
					}
					return nil, nil, err
				}
				changed = changed || progressed
				if s.Status != ExecRunning {
					break
				}
			}
		}
	}
	if s.Status != ExecRunning {
		return s, cmds, nil
	}
	running, waiting := false, false
	for _, st := range s.Nodes {
		switch st {
		case StatusRunning:
			running = true
		case StatusWaiting:
			waiting = true
		}
	}
	switch {
	case running:
	case waiting:
		s.Status = ExecPaused
		cmds = append(cmds, Command{Complete: &Completion{Reason: ReasonInputRequired}})
	default:
		s.Status = ExecSucceeded
		cmds = append(cmds, Command{Complete: &Completion{Reason: ReasonSuccess}})
	}
	return s, cmds, nil
}

// tryActivate decides activation (n, i) — i is the item path — if its
// inputs and gates allow.
func (p *Plan) tryActivate(s *State, n *planNode, i []int, cmds []Command) ([]Command, bool, error) {
	k := actKey(n.Name, i)
	dead := false
	for _, in := range n.inputs {
		if n.Type == NodeCollector {
			break // handled below
		}
		switch p.sourceStatus(s, in.source, i) {
		case StatusSkipped:
			dead = true
		case StatusDone:
			if _, ok := getValue(s, p.sourceAct(in.source, i), in.output); !ok {
				dead = true // the source finished without this output
			}
		default:
			return cmds, false, nil
		}
	}
	if len(n.gates) > 0 && !dead {
		open, undecided := false, false
		for _, g := range n.gates {
			ca := actKey(g.cond, i[:min(len(p.nodes[g.cond].stack), len(i))])
			switch s.Nodes[ca] {
			case StatusDone:
				if s.Selected[ca] == g.condition {
					open = true
				}
			case StatusSkipped:
			default:
				undecided = true
			}
		}
		if !open {
			if undecided {
				return cmds, false, nil
			}
			dead = true
		}
	}
	if n.Type == NodeCollector && !dead {
		return p.collect(s, n, i, cmds)
	}
	if dead {
		s.Nodes[k] = StatusSkipped
		return cmds, true, nil
	}
	vals, fields, err := p.evalInputs(s, n, i)
	if err != nil {
		return cmds, false, err
	}
	var chain []ChainLink
	for l, it := range n.stack {
		chain = append(chain, ChainLink{NodeName: it, Index: i[l], Type: "Iterator"})
	}
	cmds = append(cmds, Command{Trace: &Trace{NodeName: n.Name, Inputs: fields, Chain: chain}})
	switch n.Type {
	case NodeOutputT:
		s.Nodes[k] = StatusDone
		cmds = append(cmds, Command{Output: &OutputEvent{NodeName: n.Name, Document: vals[0].Value}})
	case NodeCondition:
		vars := map[string]Value{}
		for _, v := range vals {
			vars[v.Name] = v.Value
		}
		taken := ""
		for _, c := range n.conds {
			if c.cond == nil {
				continue
			}
			ok, err := c.cond.Eval(vars)
			if err != nil {
				return cmds, false, &StepError{Kind: "validation", Node: n.Name, Message: fmt.Sprintf("condition %q of node %q: %v", c.name, n.Name, err)}
			}
			if ok {
				taken = c.name
				break
			}
		}
		if taken == "" {
			for _, c := range n.conds {
				if c.cond == nil {
					taken = c.name
					break
				}
			}
		}
		s.Nodes[k] = StatusDone
		s.Selected[k] = taken
		cmds = append(cmds, Command{Trace: &Trace{NodeName: n.Name, Condition: []string{taken}}})
	case NodeLoopController:
		// The end of a loop body: its inputs are what the Loop node reads
		// when the iteration is over (finishIteration).
		s.Nodes[k] = StatusDone
		for _, v := range vals {
			setValue(s, k, v.Name, v.Value)
		}
	case NodeLoop:
		vars := make(map[string]json.RawMessage, len(vals))
		for _, v := range vals {
			b, err := MarshalValue(v.Value)
			if err != nil {
				return cmds, false, err
			}
			vars[v.Name] = b
		}
		s.Nodes[k] = StatusRunning
		more, err := p.startIteration(s, k, 1, vars)
		cmds = append(cmds, more...)
		if err != nil {
			return cmds, false, err
		}
	case NodeIterator:
		arr := vals[0].Value.([]Value)
		s.Nodes[k] = StatusDone
		s.Items[k] = len(arr)
		size := json.Number(strconv.Itoa(len(arr)))
		for j, item := range arr {
			setValue(s, actKey(n.Name, withItem(i, j)), "arrayItem", item)
			setValue(s, actKey(n.Name, withItem(i, j)), "arraySize", size)
		}
		cmds = append(cmds, Command{Trace: &Trace{NodeName: n.Name, Outputs: []TraceField{{Name: "arraySize", Value: size, Type: TypeNumber}}}})
	default:
		b, _ := json.Marshal(encodeInputs(vals))
		s.Runs[k] = b
		s.Nodes[k] = StatusRunning
		idx := -1
		if len(i) > 0 {
			idx = i[len(i)-1]
		}
		cmds = append(cmds, Command{Run: &Run{Activation: k, Node: n.Node, Index: idx, Inputs: vals}})
	}
	return cmds, true, nil
}

// collect runs a Collector (at item path path) once every item of the
// iteration it closes is resolved.
func (p *Plan) collect(s *State, n *planNode, path []int, cmds []Command) ([]Command, bool, error) {
	var item planInput
	for _, in := range n.inputs {
		if in.Name == "arrayItem" {
			item = in
		}
	}
	src := p.nodes[item.source]
	it := ""
	if src.Type == NodeIterator {
		it = src.Name
	} else if len(src.stack) > 0 {
		it = src.stack[len(src.stack)-1]
	}
	if it == "" {
		return cmds, false, &StepError{Kind: "validation", Node: n.Name, Message: fmt.Sprintf("collector %q is not fed by an iteration", n.Name)}
	}
	k := actKey(n.Name, path)
	itAct := actKey(it, path[:min(len(p.nodes[it].stack), len(path))])
	switch s.Nodes[itAct] {
	case StatusSkipped:
		s.Nodes[k] = StatusSkipped
		return cmds, true, nil
	case StatusDone:
	default:
		return cmds, false, nil
	}
	var out []Value
	for j := range s.Items[itAct] {
		ip := withItem(path, j)
		switch p.sourceStatus(s, item.source, ip) {
		case StatusSkipped:
			continue
		case StatusDone:
			v, ok := getValue(s, p.sourceAct(item.source, ip), item.output)
			if !ok {
				continue
			}
			v, err := item.path.Eval(v)
			if err != nil {
				return cmds, false, &StepError{Kind: "validation", Node: n.Name, Message: fmt.Sprintf("input %q of node %q: %v", item.Name, n.Name, err)}
			}
			out = append(out, v)
		default:
			return cmds, false, nil
		}
	}
	if out == nil {
		out = []Value{}
	}
	s.Nodes[k] = StatusDone
	setValue(s, k, "collectedArray", out)
	cmds = append(cmds, Command{Trace: &Trace{NodeName: n.Name, Outputs: []TraceField{{Name: "collectedArray", Value: out, Type: TypeArray, Next: n.consumers["collectedArray"]}}}})
	return cmds, true, nil
}

func (p *Plan) evalInputs(s *State, n *planNode, i []int) ([]NamedValue, []TraceField, error) {
	vals := make([]NamedValue, 0, len(n.inputs))
	fields := make([]TraceField, 0, len(n.inputs))
	for _, in := range n.inputs {
		raw, _ := getValue(s, p.sourceAct(in.source, i), in.output)
		v, err := in.path.Eval(raw)
		if err == nil {
			err = checkType(v, in.Type)
		}
		if err != nil {
			return nil, nil, &StepError{Kind: "validation", Node: n.Name, Message: fmt.Sprintf("input %q of node %q: %v", in.Name, n.Name, err)}
		}
		vals = append(vals, NamedValue{in.Name, v})
		fields = append(fields, TraceField{Name: in.Name, Value: v, Type: in.Type, Category: in.Category,
			Source: &TraceSource{NodeName: in.source, OutputName: in.output, Expression: in.Expression}})
	}
	return vals, fields, nil
}

type encodedInput struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

func encodeInputs(vals []NamedValue) []encodedInput {
	out := make([]encodedInput, len(vals))
	for i, v := range vals {
		b, _ := MarshalValue(v.Value)
		out[i] = encodedInput{v.Name, b}
	}
	return out
}

// runOf rebuilds the Run of a running or waiting activation from the state.
func (p *Plan) runOf(s *State, k string) (*Run, error) {
	name, i := ParseActivation(k)
	var enc []encodedInput
	if err := json.Unmarshal(s.Runs[k], &enc); err != nil {
		return nil, fmt.Errorf("activation %q: stored inputs: %w", k, err)
	}
	run := &Run{Activation: k, Node: p.nodes[name].Node, Index: i}
	for _, e := range enc {
		v, err := ParseValue(e.Value)
		if err != nil {
			return nil, err
		}
		run.Inputs = append(run.Inputs, NamedValue{e.Name, v})
	}
	if b, ok := s.Resumes[k]; ok {
		v, err := ParseValue(b)
		if err != nil {
			return nil, err
		}
		run.Resume = &v
	}
	return run, nil
}

// Recover returns the Runs to restart after a crash: every activation that
// was running when the state was last persisted (a waiting activation
// stays paused until resumed).
func (p *Plan) Recover(s *State) ([]Command, error) {
	var cmds []Command
	for _, k := range sortedKeys(s.Nodes) {
		if s.Nodes[k] != StatusRunning {
			continue
		}
		if ls := s.Loops[k]; ls != nil {
			name, _ := ParseActivation(k)
			inner, err := p.loops[name].body.Recover(ls.Body)
			if err != nil {
				return nil, err
			}
			cmds = append(cmds, prefixRuns(inner, loopPrefix(k, ls.Iter))...)
			continue
		}
		run, err := p.runOf(s, k)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, Command{Run: run})
	}
	return cmds, nil
}

// Node returns the plan's node named name, or nil.
func (p *Plan) Node(name string) *Node {
	if n := p.nodes[name]; n != nil {
		return n.Node
	}
	return nil
}
