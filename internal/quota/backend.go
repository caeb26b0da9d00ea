package quota

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Counter is one fixed-window counter charged by a request.
type Counter struct {
	// Key names the counter, e.g. "rpm:p:alice".
	Key string
	// Limit is the most the window may hold.
	Limit int64
	// Cost is what the request adds.
	Cost int64
	// Window is the counter's period (a minute for RPM and TPM).
	Window time.Duration
	// Soft admits the request while the count is below Limit even if Cost
	// would exceed it (token counters: the real cost is known only later).
	Soft bool
}

// Backend keeps counters. Implementations must make Take atomic across
// every process that shares the backend.
type Backend interface {
	// Take charges every counter if none would exceed its limit. If one
	// would, nothing is charged and it returns the index of that counter.
	Take(ctx context.Context, now time.Time, cs []Counter) (failed int, err error)
	// Add adds n to the current window of key, without a limit check.
	Add(ctx context.Context, now time.Time, key string, window time.Duration, n int64) error
	// Acquire takes one slot in each of keys (limits[i] slots at most)
	// for lease, all or nothing; it returns the index of a full key or -1.
	Acquire(ctx context.Context, now time.Time, keys []string, limits []int, id string, lease time.Duration) (failed int, err error)
	// Release frees the slots id holds in keys.
	Release(ctx context.Context, keys []string, id string) error
	// Admit is Acquire and Take in one atomic step (one round trip for
	// Redis): all or nothing. It returns the index of a full slot key or
	// of a counter over its limit, the other being -1; both -1 means
	// admitted.
	Admit(ctx context.Context, now time.Time, keys []string, limits []int, id string, lease time.Duration, cs []Counter) (slot, counter int, err error)
}

func windowStart(now time.Time, w time.Duration) int64 {
	return now.UnixMilli() / w.Milliseconds() * w.Milliseconds()
}

// Memory is a Backend in process memory, for a single replica.
type Memory struct {
	// mu guards windows and slots.
	mu      sync.Mutex
	windows map[string]*window
	slots   map[string]map[string]time.Time // key → holder id → lease end
}

type window struct {
	start int64
	n     int64
}

// NewMemory returns an empty in-memory backend.
func NewMemory() *Memory {
	return &Memory{windows: map[string]*window{}, slots: map[string]map[string]time.Time{}}
}

func (m *Memory) win(key string, start int64) *window {
	w := m.windows[key]
	if w == nil {
		w = &window{start: start}
		m.windows[key] = w
	}
	if w.start != start {
		w.start, w.n = start, 0
	}
	return w
}

// Take implements Backend.
func (m *Memory) Take(_ context.Context, now time.Time, cs []Counter) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, c := range cs {
		w := m.win(c.Key, windowStart(now, c.Window))
		if w.n >= c.Limit || (!c.Soft && w.n+c.Cost > c.Limit) {
			return i, nil
		}
	}
	for _, c := range cs {
		m.windows[c.Key].n += c.Cost
	}
	return -1, nil
}

// Add implements Backend.
func (m *Memory) Add(_ context.Context, now time.Time, key string, window time.Duration, n int64) error {
	m.mu.Lock()
	m.win(key, windowStart(now, window)).n += n
	m.mu.Unlock()
	return nil
}

// Acquire implements Backend.
func (m *Memory) Acquire(_ context.Context, now time.Time, keys []string, limits []int, id string, lease time.Duration) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i := m.full(now, keys, limits); i >= 0 {
		return i, nil
	}
	m.take(now, keys, id, lease)
	return -1, nil
}

// full drops the expired leases of keys and returns the index of the first
// key holding limits[i] slots, or -1. m.mu must be held.
func (m *Memory) full(now time.Time, keys []string, limits []int) int {
	for i, k := range keys {
		held := m.slots[k]
		for h, end := range held {
			if !now.Before(end) {
				delete(held, h)
			}
		}
		if len(held) >= limits[i] {
			return i
		}
	}
	return -1
}

// take leases a slot of every key to id. m.mu must be held.
func (m *Memory) take(now time.Time, keys []string, id string, lease time.Duration) {
	for _, k := range keys {
		if m.slots[k] == nil {
			m.slots[k] = map[string]time.Time{}
		}
		m.slots[k][id] = now.Add(lease)
	}
}

// Admit implements Backend.
func (m *Memory) Admit(_ context.Context, now time.Time, keys []string, limits []int, id string, lease time.Duration, cs []Counter) (int, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i := m.full(now, keys, limits); i >= 0 {
		return i, -1, nil
	}
	for i, c := range cs {
		w := m.win(c.Key, windowStart(now, c.Window))
		if w.n >= c.Limit || (!c.Soft && w.n+c.Cost > c.Limit) {
			return -1, i, nil
		}
	}
	m.take(now, keys, id, lease)
	for _, c := range cs {
		m.windows[c.Key].n += c.Cost
	}
	return -1, -1, nil
}

// Release implements Backend.
func (m *Memory) Release(_ context.Context, keys []string, id string) error {
	m.mu.Lock()
	for _, k := range keys {
		delete(m.slots[k], id)
	}
	m.mu.Unlock()
	return nil
}

// Redis is a Backend in Redis, shared by every replica using the same
// server. Keys carry the hash tag {outcrop-quota} so that the multi-key
// scripts also work on a Redis Cluster.
type Redis struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedis returns a backend on client c. prefix (default
// "outcrop:{outcrop-quota}:") namespaces the keys.
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = "outcrop:{outcrop-quota}:"
	}
	return &Redis{c: c, prefix: prefix}
}

// luaShared are the Lua functions the scripts below share, so that each
// check and each charge is written once:
//
//	over(key, limit, cost, soft): the counter at key is at its limit, or a
//	  hard (soft '0') cost would take it past;
//	charge(key, cost, ttl): adds cost and renews the counter's expiry;
//	full(key, now, limit): drops expired holders, then reports the slot set
//	  at key full;
//	hold(key, leaseEnd, id, ttl): adds holder id until leaseEnd.
const luaShared = `
local function over(key, limit, cost, soft)
  local cur = tonumber(redis.call('GET', key) or '0')
  limit, cost = tonumber(limit), tonumber(cost)
  return cur >= limit or (soft == '0' and cur + cost > limit)
end
local function charge(key, cost, ttl)
  redis.call('INCRBY', key, tonumber(cost))
  redis.call('PEXPIRE', key, tonumber(ttl))
end
local function full(key, now, limit)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  return redis.call('ZCARD', key) >= tonumber(limit)
end
local function hold(key, leaseEnd, id, ttl)
  redis.call('ZADD', key, leaseEnd, id)
  redis.call('PEXPIRE', key, ttl)
end
`

// takeScript checks every counter, then charges them all. ARGV holds, per
// key: limit, cost, soft (0/1), ttl in ms.
var takeScript = redis.NewScript(luaShared + `
for i = 1, #KEYS do
  if over(KEYS[i], ARGV[4*i-3], ARGV[4*i-2], ARGV[4*i-1]) then
    return i
  end
end
for i = 1, #KEYS do
  charge(KEYS[i], ARGV[4*i-2], ARGV[4*i])
end
return 0
`)

func (r *Redis) windowKey(key string, now time.Time, w time.Duration) string {
	return r.prefix + key + ":" + strconv.FormatInt(windowStart(now, w), 10)
}

// Take implements Backend.
func (r *Redis) Take(ctx context.Context, now time.Time, cs []Counter) (int, error) {
	keys := make([]string, len(cs))
	args := make([]any, 0, 4*len(cs))
	for i, c := range cs {
		keys[i] = r.windowKey(c.Key, now, c.Window)
		soft := "0"
		if c.Soft {
			soft = "1"
		}
		args = append(args, c.Limit, c.Cost, soft, (2 * c.Window).Milliseconds())
	}
	n, err := takeScript.Run(ctx, r.c, keys, args...).Int()
	if err != nil {
		return -1, err
	}
	return n - 1, nil
}

// Add implements Backend.
func (r *Redis) Add(ctx context.Context, now time.Time, key string, window time.Duration, n int64) error {
	k := r.windowKey(key, now, window)
	p := r.c.Pipeline()
	p.IncrBy(ctx, k, n)
	p.PExpire(ctx, k, 2*window)
	_, err := p.Exec(ctx)
	return err
}

// acquireScript drops expired holders, checks every key, then adds the
// holder to all. ARGV: now ms, lease end ms, holder id, ttl ms, limits…
var acquireScript = redis.NewScript(luaShared + `
for i = 1, #KEYS do
  if full(KEYS[i], ARGV[1], ARGV[4+i]) then
    return i
  end
end
for i = 1, #KEYS do
  hold(KEYS[i], ARGV[2], ARGV[3], ARGV[4])
end
return 0
`)

// Acquire implements Backend.
func (r *Redis) Acquire(ctx context.Context, now time.Time, keys []string, limits []int, id string, lease time.Duration) (int, error) {
	ks := make([]string, len(keys))
	for i, k := range keys {
		ks[i] = r.prefix + k
	}
	args := []any{now.UnixMilli(), now.Add(lease).UnixMilli(), id, (2 * lease).Milliseconds()}
	for _, l := range limits {
		args = append(args, l)
	}
	n, err := acquireScript.Run(ctx, r.c, ks, args...).Int()
	if err != nil {
		return -1, err
	}
	return n - 1, nil
}

// admitScript is acquireScript followed by takeScript, atomically. KEYS
// are the slot keys, then the counter keys. ARGV: number of slot keys, now
// ms, lease end ms, holder id, slot ttl ms, one limit per slot key, then
// per counter: limit, cost, soft (0/1), ttl ms. Returns 0 when admitted, i
// when slot key i is full, -j when counter j is over its limit.
var admitScript = redis.NewScript(luaShared + `
local ns = tonumber(ARGV[1])
for i = 1, ns do
  if full(KEYS[i], ARGV[2], ARGV[5+i]) then
    return i
  end
end
local base = 5 + ns
local nc = #KEYS - ns
for j = 1, nc do
  if over(KEYS[ns+j], ARGV[base+4*j-3], ARGV[base+4*j-2], ARGV[base+4*j-1]) then
    return -j
  end
end
for i = 1, ns do
  hold(KEYS[i], ARGV[3], ARGV[4], ARGV[5])
end
for j = 1, nc do
  charge(KEYS[ns+j], ARGV[base+4*j-2], ARGV[base+4*j])
end
return 0
`)

// Admit implements Backend.
func (r *Redis) Admit(ctx context.Context, now time.Time, keys []string, limits []int, id string, lease time.Duration, cs []Counter) (int, int, error) {
	ks := make([]string, 0, len(keys)+len(cs))
	for _, k := range keys {
		ks = append(ks, r.prefix+k)
	}
	args := make([]any, 0, 5+len(limits)+4*len(cs))
	args = append(args, len(keys), now.UnixMilli(), now.Add(lease).UnixMilli(), id, (2 * lease).Milliseconds())
	for _, l := range limits {
		args = append(args, l)
	}
	for _, c := range cs {
		ks = append(ks, r.windowKey(c.Key, now, c.Window))
		soft := "0"
		if c.Soft {
			soft = "1"
		}
		args = append(args, c.Limit, c.Cost, soft, (2 * c.Window).Milliseconds())
	}
	n, err := admitScript.Run(ctx, r.c, ks, args...).Int()
	switch {
	case err != nil:
		return -1, -1, err
	case n > 0:
		return n - 1, -1, nil
	case n < 0:
		return -1, -n - 1, nil
	}
	return -1, -1, nil
}

// Release implements Backend.
func (r *Redis) Release(ctx context.Context, keys []string, id string) error {
	p := r.c.Pipeline()
	for _, k := range keys {
		p.ZRem(ctx, r.prefix+k, id)
	}
	_, err := p.Exec(ctx)
	return err
}

var (
	_ Backend = (*Memory)(nil)
	_ Backend = (*Redis)(nil)
)
