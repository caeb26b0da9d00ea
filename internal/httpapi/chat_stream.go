package httpapi

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

// chatStream serves a streamed chat completion as server-sent events: one
// chat.completion.chunk per content delta, a chunk with finish_reason, a
// usage chunk when stream_options.include_usage is set, and "data: [DONE]".
// A failure after the first byte is sent in-band as a data line holding an
// {"error":…} object, which the OpenAI SDKs raise as an API error.
func (s *Server) chatStream(w http.ResponseWriter, r *http.Request, c *gateway.Call, cr *chatRequest) error {
	st, err := s.d.Gateway.Do(r.Context(), c)
	if err != nil {
		return err // nothing sent yet: a JSON error response
	}
	defer st.Close()
	h := w.Header()
	setServedHeaders(h, c.Served())
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sw := newChatSSE(w, s.d.Now, chatID(c), c.Received.Unix(), cr.name, cr.includeUsage)
	for {
		ev, err := st.Next()
		if errors.Is(err, io.EOF) {
			_ = sw.done()
			return nil
		}
		if err != nil {
			if r.Context().Err() == nil {
				_ = sw.fail(err)
			}
			return nil
		}
		if err := sw.event(ev); err != nil {
			return nil // the client stopped reading; Close cancels the upstream
		}
	}
}

// chatSSE renders neutral events as chat completion chunks.
type chatSSE struct {
	w            http.ResponseWriter
	rc           *http.ResponseController
	now          func() time.Time
	prefix       []byte // `data: {"id":…,"choices":[{"index":0,"delta":`
	includeUsage bool
	buf          []byte

	started   bool
	finished  bool        // finish_reason sent
	tools     map[int]int // neutral block index → tool_calls index
	toolCount int
}

func newChatSSE(w http.ResponseWriter, now func() time.Time, id string, created int64, model string, includeUsage bool) *chatSSE {
	p := make([]byte, 0, 160)
	p = append(p, `data: {"id":`...)
	p = appendJSONString(p, id)
	p = append(p, `,"object":"chat.completion.chunk","created":`...)
	p = strconv.AppendInt(p, created, 10)
	p = append(p, `,"model":`...)
	p = appendJSONString(p, model)
	p = append(p, `,"choices":[`...)
	return &chatSSE{w: w, rc: http.NewResponseController(w), now: now, prefix: p, includeUsage: includeUsage, buf: make([]byte, 0, 512)}
}

// begin starts a chunk whose single choice has the delta that follows.
func (s *chatSSE) begin() {
	s.buf = append(s.buf[:0], s.prefix...)
	s.buf = append(s.buf, `{"index":0,"delta":`...)
}

// end closes a chunk begun with begin, with finish_reason fr (null if "").
func (s *chatSSE) end(fr string) error {
	s.buf = append(s.buf, `,"logprobs":null,"finish_reason":`...)
	if fr == "" {
		s.buf = append(s.buf, "null"...)
	} else {
		s.buf = appendJSONString(s.buf, fr)
	}
	s.buf = append(s.buf, "}]"...)
	if s.includeUsage {
		s.buf = append(s.buf, `,"usage":null`...)
	}
	s.buf = append(s.buf, "}\n\n"...)
	return s.write()
}

func (s *chatSSE) write() error {
	_ = s.rc.SetWriteDeadline(s.now().Add(streamWriteTimeout))
	if _, err := s.w.Write(s.buf); err != nil {
		return err
	}
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	_ = s.rc.SetWriteDeadline(time.Time{})
	return nil
}

func (s *chatSSE) start() error {
	if s.started {
		return nil
	}
	s.started = true
	s.begin()
	s.buf = append(s.buf, `{"role":"assistant","content":""}`...)
	return s.end("")
}

// event renders one event; events with no chat completion counterpart
// (block stops, empty deltas) write nothing.
func (s *chatSSE) event(ev llm.Event) error {
	if err := s.start(); err != nil {
		return err
	}
	switch ev.Type {
	case llm.EventBlockStart:
		if ev.ToolUse != nil {
			return s.toolStart(ev.Index, ev.ToolUse.ID, ev.ToolUse.Name)
		}
	case llm.EventBlockDelta:
		if ev.Text == "" {
			return nil
		}
		switch ev.Delta {
		case llm.DeltaText:
			s.begin()
			s.buf = append(s.buf, `{"content":`...)
		case llm.DeltaReasoning:
			s.begin()
			s.buf = append(s.buf, `{"reasoning_content":`...)
		case llm.DeltaToolInput:
			k, ok := s.tools[ev.Index]
			if !ok { // a provider that skipped the block start
				if err := s.toolStart(ev.Index, "call_"+strconv.Itoa(ev.Index), ""); err != nil {
					return err
				}
				k = s.tools[ev.Index]
			}
			s.begin()
			s.buf = append(s.buf, `{"tool_calls":[{"index":`...)
			s.buf = strconv.AppendInt(s.buf, int64(k), 10)
			s.buf = append(s.buf, `,"function":{"arguments":`...)
			s.buf = appendJSONString(s.buf, ev.Text)
			s.buf = append(s.buf, "}}]}"...)
			return s.end("")
		default:
			return nil // signatures and redacted reasoning have no OpenAI form
		}
		s.buf = appendJSONString(s.buf, ev.Text)
		s.buf = append(s.buf, '}')
		return s.end("")
	case llm.EventMessageStop:
		s.finished = true
		s.begin()
		s.buf = append(s.buf, "{}"...)
		return s.end(finishReason(ev.StopReason))
	case llm.EventMetadata:
		if !s.includeUsage || ev.Usage == nil {
			return nil
		}
		u := chatUsage(*ev.Usage)
		s.buf = append(s.buf[:0], s.prefix...)
		s.buf = append(s.buf, `],"usage":{"prompt_tokens":`...)
		s.buf = strconv.AppendInt(s.buf, int64(u.PromptTokens), 10)
		s.buf = append(s.buf, `,"completion_tokens":`...)
		s.buf = strconv.AppendInt(s.buf, int64(u.CompletionTokens), 10)
		s.buf = append(s.buf, `,"total_tokens":`...)
		s.buf = strconv.AppendInt(s.buf, int64(u.TotalTokens), 10)
		s.buf = append(s.buf, `,"prompt_tokens_details":{"cached_tokens":`...)
		s.buf = strconv.AppendInt(s.buf, int64(u.PromptTokensDetails.CachedTokens), 10)
		s.buf = append(s.buf, `},"completion_tokens_details":{"reasoning_tokens":`...)
		s.buf = strconv.AppendInt(s.buf, int64(u.CompletionTokensDetails.ReasoningTokens), 10)
		s.buf = append(s.buf, "}}}\n\n"...)
		return s.write()
	}
	return nil
}

func (s *chatSSE) toolStart(block int, id, name string) error {
	if s.tools == nil {
		s.tools = map[int]int{}
	}
	k := s.toolCount
	s.toolCount++
	s.tools[block] = k
	s.begin()
	s.buf = append(s.buf, `{"tool_calls":[{"index":`...)
	s.buf = strconv.AppendInt(s.buf, int64(k), 10)
	s.buf = append(s.buf, `,"id":`...)
	s.buf = appendJSONString(s.buf, id)
	s.buf = append(s.buf, `,"type":"function","function":{"name":`...)
	s.buf = appendJSONString(s.buf, name)
	s.buf = append(s.buf, `,"arguments":""}}]}`...)
	return s.end("")
}

// done ends a complete stream.
func (s *chatSSE) done() error {
	if err := s.start(); err != nil {
		return err
	}
	if !s.finished { // a provider that ended without messageStop
		s.finished = true
		s.begin()
		s.buf = append(s.buf, "{}"...)
		if err := s.end("stop"); err != nil {
			return err
		}
	}
	s.buf = append(s.buf[:0], "data: [DONE]\n\n"...)
	return s.write()
}

// fail ends the stream with an in-band error.
func (s *chatSSE) fail(err error) error {
	e := llm.AsError(err)
	_, typ, code := openAIErrorShape(e)
	s.buf = append(s.buf[:0], `data: {"error":{"message":`...)
	s.buf = appendJSONString(s.buf, SafeMessage(e))
	s.buf = append(s.buf, `,"type":`...)
	s.buf = appendJSONString(s.buf, typ)
	s.buf = append(s.buf, `,"param":null,"code":`...)
	if code == "" {
		s.buf = append(s.buf, "null"...)
	} else {
		s.buf = appendJSONString(s.buf, code)
	}
	s.buf = append(s.buf, "}}\n\n"...)
	return s.write()
}
