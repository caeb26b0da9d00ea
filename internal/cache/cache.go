// Package cache is Outcrop's exact response cache: a gateway stage that
// answers a repeated deterministic request from a stored copy of the
// model's event stream instead of calling the model again.
//
// A request is cacheable when it is deterministic (temperature 0 or a fixed
// seed). Its key is a SHA-256 over everything that changes the answer: the
// scope (principal or account, as configured), the resolved model and the
// version of its deployments, every inference parameter, the system prompt,
// the messages, the tools, the guardrail and its version, prompt variables
// and additional model fields (key.go). A hit replays the stored events with
// their original chunking; usage reports every input token as read from the
// cache and the call is served by the pseudo-deployment "cache" with no
// provider attempt. Only complete, successful streams are stored.
//
// Entries live in a Backend: process memory (Memory) or Redis (Redis), both
// held to one conformance suite (cachetest). A client controls a single
// request with the X-Outcrop-Cache header or the outcrop_cache metadata
// field (bypass, refresh); see Control.
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// ErrMiss is returned by Backend.Get when the key is absent or expired.
var ErrMiss = errors.New("cache miss")

// Backend stores entries by key. Implementations are safe for concurrent
// use; an entry is never returned after its TTL.
type Backend interface {
	// Get returns the value stored under key, or ErrMiss.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores val under key for ttl (> 0), replacing any earlier value.
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
	// Delete removes key; deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
}

// entryVersion is written into every entry; entries of another version are
// treated as misses, so a format change never misreads old entries.
const entryVersion = 1

// entry is one cached answer.
type entry struct {
	// Scope is the tenant scope the entry was written in; a hit is only
	// served in the same scope, even if keys were ever to collide.
	Scope string
	// Model is the resolved model ID that produced the answer.
	Model   string
	Profile llm.Latency
	// Events is the model's stream as the stage received it.
	Events []llm.Event
}

// entryWire is the stored form of an entry. Its own field names keep the
// stored format independent of llm.Event's Go names.
type entryWire struct {
	V       int         `json:"v"`
	Scope   string      `json:"scope"`
	Model   string      `json:"model"`
	Profile string      `json:"profile,omitempty"`
	Events  []eventWire `json:"events"`
}

type eventWire struct {
	Type       uint8           `json:"t"`
	Index      int             `json:"i,omitempty"`
	ToolID     string          `json:"tid,omitempty"`
	ToolName   string          `json:"tname,omitempty"`
	Tool       bool            `json:"tool,omitempty"` // ToolUse set
	Delta      uint8           `json:"d,omitempty"`
	Text       string          `json:"x,omitempty"`
	Redacted   []byte          `json:"r,omitempty"`
	Tokens     int             `json:"n,omitempty"`
	StopReason string          `json:"s,omitempty"`
	Additional json.RawMessage `json:"a,omitempty"`
	Usage      *usageWire      `json:"u,omitempty"`
}

type usageWire struct {
	In         int `json:"in"`
	Out        int `json:"out"`
	CacheRead  int `json:"cr,omitempty"`
	CacheWrite int `json:"cw,omitempty"`
	Reasoning  int `json:"rt,omitempty"`
}

// encodeEntry serializes e.
func encodeEntry(e *entry) ([]byte, error) {
	w := entryWire{V: entryVersion, Scope: e.Scope, Model: e.Model, Profile: string(e.Profile), Events: make([]eventWire, len(e.Events))}
	for i, ev := range e.Events {
		ew := eventWire{Type: uint8(ev.Type), Index: ev.Index, Delta: uint8(ev.Delta), Text: ev.Text, Redacted: ev.Redacted,
			Tokens: ev.Tokens, StopReason: string(ev.StopReason), Additional: ev.Additional}
		if ev.ToolUse != nil {
			ew.Tool, ew.ToolID, ew.ToolName = true, ev.ToolUse.ID, ev.ToolUse.Name
		}
		if u := ev.Usage; u != nil {
			ew.Usage = &usageWire{In: u.InputTokens, Out: u.OutputTokens, CacheRead: u.CacheReadInputTokens, CacheWrite: u.CacheWriteInputTokens, Reasoning: u.ReasoningTokens}
		}
		w.Events[i] = ew
	}
	return json.Marshal(&w)
}

// decodeEntry parses a stored entry, rejecting anything that is not a
// well-formed entry of the current version: a value in a shared backend
// is untrusted input.
func decodeEntry(b []byte) (*entry, error) {
	var w entryWire
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decode cache entry: %w", err)
	}
	if w.V != entryVersion {
		return nil, fmt.Errorf("cache entry version %d, want %d", w.V, entryVersion)
	}
	if len(w.Events) == 0 {
		return nil, errors.New("cache entry has no events")
	}
	e := &entry{Scope: w.Scope, Model: w.Model, Profile: llm.Latency(w.Profile), Events: make([]llm.Event, len(w.Events))}
	meta := false
	for i, ew := range w.Events {
		typ := llm.EventType(ew.Type)
		if typ < llm.EventMessageStart || typ > llm.EventMetadata {
			return nil, fmt.Errorf("cache entry has an event of unknown type %d", ew.Type)
		}
		if ew.Index < 0 || ew.Index > 1<<16 {
			return nil, errors.New("cache entry has a block index out of range")
		}
		if ew.Delta > uint8(llm.DeltaReasoningRedacted) {
			return nil, fmt.Errorf("cache entry has a delta of unknown kind %d", ew.Delta)
		}
		if len(ew.Additional) > 0 && !json.Valid(ew.Additional) {
			return nil, errors.New("cache entry has invalid additional fields")
		}
		ev := llm.Event{Type: typ, Index: ew.Index, Delta: llm.DeltaKind(ew.Delta), Text: ew.Text, Redacted: ew.Redacted,
			Tokens: ew.Tokens, StopReason: llm.StopReason(ew.StopReason), Additional: ew.Additional}
		if ew.Tool {
			ev.ToolUse = &llm.ToolUse{ID: ew.ToolID, Name: ew.ToolName}
		}
		if u := ew.Usage; u != nil {
			ev.Usage = &llm.Usage{InputTokens: u.In, OutputTokens: u.Out, CacheReadInputTokens: u.CacheRead, CacheWriteInputTokens: u.CacheWrite, ReasoningTokens: u.Reasoning}
		}
		if typ == llm.EventMetadata {
			meta = true
		}
		e.Events[i] = ev
	}
	if !meta {
		return nil, errors.New("cache entry has no metadata event")
	}
	return e, nil
}
