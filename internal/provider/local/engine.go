// Package local is Outcrop's built-in inference engine: llama.cpp running
// in process (through github.com/ollama/ollama/llama) on a GGUF model file.
//
// An Engine loads one model and serves many requests at once. Each request
// takes one of Config.Slots sequences of a single llama.cpp context; one
// goroutine owns the context and, on every step, evaluates one token for
// every generating request plus a chunk of the prompts still being read
// (continuous batching). Requests wait in a bounded queue when every slot is
// busy; latency-optimized requests are admitted first, with a bound that
// keeps standard ones from starving.
//
// The prompt is rendered with the model's own Jinja chat template from the
// GGUF metadata. KV-cache entries of prompt prefixes are reused across
// requests: a slot keeps the tokens of its last request, and prefixes that a
// cachePoint block marks are kept in an LRU cache of their own. Usage
// reports reused tokens as cacheReadInputTokens and newly cached ones as
// cacheWriteInputTokens.
package local

/*
void llama_free(void * ctx);
*/
import "C"

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/ollama/ollama/llama"
	"github.com/ollama/ollama/ml"

	"github.com/outcrop/outcrop/internal/gguf"
	"github.com/outcrop/outcrop/internal/llm"
)

// Compile-time checks of the capabilities the engine offers.
var (
	_ llm.Provider     = (*Engine)(nil)
	_ llm.TokenCounter = (*Engine)(nil)
	_ llm.Describer    = (*Engine)(nil)
	_ llm.Checker      = (*Engine)(nil)
)

var backendOnce sync.Once

// Engine serves one GGUF model in process. It is safe for concurrent use.
type Engine struct {
	cfg      Config
	log      *slog.Logger
	name     string
	model    *llama.Model
	lctx     *llama.Context
	batch    *llama.Batch
	tmpl     *chatTemplate
	addBOS   bool
	bosText  string
	trainCtx int

	// life is held for reading while a caller goroutine uses the model
	// (tokenizing), and for writing by Close before it frees the model.
	life sync.RWMutex
	// mu guards queue, closed, inFlight and the request counters.
	mu       sync.Mutex
	queue    admissionQueue
	closed   bool
	inFlight int
	served   uint64
	rejected uint64

	wake      chan struct{} // capacity 1: work may be waiting
	quit      chan struct{} // closed by Close
	done      chan struct{} // closed when run returns
	closeOnce sync.Once

	// Owned by the run goroutine.
	slots []*slot
	cache *prefixCache

	cacheTokens  atomic.Int64 // mirror of cache size for Stats
	cacheEntries atomic.Int64
	hugeBytes    atomic.Int64  // engine memory collapsed into huge pages
	hugeDone     chan struct{} // closed when hugePages has returned
}

// New loads the model at cfg.Path and starts the engine's scheduler. A
// missing, truncated or non-GGUF file fails here with an error naming the
// file, before llama.cpp sees it.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Engine, error) {
	if cfg.Path == "" {
		return nil, fmt.Errorf("local engine: no model path")
	}
	if logger == nil {
		logger = slog.Default()
	}
	g, err := gguf.Open(cfg.Path)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg.setDefaults(g.ContextLength())
	if cfg.Slots < 1 || cfg.Slots > 64 {
		return nil, fmt.Errorf("local engine: slots %d out of range 1..64", cfg.Slots)
	}
	if cfg.BatchSize < cfg.Slots {
		cfg.BatchSize = cfg.Slots
	}
	e := &Engine{
		cfg:      cfg,
		log:      logger.With("component", "local", "model", filepath.Base(cfg.Path)),
		name:     cfg.Name,
		trainCtx: g.ContextLength(),
		wake:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if e.name == "" {
		e.name = g.String("general.name")
	}
	if e.name == "" {
		e.name = strings.TrimSuffix(filepath.Base(cfg.Path), filepath.Ext(cfg.Path))
	}
	var bos, eos string
	if id, ok := g.Uint("tokenizer.ggml.bos_token_id"); ok {
		bos = g.Token(id)
	}
	if id, ok := g.Uint("tokenizer.ggml.eos_token_id"); ok {
		eos = g.Token(id)
	}
	e.bosText = bos
	if e.tmpl, err = newChatTemplate(g.String("tokenizer.chat_template"), bos, eos); err != nil {
		return nil, fmt.Errorf("model file %s: %w", cfg.Path, err)
	}

	backendOnce.Do(llama.BackendInit)
	start := time.Now()
	var before []span
	if !cfg.NoHugePages {
		before, _ = anonSpans()
	}
	// Weights are read into memory rather than mapped, as Ollama does on
	// CPU: decoding streams through all of them for every token.
	e.model, err = llama.LoadModelFromFile(cfg.Path, llama.ModelParams{UseMmap: false})
	if err != nil {
		return nil, fmt.Errorf("model file %s: llama.cpp could not load it: %w", cfg.Path, err)
	}
	e.addBOS = e.model.AddBOSToken()

	nSeq := cfg.Slots + cfg.PrefixCacheEntries
	cells := cfg.Slots*cfg.ContextSize + cfg.PrefixCacheTokens
	fa := ml.FlashAttentionEnabled
	if cfg.NoFlashAttention {
		fa = ml.FlashAttentionDisabled
	}
	cp := llama.NewContextParams(cells, cfg.BatchSize, nSeq, cfg.Threads, fa, "")
	if err := tuneContextParams(&cp, cells, nSeq); err != nil {
		llama.FreeModel(e.model)
		return nil, err
	}
	e.lctx, err = llama.NewContextWithModel(e.model, cp)
	if err != nil {
		llama.FreeModel(e.model)
		return nil, fmt.Errorf("model file %s: %w", cfg.Path, err)
	}
	e.batch, err = llama.NewBatch(cfg.BatchSize, 1, 0)
	if err != nil {
		e.freeContext()
		llama.FreeModel(e.model)
		return nil, err
	}
	e.hugeDone = make(chan struct{})
	var spans []span
	if !cfg.NoHugePages {
		// What loading mapped is taken now, before anything else maps
		// memory; collapsing it copies it (about a second for 400 MB), so
		// that runs while the engine already serves, which is safe, as the
		// kernel locks each page while it moves it.
		if after, err := anonSpans(); err != nil {
			e.log.Debug("huge pages not requested", "error", err)
		} else {
			spans = newSpans(before, after)
		}
	}
	if len(spans) == 0 {
		close(e.hugeDone)
	} else {
		go e.hugePages(spans)
	}
	for i := 0; i < cfg.Slots; i++ {
		e.slots = append(e.slots, &slot{id: i, next: -1, logitIdx: -1})
	}
	e.cache = newPrefixCache(cfg.PrefixCacheTokens, cfg.Slots, cfg.PrefixCacheEntries)
	e.log.Info("model loaded", "name", e.name, "slots", cfg.Slots, "context", cfg.ContextSize,
		"kv_cells", cells, "threads", cfg.Threads, "took", time.Since(start).Round(time.Millisecond))
	go e.run()
	return e, nil
}

// hugePages backs spans, the memory that loading the model and creating the
// context mapped (weights, KV cache, compute buffers) with huge pages
// (hugepages_linux.go). Failing to is not an error: decoding is slower.
func (e *Engine) hugePages(spans []span) {
	defer close(e.hugeDone)
	start := time.Now()
	var total uintptr
	for _, s := range spans {
		total += s.end - s.start
	}
	n, err := collapseHugePages(spans, e.quit)
	e.hugeBytes.Store(n)
	if err != nil {
		e.log.Info("engine memory partly on small pages", "huge_mib", n>>20, "mapped_mib", total>>20, "reason", err)
		return
	}
	e.log.Debug("engine memory on huge pages", "huge_mib", n>>20, "mapped_mib", total>>20, "took", time.Since(start).Round(time.Millisecond))
}

// freeContext releases the llama.cpp context, which the Go wrapper cannot
// do: its first field is the C pointer.
func (e *Engine) freeContext() {
	if e.lctx == nil {
		return
	}
	p := *(*unsafe.Pointer)(unsafe.Pointer(e.lctx))
	C.llama_free(p)
	e.lctx = nil
}

// Close stops the scheduler, fails every queued and running request with
// ServiceUnavailable and frees the model. It is safe to call more than once.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		close(e.quit)
		<-e.done
		e.mu.Lock()
		for _, r := range e.queue.drain() {
			r.fail(llm.Errorf(llm.KindUnavailable, "the local engine is shutting down"))
		}
		e.mu.Unlock()
		<-e.hugeDone // it advises on the memory freed below; quit stops it
		e.life.Lock()
		defer e.life.Unlock()
		e.batch.Free()
		e.freeContext()
		llama.FreeModel(e.model)
		e.model = nil
	})
	return nil
}

// Describe reports the model and its per-request context window.
func (e *Engine) Describe() llm.Description {
	return llm.Description{Provider: "local", UpstreamModel: e.name, ContextWindow: e.cfg.ContextSize}
}

// Check reports whether the engine accepts requests.
func (e *Engine) Check(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return llm.Errorf(llm.KindUnavailable, "the local engine is closed")
	}
	return ctx.Err()
}

// Config returns the engine's configuration with defaults applied.
func (e *Engine) Config() Config { return e.cfg }

// Stats is a snapshot of the engine's load.
type Stats struct {
	Slots           int    // configured slots
	InFlight        int    // requests holding a slot
	Queued          int    // requests waiting for a slot
	QueuedOptimized int    // of which latency-optimized
	QueuedStandard  int    // of which standard
	QueueCapacity   int    // Config.QueueSize
	Served          uint64 // requests admitted since start
	Rejected        uint64 // requests refused because the queue was full
	CacheEntries    int    // prefixes in the prefix cache
	CacheTokens     int    // tokens held by the prefix cache
	HugePageBytes   int64  // engine memory backed by huge pages
}

// Stats returns the current queue depth, in-flight count and counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Stats{
		Slots:           e.cfg.Slots,
		InFlight:        e.inFlight,
		Queued:          len(e.queue.opt) + len(e.queue.std),
		QueuedOptimized: len(e.queue.opt),
		QueuedStandard:  len(e.queue.std),
		QueueCapacity:   e.cfg.QueueSize,
		Served:          e.served,
		Rejected:        e.rejected,
		CacheEntries:    int(e.cacheEntries.Load()),
		CacheTokens:     int(e.cacheTokens.Load()),
		HugePageBytes:   e.hugeBytes.Load(),
	}
}

// Tokenize returns the model's tokens for text, parsing special tokens
// such as <|im_start|>.
func (e *Engine) Tokenize(text string) ([]int, error) {
	e.life.RLock()
	defer e.life.RUnlock()
	if e.model == nil {
		return nil, llm.Errorf(llm.KindUnavailable, "the local engine is closed")
	}
	return e.model.Tokenize(validUTF8(text), false, true)
}

// validUTF8 returns s with each run of invalid UTF-8 replaced by U+FFFD.
// llama.cpp's tokenizer throws a C++ exception, which aborts the process,
// on some invalid sequences (a 4-byte form above U+10FFFF, found by
// FuzzEngine), so no text reaches it unchecked.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Detokenize returns the text of tokens.
func (e *Engine) Detokenize(tokens []int) string {
	e.life.RLock()
	defer e.life.RUnlock()
	if e.model == nil {
		return ""
	}
	var b strings.Builder
	for _, t := range tokens {
		b.WriteString(e.model.TokenToPiece(t))
	}
	return b.String()
}

// prompt renders and tokenizes req. cut is the token length of the
// longest prefix a cachePoint marks (0 if none).
func (e *Engine) prompt(req *llm.Request) (tokens []int, cut int, err error) {
	e.life.RLock()
	defer e.life.RUnlock()
	if e.model == nil {
		return nil, 0, llm.Errorf(llm.KindUnavailable, "the local engine is closed")
	}
	r, err := e.tmpl.render(req)
	if err != nil {
		return nil, 0, err
	}
	bos := e.addBOS && (e.bosText == "" || !strings.HasPrefix(r.text, e.bosText))
	tokens, err = e.model.Tokenize(validUTF8(r.text), bos, true)
	if err != nil {
		return nil, 0, llm.Errorf(llm.KindValidation, "tokenize prompt: %v", err)
	}
	if len(r.cuts) > 0 {
		off := r.cuts[len(r.cuts)-1]
		pre, err := e.model.Tokenize(validUTF8(r.text[:off]), bos, true)
		if err == nil {
			// Tokens can merge across the cut; keep only the part both
			// tokenizations agree on.
			cut = commonPrefix(pre, tokens)
		}
	}
	return tokens, cut, nil
}

// CountTokens returns the exact number of input tokens of req: its
// rendered chat template in the model's tokenizer.
func (e *Engine) CountTokens(ctx context.Context, req *llm.Request) (int, error) {
	toks, _, err := e.prompt(req)
	if err != nil {
		return 0, err
	}
	return len(toks), nil
}

// ConverseStream validates and tokenizes req, queues it for a slot and
// returns its event stream. Validation errors and a full queue are
// returned here; the stream ends early if ctx is cancelled or the stream
// is closed.
func (e *Engine) ConverseStream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	sp, err := samplingParams(req.Inference)
	if err != nil {
		return nil, err
	}
	toks, cut, err := e.prompt(req)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, llm.Errorf(llm.KindValidation, "the prompt is empty")
	}
	if len(toks) >= e.cfg.ContextSize {
		return nil, llm.Errorf(llm.KindValidation,
			"the prompt is %d tokens but the model's context window is %d tokens (prompt and output together)",
			len(toks), e.cfg.ContextSize)
	}
	maxTok := e.cfg.DefaultMaxTokens
	if c := req.Inference.MaxTokensCap; c > 0 && c < maxTok {
		maxTok = c
	}
	if req.Inference.MaxTokens != nil {
		maxTok = *req.Inference.MaxTokens
		if maxTok < 1 {
			return nil, llm.Errorf(llm.KindValidation, "maxTokens must be at least 1, got %d", maxTok)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &request{
		ctx:       rctx,
		cancel:    cancel,
		prompt:    toks,
		cut:       cut,
		maxTokens: maxTok,
		room:      e.cfg.ContextSize - len(toks),
		sampling:  sp,
		filter:    newOutputFilter(req.Inference.StopSequences, len(offeredTools(req)) > 0),
		optimized: req.Performance == llm.LatencyOptimized,
		seeded:    req.Inference.Seed != nil,
		enqueued:  time.Now(),
		notify:    make(chan struct{}, 1),
	}
	e.mu.Lock()
	switch {
	case e.closed:
		e.mu.Unlock()
		cancel()
		return nil, llm.Errorf(llm.KindUnavailable, "the local engine is closed")
	case e.queue.len() >= e.cfg.QueueSize+max(0, e.cfg.Slots-e.inFlight):
		e.rejected++
		e.mu.Unlock()
		cancel()
		return nil, &llm.Error{Kind: llm.KindThrottled, RetryAfter: time.Second,
			Message: fmt.Sprintf("the local engine is busy: %d requests running and %d queued", e.cfg.Slots, e.cfg.QueueSize)}
	}
	e.queue.push(r)
	e.mu.Unlock()
	e.signal()
	return &stream{r: r}, nil
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// samplingParams maps the request's inference configuration onto
// llama.cpp's sampler, applying defaults and validating ranges.
func samplingParams(ic llm.InferenceConfig) (llama.SamplingParams, error) {
	p := llama.SamplingParams{
		Temp:          defaultTemperature,
		TopP:          defaultTopP,
		TopK:          defaultTopK,
		TypicalP:      1, // off
		PenaltyRepeat: 1, // off
		RepeatLastN:   64,
		Seed:          rand.Uint32(),
	}
	if t := ic.Temperature; t != nil {
		if *t < 0 || *t > 2 {
			return p, llm.Errorf(llm.KindValidation, "temperature must be between 0 and 2, got %g", *t)
		}
		p.Temp = float32(*t)
	}
	if v := ic.TopP; v != nil {
		if *v <= 0 || *v > 1 {
			return p, llm.Errorf(llm.KindValidation, "topP must be in (0, 1], got %g", *v)
		}
		p.TopP = float32(*v)
	}
	if k := ic.TopK; k != nil {
		if *k < 0 {
			return p, llm.Errorf(llm.KindValidation, "topK must not be negative, got %d", *k)
		}
		p.TopK = *k // 0 disables top-k
	}
	if s := ic.Seed; s != nil {
		p.Seed = uint32(*s)
	}
	return p, nil
}

func commonPrefix(a, b []int) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
