package local

/*
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>

// The layout of llama.cpp's struct llama_model_quantize_params in the
// llama.cpp vendored by github.com/ollama/ollama v0.17.4. Quantize checks
// the defaults llama.cpp fills in against the ones this layout predicts
// before using it, so that another llama.cpp fails loudly instead of
// quantizing with garbage parameters.
typedef struct {
	int32_t nthread;
	int32_t ftype;
	int32_t output_tensor_type;
	int32_t token_embedding_type;
	bool allow_requantize;
	bool quantize_output_tensor;
	bool only_copy;
	bool pure;
	bool keep_split;
	void * imatrix;
	void * kv_overrides;
	void * tensor_types;
	void * prune_layers;
} outcrop_quantize_params;

outcrop_quantize_params llama_model_quantize_default_params(void);
uint32_t llama_model_quantize(const char * fname_inp, const char * fname_out, const outcrop_quantize_params * params);
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"unsafe"

	"github.com/ollama/ollama/llama"

	"github.com/outcrop/outcrop/internal/gguf"
)

// quantTypes maps the names Quantize accepts to llama.cpp's file types
// (enum llama_ftype).
var quantTypes = map[string]int32{
	"f16":    1,
	"q4_0":   2,
	"q4_1":   3,
	"q8_0":   7,
	"q5_0":   8,
	"q5_1":   9,
	"q4_k_m": 15,
	"q5_k_m": 17,
	"q6_k":   18,
}

// QuantTypes lists the type names Quantize accepts.
func QuantTypes() []string {
	var out []string
	for k := range quantTypes {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Quantize writes the GGUF model in to out with its weights in another
// format (llama.cpp's quantizer; threads <= 0 uses every CPU). Weights that
// are already quantized are converted, which never recovers precision but
// can make the model faster: SmolLM2-135M-Instruct's Q4_1 file converted to
// Q8_0 decodes and prefills faster on x86 CPUs, where llama.cpp has matrix
// kernels for Q8_0 and Q4_0 but not for Q4_1 (docs/PERFORMANCE.md).
func Quantize(in, out, typ string, threads int) error {
	ftype, ok := quantTypes[strings.ToLower(typ)]
	if !ok {
		return fmt.Errorf("quantize: unknown type %q (one of %s)", typ, strings.Join(QuantTypes(), ", "))
	}
	// Check the input the way the engine does, so that a bad file gets
	// the same clear error instead of llama.cpp's.
	if _, err := gguf.Open(in); err != nil {
		return err
	}
	if out == "" || out == in {
		return errors.New("quantize: the output must be another file")
	}
	backendOnce.Do(llama.BackendInit)
	p := C.llama_model_quantize_default_params()
	if unsafe.Sizeof(p) != 56 || p.nthread != 0 || p.ftype != 9 || p.output_tensor_type != 40 || p.token_embedding_type != 40 ||
		bool(p.allow_requantize) || !bool(p.quantize_output_tensor) || bool(p.only_copy) || bool(p.pure) || p.imatrix != nil {
		return errors.New("quantize: llama.cpp's quantization parameters have an unexpected layout: unsupported llama.cpp version")
	}
	p.nthread = C.int32_t(threads)
	p.ftype = C.int32_t(ftype)
	p.allow_requantize = true
	cin, cout := C.CString(in), C.CString(out)
	defer C.free(unsafe.Pointer(cin))
	defer C.free(unsafe.Pointer(cout))
	if rc := C.llama_model_quantize(cin, cout, &p); rc != 0 {
		os.Remove(out)
		return fmt.Errorf("quantize %s to %s: llama.cpp failed (see its log)", in, typ)
	}
	if _, err := gguf.Open(out); err != nil {
		os.Remove(out)
		return fmt.Errorf("quantize %s to %s: the result does not load: %w", in, typ, err)
	}
	return nil
}
