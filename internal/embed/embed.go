// Package embed is Outcrop's embedding layer: the Embedder interface that
// every embedding deployment implements, a Registry mapping model ids and
// aliases to deployments, and the vector helpers the wire formats need
// (L2 normalization, dimension reduction, float32 base64 packing).
//
// Two kinds of deployment exist. The built-in engine (package
// embed/llamaembed) runs a BERT sentence-embedding model in process through
// llama.cpp; `make model` installs all-MiniLM-L6-v2 converted to GGUF by
// package embed/bertgguf. OpenAI (this package) calls any OpenAI-compatible
// /v1/embeddings upstream: Ollama, vLLM, OpenAI.
//
// Knowledge bases, OpenAI vector stores and the semantic cache take an
// Embedder from the Registry; POST /v1/embeddings and InvokeModel with the
// Titan text-embeddings body are served by httpapi on top of it.
//
// Embedding calls do not go through the gateway's Converse-shaped pipeline:
// the HTTP routes authorize them with the caller's policy
// (bedrock:InvokeModel on the model's ARN) before calling the deployment.
package embed

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/outcrop/outcrop/internal/llm"
)

// Embedder turns texts into vectors. Implementations are safe for concurrent
// use. Embed returns one vector per input, in order, each of Dimensions()
// values, together with the number of input tokens each text counted. The
// vectors are L2-normalized when Normalized reports true.
type Embedder interface {
	Embed(ctx context.Context, texts []string) (Result, error)
	// Dimensions is the length of every vector Embed returns.
	Dimensions() int
}

// Result is the output of one Embed call.
type Result struct {
	Vectors [][]float32
	// Tokens is the number of input tokens of each text (after truncation).
	Tokens []int
}

// TotalTokens is the sum of r.Tokens.
func (r Result) TotalTokens() int {
	n := 0
	for _, t := range r.Tokens {
		n += t
	}
	return n
}

// Model is one embedding model as the Registry serves it.
type Model struct {
	// ID is the canonical model id (e.g. "all-minilm-l6-v2").
	ID string
	// Aliases are other names that reach it (e.g. "amazon.titan-embed-text-v2:0").
	Aliases []string
	// Embedder does the work.
	Embedder Embedder
	// MaxInputs bounds the number of texts of one request (default 2048, OpenAI's limit).
	MaxInputs int
}

// Registry maps model ids and aliases to embedding models. It is safe for
// concurrent use.
type Registry struct {
	// mu guards byName and models.
	mu     sync.RWMutex
	byName map[string]*Model
	models []*Model
}

// NewRegistry returns a registry serving models.
func NewRegistry(models ...*Model) (*Registry, error) {
	r := &Registry{byName: map[string]*Model{}}
	for _, m := range models {
		if err := r.Add(m); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Add registers m. Names must be unique.
func (r *Registry) Add(m *Model) error {
	if m.ID == "" || m.Embedder == nil {
		return fmt.Errorf("embed: model needs an id and an embedder")
	}
	if m.MaxInputs <= 0 {
		m.MaxInputs = 2048
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range append([]string{m.ID}, m.Aliases...) {
		if _, dup := r.byName[n]; dup {
			return fmt.Errorf("embed: model name %q registered twice", n)
		}
	}
	for _, n := range append([]string{m.ID}, m.Aliases...) {
		r.byName[n] = m
	}
	r.models = append(r.models, m)
	return nil
}

// Lookup returns the model called name (an id or an alias).
func (r *Registry) Lookup(name string) (*Model, bool) {
	if r == nil {
		return nil, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	m, ok := r.byName[name]
	return m, ok
}

// Models returns the registered models sorted by id.
func (r *Registry) Models() []*Model {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	out := append([]*Model(nil), r.models...)
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Get returns the embedder of the model called name, or a NotFound error.
func (r *Registry) Get(name string) (Embedder, error) {
	m, ok := r.Lookup(name)
	if !ok {
		return nil, llm.Errorf(llm.KindNotFound, "embedding model %q not found", name)
	}
	return m.Embedder, nil
}

// Normalize scales v to unit L2 norm in place and returns it. A zero vector
// is left as it is.
func Normalize(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
	return v
}

// Reduce returns the first dims values of v, renormalized when normalize is
// true. This is how OpenAI's `dimensions` and Titan's `dimensions` are
// served for a model that was not trained with a smaller output: the prefix
// keeps most of the geometry of a sentence-embedding model, and renormalizing
// keeps cosine and dot product interchangeable. dims must be in
// 1..len(v); callers validate.
func Reduce(v []float32, dims int, normalize bool) []float32 {
	out := append([]float32(nil), v[:dims]...)
	if normalize {
		Normalize(out)
	}
	return out
}

// Cosine returns the cosine similarity of a and b (0 if either is zero).
func Cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// Base64 packs v as little-endian float32 values in standard base64, the
// encoding OpenAI's encoding_format "base64" returns.
func Base64(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// FromBase64 unpacks what Base64 packed.
func FromBase64(s string) ([]float32, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("embed: base64 vector of %d bytes is not a float32 array", len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}
