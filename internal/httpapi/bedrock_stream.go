package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/outcrop/outcrop/internal/eventstream"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

// streamWriteTimeout bounds the write and flush of one event stream message;
// the deadline is lifted again between messages, so a slow model never
// trips it, only a client that stops reading.
var streamWriteTimeout = 30 * time.Second

// blockSequencer puts a provider's events into the order Bedrock clients
// rely on (bedrock-api.md §3.3): messageStart first; every content block
// opened by a start (emitted for every block, renderers drop the ones their
// wire format leaves implicit), fed deltas, and closed by exactly one stop
// before the next block opens; block indexes renumbered 0, 1, 2, … in
// order; messageStop once, after the last block; metadata last. Empty text
// deltas are dropped. It forgives providers that forget starts or stops.
type blockSequencer struct {
	started bool
	stopped bool // messageStop sent
	done    bool // metadata sent

	open     bool
	openSrc  int // the provider's index of the open block
	openOut  int // its index on the wire
	openKind llm.BlockKind
	next     int
}

// seqEmit receives a sequenced event; kind is the kind of block for block
// events.
type seqEmit func(ev llm.Event, kind llm.BlockKind) error

func deltaBlockKind(d llm.DeltaKind) llm.BlockKind {
	switch d {
	case llm.DeltaToolInput:
		return llm.KindToolUse
	case llm.DeltaReasoning, llm.DeltaReasoningSignature, llm.DeltaReasoningRedacted:
		return llm.KindReasoning
	}
	return llm.KindText
}

func (q *blockSequencer) feed(ev llm.Event, emit seqEmit) error {
	if q.done {
		return nil
	}
	if !q.started {
		q.started = true
		if err := emit(llm.Event{Type: llm.EventMessageStart}, 0); err != nil {
			return err
		}
		if ev.Type == llm.EventMessageStart {
			return nil
		}
	}
	switch ev.Type {
	case llm.EventBlockStart:
		if q.stopped || (q.open && q.openSrc == ev.Index) {
			return nil
		}
		tu := ev.ToolUse
		if tu == nil {
			tu = &llm.ToolUse{}
		}
		return q.openBlock(ev.Index, llm.KindToolUse, tu, emit)
	case llm.EventBlockDelta:
		if q.stopped || (ev.Delta == llm.DeltaText && ev.Text == "") {
			return nil
		}
		if !q.open || q.openSrc != ev.Index {
			if err := q.openBlock(ev.Index, deltaBlockKind(ev.Delta), nil, emit); err != nil {
				return err
			}
		}
		ev.Index = q.openOut
		return emit(ev, q.openKind)
	case llm.EventBlockStop:
		if q.open && q.openSrc == ev.Index {
			return q.closeBlock(emit)
		}
	case llm.EventMessageStop:
		if q.stopped {
			return nil
		}
		if err := q.closeBlock(emit); err != nil {
			return err
		}
		q.stopped = true
		if ev.StopReason == "" {
			ev.StopReason = llm.StopEndTurn
		}
		return emit(ev, 0)
	case llm.EventMetadata:
		if err := q.feed(llm.Event{Type: llm.EventMessageStop, StopReason: llm.StopEndTurn}, emit); err != nil {
			return err
		}
		q.done = true
		return emit(ev, 0)
	}
	return nil
}

// finish completes a stream that ended without a metadata event; meta is
// the metadata to send.
func (q *blockSequencer) finish(meta llm.Event, emit seqEmit) error {
	if q.done {
		return nil
	}
	meta.Type = llm.EventMetadata
	return q.feed(meta, emit)
}

func (q *blockSequencer) openBlock(src int, kind llm.BlockKind, tu *llm.ToolUse, emit seqEmit) error {
	if err := q.closeBlock(emit); err != nil {
		return err
	}
	q.open, q.openSrc, q.openOut, q.openKind = true, src, q.next, kind
	q.next++
	if kind == llm.KindToolUse && tu == nil {
		tu = &llm.ToolUse{}
	}
	if tu != nil && tu.ID == "" {
		c := *tu
		c.ID = "tooluse_" + strconv.Itoa(q.openOut)
		tu = &c
	}
	return emit(llm.Event{Type: llm.EventBlockStart, Index: q.openOut, ToolUse: tu}, kind)
}

func (q *blockSequencer) closeBlock(emit seqEmit) error {
	if !q.open {
		return nil
	}
	q.open = false
	return emit(llm.Event{Type: llm.EventBlockStop, Index: q.openOut}, q.openKind)
}

// eventWriter writes AWS event stream messages to an HTTP response, one
// flush per message, with a write deadline around each.
type eventWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	now   func() time.Time
	frame []byte
	msg   eventstream.Message
	event eventstream.Headers
	exc   eventstream.Headers
}

func newEventWriter(w http.ResponseWriter, now func() time.Time) *eventWriter {
	return &eventWriter{
		w:     w,
		rc:    http.NewResponseController(w),
		now:   now,
		frame: make([]byte, 0, 512),
		// Header order as the AWS SDK encoder writes them (bedrock-api.md §2.3).
		event: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.String("")},
			{Name: ":content-type", Value: eventstream.String("application/json")},
			{Name: ":message-type", Value: eventstream.String("event")},
		},
		exc: eventstream.Headers{
			{Name: ":exception-type", Value: eventstream.String("")},
			{Name: ":content-type", Value: eventstream.String("application/json")},
			{Name: ":message-type", Value: eventstream.String("exception")},
		},
	}
}

// start sends the status line and headers of an event stream response.
func (e *eventWriter) start() {
	h := e.w.Header()
	h.Set("Content-Type", "application/vnd.amazon.eventstream")
	h.Del("Content-Length")
	e.w.WriteHeader(http.StatusOK)
}

// Event writes one event of the stream union member typ.
func (e *eventWriter) Event(typ string, payload []byte) error {
	e.event[0].Value.Str = typ
	e.msg = eventstream.Message{Headers: e.event, Payload: payload}
	return e.write()
}

// Exception writes a modeled exception (typ is the camelCase member name)
// that ends the stream.
func (e *eventWriter) Exception(typ string, payload []byte) error {
	e.exc[0].Value.Str = typ
	e.msg = eventstream.Message{Headers: e.exc, Payload: payload}
	return e.write()
}

func (e *eventWriter) write() error {
	var err error
	e.frame, err = eventstream.Append(e.frame[:0], &e.msg)
	if err != nil {
		return err
	}
	// Deadlines and flushing are best effort on writers that do not
	// support them (ErrNotSupported); a failed Write is what counts.
	_ = e.rc.SetWriteDeadline(e.now().Add(streamWriteTimeout))
	if _, err := e.w.Write(e.frame); err != nil {
		return err
	}
	if err := e.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	_ = e.rc.SetWriteDeadline(time.Time{})
	return nil
}

// pumpEvents is the read loop of ConverseStream and
// InvokeModelWithResponseStream: it feeds st's events through q to emit
// (the API's rendering) until the stream ends, then sends the final
// metadata (latency since received, what served the call). A failure after
// the stream began becomes the API's exception event (modelTimeout: a
// timeout is ModelTimeoutException, as InvokeModel reports it), unless the
// client has gone; a client that stops reading ends the loop, and the
// caller's Close of st cancels the upstream.
func (s *Server) pumpEvents(r *http.Request, c *gateway.Call, st llm.Stream, ew *eventWriter, q *blockSequencer, emit seqEmit, received time.Time, modelTimeout bool) {
	for {
		ev, err := st.Next()
		if errors.Is(err, io.EOF) {
			sv := c.Served()
			_ = q.finish(llm.Event{Metrics: &llm.Metrics{LatencyMs: s.d.Now().Sub(received).Milliseconds()}, Served: &sv}, emit)
			return
		}
		if err != nil {
			if r.Context().Err() == nil {
				typ, p := streamException(err, modelTimeout)
				_ = ew.Exception(typ, p)
			}
			return
		}
		if err := q.feed(ev, emit); err != nil {
			return
		}
	}
}

// streamException returns the exception member name and payload for an
// error that ends a stream. modelTimeout says whether the stream's union
// has modelTimeoutException (InvokeModelWithResponseStream does,
// ConverseStream does not).
func streamException(err error, modelTimeout bool) (string, []byte) {
	e := llm.AsError(err)
	body := map[string]any{"message": SafeMessage(e)}
	typ := "internalServerException"
	switch e.Kind {
	case llm.KindValidation:
		typ = "validationException"
	case llm.KindThrottled, llm.KindModelNotReady, llm.KindQuotaExceeded:
		typ = "throttlingException"
	case llm.KindUnavailable:
		typ = "serviceUnavailableException"
	case llm.KindTimeout:
		if modelTimeout {
			typ = "modelTimeoutException"
			break
		}
		typ = "modelStreamErrorException"
		body["originalStatusCode"] = http.StatusRequestTimeout
		body["originalMessage"] = SafeMessage(e)
	case llm.KindModelError:
		typ = "modelStreamErrorException"
		if e.UpstreamStatus != 0 {
			body["originalStatusCode"] = e.UpstreamStatus
		}
		body["originalMessage"] = SafeMessage(e)
	}
	b, _ := json.Marshal(body)
	return typ, b
}

// appendJSONString appends s as a JSON string literal. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
