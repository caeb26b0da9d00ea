package routing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/routing/routingtest"
	"github.com/outcrop/outcrop/internal/testenv"
)

// The tests in this file run the router against real HTTP upstreams on
// loopback (routingtest.Server) that fail on command.

// newClient makes the provider of one deployment for an upstream at baseURL.
type newClient func(t *testing.T, baseURL string, hc *http.Client) llm.Provider

// minimal is routingtest's own client.
func minimal(t *testing.T, baseURL string, hc *http.Client) llm.Provider {
	return &routingtest.Client{BaseURL: baseURL, Model: "fake", HTTP: hc}
}

// openaiProvider is the real OpenAI-compatible provider.
func openaiProvider(t *testing.T, baseURL string, hc *http.Client) llm.Provider {
	t.Helper()
	p, err := openai.New(openai.Config{BaseURL: baseURL, Model: "fake", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// httpFleet starts n upstreams and a model "m" with one deployment on each.
func httpFleet(t *testing.T, n int) (*Model, []*routingtest.Server, *http.Transport) {
	t.Helper()
	return httpFleetWith(t, n, minimal)
}

func httpFleetWith(t *testing.T, n int, mk newClient) (*Model, []*routingtest.Server, *http.Transport) {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	hc := &http.Client{Transport: tr}
	m := &Model{ID: "m", Profiles: []llm.Latency{llm.LatencyStandard, llm.LatencyOptimized}}
	var srvs []*routingtest.Server
	for i := 0; i < n; i++ {
		s, err := routingtest.Start()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		srvs = append(srvs, s)
		m.Deployments = append(m.Deployments, &Deployment{
			Name: fmt.Sprintf("d%d", i), Type: "openai", Weight: 1, Timeout: 30 * time.Second,
			Provider: mk(t, s.URL(), hc),
		})
	}
	t.Cleanup(tr.CloseIdleConnections)
	return m, srvs, tr
}

// outcome is what one client request saw.
type outcome struct {
	text       string
	err        error
	deployment string
}

// load sends total streamed requests, conc at a time, alternating the
// profiles, and reads every stream to its end.
func load(r *Router, total, conc int) []outcome { return loadWith(r, total, conc, true) }

// loadWith is load for streamed (stream true) or buffered requests.
func loadWith(r *Router, total, conc int, stream bool) []outcome {
	out := make([]outcome, total)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p := llm.LatencyStandard
				if i%2 == 1 {
					p = llm.LatencyOptimized
				}
				c := &gateway.Call{Stream: stream, Request: &llm.Request{Model: "m", Performance: p,
					Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(fmt.Sprint("q", i))}}}}}
				out[i] = one(r, c)
			}
		}()
	}
	for i := 0; i < total; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func one(r *Router, c *gateway.Call) outcome {
	s, err := r.Route(context.Background(), c)
	if err != nil {
		return outcome{err: err}
	}
	defer s.Close()
	var o outcome
	for {
		ev, err := s.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				o.err = err
			}
			break
		}
		o.text += ev.Text
	}
	o.deployment = c.Served().Deployment
	return o
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFaultsWithOneHealthyDeployment(t *testing.T) {
	for _, cl := range []struct {
		name string
		mk   newClient
	}{{"routingtest", minimal}, {"openai", openaiProvider}} {
		t.Run(cl.name, func(t *testing.T) { testFaults(t, cl.mk) })
	}
}

func testFaults(t *testing.T, mk newClient) {
	tests := []struct {
		name  string
		fault routingtest.Fault
		kill  bool
		ttft  time.Duration
	}{
		{name: "500", fault: routingtest.Fault{Status: 500}},
		{name: "503", fault: routingtest.Fault{Status: 503}},
		{name: "429", fault: routingtest.Fault{Status: 429, RetryAfter: 1}},
		{name: "connection reset", fault: routingtest.Fault{Reset: true}},
		{name: "killed", kill: true},
		{name: "first byte delayed past ttft timeout", fault: routingtest.Fault{FirstByteDelay: 5 * time.Second}, ttft: 100 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := runtime.NumGoroutine()
			m, srvs, tr := httpFleetWith(t, 3, mk)
			for _, d := range m.Deployments {
				d.TTFTTimeout = tc.ttft
			}
			r := New([]*Model{m}, WithConfig(Config{
				Breaker:     Breaker{Failures: 3, Cooldown: Duration(50 * time.Millisecond), MaxCooldown: Duration(100 * time.Millisecond)},
				BackoffBase: Duration(time.Millisecond), BackoffMax: Duration(10 * time.Millisecond),
			}))
			// Two of three deployments fail; d2 stays healthy.
			for _, s := range srvs[:2] {
				if tc.kill {
					s.Kill()
				} else {
					s.SetFault(tc.fault)
				}
			}
			for i, o := range load(r, 60, 6) {
				if o.err != nil {
					t.Errorf("request %d failed with one healthy deployment left: %v", i, o.err)
				}
				if o.text == "" {
					t.Errorf("request %d: empty answer", i)
				}
			}
			st := r.Stats()
			for _, d := range st.Deployments[:2] {
				if d.Opens == 0 {
					t.Errorf("%s: breaker never opened: %+v", d.Deployment, d)
				}
			}
			// Repair the upstreams: the breakers probe and close again and
			// the repaired deployments take traffic.
			for _, s := range srvs[:2] {
				s.SetFault(routingtest.Fault{})
				if err := s.Restart(); err != nil {
					t.Fatal(err)
				}
			}
			before := srvs[0].Served() + srvs[1].Served()
			waitFor(t, "breakers to close", func() bool {
				load(r, 6, 3)
				st := r.Stats()
				return st.Deployments[0].Breaker == BreakerClosed && st.Deployments[1].Breaker == BreakerClosed &&
					srvs[0].Served()+srvs[1].Served() > before
			})
			// A cancelled hedge gives its slot back from its own goroutine,
			// so the slots come back eventually, not at once.
			waitFor(t, "every slot and queue entry to be released", func() bool {
				for _, d := range r.Stats().Deployments {
					if d.InFlight != 0 || d.QueuedOptimized+d.QueuedStandard != 0 {
						return false
					}
				}
				return true
			})
			for _, s := range srvs {
				s.Close()
			}
			tr.CloseIdleConnections()
			settleGoroutines(t, base)
		})
	}
}

func TestKillMidRun(t *testing.T) {
	base := runtime.NumGoroutine()
	m, srvs, tr := httpFleet(t, 2)
	for _, s := range srvs {
		s.TokenDelay = 2 * time.Millisecond
	}
	r := New([]*Model{m})
	done := make(chan []outcome)
	go func() { done <- load(r, 80, 8) }()
	waitFor(t, "traffic on d0", func() bool { return srvs[0].Served() >= 5 })
	srvs[0].Kill()
	outs := <-done
	failed := 0
	for i, o := range outs {
		if o.err == nil {
			continue
		}
		failed++
		// Only streams already flowing from the killed upstream may fail,
		// and they must end with a well-formed error, never hang.
		k := kindOf(o.err)
		if o.text == "" || (k != llm.KindModelError && k != llm.KindTimeout) {
			t.Errorf("request %d: %v after %q; want only in-stream ModelError/Timeout after the first token", i, o.err, o.text)
		}
	}
	t.Logf("%d of %d requests were cut mid-stream by the kill; the rest were served", failed, len(outs))
	// Requests after the kill all succeed.
	for i, o := range load(r, 20, 4) {
		if o.err != nil {
			t.Errorf("request %d after the kill failed: %v", i, o.err)
		}
	}
	srvs[1].Close()
	tr.CloseIdleConnections()
	settleGoroutines(t, base)
}

func TestStallMidStream(t *testing.T) {
	base := runtime.NumGoroutine()
	m, srvs, tr := httpFleet(t, 1)
	m.Deployments[0].StallTimeout = 100 * time.Millisecond
	srvs[0].SetFault(routingtest.Fault{StallAfter: 2})
	r := New([]*Model{m})
	o := one(r, call("m", llm.LatencyStandard))
	if o.text != "w0 w1 " || kindOf(o.err) != llm.KindTimeout {
		t.Fatalf("got %q then %v; want two words then an in-stream ModelTimeoutException", o.text, o.err)
	}
	// The upstream saw the connection go.
	waitFor(t, "the stalled upstream request to end", func() bool { return srvs[0].Active() == 0 })
	if d := r.Stats().Deployments[0]; d.Stalls != 1 || d.InFlight != 0 {
		t.Errorf("stats = %+v, want one stall and no slot held", d)
	}
	srvs[0].Close()
	tr.CloseIdleConnections()
	settleGoroutines(t, base)
}

func TestHedgeOverHTTP(t *testing.T) {
	base := runtime.NumGoroutine()
	m, srvs, tr := httpFleet(t, 2)
	r := New([]*Model{m}, WithConfig(Config{Hedge: Hedge{Budget: 1, MinSamples: 5}}))
	load(r, 20, 2) // learn both deployments' TTFT
	srvs[0].SetFault(routingtest.Fault{FirstByteDelay: 30 * time.Second})
	srvs[1].SetFault(routingtest.Fault{FirstByteDelay: 30 * time.Second})
	// Whichever replica the request goes to first is late; the other is
	// repaired before the hedge fires.
	c := call("m", llm.LatencyOptimized)
	done := make(chan outcome)
	go func() { done <- one(r, c) }()
	waitFor(t, "the first attempt", func() bool { return srvs[0].Active()+srvs[1].Active() == 1 })
	late := 0
	if srvs[1].Active() == 1 {
		late = 1
	}
	srvs[1-late].SetFault(routingtest.Fault{})
	o := <-done
	if o.err != nil || o.deployment != m.Deployments[1-late].Name {
		t.Fatalf("served by %q (err %v), want the hedge on %s", o.deployment, o.err, m.Deployments[1-late].Name)
	}
	if st := r.Stats(); st.Hedges != 1 {
		t.Errorf("hedges = %d, want 1", st.Hedges)
	}
	// The losing attempt was cancelled upstream.
	waitFor(t, "the late upstream request to be cancelled", func() bool { return srvs[late].Active() == 0 })
	for _, s := range srvs {
		s.Close()
	}
	tr.CloseIdleConnections()
	settleGoroutines(t, base)
}

func TestBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 2,000 requests")
	}
	m, srvs, tr := httpFleet(t, 2)
	for _, s := range srvs {
		s.Tokens = 2
	}
	r := New([]*Model{m}, WithConfig(Config{AffinityEntries: 128}))
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	load(r, 400, 4)
	before := heap()
	load(r, 1600, 4) // every prompt distinct: affinity keys churn
	after := heap()
	if after > before+8<<20 {
		t.Errorf("heap grew from %d to %d bytes over 1,600 requests", before, after)
	}
	if n := len(m.rt.affinity.m); n > 128 {
		t.Errorf("affinity table holds %d entries, bound 128", n)
	}
	tr.CloseIdleConnections()
}

// TestOllamaWithDeadReplica serves from a real Ollama while the other
// replica is a killed server: no request may fail, for either profile.
func TestOllamaWithDeadReplica(t *testing.T) {
	url := testenv.OllamaURL(t)
	dead, err := routingtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	dead.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	ollama, err := openai.New(openai.Config{BaseURL: url + "/v1", Model: "smollm2:135m", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	m := &Model{ID: "m", Profiles: []llm.Latency{llm.LatencyStandard, llm.LatencyOptimized}, Deployments: []*Deployment{
		{Name: "dead", Type: "openai", Weight: 1, Provider: openaiProvider(t, dead.URL(), hc)},
		{Name: "ollama", Type: "openai", Weight: 1, Provider: ollama},
	}}
	r := New([]*Model{m})
	for i := 0; i < 4; i++ {
		p := []llm.Latency{llm.LatencyStandard, llm.LatencyOptimized}[i%2]
		c := call("m", p)
		max := 8
		c.Request.Inference.MaxTokens = &max
		o := one(r, c)
		if o.err != nil || o.text == "" || o.deployment != "ollama" {
			t.Fatalf("request %d (%s): %q from %q, err %v", i, p, o.text, o.deployment, o.err)
		}
		if got := c.Served().Profile; got != p {
			t.Errorf("served profile %q, want %q", got, p)
		}
	}
}
