package semantictest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/outcrop/outcrop/internal/cache"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/testenv"
	"github.com/outcrop/outcrop/internal/vector"
)

// upstream is the handler below the stage: it answers with a text naming
// the principal and the question, and counts its calls.
type upstream struct{ calls atomic.Int64 }

func (u *upstream) handle(_ context.Context, c *gateway.Call) (llm.Stream, error) {
	n := u.calls.Add(1)
	last := c.Request.Messages[len(c.Request.Messages)-1].Content[0].Text
	c.SetServed(llm.Served{Model: model, Deployment: "d1", Profile: llm.LatencyStandard, Attempts: 1})
	return &llm.SliceStream{Events: []llm.Event{
		{Type: llm.EventMessageStart},
		{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: "for " + c.Principal + ":", Tokens: 2},
		{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: " " + last, Tokens: 1},
		{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: fmt.Sprintf(" (call %d)", n), Tokens: 3},
		{Type: llm.EventBlockStop},
		{Type: llm.EventMessageStop, StopReason: llm.StopEndTurn},
		{Type: llm.EventMetadata, Usage: &llm.Usage{InputTokens: 17, OutputTokens: 6}},
	}}, nil
}

const model = "acme.chat-v1"

func ptr[T any](v T) *T { return &v }

// call is a deterministic ConverseStream call of principal asking prompt.
func call(principal, prompt string, mod func(*llm.Request)) *gateway.Call {
	req := &llm.Request{
		Model:     model,
		Messages:  []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(prompt)}}},
		Inference: llm.InferenceConfig{Temperature: ptr(0.0)},
	}
	if mod != nil {
		mod(req)
	}
	return &gateway.Call{API: "bedrock", Op: "ConverseStream", Request: req, Principal: principal, Stream: true}
}

// do runs c through h and returns the answer's events.
func do(t *testing.T, h gateway.Handler, c *gateway.Call) []llm.Event {
	t.Helper()
	s, err := h(context.Background(), c)
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	defer s.Close()
	var evs []llm.Event
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			return evs
		}
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		evs = append(evs, ev)
	}
}

// memIndex returns the embedded semantic index (package vector, in memory).
func memIndex(t *testing.T) cache.SemanticIndex {
	t.Helper()
	vi, err := vector.OpenEmbedded(":memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vi.Close() })
	return cache.NewVectorIndex(vi, 0, nil)
}

// semanticStage returns a stage with acme.chat-v1 opted in to the semantic
// cache at the default threshold, on the built-in embedding model.
func semanticStage(t *testing.T, b cache.Backend, ix cache.SemanticIndex, mod func(*cache.Options)) *cache.Stage {
	t.Helper()
	o := cache.Options{
		Backend:  b,
		Resolve:  func(m string) (string, string, bool) { return m, "v1", true },
		Semantic: &cache.SemanticOptions{Embedder: minilm(t), Index: ix, Thresholds: map[string]float64{model: cache.DefaultThreshold}},
	}
	if mod != nil {
		mod(&o)
	}
	return cache.New(o)
}

// A reworded question of the same principal is answered from the cache; an
// unrelated question is not.
func TestSemanticHit(t *testing.T) {
	u := &upstream{}
	h := semanticStage(t, cache.NewMemory(0, nil), memIndex(t), nil).Wrap(u.handle)
	first := do(t, h, call("alice", "How do I learn to play the guitar quickly?", nil))
	c := call("alice", "how do i learn to play the guitar quickly", nil)
	second := do(t, h, c)
	if n := u.calls.Load(); n != 1 {
		t.Fatalf("upstream calls = %d, want 1 (a reworded question served from the cache)", n)
	}
	if second[1].Text != first[1].Text || second[2].Text != first[2].Text || c.Served().Deployment != cache.DeploymentName {
		t.Errorf("semantic hit replayed %q%q, want %q%q", second[1].Text, second[2].Text, first[1].Text, first[2].Text)
	}
	do(t, h, call("alice", "What is the boiling point of water at high altitude?", nil))
	if n := u.calls.Load(); n != 2 {
		t.Fatalf("upstream calls = %d, want 2 (an unrelated question misses)", n)
	}
}

func TestSemanticNamespaces(t *testing.T) {
	q1, q2 := "How do I learn to play the guitar quickly?", "how do i learn to play the guitar quickly"
	for _, tc := range []struct {
		name string
		pb   string
		mb   func(*llm.Request)
		opt  func(*cache.Options)
		hit  bool
	}{
		{name: "same principal", pb: "alice", hit: true},
		{name: "other principal", pb: "bob"},
		{name: "other principal, exact scope account", pb: "bob", opt: func(o *cache.Options) { o.Scope, o.AccountID = cache.ScopeAccount, "123456789012" }},
		{name: "other principal, both scopes account", pb: "bob", hit: true, opt: func(o *cache.Options) {
			o.Scope, o.Semantic.Scope, o.AccountID = cache.ScopeAccount, cache.ScopeAccount, "123456789012"
		}},
		{name: "other principal, semantic scope account only", pb: "bob", opt: func(o *cache.Options) { o.Semantic.Scope, o.AccountID = cache.ScopeAccount, "123456789012" }},
		{name: "other system prompt", pb: "alice", mb: func(r *llm.Request) { r.System = []llm.Block{llm.TextBlock("answer in French")} }},
		{name: "other history", pb: "alice", mb: func(r *llm.Request) {
			r.Messages = append([]llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("I play drums.")}},
				{Role: llm.RoleAssistant, Content: []llm.Block{llm.TextBlock("Nice.")}}}, r.Messages...)
		}},
		{name: "other max tokens", pb: "alice", mb: func(r *llm.Request) { r.Inference.MaxTokens = ptr(5) }},
		{name: "model not opted in", pb: "alice", opt: func(o *cache.Options) { o.Semantic.Thresholds = map[string]float64{"other-model": 0.5} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &upstream{}
			h := semanticStage(t, cache.NewMemory(0, nil), memIndex(t), tc.opt).Wrap(u.handle)
			do(t, h, call("alice", q1, nil))
			evs := do(t, h, call(tc.pb, q2, tc.mb))
			if hit := u.calls.Load() == 1; hit != tc.hit {
				t.Errorf("semantic hit = %v, want %v (answer %q)", hit, tc.hit, evs[1].Text)
			}
		})
	}
}

// qqpDuplicates are reworded questions from QQP's duplicate pairs (their
// similarity is above the default threshold), for the randomized tenant
// test.
var qqpDuplicates = [][2]string{
	{"How can I improve my English speaking skills?", "How can I improve my English speaking skill?"},
	{"What is the best way to lose weight?", "What is the best way to lose weight fast?"},
	{"How do I get rid of pimples?", "How can I get rid of pimples?"},
	{"What are some good books to read?", "What are some good books to read?"},
	{"How can I become a good programmer?", "How do I become a good programmer?"},
}

// TestSemanticNoCrossTenantHits: five principals ask reworded questions in
// random order; no principal is ever served an answer made for another,
// and each principal's own rewordings do hit. Embedded index and Redis.
func TestSemanticNoCrossTenantHits(t *testing.T) {
	for _, ix := range []struct {
		name string
		new  func(t *testing.T) (cache.Backend, cache.SemanticIndex)
	}{
		{"vector", func(t *testing.T) (cache.Backend, cache.SemanticIndex) { return cache.NewMemory(0, nil), memIndex(t) }},
		{"redis", func(t *testing.T) (cache.Backend, cache.SemanticIndex) {
			c := redisClient(t)
			salt := time.Now().Format(time.RFC3339Nano)
			return cache.NewRedis(c, "outcrop-test:cache:"+salt+":"), cache.NewRedisIndex(c, "outcrop-test:semcache:"+salt+":", 0, nil)
		}},
	} {
		t.Run(ix.name, func(t *testing.T) {
			b, si := ix.new(t)
			u := &upstream{}
			h := semanticStage(t, b, si, nil).Wrap(u.handle)
			rng := rand.New(rand.NewPCG(5, 6))
			principals := []string{"alice", "bob", "carol", "dave", "eve"}
			asked := map[string]bool{}
			hits := 0
			for range 150 {
				p := principals[rng.IntN(len(principals))]
				pair := rng.IntN(len(qqpDuplicates))
				q := qqpDuplicates[pair][rng.IntN(2)]
				before := u.calls.Load()
				evs := do(t, h, call(p, q, nil))
				if !strings.HasPrefix(evs[1].Text, "for "+p+":") {
					t.Fatalf("principal %s received %q, an answer made for someone else", p, evs[1].Text)
				}
				k := p + "\x00" + string(rune('0'+pair))
				if u.calls.Load() == before {
					hits++
					if !asked[k] {
						t.Fatalf("principal %s hit on %q before asking anything like it", p, q)
					}
				}
				asked[k] = true
			}
			if hits < 150-2*len(asked) {
				t.Errorf("hits = %d of 150 with %d principal×question pairs: own rewordings missed", hits, len(asked))
			}
		})
	}
}

func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	return c
}

// Two replicas (two stages) on one Redis share reworded questions.
func TestSemanticSharedByReplicas(t *testing.T) {
	c := redisClient(t)
	salt := time.Now().Format(time.RFC3339Nano)
	newReplica := func() *cache.Stage {
		return semanticStage(t, cache.NewRedis(c, "outcrop-test:cache:"+salt+":"), cache.NewRedisIndex(c, "outcrop-test:semcache:"+salt+":", 0, nil), nil)
	}
	u := &upstream{}
	a, b := newReplica().Wrap(u.handle), newReplica().Wrap(u.handle)
	do(t, a, call("alice", "How do I learn to play the guitar quickly?", nil))
	cl := call("alice", "how do i learn to play the guitar quickly", nil)
	do(t, b, cl)
	if n := u.calls.Load(); n != 1 || cl.Served().Deployment != cache.DeploymentName {
		t.Fatalf("upstream calls = %d, served by %q; want the second replica to answer from Redis", n, cl.Served().Deployment)
	}
}

// The verification step refuses a match whose numbers differ, which the
// embeddings alone would serve, and counts it as semantic-rejected.
func TestSemanticVerify(t *testing.T) {
	const q1, q2 = "What is 7 times 8?", "What is 7 times 9?"
	for _, tc := range []struct {
		name     string
		verify   func(q, c string) bool
		calls    int64
		rejected float64
	}{{"none", nil, 1, 0}, {"lexical", cache.Consistent, 2, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			u := &upstream{}
			reg := prometheus.NewRegistry()
			h := semanticStage(t, cache.NewMemory(0, nil), memIndex(t), func(o *cache.Options) {
				o.Semantic.Thresholds[model] = 0.8 // low enough for the two to match
				o.Semantic.Verify = tc.verify
				o.Metrics = cache.NewMetrics(reg)
			}).Wrap(u.handle)
			do(t, h, call("alice", q1, nil))
			do(t, h, call("alice", q2, nil))
			if n := u.calls.Load(); n != tc.calls {
				t.Fatalf("upstream calls = %d, want %d", n, tc.calls)
			}
			if got := lookups(t, reg, "semantic-rejected"); got != tc.rejected {
				t.Errorf("semantic-rejected lookups = %v, want %v", got, tc.rejected)
			}
		})
	}
}

// lookups returns outcrop_cache_lookups_total for one result.
func lookups(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "outcrop_cache_lookups_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "result" && lp.GetValue() == result {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// TestToolLoopSteps: an agent's or a flow's tool loop sends the model the
// same prefix (question, tool call) with a different tool result each
// time. Every step with a new result must reach the model, even for a
// model opted in to the semantic cache (a turn with tool results is left
// to the exact key, which covers every result); only a step identical in
// every block is served from the cache, which is right for a deterministic
// request.
func TestToolLoopSteps(t *testing.T) {
	u := &upstream{}
	h := semanticStage(t, cache.NewMemory(0, nil), memIndex(t), nil).Wrap(u.handle)
	step := func(result string) *gateway.Call {
		return call("alice", "What is the weather in Paris?", func(r *llm.Request) {
			r.Tools = &llm.ToolConfig{Tools: []llm.Tool{{Name: "weather", Schema: json.RawMessage(`{"type":"object"}`)}}}
			r.Messages = append(r.Messages,
				llm.Message{Role: llm.RoleAssistant, Content: []llm.Block{{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: "t1", Name: "weather", Input: json.RawMessage(`{"city":"Paris"}`)}}}},
				llm.Message{Role: llm.RoleUser, Content: []llm.Block{{Kind: llm.KindToolResult, ToolResult: &llm.ToolResult{ToolUseID: "t1", Content: []llm.ToolResultContent{{Text: result}}}}}})
		})
	}
	for i, tc := range []struct {
		result string
		calls  int64
	}{
		{"sunny, 21 °C", 1},
		{"rain, 12 °C", 2},   // same prefix, another result: miss
		{"sunny, 21 °C ", 3}, // one space more: miss
		{"sunny, 21 °C", 3},  // identical step: served from the cache
	} {
		do(t, h, step(tc.result))
		if n := u.calls.Load(); n != tc.calls {
			t.Fatalf("step %d (%q): upstream calls = %d, want %d", i, tc.result, n, tc.calls)
		}
	}
}
