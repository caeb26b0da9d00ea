package routing

import (
	"sync"

	"github.com/outcrop/outcrop/internal/llm"
)

// affinity remembers which deployment last served a prompt prefix, so that
// an optimized request goes back to the replica whose KV cache already holds
// it. The table is bounded: when full, the oldest key is evicted.
type affinity struct {
	mu   sync.Mutex // guards the fields below
	m    map[uint64]*Deployment
	keys []uint64 // ring of inserted keys, for FIFO eviction
	next int
}

func newAffinity(n int) *affinity {
	return &affinity{m: make(map[uint64]*Deployment, n), keys: make([]uint64, 0, n)}
}

func (a *affinity) get(k uint64) *Deployment {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.m[k]
}

func (a *affinity) put(k uint64, d *Deployment) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.m[k]; ok {
		a.m[k] = d
		return
	}
	if len(a.keys) < cap(a.keys) {
		a.keys = append(a.keys, k)
	} else {
		delete(a.m, a.keys[a.next])
		a.keys[a.next] = k
		a.next = (a.next + 1) % len(a.keys)
	}
	a.m[k] = d
}

// FNV-1a, 64 bit.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

type hasher uint64

func (h *hasher) str(s string) {
	x := uint64(*h)
	for i := 0; i < len(s); i++ {
		x ^= uint64(s[i])
		x *= fnvPrime
	}
	x ^= 0xff // separator, so that "ab"+"c" differs from "a"+"bc"
	x *= fnvPrime
	*h = hasher(x)
}

func (h *hasher) bytes(b []byte) {
	// Large inline media: length and the first 256 bytes identify it well
	// enough for an affinity hint and keep hashing cheap.
	h.str(string(rune(len(b))))
	if len(b) > 256 {
		b = b[:256]
	}
	h.str(string(b))
}

func (h *hasher) block(b *llm.Block) {
	h.str(b.Kind.String())
	switch b.Kind {
	case llm.KindText:
		h.str(b.Text)
	case llm.KindImage:
		if b.Image != nil {
			h.bytes(b.Image.Bytes)
		}
	case llm.KindDocument:
		if b.Document != nil {
			h.str(b.Document.Name)
			h.str(b.Document.Text)
			h.bytes(b.Document.Bytes)
		}
	case llm.KindToolUse:
		if b.ToolUse != nil {
			h.str(b.ToolUse.ID)
			h.str(string(b.ToolUse.Input))
		}
	case llm.KindToolResult:
		if b.ToolResult != nil {
			h.str(b.ToolResult.ToolUseID)
			for _, c := range b.ToolResult.Content {
				h.str(c.String())
			}
		}
	case llm.KindGuardContent:
		if b.Guard != nil {
			h.str(b.Guard.Text)
		}
	}
}

// PrefixKey returns the cache-affinity key of req: a hash of the prompt up
// to its last cachePoint block (system blocks, then messages), or, when it
// has none, of the system prompt and the first message — the part a
// provider's prefix cache most likely holds. It returns 0 for an empty
// request.
func PrefixKey(req *llm.Request) uint64 {
	// Find the last cache point: index into the system blocks, or into the
	// messages (message, block).
	lastSys, lastMsg, lastBlk := -1, -1, -1
	for i := range req.System {
		if req.System[i].Kind == llm.KindCachePoint {
			lastSys = i
		}
	}
	for i := range req.Messages {
		for j := range req.Messages[i].Content {
			if req.Messages[i].Content[j].Kind == llm.KindCachePoint {
				lastMsg, lastBlk = i, j
			}
		}
	}
	h := hasher(fnvOffset)
	switch {
	case lastMsg >= 0:
		for i := range req.System {
			h.block(&req.System[i])
		}
		for i := 0; i <= lastMsg; i++ {
			m := &req.Messages[i]
			h.str(string(m.Role))
			n := len(m.Content)
			if i == lastMsg {
				n = lastBlk
			}
			for j := 0; j < n; j++ {
				h.block(&m.Content[j])
			}
		}
	case lastSys >= 0:
		for i := 0; i < lastSys; i++ {
			h.block(&req.System[i])
		}
	default:
		if len(req.System) == 0 && len(req.Messages) == 0 {
			return 0
		}
		for i := range req.System {
			h.block(&req.System[i])
		}
		if len(req.Messages) > 0 {
			m := &req.Messages[0]
			h.str(string(m.Role))
			for j := range m.Content {
				h.block(&m.Content[j])
			}
		}
	}
	if h == 0 {
		h = 1
	}
	return uint64(h)
}
