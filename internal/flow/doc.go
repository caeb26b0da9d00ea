// Package flow is Outcrop's Bedrock Flows engine: the flow definition model
// (order-preserving JSON values), the validator behind PrepareFlow and
// ValidateFlowDefinition (Bedrock's validation types and detail shapes),
// the $.data input-expression evaluator, the condition language, and the
// execution engine.
//
// # The engine
//
// The semantic core is Plan.Step, a pure function of (plan, state, event)
// returning the next state and the commands to carry out: Run an effectful
// node (Prompt, Agent, InlineCode, Storage, Retrieval, KnowledgeBase), emit
// a flowOutputEvent, a trace, a flowMultiTurnInputRequestEvent, or the
// completion. Input, Output, Condition, Iterator and Collector nodes are
// evaluated inside Step. Nodes run when all their data inputs have values
// and, when they are the target of Conditional connections, one of those
// conditions was taken; a node behind an untaken condition, or fed by a
// skipped node, is skipped (dead-branch propagation). Conditions are tried
// in order and the first true one is taken, else the default.
//
// State is plain JSON. An executor persists the state returned by Step
// together with the commands before it acts on them, so after a crash the
// persisted state says exactly which outputs were emitted and which runs
// were outstanding (Plan.Recover re-issues those, with the user's answer of
// a resumed multi-turn node).
//
// A Loop (DoWhile) node's body runs as a nested execution kept inside the
// outer state (loop.go): body activations are "<loop>/<iteration>/<node>".
//
// Iterators nest: a node runs once per item path of the iterators it runs
// under (keyed "node#i", "node#i.j", …); Output nodes inside an iteration
// emit once per item; a Collector closes the innermost iteration of its
// item and gathers the items that were not skipped, in item order.
package flow
