package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// chainFlow is Input → n Prompt nodes in a chain → Output.
func chainFlow(n int) json.RawMessage {
	d := &Definition{}
	cfg := func(k, v string) map[string]json.RawMessage { return map[string]json.RawMessage{k: json.RawMessage(v)} }
	d.Nodes = append(d.Nodes, Node{Name: "In", Type: NodeInputT, Configuration: cfg("input", `{}`), Outputs: []NodeOutput{{"document", TypeString}}})
	prev, prevOut := "In", "document"
	for i := range n {
		name := fmt.Sprintf("P%d", i)
		d.Nodes = append(d.Nodes, Node{Name: name, Type: NodePrompt,
			Configuration: cfg("prompt", `{"sourceConfiguration":{"inline":{"modelId":"m","templateType":"TEXT","templateConfiguration":{"text":{"text":"{{xv}}"}}}}}`),
			Inputs:        []NodeInput{{Name: "xv", Type: TypeString, Expression: "$.data"}}, Outputs: []NodeOutput{{"modelCompletion", TypeString}}})
		d.Connections = append(d.Connections, dataConn("C"+name, prev, prevOut, name, "xv"))
		prev, prevOut = name, "modelCompletion"
	}
	d.Nodes = append(d.Nodes, Node{Name: "Out", Type: NodeOutputT, Configuration: cfg("output", `{}`), Inputs: []NodeInput{{Name: "document", Type: TypeString, Expression: "$.data"}}})
	d.Connections = append(d.Connections, dataConn("COut", prev, prevOut, "Out", "document"))
	b, _ := json.Marshal(d)
	return b
}

// BenchmarkStep is the pure engine's cost per node of a 10-prompt chain
// (Step plus the JSON round trip of the state the executor persists).
func BenchmarkStep(b *testing.B) {
	def, _ := ParseDefinition(chainFlow(10))
	p, err := Compile(def)
	if err != nil {
		b.Fatal(err)
	}
	var doc Value = "hello"
	b.ReportAllocs()
	for b.Loop() {
		s, cmds, _ := p.Step(NewState(), Event{Start: &doc})
		for {
			rs := runs(cmds)
			if len(rs) == 0 {
				break
			}
			raw, _ := json.Marshal(s)
			s = &State{}
			json.Unmarshal(raw, s)
			s, cmds, _ = p.Step(s, Event{Done: &NodeDone{Activation: rs[0].Activation, Outputs: map[string]Value{"modelCompletion": "ok"}}})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10), "ns/node")
}

// instantRunner answers every node at once, so the executor's overhead is
// all that is measured: prompts complete, agents ask the user.
type instantRunner struct{}

func (instantRunner) RunNode(ctx context.Context, x *Execution, r *Run) Event {
	if r.Node.Type == NodeAgent && r.Resume == nil {
		return Event{Waiting: &NodeWaiting{Activation: r.Activation, Question: "Where to?"}}
	}
	out := "modelCompletion"
	if r.Node.Type == NodeAgent {
		out = "agentResponse"
	}
	return Event{Done: &NodeDone{Activation: r.Activation, Outputs: map[string]Value{out: "B"}}}
}

// BenchmarkExecutorPerNode is the durable executor's overhead per node,
// excluding model time, on the embedded SQLite store: each node's step is
// committed (state and events in one transaction) before the next runs.
// It reports the median (p50) and p99 of the per-node time.
func BenchmarkExecutorPerNode(b *testing.B) {
	db := storetest.SQLite(b)
	x := NewExecutor(ExecutorOptions{DB: db, Nodes: instantRunner{}})
	def := chainFlow(10)
	ctx := context.Background()
	var per []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		e, err := x.Start(ctx, StartInput{Account: "a", FlowID: "F", AliasID: "A", FlowVersion: "1", Definition: def, Document: "hi"})
		if err != nil {
			b.Fatal(err)
		}
		last := time.Now()
		err = x.Drive(ctx, "a", e.ID, func() {
			now := time.Now()
			per = append(per, now.Sub(last))
			last = now
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(per)
	if len(per) > 0 {
		b.ReportMetric(float64(per[len(per)/2].Microseconds()), "µs/node-p50")
		b.ReportMetric(float64(per[len(per)*99/100].Microseconds()), "µs/node-p99")
	}
}

// BenchmarkPausedExecutions holds 1,000 executions of the trip planner
// paused on the agent node and reports the Go heap they keep (none: a
// paused execution is a row in the store, not memory) and the store's size.
func BenchmarkPausedExecutions(b *testing.B) {
	def := tripPlannerRaw(b)
	for b.Loop() {
		db := storetest.SQLite(b)
		x := NewExecutor(ExecutorOptions{DB: db, Nodes: instantRunner{}})
		ctx := context.Background()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range 1000 {
			e, err := x.Start(ctx, StartInput{Account: "a", FlowID: "F", AliasID: "A", FlowVersion: "1", Definition: def, Document: "Book a flight"})
			if err != nil {
				b.Fatal(err)
			}
			if err := x.Drive(ctx, "a", e.ID, nil); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		var paused int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM flow_executions WHERE state LIKE '%"status":"paused"%'`, nil, &paused)
		if paused != 1000 {
			b.Fatalf("%d executions paused, want 1000", paused)
		}
		var pages, size int64
		db.QueryRow(ctx, `PRAGMA page_count`, nil, &pages)
		db.QueryRow(ctx, `PRAGMA page_size`, nil, &size)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/1000, "heap-B/paused")
		b.ReportMetric(float64(pages*size)/1000, "store-B/paused")
	}
}

func tripPlannerRaw(b *testing.B) json.RawMessage {
	d := tripPlanner(b)
	// Route every request to the agent: the instant classifier answers B.
	for i := range d.Nodes {
		if d.Nodes[i].Name == "Condition" {
			d.Nodes[i].Configuration["condition"] = json.RawMessage(`{"conditions":[{"name":"Booking","expression":"categoryLetter==\"B\""},{"name":"default"}]}`)
		}
	}
	raw, _ := json.Marshal(d)
	return raw
}

// BenchmarkCommitFloor is the reference for BenchmarkExecutorPerNode: one
// transaction with the same writes a step makes (an UPDATE of a state of
// the same size and one event INSERT), without the engine.
func BenchmarkCommitFloor(b *testing.B) {
	db := storetest.SQLite(b)
	x := NewExecutor(ExecutorOptions{DB: db, Nodes: instantRunner{}})
	ctx := context.Background()
	e, err := x.Start(ctx, StartInput{Account: "a", FlowID: "F", AliasID: "A", FlowVersion: "1", Definition: chainFlow(10), Document: "hi"})
	if err != nil {
		b.Fatal(err)
	}
	if err := x.Drive(ctx, "a", e.ID, nil); err != nil {
		b.Fatal(err)
	}
	e, _ = x.Get(ctx, "a", e.ID)
	state, _ := json.Marshal(e.State)
	var per []time.Duration
	seq := int64(1000)
	for b.Loop() {
		t0 := time.Now()
		err := db.Tx(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE flow_executions SET state = ?, version = version + 1 WHERE id = ?`, string(state), e.ID); err != nil {
				return err
			}
			seq++
			_, err := tx.Exec(ctx, `INSERT INTO flow_events (execution_id, seq, turn, event_type, payload, created_at) VALUES (?, ?, 1, 'flowTraceEvent', '{}', 0)`, e.ID, seq)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		per = append(per, time.Since(t0))
	}
	slices.Sort(per)
	b.ReportMetric(float64(per[len(per)/2].Microseconds()), "µs/commit-p50")
}
