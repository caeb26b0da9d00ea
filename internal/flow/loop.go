package flow

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DoWhile loops.
//
// A Loop node holds a body definition: a LoopInput node (its entry), body
// nodes, and a LoopController node (its end). The body is compiled as a
// plan of its own and run as a nested execution whose state lives in the
// outer state (State.Loops), so Step stays one pure function: the body's
// commands come out of the outer Step with their activations prefixed by
// "<loop activation>/<iteration>/", and events for such activations are
// routed back into the body.
//
// Data: the LoopInput node's outputs are the Loop node's inputs of the
// same names. When the body is done, the controller's inputs decide: the
// continueCondition is evaluated over its LoopCondition inputs (and those
// without a category); as Bedrock documents it, the loop runs until the
// condition is true, so true exits. It also exits after maxIterations
// iterations (default 10) — with the last iteration's values, not as an
// error. Otherwise the next iteration starts with the LoopInput outputs
// replaced by the controller's ReturnValueToLoopStart inputs of the same
// names. On exit the Loop node's outputs are the controller's ExitLoop
// inputs of the same names.

// DefaultMaxIterations is a LoopController's maxIterations when unset.
const DefaultMaxIterations = 10

// LoopState is the persisted state of one Loop activation in progress.
type LoopState struct {
	// Iter is the current iteration, from 1.
	Iter int `json:"iter"`
	// Vars are the LoopInput outputs of the current iteration.
	Vars map[string]json.RawMessage `json:"vars"`
	// Body is the iteration's engine state.
	Body *State `json:"body"`
}

type loopPlan struct {
	body       *Plan
	controller *planNode
	cond       *Cond
	maxIter    int
}

// ChainLink is one entry of a trace's executionChain: the iteration of a
// Loop (or item of an Iterator) a value belongs to.
type ChainLink struct {
	NodeName string
	Index    int
	Type     string // Iterator or Loop
}

func (p *Plan) compileLoops() error {
	for _, n := range p.order {
		if n.Type != NodeLoop {
			continue
		}
		var lc LoopConfig
		if _, err := n.config(&lc); err != nil || lc.Definition == nil {
			return fmt.Errorf("loop %q: no definition", n.Name)
		}
		body, err := compile(lc.Definition)
		if err != nil {
			return err
		}
		lp := &loopPlan{body: body, maxIter: DefaultMaxIterations}
		for _, bn := range body.order {
			if bn.Type == NodeLoopController {
				lp.controller = bn
			}
		}
		if body.input == nil || lp.controller == nil {
			return fmt.Errorf("loop %q: the body needs a LoopInput and a LoopController node", n.Name)
		}
		var cc LoopControllerConfig
		if _, err := lp.controller.config(&cc); err != nil || cc.ContinueCondition == nil || cc.ContinueCondition.Expression == nil {
			return fmt.Errorf("loop %q: the controller needs a continueCondition", n.Name)
		}
		if cc.MaxIterations != nil {
			lp.maxIter = *cc.MaxIterations
		}
		types := map[string]string{}
		for _, in := range lp.controller.Inputs {
			if in.Category == "LoopCondition" || in.Category == "" {
				types[in.Name] = in.Type
			}
		}
		if lp.cond, err = ParseCond(*cc.ContinueCondition.Expression, types); err != nil {
			return fmt.Errorf("loop %q: %v", n.Name, err)
		}
		p.loops[n.Name] = lp
	}
	return nil
}

// isLoopAct reports whether an activation is inside a loop body.
func isLoopAct(act string) bool { return strings.Contains(act, "/") }

func loopPrefix(k string, iter int) string { return k + "/" + strconv.Itoa(iter) + "/" }

// splitLoopAct splits "<loop activation>/<iteration>/<inner activation>".
func splitLoopAct(act string) (loop string, iter int, inner string, ok bool) {
	loop, rest, ok1 := strings.Cut(act, "/")
	it, inner, ok2 := strings.Cut(rest, "/")
	n, err := strconv.Atoi(it)
	if !ok1 || !ok2 || err != nil {
		return "", 0, "", false
	}
	return loop, n, inner, true
}

func prefixRuns(cmds []Command, prefix string) []Command {
	out := make([]Command, 0, len(cmds))
	for _, c := range cmds {
		if c.Run != nil {
			r := *c.Run
			r.Activation = prefix + r.Activation
			c = Command{Run: &r}
		}
		out = append(out, c)
	}
	return out
}

// begin starts a loop body's iteration: its LoopInput node outputs vars.
func (p *Plan) begin(vars map[string]json.RawMessage) (*State, []Command, error) {
	s := NewState()
	in := p.input
	s.Nodes[in.Name] = StatusDone
	var fields []TraceField
	for _, o := range in.Outputs {
		raw, ok := vars[o.Name]
		if !ok {
			continue
		}
		v, err := ParseValue(raw)
		if err != nil {
			return nil, nil, err
		}
		if err := checkType(v, o.Type); err != nil {
			return nil, nil, &StepError{Kind: "validation", Node: in.Name, Message: fmt.Sprintf("output %q of node %q: %v", o.Name, in.Name, err)}
		}
		setValue(s, in.Name, o.Name, v)
		fields = append(fields, TraceField{Name: o.Name, Value: v, Type: o.Type, Next: in.consumers[o.Name]})
	}
	cmds := []Command{{Trace: &Trace{NodeName: in.Name, Outputs: fields}}}
	return p.propagate(s, cmds)
}

// startIteration starts iteration iter of Loop activation k with vars.
func (p *Plan) startIteration(s *State, k string, iter int, vars map[string]json.RawMessage) ([]Command, error) {
	name, _ := ParseActivation(k)
	lp := p.loops[name]
	bs, bcmds, err := lp.body.begin(vars)
	if err != nil {
		return nil, err
	}
	if s.Loops == nil {
		s.Loops = map[string]*LoopState{}
	}
	s.Loops[k] = &LoopState{Iter: iter, Vars: vars, Body: bs}
	return p.absorb(s, k, bcmds)
}

// absorb turns a body step's commands into the outer plan's: runs are
// prefixed with the iteration, traces get the loop in their execution
// chain, and the body's completion ends the iteration (or pauses the loop,
// or fails the execution).
func (p *Plan) absorb(s *State, k string, bcmds []Command) ([]Command, error) {
	ls := s.Loops[k]
	name, _ := ParseActivation(k)
	prefix := loopPrefix(k, ls.Iter)
	var out []Command
	var done *Completion
	for _, c := range bcmds {
		switch {
		case c.Run != nil:
			r := *c.Run
			r.Activation = prefix + r.Activation
			out = append(out, Command{Run: &r})
		case c.Trace != nil:
			tr := *c.Trace
			tr.Chain = append([]ChainLink{{NodeName: name, Index: ls.Iter - 1, Type: "Loop"}}, tr.Chain...)
			out = append(out, Command{Trace: &tr})
		case c.Complete != nil:
			done = c.Complete
		default:
			out = append(out, c)
		}
	}
	switch {
	case done == nil:
		s.Nodes[k] = StatusRunning
		return out, nil
	case done.Error != nil:
		return out, done.Error
	case done.Reason == ReasonInputRequired:
		s.Nodes[k] = StatusWaiting
		return out, nil
	}
	more, err := p.finishIteration(s, k)
	return append(out, more...), err
}

// finishIteration reads the controller of a finished iteration and starts
// the next one or ends the loop.
func (p *Plan) finishIteration(s *State, k string) ([]Command, error) {
	name, _ := ParseActivation(k)
	lp, ls, n := p.loops[name], s.Loops[k], p.nodes[name]
	ctl := lp.controller.Name
	if ls.Body.Nodes[ctl] != StatusDone {
		return nil, &StepError{Kind: "validation", Node: name, Message: fmt.Sprintf("loop %q: iteration %d ended without reaching its controller %q", name, ls.Iter, ctl)}
	}
	inputs := map[string]Value{}
	for _, in := range lp.controller.Inputs {
		if v, ok := getValue(ls.Body, ctl, in.Name); ok {
			inputs[in.Name] = v
		}
	}
	condVars := map[string]Value{}
	for _, in := range lp.controller.Inputs {
		if in.Category == "LoopCondition" || in.Category == "" {
			condVars[in.Name] = inputs[in.Name]
		}
	}
	exit, err := lp.cond.Eval(condVars)
	if err != nil {
		return nil, &StepError{Kind: "validation", Node: ctl, Message: fmt.Sprintf("continueCondition of %q: %v", ctl, err)}
	}
	if !exit && ls.Iter < lp.maxIter {
		vars := cloneMap(ls.Vars)
		for _, in := range lp.controller.Inputs {
			if v, ok := inputs[in.Name]; ok && in.Category == "ReturnValueToLoopStart" {
				b, err := MarshalValue(v)
				if err != nil {
					return nil, err
				}
				vars[in.Name] = b
			}
		}
		return p.startIteration(s, k, ls.Iter+1, vars)
	}
	var fields []TraceField
	for _, o := range n.Outputs {
		v, ok := inputs[o.Name]
		if !ok || !hasCategory(lp.controller.Node, o.Name, "ExitLoop") {
			continue
		}
		if err := checkType(v, o.Type); err != nil {
			return nil, &StepError{Kind: "validation", Node: name, Message: fmt.Sprintf("output %q of loop %q: %v", o.Name, name, err)}
		}
		setValue(s, k, o.Name, v)
		fields = append(fields, TraceField{Name: o.Name, Value: v, Type: o.Type, Next: n.consumers[o.Name]})
	}
	s.Nodes[k] = StatusDone
	delete(s.Loops, k)
	return []Command{{Trace: &Trace{NodeName: name, Outputs: fields}}}, nil
}

func hasCategory(n *Node, input, category string) bool {
	for _, in := range n.Inputs {
		if in.Name == input {
			return in.Category == category
		}
	}
	return false
}

// stepLoop routes an event for an activation inside a loop body.
func (p *Plan) stepLoop(s *State, act string, ev Event) (*State, []Command, error) {
	k, iter, inner, ok := splitLoopAct(act)
	if !ok {
		return nil, nil, fmt.Errorf("activation %q is not running", act)
	}
	name, _ := ParseActivation(k)
	ls, lp := s.Loops[k], p.loops[name]
	if ls == nil || lp == nil || ls.Iter != iter {
		return nil, nil, fmt.Errorf("activation %q is not running", act)
	}
	var iev Event
	switch {
	case ev.Done != nil:
		d := *ev.Done
		d.Activation = inner
		iev.Done = &d
	case ev.Waiting != nil:
		w := *ev.Waiting
		w.Activation = inner
		iev.Waiting = &w
	case ev.Failed != nil:
		f := *ev.Failed
		f.Activation = inner
		iev.Failed = &f
	}
	bs, bcmds, err := lp.body.Step(ls.Body, iev)
	if err != nil {
		return nil, nil, err
	}
	ls.Body = bs
	cmds, err := p.absorb(s, k, bcmds)
	if err != nil {
		var se *StepError
		if errors.As(err, &se) {
			return p.fail(s, cmds, se)
		}
		return nil, nil, err
	}
	return p.propagate(s, cmds)
}

// resumeLoop resumes a node waiting inside a loop body.
func (p *Plan) resumeLoop(s *State, ev Event) (*State, []Command, error) {
	for _, k := range sortedKeys(s.Loops) {
		if s.Nodes[k] != StatusWaiting {
			continue
		}
		name, _ := ParseActivation(k)
		ls := s.Loops[k]
		bs, bcmds, err := p.loops[name].body.Step(ls.Body, ev)
		if err != nil {
			continue // not waiting in this loop
		}
		ls.Body = bs
		s.Nodes[k] = StatusRunning
		s.Status = ExecRunning
		return s, prefixRuns(bcmds, loopPrefix(k, ls.Iter)), nil
	}
	return nil, nil, ErrWrongNode
}
