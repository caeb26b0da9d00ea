// Package providertest is the conformance suite every llm.Provider must
// pass — Outcrop's "automated provider verification" — and a fake
// OpenAI-compatible upstream that replays recorded traffic.
//
// Run exercises a provider against whatever it is really connected to (a
// live Ollama, the built-in engine): event order invariants, usage, stop
// reasons, multi-turn and tool-result round trips, cancellation, classified
// errors, concurrent streams. It only uses the llm interfaces, so any
// provider can run it:
//
//	func TestConformance(t *testing.T) {
//		providertest.Run(t, providertest.Target{
//			New: func(t *testing.T) llm.Provider { return newEngine(t) },
//		})
//	}
//
// RunFixtures replays every testdata/*.txt fixture (Fixture documents the
// format) through Upstream, a real HTTP server on 127.0.0.1, and compares
// the provider's events with each fixture's golden "-- expect --" section;
// -providertest.update rewrites them. The ollama_* fixtures were recorded from Ollama
// v0.17.4 serving smollm2:135m (TestRecord in internal/provider/openai:
// go test ./internal/provider/openai -run TestRecord -record); the hand_*
// ones are made by hand for what a real server cannot be made to produce
// (mid-stream errors, malformed chunks, 429 and 5xx, slow first byte,
// connection resets and stalls, reasoning streams, tool-call deltas). It
// applies to providers that speak the OpenAI chat completions wire format.
//
// CheckEvents holds the stream invariants on their own for other tests;
// ReadAll reads a stream and assembles its response.
package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// Target describes the provider under test.
type Target struct {
	// New returns the provider under test. It is called once per subtest.
	New func(t *testing.T) llm.Provider
	// Model is the Request.Model the suite sends; default "test-model".
	Model string
	// ToolCalls says the model can call tools: the suite then forces a
	// call to a weather tool and checks the tool use block. Leave it false
	// for models that cannot (smollm2:135m on Ollama refuses tools).
	ToolCalls bool
	// Serial runs the subtests one after another. By default they run in
	// parallel (providers must be safe for concurrent use), which keeps the
	// suite's wall time low against a shared upstream that queues requests.
	Serial bool
	// MaxWait bounds how long the suite waits for a cancelled stream to
	// end before declaring it stuck; default 30s. It detects hangs, it is
	// not a performance assertion.
	MaxWait time.Duration
}

// Run runs the conformance suite against the target.
func Run(t *testing.T, tg Target) {
	if tg.Model == "" {
		tg.Model = "test-model"
	}
	if tg.MaxWait == 0 {
		tg.MaxWait = 30 * time.Second
	}
	tests := []struct {
		name string
		run  func(t *testing.T, tg Target, p llm.Provider)
	}{
		{"Stream", testStream},
		{"MaxTokens", testMaxTokens},
		{"Converse", testConverse},
		{"MultiTurn", testMultiTurn},
		{"ToolResultRoundTrip", testToolResult},
		{"ToolCall", testToolCall},
		{"CloseStopsStream", testClose},
		{"CancelStopsStream", testCancel},
		{"CanceledBeforeStart", testCanceledBeforeStart},
		{"InvalidRequestClassified", testInvalid},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !tg.Serial {
				t.Parallel()
			}
			tc.run(t, tg, tg.New(t))
		})
	}
}

func userText(s string) llm.Message {
	return llm.Message{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(s)}}
}

func intp(i int) *int { return &i }

func (tg Target) request(maxTokens int, msgs ...llm.Message) *llm.Request {
	temp := 0.0
	seed := int64(42)
	return &llm.Request{
		Model:     tg.Model,
		Messages:  msgs,
		Inference: llm.InferenceConfig{MaxTokens: intp(maxTokens), Temperature: &temp, Seed: &seed},
	}
}

// Result is a stream read to its end.
type Result struct {
	Events   []llm.Event
	Response *llm.Response
	Err      error // nil when the stream ended with io.EOF
}

// ReadAll reads s to its end, closing it, and assembles the response.
func ReadAll(s llm.Stream) Result {
	defer s.Close()
	var r Result
	var a llm.Assembler
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.Err = err
			break
		}
		r.Events = append(r.Events, ev)
		a.Add(ev)
	}
	r.Response = a.Response()
	return r
}

// stream runs req and checks the invariants of a complete stream.
func stream(t *testing.T, p llm.Provider, req *llm.Request) Result {
	t.Helper()
	s, err := p.ConverseStream(context.Background(), req)
	if err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	r := ReadAll(s)
	if r.Err != nil {
		t.Fatalf("stream failed after %d events: %v", len(r.Events), r.Err)
	}
	if msg := CheckEvents(r.Events, true); msg != "" {
		t.Fatalf("invariant: %s\nevents:\n%s", msg, renderAll(r.Events))
	}
	return r
}

func renderAll(evs []llm.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		b.WriteString(RenderEvent(ev))
		b.WriteByte('\n')
	}
	return b.String()
}

func text(r *llm.Response) string {
	var b strings.Builder
	for _, blk := range r.Message.Content {
		if blk.Kind == llm.KindText {
			b.WriteString(blk.Text)
		}
	}
	return b.String()
}

func checkUsage(t *testing.T, u llm.Usage) {
	t.Helper()
	if u.InputTokens <= 0 || u.OutputTokens <= 0 {
		t.Errorf("usage = %+v, want input and output tokens > 0", u)
	}
	if u.CacheReadInputTokens+u.CacheWriteInputTokens > u.InputTokens {
		t.Errorf("usage = %+v: cached tokens exceed input tokens", u)
	}
	if u.ReasoningTokens < 0 || u.ReasoningTokens > u.OutputTokens {
		t.Errorf("usage = %+v: reasoning tokens are part of output tokens", u)
	}
}

func testStream(t *testing.T, tg Target, p llm.Provider) {
	r := stream(t, p, tg.request(12, userText("Say hello in five words.")))
	if text(r.Response) == "" {
		t.Errorf("no answer text; events:\n%s", renderAll(r.Events))
	}
	switch r.Response.StopReason {
	case llm.StopEndTurn, llm.StopMaxTokens:
	default:
		t.Errorf("stop reason = %q, want end_turn or max_tokens", r.Response.StopReason)
	}
	checkUsage(t, r.Response.Usage)
}

func testMaxTokens(t *testing.T, tg Target, p llm.Provider) {
	r := stream(t, p, tg.request(3, userText("Count from 1 to 100, separated by commas.")))
	if r.Response.StopReason != llm.StopMaxTokens {
		t.Errorf("stop reason = %q, want max_tokens", r.Response.StopReason)
	}
	if u := r.Response.Usage; u.OutputTokens > 3 || u.OutputTokens <= 0 {
		t.Errorf("output tokens = %d, want 1..3", u.OutputTokens)
	}
}

func testConverse(t *testing.T, tg Target, p llm.Provider) {
	c, ok := p.(llm.Conversor)
	if !ok {
		t.Skip("not an llm.Conversor")
	}
	resp, err := c.Converse(context.Background(), tg.request(3, userText("Count from 1 to 100, separated by commas.")))
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	if resp.Message.Role != llm.RoleAssistant || text(resp) == "" {
		t.Errorf("Converse message = %+v, want assistant text", resp.Message)
	}
	if resp.StopReason != llm.StopMaxTokens {
		t.Errorf("stop reason = %q, want max_tokens", resp.StopReason)
	}
	checkUsage(t, resp.Usage)
}

func testMultiTurn(t *testing.T, tg Target, p llm.Provider) {
	req := tg.request(8,
		userText("My name is Ada."),
		llm.Message{Role: llm.RoleAssistant, Content: []llm.Block{llm.TextBlock("Nice to meet you, Ada.")}},
		userText("What is my name?"))
	req.System = []llm.Block{llm.TextBlock("You are a helpful assistant.")}
	r := stream(t, p, req)
	if text(r.Response) == "" {
		t.Errorf("no answer text")
	}
	checkUsage(t, r.Response.Usage)
}

// testToolResult sends a conversation in which the model already called a
// tool and the user answered it: the provider must translate both.
func testToolResult(t *testing.T, tg Target, p llm.Provider) {
	req := tg.request(8,
		userText("What is the weather in Paris?"),
		llm.Message{Role: llm.RoleAssistant, Content: []llm.Block{{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: "call_1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}}}},
		llm.Message{Role: llm.RoleUser, Content: []llm.Block{{Kind: llm.KindToolResult, ToolResult: &llm.ToolResult{ToolUseID: "call_1", Content: []llm.ToolResultContent{{JSON: json.RawMessage(`{"temp_c":21,"sky":"sunny"}`)}}}}}})
	if tg.ToolCalls {
		req.Tools = &llm.ToolConfig{Tools: []llm.Tool{WeatherTool}}
	}
	r := stream(t, p, req)
	if len(r.Response.Message.Content) == 0 {
		t.Errorf("empty answer")
	}
	checkUsage(t, r.Response.Usage)
}

func testToolCall(t *testing.T, tg Target, p llm.Provider) {
	if !tg.ToolCalls {
		t.Skip("target cannot call tools")
	}
	req := tg.request(64, userText("What is the weather in Paris?"))
	req.Tools = &llm.ToolConfig{Tools: []llm.Tool{WeatherTool}, Choice: llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: WeatherTool.Name}}
	r := stream(t, p, req)
	var found bool
	for _, b := range r.Response.Message.Content {
		if b.Kind != llm.KindToolUse {
			continue
		}
		found = true
		if b.ToolUse.ID == "" || b.ToolUse.Name != WeatherTool.Name {
			t.Errorf("tool use = %+v, want an ID and name %s", b.ToolUse, WeatherTool.Name)
		}
		var in map[string]any
		if err := json.Unmarshal(b.ToolUse.Input, &in); err != nil {
			t.Errorf("tool input %s is not a JSON object: %v", b.ToolUse.Input, err)
		}
	}
	if !found {
		t.Fatalf("no tool use; events:\n%s", renderAll(r.Events))
	}
	if r.Response.StopReason != llm.StopToolUse {
		t.Errorf("stop reason = %q, want tool_use", r.Response.StopReason)
	}
}

// long is a request that would run for a long time if not stopped.
func (tg Target) long() *llm.Request {
	return tg.request(2048, userText("Write a very long story about a lighthouse keeper, in many chapters."))
}

// waitEnd reads s until it ends, failing if that takes longer than MaxWait.
func waitEnd(t *testing.T, tg Target, s llm.Stream) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { // ends when the stream ends, which the test is checking
		for {
			_, err := s.Next()
			if err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(tg.MaxWait):
		t.Fatalf("stream still running %v after it was stopped", tg.MaxWait)
		return nil
	}
}

func firstEvent(t *testing.T, s llm.Stream) {
	t.Helper()
	ev, err := s.Next()
	if err != nil {
		t.Fatalf("first Next: %v", err)
	}
	if ev.Type != llm.EventMessageStart {
		t.Fatalf("first event = %s, want messageStart", ev.Type)
	}
}

func testClose(t *testing.T, tg Target, p llm.Provider) {
	s, err := p.ConverseStream(context.Background(), tg.long())
	if err != nil {
		t.Fatal(err)
	}
	firstEvent(t, s)
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := waitEnd(t, tg, s); err == nil {
		t.Errorf("Next after Close returned no error")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func testCancel(t *testing.T, tg Target, p llm.Provider) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := p.ConverseStream(ctx, tg.long())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	firstEvent(t, s)
	cancel()
	err = waitEnd(t, tg, s)
	if errors.Is(err, io.EOF) {
		return // finished before the cancellation landed
	}
	var e *llm.Error
	if !errors.As(err, &e) {
		t.Fatalf("error after cancel = %T %v, want *llm.Error", err, err)
	}
	if e.Kind != llm.KindCanceled {
		t.Errorf("error kind after cancel = %s, want %s", e.Name(), llm.KindCanceled)
	}
}

func testCanceledBeforeStart(t *testing.T, tg Target, p llm.Provider) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := p.ConverseStream(ctx, tg.request(8, userText("Hi")))
	if err == nil {
		err = waitEnd(t, tg, s)
		s.Close()
	}
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindCanceled {
		t.Errorf("error = %v, want a %s *llm.Error", err, llm.KindCanceled)
	}
}

func testInvalid(t *testing.T, tg Target, p llm.Provider) {
	bad := []struct {
		name string
		req  *llm.Request
	}{
		{"no messages", tg.request(8)},
		{"bad role", tg.request(8, llm.Message{Role: "wizard", Content: []llm.Block{llm.TextBlock("hi")}})},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			s, err := p.ConverseStream(context.Background(), tc.req)
			if err == nil {
				err = ReadAll(s).Err
			}
			if err == nil {
				return // the provider coped; nothing to classify
			}
			var e *llm.Error
			if !errors.As(err, &e) {
				t.Fatalf("error = %T %v, want *llm.Error", err, err)
			}
			if e.Kind != llm.KindValidation {
				t.Errorf("kind = %s, want %s", e.Name(), llm.KindValidation)
			}
		})
	}
}

func testConcurrent(t *testing.T, tg Target, p llm.Provider) {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() { // ends when its stream ends
			defer wg.Done()
			s, err := p.ConverseStream(context.Background(), tg.request(8, userText(fmt.Sprintf("Say the number %d.", i))))
			if err != nil {
				errs[i] = err
				return
			}
			r := ReadAll(s)
			if r.Err == nil {
				if msg := CheckEvents(r.Events, true); msg != "" {
					r.Err = errors.New(msg)
				}
			}
			errs[i] = r.Err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("stream %d: %v", i, err)
		}
	}
}

// CheckEvents checks the order invariants of a stream's events and returns
// a description of the first violation, or "". complete says the stream
// ended with io.EOF, so it must also be closed properly:
//
//	MessageStart first, once
//	blocks one at a time, indexes 0, 1, 2, … in order, each ended by BlockStop
//	BlockStart only for tool use, as the first event of its block, with ID and name
//	a block's deltas all of one family (text | tool input | reasoning)
//	MessageStop once, after every block stopped, with a known stop reason
//	Metadata last, with usage
func CheckEvents(evs []llm.Event, complete bool) string {
	if len(evs) == 0 {
		if complete {
			return "no events"
		}
		return ""
	}
	if evs[0].Type != llm.EventMessageStart {
		return fmt.Sprintf("first event is %s, want messageStart", evs[0].Type)
	}
	open := -1   // index of the open block
	next := 0    // index the next block must have
	family := "" // delta family of the open block
	stopped, meta := false, false
	for i, ev := range evs[1:] {
		at := fmt.Sprintf("event %d (%s)", i+1, ev.Type)
		if meta {
			return at + " after metadata"
		}
		switch ev.Type {
		case llm.EventMessageStart:
			return at + ": second messageStart"
		case llm.EventBlockStart, llm.EventBlockDelta:
			if stopped {
				return at + " after messageStop"
			}
			if ev.Index != open {
				if open >= 0 {
					return fmt.Sprintf("%s: index %d while block %d is open", at, ev.Index, open)
				}
				if ev.Index != next {
					return fmt.Sprintf("%s: index %d, want next block %d", at, ev.Index, next)
				}
				open, next, family = ev.Index, next+1, ""
				if ev.Type == llm.EventBlockStart {
					if ev.ToolUse == nil || ev.ToolUse.ID == "" || ev.ToolUse.Name == "" {
						return at + ": tool block start without ID and name"
					}
					family = "tool"
					continue
				}
			} else if ev.Type == llm.EventBlockStart {
				return at + ": blockStart inside an open block"
			}
			f := deltaFamily(ev.Delta)
			if f == "tool" && family != "tool" {
				return at + ": tool input delta in a block not started as tool use"
			}
			if family != "" && f != family {
				return fmt.Sprintf("%s: %s delta in a %s block", at, f, family)
			}
			family = f
		case llm.EventBlockStop:
			if ev.Index != open {
				return fmt.Sprintf("%s: stop of block %d while %d is open", at, ev.Index, open)
			}
			open = -1
		case llm.EventMessageStop:
			if stopped {
				return at + ": second messageStop"
			}
			if open >= 0 {
				return fmt.Sprintf("%s while block %d is open", at, open)
			}
			switch ev.StopReason {
			case llm.StopEndTurn, llm.StopToolUse, llm.StopMaxTokens, llm.StopSequence,
				llm.StopGuardrailIntervened, llm.StopContentFiltered, llm.StopContextWindowExceded:
			default:
				return fmt.Sprintf("%s: unknown stop reason %q", at, ev.StopReason)
			}
			stopped = true
		case llm.EventMetadata:
			if !stopped {
				return at + " before messageStop"
			}
			if ev.Usage == nil {
				return at + " without usage"
			}
			meta = true
		default:
			return at + ": unknown event type"
		}
	}
	if complete && !meta {
		return "stream ended without metadata"
	}
	return ""
}

func deltaFamily(k llm.DeltaKind) string {
	switch k {
	case llm.DeltaText:
		return "text"
	case llm.DeltaToolInput:
		return "tool"
	case llm.DeltaReasoning, llm.DeltaReasoningSignature, llm.DeltaReasoningRedacted:
		return "reasoning"
	}
	return "unknown"
}
