package routing

import (
	"github.com/outcrop/outcrop/internal/llm"
)

// affinitySlack is the absolute expected-latency margin, in seconds, within
// which the replica holding a request's prefix is preferred even when twice
// the best is smaller (a prefix-cache hit saves at least this much prefill).
const affinitySlack = 0.05

// maxPlan is the number of deployments a plan holds without allocating.
const maxPlan = 8

// snapshot is what plan needs to know about one deployment.
type snapshot struct {
	d     *Deployment
	svc   float64 // expected service time of one request, seconds; 0 = unknown
	load  int     // requests ahead of an optimized one: in flight or queued optimized
	slots int
	open  bool // breaker turns requests away now
	cost  float64
}

func (s *state) snapshot() snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Queued standard requests do not delay an optimized one (it is
	// admitted first), so its load leaves them out.
	sn := snapshot{d: s.d, load: s.inflight + len(s.optQ), slots: max(1, s.d.MaxConcurrency)}
	if s.ttft > 0 {
		sn.svc = s.ttft
		if s.otps > 0 {
			// The time to stream a typical short answer after the first
			// token: slow decoders cost more than their TTFT shows.
			sn.svc += 64 / s.otps
		}
	}
	switch s.brState {
	case BreakerOpen:
		sn.open = s.now().Before(s.openUntil)
	case BreakerHalfOpen:
		sn.open = s.probing
	}
	return sn
}

// plan returns the deployments of m that serve profile p, in the order to
// try them, appended to buf. Deployments whose breaker is open come last.
// For optimized requests it also reports whether the first choice came from
// cache affinity.
func (r *Router) plan(m *Model, p llm.Latency, key uint64, buf []*Deployment) ([]*Deployment, bool) {
	var snaps [maxPlan]snapshot
	ss := snaps[:0]
	for _, d := range m.Deployments {
		if d.serves(p) {
			ss = append(ss, d.st.snapshot())
		}
	}
	if len(ss) == 0 {
		return buf, false
	}
	// Open breakers last, keeping configuration order within each group.
	insertionSort(ss, func(a, b *snapshot) bool { return !a.open && b.open })
	nOK := 0
	for nOK < len(ss) && !ss[nOK].open {
		nOK++
	}
	ok := ss[:nOK]
	affine := false
	if p == llm.LatencyOptimized && len(ok) > 1 {
		affine = r.orderOptimized(m, ok, key)
	} else if len(ok) > 1 {
		r.orderWRR(m, ok)
	}
	for i := range ss {
		buf = append(buf, ss[i].d)
	}
	return buf, affine
}

// orderWRR moves the smooth-weighted-round-robin choice to the front of ss;
// the rest keep configuration order.
func (r *Router) orderWRR(m *Model, ss []snapshot) {
	m.rt.mu.Lock()
	total, best := 0, -1
	for i := range ss {
		st := ss[i].d.st
		w := ss[i].d.Weight
		st.wrrCurrent += w
		total += w
		if w > 0 && (best < 0 || st.wrrCurrent > ss[best].d.st.wrrCurrent) {
			best = i
		}
	}
	if best >= 0 {
		ss[best].d.st.wrrCurrent -= total
	}
	m.rt.mu.Unlock()
	if best > 0 {
		first := ss[best]
		copy(ss[1:best+1], ss[:best])
		ss[0] = first
	}
}

// orderOptimized orders ss for an optimized request: the affinity replica
// when it is no worse than twice the best expected latency plus
// affinitySlack, else the better of two weighted-random replicas (power of
// two choices), then the rest by expected latency. It reports whether affinity chose the first.
func (r *Router) orderOptimized(m *Model, ss []snapshot, key uint64) bool {
	// Unknown service times take the mean of the known ones, so that a new
	// replica is explored without being assumed infinitely fast.
	known, sum := 0, 0.0
	for i := range ss {
		if ss[i].svc > 0 {
			known++
			sum += ss[i].svc
		}
	}
	prior := 1.0
	if known > 0 {
		prior = sum / float64(known)
	}
	bestCost := -1.0
	for i := range ss {
		svc := ss[i].svc
		if svc == 0 {
			svc = prior
		}
		ss[i].cost = svc * (1 + float64(ss[i].load)/float64(ss[i].slots))
		if bestCost < 0 || ss[i].cost < bestCost {
			bestCost = ss[i].cost
		}
	}
	first := -1
	affine := false
	if key != 0 && m.rt.affinity != nil {
		if d := m.rt.affinity.get(key); d != nil {
			for i := range ss {
				if ss[i].d == d && ss[i].cost <= 2*bestCost+affinitySlack {
					first, affine = i, true
				}
			}
		}
	}
	if first < 0 {
		a, b := r.sample2(ss)
		first = a
		if ss[b].cost < ss[a].cost {
			first = b
		}
	}
	ss[0], ss[first] = ss[first], ss[0]
	rest := ss[1:]
	insertionSort(rest, func(a, b *snapshot) bool { return a.cost < b.cost })
	return affine
}

// sample2 draws two distinct indexes of ss at random, weighted by the
// deployments' weights (uniformly when they are all zero).
func (r *Router) sample2(ss []snapshot) (int, int) {
	total := 0
	for i := range ss {
		total += ss[i].d.Weight
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	draw := func(skip int) int {
		t := total
		if skip >= 0 {
			t -= ss[skip].d.Weight
		}
		if t <= 0 { // only zero weights left: uniform over the others
			for {
				i := r.rng.IntN(len(ss))
				if i != skip {
					return i
				}
			}
		}
		x := r.rng.IntN(t)
		for i := range ss {
			if i == skip {
				continue
			}
			if x < ss[i].d.Weight {
				return i
			}
			x -= ss[i].d.Weight
		}
		return len(ss) - 1
	}
	a := draw(-1)
	return a, draw(a)
}

// insertionSort sorts ss stably by less; plans are short, and unlike
// sort.SliceStable it does not allocate.
func insertionSort(ss []snapshot, less func(a, b *snapshot) bool) {
	for i := 1; i < len(ss); i++ {
		for j := i; j > 0 && less(&ss[j], &ss[j-1]); j-- {
			ss[j], ss[j-1] = ss[j-1], ss[j]
		}
	}
}
