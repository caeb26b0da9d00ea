package gemini

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
)

// Cache points become Gemini's explicit context caches. The prefix a
// request's last cache point covers (system instruction, tools, tool config
// and the contents before the point) is created once as a cachedContents
// resource with the point's TTL, and later requests with the same prefix
// send only the rest of the conversation with cachedContent naming it, as
// Gemini requires (a request with cachedContent may not repeat the system
// instruction, tools or tool config). Usage then reports the cached
// prefix: as a cache write on the request that created it, as a cache read
// after, the way Bedrock reports its own prompt cache.
//
// Caching never fails a request: a prefix Gemini refuses to cache (under
// the model's minimum, 1,024 or more tokens) or a failed creation is sent
// uncached and not tried again for a while; a cache that vanished before
// its expiry (deleted, or expired early) is forgotten and the request sent
// uncached once. The table is per provider (per deployment and replica);
// each replica creates its own caches.

// Cache point handling modes (Config.CachePoints).
const (
	CacheExplicit = "explicit" // default: cache points create cachedContents
	CacheImplicit = "implicit" // cache points are dropped; Gemini's implicit caching applies
)

const (
	maxCacheEntries = 1024
	// retryRefused is how long a prefix whose creation failed is sent
	// uncached before creation is tried again.
	retryRefused = 5 * time.Minute
	// expiryMargin keeps a cache from being named just as it expires.
	expiryMargin = 30 * time.Second
)

// cacheTable remembers the caches a provider created. It is safe for
// concurrent use; creation of one prefix happens once at a time.
type cacheTable struct {
	mu sync.Mutex
	m  map[string]*cacheEntry
}

type cacheEntry struct {
	ready   chan struct{} // closed when creation finished
	name    string        // cachedContents/…; empty when creation failed
	tokens  int           // the prefix's size, from the creation's usageMetadata
	expires time.Time     // name's expiry, or when to try creating again
}

// cacheRequest is a cachedContents creation body.
type cacheRequest struct {
	Model             string      `json:"model"`
	Contents          []content   `json:"contents,omitempty"`
	SystemInstruction *content    `json:"systemInstruction,omitempty"`
	Tools             []toolSet   `json:"tools,omitempty"`
	ToolConfig        *toolConfig `json:"toolConfig,omitempty"`
	TTL               string      `json:"ttl"`
}

// useCache rewrites b to name a context cache for its cached prefix,
// creating the cache when needed. It returns the number of tokens written
// to the cache by this request (0 when an existing cache was named or none
// was) and the key of the entry used ("" when none).
func (p *Provider) useCache(ctx context.Context, b *built) (written int, key string) {
	if p.cfg.CachePoints == CacheImplicit || b.top["cachedContent"] != nil {
		return 0, ""
	}
	at := min(b.cacheAt, len(b.req.Contents)-1) // Gemini needs some contents after the cache
	if at <= 0 && !b.sysCache {
		return 0, ""
	}
	ttl := "300s"
	if b.cacheTTL == "1h" {
		ttl = "3600s"
	}
	cr := cacheRequest{Model: "models/" + strings.TrimPrefix(p.cfg.Model, "models/"), Contents: b.req.Contents[:max(at, 0)],
		SystemInstruction: b.req.SystemInstruction, Tools: b.req.Tools, ToolConfig: b.req.ToolConfig, TTL: ttl}
	body, err := json.Marshal(cr)
	if err != nil {
		return 0, ""
	}
	sum := sha256.Sum256(body)
	key = hex.EncodeToString(sum[:])

	now := time.Now()
	p.caches.mu.Lock()
	e := p.caches.m[key]
	if e != nil {
		p.caches.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return 0, ""
		}
		if now.Before(e.expires.Add(-expiryMargin)) {
			if e.name == "" {
				return 0, "" // refused lately: send uncached
			}
			b.nameCache(e.name, at)
			return 0, key
		}
		p.caches.mu.Lock()
		if p.caches.m[key] == e {
			delete(p.caches.m, key)
		}
	}
	if p.caches.m == nil {
		p.caches.m = map[string]*cacheEntry{}
	}
	if len(p.caches.m) >= maxCacheEntries {
		p.caches.evictLocked(now)
	}
	e = &cacheEntry{ready: make(chan struct{})}
	p.caches.m[key] = e
	p.caches.mu.Unlock()

	name, tokens, expires, err := p.createCache(ctx, body)
	if err != nil {
		e.expires = now.Add(retryRefused)
		close(e.ready)
		slog.Default().Debug("gemini context cache not created; sending the request uncached", "component", "provider.gemini",
			"model", p.cfg.Model, "error", err)
		return 0, ""
	}
	e.name, e.tokens, e.expires = name, tokens, expires
	close(e.ready)
	b.nameCache(name, at)
	return tokens, key
}

// nameCache makes b a request on the cache name covering its first at
// contents.
func (b *built) nameCache(name string, at int) {
	b.req.Contents = b.req.Contents[max(at, 0):]
	b.req.SystemInstruction, b.req.Tools, b.req.ToolConfig = nil, nil, nil
	n, _ := json.Marshal(name)
	if b.top == nil {
		b.top = map[string]json.RawMessage{}
	}
	b.top["cachedContent"] = n
}

// forget drops the entry of key, after Gemini said its cache is gone.
func (p *Provider) forget(key string) {
	p.caches.mu.Lock()
	delete(p.caches.m, key)
	p.caches.mu.Unlock()
}

// evictLocked drops expired entries, or half the table when none has.
func (t *cacheTable) evictLocked(now time.Time) {
	for k, e := range t.m {
		select {
		case <-e.ready:
			if now.After(e.expires) {
				delete(t.m, k)
			}
		default:
		}
	}
	for k := range t.m {
		if len(t.m) < maxCacheEntries/2 {
			break
		}
		delete(t.m, k)
	}
}

// createCache creates a cachedContents resource and returns its name, its
// size in tokens and its expiry.
func (p *Provider) createCache(ctx context.Context, body []byte) (string, int, time.Time, error) {
	resp, err := p.post(ctx, p.cacheURL, body)
	if err != nil {
		return "", 0, time.Time{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, time.Time{}, err
	}
	var out struct {
		Name          string    `json:"name"`
		ExpireTime    time.Time `json:"expireTime"`
		UsageMetadata struct {
			TotalTokenCount int `json:"totalTokenCount"`
		} `json:"usageMetadata"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return "", 0, time.Time{}, err
	}
	if !strings.HasPrefix(out.Name, "cachedContents/") || out.ExpireTime.IsZero() {
		return "", 0, time.Time{}, errors.New("the cachedContents answer has no name or expireTime")
	}
	return out.Name, out.UsageMetadata.TotalTokenCount, out.ExpireTime, nil
}

// cacheGone reports whether err says a named cache no longer exists: a
// 404, or a 403 on the cache (Gemini answers that for another project's
// or a deleted cache).
func cacheGone(err error) bool {
	var le *llm.Error
	if !errors.As(err, &le) {
		return false
	}
	return le.UpstreamStatus == 404 || (le.UpstreamStatus == 403 && le.Err != nil && strings.Contains(le.Err.Error(), "CachedContent"))
}

// cacheWrite moves the tokens this request wrote to the cache from cache
// reads (Gemini reports the prefix it just created as read from the cache)
// to cache writes, as Bedrock reports a prompt cache's first use.
func cacheWrite(u *llm.Usage, written int) {
	if u == nil || written <= 0 {
		return
	}
	w := min(written, u.CacheReadInputTokens)
	if w == 0 {
		w = min(written, u.InputTokens)
	}
	u.CacheReadInputTokens -= min(w, u.CacheReadInputTokens)
	u.CacheWriteInputTokens = w
}

// writeStream reports the cache write on the stream's usage.
type writeStream struct {
	llm.Stream
	written int
}

func (s *writeStream) Next() (llm.Event, error) {
	ev, err := s.Stream.Next()
	if err == nil && ev.Type == llm.EventMetadata && ev.Usage != nil {
		u := *ev.Usage
		cacheWrite(&u, s.written)
		ev.Usage = &u
	}
	return ev, err
}
