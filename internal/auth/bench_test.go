package auth_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/redis/go-redis/v9"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/quota"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

const benchPolicy = `{"Version":"2012-10-17","Statement":[
 {"Sid":"Invoke","Effect":"Allow","Action":["bedrock:InvokeModel","bedrock:InvokeModelWithResponseStream"],"Resource":"arn:aws:bedrock:*::foundation-model/*"},
 {"Sid":"NoOptimized","Effect":"Deny","Action":"bedrock:*","Resource":"*","Condition":{"StringEquals":{"bedrock:PerformanceConfigLatency":"optimized"}}},
 {"Sid":"Guardrails","Effect":"Allow","Action":"bedrock:ApplyGuardrail","Resource":"arn:aws:bedrock:*:*:guardrail/*"}]}`

// BenchmarkSecurityPath measures what the security stages add to one
// request: authentication (SigV4 over a 400-byte body, or a bearer API
// key), policy evaluation and the quota check (RPM, TPM and a concurrent-
// stream slot), with warm caches as on a running server. It reports the
// p50/p99 of single iterations.
func BenchmarkSecurityPath(b *testing.B) {
	for _, bc := range []struct{ name, method, backend string }{
		{"sigv4/memory", "sigv4", "memory"},
		{"apikey/memory", "apikey", "memory"},
		{"sigv4/redis", "sigv4", "redis"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			db := storetest.SQLite(b)
			st, _ := auth.NewStore(db, testKey)
			st.AddPrincipal(ctx, "bench")
			if err := st.AttachPolicy(ctx, "bench", "p", []byte(benchPolicy)); err != nil {
				b.Fatal(err)
			}
			k, _ := st.CreateAccessKey(ctx, "bench", 0)
			_, apiKey, _ := st.CreateAPIKey(ctx, "bench", 0)
			a := auth.New(st, auth.Options{})
			defer a.Close()

			var backend quota.Backend = quota.NewMemory()
			if bc.backend == "redis" {
				url := os.Getenv("OUTCROP_TEST_REDIS_URL")
				if url == "" {
					b.Skip("OUTCROP_TEST_REDIS_URL not set")
				}
				opt, _ := redis.ParseURL(url)
				c := redis.NewClient(opt)
				defer c.Close()
				backend = quota.NewRedis(c, "outcrop-bench:{b}:")
			}
			qcfg := quota.Config{Default: quota.Limit{RPM: 1 << 30, TPM: 1 << 40, ConcurrentStreams: 1 << 20}, OnBackendError: "deny"}
			qs := quota.New(qcfg, quota.LimitsConfig{ModelLimits: quota.ModelLimits{MaxMessages: 1000, MaxInputTokens: 200000, MaxTokens: 8192}}, quota.Options{Backend: backend})
			final := func(ctx context.Context, c *gateway.Call) (llm.Stream, error) { return emptyStream{}, nil }
			h := auth.Stage{}.Wrap(qs.Wrap(final))

			body := `{"messages":[{"role":"user","content":[{"text":"` + strings.Repeat("lorem ipsum ", 28) + `"}]}],"inferenceConfig":{"maxTokens":256}}`
			req := httptest.NewRequest("POST", "http://127.0.0.1:8080/model/smollm2-135m-instruct/converse", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if bc.method == "sigv4" {
				v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}, req, sha(body), "bedrock", "us-east-1", time.Now())
			} else {
				req.Header.Set("Authorization", "Bearer "+apiKey)
			}
			msgs := []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(strings.Repeat("lorem ipsum ", 28))}}}
			one := func() {
				req.Body = io.NopCloser(strings.NewReader(body))
				p, err := a.Authenticate(req)
				if err != nil {
					b.Fatal(err)
				}
				c := &gateway.Call{API: "bedrock", Op: "Converse", Resource: "arn:aws:bedrock:us-east-1::foundation-model/smollm2-135m-instruct",
					Request: &llm.Request{Model: "smollm2-135m-instruct", Messages: msgs}}
				s, err := h(auth.WithPrincipal(ctx, p), c)
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
			for range 100 { // warm the caches
				one()
			}
			durs := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				one()
				durs = append(durs, time.Since(t0))
			}
			b.StopTimer()
			sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
			b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds())/1000, "p50-µs")
			b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds())/1000, "p99-µs")
		})
	}
}

type emptyStream struct{}

func (emptyStream) Next() (llm.Event, error) { return llm.Event{}, io.EOF }
func (emptyStream) Close() error             { return nil }

var _ http.Handler = http.HandlerFunc(nil)

// TestSecurityPathAllocs is the allocation budget of the security path
// measured by BenchmarkSecurityPath (SigV4 + policy + in-memory quota).
func TestSecurityPathAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation budget")
	}
	ctx := context.Background()
	db := storetest.SQLite(t)
	st, _ := auth.NewStore(db, testKey)
	st.AddPrincipal(ctx, "bench")
	st.AttachPolicy(ctx, "bench", "p", []byte(benchPolicy))
	k, _ := st.CreateAccessKey(ctx, "bench", 0)
	a := auth.New(st, auth.Options{RefreshInterval: time.Hour})
	defer a.Close()
	qs := quota.New(quota.Config{Default: quota.Limit{RPM: 1 << 30, TPM: 1 << 40, ConcurrentStreams: 1 << 20}, OnBackendError: "deny"},
		quota.LimitsConfig{ModelLimits: quota.ModelLimits{MaxMessages: 1000, MaxInputTokens: 200000, MaxTokens: 8192}}, quota.Options{})
	h := auth.Stage{}.Wrap(qs.Wrap(func(ctx context.Context, c *gateway.Call) (llm.Stream, error) { return emptyStream{}, nil }))
	body := `{"messages":[{"role":"user","content":[{"text":"hello"}]}]}`
	req := httptest.NewRequest("POST", "http://127.0.0.1:8080/model/m/converse", strings.NewReader(body))
	v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}, req, sha(body), "bedrock", "us-east-1", time.Now())
	msgs := []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("hello")}}}
	run := func() {
		req.Body = io.NopCloser(strings.NewReader(body))
		p, err := a.Authenticate(req)
		if err != nil {
			t.Fatal(err)
		}
		c := &gateway.Call{Op: "Converse", Resource: "arn:aws:bedrock:us-east-1::foundation-model/m", Request: &llm.Request{Model: "m", Messages: msgs}}
		s, err := h(auth.WithPrincipal(ctx, p), c)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	run()
	if n := testing.AllocsPerRun(200, run); n > 64 {
		t.Errorf("security path allocates %.0f times per request, budget 64", n)
	}
}
