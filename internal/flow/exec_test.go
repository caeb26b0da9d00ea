package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/jobs"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/providertest"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// fanFlow is Input → n independent prompt nodes → n Output nodes.
func fanFlow(n int) string {
	nodes := []string{`{"name": "In", "type": "Input", "configuration": {"input": {}}, "outputs": [{"name": "document", "type": "String"}]}`}
	var conns []string
	for i := range n {
		nodes = append(nodes, fmt.Sprintf(`{"name": "Ask%d", "type": "Prompt", "configuration": {"prompt": {"sourceConfiguration": {"inline": {"modelId": "%s", "templateType": "TEXT",
   "templateConfiguration": {"text": {"text": "branch %d: {{question}}", "inputVariables": [{"name": "question"}]}}}}}},
  "inputs": [{"name": "question", "type": "String", "expression": "$.data"}], "outputs": [{"name": "modelCompletion", "type": "String"}]}`, i, testModel, i),
			fmt.Sprintf(`{"name": "Out%d", "type": "Output", "configuration": {"output": {}}, "inputs": [{"name": "document", "type": "String", "expression": "$.data"}]}`, i))
		conns = append(conns,
			fmt.Sprintf(`{"name": "in%d", "source": "In", "target": "Ask%d", "type": "Data", "configuration": {"data": {"sourceOutput": "document", "targetInput": "question"}}}`, i, i),
			fmt.Sprintf(`{"name": "out%d", "source": "Ask%d", "target": "Out%d", "type": "Data", "configuration": {"data": {"sourceOutput": "modelCompletion", "targetInput": "document"}}}`, i, i, i))
	}
	return `{"nodes": [` + strings.Join(nodes, ",") + `], "connections": [` + strings.Join(conns, ",") + `]}`
}

// callGate is a gateway stage that counts model calls in flight and holds
// the first calls until `want` are in flight together (or a generous
// timeout passes, when the executor never runs that many at once),
// recording the maximum.
type callGate struct {
	mu       sync.Mutex
	cond     *sync.Cond
	inflight int
	max      int
	want     int
}

func newCallGate(want int) *callGate {
	g := &callGate{want: want}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *callGate) Name() string { return "gate" }

func (g *callGate) Wrap(next gateway.Handler) gateway.Handler {
	return func(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
		g.mu.Lock()
		g.inflight++
		g.max = max(g.max, g.inflight)
		g.cond.Broadcast()
		deadline := time.Now().Add(5 * time.Second)
		for g.max < g.want && time.Now().Before(deadline) {
			// Wake up now and then to look at the deadline.
			go func() { time.Sleep(50 * time.Millisecond); g.cond.Broadcast() }()
			g.cond.Wait()
		}
		g.mu.Unlock()
		s, err := next(ctx, c)
		if err == nil {
			var resp *llm.Response
			resp, err = llm.Collect(s)
			s = nil
			if err == nil {
				s = llm.ResponseStream(resp)
			}
		}
		g.mu.Lock()
		g.inflight--
		g.mu.Unlock()
		return s, err
	}
}

// TestConcurrentBranches checks that independent branches run at the same
// time, and that the alias concurrency configuration bounds how many: with
// Automatic all three prompt nodes are in flight together; with Manual
// maxConcurrency 2 never more than two, and with 1 one at a time. Every
// output is emitted once either way.
func TestConcurrentBranches(t *testing.T) {
	tests := []struct {
		name      string
		maxc      int
		want, max int
	}{
		{"automatic", 0, 3, 3},
		{"manual 2", 2, 2, 2},
		{"manual 1", 1, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newCallGate(tc.want)
			gw, router := scriptedModels(t, func(providertest.Call) *providertest.Fixture { return chatAnswer("ok") }, g)
			x := NewExecutor(ExecutorOptions{DB: storetest.SQLite(t), Nodes: &Runner{Models: gw, Resolve: resolver(router)}})
			ctx := context.Background()
			e, err := x.Start(ctx, StartInput{Account: "a", FlowID: "F", AliasID: "A", FlowVersion: "1", Definition: json.RawMessage(fanFlow(3)),
				Document: "hello", MaxConcurrency: tc.maxc})
			if err != nil {
				t.Fatal(err)
			}
			if err := x.Drive(ctx, "a", e.ID, nil); err != nil {
				t.Fatal(err)
			}
			evs, _ := x.Events(ctx, e.ID, 0, 1000)
			if got := outputDocs(evs); len(got) != 3 {
				t.Fatalf("outputs = %v, want 3", got)
			}
			if c := eventsOf(evs, EventCompletion); len(c) != 1 || c[0]["completionReason"] != ReasonSuccess {
				t.Fatalf("completion = %v", c)
			}
			if g.max != tc.max {
				t.Fatalf("at most %d model calls were in flight together, want %d", g.max, tc.max)
			}
		})
	}
}

// agentFlow is Input → Agent → Output.
const agentFlow = `{"nodes": [
 {"name": "In", "type": "Input", "configuration": {"input": {}}, "outputs": [{"name": "document", "type": "String"}]},
 {"name": "Booker", "type": "Agent", "configuration": {"agent": {"agentAliasArn": "arn:aws:bedrock:us-east-1:000000000000:agent-alias/AGENT12345/ALIAS12345"}},
  "inputs": [{"name": "agentInputText", "type": "String", "expression": "$.data"}], "outputs": [{"name": "agentResponse", "type": "String"}]},
 {"name": "Out", "type": "Output", "configuration": {"output": {}}, "inputs": [{"name": "document", "type": "String", "expression": "$.data"}]}
], "connections": [
 {"name": "c1", "source": "In", "target": "Booker", "type": "Data", "configuration": {"data": {"sourceOutput": "document", "targetInput": "agentInputText"}}},
 {"name": "c2", "source": "Booker", "target": "Out", "type": "Data", "configuration": {"data": {"sourceOutput": "agentResponse", "targetInput": "document"}}}
]}`

// askingRunner asks once, then books; with block set its first run of a
// node waits for the drive to be cancelled (a node in progress at shutdown).
type askingRunner struct {
	block   bool
	entered chan struct{}
}

func (r *askingRunner) RunNode(ctx context.Context, x *Execution, run *Run) Event {
	if r.block {
		close(r.entered)
		<-ctx.Done()
		return Event{Failed: &NodeFailed{Activation: run.Activation, Message: ctx.Err().Error()}}
	}
	if run.Resume == nil {
		return Event{Waiting: &NodeWaiting{Activation: run.Activation, Question: "Which date?"}}
	}
	return Event{Done: &NodeDone{Activation: run.Activation, Outputs: map[string]Value{"agentResponse": "Booked for " + valueText(*run.Resume)}}}
}

func newQueue(t *testing.T, db *store.DB, x *Executor) jobs.Queue {
	t.Helper()
	q, err := jobs.New(context.Background(), db, jobs.Options{Poll: 20 * time.Millisecond, Handlers: map[string]jobs.Handler{JobKind: x.RunJob}})
	if err != nil {
		t.Fatal(err)
	}
	x.SetQueue(q)
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Stop(context.Background()) })
	return q
}

// waitStatus polls an execution until it has status want; the deadline is
// far below the executors' one-hour lease, so reaching want proves no
// lease was waited for.
func waitStatus(t *testing.T, x *Executor, id, want string) *Execution {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		e, err := x.Get(context.Background(), "a", id)
		if err != nil {
			t.Fatal(err)
		}
		if e.Status == want && e.State.Status != ExecRunning {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s is %s (%s), want %s", id, e.Status, e.State.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAsyncResumeTakesOwnLease: an asynchronous execution resumed in this
// process is driven at once by its job, although the resume took the lease
// (one hour here) for this process.
func TestAsyncResumeTakesOwnLease(t *testing.T) {
	db := storetest.SQLite(t)
	x := NewExecutor(ExecutorOptions{DB: db, Lease: time.Hour, Nodes: &askingRunner{}})
	newQueue(t, db, x)
	ctx := context.Background()
	e, err := x.Start(ctx, StartInput{Account: "a", FlowID: "F", AliasID: "A", FlowVersion: "1", Definition: json.RawMessage(agentFlow), Document: "Book a flight", Async: true})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		e2, _ := x.Get(ctx, "a", e.ID)
		if e2.State.Status == ExecPaused {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never paused: %+v", e2.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := x.Resume(ctx, "a", e.ID, ResumeInput{NodeName: "Booker", InputName: "agentInputText", Content: "May 3"}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, x, e.ID, StatusSucceeded)
	evs, _ := x.Events(ctx, e.ID, 0, 100)
	if got := outputDocs(evs); len(got) != 1 || got[0] != "Booked for May 3" {
		t.Fatalf("outputs = %v", got)
	}
}

// TestCloseReleasesLeases: a clean shutdown (Executor.Close) stops the
// executor's drives and releases their leases with a recovery job due now,
// so a second executor (a restart, or another replica) finishes the
// execution at once rather than after the one-hour lease.
func TestCloseReleasesLeases(t *testing.T) {
	db := storetest.SQLite(t)
	blocking := &askingRunner{block: true, entered: make(chan struct{})}
	xa := NewExecutor(ExecutorOptions{DB: db, Lease: time.Hour, Nodes: blocking})
	qa := newQueue(t, db, xa)
	ctx := context.Background()
	e, err := xa.Start(ctx, StartInput{Account: "a", FlowID: "F", AliasID: "A", FlowVersion: "1", Definition: json.RawMessage(agentFlow), Document: "Book a flight", Async: true})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-blocking.entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the node never started")
	}
	if err := xa.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := qa.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	var owner string
	var until int64
	if err := db.QueryRow(ctx, `SELECT lease_owner, lease_until FROM flow_executions WHERE id = ?`, []any{e.ID}, &owner, &until); err != nil || owner != "" || until != 0 {
		t.Fatalf("after Close: lease %q until %d (%v); want released", owner, until, err)
	}
	if _, err := xa.Start(ctx, StartInput{Account: "a", FlowID: "F", AliasID: "A", FlowVersion: "1", Definition: json.RawMessage(agentFlow), Document: "x"}); err != nil {
		t.Fatal(err) // starting is still possible; driving is not
	}
	if err := xa.Drive(ctx, "a", e.ID, nil); err == nil {
		t.Fatal("a closed executor drove an execution")
	}

	xb := NewExecutor(ExecutorOptions{DB: db, Lease: time.Hour, Nodes: &askingRunner{}})
	newQueue(t, db, xb)
	waitStatus(t, xb, e.ID, StatusRunningExec) // paused on the agent, driven by xb
	if _, err := xb.Resume(ctx, "a", e.ID, ResumeInput{NodeName: "Booker", InputName: "agentInputText", Content: "June 1"}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, xb, e.ID, StatusSucceeded)
	evs, _ := xb.Events(ctx, e.ID, 0, 100)
	if got := outputDocs(evs); len(got) != 1 || got[0] != "Booked for June 1" {
		t.Fatalf("outputs = %v", got)
	}
}
