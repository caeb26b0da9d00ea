package audit

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/store"
)

// Filter selects audit records for Search. Zero fields match everything.
type Filter struct {
	Model     string
	Principal string
	// Status matches the HTTP status exactly, or a class with StatusClass
	// (2 for 2xx, 4 for 4xx, 5 for 5xx); StatusClass wins when both are set.
	Status      int
	StatusClass int
	// From and To bound the time (From inclusive, To exclusive).
	From, To time.Time
	// Limit is the page size, 1–500 (default 50).
	Limit int
	// Cursor continues a previous page (Page.Next).
	Cursor string
}

// Record is a stored audit entry with its ID.
type Record struct {
	ID string
	*Entry
}

// Page is one page of Search results, newest first; Next is empty on the
// last page.
type Page struct {
	Records []Record
	Next    string
}

// ErrBadCursor is returned for a cursor Search did not issue.
var ErrBadCursor = errors.New("invalid pagination cursor")

const selectRecord = `SELECT id, ts, request_id, principal, auth_method, key_id, source_ip, api, method, path, operation, action, resource,
model, decision, status, error_code, input_tokens, output_tokens, latency_ms, prompt, checks FROM audit_log`

// Search returns the records of db's audit log matching f, newest first,
// one page at a time (keyset pagination on time and ID, so pages stay
// stable while new records arrive).
func Search(ctx context.Context, db *store.DB, f Filter) (Page, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 500 {
		f.Limit = 500
	}
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if f.Model != "" {
		add("model = ?", f.Model)
	}
	if f.Principal != "" {
		add("principal = ?", f.Principal)
	}
	switch {
	case f.StatusClass > 0:
		add("status >= ? AND status < ?", f.StatusClass*100, f.StatusClass*100+100)
	case f.Status > 0:
		add("status = ?", f.Status)
	}
	if !f.From.IsZero() {
		add("ts >= ?", f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		add("ts < ?", f.To.UnixMilli())
	}
	if f.Cursor != "" {
		ts, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return Page{}, err
		}
		add("(ts < ? OR (ts = ? AND id < ?))", ts, ts, id)
	}
	q := selectRecord
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY ts DESC, id DESC LIMIT ?"
	args = append(args, f.Limit+1)
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return Page{}, err
	}
	defer rows.Close()
	var p Page
	for rows.Next() {
		r, err := scanRecord(rows.Scan)
		if err != nil {
			return Page{}, err
		}
		p.Records = append(p.Records, r)
	}
	if err := rows.Err(); err != nil {
		return Page{}, err
	}
	if len(p.Records) > f.Limit {
		p.Records = p.Records[:f.Limit]
		last := p.Records[len(p.Records)-1]
		p.Next = encodeCursor(last.Time.UnixMilli(), last.ID)
	}
	return p, nil
}

// Get returns one record by ID; store.ErrNotFound when there is none.
func Get(ctx context.Context, db *store.DB, id string) (Record, error) {
	rows, err := db.Query(ctx, selectRecord+" WHERE id = ?", id)
	if err != nil {
		return Record{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Record{}, err
		}
		return Record{}, store.ErrNotFound
	}
	return scanRecord(rows.Scan)
}

func scanRecord(scan func(...any) error) (Record, error) {
	r := Record{Entry: &Entry{}}
	var ts int64
	e := r.Entry
	var checks string
	if err := scan(&r.ID, &ts, &e.RequestID, &e.Principal, &e.AuthMethod, &e.KeyID, &e.SourceIP, &e.API, &e.Method, &e.Path,
		&e.Operation, &e.Action, &e.Resource, &e.Model, &e.Decision, &e.Status, &e.ErrorCode, &e.InputTokens, &e.OutputTokens,
		&e.LatencyMs, &e.Prompt, &checks); err != nil {
		return Record{}, err
	}
	e.Checks = splitChecks(checks)
	e.Time = time.UnixMilli(ts).UTC()
	return r, nil
}

func encodeCursor(ts int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(ts, 10) + "|" + id))
}

func decodeCursor(c string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", ErrBadCursor
	}
	tsText, id, ok := strings.Cut(string(b), "|")
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if !ok || err != nil || id == "" || len(id) > 64 {
		return 0, "", ErrBadCursor
	}
	return ts, id, nil
}
