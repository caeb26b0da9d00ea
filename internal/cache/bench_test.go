package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/testenv"
	"github.com/outcrop/outcrop/internal/vector"
)

// benchCall is a chat request of realistic size: a system prompt, three
// turns of history and a tool, about 3 KB of text.
func benchCall(i int) *gateway.Call {
	para := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 12)
	req := &llm.Request{
		Model:  "acme.chat-v1",
		System: []llm.Block{llm.TextBlock("You are a helpful assistant. " + para)},
		Messages: []llm.Message{
			{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(para)}},
			{Role: llm.RoleAssistant, Content: []llm.Block{llm.TextBlock(para)}},
			{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(fmt.Sprintf("%s question %d", para, i))}},
		},
		Inference: llm.InferenceConfig{Temperature: ptr(0.0), MaxTokens: ptr(256)},
		Tools:     &llm.ToolConfig{Tools: []llm.Tool{{Name: "get_weather", Description: "weather", Schema: []byte(`{"type":"object","properties":{"city":{"type":"string"}}}`)}}},
	}
	return &gateway.Call{Request: req, Principal: "alice"}
}

// BenchmarkLookupMiss measures what the stage adds to a request that
// misses: control parsing, model resolution, the key and one backend read.
// It reports the median and p99 of single lookups besides the mean.
func BenchmarkLookupMiss(b *testing.B) {
	for _, bc := range []struct {
		name    string
		entries int
	}{{"memory", 0}, {"memory", 10_000}, {"redis", 0}} {
		b.Run(fmt.Sprintf("%s/entries=%d", bc.name, bc.entries), func(b *testing.B) {
			var be Backend
			if bc.name == "redis" {
				opt, err := redis.ParseURL(testenv.RedisURL(b))
				if err != nil {
					b.Fatal(err)
				}
				rc := redis.NewClient(opt)
				defer rc.Close()
				be = NewRedis(rc, "outcrop-bench:cache:")
			} else {
				mem := NewMemory(0, nil)
				for i := range bc.entries {
					mem.Set(context.Background(), fmt.Sprintf("%064d", i), make([]byte, 512), time.Hour)
				}
				be = mem
			}
			s := New(Options{Backend: be, Resolve: resolveAll})
			calls := make([]*gateway.Call, 1024)
			for i := range calls {
				calls[i] = benchCall(i)
			}
			ctx := context.Background()
			durs := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				t0 := time.Now()
				ls, err := s.lookup(ctx, calls[i%len(calls)])
				durs = append(durs, time.Since(t0))
				if err != nil || ls.result != "miss" {
					b.Fatalf("lookup = %v, %v", ls, err)
				}
			}
			slices.Sort(durs)
			b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds())/1e3, "p99-µs")
		})
	}
}

// BenchmarkSemanticSearch measures one semantic-index search in a namespace
// of n questions (384 values each, the built-in model's size), without the
// embedding: the embedded index (package vector) and Redis.
func BenchmarkSemanticSearch(b *testing.B) {
	for _, kind := range []string{"vector", "redis"} {
		for _, n := range []int{100, 1000} {
			b.Run(fmt.Sprintf("%s/n=%d", kind, n), func(b *testing.B) {
				var ix SemanticIndex
				if kind == "redis" {
					opt, err := redis.ParseURL(testenv.RedisURL(b))
					if err != nil {
						b.Fatal(err)
					}
					rc := redis.NewClient(opt)
					defer rc.Close()
					ix = NewRedisIndex(rc, fmt.Sprintf("outcrop-bench:semcache:%d:", time.Now().UnixNano()), 0, nil)
				} else {
					vi, err := vector.OpenEmbedded(":memory:", nil)
					if err != nil {
						b.Fatal(err)
					}
					defer vi.Close()
					ix = NewVectorIndex(vi, 0, nil)
				}
				ctx := context.Background()
				ns := Namespace{Tenant: "p:alice", Context: "ctx"}
				rng := rand.New(rand.NewPCG(1, 2))
				vec := func() []float32 {
					v := make([]float32, 384)
					for i := range v {
						v[i] = float32(rng.NormFloat64())
					}
					return v
				}
				for i := range n {
					if err := ix.Add(ctx, ns, Question{Key: fmt.Sprintf("%064d", i), Text: "a stored question of about ten words in length", Vector: vec()}, time.Hour); err != nil {
						b.Fatal(err)
					}
				}
				q := vec()
				durs := make([]time.Duration, 0, b.N)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					t0 := time.Now()
					if _, err := ix.Search(ctx, ns, q); err != nil {
						b.Fatal(err)
					}
					durs = append(durs, time.Since(t0))
				}
				slices.Sort(durs)
				b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds())/1e3, "p50-µs")
				b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds())/1e3, "p99-µs")
			})
		}
	}
}
