package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/console"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// BenchmarkAuthenticate compares what authenticating one request costs with
// a bearer API key (cached after the first request) and with a console
// session cookie (a store lookup per request, so that revocation is
// immediate on every replica), on SQLite.
//
//	go test -run '^$' -bench BenchmarkAuthenticate -benchmem ./internal/console/
func BenchmarkAuthenticate(b *testing.B) {
	e := newEnv(b, storetest.SQLite(b), envOptions{})
	apiKey, _ := e.user(b, "alice", adminPolicy)
	p, err := e.a.SignInAPIKey(context.Background(), apiKey)
	if err != nil {
		b.Fatal(err)
	}
	_, cookie, err := e.sessions.Create(context.Background(), p, "127.0.0.1", "bench")
	if err != nil {
		b.Fatal(err)
	}
	_, csrf, _ := e.sessions.Lookup(context.Background(), cookie)
	for _, tc := range []struct {
		name  string
		build func() *http.Request
	}{
		{"bearer", func() *http.Request {
			r := httptest.NewRequest("GET", "/admin/v1/principals", nil)
			r.Header.Set("Authorization", "Bearer "+apiKey)
			return r
		}},
		{"session-GET", func() *http.Request {
			r := httptest.NewRequest("GET", "/admin/v1/principals", nil)
			r.AddCookie(&http.Cookie{Name: console.CookieName, Value: cookie})
			return r
		}},
		{"session-POST-CSRF", func() *http.Request {
			r := httptest.NewRequest("POST", "/model/m/converse", strings.NewReader("{}"))
			r.AddCookie(&http.Cookie{Name: console.CookieName, Value: cookie})
			r.Header.Set(console.CSRFHeader, csrf)
			return r
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := tc.build()
			for b.Loop() {
				if _, err := e.a.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
