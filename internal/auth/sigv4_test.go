package auth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/httpapi"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// clock is an adjustable test clock.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

var testKey = bytes.Repeat([]byte{7}, 32)

type fixture struct {
	st    *auth.Store
	a     *auth.Authenticator
	clock *clock
	srv   *httptest.Server
	// got records what the handler saw.
	gotBody      atomic.Value
	gotPrincipal atomic.Value
}

func newFixture(t *testing.T, db *store.DB, open bool) *fixture {
	t.Helper()
	st, err := auth.NewStore(db, testKey)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, clock: &clock{}}
	// Failures are written in httpapi's error shapes, as app wires it.
	f.a = auth.New(st, auth.Options{Now: f.clock.Now, Open: open, RefreshInterval: 20 * time.Millisecond,
		WriteError: httpapi.New(httpapi.Deps{}).WriteError})
	t.Cleanup(func() { f.a.Close() })
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("handler could not read body: %v", err)
		}
		f.gotBody.Store(string(b))
		p, _ := auth.PrincipalFrom(r.Context())
		f.gotPrincipal.Store(p.Name)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	})
	f.srv = httptest.NewServer(f.a.Middleware(h))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) principalWithKey(t *testing.T, name string) *auth.AccessKey {
	t.Helper()
	ctx := context.Background()
	if err := f.st.AddPrincipal(ctx, name); err != nil && !errors.Is(err, store.ErrConflict) {
		t.Fatal(err)
	}
	k, err := f.st.CreateAccessKey(ctx, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.a.Refresh(ctx)
	return k
}

type signOpts struct {
	secret       string
	noContentLen bool   // boto3 does not sign content-length
	contentSHA   string // x-amz-content-sha256 to send (and sign)
	payloadHash  string // hash given to the signer; default: real hash
	signTime     time.Time
	tamperBody   string // body sent instead of the signed one
	path         string
	region       string
	service      string
	extraSigned  map[string]string
}

func sha(b string) string {
	s := sha256.Sum256([]byte(b))
	return hex.EncodeToString(s[:])
}

// send signs a POST with aws-sdk-go-v2's SigV4 signer and returns the status
// and X-Amzn-ErrorType.
func (f *fixture) send(t *testing.T, akid string, o signOpts) (int, string) {
	t.Helper()
	body := `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`
	path := o.path
	if path == "" {
		path = "/model/us.amazon.nova-lite-v1%3A0/converse"
	}
	req, err := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Amz-Sdk-Invocation-Id", "a4a0b1c2-0000-4000-8000-000000000000")
	for k, v := range o.extraSigned {
		req.Header.Set(k, v)
	}
	if o.contentSHA != "" {
		req.Header.Set("X-Amz-Content-Sha256", o.contentSHA)
	}
	ph := o.payloadHash
	if ph == "" {
		ph = sha(body)
	}
	when := o.signTime
	if when.IsZero() {
		when = time.Now()
	}
	region, service := o.region, o.service
	if region == "" {
		region = "us-east-1"
	}
	if service == "" {
		service = "bedrock"
	}
	n := req.ContentLength
	if o.noContentLen {
		req.ContentLength = 0
	}
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: o.secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, ph, service, region, when); err != nil {
		t.Fatal(err)
	}
	req.ContentLength = n
	if o.tamperBody != "" {
		req.Body = io.NopCloser(strings.NewReader(o.tamperBody))
		req.ContentLength = int64(len(o.tamperBody))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == 200 {
		if got, _ := f.gotBody.Load().(string); got != body && o.tamperBody == "" {
			t.Errorf("handler read body %q, want %q", got, body)
		}
	}
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType")
}

func TestSigV4(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, false)
		k := f.principalWithKey(t, "alice")
		tests := []struct {
			name       string
			akid       string
			o          signOpts
			wantStatus int
			wantType   string
		}{
			{name: "go sdk header set", o: signOpts{}, wantStatus: 200},
			{name: "boto3 header set without content-length", o: signOpts{noContentLen: true}, wantStatus: 200},
			{name: "js header set with x-amz-content-sha256", o: signOpts{contentSHA: "auto", extraSigned: map[string]string{"X-Amz-User-Agent": "aws-sdk-js/3.0"}}, wantStatus: 200},
			{name: "unsigned payload", o: signOpts{contentSHA: auth.UnsignedPayload, payloadHash: auth.UnsignedPayload}, wantStatus: 200},
			{name: "plain path", o: signOpts{path: "/model/smollm2/converse"}, wantStatus: 200},
			{name: "query string", o: signOpts{path: "/guardrails?maxResults=10&nextToken=a%2Fb%20c"}, wantStatus: 200},
			{name: "other region", o: signOpts{region: "eu-west-3"}, wantStatus: 200},
			{name: "wrong secret", o: signOpts{secret: "wrong"}, wantStatus: 403, wantType: "InvalidSignatureException"},
			{name: "unknown key", akid: "OCIAAAAAAAAAAAAAAAAA", o: signOpts{}, wantStatus: 403, wantType: "UnrecognizedClientException"},
			{name: "tampered body", o: signOpts{tamperBody: `{"messages":[{"role":"user","content":[{"text":"HI"}]}]}`}, wantStatus: 403, wantType: "InvalidSignatureException"},
			{name: "tampered body with declared hash", o: signOpts{contentSHA: "auto", tamperBody: `{"messages":[{"role":"user","content":[{"text":"HI"}]}]}`}, wantStatus: 403, wantType: "InvalidSignatureException"},
			{name: "signed 6 minutes ago", o: signOpts{signTime: time.Now().Add(-6 * time.Minute)}, wantStatus: 403, wantType: "InvalidSignatureException"},
			{name: "signed 6 minutes ahead", o: signOpts{signTime: time.Now().Add(6 * time.Minute)}, wantStatus: 403, wantType: "InvalidSignatureException"},
			{name: "signed 4 minutes ago", o: signOpts{signTime: time.Now().Add(-4 * time.Minute)}, wantStatus: 200},
			{name: "wrong service", o: signOpts{service: "s3"}, wantStatus: 403, wantType: "InvalidSignatureException"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				akid := tc.akid
				if akid == "" {
					akid = k.AccessKeyID
				}
				if tc.o.secret == "" {
					tc.o.secret = k.SecretAccessKey
				}
				if tc.o.contentSHA == "auto" {
					tc.o.contentSHA = sha(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
				}
				status, typ := f.send(t, akid, tc.o)
				if status != tc.wantStatus || typ != tc.wantType {
					t.Errorf("got %d %q, want %d %q", status, typ, tc.wantStatus, tc.wantType)
				}
				if status == 200 {
					if p, _ := f.gotPrincipal.Load().(string); p != "alice" {
						t.Errorf("principal = %q, want alice", p)
					}
				}
			})
		}

		t.Run("replay after the skew window", func(t *testing.T) {
			// The same signed request, re-sent once the server clock has
			// moved past the window, is refused.
			status, _ := f.send(t, k.AccessKeyID, signOpts{secret: k.SecretAccessKey})
			if status != 200 {
				t.Fatalf("first send = %d", status)
			}
			f.clock.Advance(6 * time.Minute)
			defer f.clock.Advance(-6 * time.Minute)
			status, typ := f.send(t, k.AccessKeyID, signOpts{secret: k.SecretAccessKey, signTime: time.Now()})
			if status != 403 || typ != "InvalidSignatureException" {
				t.Errorf("replay = %d %q, want 403 InvalidSignatureException", status, typ)
			}
		})

		t.Run("inactive, expired and deleted keys", func(t *testing.T) {
			ctx := context.Background()
			k2 := f.principalWithKey(t, "bob")
			if err := f.st.SetAccessKeyStatus(ctx, "bob", k2.AccessKeyID, auth.StatusInactive); err != nil {
				t.Fatal(err)
			}
			f.a.Refresh(ctx)
			if status, typ := f.send(t, k2.AccessKeyID, signOpts{secret: k2.SecretAccessKey}); status != 403 || typ != "UnrecognizedClientException" {
				t.Errorf("inactive key = %d %q", status, typ)
			}
			exp, err := f.st.CreateAccessKey(ctx, "bob", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			f.a.Refresh(ctx)
			if status, _ := f.send(t, exp.AccessKeyID, signOpts{secret: exp.SecretAccessKey}); status != 200 {
				t.Errorf("fresh expiring key = %d", status)
			}
			f.clock.Advance(2 * time.Minute)
			status, typ := f.send(t, exp.AccessKeyID, signOpts{secret: exp.SecretAccessKey, signTime: f.clock.Now()})
			f.clock.Advance(-2 * time.Minute)
			if status != 403 || typ != "UnrecognizedClientException" {
				t.Errorf("expired key = %d %q", status, typ)
			}
			if err := f.st.DeleteAccessKey(ctx, "alice", k.AccessKeyID); err != nil {
				t.Fatal(err)
			}
			// The refresh loop notices the change without an explicit
			// Refresh; poll until it does.
			deadline := time.Now().Add(5 * time.Second)
			for {
				status, typ = f.send(t, k.AccessKeyID, signOpts{secret: k.SecretAccessKey})
				if status == 403 || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if status != 403 || typ != "UnrecognizedClientException" {
				t.Errorf("deleted key = %d %q", status, typ)
			}
		})
	})
}

func TestMissingAndMalformedAuth(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t), false)
	f.principalWithKey(t, "alice")
	tests := []struct {
		name, header, path string
		wantStatus         int
		wantType           string
	}{
		{"no header", "", "/model/x/converse", 403, "MissingAuthenticationTokenException"},
		{"no header openai", "", "/v1/chat/completions", 401, ""},
		{"garbage", "Basic abc", "/model/x/converse", 403, "UnrecognizedClientException"},
		{"truncated sigv4", "AWS4-HMAC-SHA256 Credential=X", "/model/x/converse", 403, "IncompleteSignatureException"},
		{"bearer not ours", "Bearer sk-123", "/model/x/converse", 403, "UnrecognizedClientException"},
		{"bearer not ours openai", "Bearer sk-123", "/v1/chat/completions", 401, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", f.srv.URL+tc.path, strings.NewReader("{}"))
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("X-Amzn-ErrorType") != tc.wantType {
				t.Errorf("got %d %q (%s), want %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), b, tc.wantStatus, tc.wantType)
			}
			if strings.Contains(string(b), "sk-123") {
				t.Errorf("response echoes the credential: %s", b)
			}
		})
	}
}

func TestAPIKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, false)
		f.principalWithKey(t, "carol")
		info, key, err := f.st.CreateAPIKey(ctx, "carol", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		do := func(header, path string) int {
			req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader("{}"))
			req.Header.Set("Authorization", header)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if s := do("Bearer "+key, "/model/x/converse"); s != 200 {
			t.Errorf("valid key on bedrock = %d", s)
		}
		if s := do("bearer "+key, "/v1/chat/completions"); s != 200 {
			t.Errorf("valid key on openai = %d", s)
		}
		if s := do("Bearer "+key[:len(key)-1]+"x", "/v1/chat/completions"); s != 401 {
			t.Errorf("altered key = %d, want 401", s)
		}
		f.clock.Advance(2 * time.Hour)
		if s := do("Bearer "+key, "/v1/chat/completions"); s != 401 {
			t.Errorf("expired key = %d, want 401", s)
		}
		f.clock.Advance(-2 * time.Hour)
		if err := f.st.RevokeAPIKey(ctx, "carol", info.APIKeyID); err != nil {
			t.Fatal(err)
		}
		f.a.Refresh(ctx)
		if s := do("Bearer "+key, "/model/x/converse"); s != 403 {
			t.Errorf("revoked key on bedrock = %d, want 403", s)
		}
		if s := do("Bearer "+key, "/v1/chat/completions"); s != 401 {
			t.Errorf("revoked key on openai = %d, want 401", s)
		}
		keys, err := f.st.ListAPIKeys(ctx, "carol")
		if err != nil || len(keys) != 1 || keys[0].Status != auth.StatusRevoked {
			t.Errorf("ListAPIKeys = %+v, %v", keys, err)
		}
	})
}

func TestOpenMode(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, storetest.SQLite(t), true)
	req, _ := http.NewRequest("POST", f.srv.URL+"/model/x/converse", strings.NewReader("{}"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || f.gotPrincipal.Load() != "anonymous" {
		t.Fatalf("open mode: %d principal %v", resp.StatusCode, f.gotPrincipal.Load())
	}
	// Adding a principal closes the server.
	if err := f.st.AddPrincipal(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	f.a.Refresh(ctx)
	req, _ = http.NewRequest("POST", f.srv.URL+"/model/x/converse", strings.NewReader("{}"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("after add-principal: %d, want 403", resp.StatusCode)
	}
}

func TestOpenDecision(t *testing.T) {
	tests := []struct {
		name       string
		c          auth.Config
		listen     string
		principals int
		wantOpen   bool
		wantErr    bool
	}{
		{"loopback v4", auth.Config{Open: "auto"}, "127.0.0.1:8080", 0, true, false},
		{"loopback v6", auth.Config{Open: "auto"}, "[::1]:8080", 0, true, false},
		{"localhost", auth.Config{Open: "auto"}, "localhost:8080", 0, true, false},
		{"all interfaces refused", auth.Config{Open: "auto"}, "0.0.0.0:8080", 0, false, true},
		{"empty host refused", auth.Config{Open: "auto"}, ":8080", 0, false, true},
		{"public allowed explicitly", auth.Config{Open: "auto", AllowOpenNonLoopback: true}, "0.0.0.0:8080", 0, true, false},
		{"principals exist", auth.Config{Open: "auto"}, "0.0.0.0:8080", 1, false, false},
		{"never", auth.Config{Open: "never"}, "127.0.0.1:8080", 0, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			open, err := auth.OpenDecision(tc.c, tc.listen, tc.principals)
			if open != tc.wantOpen || (err != nil) != tc.wantErr {
				t.Errorf("OpenDecision(%s, %d) = %v, %v; want %v, err %v", tc.listen, tc.principals, open, err, tc.wantOpen, tc.wantErr)
			}
		})
	}
}

func TestSecretsAtRest(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	st, _ := auth.NewStore(db, testKey)
	st.AddPrincipal(ctx, "dave")
	k, err := st.CreateAccessKey(ctx, "dave", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, apiKey, err := st.CreateAPIKey(ctx, "dave", 0)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.SQL.QueryContext(ctx, `SELECT secret_sealed FROM auth_access_keys UNION ALL SELECT hash FROM auth_api_keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		rows.Scan(&v)
		if strings.Contains(v, k.SecretAccessKey) || strings.Contains(apiKey, v) || strings.Contains(v, apiKey[len(apiKey)-20:]) {
			t.Errorf("secret stored in clear: %q", v)
		}
	}
	// A store opened with another key cannot use the sealed secret.
	other, _ := auth.NewStore(db, bytes.Repeat([]byte{8}, 32))
	a := auth.New(other, auth.Options{})
	defer a.Close()
	req := httptest.NewRequest("POST", "/model/x/converse", strings.NewReader("{}"))
	v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}, req, sha("{}"), "bedrock", "us-east-1", time.Now())
	_, err = a.Authenticate(req)
	if e := llm.AsError(err); e.Kind != llm.KindInternal {
		t.Errorf("wrong encryption key: err = %v, want internal error", err)
	}
	if strings.Contains(err.Error(), k.SecretAccessKey) {
		t.Errorf("error leaks the secret")
	}
}

// TestCanonicalRequest pins the canonical form of a request with an
// encoded path and a query, as §7.2 describes it.
func TestCanonicalRequest(t *testing.T) {
	req := httptest.NewRequest("POST", "http://127.0.0.1:8080/model/us.amazon.nova-lite-v1%3A0/converse?b=2&a=x%20y&a=1", strings.NewReader("{}"))
	req.Host = "127.0.0.1:8080"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Date", "20261125T185020Z")
	req.Header.Set("X-Amz-User-Agent", "  aws-sdk-js/3.0   ua  ")
	got := auth.CanonicalRequest(req, []string{":authority", "content-length", "content-type", "x-amz-date", "x-amz-user-agent"}, sha("{}"))
	want := "POST\n" +
		"/model/us.amazon.nova-lite-v1%253A0/converse\n" +
		"a=1&a=x%20y&b=2\n" +
		":authority:127.0.0.1:8080\n" +
		"content-length:2\n" +
		"content-type:application/json\n" +
		"x-amz-date:20261125T185020Z\n" +
		"x-amz-user-agent:aws-sdk-js/3.0 ua\n" +
		"\n" +
		":authority;content-length;content-type;x-amz-date;x-amz-user-agent\n" +
		sha("{}")
	if got != want {
		t.Errorf("CanonicalRequest =\n%s\nwant\n%s", got, want)
	}
}

func FuzzParseSigV4(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=OCIAAAAAAAAAAAAAAAAA/20261125/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + strings.Repeat("ab", 32))
	f.Add("AWS4-HMAC-SHA256 Credential=A/2/r/s/aws4_request,SignedHeaders=host,Signature=x")
	f.Add("AWS4-HMAC-SHA256")
	f.Add("AWS4-HMAC-SHA256 Credential=a=b=c")
	f.Fuzz(func(t *testing.T, h string) {
		s, err := auth.ParseSigV4(h)
		if err != nil {
			if strings.Contains(err.Error(), h) && len(h) > 20 {
				t.Errorf("error echoes the header")
			}
			return
		}
		if len(s.Signature) != 64 || len(s.Date) != 8 || s.AccessKeyID == "" || len(s.SignedHeaders) == 0 {
			t.Errorf("ParseSigV4(%q) accepted an incomplete header: %+v", h, s)
		}
		if !strings.HasSuffix(s.Scope(), "/aws4_request") {
			t.Errorf("bad scope %q", s.Scope())
		}
	})
}

// FuzzAuthenticate feeds arbitrary Authorization, X-Amz-Date, content hash
// and request targets to the whole verification path: it must never
// panic, and never accept a request it did not sign.
func FuzzAuthenticate(f *testing.F) {
	db := storetest.SQLite(f)
	st, _ := auth.NewStore(db, testKey)
	ctx := context.Background()
	st.AddPrincipal(ctx, "fuzz")
	k, _ := st.CreateAccessKey(ctx, "fuzz", 0)
	_, apiKey, _ := st.CreateAPIKey(ctx, "fuzz", 0)
	a := auth.New(st, auth.Options{})
	f.Cleanup(func() { a.Close() })
	now := time.Now().UTC().Format("20060102T150405Z")
	f.Add("AWS4-HMAC-SHA256 Credential="+k.AccessKeyID+"/"+now[:8]+"/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("0", 64), now, "", "/model/m%3A0/converse?a=b")
	f.Add("Bearer "+apiKey+"x", "", "", "/v1/chat/completions")
	f.Add("AWS4-HMAC-SHA256 Credential="+k.AccessKeyID+"/"+now[:8]+"/us-east-1/bedrock/aws4_request, SignedHeaders=:authority, Signature="+strings.Repeat("a", 64), now, auth.UnsignedPayload, "/%zz")
	f.Fuzz(func(t *testing.T, authz, date, contentSHA, target string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n#") {
			return
		}
		req, err := http.NewRequest("POST", "http://127.0.0.1:8080"+target, strings.NewReader(`{"x":1}`))
		if err != nil {
			return
		}
		req.RequestURI = target
		req.Header.Set("Authorization", authz)
		req.Header.Set("X-Amz-Date", date)
		if contentSHA != "" {
			req.Header.Set("X-Amz-Content-Sha256", contentSHA)
		}
		p, err := a.Authenticate(req)
		if err == nil {
			t.Errorf("accepted a forged request as %s (authorization %q)", p.Name, authz)
		}
	})
}
