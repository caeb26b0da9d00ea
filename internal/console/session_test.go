package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/console"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// TestSession signs in with each kind of credential, uses the cookie on
// the public APIs with and without the CSRF token, and ends sessions by
// sign-out, by revoking the key, by revocation in the admin API and by
// expiry, on SQLite and PostgreSQL.
func TestSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		apiKey, ak := e.user(t, "alice", adminPolicy)
		converse := "/model/" + url.PathEscape(testModel) + "/converse"

		// Bad credentials and bad bodies.
		b := e.browser(t)
		for _, tc := range []struct {
			body   string
			status int
		}{
			{`{"apiKey":"oc_OCAKAAAAAAAAAAAAAAAA_` + strings.Repeat("x", 43) + `"}`, 401},
			{`{"apiKey":"not a key"}`, 401},
			{`{"accessKeyId":"` + ak.AccessKeyID + `","secretAccessKey":"wrong"}`, 401},
			{`{"accessKeyId":"OCIAUNKNOWNUNKNOWN1","secretAccessKey":"x"}`, 401},
			{`{"accessKeyId":"` + ak.AccessKeyID + `"}`, 400},
			{`{"apiKey":"` + apiKey + `","accessKeyId":"x","secretAccessKey":"y"}`, 400},
			{`{}`, 400},
			{`[`, 400},
			{`{"apiKey":1}`, 400},
			{`{"password":"x"}`, 400},
		} {
			st, _ := b.signIn(tc.body)
			if st != tc.status {
				t.Errorf("sign-in %s: status %d, want %d", tc.body, st, tc.status)
			}
			if b.cookie != nil {
				t.Fatalf("sign-in %s set a cookie", tc.body)
			}
		}

		// API key sign-in.
		st, s := b.signIn(`{"apiKey":"` + apiKey + `"}`)
		if st != 200 || s.Principal != "alice" || s.Account != "000000000000" || s.CSRFToken == "" || s.OpenMode || s.AuthMethod != "apikey" {
			t.Fatalf("sign-in: %d %+v", st, s)
		}
		exp, err := time.Parse(time.RFC3339, s.ExpiresAt)
		if err != nil || exp.Before(time.Now().Add(59*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
			t.Errorf("expiresAt %q: want about an hour from now", s.ExpiresAt)
		}
		ck := b.cookie
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure {
			t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP", ck)
		}
		if strings.Contains(ck.Value, apiKey) {
			t.Fatal("the cookie holds the API key")
		}

		// GET returns the same session.
		code, _, body := b.do("GET", "/console/api/session", "", false)
		var got struct{ Principal, CSRFToken string }
		json.Unmarshal(body, &got)
		if code != 200 || got.Principal != "alice" || got.CSRFToken != s.CSRFToken {
			t.Fatalf("GET session: %d %s", code, body)
		}

		// The cookie authenticates the public APIs; state changes need the token.
		if code, _, body := b.do("POST", converse, converseBody("hi"), true); code != 200 || !strings.Contains(string(body), "hello") {
			t.Fatalf("Converse with cookie + CSRF: %d %s", code, body)
		}
		code, _, body = b.do("POST", converse, converseBody("hi"), false)
		if code != 403 || message(t, body) != "CSRF token missing or invalid" {
			t.Errorf("Converse without CSRF: %d %s", code, body)
		}
		code, _, body = b.do("POST", converse, converseBody("hi"), false, console.CSRFHeader, s.CSRFToken+"x")
		if code != 403 {
			t.Errorf("Converse with a wrong CSRF token: %d %s", code, body)
		}
		if code, _, body := b.do("POST", "/v1/chat/completions", `{"model":"`+testModel+`","messages":[{"role":"user","content":"hi"}]}`, false); code != 403 || !strings.Contains(string(body), "CSRF") {
			t.Errorf("chat completions without CSRF: %d %s", code, body)
		}
		if code, _, body := b.do("GET", "/admin/v1/principals", "", false); code != 200 || !strings.Contains(string(body), `"alice"`) {
			t.Errorf("GET with the cookie needs no CSRF token: %d %s", code, body)
		}
		// An Authorization header wins over the cookie, and needs no token.
		if code, _, body := b.do("POST", converse, converseBody("hi"), false, "Authorization", "Bearer "+apiKey); code != 200 {
			t.Errorf("bearer request with a cookie: %d %s", code, body)
		}

		// A second server (replica) on the same store accepts the cookie.
		e2 := newEnv(t, db, envOptions{})
		b2 := e2.browser(t)
		b2.cookie, b2.csrf = b.cookie, b.csrf
		if code, _, body := b2.do("POST", converse, converseBody("hi"), true); code != 200 {
			t.Errorf("second replica: %d %s", code, body)
		}

		// The session is listed with the principal's keys.
		code, _, body = b.do("GET", "/admin/v1/principals/alice", "", false)
		var pr struct {
			Sessions []console.Session `json:"sessions"`
			APIKeys  []struct {
				APIKeyID string `json:"apiKeyId"`
			} `json:"apiKeys"`
		}
		json.Unmarshal(body, &pr)
		if code != 200 || len(pr.Sessions) != 1 || pr.Sessions[0].KeyID != pr.APIKeys[0].APIKeyID || pr.Sessions[0].Method != "apikey" {
			t.Fatalf("principal detail: %d %s", code, body)
		}

		// Sign-out needs the token, then the cookie is dead everywhere.
		if code, _, _ := b.do("DELETE", "/console/api/session", "", false); code != 403 {
			t.Errorf("sign-out without CSRF: %d", code)
		}
		code, hdr, _ := b.do("DELETE", "/console/api/session", "", true)
		if code != 204 || !strings.Contains(hdr.Get("Set-Cookie"), "Max-Age=0") {
			t.Fatalf("sign-out: %d %q", code, hdr.Get("Set-Cookie"))
		}
		if code, _, _ := b.do("GET", "/console/api/session", "", false); code != 401 {
			t.Errorf("GET session after sign-out: %d", code)
		}
		if code, _, _ := b2.do("POST", converse, converseBody("hi"), true); code != 403 {
			t.Errorf("Converse on a revoked session (other replica): %d", code)
		}
		if code, _, body := b.do("GET", "/admin/v1/principals", "", false); code != 401 {
			t.Errorf("admin API on a revoked session: %d %s", code, body)
		}

		// Access-key sign-in; revoking (deactivating) the key ends the session.
		b = e.browser(t)
		if st, s := b.signIn(`{"accessKeyId":"` + ak.AccessKeyID + `","secretAccessKey":"` + ak.SecretAccessKey + `"}`); st != 200 || s.AuthMethod != "sigv4" || s.KeyID != ak.AccessKeyID {
			t.Fatalf("access-key sign-in: %d %+v", st, s)
		}
		if code, _, _ := b.do("POST", converse, converseBody("hi"), true); code != 200 {
			t.Fatalf("Converse on access-key session: %d", code)
		}
		if err := e.st.SetAccessKeyStatus(context.Background(), "alice", ak.AccessKeyID, "Inactive"); err != nil {
			t.Fatal(err)
		}
		e.a.Refresh(context.Background())
		if code, _, _ := b.do("GET", "/console/api/session", "", false); code != 401 {
			t.Errorf("session of a deactivated key: %d", code)
		}

		// Revocation through the admin API by another session.
		admin := e.browser(t)
		admin.signIn(`{"apiKey":"` + apiKey + `"}`)
		victim := e.browser(t)
		victim.signIn(`{"apiKey":"` + apiKey + `"}`)
		var list struct{ Sessions []console.Session }
		_, _, body = admin.do("GET", "/admin/v1/principals/alice/sessions", "", false)
		json.Unmarshal(body, &list)
		var victimID string
		for _, s := range list.Sessions {
			if s.Revoked.IsZero() && strings.HasPrefix(victim.cookie.Value, s.ID+".") {
				victimID = s.ID
			}
		}
		if victimID == "" {
			t.Fatalf("victim's session not listed: %s", body)
		}
		if code, _, body := admin.do("DELETE", "/admin/v1/principals/alice/sessions/"+victimID, "", true); code != 204 {
			t.Fatalf("revoke session: %d %s", code, body)
		}
		if code, _, _ := victim.do("GET", "/console/api/session", "", false); code != 401 {
			t.Errorf("revoked session still works: %d", code)
		}
		if code, _, _ := admin.do("GET", "/console/api/session", "", false); code != 200 {
			t.Errorf("revoking one session ended another: %d", code)
		}
		if code, _, _ := admin.do("DELETE", "/admin/v1/principals/alice/sessions/"+victimID, "", true); code != 404 {
			t.Errorf("revoking twice: %d, want 404", code)
		}

		// Expiry.
		e.clock.Advance(2 * time.Hour)
		if code, _, _ := admin.do("GET", "/console/api/session", "", false); code != 401 {
			t.Errorf("expired session: %d", code)
		}
		if n, err := e.sessions.Prune(context.Background(), e.clock.Now()); err != nil || n < 3 {
			t.Errorf("prune: %d, %v", n, err)
		}

		// Revoking the API key ends its sessions.
		e.clock.Advance(-2 * time.Hour)
		key2, _ := e.user(t, "bob", bedrockOnly)
		b = e.browser(t)
		b.signIn(`{"apiKey":"` + key2 + `"}`)
		keys, _ := e.st.ListAPIKeys(context.Background(), "bob")
		if err := e.st.RevokeAPIKey(context.Background(), "bob", keys[0].APIKeyID); err != nil {
			t.Fatal(err)
		}
		e.a.Refresh(context.Background())
		if code, _, _ := b.do("POST", converse, converseBody("hi"), true); code != 403 {
			t.Errorf("session of a revoked API key: %d", code)
		}
	})
}

// TestSignInOrigin refuses a sign-in posted from another origin.
func TestSignInOrigin(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), envOptions{})
	key, _ := e.user(t, "alice", adminPolicy)
	b := e.browser(t)
	body := `{"apiKey":"` + key + `"}`
	if code, _, _ := b.do("POST", "/console/api/session", body, false, "Origin", "http://evil.example"); code != 403 {
		t.Errorf("cross-origin sign-in: %d", code)
	}
	if code, _, _ := b.do("POST", "/console/api/session", body, false, "Origin", e.URL); code != 200 {
		t.Errorf("same-origin sign-in: %d", code)
	}
}

// TestPages checks that pages need a session (redirect to sign-in), APIs
// answer 401 without one, assets are cached by their hash, and every
// console response carries the CSP.
func TestPages(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), envOptions{})
	key, _ := e.user(t, "alice", adminPolicy)
	b := e.browser(t)
	for _, p := range []string{"/console/", "/console/playground", "/console/logs/abc"} {
		code, hdr, _ := b.do("GET", p, "", false)
		want := console.SignInPath
		if p != "/console/" {
			want += "?next=" + url.QueryEscape(p)
		}
		if code != http.StatusSeeOther || hdr.Get("Location") != want {
			t.Errorf("GET %s without session: %d → %q, want 303 → %q", p, code, hdr.Get("Location"), want)
		}
		if hdr.Get("Content-Security-Policy") != console.CSP {
			t.Errorf("GET %s: CSP %q", p, hdr.Get("Content-Security-Policy"))
		}
	}
	code, hdr, body := b.do("GET", "/console/signin", "", false)
	if code != 200 || !strings.Contains(string(body), `id="root"`) || hdr.Get("Cache-Control") != "no-cache" {
		t.Errorf("sign-in page: %d %q %s", code, hdr.Get("Cache-Control"), body)
	}
	for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if hdr.Get(h) == "" {
			t.Errorf("sign-in page has no %s", h)
		}
	}
	code, hdr, body = b.do("GET", "/console/assets/index-abc123.js", "", false)
	if code != 200 || hdr.Get("Cache-Control") != "public, max-age=31536000, immutable" || !strings.Contains(hdr.Get("Content-Type"), "javascript") {
		t.Errorf("asset: %d %q %q %s", code, hdr.Get("Cache-Control"), hdr.Get("Content-Type"), body)
	}
	if code, _, _ := b.do("GET", "/console/assets/missing.js", "", false); code != 404 {
		t.Errorf("missing asset: %d", code)
	}
	if code, _, _ := b.do("GET", "/console/../../etc/passwd", "", false); code == 200 {
		t.Errorf("path traversal answered 200")
	}
	for _, p := range []string{"/console/api/session", "/admin/v1/principals", "/admin/v1/requests", "/admin/v1/metrics"} {
		code, _, body := b.do("GET", p, "", false)
		if code != 401 || message(t, body) == "" {
			t.Errorf("GET %s without session: %d %s, want 401 with a message", p, code, body)
		}
	}
	if code, hdr, _ := b.do("GET", "/console", "", false); code != 301 || hdr.Get("Location") != "/console/" {
		t.Errorf("/console: %d %q", code, hdr.Get("Location"))
	}
	b.signIn(`{"apiKey":"` + key + `"}`)
	for _, p := range []string{"/console/", "/console/playground", "/console/logs/abc"} {
		code, _, body := b.do("GET", p, "", false)
		if code != 200 || !strings.Contains(string(body), `id="root"`) {
			t.Errorf("GET %s with session: %d", p, code)
		}
	}
	if code, _, _ := b.do("GET", "/console/api/nothing", "", false); code != 404 {
		t.Errorf("unknown console API: %d", code)
	}
}

// TestNotBuilt serves the placeholder when dist has no index.html.
func TestNotBuilt(t *testing.T) {
	empty := fstestEmpty()
	e := newEnv(t, storetest.SQLite(t), envOptions{open: true, assets: &empty})
	code, hdr, body := e.browser(t).do("GET", "/console/", "", false)
	if code != 503 || !strings.Contains(string(body), "console not built: run make console") || hdr.Get("Content-Security-Policy") != console.CSP {
		t.Errorf("unbuilt console: %d %s", code, body)
	}
}

// TestOpenMode: with no principal on loopback, the session API reports
// open mode with a CSRF token, and pages need no sign-in.
func TestOpenMode(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), envOptions{open: true})
	b := e.browser(t)
	code, _, body := b.do("GET", "/console/api/session", "", false)
	var s sessionJSON
	json.Unmarshal(body, &s)
	if code != 200 || !s.OpenMode || s.CSRFToken == "" || s.Principal != "anonymous" {
		t.Fatalf("open-mode session: %d %s", code, body)
	}
	if code, _, _ := b.do("GET", "/console/playground", "", false); code != 200 {
		t.Errorf("open-mode page: %d", code)
	}
	// Once a principal exists, open mode ends.
	e.user(t, "alice", adminPolicy)
	if code, _, _ := b.do("GET", "/console/api/session", "", false); code != 401 {
		t.Errorf("session API after the first principal: %d", code)
	}
	if code, _, _ := b.do("GET", "/console/playground", "", false); code != 303 {
		t.Errorf("page after the first principal: %d", code)
	}
}

// FuzzSessionCookie: no cookie value is accepted but one the server issued,
// and none panics.
func FuzzSessionCookie(f *testing.F) {
	db := storetest.SQLite(f)
	s := console.NewSessions(db, time.Hour)
	for _, seed := range []string{"", ".", "OCSSAAAAAAAAAAAAAAAA.", "OCSSAAAAAAAAAAAAAAAA." + strings.Repeat("a", 43), "x.y.z", "OCSS\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if sess, _, err := s.Lookup(context.Background(), v); err == nil {
			t.Fatalf("cookie %q accepted as %+v", v, sess)
		}
	})
}

// FuzzParseSignIn: the sign-in body parser never panics and accepts only
// one kind of credential.
func FuzzParseSignIn(f *testing.F) {
	for _, seed := range []string{`{"apiKey":"k"}`, `{"accessKeyId":"a","secretAccessKey":"s"}`, `{}`, `[`, `{"apiKey":"k"}{}`, `{"apiKey":null}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, a, s, err := console.ParseSignIn(b)
		if err == nil && (k == "") == (a == "" || s == "") {
			t.Fatalf("%q: parsed apiKey=%q accessKeyId=%q secret=%q", b, k, a, s)
		}
	})
}
