package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/quota"
	"github.com/outcrop/outcrop/internal/store/storetest"
	"github.com/outcrop/outcrop/internal/testenv"
)

type sdkCase struct {
	AKID    string `json:"akid,omitempty"`
	Secret  string `json:"secret,omitempty"`
	Token   string `json:"token,omitempty"`
	Latency string `json:"latency,omitempty"`
}

type sdkResult struct {
	OK     bool   `json:"ok"`
	Code   string `json:"code"`
	Status int    `json:"status"`
	Msg    string `json:"msg,omitempty"` // the client's error message, for failures
}

func (r sdkResult) same(w sdkResult) bool {
	return r.OK == w.OK && r.Code == w.Code && r.Status == w.Status
}

// interopCases builds a server and the cases every SDK runs, with the
// expected outcome of each.
func interopCases(t *testing.T, useTLS bool) (*server, map[string]sdkCase, map[string]sdkResult) {
	s := newServerTLS(t, storetest.SQLite(t), quota.Config{}, useTLS)
	ctx := context.Background()
	good, _, goodAPI := s.addUser(t, "sdk-user", `{"Statement":[
		{"Effect":"Allow","Action":"bedrock:InvokeModel*","Resource":"arn:aws:bedrock:*:*:foundation-model/acme.*"},
		{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"bedrock:PerformanceConfigLatency":"optimized"}}}]}`)
	none, _, _ := s.addUser(t, "sdk-no-policy", "")
	_, revokedID, revoked := s.addUser(t, "sdk-revoked", allowAll)
	if err := s.st.RevokeAPIKey(ctx, "sdk-revoked", revokedID); err != nil {
		t.Fatal(err)
	}
	expiring, err := s.st.CreateAccessKey(ctx, "sdk-revoked", time.Nanosecond)
	if err != nil {
		t.Fatal(err)
	}
	s.a.Refresh(ctx)
	cases := map[string]sdkCase{
		"valid":          {AKID: good.AccessKeyID, Secret: good.SecretAccessKey},
		"valid_bearer":   {Token: goodAPI},
		"wrong_secret":   {AKID: good.AccessKeyID, Secret: strings.Repeat("x", 40)},
		"unknown_key":    {AKID: "OCIAUNKNOWNUNKNOWN00", Secret: good.SecretAccessKey},
		"expired_key":    {AKID: expiring.AccessKeyID, Secret: expiring.SecretAccessKey},
		"revoked_bearer": {Token: revoked},
		"policy_deny":    {AKID: none.AccessKeyID, Secret: none.SecretAccessKey},
		"condition_deny": {AKID: good.AccessKeyID, Secret: good.SecretAccessKey, Latency: "optimized"},
	}
	want := map[string]sdkResult{
		"valid":          {OK: true, Status: 200},
		"valid_bearer":   {OK: true, Status: 200},
		"wrong_secret":   {Code: "InvalidSignatureException", Status: 403},
		"unknown_key":    {Code: "UnrecognizedClientException", Status: 403},
		"expired_key":    {Code: "UnrecognizedClientException", Status: 403},
		"revoked_bearer": {Code: "UnrecognizedClientException", Status: 403},
		"policy_deny":    {Code: "AccessDeniedException", Status: 403},
		"condition_deny": {Code: "AccessDeniedException", Status: 403},
	}
	return s, cases, want
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func runScript(t *testing.T, cases map[string]sdkCase, env []string, name string, args ...string) map[string]sdkResult {
	t.Helper()
	return runScriptJSON(t, cases, env, name, args...)
}

// runScriptJSON writes cases to a file, runs the script with the file as
// its last argument and decodes the JSON it prints.
func runScriptJSON(t *testing.T, cases any, env []string, name string, args ...string) map[string]sdkResult {
	t.Helper()
	f := filepath.Join(t.TempDir(), "cases.json")
	b, _ := json.Marshal(cases)
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, append(args, f)...)
	// Credentials in the environment would change which auth the SDKs
	// pick; the scripts pass their own.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, errb.String())
	}
	var got map[string]sdkResult
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("script output %q: %v\n%s", out.String(), err, errb.String())
	}
	return got
}

// TestBoto3 runs boto3 (SigV4 without a signed content-length, and the
// AWS_BEARER_TOKEN_BEDROCK bearer path) against the server. It serves
// HTTPS because boto3 refuses bearer tokens over plain HTTP.
func TestBoto3(t *testing.T) {
	python := testenv.Python(t)
	s, cases, want := interopCases(t, true)
	env := []string{"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_CA_BUNDLE=" + s.CAFile}
	got := runScript(t, cases, env, python, filepath.Join(repoRoot(), "test", "interop", "python", "auth_bedrock.py"), s.URL, e2eModel)
	for name, w := range want {
		if !got[name].same(w) {
			t.Errorf("boto3 %s = %+v, want %+v", name, got[name], w)
		}
	}
}

// TestJSSDK runs @aws-sdk/client-bedrock-runtime over HTTP/2 cleartext
// (signing :authority) and over HTTP/1.1 against the server.
func TestJSSDK(t *testing.T) {
	modules := testenv.NodeModules(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found: %v", err)
	}
	s, cases, want := interopCases(t, false)
	env := []string{"OUTCROP_TEST_NODE_MODULES=" + modules}
	got := runScript(t, cases, env, node, filepath.Join(repoRoot(), "test", "interop", "js", "auth_bedrock.mjs"), s.URL, e2eModel)
	for _, h := range []string{"h2", "http1"} {
		for name, w := range want {
			if !got[h+"/"+name].same(w) {
				t.Errorf("js %s/%s = %+v, want %+v", h, name, got[h+"/"+name], w)
			}
		}
	}
}

// openaiCases builds a server and API-key cases for the OpenAI SDKs.
func openaiCases(t *testing.T) (*server, map[string]sdkCase, map[string]sdkResult) {
	s := newServer(t, storetest.SQLite(t), quota.Config{})
	ctx := context.Background()
	_, _, good := s.addUser(t, "oai-user", allowAll)
	_, _, denied := s.addUser(t, "oai-no-policy", "")
	_, revokedID, revoked := s.addUser(t, "oai-revoked", allowAll)
	if err := s.st.RevokeAPIKey(ctx, "oai-revoked", revokedID); err != nil {
		t.Fatal(err)
	}
	_, expired, err := s.st.CreateAPIKey(ctx, "oai-user", time.Nanosecond)
	if err != nil {
		t.Fatal(err)
	}
	s.a.Refresh(ctx)
	cases := map[string]sdkCase{
		"valid":   {Token: good},
		"bad_key": {Token: "sk-not-an-outcrop-key"},
		"revoked": {Token: revoked},
		"expired": {Token: expired},
		"denied":  {Token: denied},
	}
	return s, cases, nil
}

func keyCases(cases map[string]sdkCase) map[string]map[string]string {
	out := map[string]map[string]string{}
	for n, c := range cases {
		out[n] = map[string]string{"key": c.Token}
	}
	return out
}

// TestOpenAISDKs runs the OpenAI Python and JS SDKs with API keys: a valid
// key passes, bad, revoked and expired keys get 401
// (AuthenticationError), a policy denial 403 (PermissionDeniedError).
func TestOpenAISDKs(t *testing.T) {
	want := map[string]sdkResult{
		"valid":   {OK: true, Status: 200},
		"bad_key": {Code: "AuthenticationError", Status: 401},
		"revoked": {Code: "AuthenticationError", Status: 401},
		"expired": {Code: "AuthenticationError", Status: 401},
		"denied":  {Code: "PermissionDeniedError", Status: 403},
	}
	t.Run("python", func(t *testing.T) {
		python := testenv.Python(t)
		s, cases, _ := openaiCases(t)
		got := runScriptJSON(t, keyCases(cases), nil, python, filepath.Join(repoRoot(), "test", "interop", "python", "auth_openai.py"), s.URL+"/v1", e2eModel)
		for name, w := range want {
			if !got[name].same(w) {
				t.Errorf("openai-python %s = %+v, want %+v", name, got[name], w)
			}
		}
	})
	t.Run("js", func(t *testing.T) {
		modules := testenv.NodeModules(t)
		s, cases, _ := openaiCases(t)
		got := runScriptJSON(t, keyCases(cases), []string{"OUTCROP_TEST_NODE_MODULES=" + modules}, "node", filepath.Join(repoRoot(), "test", "interop", "js", "auth_openai.mjs"), s.URL+"/v1", e2eModel)
		for name, w := range want {
			if !got[name].same(w) {
				t.Errorf("openai-node %s = %+v, want %+v", name, got[name], w)
			}
		}
	})
}
