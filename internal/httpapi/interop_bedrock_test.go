package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/testenv"
)

// seedModelID is the model ID in the seed article's snippets; the interop
// server serves it as an alias of testModel (the "us." prefix is a
// cross-region profile and resolves to the base ID).
const seedModelID = "anthropic.claude-3-5-haiku-20241022-v1:0"

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

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// runScript runs a client script and decodes the JSON it prints into out.
func runScript(t *testing.T, env []string, out any, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s\nstdout:\n%s", name, strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("%s printed %q: %v\nstderr:\n%s", name, stdout.String(), err, stderr.String())
	}
}

// awsEnv points the AWS SDKs at endpoint with dummy credentials and nothing
// read from the user's AWS configuration.
func awsEnv(t *testing.T, endpoint string) []string {
	home := t.TempDir()
	return []string{
		"AWS_ENDPOINT_URL_BEDROCK_RUNTIME=" + endpoint,
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY=SECRET",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"HOME=" + home,
	}
}

type usageJSON struct {
	InputTokens  int `json:"inputTokens"`
	OutputTokens int `json:"outputTokens"`
	TotalTokens  int `json:"totalTokens"`
}

type metadataJSON struct {
	Usage   usageJSON `json:"usage"`
	Metrics struct {
		LatencyMs *int64 `json:"latencyMs"`
	} `json:"metrics"`
	PerformanceConfig struct {
		Latency string `json:"latency"`
	} `json:"performanceConfig"`
}

func TestBoto3Bedrock(t *testing.T) {
	url, _ := interopServer(t, scripted())
	boto3Bedrock(t, url, false)
}

// boto3Bedrock runs test/interop/python/bedrock_runtime.py against url,
// which serves the seed's model ID.
func boto3Bedrock(t *testing.T, url string, real bool) {
	python := testenv.Python(t)
	var got struct {
		Converse struct {
			Text              string
			StopReason        string
			Usage             usageJSON
			LatencyMs         *int64
			PerformanceConfig struct{ Latency string }
			RequestID         string `json:"requestId"`
			Deployment        string
		}
		ConverseStream struct {
			Events     []string
			Text       string
			StopReason string
			Metadata   metadataJSON
		} `json:"converse_stream"`
		FMEval struct {
			Output      *string
			InputTokens int `json:"input_tokens"`
			ContentType string
		}
		InvokeStream struct {
			Events []string
			Text   string
		} `json:"invoke_stream"`
		CountTokens int `json:"count_tokens"`
		Errors      map[string]*struct {
			Code   string
			Status int
		}
	}
	runScript(t, awsEnv(t, url), &got, python, filepath.Join(repoRoot(t), "test/interop/python/bedrock_runtime.py"))

	c := got.Converse
	if c.Text == "" || c.Usage.OutputTokens == 0 || c.Usage.TotalTokens != c.Usage.InputTokens+c.Usage.OutputTokens || c.LatencyMs == nil {
		t.Errorf("converse = %+v", c)
	}
	if c.PerformanceConfig.Latency != "optimized" || c.RequestID == "" || c.Deployment == "" {
		t.Errorf("converse performanceConfig %q, request ID %q, deployment %q", c.PerformanceConfig.Latency, c.RequestID, c.Deployment)
	}
	s := got.ConverseStream
	if g := strings.Join(s.Events, " "); g != "messageStart contentBlockDelta contentBlockStop messageStop metadata" {
		t.Errorf("converse_stream events = %q", g)
	}
	if s.Text == "" || s.StopReason == "" || s.Metadata.Usage.OutputTokens == 0 || s.Metadata.Metrics.LatencyMs == nil || s.Metadata.PerformanceConfig.Latency != "optimized" {
		t.Errorf("converse_stream = %+v", s)
	}
	if got.FMEval.Output == nil || *got.FMEval.Output == "" || got.FMEval.ContentType != "application/json" {
		t.Errorf("fmeval content[0].text = %v (%+v)", got.FMEval.Output, got.FMEval)
	}
	if g := strings.Join(got.InvokeStream.Events, " "); g != "message_start content_block_start content_block_delta content_block_stop message_delta message_stop" || got.InvokeStream.Text == "" {
		t.Errorf("invoke_stream = %+v", got.InvokeStream)
	}
	if got.CountTokens <= 0 {
		t.Errorf("count_tokens = %d", got.CountTokens)
	}
	wantErr := map[string]struct {
		code   string
		status int
	}{
		"unknown_model":    {"ResourceNotFoundException", 404},
		"wrong_role_order": {"ValidationException", 400},
	}
	for name, w := range wantErr {
		e := got.Errors[name]
		if e == nil || e.Code != w.code || e.Status != w.status {
			t.Errorf("%s error = %+v, want %s %d", name, e, w.code, w.status)
		}
	}
	if !real {
		if c.Text != "Hello from Outcrop" || s.Text != "Hello from Outcrop" {
			t.Errorf("texts %q, %q", c.Text, s.Text)
		}
	}
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
	runScript(t, awsEnv(t, url), &got, python, filepath.Join(repoRoot(t), "test/interop/python/bedrock_stream_error.py"))
	if got.ErrorCode != "modelStreamErrorException" || got.Message != "upstream reset the stream" || strings.Join(got.Events, " ") != "messageStart contentBlockDelta" {
		t.Errorf("boto3 saw %+v", got)
	}
}

func TestJSBedrockHTTP2(t *testing.T) {
	url, log := interopServer(t, scripted())
	jsBedrock(t, url, log, false)
}

// jsBedrock runs test/interop/js/bedrock_runtime.mjs against url; log, when
// not nil, holds the protocols the server saw.
func jsBedrock(t *testing.T, url string, log *protoLog, real bool) {
	modules := testenv.NodeModules(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found: %v", err)
	}
	var got struct {
		Handler  string
		Converse struct {
			Text              string
			StopReason        string
			Usage             usageJSON
			LatencyMs         *int64
			PerformanceConfig struct{ Latency string }
			RequestID         string `json:"requestId"`
		}
		ConverseStream struct {
			Events   []string
			Text     string
			Metadata metadataJSON
		} `json:"converse_stream"`
		CountTokens int `json:"count_tokens"`
		Invoke      struct {
			Text       string
			StopReason string `json:"stop_reason"`
		}
		InvokeStream []string `json:"invoke_stream"`
		UnknownModel *struct {
			Name   string
			Status int
		} `json:"unknown_model"`
		WrongRoleOrder *struct {
			Name   string
			Status int
		} `json:"wrong_role_order"`
	}
	env := append(awsEnv(t, url), "OUTCROP_TEST_NODE_MODULES="+modules, "NODE_PATH="+filepath.Join(modules, "node_modules"))
	runScript(t, env, &got, node, filepath.Join(repoRoot(t), "test/interop/js/bedrock_runtime.mjs"), url, testModel)

	if got.Handler != "NodeHttp2Handler" {
		t.Errorf("request handler = %q, want the default NodeHttp2Handler", got.Handler)
	}
	if log != nil {
		if protos := log.seen(); protos["HTTP/2.0"] == 0 || protos["HTTP/1.1"] != 0 {
			t.Errorf("protocols seen by the server = %v, want only HTTP/2.0", protos)
		}
	}
	c := got.Converse
	if c.Text == "" || c.Usage.OutputTokens == 0 || c.LatencyMs == nil || c.PerformanceConfig.Latency != "optimized" || c.RequestID == "" {
		t.Errorf("converse = %+v", c)
	}
	s := got.ConverseStream
	if g := strings.Join(s.Events, " "); g != "messageStart contentBlockDelta contentBlockStop messageStop metadata" {
		t.Errorf("converse_stream events = %q", g)
	}
	if s.Text == "" || s.Metadata.Usage.OutputTokens == 0 || s.Metadata.Metrics.LatencyMs == nil || s.Metadata.PerformanceConfig.Latency != "optimized" {
		t.Errorf("converse_stream = %+v", s)
	}
	if got.CountTokens <= 0 || got.Invoke.Text == "" {
		t.Errorf("count_tokens %d, invoke %+v", got.CountTokens, got.Invoke)
	}
	if g := strings.Join(got.InvokeStream, " "); g != "message_start content_block_start content_block_delta content_block_stop message_delta message_stop" {
		t.Errorf("invoke_stream = %q", g)
	}
	if e := got.UnknownModel; e == nil || e.Name != "ResourceNotFoundException" || e.Status != 404 {
		t.Errorf("unknown model error = %+v", e)
	}
	if e := got.WrongRoleOrder; e == nil || e.Name != "ValidationException" || e.Status != 400 {
		t.Errorf("wrong role order error = %+v", e)
	}
	if !real && (c.Text != "Hello from Outcrop" || s.Text != "Hello from Outcrop") {
		t.Errorf("texts %q, %q", c.Text, s.Text)
	}
}
