package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/console"
	"github.com/outcrop/outcrop/internal/gguf/ggufgen"
	"github.com/outcrop/outcrop/internal/modelstore"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// TestAdminPrincipals drives principals, keys and policies through the
// admin API as a signed-in console session, checks what the created keys
// can do on the public API, and that a principal without the outcrop:*
// permissions is denied.
func TestAdminPrincipals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOptions{})
		adminKey, _ := e.user(t, "admin", adminPolicy)
		b := e.browser(t)
		if st, _ := b.signIn(`{"apiKey":"` + adminKey + `"}`); st != 200 {
			t.Fatal("sign-in failed")
		}

		// Create a principal; duplicates and bad names are 4xx with a message.
		code, _, body := b.do("POST", "/admin/v1/principals", `{"name":"carol"}`, true)
		if code != 201 || !strings.Contains(string(body), `"arn":"arn:aws:iam::000000000000:user/carol"`) {
			t.Fatalf("create principal: %d %s", code, body)
		}
		for _, tc := range []struct {
			body   string
			status int
		}{
			{`{"name":"carol"}`, 409},
			{`{"name":"bad name!"}`, 400},
			{`{"name":""}`, 400},
			{`{"nam":"x"}`, 400},
			{`{"name":1}`, 400},
			{`not json`, 400},
		} {
			code, _, body := b.do("POST", "/admin/v1/principals", tc.body, true)
			if code != tc.status || message(t, body) == "" {
				t.Errorf("create %s: %d %s, want %d", tc.body, code, body, tc.status)
			}
		}

		// An API key, shown once; it works on the public API.
		code, _, body = b.do("POST", "/admin/v1/principals/carol/api-keys", `{"ttl":"720h"}`, true)
		var ak struct {
			APIKeyID, APIKey string
			ExpiresAt        *string
		}
		json.Unmarshal(body, &ak)
		if code != 201 || !strings.HasPrefix(ak.APIKey, "oc_"+ak.APIKeyID+"_") || ak.ExpiresAt == nil {
			t.Fatalf("create API key: %d %s", code, body)
		}
		code, _, body = b.do("GET", "/admin/v1/principals/carol/api-keys", "", false)
		if code != 200 || strings.Contains(string(body), ak.APIKey) || !strings.Contains(string(body), ak.APIKeyID) {
			t.Fatalf("list API keys shows the key or misses it: %d %s", code, body)
		}
		carol := e.browser(t)
		if st, s := carol.signIn(`{"apiKey":"` + ak.APIKey + `"}`); st != 200 || s.Principal != "carol" {
			t.Fatalf("sign-in with the new key: %d", st)
		}
		converse := "/model/" + url.PathEscape(testModel) + "/converse"
		// No policy yet: the public API denies.
		if code, _, body := carol.do("POST", converse, converseBody("hi"), true); code != 403 || !strings.Contains(string(body), "not authorized to perform: bedrock:InvokeModel") {
			t.Errorf("Converse without a policy: %d %s", code, body)
		}

		// Policies: invalid documents fail with the validator's own text.
		bad := `{"Version":"2012-10-17","Statement":[{"Effect":"Permit","Action":"bedrock:*","Resource":"*"}]}`
		_, want := auth.ParsePolicy([]byte(bad))
		code, _, body = b.do("PUT", "/admin/v1/principals/carol/policies/chat", bad, true)
		if code != 400 || message(t, body) != want.Error() {
			t.Errorf("put invalid policy: %d %q, want 400 %q", code, message(t, body), want)
		}
		code, _, body = b.do("POST", "/admin/v1/policies/validate", bad, true)
		if code != 400 || message(t, body) != want.Error() {
			t.Errorf("validate invalid policy: %d %s", code, body)
		}
		if code, _, body := b.do("POST", "/admin/v1/policies/validate", bedrockOnly, true); code != 200 || string(bytes.TrimSpace(body)) != `{"valid":true}` {
			t.Errorf("validate policy: %d %s", code, body)
		}
		if code, _, body := b.do("PUT", "/admin/v1/principals/carol/policies/chat", bedrockOnly, true); code != 204 {
			t.Fatalf("put policy: %d %s", code, body)
		}
		code, _, body = b.do("GET", "/admin/v1/principals/carol/policies/chat", "", false)
		var pol struct {
			Name     string
			Document json.RawMessage
		}
		json.Unmarshal(body, &pol)
		if code != 200 || pol.Name != "chat" || !json.Valid(pol.Document) || !strings.Contains(string(pol.Document), "bedrock:*") {
			t.Errorf("get policy: %d %s", code, body)
		}
		e.a.Refresh(context.Background())
		if code, _, body := carol.do("POST", converse, converseBody("hi"), true); code != 200 {
			t.Errorf("Converse after the policy: %d %s", code, body)
		}

		// Carol may call models but not administer: she sees the denial, not the data.
		for _, p := range []string{"/admin/v1/principals", "/admin/v1/principals/admin", "/admin/v1/requests", "/admin/v1/metrics", "/admin/v1/models", "/admin/v1/local-models"} {
			code, _, body := carol.do("GET", p, "", false)
			if code != 403 || !strings.Contains(message(t, body), "is not authorized to perform: outcrop:") || strings.Contains(string(body), adminKey[:12]) {
				t.Errorf("GET %s as carol: %d %s", p, code, body)
			}
		}
		if code, _, body := carol.do("POST", "/admin/v1/principals/carol/api-keys", "", true); code != 403 {
			t.Errorf("carol creating her own key: %d %s", code, body)
		}

		// Access keys: create (secret once), deactivate, delete.
		code, _, body = b.do("POST", "/admin/v1/principals/carol/access-keys", "", true)
		var key struct{ AccessKeyID, SecretAccessKey string }
		json.Unmarshal(body, &key)
		if code != 201 || key.SecretAccessKey == "" {
			t.Fatalf("create access key: %d %s", code, body)
		}
		if code, _, body := b.do("PUT", "/admin/v1/principals/carol/access-keys/"+key.AccessKeyID, `{"status":"Inactive"}`, true); code != 204 {
			t.Errorf("deactivate access key: %d %s", code, body)
		}
		if code, _, _ := b.do("PUT", "/admin/v1/principals/carol/access-keys/"+key.AccessKeyID, `{"status":"Deleted"}`, true); code != 400 {
			t.Errorf("bad status: %d", code)
		}
		if code, _, body := b.do("GET", "/admin/v1/principals/carol/access-keys", "", false); code != 200 || !strings.Contains(string(body), `"status":"Inactive"`) || strings.Contains(string(body), key.SecretAccessKey) {
			t.Errorf("list access keys: %d %s", code, body)
		}
		if code, _, _ := b.do("DELETE", "/admin/v1/principals/carol/access-keys/"+key.AccessKeyID, "", true); code != 204 {
			t.Errorf("delete access key: %d", code)
		}
		if code, _, _ := b.do("DELETE", "/admin/v1/principals/carol/access-keys/"+key.AccessKeyID, "", true); code != 404 {
			t.Errorf("delete access key twice: %d", code)
		}

		// Revoke the API key: carol's session ends with it.
		if code, _, _ := b.do("DELETE", "/admin/v1/principals/carol/api-keys/"+ak.APIKeyID, "", true); code != 204 {
			t.Fatalf("revoke API key: %d", code)
		}
		e.a.Refresh(context.Background())
		if code, _, _ := carol.do("GET", "/console/api/session", "", false); code != 401 {
			t.Errorf("carol's session after revoking her key: %d", code)
		}

		// Unknown principals are 404; deleting a principal ends its sessions.
		for _, p := range []string{"/admin/v1/principals/nobody", "/admin/v1/principals/nobody/api-keys", "/admin/v1/principals/nobody/policies", "/admin/v1/principals/nobody/sessions"} {
			if code, _, body := b.do("GET", p, "", false); code != 404 || message(t, body) == "" {
				t.Errorf("GET %s: %d %s", p, code, body)
			}
		}
		if code, _, _ := b.do("DELETE", "/admin/v1/principals/carol/policies/chat", "", true); code != 204 {
			t.Errorf("delete policy: %d", code)
		}
		if code, _, _ := b.do("DELETE", "/admin/v1/principals/carol", "", true); code != 204 {
			t.Errorf("delete principal: %d", code)
		}
		if code, _, _ := b.do("GET", "/admin/v1/principals/carol", "", false); code != 404 {
			t.Errorf("deleted principal: %d", code)
		}
		// State changes through the admin API need the CSRF token too.
		if code, _, _ := b.do("POST", "/admin/v1/principals", `{"name":"dave"}`, false); code != 403 {
			t.Errorf("create principal without CSRF: %d", code)
		}
		if code, _, _ := b.do("GET", "/admin/v1/nothing", "", false); code != 404 {
			t.Errorf("unknown admin route: %d", code)
		}
	})
}

// TestAdminRequestsAndMetrics makes calls through the real pipeline and
// reads them back from the request log (filters, cursor pages, detail with
// attempts) and the metrics series (grouped by model and profile).
func TestAdminRequestsAndMetrics(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), envOptions{})
	adminKey, _ := e.user(t, "admin", adminPolicy)
	userKey, _ := e.user(t, "bob", bedrockOnly)
	post := func(key, path, body string) int {
		req, _ := http.NewRequest("POST", e.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) // the audit entry is written when the handler ends
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := 0; i < 5; i++ {
		if st := post(userKey, "/model/"+url.PathEscape(testModel)+"/converse", converseBody("my card is 4111 1111 1111 1111")); st != 200 {
			t.Fatalf("converse: %d", st)
		}
	}
	chat := `{"model":"` + testModel + `","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	for i := 0; i < 3; i++ {
		if st := post(userKey, "/v1/chat/completions", chat); st != 200 {
			t.Fatalf("chat: %d", st)
		}
	}
	if st := post(userKey, "/model/nope/converse", converseBody("x")); st != 404 {
		t.Fatalf("unknown model: %d", st)
	}
	e.audit.Flush()
	e.calls.Flush()

	b := e.browser(t)
	b.signIn(`{"apiKey":"` + adminKey + `"}`)
	type reqPage struct {
		Requests []struct {
			ID, Principal, Model, RequestID string
			Status                          int
			OutputTokens                    int
		}
		NextCursor string
	}
	get := func(q string) reqPage {
		t.Helper()
		code, _, body := b.do("GET", "/admin/v1/requests?"+q, "", false)
		if code != 200 {
			t.Fatalf("requests?%s: %d %s", q, code, body)
		}
		var p reqPage
		json.Unmarshal(body, &p)
		return p
	}
	all := get("principal=bob&model=" + url.QueryEscape(testModel) + "&status=2xx")
	if len(all.Requests) != 8 {
		t.Fatalf("bob's successful calls: %d, want 8", len(all.Requests))
	}
	if p := get("principal=bob&status=404"); len(p.Requests) != 1 {
		t.Errorf("status=404: %d entries", len(p.Requests))
	}
	if p := get("principal=bob&status=4xx"); len(p.Requests) != 1 {
		t.Errorf("status=4xx: %d entries", len(p.Requests))
	}
	// Cursor pages cover the same entries, in the same order, once each.
	var paged []string
	q := "principal=bob&status=2xx&limit=3"
	for range 10 {
		p := get(q)
		for _, r := range p.Requests {
			paged = append(paged, r.ID)
		}
		if p.NextCursor == "" {
			break
		}
		q = "principal=bob&status=2xx&limit=3&cursor=" + url.QueryEscape(p.NextCursor)
	}
	if len(paged) != 8 {
		t.Fatalf("paged through %d entries, want 8", len(paged))
	}
	for i := range paged {
		if paged[i] != all.Requests[i].ID {
			t.Fatalf("page order differs at %d", i)
		}
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if p := get("principal=bob&from=" + url.QueryEscape(future)); len(p.Requests) != 0 {
		t.Errorf("from=future: %d entries", len(p.Requests))
	}

	// Detail: masked prompt, measured call with its attempt.
	last := all.Requests[len(all.Requests)-1] // the oldest: a Converse
	code, _, body := b.do("GET", "/admin/v1/requests/"+last.ID, "", false)
	var det struct {
		Request struct {
			Prompt string
		}
		Call *console.CallJSON
	}
	json.Unmarshal(body, &det)
	if code != 200 || det.Call == nil {
		t.Fatalf("detail: %d %s", code, body)
	}
	if strings.Contains(det.Request.Prompt, "4111 1111 1111 1111") || det.Request.Prompt == "" {
		t.Errorf("prompt excerpt not masked: %q", det.Request.Prompt)
	}
	c := det.Call
	if c.Model != testModel || c.Deployment != "echo" || c.OutputTokens != 2 || len(c.Attempts) != 1 || !c.Attempts[0].Winner || c.Attempts[0].FirstEventMs == nil || c.E2EMs <= 0 {
		t.Errorf("recorded call: %+v", c)
	}
	if code, _, _ := b.do("GET", "/admin/v1/requests/nope", "", false); code != 404 {
		t.Errorf("unknown entry: %d", code)
	}

	// Metrics: buckets by model; streamed chat calls have a TTFT.
	code, _, body = b.do("GET", "/admin/v1/metrics?step=1h&groupBy=model", "", false)
	var m struct {
		Buckets []console.Bucket
	}
	json.Unmarshal(body, &m)
	var reqs int
	var ttft float64
	for _, bk := range m.Buckets {
		if bk.Key == testModel {
			reqs += bk.Requests
			ttft = max(ttft, bk.P50TTFTMs)
		}
	}
	if code != 200 || reqs != 8 || ttft <= 0 {
		t.Errorf("metrics by model: %d requests, p50 TTFT %v: %s", reqs, ttft, body)
	}
	code, _, body = b.do("GET", "/admin/v1/metrics?step=1h&groupBy=profile", "", false)
	if code != 200 || !strings.Contains(string(body), `"key":"standard"`) {
		t.Errorf("metrics by profile: %d %s", code, body)
	}
	code, _, body = b.do("GET", "/admin/v1/models", "", false)
	if code != 200 || !strings.Contains(string(body), `"deployment":"echo"`) || !strings.Contains(string(body), `"breaker":"closed"`) {
		t.Errorf("model status: %d %s", code, body)
	}
}

// TestAdminBadInput sends malformed input to every admin route: each
// answer is a 4xx with a message, never a 5xx.
func TestAdminBadInput(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), envOptions{})
	key, _ := e.user(t, "admin", adminPolicy)
	b := e.browser(t)
	b.signIn(`{"apiKey":"` + key + `"}`)
	bodies := []string{"", "{", "[]", `{"name":{}}`, "\x00\xff", strings.Repeat("[", 10000), `{"ttl":"-5h"}`, `{"ttl":"forever"}`, `{"status":7}`, `{"ref":""}`, `{"ref":"ftp://x"}`, `{"ref":"a","sha256":"zz"}`, `{"ref":"a","id":"BAD ID"}`}
	routes := []string{
		"POST /admin/v1/principals", "POST /admin/v1/principals/admin/access-keys", "PUT /admin/v1/principals/admin/access-keys/X",
		"POST /admin/v1/principals/admin/api-keys", "PUT /admin/v1/principals/admin/policies/p2", "PUT /admin/v1/principals/admin/policies/bad%20name",
		"POST /admin/v1/policies/validate", "POST /admin/v1/local-models", "DELETE /admin/v1/local-models/..%2f..%2fetc",
		"GET /admin/v1/requests?status=abc", "GET /admin/v1/requests?limit=0", "GET /admin/v1/requests?cursor=%%%", "GET /admin/v1/requests?cursor=AAAA",
		"GET /admin/v1/requests?from=yesterday", "GET /admin/v1/requests?bogus=1", "GET /admin/v1/metrics?step=0s", "GET /admin/v1/metrics?step=1ms",
		"GET /admin/v1/metrics?groupBy=color", "GET /admin/v1/metrics?from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z",
		"GET /admin/v1/metrics?from=2000-01-01T00:00:00Z&step=1s", "GET /admin/v1/requests/" + strings.Repeat("x", 100),
		"DELETE /admin/v1/principals/admin/sessions/nope", "DELETE /admin/v1/principals/admin/api-keys/nope",
	}
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt, " ")
		for _, body := range bodies {
			code, _, resp := b.do(method, path, body, true)
			if code >= 500 {
				t.Errorf("%s body %.20q: %d %s", rt, body, code, resp)
			}
			if code >= 400 && message(t, resp) == "" {
				t.Errorf("%s: %d without a message", rt, code)
			}
		}
	}
}

// TestAdminLocalModels lists, pulls (from a loopback server standing in
// for Hugging Face) and removes local model files.
func TestAdminLocalModels(t *testing.T) {
	var gguf bytes.Buffer
	if err := ggufgen.Write(&gguf, ggufgen.Options{Layers: 1, Embd: 32, FF: 64, Heads: 2, KVHeads: 1}); err != nil {
		t.Fatal(err)
	}
	hf := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "tiny.gguf", time.Now(), bytes.NewReader(gguf.Bytes()))
	}))
	defer hf.Close()
	var e *env
	e = newEnv(t, storetest.SQLite(t), envOptions{pull: func(ctx context.Context, ref string, o modelstore.PullOptions) (modelstore.Model, error) {
		o.Client = hf.Client()
		return e.models.Pull(ctx, ref, o)
	}})
	key, _ := e.user(t, "admin", adminPolicy)
	b := e.browser(t)
	b.signIn(`{"apiKey":"` + key + `"}`)
	if code, _, body := b.do("GET", "/admin/v1/local-models", "", false); code != 200 || !strings.Contains(string(body), `"models":[]`) {
		t.Fatalf("empty list: %d %s", code, body)
	}
	code, _, body := b.do("POST", "/admin/v1/local-models", `{"ref":"`+hf.URL+`/tiny.gguf","id":"tiny"}`, true)
	var p console.PullJSON
	json.Unmarshal(body, &p)
	if code != 202 || p.ID == "" {
		t.Fatalf("pull: %d %s", code, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for p.State == "running" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		_, _, body = b.do("GET", "/admin/v1/local-models/pulls/"+p.ID, "", false)
		json.Unmarshal(body, &p)
	}
	if p.State != "done" || p.Model == nil || p.Model.ID != "tiny" || p.Bytes != int64(gguf.Len()) {
		t.Fatalf("pull ended as %+v", p)
	}
	if code, _, body := b.do("GET", "/admin/v1/local-models", "", false); code != 200 || !strings.Contains(string(body), `"id":"tiny"`) {
		t.Errorf("list after pull: %d %s", code, body)
	}
	if code, _, _ := b.do("DELETE", "/admin/v1/local-models/tiny", "", true); code != 204 {
		t.Errorf("remove: %d", code)
	}
	if code, _, _ := b.do("DELETE", "/admin/v1/local-models/tiny", "", true); code != 404 {
		t.Errorf("remove twice: %d", code)
	}
	// A failing download is reported, not a 5xx.
	_, _, body = b.do("POST", "/admin/v1/local-models", `{"ref":"`+hf.URL+`/tiny.gguf","id":"tiny2","sha256":"`+strings.Repeat("0", 64)+`"}`, true)
	json.Unmarshal(body, &p)
	for p.State == "running" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		_, _, body = b.do("GET", "/admin/v1/local-models/pulls/"+p.ID, "", false)
		json.Unmarshal(body, &p)
	}
	if p.State != "failed" || p.Error == "" {
		t.Errorf("pull with a wrong digest: %+v", p)
	}
}

// FuzzParseRequestQuery: the request-log query parser never panics, and
// what it accepts is within its documented bounds.
func FuzzParseRequestQuery(f *testing.F) {
	for _, s := range []string{"", "model=m&principal=p&status=4xx&limit=10", "status=429", "from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z", "cursor=abc", "status=9xx", "limit=-1", "x=1", "from=2026-13-01T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		fl, err := console.ParseRequestQuery(q)
		if err != nil {
			return
		}
		if fl.Limit < 0 || fl.Limit > 500 || fl.StatusClass < 0 || fl.StatusClass > 5 || (fl.Status != 0 && (fl.Status < 100 || fl.Status > 599)) {
			t.Fatalf("%q parsed out of bounds: %+v", raw, fl)
		}
		if !fl.From.IsZero() && !fl.To.IsZero() && !fl.From.Before(fl.To) {
			t.Fatalf("%q: from not before to", raw)
		}
	})
}

// FuzzParseMetricsQuery: the metrics query parser never panics and never
// accepts more than 10,000 buckets.
func FuzzParseMetricsQuery(f *testing.F) {
	for _, s := range []string{"", "step=1m&groupBy=model", "from=2026-12-01T00:00:00Z&step=1s", "step=0", "groupBy=x", "to=2026-12-01T00:00:00Z"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		m, err := console.ParseMetricsQuery(q, now)
		if err != nil {
			return
		}
		if m.Step < time.Second || !m.From.Before(m.To) || m.To.Sub(m.From)/m.Step > 10_000 {
			t.Fatalf("%q accepted: %+v", raw, m)
		}
	})
}
