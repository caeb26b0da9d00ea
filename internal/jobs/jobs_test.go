package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/jobs"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
	"github.com/outcrop/outcrop/internal/testenv"
)

// opener opens another Queue (another replica) on the test's database.
type opener func(t *testing.T, o jobs.Options) jobs.Queue

// each runs the conformance body on the embedded SQLite runner and on River
// over PostgreSQL.
func each(t *testing.T, fn func(t *testing.T, open opener, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		db := storetest.SQLite(t)
		fn(t, func(t *testing.T, o jobs.Options) jobs.Queue { return openQ(t, db, o) }, db.Path)
	})
	t.Run("postgres", func(t *testing.T) {
		db, dsn := storetest.PostgresSchema(t, testenv.PostgresDSN(t))
		fn(t, func(t *testing.T, o jobs.Options) jobs.Queue {
			o.PostgresDSN = dsn
			return openQ(t, db, o)
		}, dsn)
	})
}

func openQ(t *testing.T, db *store.DB, o jobs.Options) jobs.Queue {
	t.Helper()
	if o.Poll == 0 {
		o.Poll = 20 * time.Millisecond
	}
	if o.Backoff == nil {
		o.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	}
	q, err := jobs.New(context.Background(), db, o)
	if err != nil {
		t.Fatalf("jobs.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
	return q
}

func start(t *testing.T, q jobs.Queue) {
	t.Helper()
	if err := q.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

// waitState polls Get until the job reaches a final state or 30 s pass.
func waitFinal(t *testing.T, q jobs.Queue, id string) jobs.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := q.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		if j.State.Final() {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after 30s (attempt %d, last error %q)", id, j.State, j.Attempt, j.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunPayloadProgress(t *testing.T) {
	each(t, func(t *testing.T, open opener, _ string) {
		var got atomic.Value
		q := open(t, jobs.Options{Handlers: map[string]jobs.Handler{
			"echo": func(ctx context.Context, task *jobs.Task) error {
				got.Store(string(task.Payload))
				return task.SetProgress(ctx, map[string]int{"done": 3})
			},
		}})
		ctx := context.Background()
		j, created, err := q.Enqueue(ctx, jobs.Spec{Kind: "echo", Payload: json.RawMessage(`{"b":1,"a":[2]}`)})
		if err != nil || !created {
			t.Fatalf("Enqueue = %v, %v", created, err)
		}
		if j.State != jobs.Queued || j.Kind != "echo" {
			t.Fatalf("enqueued job = %+v", j)
		}
		start(t, q)
		j = waitFinal(t, q, j.ID)
		if j.State != jobs.Succeeded || j.Attempt != 1 {
			t.Fatalf("job = %s attempt %d, want succeeded attempt 1", j.State, j.Attempt)
		}
		var p map[string]int
		if err := json.Unmarshal(j.Progress, &p); err != nil || p["done"] != 3 {
			t.Fatalf("progress = %s (%v)", j.Progress, err)
		}
		var pl map[string]any
		if s, _ := got.Load().(string); json.Unmarshal([]byte(s), &pl) != nil || pl["b"] != float64(1) {
			t.Fatalf("handler saw payload %q", got.Load())
		}
		if _, err := q.Get(ctx, "404"); !errors.Is(err, jobs.ErrNotFound) {
			t.Fatalf("Get unknown = %v, want ErrNotFound", err)
		}
		if _, _, err := q.Enqueue(ctx, jobs.Spec{Kind: "nope"}); !errors.Is(err, jobs.ErrUnknownKind) {
			t.Fatalf("Enqueue unknown kind = %v", err)
		}
		if _, _, err := q.Enqueue(ctx, jobs.Spec{Kind: "echo", Payload: json.RawMessage(`{`)}); err == nil {
			t.Fatal("Enqueue with invalid JSON payload succeeded")
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	each(t, func(t *testing.T, open opener, _ string) {
		var runs atomic.Int32
		q := open(t, jobs.Options{Handlers: map[string]jobs.Handler{
			"once": func(ctx context.Context, task *jobs.Task) error { runs.Add(1); return nil },
		}})
		ctx := context.Background()
		a, created, err := q.Enqueue(ctx, jobs.Spec{Kind: "once", Key: "k1"})
		if err != nil || !created {
			t.Fatalf("first Enqueue = %v, %v", created, err)
		}
		b, created, err := q.Enqueue(ctx, jobs.Spec{Kind: "once", Key: "k1"})
		if err != nil || created || b.ID != a.ID {
			t.Fatalf("second Enqueue = %s created=%v err=%v, want %s not created", b.ID, created, err, a.ID)
		}
		start(t, q)
		waitFinal(t, q, a.ID)
		// After success the key still names the finished job.
		c, created, err := q.Enqueue(ctx, jobs.Spec{Kind: "once", Key: "k1"})
		if err != nil || created || c.ID != a.ID || c.State != jobs.Succeeded {
			t.Fatalf("Enqueue after success = %+v created=%v err=%v", c, created, err)
		}
		d, created, err := q.Enqueue(ctx, jobs.Spec{Kind: "once", Key: "k2"})
		if err != nil || !created || d.ID == a.ID {
			t.Fatalf("other key = %+v created=%v err=%v", d, created, err)
		}
		waitFinal(t, q, d.ID)
		if n := runs.Load(); n != 2 {
			t.Fatalf("handler ran %d times, want 2", n)
		}
	})
}

func TestRetriesAndFailures(t *testing.T) {
	each(t, func(t *testing.T, open opener, _ string) {
		var flaky, always, perm atomic.Int32
		q := open(t, jobs.Options{Handlers: map[string]jobs.Handler{
			"flaky": func(ctx context.Context, task *jobs.Task) error {
				if flaky.Add(1) < 3 {
					return fmt.Errorf("transient %d", task.Attempt)
				}
				return nil
			},
			"always": func(ctx context.Context, task *jobs.Task) error { always.Add(1); return errors.New("broken") },
			"perm": func(ctx context.Context, task *jobs.Task) error {
				perm.Add(1)
				return jobs.Permanent(errors.New("bad input"))
			},
		}})
		start(t, q)
		ctx := context.Background()
		f, _, _ := q.Enqueue(ctx, jobs.Spec{Kind: "flaky", MaxAttempts: 5})
		a, _, _ := q.Enqueue(ctx, jobs.Spec{Kind: "always", MaxAttempts: 3})
		p, _, _ := q.Enqueue(ctx, jobs.Spec{Kind: "perm", MaxAttempts: 5})
		if j := waitFinal(t, q, f.ID); j.State != jobs.Succeeded || j.Attempt != 3 {
			t.Errorf("flaky = %s attempt %d, want succeeded attempt 3", j.State, j.Attempt)
		}
		if j := waitFinal(t, q, a.ID); j.State != jobs.Failed || j.Attempt != 3 || j.LastError == "" {
			t.Errorf("always = %s attempt %d error %q, want failed attempt 3 with error", j.State, j.Attempt, j.LastError)
		}
		if j := waitFinal(t, q, p.ID); j.State != jobs.Failed || j.Attempt != 1 {
			t.Errorf("perm = %s attempt %d, want failed attempt 1", j.State, j.Attempt)
		}
		if always.Load() != 3 || perm.Load() != 1 {
			t.Errorf("runs: always %d (want 3), perm %d (want 1)", always.Load(), perm.Load())
		}
		if err := q.Cancel(ctx, f.ID); !errors.Is(err, jobs.ErrFinished) {
			t.Errorf("Cancel succeeded job = %v, want ErrFinished", err)
		}
	})
}

func TestRetryAfterDoesNotCountAttempts(t *testing.T) {
	each(t, func(t *testing.T, open opener, _ string) {
		var calls atomic.Int32
		q := open(t, jobs.Options{Handlers: map[string]jobs.Handler{
			"wait": func(ctx context.Context, task *jobs.Task) error {
				if calls.Add(1) <= 3 {
					return jobs.RetryAfter(10 * time.Millisecond)
				}
				return nil
			},
		}})
		start(t, q)
		j, _, err := q.Enqueue(context.Background(), jobs.Spec{Kind: "wait", MaxAttempts: 2})
		if err != nil {
			t.Fatal(err)
		}
		if j = waitFinal(t, q, j.ID); j.State != jobs.Succeeded || calls.Load() != 4 {
			t.Fatalf("job = %s after %d calls, want succeeded after 4 with MaxAttempts 2", j.State, calls.Load())
		}
	})
}

func TestCancel(t *testing.T) {
	each(t, func(t *testing.T, open opener, _ string) {
		started := make(chan string, 1)
		var laterRan atomic.Bool
		q := open(t, jobs.Options{Handlers: map[string]jobs.Handler{
			"block": func(ctx context.Context, task *jobs.Task) error {
				started <- task.ID
				<-ctx.Done()
				return ctx.Err()
			},
			"later": func(ctx context.Context, task *jobs.Task) error { laterRan.Store(true); return nil },
		}})
		ctx := context.Background()
		later, _, _ := q.Enqueue(ctx, jobs.Spec{Kind: "later", RunAt: time.Now().Add(time.Hour)})
		if err := q.Cancel(ctx, later.ID); err != nil {
			t.Fatalf("Cancel queued: %v", err)
		}
		if err := q.Cancel(ctx, later.ID); err != nil {
			t.Fatalf("Cancel twice: %v", err)
		}
		if err := q.Cancel(ctx, "999999"); !errors.Is(err, jobs.ErrNotFound) {
			t.Fatalf("Cancel unknown = %v", err)
		}
		start(t, q)
		b, _, _ := q.Enqueue(ctx, jobs.Spec{Kind: "block", MaxAttempts: 5})
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			t.Fatal("block job never started")
		}
		if err := q.Cancel(ctx, b.ID); err != nil {
			t.Fatalf("Cancel running: %v", err)
		}
		if j := waitFinal(t, q, b.ID); j.State != jobs.Cancelled || j.Attempt != 1 {
			t.Fatalf("cancelled running job = %s attempt %d", j.State, j.Attempt)
		}
		if j, _ := q.Get(ctx, later.ID); j.State != jobs.Cancelled || laterRan.Load() {
			t.Fatalf("cancelled queued job = %s, ran %v", j.State, laterRan.Load())
		}
	})
}

// TestReplicasRunEachJobOnce runs two queues (replicas) on one database and
// checks that every job ran exactly once.
func TestReplicasRunEachJobOnce(t *testing.T) {
	each(t, func(t *testing.T, open opener, _ string) {
		var mu sync.Mutex
		runs := map[string]int{}
		h := map[string]jobs.Handler{"count": func(ctx context.Context, task *jobs.Task) error {
			mu.Lock()
			runs[task.Key]++
			mu.Unlock()
			return nil
		}}
		a := open(t, jobs.Options{Handlers: h, WorkerID: "replica-a", Workers: 3})
		b := open(t, jobs.Options{Handlers: h, WorkerID: "replica-b", Workers: 3})
		start(t, a)
		start(t, b)
		ctx := context.Background()
		const n = 40
		ids := make([]string, 0, n)
		for i := range n {
			q := a
			if i%2 == 1 {
				q = b
			}
			j, _, err := q.Enqueue(ctx, jobs.Spec{Kind: "count", Key: fmt.Sprint("job-", i)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, j.ID)
		}
		for _, id := range ids {
			if j := waitFinal(t, a, id); j.State != jobs.Succeeded {
				t.Fatalf("job %s = %s", id, j.State)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for i := range n {
			if k := fmt.Sprint("job-", i); runs[k] != 1 {
				t.Errorf("%s ran %d times", k, runs[k])
			}
		}
	})
}

// TestCrashResume kills (SIGKILL) a process in the middle of a job and checks
// that a new process picks the job up again once the lease expires.
func TestCrashResume(t *testing.T) {
	each(t, func(t *testing.T, open opener, dsn string) {
		marker := filepath.Join(t.TempDir(), "started")
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
		cmd.Env = append(os.Environ(), "JOBS_CRASH_HELPER=1", "JOBS_CRASH_DSN="+dsn, "JOBS_CRASH_MARKER="+marker)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		deadline := time.Now().Add(60 * time.Second)
		var id []byte
		for {
			select {
			case err := <-exited:
				t.Fatalf("helper exited before its job started: %v", err)
			default:
			}
			var err error
			if id, err = os.ReadFile(marker); err == nil && len(id) > 0 {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				<-exited
				t.Fatal("helper never started its job")
			}
			time.Sleep(20 * time.Millisecond)
		}
		cmd.Process.Kill()
		<-exited

		var second atomic.Int32
		q := open(t, jobs.Options{Lease: 2 * time.Second, Handlers: map[string]jobs.Handler{
			"crash": func(ctx context.Context, task *jobs.Task) error {
				second.Add(1)
				return nil
			},
		}})
		if j, _ := q.Get(context.Background(), string(id)); j.State != jobs.Running {
			t.Fatalf("after kill the job is %s, want running (held by the dead worker)", j.State)
		}
		start(t, q)
		deadline = time.Now().Add(90 * time.Second)
		for {
			j, err := q.Get(context.Background(), string(id))
			if err != nil {
				t.Fatal(err)
			}
			if j.State == jobs.Succeeded {
				if j.Attempt != 2 || second.Load() != 1 {
					t.Fatalf("resumed job attempt %d, handler runs %d; want 2 and 1", j.Attempt, second.Load())
				}
				return
			}
			if j.State.Final() || time.Now().After(deadline) {
				t.Fatalf("job %s after crash: %s attempt %d %q", id, j.State, j.Attempt, j.LastError)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// TestCrashHelper is the process TestCrashResume kills: it enqueues a job
// whose handler records its id and blocks.
func TestCrashHelper(t *testing.T) {
	if os.Getenv("JOBS_CRASH_HELPER") != "1" {
		t.Skip("helper process for TestCrashResume")
	}
	dsn := os.Getenv("JOBS_CRASH_DSN")
	o := store.Options{Driver: "sqlite", DSN: dsn}
	jo := jobs.Options{Lease: 2 * time.Second, Poll: 20 * time.Millisecond, WorkerID: "doomed"}
	if !filepath.IsAbs(dsn) {
		o.Driver = "postgres"
		jo.PostgresDSN = dsn
	}
	db, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	jo.Handlers = map[string]jobs.Handler{"crash": func(ctx context.Context, task *jobs.Task) error {
		os.WriteFile(os.Getenv("JOBS_CRASH_MARKER")+".tmp", []byte(task.ID), 0o600)
		os.Rename(os.Getenv("JOBS_CRASH_MARKER")+".tmp", os.Getenv("JOBS_CRASH_MARKER"))
		select {} // wait to be killed
	}}
	q, err := jobs.New(context.Background(), db, jo)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := q.Enqueue(context.Background(), jobs.Spec{Kind: "crash", Key: "c1"}); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Minute)
}
