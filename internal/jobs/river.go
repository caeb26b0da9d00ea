package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/outcrop/outcrop/internal/store"
)

// riverArgs is the one River job kind Outcrop uses; Kind selects the
// handler. Uniqueness (the idempotency key) hashes kind and key only.
type riverArgs struct {
	K       string          `json:"kind" river:"unique"`
	Key     string          `json:"key" river:"unique"`
	Payload json.RawMessage `json:"payload"`
}

// Kind is River's job kind.
func (riverArgs) Kind() string { return "outcrop_job" }

// riverQueue is the Queue on River and PostgreSQL.
type riverQueue struct {
	db     *store.DB
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	o      Options

	// mu guards started and stopped.
	mu      sync.Mutex
	started bool
	stopped bool
}

type riverWorker struct {
	river.WorkerDefaults[riverArgs]
	q *riverQueue
}

// Timeout is the lease: River cancels an attempt that runs longer.
func (w *riverWorker) Timeout(*river.Job[riverArgs]) time.Duration { return w.q.o.Lease }

// Work runs the Outcrop handler for the job's kind.
func (w *riverWorker) Work(ctx context.Context, job *river.Job[riverArgs]) (err error) {
	q := w.q
	id := strconv.FormatInt(job.ID, 10)
	h, ok := q.o.Handlers[job.Args.K]
	if !ok {
		q.setOutcome(ctx, id, "failed")
		return river.JobCancel(fmt.Errorf("%w %q", ErrUnknownKind, job.Args.K))
	}
	t := &Task{
		Job: riverJob(job.JobRow, nil, ""),
		progress: func(ctx context.Context, raw json.RawMessage) error {
			return q.upsertProgress(ctx, id, raw)
		},
		heartbeat: func(ctx context.Context) error { return q.upsertProgress(ctx, id, nil) },
	}
	t.Attempt = job.Attempt
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("job handler panicked: %v", r))
		}
		if d, ok := retryAfter(err); ok {
			err = river.JobSnooze(d)
			return
		}
		if err != nil && IsPermanent(err) {
			q.setOutcome(context.WithoutCancel(ctx), id, "failed")
			err = river.JobCancel(err)
		}
	}()
	return h(ctx, t)
}

type retryPolicy struct{ backoff func(int) time.Duration }

func (p retryPolicy) NextRetry(row *rivertype.JobRow) time.Time {
	return time.Now().Add(p.backoff(row.Attempt))
}

func newRiver(ctx context.Context, db *store.DB, o Options) (*riverQueue, error) {
	if o.PostgresDSN == "" {
		return nil, errors.New("jobs: a PostgreSQL store needs Options.PostgresDSN for River")
	}
	pool, err := pgxpool.New(ctx, o.PostgresDSN)
	if err != nil {
		return nil, fmt.Errorf("jobs: open river pool: %w", err)
	}
	q := &riverQueue{db: db, pool: pool, o: o}
	driver := riverpgxv5.New(pool)
	if err := migrateRiver(ctx, pool, driver); err != nil {
		pool.Close()
		return nil, err
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &riverWorker{q: q}); err != nil {
		pool.Close()
		return nil, err
	}
	q.client, err = river.NewClient(driver, &river.Config{
		ID:                   o.WorkerID,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: o.Workers}},
		Workers:              workers,
		JobTimeout:           o.Lease,
		RescueStuckJobsAfter: o.Lease + o.Lease/2,
		RetryPolicy:          retryPolicy{o.Backoff},
		FetchCooldown:        min(o.Poll, river.FetchCooldownDefault),
		FetchPollInterval:    o.Poll,
		Logger:               o.Logger,
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	return q, nil
}

// migrateRiver applies River's migrations (each version in its own
// transaction, as River requires) under a session advisory lock, so that
// replicas starting together migrate once.
func migrateRiver(ctx context.Context, pool *pgxpool.Pool, driver *riverpgxv5.Driver) error {
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		return fmt.Errorf("jobs: river migrator: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("jobs: river migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7243190566)`); err != nil {
		return fmt.Errorf("jobs: river migrate lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7243190566)`)
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: river migrate: %w", err)
	}
	return nil
}

func (q *riverQueue) upsertProgress(ctx context.Context, id string, raw json.RawMessage) error {
	if raw == nil {
		_, err := q.db.Exec(ctx, `INSERT INTO jobs_progress (id, updated_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at`, id, nowMS())
		return err
	}
	_, err := q.db.Exec(ctx, `INSERT INTO jobs_progress (id, progress, updated_at) VALUES (?, ?, ?)
ON CONFLICT (id) DO UPDATE SET progress = excluded.progress, updated_at = excluded.updated_at`, id, string(raw), nowMS())
	return err
}

func (q *riverQueue) setOutcome(ctx context.Context, id, outcome string) {
	_, err := q.db.Exec(ctx, `INSERT INTO jobs_progress (id, outcome, updated_at) VALUES (?, ?, ?)
ON CONFLICT (id) DO UPDATE SET outcome = excluded.outcome, updated_at = excluded.updated_at`, id, outcome, nowMS())
	if err != nil {
		q.o.Logger.Warn("record job outcome", "job", id, "err", err)
	}
}

func (q *riverQueue) Enqueue(ctx context.Context, s Spec) (Job, bool, error) {
	if err := validSpec(&s, q.o.Handlers); err != nil {
		return Job{}, false, err
	}
	opts := &river.InsertOpts{MaxAttempts: s.MaxAttempts, ScheduledAt: s.RunAt}
	if s.Key != "" {
		opts.UniqueOpts = river.UniqueOpts{ByArgs: true}
	}
	res, err := q.client.Insert(ctx, riverArgs{K: s.Kind, Key: s.Key, Payload: s.Payload}, opts)
	if err != nil {
		return Job{}, false, fmt.Errorf("enqueue %s job: %w", s.Kind, err)
	}
	if res.UniqueSkippedAsDuplicate {
		j, err := q.Get(ctx, strconv.FormatInt(res.Job.ID, 10))
		return j, false, err
	}
	return riverJob(res.Job, nil, ""), true, nil
}

// riverJob maps a River row (and Outcrop's progress row) to a Job.
func riverJob(row *rivertype.JobRow, progress json.RawMessage, outcome string) Job {
	var a riverArgs
	_ = json.Unmarshal(row.EncodedArgs, &a)
	j := Job{
		ID: strconv.FormatInt(row.ID, 10), Kind: a.K, Key: a.Key, Payload: a.Payload,
		Attempt: row.Attempt, MaxAttempts: row.MaxAttempts, Progress: progress, CreatedAt: row.CreatedAt,
	}
	if n := len(row.Errors); n > 0 {
		j.LastError = row.Errors[n-1].Error
	}
	switch row.State {
	case rivertype.JobStateRunning:
		j.State = Running
	case rivertype.JobStateRetryable:
		j.State = Retrying
	case rivertype.JobStateCompleted:
		j.State = Succeeded
	case rivertype.JobStateDiscarded:
		j.State = Failed
	case rivertype.JobStateCancelled:
		j.State = Cancelled
		if outcome == "failed" {
			j.State = Failed
		}
	default:
		j.State = Queued
		if row.Attempt > 0 {
			j.State = Retrying
		}
	}
	return j
}

func (q *riverQueue) Get(ctx context.Context, id string) (Job, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return Job{}, ErrNotFound
	}
	row, err := q.client.JobGet(ctx, n)
	if errors.Is(err, river.ErrNotFound) {
		return Job{}, ErrNotFound
	}
	if err != nil {
		return Job{}, fmt.Errorf("get job: %w", err)
	}
	var progress *string
	var outcome string
	err = q.db.QueryRow(ctx, `SELECT progress, outcome FROM jobs_progress WHERE id = ?`, []any{id}, &progress, &outcome)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Job{}, fmt.Errorf("get job progress: %w", err)
	}
	var raw json.RawMessage
	if progress != nil {
		raw = json.RawMessage(*progress)
	}
	return riverJob(row, raw, outcome), nil
}

func (q *riverQueue) Cancel(ctx context.Context, id string) error {
	j, err := q.Get(ctx, id)
	if err != nil {
		return err
	}
	switch j.State {
	case Cancelled:
		return nil
	case Succeeded, Failed:
		return ErrFinished
	}
	n, _ := strconv.ParseInt(id, 10, 64)
	if _, err := q.client.JobCancel(ctx, n); err != nil {
		return fmt.Errorf("cancel job: %w", err)
	}
	return nil
}

func (q *riverQueue) Start(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started || q.stopped {
		return errors.New("jobs: queue already started or stopped")
	}
	q.started = true
	return q.client.Start(context.WithoutCancel(ctx))
}

func (q *riverQueue) Stop(ctx context.Context) error {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return nil
	}
	q.stopped = true
	started := q.started
	q.mu.Unlock()
	var err error
	if started {
		err = q.client.StopAndCancel(ctx)
	}
	q.pool.Close()
	return err
}
