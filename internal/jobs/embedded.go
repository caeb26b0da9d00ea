package jobs

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/store"
)

func init() {
	store.Register("jobs",
		store.Migration{Version: 1, Name: "jobs", SQL: `
CREATE TABLE jobs_jobs (
	id TEXT PRIMARY KEY,
	kind TEXT NOT NULL,
	ukey TEXT NOT NULL,
	payload TEXT NOT NULL,
	state TEXT NOT NULL,
	attempt BIGINT NOT NULL DEFAULT 0,
	max_attempts BIGINT NOT NULL,
	run_at BIGINT NOT NULL,
	lease_owner TEXT NOT NULL DEFAULT '',
	lease_until BIGINT NOT NULL DEFAULT 0,
	cancel_requested BIGINT NOT NULL DEFAULT 0,
	progress TEXT,
	last_error TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX jobs_jobs_key ON jobs_jobs (kind, ukey) WHERE ukey <> '' AND state NOT IN ('cancelled', 'failed');
CREATE INDEX jobs_jobs_due ON jobs_jobs (state, run_at);
CREATE TABLE jobs_progress (
	id TEXT PRIMARY KEY,
	progress TEXT,
	outcome TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL
);`},
	)
}

func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func nowMS() int64 { return time.Now().UnixMilli() }

// embedded is the in-process runner on the store's own tables.
type embedded struct {
	db   *store.DB
	o    Options
	wake chan struct{}

	// mu guards running and stopped.
	mu      sync.Mutex
	running map[string]context.CancelFunc // job id → cancel of its handler
	stopped bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func newEmbedded(db *store.DB, o Options) *embedded {
	return &embedded{db: db, o: o, wake: make(chan struct{}, 1), running: map[string]context.CancelFunc{}}
}

const jobCols = `id, kind, ukey, payload, state, attempt, max_attempts, progress, last_error, created_at`

func scanJob(scan func(dest ...any) error) (Job, error) {
	var j Job
	var payload string
	var progress sql.NullString
	var attempt, maxAttempts, created int64
	var state string
	if err := scan(&j.ID, &j.Kind, &j.Key, &payload, &state, &attempt, &maxAttempts, &progress, &j.LastError, &created); err != nil {
		return Job{}, err
	}
	j.Payload = []byte(payload)
	j.State = State(state)
	j.Attempt, j.MaxAttempts = int(attempt), int(maxAttempts)
	if progress.Valid {
		j.Progress = []byte(progress.String)
	}
	j.CreatedAt = time.UnixMilli(created)
	return j, nil
}

func (e *embedded) Enqueue(ctx context.Context, s Spec) (Job, bool, error) {
	if err := validSpec(&s, e.o.Handlers); err != nil {
		return Job{}, false, err
	}
	now := nowMS()
	runAt := now
	if !s.RunAt.IsZero() {
		runAt = s.RunAt.UnixMilli()
	}
	id := newID()
	var j Job
	created := false
	err := e.db.Tx(ctx, func(tx *store.Tx) error {
		if s.Key != "" {
			var err error
			j, err = queryJob(ctx, tx, `kind = ? AND ukey = ? AND state NOT IN ('cancelled', 'failed')`, s.Kind, s.Key)
			if err == nil {
				return nil
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO jobs_jobs (id, kind, ukey, payload, state, max_attempts, run_at, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, s.Kind, s.Key, string(s.Payload), string(Queued), s.MaxAttempts, runAt, now, now)
		if err != nil {
			return err
		}
		created = true
		j = Job{ID: id, Kind: s.Kind, Key: s.Key, Payload: s.Payload, State: Queued, MaxAttempts: s.MaxAttempts, CreatedAt: time.UnixMilli(now)}
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		// A concurrent Enqueue with the same key won the race (PostgreSQL,
		// where transactions do not serialise up front): return its job.
		j, err = queryJob(ctx, e.db, `kind = ? AND ukey = ? AND state NOT IN ('cancelled', 'failed')`, s.Kind, s.Key)
		created = false
	}
	if err != nil {
		return Job{}, false, fmt.Errorf("enqueue %s job: %w", s.Kind, err)
	}
	if created {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
	return j, created, nil
}

type querier interface {
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryJob returns the one job matching where, or store.ErrNotFound.
func queryJob(ctx context.Context, q querier, where string, args ...any) (Job, error) {
	rows, err := q.Query(ctx, `SELECT `+jobCols+` FROM jobs_jobs WHERE `+where, args...)
	if err != nil {
		return Job{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Job{}, err
		}
		return Job{}, store.ErrNotFound
	}
	j, err := scanJob(rows.Scan)
	if err != nil {
		return Job{}, err
	}
	return j, rows.Close()
}

func (e *embedded) Get(ctx context.Context, id string) (Job, error) {
	j, err := queryJob(ctx, e.db, `id = ?`, id)
	if errors.Is(err, store.ErrNotFound) {
		return Job{}, ErrNotFound
	}
	if err != nil {
		return Job{}, fmt.Errorf("get job: %w", err)
	}
	return j, nil
}

func (e *embedded) Cancel(ctx context.Context, id string) error {
	var state string
	err := e.db.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT state FROM jobs_jobs WHERE id = ?`, []any{id}, &state); err != nil {
			return err
		}
		switch State(state) {
		case Cancelled:
			return nil
		case Succeeded, Failed:
			return ErrFinished
		case Running:
			_, err := tx.Exec(ctx, `UPDATE jobs_jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?`, nowMS(), id)
			return err
		default:
			_, err := tx.Exec(ctx, `UPDATE jobs_jobs SET state = ?, updated_at = ? WHERE id = ?`, string(Cancelled), nowMS(), id)
			return err
		}
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		if errors.Is(err, ErrFinished) {
			return err
		}
		return fmt.Errorf("cancel job: %w", err)
	}
	if State(state) == Running {
		// If this process runs it, stop the handler now; another replica
		// sees cancel_requested at its next heartbeat.
		e.mu.Lock()
		if c := e.running[id]; c != nil {
			c()
		}
		e.mu.Unlock()
	}
	return nil
}

func (e *embedded) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cancel != nil || e.stopped {
		return errors.New("jobs: queue already started or stopped")
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel = cancel
	for range e.o.Workers {
		e.wg.Add(1)
		// Each worker ends when Stop cancels wctx.
		go func() {
			defer e.wg.Done()
			e.work(wctx)
		}()
	}
	return nil
}

func (e *embedded) Stop(ctx context.Context) error {
	e.mu.Lock()
	e.stopped = true
	cancel := e.cancel
	e.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// work is one worker: claim a due job, run it, repeat; idle workers wait
// for Poll or an Enqueue in this process.
func (e *embedded) work(ctx context.Context) {
	t := time.NewTicker(e.o.Poll)
	defer t.Stop()
	for ctx.Err() == nil {
		j, ok, err := e.claim(ctx)
		if err != nil && ctx.Err() == nil {
			e.o.Logger.Warn("claim job", "err", err)
		}
		if ok {
			e.run(ctx, j)
			continue
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-e.wake:
		}
	}
}

// claim takes the oldest due job: queued or retrying and due, or running
// under an expired lease (its worker died). A job whose expired attempt was
// its last fails instead.
func (e *embedded) claim(ctx context.Context) (Job, bool, error) {
	var j Job
	ok := false
	err := e.db.Tx(ctx, func(tx *store.Tx) error {
		now := nowMS()
		var id string
		var attempt, maxAttempts int64
		var state string
		err := tx.QueryRow(ctx, `SELECT id, attempt, max_attempts, state FROM jobs_jobs
WHERE (state IN ('queued', 'retrying') AND run_at <= ?) OR (state = 'running' AND lease_until < ?)
ORDER BY run_at, id LIMIT 1`, []any{now, now}, &id, &attempt, &maxAttempts, &state)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if state == string(Running) && attempt >= maxAttempts {
			_, err := tx.Exec(ctx, `UPDATE jobs_jobs SET state = 'failed', last_error = ?, lease_owner = '', updated_at = ? WHERE id = ? AND state = 'running' AND lease_until < ?`,
				"lease expired on the last attempt (worker lost)", now, id, now)
			return err
		}
		cancelled := ""
		if state == string(Running) {
			// A cancel requested of a dead worker's job completes here.
			var cr int64
			if err := tx.QueryRow(ctx, `SELECT cancel_requested FROM jobs_jobs WHERE id = ?`, []any{id}, &cr); err != nil {
				return err
			}
			if cr == 1 {
				cancelled = "yes"
			}
		}
		if cancelled != "" {
			_, err := tx.Exec(ctx, `UPDATE jobs_jobs SET state = 'cancelled', lease_owner = '', updated_at = ? WHERE id = ?`, now, id)
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE jobs_jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?, lease_until = ?, updated_at = ?
WHERE id = ? AND ((state IN ('queued', 'retrying') AND run_at <= ?) OR (state = 'running' AND lease_until < ?))`,
			e.o.WorkerID, now+e.o.Lease.Milliseconds(), now, id, now, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // another replica took it first
		}
		j, err = queryJob(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		ok = true
		return nil
	})
	return j, ok, err
}

// run runs one attempt of j, heartbeating its lease, and records the outcome
// only if this worker still holds the lease.
func (e *embedded) run(ctx context.Context, j Job) {
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.mu.Lock()
	e.running[j.ID] = cancel
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.running, j.ID)
		e.mu.Unlock()
	}()
	hb := func(ctx context.Context) error {
		res, err := e.db.Exec(ctx, `UPDATE jobs_jobs SET lease_until = ?, updated_at = ? WHERE id = ? AND lease_owner = ? AND state = 'running' AND cancel_requested = 0`,
			nowMS()+e.o.Lease.Milliseconds(), nowMS(), j.ID, e.o.WorkerID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			cancel() // lease lost or cancel requested: stop the handler
			return errors.New("job lease lost or job cancelled")
		}
		return nil
	}
	task := &Task{Job: j, heartbeat: hb, progress: func(ctx context.Context, raw json.RawMessage) error {
		_, err := e.db.Exec(ctx, `UPDATE jobs_jobs SET progress = ?, updated_at = ? WHERE id = ? AND lease_owner = ?`, string(raw), nowMS(), j.ID, e.o.WorkerID)
		return err
	}}
	hbDone := make(chan struct{})
	go func() {
		// The heartbeat ends with the attempt (hctx).
		defer close(hbDone)
		t := time.NewTicker(e.o.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-t.C:
				if err := hb(hctx); err != nil && hctx.Err() == nil {
					e.o.Logger.Warn("job heartbeat", "job", j.ID, "err", err)
				}
			}
		}
	}()
	err := e.call(hctx, task)
	cancel()
	<-hbDone
	e.finish(context.WithoutCancel(ctx), j, err, ctx.Err() != nil)
}

func (e *embedded) call(ctx context.Context, t *Task) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("job handler panicked: %v", r))
		}
	}()
	return e.o.Handlers[t.Kind](ctx, t)
}

// finish records the attempt's outcome; stopping means the process is
// shutting down, so a failed attempt is put back without counting as a
// failure of the job.
func (e *embedded) finish(ctx context.Context, j Job, herr error, stopping bool) {
	now := nowMS()
	var res sql.Result
	var err error
	fence := ` WHERE id = ? AND lease_owner = ? AND state = 'running'`
	switch {
	case herr == nil:
		res, err = e.db.Exec(ctx, `UPDATE jobs_jobs SET state = 'succeeded', lease_owner = '', last_error = '', updated_at = ?`+fence, now, j.ID, e.o.WorkerID)
	default:
		var cr int64
		if qerr := e.db.QueryRow(ctx, `SELECT cancel_requested FROM jobs_jobs WHERE id = ?`, []any{j.ID}, &cr); qerr != nil {
			e.o.Logger.Warn("finish job", "job", j.ID, "err", qerr)
			return
		}
		switch {
		case cr == 1:
			res, err = e.db.Exec(ctx, `UPDATE jobs_jobs SET state = 'cancelled', lease_owner = '', updated_at = ?`+fence, now, j.ID, e.o.WorkerID)
		case isRetryAfter(herr):
			d, _ := retryAfter(herr)
			res, err = e.db.Exec(ctx, `UPDATE jobs_jobs SET state = 'retrying', attempt = attempt - 1, run_at = ?, lease_owner = '', updated_at = ?`+fence, now+d.Milliseconds(), now, j.ID, e.o.WorkerID)
		case stopping:
			res, err = e.db.Exec(ctx, `UPDATE jobs_jobs SET state = 'retrying', attempt = attempt - 1, run_at = ?, lease_owner = '', updated_at = ?`+fence, now, now, j.ID, e.o.WorkerID)
		case IsPermanent(herr) || j.Attempt >= j.MaxAttempts:
			e.o.Logger.Warn("job failed", "job", j.ID, "kind", j.Kind, "attempt", j.Attempt, "err", herr)
			res, err = e.db.Exec(ctx, `UPDATE jobs_jobs SET state = 'failed', last_error = ?, lease_owner = '', updated_at = ?`+fence, herr.Error(), now, j.ID, e.o.WorkerID)
		default:
			runAt := now + e.o.Backoff(j.Attempt).Milliseconds()
			res, err = e.db.Exec(ctx, `UPDATE jobs_jobs SET state = 'retrying', last_error = ?, run_at = ?, lease_owner = '', updated_at = ?`+fence, herr.Error(), runAt, now, j.ID, e.o.WorkerID)
		}
	}
	if err != nil {
		e.o.Logger.Warn("finish job", "job", j.ID, "err", err)
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		e.o.Logger.Warn("finish job: lease lost, outcome dropped", "job", j.ID)
	}
}

func isRetryAfter(err error) bool { _, ok := retryAfter(err); return ok }
