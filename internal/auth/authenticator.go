package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/store"
)

// Options configure an Authenticator.
type Options struct {
	// Logger receives warnings; secrets are never logged.
	Logger *slog.Logger
	// AccountID appears in principal ARNs. Default 000000000000.
	AccountID string
	// Regions are the SigV4 credential-scope regions accepted; empty
	// accepts any (the region is covered by the signature either way).
	Regions []string
	// ClockSkew is how far X-Amz-Date may be from the server's clock.
	// Default 5m, as AWS.
	ClockSkew time.Duration
	// DenyUnsignedPayload refuses SigV4 requests whose
	// x-amz-content-sha256 is UNSIGNED-PAYLOAD (their body is not covered
	// by the signature). Default false: the SDKs may send it.
	DenyUnsignedPayload bool
	// MaxBodyBytes bounds the body read to hash SigV4 payloads. Default 25 MiB.
	MaxBodyBytes int64
	// Open serves every request as the anonymous principal while no
	// principal exists (development mode; see OpenDecision).
	Open bool
	// RefreshInterval is how often the auth tables' change counter is
	// polled to drop cached credentials and policies. Default 1s.
	RefreshInterval time.Duration
	// WriteError writes an authentication failure in the API's error
	// shape; the API layer (httpapi) supplies it, so that each API has one
	// error mapping. Nil writes a bare status and the message as text,
	// which no SDK parses: set it outside tests.
	WriteError func(w http.ResponseWriter, r *http.Request, err error)
	// OnResult, if set, is told the outcome of every authentication (for
	// the audit log): p is nil when err is not.
	OnResult func(r *http.Request, p *Principal, err error)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Sessions, if set, authenticates requests that carry a console session
	// cookie and no credentials of their own (session.go).
	Sessions SessionSource
}

// Authenticator authenticates requests and authorizes operations against
// the principals and policies in a Store, caching them in memory.
type Authenticator struct {
	st   *Store
	o    Options
	log  *slog.Logger
	stop chan struct{}
	done chan struct{}

	// mu guards the fields below. Cache entries are valid for generation
	// gen; when the store's generation moves, the caches are dropped.
	mu         sync.RWMutex
	gen        int64
	principals map[string]*principalEntry
	accessKeys map[string]*accessKeyEntry
	apiKeys    map[string]*apiKeyEntry
	signing    map[signingKeyID][]byte
	count      int // principals in the store; -1 unknown
}

type principalEntry struct {
	p   *Principal // template; copied per request
	err error      // e.g. store.ErrNotFound, cached too
}

type accessKeyEntry struct {
	principal string
	secret    string
	status    string
	expires   time.Time
	err       error
}

type apiKeyEntry struct {
	principal string
	hash      [32]byte
	status    string
	expires   time.Time
	err       error
}

type signingKeyID struct{ akid, date, region, service string }

// maxCacheEntries bounds each cache, so that floods of unknown key IDs
// cannot grow memory without limit; a full cache is simply dropped.
const maxCacheEntries = 100_000

// New returns an Authenticator and starts its refresh loop, which runs
// until Close.
func New(st *Store, o Options) *Authenticator {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ClockSkew <= 0 {
		o.ClockSkew = 5 * time.Minute
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 25 << 20
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = time.Second
	}
	if o.WriteError == nil {
		o.WriteError = plainError
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &Authenticator{st: st, o: o, log: o.Logger.With("component", "auth"), stop: make(chan struct{}), done: make(chan struct{}), count: -1}
	a.reset(-1)
	go a.refreshLoop() // ends when Close closes a.stop
	return a
}

// Close stops the refresh loop. It is safe to call more than once.
func (a *Authenticator) Close() error {
	select {
	case <-a.stop:
	default:
		close(a.stop)
	}
	<-a.done
	return nil
}

func (a *Authenticator) refreshLoop() {
	defer close(a.done)
	t := time.NewTicker(a.o.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			a.Refresh(context.Background())
		}
	}
}

// Refresh polls the store's change counter now and drops the caches if it
// moved.
func (a *Authenticator) Refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	g, err := a.st.Generation(ctx)
	if err != nil {
		a.log.Warn("auth refresh failed; keeping cached credentials", "error", err)
		return
	}
	a.mu.RLock()
	same := g == a.gen
	a.mu.RUnlock()
	if !same {
		a.reset(g)
	}
}

func (a *Authenticator) reset(gen int64) {
	a.mu.Lock()
	a.gen = gen
	a.principals = map[string]*principalEntry{}
	a.accessKeys = map[string]*accessKeyEntry{}
	a.apiKeys = map[string]*apiKeyEntry{}
	a.signing = map[signingKeyID][]byte{}
	a.count = -1
	a.mu.Unlock()
}

// open reports whether requests are currently served in development mode.
func (a *Authenticator) open(ctx context.Context) bool {
	if !a.o.Open {
		return false
	}
	a.mu.RLock()
	n, gen := a.count, a.gen
	a.mu.RUnlock()
	if n < 0 {
		c, err := a.st.CountPrincipals(ctx)
		if err != nil {
			a.log.Warn("counting principals failed; refusing open access", "error", err)
			return false
		}
		a.mu.Lock()
		if a.gen == gen { // see accessKey
			a.count = c
		}
		a.mu.Unlock()
		n = c
	}
	return n == 0
}

// Errors, shaped as the AWS services send them; the HTTP layer maps Kind to
// 403 (Bedrock) or 401 (OpenAI).
func errMissingToken() error {
	return &llm.Error{Kind: llm.KindUnauthenticated, Code: "MissingAuthenticationTokenException", Message: "Missing Authentication Token"}
}

func errUnrecognized(msg string) error {
	return &llm.Error{Kind: llm.KindUnauthenticated, Code: "UnrecognizedClientException", Message: msg}
}

func errSignature(msg string) error {
	return &llm.Error{Kind: llm.KindUnauthenticated, Code: "InvalidSignatureException", Message: msg}
}

const msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

// Authenticate identifies the caller of r. For SigV4 requests it reads and
// hashes the body, then replaces r.Body with a re-readable copy (and sets
// r.GetBody), so handlers read it as usual.
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	h := r.Header.Get("Authorization")
	var p *Principal
	var err error
	var session bool
	if h == "" && r.Header.Get("X-Api-Key") == "" && a.o.Sessions != nil {
		p, session, err = a.authSession(r)
	}
	switch {
	case session: // the console session cookie decided (session.go)
	case strings.HasPrefix(h, sigV4Algorithm):
		p, err = a.authSigV4(r, h)
	case len(h) > 7 && strings.EqualFold(h[:7], "Bearer "):
		p, err = a.authBearer(r.Context(), strings.TrimSpace(h[7:]))
	case h == "" && r.Header.Get("X-Api-Key") != "":
		// Anthropic-style clients send the key in x-api-key.
		p, err = a.authBearer(r.Context(), strings.TrimSpace(r.Header.Get("X-Api-Key")))
	case h == "":
		if a.open(r.Context()) {
			return Anonymous(), nil
		}
		if r.URL.Query().Get("X-Amz-Algorithm") != "" {
			return nil, errUnrecognized("Presigned URLs are not supported; sign the Authorization header.")
		}
		return nil, errMissingToken()
	default:
		return nil, errUnrecognized("The Authorization header is neither AWS4-HMAC-SHA256 nor Bearer.")
	}
	if err != nil {
		// In development mode, a request carrying credentials that do not
		// exist (e.g. the SDK's dummy keys) is still served open.
		if a.open(r.Context()) {
			return Anonymous(), nil
		}
		return nil, err
	}
	p.SourceIP = clientIP(r)
	p.SecureTransport = r.TLS != nil
	return p, nil
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (a *Authenticator) authSigV4(r *http.Request, h string) (*Principal, error) {
	sig, err := ParseSigV4(h)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindUnauthenticated, Code: "IncompleteSignatureException", Message: err.Error()}
	}
	if sig.Service != "bedrock" {
		return nil, errSignature(fmt.Sprintf("Credential should be scoped to correct service: 'bedrock', not '%s'.", sig.Service))
	}
	if len(a.o.Regions) > 0 && !slices.Contains(a.o.Regions, sig.Region) {
		return nil, errSignature(fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", sig.Region))
	}
	if !slices.Contains(sig.SignedHeaders, "host") && !slices.Contains(sig.SignedHeaders, ":authority") {
		return nil, errSignature("'Host' or ':authority' must be a signed header.")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return nil, &llm.Error{Kind: llm.KindUnauthenticated, Code: "IncompleteSignatureException", Message: "Authorization header requires existence of the 'X-Amz-Date' header."}
	}
	t, err := parseAmzDate(amzDate)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindUnauthenticated, Code: "IncompleteSignatureException", Message: "X-Amz-Date must be in the form yyyymmddThhmmssZ."}
	}
	if amzDate[:8] != sig.Date {
		return nil, errSignature("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.")
	}
	now := a.o.Now()
	if d := now.Sub(t); d > a.o.ClockSkew || d < -a.o.ClockSkew {
		layout := "20060102T150405Z"
		if d > 0 {
			return nil, errSignature(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
				amzDate, now.Add(-a.o.ClockSkew).UTC().Format(layout), now.UTC().Format(layout), a.o.ClockSkew))
		}
		return nil, errSignature(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s.)",
			amzDate, now.Add(a.o.ClockSkew).UTC().Format(layout), now.UTC().Format(layout), a.o.ClockSkew))
	}

	// Look up the key before reading the body, so unknown keys cost nothing.
	ak := a.accessKey(r.Context(), sig.AccessKeyID)
	if ak.err != nil {
		if errors.Is(ak.err, store.ErrNotFound) {
			return nil, errUnrecognized("The security token included in the request is invalid.")
		}
		return nil, &llm.Error{Kind: llm.KindInternal, Err: fmt.Errorf("look up access key %s: %w", sig.AccessKeyID, ak.err)}
	}
	if ak.status != StatusActive || (!ak.expires.IsZero() && !now.Before(ak.expires)) {
		return nil, errUnrecognized("The security token included in the request is expired or inactive.")
	}

	payloadHash, err := a.payloadHash(r)
	if err != nil {
		return nil, err
	}
	key := a.signingKey(sig, ak.secret)
	cr := CanonicalRequest(r, sig.SignedHeaders, payloadHash)
	want := Signature(key, StringToSign(amzDate, sig.Scope(), cr))
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig.Signature)) != 1 {
		return nil, errSignature(msgSignatureMismatch)
	}
	return a.principal(r.Context(), ak.principal, "sigv4", sig.AccessKeyID)
}

// payloadHash reads the body (bounded), makes it re-readable and returns
// the hash to use in the canonical request.
func (a *Authenticator) payloadHash(r *http.Request) (string, error) {
	declared := r.Header.Get("X-Amz-Content-Sha256")
	if declared == UnsignedPayload {
		if a.o.DenyUnsignedPayload {
			return "", errSignature("UNSIGNED-PAYLOAD is not accepted by this server; sign the payload.")
		}
		return UnsignedPayload, nil
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		var b []byte
		var err error
		if n := r.ContentLength; n > 0 && n <= a.o.MaxBodyBytes {
			// The common case: one exact allocation. A body longer than
			// declared is cut by net/http; a shorter one is an error.
			b = make([]byte, n)
			_, err = io.ReadFull(r.Body, b)
		} else {
			b, err = io.ReadAll(io.LimitReader(r.Body, a.o.MaxBodyBytes+1))
		}
		r.Body.Close()
		if err != nil {
			return "", &llm.Error{Kind: llm.KindValidation, Message: "could not read the request body", Err: err}
		}
		if int64(len(b)) > a.o.MaxBodyBytes {
			return "", llm.Errorf(llm.KindValidation, "The request body is larger than the limit of %d bytes", a.o.MaxBodyBytes)
		}
		body = b
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	if declared != "" && declared != h {
		return "", errSignature("The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	return h, nil
}

func (a *Authenticator) signingKey(sig *SigV4, secret string) []byte {
	id := signingKeyID{sig.AccessKeyID, sig.Date, sig.Region, sig.Service}
	a.mu.RLock()
	k, ok := a.signing[id]
	a.mu.RUnlock()
	if ok {
		return k
	}
	k = SigningKey(secret, sig.Date, sig.Region, sig.Service)
	a.mu.Lock()
	if len(a.signing) >= maxCacheEntries {
		a.signing = map[signingKeyID][]byte{}
	}
	a.signing[id] = k
	a.mu.Unlock()
	return k
}

func (a *Authenticator) accessKey(ctx context.Context, id string) *accessKeyEntry {
	a.mu.RLock()
	e, ok := a.accessKeys[id]
	gen := a.gen
	a.mu.RUnlock()
	if ok {
		return e
	}
	e = &accessKeyEntry{}
	e.principal, e.secret, e.status, e.expires, e.err = a.st.accessKeySecret(ctx, id)
	if e.err != nil && !errors.Is(e.err, store.ErrNotFound) {
		return e // transient: do not cache
	}
	a.mu.Lock()
	// Cache only if no change was noticed while reading: a read that
	// raced with a revocation must not outlive it.
	if a.gen == gen {
		if len(a.accessKeys) >= maxCacheEntries {
			a.accessKeys = map[string]*accessKeyEntry{}
		}
		a.accessKeys[id] = e
	}
	a.mu.Unlock()
	return e
}

func (a *Authenticator) authBearer(ctx context.Context, token string) (*Principal, error) {
	id, secret, ok := splitAPIKey(token)
	if !ok {
		return nil, errUnrecognized("The API key is invalid.")
	}
	a.mu.RLock()
	e, cached := a.apiKeys[id]
	gen := a.gen
	a.mu.RUnlock()
	if !cached {
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
	}
	if e.err != nil {
		if errors.Is(e.err, store.ErrNotFound) {
			return nil, errUnrecognized("The API key is invalid.")
		}
		return nil, &llm.Error{Kind: llm.KindInternal, Err: fmt.Errorf("look up API key %s: %w", id, e.err)}
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], e.hash[:]) != 1 {
		return nil, errUnrecognized("The API key is invalid.")
	}
	if e.status != StatusActive {
		return nil, errUnrecognized("The API key has been revoked.")
	}
	if !e.expires.IsZero() && !a.o.Now().Before(e.expires) {
		return nil, errUnrecognized("The API key has expired.")
	}
	return a.principal(ctx, e.principal, "apikey", id)
}

// principal returns a per-request copy of the named principal with its
// compiled policies.
func (a *Authenticator) principal(ctx context.Context, name, method, keyID string) (*Principal, error) {
	a.mu.RLock()
	e, ok := a.principals[name]
	gen := a.gen
	a.mu.RUnlock()
	if !ok {
		e = &principalEntry{}
		e.p, e.err = a.loadPrincipal(ctx, name)
		if e.err != nil && !errors.Is(e.err, store.ErrNotFound) {
			return nil, &llm.Error{Kind: llm.KindInternal, Err: e.err}
		}
		a.mu.Lock()
		if a.gen == gen { // see accessKey
			a.principals[name] = e
		}
		a.mu.Unlock()
	}
	if e.err != nil {
		return nil, errUnrecognized("The security token included in the request is invalid.")
	}
	p := *e.p
	p.Method, p.KeyID = method, keyID
	return &p, nil
}

func (a *Authenticator) loadPrincipal(ctx context.Context, name string) (*Principal, error) {
	ok, err := a.st.principalExists(ctx, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, store.ErrNotFound
	}
	infos, err := a.st.Policies(ctx, name)
	if err != nil {
		return nil, err
	}
	p := &Principal{Name: name, ARN: UserARN(a.o.AccountID, name)}
	for _, pi := range infos {
		pol, err := ParsePolicy([]byte(pi.Document))
		if err != nil {
			// Stored policies were validated when attached; a policy
			// that no longer parses is skipped (denying what it allowed).
			a.log.Error("stored policy does not parse; ignored", "principal", name, "policy", pi.Name, "error", err)
			continue
		}
		p.policies = append(p.policies, pol)
		for i := range pol.Statement {
			if len(pol.Statement[i].conds) > 0 {
				p.conditional = true
			}
		}
	}
	return p, nil
}

// Middleware authenticates every request, puts the principal in the
// context (PrincipalFrom) and writes failures with Options.WriteError.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if a.o.OnResult != nil {
			a.o.OnResult(r, p, err)
		}
		if err != nil {
			gateway.RecordDecision(r.Context(), gateway.Decision{Outcome: "unauthenticated", ErrorCode: llm.AsError(err).Name(), SourceIP: clientIP(r)})
		} else {
			d := gateway.Decision{Principal: p.Name, AuthMethod: p.Method, KeyID: p.KeyID, SourceIP: p.SourceIP}
			if p.open {
				d.Outcome = "open"
			}
			gateway.RecordDecision(r.Context(), d)
		}
		if err != nil {
			a.o.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// plainError writes err as text with 403 (401 when unauthenticated), for an
// Authenticator built without Options.WriteError.
func plainError(w http.ResponseWriter, _ *http.Request, err error) {
	status := http.StatusForbidden
	if llm.AsError(err).Kind == llm.KindUnauthenticated {
		status = http.StatusUnauthorized
	}
	http.Error(w, llm.AsError(err).Message, status)
}
