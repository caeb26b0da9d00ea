package kb

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

// Streamer is the streaming side of the model gateway
// (gateway.Gateway.Do), which RetrieveAndGenerateStream needs.
type Streamer interface {
	Do(ctx context.Context, c *gateway.Call) (llm.Stream, error)
}

// RAGEvent is one event of RetrieveAndGenerateStream: exactly one member is
// set.
type RAGEvent struct {
	// Output is a piece of the generated text (the output event).
	Output *string
	// Citation cites a sentence of the text generated so far (the citation
	// event), as soon as the sentence is complete.
	Citation *Citation
	// Guardrail is the guardrail event's action, INTERVENED, when a
	// guardrail stopped the answer.
	Guardrail string
}

// RAGStream is a RetrieveAndGenerateStream turn. It is pull-style: Next
// returns events until io.EOF; Close ends the model call. One goroutine uses
// it at a time.
type RAGStream struct {
	// SessionID is the turn's session: the request's, or a new one (created
	// before the first event, so the response header can carry it).
	SessionID string

	s       *Service
	ctx     context.Context
	p       *ragCall
	st      llm.Stream
	words   []map[string]bool
	answer  strings.Builder
	cited   int // sentences of answer already considered for citations
	pending []RAGEvent
	stop    llm.StopReason
	done    bool
}

// RetrieveAndGenerateStream is RetrieveAndGenerate with the answer streamed:
// output events as the model writes, a citation event for each cited
// sentence once it is complete, and a guardrail event when a guardrail
// intervened. The model is asked through the gateway's streaming call, so
// policy, quotas, guardrails and routing apply as to ConverseStream. The
// turn is saved to the session when the stream ends.
func (s *Service) RetrieveAndGenerateStream(ctx context.Context, in *RAGInput) (*RAGStream, error) {
	streamer, ok := s.Models.(Streamer)
	if !ok && s.Models != nil {
		return nil, llm.Errorf(llm.KindUnavailable, "the model gateway cannot stream")
	}
	p, err := s.prepareRAG(ctx, in)
	if err != nil {
		return nil, err
	}
	if p.sess == nil {
		// Create the session now: its id goes out before the answer.
		if _, err := s.saveTurnSession(ctx, p); err != nil {
			return nil, err
		}
	}
	p.call.Op, p.call.Action, p.call.Stream = "ConverseStream", "bedrock:InvokeModelWithResponseStream", true
	st, err := streamer.Do(ctx, p.call)
	if err != nil {
		return nil, err
	}
	return &RAGStream{SessionID: p.sessionID, s: s, ctx: ctx, p: p, st: st, words: refWords(p.refs)}, nil
}

// Next returns the next event, or io.EOF after the last.
func (r *RAGStream) Next() (RAGEvent, error) {
	for len(r.pending) == 0 {
		if r.done {
			return RAGEvent{}, io.EOF
		}
		if err := r.pull(); err != nil {
			return RAGEvent{}, err
		}
	}
	ev := r.pending[0]
	r.pending = r.pending[1:]
	return ev, nil
}

// pull reads one model event and queues what it produces.
func (r *RAGStream) pull() error {
	ev, err := r.st.Next()
	if errors.Is(err, io.EOF) {
		r.done = true
		r.citeUpTo(true)
		if r.stop == llm.StopGuardrailIntervened || r.stop == llm.StopContentFiltered {
			r.pending = append(r.pending, RAGEvent{Guardrail: "INTERVENED"})
		}
		if _, err := r.s.saveTurn(context.WithoutCancel(r.ctx), r.p, r.answer.String()); err != nil {
			return err
		}
		return nil
	}
	if err != nil {
		return err
	}
	switch ev.Type {
	case llm.EventBlockDelta:
		if ev.Delta == llm.DeltaText && ev.Text != "" {
			r.answer.WriteString(ev.Text)
			text := ev.Text
			r.pending = append(r.pending, RAGEvent{Output: &text})
			r.citeUpTo(false)
		}
	case llm.EventMessageStop:
		r.stop = ev.StopReason
	}
	return nil
}

// citeUpTo queues the citations of the sentences completed so far (all of
// them at the end of the answer; the last one may still grow otherwise).
func (r *RAGStream) citeUpTo(final bool) {
	answer := r.answer.String()
	sents := sentences(answer)
	n := len(sents)
	if !final {
		n-- // the last sentence may still grow
	}
	for ; r.cited < n; r.cited++ {
		if c, ok := citeSentence(answer, sents[r.cited], r.p.refs, r.words); ok {
			r.pending = append(r.pending, RAGEvent{Citation: &c})
		}
	}
}

// Close ends the model call.
func (r *RAGStream) Close() error { return r.st.Close() }

// saveTurnSession creates p's session without a turn.
func (s *Service) saveTurnSession(ctx context.Context, p *ragCall) (string, error) {
	p.sess = &sessionBody{KnowledgeBaseID: p.kbID}
	it, err := s.Store.Create(ctx, resourceKeySession(p.acct), "", "", p.sess)
	if err != nil {
		return "", err
	}
	p.sessionID = it.ID
	return it.ID, nil
}
