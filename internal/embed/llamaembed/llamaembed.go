// Package llamaembed runs a BERT sentence-embedding model (a GGUF file made
// by package embed/bertgguf) in process with llama.cpp, through
// github.com/ollama/ollama/llama. It implements embed.Embedder.
//
// Inputs are tokenized with the model's WordPiece vocabulary, truncated to
// the model's max_tokens (256 for all-MiniLM-L6-v2, as sentence-transformers
// does: [CLS], the first 254 pieces, [SEP]) and packed into batches: each
// llama_decode evaluates up to Config.MaxSequences texts and
// Config.BatchTokens tokens at once, every text in a sequence of its own,
// and llama.cpp pools each sequence (mean pooling for MiniLM). The pooled
// vectors are L2-normalized when the model's pipeline says so.
//
// BERT attends in both directions, so llama.cpp needs a whole sequence in one
// micro-batch; the context is created with n_batch = n_ubatch = BatchTokens,
// and a text never exceeds max_tokens <= BatchTokens.
//
// One llama.cpp context serves the Embedder; calls are serialized by a
// mutex, and a call with many texts is what fills a batch.
package llamaembed

/*
void llama_free(void * ctx);
*/
import "C"

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/ollama/ollama/llama"
	"github.com/ollama/ollama/ml"

	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/embed/bertgguf"
	"github.com/outcrop/outcrop/internal/gguf"
	"github.com/outcrop/outcrop/internal/llm"
)

// Config configures an Engine.
type Config struct {
	// Path is the GGUF file.
	Path string
	// Threads is the number of CPU threads (default: half the cores, at
	// least 1, at most 8). llama.cpp's threads spin at barriers: on a busy
	// 2-core machine one thread embedded a sentence in 40 ms where two took
	// 1.3 s (BenchmarkEmbed, docs/PERFORMANCE.md).
	Threads int
	// BatchTokens is the most tokens one llama_decode evaluates (default 2048;
	// at least the model's max_tokens).
	BatchTokens int
	// MaxSequences is the most texts one llama_decode evaluates (default 32;
	// rounded down to a power of two, at most 64).
	MaxSequences int
}

// Engine is an embedding model loaded in process. It is safe for concurrent
// use.
type Engine struct {
	cfg       Config
	log       *slog.Logger
	dims      int
	maxTokens int
	normalize bool
	sep       int

	// mu serializes use of model, lctx and batch, and guards closed.
	mu     sync.Mutex
	model  *llama.Model
	lctx   *llama.Context
	batch  *llama.Batch
	closed bool
}

var _ embed.Embedder = (*Engine)(nil)

var backendOnce sync.Once

// Byte layout of struct llama_context_params in the llama.cpp vendored by
// github.com/ollama/ollama v0.17.4 (x86-64), as internal/provider/local
// documents it: n_ctx, n_batch, n_ubatch, n_seq_max are the first four
// uint32s; embeddings, swa_full and kv_unified are bytes 112, 116, 117.
const (
	cpSize       = 120
	cpNCtx       = 0
	cpNBatch     = 4
	cpNUBatch    = 8
	cpNSeqMax    = 12
	cpEmbeddings = 112
	cpKVUnified  = 117
)

// New loads the model at cfg.Path.
func New(cfg Config, logger *slog.Logger) (*Engine, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g, err := gguf.Open(cfg.Path)
	if err != nil {
		return nil, err
	}
	if arch := g.Architecture(); arch != "bert" {
		return nil, fmt.Errorf("embedding model %s: architecture %q, want bert", cfg.Path, arch)
	}
	dims, _ := g.Uint("bert.embedding_length")
	maxTok, ok := g.Uint(bertgguf.KeyMaxTokens)
	if !ok {
		maxTok = uint64(g.ContextLength())
	}
	sep, ok := g.Uint("tokenizer.ggml.seperator_token_id")
	if !ok || dims == 0 || maxTok < 2 {
		return nil, fmt.Errorf("embedding model %s: missing bert metadata (embedding_length, separator token, context length)", cfg.Path)
	}
	normalize := true
	if v, ok := g.KV[bertgguf.KeyNormalize].(bool); ok {
		normalize = v
	}
	if cfg.Threads <= 0 {
		cfg.Threads = max(1, min(runtime.NumCPU()/2, 8))
	}
	if cfg.BatchTokens <= 0 {
		cfg.BatchTokens = 2048
	}
	if cfg.BatchTokens < int(maxTok) {
		cfg.BatchTokens = int(maxTok)
	}
	if cfg.MaxSequences <= 0 {
		cfg.MaxSequences = 32
	}
	// llama.cpp's graph for pooled BERT output fails an assertion
	// (ggml_can_mul_mat) with some sequence counts that are not powers of
	// two (7 did, in TestReferenceVectors); round down to one.
	for p := 1; ; p *= 2 {
		if p*2 > cfg.MaxSequences {
			cfg.MaxSequences = min(p, 64)
			break
		}
	}
	e := &Engine{cfg: cfg, log: logger.With("component", "embed", "model", cfg.Path), dims: int(dims), maxTokens: int(maxTok), normalize: normalize, sep: int(sep)}

	backendOnce.Do(llama.BackendInit)
	e.model, err = llama.LoadModelFromFile(cfg.Path, llama.ModelParams{UseMmap: true})
	if err != nil {
		return nil, fmt.Errorf("embedding model %s: llama.cpp could not load it: %w", cfg.Path, err)
	}
	if e.model.NEmbd() != e.dims {
		llama.FreeModel(e.model)
		return nil, fmt.Errorf("embedding model %s: llama.cpp reports %d dimensions, metadata %d", cfg.Path, e.model.NEmbd(), e.dims)
	}
	cp := llama.NewContextParams(cfg.BatchTokens, cfg.BatchTokens, cfg.MaxSequences, cfg.Threads, ml.FlashAttentionDisabled, "")
	if err := tune(&cp, cfg.BatchTokens, cfg.MaxSequences); err != nil {
		llama.FreeModel(e.model)
		return nil, err
	}
	e.lctx, err = llama.NewContextWithModel(e.model, cp)
	if err != nil {
		llama.FreeModel(e.model)
		return nil, fmt.Errorf("embedding model %s: %w", cfg.Path, err)
	}
	e.batch, err = llama.NewBatch(cfg.BatchTokens, cfg.MaxSequences, 0)
	if err != nil {
		e.free()
		return nil, err
	}
	e.log.Info("embedding model loaded", "dimensions", e.dims, "max_tokens", e.maxTokens, "batch_tokens", cfg.BatchTokens, "max_sequences", cfg.MaxSequences)
	return e, nil
}

// tune sets n_batch = n_ubatch = batch tokens (non-causal attention needs a
// whole batch in one micro-batch), n_ctx to the same, and a unified KV
// layout, after checking the layout against what NewContextParams wrote.
func tune(p *llama.ContextParams, tokens, seqs int) error {
	if unsafe.Sizeof(*p) != cpSize {
		return fmt.Errorf("llama context params are %d bytes, want %d: unsupported llama.cpp version", unsafe.Sizeof(*p), cpSize)
	}
	b := (*[cpSize]byte)(unsafe.Pointer(p))
	le := binary.LittleEndian
	if le.Uint32(b[cpNCtx:]) != uint32(tokens) || le.Uint32(b[cpNBatch:]) != uint32(tokens*seqs) ||
		le.Uint32(b[cpNUBatch:]) != uint32(tokens) || le.Uint32(b[cpNSeqMax:]) != uint32(seqs) || b[cpEmbeddings] != 1 {
		return fmt.Errorf("llama context params have an unexpected layout: unsupported llama.cpp version")
	}
	le.PutUint32(b[cpNBatch:], uint32(tokens))
	b[cpKVUnified] = 1
	return nil
}

// Dimensions implements embed.Embedder.
func (e *Engine) Dimensions() int { return e.dims }

// MaxTokens is the input length beyond which texts are truncated.
func (e *Engine) MaxTokens() int { return e.maxTokens }

// Tokens returns the model's tokens of text, with [CLS] and [SEP], truncated.
func (e *Engine) Tokens(text string) ([]int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, llm.Errorf(llm.KindUnavailable, "the embedding engine is closed")
	}
	return e.tokenize(text)
}

// tokenize must be called with mu held.
func (e *Engine) tokenize(text string) ([]int, error) {
	if !utf8.ValidString(text) {
		// llama.cpp's tokenizer throws (and so aborts the process) on some
		// invalid sequences.
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	toks, err := e.model.Tokenize(text, true, false)
	if err != nil {
		return nil, llm.Errorf(llm.KindValidation, "the input could not be tokenized")
	}
	if len(toks) > e.maxTokens {
		toks = append(toks[:e.maxTokens-1], e.sep)
	}
	return toks, nil
}

// Embed implements embed.Embedder.
func (e *Engine) Embed(ctx context.Context, texts []string) (embed.Result, error) {
	res := embed.Result{Vectors: make([][]float32, len(texts)), Tokens: make([]int, len(texts))}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return res, llm.Errorf(llm.KindUnavailable, "the embedding engine is closed")
	}
	toks := make([][]int, len(texts))
	for i, t := range texts {
		tk, err := e.tokenize(t)
		if err != nil {
			return res, err
		}
		toks[i] = tk
		res.Tokens[i] = len(tk)
	}
	// Pack texts in input order into batches bounded by tokens and
	// sequences; each batch is one llama_decode.
	for start := 0; start < len(texts); {
		if err := ctx.Err(); err != nil {
			return res, &llm.Error{Kind: llm.KindCanceled, Err: err}
		}
		e.batch.Clear()
		n, used := 0, 0
		for start+n < len(texts) && n < e.cfg.MaxSequences && used+len(toks[start+n]) <= e.cfg.BatchTokens {
			for p, t := range toks[start+n] {
				e.batch.Add(t, nil, p, true, n)
			}
			used += len(toks[start+n])
			n++
		}
		if err := e.lctx.Decode(e.batch); err != nil {
			return res, &llm.Error{Kind: llm.KindInternal, Err: fmt.Errorf("embedding decode: %w", err)}
		}
		for s := 0; s < n; s++ {
			v := e.lctx.GetEmbeddingsSeq(s)
			if len(v) != e.dims {
				return res, &llm.Error{Kind: llm.KindInternal, Err: fmt.Errorf("embedding of sequence %d missing", s)}
			}
			if e.normalize {
				embed.Normalize(v)
			}
			res.Vectors[start+s] = v
		}
		start += n
	}
	return res, nil
}

// Close frees the model. It is safe to call more than once; calls after it
// fail with ServiceUnavailable.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	e.free()
	return nil
}

// free releases the batch, context and model; mu held or not yet shared.
func (e *Engine) free() {
	if e.batch != nil {
		e.batch.Free()
		e.batch = nil
	}
	if e.lctx != nil {
		// The Go wrapper has no way to free a context; its first field is
		// the C pointer.
		p := *(*unsafe.Pointer)(unsafe.Pointer(e.lctx))
		C.llama_free(p)
		e.lctx = nil
	}
	if e.model != nil {
		llama.FreeModel(e.model)
		e.model = nil
	}
}
