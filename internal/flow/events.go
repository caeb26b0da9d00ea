package flow

import (
	"encoding/json"
	"time"
)

// Stream event and exception member names of FlowResponseStream.
const (
	EventOutput        = "flowOutputEvent"
	EventCompletion    = "flowCompletionEvent"
	EventTrace         = "flowTraceEvent"
	EventInputRequired = "flowMultiTurnInputRequestEvent"
)

type wireDoc struct {
	Document json.RawMessage `json:"document"`
}

func docOf(v Value) wireDoc {
	b, err := MarshalValue(v)
	if err != nil {
		b = []byte("null")
	}
	return wireDoc{b}
}

// commandEvents turns the engine's commands into the stream events to
// persist, in order; Run commands are work, not events.
func commandEvents(cmds []Command, now time.Time) []StoredEvent {
	var out []StoredEvent
	add := func(typ string, v any) {
		b, _ := json.Marshal(v)
		out = append(out, StoredEvent{Type: typ, Payload: b, CreatedAt: now})
	}
	ts := now.UTC().Format(time.RFC3339Nano)
	for _, c := range cmds {
		switch {
		case c.Output != nil:
			add(EventOutput, map[string]any{"nodeName": c.Output.NodeName, "nodeType": "FlowOutputNode", "content": docOf(c.Output.Document)})
		case c.InputRequired != nil:
			add(EventInputRequired, map[string]any{"nodeName": c.InputRequired.NodeName, "nodeType": c.InputRequired.NodeType, "content": docOf(c.InputRequired.Document)})
		case c.Trace != nil:
			if tr := traceWire(c.Trace, ts); tr != nil {
				add(EventTrace, map[string]any{"trace": tr})
			}
		case c.Complete != nil && c.Complete.Error != nil:
			e := c.Complete.Error
			typ, body := "validationException", map[string]any{"message": e.Message}
			if e.Kind == "dependency" {
				typ = "dependencyFailedException"
				body["resourceName"] = e.Node
			}
			add(typ, body)
		case c.Complete != nil:
			add(EventCompletion, map[string]any{"completionReason": c.Complete.Reason})
		}
	}
	return out
}

// traceWire builds the FlowTrace union member of one trace, or nil when it
// has nothing to say.
func traceWire(t *Trace, ts string) map[string]any {
	switch {
	case t.Action != nil:
		a := map[string]any{"nodeName": t.NodeName, "timestamp": ts, "requestId": t.Action.RequestID,
			"serviceName": t.Action.ServiceName, "operationName": t.Action.OperationName}
		if len(t.Action.Request) > 0 {
			a["operationRequest"] = t.Action.Request
		}
		if len(t.Action.Response) > 0 {
			a["operationResponse"] = t.Action.Response
		}
		return map[string]any{"nodeActionTrace": a}
	case len(t.AgentTraces) > 0:
		return map[string]any{"nodeDependencyTrace": map[string]any{"nodeName": t.NodeName, "timestamp": ts,
			"traceElements": map[string]any{"agentTraces": t.AgentTraces}}}
	case t.Condition != nil:
		sat := make([]map[string]string, len(t.Condition))
		for i, c := range t.Condition {
			sat[i] = map[string]string{"conditionName": c}
		}
		return map[string]any{"conditionNodeResultTrace": map[string]any{"nodeName": t.NodeName, "timestamp": ts, "satisfiedConditions": sat}}
	case len(t.Inputs) > 0:
		fields := make([]map[string]any, 0, len(t.Inputs))
		for _, f := range t.Inputs {
			m := map[string]any{"nodeInputName": f.Name, "content": docOf(f.Value), "type": f.Type}
			if f.Source != nil {
				m["source"] = map[string]string{"nodeName": f.Source.NodeName, "outputFieldName": f.Source.OutputName, "expression": f.Source.Expression}
			}
			if f.Category != "" {
				m["category"] = f.Category
			}
			if len(t.Chain) > 0 {
				chain := make([]map[string]any, len(t.Chain))
				for i, c := range t.Chain {
					chain[i] = map[string]any{"nodeName": c.NodeName, "index": c.Index, "type": c.Type}
				}
				m["executionChain"] = chain
			}
			fields = append(fields, m)
		}
		return map[string]any{"nodeInputTrace": map[string]any{"nodeName": t.NodeName, "timestamp": ts, "fields": fields}}
	case len(t.Outputs) > 0:
		fields := make([]map[string]any, 0, len(t.Outputs))
		for _, f := range t.Outputs {
			next := make([]map[string]string, 0, len(f.Next))
			for _, n := range f.Next {
				next = append(next, map[string]string{"nodeName": n[0], "inputFieldName": n[1]})
			}
			fields = append(fields, map[string]any{"nodeOutputName": f.Name, "content": docOf(f.Value), "type": f.Type, "next": next})
		}
		return map[string]any{"nodeOutputTrace": map[string]any{"nodeName": t.NodeName, "timestamp": ts, "fields": fields}}
	}
	return nil
}
