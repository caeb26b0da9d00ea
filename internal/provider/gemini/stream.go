package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/sse"
)

// syntheticPrefix starts the tool use ids Outcrop makes up for function
// calls that came without one; they are not sent back to Gemini.
const syntheticPrefix = "gemini_call_"

// chunk is one GenerateContentResponse (a whole response, or one SSE event
// of a stream), or an error object.
type chunk struct {
	Candidates []struct {
		Content struct {
			Parts []part `json:"parts"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata *struct {
		PromptTokenCount        int `json:"promptTokenCount"`
		CandidatesTokenCount    int `json:"candidatesTokenCount"`
		ThoughtsTokenCount      int `json:"thoughtsTokenCount"`
		CachedContentTokenCount int `json:"cachedContentTokenCount"`
		ToolUsePromptTokenCount int `json:"toolUsePromptTokenCount"`
	} `json:"usageMetadata"`
	ResponseID string     `json:"responseId"`
	Error      *errorBody `json:"error"`
}

// stream reads a streamGenerateContent?alt=sse body.
type stream struct {
	ctx    context.Context
	cancel context.CancelFunc
	body   io.ReadCloser
	r      *sse.Reader
	t      translator
	err    error
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
		if errors.Is(err, io.EOF) && !s.closed {
			// Gemini ends a stream by ending the body; the last chunk
			// carried the finish reason.
			if err := s.t.finish(); err != nil {
				s.err = err
			} else {
				s.err = io.EOF
			}
			s.release()
			continue
		}
		if err != nil {
			s.fail(err)
			continue
		}
		if err := s.t.add(ev.Data); err != nil {
			s.err = err
			s.release()
		}
	}
}

func (s *stream) fail(err error) {
	defer s.release()
	if s.closed {
		s.err = &llm.Error{Kind: llm.KindCanceled, Message: "stream closed", Err: llm.ErrCanceled}
		return
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

// translator turns response chunks into llm events. Gemini sends whole
// parts; consecutive text parts (or thought parts) continue one block, and
// a function call is a block of its own.
type translator struct {
	queue    []llm.Event
	started  bool
	done     bool
	open     int    // neutral index of the open block, -1 for none
	kind     string // "text", "reasoning" or "" for the open block
	next     int
	calls    int
	reason   string
	blocked  string
	usage    llm.Usage
	response string
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

func (t *translator) closeBlock() {
	if t.kind != "" {
		t.emit(llm.Event{Type: llm.EventBlockStop, Index: t.open})
		t.kind = ""
	}
}

// block makes sure a block of kind is open and returns its index.
func (t *translator) block(kind string) int {
	if t.kind != kind {
		t.closeBlock()
		t.open, t.kind = t.next, kind
		t.next++
	}
	return t.open
}

// add folds one chunk in.
func (t *translator) add(data []byte) error {
	var c chunk
	if err := json.Unmarshal(data, &c); err != nil {
		return &llm.Error{Kind: llm.KindModelError, Message: "The upstream sent a malformed chunk.", Err: err}
	}
	if c.Error != nil {
		return bodyError(c.Error)
	}
	if !t.started {
		t.started = true
		t.emit(llm.Event{Type: llm.EventMessageStart})
	}
	if c.ResponseID != "" {
		t.response = c.ResponseID
	}
	if c.PromptFeedback != nil && c.PromptFeedback.BlockReason != "" {
		t.blocked = c.PromptFeedback.BlockReason
	}
	if u := c.UsageMetadata; u != nil {
		t.usage = llm.Usage{InputTokens: u.PromptTokenCount + u.ToolUsePromptTokenCount, OutputTokens: u.CandidatesTokenCount + u.ThoughtsTokenCount,
			CacheReadInputTokens: u.CachedContentTokenCount, ReasoningTokens: u.ThoughtsTokenCount}
	}
	if len(c.Candidates) == 0 {
		return nil
	}
	cand := c.Candidates[0]
	for _, p := range cand.Content.Parts {
		switch {
		case p.FunctionCall != nil:
			if p.FunctionCall.Name == "" {
				return &llm.Error{Kind: llm.KindModelError, Message: "The upstream sent a function call without a name."}
			}
			if p.ThoughtSignature != "" {
				t.emit(llm.Event{Type: llm.EventBlockDelta, Index: t.block("reasoning"), Delta: llm.DeltaReasoningSignature, Text: p.ThoughtSignature})
			}
			t.closeBlock()
			id := p.FunctionCall.ID
			if id == "" {
				id = fmt.Sprintf("%s%s_%d", syntheticPrefix, t.response, t.calls)
			}
			t.calls++
			args := "{}"
			var compact bytes.Buffer
			if json.Compact(&compact, p.FunctionCall.Args) == nil && compact.Len() > 0 && compact.String() != "null" {
				args = compact.String()
			}
			i := t.next
			t.next++
			t.emit(llm.Event{Type: llm.EventBlockStart, Index: i, ToolUse: &llm.ToolUse{ID: id, Name: p.FunctionCall.Name}})
			t.emit(llm.Event{Type: llm.EventBlockDelta, Index: i, Delta: llm.DeltaToolInput, Text: args})
			t.emit(llm.Event{Type: llm.EventBlockStop, Index: i})
		case p.Thought:
			if p.Text != "" {
				t.emit(llm.Event{Type: llm.EventBlockDelta, Index: t.block("reasoning"), Delta: llm.DeltaReasoning, Text: p.Text})
			}
			if p.ThoughtSignature != "" {
				t.emit(llm.Event{Type: llm.EventBlockDelta, Index: t.block("reasoning"), Delta: llm.DeltaReasoningSignature, Text: p.ThoughtSignature})
			}
		default:
			if p.ThoughtSignature != "" {
				t.emit(llm.Event{Type: llm.EventBlockDelta, Index: t.block("reasoning"), Delta: llm.DeltaReasoningSignature, Text: p.ThoughtSignature})
			}
			if p.Text != "" {
				t.emit(llm.Event{Type: llm.EventBlockDelta, Index: t.block("text"), Delta: llm.DeltaText, Text: p.Text})
			}
		}
	}
	if cand.FinishReason != "" {
		t.reason = cand.FinishReason
	}
	return nil
}

// finish ends the message once the body has ended: a stream without a
// finish reason (or a prompt block) broke off.
func (t *translator) finish() error {
	if t.done {
		return nil
	}
	if !t.started || (t.reason == "" && t.blocked == "") {
		return &llm.Error{Kind: llm.KindModelError, Message: "The upstream stream broke off.", Err: io.ErrUnexpectedEOF}
	}
	t.closeBlock()
	stop := stopReason(t.reason)
	switch {
	case t.blocked != "":
		stop = llm.StopContentFiltered
	case stop == llm.StopEndTurn && t.calls > 0:
		stop = llm.StopToolUse
	}
	u := t.usage
	t.emit(llm.Event{Type: llm.EventMessageStop, StopReason: stop})
	t.emit(llm.Event{Type: llm.EventMetadata, Usage: &u})
	t.done = true
	return nil
}

// stopReason maps Gemini's finishReason. Safety, recitation and policy
// blocks are content_filtered, the stop reason of a filtered answer.
func stopReason(s string) llm.StopReason {
	switch s {
	case "MAX_TOKENS":
		return llm.StopMaxTokens
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
		return llm.StopContentFiltered
	}
	return llm.StopEndTurn
}
