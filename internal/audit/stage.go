package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
)

// Stage fills the request's audit entry from the call: operation, model,
// resource, a prompt excerpt (masked later, before it is written), the
// exception name of a failure, and the token usage reported at the end of
// the stream. Place it first in the pipeline so that it sees refusals by
// later stages.
type Stage struct{}

// Name implements gateway.Stage.
func (Stage) Name() string { return "audit" }

// Wrap implements gateway.Stage.
func (Stage) Wrap(next gateway.Handler) gateway.Handler {
	return func(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
		e := From(ctx)
		if e == nil {
			return next(ctx, c)
		}
		e.Update(func(e *Entry) {
			e.Operation = c.Op
			if c.API != "" {
				e.API = c.API
			}
			if e.Resource == "" {
				e.Resource = c.Resource
			}
			e.Model = c.Model
			if c.Request != nil {
				if e.Model == "" {
					e.Model = c.Request.Model
				}
				e.Prompt = promptText(c.Request, 4096)
			}
		})
		s, err := next(ctx, c)
		if err != nil {
			e.Update(func(e *Entry) { e.ErrorCode = llm.AsError(err).Name() })
			return nil, err
		}
		return &usageStream{Stream: s, e: e}, nil
	}
}

var _ gateway.Stage = Stage{}

// usageStream copies the usage of the metadata event into the entry.
type usageStream struct {
	llm.Stream
	e *Entry
}

func (s *usageStream) Next() (llm.Event, error) {
	ev, err := s.Stream.Next()
	if err == nil && ev.Type == llm.EventMetadata && ev.Usage != nil {
		u := *ev.Usage
		s.e.Update(func(e *Entry) { e.InputTokens, e.OutputTokens = u.InputTokens, u.OutputTokens })
	}
	if err != nil && !errors.Is(err, io.EOF) {
		s.e.Update(func(e *Entry) { e.ErrorCode = llm.AsError(err).Name() })
	}
	return ev, err
}

// promptText joins the request's text (system and messages) up to about
// max bytes.
func promptText(r *llm.Request, max int) string {
	var b strings.Builder
	add := func(s string) bool {
		if s == "" {
			return true
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
		return b.Len() < max
	}
	for _, blk := range r.System {
		if blk.Kind == llm.KindText && !add(blk.Text) {
			return truncate(b.String(), max)
		}
	}
	for _, m := range r.Messages {
		for _, blk := range m.Content {
			var s string
			switch blk.Kind {
			case llm.KindText:
				s = blk.Text
			case llm.KindGuardContent:
				if blk.Guard != nil {
					s = blk.Guard.Text
				}
			}
			if !add(s) {
				return truncate(b.String(), max)
			}
		}
	}
	return b.String()
}

var idSeq atomic.Uint64

// newID returns a unique, roughly time-ordered entry ID.
func newID() string {
	var b [6]byte
	rand.Read(b[:])
	n := idSeq.Add(1)
	return time.Now().UTC().Format("20060102150405.000000") + "-" + hex.EncodeToString(b[:]) + "-" + hexU(n)
}

func hexU(n uint64) string {
	const d = "0123456789abcdef"
	var buf [16]byte
	i := len(buf)
	for {
		i--
		buf[i] = d[n&15]
		n >>= 4
		if n == 0 {
			break
		}
	}
	return string(buf[i:])
}
