package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"github.com/outcrop/outcrop/internal/llm"
)

// stream adapts the SDK's ConverseStream event stream. The SDK reads the
// body on its own goroutine, which ends when the body ends or Close is
// called.
type stream struct {
	ctx    context.Context
	cancel context.CancelFunc
	es     *bedrockruntime.ConverseStreamEventStream
	t      translator
	err    error
	closed bool
}

func newStream(ctx context.Context, cancel context.CancelFunc, es *bedrockruntime.ConverseStreamEventStream) *stream {
	return &stream{ctx: ctx, cancel: cancel, es: es}
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
		ev, ok := <-s.es.Events()
		if !ok {
			s.end()
			continue
		}
		s.t.add(ev)
	}
}

// end records how the stream ended: io.EOF after messageStop, else the
// SDK's error or a broken-off stream.
func (s *stream) end() {
	defer s.release()
	if s.closed {
		s.err = &llm.Error{Kind: llm.KindCanceled, Message: "stream closed", Err: llm.ErrCanceled}
		return
	}
	if err := s.es.Err(); err != nil {
		e := classify(s.ctx, err)
		var apiErr smithy.APIError
		if e.Kind == llm.KindUnavailable && !errors.As(err, &apiErr) {
			// A transport failure after the answer began: the stream
			// broke off, as with every other provider.
			e.Kind, e.Message = llm.KindModelError, "The upstream stream broke off."
		}
		s.err = e
		return
	}
	if s.ctx.Err() != nil {
		s.err = classify(s.ctx, s.ctx.Err())
		return
	}
	if !s.t.stopped {
		s.err = &llm.Error{Kind: llm.KindModelError, Message: "The upstream stream broke off.", Err: io.ErrUnexpectedEOF}
		return
	}
	s.t.finish()
	s.err = io.EOF
}

func (s *stream) release() {
	s.es.Close()
	s.cancel()
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

// translator turns ConverseStream events into llm events. Bedrock's
// sequence is already the neutral one; the translator only renumbers
// blocks that produce nothing (citations, images) away and makes sure
// metadata ends the stream.
type translator struct {
	queue   []llm.Event
	started bool
	stopped bool // messageStop seen
	meta    bool // metadata emitted
	next    int
	index   map[int32]int // Bedrock index → neutral index, while open
	tools   map[int32]bool
	family  map[int32]llm.DeltaKind
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

func (t *translator) start() {
	if !t.started {
		t.started = true
		t.emit(llm.Event{Type: llm.EventMessageStart})
	}
}

func (t *translator) open(i int32) int {
	if n, ok := t.index[i]; ok {
		return n
	}
	if t.index == nil {
		t.index = map[int32]int{}
	}
	for j, n := range t.index {
		t.emit(llm.Event{Type: llm.EventBlockStop, Index: n})
		delete(t.index, j)
	}
	t.index[i] = t.next
	t.next++
	return t.index[i]
}

func (t *translator) delta(i int32, k llm.DeltaKind, text string, redacted []byte) {
	if text == "" && len(redacted) == 0 {
		return
	}
	if (k == llm.DeltaToolInput) != t.tools[i] {
		return
	}
	fam := k
	if k == llm.DeltaReasoningSignature || k == llm.DeltaReasoningRedacted {
		fam = llm.DeltaReasoning
	}
	if t.family == nil {
		t.family = map[int32]llm.DeltaKind{}
	}
	if f, ok := t.family[i]; ok && f != fam {
		return
	}
	t.family[i] = fam
	t.emit(llm.Event{Type: llm.EventBlockDelta, Index: t.open(i), Delta: k, Text: text, Redacted: redacted})
}

func (t *translator) closeAll() {
	for j, n := range t.index {
		t.emit(llm.Event{Type: llm.EventBlockStop, Index: n})
		delete(t.index, j)
	}
}

func (t *translator) add(ev types.ConverseStreamOutput) {
	if t.meta {
		return
	}
	t.start()
	switch v := ev.(type) {
	case *types.ConverseStreamOutputMemberContentBlockStart:
		i := aws32(v.Value.ContentBlockIndex)
		if tu, ok := v.Value.Start.(*types.ContentBlockStartMemberToolUse); ok && !t.stopped {
			if t.tools == nil {
				t.tools = map[int32]bool{}
			}
			delete(t.index, i)
			t.tools[i] = true
			t.emit(llm.Event{Type: llm.EventBlockStart, Index: t.open(i), ToolUse: &llm.ToolUse{ID: str(tu.Value.ToolUseId), Name: str(tu.Value.Name)}})
		}
	case *types.ConverseStreamOutputMemberContentBlockDelta:
		if t.stopped {
			return
		}
		i := aws32(v.Value.ContentBlockIndex)
		switch d := v.Value.Delta.(type) {
		case *types.ContentBlockDeltaMemberText:
			t.delta(i, llm.DeltaText, d.Value, nil)
		case *types.ContentBlockDeltaMemberToolUse:
			t.delta(i, llm.DeltaToolInput, str(d.Value.Input), nil)
		case *types.ContentBlockDeltaMemberReasoningContent:
			switch r := d.Value.(type) {
			case *types.ReasoningContentBlockDeltaMemberText:
				t.delta(i, llm.DeltaReasoning, r.Value, nil)
			case *types.ReasoningContentBlockDeltaMemberSignature:
				t.delta(i, llm.DeltaReasoningSignature, r.Value, nil)
			case *types.ReasoningContentBlockDeltaMemberRedactedContent:
				t.delta(i, llm.DeltaReasoningRedacted, "", r.Value)
			}
		}
	case *types.ConverseStreamOutputMemberContentBlockStop:
		i := aws32(v.Value.ContentBlockIndex)
		if n, ok := t.index[i]; ok {
			t.emit(llm.Event{Type: llm.EventBlockStop, Index: n})
			delete(t.index, i)
		}
	case *types.ConverseStreamOutputMemberMessageStop:
		if t.stopped {
			return
		}
		t.closeAll()
		t.stopped = true
		t.emit(llm.Event{Type: llm.EventMessageStop, StopReason: stopReason(v.Value.StopReason), Additional: docJSON(v.Value.AdditionalModelResponseFields)})
	case *types.ConverseStreamOutputMemberMetadata:
		if !t.stopped {
			return // metadata must follow messageStop; a stream without one fails at its end
		}
		u := usage(v.Value.Usage)
		t.meta = true
		t.emit(llm.Event{Type: llm.EventMetadata, Usage: &u})
	}
}

// finish adds the metadata event a stream that ended without one lacks.
func (t *translator) finish() {
	if t.stopped && !t.meta {
		t.meta = true
		t.emit(llm.Event{Type: llm.EventMetadata, Usage: &llm.Usage{}})
	}
}

func aws32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// usage converts Bedrock's usage, whose inputTokens exclude the cached
// tokens, to Outcrop's, whose InputTokens include them.
func usage(u *types.TokenUsage) llm.Usage {
	if u == nil {
		return llm.Usage{}
	}
	out := llm.Usage{OutputTokens: int(aws32(u.OutputTokens)), CacheReadInputTokens: int(aws32(u.CacheReadInputTokens)), CacheWriteInputTokens: int(aws32(u.CacheWriteInputTokens))}
	out.InputTokens = int(aws32(u.InputTokens)) + out.CacheReadInputTokens + out.CacheWriteInputTokens
	return out
}

// stopReason maps Bedrock's stop reasons, which are Outcrop's.
func stopReason(s types.StopReason) llm.StopReason {
	switch r := llm.StopReason(s); r {
	case llm.StopEndTurn, llm.StopToolUse, llm.StopMaxTokens, llm.StopSequence, llm.StopGuardrailIntervened,
		llm.StopContentFiltered, llm.StopContextWindowExceded:
		return r
	}
	return llm.StopEndTurn
}

// docJSON renders a smithy document as JSON; nil when absent or invalid.
func docJSON(d document.Interface) json.RawMessage {
	if d == nil {
		return nil
	}
	b, err := d.MarshalSmithyDocument()
	if err != nil {
		return nil
	}
	return b
}

// response translates a Converse output.
func response(out *bedrockruntime.ConverseOutput) (*llm.Response, error) {
	msg, ok := out.Output.(*types.ConverseOutputMemberMessage)
	if !ok {
		return nil, &llm.Error{Kind: llm.KindModelError, Message: "The upstream returned no message."}
	}
	r := &llm.Response{Message: llm.Message{Role: llm.RoleAssistant}, StopReason: stopReason(out.StopReason), Usage: usage(out.Usage),
		Additional: docJSON(out.AdditionalModelResponseFields)}
	for _, b := range msg.Value.Content {
		switch v := b.(type) {
		case *types.ContentBlockMemberText:
			r.Message.Content = append(r.Message.Content, llm.TextBlock(v.Value))
		case *types.ContentBlockMemberToolUse:
			in := docJSON(v.Value.Input)
			if in == nil {
				in = json.RawMessage(`{}`)
			}
			r.Message.Content = append(r.Message.Content, llm.Block{Kind: llm.KindToolUse, ToolUse: &llm.ToolUse{ID: str(v.Value.ToolUseId), Name: str(v.Value.Name), Input: in}})
		case *types.ContentBlockMemberReasoningContent:
			switch rc := v.Value.(type) {
			case *types.ReasoningContentBlockMemberReasoningText:
				r.Message.Content = append(r.Message.Content, llm.Block{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Text: str(rc.Value.Text), Signature: str(rc.Value.Signature)}})
			case *types.ReasoningContentBlockMemberRedactedContent:
				r.Message.Content = append(r.Message.Content, llm.Block{Kind: llm.KindReasoning, Reasoning: &llm.Reasoning{Redacted: rc.Value}})
			}
		}
	}
	return r, nil
}
