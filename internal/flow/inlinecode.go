package flow

import "context"

// runInlineCode is replaced by the sandboxed interpreter.
func runInlineCode(ctx context.Context, run *Run) Event {
	return Event{Failed: &NodeFailed{Activation: run.Activation, Message: "InlineCode nodes cannot run in Outcrop yet (node " + run.Node.Name + ")"}}
}
