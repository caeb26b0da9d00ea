package local

// prefixCache keeps the KV cells of prompt prefixes that cachePoint blocks
// marked, each in a llama.cpp sequence of its own (ids after the slots'),
// evicting the least recently used when the token budget or the number of
// sequences runs out. With the unified KV cache, storing and restoring a
// prefix only tags existing cells with another sequence id, so both are
// cheap. Owned by the scheduler goroutine.
type prefixCache struct {
	budget  int
	free    []int         // unused sequence ids
	entries []*cacheEntry // least recently used first
	tokens  int           // sum of entry lengths
}

type cacheEntry struct {
	seq    int
	tokens []int
}

// kv is the part of the llama.cpp context the cache manipulates.
type kv interface {
	KvCacheSeqRm(seq, p0, p1 int) bool
	KvCacheSeqCp(src, dst, p0, p1 int)
}

func newPrefixCache(budget, firstSeq, n int) *prefixCache {
	c := &prefixCache{budget: budget}
	for i := 0; i < n; i++ {
		c.free = append(c.free, firstSeq+i)
	}
	return c
}

// best returns the entry sharing the longest prefix with prompt, and the
// length of that prefix.
func (c *prefixCache) best(prompt []int) (*cacheEntry, int) {
	var best *cacheEntry
	n := 0
	for _, e := range c.entries {
		if k := commonPrefix(e.tokens, prompt); k > n {
			best, n = e, k
		}
	}
	return best, n
}

// touch marks e as most recently used.
func (c *prefixCache) touch(e *cacheEntry) {
	for i, x := range c.entries {
		if x == e {
			copy(c.entries[i:], c.entries[i+1:])
			c.entries[len(c.entries)-1] = e
			return
		}
	}
}

// store keeps the first len(tokens) cells of sequence from as a cached
// prefix. It reports whether anything new was stored.
func (c *prefixCache) store(ctx kv, from int, tokens []int) bool {
	if len(tokens) == 0 || len(tokens) > c.budget {
		return false
	}
	for _, e := range c.entries {
		if len(e.tokens) >= len(tokens) && commonPrefix(e.tokens, tokens) == len(tokens) {
			c.touch(e) // already covered by a longer or equal entry
			return false
		}
	}
	// Entries that the new one extends are now redundant.
	for i := 0; i < len(c.entries); {
		e := c.entries[i]
		if commonPrefix(e.tokens, tokens) == len(e.tokens) {
			c.remove(ctx, i)
			continue
		}
		i++
	}
	for len(c.entries) > 0 && (len(c.free) == 0 || c.tokens+len(tokens) > c.budget) {
		c.remove(ctx, 0)
	}
	if len(c.free) == 0 {
		return false
	}
	seq := c.free[len(c.free)-1]
	c.free = c.free[:len(c.free)-1]
	ctx.KvCacheSeqRm(seq, -1, -1)
	ctx.KvCacheSeqCp(from, seq, 0, len(tokens))
	c.entries = append(c.entries, &cacheEntry{seq: seq, tokens: append([]int(nil), tokens...)})
	c.tokens += len(tokens)
	return true
}

// remove evicts entry i.
func (c *prefixCache) remove(ctx kv, i int) {
	e := c.entries[i]
	ctx.KvCacheSeqRm(e.seq, -1, -1)
	c.entries = append(c.entries[:i], c.entries[i+1:]...)
	c.tokens -= len(e.tokens)
	c.free = append(c.free, e.seq)
}

// clear evicts everything.
func (c *prefixCache) clear(ctx kv) {
	for len(c.entries) > 0 {
		c.remove(ctx, 0)
	}
}
