package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

// upstream is the handler below the stage in these tests: it answers with
// a text naming the principal and the prompt, in several chunks, and counts
// its calls. The end-to-end tests use a real model server instead.
type upstream struct {
	calls atomic.Int64
	stop  llm.StopReason
	err   error // returned after the deltas instead of the end
}

func (u *upstream) handle(_ context.Context, c *gateway.Call) (llm.Stream, error) {
	n := u.calls.Add(1)
	last := c.Request.Messages[len(c.Request.Messages)-1].Content[0].Text
	stop := u.stop
	if stop == "" {
		stop = llm.StopEndTurn
	}
	c.SetServed(llm.Served{Model: "acme.chat-v1", Deployment: "d1", Profile: llm.LatencyStandard, Attempts: 1})
	evs := []llm.Event{
		{Type: llm.EventMessageStart},
		{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: "for " + c.Principal + ":", Tokens: 2},
		{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: " " + last, Tokens: 1},
		{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: fmt.Sprintf(" (call %d)", n), Tokens: 3},
	}
	if u.err != nil {
		return &llm.SliceStream{Events: evs, Err: u.err}, nil
	}
	evs = append(evs,
		llm.Event{Type: llm.EventBlockStop},
		llm.Event{Type: llm.EventMessageStop, StopReason: stop},
		llm.Event{Type: llm.EventMetadata, Usage: &llm.Usage{InputTokens: 17, OutputTokens: 6, CacheWriteInputTokens: 4, ReasoningTokens: 2}})
	return &llm.SliceStream{Events: evs}, nil
}

func resolveAll(model string) (string, string, bool) {
	if strings.HasPrefix(model, "unknown") {
		return "", "", false
	}
	return strings.TrimPrefix(model, "alias-"), "v1", true
}

func newStage(b Backend, mod func(*Options)) *Stage {
	o := Options{Backend: b, Resolve: resolveAll}
	if mod != nil {
		mod(&o)
	}
	return New(o)
}

func call(principal, prompt string, mod func(*llm.Request)) *gateway.Call {
	req := &llm.Request{
		Model:     "acme.chat-v1",
		Messages:  []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(prompt)}}},
		Inference: llm.InferenceConfig{Temperature: ptr(0.0)},
	}
	if mod != nil {
		mod(req)
	}
	return &gateway.Call{API: "bedrock", Op: "ConverseStream", Request: req, Principal: principal, Stream: true}
}

// drain reads s to the end and returns its events.
func drain(t *testing.T, s llm.Stream) ([]llm.Event, error) {
	t.Helper()
	defer s.Close()
	var evs []llm.Event
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func do(t *testing.T, h gateway.Handler, ctx context.Context, c *gateway.Call) []llm.Event {
	t.Helper()
	s, err := h(ctx, c)
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	evs, err := drain(t, s)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	return evs
}

func TestRepeatServedFromCache(t *testing.T) {
	u := &upstream{}
	h := newStage(NewMemory(0, nil), nil).Wrap(u.handle)
	ctx := context.Background()
	first := do(t, h, ctx, call("alice", "hi", nil))
	c2 := call("alice", "hi", func(r *llm.Request) { r.Model = "alias-acme.chat-v1" })
	second := do(t, h, ctx, c2)
	if n := u.calls.Load(); n != 1 {
		t.Fatalf("upstream calls = %d, want 1", n)
	}
	if sv := c2.Served(); sv.Deployment != DeploymentName || sv.Attempts != 0 || sv.Model != "acme.chat-v1" || sv.Profile != llm.LatencyStandard {
		t.Errorf("served = %+v, want the cache deployment with no attempt", sv)
	}
	if len(first) != len(second) {
		t.Fatalf("replay has %d events, want %d", len(second), len(first))
	}
	for i := range first {
		a, b := first[i], second[i]
		if a.Type == llm.EventMetadata {
			want := llm.Usage{InputTokens: 17, OutputTokens: 6, CacheReadInputTokens: 17, ReasoningTokens: 2}
			if *b.Usage != want {
				t.Errorf("replayed usage = %+v, want %+v", *b.Usage, want)
			}
			continue
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("event %d = %+v, want %+v", i, b, a)
		}
	}
}

func TestControls(t *testing.T) {
	u := &upstream{}
	h := newStage(NewMemory(0, nil), nil).Wrap(u.handle)
	bg := context.Background()
	withHeader := func(v string) context.Context { return context.WithValue(bg, ctxKey{}, &reqState{header: v}) }
	meta := func(v string) func(*llm.Request) {
		return func(r *llm.Request) { r.Metadata = map[string]string{MetadataKey: v} }
	}
	text := func(evs []llm.Event) string {
		var b strings.Builder
		for _, ev := range evs {
			b.WriteString(ev.Text)
		}
		return b.String()
	}
	steps := []struct {
		name      string
		ctx       context.Context
		mod       func(*llm.Request)
		wantCalls int64
		wantText  string
	}{
		{"bypass before anything is stored", withHeader("bypass"), nil, 1, "for alice: q (call 1)"},
		{"bypass stored nothing", bg, nil, 2, "for alice: q (call 2)"},
		{"hit", bg, nil, 2, "for alice: q (call 2)"},
		{"bypass by metadata skips the hit", bg, meta("BYPASS"), 3, "for alice: q (call 3)"},
		{"refresh by header calls the model", withHeader("refresh"), nil, 4, "for alice: q (call 4)"},
		{"refresh replaced the entry", bg, nil, 4, "for alice: q (call 4)"},
		{"refresh by metadata", bg, meta("refresh"), 5, "for alice: q (call 5)"},
		{"bypass wins over refresh", withHeader("refresh"), meta("bypass"), 6, "for alice: q (call 6)"},
		{"still the refreshed entry", bg, nil, 6, "for alice: q (call 5)"},
	}
	for _, st := range steps {
		evs := do(t, h, st.ctx, call("alice", "q", st.mod))
		if n := u.calls.Load(); n != st.wantCalls || text(evs) != st.wantText {
			t.Fatalf("%s: calls %d, text %q; want %d, %q", st.name, n, text(evs), st.wantCalls, st.wantText)
		}
	}
	for _, bad := range []struct {
		ctx context.Context
		mod func(*llm.Request)
	}{{withHeader("sometimes"), nil}, {bg, meta("no")}} {
		_, err := h(bad.ctx, call("alice", "q", bad.mod))
		if llm.AsError(err).Kind != llm.KindValidation {
			t.Errorf("bad control: error %v, want a ValidationException", err)
		}
	}
}

func TestNotStored(t *testing.T) {
	for _, tc := range []struct {
		name string
		u    *upstream
		mod  func(*llm.Request)
		opt  func(*Options)
		read int // events read before Close; 0 reads all
	}{
		{name: "temperature above zero", u: &upstream{}, mod: func(r *llm.Request) { r.Inference.Temperature = ptr(0.7) }},
		{name: "no temperature", u: &upstream{}, mod: func(r *llm.Request) { r.Inference.Temperature = nil }},
		{name: "guardrail intervened", u: &upstream{stop: llm.StopGuardrailIntervened}},
		{name: "content filtered", u: &upstream{stop: llm.StopContentFiltered}},
		{name: "stream failed", u: &upstream{err: &llm.Error{Kind: llm.KindModelError, Message: "reset"}}},
		{name: "closed early", u: &upstream{}, read: 2},
		{name: "model unresolved", u: &upstream{}, mod: func(r *llm.Request) { r.Model = "unknown-model" }},
		{name: "model disabled", u: &upstream{}, opt: func(o *Options) { o.ModelTTL = map[string]time.Duration{"acme.chat-v1": -1} }},
		{name: "answer too big", u: &upstream{}, opt: func(o *Options) { o.MaxEntryBytes = 100 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := NewMemory(0, nil)
			h := newStage(mem, tc.opt).Wrap(tc.u.handle)
			for range 2 {
				s, err := h(context.Background(), call("alice", "q", tc.mod))
				if err != nil {
					t.Fatal(err)
				}
				if tc.read > 0 {
					for range tc.read {
						s.Next()
					}
					s.Close()
				} else {
					drain(t, s)
				}
			}
			if n := tc.u.calls.Load(); n != 2 || mem.Len() != 0 {
				t.Errorf("upstream calls = %d, entries = %d; want 2 calls and nothing stored", n, mem.Len())
			}
		})
	}
}

func TestSeedMakesCacheable(t *testing.T) {
	u := &upstream{}
	h := newStage(NewMemory(0, nil), nil).Wrap(u.handle)
	seeded := func(r *llm.Request) { r.Inference.Temperature = ptr(0.8); r.Inference.Seed = ptr(int64(42)) }
	do(t, h, context.Background(), call("alice", "q", seeded))
	do(t, h, context.Background(), call("alice", "q", seeded))
	if n := u.calls.Load(); n != 1 {
		t.Fatalf("upstream calls = %d, want 1", n)
	}
}

func TestTTL(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	u := &upstream{}
	h := newStage(NewMemory(0, clock), func(o *Options) {
		o.TTL = time.Minute
		o.ModelTTL = map[string]time.Duration{"long-model": time.Hour}
	}).Wrap(u.handle)
	ctx := context.Background()
	long := func(r *llm.Request) { r.Model = "long-model" }
	do(t, h, ctx, call("alice", "q", nil))
	do(t, h, ctx, call("alice", "q", long))
	now = now.Add(59 * time.Second)
	do(t, h, ctx, call("alice", "q", nil))
	if n := u.calls.Load(); n != 2 {
		t.Fatalf("calls within the TTL = %d, want 2", n)
	}
	now = now.Add(2 * time.Second)
	do(t, h, ctx, call("alice", "q", nil))
	do(t, h, ctx, call("alice", "q", long))
	if n := u.calls.Load(); n != 3 {
		t.Fatalf("calls after the default TTL = %d, want 3 (the 1h model still cached)", n)
	}
}

// failing is a backend whose every operation fails, like an unreachable
// Redis.
type failing struct{}

func (failing) Get(context.Context, string) ([]byte, error) {
	return nil, errors.New("connection refused")
}
func (failing) Set(context.Context, string, []byte, time.Duration) error {
	return errors.New("connection refused")
}
func (failing) Delete(context.Context, string) error { return errors.New("connection refused") }

func TestBackendDownPassesThrough(t *testing.T) {
	u := &upstream{}
	h := newStage(failing{}, func(o *Options) { o.Metrics = NewMetrics(nil) }).Wrap(u.handle)
	for range 2 {
		do(t, h, context.Background(), call("alice", "q", nil))
	}
	if n := u.calls.Load(); n != 2 {
		t.Fatalf("upstream calls = %d, want 2", n)
	}
}

func TestCorruptEntryIgnored(t *testing.T) {
	mem := NewMemory(0, nil)
	u := &upstream{}
	h := newStage(mem, nil).Wrap(u.handle)
	c := call("alice", "q", nil)
	key := Key(KeyInput{Scope: "p:alice", Model: "acme.chat-v1", Version: "v1"}, c.Request)
	for _, v := range []string{`not json`, `{"v":1,"scope":"p:alice","model":"acme.chat-v1","events":[]}`,
		`{"v":1,"scope":"p:bob","model":"acme.chat-v1","events":[{"t":6}]}`} {
		mem.Set(context.Background(), key, []byte(v), time.Minute)
		do(t, h, context.Background(), call("alice", "q", nil))
		mem.Delete(context.Background(), key)
	}
	if n := u.calls.Load(); n != 3 {
		t.Fatalf("upstream calls = %d, want 3 (no corrupt or foreign entry served)", n)
	}
}

// TestNoCrossTenantHits sends a random mix of requests from several
// principals (shared prompts included) and checks that every answer was
// produced for the principal that receives it, and that each principal's
// repeats did hit.
func TestNoCrossTenantHits(t *testing.T) {
	for _, b := range []struct {
		name string
		new  func() Backend
	}{{"memory", func() Backend { return NewMemory(0, nil) }}} {
		t.Run(b.name, func(t *testing.T) { crossTenant(t, b.new()) })
	}
}

func crossTenant(t *testing.T, b Backend) {
	u := &upstream{}
	h := newStage(b, nil).Wrap(u.handle)
	rng := rand.New(rand.NewPCG(3, 4))
	principals := []string{"alice", "bob", "carol", "dave", "eve"}
	prompts := []string{"hello", "what is 2+2?", "summarize the news", "translate: chat", "hello "}
	seen := map[string]bool{}
	hits := 0
	for range 500 {
		p := principals[rng.IntN(len(principals))]
		q := prompts[rng.IntN(len(prompts))]
		before := u.calls.Load()
		evs := do(t, h, context.Background(), call(p, q, nil))
		if !strings.HasPrefix(evs[1].Text, "for "+p+":") {
			t.Fatalf("principal %s received %q, an answer made for someone else", p, evs[1].Text)
		}
		if u.calls.Load() == before {
			hits++
			if !seen[p+"\x00"+q] {
				t.Fatalf("principal %s hit on %q before ever asking it", p, q)
			}
		}
		seen[p+"\x00"+q] = true
	}
	if want := 500 - len(seen); hits != want {
		t.Errorf("hits = %d, want %d (every repeat of a principal's own question)", hits, want)
	}
}

func TestAccountScopeShares(t *testing.T) {
	u := &upstream{}
	h := newStage(NewMemory(0, nil), func(o *Options) { o.Scope, o.AccountID = ScopeAccount, "123456789012" }).Wrap(u.handle)
	do(t, h, context.Background(), call("alice", "q", nil))
	evs := do(t, h, context.Background(), call("bob", "q", nil))
	if n := u.calls.Load(); n != 1 || evs[1].Text != "for alice:" {
		t.Fatalf("account scope: calls %d, text %q; want bob served alice's entry", n, evs[1].Text)
	}
}

func FuzzDecodeEntry(f *testing.F) {
	e := &entry{Scope: "p:a", Model: "m", Events: []llm.Event{{Type: llm.EventMessageStart}, {Type: llm.EventBlockDelta, Text: "x"}, {Type: llm.EventMetadata, Usage: &llm.Usage{InputTokens: 1}}}}
	good, _ := encodeEntry(e)
	f.Add(good)
	f.Add([]byte(`{"v":1,"events":[{"t":9}]}`))
	f.Add([]byte(`{"v":1,"events":[{"t":3,"i":-1},{"t":6}]}`))
	f.Add([]byte(`{"v":1,"events":[{"t":2,"tool":true,"tid":"a","r":"AAE=","a":{"x":1}},{"t":6,"u":{"in":3,"out":2}}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		again, err := encodeEntry(e)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		e2, err := decodeEntry(again)
		if err != nil {
			t.Fatalf("decode of a re-encoded entry: %v", err)
		}
		third, _ := encodeEntry(e2)
		if string(third) != string(again) {
			t.Fatalf("round trip changed the entry:\n%s\n%s", again, third)
		}
		s := (&Stage{o: Options{}}).replay(&lookupState{hit: e2})
		for {
			if _, err := s.Next(); err != nil {
				break
			}
		}
	})
}
