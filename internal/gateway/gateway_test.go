package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// fakeClock advances by step on every reading.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time { c.t = c.t.Add(c.step); return c.t }

type recorder struct{ recs []Record }

func (r *recorder) Record(rec Record) { r.recs = append(r.recs, rec) }

// order is a stage that logs its pre and post sides.
type order struct {
	name string
	log  *[]string
}

func (o order) Name() string { return o.name }
func (o order) Wrap(next Handler) Handler {
	return func(ctx context.Context, c *Call) (llm.Stream, error) {
		*o.log = append(*o.log, "pre:"+o.name)
		s, err := next(ctx, c)
		*o.log = append(*o.log, "post:"+o.name)
		return s, err
	}
}

func textStream(words ...string) llm.Stream {
	evs := []llm.Event{{Type: llm.EventMessageStart}}
	for _, w := range words {
		evs = append(evs, llm.Event{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: w})
	}
	evs = append(evs,
		llm.Event{Type: llm.EventBlockStop},
		llm.Event{Type: llm.EventMessageStop, StopReason: llm.StopEndTurn},
		llm.Event{Type: llm.EventMetadata, Usage: &llm.Usage{InputTokens: 7, OutputTokens: len(words)}})
	return &llm.SliceStream{Events: evs}
}

func TestStageOrder(t *testing.T) {
	var log []string
	g := New(Options{
		Stages: []Stage{order{"a", &log}, order{"b", &log}},
		Final: func(ctx context.Context, c *Call) (llm.Stream, error) {
			log = append(log, "final")
			return textStream("hi"), nil
		},
	})
	if _, err := g.Converse(context.Background(), &Call{Request: &llm.Request{Model: "m"}}); err != nil {
		t.Fatal(err)
	}
	want := "pre:a pre:b final post:b post:a"
	if got := strings.Join(log, " "); got != want {
		t.Errorf("order = %q, want %q", got, want)
	}
}

func TestMetricsAndLog(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0), step: 10 * time.Millisecond}
	var logBuf bytes.Buffer
	rec := &recorder{}
	g := New(Options{
		Logger:   slog.New(slog.NewJSONHandler(&logBuf, nil)),
		Recorder: rec,
		Now:      clk.now,
		Final: func(ctx context.Context, c *Call) (llm.Stream, error) {
			c.SetServed(llm.Served{Model: "m", Deployment: "d0", Provider: "fake", Profile: llm.LatencyStandard, Attempts: 1})
			return textStream("a", "b", "c", "d"), nil
		},
	})
	c := &Call{API: "bedrock", Op: "ConverseStream", Request: &llm.Request{Model: "m"}, RequestID: "rid"}
	resp, err := g.Converse(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Message.Content[0].Text; got != "abcd" {
		t.Errorf("text = %q, want abcd", got)
	}
	// Received is the first clock reading (10ms); each Next reads the clock
	// once: messageStart 20, deltas 30..60, blockStop 70, messageStop 80,
	// metadata 90.
	m := resp.Metrics
	if m.TTFTMs != 20 {
		t.Errorf("TTFTMs = %d, want 20", m.TTFTMs)
	}
	if m.LatencyMs != 80 {
		t.Errorf("LatencyMs = %d, want 80", m.LatencyMs)
	}
	// 4 tokens over 30ms between first and last delta.
	if want := 4 / 0.030; m.OTPS < want-0.01 || m.OTPS > want+0.01 {
		t.Errorf("OTPS = %v, want %v", m.OTPS, want)
	}
	if resp.Served.Deployment != "d0" {
		t.Errorf("Served.Deployment = %q, want d0", resp.Served.Deployment)
	}
	if len(rec.recs) != 1 || rec.recs[0].Status != "ok" || rec.recs[0].Usage.OutputTokens != 4 {
		t.Fatalf("records = %+v, want one ok record with 4 output tokens", rec.recs)
	}
	var line map[string]any
	if err := json.Unmarshal(logBuf.Bytes(), &line); err != nil {
		t.Fatalf("log line %q: %v", logBuf.String(), err)
	}
	for k, want := range map[string]any{"model": "m", "deployment": "d0", "profile": "standard", "status": "ok", "ttft_ms": 20.0, "request_id": "rid"} {
		if line[k] != want {
			t.Errorf("log[%s] = %v, want %v", k, line[k], want)
		}
	}
}

func TestErrorsAreRecordedOnce(t *testing.T) {
	rec := &recorder{}
	boom := llm.Errorf(llm.KindThrottled, "slow down")
	g := New(Options{Recorder: rec, Final: func(ctx context.Context, c *Call) (llm.Stream, error) {
		return nil, boom
	}})
	_, err := g.Converse(context.Background(), &Call{Request: &llm.Request{Model: "m"}})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if len(rec.recs) != 1 || rec.recs[0].Status != "ThrottlingException" {
		t.Fatalf("records = %+v", rec.recs)
	}

	// A stream that fails midway is recorded once, with its error.
	rec.recs = nil
	mid := llm.Errorf(llm.KindModelError, "upstream broke")
	g = New(Options{Recorder: rec, Final: func(ctx context.Context, c *Call) (llm.Stream, error) {
		return &llm.SliceStream{Events: []llm.Event{{Type: llm.EventMessageStart}}, Err: mid}, nil
	}})
	s, err := g.Do(context.Background(), &Call{Request: &llm.Request{Model: "m"}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err = s.Next(); err != nil {
			break
		}
	}
	s.Close()
	if !errors.Is(err, mid) || len(rec.recs) != 1 || rec.recs[0].Status != "ModelErrorException" {
		t.Fatalf("err = %v, records = %+v", err, rec.recs)
	}
}

func TestCloseEarlyIsCanceled(t *testing.T) {
	rec := &recorder{}
	g := New(Options{Recorder: rec, Final: func(ctx context.Context, c *Call) (llm.Stream, error) {
		return textStream("a", "b"), nil
	}})
	s, _ := g.Do(context.Background(), &Call{Request: &llm.Request{Model: "m"}})
	s.Next()
	s.Close()
	if len(rec.recs) != 1 || rec.recs[0].Status != "RequestCanceled" {
		t.Fatalf("records = %+v, want one RequestCanceled", rec.recs)
	}
	s.Next() // reading past Close must not record the call again
	if len(rec.recs) != 1 {
		t.Fatalf("recorded %d times, want 1", len(rec.recs))
	}
}

// TestBufferedMetrics: for a buffered answer (the router read it whole
// before the client got anything) TTFT is the upstream's first token,
// OTPS spans the upstream's generation, and the overhead leaves out the
// wait for the whole answer.
func TestBufferedMetrics(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0), step: time.Millisecond}
	rec := &recorder{}
	g := New(Options{
		Recorder: rec,
		Now:      clk.now,
		Final: func(ctx context.Context, c *Call) (llm.Stream, error) {
			start := c.Received.Add(2 * time.Millisecond)
			c.AddAttempt(Attempt{Deployment: "d0", Start: start, FirstEvent: start.Add(50 * time.Millisecond), Err: llm.ErrCanceled})
			start = start.Add(100 * time.Millisecond)
			c.AddAttempt(Attempt{Deployment: "d1", Start: start, FirstEvent: start.Add(100 * time.Millisecond), Complete: start.Add(1100 * time.Millisecond), Winner: true})
			clk.t = start.Add(1100 * time.Millisecond) // the router returns once the answer is complete
			return textStream("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"), nil
		},
	})
	c := &Call{Request: &llm.Request{Model: "m"}}
	resp, err := g.Converse(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.Metrics.TTFTMs, int64(202); got != want {
		t.Errorf("TTFT = %d ms, want %d (received to the winner's first token)", got, want)
	}
	if got := resp.Metrics.OTPS; got < 10.9 || got > 11.1 {
		t.Errorf("OTPS = %v, want 11 tokens over the winner's 1 s of generation", got)
	}
	if len(rec.recs) != 1 {
		t.Fatalf("%d records", len(rec.recs))
	}
	// Received → first delta out is 1204 ms (two clock readings after the
	// router returned); the winner spent 1100 of them upstream.
	if got, want := rec.recs[0].Overhead, 104*time.Millisecond; got != want {
		t.Errorf("overhead = %v, want %v", got, want)
	}
}
