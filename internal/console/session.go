package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/store"
)

func init() {
	store.Register("console",
		store.Migration{Version: 1, Name: "console sessions", SQL: `
CREATE TABLE console_sessions (
	id TEXT PRIMARY KEY,
	secret_hash TEXT NOT NULL,
	principal TEXT NOT NULL,
	method TEXT NOT NULL,
	key_id TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	revoked_at BIGINT NOT NULL DEFAULT 0,
	source_ip TEXT NOT NULL,
	user_agent TEXT NOT NULL
);
CREATE INDEX console_sessions_principal ON console_sessions (principal);`},
	)
}

// CookieName is the session cookie.
const CookieName = "outcrop_session"

// CSRFHeader carries the session's CSRF token on state-changing requests.
const CSRFHeader = "X-Outcrop-CSRF"

// sessionIDPrefix starts every session ID.
const sessionIDPrefix = "OCSS"

// Session is a stored console session. The cookie holds ID + "." + secret;
// only the secret's SHA-256 is stored, so the table cannot be replayed.
type Session struct {
	ID        string    `json:"sessionId"`
	Principal string    `json:"principal"`
	Method    string    `json:"authMethod"` // apikey or sigv4: the key it was made from
	KeyID     string    `json:"keyId"`
	Created   time.Time `json:"createdAt"`
	Expires   time.Time `json:"expiresAt"`
	Revoked   time.Time `json:"revokedAt,omitzero"`
	SourceIP  string    `json:"sourceIp"`
	UserAgent string    `json:"userAgent"`
}

// Sessions keeps console sessions in the store (table console_sessions), so
// every replica sharing the store accepts a session any of them issued and
// a revocation takes effect everywhere at once. It implements
// auth.SessionSource.
type Sessions struct {
	db  *store.DB
	ttl time.Duration
	// Now is the clock (time.Now); tests replace it before first use.
	Now func() time.Time
}

var _ auth.SessionSource = (*Sessions)(nil)

// NewSessions returns the session store on db; sessions last ttl (12h when
// ttl <= 0) from sign-in.
func NewSessions(db *store.DB, ttl time.Duration) *Sessions {
	if ttl <= 0 {
		ttl = 12 * time.Hour
	}
	return &Sessions{db: db, ttl: ttl, Now: time.Now}
}

// Create stores a new session for the principal and key and returns it
// with the cookie value.
func (s *Sessions) Create(ctx context.Context, p *auth.Principal, sourceIP, userAgent string) (*Session, string, error) {
	now := s.Now()
	secret := randomToken(32)
	sess := &Session{
		ID: newSessionID(), Principal: p.Name, Method: p.Method, KeyID: p.KeyID,
		Created: now.UTC().Truncate(time.Millisecond), Expires: now.Add(s.ttl).UTC().Truncate(time.Millisecond),
		SourceIP: sourceIP, UserAgent: truncate(userAgent, 256),
	}
	_, err := s.db.Exec(ctx, `INSERT INTO console_sessions (id, secret_hash, principal, method, key_id, created_at, expires_at, source_ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sess.ID, hashSecret(secret), sess.Principal, sess.Method, sess.KeyID, sess.Created.UnixMilli(), sess.Expires.UnixMilli(), sess.SourceIP, sess.UserAgent)
	if err != nil {
		return nil, "", fmt.Errorf("create console session: %w", err)
	}
	return sess, sess.ID + "." + secret, nil
}

// errNoSession is returned for a cookie that names no live session.
var errNoSession = &llm.Error{Kind: llm.KindUnauthenticated, Code: "UnrecognizedClientException",
	Message: "The console session has expired or was revoked; sign in again."}

// errCSRF is returned for a state-changing request without its token.
var errCSRF = &llm.Error{Kind: llm.KindAccessDenied, Message: "CSRF token missing or invalid"}

// Lookup returns the live session of a cookie value and its CSRF token.
func (s *Sessions) Lookup(ctx context.Context, cookie string) (*Session, string, error) {
	id, secret, ok := strings.Cut(cookie, ".")
	if !ok || !strings.HasPrefix(id, sessionIDPrefix) || len(id) != len(sessionIDPrefix)+16 || len(secret) < 32 || len(secret) > 64 {
		return nil, "", errNoSession
	}
	var sess Session
	var hash string
	var c, e, rv int64
	err := s.db.QueryRow(ctx, `SELECT secret_hash, principal, method, key_id, created_at, expires_at, revoked_at, source_ip, user_agent FROM console_sessions WHERE id = ?`,
		[]any{id}, &hash, &sess.Principal, &sess.Method, &sess.KeyID, &c, &e, &rv, &sess.SourceIP, &sess.UserAgent)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", errNoSession
	}
	if err != nil {
		return nil, "", &llm.Error{Kind: llm.KindInternal, Err: fmt.Errorf("look up console session: %w", err)}
	}
	if subtle.ConstantTimeCompare([]byte(hash), []byte(hashSecret(secret))) != 1 {
		return nil, "", errNoSession
	}
	sess.ID, sess.Created, sess.Expires, sess.Revoked = id, msTime(c), msTime(e), msTime(rv)
	if rv != 0 || !s.Now().Before(sess.Expires) {
		return nil, "", errNoSession
	}
	return &sess, csrfToken(secret), nil
}

// SessionCredential implements auth.SessionSource: the key behind r's
// session cookie, after checking the CSRF token of state-changing requests.
func (s *Sessions) SessionCredential(r *http.Request) (auth.SessionCredential, bool, error) {
	ck, err := r.Cookie(CookieName)
	if err != nil || ck.Value == "" {
		return auth.SessionCredential{}, false, nil
	}
	sess, csrf, err := s.Lookup(r.Context(), ck.Value)
	if err != nil {
		return auth.SessionCredential{}, true, err
	}
	if !safeMethod(r.Method) && !validCSRF(r.Header.Get(CSRFHeader), csrf) {
		return auth.SessionCredential{}, true, errCSRF
	}
	return auth.SessionCredential{Method: sess.Method, KeyID: sess.KeyID}, true, nil
}

// Revoke ends a session of principal (any principal's when principal is
// empty). store.ErrNotFound when there is no such live session.
func (s *Sessions) Revoke(ctx context.Context, principal, id string) error {
	q := `UPDATE console_sessions SET revoked_at = ? WHERE id = ? AND revoked_at = 0`
	args := []any{s.Now().UnixMilli(), id}
	if principal != "" {
		q += ` AND principal = ?`
		args = append(args, principal)
	}
	res, err := s.db.Exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if err := store.RowsAffected(res); err != nil {
		return fmt.Errorf("session %s: %w", id, err)
	}
	return nil
}

// RevokeAll ends every session of principal, e.g. when it is deleted.
func (s *Sessions) RevokeAll(ctx context.Context, principal string) error {
	_, err := s.db.Exec(ctx, `UPDATE console_sessions SET revoked_at = ? WHERE principal = ? AND revoked_at = 0`, s.Now().UnixMilli(), principal)
	return err
}

// List returns principal's sessions that have not expired, newest first,
// revoked ones included (for the record), at most 200.
func (s *Sessions) List(ctx context.Context, principal string) ([]Session, error) {
	rows, err := s.db.Query(ctx, `SELECT id, method, key_id, created_at, expires_at, revoked_at, source_ip, user_agent FROM console_sessions
		WHERE principal = ? AND expires_at > ? ORDER BY created_at DESC, id LIMIT 200`, principal, s.Now().UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Session{}
	for rows.Next() {
		ss := Session{Principal: principal}
		var c, e, rv int64
		if err := rows.Scan(&ss.ID, &ss.Method, &ss.KeyID, &c, &e, &rv, &ss.SourceIP, &ss.UserAgent); err != nil {
			return nil, err
		}
		ss.Created, ss.Expires, ss.Revoked = msTime(c), msTime(e), msTime(rv)
		out = append(out, ss)
	}
	return out, rows.Err()
}

// Prune deletes sessions that expired before cutoff.
func (s *Sessions) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at < ?`, cutoff.UnixMilli())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func validCSRF(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// csrfToken derives the session's CSRF token from its secret, so that it
// need not be stored and cannot be computed without the cookie.
func csrfToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("outcrop console csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func newSessionID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return sessionIDPrefix + base32.StdEncoding.EncodeToString(b)
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
