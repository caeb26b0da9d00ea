package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"slices"

	"github.com/outcrop/outcrop/internal/llm"
)

// KeyInput is what a key is computed from besides the request itself.
type KeyInput struct {
	// Scope is the tenant scope: "p:<principal>" or "a:<account>".
	Scope string
	// Model is the resolved model ID (never an alias).
	Model string
	// Version identifies the model's deployments as configured; it changes
	// when the operator points the model at another upstream or weights.
	Version string
}

// Key returns the cache key of req in the given scope: hex SHA-256 over a
// length-prefixed encoding of every field that changes the answer. The
// request's Model field is not used (the resolved in.Model is), nor its
// Metadata (requestMetadata does not reach the model).
func Key(in KeyInput, req *llm.Request) string {
	var h keyHasher
	h.buf = make([]byte, 0, 1024)
	h.str("outcrop-cache-key-v1")
	h.str(in.Scope)
	h.str(in.Model)
	h.str(in.Version)

	inf := req.Inference
	h.optInt(inf.MaxTokens)
	h.int(int64(inf.MaxTokensCap))
	h.optFloat(inf.Temperature)
	h.optFloat(inf.TopP)
	h.optInt(inf.TopK)
	if inf.Seed != nil {
		h.int(1)
		h.int(*inf.Seed)
	} else {
		h.int(0)
	}
	h.strs(inf.StopSequences)
	h.str(string(req.Performance))

	h.blocks(req.System)
	h.int(int64(len(req.Messages)))
	for _, m := range req.Messages {
		h.str(string(m.Role))
		h.blocks(m.Content)
	}

	if req.Tools != nil {
		h.int(1)
		h.int(int64(len(req.Tools.Tools)))
		for _, t := range req.Tools.Tools {
			h.str(t.Name)
			h.str(t.Description)
			h.bytes(t.Schema)
			h.bool(t.Strict)
		}
		h.str(string(req.Tools.Choice.Mode))
		h.str(req.Tools.Choice.Name)
	} else {
		h.int(0)
	}

	if g := req.Guardrail; g != nil {
		h.int(1)
		h.str(g.ID)
		h.str(g.Version)
		h.str(g.Trace)
		h.str(g.StreamMode)
	} else {
		h.int(0)
	}

	h.bytes(req.Additional)
	h.strs(req.AdditionalResponsePaths)
	keys := make([]string, 0, len(req.PromptVariables))
	for k := range req.PromptVariables {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h.int(int64(len(keys)))
	for _, k := range keys {
		h.str(k)
		h.str(req.PromptVariables[k])
	}
	sum := sha256.Sum256(h.buf)
	return hex.EncodeToString(sum[:])
}

// keyHasher accumulates an unambiguous encoding: every variable-length
// field is preceded by its length, so no two different requests encode to
// the same bytes.
type keyHasher struct{ buf []byte }

func (h *keyHasher) int(v int64) { h.buf = binary.AppendVarint(h.buf, v) }

func (h *keyHasher) bool(b bool) {
	if b {
		h.int(1)
	} else {
		h.int(0)
	}
}

func (h *keyHasher) str(s string) {
	h.int(int64(len(s)))
	h.buf = append(h.buf, s...)
}

func (h *keyHasher) bytes(b []byte) {
	if b == nil {
		h.int(-1)
		return
	}
	h.int(int64(len(b)))
	h.buf = append(h.buf, b...)
}

func (h *keyHasher) strs(ss []string) {
	h.int(int64(len(ss)))
	for _, s := range ss {
		h.str(s)
	}
}

func (h *keyHasher) optInt(p *int) {
	if p == nil {
		h.int(0)
		return
	}
	h.int(1)
	h.int(int64(*p))
}

func (h *keyHasher) optFloat(p *float64) {
	if p == nil {
		h.int(0)
		return
	}
	h.int(1)
	h.buf = binary.LittleEndian.AppendUint64(h.buf, math.Float64bits(*p))
}

func (h *keyHasher) image(im *llm.Image) {
	if im == nil {
		h.int(0)
		return
	}
	h.int(1)
	h.str(im.Format)
	h.bytes(im.Bytes)
}

func (h *keyHasher) document(d *llm.Document) {
	if d == nil {
		h.int(0)
		return
	}
	h.int(1)
	h.str(d.Format)
	h.str(d.Name)
	h.bytes(d.Bytes)
	h.str(d.Text)
}

func (h *keyHasher) blocks(bs []llm.Block) {
	h.int(int64(len(bs)))
	for _, b := range bs {
		h.int(int64(b.Kind))
		switch b.Kind {
		case llm.KindText:
			h.str(b.Text)
		case llm.KindImage:
			h.image(b.Image)
		case llm.KindDocument:
			h.document(b.Document)
		case llm.KindToolUse:
			h.bool(b.ToolUse != nil)
			if b.ToolUse != nil {
				h.str(b.ToolUse.ID)
				h.str(b.ToolUse.Name)
				h.bytes(b.ToolUse.Input)
			}
		case llm.KindToolResult:
			h.bool(b.ToolResult != nil)
			if r := b.ToolResult; r != nil {
				h.str(r.ToolUseID)
				h.str(r.Status)
				h.int(int64(len(r.Content)))
				for _, c := range r.Content {
					h.bytes(c.JSON)
					h.str(c.Text)
					h.image(c.Image)
					h.document(c.Document)
				}
			}
		case llm.KindReasoning:
			h.bool(b.Reasoning != nil)
			if r := b.Reasoning; r != nil {
				h.str(r.Text)
				h.str(r.Signature)
				h.bytes(r.Redacted)
			}
		case llm.KindCachePoint:
			h.bool(b.CachePoint != nil)
			if b.CachePoint != nil {
				h.str(b.CachePoint.TTL)
			}
		case llm.KindGuardContent:
			h.bool(b.Guard != nil)
			if g := b.Guard; g != nil {
				h.str(g.Text)
				h.strs(g.Qualifiers)
				h.image(g.Image)
			}
		}
	}
}
