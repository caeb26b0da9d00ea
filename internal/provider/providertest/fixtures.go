package providertest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// update is namespaced so that test packages importing providertest can
// still define their own -update flag.
var update = flag.Bool("providertest.update", false, "rewrite the -- expect -- sections of providertest fixtures")

// NewHTTPProvider builds the provider under test pointed at an
// OpenAI-compatible base URL (ending in /v1) serving the given model name.
type NewHTTPProvider func(t *testing.T, baseURL, model string) llm.Provider

// RunFixtures replays every fixture in testdata through a fake upstream and
// compares the provider's events with the fixture's "-- expect --" section
// (run with -providertest.update to rewrite them; review the diff). The fixtures are
// OpenAI chat completions traffic, so this applies to providers that speak
// that wire format. It also checks, for every fixture, the invariants of
// CheckEvents and that errors are classified *llm.Error values.
func RunFixtures(t *testing.T, newProvider NewHTTPProvider) {
	RunFixturesDir(t, TestdataDir(), newProvider)
}

// RunFixturesDir is RunFixtures over the fixtures in dir, for providers
// with a wire format of their own (Anthropic, Gemini): newProvider then
// receives the upstream's root URL with "/v1" appended, and the provider
// posts to whatever path its API uses.
func RunFixturesDir(t *testing.T, dir string, newProvider NewHTTPProvider) {
	for _, f := range LoadFixturesDir(t, dir) {
		t.Run(f.Name, func(t *testing.T) {
			up := NewUpstream(t, f)
			p := newProvider(t, up.URL, up.Model)
			got := playFixture(t, p, f, up)
			if *update {
				f.Expect = got
				if err := os.WriteFile(f.Path, f.Format(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != f.Expect {
				t.Errorf("events differ from %s (-want +got):\n%s", f.Path, lineDiff(f.Expect, got))
			}
		})
	}
}

// FixtureRequest is the request the suite sends for a fixture: a short
// user prompt, with the fixture's stop sequence and max_tokens options, its
// "additional" option as additionalModelRequestFields, a cache point after
// the system prompt when "cache: system" is set, and a weather tool when
// the fixture name mentions "tool".
func FixtureRequest(f *Fixture) *llm.Request {
	req := &llm.Request{
		Model:    "test-model",
		System:   []llm.Block{llm.TextBlock("You are terse.")},
		Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("Say hello.")}}},
	}
	if s := f.Option("stop", ""); s != "" {
		req.Inference.StopSequences = []string{s}
	}
	if s := f.Option("max_tokens", ""); s != "" {
		n, _ := strconv.Atoi(s)
		req.Inference.MaxTokens = &n
	}
	if s := f.Option("additional", ""); s != "" {
		req.Additional = []byte(s)
	}
	if f.Option("cache", "") == "system" {
		req.System = append(req.System, llm.Block{Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}})
	}
	if strings.Contains(f.Name, "tool") {
		req.Tools = &llm.ToolConfig{Tools: []llm.Tool{WeatherTool}, Choice: llm.ToolChoice{Mode: llm.ToolChoiceAuto}}
	}
	return req
}

// WeatherTool is the tool the suite offers models.
var WeatherTool = llm.Tool{
	Name:        "get_weather",
	Description: "Get the current weather in a city.",
	Schema:      []byte(`{"type":"object","properties":{"city":{"type":"string","description":"City name"}},"required":["city"]}`),
}

func playFixture(t *testing.T, p llm.Provider, f *Fixture, up *Upstream) string {
	ctx := context.Background()
	if d := f.Option("timeout", ""); d != "" {
		dur, err := time.ParseDuration(d)
		if err != nil {
			t.Fatalf("timeout option: %v", err)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, dur)
		defer cancel()
	}
	req := FixtureRequest(f)
	var b strings.Builder
	if f.Option("mode", "stream") == "converse" {
		c, ok := p.(llm.Conversor)
		if !ok {
			t.Skip("provider has no Converse")
		}
		resp, err := c.Converse(ctx, req)
		if err != nil {
			b.WriteString(RenderError("error", err))
			return b.String()
		}
		return RenderResponse(resp)
	}
	s, err := p.ConverseStream(ctx, req)
	if err != nil {
		b.WriteString(RenderError("start error", err))
		return b.String()
	}
	defer s.Close()
	closeAfter := -1
	if v := f.Option("close-after", ""); v != "" {
		closeAfter, _ = strconv.Atoi(v)
	}
	var evs []llm.Event
	for {
		if len(evs) == closeAfter {
			// The client goes away: the provider must abandon the
			// upstream request, which the upstream sees as a disconnect.
			s.Close()
			b.WriteString("closed\n")
			if waitFor(10*time.Second, func() bool { return up.Disconnected() > 0 }) {
				b.WriteString("upstream disconnected\n")
			} else {
				b.WriteString("upstream still connected\n")
			}
			return b.String()
		}
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			if msg := CheckEvents(evs, true); msg != "" {
				t.Errorf("invariant: %s", msg)
			}
			return b.String()
		}
		if err != nil {
			if msg := CheckEvents(evs, false); msg != "" {
				t.Errorf("invariant before error: %s", msg)
			}
			b.WriteString(RenderError("error", err))
			return b.String()
		}
		evs = append(evs, ev)
		b.WriteString(RenderEvent(ev))
		b.WriteByte('\n')
	}
}

// RenderEvent renders an event as one line of the expect format.
func RenderEvent(ev llm.Event) string {
	switch ev.Type {
	case llm.EventMessageStart:
		return "messageStart"
	case llm.EventBlockStart:
		if ev.ToolUse == nil {
			return fmt.Sprintf("blockStart %d", ev.Index)
		}
		return fmt.Sprintf("blockStart %d toolUse id=%s name=%s", ev.Index, ev.ToolUse.ID, ev.ToolUse.Name)
	case llm.EventBlockDelta:
		kind := map[llm.DeltaKind]string{llm.DeltaText: "text", llm.DeltaToolInput: "toolInput", llm.DeltaReasoning: "reasoning",
			llm.DeltaReasoningSignature: "signature", llm.DeltaReasoningRedacted: "redacted"}[ev.Delta]
		if ev.Delta == llm.DeltaReasoningRedacted {
			return fmt.Sprintf("delta %d %s %s", ev.Index, kind, strconv.Quote(string(ev.Redacted)))
		}
		return fmt.Sprintf("delta %d %s %s", ev.Index, kind, strconv.Quote(ev.Text))
	case llm.EventBlockStop:
		return fmt.Sprintf("blockStop %d", ev.Index)
	case llm.EventMessageStop:
		return "messageStop " + string(ev.StopReason)
	case llm.EventMetadata:
		if ev.Usage == nil {
			return "metadata"
		}
		return "metadata " + renderUsage(*ev.Usage)
	}
	return fmt.Sprintf("unknown event %d", ev.Type)
}

func renderUsage(u llm.Usage) string {
	s := fmt.Sprintf("usage in=%d out=%d cacheRead=%d cacheWrite=%d", u.InputTokens, u.OutputTokens, u.CacheReadInputTokens, u.CacheWriteInputTokens)
	if u.ReasoningTokens != 0 {
		s += fmt.Sprintf(" reasoning=%d", u.ReasoningTokens)
	}
	return s
}

// RenderResponse renders a complete response in the expect format.
func RenderResponse(r *llm.Response) string {
	var b strings.Builder
	for i, blk := range r.Message.Content {
		switch blk.Kind {
		case llm.KindText:
			fmt.Fprintf(&b, "block %d text %s\n", i, strconv.Quote(blk.Text))
		case llm.KindReasoning:
			fmt.Fprintf(&b, "block %d reasoning %s\n", i, strconv.Quote(blk.Reasoning.Text))
		case llm.KindToolUse:
			fmt.Fprintf(&b, "block %d toolUse id=%s name=%s input=%s\n", i, blk.ToolUse.ID, blk.ToolUse.Name, blk.ToolUse.Input)
		default:
			fmt.Fprintf(&b, "block %d %s\n", i, blk.Kind)
		}
	}
	fmt.Fprintf(&b, "stop %s\n%s\n", r.StopReason, renderUsage(r.Usage))
	return b.String()
}

// RenderError renders an error's classification: what the router and the
// API layers act on, never the message text.
func RenderError(prefix string, err error) string {
	var e *llm.Error
	if !errors.As(err, &e) {
		return fmt.Sprintf("%s UNCLASSIFIED %T\n", prefix, err)
	}
	s := fmt.Sprintf("%s %s retryable=%t", prefix, e.Name(), e.Retryable())
	if e.UpstreamStatus != 0 {
		s += fmt.Sprintf(" status=%d", e.UpstreamStatus)
	}
	if e.RetryAfter != 0 {
		s += fmt.Sprintf(" retryAfter=%s", e.RetryAfter)
	}
	return s + "\n"
}

func lineDiff(want, got string) string {
	w := strings.Split(want, "\n")
	g := strings.Split(got, "\n")
	var b strings.Builder
	n := max(len(w), len(g))
	for i := 0; i < n; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl == gl {
			fmt.Fprintf(&b, "  %s\n", wl)
			continue
		}
		if i < len(w) {
			fmt.Fprintf(&b, "- %s\n", wl)
		}
		if i < len(g) {
			fmt.Fprintf(&b, "+ %s\n", gl)
		}
	}
	return b.String()
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}
