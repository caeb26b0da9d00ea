package auth

// The browser-session hook. The web console (internal/console) exchanges an
// API key or an access-key pair for a session cookie; requests carrying
// that cookie, and no Authorization header, are authenticated here as the
// key the session was made from: the same principal, the same policies, and
// the key's own status and expiry checked on every request, so revoking or
// expiring the key ends its sessions too. Sessions themselves (storage,
// expiry, revocation, CSRF) belong to the console; this file only asks it
// which key a request's session stands for.

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/store"
)

// SessionSource resolves the session a request carries to the credential
// the session was made from. internal/console implements it.
type SessionSource interface {
	// SessionCredential returns the credential behind r's session cookie.
	// ok is false when r carries no session cookie (authentication then
	// proceeds as without the hook). err, when ok, is an *llm.Error:
	// KindUnauthenticated for an unknown, expired or revoked session,
	// KindAccessDenied for a state-changing request without its CSRF token.
	SessionCredential(r *http.Request) (c SessionCredential, ok bool, err error)
}

// SessionCredential names the key a session was made from.
type SessionCredential struct {
	// Method is "apikey" or "sigv4", as Principal.Method.
	Method string
	// KeyID is the API-key or access-key ID.
	KeyID string
}

// authSession authenticates r by its session cookie. ok is false when r has
// none.
func (a *Authenticator) authSession(r *http.Request) (p *Principal, ok bool, err error) {
	c, ok, err := a.o.Sessions.SessionCredential(r)
	if !ok {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	p, err = a.keyPrincipal(r.Context(), c.Method, c.KeyID)
	return p, true, err
}

// keyPrincipal returns the principal of an existing, active, unexpired key,
// without its secret (the session proved possession at sign-in).
func (a *Authenticator) keyPrincipal(ctx context.Context, method, id string) (*Principal, error) {
	now := a.o.Now()
	switch method {
	case "sigv4":
		ak := a.accessKey(ctx, id)
		if ak.err != nil {
			if errors.Is(ak.err, store.ErrNotFound) {
				return nil, errUnrecognized("The session's access key no longer exists.")
			}
			return nil, &llm.Error{Kind: llm.KindInternal, Err: fmt.Errorf("look up access key %s: %w", id, ak.err)}
		}
		if ak.status != StatusActive || (!ak.expires.IsZero() && !now.Before(ak.expires)) {
			return nil, errUnrecognized("The session's access key is expired or inactive.")
		}
		return a.principal(ctx, ak.principal, "sigv4", id)
	case "apikey":
		e := a.apiKeyStatus(ctx, id)
		if e.err != nil {
			if errors.Is(e.err, store.ErrNotFound) {
				return nil, errUnrecognized("The session's API key no longer exists.")
			}
			return nil, &llm.Error{Kind: llm.KindInternal, Err: fmt.Errorf("look up API key %s: %w", id, e.err)}
		}
		if e.status != StatusActive || (!e.expires.IsZero() && !now.Before(e.expires)) {
			return nil, errUnrecognized("The session's API key has been revoked or has expired.")
		}
		return a.principal(ctx, e.principal, "apikey", id)
	}
	return nil, errUnrecognized("The session is invalid.")
}

// apiKeyStatus returns the principal, status and expiry of an API key from
// the cache that bearer authentication fills (valid for one store
// generation, so a revocation is seen within RefreshInterval), loading it
// on a miss.
func (a *Authenticator) apiKeyStatus(ctx context.Context, id string) *apiKeyEntry {
	a.mu.RLock()
	e, ok := a.apiKeys[id]
	gen := a.gen
	a.mu.RUnlock()
	if ok {
		return e
	}
	e = &apiKeyEntry{}
	var hash string
	e.principal, hash, e.status, e.expires, e.err = a.st.apiKey(ctx, id)
	if e.err == nil {
		if b, err := hex.DecodeString(hash); err == nil && len(b) == 32 {
			copy(e.hash[:], b)
		} else {
			e.err = errors.New("stored API key hash is malformed")
		}
	}
	if e.err == nil || errors.Is(e.err, store.ErrNotFound) {
		a.mu.Lock()
		if a.gen == gen { // see accessKey
			if len(a.apiKeys) >= maxCacheEntries {
				a.apiKeys = map[string]*apiKeyEntry{}
			}
			a.apiKeys[id] = e
		}
		a.mu.Unlock()
	}
	return e
}

// SignInAPIKey checks an API key as a bearer request would and returns its
// principal, for exchanging it for a session.
func (a *Authenticator) SignInAPIKey(ctx context.Context, key string) (*Principal, error) {
	return a.authBearer(ctx, key)
}

// SignInAccessKey checks an access-key pair (the secret compared in
// constant time with the stored one) and returns its principal, for
// exchanging it for a session.
func (a *Authenticator) SignInAccessKey(ctx context.Context, id, secret string) (*Principal, error) {
	if id == "" || secret == "" {
		return nil, errUnrecognized("The security token included in the request is invalid.")
	}
	ak := a.accessKey(ctx, id)
	if ak.err != nil {
		if errors.Is(ak.err, store.ErrNotFound) {
			return nil, errUnrecognized("The security token included in the request is invalid.")
		}
		return nil, &llm.Error{Kind: llm.KindInternal, Err: fmt.Errorf("look up access key %s: %w", id, ak.err)}
	}
	if subtle.ConstantTimeCompare([]byte(ak.secret), []byte(secret)) != 1 {
		return nil, errUnrecognized("The security token included in the request is invalid.")
	}
	if ak.status != StatusActive || (!ak.expires.IsZero() && !a.o.Now().Before(ak.expires)) {
		return nil, errUnrecognized("The security token included in the request is expired or inactive.")
	}
	return a.principal(ctx, ak.principal, "sigv4", id)
}

// OpenMode reports whether requests are currently served in development
// mode (no principal exists and the server was allowed to run open).
func (a *Authenticator) OpenMode(ctx context.Context) bool { return a.open(ctx) }

// Store returns the store of principals, keys and policies the
// authenticator reads, for the admin API.
func (a *Authenticator) Store() *Store { return a.st }
