// Package bertgguf converts a BERT sentence-embedding model in the
// sentence-transformers layout (config.json, model.safetensors, vocab.txt,
// 1_Pooling/config.json, sentence_bert_config.json) into a GGUF file that
// llama.cpp's "bert" architecture loads, so that the built-in engine can run
// it in process.
//
// The conversion keeps the weights in F32 (the model is small and the
// vectors must agree with sentence-transformers to cosine >= 0.999), writes
// the WordPiece vocabulary in llama.cpp's "phantom space" form (a word-start
// piece gets a leading U+2581, a "##" continuation piece loses its "##") and
// records the pooling mode. Normalization (the sentence-transformers
// Normalize module) is not a GGUF setting: callers normalize.
package bertgguf

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/outcrop/outcrop/internal/gguf"
)

// Pooling types as llama.cpp numbers them (enum llama_pooling_type).
const (
	PoolingMean = 1
	PoolingCLS  = 2
)

// Info describes a converted model.
type Info struct {
	Name        string
	Dimensions  int
	Layers      int
	MaxTokens   int // sentence-transformers' max_seq_length: longer inputs are truncated
	Pooling     int
	Normalize   bool
	VocabSize   int
	TensorCount int
}

type bertConfig struct {
	Architectures         []string `json:"architectures"`
	ModelType             string   `json:"model_type"`
	HiddenSize            int      `json:"hidden_size"`
	IntermediateSize      int      `json:"intermediate_size"`
	LayerNormEps          float64  `json:"layer_norm_eps"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	NumAttentionHeads     int      `json:"num_attention_heads"`
	NumHiddenLayers       int      `json:"num_hidden_layers"`
	TypeVocabSize         int      `json:"type_vocab_size"`
	VocabSize             int      `json:"vocab_size"`
	HiddenAct             string   `json:"hidden_act"`
	PositionEmbeddingType string   `json:"position_embedding_type"`
}

type poolingConfig struct {
	Mean bool `json:"pooling_mode_mean_tokens"`
	CLS  bool `json:"pooling_mode_cls_token"`
	Max  bool `json:"pooling_mode_max_tokens"`
	Sqrt bool `json:"pooling_mode_mean_sqrt_len_tokens"`
}

// KeyMaxTokens is the GGUF key under which Convert records
// sentence-transformers' max_seq_length, which the engine truncates to.
const KeyMaxTokens = "outcrop.embedding.max_tokens"

// KeyNormalize is the GGUF key recording whether the model's pipeline ends
// in an L2 normalization.
const KeyNormalize = "outcrop.embedding.normalize"

// Convert reads the sentence-transformers model in dir and writes GGUF to
// out. name is recorded as general.name.
func Convert(dir, out, name string) (Info, error) {
	var info Info
	var cfg bertConfig
	if err := readJSON(filepath.Join(dir, "config.json"), &cfg); err != nil {
		return info, err
	}
	if cfg.ModelType != "bert" {
		return info, fmt.Errorf("bertgguf: %s: model_type %q, want bert", dir, cfg.ModelType)
	}
	if cfg.HiddenAct != "" && cfg.HiddenAct != "gelu" {
		return info, fmt.Errorf("bertgguf: hidden_act %q is not supported (llama.cpp's bert uses gelu)", cfg.HiddenAct)
	}
	if cfg.PositionEmbeddingType != "" && cfg.PositionEmbeddingType != "absolute" {
		return info, fmt.Errorf("bertgguf: position_embedding_type %q is not supported", cfg.PositionEmbeddingType)
	}
	if cfg.HiddenSize <= 0 || cfg.NumHiddenLayers <= 0 || cfg.NumAttentionHeads <= 0 || cfg.IntermediateSize <= 0 || cfg.MaxPositionEmbeddings <= 0 {
		return info, fmt.Errorf("bertgguf: %s: incomplete config.json", dir)
	}
	info.Pooling = PoolingMean
	var pc poolingConfig
	if err := readJSON(filepath.Join(dir, "1_Pooling", "config.json"), &pc); err == nil {
		switch {
		case pc.Mean && !pc.CLS && !pc.Max && !pc.Sqrt:
			info.Pooling = PoolingMean
		case pc.CLS && !pc.Mean && !pc.Max && !pc.Sqrt:
			info.Pooling = PoolingCLS
		default:
			return info, fmt.Errorf("bertgguf: pooling %+v is not supported (mean or cls only)", pc)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return info, err
	}
	info.MaxTokens = cfg.MaxPositionEmbeddings
	var sb struct {
		MaxSeqLength int `json:"max_seq_length"`
	}
	if err := readJSON(filepath.Join(dir, "sentence_bert_config.json"), &sb); err == nil && sb.MaxSeqLength > 0 && sb.MaxSeqLength < info.MaxTokens {
		info.MaxTokens = sb.MaxSeqLength
	}
	if mods, err := os.ReadFile(filepath.Join(dir, "modules.json")); err == nil {
		info.Normalize = bytes.Contains(mods, []byte("sentence_transformers.models.Normalize"))
	}
	vocab, err := readVocab(filepath.Join(dir, "vocab.txt"))
	if err != nil {
		return info, err
	}
	if cfg.VocabSize != 0 && cfg.VocabSize != len(vocab) {
		return info, fmt.Errorf("bertgguf: vocab.txt has %d tokens, config.json says %d", len(vocab), cfg.VocabSize)
	}
	st, err := openSafetensors(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return info, err
	}
	defer st.f.Close()

	special := map[string]string{"[PAD]": "tokenizer.ggml.padding_token_id", "[UNK]": "tokenizer.ggml.unknown_token_id",
		"[CLS]": "tokenizer.ggml.cls_token_id", "[SEP]": "tokenizer.ggml.seperator_token_id", "[MASK]": "tokenizer.ggml.mask_token_id"}
	tokens := make([]string, len(vocab))
	types := make([]int32, len(vocab))
	ids := map[string]uint32{}
	for i, t := range vocab {
		types[i] = 1 // normal
		switch {
		case strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]"):
			tokens[i] = t
			if _, ok := special[t]; ok {
				types[i] = 3 // control
				ids[special[t]] = uint32(i)
			} else {
				types[i] = 4 // user defined ([unusedN])
			}
		case strings.HasPrefix(t, "##") && len(t) > 2:
			tokens[i] = t[2:]
		default:
			tokens[i] = "\u2581" + t
		}
	}
	if _, ok := ids["tokenizer.ggml.cls_token_id"]; !ok {
		return info, errors.New("bertgguf: vocab.txt has no [CLS] token")
	}
	if _, ok := ids["tokenizer.ggml.seperator_token_id"]; !ok {
		return info, errors.New("bertgguf: vocab.txt has no [SEP] token")
	}
	ids["tokenizer.ggml.bos_token_id"] = ids["tokenizer.ggml.cls_token_id"]

	typeVocab := cfg.TypeVocabSize
	if typeVocab == 0 {
		typeVocab = 2
	}
	meta := []kv{
		{"general.architecture", "bert"},
		{"general.name", name},
		{"general.file_type", uint32(0)},
		{"bert.context_length", uint32(cfg.MaxPositionEmbeddings)},
		{"bert.embedding_length", uint32(cfg.HiddenSize)},
		{"bert.feed_forward_length", uint32(cfg.IntermediateSize)},
		{"bert.block_count", uint32(cfg.NumHiddenLayers)},
		{"bert.attention.head_count", uint32(cfg.NumAttentionHeads)},
		{"bert.attention.layer_norm_epsilon", float32(orDefault(cfg.LayerNormEps, 1e-12))},
		{"bert.attention.causal", false},
		{"bert.pooling_type", uint32(info.Pooling)},
		{KeyMaxTokens, uint32(info.MaxTokens)},
		{KeyNormalize, info.Normalize},
		{"tokenizer.ggml.model", "bert"},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.token_type_count", uint32(typeVocab)},
		{"tokenizer.ggml.add_bos_token", true},
		{"tokenizer.ggml.add_sep_token", true},
	}
	keys := make([]string, 0, len(ids))
	for k := range ids {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		meta = append(meta, kv{k, ids[k]})
	}

	var tensors []tensor
	add := func(src, dst string) error {
		t, ok := st.header[src]
		if !ok {
			return fmt.Errorf("bertgguf: model.safetensors has no tensor %s", src)
		}
		if t.DType != "F32" && t.DType != "F16" && t.DType != "BF16" {
			return fmt.Errorf("bertgguf: tensor %s has dtype %s", src, t.DType)
		}
		tensors = append(tensors, tensor{name: dst, src: t})
		return nil
	}
	for _, m := range [][2]string{
		{"embeddings.word_embeddings.weight", "token_embd.weight"},
		{"embeddings.token_type_embeddings.weight", "token_types.weight"},
		{"embeddings.position_embeddings.weight", "position_embd.weight"},
		{"embeddings.LayerNorm.weight", "token_embd_norm.weight"},
		{"embeddings.LayerNorm.bias", "token_embd_norm.bias"},
	} {
		if err := add(prefixed(st, m[0]), m[1]); err != nil {
			return info, err
		}
	}
	for i := 0; i < cfg.NumHiddenLayers; i++ {
		p := fmt.Sprintf("encoder.layer.%d.", i)
		b := fmt.Sprintf("blk.%d.", i)
		for _, m := range [][2]string{
			{"attention.self.query", "attn_q"},
			{"attention.self.key", "attn_k"},
			{"attention.self.value", "attn_v"},
			{"attention.output.dense", "attn_output"},
			{"attention.output.LayerNorm", "attn_output_norm"},
			{"intermediate.dense", "ffn_up"},
			{"output.dense", "ffn_down"},
			{"output.LayerNorm", "layer_output_norm"},
		} {
			for _, wb := range []string{"weight", "bias"} {
				if err := add(prefixed(st, p+m[0]+"."+wb), b+m[1]+"."+wb); err != nil {
					return info, err
				}
			}
		}
	}
	info.Name = name
	info.Dimensions = cfg.HiddenSize
	info.Layers = cfg.NumHiddenLayers
	info.VocabSize = len(vocab)
	info.TensorCount = len(tensors)
	if err := writeGGUF(out, meta, tensors, st); err != nil {
		return info, err
	}
	return info, nil
}

// prefixed returns name as the safetensors file spells it: checkpoints saved
// from BertForMaskedLM and friends prefix every tensor with "bert.".
func prefixed(st *safetensors, name string) string {
	if _, ok := st.header[name]; ok {
		return name
	}
	if _, ok := st.header["bert."+name]; ok {
		return "bert." + name
	}
	return name
}

func orDefault(v, d float64) float64 {
	if v == 0 {
		return d
	}
	return v
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("bertgguf: %s: %w", path, err)
	}
	return nil
}

func readVocab(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		out = append(out, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bertgguf: %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bertgguf: %s is empty", path)
	}
	return out, nil
}

// safetensors is an open .safetensors file: an 8-byte little-endian header
// length, a JSON header naming each tensor's dtype, shape and byte range,
// then the data.
type safetensors struct {
	f      *os.File
	size   int64
	base   int64 // offset of the data section
	header map[string]stTensor
}

type stTensor struct {
	DType   string   `json:"dtype"`
	Shape   []uint64 `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

func openSafetensors(path string) (*safetensors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := parseSafetensorsHeader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("bertgguf: %s: %w", path, err)
	}
	st.f = f
	return st, nil
}

// parseSafetensorsHeader reads and validates the header of a safetensors
// file.
func parseSafetensorsHeader(f *os.File) (*safetensors, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var lb [8]byte
	if _, err := io.ReadFull(f, lb[:]); err != nil {
		return nil, errors.New("truncated header")
	}
	n := binary.LittleEndian.Uint64(lb[:])
	if n > 100<<20 || int64(n)+8 > fi.Size() {
		return nil, fmt.Errorf("header length %d out of range", n)
	}
	hb := make([]byte, n)
	if _, err := io.ReadFull(f, hb); err != nil {
		return nil, errors.New("truncated header")
	}
	h, err := decodeHeader(hb, fi.Size()-8-int64(n))
	if err != nil {
		return nil, err
	}
	return &safetensors{size: fi.Size(), base: 8 + int64(n), header: h}, nil
}

// decodeHeader parses the JSON header and checks every tensor's byte range
// against its shape and the data section's size.
func decodeHeader(hb []byte, dataSize int64) (map[string]stTensor, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hb, &raw); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	h := make(map[string]stTensor, len(raw))
	for name, r := range raw {
		if name == "__metadata__" {
			continue
		}
		var t stTensor
		if err := json.Unmarshal(r, &t); err != nil {
			return nil, fmt.Errorf("tensor %s: %w", name, err)
		}
		width := map[string]int64{"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "F64": 8, "I8": 1, "U8": 1, "BOOL": 1, "I16": 2}[t.DType]
		if width == 0 {
			return nil, fmt.Errorf("tensor %s: unknown dtype %q", name, t.DType)
		}
		elems := int64(1)
		for _, d := range t.Shape {
			if d > 1<<40 || elems > (1<<40)/int64(max(d, 1)) {
				return nil, fmt.Errorf("tensor %s: shape too large", name)
			}
			elems *= int64(d)
		}
		if t.Offsets[0] < 0 || t.Offsets[1] < t.Offsets[0] || t.Offsets[1] > dataSize || t.Offsets[1]-t.Offsets[0] != elems*width {
			return nil, fmt.Errorf("tensor %s: byte range %v does not fit shape %v of %s", name, t.Offsets, t.Shape, t.DType)
		}
		h[name] = t
	}
	return h, nil
}

// f32 reads t's data as float32 values, widening F16 and BF16.
func (st *safetensors) f32(t stTensor) ([]float32, error) {
	b := make([]byte, t.Offsets[1]-t.Offsets[0])
	if _, err := st.f.ReadAt(b, st.base+t.Offsets[0]); err != nil {
		return nil, err
	}
	switch t.DType {
	case "F32":
		out := make([]float32, len(b)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out, nil
	case "F16":
		out := make([]float32, len(b)/2)
		for i := range out {
			out[i] = halfToFloat(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return out, nil
	case "BF16":
		out := make([]float32, len(b)/2)
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
		return out, nil
	}
	return nil, fmt.Errorf("dtype %s", t.DType)
}

func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(frac) / 1024 * float32(math.Pow(2, -14))
		if sign != 0 {
			return -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

type kv struct {
	key string
	val any
}

type tensor struct {
	name string
	src  stTensor
}

// ggmlF32 is the ggml type of the tensors written (F32).
const ggmlF32 = 0

// writeGGUF writes a GGUF file with gguf.Write: each tensor in ggml
// dimension order (the reverse of PyTorch's) as F32 data, read from the
// safetensors file one tensor at a time.
func writeGGUF(path string, meta []kv, ts []tensor, st *safetensors) error {
	kvs := make([]gguf.KV, len(meta))
	for i, e := range meta {
		kvs[i] = gguf.KV{Key: e.key, Value: e.val}
	}
	infos := make([]gguf.Tensor, len(ts))
	for i, t := range ts {
		dims := make([]uint64, len(t.src.Shape))
		for j, d := range t.src.Shape {
			dims[len(dims)-1-j] = d
		}
		infos[i] = gguf.Tensor{Name: t.name, Dims: dims, Type: ggmlF32, Size: elements(t.src.Shape) * 4}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	werr := gguf.Write(f, kvs, infos, func(i int) ([]byte, error) {
		v, err := st.f32(ts[i].src)
		if err != nil {
			return nil, err
		}
		b := make([]byte, 4*len(v))
		for j, x := range v {
			binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(x))
		}
		return b, nil
	})
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("bertgguf: %w", werr)
	}
	return nil
}

func elements(shape []uint64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= int64(d)
	}
	return n
}

// String formats an Info for logs and the CLI.
func (i Info) String() string {
	return i.Name + ": bert, " + strconv.Itoa(i.Layers) + " layers, " + strconv.Itoa(i.Dimensions) + " dimensions, max " + strconv.Itoa(i.MaxTokens) + " tokens"
}
