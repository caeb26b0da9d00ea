package resource

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/store"
)

func init() {
	store.Register("resource",
		store.Migration{Version: 1, Name: "resource heads and items", SQL: `CREATE TABLE resource_heads (
	account TEXT NOT NULL,
	kind TEXT NOT NULL,
	parent TEXT NOT NULL,
	id TEXT NOT NULL,
	name TEXT,
	last_version BIGINT NOT NULL,
	client_token TEXT,
	created_at TEXT NOT NULL,
	PRIMARY KEY (account, kind, parent, id)
);
CREATE UNIQUE INDEX resource_heads_name ON resource_heads (account, kind, parent, name);
CREATE UNIQUE INDEX resource_heads_token ON resource_heads (account, kind, parent, client_token);
CREATE TABLE resource_items (
	account TEXT NOT NULL,
	kind TEXT NOT NULL,
	parent TEXT NOT NULL,
	id TEXT NOT NULL,
	version TEXT NOT NULL,
	vnum BIGINT NOT NULL,
	name TEXT NOT NULL,
	body TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (account, kind, parent, id, vnum)
)`},
	)
}

// Key names one resource: its account, its kind ("agent", "agent-alias",
// "prompt", …), the path of the resource that owns it ("" for top-level
// resources, the agent's ID for an alias, "<agentId>/DRAFT" for an action
// group of the agent's DRAFT) and its ID.
type Key struct {
	Account string
	Kind    string
	Parent  string
	ID      string
}

// path is the Parent value of the key's children.
func (k Key) path() string {
	if k.Parent == "" {
		return k.ID
	}
	return k.Parent + "/" + k.ID
}

// Item is one stored version of a resource.
type Item struct {
	Key
	// Version is Draft or "1", "2", ….
	Version string
	// Name is the resource's name, unique among the DRAFTs of its account,
	// kind and parent; empty for unnamed items.
	Name string
	// Body is the domain package's JSON document.
	Body json.RawMessage
	// CreatedAt is when this version was created, UpdatedAt when it last
	// changed (numbered versions never change).
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Decode unmarshals the item's body into a new T.
func Decode[T any](it *Item) (*T, error) {
	var v T
	if err := json.Unmarshal(it.Body, &v); err != nil {
		return nil, fmt.Errorf("decode %s %s/%s: %w", it.Kind, it.ID, it.Version, err)
	}
	return &v, nil
}

// Store keeps resources in the shared database. It is safe for concurrent
// use, also by several processes sharing the database.
type Store struct {
	db    *store.DB
	scope Scope
	now   func() time.Time
}

// NewStore returns a store over db; now may be nil (time.Now).
func NewStore(db *store.DB, scope Scope, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, scope: scope.withDefaults(), now: now}
}

// Scope returns the store's scope, for ARNs.
func (s *Store) Scope() Scope { return s.scope }

// Now returns the store's clock reading in UTC, truncated to milliseconds
// (what the timestamps it stores keep).
func (s *Store) Now() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// DB returns the underlying database, for domain tables beside the
// generic ones.
func (s *Store) DB() *store.DB { return s.db }

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTS(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func notFoundKey(k Key) error {
	return NotFound("The %s %s was not found.", k.Kind, k.ID)
}

// Create stores body as the DRAFT of a new resource with key k (k.ID is
// generated with NewID when empty) and returns it. With a clientToken, a
// repeated request returns what the first one created. A second DRAFT with
// the same non-empty name under the same account, kind and parent is
// ConflictException. body may be a json.RawMessage or any value that
// marshals to JSON.
func (s *Store) Create(ctx context.Context, k Key, name, clientToken string, body any) (*Item, error) {
	if k.ID == "" {
		k.ID = NewID()
	}
	raw, err := marshal(body)
	if err != nil {
		return nil, err
	}
	if clientToken != "" {
		var id string
		err := s.db.QueryRow(ctx, `SELECT id FROM resource_heads WHERE account = ? AND kind = ? AND parent = ? AND client_token = ?`,
			[]any{k.Account, k.Kind, k.Parent, clientToken}, &id)
		if err == nil {
			k.ID = id
			return s.Get(ctx, k, Draft)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("create %s: %w", k.Kind, err)
		}
	}
	now := s.Now()
	it := &Item{Key: k, Version: Draft, Name: name, Body: raw, CreatedAt: now, UpdatedAt: now}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO resource_heads (account, kind, parent, id, name, last_version, client_token, created_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)`,
			k.Account, k.Kind, k.Parent, k.ID, nullable(name), nullable(clientToken), ts(now)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO resource_items (account, kind, parent, id, version, vnum, name, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`,
			k.Account, k.Kind, k.Parent, k.ID, Draft, name, string(raw), ts(now), ts(now))
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		if name != "" {
			return nil, Conflict("A %s named %s already exists.", k.Kind, name)
		}
		return nil, Conflict("A %s with ID %s already exists.", k.Kind, k.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", k.Kind, err)
	}
	return it, nil
}

func marshal(body any) (json.RawMessage, error) {
	switch b := body.(type) {
	case json.RawMessage:
		if !json.Valid(b) {
			return nil, errors.New("resource body is not valid JSON")
		}
		return b, nil
	case nil:
		return json.RawMessage("{}"), nil
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode resource body: %w", err)
	}
	return raw, nil
}

const itemCols = `account, kind, parent, id, version, name, body, created_at, updated_at`

func scanItem(sc interface{ Scan(...any) error }) (*Item, error) {
	var it Item
	var body, c, u string
	if err := sc.Scan(&it.Account, &it.Kind, &it.Parent, &it.ID, &it.Version, &it.Name, &body, &c, &u); err != nil {
		return nil, err
	}
	it.Body = json.RawMessage(body)
	it.CreatedAt, it.UpdatedAt = parseTS(c), parseTS(u)
	return &it, nil
}

// Get returns one version of the resource (DRAFT when version is "").
// A missing resource or version is ResourceNotFoundException.
func (s *Store) Get(ctx context.Context, k Key, version string) (*Item, error) {
	v, err := ParseVersion("version", version)
	if err != nil {
		return nil, err
	}
	return s.get(ctx, s.db, k, v, false)
}

// rowQuerier is *store.DB or *store.Tx.
type rowQuerier interface {
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func isAPIError(err error) bool {
	var e *llm.Error
	return errors.As(err, &e)
}

func (s *Store) get(ctx context.Context, q rowQuerier, k Key, v string, lock bool) (*Item, error) {
	query := `SELECT ` + itemCols + ` FROM resource_items WHERE account = ? AND kind = ? AND parent = ? AND id = ? AND vnum = ?`
	if lock && s.db.Dialect == store.Postgres {
		query += ` FOR UPDATE`
	}
	rows, err := q.Query(ctx, query, k.Account, k.Kind, k.Parent, k.ID, versionNumber(v))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", k.Kind, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("get %s: %w", k.Kind, err)
		}
		if v != Draft {
			return nil, NotFound("Version %s of %s %s was not found.", v, k.Kind, k.ID)
		}
		return nil, notFoundKey(k)
	}
	it, err := scanItem(rows)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", k.Kind, err)
	}
	return it, rows.Err()
}

// Update changes the DRAFT of a resource: fn receives the stored DRAFT and
// may change its Name and Body; the result is written with a new UpdatedAt
// in the same transaction, so concurrent updates do not lose each other's
// changes. An error from fn aborts the update and is returned as is.
func (s *Store) Update(ctx context.Context, k Key, fn func(it *Item) error) (*Item, error) {
	var out *Item
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		it, err := s.get(ctx, tx, k, Draft, true)
		if err != nil {
			return err
		}
		if err := fn(it); err != nil {
			return err
		}
		it.Key, it.Version = k, Draft
		it.UpdatedAt = s.Now()
		raw, err := marshal(it.Body)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE resource_heads SET name = ? WHERE account = ? AND kind = ? AND parent = ? AND id = ?`,
			nullable(it.Name), k.Account, k.Kind, k.Parent, k.ID); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return Conflict("A %s named %s already exists.", k.Kind, it.Name)
			}
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE resource_items SET name = ?, body = ?, updated_at = ? WHERE account = ? AND kind = ? AND parent = ? AND id = ? AND vnum = 0`,
			it.Name, string(raw), ts(it.UpdatedAt), k.Account, k.Kind, k.Parent, k.ID); err != nil {
			return err
		}
		out = it
		return nil
	})
	if err != nil {
		return nil, wrap("update", k, err)
	}
	return out, nil
}

// wrap keeps *llm.Error values (they already say what went wrong) and adds
// context to store errors.
func wrap(op string, k Key, err error) error {
	if isAPIError(err) {
		return err
	}
	return fmt.Errorf("%s %s %s: %w", op, k.Kind, k.ID, err)
}

// CreateVersion freezes the current DRAFT as the next numbered version
// ("1", then "2", …; numbers are never reused, even after a version is
// deleted). fn, when not nil, may adjust the copy's Body (to set its
// version field) before it is stored.
func (s *Store) CreateVersion(ctx context.Context, k Key, fn func(it *Item) error) (*Item, error) {
	var out *Item
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		q := `SELECT last_version FROM resource_heads WHERE account = ? AND kind = ? AND parent = ? AND id = ?`
		if s.db.Dialect == store.Postgres {
			q += ` FOR UPDATE`
		}
		var last int64
		if err := tx.QueryRow(ctx, q, []any{k.Account, k.Kind, k.Parent, k.ID}, &last); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFoundKey(k)
			}
			return err
		}
		it, err := s.get(ctx, tx, k, Draft, false)
		if err != nil {
			return err
		}
		n := last + 1
		it.Version = strconv.FormatInt(n, 10)
		now := s.Now()
		it.CreatedAt, it.UpdatedAt = now, now
		if fn != nil {
			if err := fn(it); err != nil {
				return err
			}
		}
		raw, err := marshal(it.Body)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE resource_heads SET last_version = ? WHERE account = ? AND kind = ? AND parent = ? AND id = ?`,
			n, k.Account, k.Kind, k.Parent, k.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO resource_items (account, kind, parent, id, version, vnum, name, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.Account, k.Kind, k.Parent, k.ID, it.Version, n, it.Name, string(raw), ts(now), ts(now)); err != nil {
			return err
		}
		out = it
		return nil
	})
	if err != nil {
		return nil, wrap("create version of", k, err)
	}
	return out, nil
}

// Delete deletes a resource with all its versions and every item below it
// (items whose Parent is the resource's path or starts with it and "/").
func (s *Store) Delete(ctx context.Context, k Key) error {
	p := k.path()
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM resource_heads WHERE account = ? AND kind = ? AND parent = ? AND id = ?`, k.Account, k.Kind, k.Parent, k.ID)
		if err != nil {
			return err
		}
		if err := store.RowsAffected(res); err != nil {
			return notFoundKey(k)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM resource_items WHERE account = ? AND kind = ? AND parent = ? AND id = ?`, k.Account, k.Kind, k.Parent, k.ID); err != nil {
			return err
		}
		for _, table := range []string{"resource_heads", "resource_items"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE account = ? AND (parent = ? OR parent LIKE ?)`, k.Account, p, p+"/%"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return wrap("delete", k, err)
	}
	return nil
}

// DeleteVersion deletes one numbered version. The DRAFT cannot be deleted
// on its own (ValidationException); delete the resource instead.
func (s *Store) DeleteVersion(ctx context.Context, k Key, version string) error {
	v, err := ParseVersion("version", version)
	if err != nil {
		return err
	}
	if v == Draft {
		return Invalid("version", "the DRAFT version cannot be deleted on its own; delete the resource")
	}
	res, err := s.db.Exec(ctx, `DELETE FROM resource_items WHERE account = ? AND kind = ? AND parent = ? AND id = ? AND vnum = ?`,
		k.Account, k.Kind, k.Parent, k.ID, versionNumber(v))
	if err == nil {
		err = store.RowsAffected(res)
	}
	if errors.Is(err, store.ErrNotFound) {
		return NotFound("Version %s of %s %s was not found.", v, k.Kind, k.ID)
	}
	if err != nil {
		return wrap("delete version of", k, err)
	}
	return nil
}

// ListQuery selects what List returns.
type ListQuery struct {
	Account, Kind, Parent string
	// ID, when set, lists every version of that resource (DRAFT first,
	// then by number); otherwise List returns the DRAFT of every resource
	// of the kind under Parent, ordered by ID.
	ID string
	// NumberedOnly leaves out the DRAFT when listing versions.
	NumberedOnly bool
	Page         Page
}

// List returns one page of items and the token of the next page ("" after
// the last). Tokens are positions (the last item's key), so a page is
// neither repeated nor skipped when items are added or deleted between
// calls. Listing the versions of a resource that does not exist is
// ResourceNotFoundException.
func (s *Store) List(ctx context.Context, q ListQuery) ([]*Item, string, error) {
	if err := q.Page.Validate(); err != nil {
		return nil, "", err
	}
	var after cursor
	started := q.Page.NextToken != ""
	if started {
		c, err := decodeCursor(q.Page.NextToken)
		if err != nil {
			return nil, "", err
		}
		after = c
	}
	size := q.Page.size()
	var sqlq string
	var args []any
	if q.ID == "" {
		sqlq = `SELECT ` + itemCols + ` FROM resource_items WHERE account = ? AND kind = ? AND parent = ? AND vnum = 0 AND id > ? ORDER BY id LIMIT ?`
		args = []any{q.Account, q.Kind, q.Parent, after.ID, size + 1}
	} else {
		k := Key{Account: q.Account, Kind: q.Kind, Parent: q.Parent, ID: q.ID}
		var n int
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM resource_heads WHERE account = ? AND kind = ? AND parent = ? AND id = ?`,
			[]any{k.Account, k.Kind, k.Parent, k.ID}, &n); err != nil {
			return nil, "", wrap("list versions of", k, err)
		}
		if n == 0 {
			return nil, "", notFoundKey(k)
		}
		lo := int64(-1)
		if started {
			lo = after.V
		}
		if q.NumberedOnly && lo < 0 {
			lo = 0
		}
		sqlq = `SELECT ` + itemCols + ` FROM resource_items WHERE account = ? AND kind = ? AND parent = ? AND id = ? AND vnum > ? ORDER BY vnum LIMIT ?`
		args = []any{q.Account, q.Kind, q.Parent, q.ID, lo, size + 1}
	}
	rows, err := s.db.Query(ctx, sqlq, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list %s: %w", q.Kind, err)
	}
	defer rows.Close()
	var out []*Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list %s: %w", q.Kind, err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list %s: %w", q.Kind, err)
	}
	next := ""
	if len(out) > size {
		out = out[:size]
		last := out[size-1]
		next = encodeCursor(cursor{ID: last.ID, V: versionNumber(last.Version)})
	}
	return out, next, nil
}
