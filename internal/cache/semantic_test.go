package cache

import (
	"context"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

func semanticStage(mem *Memory, mod func(*Options)) *Stage {
	return newStage(mem, func(o *Options) {
		o.Semantic = &SemanticOptions{Index: NewMemoryIndex(0, nil), Thresholds: map[string]float64{"acme.chat-v1": DefaultThreshold}}
		if mod != nil {
			mod(o)
		}
	})
}

func TestSemanticHit(t *testing.T) {
	u := &upstream{}
	h := semanticStage(NewMemory(0, nil), nil).Wrap(u.handle)
	ctx := context.Background()
	first := do(t, h, ctx, call("alice", "How do I learn to play the guitar quickly?", nil))
	c := call("alice", "how do I learn to play guitar quickly", nil)
	second := do(t, h, ctx, c)
	if n := u.calls.Load(); n != 1 {
		t.Fatalf("upstream calls = %d, want 1 (a reworded question served from the cache)", n)
	}
	if second[1].Text != first[1].Text || second[2].Text != first[2].Text || c.Served().Deployment != DeploymentName {
		t.Errorf("semantic hit replayed %q%q, want %q%q", second[1].Text, second[2].Text, first[1].Text, first[2].Text)
	}
	// A different question misses.
	do(t, h, ctx, call("alice", "What is the boiling point of water at altitude?", nil))
	if n := u.calls.Load(); n != 2 {
		t.Fatalf("upstream calls = %d, want 2", n)
	}
}

func TestSemanticNamespaces(t *testing.T) {
	q1, q2 := "How do I learn to play the guitar quickly?", "how do I learn to play guitar quickly"
	for _, tc := range []struct {
		name string
		a, b func() (string, func(*llm.Request))
		opt  func(*Options)
	}{
		{name: "other principal", a: func() (string, func(*llm.Request)) { return "alice", nil }, b: func() (string, func(*llm.Request)) { return "bob", nil }},
		{name: "other system prompt",
			a: func() (string, func(*llm.Request)) { return "alice", nil },
			b: func() (string, func(*llm.Request)) {
				return "alice", func(r *llm.Request) { r.System = []llm.Block{llm.TextBlock("answer in French")} }
			}},
		{name: "other history",
			a: func() (string, func(*llm.Request)) { return "alice", nil },
			b: func() (string, func(*llm.Request)) {
				return "alice", func(r *llm.Request) {
					r.Messages = append([]llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("I play drums.")}},
						{Role: llm.RoleAssistant, Content: []llm.Block{llm.TextBlock("Nice.")}}}, r.Messages...)
				}
			}},
		{name: "other max tokens",
			a: func() (string, func(*llm.Request)) { return "alice", nil },
			b: func() (string, func(*llm.Request)) {
				return "alice", func(r *llm.Request) { r.Inference.MaxTokens = ptr(5) }
			}},
		{name: "model not opted in",
			a:   func() (string, func(*llm.Request)) { return "alice", nil },
			b:   func() (string, func(*llm.Request)) { return "alice", nil },
			opt: func(o *Options) { o.Semantic.Thresholds = map[string]float64{"other-model": 0.5} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &upstream{}
			h := semanticStage(NewMemory(0, nil), tc.opt).Wrap(u.handle)
			pa, ma := tc.a()
			pb, mb := tc.b()
			do(t, h, context.Background(), call(pa, q1, ma))
			do(t, h, context.Background(), call(pb, q2, mb))
			if n := u.calls.Load(); n != 2 {
				t.Errorf("upstream calls = %d, want 2 (no semantic hit across %s)", n, tc.name)
			}
		})
	}
}

func TestMemoryIndexExpiryAndBound(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ix := NewMemoryIndex(2, func() time.Time { return now })
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		ix.Add(ctx, "ns", k, lexical("question "+k), time.Minute)
	}
	if key, _, _ := ix.Search(ctx, "ns", lexical("question a")); key == "a" {
		t.Error("oldest vector kept beyond the namespace bound")
	}
	if key, sim, _ := ix.Search(ctx, "ns", lexical("question c")); key != "c" || sim < 0.999 {
		t.Errorf("Search = %q, %v; want c, 1", key, sim)
	}
	if key, _, _ := ix.Search(ctx, "other", lexical("question c")); key != "" {
		t.Errorf("Search in another namespace found %q", key)
	}
	now = now.Add(2 * time.Minute)
	if key, _, _ := ix.Search(ctx, "ns", lexical("question c")); key != "" {
		t.Errorf("expired vector found: %q", key)
	}
}

func FuzzLexical(f *testing.F) {
	f.Add("How do I learn guitar?")
	f.Add("")
	f.Add("\xff\x00 ünïcödé 123")
	f.Fuzz(func(t *testing.T, s string) {
		v := lexical(s)
		for i := 1; i < len(v.Idx); i++ {
			if v.Idx[i] <= v.Idx[i-1] {
				t.Fatal("indices not sorted and distinct")
			}
		}
		if d := Dot(v, v); len(v.Idx) > 0 && (d < 0.999 || d > 1.001) {
			t.Fatalf("|v|² = %v, want 1", d)
		}
	})
}

// BenchmarkSemanticLookup measures a semantic lookup after an exact miss:
// embedding the question and scanning a namespace of 1,000 questions.
func BenchmarkSemanticLookup(b *testing.B) {
	ix := NewMemoryIndex(0, nil)
	ctx := context.Background()
	for i := range 1000 {
		ix.Add(ctx, "ns", string(rune('a'+i%26))+string(rune(i)), lexical("How do I get better at question number "+string(rune('a'+i%26))+" and more words here"), time.Hour)
	}
	b.ReportAllocs()
	for b.Loop() {
		ix.Search(ctx, "ns", lexical("how can I get better at chess openings?"))
	}
}
