package cache

import (
	"context"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/outcrop/outcrop/internal/llm"
)

// Vector is a sparse vector with sorted, distinct indices, L2-normalized
// by the embedders of this package.
type Vector struct {
	Idx []uint32
	Val []float32
}

// Dot returns the dot product of a and b (their cosine similarity when
// both are normalized).
func Dot(a, b Vector) float64 {
	var s float64
	i, j := 0, 0
	for i < len(a.Idx) && j < len(b.Idx) {
		switch {
		case a.Idx[i] == b.Idx[j]:
			s += float64(a.Val[i]) * float64(b.Val[j])
			i++
			j++
		case a.Idx[i] < b.Idx[j]:
			i++
		default:
			j++
		}
	}
	return s
}

// DefaultThreshold is the semantic cache's default minimum similarity of
// the Lexical embedder: on held-out QQP questions it serves hits with
// 93.6 % precision and 0.65 % false hits (docs/CACHING.md).
const DefaultThreshold = 0.80

// Embedder turns a question into a vector for the semantic cache.
type Embedder interface {
	Embed(ctx context.Context, text string) (Vector, error)
}

// Lexical is the semantic cache's built-in embedder: hashed word unigrams
// and bigrams and character 3- to 5-grams of the normalized text (2^20
// buckets), log-scaled counts, L2-normalized. It needs no model and runs in
// microseconds; it recognises reworded questions only when they share much
// of their wording (docs/CACHING.md has its precision and recall).
type Lexical struct{}

const lexicalBits = 20

// Embed implements Embedder.
func (Lexical) Embed(_ context.Context, text string) (Vector, error) {
	return lexical(text), nil
}

func lexical(text string) Vector {
	text = Normalize(text)
	counts := map[uint32]float64{}
	add := func(kind byte, s string) {
		h := fnv.New32a()
		h.Write([]byte{kind})
		h.Write([]byte(s))
		counts[h.Sum32()&(1<<lexicalBits-1)]++
	}
	words := strings.Fields(text)
	for i, w := range words {
		add('w', w)
		if i > 0 {
			add('b', words[i-1]+" "+w)
		}
	}
	padded := []rune(" " + text + " ")
	for n := 3; n <= 5; n++ {
		for i := 0; i+n <= len(padded); i++ {
			add(byte('0'+n), string(padded[i:i+n]))
		}
	}
	v := Vector{Idx: make([]uint32, 0, len(counts))}
	for k := range counts {
		v.Idx = append(v.Idx, k)
	}
	slices.Sort(v.Idx)
	v.Val = make([]float32, len(v.Idx))
	var norm float64
	for i, k := range v.Idx {
		w := 1 + math.Log(counts[k])
		v.Val[i] = float32(w)
		norm += w * w
	}
	if norm > 0 {
		inv := 1 / math.Sqrt(norm)
		for i := range v.Val {
			v.Val[i] = float32(float64(v.Val[i]) * inv)
		}
	}
	return v
}

// Normalize lower-cases text, keeps letters, digits and spaces (other
// characters become spaces) and collapses runs of spaces.
func Normalize(text string) string {
	var b strings.Builder
	space := true
	for _, r := range strings.ToLower(text) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			space = false
		} else if !space {
			b.WriteByte(' ')
			space = true
		}
	}
	return strings.TrimSpace(b.String())
}

// SemanticIndex finds the nearest stored question within a namespace.
type SemanticIndex interface {
	// Search returns the key and similarity of the stored vector of ns
	// most similar to v ("" when ns holds none).
	Search(ctx context.Context, ns string, v Vector) (key string, sim float64, err error)
	// Add stores v under key in ns for ttl.
	Add(ctx context.Context, ns, key string, v Vector, ttl time.Duration) error
}

// MemoryIndex is a SemanticIndex in process memory: an exact scan of the
// namespace, which never holds more than MaxPerNamespace vectors (oldest
// out first).
type MemoryIndex struct {
	max int
	now func() time.Time

	// mu guards ns.
	mu sync.Mutex
	ns map[string][]semEntry
}

type semEntry struct {
	key     string
	v       Vector
	expires time.Time
}

// NewMemoryIndex returns an index of at most maxPerNamespace vectors per
// namespace (default 10,000); now is the clock (time.Now when nil).
func NewMemoryIndex(maxPerNamespace int, now func() time.Time) *MemoryIndex {
	if maxPerNamespace <= 0 {
		maxPerNamespace = 10_000
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryIndex{max: maxPerNamespace, now: now, ns: map[string][]semEntry{}}
}

var _ SemanticIndex = (*MemoryIndex)(nil)

// Search implements SemanticIndex.
func (m *MemoryIndex) Search(_ context.Context, ns string, v Vector) (string, float64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	best, bestSim := "", math.Inf(-1)
	es := m.ns[ns]
	live := es[:0]
	for _, e := range es {
		if !now.Before(e.expires) {
			continue
		}
		live = append(live, e)
		if s := Dot(v, e.v); s > bestSim {
			best, bestSim = e.key, s
		}
	}
	m.ns[ns] = live
	if best == "" {
		return "", 0, nil
	}
	return best, bestSim, nil
}

// Add implements SemanticIndex.
func (m *MemoryIndex) Add(_ context.Context, ns, key string, v Vector, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	es := slices.DeleteFunc(m.ns[ns], func(e semEntry) bool { return e.key == key })
	es = append(es, semEntry{key: key, v: v, expires: m.now().Add(ttl)})
	if len(es) > m.max {
		es = es[len(es)-m.max:]
	}
	m.ns[ns] = es
	return nil
}

// SemanticOptions switch the semantic cache on for some models.
type SemanticOptions struct {
	// Embedder embeds the normalized last user turn; Lexical when nil.
	Embedder Embedder
	// Index holds the vectors; required.
	Index SemanticIndex
	// Thresholds opts models in (by resolved model ID), each with its
	// minimum cosine similarity for a hit.
	Thresholds map[string]float64
}

// lastUserText returns the text of the last message when it is a user
// turn made only of text blocks, else "" (the semantic cache leaves tool
// results, images and documents to the exact cache).
func lastUserText(req *llm.Request) string {
	if len(req.Messages) == 0 {
		return ""
	}
	m := req.Messages[len(req.Messages)-1]
	if m.Role != llm.RoleUser {
		return ""
	}
	var parts []string
	for _, b := range m.Content {
		if b.Kind != llm.KindText {
			return ""
		}
		parts = append(parts, b.Text)
	}
	return strings.Join(parts, "\n")
}

// semanticNamespace is the namespace of req's question: the exact key of
// the request with the last user turn left out, so that only requests that
// agree on scope, model, parameters, system prompt, tools, guardrail and
// history can share an answer.
func semanticNamespace(in KeyInput, req *llm.Request) string {
	r := *req
	r.Messages = req.Messages[:len(req.Messages)-1]
	return "sem:" + Key(in, &r)
}
