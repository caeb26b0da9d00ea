package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/store"
)

func init() {
	store.Register("console_calls",
		store.Migration{Version: 1, Name: "console request recorder", SQL: `
CREATE TABLE console_calls (
	request_id TEXT PRIMARY KEY,
	ts BIGINT NOT NULL,
	principal TEXT NOT NULL,
	api TEXT NOT NULL,
	operation TEXT NOT NULL,
	model TEXT NOT NULL,
	deployment TEXT NOT NULL,
	provider TEXT NOT NULL,
	profile TEXT NOT NULL,
	stream BIGINT NOT NULL,
	status TEXT NOT NULL,
	ttft_ms BIGINT NOT NULL,
	otps DOUBLE PRECISION NOT NULL,
	e2e_ms BIGINT NOT NULL,
	overhead_us BIGINT NOT NULL,
	input_tokens BIGINT NOT NULL,
	output_tokens BIGINT NOT NULL,
	cache_read_tokens BIGINT NOT NULL,
	cache_write_tokens BIGINT NOT NULL,
	attempts TEXT NOT NULL,
	trace TEXT NOT NULL
);
CREATE INDEX console_calls_ts ON console_calls (ts);`},
	)
}

// Calls records the measurements of every finished inference call (a
// gateway.Recorder beside the Prometheus one) in the store, table
// console_calls: TTFT, OTPS, E2E, tokens, the deployment and profile that
// served it, each attempt's timings and the stages' trace (guardrail
// assessments, prompt-router choice). The dashboards' time series and the
// request log's detail read it. Recording never blocks a request: rows go
// through a bounded queue to a writer goroutine, and are dropped (and
// counted) when it is full.
type Calls struct {
	db        *store.DB
	log       *slog.Logger
	retention time.Duration
	queue     chan callRow
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	dropped   atomic.Int64
	// flushReq asks the writer to write what it holds and answer.
	flushReq chan chan struct{}
}

var _ gateway.Recorder = (*Calls)(nil)

// NewCalls starts the recorder's writer, which runs until Close. Rows older
// than retention (30 days when <= 0) are deleted hourly.
func NewCalls(db *store.DB, log *slog.Logger, retention time.Duration) *Calls {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if retention <= 0 {
		retention = 30 * 24 * time.Hour
	}
	c := &Calls{db: db, log: log.With("component", "console"), retention: retention, queue: make(chan callRow, 4096),
		stop: make(chan struct{}), done: make(chan struct{}), flushReq: make(chan chan struct{})}
	go c.writer() // ends when Close closes c.stop, after draining the queue
	return c
}

// AttemptJSON is one provider attempt of a call, times in milliseconds
// from the request's arrival.
type AttemptJSON struct {
	Deployment   string `json:"deployment"`
	StartMs      int64  `json:"startMs"`
	FirstEventMs *int64 `json:"firstEventMs"`
	CompleteMs   *int64 `json:"completeMs,omitempty"`
	Error        string `json:"error,omitempty"`
	Winner       bool   `json:"winner"`
}

// CallJSON is a recorded call, as the request log's detail shows it.
type CallJSON struct {
	RequestID        string                     `json:"requestId"`
	Time             time.Time                  `json:"time"`
	Principal        string                     `json:"principal"`
	API              string                     `json:"api"`
	Operation        string                     `json:"operation"`
	Model            string                     `json:"model"`
	Deployment       string                     `json:"deployment"`
	Provider         string                     `json:"provider"`
	Profile          string                     `json:"profile"`
	Stream           bool                       `json:"stream"`
	Status           string                     `json:"status"`
	TTFTMs           int64                      `json:"ttftMs"`
	OTPS             float64                    `json:"otps"`
	E2EMs            int64                      `json:"e2eMs"`
	OverheadUs       int64                      `json:"overheadUs"`
	InputTokens      int64                      `json:"inputTokens"`
	OutputTokens     int64                      `json:"outputTokens"`
	CacheReadTokens  int64                      `json:"cacheReadTokens"`
	CacheWriteTokens int64                      `json:"cacheWriteTokens"`
	Attempts         []AttemptJSON              `json:"attempts"`
	Trace            map[string]json.RawMessage `json:"trace"`
}

type callRow struct {
	CallJSON
	attempts, trace string
}

// Record implements gateway.Recorder.
func (c *Calls) Record(r gateway.Record) {
	call := r.Call
	if call == nil || call.RequestID == "" {
		return
	}
	served := r.Served
	row := callRow{CallJSON: CallJSON{
		RequestID: call.RequestID, Time: time.Now().UTC(), Principal: call.Principal, API: call.API, Operation: call.Op,
		Model: call.Model, Deployment: served.Deployment, Provider: served.Provider, Profile: string(served.Profile),
		Stream: call.Stream, Status: r.Status, TTFTMs: r.Metrics.TTFTMs, OTPS: r.Metrics.OTPS, E2EMs: r.Metrics.LatencyMs,
		OverheadUs: r.Overhead.Microseconds(), InputTokens: int64(r.Usage.InputTokens), OutputTokens: int64(r.Usage.OutputTokens),
		CacheReadTokens: int64(r.Usage.CacheReadInputTokens), CacheWriteTokens: int64(r.Usage.CacheWriteInputTokens),
	}}
	if row.Profile == "" && call.Request != nil {
		row.Profile = string(call.Request.Performance)
	}
	if row.Profile == "" {
		row.Profile = string(llm.LatencyStandard)
	}
	var atts []AttemptJSON
	for _, a := range call.Attempts() {
		aj := AttemptJSON{Deployment: a.Deployment, StartMs: msSince(call.Received, a.Start), Winner: a.Winner}
		if !a.FirstEvent.IsZero() {
			v := msSince(call.Received, a.FirstEvent)
			aj.FirstEventMs = &v
		}
		if !a.Complete.IsZero() {
			v := msSince(call.Received, a.Complete)
			aj.CompleteMs = &v
		}
		if a.Err != nil {
			aj.Error = llm.AsError(a.Err).Name() + ": " + truncate(llm.AsError(a.Err).Message, 300)
		}
		atts = append(atts, aj)
	}
	ab, _ := json.Marshal(atts)
	tb, _ := json.Marshal(call.Trace())
	row.attempts, row.trace = string(ab), string(tb)
	select {
	case c.queue <- row:
	default:
		if c.dropped.Add(1)%1000 == 1 {
			c.log.Warn("request recorder queue full; measurements dropped", "dropped", c.dropped.Load())
		}
	}
}

func msSince(t0, t time.Time) int64 {
	if t0.IsZero() {
		return 0
	}
	return t.Sub(t0).Milliseconds()
}

// Flush writes every queued row now (tests, shutdown).
func (c *Calls) Flush() {
	done := make(chan struct{})
	select {
	case c.flushReq <- done:
		<-done
	case <-c.done:
	}
}

// Close stops the writer after it has written the queue. Safe to call
// more than once.
func (c *Calls) Close() error {
	c.closeOnce.Do(func() { close(c.stop) })
	<-c.done
	return nil
}

func (c *Calls) writer() {
	defer close(c.done)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	var batch []callRow
	drain := func() {
		for {
			select {
			case r := <-c.queue:
				batch = append(batch, r)
				if len(batch) >= 256 {
					c.write(batch)
					batch = batch[:0]
				}
			default:
				if len(batch) > 0 {
					c.write(batch)
					batch = batch[:0]
				}
				return
			}
		}
	}
	for {
		select {
		case <-c.stop:
			drain()
			return
		case done := <-c.flushReq:
			drain()
			close(done)
		case <-tick.C:
			drain()
		case <-prune.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if _, err := c.db.Exec(ctx, `DELETE FROM console_calls WHERE ts < ?`, time.Now().Add(-c.retention).UnixMilli()); err != nil {
				c.log.Warn("pruning recorded calls failed", "error", err)
			}
			cancel()
		}
	}
}

func (c *Calls) write(batch []callRow) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.db.Tx(ctx, func(tx *store.Tx) error {
		q := tx.Dialect.Upsert("console_calls", []string{"request_id", "ts", "principal", "api", "operation", "model", "deployment", "provider",
			"profile", "stream", "status", "ttft_ms", "otps", "e2e_ms", "overhead_us", "input_tokens", "output_tokens", "cache_read_tokens",
			"cache_write_tokens", "attempts", "trace"}, []string{"request_id"})
		st, err := tx.Prepare(ctx, q)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range batch {
			stream := 0
			if r.Stream {
				stream = 1
			}
			if _, err := st.ExecContext(ctx, r.RequestID, r.Time.UnixMilli(), r.Principal, r.API, r.Operation, r.Model, r.Deployment, r.Provider,
				r.Profile, stream, r.Status, r.TTFTMs, r.OTPS, r.E2EMs, r.OverheadUs, r.InputTokens, r.OutputTokens, r.CacheReadTokens,
				r.CacheWriteTokens, r.attempts, r.trace); err != nil {
				return store.MapError(err)
			}
		}
		return nil
	})
	if err != nil {
		c.log.Error("recorded calls not written", "count", len(batch), "error", err)
	}
}

const selectCall = `SELECT request_id, ts, principal, api, operation, model, deployment, provider, profile, stream, status, ttft_ms, otps,
e2e_ms, overhead_us, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, attempts, trace FROM console_calls`

// Get returns the recorded call of a request ID; store.ErrNotFound when
// none was recorded (not an inference call, or recording was off).
func (c *Calls) Get(ctx context.Context, requestID string) (*CallJSON, error) {
	rows, err := c.db.Query(ctx, selectCall+` WHERE request_id = ?`, requestID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, store.ErrNotFound
	}
	var cj CallJSON
	var ts, stream int64
	var atts, trace string
	if err := rows.Scan(&cj.RequestID, &ts, &cj.Principal, &cj.API, &cj.Operation, &cj.Model, &cj.Deployment, &cj.Provider, &cj.Profile,
		&stream, &cj.Status, &cj.TTFTMs, &cj.OTPS, &cj.E2EMs, &cj.OverheadUs, &cj.InputTokens, &cj.OutputTokens, &cj.CacheReadTokens,
		&cj.CacheWriteTokens, &atts, &trace); err != nil {
		return nil, err
	}
	cj.Time, cj.Stream = time.UnixMilli(ts).UTC(), stream != 0
	if err := json.Unmarshal([]byte(atts), &cj.Attempts); err != nil {
		return nil, fmt.Errorf("recorded attempts of %s: %w", requestID, err)
	}
	if err := json.Unmarshal([]byte(trace), &cj.Trace); err != nil {
		return nil, fmt.Errorf("recorded trace of %s: %w", requestID, err)
	}
	return &cj, nil
}

// Bucket is one interval and group of the dashboards' time series.
type Bucket struct {
	Start string `json:"start"`
	// Key is the group's model, principal or profile; empty when ungrouped.
	Key          string  `json:"key"`
	Requests     int     `json:"requests"`
	Errors       int     `json:"errors"`
	ErrorRate    float64 `json:"errorRate"`
	InputTokens  int64   `json:"inputTokens"`
	OutputTokens int64   `json:"outputTokens"`
	// TTFT percentiles are over streamed calls that produced a token;
	// OTPS over calls with an OTPS; E2E over every successful call.
	P50TTFTMs float64 `json:"p50TtftMs"`
	P90TTFTMs float64 `json:"p90TtftMs"`
	P50OTPS   float64 `json:"p50Otps"`
	P90OTPS   float64 `json:"p90Otps"`
	P50E2EMs  float64 `json:"p50E2eMs"`
	P90E2EMs  float64 `json:"p90E2eMs"`
}

// maxSeriesRows bounds the rows one Series call reads.
const maxSeriesRows = 200_000

// Series aggregates the recorded calls between from and to into buckets of
// step, grouped by "model", "principal", "profile" or nothing.
func (c *Calls) Series(ctx context.Context, from, to time.Time, step time.Duration, groupBy string) ([]Bucket, error) {
	col := "''"
	switch groupBy {
	case "":
	case "model", "principal", "profile":
		col = groupBy
	default:
		return nil, fmt.Errorf("group by %q: %w", groupBy, errBadGroup)
	}
	if step <= 0 || !from.Before(to) {
		return nil, errors.New("empty time range")
	}
	rows, err := c.db.Query(ctx, `SELECT ts, `+col+`, stream, status, ttft_ms, otps, e2e_ms, input_tokens, output_tokens FROM console_calls
		WHERE ts >= ? AND ts < ? ORDER BY ts LIMIT ?`, from.UnixMilli(), to.UnixMilli(), maxSeriesRows)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type key struct {
		i int64
		k string
	}
	type acc struct {
		b              Bucket
		ttft, otps, e2 []float64
	}
	m := map[key]*acc{}
	var order []key
	for rows.Next() {
		var ts, stream, ttft, e2e, in, out int64
		var g, status string
		var otps float64
		if err := rows.Scan(&ts, &g, &stream, &status, &ttft, &otps, &e2e, &in, &out); err != nil {
			return nil, err
		}
		k := key{(ts - from.UnixMilli()) / step.Milliseconds(), g}
		a, ok := m[k]
		if !ok {
			a = &acc{b: Bucket{Start: from.Add(time.Duration(k.i) * step).UTC().Format(time.RFC3339), Key: g}}
			m[k] = a
			order = append(order, k)
		}
		a.b.Requests++
		a.b.InputTokens += in
		a.b.OutputTokens += out
		if status != "ok" {
			a.b.Errors++
			continue
		}
		if stream != 0 && ttft > 0 {
			a.ttft = append(a.ttft, float64(ttft))
		}
		if otps > 0 {
			a.otps = append(a.otps, otps)
		}
		a.e2 = append(a.e2, float64(e2e))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(order, func(x, y key) int {
		if x.i != y.i {
			return int(x.i - y.i)
		}
		if x.k < y.k {
			return -1
		}
		if x.k > y.k {
			return 1
		}
		return 0
	})
	out := make([]Bucket, 0, len(order))
	for _, k := range order {
		a := m[k]
		a.b.ErrorRate = float64(a.b.Errors) / float64(a.b.Requests)
		a.b.P50TTFTMs, a.b.P90TTFTMs = Percentile(a.ttft, 50), Percentile(a.ttft, 90)
		a.b.P50OTPS, a.b.P90OTPS = Percentile(a.otps, 50), Percentile(a.otps, 90)
		a.b.P50E2EMs, a.b.P90E2EMs = Percentile(a.e2, 50), Percentile(a.e2, 90)
		out = append(out, a.b)
	}
	return out, nil
}

var errBadGroup = errors.New("use model, principal or profile")

// Percentile returns the p-th percentile of v by linear interpolation
// between closest ranks (numpy's default), 0 for no values. v is sorted in
// place.
func Percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	pos := p / 100 * float64(len(v)-1)
	lo := int(pos)
	if lo >= len(v)-1 {
		return v[len(v)-1]
	}
	return v[lo] + (pos-float64(lo))*(v[lo+1]-v[lo])
}
