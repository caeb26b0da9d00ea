package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/store"
)

func init() {
	store.Register("auth",
		store.Migration{Version: 1, Name: "principals, keys, policies", SQL: `
CREATE TABLE auth_principals (
	name TEXT PRIMARY KEY,
	created_at BIGINT NOT NULL
);
CREATE TABLE auth_access_keys (
	id TEXT PRIMARY KEY,
	principal TEXT NOT NULL REFERENCES auth_principals (name) ON DELETE CASCADE,
	secret_sealed TEXT NOT NULL,
	status TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX auth_access_keys_principal ON auth_access_keys (principal);
CREATE TABLE auth_api_keys (
	id TEXT PRIMARY KEY,
	principal TEXT NOT NULL REFERENCES auth_principals (name) ON DELETE CASCADE,
	hash TEXT NOT NULL,
	status TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL DEFAULT 0,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX auth_api_keys_principal ON auth_api_keys (principal);
CREATE TABLE auth_policies (
	principal TEXT NOT NULL REFERENCES auth_principals (name) ON DELETE CASCADE,
	name TEXT NOT NULL,
	document TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (principal, name)
);
CREATE TABLE auth_generation (
	id BIGINT PRIMARY KEY,
	n BIGINT NOT NULL
);
INSERT INTO auth_generation (id, n) VALUES (1, 0);`},
	)
}

// Key statuses, as IAM names them.
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
	StatusRevoked  = "Revoked"
)

// Prefixes of generated IDs and API keys.
const (
	AccessKeyPrefix = "OCIA" // access-key IDs: OCIA + 16 base32 characters
	APIKeyIDPrefix  = "OCAK" // API-key IDs
	APIKeyPrefix    = "oc_"  // API keys: oc_<ApiKeyId>_<secret>
)

// Store keeps principals, credentials and policies in the embedded store.
// Every change bumps a generation counter that Authenticators poll to drop
// their caches.
type Store struct {
	db     *store.DB
	sealer *sealer
	now    func() time.Time
}

// NewStore returns a Store on db. encryptionKey (32 bytes) seals
// access-key secrets; see the package comment.
func NewStore(db *store.DB, encryptionKey []byte) (*Store, error) {
	s, err := newSealer(encryptionKey)
	if err != nil {
		return nil, fmt.Errorf("auth store: %w", err)
	}
	return &Store{db: db, sealer: s, now: time.Now}, nil
}

// PrincipalInfo describes a stored principal.
type PrincipalInfo struct {
	Name    string
	Created time.Time
}

// AccessKey is a newly created access key: the only time the secret is
// returned.
type AccessKey struct {
	AccessKeyID     string
	SecretAccessKey string
	Principal       string
	Status          string
	Created         time.Time
}

// AccessKeyInfo describes a stored access key, without its secret.
type AccessKeyInfo struct {
	AccessKeyID string
	Principal   string
	Status      string
	Created     time.Time
	Expires     time.Time // zero: never
}

// APIKeyInfo describes a stored API key, without the key.
type APIKeyInfo struct {
	APIKeyID  string
	Principal string
	Status    string
	Created   time.Time
	Expires   time.Time // zero: never
	Revoked   time.Time // zero: not revoked
}

// PolicyInfo is a policy attached to a principal.
type PolicyInfo struct {
	Name     string
	Document string
	Created  time.Time
}

// ErrInvalid is returned (wrapped) for bad names and documents.
var ErrInvalid = errors.New("invalid")

func (s *Store) bump(ctx context.Context, tx *store.Tx) error {
	_, err := tx.Exec(ctx, `UPDATE auth_generation SET n = n + 1 WHERE id = 1`)
	return err
}

// Generation returns the change counter of the auth tables.
func (s *Store) Generation(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT n FROM auth_generation WHERE id = 1`, nil, &n)
	return n, err
}

// AddPrincipal creates a principal; store.ErrConflict if it exists.
func (s *Store) AddPrincipal(ctx context.Context, name string) error {
	if !validName(name) {
		return fmt.Errorf("principal name %q: use 1-64 letters, digits and +=,.@_-: %w", name, ErrInvalid)
	}
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO auth_principals (name, created_at) VALUES (?, ?)`, name, s.now().UnixMilli()); err != nil {
			return fmt.Errorf("principal %s: %w", name, err)
		}
		return s.bump(ctx, tx)
	})
}

// DeletePrincipal removes a principal with its keys and policies.
func (s *Store) DeletePrincipal(ctx context.Context, name string) error {
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		for _, t := range []string{"auth_access_keys", "auth_api_keys", "auth_policies"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE principal = ?`, name); err != nil {
				return err
			}
		}
		res, err := tx.Exec(ctx, `DELETE FROM auth_principals WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if err := store.RowsAffected(res); err != nil {
			return fmt.Errorf("principal %s: %w", name, err)
		}
		return s.bump(ctx, tx)
	})
}

// Principals lists every principal by name.
func (s *Store) Principals(ctx context.Context) ([]PrincipalInfo, error) {
	rows, err := s.db.Query(ctx, `SELECT name, created_at FROM auth_principals ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PrincipalInfo
	for rows.Next() {
		var p PrincipalInfo
		var ms int64
		if err := rows.Scan(&p.Name, &ms); err != nil {
			return nil, err
		}
		p.Created = time.UnixMilli(ms).UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// CountPrincipals returns how many principals exist.
func (s *Store) CountPrincipals(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM auth_principals`, nil, &n)
	return n, err
}

func (s *Store) requirePrincipal(ctx context.Context, tx *store.Tx, name string) error {
	var n string
	if err := tx.QueryRow(ctx, `SELECT name FROM auth_principals WHERE name = ?`, []any{name}, &n); err != nil {
		return fmt.Errorf("principal %s: %w", name, err)
	}
	return nil
}

// CreateAccessKey creates an access key for principal. ttl > 0 makes it
// expire.
func (s *Store) CreateAccessKey(ctx context.Context, principal string, ttl time.Duration) (*AccessKey, error) {
	now := s.now()
	k := &AccessKey{AccessKeyID: newID(AccessKeyPrefix), SecretAccessKey: newSecret(30), Principal: principal, Status: StatusActive, Created: now.UTC().Truncate(time.Millisecond)}
	var exp int64
	if ttl > 0 {
		exp = now.Add(ttl).UnixMilli()
	}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := s.requirePrincipal(ctx, tx, principal); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO auth_access_keys (id, principal, secret_sealed, status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			k.AccessKeyID, principal, s.sealer.seal(k.AccessKeyID, k.SecretAccessKey), StatusActive, now.UnixMilli(), exp); err != nil {
			return err
		}
		return s.bump(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// ListAccessKeys lists principal's access keys.
func (s *Store) ListAccessKeys(ctx context.Context, principal string) ([]AccessKeyInfo, error) {
	var out []AccessKeyInfo
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := s.requirePrincipal(ctx, tx, principal); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, status, created_at, expires_at FROM auth_access_keys WHERE principal = ? ORDER BY created_at, id`, principal)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			k := AccessKeyInfo{Principal: principal}
			var c, e int64
			if err := rows.Scan(&k.AccessKeyID, &k.Status, &c, &e); err != nil {
				return err
			}
			k.Created, k.Expires = msTime(c), msTime(e)
			out = append(out, k)
		}
		return rows.Err()
	})
	return out, err
}

// SetAccessKeyStatus makes an access key Active or Inactive.
func (s *Store) SetAccessKeyStatus(ctx context.Context, principal, id, status string) error {
	if status != StatusActive && status != StatusInactive {
		return fmt.Errorf("status %q: %w", status, ErrInvalid)
	}
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE auth_access_keys SET status = ? WHERE principal = ? AND id = ?`, status, principal, id)
		if err != nil {
			return err
		}
		if err := store.RowsAffected(res); err != nil {
			return fmt.Errorf("access key %s of %s: %w", id, principal, err)
		}
		return s.bump(ctx, tx)
	})
}

// DeleteAccessKey deletes an access key.
func (s *Store) DeleteAccessKey(ctx context.Context, principal, id string) error {
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM auth_access_keys WHERE principal = ? AND id = ?`, principal, id)
		if err != nil {
			return err
		}
		if err := store.RowsAffected(res); err != nil {
			return fmt.Errorf("access key %s of %s: %w", id, principal, err)
		}
		return s.bump(ctx, tx)
	})
}

// accessKeySecret returns the principal, decrypted secret, status and
// expiry of an access key.
func (s *Store) accessKeySecret(ctx context.Context, id string) (principal, secret, status string, expires time.Time, err error) {
	var sealed string
	var e int64
	err = s.db.QueryRow(ctx, `SELECT principal, secret_sealed, status, expires_at FROM auth_access_keys WHERE id = ?`, []any{id}, &principal, &sealed, &status, &e)
	if err != nil {
		return "", "", "", time.Time{}, err
	}
	secret, err = s.sealer.open(id, sealed)
	return principal, secret, status, msTime(e), err
}

// CreateAPIKey creates an API key for principal and returns its info and
// the key itself, which is not stored and cannot be shown again. ttl > 0
// makes it expire.
func (s *Store) CreateAPIKey(ctx context.Context, principal string, ttl time.Duration) (*APIKeyInfo, string, error) {
	now := s.now()
	id := newID(APIKeyIDPrefix)
	secret := newSecret(32)
	info := &APIKeyInfo{APIKeyID: id, Principal: principal, Status: StatusActive, Created: now.UTC().Truncate(time.Millisecond)}
	var exp int64
	if ttl > 0 {
		exp = now.Add(ttl).UnixMilli()
		info.Expires = msTime(exp)
	}
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := s.requirePrincipal(ctx, tx, principal); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO auth_api_keys (id, principal, hash, status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			id, principal, hashKey(secret), StatusActive, now.UnixMilli(), exp); err != nil {
			return err
		}
		return s.bump(ctx, tx)
	})
	if err != nil {
		return nil, "", err
	}
	return info, APIKeyPrefix + id + "_" + secret, nil
}

// ListAPIKeys lists principal's API keys.
func (s *Store) ListAPIKeys(ctx context.Context, principal string) ([]APIKeyInfo, error) {
	var out []APIKeyInfo
	err := s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := s.requirePrincipal(ctx, tx, principal); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, status, created_at, expires_at, revoked_at FROM auth_api_keys WHERE principal = ? ORDER BY created_at, id`, principal)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			k := APIKeyInfo{Principal: principal}
			var c, e, r int64
			if err := rows.Scan(&k.APIKeyID, &k.Status, &c, &e, &r); err != nil {
				return err
			}
			k.Created, k.Expires, k.Revoked = msTime(c), msTime(e), msTime(r)
			out = append(out, k)
		}
		return rows.Err()
	})
	return out, err
}

// RevokeAPIKey revokes an API key. The row stays, for the record.
func (s *Store) RevokeAPIKey(ctx context.Context, principal, id string) error {
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE auth_api_keys SET status = ?, revoked_at = ? WHERE principal = ? AND id = ? AND status <> ?`,
			StatusRevoked, s.now().UnixMilli(), principal, id, StatusRevoked)
		if err != nil {
			return err
		}
		if err := store.RowsAffected(res); err != nil {
			return fmt.Errorf("active API key %s of %s: %w", id, principal, err)
		}
		return s.bump(ctx, tx)
	})
}

func (s *Store) apiKey(ctx context.Context, id string) (principal, hash, status string, expires time.Time, err error) {
	var e int64
	err = s.db.QueryRow(ctx, `SELECT principal, hash, status, expires_at FROM auth_api_keys WHERE id = ?`, []any{id}, &principal, &hash, &status, &e)
	return principal, hash, status, msTime(e), err
}

// AttachPolicy validates doc and attaches it to principal under name,
// replacing a policy of the same name.
func (s *Store) AttachPolicy(ctx context.Context, principal, name string, doc []byte) error {
	if !validName(name) {
		return fmt.Errorf("policy name %q: use 1-64 letters, digits and +=,.@_-: %w", name, ErrInvalid)
	}
	if _, err := ParsePolicy(doc); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		if err := s.requirePrincipal(ctx, tx, principal); err != nil {
			return err
		}
		q := tx.Dialect.Upsert("auth_policies", []string{"principal", "name", "document", "created_at"}, []string{"principal", "name"})
		if _, err := tx.Exec(ctx, q, principal, name, string(doc), s.now().UnixMilli()); err != nil {
			return err
		}
		return s.bump(ctx, tx)
	})
}

// DetachPolicy removes a policy from principal.
func (s *Store) DetachPolicy(ctx context.Context, principal, name string) error {
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM auth_policies WHERE principal = ? AND name = ?`, principal, name)
		if err != nil {
			return err
		}
		if err := store.RowsAffected(res); err != nil {
			return fmt.Errorf("policy %s of %s: %w", name, principal, err)
		}
		return s.bump(ctx, tx)
	})
}

// Policies returns principal's policies by name.
func (s *Store) Policies(ctx context.Context, principal string) ([]PolicyInfo, error) {
	rows, err := s.db.Query(ctx, `SELECT name, document, created_at FROM auth_policies WHERE principal = ? ORDER BY name`, principal)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PolicyInfo
	for rows.Next() {
		var p PolicyInfo
		var c int64
		if err := rows.Scan(&p.Name, &p.Document, &c); err != nil {
			return nil, err
		}
		p.Created = msTime(c)
		out = append(out, p)
	}
	return out, rows.Err()
}

// principalExists reports whether name is a principal.
func (s *Store) principalExists(ctx context.Context, name string) (bool, error) {
	var n string
	err := s.db.QueryRow(ctx, `SELECT name FROM auth_principals WHERE name = ?`, []any{name}, &n)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// splitAPIKey splits "oc_<id>_<secret>" into id and secret.
func splitAPIKey(token string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(token, APIKeyPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != len(APIKeyIDPrefix)+16 || !strings.HasPrefix(id, APIKeyIDPrefix) || len(secret) < 32 {
		return "", "", false
	}
	return id, secret, true
}
