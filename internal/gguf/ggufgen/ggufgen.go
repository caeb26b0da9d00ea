// Package ggufgen writes small llama-architecture GGUF files with random
// weights and a GPT-2 style byte-level BPE vocabulary (the tokenizer family
// of SmolLM2), so that engine tests can load a real model file in
// milliseconds without downloading anything. The output is noise, but
// llama.cpp loads, tokenizes and generates with it like any other model.
package ggufgen

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"strings"

	"github.com/outcrop/outcrop/internal/gguf"
)

// ChatMLTemplate is the default chat template: ChatML, the format of
// SmolLM2-Instruct, with an optional system message.
const ChatMLTemplate = "{% for message in messages %}" +
	"{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}" +
	"{% endfor %}" +
	"{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

// Options shape the generated model. Zero values take the defaults noted.
type Options struct {
	Embd    int    // embedding width; default 64 (a multiple of 32 for q8_0)
	Layers  int    // transformer blocks; default 2
	FF      int    // feed-forward width; default 128 (a multiple of 32 for q8_0)
	Heads   int    // attention heads; default 4
	KVHeads int    // key/value heads; default 2
	Vocab   int    // pad the vocabulary with filler tokens up to this size; default none
	Context int    // llama.context_length; default 2048
	Quant   string // "f32" or "q8_0" (default)
	Seed    int64  // weight seed; default 1
	// ChatTemplate is stored as tokenizer.chat_template; default
	// ChatMLTemplate. Set NoChatTemplate to omit the key.
	ChatTemplate   string
	NoChatTemplate bool
	// Merges are extra BPE merges ("a b") appended to the built-in ones.
	// Both parts must already be tokens when the merge is reached.
	Merges []string
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Embd, 64)
	def(&o.Layers, 2)
	def(&o.FF, 128)
	def(&o.Heads, 4)
	def(&o.KVHeads, 2)
	def(&o.Context, 2048)
	if o.Quant == "" {
		o.Quant = "q8_0"
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.ChatTemplate == "" {
		o.ChatTemplate = ChatMLTemplate
	}
}

// Special token ids of every generated model.
const (
	TokenEndOfText = 0 // <|endoftext|>, unknown
	TokenImStart   = 1 // <|im_start|>, BOS
	TokenImEnd     = 2 // <|im_end|>, EOS and end of turn
)

// baseMerges cover common English fragments so that ordinary text does not
// tokenize to one token per byte. Order matters: each part must already be
// a token (a byte or an earlier merge).
var baseMerges = []string{
	"Ġ t", "h e", "Ġt he", "i n", "e r", "a n", "Ġ a", "o n", "r e", "Ġ s",
	"l l", "Ġ w", "o r", "e l", "H e", "He ll", "Hell o", "Ġ m", "Ġm y", "Ġ n",
	"a m", "Ġn am", "Ġnam e", "Ġ i", "Ġi s", "Ġ h", "e ll", "ell o", "Ġh ello",
	"Ġw or", "Ġwor l", "Ġworl d", "i m", "u s", "us er", "a s", "as s", "ass i",
	"assi s", "assis t", "assist an", "assistan t", "s y", "sy s", "sys t", "syst e", "syste m",
}

// byteRunes maps each byte to the printable rune that stands for it in
// GPT-2 byte-level BPE vocabularies: printable Latin-1 bytes map to
// themselves, the rest to code points from U+0100 upwards in byte order.
func byteRunes() [256]rune {
	var m [256]rune
	printable := func(b int) bool {
		return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
	}
	next := rune(256)
	for b := 0; b < 256; b++ {
		if printable(b) {
			m[b] = rune(b)
		} else {
			m[b] = next
			next++
		}
	}
	return m
}

// GPT-2 metadata value types and ggml tensor types used here.
const (
	vUint32  = 4
	vInt32   = 5
	vFloat32 = 6
	vBool    = 7
	vString  = 8
	vArray   = 9

	typeF32  = 0
	typeQ8_0 = 8
)

type entry struct {
	key string
	val any
}

type tensorData struct {
	name string
	dims []uint64
	typ  uint32
	data []byte
}

// WriteFile writes a model to path.
func WriteFile(path string, o Options) error {
	var b bytes.Buffer
	if err := Write(&b, o); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// Write writes a model to w.
func Write(w io.Writer, o Options) error {
	o.defaults()
	if o.Quant != "f32" && o.Quant != "q8_0" {
		return fmt.Errorf("ggufgen: unknown quantization %q", o.Quant)
	}
	if o.Quant == "q8_0" && (o.Embd%32 != 0 || o.FF%32 != 0) {
		return fmt.Errorf("ggufgen: q8_0 needs embd and ff to be multiples of 32 (got %d, %d)", o.Embd, o.FF)
	}
	if o.Embd%o.Heads != 0 || o.Heads%o.KVHeads != 0 {
		return fmt.Errorf("ggufgen: embd %d, heads %d, kv heads %d do not divide", o.Embd, o.Heads, o.KVHeads)
	}
	tokens, types, merges, err := vocabulary(o)
	if err != nil {
		return err
	}
	headDim := o.Embd / o.Heads
	ftype := uint32(0)
	if o.Quant == "q8_0" {
		ftype = 7
	}
	meta := []entry{
		{"general.architecture", "llama"},
		{"general.name", "ggufgen-tiny-llama"},
		{"general.file_type", ftype},
		{"general.alignment", uint32(32)},
		{"llama.context_length", uint32(o.Context)},
		{"llama.embedding_length", uint32(o.Embd)},
		{"llama.block_count", uint32(o.Layers)},
		{"llama.feed_forward_length", uint32(o.FF)},
		{"llama.rope.dimension_count", uint32(headDim)},
		{"llama.rope.freq_base", float32(10000)},
		{"llama.attention.head_count", uint32(o.Heads)},
		{"llama.attention.head_count_kv", uint32(o.KVHeads)},
		{"llama.attention.layer_norm_rms_epsilon", float32(1e-5)},
		{"llama.vocab_size", uint32(len(tokens))},
		{"tokenizer.ggml.model", "gpt2"},
		{"tokenizer.ggml.pre", "smollm"},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.merges", merges},
		{"tokenizer.ggml.bos_token_id", uint32(TokenImStart)},
		{"tokenizer.ggml.eos_token_id", uint32(TokenImEnd)},
		{"tokenizer.ggml.unknown_token_id", uint32(TokenEndOfText)},
		{"tokenizer.ggml.padding_token_id", uint32(TokenImEnd)},
		{"tokenizer.ggml.add_bos_token", false},
	}
	if !o.NoChatTemplate {
		meta = append(meta, entry{"tokenizer.chat_template", o.ChatTemplate})
	}

	rng := rand.New(rand.NewSource(o.Seed))
	matrix := func(name string, cols, rows int) tensorData {
		v := make([]float32, cols*rows)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.08)
		}
		t := tensorData{name: name, dims: []uint64{uint64(cols), uint64(rows)}}
		if o.Quant == "q8_0" {
			t.typ, t.data = typeQ8_0, quantQ8(v)
		} else {
			t.typ, t.data = typeF32, f32(v)
		}
		return t
	}
	ones := func(name string, n int) tensorData {
		v := make([]float32, n)
		for i := range v {
			v[i] = 1
		}
		return tensorData{name: name, dims: []uint64{uint64(n)}, typ: typeF32, data: f32(v)}
	}
	// Embeddings are tied: llama.cpp reuses token_embd as the output matrix
	// when output.weight is absent.
	ts := []tensorData{matrix("token_embd.weight", o.Embd, len(tokens)), ones("output_norm.weight", o.Embd)}
	for i := 0; i < o.Layers; i++ {
		p := fmt.Sprintf("blk.%d.", i)
		ts = append(ts,
			ones(p+"attn_norm.weight", o.Embd),
			matrix(p+"attn_q.weight", o.Embd, headDim*o.Heads),
			matrix(p+"attn_k.weight", o.Embd, headDim*o.KVHeads),
			matrix(p+"attn_v.weight", o.Embd, headDim*o.KVHeads),
			matrix(p+"attn_output.weight", headDim*o.Heads, o.Embd),
			ones(p+"ffn_norm.weight", o.Embd),
			matrix(p+"ffn_gate.weight", o.Embd, o.FF),
			matrix(p+"ffn_down.weight", o.FF, o.Embd),
			matrix(p+"ffn_up.weight", o.Embd, o.FF),
		)
	}
	return encode(w, meta, ts)
}

// vocabulary builds the token list: three ChatML specials, the 256 byte
// tokens, one token per merge result, then filler up to o.Vocab.
func vocabulary(o Options) (tokens []string, types []int32, merges []string, err error) {
	tokens = []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}
	types = []int32{3, 3, 3} // control
	known := map[string]bool{}
	for _, t := range tokens {
		known[t] = true
	}
	br := byteRunes()
	for b := 0; b < 256; b++ {
		s := string(br[b])
		tokens = append(tokens, s)
		types = append(types, 1) // normal
		known[s] = true
	}
	merges = append(append([]string(nil), baseMerges...), o.Merges...)
	for _, m := range merges {
		a, c, ok := strings.Cut(m, " ")
		if !ok || !known[a] || !known[c] {
			return nil, nil, nil, fmt.Errorf("ggufgen: merge %q needs both parts to be tokens first", m)
		}
		if !known[a+c] {
			tokens = append(tokens, a+c)
			types = append(types, 1)
			known[a+c] = true
		}
	}
	for i := 0; len(tokens) < o.Vocab; i++ {
		tokens = append(tokens, fmt.Sprintf("<filler_%d>", i))
		types = append(types, 4) // user-defined
	}
	return tokens, types, merges, nil
}

// ByteToken returns the vocabulary string of the token that stands for byte
// b, for building Options.Merges.
func ByteToken(b byte) string { return string(byteRunes()[b]) }

func f32(v []float32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
	}
	return out
}

// quantQ8 packs v into ggml Q8_0 blocks: per 32 values one float16 scale
// followed by 32 signed bytes.
func quantQ8(v []float32) []byte {
	out := make([]byte, 0, len(v)/32*34)
	for i := 0; i < len(v); i += 32 {
		blk := v[i : i+32]
		var amax float32
		for _, x := range blk {
			amax = max(amax, float32(math.Abs(float64(x))))
		}
		d := amax / 127
		inv := float32(0)
		if d != 0 {
			inv = 1 / d
		}
		out = binary.LittleEndian.AppendUint16(out, half(d))
		for _, x := range blk {
			out = append(out, byte(int8(math.Round(float64(x*inv)))))
		}
	}
	return out
}

// half converts a float32 to IEEE 754 binary16 bits, rounding to nearest
// even, flushing tiny values to zero (plenty for weight scales).
func half(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int((b>>23)&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case exp <= 0:
		return sign
	case exp >= 31:
		return sign | 0x7c00
	}
	h := uint32(exp)<<10 | mant>>13
	rest := mant & 0x1fff
	if rest > 0x1000 || (rest == 0x1000 && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}

// encode writes the model with gguf.Write.
func encode(w io.Writer, meta []entry, ts []tensorData) error {
	kvs := make([]gguf.KV, len(meta))
	for i, e := range meta {
		kvs[i] = gguf.KV{Key: e.key, Value: e.val}
	}
	infos := make([]gguf.Tensor, len(ts))
	for i, t := range ts {
		infos[i] = gguf.Tensor{Name: t.name, Dims: t.dims, Type: t.typ, Size: int64(len(t.data))}
	}
	return gguf.Write(w, kvs, infos, func(i int) ([]byte, error) { return ts[i].data, nil })
}
