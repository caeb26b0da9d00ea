package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/sse"
)

// streamEvent is one Messages stream event; which members are set depends
// on Type.
type streamEvent struct {
	Type         string     `json:"type"`
	Message      *message   `json:"message"`       // message_start
	Index        int        `json:"index"`         // content_block_*
	ContentBlock *block     `json:"content_block"` // content_block_start
	Delta        *delta     `json:"delta"`         // content_block_delta, message_delta
	Usage        *usage     `json:"usage"`         // message_delta
	Error        *errorBody `json:"error"`         // error
}

type delta struct {
	Type         string  `json:"type"`
	Text         string  `json:"text"`
	PartialJSON  string  `json:"partial_json"`
	Thinking     string  `json:"thinking"`
	Signature    string  `json:"signature"`
	StopReason   string  `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

// usage is Anthropic's usage object. input_tokens excludes the cached
// tokens, which Outcrop's Usage includes.
type usage struct {
	InputTokens              *int `json:"input_tokens"`
	OutputTokens             *int `json:"output_tokens"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens"`
}

// stream reads a Messages event stream and yields llm events. It is used by
// one goroutine at a time, as llm.Stream requires.
type stream struct {
	ctx    context.Context
	cancel context.CancelFunc
	body   io.ReadCloser
	r      *sse.Reader
	t      translator
	err    error // sticky: returned by every Next once set
	closed bool
}

func newStream(ctx context.Context, cancel context.CancelFunc, body io.ReadCloser) *stream {
	return &stream{ctx: ctx, cancel: cancel, body: body, r: sse.NewReader(body)}
}

// Next returns the next event.
func (s *stream) Next() (llm.Event, error) {
	for {
		if ev, ok := s.t.pop(); ok {
			return ev, nil
		}
		if s.err != nil {
			return llm.Event{}, s.err
		}
		ev, err := s.r.Next()
		if err != nil {
			s.fail(err)
			continue
		}
		var se streamEvent
		if err := json.Unmarshal(ev.Data, &se); err != nil {
			s.err = &llm.Error{Kind: llm.KindModelError, Message: "The upstream sent a malformed stream event.", Err: err}
			s.release()
			continue
		}
		if err := s.t.add(&se); err != nil {
			s.err = err
			s.release()
			continue
		}
		if s.t.done {
			s.err = io.EOF
			s.release()
		}
	}
}

// fail records why reading stopped.
func (s *stream) fail(err error) {
	defer s.release()
	if s.closed {
		s.err = &llm.Error{Kind: llm.KindCanceled, Message: "stream closed", Err: llm.ErrCanceled}
		return
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // the stream ended before message_stop
	}
	s.err = streamError(s.ctx, err)
}

func (s *stream) release() {
	s.cancel()
	s.body.Close()
}

// Close ends the upstream call; Next then returns a canceled error.
func (s *stream) Close() error {
	if !s.closed {
		s.closed = true
		if s.err == nil {
			s.err = &llm.Error{Kind: llm.KindCanceled, Message: "stream closed", Err: llm.ErrCanceled}
		}
		s.t.queue = nil
		s.release()
	}
	return nil
}

// translator turns Messages events into llm events.
type translator struct {
	queue   []llm.Event
	started bool
	done    bool
	next    int         // neutral index of the next block
	index   map[int]int // Anthropic index → neutral index, once the block produced an event
	skip    map[int]bool
	tools   map[int]bool
	family  map[int]string // "text" or "reasoning" per Anthropic index
	stop    llm.StopReason
	usage   llm.Usage
}

func (t *translator) pop() (llm.Event, bool) {
	if len(t.queue) == 0 {
		return llm.Event{}, false
	}
	ev := t.queue[0]
	t.queue = t.queue[1:]
	return ev, true
}

func (t *translator) emit(ev llm.Event) { t.queue = append(t.queue, ev) }

// open returns the neutral index of Anthropic block i, assigning the next
// one when the block produces its first event.
func (t *translator) open(i int) int {
	if n, ok := t.index[i]; ok {
		return n
	}
	if t.index == nil {
		t.index = map[int]int{}
	}
	// Neutral blocks never interleave: a block left open by an upstream
	// that moved on is closed first.
	for j, n := range t.index {
		t.emit(llm.Event{Type: llm.EventBlockStop, Index: n})
		delete(t.index, j)
	}
	t.index[i] = t.next
	t.next++
	return t.index[i]
}

func (t *translator) delta(i int, k llm.DeltaKind, text string) {
	if text == "" || t.skip[i] {
		return
	}
	if k == llm.DeltaToolInput && !t.tools[i] {
		return
	}
	if k != llm.DeltaToolInput && t.tools[i] {
		return
	}
	// A block carries one family of deltas; a stray delta of another
	// family is dropped.
	fam := "text"
	if k != llm.DeltaText {
		fam = "reasoning"
	}
	if t.family == nil {
		t.family = map[int]string{}
	}
	if f, ok := t.family[i]; ok && f != fam {
		return
	}
	t.family[i] = fam
	t.emit(llm.Event{Type: llm.EventBlockDelta, Index: t.open(i), Delta: k, Text: text})
}

// add folds one upstream event in.
func (t *translator) add(se *streamEvent) error {
	if !t.started && se.Type != "message_start" && se.Type != "ping" && se.Type != "error" {
		return &llm.Error{Kind: llm.KindModelError, Message: "The upstream stream did not start with message_start."}
	}
	switch se.Type {
	case "message_start":
		if t.started {
			return nil
		}
		t.started = true
		t.emit(llm.Event{Type: llm.EventMessageStart})
		if se.Message != nil {
			t.addUsage(se.Message.Usage)
		}
	case "content_block_start":
		cb := se.ContentBlock
		if cb == nil {
			return nil
		}
		switch cb.Type {
		case "text":
			t.delta(se.Index, llm.DeltaText, cb.Text)
		case "thinking":
			if cb.Thinking != nil {
				t.delta(se.Index, llm.DeltaReasoning, *cb.Thinking)
			}
			t.delta(se.Index, llm.DeltaReasoningSignature, cb.Signature)
		case "redacted_thinking":
			t.emit(llm.Event{Type: llm.EventBlockDelta, Index: t.open(se.Index), Delta: llm.DeltaReasoningRedacted, Redacted: []byte(cb.Data)})
		case "tool_use":
			if t.tools == nil {
				t.tools = map[int]bool{}
			}
			t.tools[se.Index] = true
			t.emit(llm.Event{Type: llm.EventBlockStart, Index: t.open(se.Index), ToolUse: &llm.ToolUse{ID: cb.ID, Name: cb.Name}})
			if in := string(cb.Input); in != "" && in != "{}" {
				t.delta(se.Index, llm.DeltaToolInput, in)
			}
		default:
			// Server tool blocks (web search and the like) have no
			// neutral form.
			if t.skip == nil {
				t.skip = map[int]bool{}
			}
			t.skip[se.Index] = true
		}
	case "content_block_delta":
		d := se.Delta
		if d == nil {
			return nil
		}
		switch d.Type {
		case "text_delta":
			t.delta(se.Index, llm.DeltaText, d.Text)
		case "input_json_delta":
			t.delta(se.Index, llm.DeltaToolInput, d.PartialJSON)
		case "thinking_delta":
			t.delta(se.Index, llm.DeltaReasoning, d.Thinking)
		case "signature_delta":
			t.delta(se.Index, llm.DeltaReasoningSignature, d.Signature)
		}
	case "content_block_stop":
		if n, ok := t.index[se.Index]; ok {
			t.emit(llm.Event{Type: llm.EventBlockStop, Index: n})
			delete(t.index, se.Index)
		}
	case "message_delta":
		if se.Delta != nil && se.Delta.StopReason != "" {
			t.stop = stopReason(se.Delta.StopReason)
		}
		t.addUsage(se.Usage)
	case "message_stop":
		// Blocks left open by a sloppy upstream are closed first.
		for i, n := range t.index {
			t.emit(llm.Event{Type: llm.EventBlockStop, Index: n})
			delete(t.index, i)
		}
		if t.stop == "" {
			t.stop = llm.StopEndTurn
		}
		u := t.usage
		t.emit(llm.Event{Type: llm.EventMessageStop, StopReason: t.stop})
		t.emit(llm.Event{Type: llm.EventMetadata, Usage: &u})
		t.done = true
	case "error":
		if se.Error == nil {
			return &llm.Error{Kind: llm.KindModelError, Message: "The upstream reported an error."}
		}
		return bodyError(se.Error, 0)
	}
	return nil
}

// addUsage folds an Anthropic usage object in; later values replace
// earlier ones (message_delta's counts are cumulative).
func (t *translator) addUsage(u *usage) {
	if u == nil {
		return
	}
	base := t.usage.InputTokens - t.usage.CacheReadInputTokens - t.usage.CacheWriteInputTokens
	if u.InputTokens != nil {
		base = *u.InputTokens
	}
	if u.CacheReadInputTokens != nil {
		t.usage.CacheReadInputTokens = *u.CacheReadInputTokens
	}
	if u.CacheCreationInputTokens != nil {
		t.usage.CacheWriteInputTokens = *u.CacheCreationInputTokens
	}
	t.usage.InputTokens = base + t.usage.CacheReadInputTokens + t.usage.CacheWriteInputTokens
	if u.OutputTokens != nil {
		t.usage.OutputTokens = *u.OutputTokens
	}
}

// stopReason maps Anthropic's stop_reason.
func stopReason(s string) llm.StopReason {
	switch s {
	case "end_turn", "pause_turn":
		return llm.StopEndTurn
	case "max_tokens":
		return llm.StopMaxTokens
	case "stop_sequence":
		return llm.StopSequence
	case "tool_use":
		return llm.StopToolUse
	case "refusal":
		return llm.StopContentFiltered
	case "model_context_window_exceeded":
		return llm.StopContextWindowExceded
	}
	return llm.StopEndTurn
}
