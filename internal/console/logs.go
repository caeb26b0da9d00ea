package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/outcrop/outcrop/internal/audit"
	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/llm"
)

// logRoutes serve the request log (the audit log) and metrics over time.
type logRoutes struct {
	g         *Admin
	authorize func(r *http.Request, action, resource string) error
}

// requestJSON is one request-log entry.
type requestJSON struct {
	ID           string `json:"id"`
	Time         string `json:"time"`
	RequestID    string `json:"requestId"`
	Principal    string `json:"principal"`
	AuthMethod   string `json:"authMethod"`
	KeyID        string `json:"keyId"`
	SourceIP     string `json:"sourceIp"`
	API          string `json:"api"`
	Method       string `json:"method"`
	Path         string `json:"path"`
	Operation    string `json:"operation"`
	Action       string `json:"action"`
	Resource     string `json:"resource"`
	Model        string `json:"model"`
	Decision     string `json:"decision"`
	Status       int    `json:"status"`
	ErrorCode    string `json:"errorCode"`
	InputTokens  int    `json:"inputTokens"`
	OutputTokens int    `json:"outputTokens"`
	LatencyMs    int64  `json:"latencyMs"`
	// Prompt is the masked prompt excerpt (detail only).
	Prompt string `json:"prompt,omitempty"`
}

func toRequestJSON(r audit.Record, detail bool) requestJSON {
	e := r.Entry
	out := requestJSON{ID: r.ID, Time: e.Time.Format(time.RFC3339Nano), RequestID: e.RequestID, Principal: e.Principal,
		AuthMethod: e.AuthMethod, KeyID: e.KeyID, SourceIP: e.SourceIP, API: e.API, Method: e.Method, Path: e.Path,
		Operation: e.Operation, Action: e.Action, Resource: e.Resource, Model: e.Model, Decision: e.Decision, Status: e.Status,
		ErrorCode: e.ErrorCode, InputTokens: e.InputTokens, OutputTokens: e.OutputTokens, LatencyMs: e.LatencyMs}
	if detail {
		out.Prompt = e.Prompt
	}
	return out
}

// ParseRequestQuery reads the request-log filters of GET
// /admin/v1/requests: model, principal, status (a code such as 429 or a
// class 2xx/4xx/5xx), from and to (RFC 3339), limit (1–500) and cursor.
func ParseRequestQuery(q url.Values) (audit.Filter, error) {
	var f audit.Filter
	for k := range q {
		switch k {
		case "model", "principal", "status", "from", "to", "limit", "cursor":
		default:
			return f, errors.New("unknown query parameter " + strconv.Quote(k) + ": use model, principal, status, from, to, limit, cursor")
		}
	}
	f.Model, f.Principal, f.Cursor = q.Get("model"), q.Get("principal"), q.Get("cursor")
	if len(f.Model) > 256 || len(f.Principal) > 64 || len(f.Cursor) > 128 {
		return f, errors.New("a filter value is too long")
	}
	if s := q.Get("status"); s != "" {
		if len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5' {
			f.StatusClass = int(s[0] - '0')
		} else if n, err := strconv.Atoi(s); err == nil && n >= 100 && n <= 599 {
			f.Status = n
		} else {
			return f, errors.New("status must be an HTTP status (e.g. 429) or a class (2xx, 4xx, 5xx)")
		}
	}
	var err error
	if f.From, err = parseTime(q.Get("from"), "from"); err != nil {
		return f, err
	}
	if f.To, err = parseTime(q.Get("to"), "to"); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, errors.New("from must be before to")
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return f, errors.New("limit must be from 1 to 500")
		}
		f.Limit = n
	}
	return f, nil
}

func parseTime(s, name string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, errors.New(name + " must be an RFC 3339 time, e.g. 2026-12-06T23:00:00Z")
	}
	return t, nil
}

func (l *logRoutes) list(w http.ResponseWriter, r *http.Request) error {
	f, err := ParseRequestQuery(r.URL.Query())
	if err != nil {
		return &llm.Error{Kind: llm.KindValidation, Message: err.Error()}
	}
	resource := "*"
	if f.Principal != "" {
		resource = auth.UserARN(l.g.AccountID, f.Principal)
	}
	if err := l.authorize(r, "outcrop:ListAuditEvents", resource); err != nil {
		return err
	}
	page, err := audit.Search(r.Context(), l.g.DB, f)
	if errors.Is(err, audit.ErrBadCursor) {
		return &llm.Error{Kind: llm.KindValidation, Message: "cursor is not one this server issued"}
	}
	if err != nil {
		return mapStoreError(err)
	}
	out := make([]requestJSON, 0, len(page.Records))
	for _, rec := range page.Records {
		out = append(out, toRequestJSON(rec, false))
	}
	body := map[string]any{"requests": out}
	if page.Next != "" {
		body["nextCursor"] = page.Next
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// get returns one entry with its masked prompt excerpt and, when the
// request went through the inference pipeline, its measurements and
// routing (the request recorder's row for the same request ID).
func (l *logRoutes) get(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if len(id) > 64 {
		return llm.Errorf(llm.KindValidation, "request log ID is too long")
	}
	rec, err := audit.Get(r.Context(), l.g.DB, id)
	if err != nil {
		if err := l.authorize(r, "outcrop:GetAuditEvent", "*"); err != nil {
			return err // no existence oracle for callers without the permission
		}
		return mapStoreError(err)
	}
	resource := "*"
	if rec.Principal != "" {
		resource = auth.UserARN(l.g.AccountID, rec.Principal)
	}
	if err := l.authorize(r, "outcrop:GetAuditEvent", resource); err != nil {
		return err
	}
	body := map[string]any{"request": toRequestJSON(rec, true)}
	if l.g.Calls != nil && rec.RequestID != "" {
		if c, err := l.g.Calls.Get(r.Context(), rec.RequestID); err == nil {
			body["call"] = c
		}
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// MetricsQuery is the parsed query of GET /admin/v1/metrics.
type MetricsQuery struct {
	From, To time.Time
	Step     time.Duration
	GroupBy  string
}

// ParseMetricsQuery reads from, to (RFC 3339; default the last hour), step
// (a duration, default 1m, at most 10,000 buckets) and groupBy (model,
// principal, profile or empty).
func ParseMetricsQuery(q url.Values, now time.Time) (MetricsQuery, error) {
	var m MetricsQuery
	for k := range q {
		switch k {
		case "from", "to", "step", "groupBy":
		default:
			return m, errors.New("unknown query parameter " + strconv.Quote(k) + ": use from, to, step, groupBy")
		}
	}
	var err error
	if m.To, err = parseTime(q.Get("to"), "to"); err != nil {
		return m, err
	}
	if m.To.IsZero() {
		m.To = now
	}
	if m.From, err = parseTime(q.Get("from"), "from"); err != nil {
		return m, err
	}
	if m.From.IsZero() {
		m.From = m.To.Add(-time.Hour)
	}
	if !m.From.Before(m.To) {
		return m, errors.New("from must be before to")
	}
	m.Step = time.Minute
	if s := q.Get("step"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second {
			return m, errors.New("step must be a duration of at least 1s, e.g. 1m")
		}
		m.Step = d
	}
	if m.To.Sub(m.From)/m.Step > 10_000 {
		return m, errors.New("more than 10000 buckets: widen the step or narrow the range")
	}
	m.GroupBy = q.Get("groupBy")
	switch m.GroupBy {
	case "", "model", "principal", "profile":
	default:
		return m, errors.New("groupBy must be model, principal or profile")
	}
	return m, nil
}

// metrics answers the time series of the dashboards, from the request
// recorder (TTFT, OTPS, E2E percentiles, errors, requests and tokens per
// bucket and group).
func (l *logRoutes) metrics(w http.ResponseWriter, r *http.Request) error {
	m, err := ParseMetricsQuery(r.URL.Query(), time.Now().UTC())
	if err != nil {
		return &llm.Error{Kind: llm.KindValidation, Message: err.Error()}
	}
	if err := l.authorize(r, "outcrop:GetMetrics", "*"); err != nil {
		return err
	}
	if l.g.Calls == nil {
		return llm.Errorf(llm.KindNotFound, "the request recorder is not running")
	}
	series, err := l.g.Calls.Series(r.Context(), m.From, m.To, m.Step, m.GroupBy)
	if err != nil {
		return mapStoreError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"from": m.From.UTC().Format(time.RFC3339), "to": m.To.UTC().Format(time.RFC3339), "step": m.Step.String(),
		"groupBy": m.GroupBy, "buckets": series,
	})
	return nil
}
