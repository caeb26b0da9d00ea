package quota_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/quota"
	"github.com/outcrop/outcrop/internal/testenv"
)

// fakeStream answers with usage and can be held open.
type fakeStream struct {
	evs  []llm.Event
	hold chan struct{}
}

func (s *fakeStream) Next() (llm.Event, error) {
	if s.hold != nil {
		<-s.hold
		s.hold = nil
	}
	if len(s.evs) == 0 {
		return llm.Event{}, io.EOF
	}
	ev := s.evs[0]
	s.evs = s.evs[1:]
	return ev, nil
}
func (s *fakeStream) Close() error { return nil }

func answer(in, out int) *fakeStream {
	return &fakeStream{evs: []llm.Event{
		{Type: llm.EventMessageStart},
		{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: "x"},
		{Type: llm.EventMessageStop, StopReason: llm.StopEndTurn},
		{Type: llm.EventMetadata, Usage: &llm.Usage{InputTokens: in, OutputTokens: out}},
	}}
}

// fixedClock is a clock in the middle of a minute, so a test never
// straddles a window boundary.
func fixedClock() func() time.Time {
	t := time.Date(2026, 11, 25, 12, 0, 30, 0, time.UTC)
	return func() time.Time { return t }
}

func call(principal, model string, maxTokens *int) *gateway.Call {
	return &gateway.Call{API: "bedrock", Op: "Converse", Principal: principal,
		Request: &llm.Request{Model: model, Inference: llm.InferenceConfig{MaxTokens: maxTokens},
			Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("hello there")}}}}}
}

func newGateway(q *quota.Quotas, final gateway.Handler) *gateway.Gateway {
	if final == nil {
		final = func(ctx context.Context, c *gateway.Call) (llm.Stream, error) { return answer(3, 5), nil }
	}
	return gateway.New(gateway.Options{Stages: []gateway.Stage{q}, Final: final})
}

func throttledErr(t *testing.T, err error) *llm.Error {
	t.Helper()
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindThrottled {
		t.Fatalf("err = %v, want ThrottlingException", err)
	}
	if e.RetryAfter <= 0 || e.RetryAfter > time.Minute {
		t.Errorf("RetryAfter = %v", e.RetryAfter)
	}
	return e
}

func TestRPM(t *testing.T) {
	cfg := quota.Config{Default: quota.Limit{RPM: 5}, Models: map[string]quota.Limit{"shared": {RPM: 7}}, OnBackendError: "allow", StreamLease: config.Duration(time.Minute)}
	q := quota.New(cfg, quota.LimitsConfig{}, quota.Options{Now: fixedClock()})
	g := newGateway(q, nil)
	ctx := context.Background()
	for i := range 5 {
		if _, err := g.Converse(ctx, call("alice", "m", nil)); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	e := throttledErr(t, func() error { _, err := g.Converse(ctx, call("alice", "m", nil)); return err }())
	if e.RetryAfter != 30*time.Second {
		t.Errorf("RetryAfter = %v, want 30s (the rest of the minute)", e.RetryAfter)
	}
	// Another principal has its own counter...
	if _, err := g.Converse(ctx, call("bob", "m", nil)); err != nil {
		t.Errorf("bob: %v", err)
	}
	// ...but a per-model quota is shared: 7 for "shared" across everyone.
	ok := 0
	for _, p := range []string{"c1", "c2", "c3", "c4"} {
		for range 2 {
			if _, err := g.Converse(ctx, call(p, "shared", nil)); err == nil {
				ok++
			}
		}
	}
	if ok != 7 {
		t.Errorf("model quota admitted %d, want 7", ok)
	}
}

func TestTPM(t *testing.T) {
	cfg := quota.Config{Principals: map[string]quota.PrincipalLimit{"alice": {Limit: quota.Limit{TPM: 20}}}, OnBackendError: "allow"}
	q := quota.New(cfg, quota.LimitsConfig{}, quota.Options{Now: fixedClock()})
	g := newGateway(q, nil)
	ctx := context.Background()
	// Each call costs 3 in + 5 out = 8 tokens, charged as it ends; the
	// window admits while below 20: 0, 8, 16 → three calls.
	ok := 0
	for range 5 {
		if _, err := g.Converse(ctx, call("alice", "m", nil)); err == nil {
			ok++
		} else {
			throttledErr(t, err)
		}
	}
	if ok != 3 {
		t.Errorf("admitted %d, want 3", ok)
	}
}

func TestConcurrentStreams(t *testing.T) {
	cfg := quota.Config{Default: quota.Limit{ConcurrentStreams: 2}, OnBackendError: "allow", StreamLease: config.Duration(time.Minute)}
	q := quota.New(cfg, quota.LimitsConfig{}, quota.Options{})
	hold := make(chan struct{})
	g := newGateway(q, func(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
		s := answer(1, 1)
		s.hold = hold
		return s, nil
	})
	ctx := context.Background()
	var open []llm.Stream
	for range 2 {
		s, err := g.Do(ctx, call("alice", "m", nil))
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, s)
	}
	_, err := g.Do(ctx, call("alice", "m", nil))
	throttledErr(t, err)
	close(hold)
	for _, s := range open {
		llm.Collect(s)
	}
	if s, err := g.Do(ctx, call("alice", "m", nil)); err != nil {
		t.Errorf("after streams ended: %v", err)
	} else {
		s.Close()
	}
}

func TestLimits(t *testing.T) {
	l := quota.LimitsConfig{ModelLimits: quota.ModelLimits{MaxMessages: 3, MaxInputTokens: 50, MaxTokens: 100},
		Models: map[string]quota.ModelLimits{"small": {MaxTokens: 10}}}
	big := 200
	eleven, nine := 11, 9
	tests := []struct {
		name    string
		model   string
		msgs    int
		text    string
		max     *int
		wantErr bool
		wantMax int
	}{
		{name: "within limits", model: "m", msgs: 1, text: "hi", wantMax: 100},
		{name: "too many messages", model: "m", msgs: 4, text: "hi", wantErr: true},
		{name: "too many input tokens", model: "m", msgs: 1, text: string(make([]byte, 400)), wantErr: true},
		{name: "maxTokens over the cap", model: "m", msgs: 1, text: "hi", max: &big, wantErr: true},
		{name: "per-model cap", model: "small", msgs: 1, text: "hi", max: &eleven, wantErr: true},
		{name: "per-model default applied", model: "small", msgs: 1, text: "hi", wantMax: 10},
		{name: "maxTokens within the cap", model: "small", msgs: 1, text: "hi", max: &nine, wantMax: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &llm.Request{Model: tc.model, Inference: llm.InferenceConfig{MaxTokens: tc.max}}
			for range tc.msgs {
				r.Messages = append(r.Messages, llm.Message{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(tc.text)}})
			}
			_, err := quota.CheckRequest(l.For(tc.model), r)
			if tc.wantErr {
				var e *llm.Error
				if !errors.As(err, &e) || e.Kind != llm.KindValidation {
					t.Errorf("err = %v, want ValidationException", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// A request without maxTokens keeps none (the deployment's
			// default applies) and gets the model's limit as its cap.
			if r.Inference.MaxTokens != tc.max || r.Inference.MaxTokensCap != tc.wantMax {
				t.Errorf("maxTokens = %v, cap %d; want %v, cap %d", r.Inference.MaxTokens, r.Inference.MaxTokensCap, tc.max, tc.wantMax)
			}
		})
	}
}

// TestRedisSharedLimit runs two gateways, as two replicas would, on one
// real Redis and fires a concurrent burst at both: together they admit
// exactly the limit.
func TestRedisSharedLimit(t *testing.T) {
	url := testenv.RedisURL(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	prefix := "outcrop-test:{q" + time.Now().Format("150405.000000000") + "}:"
	const limit = 20
	cfg := quota.Config{Default: quota.Limit{RPM: limit, ConcurrentStreams: 1000}, OnBackendError: "deny", StreamLease: config.Duration(time.Minute)}
	var gws []*gateway.Gateway
	for range 2 {
		c := redis.NewClient(opt) // each replica has its own connection pool
		t.Cleanup(func() { c.Close() })
		q := quota.New(cfg, quota.LimitsConfig{}, quota.Options{Backend: quota.NewRedis(c, prefix), Now: fixedClock()})
		gws = append(gws, newGateway(q, nil))
	}
	var ok, throttled atomic.Int64
	var wg sync.WaitGroup
	for i := range 3 * limit {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := gws[i%2].Converse(context.Background(), call("alice", "m", nil))
			var e *llm.Error
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &e) && e.Kind == llm.KindThrottled && e.RetryAfter > 0:
				throttled.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != limit || throttled.Load() != 2*limit {
		t.Errorf("admitted %d, throttled %d; want %d and %d", ok.Load(), throttled.Load(), limit, 2*limit)
	}
}

func TestRedisConcurrentStreams(t *testing.T) {
	url := testenv.RedisURL(t)
	opt, _ := redis.ParseURL(url)
	c := redis.NewClient(opt)
	defer c.Close()
	b := quota.NewRedis(c, "outcrop-test:{s"+time.Now().Format("150405.000000000")+"}:")
	ctx := context.Background()
	now := time.Now()
	if f, err := b.Acquire(ctx, now, []string{"k"}, []int{1}, "a", time.Minute); err != nil || f != -1 {
		t.Fatalf("first acquire = %d, %v", f, err)
	}
	if f, _ := b.Acquire(ctx, now, []string{"k"}, []int{1}, "b", time.Minute); f != 0 {
		t.Errorf("second acquire = %d, want 0 (full)", f)
	}
	// An expired lease frees the slot.
	if f, _ := b.Acquire(ctx, now.Add(2*time.Minute), []string{"k"}, []int{1}, "b", time.Minute); f != -1 {
		t.Errorf("acquire after lease expiry = %d, want -1", f)
	}
	b.Release(ctx, []string{"k"}, "b")
	if f, _ := b.Acquire(ctx, now.Add(2*time.Minute), []string{"k"}, []int{1}, "c", time.Minute); f != -1 {
		t.Errorf("acquire after release = %d", f)
	}
}

// TestBackendDown checks on_backend_error with a Redis that is not there.
func TestBackendDown(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer c.Close()
	for _, tc := range []struct {
		mode    string
		wantErr bool
	}{{"allow", false}, {"deny", true}} {
		t.Run(tc.mode, func(t *testing.T) {
			cfg := quota.Config{Default: quota.Limit{RPM: 1, ConcurrentStreams: 1}, OnBackendError: tc.mode, StreamLease: config.Duration(time.Minute)}
			g := newGateway(quota.New(cfg, quota.LimitsConfig{}, quota.Options{Backend: quota.NewRedis(c, "")}), nil)
			_, err := g.Converse(context.Background(), call("alice", "m", nil))
			var e *llm.Error
			if tc.wantErr && (!errors.As(err, &e) || e.Kind != llm.KindUnavailable) {
				t.Errorf("err = %v, want ServiceUnavailable", err)
			}
			if !tc.wantErr && err != nil {
				t.Errorf("err = %v, want admitted", err)
			}
		})
	}
}

// TestAdmit checks the one-step admission on both backends: all or
// nothing, and which limit refused.
func TestAdmit(t *testing.T) {
	backends := map[string]func(t *testing.T) quota.Backend{
		"memory": func(t *testing.T) quota.Backend { return quota.NewMemory() },
		"redis": func(t *testing.T) quota.Backend {
			opt, err := redis.ParseURL(testenv.RedisURL(t))
			if err != nil {
				t.Fatal(err)
			}
			c := redis.NewClient(opt)
			t.Cleanup(func() { c.Close() })
			return quota.NewRedis(c, "outcrop-test:{a"+time.Now().Format("150405.000000000")+"}:")
		},
	}
	for name, mk := range backends {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			ctx := context.Background()
			now := fixedClock()()
			rpm := func(limit int64) []quota.Counter {
				return []quota.Counter{{Key: "rpm", Limit: limit, Cost: 1, Window: time.Minute}, {Key: "tpm", Limit: 100, Cost: 60, Window: time.Minute, Soft: true}}
			}
			if s, c, err := b.Admit(ctx, now, []string{"streams"}, []int{1}, "a", time.Minute, rpm(5)); err != nil || s != -1 || c != -1 {
				t.Fatalf("first Admit = %d, %d, %v", s, c, err)
			}
			// The stream slot is taken: refused on the slot, nothing charged.
			if s, c, _ := b.Admit(ctx, now, []string{"streams"}, []int{1}, "b", time.Minute, rpm(5)); s != 0 || c != -1 {
				t.Errorf("slot full: Admit = %d, %d; want 0, -1", s, c)
			}
			b.Release(ctx, []string{"streams"}, "a")
			// tpm is at 60 < 100: admitted (soft), now 120.
			if s, c, _ := b.Admit(ctx, now, []string{"streams"}, []int{1}, "c", time.Minute, rpm(5)); s != -1 || c != -1 {
				t.Errorf("second Admit = %d, %d", s, c)
			}
			b.Release(ctx, []string{"streams"}, "c")
			// tpm at 120 ≥ 100: refused on counter 1, and rpm not charged.
			if s, c, _ := b.Admit(ctx, now, []string{"streams"}, []int{1}, "d", time.Minute, rpm(5)); s != -1 || c != 1 {
				t.Errorf("tpm over: Admit = %d, %d; want -1, 1", s, c)
			}
			if f, _ := b.Take(ctx, now, []quota.Counter{{Key: "rpm", Limit: 3, Cost: 1, Window: time.Minute}}); f != -1 {
				t.Errorf("rpm was charged by refused admissions")
			}
		})
	}
}
