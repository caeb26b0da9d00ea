package cache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/outcrop/outcrop/internal/sdktest"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outcrop/outcrop/internal/cache"
	"github.com/outcrop/outcrop/internal/eventstream"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/httpapi"
	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/testenv"
)

const e2eModel = "acme.chat-v1"

// e2e is an Outcrop server whose one model is the test Ollama behind a
// counting reverse proxy, with the cache stage on the given backend.
type e2e struct {
	url      string
	upstream *atomic.Int64 // chat requests that reached Ollama
	reg      *prometheus.Registry
}

func newE2E(t *testing.T, b cache.Backend) *e2e {
	t.Helper()
	target, err := url.Parse(testenv.OllamaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/chat/completions") {
			calls.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	p, err := openai.New(openai.Config{BaseURL: proxy.URL + "/v1", Model: testenv.OllamaModel})
	if err != nil {
		t.Fatal(err)
	}
	router := routing.New([]*routing.Model{{
		ID: e2eModel, Aliases: []string{"chat"},
		Deployments: []*routing.Deployment{{Name: "ollama", Provider: p, Type: "openai", Weight: 1}},
	}})
	reg := prometheus.NewRegistry()
	met := cache.NewMetrics(reg)
	stage := cache.New(cache.Options{
		Backend: b,
		Resolve: func(id string) (string, string, bool) {
			m, ok := router.Lookup(id)
			if !ok {
				return "", "", false
			}
			return m.ID, "ollama-v1", true
		},
		Metrics: met,
	})
	gw := gateway.New(gateway.Options{Stages: []gateway.Stage{stage}, Final: router.Route})
	srv := httpapi.New(httpapi.Deps{Gateway: gw, Router: router, Middleware: []func(http.Handler) http.Handler{cache.Middleware}})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &e2e{url: ts.URL, upstream: &calls, reg: reg}
}

func client(url string) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{HTTPClient: sdktest.HTTPClient(),
		Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", ""),
	})
}

// converseBody is a deterministic Converse request.
const converseBody = `{"messages":[{"role":"user","content":[{"text":"Name three colours."}]}],` +
	`"inferenceConfig":{"maxTokens":6,"temperature":0}}`

// rawPost sends body to the model's operation and returns the response.
func rawPost(t *testing.T, base, op, body string) (http.Header, []byte) {
	t.Helper()
	resp, err := http.Post(base+"/model/"+e2eModel+"/"+op, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s: status %d, %v: %s", op, resp.StatusCode, err, b)
	}
	return resp.Header, b
}

// frames splits an event stream into (event type, payload) pairs.
func frames(t *testing.T, b []byte) (types []string, payloads [][]byte) {
	t.Helper()
	d := eventstream.NewDecoder(bytes.NewReader(b))
	for {
		m, err := d.Decode()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, m.Headers.String(":event-type"))
		payloads = append(payloads, m.Payload)
	}
}

func backends(t *testing.T) map[string]func(*testing.T) cache.Backend {
	return map[string]func(*testing.T) cache.Backend{
		"memory": func(*testing.T) cache.Backend { return cache.NewMemory(0, nil) },
		"redis":  func(t *testing.T) cache.Backend { return newRedis(t) },
	}
}

// TestRepeatIdenticalBytes sends the same deterministic request twice,
// as Converse and as ConverseStream, and checks that the repeat reaches no
// model and carries the same bytes (every content frame of the stream, the
// output and stop reason of the JSON answer), with usage reporting the
// input as read from the cache.
func TestRepeatIdenticalBytes(t *testing.T) {
	for name, nb := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := newE2E(t, nb(t))
			// A salt per run keeps the shared Redis from answering a
			// previous run's request.
			body := strings.Replace(converseBody, "Name three colours.", "Name three colours. Run "+t.Name()+randSalt(), 1)

			h1, b1 := rawPost(t, s.url, "converse", body)
			h2, b2 := rawPost(t, s.url, "converse", body)
			if n := s.upstream.Load(); n != 1 {
				t.Fatalf("upstream calls after two Converse = %d, want 1", n)
			}
			if h1.Get(cache.HeaderName) != "miss" || h2.Get(cache.HeaderName) != "hit" || h2.Get(httpapi.HeaderDeployment) != cache.DeploymentName {
				t.Errorf("headers: first %q, second %q via %q", h1.Get(cache.HeaderName), h2.Get(cache.HeaderName), h2.Get(httpapi.HeaderDeployment))
			}
			var r1, r2 struct {
				Output     json.RawMessage
				StopReason string
				Usage      struct{ InputTokens, OutputTokens, CacheReadInputTokens int }
			}
			json.Unmarshal(b1, &r1)
			json.Unmarshal(b2, &r2)
			if !bytes.Equal(r1.Output, r2.Output) || r1.StopReason != r2.StopReason || len(r1.Output) < 20 {
				t.Errorf("Converse repeat differs:\n%s\n%s", b1, b2)
			}
			if r2.Usage.InputTokens != r1.Usage.InputTokens || r2.Usage.CacheReadInputTokens != r1.Usage.InputTokens || r2.Usage.OutputTokens != r1.Usage.OutputTokens {
				t.Errorf("hit usage = %+v, want input %d all read from cache, output %d", r2.Usage, r1.Usage.InputTokens, r1.Usage.OutputTokens)
			}

			streamBody := strings.Replace(body, "Run ", "Stream run ", 1)
			_, s1 := rawPost(t, s.url, "converse-stream", streamBody)
			h4, s2 := rawPost(t, s.url, "converse-stream", streamBody)
			if n := s.upstream.Load(); n != 2 || h4.Get(cache.HeaderName) != "hit" {
				t.Fatalf("upstream calls after two ConverseStream = %d (want 2), second %q", n, h4.Get(cache.HeaderName))
			}
			t1, p1 := frames(t, s1)
			t2, p2 := frames(t, s2)
			if strings.Join(t1, ",") != strings.Join(t2, ",") {
				t.Fatalf("frame sequence differs:\n%v\n%v", t1, t2)
			}
			deltas := 0
			for i := range t1 {
				if t1[i] == "metadata" {
					continue
				}
				if t1[i] == "contentBlockDelta" {
					deltas++
				}
				if !bytes.Equal(p1[i], p2[i]) {
					t.Errorf("frame %d (%s) differs: %s vs %s", i, t1[i], p1[i], p2[i])
				}
			}
			if deltas < 2 {
				t.Errorf("only %d deltas: the chunking test needs a streamed answer", deltas)
			}
			if hits, saved := counter(t, s.reg, "outcrop_cache_lookups_total", "result", "hit"), counter(t, s.reg, "outcrop_cache_saved_tokens_total", "type", "output"); hits != 2 || saved < 2 {
				t.Errorf("metrics: %v hits, %v output tokens saved; want 2 hits and the two answers' tokens", hits, saved)
			}
		})
	}
}

// TestSDKRepeat drives the cache with the unmodified aws-sdk-go-v2 client:
// a repeated ConverseStream hits, reports cacheReadInputTokens, and the
// header and body controls bypass and refresh.
func TestSDKRepeat(t *testing.T) {
	s := newE2E(t, cache.NewMemory(0, nil))
	c := client(s.url)
	ctx := context.Background()
	prompt := "Say hello to the cache." + randSalt()
	in := func(meta map[string]string) *bedrockruntime.ConverseStreamInput {
		return &bedrockruntime.ConverseStreamInput{
			ModelId:         aws.String("chat"), // an alias: the key uses the resolved model
			Messages:        []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: prompt}}}},
			InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(6), Temperature: aws.Float32(0)},
			RequestMetadata: meta,
		}
	}
	read := func(in *bedrockruntime.ConverseStreamInput, opts ...func(*bedrockruntime.Options)) ([]string, *types.TokenUsage) {
		t.Helper()
		out, err := c.ConverseStream(ctx, in, opts...)
		if err != nil {
			t.Fatal(err)
		}
		st := out.GetStream()
		defer st.Close()
		var deltas []string
		var usage *types.TokenUsage
		for ev := range st.Events() {
			switch v := ev.(type) {
			case *types.ConverseStreamOutputMemberContentBlockDelta:
				if d, ok := v.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
					deltas = append(deltas, d.Value)
				}
			case *types.ConverseStreamOutputMemberMetadata:
				usage = v.Value.Usage
			}
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		return deltas, usage
	}
	d1, u1 := read(in(nil))
	d2, u2 := read(in(nil))
	if n := s.upstream.Load(); n != 1 {
		t.Fatalf("upstream calls = %d, want 1", n)
	}
	if strings.Join(d1, "\x00") != strings.Join(d2, "\x00") || len(d1) < 2 {
		t.Errorf("replayed deltas %q, want %q", d2, d1)
	}
	if aws.ToInt32(u2.CacheReadInputTokens) != aws.ToInt32(u1.InputTokens) || aws.ToInt32(u2.OutputTokens) != aws.ToInt32(u1.OutputTokens) {
		t.Errorf("hit usage: cacheRead %d, output %d; want %d, %d", aws.ToInt32(u2.CacheReadInputTokens), aws.ToInt32(u2.OutputTokens), aws.ToInt32(u1.InputTokens), aws.ToInt32(u1.OutputTokens))
	}
	read(in(map[string]string{cache.MetadataKey: "bypass"}))
	if n := s.upstream.Load(); n != 2 {
		t.Fatalf("after a metadata bypass: upstream calls = %d, want 2", n)
	}
	header := func(o *bedrockruntime.Options) {
		o.APIOptions = append(o.APIOptions, addHeader(cache.HeaderName, "refresh"))
	}
	read(in(nil), header)
	read(in(nil))
	if n := s.upstream.Load(); n != 3 {
		t.Fatalf("after a header refresh and a repeat: upstream calls = %d, want 3", n)
	}
	_, err := c.ConverseStream(ctx, in(map[string]string{cache.MetadataKey: "sometimes"}))
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		t.Errorf("bad control: %v, want ValidationException", err)
	}
}

func addHeader(name, value string) func(*middleware.Stack) error {
	return smithyhttp.AddHeaderValue(name, value)
}

// randSalt makes prompts unique per run, so that a shared Redis never
// answers from an earlier run.
func randSalt() string { return fmt.Sprintf(" [%d]", rand.Int64()) }

// counter sums the samples of a counter whose label has the given value.
func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}
