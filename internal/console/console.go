// Package console serves Outcrop's web console: the single-page application
// built from console/ (embedded from dist/ at compile time) under /console/,
// the session API that exchanges an API key or access-key pair for a
// session cookie, and the admin API under /admin/v1/ for what has no public
// HTTP API (principals, keys, policies, sessions, the request log, metrics,
// model status, local model files, benchmark runs), and the request
// recorder (Calls) that keeps each inference call's measurements for the
// dashboards.
//
// # Security model
//
// A session stands for the key it was made from: internal/auth
// authenticates a request carrying the cookie (and no credentials of its
// own) as that key's principal, with its policies, checking the key's
// status on every request (auth.SessionSource). Sessions live in the store
// (SQLite, or PostgreSQL shared by replicas), expire, and can be revoked.
// Every state-changing request authenticated by the cookie must carry the
// session's CSRF token in X-Outcrop-CSRF. The cookie is HttpOnly,
// SameSite=Strict and Secure under TLS. Every console response carries a
// strict Content-Security-Policy (no inline scripts, nothing from another
// origin), so the browser itself refuses any request that would leave the
// server. Pages other than the sign-in page redirect to it when the request
// has no live session (unless the server runs open on loopback).
package console

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/outcrop/outcrop/internal/auth"
)

// dist holds the built frontend (`make console` writes it). A clone that
// has not built it holds only .gitkeep, and the console says so.
//
//go:embed all:dist
var dist embed.FS

// Built reports whether this binary embeds a built console
// (dist/index.html), rather than the "console not built" page.
func Built() bool {
	_, err := fs.Stat(dist, "dist/index.html")
	return err == nil
}

// CSP is the Content-Security-Policy of every console response.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// SignInPath is the page the console redirects to without a session.
const SignInPath = "/console/signin"

// Options configure the console handler.
type Options struct {
	// Logger receives sign-in failures and internal errors.
	Logger *slog.Logger
	// Auth authenticates requests and checks credentials at sign-in.
	Auth *auth.Authenticator
	// Sessions stores the sessions.
	Sessions *Sessions
	// Assets overrides the embedded build (tests); nil uses it.
	Assets fs.FS
	// MaxBodyBytes bounds the sign-in body. Default 64 KiB.
	MaxBodyBytes int64
}

// Console is the /console/ handler.
type Console struct {
	o      Options
	log    *slog.Logger
	assets fs.FS
	// openCSRF is the token handed out in open mode, where no session
	// exists (requests without a cookie are not checked for it).
	openCSRF string
	mux      *http.ServeMux
}

// New returns the console handler.
func New(o Options) *Console {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 64 << 10
	}
	c := &Console{o: o, log: o.Logger.With("component", "console"), assets: o.Assets, openCSRF: randomToken(32)}
	if c.assets == nil {
		sub, err := fs.Sub(dist, "dist")
		if err != nil { // cannot happen: dist is embedded
			panic(err)
		}
		c.assets = sub
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /console/api/session", c.getSession)
	mux.HandleFunc("POST /console/api/session", c.postSession)
	mux.HandleFunc("DELETE /console/api/session", c.deleteSession)
	mux.HandleFunc("/console/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "no such console API route")
	})
	mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		c.static(w, r)
	})
	mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusMovedPermanently)
	})
	c.mux = mux
	return c
}

// ServeHTTP serves /console and everything under it.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	c.mux.ServeHTTP(w, r)
}

// securityHeaders sets the headers every console response carries.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}

// notBuilt is served in place of the app when dist has no index.html.
const notBuilt = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Outcrop console</title></head>
<body><h1>Outcrop console</h1><p>console not built: run make console</p></body></html>
`

// static serves the built app: files by name (hashed assets cached for a
// year), any other path the app's index.html (client-side routing), after
// checking the session for every page but the sign-in page.
func (c *Console) static(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(r.URL.Path, "/console/")), "/")
	if name != "" && name != "index.html" {
		if st, err := fs.Stat(c.assets, name); err == nil && !st.IsDir() {
			if strings.HasPrefix(name, "assets/") {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			} else {
				w.Header().Set("Cache-Control", "no-cache")
			}
			http.ServeFileFS(w, r, c.assets, name)
			return
		}
		if strings.HasPrefix(name, "assets/") || path.Ext(name) != "" {
			http.NotFound(w, r)
			return
		}
	}
	if "/console/"+name != SignInPath && !c.signedIn(r) {
		target := SignInPath
		if name != "" {
			target += "?next=" + urlQueryEscape("/console/"+name)
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	index, err := fs.ReadFile(c.assets, "index.html")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(notBuilt))
		return
	}
	w.Write(index)
}

// signedIn reports whether r may see the console's pages: it has a live
// session whose key is still valid, or the server runs open.
func (c *Console) signedIn(r *http.Request) bool {
	if _, err := r.Cookie(CookieName); err != nil {
		return c.o.Auth.OpenMode(r.Context())
	}
	_, err := c.o.Auth.Authenticate(r)
	return err == nil
}
