// Package auth decides who a caller is and what it may do: principals,
// their credentials (AWS-style access keys verified with SigV4, and bearer
// API keys), and IAM-shaped policies evaluated on every operation.
//
// # Credentials
//
// Principals, access keys, API keys and attached policies live in the
// embedded store (tables auth_*), so the `outcrop auth …` commands and every
// server replica sharing the store see the same state. Secrets are handled
// as follows:
//
//   - Access-key secrets must be available in clear to verify SigV4
//     signatures (the signature is an HMAC keyed by the secret). They are
//     encrypted at rest with AES-256-GCM under a key that is not in the
//     database: the file <home>/auth.key (created with mode 0600 on first
//     use) or the key given in configuration (auth.encryption_key, a secret
//     reference such as env:OUTCROP_AUTH_KEY: 32 bytes, base64). Replicas
//     sharing a PostgreSQL store must share this key. The key ID is the
//     GCM additional data, so a ciphertext cannot be moved to another key.
//   - API keys are shown once, at creation, and stored only as a SHA-256
//     hash. A slow password hash is unnecessary because the keys carry 256
//     random bits; a fast hash keeps authentication in microseconds.
//
// Secrets never appear in logs, errors or metrics: errors name the key ID
// at most, and types holding secrets do not implement fmt.Stringer with
// their values.
//
// # Authentication and authorization
//
// Authenticator.Middleware authenticates each HTTP request and stores the
// Principal in the request context (PrincipalFrom). Authorization happens
// later, where the operation and resource are known: Stage does it for the
// inference pipeline, Authenticator.Check for control-plane handlers.
// Lookups are cached in memory and invalidated when any process changes
// the auth tables (a generation counter polled every RefreshInterval), so a
// revoked key stops working within about a second on every replica.
//
// # Development mode
//
// OpenDecision decides at startup whether a server with no principals may
// run open (every request allowed as the anonymous principal): yes on a
// loopback listener, and on other addresses only when explicitly allowed.
// As soon as a principal exists, authentication is enforced.
package auth

import (
	"context"
	"strings"
)

// Principal is an authenticated caller.
type Principal struct {
	// Name is the principal's name, unique in the store.
	Name string
	// ARN is arn:aws:iam::<account>:user/<name>, used in policy conditions
	// and AccessDenied messages.
	ARN string
	// Method is how the request was authenticated: "sigv4", "apikey" or
	// "open" (development mode).
	Method string
	// KeyID is the access-key ID or API-key ID used; empty in open mode.
	KeyID string
	// SourceIP is the client address (for aws:SourceIp conditions).
	SourceIP string
	// SecureTransport reports whether the request came over TLS.
	SecureTransport bool

	// policies are the principal's compiled policies, shared read-only.
	policies []*Policy
	// conditional reports whether any statement has a Condition, so that
	// condition keys are computed only when some policy reads them.
	conditional bool
	// open means development mode: every action is allowed.
	open bool
}

// Open reports whether the principal is the development-mode anonymous
// caller, to whom everything is allowed.
func (p *Principal) Open() bool { return p != nil && p.open }

// Anonymous is the principal of requests served in development mode.
func Anonymous() *Principal {
	return &Principal{Name: "anonymous", ARN: "arn:aws:iam::000000000000:user/anonymous", Method: "open", open: true}
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal authenticated for the request
// carrying ctx.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// UserARN returns the ARN of the named principal in account.
func UserARN(account, name string) string {
	if account == "" {
		account = "000000000000"
	}
	return "arn:aws:iam::" + account + ":user/" + name
}

// validName reports whether name can name a principal or a policy: 1–64
// letters, digits and +=,.@_- as IAM allows.
func validName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("+=,.@_-", c) >= 0:
		default:
			return false
		}
	}
	return true
}
