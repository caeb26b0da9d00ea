// Package llamalp scores texts with a GGUF language model in process,
// through llama.cpp (the binding the built-in engine uses): the
// log-probability of a text is the sum, over its tokens, of the natural log
// of the model's probability of that token given the ones before it (the
// first one given BOS when the model adds it). This is the quantity FMEval's
// prompt stereotyping compares between a more and a less stereotypical
// sentence; the built-in engine's generation API does not return it.
//
// A Scorer holds its own copy of the model and one llama.cpp context; calls
// are serialized (mu).
package llamalp

/*
void llama_free(void * ctx);
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"

	"github.com/ollama/ollama/llama"
	"github.com/ollama/ollama/ml"

	"github.com/outcrop/outcrop/internal/eval"
)

var backendOnce sync.Once

// Scorer computes log-probabilities of texts. It is safe for concurrent use.
type Scorer struct {
	path string
	nCtx int

	// mu guards model, lctx, batch and closed: llama.cpp contexts are not
	// safe for concurrent use.
	mu     sync.Mutex
	model  *llama.Model
	lctx   *llama.Context
	batch  *llama.Batch
	closed bool
}

// Open loads the GGUF model at path with a context of nCtx tokens (the
// longest text it scores; 0 means 512).
func Open(path string, nCtx int) (*Scorer, error) {
	if nCtx <= 0 {
		nCtx = 512
	}
	backendOnce.Do(llama.BackendInit)
	m, err := llama.LoadModelFromFile(path, llama.ModelParams{UseMmap: true})
	if err != nil {
		return nil, fmt.Errorf("llamalp: load %s: %w", path, err)
	}
	threads := max(1, min(runtime.NumCPU(), 4))
	lctx, err := llama.NewContextWithModel(m, llama.NewContextParams(nCtx, nCtx, 1, threads, ml.FlashAttentionDisabled, ""))
	if err != nil {
		llama.FreeModel(m)
		return nil, fmt.Errorf("llamalp: context for %s: %w", path, err)
	}
	b, err := llama.NewBatch(nCtx, 1, 0)
	if err != nil {
		C.llama_free(*(*unsafe.Pointer)(unsafe.Pointer(lctx)))
		llama.FreeModel(m)
		return nil, err
	}
	return &Scorer{path: path, nCtx: nCtx, model: m, lctx: lctx, batch: b}, nil
}

// ErrTooLong is returned for a text with more tokens than the context.
var ErrTooLong = errors.New("llamalp: text longer than the context")

// LogProb returns the text's log-probability and the number of tokens
// scored.
func (s *Scorer) LogProb(text string) (float64, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, 0, errors.New("llamalp: scorer closed")
	}
	toks, err := s.model.Tokenize(text, true, false)
	if err != nil {
		return 0, 0, fmt.Errorf("llamalp: tokenize: %w", err)
	}
	if len(toks) < 2 {
		if len(toks) == 1 && !s.model.AddBOSToken() {
			return 0, 0, nil // a single token with nothing to condition on
		}
		return 0, 0, fmt.Errorf("llamalp: %q has no token to score", text)
	}
	if len(toks) > s.nCtx {
		return 0, 0, ErrTooLong
	}
	s.lctx.KvCacheClear()
	s.batch.Clear()
	for i, t := range toks {
		s.batch.Add(t, nil, i, i < len(toks)-1, 0)
	}
	if err := s.lctx.Decode(s.batch); err != nil {
		return 0, 0, fmt.Errorf("llamalp: decode: %w", err)
	}
	var sum float64
	for i := 0; i < len(toks)-1; i++ {
		logits := s.lctx.GetLogitsIth(i)
		if logits == nil {
			return 0, 0, errors.New("llamalp: the model returned no logits")
		}
		sum += logSoftmaxAt(logits, toks[i+1])
	}
	return sum, len(toks) - 1, nil
}

// logSoftmaxAt is log(softmax(logits)[k]), computed stably in float64.
func logSoftmaxAt(logits []float32, k int) float64 {
	m := math.Inf(-1)
	for _, v := range logits {
		m = max(m, float64(v))
	}
	var z float64
	for _, v := range logits {
		z += math.Exp(float64(v) - m)
	}
	return float64(logits[k]) - m - math.Log(z)
}

// Close frees the model. It is safe to call more than once.
func (s *Scorer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.batch.Free()
	// The Go wrapper cannot free a context; its first field is the C
	// pointer.
	C.llama_free(*(*unsafe.Pointer)(unsafe.Pointer(s.lctx)))
	llama.FreeModel(s.model)
	return nil
}

// Runner is an eval.ModelRunner that scores prompts instead of answering
// them: Predict returns no output and the prompt's log-probability. It
// serves prompt_stereotyping only.
type Runner struct {
	Scorer *Scorer
}

var _ eval.ModelRunner = (*Runner)(nil)

// Predict implements eval.ModelRunner.
func (r *Runner) Predict(ctx context.Context, prompt string) (eval.Prediction, error) {
	if err := ctx.Err(); err != nil {
		return eval.Prediction{}, err
	}
	lp, _, err := r.Scorer.LogProb(prompt)
	if err != nil {
		return eval.Prediction{}, err
	}
	return eval.Prediction{LogProb: &lp}, nil
}

// Params implements eval.ModelRunner.
func (r *Runner) Params() map[string]any {
	return map[string]any{"model_id": r.Scorer.path, "endpoint_type": "in-process llama.cpp", "log_probability": "prompt"}
}
