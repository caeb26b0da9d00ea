package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// measured wraps a call's stream to time it: TTFT is request received to the
// first content delta leaving the gateway; OTPS is output tokens divided by
// the time from the first to the last token; E2E is received to end.
type measured struct {
	g *Gateway
	c *Call
	s llm.Stream

	first    time.Time
	last     time.Time
	usage    llm.Usage
	haveUse  bool
	deltas   int // content deltas seen, for OTPS when usage is missing
	finished bool
}

func (m *measured) Next() (llm.Event, error) {
	ev, err := m.s.Next()
	now := m.g.now()
	if err != nil {
		if errors.Is(err, io.EOF) {
			m.done(nil)
		} else {
			m.done(err)
		}
		return ev, err
	}
	switch ev.Type {
	case llm.EventBlockDelta, llm.EventBlockStart:
		if m.first.IsZero() {
			m.first = now
		}
		m.last = now
		if ev.Type == llm.EventBlockDelta {
			m.deltas++
		}
	case llm.EventMetadata:
		if ev.Usage != nil {
			m.usage, m.haveUse = *ev.Usage, true
		}
		met := m.metrics(now)
		ev.Metrics = &met
		served := m.c.Served()
		ev.Served = &served
		if t := m.c.Trace(); t != nil {
			if ev.Trace == nil {
				ev.Trace = t
			} else {
				for k, v := range t {
					ev.Trace[k] = v
				}
			}
		}
	}
	return ev, nil
}

func (m *measured) metrics(now time.Time) llm.Metrics {
	met := llm.Metrics{LatencyMs: now.Sub(m.c.Received).Milliseconds()}
	if !m.first.IsZero() {
		first, last := m.first, m.last
		if a, ok := m.c.winner(); ok && !a.Complete.IsZero() && !a.FirstEvent.IsZero() {
			// A buffered answer leaves the gateway all at once: its first
			// token is when the upstream sent it, its last when the answer
			// was complete (the same instant for a non-streaming upstream
			// call, which leaves OTPS unknown).
			first, last = a.FirstEvent, a.Complete
		}
		met.TTFTMs = first.Sub(m.c.Received).Milliseconds()
		out := m.usage.OutputTokens
		if !m.haveUse || out == 0 {
			out = m.deltas
		}
		// The seed's definition: output tokens over the generation time
		// that follows the first token.
		if gen := last.Sub(first).Seconds(); gen > 0 && out > 1 {
			met.OTPS = float64(out) / gen
		}
	}
	return met
}

func (m *measured) Close() error {
	err := m.s.Close()
	m.done(llm.ErrCanceled)
	return err
}

// done logs and records the call once.
func (m *measured) done(err error) {
	if m.finished {
		return
	}
	m.finished = true
	if err != nil && errors.Is(err, llm.ErrCanceled) && m.haveUse {
		err = nil // closed after the stream completed normally
	}
	met := m.metrics(m.g.now())
	m.g.finishWith(m.c, &met, m.usage, m.first, err)
}

// finish records a call that failed before producing a stream.
func (g *Gateway) finish(c *Call, met *llm.Metrics, err error) {
	g.finishWith(c, met, llm.Usage{}, time.Time{}, err)
}

func (g *Gateway) finishWith(c *Call, met *llm.Metrics, usage llm.Usage, first time.Time, err error) {
	if met == nil {
		met = &llm.Metrics{LatencyMs: g.now().Sub(c.Received).Milliseconds()}
	}
	served := c.Served()
	status := "ok"
	if err != nil {
		status = llm.AsError(err).Name()
	}
	overhead := g.overhead(c, first)
	attrs := []slog.Attr{
		slog.String("request_id", c.RequestID),
		slog.String("api", c.API),
		slog.String("op", c.Op),
		slog.String("model", modelOf(c, served)),
		slog.String("deployment", served.Deployment),
		slog.String("profile", string(served.Profile)),
		slog.Int("attempts", served.Attempts),
		slog.Int64("ttft_ms", met.TTFTMs),
		slog.Float64("otps", round1(met.OTPS)),
		slog.Int64("e2e_ms", met.LatencyMs),
		slog.Float64("overhead_ms", float64(overhead.Microseconds())/1000),
		slog.Int("input_tokens", usage.InputTokens),
		slog.Int("output_tokens", usage.OutputTokens),
		slog.Int("cache_read_tokens", usage.CacheReadInputTokens),
		slog.Int("cache_write_tokens", usage.CacheWriteInputTokens),
		slog.String("status", status),
	}
	if c.Principal != "" {
		attrs = append(attrs, slog.String("principal", c.Principal))
	}
	attrs = append(attrs, c.logAttrs()...)
	level := slog.LevelInfo
	if err != nil {
		e := llm.AsError(err)
		if e.Kind == llm.KindInternal || e.Kind == llm.KindModelError || e.Kind == llm.KindUnavailable {
			level = slog.LevelWarn
		}
		attrs = append(attrs, slog.String("error", e.Error()))
	}
	g.log.LogAttrs(context.Background(), level, "request", attrs...)
	if g.recorder != nil {
		g.recorder.Record(Record{Call: c, Served: served, Usage: usage, Metrics: *met, Overhead: overhead, Status: status, Err: err})
	}
}

// overhead is the time the client waited on Outcrop rather than on the
// upstream: time to first token minus the winning attempt's own wait for its
// first event. For calls with no token it is the time before the first
// attempt started.
func (g *Gateway) overhead(c *Call, first time.Time) time.Duration {
	atts := c.Attempts()
	if len(atts) == 0 {
		return 0
	}
	if !first.IsZero() {
		for _, a := range atts {
			if a.Winner && !a.FirstEvent.IsZero() {
				upstream := a.FirstEvent.Sub(a.Start)
				if !a.Complete.IsZero() {
					upstream = a.Complete.Sub(a.Start) // buffered: the client waited for the whole answer
				}
				d := first.Sub(c.Received) - upstream
				if d < 0 {
					d = 0
				}
				return d
			}
		}
	}
	d := atts[0].Start.Sub(c.Received)
	if d < 0 {
		d = 0
	}
	return d
}

func modelOf(c *Call, s llm.Served) string {
	if s.Model != "" {
		return s.Model
	}
	if c.Model == "" && c.Request != nil {
		return c.Request.Model
	}
	return c.Model
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
