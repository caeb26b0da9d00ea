package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// fakeBedrock is a Bedrock-runtime wire fake for the client path's unit
// tests: Converse, ConverseStream and CountTokens for one model, with the
// error shapes real Bedrock sends. End-to-end tests use real servers.
type fakeBedrock struct {
	model string
	calls atomic.Int64
	// block, when set, makes call number blockAt signal reached and then
	// wait until the client goes away.
	blockAt int64
	reached chan struct{}
	once    sync.Once
	prompts sync.Map // prompt text → true, for every Converse call
}

type fakeReq struct {
	Messages []struct {
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	} `json:"messages"`
	InferenceConfig struct {
		MaxTokens int `json:"maxTokens"`
	} `json:"inferenceConfig"`
	PerformanceConfig *struct {
		Latency string `json:"latency"`
	} `json:"performanceConfig"`
	Input *struct {
		Converse *fakeReq `json:"converse"`
	} `json:"input"`
}

func (f *fakeReq) text() string {
	var b strings.Builder
	for _, m := range f.Messages {
		for _, c := range m.Content {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

func awsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func (f *fakeBedrock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.Header.Get("Authorization"), "Credential=BADKEY/") {
		awsError(w, 403, "UnrecognizedClientException", "The security token included in the request is invalid.")
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/model/"), "/")
	if len(parts) != 2 {
		awsError(w, 404, "UnknownOperationException", "no such route")
		return
	}
	if parts[0] != f.model {
		awsError(w, 400, "ValidationException", "The provided model identifier is invalid.")
		return
	}
	var req fakeReq
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil {
		awsError(w, 400, "ValidationException", err.Error())
		return
	}
	if parts[1] == "count-tokens" {
		json.NewEncoder(w).Encode(map[string]int{"inputTokens": EstimateTokens(req.Input.Converse.text()) + 3})
		return
	}
	f.prompts.Store(req.text(), true)
	n := f.calls.Add(1)
	if f.blockAt > 0 && n >= f.blockAt {
		f.once.Do(func() { close(f.reached) })
		<-r.Context().Done()
		return
	}
	profile := "standard"
	if req.PerformanceConfig != nil && req.PerformanceConfig.Latency != "" {
		profile = req.PerformanceConfig.Latency
	}
	w.Header().Set(HeaderDeployment, "fake-"+profile)
	w.Header().Set("X-Amzn-RequestId", fmt.Sprintf("req-%d", n))
	out := min(req.InferenceConfig.MaxTokens, 6)
	in := EstimateTokens(req.text()) + 3
	usage := map[string]int{"inputTokens": in, "outputTokens": out, "totalTokens": in + out}
	perf := map[string]string{"latency": profile}
	if parts[1] == "converse" {
		json.NewEncoder(w).Encode(map[string]any{
			"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": []any{map[string]string{"text": strings.Repeat("tok ", out)}}}},
			"stopReason": "max_tokens", "usage": usage, "metrics": map[string]int{"latencyMs": 5}, "performanceConfig": perf,
		})
		return
	}
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	enc := eventstream.NewEncoder()
	fl := w.(http.Flusher)
	send := func(typ string, payload any) {
		b, _ := json.Marshal(payload)
		var h eventstream.Headers
		h.Set(":event-type", eventstream.StringValue(typ))
		h.Set(":content-type", eventstream.StringValue("application/json"))
		h.Set(":message-type", eventstream.StringValue("event"))
		enc.Encode(w, eventstream.Message{Headers: h, Payload: b})
		fl.Flush()
	}
	send("messageStart", map[string]string{"role": "assistant"})
	for range out {
		time.Sleep(time.Millisecond) // let the clock move between chunks
		send("contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]string{"text": "tok "}})
	}
	send("contentBlockStop", map[string]int{"contentBlockIndex": 0})
	send("messageStop", map[string]string{"stopReason": "max_tokens"})
	send("metadata", map[string]any{"usage": usage, "metrics": map[string]int{"latencyMs": 5}, "performanceConfig": perf})
}

func startFake(t *testing.T, f *fakeBedrock) string {
	t.Helper()
	if f.reached == nil {
		f.reached = make(chan struct{})
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

// withCreds gives the AWS SDK static credentials and no shared files.
func withCreds(t *testing.T, key string) {
	t.Setenv("AWS_ACCESS_KEY_ID", key)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_BEARER_TOKEN_BEDROCK", "")
	t.Setenv("AWS_PROFILE", "")
}

// closedPort returns a loopback URL nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	return url
}
