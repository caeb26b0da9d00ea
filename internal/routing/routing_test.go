package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

func TestProfileErrors(t *testing.T) {
	stdOnly := &Model{ID: "s", Profiles: []llm.Latency{llm.LatencyStandard},
		Deployments: []*Deployment{{Name: "a", Provider: &script{name: "a"}, Weight: 1}}}
	both := fleet(&script{name: "b"})
	r := New([]*Model{stdOnly, both})
	tests := []struct {
		name    string
		model   string
		profile llm.Latency
		want    llm.ErrorKind
		served  llm.Latency
	}{
		{name: "default is standard", model: "s", profile: "", served: llm.LatencyStandard},
		{name: "standard", model: "m", profile: llm.LatencyStandard, served: llm.LatencyStandard},
		{name: "optimized", model: "m", profile: llm.LatencyOptimized, served: llm.LatencyOptimized},
		{name: "unknown profile", model: "m", profile: "fast", want: llm.KindValidation},
		{name: "optimized not offered", model: "s", profile: llm.LatencyOptimized, want: llm.KindValidation},
		{name: "unknown model", model: "nope", profile: "", want: llm.KindNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := call(tc.model, tc.profile)
			_, _, err := collect(t, r, c)
			if tc.want != 0 || err != nil {
				if kindOf(err) != tc.want {
					t.Fatalf("Route(%q, %q) = %v, want kind %v", tc.model, tc.profile, err, tc.want)
				}
				return
			}
			if got := c.Served().Profile; got != tc.served {
				t.Errorf("served profile = %q, want %q", got, tc.served)
			}
		})
	}
}

func TestWeightedRoundRobin(t *testing.T) {
	a, b := &script{name: "a"}, &script{name: "b"}
	m := fleet(a, b)
	m.Deployments[0].Weight = 3
	r := New([]*Model{m})
	got := map[string]int{}
	for i := 0; i < 40; i++ {
		_, d, err := collect(t, r, call("m", llm.LatencyStandard))
		if err != nil {
			t.Fatal(err)
		}
		got[d]++
	}
	if got["a"] != 30 || got["b"] != 10 {
		t.Errorf("served by %v, want a:30 b:10", got)
	}
}

func TestRetryAndFallback(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantErr    llm.ErrorKind // 0: served
		wantServer string
	}{
		{name: "5xx retried elsewhere", err: &llm.Error{Kind: llm.KindModelError, UpstreamStatus: 502}, wantServer: "good"},
		{name: "429 retried elsewhere", err: &llm.Error{Kind: llm.KindThrottled, UpstreamStatus: 429}, wantServer: "good"},
		{name: "unavailable retried", err: llm.Errorf(llm.KindUnavailable, "down"), wantServer: "good"},
		{name: "validation not retried", err: llm.Errorf(llm.KindValidation, "bad"), wantErr: llm.KindValidation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad, good := &script{name: "bad", err: tc.err}, &script{name: "good"}
			m := fleet(bad, good)
			m.Deployments[1].Weight = 0 // standby: only reached by retry
			r := New([]*Model{m})
			for i := 0; i < 10; i++ {
				_, d, err := collect(t, r, call("m", llm.LatencyStandard))
				if tc.wantErr != 0 {
					if kindOf(err) != tc.wantErr {
						t.Fatalf("err = %v, want %v", err, tc.wantErr)
					}
					if good.calls.Load() != 0 {
						t.Fatalf("a non-retryable error was retried")
					}
					return
				}
				if err != nil || d != tc.wantServer {
					t.Fatalf("request %d: served by %q, err %v; want %q", i, d, err, tc.wantServer)
				}
			}
		})
	}
}

func TestFallbackModel(t *testing.T) {
	down := &script{name: "down", err: llm.Errorf(llm.KindUnavailable, "down")}
	up := &script{name: "up"}
	m := fleet(down)
	m.Fallbacks = []string{"f"}
	f := &Model{ID: "f", Profiles: []llm.Latency{llm.LatencyStandard, llm.LatencyOptimized},
		Deployments: []*Deployment{{Name: "up", Provider: up, Weight: 1}}}
	r := New([]*Model{m, f})
	c := call("m", llm.LatencyOptimized)
	if _, _, err := collect(t, r, c); err != nil {
		t.Fatal(err)
	}
	if s := c.Served(); s.Model != "f" || s.Deployment != "up" || s.Profile != llm.LatencyOptimized || s.Attempts != 2 {
		t.Errorf("served = %+v, want model f on up, optimized, 2 attempts", s)
	}
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	bad, good := &script{name: "bad", err: llm.Errorf(llm.KindUnavailable, "down")}, &script{name: "good"}
	r := New([]*Model{fleet(bad, good)}, WithClock(clock.now),
		WithConfig(Config{Breaker: Breaker{Failures: 3, Cooldown: Duration(time.Minute)}}))
	state := func() BreakerState { return r.Stats().Deployments[0].Breaker }
	for i := 0; i < 20; i++ {
		if _, _, err := collect(t, r, call("m", llm.LatencyStandard)); err != nil {
			t.Fatalf("request %d failed: %v", i, err)
		}
	}
	if state() != BreakerOpen {
		t.Fatalf("breaker = %s after failures, want open", state())
	}
	if n := bad.calls.Load(); n != 3 {
		t.Errorf("bad deployment called %d times, want 3 (then skipped)", n)
	}
	// After the cooldown one probe goes through; it fails and the breaker
	// opens again.
	clock.advance(time.Minute)
	for i := 0; i < 4; i++ {
		collect(t, r, call("m", llm.LatencyStandard))
	}
	if n := bad.calls.Load(); n != 4 {
		t.Errorf("bad deployment called %d times, want 4 (one probe)", n)
	}
	if state() != BreakerOpen {
		t.Fatalf("breaker = %s after failed probe, want open", state())
	}
	// Repaired: the next probe (after the doubled cooldown) closes it.
	bad.set(func(p *script) { p.err = nil })
	clock.advance(2 * time.Minute)
	for i := 0; i < 4; i++ {
		if _, _, err := collect(t, r, call("m", llm.LatencyStandard)); err != nil {
			t.Fatal(err)
		}
	}
	if state() != BreakerClosed {
		t.Fatalf("breaker = %s after successful probe, want closed", state())
	}
	if n := bad.calls.Load(); n < 5 {
		t.Errorf("bad deployment called %d times after recovery, want ≥ 5", n)
	}
}

func TestAllBreakersOpenStillTries(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	p := &script{name: "only", err: llm.Errorf(llm.KindUnavailable, "down")}
	r := New([]*Model{fleet(p)}, WithClock(clock.now),
		WithConfig(Config{Breaker: Breaker{Failures: 1}, BackoffBase: Duration(time.Microsecond), BackoffMax: Duration(time.Microsecond)}))
	collect(t, r, call("m", ""))
	p.set(func(p *script) { p.err = nil })
	if _, _, err := collect(t, r, call("m", "")); err != nil {
		t.Fatalf("the last deployment was refused by its open breaker: %v", err)
	}
}

func TestPriorityAdmission(t *testing.T) {
	cfg := Config{StarvationLimit: 2}.withDefaults()
	st := newState(&Deployment{Name: "d", MaxConcurrency: 1}, &cfg, time.Now)
	ctx := context.Background()
	if err := st.acquire(ctx, llm.LatencyStandard, true); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 8)
	enqueue := func(name string, p llm.Latency, queued int) {
		go func() {
			if err := st.acquire(ctx, p, true); err != nil {
				order <- "error " + err.Error()
				return
			}
			order <- name
		}()
		for st.load() != queued+1 { // wait until it is queued
			runtime.Gosched()
		}
	}
	enqueue("s1", llm.LatencyStandard, 1)
	enqueue("s2", llm.LatencyStandard, 2)
	enqueue("o1", llm.LatencyOptimized, 3)
	enqueue("o2", llm.LatencyOptimized, 4)
	enqueue("o3", llm.LatencyOptimized, 5)
	var got []string
	holder := llm.LatencyStandard
	for i := 0; i < 5; i++ {
		st.release(holder)
		name := <-order
		got = append(got, name)
		holder = llm.LatencyStandard
		if name[0] == 'o' {
			holder = llm.LatencyOptimized
		}
	}
	want := "[o1 o2 s1 o3 s2]" // two optimized, then standard's turn
	if fmt.Sprint(got) != want {
		t.Errorf("admission order = %v, want %s", got, want)
	}
	st.release(holder)
	if st.load() != 0 {
		t.Errorf("load = %d after releasing everything", st.load())
	}
}

func TestReservedOptimizedSlots(t *testing.T) {
	cfg := Config{}.withDefaults()
	st := newState(&Deployment{Name: "d", MaxConcurrency: 2, ReservedOptimized: 1}, &cfg, time.Now)
	ctx := context.Background()
	if err := st.acquire(ctx, llm.LatencyStandard, false); err != nil {
		t.Fatalf("first standard: %v", err)
	}
	if err := st.acquire(ctx, llm.LatencyStandard, false); !errors.Is(err, errBusy) {
		t.Fatalf("second standard took the reserved slot: %v", err)
	}
	// A waiting standard request queues although a slot is free...
	got := make(chan error, 1)
	go func() { got <- st.acquire(ctx, llm.LatencyStandard, true) }()
	for st.load() != 2 {
		runtime.Gosched()
	}
	// ...which an optimized request takes at once.
	if err := st.acquire(ctx, llm.LatencyOptimized, false); err != nil {
		t.Fatalf("optimized could not take the reserved slot: %v", err)
	}
	st.release(llm.LatencyOptimized)
	st.release(llm.LatencyStandard) // the queued standard request goes now
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	st.release(llm.LatencyStandard)
	if st.load() != 0 || st.stdInflight != 0 {
		t.Errorf("load %d, standard in flight %d after releasing everything", st.load(), st.stdInflight)
	}
}

func TestQueueBoundAndTimeout(t *testing.T) {
	cfg := Config{MaxQueue: 1, QueueTimeout: Duration(time.Millisecond)}.withDefaults()
	st := newState(&Deployment{Name: "d", MaxConcurrency: 1}, &cfg, time.Now)
	ctx := context.Background()
	st.acquire(ctx, llm.LatencyStandard, true)
	if err := st.acquire(ctx, llm.LatencyStandard, false); !errors.Is(err, errBusy) {
		t.Errorf("non-waiting acquire = %v, want busy", err)
	}
	if err := st.acquire(ctx, llm.LatencyStandard, true); kindOf(err) != llm.KindThrottled {
		t.Errorf("queue timeout = %v, want ThrottlingException", err)
	}
	if st.load() != 1 {
		t.Errorf("load = %d, want 1", st.load())
	}
}

func TestLiveLatencyChoice(t *testing.T) {
	slow, fast := &script{name: "slow"}, &script{name: "fast"}
	m := fleet(slow, fast)
	r := New([]*Model{m}, WithConfig(Config{Hedge: Hedge{Disabled: true}}))
	for i := 0; i < 20; i++ {
		m.Deployments[0].st.observeTTFT(2 * time.Second)
		m.Deployments[1].st.observeTTFT(20 * time.Millisecond)
	}
	got := map[string]int{}
	for i := 0; i < 20; i++ {
		_, d, err := collect(t, r, call("m", llm.LatencyOptimized))
		if err != nil {
			t.Fatal(err)
		}
		got[d]++
	}
	if got["fast"] != 20 {
		t.Errorf("optimized served by %v, want all on fast", got)
	}
	got = map[string]int{}
	for i := 0; i < 20; i++ {
		_, d, _ := collect(t, r, call("m", llm.LatencyStandard))
		got[d]++
	}
	if got["slow"] != 10 {
		t.Errorf("standard served by %v, want round robin", got)
	}
}

func TestCacheAffinity(t *testing.T) {
	a, b := &script{name: "a"}, &script{name: "b"}
	r := New([]*Model{fleet(a, b)}, WithConfig(Config{Hedge: Hedge{Disabled: true}}))
	prompt := func(sys string) *gateway.Call {
		c := call("m", llm.LatencyOptimized)
		c.Request.System = []llm.Block{llm.TextBlock(sys), {Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}}}
		return c
	}
	for _, sys := range []string{"alpha", "beta", "gamma", "delta"} {
		_, first, err := collect(t, r, prompt(sys))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			_, d, _ := collect(t, r, prompt(sys))
			if d != first {
				t.Fatalf("prefix %q served by %s then %s, want affinity", sys, first, d)
			}
		}
	}
}

func TestPrefixKey(t *testing.T) {
	msg := func(s string) llm.Message {
		return llm.Message{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(s)}}
	}
	cp := llm.Block{Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}}
	base := &llm.Request{System: []llm.Block{llm.TextBlock("sys"), cp}, Messages: []llm.Message{msg("one")}}
	sameSys := &llm.Request{System: []llm.Block{llm.TextBlock("sys"), cp}, Messages: []llm.Message{msg("two")}}
	otherSys := &llm.Request{System: []llm.Block{llm.TextBlock("sys2"), cp}, Messages: []llm.Message{msg("one")}}
	noCP1 := &llm.Request{Messages: []llm.Message{msg("q"), msg("x")}}
	noCP2 := &llm.Request{Messages: []llm.Message{msg("q"), msg("y")}}
	if PrefixKey(base) != PrefixKey(sameSys) {
		t.Error("requests sharing the cached system prefix have different keys")
	}
	if PrefixKey(base) == PrefixKey(otherSys) {
		t.Error("different cached prefixes have the same key")
	}
	if PrefixKey(noCP1) != PrefixKey(noCP2) {
		t.Error("without cache points, the key should cover system + first message only")
	}
	if PrefixKey(&llm.Request{}) != 0 {
		t.Error("empty request has a key")
	}
}

func TestHedging(t *testing.T) {
	base := runtime.NumGoroutine()
	stuck := &script{name: "stuck", gate: make(chan struct{})} // first token never comes
	fast := &script{name: "fast"}
	m := fleet(stuck, fast)
	m.Deployments[1].Weight = 0 // never chosen first, only as a hedge
	r := New([]*Model{m}, WithConfig(Config{Hedge: Hedge{Budget: 1, MinSamples: 1, MinDelay: Duration(time.Millisecond)}}))
	m.Deployments[0].st.observeTTFT(time.Millisecond)
	text, d, err := collect(t, r, call("m", llm.LatencyOptimized))
	if err != nil || d != "fast" || text != "abc" {
		t.Fatalf("hedged request: text %q from %q, err %v; want abc from fast", text, d, err)
	}
	st := r.Stats()
	if st.Hedges != 1 || st.Deployments[1].HedgeWins != 1 {
		t.Errorf("stats = %+v, want one hedge won by fast", st)
	}
	// The loser was cancelled and released its slot.
	for r.Stats().Deployments[0].InFlight != 0 {
		runtime.Gosched()
	}
	settleGoroutines(t, base)
}

func TestHedgeBudget(t *testing.T) {
	gate := make(chan struct{})
	slow := &script{name: "slow", gate: gate}
	other := &script{name: "other", gate: gate}
	m := fleet(slow, other)
	m.Deployments[1].Weight = 0
	r := New([]*Model{m}, WithConfig(Config{Hedge: Hedge{Budget: 0.1, MinSamples: 1, MinDelay: Duration(time.Millisecond)}}))
	m.Deployments[0].st.observeTTFT(time.Millisecond)
	// 30 concurrent optimized requests, all late: at most 10% + the
	// credit's rounding may hedge.
	done := make(chan error, 30)
	for i := 0; i < 30; i++ {
		go func() { _, _, err := collect(t, r, call("m", llm.LatencyOptimized)); done <- err }()
	}
	for r.Stats().Requests[llm.LatencyOptimized] < 30 {
		runtime.Gosched()
	}
	close(gate)
	for i := 0; i < 30; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if h := r.Stats().Hedges; h > 3 {
		t.Errorf("hedges = %d for 30 requests, want ≤ 3 (budget 10%%)", h)
	}
}

func TestTimeouts(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(m *Model, bad *script)
		cfg    Config
		served bool // false: the stream must end with a timeout
	}{
		{name: "ttft timeout retried elsewhere", served: true, setup: func(m *Model, bad *script) {
			bad.gate = make(chan struct{})
			m.Deployments[0].TTFTTimeout = time.Millisecond
		}},
		{name: "attempt timeout retried elsewhere", served: true, setup: func(m *Model, bad *script) {
			bad.gate = make(chan struct{})
			m.Deployments[0].Timeout = time.Millisecond
		}},
		{name: "stall after first token", setup: func(m *Model, bad *script) {
			bad.hang = true
			m.Deployments[0].StallTimeout = time.Millisecond
		}},
		{name: "request deadline", cfg: Config{Deadline: Duration(5 * time.Millisecond)}, setup: func(m *Model, bad *script) {
			bad.hang = true
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := runtime.NumGoroutine()
			bad, good := &script{name: "bad"}, &script{name: "good"}
			m := fleet(bad, good)
			m.Deployments[1].Weight = 0
			tc.setup(m, bad)
			r := New([]*Model{m}, WithConfig(tc.cfg))
			text, d, err := collect(t, r, call("m", llm.LatencyStandard))
			if tc.served {
				if err != nil || d != "good" {
					t.Fatalf("served by %q, err %v; want good", d, err)
				}
			} else if kindOf(err) != llm.KindTimeout || text != "" {
				t.Fatalf("err = %v, want an in-stream ModelTimeoutException", err)
			}
			if st := r.Stats().Deployments[0]; st.InFlight != 0 {
				t.Errorf("slot leaked: %+v", st)
			}
			settleGoroutines(t, base)
		})
	}
}

func TestMidStreamError(t *testing.T) {
	p := &script{name: "p", midErr: io.ErrUnexpectedEOF}
	r := New([]*Model{fleet(p)})
	s, err := r.Route(context.Background(), call("m", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for {
		_, err = s.Next()
		if err != nil {
			break
		}
	}
	if kindOf(err) != llm.KindModelError {
		t.Errorf("mid-stream failure = %v, want ModelErrorException", err)
	}
	if _, err2 := s.Next(); kindOf(err2) != llm.KindModelError {
		t.Errorf("Next after failure = %v, want the same error", err2)
	}
}

func TestStatsHandler(t *testing.T) {
	r := New([]*Model{fleet(&script{name: "a"})})
	collect(t, r, call("m", llm.LatencyOptimized))
	srv := httptest.NewServer(r.StatsHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Requests[llm.LatencyOptimized] != 1 || len(st.Deployments) != 1 || st.Deployments[0].Breaker != BreakerClosed {
		t.Errorf("stats = %+v", st)
	}
	resp2, err := http.Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST status = %d, want 405", resp2.StatusCode)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{name: "zero", ok: true},
		{name: "budget above 1", cfg: Config{Hedge: Hedge{Budget: 1.5}}},
		{name: "negative attempts", cfg: Config{MaxAttempts: -1}},
		{name: "alpha above 1", cfg: Config{EWMAAlpha: 2}},
		{name: "base above max", cfg: Config{BackoffBase: Duration(time.Second), BackoffMax: Duration(time.Millisecond)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func BenchmarkRoute(b *testing.B) {
	for _, n := range []int{2, 8} {
		for _, p := range []llm.Latency{llm.LatencyStandard, llm.LatencyOptimized} {
			b.Run(fmt.Sprintf("plan/deployments=%d/%s", n, p), func(b *testing.B) {
				var ps []*script
				for i := 0; i < n; i++ {
					ps = append(ps, &script{name: fmt.Sprint("d", i)})
				}
				m := fleet(ps...)
				r := New([]*Model{m})
				for i, d := range m.Deployments {
					d.st.observeTTFT(time.Duration(i+1) * time.Millisecond)
					d.st.observeOTPS(100)
				}
				req := call("m", p).Request
				var buf [maxPlan]*Deployment
				b.ReportAllocs()
				for b.Loop() {
					key := uint64(0)
					if p == llm.LatencyOptimized {
						key = PrefixKey(req)
					}
					r.plan(m, p, key, buf[:0])
				}
			})
		}
	}
	for _, stream := range []bool{true, false} {
		name := "route+stream/optimized"
		if !stream {
			name = "route+buffered/standard" // the answer is read whole before Route returns
		}
		b.Run(name, func(b *testing.B) { benchRouteStream(b, stream) })
	}
}

func benchRouteStream(b *testing.B, stream bool) {
	{
		m := fleet(&script{name: "a"}, &script{name: "b"})
		r := New([]*Model{m})
		p := llm.LatencyOptimized
		if !stream {
			p = llm.LatencyStandard
		}
		b.ReportAllocs()
		for b.Loop() {
			c := call("m", p)
			c.Stream = stream
			s, err := r.Route(context.Background(), c)
			if err != nil {
				b.Fatal(err)
			}
			for {
				if _, err := s.Next(); err != nil {
					break
				}
			}
			s.Close()
		}
	}
}
