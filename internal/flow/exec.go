package flow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/jobs"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/store"
)

// JobKind is the job kind of flow-execution recovery; the application
// registers Executor.RunJob under it.
const JobKind = "flow.execution"

// ExecutorOptions configure an Executor.
type ExecutorOptions struct {
	DB *store.DB
	// Nodes runs the effectful nodes (prompts, agents, code).
	Nodes NodeRunner
	// Logger receives failures; nil discards them.
	Logger *slog.Logger
	// PauseTTL is how long a paused execution waits for input; 0 means 1h.
	PauseTTL time.Duration
	// Lease is how long a driver owns an execution without a heartbeat
	// before recovery may take it over; 0 means DefaultLease. The driver
	// heartbeats every Lease/3, and every commit is fenced by the
	// execution's version and lease owner, so a short lease is safe: a
	// driver that lost its lease (a long GC pause, a partition) cannot
	// commit anything after another took over.
	Lease time.Duration
	// RecoverContext rebuilds the caller's context (principal) for a
	// recovered execution driven by the job runner; nil keeps ctx.
	RecoverContext func(ctx context.Context, principal string) (context.Context, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultLease is the lease of an execution's driver when
// ExecutorOptions.Lease is 0: after a crash, recovery starts within about
// this long.
const DefaultLease = 10 * time.Second

// AutomaticConcurrency is how many node runs of one execution may be in
// flight at once under the alias concurrency type Automatic.
const AutomaticConcurrency = 16

// NodeRunner runs one activation of an effectful node and returns the
// event to feed back to the engine (Done, Waiting or Failed).
type NodeRunner interface {
	RunNode(ctx context.Context, x *Execution, r *Run) Event
}

// Executor persists and drives flow executions: every engine step is
// committed (state and stream events in one transaction, fenced by the
// execution's version and lease) before its events are handed to the
// client, and a recovery job per turn lets any replica finish an execution
// whose driver died.
type Executor struct {
	db    *store.DB
	o     ExecutorOptions
	log   *slog.Logger
	owner string

	// mu guards queue, plans, driving and closed.
	mu      sync.Mutex
	queue   jobs.Queue
	plans   map[string]*Plan // definition text → compiled plan
	driving map[*driveRef]struct{}
	closed  bool
	drives  sync.WaitGroup
}

// NewExecutor returns an executor; call SetQueue before use.
func NewExecutor(o ExecutorOptions) *Executor {
	if o.PauseTTL <= 0 {
		o.PauseTTL = time.Hour
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 8)
	rand.Read(b)
	return &Executor{db: o.DB, o: o, log: log.With("component", "flow"), owner: hex.EncodeToString(b), plans: map[string]*Plan{},
		driving: map[*driveRef]struct{}{}}
}

// SetQueue gives the executor the job queue that runs RunJob.
func (x *Executor) SetQueue(q jobs.Queue) {
	x.mu.Lock()
	x.queue = q
	x.mu.Unlock()
}

func (x *Executor) plan(def json.RawMessage) (*Plan, error) {
	x.mu.Lock()
	p := x.plans[string(def)]
	x.mu.Unlock()
	if p != nil {
		return p, nil
	}
	d, err := ParseDefinition(def)
	if err != nil {
		return nil, err
	}
	p, err = Compile(d)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	if len(x.plans) > 256 {
		clear(x.plans)
	}
	x.plans[string(def)] = p
	x.mu.Unlock()
	return p, nil
}

var executionIDRE = regexp.MustCompile(`^[0-9a-zA-Z._:-]{2,100}$`)

// NewExecutionID returns a fresh execution id (a UUID, as Bedrock uses).
func NewExecutionID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// StartInput starts an execution.
type StartInput struct {
	Account, FlowID, AliasID, FlowVersion string
	Definition                            json.RawMessage
	// ExecutionID is the client's id; empty means a new one.
	ExecutionID string
	Name        string
	Principal   string
	Document    Value
	Async       bool
	// MaxConcurrency is the alias's Manual maxConcurrency (1 to 100); 0
	// means Automatic.
	MaxConcurrency int
}

// Start creates an execution, runs the first engine step and commits it,
// and schedules the recovery job. The caller then drives it (Drive), or
// the job runner does (async executions).
func (x *Executor) Start(ctx context.Context, in StartInput) (*Execution, error) {
	p, err := x.plan(in.Definition)
	if err != nil {
		return nil, llm.Errorf(llm.KindValidation, "The flow definition is not valid: %v", err)
	}
	id := in.ExecutionID
	if id == "" {
		id = NewExecutionID()
	} else if !executionIDRE.MatchString(id) {
		return nil, llm.Errorf(llm.KindValidation, "1 validation error detected: Value at 'executionId' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z._:-]+")
	}
	doc := in.Document
	st, cmds, err := p.Step(NewState(), Event{Start: &doc})
	if err != nil {
		var se *StepError
		if errors.As(err, &se) {
			return nil, llm.Errorf(llm.KindValidation, "%s", se.Message)
		}
		return nil, err
	}
	now := x.o.Now()
	x1 := &Execution{ID: id, Account: in.Account, FlowID: in.FlowID, AliasID: in.AliasID, FlowVersion: in.FlowVersion,
		Name: in.Name, Principal: in.Principal, Definition: in.Definition, State: st, Version: 1, Turn: 1, Async: in.Async,
		MaxConcurrency: in.MaxConcurrency, CreatedAt: now, UpdatedAt: now}
	x.applyStatus(x1, now)
	stBytes, _ := json.Marshal(st)
	evs := commandEvents(cmds, now)
	owner := x.owner // the caller drives a synchronous execution
	if in.Async {
		owner = "" // the job runner drives it
	}
	err = x.db.Tx(ctx, func(tx *store.Tx) error {
		async := 0
		if in.Async {
			async = 1
		}
		_, err := tx.Exec(ctx, `INSERT INTO flow_executions (id, account, flow_id, alias_id, flow_version, name, principal, definition, state, status, version, turn, async, lease_owner, lease_until, created_at, updated_at, expires_at, ended_at, max_concurrency)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, in.Account, in.FlowID, in.AliasID, in.FlowVersion, in.Name, in.Principal, string(in.Definition), string(stBytes), x1.Status,
			async, owner, now.Add(x.o.Lease).UnixMilli(), now.UnixMilli(), now.UnixMilli(), msOrZero(x1.ExpiresAt), msOrZero(x1.EndedAt), in.MaxConcurrency)
		if err != nil {
			return err
		}
		_, err = insertEvents(ctx, tx, id, 1, 0, evs, now.UnixMilli())
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, llm.Errorf(llm.KindConflict, "An execution with id %s already exists.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("start flow execution: %w", err)
	}
	if err := x.schedule(ctx, x1, in.Async); err != nil {
		return nil, err
	}
	return x1, nil
}

func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// applyStatus sets the Bedrock status, expiry and end of x from its state.
func (x *Executor) applyStatus(e *Execution, now time.Time) {
	switch e.State.Status {
	case ExecSucceeded:
		e.Status, e.EndedAt, e.ExpiresAt = StatusSucceeded, now, time.Time{}
	case ExecFailed:
		e.Status, e.EndedAt, e.ExpiresAt = StatusFailed, now, time.Time{}
	case ExecPaused:
		e.Status, e.ExpiresAt = StatusRunningExec, now.Add(x.o.PauseTTL)
	default:
		e.Status, e.ExpiresAt = StatusRunningExec, time.Time{}
	}
}

// schedule enqueues the turn's recovery job: due at once for async
// executions (the job runner drives them), after the lease otherwise (it
// only acts if the caller's driver died).
func (x *Executor) schedule(ctx context.Context, e *Execution, now bool) error {
	x.mu.Lock()
	q := x.queue
	x.mu.Unlock()
	if q == nil || e.State.Status != ExecRunning {
		return nil
	}
	at := x.o.Now()
	if !now {
		at = at.Add(x.o.Lease)
	}
	payload, _ := json.Marshal(map[string]string{"account": e.Account, "id": e.ID})
	_, _, err := q.Enqueue(ctx, jobs.Spec{Kind: JobKind, Key: fmt.Sprintf("%s:%d", e.ID, e.Turn), Payload: payload, MaxAttempts: 10, RunAt: at})
	if err != nil {
		return fmt.Errorf("schedule flow execution: %w", err)
	}
	return nil
}

// Get returns an execution of the account.
func (x *Executor) Get(ctx context.Context, account, id string) (*Execution, error) {
	e, err := getExecution(ctx, x.db, account, id)
	if err != nil {
		return nil, err
	}
	x.expire(ctx, e)
	return e, nil
}

// expire marks a paused execution past its TTL as TimedOut.
func (x *Executor) expire(ctx context.Context, e *Execution) {
	if e.State.Status != ExecPaused || e.ExpiresAt.IsZero() || x.o.Now().Before(e.ExpiresAt) {
		return
	}
	now := x.o.Now()
	res, err := x.db.Exec(ctx, `UPDATE flow_executions SET status = ?, ended_at = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?`,
		StatusTimedOut, now.UnixMilli(), now.UnixMilli(), e.ID, e.Version)
	if err == nil && store.RowsAffected(res) == nil {
		e.Status, e.EndedAt, e.Version = StatusTimedOut, now, e.Version+1
	}
}

// Resume feeds the user's answer to a paused execution. It is accepted
// once: a concurrent or repeated resume of the same pause fails.
func (x *Executor) Resume(ctx context.Context, account, id string, in ResumeInput) (*Execution, error) {
	e, err := x.Get(ctx, account, id)
	if err != nil {
		return nil, err
	}
	switch {
	case e.Status == StatusTimedOut:
		return nil, llm.Errorf(llm.KindValidation, "The execution %s expired while waiting for input.", id)
	case e.Status != StatusRunningExec:
		return nil, llm.Errorf(llm.KindValidation, "The execution %s has ended (%s); start a new one.", id, e.Status)
	}
	p, err := x.plan(e.Definition)
	if err != nil {
		return nil, err
	}
	st, cmds, err := p.Step(e.State, Event{Resume: &in})
	switch {
	case errors.Is(err, ErrNotWaiting):
		return nil, llm.Errorf(llm.KindConflict, "The execution %s is not waiting for input.", id)
	case errors.Is(err, ErrWrongNode):
		return nil, llm.Errorf(llm.KindValidation, "The execution %s is not waiting for input %q of node %q.", id, in.InputName, in.NodeName)
	case err != nil:
		return nil, err
	}
	now := x.o.Now()
	e.State, e.Turn = st, e.Turn+1
	x.applyStatus(e, now)
	if err := x.commit(ctx, e, cmds, now, true); err != nil {
		if errors.Is(err, errLeaseLost) {
			return nil, llm.Errorf(llm.KindConflict, "The execution %s was resumed concurrently.", id)
		}
		return nil, err
	}
	if err := x.schedule(ctx, e, e.Async); err != nil {
		return nil, err
	}
	return e, nil
}

// commit persists e's state and the events of cmds if e.Version is still
// current (and, unless take, this executor holds the lease), then bumps
// e.Version. take claims the lease.
func (x *Executor) commit(ctx context.Context, e *Execution, cmds []Command, now time.Time, take bool) error {
	stBytes, err := json.Marshal(e.State)
	if err != nil {
		return err
	}
	evs := commandEvents(cmds, now)
	return x.db.Tx(ctx, func(tx *store.Tx) error {
		q := `UPDATE flow_executions SET state = ?, status = ?, version = version + 1, turn = ?, lease_owner = ?, lease_until = ?, updated_at = ?, expires_at = ?, ended_at = ?
WHERE id = ? AND version = ?`
		args := []any{string(stBytes), e.Status, e.Turn, x.owner, now.Add(x.o.Lease).UnixMilli(), now.UnixMilli(), msOrZero(e.ExpiresAt), msOrZero(e.EndedAt), e.ID, e.Version}
		if !take {
			q += ` AND lease_owner = ?`
			args = append(args, x.owner)
		}
		res, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return err
		}
		if store.RowsAffected(res) != nil {
			return errLeaseLost
		}
		seq, err := lastSeq(ctx, tx, e.ID)
		if err != nil {
			return err
		}
		if _, err := insertEvents(ctx, tx, e.ID, e.Turn, seq, evs, now.UnixMilli()); err != nil {
			return err
		}
		e.Version++
		e.UpdatedAt = now
		return nil
	})
}

// Drive runs the execution's outstanding node activations, committing
// each step, until it pauses, ends, or another driver takes it over.
// Independent ready nodes run concurrently, at most the execution's
// MaxConcurrency at once (AutomaticConcurrency when 0); their completions
// are stepped and committed one at a time, in the order they finish. The
// caller's context carries the principal for model calls; cancelling it
// stops driving (the recovery job finishes the work). onCommit, when not
// nil, is called after each committed step.
func (x *Executor) Drive(ctx context.Context, account, id string, onCommit func()) error {
	e, err := getExecution(ctx, x.db, account, id)
	if err != nil {
		return err
	}
	p, err := x.plan(e.Definition)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := &driveRef{id: id, cancel: cancel}
	if !x.track(d) {
		return errClosed
	}
	defer x.untrack(d)

	// One heartbeat per drive keeps the lease while nodes run; it stops
	// the drive when the lease is lost (stopped, or taken over).
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		t := time.NewTicker(x.o.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-dctx.Done():
				return
			case <-t.C:
				res, err := x.db.Exec(dctx, `UPDATE flow_executions SET lease_until = ? WHERE id = ? AND lease_owner = ? AND status = ?`,
					x.o.Now().Add(x.o.Lease).UnixMilli(), e.ID, x.owner, StatusRunningExec)
				if err == nil && store.RowsAffected(res) != nil {
					cancel()
					return
				}
			}
		}
	}()
	defer func() { cancel(); <-hbDone }()

	limit := e.MaxConcurrency
	if limit <= 0 {
		limit = AutomaticConcurrency
	}
	type result struct {
		act string
		ev  Event
	}
	results := make(chan result, limit)
	inflight := map[string]bool{}
	// Runs still in flight when driving stops are cancelled and awaited;
	// their outcomes are dropped (the state says they are still running,
	// so recovery runs them again).
	defer func() {
		cancel()
		for len(inflight) > 0 {
			r := <-results
			delete(inflight, r.act)
		}
	}()
	for e.State.Status == ExecRunning && e.Status == StatusRunningExec {
		pending, err := p.Recover(e.State)
		if err != nil {
			return err
		}
		for _, c := range pending {
			if len(inflight) >= limit {
				break
			}
			if inflight[c.Run.Activation] {
				continue
			}
			inflight[c.Run.Activation] = true
			snap := *e // the runner reads the execution; this loop changes e
			go func(r *Run) {
				results <- result{r.Activation, x.runNode(dctx, &snap, r)}
			}(c.Run)
		}
		if len(inflight) == 0 {
			return fmt.Errorf("flow execution %s is running with nothing to run", id)
		}
		var r result
		select {
		case r = <-results:
			delete(inflight, r.act)
		case <-dctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return errLeaseLost
		}
		if dctx.Err() != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return errLeaseLost
		}
		st, cmds, err := p.Step(e.State, r.ev)
		if err != nil {
			return fmt.Errorf("flow execution %s: %w", id, err)
		}
		now := x.o.Now()
		prev := *e
		e.State = st
		x.applyStatus(e, now)
		if err := x.commit(ctx, e, cmds, now, false); err != nil {
			*e = prev
			if errors.Is(err, errLeaseLost) {
				x.log.Warn("flow execution taken over by another driver", "execution", id)
			}
			return err
		}
		if onCommit != nil {
			onCommit()
		}
	}
	return nil
}

// errClosed means the executor is shutting down.
var errClosed = errors.New("the flow executor is shutting down")

// driveRef is one Drive in progress in this process.
type driveRef struct {
	id     string
	cancel context.CancelFunc
}

// track records a drive in this process; false after Close.
func (x *Executor) track(d *driveRef) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return false
	}
	x.driving[d] = struct{}{}
	x.drives.Add(1)
	return true
}

func (x *Executor) untrack(d *driveRef) {
	x.mu.Lock()
	delete(x.driving, d)
	x.mu.Unlock()
	x.drives.Done()
}

// isDriving reports whether this process drives id now.
func (x *Executor) isDriving(id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	for d := range x.driving {
		if d.id == id {
			return true
		}
	}
	return false
}

// Close stops this executor's drives and releases their leases, so that
// after a clean shutdown another replica, or this one restarted, resumes
// them at once rather than after the lease: each released execution gets
// a recovery job due now. Persisted state is untouched (a node that was
// running is run again by the next driver). Call it before the job queue
// stops.
func (x *Executor) Close(ctx context.Context) error {
	x.mu.Lock()
	x.closed = true
	for d := range x.driving {
		d.cancel()
	}
	q := x.queue
	x.mu.Unlock()
	done := make(chan struct{})
	go func() { x.drives.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	rows, err := x.db.Query(ctx, `SELECT id, account, turn FROM flow_executions WHERE lease_owner = ? AND status = ?`, x.owner, StatusRunningExec)
	if err != nil {
		return fmt.Errorf("release flow leases: %w", err)
	}
	type held struct {
		id, account string
		turn        int64
	}
	var hs []held
	for rows.Next() {
		var h held
		if err := rows.Scan(&h.id, &h.account, &h.turn); err != nil {
			rows.Close()
			return err
		}
		hs = append(hs, h)
	}
	rows.Close()
	now := x.o.Now()
	for _, h := range hs {
		res, err := x.db.Exec(ctx, `UPDATE flow_executions SET lease_owner = '', lease_until = 0 WHERE id = ? AND lease_owner = ?`, h.id, x.owner)
		if err != nil {
			return fmt.Errorf("release flow lease: %w", err)
		}
		if store.RowsAffected(res) != nil || q == nil {
			continue
		}
		payload, _ := json.Marshal(map[string]string{"account": h.account, "id": h.id})
		key := fmt.Sprintf("%s:%d:released:%d", h.id, h.turn, now.UnixNano())
		if _, _, err := q.Enqueue(ctx, jobs.Spec{Kind: JobKind, Key: key, Payload: payload, MaxAttempts: 10, RunAt: now}); err != nil {
			return fmt.Errorf("release flow lease: %w", err)
		}
	}
	x.log.Info("flow executor closed", "released", len(hs))
	return nil
}

// runNode runs one activation; the drive's heartbeat keeps the lease.
func (x *Executor) runNode(ctx context.Context, e *Execution, r *Run) Event {
	if x.o.Nodes == nil {
		return Event{Failed: &NodeFailed{Activation: r.Activation, Message: "no node runner is configured"}}
	}
	return x.o.Nodes.RunNode(ctx, e, r)
}

// RunJob is the recovery job handler: it finishes an execution whose
// driver died (lease expired) and drives async executions.
func (x *Executor) RunJob(ctx context.Context, t *jobs.Task) error {
	var in struct{ Account, ID string }
	if err := json.Unmarshal(t.Payload, &in); err != nil {
		return jobs.Permanent(err)
	}
	e, err := getExecution(ctx, x.db, in.Account, in.ID)
	if errors.Is(err, ErrExecutionNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if e.State.Status != ExecRunning || e.Status != StatusRunningExec {
		return nil
	}
	var leaseUntil int64
	var owner string
	if err := x.db.QueryRow(ctx, `SELECT lease_owner, lease_until FROM flow_executions WHERE id = ?`, []any{e.ID}, &owner, &leaseUntil); err != nil {
		return err
	}
	now := x.o.Now()
	// Wait while another driver holds a live lease. A lease of this
	// process that no drive uses (an async execution just resumed here)
	// is free to take.
	mine := owner == x.owner && !x.isDriving(e.ID)
	if wait := time.UnixMilli(leaseUntil).Sub(now); wait > 0 && owner != "" && !mine {
		return jobs.RetryAfter(wait + 50*time.Millisecond) // its driver is alive
	}
	// Take the lease (compare-and-swap on the version), then drive.
	res, err := x.db.Exec(ctx, `UPDATE flow_executions SET lease_owner = ?, lease_until = ?, version = version + 1 WHERE id = ? AND version = ?`,
		x.owner, now.Add(x.o.Lease).UnixMilli(), e.ID, e.Version)
	if err != nil {
		return err
	}
	if store.RowsAffected(res) != nil {
		return jobs.RetryAfter(100 * time.Millisecond)
	}
	dctx := ctx
	if x.o.RecoverContext != nil {
		if dctx, err = x.o.RecoverContext(ctx, e.Principal); err != nil {
			return err
		}
	}
	x.log.Info("driving flow execution from the job runner", "execution", e.ID, "async", e.Async)
	err = x.Drive(dctx, e.Account, e.ID, nil)
	if errors.Is(err, errLeaseLost) {
		return nil
	}
	return err
}

// StopExecution aborts a running execution.
func (x *Executor) StopExecution(ctx context.Context, account, id string) (*Execution, error) {
	e, err := x.Get(ctx, account, id)
	if err != nil {
		return nil, err
	}
	if e.Status != StatusRunningExec {
		return e, nil
	}
	now := x.o.Now()
	res, err := x.db.Exec(ctx, `UPDATE flow_executions SET status = ?, ended_at = ?, updated_at = ?, version = version + 1, lease_owner = '' WHERE id = ? AND status = ?`,
		StatusAborted, now.UnixMilli(), now.UnixMilli(), id, StatusRunningExec)
	if err != nil {
		return nil, err
	}
	_ = store.RowsAffected(res)
	return x.Get(ctx, account, id)
}

// ListQuery selects executions for List.
type ListQuery struct {
	Account, FlowID, AliasID string
	Limit                    int
	// Before continues a listing: executions created before this id's.
	Before string
}

// List returns executions of a flow, newest first.
func (x *Executor) List(ctx context.Context, q ListQuery) ([]*Execution, error) {
	sqlq := `SELECT ` + execCols + ` FROM flow_executions WHERE account = ? AND flow_id = ?`
	args := []any{q.Account, q.FlowID}
	if q.AliasID != "" {
		sqlq += ` AND alias_id = ?`
		args = append(args, q.AliasID)
	}
	if q.Before != "" {
		sqlq += ` AND (created_at, id) < (SELECT created_at, id FROM flow_executions WHERE id = ?)`
		args = append(args, q.Before)
	}
	sqlq += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, max(q.Limit, 1))
	rows, err := x.db.Query(ctx, sqlq, args...)
	if err != nil {
		return nil, fmt.Errorf("list flow executions: %w", err)
	}
	defer rows.Close()
	var out []*Execution
	for rows.Next() {
		e, err := scanExecution(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
