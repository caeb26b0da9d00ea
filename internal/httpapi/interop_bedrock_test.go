package httpapi

import (
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/outcrop/outcrop/internal/httpapi/bedrocktest"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/testenv"
)

// seedModelID is the model ID in the seed article's snippets; the interop
// server serves it as an alias of testModel (the "us." prefix is a
// cross-region profile and resolves to the base ID).
const seedModelID = bedrocktest.SeedModelID

// protoLog records the HTTP protocol of every request.
type protoLog struct {
	mu     sync.Mutex
	protos map[string]int
}

func (l *protoLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		if l.protos == nil {
			l.protos = map[string]int{}
		}
		l.protos[r.Proto]++
		l.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (l *protoLog) seen() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for k, v := range l.protos {
		out[k] = v
	}
	return out
}

// interopServer serves p as testModel, aliased to the seed's model ID.
func interopServer(t *testing.T, p llm.Provider) (string, *protoLog) {
	t.Helper()
	log := &protoLog{}
	ts := newTestServerWith(t, log.wrap, &routing.Model{
		ID:          testModel,
		Aliases:     []string{seedModelID},
		Profiles:    []llm.Latency{llm.LatencyStandard, llm.LatencyOptimized},
		Deployments: []*routing.Deployment{{Name: "upstream-1", Provider: p, Type: "openai", Weight: 1}},
	})
	return ts.URL, log
}

func TestBoto3Bedrock(t *testing.T) {
	url, _ := interopServer(t, scripted())
	bedrocktest.Boto3Suite(t, url, false)
}

func TestBoto3StreamException(t *testing.T) {
	python := testenv.Python(t)
	p := &replayProvider{script: func(*llm.Request) ([]llm.Event, error) {
		return textEvents("partial")[:2], &llm.Error{Kind: llm.KindModelError, Message: "upstream reset the stream", UpstreamStatus: 502}
	}}
	url, _ := interopServer(t, p)
	var got struct {
		Events    []string
		ErrorCode string `json:"error_code"`
		Message   string
	}
	bedrocktest.RunScript(t, bedrocktest.AWSEnv(t, url), &got, python, filepath.Join(bedrocktest.RepoRoot(t), "test/interop/python/bedrock_stream_error.py"))
	if got.ErrorCode != "modelStreamErrorException" || got.Message != "upstream reset the stream" || strings.Join(got.Events, " ") != "messageStart contentBlockDelta" {
		t.Errorf("boto3 saw %+v", got)
	}
}

func TestJSBedrockHTTP2(t *testing.T) {
	url, log := interopServer(t, scripted())
	bedrocktest.JSSuite(t, url, false)
	if protos := log.seen(); protos["HTTP/2.0"] == 0 || protos["HTTP/1.1"] != 0 {
		t.Errorf("protocols seen by the server = %v, want only HTTP/2.0", protos)
	}
}

// repoRoot returns the repository root (the OpenAI interop tests use it too).
func repoRoot(t *testing.T) string { return bedrocktest.RepoRoot(t) }

// runScript runs a client script and decodes the JSON it prints into out
// (shared with the OpenAI and guardrail interop tests).
func runScript(t *testing.T, env []string, out any, name string, args ...string) {
	t.Helper()
	bedrocktest.RunScript(t, env, out, name, args...)
}

// awsEnv points the AWS SDKs at endpoint (shared with the guardrail tests).
func awsEnv(t *testing.T, endpoint string) []string { return bedrocktest.AWSEnv(t, endpoint) }
