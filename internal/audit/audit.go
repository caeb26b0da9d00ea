// Package audit records every API request — who, what, on which resource,
// the authorization decision, the outcome, tokens and latency — in the
// embedded store (table audit_log), with personal data in prompts masked
// before anything is written.
//
// Log.Middleware starts an Entry per request and puts it in the context;
// the stages that learn something fill it in (auth: principal, action,
// resource, decision; Stage: operation, model, tokens, a prompt excerpt;
// quotas: throttling). When the handler returns, the middleware adds the
// status and latency and queues the entry; a background writer masks the
// prompt excerpt (Mask) and inserts entries in batches, so the request
// path never waits for the database. Entries older than the retention
// period (default 30 days) are deleted hourly.
package audit

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/store"
)

func init() {
	store.Register("audit",
		store.Migration{Version: 1, Name: "audit log", SQL: `
CREATE TABLE audit_log (
	id TEXT PRIMARY KEY,
	ts BIGINT NOT NULL,
	request_id TEXT NOT NULL,
	principal TEXT NOT NULL,
	auth_method TEXT NOT NULL,
	key_id TEXT NOT NULL,
	source_ip TEXT NOT NULL,
	api TEXT NOT NULL,
	method TEXT NOT NULL,
	path TEXT NOT NULL,
	operation TEXT NOT NULL,
	action TEXT NOT NULL,
	resource TEXT NOT NULL,
	model TEXT NOT NULL,
	decision TEXT NOT NULL,
	status BIGINT NOT NULL,
	error_code TEXT NOT NULL,
	input_tokens BIGINT NOT NULL,
	output_tokens BIGINT NOT NULL,
	latency_ms BIGINT NOT NULL,
	prompt TEXT NOT NULL
);
CREATE INDEX audit_log_ts ON audit_log (ts);
CREATE INDEX audit_log_principal_ts ON audit_log (principal, ts);`},
		store.Migration{Version: 2, Name: "audit nested checks", SQL: `ALTER TABLE audit_log ADD COLUMN checks TEXT NOT NULL DEFAULT ''`},
	)
}

// Entry is one audit record. Fields are filled in by the stages a request
// passes through; use Update to change an entry that others may read.
type Entry struct {
	Time       time.Time
	RequestID  string
	Principal  string // empty when authentication failed
	AuthMethod string // sigv4, apikey, open
	KeyID      string // access-key or API-key ID (never the secret)
	SourceIP   string
	API        string // bedrock, openai
	Method     string // HTTP method
	Path       string // URL path
	Operation  string // Converse, ChatCompletions, …
	Action     string // IAM action authorized
	Resource   string // resource ARN
	Model      string
	// Decision is allow, deny, unauthenticated, throttled, limited
	// (request limits), open (development mode) or empty (no decision
	// was needed, e.g. a listing).
	Decision     string
	Status       int    // HTTP status sent
	ErrorCode    string // exception name, if any
	InputTokens  int
	OutputTokens int
	LatencyMs    int64
	// Prompt is a masked excerpt of the request's text. Before the entry is
	// written it holds the raw excerpt; only masked text reaches the store.
	Prompt string
	// Checks are the decisions made on behalf of the request after its own
	// (gateway.Nested: an agent's tool authorizations, its steps' model
	// calls), one "outcome action resource" line each, in order; they never
	// replace Decision.
	Checks []string

	mu sync.Mutex // guards the fields above once the entry is shared
}

// Update runs f with the entry locked.
func (e *Entry) Update(f func(*Entry)) {
	if e == nil {
		return
	}
	e.mu.Lock()
	f(e)
	e.mu.Unlock()
}

type entryKey struct{}

// With returns ctx carrying e, also as the request's
// gateway.DecisionRecorder, so that authentication, authorization and
// quotas record their decisions in it without importing this package.
func With(ctx context.Context, e *Entry) context.Context {
	return gateway.WithDecisionRecorder(context.WithValue(ctx, entryKey{}, e), e)
}

// RecordDecision implements gateway.DecisionRecorder: the decision's
// non-empty fields replace the entry's.
func (e *Entry) RecordDecision(d gateway.Decision) {
	e.Update(func(e *Entry) {
		set := func(dst *string, v string) {
			if v != "" {
				*dst = v
			}
		}
		set(&e.Principal, d.Principal)
		set(&e.AuthMethod, d.AuthMethod)
		set(&e.KeyID, d.KeyID)
		set(&e.SourceIP, d.SourceIP)
		set(&e.Action, d.Action)
		set(&e.Resource, d.Resource)
		set(&e.Decision, d.Outcome)
		set(&e.ErrorCode, d.ErrorCode)
	})
}

// maxChecks bounds the checks kept on one entry (an agent turn is capped
// well below it); later ones are counted, not listed.
const maxChecks = 100

// RecordCheck implements gateway.CheckRecorder: d is listed in Checks.
func (e *Entry) RecordCheck(d gateway.Decision) {
	e.Update(func(e *Entry) {
		if len(e.Checks) >= maxChecks {
			return
		}
		line := d.Outcome + " " + d.Action + " " + d.Resource
		if d.ErrorCode != "" {
			line += " " + d.ErrorCode
		}
		e.Checks = append(e.Checks, strings.TrimSpace(line))
	})
}

// From returns the audit entry of the request carrying ctx, or nil.
func From(ctx context.Context) *Entry {
	e, _ := ctx.Value(entryKey{}).(*Entry)
	return e
}

// Options configure a Log.
type Options struct {
	Logger *slog.Logger
	// Retention is how long entries are kept. Default 720h (30 days).
	Retention time.Duration
	// PromptChars is how many characters of the request text are kept
	// (after masking). Default 1000; negative keeps none.
	PromptChars int
	// Queue is the number of entries buffered for the writer. Default
	// 10000; when full, requests wait for the writer rather than lose
	// entries.
	Queue int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Log writes audit entries to the store.
type Log struct {
	db  *store.DB
	o   Options
	log *slog.Logger
	// closing is held for reading by Record while it queues an entry and
	// for writing by Close while it marks the log closed, so that no entry
	// is queued after the writer's last drain (it would be lost).
	closing sync.RWMutex
	closed  bool // guarded by closing
	ch      chan *Entry
	// kick wakes the writer when a full batch is queued; otherwise it
	// wakes on its ticker, so that a request does not wake it each time.
	kick chan struct{}
	stop chan struct{}
	// kickAt is the queue length that wakes the writer: a full batch, or
	// half a queue smaller than one.
	kickAt int
	wg     sync.WaitGroup
	once   sync.Once
	// flushMu serialises Flush calls with the writer's batches.
	flushReq chan chan struct{}
}

// New returns a Log writing to db and starts its writer and pruner, which
// run until Close.
func New(db *store.DB, o Options) *Log {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Retention <= 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	if o.PromptChars == 0 {
		o.PromptChars = 1000
	}
	if o.Queue <= 0 {
		o.Queue = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	l := &Log{db: db, o: o, log: o.Logger.With("component", "audit"), ch: make(chan *Entry, o.Queue), kick: make(chan struct{}, 1), stop: make(chan struct{}), flushReq: make(chan chan struct{})}
	l.kickAt = min(batchSize, max(1, o.Queue/2))
	l.wg.Add(2)
	go l.writer() // ends when Close closes l.stop, after draining l.ch
	go l.pruner() // ends when Close closes l.stop
	return l
}

// Close writes the queued entries and stops the background goroutines.
// Entries recorded after Close are written synchronously.
func (l *Log) Close() error {
	l.once.Do(func() {
		// Wait for Records in progress (their entries are then in the
		// queue, which the writer drains before it ends), and make later
		// ones write for themselves.
		l.closing.Lock()
		l.closed = true
		l.closing.Unlock()
		close(l.stop)
	})
	l.wg.Wait()
	return nil
}

// Record queues e for writing. It blocks only when the queue is full (the
// writer is running then, so it does not block for long).
func (l *Log) Record(e *Entry) {
	l.closing.RLock()
	if l.closed {
		l.closing.RUnlock()
		l.write([]*Entry{e})
		return
	}
	l.ch <- e
	l.closing.RUnlock()
	if len(l.ch) >= l.kickAt {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// Pending is the number of entries queued and not yet taken by the writer.
func (l *Log) Pending() int { return len(l.ch) }

// batchSize is the most entries written in one transaction: the writer
// also writes what is queued every 200 ms, and when batchSize entries are
// waiting. Each commit rewrites the last pages of the table and its indexes
// in the WAL, so larger batches cost less per entry (BenchmarkWrite: 32–37
// µs of CPU per entry in batches of 128 single-row inserts, 15–18 µs in
// batches of 512 multi-row ones).
const batchSize = 512

// Flush waits until every entry queued before the call is written.
func (l *Log) Flush() {
	done := make(chan struct{})
	select {
	case l.flushReq <- done:
		<-done
	case <-l.stop:
	}
}

func (l *Log) writer() {
	defer l.wg.Done()
	batch := make([]*Entry, 0, batchSize)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	drain := func() {
		for {
			select {
			case e := <-l.ch:
				batch = append(batch, e)
				if len(batch) >= batchSize {
					l.write(batch)
					batch = batch[:0]
				}
			default:
				if len(batch) > 0 {
					l.write(batch)
					batch = batch[:0]
				}
				return
			}
		}
	}
	for {
		select {
		case <-l.kick:
			drain()
		case <-t.C:
			drain()
		case done := <-l.flushReq:
			drain()
			close(done)
		case <-l.stop:
			drain()
			return
		}
	}
}

// insertColumns are the columns of one audit_log row, in the order of
// entryArgs.
const insertColumns = ` INTO audit_log (id, ts, request_id, principal, auth_method, key_id, source_ip, api, method, path,
operation, action, resource, model, decision, status, error_code, input_tokens, output_tokens, latency_ms, prompt, checks) VALUES `

// rowPlaceholders is one row's VALUES tuple (22 columns).
const rowPlaceholders = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// rowsPerInsert is how many rows one INSERT statement carries: a batch of
// batchSize entries is a few multi-row statements rather than one statement
// per entry, which saves the per-statement work of database/sql and the
// SQLite VM (about a third of the writer's CPU per entry, BenchmarkWrite).
// 32 rows × 22 columns stays far below SQLite's limit on bound parameters.
const rowsPerInsert = 32

// insertSQL returns the INSERT statement for n rows. On SQLite it is
// INSERT OR IGNORE: a multi-row INSERT that may abort half way makes SQLite
// keep a statement journal in a temporary file (a write syscall per page),
// and with OR IGNORE no constraint aborts. Nothing is ignored in practice:
// ids are unique (time, 48 random bits, a per-process sequence) and no
// column is ever NULL. PostgreSQL has no statement journal and no OR IGNORE.
func insertSQL(d store.Dialect, n int) string {
	var b strings.Builder
	b.Grow(len(insertColumns) + n*(len(rowPlaceholders)+1) + 16)
	b.WriteString("INSERT")
	if d == store.SQLite {
		b.WriteString(" OR IGNORE")
	}
	b.WriteString(insertColumns)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(rowPlaceholders)
	}
	return b.String()
}

// entryArgs appends e's column values (its prompt masked) to args.
func (l *Log) entryArgs(args []any, e *Entry) []any {
	e.mu.Lock()
	defer e.mu.Unlock()
	prompt := ""
	if l.o.PromptChars > 0 && e.Prompt != "" {
		prompt = Mask(truncate(e.Prompt, l.o.PromptChars))
	}
	return append(args, newID(), e.Time.UnixMilli(), e.RequestID, e.Principal, e.AuthMethod, e.KeyID, e.SourceIP, e.API, e.Method, e.Path,
		e.Operation, e.Action, e.Resource, e.Model, e.Decision, e.Status, e.ErrorCode, e.InputTokens, e.OutputTokens, e.LatencyMs, prompt,
		strings.Join(e.Checks, "\n"))
}

// write inserts batch in one transaction, rowsPerInsert rows per statement.
// A failed batch is logged, not retried: the database refused it (disk
// full, closed store), and retrying would only hold up the queue.
func (l *Log) write(batch []*Entry) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := l.db.Tx(ctx, func(tx *store.Tx) error {
		args := make([]any, 0, rowsPerInsert*22)
		var full *sql.Stmt // prepared on the first full chunk
		for rest := batch; len(rest) > 0; {
			n := min(len(rest), rowsPerInsert)
			args = args[:0]
			for _, e := range rest[:n] {
				args = l.entryArgs(args, e)
			}
			rest = rest[n:]
			if n < rowsPerInsert {
				if _, err := tx.Exec(ctx, insertSQL(tx.Dialect, n), args...); err != nil {
					return err
				}
				continue
			}
			if full == nil {
				st, err := tx.Prepare(ctx, insertSQL(tx.Dialect, rowsPerInsert))
				if err != nil {
					return err
				}
				defer st.Close()
				full = st
			}
			if _, err := full.ExecContext(ctx, args...); err != nil {
				return store.MapError(err)
			}
		}
		return nil
	})
	if err != nil {
		l.log.Error("audit entries not written", "count", len(batch), "error", err)
	}
}

func (l *Log) pruner() {
	defer l.wg.Done()
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	l.prune()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.prune()
		}
	}
}

func (l *Log) prune() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := l.Prune(ctx, l.o.Now().Add(-l.o.Retention))
	if err != nil {
		l.log.Warn("audit prune failed", "error", err)
	} else if n > 0 {
		l.log.Info("audit entries pruned", "count", n)
	}
}

// Prune deletes entries older than before and returns how many.
func (l *Log) Prune(ctx context.Context, before time.Time) (int64, error) {
	res, err := l.db.Exec(ctx, `DELETE FROM audit_log WHERE ts < ?`, before.UnixMilli())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Query returns the newest entries, at most limit, optionally only those of
// principal.
func (l *Log) Query(ctx context.Context, principal string, limit int) ([]*Entry, error) {
	q := `SELECT ts, request_id, principal, auth_method, key_id, source_ip, api, method, path, operation, action, resource, model,
decision, status, error_code, input_tokens, output_tokens, latency_ms, prompt, checks FROM audit_log`
	var args []any
	if principal != "" {
		q += ` WHERE principal = ?`
		args = append(args, principal)
	}
	q += ` ORDER BY ts DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := l.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Entry
	for rows.Next() {
		e := &Entry{}
		var ts int64
		var checks string
		if err := rows.Scan(&ts, &e.RequestID, &e.Principal, &e.AuthMethod, &e.KeyID, &e.SourceIP, &e.API, &e.Method, &e.Path,
			&e.Operation, &e.Action, &e.Resource, &e.Model, &e.Decision, &e.Status, &e.ErrorCode, &e.InputTokens, &e.OutputTokens,
			&e.LatencyMs, &e.Prompt, &checks); err != nil {
			return nil, err
		}
		e.Checks = splitChecks(checks)
		e.Time = time.UnixMilli(ts).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// splitChecks reads the stored checks column.
func splitChecks(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Middleware starts an entry for every request, lets the handlers fill it
// in, and queues it with the response status and latency.
func (l *Log) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := l.o.Now()
		e := &Entry{Time: start, Method: r.Method, Path: r.URL.Path, API: apiOf(r.URL.Path)}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			lat := l.o.Now().Sub(start).Milliseconds()
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			e.Update(func(e *Entry) {
				e.RequestID = firstHeader(w.Header(), "X-Amzn-Requestid", "X-Request-Id")
				e.Status = status
				e.LatencyMs = lat
				if status >= 400 && e.ErrorCode == "" {
					e.ErrorCode = w.Header().Get("X-Amzn-ErrorType")
				}
				if e.Decision == "" {
					switch status {
					case http.StatusUnauthorized:
						e.Decision = "unauthenticated"
					case http.StatusTooManyRequests:
						e.Decision = "throttled"
					}
				}
			})
			l.Record(e)
		}()
		next.ServeHTTP(sw, r.WithContext(With(r.Context(), e)))
	})
}

func apiOf(path string) string {
	if strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/openai/") {
		return "openai"
	}
	return "bedrock"
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// statusWriter remembers the status code. It forwards Flush and exposes
// the underlying writer through Unwrap for http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
