package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/outcrop/outcrop/internal/llm"
)

// converse serves POST /model/{modelId}/converse.
func (s *Server) converse(w http.ResponseWriter, r *http.Request) error {
	received := s.d.Now()
	id, req, err := s.converseRequest(r, false)
	if err != nil {
		return err
	}
	c := s.bedrockCall(r.Context(), "Converse", id, req, false)
	c.Received = received
	resp, err := s.d.Gateway.Converse(r.Context(), c)
	if err != nil {
		return err
	}
	setServedHeaders(w.Header(), resp.Served)
	return WriteJSON(w, http.StatusOK, converseResponse(resp))
}

// converseRequest decodes a Converse/ConverseStream request; a modelId that
// is a prompt ARN is resolved through prompt management (prompt.go).
func (s *Server) converseRequest(r *http.Request, stream bool) (string, *llm.Request, error) {
	if id := r.PathValue("modelId"); isPromptARN(id) {
		body, err := s.a.ReadBody(r)
		if err != nil {
			return "", nil, err
		}
		return s.promptConverse(r, id, body, stream)
	}
	id, _, err := s.bedrockModel(r)
	if err != nil {
		return "", nil, err
	}
	body, err := s.a.ReadBody(r)
	if err != nil {
		return "", nil, err
	}
	req, err := decodeConverse(body, id, stream)
	return id, req, err
}

// converseStream serves POST /model/{modelId}/converse-stream.
func (s *Server) converseStream(w http.ResponseWriter, r *http.Request) error {
	received := s.d.Now()
	id, req, err := s.converseRequest(r, true)
	if err != nil {
		return err
	}
	c := s.bedrockCall(r.Context(), "ConverseStream", id, req, true)
	c.Received = received
	st, err := s.d.Gateway.Do(r.Context(), c)
	if err != nil {
		return err // nothing sent yet: a JSON error response
	}
	defer st.Close()
	setServedHeaders(w.Header(), c.Served())
	ew := newEventWriter(w, s.d.Now)
	ew.start()
	var (
		q       blockSequencer
		payload = make([]byte, 0, 256)
	)
	emit := func(ev llm.Event, kind llm.BlockKind) error {
		typ, p := converseEvent(payload[:0], ev, kind)
		if typ == "" {
			return nil
		}
		payload = p
		return ew.Event(typ, p)
	}
	s.pumpEvents(r, c, st, ew, &q, emit, received, false)
	return nil
}

// converseEvent renders a sequenced event as a ConverseStream union member
// (bedrock-api.md §3.3), appending its JSON payload to dst. It returns an
// empty type for events the wire format leaves implicit.
func converseEvent(dst []byte, ev llm.Event, kind llm.BlockKind) (string, []byte) {
	switch ev.Type {
	case llm.EventMessageStart:
		return "messageStart", append(dst, `{"role":"assistant"}`...)
	case llm.EventBlockStart:
		if kind != llm.KindToolUse || ev.ToolUse == nil {
			return "", dst // text and reasoning blocks start with their first delta
		}
		dst = append(dst, `{"contentBlockIndex":`...)
		dst = strconv.AppendInt(dst, int64(ev.Index), 10)
		dst = append(dst, `,"start":{"toolUse":{"toolUseId":`...)
		dst = appendJSONString(dst, ev.ToolUse.ID)
		dst = append(dst, `,"name":`...)
		dst = appendJSONString(dst, ev.ToolUse.Name)
		return "contentBlockStart", append(dst, `}}}`...)
	case llm.EventBlockDelta:
		dst = append(dst, `{"contentBlockIndex":`...)
		dst = strconv.AppendInt(dst, int64(ev.Index), 10)
		switch ev.Delta {
		case llm.DeltaToolInput:
			dst = append(dst, `,"delta":{"toolUse":{"input":`...)
			dst = appendJSONString(dst, ev.Text)
			dst = append(dst, '}')
		case llm.DeltaReasoning:
			dst = append(dst, `,"delta":{"reasoningContent":{"text":`...)
			dst = appendJSONString(dst, ev.Text)
			dst = append(dst, '}')
		case llm.DeltaReasoningSignature:
			dst = append(dst, `,"delta":{"reasoningContent":{"signature":`...)
			dst = appendJSONString(dst, ev.Text)
			dst = append(dst, '}')
		case llm.DeltaReasoningRedacted:
			dst = append(dst, `,"delta":{"reasoningContent":{"redactedContent":"`...)
			dst = base64.StdEncoding.AppendEncode(dst, ev.Redacted)
			dst = append(dst, `"}`...)
		default:
			dst = append(dst, `,"delta":{"text":`...)
			dst = appendJSONString(dst, ev.Text)
		}
		return "contentBlockDelta", append(dst, `}}`...)
	case llm.EventBlockStop:
		dst = append(dst, `{"contentBlockIndex":`...)
		dst = strconv.AppendInt(dst, int64(ev.Index), 10)
		return "contentBlockStop", append(dst, '}')
	case llm.EventMessageStop:
		dst = append(dst, `{"stopReason":`...)
		dst = appendJSONString(dst, string(ev.StopReason))
		if isJSONObject(ev.Additional) {
			dst = append(dst, `,"additionalModelResponseFields":`...)
			dst = append(dst, ev.Additional...)
		}
		return "messageStop", append(dst, '}')
	case llm.EventMetadata:
		m := metadataWire{Usage: usageOf(ev.Usage), Metrics: metricsWire{}}
		if ev.Metrics != nil {
			m.Metrics.LatencyMs = ev.Metrics.LatencyMs
		}
		if ev.Served != nil && ev.Served.Profile != "" {
			m.PerformanceConfig = &performanceWire{Latency: string(ev.Served.Profile)}
		}
		m.Trace = traceOf(ev.Trace)
		b, err := json.Marshal(m)
		if err != nil {
			b, _ = json.Marshal(metadataWire{Usage: m.Usage, Metrics: m.Metrics, PerformanceConfig: m.PerformanceConfig})
		}
		return "metadata", append(dst, b...)
	}
	return "", dst
}

// Converse response shapes (bedrock-api.md §3.2).
type (
	converseResponseWire struct {
		Output                        outputWire                 `json:"output"`
		StopReason                    string                     `json:"stopReason"`
		Usage                         usageWire                  `json:"usage"`
		Metrics                       metricsWire                `json:"metrics"`
		AdditionalModelResponseFields json.RawMessage            `json:"additionalModelResponseFields,omitempty"`
		Trace                         map[string]json.RawMessage `json:"trace,omitempty"`
		PerformanceConfig             *performanceWire           `json:"performanceConfig,omitempty"`
	}
	outputWire struct {
		Message messageOutWire `json:"message"`
	}
	messageOutWire struct {
		Role    string           `json:"role"`
		Content []contentOutWire `json:"content"`
	}
	contentOutWire struct {
		Text             *string         `json:"text,omitempty"`
		ToolUse          *toolUseOutWire `json:"toolUse,omitempty"`
		ReasoningContent *reasoningWire  `json:"reasoningContent,omitempty"`
		Image            *imageOutWire   `json:"image,omitempty"`
	}
	toolUseOutWire struct {
		ToolUseID string          `json:"toolUseId"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
	}
	reasoningWire struct {
		ReasoningText   *reasoningTextWire `json:"reasoningText,omitempty"`
		RedactedContent []byte             `json:"redactedContent,omitempty"`
	}
	reasoningTextWire struct {
		Text      string `json:"text"`
		Signature string `json:"signature,omitempty"`
	}
	imageOutWire struct {
		Format string `json:"format"`
		Source struct {
			Bytes []byte `json:"bytes"`
		} `json:"source"`
	}
	usageWire struct {
		InputTokens           int `json:"inputTokens"`
		OutputTokens          int `json:"outputTokens"`
		TotalTokens           int `json:"totalTokens"`
		CacheReadInputTokens  int `json:"cacheReadInputTokens,omitempty"`
		CacheWriteInputTokens int `json:"cacheWriteInputTokens,omitempty"`
	}
	metricsWire struct {
		LatencyMs int64 `json:"latencyMs"`
	}
	performanceWire struct {
		Latency string `json:"latency"`
	}
	metadataWire struct {
		Usage             usageWire                  `json:"usage"`
		Metrics           metricsWire                `json:"metrics"`
		Trace             map[string]json.RawMessage `json:"trace,omitempty"`
		PerformanceConfig *performanceWire           `json:"performanceConfig,omitempty"`
	}
)

func usageOf(u *llm.Usage) usageWire {
	if u == nil {
		return usageWire{}
	}
	return usageWire{
		InputTokens:           u.InputTokens,
		OutputTokens:          u.OutputTokens,
		TotalTokens:           u.Total(),
		CacheReadInputTokens:  u.CacheReadInputTokens,
		CacheWriteInputTokens: u.CacheWriteInputTokens,
	}
}

// traceOf keeps the trace members that are valid JSON objects.
func traceOf(t map[string]json.RawMessage) map[string]json.RawMessage {
	var out map[string]json.RawMessage
	for k, v := range t {
		if !isJSONObject(v) {
			continue
		}
		if out == nil {
			out = make(map[string]json.RawMessage, len(t))
		}
		out[k] = v
	}
	return out
}

func isJSONObject(b json.RawMessage) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return json.Valid(b)
		}
		return false
	}
	return false
}

// converseResponse renders a complete response. A tool use whose input the
// model left as invalid JSON is sent with an empty input and the
// malformed_tool_use stop reason.
func converseResponse(r *llm.Response) *converseResponseWire {
	out := &converseResponseWire{
		Output:     outputWire{Message: messageOutWire{Role: "assistant", Content: []contentOutWire{}}},
		StopReason: string(r.StopReason),
		Usage:      usageOf(&r.Usage),
		Metrics:    metricsWire{LatencyMs: r.Metrics.LatencyMs},
		Trace:      traceOf(r.Trace),
	}
	if out.StopReason == "" {
		out.StopReason = string(llm.StopEndTurn)
	}
	if isJSONObject(r.Additional) {
		out.AdditionalModelResponseFields = r.Additional
	}
	if r.Served.Profile != "" {
		out.PerformanceConfig = &performanceWire{Latency: string(r.Served.Profile)}
	}
	for _, b := range r.Message.Content {
		var c contentOutWire
		switch b.Kind {
		case llm.KindText:
			t := b.Text
			c.Text = &t
		case llm.KindToolUse:
			in := b.ToolUse.Input
			if !json.Valid(in) {
				in = json.RawMessage(`{}`)
				out.StopReason = "malformed_tool_use"
			}
			c.ToolUse = &toolUseOutWire{ToolUseID: b.ToolUse.ID, Name: b.ToolUse.Name, Input: in}
		case llm.KindReasoning:
			if len(b.Reasoning.Redacted) > 0 {
				c.ReasoningContent = &reasoningWire{RedactedContent: b.Reasoning.Redacted}
			} else {
				c.ReasoningContent = &reasoningWire{ReasoningText: &reasoningTextWire{Text: b.Reasoning.Text, Signature: b.Reasoning.Signature}}
			}
		case llm.KindImage:
			c.Image = &imageOutWire{Format: b.Image.Format}
			c.Image.Source.Bytes = b.Image.Bytes
		default:
			continue
		}
		out.Output.Message.Content = append(out.Output.Message.Content, c)
	}
	return out
}
