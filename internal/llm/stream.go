package llm

import (
	"encoding/json"
	"errors"
	"io"
)

// EventType is the kind of a stream event. The sequence of events mirrors
// Bedrock's ConverseStream:
//
//	MessageStart
//	  (BlockStart?  BlockDelta*  BlockStop)*   one group per content block
//	MessageStop
//	Metadata
//
// BlockStart is only sent for tool use blocks; text and reasoning blocks
// start implicitly with their first delta.
type EventType uint8

// Event types.
const (
	EventMessageStart EventType = iota + 1
	EventBlockStart
	EventBlockDelta
	EventBlockStop
	EventMessageStop
	EventMetadata
)

var eventNames = [...]string{"", "messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"}

// String returns the Bedrock event name.
func (t EventType) String() string {
	if int(t) < len(eventNames) {
		return eventNames[t]
	}
	return "unknown"
}

// DeltaKind says what a delta carries.
type DeltaKind uint8

// Delta kinds.
const (
	DeltaText DeltaKind = iota + 1
	DeltaToolInput
	DeltaReasoning
	DeltaReasoningSignature
	DeltaReasoningRedacted
)

// Event is one item of a stream.
type Event struct {
	Type  EventType
	Index int // content block index for block events

	// EventBlockStart: the tool use being started.
	ToolUse *ToolUse // ID and Name; Input is streamed as deltas

	// EventBlockDelta
	Delta    DeltaKind
	Text     string // text, tool input JSON fragment, reasoning text or signature
	Redacted []byte // DeltaReasoningRedacted
	// Tokens is how many output tokens the delta carries when the provider
	// knows (0 = unknown). The gateway uses it for OTPS when final usage is
	// missing.
	Tokens int

	// EventMessageStop
	StopReason StopReason
	Additional json.RawMessage

	// EventMetadata
	Usage   *Usage
	Metrics *Metrics
	Served  *Served
	Trace   map[string]json.RawMessage
}

// Stream is a pull-style sequence of events. Next returns io.EOF after the
// last event. Close releases the stream and cancels the upstream call if it is
// still running; it is safe to call more than once and after io.EOF. A stream
// is used by one goroutine at a time.
type Stream interface {
	Next() (Event, error)
	Close() error
}

// Collect reads s to the end and assembles the complete response. It closes s.
func Collect(s Stream) (*Response, error) {
	defer s.Close()
	var a Assembler
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			return a.Response(), nil
		}
		if err != nil {
			return nil, err
		}
		a.Add(ev)
	}
}

// Assembler builds a Response from stream events.
type Assembler struct {
	resp   Response
	blocks []Block
	input  map[int][]byte // tool input fragments by block index
}

// Add folds one event into the response being built.
func (a *Assembler) Add(ev Event) {
	switch ev.Type {
	case EventMessageStart:
		a.resp.Message.Role = RoleAssistant
	case EventBlockStart:
		b := a.block(ev.Index, KindToolUse)
		if ev.ToolUse != nil {
			b.ToolUse.ID, b.ToolUse.Name = ev.ToolUse.ID, ev.ToolUse.Name
		}
	case EventBlockDelta:
		switch ev.Delta {
		case DeltaText:
			b := a.block(ev.Index, KindText)
			b.Text += ev.Text
		case DeltaToolInput:
			a.block(ev.Index, KindToolUse)
			if a.input == nil {
				a.input = map[int][]byte{}
			}
			a.input[ev.Index] = append(a.input[ev.Index], ev.Text...)
		case DeltaReasoning:
			b := a.block(ev.Index, KindReasoning)
			b.Reasoning.Text += ev.Text
		case DeltaReasoningSignature:
			b := a.block(ev.Index, KindReasoning)
			b.Reasoning.Signature += ev.Text
		case DeltaReasoningRedacted:
			b := a.block(ev.Index, KindReasoning)
			b.Reasoning.Redacted = append(b.Reasoning.Redacted, ev.Redacted...)
		}
	case EventMessageStop:
		a.resp.StopReason = ev.StopReason
		a.resp.Additional = ev.Additional
	case EventMetadata:
		if ev.Usage != nil {
			a.resp.Usage = *ev.Usage
		}
		if ev.Metrics != nil {
			a.resp.Metrics = *ev.Metrics
		}
		if ev.Served != nil {
			a.resp.Served = *ev.Served
		}
		if ev.Trace != nil {
			a.resp.Trace = ev.Trace
		}
	}
}

// block returns the block at index i, creating it with kind k if needed.
func (a *Assembler) block(i int, k BlockKind) *Block {
	for len(a.blocks) <= i {
		a.blocks = append(a.blocks, Block{})
	}
	b := &a.blocks[i]
	if b.Kind == 0 {
		b.Kind = k
		switch k {
		case KindToolUse:
			b.ToolUse = &ToolUse{}
		case KindReasoning:
			b.Reasoning = &Reasoning{}
		}
	}
	return b
}

// Response returns the assembled response. Tool inputs that are empty become
// the empty object; the input of a tool use is kept as sent even if it is not
// valid JSON so that callers can report malformed tool use.
func (a *Assembler) Response() *Response {
	r := a.resp
	r.Message.Role = RoleAssistant
	for i := range a.blocks {
		b := a.blocks[i]
		if b.Kind == 0 {
			continue
		}
		if b.Kind == KindToolUse {
			in := a.input[i]
			if len(in) == 0 {
				in = []byte("{}")
			}
			tu := *b.ToolUse
			tu.Input = json.RawMessage(in)
			b.ToolUse = &tu
		}
		r.Message.Content = append(r.Message.Content, b)
	}
	return &r
}

// ResponseStream returns a stream that replays a complete response as events,
// for providers that cannot stream.
func ResponseStream(r *Response) Stream {
	evs := []Event{{Type: EventMessageStart}}
	for i, b := range r.Message.Content {
		switch b.Kind {
		case KindText:
			evs = append(evs, Event{Type: EventBlockDelta, Index: i, Delta: DeltaText, Text: b.Text})
		case KindReasoning:
			if b.Reasoning.Text != "" {
				evs = append(evs, Event{Type: EventBlockDelta, Index: i, Delta: DeltaReasoning, Text: b.Reasoning.Text})
			}
			if b.Reasoning.Signature != "" {
				evs = append(evs, Event{Type: EventBlockDelta, Index: i, Delta: DeltaReasoningSignature, Text: b.Reasoning.Signature})
			}
			if len(b.Reasoning.Redacted) > 0 {
				evs = append(evs, Event{Type: EventBlockDelta, Index: i, Delta: DeltaReasoningRedacted, Redacted: b.Reasoning.Redacted})
			}
		case KindToolUse:
			evs = append(evs, Event{Type: EventBlockStart, Index: i, ToolUse: &ToolUse{ID: b.ToolUse.ID, Name: b.ToolUse.Name}})
			evs = append(evs, Event{Type: EventBlockDelta, Index: i, Delta: DeltaToolInput, Text: string(b.ToolUse.Input)})
		default:
			continue
		}
		evs = append(evs, Event{Type: EventBlockStop, Index: i})
	}
	u := r.Usage
	evs = append(evs,
		Event{Type: EventMessageStop, StopReason: r.StopReason, Additional: r.Additional},
		Event{Type: EventMetadata, Usage: &u})
	return &SliceStream{Events: evs}
}

// SliceStream is a Stream over a fixed list of events, optionally ending
// with an error instead of io.EOF.
type SliceStream struct {
	Events []Event
	Err    error // returned after the events; io.EOF when nil
	i      int
}

// Next returns the next event.
func (s *SliceStream) Next() (Event, error) {
	if s.i < len(s.Events) {
		s.i++
		return s.Events[s.i-1], nil
	}
	if s.Err != nil {
		return Event{}, s.Err
	}
	return Event{}, io.EOF
}

// Close does nothing.
func (s *SliceStream) Close() error { return nil }
