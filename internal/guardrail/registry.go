package guardrail

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/store"
)

func init() {
	store.Register("guardrail",
		store.Migration{Version: 1, Name: "guardrails and versions", SQL: `CREATE TABLE guardrail_guardrails (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	last_version BIGINT NOT NULL,
	client_token TEXT NOT NULL,
	created_at TEXT NOT NULL
);
CREATE TABLE guardrail_versions (
	id TEXT NOT NULL,
	version TEXT NOT NULL,
	body TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (id, version)
)`},
	)
}

// Registry stores guardrails (a DRAFT plus immutable numbered versions) in
// the resource store and hands out compiled versions for evaluation. It is
// safe for concurrent use, also by several processes sharing the database
// (the CLI and a server): compiled versions are cached for CacheTTL, so a
// change made elsewhere is seen within that time.
type Registry struct {
	db      *store.DB
	region  string
	account string
	now     func() time.Time
	ttl     time.Duration

	// mu guards cache.
	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	c       *Compiled
	expires time.Time
}

// RegistryOptions configure a Registry.
type RegistryOptions struct {
	Region, AccountID string // in ARNs; us-east-1 and 000000000000 by default
	// CacheTTL bounds how long a compiled version is reused without
	// re-reading the store; default 2s.
	CacheTTL time.Duration
	Now      func() time.Time
}

// NewRegistry returns a registry over db.
func NewRegistry(db *store.DB, o RegistryOptions) *Registry {
	r := &Registry{db: db, region: o.Region, account: o.AccountID, now: o.Now, ttl: o.CacheTTL, cache: map[string]cached{}}
	if r.region == "" {
		r.region = "us-east-1"
	}
	if r.account == "" {
		r.account = "000000000000"
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.ttl == 0 {
		r.ttl = 2 * time.Second
	}
	return r
}

// ARN returns the ARN of guardrail id.
func (r *Registry) ARN(id string) string {
	return "arn:aws:bedrock:" + r.region + ":" + r.account + ":guardrail/" + id
}

// parseIdentifier accepts a guardrail ID or ARN.
func parseIdentifier(ident string) (string, error) {
	if i := strings.LastIndex(ident, ":guardrail/"); i >= 0 && strings.HasPrefix(ident, "arn:") {
		ident = ident[i+len(":guardrail/"):]
	}
	if ident == "" || len(ident) > 64 {
		return "", fieldErr("guardrailIdentifier", "Member must have length between 1 and 2048 and be a guardrail ID or ARN")
	}
	for i := 0; i < len(ident); i++ {
		if c := ident[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return "", notFound(ident)
		}
	}
	return ident, nil
}

// parseVersion accepts DRAFT or 1…99999999.
func parseVersion(v string) (string, error) {
	if v == "" || v == Draft {
		return Draft, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 99999999 || strconv.Itoa(n) != v {
		return "", fieldErr("guardrailVersion", "Member must satisfy regular expression pattern: (([1-9][0-9]{0,7})|(DRAFT))")
	}
	return v, nil
}

func notFound(ident string) error {
	return llm.Errorf(llm.KindNotFound, "The guardrail %s was not found.", ident)
}

func versionNotFound(id, v string) error {
	return llm.Errorf(llm.KindNotFound, "Version %s of guardrail %s was not found.", v, id)
}

func newID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [12]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Create validates d and stores it as the DRAFT of a new guardrail. A
// repeated request with the same clientRequestToken returns the guardrail
// created the first time; another guardrail with the same name is a
// ConflictException.
func (r *Registry) Create(ctx context.Context, d *Definition) (*Guardrail, error) {
	return r.create(ctx, d, newID())
}

func (r *Registry) create(ctx context.Context, d *Definition, id string) (*Guardrail, error) {
	if err := Validate(d); err != nil {
		return nil, err
	}
	now := r.now().UTC()
	if d.ClientRequestToken != "" {
		var id string
		err := r.db.QueryRow(ctx, `SELECT id FROM guardrail_guardrails WHERE client_token = ? AND name = ?`, []any{d.ClientRequestToken, d.Name}, &id)
		if err == nil {
			return r.Get(ctx, id, Draft)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	g := FromDefinition(d)
	g.GuardrailID = id
	g.GuardrailARN = r.ARN(g.GuardrailID)
	g.Version = Draft
	g.CreatedAt, g.UpdatedAt = now, now
	body, err := json.Marshal(g)
	if err != nil {
		return nil, err
	}
	err = r.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO guardrail_guardrails (id, name, last_version, client_token, created_at) VALUES (?, ?, 0, ?, ?)`,
			g.GuardrailID, g.Name, d.ClientRequestToken, ts(now)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO guardrail_versions (id, version, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			g.GuardrailID, Draft, string(body), ts(now), ts(now))
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, &llm.Error{Kind: llm.KindConflict, Message: fmt.Sprintf("A guardrail named %s already exists.", d.Name)}
	}
	if err != nil {
		return nil, fmt.Errorf("create guardrail: %w", err)
	}
	return g, nil
}

// ConfigID is the stable guardrail ID of a guardrail defined in
// configuration: "cfg" and nine base-36 digits of the SHA-256 of its name,
// so that clients can reference it across restarts and machines.
func ConfigID(name string) string {
	sum := sha256.Sum256([]byte("outcrop-guardrail:" + name))
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte("cfg")
	for i := 0; i < 9; i++ {
		b = append(b, alphabet[int(sum[i])%len(alphabet)])
	}
	return string(b)
}

// Ensure makes the DRAFT of the guardrail with ID ConfigID(d.Name) equal to
// d, creating it if needed; app calls it for guardrails defined in the
// configuration file. Numbered versions are left alone.
func (r *Registry) Ensure(ctx context.Context, d *Definition) (*Guardrail, error) {
	id := ConfigID(d.Name)
	g, err := r.Get(ctx, id, Draft)
	var le *llm.Error
	if errors.As(err, &le) && le.Kind == llm.KindNotFound {
		return r.create(ctx, d, id)
	}
	if err != nil {
		return nil, err
	}
	old, _ := json.Marshal(g.Definition())
	want := *d
	want.Tags, want.ClientRequestToken = nil, ""
	cur, _ := json.Marshal(FromDefinition(&want).Definition())
	if string(old) == string(cur) {
		return g, nil
	}
	return r.Update(ctx, id, d)
}

// Get returns one version of a guardrail (DRAFT when version is empty).
func (r *Registry) Get(ctx context.Context, ident, version string) (*Guardrail, error) {
	id, err := parseIdentifier(ident)
	if err != nil {
		return nil, err
	}
	v, err := parseVersion(version)
	if err != nil {
		return nil, err
	}
	var body string
	err = r.db.QueryRow(ctx, `SELECT body FROM guardrail_versions WHERE id = ? AND version = ?`, []any{id, v}, &body)
	if errors.Is(err, store.ErrNotFound) {
		if v == Draft {
			return nil, notFound(ident)
		}
		return nil, versionNotFound(id, v)
	}
	if err != nil {
		return nil, fmt.Errorf("get guardrail: %w", err)
	}
	var g Guardrail
	if err := json.Unmarshal([]byte(body), &g); err != nil {
		return nil, fmt.Errorf("decode guardrail %s/%s: %w", id, v, err)
	}
	return &g, nil
}

// Update validates d and replaces the DRAFT of a guardrail.
func (r *Registry) Update(ctx context.Context, ident string, d *Definition) (*Guardrail, error) {
	if err := Validate(d); err != nil {
		return nil, err
	}
	old, err := r.Get(ctx, ident, Draft)
	if err != nil {
		return nil, err
	}
	now := r.now().UTC()
	g := FromDefinition(d)
	g.GuardrailID, g.GuardrailARN, g.Version = old.GuardrailID, old.GuardrailARN, Draft
	g.CreatedAt, g.UpdatedAt = old.CreatedAt, now
	body, err := json.Marshal(g)
	if err != nil {
		return nil, err
	}
	err = r.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE guardrail_guardrails SET name = ? WHERE id = ?`, g.Name, g.GuardrailID); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE guardrail_versions SET body = ?, updated_at = ? WHERE id = ? AND version = ?`, string(body), ts(now), g.GuardrailID, Draft)
		if err != nil {
			return err
		}
		return store.RowsAffected(res)
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, &llm.Error{Kind: llm.KindConflict, Message: fmt.Sprintf("A guardrail named %s already exists.", d.Name)}
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound(ident)
	}
	if err != nil {
		return nil, fmt.Errorf("update guardrail: %w", err)
	}
	r.forget(g.GuardrailID, Draft)
	return g, nil
}

// CreateVersion freezes the current DRAFT as the next numbered version.
func (r *Registry) CreateVersion(ctx context.Context, ident, description string) (string, error) {
	if description != "" {
		if err := length("description", description, 1, 200); err != nil {
			return "", err
		}
	}
	draft, err := r.Get(ctx, ident, Draft)
	if err != nil {
		return "", err
	}
	now := r.now().UTC()
	var version string
	err = r.db.Tx(ctx, func(tx *store.Tx) error {
		var last int64
		if err := tx.QueryRow(ctx, `SELECT last_version FROM guardrail_guardrails WHERE id = ?`, []any{draft.GuardrailID}, &last); err != nil {
			return err
		}
		version = strconv.FormatInt(last+1, 10)
		g := *draft
		g.Version = version
		if description != "" {
			g.Description = description
		}
		g.CreatedAt, g.UpdatedAt = now, now
		body, err := json.Marshal(&g)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE guardrail_guardrails SET last_version = ? WHERE id = ?`, last+1, draft.GuardrailID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO guardrail_versions (id, version, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			draft.GuardrailID, version, string(body), ts(now), ts(now))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create guardrail version: %w", err)
	}
	return version, nil
}

// Delete deletes one numbered version, or, when version is empty, the whole
// guardrail with all its versions.
func (r *Registry) Delete(ctx context.Context, ident, version string) error {
	id, err := parseIdentifier(ident)
	if err != nil {
		return err
	}
	if version == Draft {
		return fieldErr("guardrailVersion", "the DRAFT version cannot be deleted on its own; delete the guardrail")
	}
	if version != "" {
		if _, err := parseVersion(version); err != nil {
			return err
		}
		res, err := r.db.Exec(ctx, `DELETE FROM guardrail_versions WHERE id = ? AND version = ?`, id, version)
		if err == nil {
			err = store.RowsAffected(res)
		}
		if errors.Is(err, store.ErrNotFound) {
			return versionNotFound(id, version)
		}
		r.forget(id, version)
		return err
	}
	err = r.db.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM guardrail_guardrails WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if err := store.RowsAffected(res); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM guardrail_versions WHERE id = ?`, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound(ident)
	}
	r.mu.Lock()
	for k := range r.cache {
		if strings.HasPrefix(k, id+"/") {
			delete(r.cache, k)
		}
	}
	r.mu.Unlock()
	return err
}

// Summary is one ListGuardrails entry.
type Summary struct {
	ID          string    `json:"id"`
	ARN         string    `json:"arn"`
	Status      string    `json:"status"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Version     string    `json:"version"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// List lists the DRAFT of every guardrail, or every version of one
// guardrail when ident is set, ordered by ID then version, after the
// position encoded in next (an opaque token List returned).
func (r *Registry) List(ctx context.Context, ident string, maxResults int, next string) ([]Summary, string, error) {
	if maxResults <= 0 || maxResults > 1000 {
		maxResults = 1000
	}
	after := 0
	if next != "" {
		n, err := strconv.Atoi(next)
		if err != nil || n < 0 {
			return nil, "", fieldErr("nextToken", "Member is not a valid pagination token")
		}
		after = n
	}
	q := `SELECT body FROM guardrail_versions WHERE version = ? ORDER BY id`
	args := []any{Draft}
	if ident != "" {
		id, err := parseIdentifier(ident)
		if err != nil {
			return nil, "", err
		}
		q = `SELECT body FROM guardrail_versions WHERE id = ? ORDER BY created_at, version`
		args = []any{id}
	}
	rows, err := r.db.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list guardrails: %w", err)
	}
	defer rows.Close()
	var all []Summary
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, "", err
		}
		var g Guardrail
		if err := json.Unmarshal([]byte(body), &g); err != nil {
			return nil, "", err
		}
		all = append(all, Summary{ID: g.GuardrailID, ARN: g.GuardrailARN, Status: g.Status, Name: g.Name,
			Description: g.Description, Version: g.Version, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt})
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	if after > len(all) {
		after = len(all)
	}
	end := min(after+maxResults, len(all))
	tok := ""
	if end < len(all) {
		tok = strconv.Itoa(end)
	}
	return all[after:end], tok, nil
}

// Compiled returns the compiled guardrail version, from the cache when it
// is fresh.
func (r *Registry) Compiled(ctx context.Context, ident, version string) (*Compiled, error) {
	id, err := parseIdentifier(ident)
	if err != nil {
		return nil, err
	}
	v, err := parseVersion(version)
	if err != nil {
		return nil, err
	}
	key := id + "/" + v
	now := r.now()
	r.mu.Lock()
	e, ok := r.cache[key]
	r.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.c, nil
	}
	g, err := r.Get(ctx, id, v)
	if err != nil {
		return nil, err
	}
	if ok && e.c.G.UpdatedAt.Equal(g.UpdatedAt) {
		e.expires = now.Add(r.ttl)
	} else {
		c, err := Compile(g)
		if err != nil {
			return nil, err
		}
		e = cached{c: c, expires: now.Add(r.ttl)}
	}
	r.mu.Lock()
	r.cache[key] = e
	r.mu.Unlock()
	return e.c, nil
}

func (r *Registry) forget(id, version string) {
	r.mu.Lock()
	delete(r.cache, id+"/"+version)
	r.mu.Unlock()
}
