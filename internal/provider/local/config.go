package local

import (
	"runtime"
	"time"
)

// Config configures one Engine. Zero values take the defaults noted on each
// field; Path is the only required field.
type Config struct {
	// Path is the GGUF model file. Required.
	Path string
	// Name is the upstream model name reported by Describe. Default: the
	// GGUF's general.name, or the file name.
	Name string
	// Slots is the number of requests decoded at once (parallel sequences
	// in one llama.cpp context, batched together on every step). Default 2.
	Slots int
	// ContextSize is the context window of one request in tokens: prompt
	// plus generated tokens. Default 4096, capped at the model's trained
	// context length. Prompts that do not fit are rejected with a
	// validation error that gives both token counts.
	ContextSize int
	// Threads is the number of CPU threads llama.cpp uses for prompt
	// processing and decoding. Default one less than runtime.NumCPU(), at
	// least 1: llama.cpp's threads wait for one another at every step, so
	// when another process takes one of their CPUs the whole step waits
	// for it. With every CPU in use, decoding collapsed on a busy 2-CPU
	// machine (docs/PERFORMANCE.md, "The engine under CPU load"); leaving
	// one CPU to the server and the rest of the machine lets it degrade in
	// proportion instead.
	Threads int
	// BatchSize is the most tokens evaluated in one decode step, across all
	// slots. Long prompts are processed in chunks of at most this size so
	// that other slots keep producing tokens in between. Default 512.
	BatchSize int
	// PrefixCacheTokens is the KV-cache budget, in tokens, for prompt
	// prefixes kept after a request ends because a cachePoint block marked
	// them. Least recently used prefixes are evicted first. Default 4096;
	// a negative value disables the prefix cache (slots still reuse their
	// own previous prompt).
	PrefixCacheTokens int
	// PrefixCacheEntries is the most distinct prefixes kept. Default 8.
	PrefixCacheEntries int
	// QueueSize is how many requests may wait for a free slot. Beyond it a
	// request fails at once with a throttling error (HTTP 429). Default 64;
	// a negative value means no queue (fail when every slot is busy).
	QueueSize int
	// StarvationLimit bounds priority admission: requests with
	// Performance "optimized" are admitted before queued standard ones, but
	// after this many optimized admissions in a row while a standard
	// request waits, the oldest standard request goes next. Default 4.
	StarvationLimit int
	// MaxStandardWait also bounds priority admission: a standard request
	// that has waited this long is admitted before any optimized one.
	// Default 2s.
	MaxStandardWait time.Duration
	// DefaultMaxTokens is the output limit of a request that sets none.
	// Default 512. A request never generates past ContextSize.
	DefaultMaxTokens int
	// NoFlashAttention turns off llama.cpp's fused attention kernel, which
	// is on by default, as in Ollama. On a server whose KV pool holds cached
	// prefixes (its steady state) the kernel prefilled 1.25× and decoded
	// 1.19× faster, since it skips the other sequences' cells; on short
	// prompts it decoded 1.05× faster. Only a long prompt on an engine whose
	// pool is empty prefilled faster without it (1.3-1.5×).
	// docs/PERFORMANCE.md has the paired measurements.
	NoFlashAttention bool
	// NoHugePages leaves the engine's memory on the system's default
	// pages. By default the weights, KV cache and compute buffers are
	// collapsed into 2 MiB transparent huge pages after loading (Linux
	// 6.1+), which decoded 4-8% faster here (docs/PERFORMANCE.md) for
	// about 30 MB more RSS.
	NoHugePages bool

	// ignoreEOG keeps generating past end-of-generation tokens, so that
	// tests on random-weight models control how long a request runs.
	ignoreEOG bool
}

func (c *Config) setDefaults(trainCtx int) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Slots, 2)
	def(&c.ContextSize, 4096)
	if trainCtx > 0 && c.ContextSize > trainCtx {
		c.ContextSize = trainCtx
	}
	def(&c.Threads, max(1, runtime.NumCPU()-1))
	def(&c.BatchSize, 512)
	def(&c.PrefixCacheTokens, 4096)
	def(&c.PrefixCacheEntries, 8)
	def(&c.QueueSize, 64)
	def(&c.StarvationLimit, 4)
	def(&c.DefaultMaxTokens, 512)
	if c.MaxStandardWait == 0 {
		c.MaxStandardWait = 2 * time.Second
	}
	if c.PrefixCacheTokens < 0 {
		c.PrefixCacheTokens, c.PrefixCacheEntries = 0, 0
	}
	if c.QueueSize < 0 {
		c.QueueSize = 0
	}
}

// Sampling defaults applied when a request leaves a parameter unset; they
// match llama.cpp's and Ollama's.
const (
	defaultTemperature = 0.8
	defaultTopP        = 0.9
	defaultTopK        = 40
)
