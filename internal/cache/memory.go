package cache

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"
)

// Memory is a Backend in process memory for a single replica: entries are
// kept up to MaxBytes (keys and values counted), least recently used first
// out, and expire after their TTL.
type Memory struct {
	maxBytes int64
	now      func() time.Time

	// mu guards items, lru and size.
	mu    sync.Mutex
	items map[string]*list.Element
	lru   *list.List // front is most recently used; values are *memItem
	size  int64
}

type memItem struct {
	key     string
	val     []byte
	expires time.Time
}

// NewMemory returns an empty memory backend holding at most maxBytes
// (default 64 MiB when ≤ 0). now is the clock; time.Now when nil.
func NewMemory(maxBytes int64, now func() time.Time) *Memory {
	if maxBytes <= 0 {
		maxBytes = 64 << 20
	}
	if now == nil {
		now = time.Now
	}
	return &Memory{maxBytes: maxBytes, now: now, items: map[string]*list.Element{}, lru: list.New()}
}

var _ Backend = (*Memory)(nil)

// Get implements Backend. The returned slice is the caller's.
func (m *Memory) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.items[key]
	if !ok {
		return nil, ErrMiss
	}
	it := el.Value.(*memItem)
	if !m.now().Before(it.expires) {
		m.remove(el)
		return nil, ErrMiss
	}
	m.lru.MoveToFront(el)
	return append([]byte(nil), it.val...), nil
}

// Set implements Backend. A value larger than the whole budget is not
// stored.
func (m *Memory) Set(_ context.Context, key string, val []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("cache: ttl must be positive")
	}
	cost := int64(len(key) + len(val))
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[key]; ok {
		m.remove(el)
	}
	if cost > m.maxBytes {
		return nil
	}
	it := &memItem{key: key, val: append([]byte(nil), val...), expires: m.now().Add(ttl)}
	m.items[key] = m.lru.PushFront(it)
	m.size += cost
	for m.size > m.maxBytes {
		m.remove(m.lru.Back())
	}
	return nil
}

// Delete implements Backend.
func (m *Memory) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[key]; ok {
		m.remove(el)
	}
	return nil
}

// Len returns the number of entries held, expired ones included until they
// are touched or evicted.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

// remove drops el; m.mu must be held.
func (m *Memory) remove(el *list.Element) {
	it := el.Value.(*memItem)
	m.lru.Remove(el)
	delete(m.items, it.key)
	m.size -= int64(len(it.key) + len(it.val))
}
