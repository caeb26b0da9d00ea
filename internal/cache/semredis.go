package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/outcrop/outcrop/internal/embed"
)

// RedisIndex is a SemanticIndex in Redis, shared by every replica. Redis
// here has no vector search (no RediSearch), so each namespace is two keys:
// a hash from answer key to a packed question (expiry, vector, text) and a
// sorted set of the same answer keys by expiry, used to drop expired
// questions and keep at most maxPerNamespace (oldest out) on every Add. A search reads the whole
// hash in one round trip and scans it in this process; its cost grows with
// the namespace (docs/PERFORMANCE.md). Both keys expire when the namespace's
// newest question does, so idle namespaces leave nothing behind.
type RedisIndex struct {
	c      redis.UniversalClient
	prefix string
	max    int
	now    func() time.Time
}

// NewRedisIndex returns an index on c with keys under prefix (default
// "outcrop:semcache:"), at most maxPerNamespace questions per namespace
// (default 10,000); now is the clock (time.Now when nil). The clock only
// decides which stored questions have expired; Redis expires the keys on
// its own clock.
func NewRedisIndex(c redis.UniversalClient, prefix string, maxPerNamespace int, now func() time.Time) *RedisIndex {
	if prefix == "" {
		prefix = "outcrop:semcache:"
	}
	if maxPerNamespace <= 0 {
		maxPerNamespace = 10_000
	}
	if now == nil {
		now = time.Now
	}
	return &RedisIndex{c: c, prefix: prefix, max: maxPerNamespace, now: now}
}

var _ SemanticIndex = (*RedisIndex)(nil)

// keys returns the hash and sorted-set keys of ns. The tenant is hashed
// with the context, so no tenant can name another's keys.
func (r *RedisIndex) keys(ns Namespace) (hash, order string) {
	n := r.prefix + hashName(ns.Tenant, ns.Context)
	return n + ":q", n + ":o"
}

// addScript stores one question and trims the namespace: ARGV = answer
// key, packed question, its expiry (unix ms), max questions, now (unix ms),
// expiry of the keys (ms from now). The sorted set orders answer keys by
// expiry; within a namespace every question has the model's one TTL, so
// that is insertion order, and expired questions are at its start.
var addScript = redis.NewScript(`
local function drop(ids)
  for i = 1, #ids, 500 do
    redis.call('HDEL', KEYS[1], unpack(ids, i, math.min(i + 499, #ids)))
  end
end
drop(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[5]))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local n = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if n > 0 then
  drop(redis.call('ZRANGE', KEYS[2], 0, n - 1))
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, n - 1)
end
local ttl = tonumber(ARGV[6])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
`)

// Add implements SemanticIndex.
func (r *RedisIndex) Add(ctx context.Context, ns Namespace, q Question, ttl time.Duration) error {
	if len(q.Vector) == 0 || q.Key == "" {
		return errors.New("cache: a question needs a key and a vector")
	}
	if ttl <= 0 {
		return errors.New("cache: ttl must be positive")
	}
	now := r.now()
	v := embed.Normalize(append([]float32(nil), q.Vector...))
	packed := packQuestion(now.Add(ttl).UnixMilli(), v, q.Text)
	h, o := r.keys(ns)
	ms := max(ttl.Milliseconds(), 1)
	exp := now.Add(ttl).UnixMilli()
	return addScript.Run(ctx, r.c, []string{h, o}, q.Key, packed, exp, r.max, now.UnixMilli(), ms).Err()
}

// Search implements SemanticIndex.
func (r *RedisIndex) Search(ctx context.Context, ns Namespace, v []float32) (Match, error) {
	if len(v) == 0 {
		return Match{}, nil
	}
	h, _ := r.keys(ns)
	all, err := r.c.HGetAll(ctx, h).Result()
	if err != nil {
		return Match{}, err
	}
	q := embed.Normalize(append([]float32(nil), v...))
	now := r.now().UnixMilli()
	best := Match{Similarity: math.Inf(-1)}
	for key, val := range all {
		exp, vec, text, err := unpackQuestion([]byte(val))
		if err != nil || exp <= now || len(vec) != len(q) {
			continue // foreign, corrupt, expired or of another model: never served
		}
		var s float64
		for i, x := range q {
			s += float64(x) * float64(vec[i])
		}
		if s > best.Similarity || (s == best.Similarity && key < best.Key) {
			best = Match{Key: key, Text: text, Similarity: s}
		}
	}
	if best.Key == "" {
		return Match{}, nil
	}
	return best, nil
}

// questionVersion starts every packed question.
const questionVersion = 1

// packQuestion encodes a question: version byte, expiry (unix ms, int64),
// number of values (uint16), the values (float32, little endian), then the
// text.
func packQuestion(expMilli int64, v []float32, text string) []byte {
	b := make([]byte, 0, 11+4*len(v)+len(text))
	b = append(b, questionVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(expMilli))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return append(b, text...)
}

// unpackQuestion decodes what packQuestion encoded, rejecting anything else:
// a value in a shared Redis is untrusted input.
func unpackQuestion(b []byte) (expMilli int64, v []float32, text string, err error) {
	if len(b) < 11 || b[0] != questionVersion {
		return 0, nil, "", errors.New("cache: not a packed question")
	}
	expMilli = int64(binary.LittleEndian.Uint64(b[1:]))
	n := int(binary.LittleEndian.Uint16(b[9:]))
	if n == 0 || len(b) < 11+4*n {
		return 0, nil, "", fmt.Errorf("cache: packed question with %d values is truncated", n)
	}
	v = make([]float32, n)
	for i := range v {
		x := math.Float32frombits(binary.LittleEndian.Uint32(b[11+4*i:]))
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return 0, nil, "", errors.New("cache: packed question has a non-finite value")
		}
		v[i] = x
	}
	text = string(b[11+4*n:])
	if !utf8.ValidString(text) {
		return 0, nil, "", errors.New("cache: packed question text is not UTF-8")
	}
	return expMilli, v, text, nil
}
