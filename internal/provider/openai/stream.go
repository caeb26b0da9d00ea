package openai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// maxLine bounds one SSE line; a chunk larger than this is malformed.
const maxLine = 4 << 20

// stream reads an SSE chat completion and yields llm events. It is used by
// one goroutine at a time, as llm.Stream requires.
type stream struct {
	ctx    context.Context    // the caller's; it classifies read errors
	cancel context.CancelFunc // ends the upstream request
	detach func() bool        // stops ctx from ending the upstream request
	body   io.ReadCloser
	r      *bufio.Reader
	t      translator
	err    error // sticky: returned by every Next once set
	closed bool
}

func newStream(ctx context.Context, cancel context.CancelFunc, body io.ReadCloser, req *llm.Request, splitThink bool) *stream {
	// SSE chunks are usually well under 1 KB; longer lines take readLine's
	// slower path. A small buffer keeps open streams cheap (docs/PERFORMANCE.md).
	s := &stream{ctx: ctx, cancel: cancel, body: body, r: bufio.NewReaderSize(body, 2<<10)}
	s.t.init(req, splitThink)
	return s
}

// Next returns the next event, reading SSE lines until a chunk yields one.
func (s *stream) Next() (llm.Event, error) {
	for {
		if ev, ok := s.t.pop(); ok {
			return ev, nil
		}
		if s.err != nil {
			return llm.Event{}, s.err
		}
		line, err := s.readLine()
		if err != nil {
			s.fail(err)
			continue
		}
		data, ok := sseData(line)
		if !ok {
			continue
		}
		if bytes.Equal(data, doneMarker) {
			s.t.finish()
			s.err = io.EOF
			continue
		}
		if err := s.t.chunk(data); err != nil {
			s.err = err
			s.cancel()
		}
	}
}

// fail handles a read error: the end of the body finishes the stream if the
// upstream had finished its answer; anything else is an error.
func (s *stream) fail(err error) {
	defer s.cancel()
	if errors.Is(err, io.EOF) && s.t.finishReason != "" {
		// Some servers close without "data: [DONE]" after the last chunk.
		s.t.finish()
		s.err = io.EOF
		return
	}
	if s.closed {
		s.err = &llm.Error{Kind: llm.KindCanceled, Message: "request canceled", Err: llm.ErrCanceled}
		return
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	s.err = streamError(s.ctx, err)
}

func (s *stream) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if err == nil || (errors.Is(err, io.EOF) && len(line) > 0) {
		return line, nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	// A line longer than the buffer: collect it, up to maxLine.
	buf := append([]byte(nil), line...)
	for {
		line, err = s.r.ReadSlice('\n')
		buf = append(buf, line...)
		if len(buf) > maxLine {
			return nil, &llm.Error{Kind: llm.KindModelError, Message: "The upstream sent a malformed stream.", Err: errors.New("SSE line too long")}
		}
		if err == nil || (errors.Is(err, io.EOF) && len(line) > 0) {
			return buf, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
}

// Close cancels the upstream request and releases the connection. After a
// complete answer the rest of the body (normally just the end of the
// chunked encoding) is read in the background, detached from the caller's
// context, so that the connection goes back to the pool; that goroutine
// ends at the body's end or, at the latest, when the timer cancels the
// request.
func (s *stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if errors.Is(s.err, io.EOF) && s.t.finished && (s.detach == nil || s.detach()) {
		timer := time.AfterFunc(drainWait, s.cancel)
		go func() {
			io.Copy(io.Discard, io.LimitReader(s.r, 64<<10))
			s.body.Close()
			timer.Stop()
			s.cancel()
		}()
		return nil
	}
	if s.detach != nil {
		s.detach()
	}
	s.cancel()
	return s.body.Close()
}

// drainWait is how long the end of a finished answer's body may take
// before the connection is given up.
const drainWait = time.Second

var (
	dataPrefix = []byte("data:")
	doneMarker = []byte("[DONE]")
)

// sseData returns the payload of a "data:" line. Comments, event names,
// ids and blank lines carry nothing for chat completions.
func sseData(line []byte) ([]byte, bool) {
	line = bytes.TrimRight(line, "\r\n")
	if !bytes.HasPrefix(line, dataPrefix) {
		return nil, false
	}
	line = line[len(dataPrefix):]
	if len(line) > 0 && line[0] == ' ' {
		line = line[1:]
	}
	return line, len(line) > 0
}

// blockKind is what the open content block holds.
type blockKind uint8

const (
	blockNone blockKind = iota
	blockText
	blockReasoning
	blockTool
)

// translator turns chunks into events. It keeps one content block open at a
// time: a delta of another kind closes it and opens the next index, so
// indexes rise in the order blocks appear (reasoning, text, tools).
type translator struct {
	req        *llm.Request
	splitThink bool
	think      thinkSplitter

	queue   []llm.Event
	head    int
	started bool

	open      blockKind
	index     int            // index of the open block; next block is index+1
	toolBlock map[int]int    // upstream tool_call index → block index
	toolIDs   map[int]string // upstream tool_call index → its id

	// cut is a run of U+FFFD that ended the text so far. Servers that
	// detokenize without holding back an incomplete UTF-8 sequence (vLLM)
	// send U+FFFD for a character cut by max_tokens: cut is dropped if the
	// answer ends there for that reason, released before anything else.
	cut string

	finishReason string
	vllmStop     json.RawMessage
	usage        *llm.Usage
	sawTool      bool
	finished     bool
}

func (t *translator) init(req *llm.Request, splitThink bool) {
	t.req = req
	t.splitThink = splitThink
	t.index = -1
	t.queue = make([]llm.Event, 0, 8)
}

func (t *translator) push(ev llm.Event) { t.queue = append(t.queue, ev) }

func (t *translator) pop() (llm.Event, bool) {
	if t.head < len(t.queue) {
		ev := t.queue[t.head]
		t.queue[t.head] = llm.Event{}
		t.head++
		if t.head == len(t.queue) {
			t.queue, t.head = t.queue[:0], 0
		}
		return ev, true
	}
	return llm.Event{}, false
}

func (t *translator) start() {
	if !t.started {
		t.started = true
		t.push(llm.Event{Type: llm.EventMessageStart})
	}
}

// chunk translates one data payload.
func (t *translator) chunk(data []byte) error {
	var c chunk
	if err := json.Unmarshal(data, &c); err != nil {
		return &llm.Error{Kind: llm.KindModelError, Message: "The upstream sent a malformed stream chunk.", Err: err}
	}
	if len(c.Error) > 0 && string(c.Error) != "null" {
		return &llm.Error{Kind: llm.KindModelError, Message: "The upstream failed during the stream.", Err: errorFromBody(c.Error)}
	}
	t.start()
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue // n > 1 is never requested
		}
		t.delta(&ch.Delta)
		if ch.FinishReason != "" {
			t.finishReason = ch.FinishReason
			t.vllmStop = ch.StopReason
		}
	}
	if c.Usage != nil {
		u := c.Usage.neutral()
		t.usage = &u
	}
	return nil
}

func (t *translator) delta(d *delta) {
	if r := d.ReasoningContent; r != "" {
		t.emit(llm.DeltaReasoning, r)
	} else if r := d.Reasoning; r != "" {
		t.emit(llm.DeltaReasoning, r)
	}
	content := d.Content
	if content == "" {
		content = d.Refusal
	}
	if content != "" {
		if t.splitThink {
			t.think.feed(content, t.emit)
		} else {
			t.emit(llm.DeltaText, content)
		}
	}
	for i := range d.ToolCalls {
		t.toolDelta(&d.ToolCalls[i])
	}
}

// emit adds a text or reasoning delta, opening a block of that kind if the
// open one is of another kind. Text ending in U+FFFD keeps that end back
// until more output shows it was not a cut character (see cut).
func (t *translator) emit(kind llm.DeltaKind, s string) {
	if kind == llm.DeltaText {
		s = t.cut + s
		kept := strings.TrimRight(s, "\uFFFD")
		t.cut = s[len(kept):]
		if s = kept; s == "" {
			return
		}
	} else {
		t.releaseCut()
	}
	t.emitNow(kind, s)
}

// releaseCut emits the held U+FFFD run: more output followed it.
func (t *translator) releaseCut() {
	if t.cut != "" {
		s := t.cut
		t.cut = ""
		t.emitNow(llm.DeltaText, s)
	}
}

func (t *translator) emitNow(kind llm.DeltaKind, s string) {
	want := blockText
	if kind == llm.DeltaReasoning {
		want = blockReasoning
		if t.open == blockNone && t.think.state == thinkDetect {
			// Reasoning arrived as its own field: the answer text that
			// follows cannot carry a <think> prefix as well.
			t.think.state = thinkText
		}
	}
	if t.open != want {
		t.closeBlock()
		t.open = want
		t.index++
	}
	t.push(llm.Event{Type: llm.EventBlockDelta, Index: t.index, Delta: kind, Text: s})
}

func (t *translator) toolDelta(tc *toolCall) {
	up := 0
	if tc.Index != nil {
		up = *tc.Index
	}
	t.sawTool = true
	t.releaseCut()
	bi, seen := t.toolBlock[up]
	// A new id under a known index is a new call: some servers number
	// every call 0.
	if !seen || (tc.ID != "" && tc.ID != t.toolIDs[up]) {
		// Text held back by the think splitter belongs before the tool.
		t.think.flush(t.emit)
		t.closeBlock()
		t.index++
		bi = t.index
		if t.toolBlock == nil {
			t.toolBlock, t.toolIDs = map[int]int{}, map[int]string{}
		}
		id := tc.ID
		if id == "" {
			id = syntheticToolID(bi)
		}
		t.toolBlock[up] = bi
		t.toolIDs[up] = tc.ID
		t.open = blockTool
		t.push(llm.Event{Type: llm.EventBlockStart, Index: bi, ToolUse: &llm.ToolUse{ID: id, Name: tc.Function.Name}})
	}
	if a := tc.Function.Arguments; a != "" {
		// Servers stream one tool call after another; a fragment for an
		// earlier call (never seen in practice) still goes to its block.
		t.push(llm.Event{Type: llm.EventBlockDelta, Index: bi, Delta: llm.DeltaToolInput, Text: a})
	}
}

func (t *translator) closeBlock() {
	if t.open != blockNone {
		t.push(llm.Event{Type: llm.EventBlockStop, Index: t.index})
		t.open = blockNone
	}
}

// finish closes the message: held-back text, the open block, the stop
// reason and the usage.
func (t *translator) finish() {
	if t.finished {
		return
	}
	t.finished = true
	t.start()
	if t.splitThink {
		t.think.flush(t.emit)
	}
	sr := stopReason(t.finishReason, t.vllmStop, t.req)
	if sr != llm.StopMaxTokens {
		t.releaseCut()
	}
	t.closeBlock()
	if sr == llm.StopEndTurn && t.sawTool {
		sr = llm.StopToolUse
	}
	t.push(llm.Event{Type: llm.EventMessageStop, StopReason: sr})
	u := t.usage
	if u == nil {
		u = &llm.Usage{}
	}
	t.push(llm.Event{Type: llm.EventMetadata, Usage: u})
}
