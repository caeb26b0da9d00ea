// Package jobs is Outcrop's durable job runner: work that must survive a
// crash (flow executions, knowledge-base ingestion, evaluation and batch jobs)
// is enqueued here and run by handlers registered by kind.
//
// # Guarantees
//
//   - Enqueue is idempotent per (Kind, Key): a second Enqueue with the same
//     non-empty Key returns the first job (Created false) instead of adding
//     one, whatever state that job is in, unless it was cancelled or failed.
//   - A job is run by one worker at a time under a lease. The worker
//     heartbeats while the handler runs; when a worker dies (kill -9, lost
//     host) its lease expires and another worker, in this process after a
//     restart or in another replica, picks the job up again as a new attempt.
//   - A handler that returns an error is retried with backoff until
//     MaxAttempts; Permanent(err) fails the job at once; RetryAfter(d) runs
//     it again after d without counting the attempt.
//   - Cancel stops a queued job from running and cancels the context of a
//     running handler; the job ends Cancelled.
//   - Delivery is at least once: a handler may be started again after a
//     crash, so handlers make their effects idempotent (Task.Attempt tells a
//     retry, and handlers persist their own steps, as the flow engine does
//     before acknowledging each node). Enqueue keys give exactly-once
//     creation.
//
// # Backends
//
// New picks the backend from the store's dialect, behind one Queue
// interface tested by one conformance suite on both:
//
//   - SQLite (the embedded default): an in-process runner on the store's
//     own database (table jobs_jobs). Leases are rows with an owner and an
//     expiry, claimed in immediate transactions.
//   - PostgreSQL (several replicas): River (github.com/riverqueue/river,
//     driver riverpgxv5). River owns the queue tables, locking
//     (FOR UPDATE SKIP LOCKED), retries and the rescue of jobs whose worker
//     died; Options.Lease becomes River's per-job timeout and a job running
//     past Lease plus the rescue delay is rescued and retried. Progress
//     lives in jobs_progress. On River, Heartbeat only records liveness in
//     jobs_progress: the lease is the job timeout and is not extended.
//
// # Use
//
//	q, err := jobs.New(ctx, db, jobs.Options{
//		PostgresDSN: dsn, // only for a PostgreSQL store
//		Handlers: map[string]jobs.Handler{
//			"kb.ingest": func(ctx context.Context, t *jobs.Task) error {
//				var in ingestArgs
//				if err := json.Unmarshal(t.Payload, &in); err != nil {
//					return jobs.Permanent(err)
//				}
//				…
//				return t.SetProgress(ctx, map[string]int{"documents": n})
//			},
//		},
//		Logger: log,
//	})
//	if err := q.Start(ctx); err != nil { … }
//	defer q.Stop(context.Background())
//	j, created, err := q.Enqueue(ctx, jobs.Spec{Kind: "kb.ingest", Key: ingestionJobID, Payload: raw})
//	…
//	j, err = q.Get(ctx, j.ID) // State, Attempt, Progress, LastError
//	err = q.Cancel(ctx, j.ID)
//
// A Queue may be used to enqueue before Start, and by a process that never
// starts workers (the CLI). Handlers must be given in Options for every kind
// this process enqueues.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/outcrop/outcrop/internal/store"
)

// State is the life-cycle state of a job.
type State string

// Job states. Succeeded, Failed and Cancelled are final.
const (
	Queued    State = "queued"
	Running   State = "running"
	Retrying  State = "retrying"
	Succeeded State = "succeeded"
	Failed    State = "failed"
	Cancelled State = "cancelled"
)

// Final reports whether s is a final state.
func (s State) Final() bool { return s == Succeeded || s == Failed || s == Cancelled }

// Errors returned by Queue methods.
var (
	// ErrNotFound means no job has the given id.
	ErrNotFound = errors.New("job not found")
	// ErrUnknownKind means Enqueue named a kind with no handler.
	ErrUnknownKind = errors.New("no handler for job kind")
	// ErrFinished means Cancel was asked for a job that already succeeded or failed.
	ErrFinished = errors.New("job already finished")
)

// Spec describes a job to enqueue.
type Spec struct {
	// Kind selects the handler; it must be a key of Options.Handlers.
	Kind string
	// Key is the idempotency key, unique per Kind among jobs that were not
	// cancelled or failed; empty means no deduplication.
	Key string
	// Payload is the handler's input, JSON; nil is stored as null.
	Payload json.RawMessage
	// MaxAttempts bounds the attempts, the first included; 0 means 5.
	MaxAttempts int
	// RunAt delays the first attempt; zero means now.
	RunAt time.Time
}

// Job is a snapshot of a job.
type Job struct {
	ID          string
	Kind        string
	Key         string
	Payload     json.RawMessage
	State       State
	Attempt     int // attempts started so far
	MaxAttempts int
	// Progress is the last value given to Task.SetProgress, JSON, or nil.
	Progress json.RawMessage
	// LastError is the error of the last failed attempt, if any.
	LastError string
	CreatedAt time.Time
}

// Task is the running attempt handed to a Handler.
type Task struct {
	Job
	progress  func(ctx context.Context, raw json.RawMessage) error
	heartbeat func(ctx context.Context) error
}

// SetProgress stores v (marshalled to JSON) as the job's progress, visible
// to Get at once.
func (t *Task) SetProgress(ctx context.Context, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("job progress: %w", err)
	}
	return t.progress(ctx, raw)
}

// Heartbeat extends the lease now. Workers heartbeat on their own every
// Lease/3 while a handler runs, so handlers need it only between long
// blocking steps that cannot take a context.
func (t *Task) Heartbeat(ctx context.Context) error { return t.heartbeat(ctx) }

// Handler runs one attempt of a job. The context is cancelled when the job
// is cancelled, when the worker loses its lease, and on Stop. Returning nil
// completes the job; an error retries it (Permanent fails it).
type Handler func(ctx context.Context, t *Task) error

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the job fails at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked by Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

type retryAfterError struct{ d time.Duration }

func (e retryAfterError) Error() string { return "job asked to run again in " + e.d.String() }

// RetryAfter asks for the job to run again after d without counting the
// attempt as a failure (a handler that finds its work not ready yet, such
// as a flow execution still leased by a live driver).
func RetryAfter(d time.Duration) error { return retryAfterError{max(d, 0)} }

func retryAfter(err error) (time.Duration, bool) {
	var r retryAfterError
	if errors.As(err, &r) {
		return r.d, true
	}
	return 0, false
}

// Queue enqueues, runs and inspects jobs. Implementations are safe for
// concurrent use.
type Queue interface {
	// Enqueue adds a job, or returns the existing job with the same Kind and
	// Key with created false.
	Enqueue(ctx context.Context, s Spec) (j Job, created bool, err error)
	// Get returns a snapshot of the job, or ErrNotFound.
	Get(ctx context.Context, id string) (Job, error)
	// Cancel cancels a queued or running job; cancelling a cancelled job is
	// a no-op and a succeeded or failed one is ErrFinished.
	Cancel(ctx context.Context, id string) error
	// Start starts the workers; they run until Stop.
	Start(ctx context.Context) error
	// Stop stops taking jobs, cancels running handlers and waits for them
	// (their jobs are retried later) or for ctx. It is idempotent.
	Stop(ctx context.Context) error
}

// Options configure a Queue.
type Options struct {
	// Handlers maps each job kind to its handler.
	Handlers map[string]Handler
	// Workers is the number of jobs run at once by this process; 0 means 4.
	Workers int
	// Lease is how long a worker owns a job without a heartbeat (embedded)
	// or at most (River, where it is the job timeout); 0 means 30s.
	Lease time.Duration
	// Poll is how often idle workers look for due jobs; 0 means 200ms.
	Poll time.Duration
	// Backoff gives the delay before attempt n+1 after attempt n failed;
	// nil means min(1s·2^(n-1), 5m).
	Backoff func(attempt int) time.Duration
	// WorkerID names this process in leases; empty means a random id.
	WorkerID string
	// PostgresDSN is the connection string River uses when the store is
	// PostgreSQL (the same database as the store).
	PostgresDSN string
	// Logger receives job failures; nil discards them.
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.WorkerID == "" {
		o.WorkerID = newID()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Logger = o.Logger.With("component", "jobs")
}

// DefaultBackoff is 1s·2^(attempt-1), capped at 5 minutes.
func DefaultBackoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 9 {
		return 5 * time.Minute
	}
	return min(time.Second<<(attempt-1), 5*time.Minute)
}

// New opens the queue for db: the embedded runner on SQLite, River on
// PostgreSQL (o.PostgresDSN required).
func New(ctx context.Context, db *store.DB, o Options) (Queue, error) {
	o.defaults()
	if db.Dialect == store.Postgres {
		return newRiver(ctx, db, o)
	}
	return newEmbedded(db, o), nil
}

func validSpec(s *Spec, h map[string]Handler) error {
	if _, ok := h[s.Kind]; !ok {
		return fmt.Errorf("%w %q", ErrUnknownKind, s.Kind)
	}
	if s.MaxAttempts <= 0 {
		s.MaxAttempts = 5
	}
	if len(s.Payload) == 0 {
		s.Payload = json.RawMessage("null")
	}
	if !json.Valid(s.Payload) {
		return errors.New("job payload is not valid JSON")
	}
	return nil
}
