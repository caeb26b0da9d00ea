package local

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/ollama/ollama/llama"
)

// Byte layout of llama.cpp's struct llama_context_params in the llama.cpp
// vendored by github.com/ollama/ollama v0.17.4 (x86-64): six 32-bit
// integers, four enums, eight floats, two callback pointer pairs and two
// enums, then the booleans embeddings, offload_kqv, no_perf, op_offload,
// swa_full, kv_unified. llama.ContextParams wraps exactly that struct.
const (
	ctxParamsSize      = 120
	ctxParamsNCtx      = 0
	ctxParamsNSeqMax   = 12
	ctxParamsEmbedding = 112
	ctxParamsSwaFull   = 116
	ctxParamsKVUnified = 117
)

// tuneContextParams switches on the unified KV cache and switches off
// embedding extraction in p.
//
// The Go wrapper has no setter for either. The unified cache is what makes
// the prefix cache cheap: all sequences share one pool of KV cells, so
// copying a cached prefix into a slot only tags existing cells with the
// slot's sequence id instead of copying tensors, and a slot can use as
// much of the pool as its request needs. Embeddings are not needed for
// generation and cost a copy per output token.
//
// The layout is checked against the values NewContextParams wrote before
// anything is changed, so a different llama.cpp fails loudly here instead
// of corrupting the parameters.
func tuneContextParams(p *llama.ContextParams, nCtx, nSeqMax int) error {
	if unsafe.Sizeof(*p) != ctxParamsSize {
		return fmt.Errorf("llama context params are %d bytes, want %d: unsupported llama.cpp version", unsafe.Sizeof(*p), ctxParamsSize)
	}
	b := (*[ctxParamsSize]byte)(unsafe.Pointer(p))
	if binary.LittleEndian.Uint32(b[ctxParamsNCtx:]) != uint32(nCtx) ||
		binary.LittleEndian.Uint32(b[ctxParamsNSeqMax:]) != uint32(nSeqMax) ||
		b[ctxParamsEmbedding] != 1 || b[ctxParamsSwaFull] != 1 || b[ctxParamsKVUnified] != 0 {
		return fmt.Errorf("llama context params have an unexpected layout: unsupported llama.cpp version")
	}
	b[ctxParamsEmbedding] = 0
	b[ctxParamsKVUnified] = 1
	return nil
}
