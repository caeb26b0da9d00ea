package routing

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/routing/routingtest"
)

// The tests in this file break an upstream's answer part way and check that
// a client who has received nothing yet never sees it: a buffered
// (non-streaming) request goes to the next deployment, and so does a
// streamed one whose first token has not been sent.

// fullAnswer is what routingtest.Server answers with its default 8 tokens.
const fullAnswer = "w0 w1 w2 w3 w4 w5 w6 w7 "

// breakPoints are the places in routingtest's stream where the connection
// is cut: after the role chunk, after one and three words, after every
// word, after the finish chunk, after the usage chunk, and inside a chunk.
var breakPoints = []struct {
	name  string
	fault routingtest.Fault
	words int // words the client of a streamed request has received
}{
	{"after the role chunk", routingtest.Fault{BreakAfter: 1}, 0},
	{"inside the first word", routingtest.Fault{BreakAfter: 1, BreakMidEvent: true}, 0},
	{"after one word", routingtest.Fault{BreakAfter: 2}, 1},
	{"after three words", routingtest.Fault{BreakAfter: 4}, 3},
	{"inside the fifth word", routingtest.Fault{BreakAfter: 5, BreakMidEvent: true}, 4},
	{"after every word", routingtest.Fault{BreakAfter: 9}, 8},
	{"after the finish chunk", routingtest.Fault{BreakAfter: 10}, 8},
	{"after the usage chunk", routingtest.Fault{BreakAfter: 11}, 8},
}

func TestBrokenStreamFailover(t *testing.T) {
	for _, cl := range []struct {
		name string
		mk   newClient
	}{{"routingtest", minimal}, {"openai", openaiProvider}} {
		for _, bp := range breakPoints {
			for _, stream := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/buffered", cl.name, bp.name)
				if stream {
					name = fmt.Sprintf("%s/%s/streamed", cl.name, bp.name)
				}
				t.Run(name, func(t *testing.T) {
					testBrokenStream(t, cl.mk, bp.fault, bp.words, stream, cl.name == "openai" && !stream)
				})
			}
		}
	}
}

// testBrokenStream sends standard requests to a model whose first
// deployment cuts every answer at fault; the second is healthy. unary says
// whether the provider is asked for non-streamed answers (the openai
// provider for buffered calls): the fault then cuts the JSON body at byte
// fault.BreakAfter.
func testBrokenStream(t *testing.T, mk newClient, fault routingtest.Fault, words int, stream, unary bool) {
	base := runtime.NumGoroutine()
	m, srvs, tr := httpFleetWith(t, 2, mk)
	srvs[0].SetFault(fault)
	// The breaker is off so that every other request meets the fault.
	r := New([]*Model{m}, WithConfig(Config{Breaker: Breaker{Failures: -1}, BackoffBase: Duration(time.Millisecond)}))
	const total = 12
	failed, retried := 0, 0
	for i := 0; i < total; i++ {
		c := call("m", llm.LatencyStandard)
		c.Stream = stream
		o := one(r, c)
		atts := c.Attempts()
		switch {
		case o.err == nil:
			if o.text != fullAnswer || o.deployment != "d1" && len(atts) != 1 {
				t.Errorf("request %d: %q from %s after %d attempts", i, o.text, o.deployment, len(atts))
			}
			if w := atts[len(atts)-1]; !stream && (w.Complete.IsZero() || unary != w.Complete.Equal(w.FirstEvent)) {
				t.Errorf("request %d: winner's first event %v, complete %v; want them equal only for a one-piece answer", i, w.FirstEvent, w.Complete)
			}
			if len(atts) == 2 {
				retried++
				if atts[0].Deployment != "d0" || atts[0].Err == nil || atts[0].Winner || !atts[1].Winner {
					t.Errorf("request %d: attempts %+v, want a failed one on d0 then the winner", i, atts)
				}
				if got := c.Served().Attempts; got != 2 {
					t.Errorf("request %d: Served().Attempts = %d, want 2", i, got)
				}
			}
		case stream && words > 0:
			// The client had the first words: the failure can only be
			// reported in the stream, after a prefix of the answer.
			failed++
			if k := kindOf(o.err); k != llm.KindModelError || !strings.HasPrefix(fullAnswer, o.text) || o.text == "" {
				t.Errorf("request %d: %v after %q; want a ModelErrorException after a prefix of the answer", i, o.err, o.text)
			}
		default:
			t.Errorf("request %d: %v after %q; nothing had reached the client, so it should have been retried", i, o.err, o.text)
		}
	}
	if got := srvs[1].Unary() > 0; got != unary {
		t.Errorf("non-streamed upstream calls: %v, want %v", got, unary)
	}
	broken := int(srvs[0].Broken())
	if broken == 0 {
		t.Fatal("the fault never fired")
	}
	switch {
	case stream && words > 0:
		if failed != broken || retried != 0 {
			t.Errorf("%d failed and %d retried of %d broken streams; want every broken stream reported, none retried", failed, retried, broken)
		}
	default:
		if retried != broken {
			t.Errorf("%d requests retried for %d broken answers", retried, broken)
		}
		if got := r.Stats().Retries; got != uint64(broken) {
			t.Errorf("Stats().Retries = %d, want %d", got, broken)
		}
	}
	if st := r.Stats().Deployments[0]; st.Failures != uint64(broken) || st.InFlight != 0 {
		t.Errorf("d0 stats %+v, want %d failures and no slot held", st, broken)
	}
	for _, s := range srvs {
		s.Close()
	}
	tr.CloseIdleConnections()
	settleGoroutines(t, base)
}

// TestBrokenStreamBudget: when every deployment breaks, a buffered request
// stops after the router's attempt budget with the upstream's error, or at
// the request's deadline with a timeout.
func TestBrokenStreamBudget(t *testing.T) {
	m, srvs, tr := httpFleet(t, 2)
	defer tr.CloseIdleConnections()
	for _, s := range srvs {
		s.SetFault(routingtest.Fault{BreakAfter: 4})
	}
	r := New([]*Model{m}, WithConfig(Config{Breaker: Breaker{Failures: -1}, BackoffBase: Duration(time.Millisecond), MaxAttempts: 3}))
	c := call("m", llm.LatencyStandard)
	c.Stream = false
	o := one(r, c)
	if kindOf(o.err) != llm.KindModelError || o.text != "" {
		t.Errorf("got %q, %v; want ModelErrorException and no text", o.text, o.err)
	}
	if n := len(c.Attempts()); n != 3 {
		t.Errorf("%d attempts, want the budget of 3", n)
	}
	if got := srvs[0].Broken() + srvs[1].Broken(); got != 3 {
		t.Errorf("%d broken answers upstream, want 3", got)
	}

	// The deadline ends the retries: each answer takes 30 ms to break.
	for _, s := range srvs {
		s.TokenDelay = 10 * time.Millisecond
	}
	r = New([]*Model{m}, WithConfig(Config{Breaker: Breaker{Failures: -1}, BackoffBase: Duration(time.Millisecond), MaxAttempts: 10, Deadline: Duration(100 * time.Millisecond)}))
	c = call("m", llm.LatencyStandard)
	c.Stream = false
	start := time.Now()
	o = one(r, c)
	if kindOf(o.err) != llm.KindTimeout {
		t.Errorf("got %q, %v; want ModelTimeoutException at the deadline", o.text, o.err)
	}
	if n := len(c.Attempts()); n < 2 || n >= 10 {
		t.Errorf("%d attempts within the deadline, want a few", n)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestBufferedStall: a buffered answer that stalls after its first token is
// retried elsewhere once the stall timeout passes.
func TestBufferedStall(t *testing.T) {
	m, srvs, tr := httpFleet(t, 2)
	defer tr.CloseIdleConnections()
	m.Deployments[0].StallTimeout = 50 * time.Millisecond
	srvs[0].SetFault(routingtest.Fault{StallAfter: 2})
	m.Deployments[1].Weight = 0 // d0 first
	r := New([]*Model{m})
	c := call("m", llm.LatencyStandard)
	c.Stream = false
	o := one(r, c)
	if o.err != nil || o.text != fullAnswer || o.deployment != "d1" {
		t.Fatalf("got %q from %s, %v; want the full answer from d1", o.text, o.deployment, o.err)
	}
	atts := c.Attempts()
	if len(atts) != 2 || kindOf(atts[0].Err) != llm.KindTimeout {
		t.Errorf("attempts %+v, want a stalled one then the winner", atts)
	}
	if st := r.Stats().Deployments[0]; st.Stalls != 1 || st.InFlight != 0 {
		t.Errorf("d0 stats %+v, want one stall and no slot held", st)
	}
}

// TestKillMidRunBuffered kills one of two replicas while buffered requests
// flow: none may fail.
func TestKillMidRunBuffered(t *testing.T) {
	base := runtime.NumGoroutine()
	m, srvs, tr := httpFleetWith(t, 2, openaiProvider)
	for _, s := range srvs {
		s.TokenDelay = 2 * time.Millisecond
	}
	r := New([]*Model{m})
	done := make(chan []outcome)
	go func() { done <- loadWith(r, 120, 8, false) }()
	waitFor(t, "traffic on d0", func() bool { return srvs[0].Served() >= 5 })
	srvs[0].Kill()
	for i, o := range <-done {
		if o.err != nil || o.text != fullAnswer {
			t.Errorf("request %d: %q, %v; a buffered request must survive the kill", i, o.text, o.err)
		}
	}
	srvs[1].Close()
	tr.CloseIdleConnections()
	settleGoroutines(t, base)
}

// TestBufferedMidStreamErrorRetried is the in-process form: a provider whose
// stream fails after its words is retried for a buffered call and its
// error is classified for a streamed one.
func TestBufferedMidStreamErrorRetried(t *testing.T) {
	bad, good := &script{name: "bad", words: []string{"x", "y"}, midErr: fmt.Errorf("connection reset")}, &script{name: "good"}
	m := fleet(bad, good)
	m.Deployments[1].Weight = 0
	r := New([]*Model{m}, WithConfig(Config{BackoffBase: Duration(time.Millisecond)}))
	c := &gateway.Call{Request: call("m", "").Request}
	s, err := r.Route(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := llm.Collect(s)
	if err != nil || c.Served().Deployment != "good" || resp.Message.Content[0].Text != "abc" {
		t.Fatalf("got %+v from %s, %v; want abc from good", resp, c.Served().Deployment, err)
	}
	if o := one(r, call("m", "")); kindOf(o.err) != llm.KindModelError || o.text != "xy" {
		t.Errorf("streamed: %q, %v; want xy then a ModelErrorException", o.text, o.err)
	}
}
