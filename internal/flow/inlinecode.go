package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"runtime"
	"runtime/metrics"
	"strconv"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// InlineCode nodes run on Starlark (go.starlark.net), a Python dialect
// interpreted in process. Why Starlark rather than CPython in an OS
// sandbox: it has no I/O, no imports, no clock and no randomness at all
// (nothing to escape from, and the same inputs give the same output, which
// durable replay needs), it starts in microseconds, and its interpreter
// counts execution steps and can be cancelled, so a node is bounded in
// time. Bedrock's InlineCode is Python 3: code that uses the Python subset
// Starlark shares (functions, loops, comprehensions, dicts, lists, strings)
// runs unchanged; classes, imports, exceptions and the standard library do
// not.
//
// Contract: each node input is a global variable of the same name (JSON
// values as Starlark values: objects become dicts in key order, numbers
// ints or floats); the node's output `response` is the value of a global
// named `response` if the code sets one, else the value of the code's last
// expression statement.
const (
	// InlineCodeMaxSteps bounds the interpreter steps of one run.
	InlineCodeMaxSteps = 10_000_000
	// InlineCodeTimeout bounds the wall-clock time of one run.
	InlineCodeTimeout = 5 * time.Second
	// InlineCodeMaxOutput bounds the JSON size of the output.
	InlineCodeMaxOutput = 1 << 20
	// InlineCodeMaxHeap bounds the memory of one run: how much the
	// process's live Go heap may grow while it runs.
	InlineCodeMaxHeap = 256 << 20
)

// inlineCodeMaxHeap is InlineCodeMaxHeap; tests lower it.
var inlineCodeMaxHeap uint64 = InlineCodeMaxHeap

const resultVar = "__result__"

func runInlineCode(ctx context.Context, run *Run) Event {
	fail := func(format string, args ...any) Event {
		return Event{Failed: &NodeFailed{Activation: run.Activation, Message: fmt.Sprintf("inline code node %q: ", run.Node.Name) + fmt.Sprintf(format, args...)}}
	}
	var ic InlineCodeConfig
	if _, err := run.Node.config(&ic); err != nil {
		return fail("%v", err)
	}
	predeclared := starlark.StringDict{}
	for _, in := range run.Inputs {
		v, err := toStarlark(in.Value, 0)
		if err != nil {
			return fail("input %q: %v", in.Name, err)
		}
		predeclared[in.Name] = v
	}
	out, err := RunStarlark(ctx, ic.Code, predeclared)
	if err != nil {
		return fail("%v", err)
	}
	return Event{Done: &NodeDone{Activation: run.Activation, Outputs: map[string]Value{"response": out}}}
}

// RunStarlark runs code with the given globals under the step, time and
// output bounds, and returns its result as a flow value.
func RunStarlark(ctx context.Context, code string, predeclared starlark.StringDict) (Value, error) {
	return runStarlark(ctx, code, predeclared, InlineCodeMaxSteps)
}

// runStarlark is RunStarlark with a step budget.
func runStarlark(ctx context.Context, code string, predeclared starlark.StringDict, maxSteps uint64) (Value, error) {
	opts := &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}
	f, err := opts.Parse("inline_code.py", code, 0)
	if err != nil {
		return nil, fmt.Errorf("syntax error: %v", err)
	}
	if n := len(f.Stmts); n > 0 {
		if es, ok := f.Stmts[n-1].(*syntax.ExprStmt); ok {
			f.Stmts[n-1] = &syntax.AssignStmt{Op: syntax.EQ, LHS: &syntax.Ident{Name: resultVar, NamePos: syntax.Start(es)}, RHS: es.X}
		}
	}
	prog, err := starlark.FileProgram(f, predeclared.Has)
	if err != nil {
		return nil, fmt.Errorf("compile error: %v", err)
	}
	thread := &starlark.Thread{Name: "inline-code", Load: func(*starlark.Thread, string) (starlark.StringDict, error) {
		return nil, errors.New("load is not available in inline code")
	}, Print: func(*starlark.Thread, string) {}}
	thread.SetMaxExecutionSteps(maxSteps)
	rctx, cancel := context.WithTimeout(ctx, InlineCodeTimeout)
	defer cancel()
	stop := context.AfterFunc(rctx, func() { thread.Cancel("time limit or cancellation") })
	defer stop()
	defer watchHeap(inlineCodeMaxHeap, func() { thread.Cancel("memory limit") })()
	globals, err := prog.Init(thread, predeclared)
	if err != nil {
		return nil, fmt.Errorf("run error: %v", err)
	}
	res, ok := globals["response"]
	if !ok {
		res, ok = globals[resultVar]
	}
	if !ok {
		return nil, errors.New("the code sets no response and does not end with an expression")
	}
	v, err := fromStarlark(res, 0)
	if err != nil {
		return nil, err
	}
	b, err := MarshalValue(v)
	if err != nil {
		return nil, err
	}
	if len(b) > InlineCodeMaxOutput {
		return nil, fmt.Errorf("output is %d bytes, more than %d", len(b), InlineCodeMaxOutput)
	}
	return v, nil
}

func toStarlark(v Value, depth int) (starlark.Value, error) {
	if depth > maxDepth {
		return nil, errors.New("value nested too deeply")
	}
	switch x := v.(type) {
	case nil:
		return starlark.None, nil
	case bool:
		return starlark.Bool(x), nil
	case string:
		return starlark.String(x), nil
	case json.Number:
		if i, ok := new(big.Int).SetString(string(x), 10); ok {
			return starlark.MakeBigInt(i), nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, err
		}
		return starlark.Float(f), nil
	case []Value:
		l := make([]starlark.Value, len(x))
		for i, e := range x {
			sv, err := toStarlark(e, depth+1)
			if err != nil {
				return nil, err
			}
			l[i] = sv
		}
		return starlark.NewList(l), nil
	case *Object:
		d := starlark.NewDict(len(x.Keys))
		for _, k := range x.Keys {
			sv, err := toStarlark(x.Vals[k], depth+1)
			if err != nil {
				return nil, err
			}
			d.SetKey(starlark.String(k), sv)
		}
		return d, nil
	}
	return nil, fmt.Errorf("unsupported value %T", v)
}

func fromStarlark(v starlark.Value, depth int) (Value, error) {
	if depth > maxDepth {
		return nil, errors.New("result nested too deeply")
	}
	switch x := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(x), nil
	case starlark.String:
		return string(x), nil
	case starlark.Int:
		return json.Number(x.String()), nil
	case starlark.Float:
		f := float64(x)
		if f != f || f > 1e308 || f < -1e308 {
			return nil, errors.New("result holds a float that JSON cannot carry")
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	case starlark.Indexable: // list, tuple
		out := make([]Value, x.Len())
		for i := range x.Len() {
			e, err := fromStarlark(x.Index(i), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	case *starlark.Dict:
		o := &Object{Vals: map[string]Value{}}
		for _, kv := range x.Items() {
			k, ok := kv[0].(starlark.String)
			if !ok {
				return nil, fmt.Errorf("result dict has a %s key; JSON objects need string keys", kv[0].Type())
			}
			e, err := fromStarlark(kv[1], depth+1)
			if err != nil {
				return nil, err
			}
			o.Set(string(k), e)
		}
		return o, nil
	}
	return nil, fmt.Errorf("result of type %s is not JSON", v.Type())
}

// watchHeap calls over when the live Go heap grows by more than limit
// bytes beyond what it was at the call, and returns a function that stops
// watching. Starlark has no allocation hook, so the heap is sampled every
// two milliseconds; when a sample is over the limit a collection runs
// first, so garbage does not count, and over runs only if live objects
// still are. The heap is the process's, so the figure is approximate when
// other work allocates at the same time; it is a cap on a runaway run (a
// list grown in a loop, strings doubled), not an accounting. A single
// Starlark allocation is also refused above 1 GiB by the interpreter.
func watchHeap(limit uint64, over func()) (stop func()) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	base := read()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if read() <= base+limit {
				continue
			}
			runtime.GC()
			if read() > base+limit {
				over()
				return
			}
		}
	}()
	return func() { close(done) }
}
