package local

import (
	"errors"
	"sort"
	"time"

	"github.com/ollama/ollama/llama"

	"github.com/outcrop/outcrop/internal/llm"
)

// slot is one llama.cpp sequence and the request it serves. Owned by the
// scheduler goroutine.
type slot struct {
	id  int // llama.cpp sequence id
	req *request
	// tokens are the tokens whose KV cells the sequence holds, in
	// position order. They outlive the request, so the next request that
	// shares a prefix with them skips it.
	tokens   []int
	pending  []int // prompt tokens not yet evaluated
	next     int   // sampled token to evaluate on the next step; -1 if none
	logitIdx int   // batch index whose logits to sample after this step; -1 if none
	sampler  *llama.SamplingContext
	admitted time.Time
	stored   bool // the request's cachePoint prefix is in the prefix cache

	generated  int
	sinceDelta int // tokens not yet attributed to a delta event
	usage      llm.Usage
	textOpen   bool
	textIdx    int
	nextIdx    int // next content block index
	calls      int
}

// run is the scheduler: it owns the llama.cpp context and the slots. It
// ends when Close closes e.quit, failing the requests it holds.
func (e *Engine) run() {
	defer close(e.done)
	for {
		select {
		case <-e.quit:
			for _, s := range e.slots {
				if s.req != nil {
					e.release(s, llm.Errorf(llm.KindUnavailable, "the local engine is shutting down"))
				}
			}
			return
		default:
		}
		e.admit()
		if e.active() == 0 {
			select {
			case <-e.wake:
			case <-e.quit:
			}
			continue
		}
		e.step()
	}
}

func (e *Engine) active() int {
	n := 0
	for _, s := range e.slots {
		if s.req != nil {
			n++
		}
	}
	return n
}

// admit moves queued requests into free slots.
func (e *Engine) admit() {
	for {
		var free []*slot
		for _, s := range e.slots {
			if s.req == nil {
				free = append(free, s)
			}
		}
		if len(free) == 0 {
			return
		}
		e.mu.Lock()
		r := e.queue.pop(time.Now(), e.cfg.StarvationLimit, e.cfg.MaxStandardWait)
		if r != nil && r.ctx.Err() == nil {
			e.inFlight++
			e.served++
		}
		e.mu.Unlock()
		if r == nil {
			return
		}
		if err := r.ctx.Err(); err != nil {
			r.fail(ctxError(err))
			continue
		}
		e.start(r, free)
	}
}

// start binds r to the free slot whose cached tokens share the longest
// prefix with its prompt, and restores what it can from there or from the
// prefix cache. Tokens restored either way count as cache reads.
func (e *Engine) start(r *request, free []*slot) {
	s, reuse := free[0], -1
	for _, f := range free {
		if k := commonPrefix(f.tokens, r.prompt); k > reuse {
			s, reuse = f, k
		}
	}
	if r.seeded {
		// A seeded request asks to be reproducible. Evaluating the prompt
		// in different batch shapes changes the logits in the last bits,
		// enough to flip a greedy choice, so only explicitly cached
		// prefixes are reused for it.
		reuse = 0
	}
	entry, fromCache := e.cache.best(r.prompt)
	if fromCache > reuse {
		e.lctx.KvCacheSeqRm(s.id, -1, -1)
		e.lctx.KvCacheSeqCp(entry.seq, s.id, 0, fromCache)
		e.cache.touch(entry)
		s.tokens = append(s.tokens[:0], r.prompt[:fromCache]...)
		reuse = fromCache
	}
	// At least the last prompt token must be evaluated to get logits.
	reuse = min(reuse, len(r.prompt)-1)

	if !e.lctx.KvCacheSeqRm(s.id, reuse, -1) {
		e.lctx.KvCacheSeqRm(s.id, -1, -1)
		reuse = 0
	}
	s.tokens = s.tokens[:reuse]
	s.pending = r.prompt[reuse:]

	sampler, err := llama.NewSamplingContext(e.model, r.sampling)
	if err != nil {
		e.mu.Lock()
		e.inFlight--
		e.mu.Unlock()
		r.fail(llm.Errorf(llm.KindInternal, "create sampler: %v", err))
		return
	}
	write := 0
	if r.cut > reuse && e.cache.budget >= r.cut {
		write = r.cut - reuse
	}
	*s = slot{
		id: s.id, req: r, tokens: s.tokens, pending: s.pending, next: -1, logitIdx: -1,
		sampler: sampler, admitted: time.Now(), stored: r.cut == 0 || write == 0,
		usage: llm.Usage{InputTokens: len(r.prompt), CacheReadInputTokens: reuse, CacheWriteInputTokens: write},
	}
	r.emit(llm.Event{Type: llm.EventMessageStart})
}

// step evaluates one batch: the last sampled token of every generating
// slot, then prompt chunks of the slots still reading their prompt (oldest
// first) up to the batch size; then it samples every slot that produced
// logits.
func (e *Engine) step() {
	var live []*slot
	for _, s := range e.slots {
		if s.req == nil {
			continue
		}
		if err := s.req.ctx.Err(); err != nil {
			e.release(s, ctxError(err))
			continue
		}
		live = append(live, s)
	}
	if len(live) == 0 {
		return
	}
	sort.Slice(live, func(i, j int) bool { return live[i].admitted.Before(live[j].admitted) })

	b := e.batch
	b.Clear()
	for _, s := range live {
		if s.next >= 0 {
			s.logitIdx = b.NumTokens()
			b.Add(s.next, nil, len(s.tokens), true, s.id)
			s.tokens = append(s.tokens, s.next)
			s.next = -1
		}
	}
	budget := e.cfg.BatchSize - b.NumTokens()
	for _, s := range live {
		if budget <= 0 {
			break
		}
		n := min(budget, len(s.pending))
		for i := 0; i < n; i++ {
			last := i == len(s.pending)-1
			if last {
				s.logitIdx = b.NumTokens()
			}
			b.Add(s.pending[i], nil, len(s.tokens), last, s.id)
			s.tokens = append(s.tokens, s.pending[i])
		}
		s.pending = s.pending[n:]
		budget -= n
	}
	if b.NumTokens() == 0 {
		return
	}
	err := e.lctx.Decode(b)
	if errors.Is(err, llama.ErrKvCacheFull) && len(e.cache.entries) > 0 {
		// Cannot happen with the default sizing, but cached prefixes are
		// the one thing that can be given up to make room.
		e.cache.clear(e.lctx)
		e.syncCacheStats()
		err = e.lctx.Decode(b)
	}
	if err != nil {
		e.log.Error("decode failed", "tokens", b.NumTokens(), "err", err)
		for _, s := range live {
			e.lctx.KvCacheSeqRm(s.id, -1, -1)
			s.tokens = s.tokens[:0]
			e.release(s, llm.Errorf(llm.KindUnavailable, "the local engine could not evaluate the batch: %v", err))
		}
		return
	}
	for _, s := range live {
		if !s.stored && len(s.tokens) >= s.req.cut {
			s.stored = true
			e.cache.store(e.lctx, s.id, s.tokens[:s.req.cut])
			e.syncCacheStats()
		}
		if s.logitIdx < 0 {
			continue
		}
		tok := s.sampler.Sample(e.lctx, s.logitIdx)
		s.sampler.Accept(tok, false)
		s.logitIdx = -1
		e.token(s, tok)
	}
}

func (e *Engine) syncCacheStats() {
	e.cacheTokens.Store(int64(e.cache.tokens))
	e.cacheEntries.Store(int64(len(e.cache.entries)))
}

// token handles one sampled token of slot s.
func (e *Engine) token(s *slot, tok int) {
	s.generated++
	s.sinceDelta++
	if e.model.TokenIsEog(tok) && !e.cfg.ignoreEOG {
		e.complete(s, llm.StopEndTurn)
		return
	}
	pieces, stopped := s.req.filter.push([]byte(e.model.TokenToPiece(tok)))
	e.deliver(s, pieces)
	switch {
	case stopped:
		e.complete(s, llm.StopSequence)
	case s.generated >= s.req.maxTokens:
		e.complete(s, llm.StopMaxTokens)
	case s.generated >= s.req.room:
		e.complete(s, llm.StopContextWindowExceded)
	default:
		s.next = tok
	}
}

// deliver turns filter output into block events.
func (e *Engine) deliver(s *slot, pieces []piece) {
	var evs []llm.Event
	for _, p := range pieces {
		if p.call != nil {
			if s.textOpen {
				evs = append(evs, llm.Event{Type: llm.EventBlockStop, Index: s.textIdx})
				s.textOpen = false
			}
			i := s.nextIdx
			s.nextIdx++
			s.calls++
			evs = append(evs,
				llm.Event{Type: llm.EventBlockStart, Index: i, ToolUse: &llm.ToolUse{ID: toolUseID(), Name: p.call.Name}},
				llm.Event{Type: llm.EventBlockDelta, Index: i, Delta: llm.DeltaToolInput, Text: string(p.call.Input), Tokens: s.sinceDelta},
				llm.Event{Type: llm.EventBlockStop, Index: i})
			s.sinceDelta = 0
			continue
		}
		if p.text == "" {
			continue
		}
		if !s.textOpen {
			s.textOpen, s.textIdx = true, s.nextIdx
			s.nextIdx++
		}
		evs = append(evs, llm.Event{Type: llm.EventBlockDelta, Index: s.textIdx, Delta: llm.DeltaText, Text: p.text, Tokens: s.sinceDelta})
		s.sinceDelta = 0
	}
	if len(evs) > 0 {
		s.req.emit(evs...)
	}
}

// complete ends the request of slot s with the given stop reason.
func (e *Engine) complete(s *slot, reason llm.StopReason) {
	if reason != llm.StopSequence {
		e.deliver(s, s.req.filter.flush())
	}
	var evs []llm.Event
	if s.textOpen {
		evs = append(evs, llm.Event{Type: llm.EventBlockStop, Index: s.textIdx})
		s.textOpen = false
	}
	if reason == llm.StopEndTurn && s.calls > 0 {
		reason = llm.StopToolUse
	}
	u := s.usage
	u.OutputTokens = s.generated
	evs = append(evs, llm.Event{Type: llm.EventMessageStop, StopReason: reason}, llm.Event{Type: llm.EventMetadata, Usage: &u})
	s.req.emit(evs...)
	e.release(s, nil)
}

// release frees slot s, ending its request with err (nil after complete).
// The sequence keeps its KV cells for the next request to reuse.
func (e *Engine) release(s *slot, err error) {
	s.req.finish(err)
	s.req.cancel()
	s.req, s.sampler, s.pending, s.next, s.logitIdx = nil, nil, nil, -1, -1
	e.mu.Lock()
	e.inFlight--
	e.mu.Unlock()
}
