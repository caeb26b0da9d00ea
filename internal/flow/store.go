package flow

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/outcrop/outcrop/internal/store"
)

func init() {
	store.Register("flow",
		store.Migration{Version: 1, Name: "executions", SQL: `
CREATE TABLE flow_executions (
	id TEXT PRIMARY KEY,
	account TEXT NOT NULL,
	flow_id TEXT NOT NULL,
	alias_id TEXT NOT NULL,
	flow_version TEXT NOT NULL,
	name TEXT NOT NULL DEFAULT '',
	principal TEXT NOT NULL DEFAULT '',
	definition TEXT NOT NULL,
	state TEXT NOT NULL,
	status TEXT NOT NULL,
	version BIGINT NOT NULL,
	turn BIGINT NOT NULL DEFAULT 0,
	async BIGINT NOT NULL DEFAULT 0,
	lease_owner TEXT NOT NULL DEFAULT '',
	lease_until BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL DEFAULT 0,
	ended_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX flow_executions_flow ON flow_executions (account, flow_id, created_at);
CREATE TABLE flow_events (
	execution_id TEXT NOT NULL,
	seq BIGINT NOT NULL,
	turn BIGINT NOT NULL,
	event_type TEXT NOT NULL,
	payload TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (execution_id, seq)
);
CREATE TABLE flow_agent_sessions (
	id TEXT PRIMARY KEY,
	messages TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);`},
		store.Migration{Version: 2, Name: "objects", SQL: `
CREATE TABLE flow_objects (
	account TEXT NOT NULL,
	bucket TEXT NOT NULL,
	object_key TEXT NOT NULL,
	content TEXT NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (account, bucket, object_key)
);`},
		store.Migration{Version: 3, Name: "concurrency", SQL: `
ALTER TABLE flow_executions ADD COLUMN max_concurrency BIGINT NOT NULL DEFAULT 0;`},
	)
}

// Execution is a persisted flow execution.
type Execution struct {
	ID          string
	Account     string
	FlowID      string
	AliasID     string
	FlowVersion string
	Name        string
	Principal   string
	Definition  json.RawMessage
	State       *State
	// Status is the Bedrock FlowExecutionStatus: Running, Succeeded,
	// Failed, TimedOut or Aborted (a paused execution is Running).
	Status  string
	Version int64
	Turn    int64
	Async   bool
	// MaxConcurrency bounds the node runs in flight at once (the alias's
	// Manual concurrencyConfiguration); 0 means Automatic.
	MaxConcurrency int
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ExpiresAt      time.Time // paused executions expire then
	EndedAt        time.Time
}

// StoredEvent is one persisted stream event of an execution.
type StoredEvent struct {
	Seq  int64
	Turn int64
	// Type is the FlowResponseStream member: flowOutputEvent,
	// flowCompletionEvent, flowTraceEvent, flowMultiTurnInputRequestEvent,
	// or an exception member (validationException, dependencyFailedException, …).
	Type      string
	Payload   json.RawMessage
	CreatedAt time.Time
}

// Bedrock flow execution statuses.
const (
	StatusRunningExec = "Running"
	StatusSucceeded   = "Succeeded"
	StatusFailed      = "Failed"
	StatusTimedOut    = "TimedOut"
	StatusAborted     = "Aborted"
)

// ErrExecutionNotFound means no execution has the id (in the account).
var ErrExecutionNotFound = errors.New("flow execution not found")

// errLeaseLost means another driver owns the execution now.
var errLeaseLost = errors.New("flow execution lease lost")

const execCols = `id, account, flow_id, alias_id, flow_version, name, principal, definition, state, status, version, turn, async, created_at, updated_at, expires_at, ended_at, max_concurrency`

func scanExecution(sc func(...any) error) (*Execution, error) {
	var e Execution
	var def, state string
	var async, created, updated, expires, ended, maxc int64
	if err := sc(&e.ID, &e.Account, &e.FlowID, &e.AliasID, &e.FlowVersion, &e.Name, &e.Principal, &def, &state, &e.Status,
		&e.Version, &e.Turn, &async, &created, &updated, &expires, &ended, &maxc); err != nil {
		return nil, err
	}
	e.Definition = json.RawMessage(def)
	e.State = NewState()
	if err := json.Unmarshal([]byte(state), e.State); err != nil {
		return nil, fmt.Errorf("execution %s: stored state: %w", e.ID, err)
	}
	if e.State.Resumes == nil {
		e.State.Resumes = map[string]json.RawMessage{}
	}
	e.Async = async == 1
	e.MaxConcurrency = int(maxc)
	e.CreatedAt, e.UpdatedAt = time.UnixMilli(created), time.UnixMilli(updated)
	if expires > 0 {
		e.ExpiresAt = time.UnixMilli(expires)
	}
	if ended > 0 {
		e.EndedAt = time.UnixMilli(ended)
	}
	return &e, nil
}

type querier interface {
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func getExecution(ctx context.Context, q querier, account, id string) (*Execution, error) {
	rows, err := q.Query(ctx, `SELECT `+execCols+` FROM flow_executions WHERE id = ? AND account = ?`, id, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, ErrExecutionNotFound
	}
	return scanExecution(rows.Scan)
}

// insertEvents appends events after seq `after`, returning the last seq.
func insertEvents(ctx context.Context, tx *store.Tx, id string, turn, after int64, evs []StoredEvent, now int64) (int64, error) {
	for _, ev := range evs {
		after++
		if _, err := tx.Exec(ctx, `INSERT INTO flow_events (execution_id, seq, turn, event_type, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			id, after, turn, ev.Type, string(ev.Payload), now); err != nil {
			return 0, err
		}
	}
	return after, nil
}

func lastSeq(ctx context.Context, tx *store.Tx, id string) (int64, error) {
	var n sql.NullInt64
	if err := tx.QueryRow(ctx, `SELECT MAX(seq) FROM flow_events WHERE execution_id = ?`, []any{id}, &n); err != nil {
		return 0, err
	}
	return n.Int64, nil
}

// Events returns the events of an execution after seq, in order.
func (x *Executor) Events(ctx context.Context, id string, after int64, limit int) ([]StoredEvent, error) {
	rows, err := x.db.Query(ctx, `SELECT seq, turn, event_type, payload, created_at FROM flow_events WHERE execution_id = ? AND seq > ? ORDER BY seq LIMIT ?`, id, after, limit)
	if err != nil {
		return nil, fmt.Errorf("flow events: %w", err)
	}
	defer rows.Close()
	var out []StoredEvent
	for rows.Next() {
		var ev StoredEvent
		var payload string
		var created int64
		if err := rows.Scan(&ev.Seq, &ev.Turn, &ev.Type, &payload, &created); err != nil {
			return nil, err
		}
		ev.Payload = json.RawMessage(payload)
		ev.CreatedAt = time.UnixMilli(created)
		out = append(out, ev)
	}
	return out, rows.Err()
}
